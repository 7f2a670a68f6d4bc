"""Misuse of the compat loop gets errors that name the cause; failures free threads."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import pytest

from sockspec import compat
from sockspec.backends.memory import Network


def test_a_closed_loop_says_so(net: Network) -> None:
    loop = compat.new_event_loop(net)
    loop.close()
    loop.close()  # idempotent, as asyncio's
    coro = asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="Event loop is closed"):
        loop.run_until_complete(coro)
    coro.close()
    with pytest.raises(RuntimeError, match="Event loop is closed"):
        loop.call_soon(print)
    assert "closed=True" in repr(loop)


@pytest.mark.parametrize("use", ["sock_recv", "create_connection", "start_server"])
def test_a_real_socket_is_refused_naming_the_cause(net: Network, use: str) -> None:
    real = socket.socket()
    real.setblocking(False)

    async def attempt() -> object:
        loop = asyncio.get_running_loop()
        if use == "sock_recv":
            return await loop.sock_recv(real, 10)
        if use == "create_connection":
            return await loop.create_connection(asyncio.Protocol, sock=real)
        return await asyncio.start_server(lambda r, w: None, sock=real)

    async def main() -> None:
        with pytest.raises(ValueError, match="is a real OS socket"):
            await attempt()

    try:
        compat.run(main(), backend=net)
    finally:
        real.close()


def test_a_real_loops_transport_in_a_compat_loop(net: Network) -> None:
    real_loop = asyncio.new_event_loop()
    try:
        kept: list[Any] = []  # since 3.13 a collected StreamWriter closes

        async def open_real() -> tuple[Any, Any, Any]:
            server = await asyncio.start_server(
                lambda r, w: kept.append(w), "127.0.0.1", 0
            )
            port = server.sockets[0].getsockname()[1]
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            return server, reader, writer

        server, reader, writer = real_loop.run_until_complete(open_real())

        async def use_it() -> None:
            await reader.read(1)

        with pytest.raises(RuntimeError, match="attached to a different loop"):
            compat.run(use_it(), backend=net)
        for w in [writer, *kept]:
            w.close()
        server.close()
        real_loop.run_until_complete(server.wait_closed())
    finally:
        real_loop.close()


def test_a_failing_task_does_not_leave_threads_blocked(net: Network) -> None:
    class Boom(Exception):
        pass

    threads: list[threading.Thread] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        kept: list[Any] = []
        server = await asyncio.start_server(lambda r, w: kept.append(w), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]

        def blocking_client() -> bytes:
            threads.append(threading.current_thread())
            with compat.create_connection(("127.0.0.1", port), backend=net) as c:
                return c.recv(10)  # the server never answers

        loop.run_in_executor(None, blocking_client)
        await asyncio.sleep(1)
        raise Boom("the task failed")

    wall = time.monotonic()
    with pytest.raises(Boom):  # the task's error, not a deadlock or a hang
        compat.run(main(), backend=net)
    assert time.monotonic() - wall < 5
    assert threads
    assert not threads[0].is_alive()


def test_run_rejects_what_is_not_a_coroutine(net: Network) -> None:
    with pytest.raises(ValueError, match="coroutine was expected"):
        compat.run(lambda: None, backend=net)  # type: ignore[arg-type]


def test_unknown_backend_name(no_fd_leak: None) -> None:
    coro = asyncio.sleep(0)
    with pytest.raises(ValueError, match="nosuch"):
        compat.run(coro, backend="nosuch")
    coro.close()
