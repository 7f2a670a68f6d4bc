"""What testing a readiness flag costs: ``events & EVENT_READ``.

Every event loop runs this test once per ready socket.  Four flag types are
measured side by side (see ``_measure.py``), each against plain ``int``:

* ``enum.IntFlag``: the standard flag type, whose ``&`` runs in Python;
* ``IntFlag``, ``&`` from ``int``: what ``sockspec.Event`` is (the result is
  a plain ``int``; ``|``, iteration, ``in`` and the names stay ``IntFlag``'s);
* an ``int`` subclass: the other candidate, ``&`` and ``|`` both ``int``'s;
* ``sockspec.Event`` itself.

Run: ``python benchmarks/bench_events.py``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from _measure import Target, cpu, header, interleave, parser, summary, table

import sockspec


class PlainFlag(enum.IntFlag):
    READ = 1
    WRITE = 2


class FastAndFlag(enum.IntFlag):
    READ = 1
    WRITE = 2

    __and__ = int.__and__  # type: ignore[assignment]
    __rand__ = int.__rand__  # type: ignore[assignment]


class IntEvent(int):
    """A bare ``int`` subclass."""


def case(ready: object, read: object, count: int) -> Callable[[], float]:
    """CPU seconds per ``ready & read`` test (the loop included)."""

    def run() -> float:
        r, m = ready, read
        started = cpu()
        for _ in range(count):
            if r & m:  # type: ignore[operator]
                pass
        return (cpu() - started) / count

    return run


def main() -> None:
    args = parser(__doc__, rounds=9).parse_args()
    rounds = 1 if args.quick else args.rounds
    count = 20_000 if args.quick else 500_000
    header(rounds)
    result = interleave(
        {
            "int": case(3, 1, count),
            "enum.IntFlag": case(PlainFlag(3), PlainFlag.READ, count),
            "IntFlag, & from int": case(FastAndFlag(3), FastAndFlag.READ, count),
            "int subclass": case(IntEvent(3), IntEvent(1), count),
            "sockspec.Event": case(
                sockspec.EVENT_READ | sockspec.EVENT_WRITE, sockspec.EVENT_READ, count
            ),
        },
        rounds,
        "int",
    )
    rows = table(
        "if events & EVENT_READ: (CPU per test, loop included)",
        result,
        unit="ns",
        scale=1e9,
        targets=[Target("sockspec.Event", 1.5, "issue 16: about int's cost")],
    )
    summary(rows)


if __name__ == "__main__":
    main()
