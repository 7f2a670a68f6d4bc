"""The one way every benchmark script measures (issue 16).

Method
------
* Every case of a comparison runs in the same process (or, for servers,
  is driven from the same process), so they share the machine's state.
* Rounds are interleaved: each round runs every case once, the order
  rotating from round to round, so load that comes and goes on a shared
  machine hits all cases alike.
* The first round is a warm-up and is thrown away (caches, lazy imports,
  the allocator's pools, the CPU's frequency).  Garbage is collected
  before every case, so no case pays for the previous one's.
* Single-threaded cases are timed in CPU time of the calling thread
  (:func:`time.thread_time`): other processes on the machine do not
  count, only what this thread did.  Cases with several threads or
  processes say which clock they use.
* The figure is the median over rounds of the *paired* ratio: each round's
  case divided by the same round's baseline, measured moments apart.  The
  spread printed beside it is the lowest and highest paired ratio.

Every script prints its targets beside its figures (``ok``/``MISSED``).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

#: CPU seconds of the calling thread; the clock of single-threaded cases.
cpu = time.thread_time
#: Wall-clock seconds; for cases whose cost is waiting (other processes).
wall = time.perf_counter


@dataclasses.dataclass
class Case:
    """One measured case: its per-round figures, and ratios to the baseline."""

    name: str
    #: The figure of every measured round (warm-up excluded), in seconds
    #: or whatever unit the case returns.
    values: list[float]
    #: Per-round ratio to the baseline (``None`` for the baseline itself).
    ratios: list[float] | None = None

    @property
    def median(self) -> float:
        """Median of :attr:`values`."""
        return statistics.median(self.values)

    @property
    def ratio(self) -> float:
        """Median of the paired ratios (1.0 for the baseline)."""
        return statistics.median(self.ratios) if self.ratios else 1.0


def interleave(
    cases: Mapping[str, Callable[[], float]],
    rounds: int,
    baseline: str,
    *,
    warmup: int = 1,
) -> dict[str, Case]:
    """Run *cases* in *rounds* interleaved rounds after *warmup* ones.

    Each callable runs the case once and returns its figure (for example
    seconds per operation).  Returns every case with its paired ratios to
    *baseline*.
    """
    names = list(cases)
    if baseline not in cases:
        raise ValueError(f"baseline {baseline!r} is not one of the cases")
    got: dict[str, list[float]] = {name: [] for name in names}
    for r in range(warmup + rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            # The previous case's garbage (reference cycles) must not be
            # collected on this case's clock.
            gc.collect()
            value = cases[name]()
            if r >= warmup:
                got[name].append(value)
    base = got[baseline]
    out: dict[str, Case] = {}
    for name in names:
        ratios = None
        if name != baseline:
            ratios = [v / b for v, b in zip(got[name], base, strict=True)]
        out[name] = Case(name, got[name], ratios)
    return out


def per_op(
    fn: Callable[[int], object], count: int, clock: Callable[[], float] = cpu
) -> Callable[[], float]:
    """A case: *fn(count)* timed with *clock*, divided by *count*."""

    def run() -> float:
        started = clock()
        fn(count)
        return (clock() - started) / count

    return run


def one_byte_ping_pong(a: Any, b: Any, rounds: int, *, raw: bool) -> float:
    """CPU seconds of this thread per 1-byte round trip from *a* to *b* and back.

    Both ends are driven from the calling thread.  *raw*: the ends are
    ``socket.socket``-like (``send``/``recv``), else sockspec sockets
    (``send``/``receive``).
    """
    if raw:
        a_send, a_recv, b_send, b_recv = a.send, a.recv, b.send, b.recv
    else:
        a_send, a_recv, b_send, b_recv = a.send, a.receive, b.send, b.receive
    one = b"x"
    started = cpu()
    for _ in range(rounds):
        a_send(one)
        b_recv(1)
        b_send(one)
        a_recv(1)
    return (cpu() - started) / rounds


@dataclasses.dataclass
class Target:
    """A target ratio of one case, printed beside its figure."""

    case: str
    limit: float
    #: Where the target comes from, e.g. ``"issue 16"``.
    source: str = "issue 16"


def table(
    title: str,
    results: Mapping[str, Case],
    *,
    unit: str,
    scale: float,
    targets: Sequence[Target] = (),
) -> list[tuple[str, str, float, float | None]]:
    """Print *results* as a table; return ``(title, case, ratio, limit)`` rows."""
    limits = {t.case: t for t in targets}
    print(title)
    print(
        f"  {'case':<34} {'median ' + unit:>14} {'paired ratio':>13} "
        f"{'(min - max)':>15}  target"
    )
    rows = []
    for case in results.values():
        spread = ""
        if case.ratios:
            spread = f"({min(case.ratios):.3f} - {max(case.ratios):.3f})"
        target = limits.get(case.name)
        verdict = ""
        if target is not None:
            mark = "ok" if case.ratio <= target.limit else "MISSED"
            verdict = f"<= {target.limit:.2f}x {mark}"
        ratio = f"{case.ratio:.3f}x" if case.ratios else "1 (base)"
        print(
            f"  {case.name:<34} {case.median * scale:>14.3f} {ratio:>13} "
            f"{spread:>15}  {verdict}"
        )
        rows.append((title, case.name, case.ratio, target.limit if target else None))
    print()
    return rows


def summary(rows: Sequence[tuple[str, str, float, float | None]]) -> None:
    """Print every target beside its figure, once more, at the end."""
    print("targets")
    for title, name, ratio, limit in rows:
        if limit is None:
            continue
        mark = "ok" if ratio <= limit else "MISSED"
        print(f"  {title}: {name}: {ratio:.3f}x (target <= {limit:.2f}x) {mark}")


def parser(doc: str | None, rounds: int) -> argparse.ArgumentParser:
    """An argument parser with the options every script shares."""
    first = (doc or "").strip().splitlines()[0] if doc else None
    p = argparse.ArgumentParser(description=first)
    p.add_argument(
        "--rounds", type=int, default=rounds, help="measured rounds (after 1 warm-up)"
    )
    p.add_argument("--quick", action="store_true", help="tiny smoke run")
    return p


def header(rounds: int) -> None:
    """Print the interpreter and method line every script starts with."""
    print(
        f"python {sys.version.split()[0]}; {rounds} interleaved rounds after "
        f"1 warm-up; figure = median of paired ratios\n"
    )
