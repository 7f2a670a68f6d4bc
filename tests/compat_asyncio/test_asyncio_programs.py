"""Unmodified asyncio programs on every backend: streams, datagrams, sock_*, load.

Each program is plain asyncio; only the loop comes from
``sockspec.compat.new_event_loop``.  They run on the memory network (with a
fresh seeded network) and on the ``stdlib`` and ``selectors`` backends over
the real loopback.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
from _asyncio_helpers import need_descriptors

from sockspec import compat
from sockspec.backends.memory import Network


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def _round_trips(reader: Any, writer: Any, count: int, size: int) -> int:
    total = 0
    for i in range(count):
        payload = bytes([i % 256]) * size
        writer.write(payload)
        await writer.drain()
        total += len(await reader.readexactly(size))
    writer.close()
    await writer.wait_closed()
    return total


def test_streams_echo_tcp(loop_backend: Any) -> None:
    async def main() -> int:
        server = await asyncio.start_server(_echo, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await asyncio.open_connection("localhost", port)
            # 100 KB messages: more than a socket buffer, so drain() waits.
            return await _round_trips(reader, writer, 5, 100_000)

    assert compat.run(main(), backend=loop_backend) == 500_000


def test_streams_echo_unix(loop_backend: Any, tmp_path: Path) -> None:
    path = str(tmp_path / "echo.sock")

    async def main() -> int:
        server = await asyncio.start_unix_server(_echo, path)
        async with server:
            reader, writer = await asyncio.open_unix_connection(path)
            return await _round_trips(reader, writer, 10, 1000)

    assert compat.run(main(), backend=loop_backend) == 10_000


class _EchoDatagram(asyncio.DatagramProtocol):
    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.transport.sendto(data.upper(), addr)


class _Collect(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, Any]] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.queue.put_nowait((data, addr))


def test_datagram_endpoints_both_ways(loop_backend: Any) -> None:
    async def main() -> list[bytes]:
        loop = asyncio.get_running_loop()
        server, _ = await loop.create_datagram_endpoint(
            _EchoDatagram, local_addr=("127.0.0.1", 0)
        )
        address = server.get_extra_info("sockname")
        # A connected endpoint (remote_addr) and an unconnected one (sendto).
        connected, collect = await loop.create_datagram_endpoint(
            _Collect, remote_addr=address
        )
        unconnected, collect2 = await loop.create_datagram_endpoint(
            _Collect, local_addr=("127.0.0.1", 0)
        )
        connected.sendto(b"one")
        unconnected.sendto(b"two", address)
        one, _ = await asyncio.wait_for(collect.queue.get(), 10)
        two, peer = await asyncio.wait_for(collect2.queue.get(), 10)
        assert peer == address
        got = [one, two]
        for transport in (server, connected, unconnected):
            transport.close()
        return got

    assert compat.run(main(), backend=loop_backend) == [b"ONE", b"TWO"]


def test_loop_sock_functions(loop_backend: Any) -> None:
    async def main() -> tuple[bytes, bytes, bytes]:
        loop = asyncio.get_running_loop()
        backend = loop.sockspec_backend  # type: ignore[attr-defined]
        listener = compat.socket(backend=backend)
        listener.setblocking(False)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client = compat.socket(backend=backend)
        client.setblocking(False)
        accept = asyncio.ensure_future(loop.sock_accept(listener))
        await loop.sock_connect(client, listener.getsockname())
        conn, _ = await accept
        conn.setblocking(False)
        await loop.sock_sendall(client, b"hello" * 1000)
        first = await loop.sock_recv(conn, 5)
        buffer = bytearray(4995)
        view = memoryview(buffer)
        while view:
            n = await loop.sock_recv_into(conn, view)
            view = view[n:]
        udp_a = compat.socket(socket.AF_INET, socket.SOCK_DGRAM, backend=backend)
        udp_b = compat.socket(socket.AF_INET, socket.SOCK_DGRAM, backend=backend)
        udp_a.setblocking(False)
        udp_b.setblocking(False)
        udp_a.bind(("127.0.0.1", 0))
        udp_b.bind(("127.0.0.1", 0))
        datagram = b""
        if sys.version_info >= (3, 11):
            await loop.sock_sendto(udp_a, b"datagram", udp_b.getsockname())
            datagram, addr = await loop.sock_recvfrom(udp_b, 100)
            assert addr == udp_a.getsockname()
        for sock in (listener, client, conn, udp_a, udp_b):
            sock.close()
        return first, bytes(buffer[:10]), datagram

    first, rest, datagram = compat.run(main(), backend=loop_backend)
    assert (first, rest) == (b"hello", b"hellohello")
    assert datagram in (b"", b"datagram")


async def _many_connections(count: int) -> int:
    """*count* clients at once, each one line through an echo server."""
    server = await asyncio.start_server(_echo, "127.0.0.1", 0, backlog=count)
    async with server:
        port = server.sockets[0].getsockname()[1]

        async def client(i: int) -> int:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"%d\n" % i)
            await writer.drain()
            line = await reader.readline()
            writer.close()
            await writer.wait_closed()
            return int(line)

        results = await asyncio.gather(*(client(i) for i in range(count)))
    return sum(results)


def test_start_server_with_1000_concurrent_connections(loop_backend: Any) -> None:
    count = 1000
    # Two descriptors per connection on memory, four on the OS backends.
    need_descriptors((3 if isinstance(loop_backend, Network) else 5) * count)
    total = compat.run(_many_connections(count), backend=loop_backend)
    assert total == count * (count - 1) // 2


@pytest.mark.slow
def test_start_server_with_6000_concurrent_connections_on_memory(net: Any) -> None:
    # Memory only, and not 10,000: each compat socket holds a descriptor, and
    # 20,000 of them exceed this machine's limit (asyncio's accept then backs
    # off, as it does in a real process out of descriptors).
    count = 6000
    need_descriptors(15_000)
    assert compat.run(_many_connections(count), backend=net) == count * (count - 1) // 2
