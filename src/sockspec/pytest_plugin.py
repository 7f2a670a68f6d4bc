"""sockspec's pytest plugin: the ``memory_network`` and ``compat_network`` fixtures.

Registered through the ``pytest11`` entry point, so it is active wherever
sockspec is installed.  It is inert until used: importing it loads neither
the backends nor the plugin registry, and nothing happens in a test that does
not ask for the fixture.  It also brings the ``--sockspec-backend`` option
(:mod:`sockspec._pytest_backend`) and ``--sockspec-compat``
(:mod:`sockspec._pytest_compat`), which runs a whole suite with the standard
socket modules patched onto a backend.

``memory_network`` makes a fresh :class:`~sockspec.backends.memory.Network`,
installs it as the default backend for one test (``sockspec.use_backend``)
and yields it, so the test can add hosts and names and install fault rules::

    def test_client_survives_a_partition(memory_network):
        db = memory_network.add_host("db")
        ...

Configure it with a marker, ``@pytest.mark.memory_network(seed=7,
record_data=True)`` (any :class:`Network` keyword), or the whole run with
``--memory-seed=N``.  When a test using the fixture fails, its report gets a
"memory network" section with the seed, the command-line option that
replays the same run, and the last :data:`LOG_TAIL` (20) events of the
network's log.

``compat_network`` is ``memory_network`` with the standard ``socket``,
``select`` and ``selectors`` modules patched onto the network
(:func:`sockspec.compat.patch`), so unmodified clients and servers run on
it; ``@pytest.mark.compat_network(clock=True)`` also puts ``time.sleep`` and
``time.monotonic`` on the network's clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .backends.memory import Network

__all__ = [
    "compat_network",
    "memory_network",
    "pytest_addoption",
    "pytest_configure",
    "pytest_runtest_makereport",
    "remember_network",
]

pytest_plugins = ["sockspec._pytest_backend", "sockspec._pytest_compat"]

_NETWORK = pytest.StashKey["Network"]()

#: How many of the newest events a failed test's report shows.
LOG_TAIL = 20


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--memory-seed``."""
    group = parser.getgroup("sockspec")
    group.addoption(
        "--memory-seed",
        type=int,
        default=None,
        metavar="N",
        help="seed of every memory_network (replays a failed run)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Declare the ``memory_network`` marker (``--strict-markers`` safe)."""
    config.addinivalue_line(
        "markers",
        "memory_network(**options): keyword arguments for the memory_network "
        "fixture's Network (seed, record_data, stall_timeout, realtime_after, "
        "event_log_size)",
    )
    config.addinivalue_line(
        "markers",
        "compat_network(clock=False): options of the compat_network fixture's "
        "patch (clock=True: time.sleep/time.monotonic on the network's clock)",
    )


@pytest.fixture
def memory_network(request: pytest.FixtureRequest) -> Iterator[Network]:
    """A fresh in-memory network, the default backend for this test."""
    from ._registry import use_backend
    from .backends.memory import Network

    options: dict[str, Any] = {}
    marker = request.node.get_closest_marker("memory_network")
    if marker is not None:
        if marker.args:
            raise TypeError("the memory_network marker takes keyword arguments only")
        options.update(marker.kwargs)
    seed = request.config.getoption("memory_seed", None)
    if seed is not None:
        options["seed"] = seed
    network = Network(**options)
    remember_network(request.node, network)
    with use_backend(network):
        yield network
    # Threads the test left blocked on the network must not hang the run.
    network.close()


@pytest.fixture
def compat_network(
    memory_network: Network, request: pytest.FixtureRequest
) -> Iterator[Network]:
    """``memory_network`` with the standard socket modules patched onto it."""
    from .compat import patch

    marker = request.node.get_closest_marker("compat_network")
    options: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    clock = options.pop("clock", False)
    if options or (marker is not None and marker.args):
        raise TypeError("the compat_network marker takes only clock=")
    with patch(memory_network, clock=bool(clock)):
        yield memory_network


def remember_network(item: pytest.Item, network: Network) -> None:
    """Name *network*'s seed in *item*'s report if the test fails."""
    item.stash[_NETWORK] = network


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Iterator[None]:
    """Add the seed to the report of a failed test that used the network."""
    outcome: Any = yield
    report: pytest.TestReport = outcome.get_result()
    network = item.stash.get(_NETWORK, None)
    if network is not None and report.failed:
        events = network.events()
        total = len(events) + network.events_discarded
        tail = events[-LOG_TAIL:]
        text = (
            f"seed {network.seed}; replay with --memory-seed={network.seed}\n"
            f"virtual time at {call.when}: {network.now:.6f}s"
        )
        if tail:
            text += f"\nevent log, last {len(tail)} of {total} events:\n" + "\n".join(
                map(str, tail)
            )
        report.sections.append(("memory network", text))
