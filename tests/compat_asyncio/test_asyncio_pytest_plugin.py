"""The asyncio_network fixture and marker, alone and beside other async plugins."""

from __future__ import annotations

import importlib.util

import pytest

pytest_plugins = ["pytester"]

SUITE = """
import asyncio
import socket

import pytest


async def test_fixture_alone(asyncio_network):
    loop = asyncio.get_running_loop()
    await asyncio.sleep(3600)
    assert loop.time() == pytest.approx(3600) == asyncio_network.now


@pytest.mark.asyncio_network
async def test_marker_alone():
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 80)
    reader, writer = await asyncio.open_connection("localhost", 80)
    assert await reader.read() == b""
    writer.close()
    server.close()


@pytest.mark.memory_network(seed=42)
async def test_seed_from_the_memory_network_marker(asyncio_network):
    assert asyncio_network.seed == 42


@pytest.mark.asyncio_network(patch=True)
async def test_patch_option(asyncio_network):
    sock = socket.socket()
    assert type(sock).__module__ == "sockspec.compat._socket"
    sock.close()


@pytest.mark.asyncio_network(clock=True)
async def test_clock_option(asyncio_network):
    import time

    started, wall = time.monotonic(), time.time()
    await asyncio.sleep(60)  # e.g. a library's deadline set by time.time()
    assert time.monotonic() - started == pytest.approx(60)
    assert time.time() - wall == pytest.approx(60)
    with socket.socket() as sock:  # clock=True patches the modules too
        assert type(sock).__module__ == "sockspec.compat._socket"


def test_sync_test_gets_the_network(asyncio_network):
    assert asyncio_network.now == 0


async def test_failure_names_the_seed(asyncio_network):
    await asyncio.sleep(5)
    assert False
"""


def test_fixture_and_marker_run_async_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_inprocess("-p", "no:asyncio", "-p", "no:anyio")
    result.assert_outcomes(passed=6, failed=1)
    result.stdout.fnmatch_lines(["*seed *; replay with --memory-seed=*"])


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_beside_pytest_asyncio_and_anyio(pytester: pytest.Pytester, mode: str) -> None:
    if importlib.util.find_spec("pytest_asyncio") is None:
        pytest.skip("pytest-asyncio is not installed")
    pytest.importorskip("anyio")
    pytester.makepyfile(
        test_suite=SUITE,
        test_others="""
import asyncio
import socket

import anyio
import pytest


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_anyio_still_runs_its_tests():
    await anyio.sleep(0)


@pytest.mark.asyncio
async def test_pytest_asyncio_still_runs_its_tests():
    loop = asyncio.get_running_loop()
    assert type(loop).__module__.startswith("asyncio")
    assert asyncio.base_events.socket is socket
""",
    )
    result = pytester.runpytest_inprocess(
        "-p",
        "asyncio",
        "-p",
        "anyio",
        "-o",
        f"asyncio_mode={mode}",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
    )
    result.assert_outcomes(passed=8, failed=1)
