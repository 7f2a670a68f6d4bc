"""anyio's asyncio backend, unmodified, on the compat loop (no patch)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from _asyncio_helpers import tls_contexts

from sockspec import compat
from sockspec.backends.memory import Network

anyio = pytest.importorskip("anyio")


async def _upper(stream: Any) -> None:
    async with stream:
        try:
            async for chunk in stream:
                await stream.send(chunk.upper())
        except anyio.BrokenResourceError:
            pass


def test_listener_connect_tls_and_udp(loop_backend: Any) -> None:
    """create_tcp_listener makes its own socket; TLS through anyio's TLSStream."""
    from anyio.streams.tls import TLSListener

    server_ctx, client_ctx = tls_contexts()

    async def main() -> list[Any]:
        out: list[Any] = []
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        inner = await anyio.create_tcp_listener(local_host="127.0.0.1")
        tls_port = inner.extra(anyio.abc.SocketAttribute.local_port)
        tls = TLSListener(inner, server_ctx)
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, _upper)
            tg.start_soon(tls.serve, _upper)
            async with await anyio.connect_tcp("localhost", port) as plain:
                await plain.send(b"hello")
                out.append(await plain.receive())
            async with await anyio.connect_tcp(
                "localhost", tls_port, ssl_context=client_ctx
            ) as secret:
                await secret.send(b"secret")
                out.append(await secret.receive())
            async with (
                await anyio.create_udp_socket(local_host="127.0.0.1") as server,
                await anyio.create_connected_udp_socket(
                    "127.0.0.1", server.extra(anyio.abc.SocketAttribute.local_port)
                ) as client,
            ):
                await client.send(b"datagram")
                out.append((await server.receive())[0])
            tg.cancel_scope.cancel()
        await listener.aclose()
        await tls.aclose()
        return out

    assert compat.run(main(), backend=loop_backend) == [
        b"HELLO",
        b"SECRET",
        b"datagram",
    ]


def test_timeouts_and_refusals_in_virtual_time(net: Network) -> None:
    async def main() -> list[Any]:
        loop = asyncio.get_running_loop()
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        out: list[Any] = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, lambda stream: anyio.sleep(3600))
            started = loop.time()
            async with await anyio.connect_tcp("localhost", port) as silent:
                with pytest.raises(TimeoutError), anyio.fail_after(30):
                    await silent.receive()
            out.append(loop.time() - started)
            with pytest.raises(OSError, match="connection attempts") as refused:
                await anyio.connect_tcp("127.0.0.1", 9)
            # anyio chains what its one attempt raised
            out.append(type(refused.value.__cause__).__name__)
            tg.cancel_scope.cancel()
        await listener.aclose()
        return out

    assert compat.run(main(), backend=net) == [
        pytest.approx(30),
        "ConnectionRefusedError",
    ]
