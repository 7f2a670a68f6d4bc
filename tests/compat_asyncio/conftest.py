"""Fixtures for the asyncio tests: a compat event loop on each backend."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sockspec.backends.memory import Network


@pytest.fixture
def loop_backend(backend: str, no_fd_leak: None) -> Iterator[Any]:
    """What to hand ``new_event_loop``: a fresh memory Network or a backend name."""
    if backend == "memory":
        with Network(seed=7) as net:
            yield net
    else:
        yield backend


@pytest.fixture
def net(no_fd_leak: None) -> Iterator[Network]:
    """A fresh memory network (for the virtual-time and fault tests)."""
    with Network(seed=7) as network:
        yield network
