"""The ``--sockspec-compat`` pytest option: a whole suite on a chosen backend.

Loaded by sockspec's pytest plugin (through its ``pytest_plugins`` list); it
does nothing unless the option is given.

``pytest --sockspec-compat NAME`` runs every test with the standard
``socket``, ``select`` and ``selectors`` modules patched onto backend
``NAME`` (:func:`sockspec.compat.patch`), so a project's unmodified tests
can be tried on the simulated network in one command:

* ``--sockspec-compat memory``: each test gets a fresh memory network
  (seeded by ``--memory-seed`` when given; a failing test's report names the
  seed, as with the ``memory_network`` fixture);
* any other name (``stdlib``, ``selectors``, a third-party backend): each
  test runs patched onto it.

The patch is a function-scoped autouse fixture, so it starts before the
test's other function-scoped fixtures; session- and module-scoped fixtures
made earlier keep real sockets.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

__all__ = ["pytest_addoption", "pytest_configure"]

_OPTION = "sockspec_compat"


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
            "modules patched onto backend NAME (memory: a fresh network per test)"
        ),
    )


class _PatchEveryTest:
    """The autouse fixture, registered only when the option is given."""

    def __init__(self, name: str) -> None:
        self.name = name

    @pytest.fixture(autouse=True)
    def _sockspec_compat(self, request: pytest.FixtureRequest) -> Iterator[Any]:
        from .compat import patch

        if self.name != "memory":
            with patch(self.name):
                yield None
            return
        from .backends.memory import Network
        from .pytest_plugin import remember_network

        seed = request.config.getoption("memory_seed", None)
        network = Network() if seed is None else Network(seed=seed)
        remember_network(request.node, network)
        try:
            with patch(network):
                yield network
        finally:
            network.close()


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
    config.pluginmanager.register(_PatchEveryTest(name), "sockspec-compat-patch")
