"""sockspec's pytest plugin: the ``memory_network`` and ``compat_network`` fixtures.

Registered through the ``pytest11`` entry point, so it is active wherever
sockspec is installed.  It is inert until used: importing it loads neither
the backends nor the plugin registry, and nothing happens in a test that does
not ask for the fixture.  It also brings the ``--sockspec-backend`` option
(:mod:`sockspec._pytest_backend`) and ``--sockspec-compat``
(:mod:`sockspec._pytest_compat`), which runs a whole suite with the standard
socket modules patched onto a backend, and the ``asyncio_network`` fixture
and marker (:mod:`sockspec._pytest_asyncio`), which run ``async def`` tests
on a compat event loop over the memory network.

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
network's log, and its netstat table.  What a test leaves behind (thread
exceptions, blocked threads, open sockets) fails it: see
:mod:`sockspec._pytest_hygiene`.  When the test ends, its network is retired:
a socket kept from it raises :class:`~sockspec.backends.memory.StaleNetwork`.

``memory_network_module`` and ``memory_network_session`` share one network
between the tests of a module or session (module-scoped fake servers).

``compat_network`` is ``memory_network`` with the standard ``socket``,
``select`` and ``selectors`` modules patched onto the network
(:func:`sockspec.compat.patch`), so unmodified clients and servers run on
it; ``@pytest.mark.compat_network(clock=True)`` also puts ``time.sleep``,
``time.monotonic`` and ``time.time`` on the network's clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from ._pytest_explore import record_failure, replay_command
from ._pytest_hygiene import CHECKS, Watch

if TYPE_CHECKING:
    from .backends.memory import Network

__all__ = [
    "compat_network",
    "memory_network",
    "memory_network_module",
    "memory_network_session",
    "pytest_addoption",
    "pytest_configure",
    "pytest_runtest_makereport",
    "remember_network",
]

pytest_plugins = [
    "sockspec._pytest_asyncio",
    "sockspec._pytest_backend",
    "sockspec._pytest_compat",
    "sockspec._pytest_explore",
]

_NETWORK = pytest.StashKey["Network"]()
_SHARED_BY = pytest.StashKey[str]()
_WATCH = pytest.StashKey[Watch]()

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
        "event_log_size), its end-of-test checks (" + Watch.switch_help() + "), "
        "seeds=COUNT to explore COUNT seeds",
    )
    config.addinivalue_line(
        "markers",
        "compat_network(clock=False): options of the compat_network fixture's "
        "patch (clock=True: time.sleep/monotonic/time on the network's clock)",
    )


def _options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The Network keywords and checks for a fixture, from markers and options.

    Markers add up, the closest winning: a module's
    ``pytestmark = pytest.mark.memory_network(check_leaks=False)`` still
    holds for a test that has its own marker with a seed.  ``--memory-seed``
    beats every marker's ``seed``: a replay must reach every test.
    """
    options: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("memory_network"))):
        if marker.args:
            raise TypeError("the memory_network marker takes keyword arguments only")
        options.update(marker.kwargs)
    seed = request.config.getoption("memory_seed", None)
    if seed is not None:
        options["seed"] = seed
    options.pop("seeds", None)  # for _pytest_explore
    explored = getattr(request, "param", None)
    if explored is not None:
        options["seed"] = explored
    return options


@pytest.fixture
def memory_network(request: pytest.FixtureRequest) -> Iterator[Network]:
    """A fresh in-memory network, the default backend for this test."""
    from ._registry import use_backend
    from .backends.memory import Network

    options = _options(request)
    switches = {k: options.pop(k) for k in list(options) if k in CHECKS}
    network = Network(**options)
    watch = Watch(network, switches)
    remember_network(request.node, network)
    request.node.stash[_WATCH] = watch
    watch.start()
    try:
        with use_backend(network):
            yield network
        blocked = watch.blocked_threads()
    finally:
        # Threads woken by close() die of SocketClosed: not the test's fault.
        watch.stop()
        # Threads the test left blocked on the network must not hang the run.
        network.close()
    found = (
        watch.take_errors(),
        watch.real_socket_uses(),
        blocked,
        watch.leaked_sockets(),
    )
    network._sched.retire(
        f"this socket or Poller belongs to the memory network of "
        f"{request.node.nodeid} (seed {network.seed}), which has ended; make "
        "sockets in the test that uses them, or share one network between "
        "tests with memory_network_module or memory_network_session"
    )
    problems = [text for text in found if text]
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


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


def remember_network(
    item: pytest.Item, network: Network, shared: str | None = None
) -> None:
    """Name *network*'s seed in *item*'s report if the test fails.

    *shared*: the scope (``"session"``, ``"module"``) of a network that
    earlier tests used too.  Its state at the failure depends on them, so
    the report says to replay the same selection of tests, not this one
    alone.
    """
    item.stash[_NETWORK] = network
    if shared is not None:
        item.stash[_SHARED_BY] = shared


def _shared(request: pytest.FixtureRequest) -> Iterator[Network]:
    from ._registry import use_backend
    from .backends.memory import Network

    options = _options(request)
    for name in CHECKS:
        options.pop(name, None)  # tests come and go: nothing to check per test
    network = Network(**options)
    with use_backend(network):
        yield network
    network.close()
    network._sched.retire(
        f"this socket or Poller belongs to the memory network shared by "
        f"{request.node.nodeid or 'the session'} (seed {network.seed}), whose "
        "scope has ended"
    )


@pytest.fixture(scope="module")
def memory_network_module(request: pytest.FixtureRequest) -> Iterator[Network]:
    """One in-memory network shared by the tests of a module.

    The default backend while the module's tests run, so module-scoped
    fixtures (a fake server) can live on it.  Configured by the module's
    ``pytestmark`` marker; a failed test's report gives its seed.
    """
    yield from _shared(request)


@pytest.fixture(scope="session")
def memory_network_session(request: pytest.FixtureRequest) -> Iterator[Network]:
    """One in-memory network shared by every test of the session."""
    yield from _shared(request)


_SHARED = ("memory_network_module", "memory_network_session")


def _section(network: Network, when: str, heading: str) -> str:
    events = network.events()
    total = len(events) + network.events_discarded
    tail = events[-LOG_TAIL:]
    text = (
        f"{heading}seed {network.seed}; replay with --memory-seed={network.seed}\n"
        f"virtual time at {when}: {network.now:.6f}s"
    )
    if tail:
        text += f"\nevent log, last {len(tail)} of {total} events:\n" + "\n".join(
            map(str, tail)
        )
    if network.netstat():
        text += "\nsockets:\n" + network.format_netstat()
    notes = network.schedule_notes
    if notes:
        text += (
            "\nthis run may not replay: the seeded schedule lost track of "
            "threads:\n  " + "\n  ".join(notes)
        )
    return text


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Iterator[None]:
    """Add the seed to the report of a failed test that used the network."""
    outcome: Any = yield
    report: pytest.TestReport = outcome.get_result()
    network = item.stash.get(_NETWORK, None)
    watch = item.stash.get(_WATCH, None)
    if watch is not None and call.when == "call":
        errors = watch.take_errors()
        if errors:
            # The thread's exception is the cause; whatever the test itself
            # then saw (a timeout, a deadlock) comes after it.
            if report.failed and report.longrepr is not None:
                errors += "\n\nand then the test itself failed:\n" + str(
                    report.longrepr
                )
            report.outcome = "failed"
            report.longrepr = errors
    if not report.failed:
        return
    if network is not None:
        text = _section(network, call.when, "")
        shared = item.stash.get(_SHARED_BY, None)
        if shared is None:
            text += f"\nreplay: {replay_command(item.nodeid, network.seed)}"
        else:
            text += (
                f"\nreplay: the same pytest command with "
                f"--memory-seed={network.seed} (this network is shared by "
                f"the tests of the {shared}: this test alone may not replay)"
            )
        report.sections.append(("memory network", text))
        if hasattr(item, "callspec") and "memory_network" in item.callspec.params:
            record_failure(item.config, item.nodeid, network.seed)
    funcargs: dict[str, Any] = getattr(item, "funcargs", {})
    for name in _SHARED:
        shared = funcargs.get(name)
        if shared is not None:
            heading = f"shared by {name}: "
            report.sections.append(
                ("memory network", _section(shared, call.when, heading))
            )
