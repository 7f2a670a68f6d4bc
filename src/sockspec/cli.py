"""The ``sockspec`` command: run the conformance suite, list backends.

``sockspec check [NAMES...] [-k PATTERN] [-v] [--cross]`` runs every check
against each installed backend (or the ones named, ``name:options``
included) and prints a matrix of check x backend; it exits 1 if any check
failed, 0 otherwise.  ``sockspec backends [NAMES...]`` lists each backend
(or the ones named) as built-in or with the plugin and distribution it
comes from, its summary and capabilities, marks the default, and lists the
plugins that failed to load.  ``sockspec --version`` prints the version.

Usage errors exit 2, as argparse does: an unknown option, ``sockspec`` with
no command (which prints the whole help, to stderr, rather than argparse's
one usage line), and a backend name -- on the command line or in
``$SOCKSPEC_BACKEND`` -- that names no backend, reported in one line that
suggests the name probably meant.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Sequence
from typing import TextIO

from . import __version__, _registry, conformance
from .conformance import Outcome, Result, Target

__all__ = ["main"]

_CELL = {Outcome.PASS: "pass", Outcome.FAIL: "FAIL", Outcome.SKIP: "skip"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sockspec",
        description="The CommonJS Sockets/A API for Python: tools.",
        epilog="Run 'sockspec COMMAND -h' for the options of one command. "
        f"${_registry.BACKEND_ENV} chooses the default backend "
        f"({_registry.DEFAULT_BACKEND} when it is not set).",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    check = sub.add_parser(
        "check",
        help="run the conformance suite against backends",
        description="Run the conformance suite and print a check x backend "
        "matrix; exit 1 if any check fails.",
    )
    check.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="backends to check (name or name:options); default: all installed",
    )
    check.add_argument(
        "-k",
        dest="patterns",
        action="append",
        default=[],
        metavar="PATTERN",
        help="only checks whose name contains PATTERN, or whose group is "
        "PATTERN, or that match it as a glob; repeat to add more",
    )
    check.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="print each result as it comes and full tracebacks",
    )
    check.add_argument(
        "--cross",
        action="store_true",
        help="also run OS-socket backends against each other (client->server)",
    )
    backends = sub.add_parser(
        "backends",
        help="list backends, their origin and capabilities",
        description="List the available backends (or the ones named), which "
        "one is the default, and plugin load problems.",
    )
    backends.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="backends to show (name or name:options); default: all",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``sockspec`` command line; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        if args.command == "backends":
            return _backends(args.names, sys.stdout)
        _default_backend()
        return _check(args.names, args.patterns, args.verbose, args.cross, sys.stdout)
    except _registry.UnknownBackend as exc:
        # A mistake in a name, not a bug: one line, no traceback.
        print(f"sockspec {args.command}: {exc}", file=sys.stderr)
        return 2


def _default_backend() -> str:
    """The default backend's name (``name:options``); raise if it names none."""
    _registry.get_backend()
    env = os.environ.get(_registry.BACKEND_ENV, "").strip()
    return env or _registry.DEFAULT_BACKEND


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


# -- sockspec backends ----------------------------------------------------------


def _backends(names: Sequence[str], out: TextIO) -> int:
    for name in names:
        _registry.get_backend(name)  # an unknown name is an error, with a hint
    wanted = {name.partition(":")[0] for name in names}
    infos = [i for i in _registry.backend_info() if not wanted or i.name in wanted]
    env = os.environ.get(_registry.BACKEND_ENV, "").strip()
    default = env or _registry.DEFAULT_BACKEND
    default_name = default.partition(":")[0]
    labels = [
        f"{i.name} (default)" if i.name == default_name else i.name for i in infos
    ]
    width = max([len(label) for label in labels] + [8])
    for info, label in zip(infos, labels, strict=True):
        if _is_builtin(info):
            origin = "built-in"
        else:
            origin = f"plugin {info.plugin} ({info.distribution or 'unknown'})"
        print(f"{label:{width}}  {origin}  {info.summary}".rstrip(), file=out)
        if info.needs_options:
            note = f"needs options (choose it as {info.name}:OPTIONS)"
            print(f"{'':{width}}  capabilities: {note}", file=out)
            continue
        try:
            caps = _registry.get_backend(info.name).capabilities.describe()
        except Exception as exc:  # a backend whose factory fails is still listed
            caps = f"unavailable: {type(exc).__name__}: {exc}"
        print(f"{'':{width}}  capabilities: {caps}", file=out)
    if not infos:
        print("no backends are installed", file=out)
    if not names:
        problems = _registry.plugin_problems()
        if problems:
            print("\nplugin problems:", file=out)
            for problem in problems:
                origin = problem.distribution or "unknown distribution"
                print(f"  {problem.plugin} ({origin}): {problem.error}", file=out)
        # Listed before it is checked: the list shows the name that was meant.
        _default_backend()
        source = f" (from ${_registry.BACKEND_ENV})" if env else ""
        print(f"\ndefault backend: {default}{source}", file=out)
    return 0


def _is_builtin(info: _registry.BackendInfo) -> bool:
    """Whether *info* is one of the backends that ship inside sockspec."""
    return re.sub(r"[-_.]+", "-", info.distribution or "").lower() == "sockspec"


# -- sockspec check -------------------------------------------------------------


def _check(
    names: Sequence[str],
    patterns: Sequence[str],
    verbose: bool,
    cross: bool,
    out: TextIO,
) -> int:
    for name in names:
        if "->" in name:
            continue
        try:
            _registry.get_backend(name)
        except Exception as exc:
            print(f"sockspec check: {exc}", file=sys.stderr)
            return 2
    checks = conformance.select_checks(patterns)
    if not checks:
        print(f"sockspec check: no check matches {list(patterns)}", file=sys.stderr)
        return 2
    targets = [Target.parse(name) for name in names] if names else None
    if targets is None or cross:
        targets = _with_cross(targets, cross)

    def progress(result: Result) -> None:
        if verbose:
            note = f"  {result.message}" if result.message else ""
            print(
                f"{result.target} {result.check}: {_CELL[result.outcome]}"
                f" ({result.duration:.2f} s){note}",
                file=out,
                flush=True,
            )

    started = time.perf_counter()
    results = conformance.run(checks, targets, progress=progress)
    elapsed = time.perf_counter() - started
    _print_matrix(results, [c.name for c in checks], [t.name for t in targets], out)
    _print_failures(results, verbose, out)
    counts = {o: sum(r.outcome is o for r in results) for o in Outcome}
    if not names:
        for info in _registry.backend_info():
            if info.needs_options:
                print(f"\nnot checked: {info.name} (needs options)", file=out)
    print(
        f"\n{_count(len(checks), 'check')} x {_count(len(targets), 'backend')}: "
        f"{counts[Outcome.PASS]} passed, {counts[Outcome.FAIL]} failed, "
        f"{counts[Outcome.SKIP]} skipped in {elapsed:.1f} s",
        file=out,
    )
    return 1 if counts[Outcome.FAIL] else 0


def _with_cross(targets: list[Target] | None, cross: bool) -> list[Target]:
    names = [t.client for t in targets if not t.cross] if targets else None
    chosen = conformance.targets(names, cross=cross)
    extra = [t for t in targets or [] if t.cross and t not in chosen]
    return chosen + extra


def _print_matrix(
    results: Sequence[Result], checks: list[str], targets: list[str], out: TextIO
) -> None:
    by_cell = {(r.check, r.target): r for r in results}
    reasons: dict[str, int] = {}
    first = max(len(name) for name in [*checks, "check"])
    widths = [max(len(t), 9) for t in targets]
    header = "  ".join(f"{t:{w}}" for t, w in zip(targets, widths, strict=True))
    print(f"{'check':{first}}  {header}".rstrip(), file=out)
    for name in checks:
        cells = []
        for target, width in zip(targets, widths, strict=True):
            result = by_cell.get((name, target))
            if result is None:
                cell = "-"  # one-backend checks are not run across backends
            elif result.skipped:
                number = reasons.setdefault(result.message, len(reasons) + 1)
                cell = f"skip[{number}]"
            else:
                cell = _CELL[result.outcome]
            cells.append(f"{cell:{width}}")
        print(f"{name:{first}}  {'  '.join(cells)}".rstrip(), file=out)
    if reasons:
        print("\nskipped because:", file=out)
        for reason, number in reasons.items():
            print(f"  [{number}] {reason}", file=out)


def _print_failures(results: Sequence[Result], verbose: bool, out: TextIO) -> None:
    failed = [r for r in results if r.failed]
    if not failed:
        return
    print("\nfailures:", file=out)
    for result in failed:
        print(f"  {result.target} {result.check}: {result.message}", file=out)
        if verbose and result.details:
            for line in result.details.rstrip().splitlines():
                print(f"      {line}", file=out)
