"""websockets, server and client, unmodified on the compat loop and under a patch."""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

import pytest
from _asyncio_helpers import tls_contexts

from sockspec import compat
from sockspec.backends.memory import Latency, Network

websockets = pytest.importorskip("websockets")
pytest.importorskip("websockets.asyncio.server")
from websockets.asyncio.client import connect  # noqa: E402
from websockets.asyncio.server import serve  # noqa: E402


async def _echo(ws: Any) -> None:
    try:
        async for message in ws:
            await ws.send(message)
    except websockets.ConnectionClosed:
        pass


def test_echo_large_messages_and_tls(loop_backend: Any) -> None:
    server_ctx, client_ctx = tls_contexts()
    blob = os.urandom(300_000)  # random: permessage-deflate cannot shrink it

    async def main() -> list[Any]:
        out: list[Any] = []
        async with serve(_echo, "127.0.0.1", 0) as plain:
            port = plain.sockets[0].getsockname()[1]
            async with connect(f"ws://localhost:{port}") as ws:
                await ws.send("hi")
                out.append(await ws.recv())
                await ws.send(blob)
                out.append(await ws.recv() == blob)
        async with serve(_echo, "127.0.0.1", 0, ssl=server_ctx) as secure:
            port = secure.sockets[0].getsockname()[1]
            async with connect(f"wss://localhost:{port}", ssl=client_ctx) as ws:
                await ws.send("secret")
                out.append(await ws.recv())
        return out

    assert compat.run(main(), backend=loop_backend) == ["hi", True, "secret"]


def test_keepalive_detects_a_partition_in_virtual_time(net: Network) -> None:
    """The server on its own host; pings time out after ping_interval+timeout."""
    api = net.add_host("api")
    state: dict[str, Any] = {}
    up = threading.Event()

    async def server() -> None:
        async with serve(_echo, "0.0.0.0", 80):
            state["loop"], state["stop"] = asyncio.get_running_loop(), asyncio.Event()
            up.set()
            await state["stop"].wait()

    thread = threading.Thread(
        target=compat.run, args=(server(),), kwargs={"backend": api}
    )
    thread.start()

    async def main() -> list[Any]:
        loop = asyncio.get_running_loop()
        out: list[Any] = []
        async with connect("ws://api", ping_interval=20, ping_timeout=20) as ws:
            net.add_rule(Latency(0.05))
            started = loop.time()
            await ws.send("a")
            await ws.recv()
            out.append(round(loop.time() - started, 3))
            await asyncio.sleep(100)  # pings answered: still open
            cut = net.partition("local", "api")
            started = loop.time()
            with pytest.raises(websockets.ConnectionClosedError) as closed:
                await ws.recv()
            out.append(closed.value.rcvd is None)
            # The next ping goes out within 20 s; 20 s without a pong; then
            # the closing handshake waits close_timeout (10 s) in vain.
            out.append(30 < loop.time() - started <= 50.2)
            net.remove_rule(cut)
        return out

    try:
        assert up.wait(10)
        assert compat.run(main(), backend=net) == [0.1, True, True]
    finally:
        state["loop"].call_soon_threadsafe(state["stop"].set)
        thread.join(10)


def test_sync_client_and_server_under_a_patch(net: Network) -> None:
    from websockets.sync.client import connect as sync_connect
    from websockets.sync.server import serve as sync_serve

    def echo(ws: Any) -> None:
        for message in ws:
            ws.send(message)

    with compat.patch(net):
        server = sync_serve(echo, "127.0.0.1", 8800)
        thread = threading.Thread(target=server.serve_forever)
        thread.start()
        try:
            with sync_connect("ws://localhost:8800", open_timeout=10) as ws:
                ws.send("sync")
                got = ws.recv(timeout=10)
        finally:
            server.shutdown()
            thread.join(10)
            # websockets 16 (the last for Python 3.10) never closes its
            # self-pipe, whatever the sockets; 17 makes it a closed socketpair.
            for end in (server.shutdown_watcher, server.shutdown_notifier):
                if isinstance(end, int):
                    os.close(end)
    assert got == "sync"
