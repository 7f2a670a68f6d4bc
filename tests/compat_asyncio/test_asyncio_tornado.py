"""tornado (its IOLoop on asyncio), server and clients, on the compat loop.

tornado makes its own sockets (``tornado.netutil.bind_sockets``,
``TCPClient``) and wraps them with ``SSLContext.wrap_socket`` itself: the
loop covers both, with or without :func:`sockspec.compat.patch`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Any

import pytest
from _asyncio_helpers import tls_contexts

from sockspec import compat
from sockspec.backends.memory import Network

pytest.importorskip("tornado")
import tornado.httpclient
import tornado.httpserver
import tornado.netutil
import tornado.tcpclient
import tornado.web
import tornado.websocket


class _Hello(tornado.web.RequestHandler):
    def get(self) -> None:
        self.write({"path": self.request.path})


class _Chunks(tornado.web.RequestHandler):
    async def get(self) -> None:
        for i in range(3):
            self.write(f"{i}" * 10_000)
            await self.flush()  # no Content-Length: chunked transfer


class _Slow(tornado.web.RequestHandler):
    async def get(self) -> None:
        await asyncio.sleep(60)
        self.write("late")


class _Shout(tornado.websocket.WebSocketHandler):
    def on_message(self, message: Any) -> None:
        self.write_message(message.upper())


def _app() -> Any:
    return tornado.web.Application(
        [("/hello", _Hello), ("/chunks", _Chunks), ("/slow", _Slow), ("/ws", _Shout)]
    )


def test_server_and_clients_with_faults(net: Network) -> None:
    async def main() -> list[Any]:
        loop = asyncio.get_running_loop()
        server = _app().listen(8888, address="127.0.0.1")
        client = tornado.httpclient.AsyncHTTPClient()
        out: list[Any] = []
        try:
            response = await client.fetch("http://localhost:8888/hello")
            out.append(response.body)
            response = await client.fetch("http://localhost:8888/chunks")
            out.append((len(response.body), response.headers["Transfer-Encoding"]))
            started = loop.time()
            with pytest.raises(tornado.httpclient.HTTPClientError) as late:
                await client.fetch("http://localhost:8888/slow", request_timeout=30)
            out.append((late.value.code, round(loop.time() - started)))
            with pytest.raises(ConnectionRefusedError):
                await client.fetch("http://localhost:9/")
            ws = await tornado.websocket.websocket_connect("ws://localhost:8888/ws")
            await ws.write_message("hi")
            out.append(await ws.read_message())
            ws.close()
            stream = await tornado.tcpclient.TCPClient().connect("localhost", 8888)
            await stream.write(b"GET /hello HTTP/1.0\r\n\r\n")
            out.append((await stream.read_until_close()).split(b"\r\n")[0])
        finally:
            client.close()
            server.stop()
        return out

    got = compat.run(main(), backend=net)
    assert got == [
        b'{"path": "/hello"}',
        (30_000, "chunked"),
        (599, 30),
        "HI",
        b"HTTP/1.1 200 OK",
    ]


@pytest.mark.parametrize("patched", [False, True])
def test_https_server_and_client(net: Network, patched: bool) -> None:
    server_ctx, client_ctx = tls_contexts()

    async def main() -> list[Any]:
        server = _app().listen(8443, address="127.0.0.1", ssl_options=server_ctx)
        client = tornado.httpclient.AsyncHTTPClient()
        try:
            response = await client.fetch(
                "https://localhost:8443/hello", ssl_options=client_ctx
            )
            with pytest.raises(ssl.SSLCertVerificationError):
                await client.fetch("https://localhost:8443/hello")  # default CAs
        finally:
            client.close()
            server.stop()
        return [response.body]

    with compat.patch(net) if patched else contextlib.nullcontext():
        assert compat.run(main(), backend=net) == [b'{"path": "/hello"}']
