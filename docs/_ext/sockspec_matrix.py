"""The conformance matrix: every check run on every built-in backend.

The docs build calls :func:`matrix_rst` (through the
``sockspec-conformance-matrix`` directive), which runs the shipped suite with
the public :mod:`sockspec.conformance` API and writes the outcome as
reStructuredText tables. Nothing in the matrix is typed by hand: a new
check, a new backend or a regression shows up at the next build.

It can also be run on its own, to see the tables without building the site::

    python docs/_ext/sockspec_matrix.py
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections import Counter
from typing import TYPE_CHECKING

import sockspec

if TYPE_CHECKING:
    from sockspec.conformance import Check, Result

__all__ = ["Matrix", "builtin_backends", "matrix_rst", "run_matrix"]

_SYMBOL = {"PASS": "pass", "SKIP": "skip", "FAIL": "**FAIL**"}


#: Column order: the default first, then the other OS backend, then memory.
_ORDER = ["stdlib", "selectors", "memory"]


def builtin_backends() -> list[str]:
    """The backends that ship with sockspec (plugins from elsewhere left out)."""
    names = [
        info.name for info in sockspec.backend_info() if info.distribution == "sockspec"
    ]
    return sorted(names, key=lambda n: (_ORDER.index(n) if n in _ORDER else 99, n))


@dataclasses.dataclass
class Matrix:
    """The results of one run of the suite, indexed for the tables."""

    #: The backends in column order.
    backends: list[str]
    #: The checks in the suite's order.
    checks: list[Check]
    #: ``(check name, backend) -> Result``.
    results: dict[tuple[str, str], Result]
    #: ``"client->server" -> Counter of outcomes`` for the cross-backend runs.
    cross: dict[str, Counter[str]]
    #: Wall-clock seconds the whole run took.
    seconds: float


def run_matrix(backends: list[str] | None = None, *, cross: bool = True) -> Matrix:
    """Run every check on every backend in *backends* (default: the built-ins)."""
    from sockspec import conformance

    names = backends if backends is not None else builtin_backends()
    checks = list(conformance.all_checks())
    started = time.perf_counter()
    results = conformance.run(checks, on=conformance.targets(names, cross=cross))
    seconds = time.perf_counter() - started
    table: dict[tuple[str, str], Result] = {}
    crossed: dict[str, Counter[str]] = {}
    for result in results:
        if "->" in result.target:
            crossed.setdefault(result.target, Counter())[result.outcome.name] += 1
        else:
            table[(result.check, result.target)] = result
    return Matrix(names, checks, table, crossed, seconds)


def _escape(text: str) -> str:
    """Make arbitrary text (an error message) safe as reStructuredText."""
    text = " ".join(text.split())
    return re.sub(r"([\\`*_|<>\[\]])", r"\\\1", text)


def _cell(result: Result | None) -> str:
    if result is None:
        return "not run"
    outcome = result.outcome.name
    message = result.message
    if outcome == "PASS" or not message:
        return _SYMBOL[outcome]
    return f"{_SYMBOL[outcome]}: {_escape(message)}"


_FAMILY = {"AF_INET": "IPv4", "AF_INET6": "IPv6", "AF_UNIX": "UNIX"}


def _base_name(check: Check) -> str:
    """``basic_io_unix`` -> ``basic_io``: the name without its family suffix."""
    for suffix in ("_inet6", "_unix"):
        if check.name.endswith(suffix):
            return check.name[: -len(suffix)]
    return check.name


def _row_cell(m: Matrix, checks: list[Check], backend: str) -> str:
    cells = [_cell(m.results.get((c.name, backend))) for c in checks]
    if len(set(cells)) == 1:
        return cells[0]
    return "; ".join(
        f"{_FAMILY[c.family.name]}: {cell}"
        for c, cell in zip(checks, cells, strict=True)
    )


def _list_table(header: list[str], rows: list[list[str]], widths: str) -> list[str]:
    lines = [".. list-table::", "   :header-rows: 1", f"   :widths: {widths}", ""]
    for row in [header, *rows]:
        first, *rest = row
        lines.append(f"   * - {first}")
        lines.extend(f"     - {cell}" for cell in rest)
    return [*lines, ""]


def matrix_rst(matrix: Matrix | None = None) -> str:
    """Return the matrix as reStructuredText: a summary, then one table a group."""
    m = matrix if matrix is not None else run_matrix()
    out: list[str] = []
    totals = []
    for backend in m.backends:
        counts = Counter(
            m.results[(c.name, backend)].outcome.name
            for c in m.checks
            if (c.name, backend) in m.results
        )
        totals.append([f"``{backend}``", *(str(counts[k]) for k in _SYMBOL)])
    for target, counts in sorted(m.cross.items()):
        client, server = target.split("->")
        totals.append(
            [
                f"``{client}`` client, ``{server}`` server",
                *(str(counts[k]) for k in _SYMBOL),
            ]
        )
    out.append(
        f"{len(m.checks)} checks, run on sockspec {sockspec.__version__} when "
        f"this page was built ({m.seconds:.1f} s).  Cross-backend runs repeat "
        "the checks that involve two sockets with the client on one backend "
        "and the server on the other."
    )
    out.append("")
    out += _list_table(["run", "passed", "skipped", "failed"], totals, "40 20 20 20")

    # One row per check; its per-family variants (basic_io, basic_io_inet6,
    # basic_io_unix) share the row, and a cell splits by family only when the
    # outcomes differ.
    groups: dict[str, dict[str, list[Check]]] = {}
    for check in m.checks:
        base = _base_name(check)
        groups.setdefault(check.group, {}).setdefault(base, []).append(check)
    width = max(10, 50 // max(1, len(m.backends)))
    widths = " ".join(["20", "30", *[str(width)] * len(m.backends)])
    for group, variants in groups.items():
        # A rubric, not a section: generated text cannot open sections.
        out += [f".. rubric:: {group.replace('_', ' ').capitalize()}", ""]
        rows = []
        for base, checks in variants.items():
            label = f"``{base}``"
            if len(checks) > 1:
                label += " (" + ", ".join(_FAMILY[c.family.name] for c in checks) + ")"
            rows.append(
                [
                    label,
                    checks[0].summary or " ",
                    *(_row_cell(m, checks, b) for b in m.backends),
                ]
            )
        out += _list_table(
            ["check", "what it proves", *(f"``{b}``" for b in m.backends)],
            rows,
            widths,
        )
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(matrix_rst())
