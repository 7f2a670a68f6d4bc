"""Exploring seeds: run each ``memory_network`` test under many seeds.

``pytest --memory-seeds=200`` (or ``@pytest.mark.memory_network(seeds=200)``
on one test) runs every test that uses the ``memory_network`` fixture once
per seed, ``N``, ``N+1``... where ``N`` is ``--memory-seed`` (default 0), as
test items named ``test_x[memory-seed=N]``.  A race that shows under one
seed in fifty is found, not only replayed: at the end of the run, the
terminal summary gives each explored test's first failing seed and the
command that replays it.  Add ``-x`` to stop at the first failure.

A test whose marker pins a ``seed`` is not explored: its author chose that
seed.  The seed decides fault draws, ports, and the order in which threads
take their turns (the default seeded schedule).
"""

from __future__ import annotations

from typing import Any

import pytest

__all__ = [
    "PARAM_ID",
    "pytest_addoption",
    "pytest_generate_tests",
    "pytest_terminal_summary",
    "record_failure",
    "replay_command",
]

#: The test id of one explored seed, ``memory-seed=N``.
PARAM_ID = "memory-seed={}"

_FAILED = pytest.StashKey[dict[str, set[int]]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--memory-seeds``."""
    group = parser.getgroup("sockspec")
    group.addoption(
        "--memory-seeds",
        type=int,
        default=None,
        metavar="COUNT",
        help=(
            "run every memory_network test under COUNT seeds, from "
            "--memory-seed (default 0); report the first failing seed"
        ),
    )


def _marker_options(metafunc: pytest.Metafunc) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for marker in reversed(list(metafunc.definition.iter_markers("memory_network"))):
        options.update(marker.kwargs)
    return options


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize the ``memory_network`` fixture of an explored test."""
    if "memory_network" not in metafunc.fixturenames:
        return
    options = _marker_options(metafunc)
    count = options.get("seeds")
    if count is None:
        if "seed" in options:
            return  # pinned by its author
        count = metafunc.config.getoption("memory_seeds", None)
    if count is None:
        return
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid}: the number of memory seeds must be "
            f"an int >= 1, got {count!r}"
        )
    start = metafunc.config.getoption("memory_seed", None) or 0
    seeds = range(start, start + count)
    metafunc.parametrize(
        "memory_network",
        list(seeds),
        indirect=True,
        ids=[PARAM_ID.format(s) for s in seeds],
    )


def replay_command(nodeid: str, seed: int) -> str:
    """The command that replays *nodeid* (an explored item's or not) with *seed*."""
    label = PARAM_ID.format(seed)
    for explored in (f"[{label}]", f"{label}-", f"-{label}"):
        if explored in nodeid:
            nodeid = nodeid.replace(explored, "", 1)
            break
    return f"pytest '{nodeid}' --memory-seed={seed}"


def record_failure(config: pytest.Config, nodeid: str, seed: int) -> None:
    """Remember a failed explored item (the plugin's report hook calls this)."""
    base = replay_command(nodeid, seed).split("'")[1]
    config.stash.setdefault(_FAILED, {}).setdefault(base, set()).add(seed)


def pytest_terminal_summary(
    terminalreporter: Any, exitstatus: int, config: pytest.Config
) -> None:
    """List each explored test's first failing seed and its replay command."""
    failed = config.stash.get(_FAILED, None)
    if not failed:
        return
    terminalreporter.section("memory seeds")
    for base, seeds in sorted(failed.items()):
        first = min(seeds)
        terminalreporter.write_line(
            f"{base}: failed under {len(seeds)} seed(s), first seed {first}; "
            f"replay: {replay_command(base, first)}"
        )
