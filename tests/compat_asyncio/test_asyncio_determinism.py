"""Same seed, same run: event log and callback order of an asyncio program."""

from __future__ import annotations

import asyncio
from typing import Any

from sockspec import compat
from sockspec.backends.memory import Latency, Loss, Network, Uniform


def _scenario(seed: int) -> tuple[list[Any], list[tuple[str, float]]]:
    """20 clients against one server, with random latency: what happened, in order."""
    net = Network(seed=seed)
    order: list[tuple[str, float]] = []

    async def handle(reader: asyncio.StreamReader, writer: Any) -> None:
        loop = asyncio.get_running_loop()
        while line := await reader.readline():
            order.append((f"server got {line.decode().strip()}", loop.time()))
            writer.write(line.upper())
            await writer.drain()
        writer.close()

    async def client(i: int, port: int) -> None:
        loop = asyncio.get_running_loop()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        order.append((f"client {i} connected", loop.time()))
        for n in range(3):
            writer.write(b"c%d-%d\n" % (i, n))
            await writer.drain()
            order.append(
                (f"client {i} read {(await reader.readline()).strip()!r}", loop.time())
            )
        writer.close()
        await writer.wait_closed()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        net.add_rule(Latency(Uniform(0.001, 0.05)))
        net.add_rule(Loss(0.1))  # datagrams only: nothing here, but drawn
        async with server:
            await asyncio.gather(*(client(i, port) for i in range(20)))

    with net:
        compat.run(main(), backend=net)
        events = [(e.time, e.kind, e.src, e.dst, e.nbytes) for e in net.events()]
    return events, order


def test_same_seed_same_event_log_and_callback_order(no_fd_leak: None) -> None:
    first = _scenario(11)
    second = _scenario(11)
    assert len(first[1]) == 20 + 20 * 3 * 2
    assert first == second
    # The seed matters: another one draws other delays, so another order.
    assert _scenario(12)[1] != first[1]
