"""What ``import sockspec`` costs against ``import socket``.

Each case is a fresh interpreter (``sys.executable -c ...``) that reads its
own CPU clock (:func:`time.process_time`) around one import statement and
prints the figure, so interpreter start-up and ``site`` are not counted.
The warm-up round also writes the bytecode caches, so every measured round
imports from cached bytecode.  Rounds are interleaved, the figure is the
median of paired ratios (see ``_measure.py``).

It also lists the heavy standard-library modules ``import sockspec`` pulls
in, which is where the time goes.

Run: ``python benchmarks/bench_import.py`` (``--quick`` for a smoke run).
Target (issue 16): ``import sockspec`` <= 2.5x ``import socket``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

from _measure import Target, header, interleave, parser, summary, table

CHILD = (
    "import sys, time\n"
    "t = time.process_time()\n"
    "import {module}\n"
    "t = time.process_time() - t\n"
    "print(t)\n"
    "print(' '.join(m for m in {heavy!r} if m in sys.modules))\n"
)
HEAVY = (
    "importlib.metadata",
    "email",
    "zipfile",
    "pathlib",
    "dataclasses",
    "inspect",
    "typing",
    "pluggy",
    "ssl",
)
TIMEOUT = 60.0


def import_time(module: str, seen: dict[str, str]) -> Callable[[], float]:
    """A case: CPU seconds a fresh interpreter spends importing *module*."""

    def run() -> float:
        out = subprocess.run(
            [sys.executable, "-c", CHILD.format(module=module, heavy=HEAVY)],
            capture_output=True,
            text=True,
            check=True,
            timeout=TIMEOUT,
        ).stdout.splitlines()
        seen[module] = out[1] if len(out) > 1 else ""
        return float(out[0])

    return run


def main() -> None:
    args = parser(__doc__, rounds=21).parse_args()
    rounds = 2 if args.quick else args.rounds
    header(rounds)
    seen: dict[str, str] = {}
    result = interleave(
        {
            "import socket": import_time("socket", seen),
            "import sockspec": import_time("sockspec", seen),
        },
        rounds,
        "import socket",
    )
    rows = table(
        "import with cached bytecode, fresh interpreter (CPU)",
        result,
        unit="ms",
        scale=1e3,
        targets=[Target("import sockspec", 2.5)],
    )
    for module, heavy in seen.items():
        print(f"  after import {module}: {heavy or 'none of ' + ', '.join(HEAVY)}")
    print()
    summary(rows)


if __name__ == "__main__":
    main()
