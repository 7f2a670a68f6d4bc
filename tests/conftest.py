"""Shared fixtures: descriptor-leak accounting for every test."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator

import pytest

import sockspec
from _fds import open_fds

# Tests that run pytest on a small suite of their own do it in a fresh
# interpreter through pytester (runpytest_subprocess), so the plugins load
# from their entry points as they would for a user.
pytest_plugins = ["pytester"]


@pytest.fixture
def no_fd_leak() -> Iterator[None]:
    """Fail the test if it ends with more descriptors than it started with."""
    gc.collect()
    before = open_fds()
    yield
    gc.collect()
    after = open_fds()
    assert after <= before, f"file descriptors leaked: {before} -> {after}"


@pytest.fixture
def app_pytester(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    """pytester for an application's suite, with no SOCKSPEC_* settings leaking in."""
    for name in list(os.environ):
        if name.startswith("SOCKSPEC_"):
            monkeypatch.delenv(name)
    return pytester


#: The built-in backends, for tests that run on each of them.
BUILTIN_BACKENDS = ["stdlib", "selectors", "memory"]


@pytest.fixture(params=BUILTIN_BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each built-in backend's name; memory runs on a fresh seeded network.

    A test module's own ``backend`` fixture or parametrisation overrides it.
    """
    name: str = request.param
    if name != "memory":
        yield name
        return
    from sockspec.backends.memory import Network

    network = Network(seed=7)
    with sockspec.use_backend(network), network:
        yield name
