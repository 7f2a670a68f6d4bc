"""Fixtures for the compat tests: the standard modules patched onto each backend."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

import sockspec
from sockspec import compat


@pytest.fixture
def patched(backend: str) -> Iterator[Any]:
    """The standard modules on *backend*; yields the memory Network or ``None``.

    The shared ``backend`` fixture has already installed a fresh network for
    ``memory``; ``patch()`` without an argument takes the current default.
    Descriptor leaks are counted by the tests that ask for ``no_fd_leak``
    (its garbage collection costs a tenth of a second per test).
    """
    with compat.patch():
        net = None
        if backend == "memory":
            import sockspec

            net = sockspec.get_backend().resolve()
        yield net


@pytest.fixture
def server_side(patched: Any) -> Iterator[tuple[Any, str]]:
    """Where a test's server runs: ``(patch for the server, host to dial)``.

    On the memory network the server lives on its own host ``api`` (so that
    faults can cut the path between client and server); on the OS backends
    it is loopback.
    """
    if patched is None:
        yield contextlib.nullcontext, "127.0.0.1"
        return
    api = patched.add_host("api")
    yield (lambda: compat.patch(api)), "api"


@pytest.fixture(params=["real", "stdlib", "selectors", "memory"])
def where(request: pytest.FixtureRequest) -> Iterator[str]:
    """``real`` (no patch), or the standard modules patched onto a backend:
    the tests that take it check that compat behaves as the real modules
    do, on every backend."""
    name: str = request.param
    if name == "real":
        yield name
        return
    if name == "memory":
        from sockspec.backends.memory import Network

        with Network(seed=7) as net, sockspec.use_backend(net), compat.patch():
            yield name
        return
    with compat.patch(name):
        yield name
