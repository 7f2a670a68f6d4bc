"""Real async libraries, unmodified, on the compat loop: httpx, redis.asyncio, TLS."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from _asyncio_helpers import tls_contexts

from _fake_redis import redis_answer
from sockspec import compat


async def _http_handler(reader: asyncio.StreamReader, writer: Any) -> None:
    """A small HTTP/1.1 server: keep-alive, Content-Length bodies, JSON echo."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {
                k.strip().lower(): v.strip()
                for k, v in (line.split(":", 1) for line in lines[1:] if line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            if target.startswith("/slow"):
                await asyncio.sleep(float(target.rsplit("/", 1)[1]))
            reply = json.dumps(
                {"method": method, "path": target, "body": body.decode()}
            ).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(reply), reply)
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def test_httpx_async_client_against_an_asyncio_server(loop_backend: Any) -> None:
    httpx = pytest.importorskip("httpx")
    on_memory = not isinstance(loop_backend, str)

    async def main() -> list[Any]:
        server = await asyncio.start_server(_http_handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        loop = asyncio.get_running_loop()
        out: list[Any] = []
        async with (
            server,
            httpx.AsyncClient(
                base_url=f"http://localhost:{port}", timeout=30
            ) as client,
        ):
            response = await client.get("/hello")
            out.append(response.json()["path"])
            response = await client.post("/items", content=b"payload")
            out.append(response.json()["body"])
            if on_memory:
                # A 20-second answer costs 20 virtual seconds, no wall time;
                # a 60-second one hits httpx's 30-second read timeout.
                started = loop.time()
                await client.get("/slow/20")
                out.append(round(loop.time() - started))
                with pytest.raises(httpx.ReadTimeout):
                    await client.get("/slow/60")
                out.append(round(loop.time() - started))
        return out

    got = compat.run(main(), backend=loop_backend)
    assert got[:2] == ["/hello", "payload"]
    if on_memory:
        assert got[2:] == [20, 50]


class _FakeRedis:
    """Just enough RESP2 for PING, SET, GET, DEL and redis-py's handshake."""

    def __init__(self) -> None:
        self.store: dict[bytes, bytes] = {}

    async def handle(self, reader: asyncio.StreamReader, writer: Any) -> None:
        try:
            while line := await reader.readline():
                args = []
                for _ in range(int(line[1:])):
                    size = int((await reader.readline())[1:])
                    args.append((await reader.readexactly(size + 2))[:-2])
                writer.write(self.answer(args))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def answer(self, args: list[bytes]) -> bytes:
        return redis_answer(self.store, args)


def test_redis_asyncio_against_a_fake_server(loop_backend: Any) -> None:
    redis_asyncio = pytest.importorskip("redis.asyncio")

    async def main() -> list[Any]:
        fake = _FakeRedis()
        server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = redis_asyncio.Redis(
            host="localhost", port=port, protocol=2, socket_timeout=30
        )
        async with server:
            try:
                return [
                    await client.ping(),
                    await client.set("k", "v"),
                    await client.get("k"),
                    await client.delete("k"),
                    await client.get("k"),
                ]
            finally:
                await getattr(client, "aclose", client.close)()

    assert compat.run(main(), backend=loop_backend) == [True, True, b"v", 1, None]


def test_tls_streams_with_asyncio_ssl(loop_backend: Any) -> None:
    """asyncio's own TLS (ssl.MemoryBIO over the transport) on compat sockets."""
    server_ctx, client_ctx = tls_contexts()

    async def main() -> tuple[bytes, Any]:
        async def handle(reader: asyncio.StreamReader, writer: Any) -> None:
            writer.write((await reader.readline()).upper())
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        async with server:
            reader, writer = await asyncio.open_connection(
                "localhost", port, ssl=client_ctx
            )
            writer.write(b"secret\n")
            line = await reader.readline()
            names = writer.get_extra_info("peercert")["subjectAltName"]
            writer.close()
            await writer.wait_closed()
        return line, names

    assert compat.run(main(), backend=loop_backend) == (
        b"SECRET\n",
        (("DNS", "localhost"),),
    )


def test_starttls_upgrade_with_loop_start_tls(loop_backend: Any) -> None:
    """StreamWriter.start_tls (loop.start_tls underneath) on both ends."""
    import ssl

    trustme = pytest.importorskip("trustme")
    if not hasattr(asyncio.StreamWriter, "start_tls"):
        pytest.skip("StreamWriter.start_tls needs Python 3.11")
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)

    async def handle(reader: asyncio.StreamReader, writer: Any) -> None:
        if await reader.readline() == b"STARTTLS\n":
            writer.write(b"GO\n")
            await writer.drain()
            await writer.start_tls(server_ctx)
            writer.write((await reader.readline()).upper())
            await writer.drain()
        writer.close()

    async def main() -> list[Any]:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            reader, writer = await asyncio.open_connection("localhost", port)
            writer.write(b"STARTTLS\n")
            out = [await reader.readline()]
            await writer.start_tls(client_ctx, server_hostname="localhost")
            writer.write(b"secret\n")
            out.append(await reader.readline())
            out.append(writer.get_extra_info("ssl_object").version() is not None)
            writer.close()
            await writer.wait_closed()
        return out

    assert compat.run(main(), backend=loop_backend) == [b"GO\n", b"SECRET\n", True]
