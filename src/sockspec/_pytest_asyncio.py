"""The ``asyncio_network`` fixture and marker: async tests on the memory network.

Loaded by sockspec's pytest plugin (through its ``pytest_plugins`` list).
An ``async def`` test that asks for the ``asyncio_network`` fixture, or
carries ``@pytest.mark.asyncio_network``, runs on a
:func:`sockspec.compat.new_event_loop` over a fresh memory network (the
``memory_network`` fixture's, so ``@pytest.mark.memory_network(seed=...)``
and ``--memory-seed`` apply and a failure report names the seed)::

    async def test_timeout(asyncio_network):
        await asyncio.sleep(3600)  # no wall time

No other async plugin is needed, and none is disturbed: this plugin runs
only the tests that ask for it, before pytest-asyncio or anyio's plugin
would look at them, and leaves every other test to them.
``@pytest.mark.asyncio_network(patch=True)`` also patches the standard
socket modules onto the network (:func:`sockspec.compat.patch`) for code
that makes blocking sockets itself; ``clock=True`` patches them with
``clock=True`` (``time.sleep``, ``time.monotonic`` and ``time.time`` on the
network's clock) for code that sets its deadlines by those clocks.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .backends.memory import Network

__all__ = [
    "asyncio_network",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_pyfunc_call",
]

_FIXTURE = "asyncio_network"


def pytest_configure(config: pytest.Config) -> None:
    """Declare the ``asyncio_network`` marker (``--strict-markers`` safe)."""
    config.addinivalue_line(
        "markers",
        "asyncio_network(patch=False, clock=False): run this async test on a "
        "sockspec.compat event loop over a fresh memory network (patch=True: "
        "also patch the socket modules onto it; clock=True: patch them and put "
        "time.sleep/monotonic/time on the network's clock)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give marked tests the fixture, so that the marker alone is enough."""
    for item in items:
        if item.get_closest_marker(_FIXTURE) is None:
            continue
        names = getattr(item, "fixturenames", None)
        if names is not None and _FIXTURE not in names:
            names.append(_FIXTURE)


@pytest.fixture
def asyncio_network(
    memory_network: Network, request: pytest.FixtureRequest
) -> Iterator[Network]:
    """The memory network an ``async def`` test runs on (see the module doc)."""
    marker = request.node.get_closest_marker(_FIXTURE)
    options: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    patch = bool(options.pop("patch", False))
    clock = bool(options.pop("clock", False))
    if options or (marker is not None and marker.args):
        raise TypeError("the asyncio_network marker takes only patch= and clock=")
    if not (patch or clock):
        yield memory_network
        return
    from .compat import patch as patch_modules

    with patch_modules(memory_network, clock=clock):
        yield memory_network


def _coroutine_function(item: pytest.Function) -> Any:
    """The test's own ``async def``, also when another plugin wrapped it."""
    func = item.obj
    while not inspect.iscoroutinefunction(func):
        inner = getattr(func, "__wrapped__", None)
        if inner is None:
            return None
        func = inner
    return func


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run an async test that asked for ``asyncio_network`` on its loop."""
    if _FIXTURE not in pyfuncitem.fixturenames:
        return None
    func = _coroutine_function(pyfuncitem)
    if func is None:
        return None  # a plain test using the network object
    from .compat import run

    funcargs = pyfuncitem.funcargs
    kwargs = {name: funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    run(func(**kwargs), backend=funcargs[_FIXTURE])
    return True
