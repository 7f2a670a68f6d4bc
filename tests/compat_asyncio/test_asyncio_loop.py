"""The compat event loop: virtual time, deadlocks, threads, signals, run()."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
import time

import pytest

from sockspec import compat
from sockspec.backends.memory import Deadlock, Network
from sockspec.compat._asyncio import EventLoop


class _SilentPeer:
    """A server that accepts and never writes, and a client connected to it."""

    async def __aenter__(self) -> asyncio.StreamReader:
        # The server keeps its writers: since Python 3.13 a collected
        # StreamWriter closes its connection.
        self.kept: list[asyncio.StreamWriter] = []
        self.server = await asyncio.start_server(
            lambda r, w: self.kept.append(w), "127.0.0.1", 0
        )
        port = self.server.sockets[0].getsockname()[1]
        reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        return reader

    async def __aexit__(self, *exc: object) -> None:
        for writer in [self.writer, *self.kept]:
            writer.close()
        self.server.close()
        await self.server.wait_closed()


def test_is_a_selector_event_loop_with_a_compat_selector(net: Network) -> None:
    loop = compat.new_event_loop(net)
    try:
        assert isinstance(loop, asyncio.SelectorEventLoop)
        assert isinstance(loop, EventLoop)
        assert isinstance(loop._selector, compat.SelectSelector)
        # The self-pipe is a socket pair on the network.
        assert isinstance(loop._ssock, compat.socket)
        assert loop._ssock.sockspec_socket.backend == "memory"
        assert loop.sockspec_backend is net
    finally:
        loop.close()


def test_an_hour_of_sleep_costs_no_wall_time(net: Network) -> None:
    async def main() -> float:
        await asyncio.sleep(3600)
        return asyncio.get_running_loop().time()

    wall = time.monotonic()
    assert compat.run(main(), backend=net) == pytest.approx(3600)
    assert net.now == pytest.approx(3600)
    assert time.monotonic() - wall < 2


def test_wait_for_a_silent_peer_times_out_in_virtual_time(net: Network) -> None:
    async def main() -> float:
        async with _SilentPeer() as reader:
            loop = asyncio.get_running_loop()
            started = loop.time()
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(reader.read(), 30)
            return loop.time() - started

    wall = time.monotonic()
    assert compat.run(main(), backend=net) == pytest.approx(30)
    assert time.monotonic() - wall < 2


def test_a_wait_nothing_can_end_is_a_deadlock_naming_the_task(net: Network) -> None:
    async def stuck_here() -> None:
        async with _SilentPeer() as reader:
            await reader.read()

    with pytest.raises(Deadlock) as info:
        compat.run(stuck_here(), backend=net)
    message = str(info.value)
    assert "stuck_here()" in message
    assert "Poller.poll()" in message


def test_loop_time_is_the_network_clock(net: Network) -> None:
    net.advance(5)  # type: ignore[attr-defined]
    loop = compat.new_event_loop(net)
    try:
        assert loop.time() == pytest.approx(net.now)
    finally:
        loop.close()


def test_call_soon_threadsafe_wakes_the_loop(net: Network) -> None:
    async def main() -> str:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        thread = threading.Thread(
            target=loop.call_soon_threadsafe, args=(future.set_result, "woken")
        )
        thread.start()
        result = await asyncio.wait_for(future, 10)
        thread.join(10)
        return result

    assert compat.run(main(), backend=net) == "woken"


def test_run_in_executor_and_its_idle_workers(net: Network) -> None:
    async def main() -> tuple[int, float]:
        loop = asyncio.get_running_loop()
        total = await loop.run_in_executor(None, sum, [1, 2, 3])
        started = loop.time()
        await asyncio.sleep(600)  # an idle worker must not hold the clock back
        return total, loop.time() - started

    wall = time.monotonic()
    assert compat.run(main(), backend=net) == (6, pytest.approx(600))
    assert time.monotonic() - wall < 2


def test_executor_threads_using_the_network_count_as_its_users(net: Network) -> None:
    def blocking_client(port: int) -> bytes:
        with compat.create_connection(
            ("127.0.0.1", port), timeout=30, backend=net
        ) as c:
            return c.recv(10)

    async def main() -> bytes:
        async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await asyncio.sleep(20)  # virtual: the thread waits on the network
            w.write(b"late")
            await w.drain()
            w.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        loop = asyncio.get_running_loop()
        data = await loop.run_in_executor(None, blocking_client, port)
        server.close()
        await server.wait_closed()
        return data

    wall = time.monotonic()
    assert compat.run(main(), backend=net) == b"late"
    assert net.now >= 20
    assert time.monotonic() - wall < 5


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="POSIX signals")
def test_signal_handlers_run_in_the_loop(net: Network) -> None:
    async def main() -> str:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        loop.add_signal_handler(signal.SIGUSR1, future.set_result, "signalled")
        try:
            loop.call_later(5, os.kill, os.getpid(), signal.SIGUSR1)
            return await asyncio.wait_for(future, 60)
        finally:
            loop.remove_signal_handler(signal.SIGUSR1)

    assert compat.run(main(), backend=net) == "signalled"


def test_getaddrinfo_answers_from_the_network(net: Network) -> None:
    net.add_host("db.internal", "10.1.2.3")

    async def main() -> str:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo("db.internal", 5432, type=socket.SOCK_STREAM)
        return str(infos[0][4][0])

    assert compat.run(main(), backend=net) == "10.1.2.3"


def test_run_returns_and_closes_on_every_backend(loop_backend: object) -> None:
    async def main() -> bytes:
        async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            w.write((await r.read(100)).upper())
            await w.drain()
            w.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert isinstance(writer.get_extra_info("socket")._sock, compat.socket)
        writer.write(b"ping")
        data = await reader.read()
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        return data

    assert compat.run(main(), backend=loop_backend) == b"PING"


def test_asyncio_outside_compat_loops_is_untouched(net: Network) -> None:
    import asyncio.base_events

    loop = compat.new_event_loop(net)
    try:
        real = asyncio.new_event_loop()
        try:

            async def make() -> object:
                return asyncio.base_events.socket.socket  # type: ignore[attr-defined]

            assert real.run_until_complete(make()) is socket.socket
        finally:
            real.close()
    finally:
        loop.close()
    assert asyncio.base_events.socket is socket  # type: ignore[attr-defined]


def test_run_refuses_a_running_loop(net: Network) -> None:
    async def inner() -> None:
        pass

    async def outer() -> None:
        coro = inner()
        try:
            with pytest.raises(RuntimeError, match="running event loop"):
                compat.run(coro, backend=net)
        finally:
            coro.close()

    compat.run(outer(), backend=net)


def test_run_with_asyncio_runner_where_it_exists(net: Network) -> None:
    runner_class = getattr(asyncio, "Runner", None)
    if runner_class is None:
        pytest.skip("asyncio.Runner is new in Python 3.11")

    async def main() -> float:
        await asyncio.sleep(10)
        return asyncio.get_running_loop().time()

    with runner_class(loop_factory=lambda: compat.new_event_loop(net)) as runner:
        assert runner.run(main()) == pytest.approx(10)
        assert runner.run(main()) == pytest.approx(20)


@pytest.mark.parametrize("debug", [True, False])
def test_run_passes_debug_on(net: Network, debug: bool) -> None:
    async def main() -> bool:
        return asyncio.get_running_loop().get_debug()

    assert compat.run(main(), backend=net, debug=debug) is debug
