"""The ``--sockspec-compat`` pytest option: a whole suite on a chosen backend.

Loaded by sockspec's pytest plugin (through its ``pytest_plugins`` list); it
does nothing unless the option is given.

``pytest --sockspec-compat NAME`` runs every test with the standard
``socket``, ``select`` and ``selectors`` modules patched onto backend
``NAME`` (:func:`sockspec.compat.patch`), so a project's unmodified tests
can be tried on the simulated network in one command:

* ``--sockspec-compat memory``: the whole session runs on one memory
  network, as it would on the machine's one loopback (seeded by
  ``--memory-seed`` when given; a failing test's report names the seed, as
  with the ``memory_network`` fixture);
* any other name (``stdlib``, ``selectors``, a third-party backend): the
  session runs patched onto it.

``--sockspec-compat-scope`` (``session``, the default; ``module``;
``function``) says how long one patch, and one memory network, lasts.

The patch is an autouse fixture of that scope.  Pytest sets up autouse
fixtures before the other fixtures of the same scope, so with ``session``
every fixture and every test runs patched: a server that a session- or
module-scoped fixture starts lives on the same network as the clients the
tests make, and a client pool kept by such a fixture stays usable from one
test to the next (a fresh network per test would have closed its
connections).  With a narrower scope, fixtures of a wider one are set up
before the patch and keep real sockets, which the patched tests cannot
reach.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .backends.memory import Network

__all__ = ["pytest_addoption", "pytest_configure"]

_OPTION = "sockspec_compat"
_SCOPE = "sockspec_compat_scope"
_SCOPES = ("session", "module", "function")


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--sockspec-compat``."""
    group = parser.getgroup("sockspec")
    group.addoption(
        "--sockspec-compat",
        dest=_OPTION,
        metavar="NAME",
        default=None,
        help=(
            "run every test with the standard socket, select and selectors "
            "modules patched onto backend NAME (memory: one network for the "
            "session, see --sockspec-compat-scope)"
        ),
    )
    group.addoption(
        "--sockspec-compat-scope",
        dest=_SCOPE,
        choices=_SCOPES,
        default="session",
        help=(
            "how long one --sockspec-compat patch and its memory network last "
            "(default: session; function gives each test a fresh network, "
            "but session- and module-scoped fixtures then keep real sockets)"
        ),
    )


def _patch_scope(fixture_name: str, config: pytest.Config) -> Any:
    """The patch fixture's scope: ``--sockspec-compat-scope``."""
    return config.getoption(_SCOPE, default="session")


#: The memory network of the patch in force (a list: nothing, or one).
_CURRENT: pytest.StashKey[list[Network]] = pytest.StashKey()


class _PatchEveryTest:
    """The autouse fixture and its hook, registered only with the option.

    Registered as the class itself (its functions take no ``self``): pytest
    deprecates plugin fixtures of a wide scope that are bound methods.
    """

    @pytest.fixture(autouse=True, scope=_patch_scope)
    def _sockspec_compat(request: pytest.FixtureRequest) -> Iterator[Any]:
        from .compat import patch

        config = request.config
        name = config.getoption(_OPTION)
        if name != "memory":
            with patch(name):
                yield None
            return
        from .backends.memory import Network

        seed = config.getoption("memory_seed", None)
        network = Network() if seed is None else Network(seed=seed)
        current = config.stash[_CURRENT]
        current.append(network)
        try:
            with patch(network):
                yield network
        finally:
            current.remove(network)
            network.close()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:  # type: ignore[misc]
        """Name the network in the report of a test that fails on it."""
        yield
        current = item.config.stash[_CURRENT]
        if current:
            from .pytest_plugin import remember_network

            scope = item.config.getoption(_SCOPE)
            shared = None if scope == "function" else scope
            remember_network(item, current[-1], shared)


def pytest_configure(config: pytest.Config) -> None:
    """Check the backend name and install the per-test patch."""
    name = config.getoption(_OPTION, default=None)
    if not name:
        return
    from ._registry import UnknownBackend, get_backend

    try:
        get_backend(name)
    except (UnknownBackend, ValueError) as exc:
        raise pytest.UsageError(f"--sockspec-compat {name}: {exc}") from None
    config.stash[_CURRENT] = []
    config.pluginmanager.register(_PatchEveryTest, "sockspec-compat-patch")
