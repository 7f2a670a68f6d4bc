"""Shared fixtures: descriptor-leak accounting for every test."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator

import pytest


def open_fds() -> int:
    """Number of file descriptors this process holds."""
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def no_fd_leak() -> Iterator[None]:
    """Fail the test if it ends with more descriptors than it started with."""
    gc.collect()
    before = open_fds()
    yield
    gc.collect()
    after = open_fds()
    assert after <= before, f"file descriptors leaked: {before} -> {after}"
