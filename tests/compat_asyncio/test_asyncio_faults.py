"""Faults of the memory network seen by unmodified asyncio code, in virtual time."""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from typing import Any

import pytest

from sockspec import compat
from sockspec.backends.memory import Latency, Loss, Network, Reset


class _HostServer:
    """An asyncio server on its own memory host, run by a loop in a thread.

    A loop waits on one backend, so a server on another host (where faults
    can cut the path to it) gets a loop of its own.
    """

    def __init__(self, host: Any, handler: Any) -> None:
        self.handler = handler
        self.ready: queue.Queue[tuple[asyncio.AbstractEventLoop, Any, int]]
        self.ready = queue.Queue()
        self.thread = threading.Thread(
            target=compat.run, args=(self.main(),), kwargs={"backend": host}
        )

    async def main(self) -> None:
        server = await asyncio.start_server(self.handler, "0.0.0.0", 0)
        stop = asyncio.get_running_loop().create_future()
        self.ready.put(
            (asyncio.get_running_loop(), stop, server.sockets[0].getsockname()[1])
        )
        async with server:
            await stop

    def __enter__(self) -> int:
        self.thread.start()
        self.loop, self.stop, port = self.ready.get(timeout=10)
        return port

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.stop.set_result, None)
        self.thread.join(10)
        assert not self.thread.is_alive()


async def _answer(reader: asyncio.StreamReader, writer: Any) -> None:
    """One line in, 20,000 bytes out, per request, until the client leaves."""
    try:
        while await reader.readline():
            writer.write(b"x" * 20_000)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def _local_server() -> tuple[Any, int]:
    server = await asyncio.start_server(_answer, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_partition_fires_a_30_second_wait_for_in_virtual_time(net: Network) -> None:
    api = net.add_host("api", "10.0.0.80")

    async def client(port: int) -> float:
        reader, writer = await asyncio.open_connection("api", port)
        writer.write(b"get\n")
        assert len(await reader.readexactly(20_000)) == 20_000
        cut = net.partition("local", "api")
        loop = asyncio.get_running_loop()
        started = loop.time()
        writer.write(b"get\n")
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(reader.readexactly(20_000), 30)
        elapsed = loop.time() - started
        net.remove_rule(cut)
        writer.close()
        await writer.wait_closed()
        return elapsed

    wall = time.monotonic()
    with _HostServer(api, _answer) as port:
        assert compat.run(client(port), backend=net) == pytest.approx(30)
    assert time.monotonic() - wall < 5


def test_reset_mid_stream_reaches_the_reader(net: Network) -> None:
    async def main() -> None:
        server, port = await _local_server()
        async with server:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            # Resets the connection once 5,000 bytes of the answer are sent.
            net.add_rule(
                Reset(after_bytes=5000, port=writer.get_extra_info("sockname")[1])
            )
            writer.write(b"get\n")
            with pytest.raises(ConnectionResetError):
                await reader.readexactly(20_000)
            writer.close()

    compat.run(main(), backend=net)


def test_latency_shows_as_virtual_elapsed_time(net: Network) -> None:
    async def main() -> float:
        server, port = await _local_server()
        async with server:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            net.add_rule(Latency(0.25))  # each way
            loop = asyncio.get_running_loop()
            started = loop.time()
            for _ in range(4):
                writer.write(b"get\n")
                await reader.readexactly(20_000)
            elapsed = loop.time() - started
            writer.close()
        return elapsed

    # Four round trips of 0.25 s each way.
    assert compat.run(main(), backend=net) == pytest.approx(2.0, abs=0.01)


def test_a_socket_of_another_host_is_refused_with_the_reason(net: Network) -> None:
    api = net.add_host("api", "10.0.0.80")
    other = compat.socket(backend=api)
    other.setblocking(False)

    async def main() -> None:
        with pytest.raises(ValueError, match="a loop waits on one backend"):
            await asyncio.get_running_loop().sock_recv(other, 10)

    try:
        compat.run(main(), backend=net)
    finally:
        other.close()


class _Count(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: list[bytes] = []

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.received.append(data)


def _lossy_run(seed: int) -> list[bytes]:
    net = Network(seed=seed)
    net.add_rule(Loss(0.3))

    async def main() -> list[bytes]:
        loop = asyncio.get_running_loop()
        receiver, counter = await loop.create_datagram_endpoint(
            _Count, local_addr=("127.0.0.1", 0)
        )
        sender, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=receiver.get_extra_info("sockname")
        )
        for i in range(200):
            sender.sendto(b"%d" % i)
            await asyncio.sleep(0.01)
        await asyncio.sleep(1)
        sender.close()
        receiver.close()
        return counter.received

    with net:
        return compat.run(main(), backend=net)


def test_loss_on_datagrams_is_seeded(no_fd_leak: None) -> None:
    got = _lossy_run(3)
    assert 100 < len(got) < 180  # about 70% of 200 arrive
    assert got == _lossy_run(3)
