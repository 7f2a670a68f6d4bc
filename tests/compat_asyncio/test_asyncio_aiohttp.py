"""aiohttp, client and web server, unmodified on the compat loop."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from _asyncio_helpers import tls_contexts

from sockspec import compat
from sockspec.backends.memory import Network, Reset

aiohttp = pytest.importorskip("aiohttp")
web = pytest.importorskip("aiohttp.web")


async def _hello(request: Any) -> Any:
    return web.json_response({"path": request.path})


async def _slow(request: Any) -> Any:
    await asyncio.sleep(float(request.match_info["seconds"]))
    return web.Response(text="late")


async def _big(request: Any) -> Any:
    response = web.StreamResponse()
    await response.prepare(request)
    for _ in range(5):
        await response.write(b"x" * 10_000)
    await response.write_eof()
    return response


async def _shout(request: Any) -> Any:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for message in ws:
        await ws.send_str(message.data.upper())
    return ws


async def _start_app(address: str = "127.0.0.1") -> tuple[Any, int]:
    app = web.Application()
    app.router.add_get("/hello", _hello)
    app.router.add_get("/slow/{seconds}", _slow)
    app.router.add_get("/big", _big)
    app.router.add_get("/ws", _shout)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, address, 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, port


def test_client_and_web_server(loop_backend: Any) -> None:
    """aiohttp's client connects through aiohappyeyeballs' own sockets."""

    async def main() -> list[Any]:
        runner, port = await _start_app()
        out: list[Any] = []
        try:
            async with aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=30)
            ) as session:
                async with session.get(f"http://localhost:{port}/hello") as r:
                    out.append((await r.json())["path"])
                async with session.get(f"http://localhost:{port}/big") as r:
                    out.append(len(await r.read()))
                async with session.ws_connect(f"http://localhost:{port}/ws") as ws:
                    await ws.send_str("hi")
                    out.append(await ws.receive_str())
        finally:
            await runner.cleanup()
        return out

    assert compat.run(main(), backend=loop_backend) == ["/hello", 50_000, "HI"]


def test_timeouts_refusals_and_unknown_names_on_memory(net: Network) -> None:
    async def main() -> list[Any]:
        loop = asyncio.get_running_loop()
        runner, port = await _start_app()
        out: list[Any] = []
        try:
            async with aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=30)
            ) as session:
                started = loop.time()
                async with session.get(f"http://localhost:{port}/slow/20") as r:
                    out.append(await r.text())
                out.append(round(loop.time() - started))
                with pytest.raises(asyncio.TimeoutError):
                    async with session.get(f"http://localhost:{port}/slow/60"):
                        pass
                out.append(round(loop.time() - started))
                with pytest.raises(aiohttp.ClientConnectorError) as refused:
                    async with session.get("http://127.0.0.1:9/"):
                        pass
                out.append(type(refused.value.os_error).__name__)
                with pytest.raises(aiohttp.ClientConnectorDNSError):
                    async with session.get("http://nosuch.internal/"):
                        pass
        finally:
            await runner.cleanup()
        return out

    assert compat.run(main(), backend=net) == [
        "late",
        20,
        50,
        "ConnectionRefusedError",
    ]


def test_reset_in_the_middle_of_a_body(net: Network) -> None:
    """The server on a host of its own; a reset rule cuts its answer short."""
    api = net.add_host("api")
    state: dict[str, Any] = {}
    up = threading.Event()

    async def serve() -> None:
        runner, state["port"] = await _start_app("0.0.0.0")
        state["loop"], state["stop"] = asyncio.get_running_loop(), asyncio.Event()
        up.set()
        await state["stop"].wait()
        await runner.cleanup()

    thread = threading.Thread(
        target=compat.run, args=(serve(),), kwargs={"backend": api}
    )
    thread.start()

    async def main() -> Any:
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=30)
        ) as session:
            with pytest.raises(aiohttp.ClientPayloadError) as cut:
                async with session.get(f"http://api:{state['port']}/big") as r:
                    await r.read()
            return cut.value

    try:
        assert up.wait(10)
        net.add_rule(Reset(src="api", dst="local", after_bytes=20_000))
        error = compat.run(main(), backend=net)
    finally:
        state["loop"].call_soon_threadsafe(state["stop"].set)
        thread.join(10)
    assert "ConnectionResetError(104" in str(error)


def test_aiohappyeyeballs_imported_after_the_loop_was_made(net: Network) -> None:
    """A module of the list imported late is covered when the loop runs."""
    import socket

    impl = pytest.importorskip("aiohappyeyeballs.impl")
    loop = compat.new_event_loop(net)
    impl.socket = socket  # as if imported only now, after the loop was made

    async def main() -> Any:
        server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        infos = await asyncio.get_running_loop().getaddrinfo("127.0.0.1", port)
        sock = await impl.start_connection(infos[:1])
        sock.close()
        server.close()
        await server.wait_closed()
        return type(sock).__module__

    try:
        assert loop.run_until_complete(main()) == "sockspec.compat._socket"
    finally:
        loop.close()
    assert impl.socket is socket


def test_https_ipv6_and_unix_sites(loop_backend: Any, tmp_path: Any) -> None:
    """aiohttp's server sets SO_KEEPALIVE on each connection, UNIX ones too."""
    server_ctx, client_ctx = tls_contexts()
    path = str(tmp_path / "app.sock")

    async def main() -> list[Any]:
        app = web.Application()
        app.router.add_get("/hello", _hello)
        runner = web.AppRunner(app)
        await runner.setup()
        out: list[Any] = []
        try:
            secure = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
            await secure.start()
            six = web.TCPSite(runner, "::1", 0)
            await six.start()
            await web.UnixSite(runner, path).start()
            (_, tls_port), (_, six_port, *_), _ = runner.addresses
            async with aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=30)
            ) as session:
                url = f"https://localhost:{tls_port}/hello"
                async with session.get(url, ssl=client_ctx) as r:
                    out.append(await r.json())
                with pytest.raises(aiohttp.ClientConnectorCertificateError):
                    await session.get(url)  # the default CAs do not know ours
                async with session.get(f"http://[::1]:{six_port}/hello") as r:
                    out.append(r.status)
            async with (
                aiohttp.ClientSession(
                    connector=aiohttp.UnixConnector(path),
                    timeout=aiohttp.ClientTimeout(total=30),
                ) as session,
                session.get("http://app/hello") as r,
            ):
                out.append(r.status)
        finally:
            await runner.cleanup()
        return out

    assert compat.run(main(), backend=loop_backend) == [{"path": "/hello"}, 200, 200]


def test_aiohttp_test_utils_client_and_server(loop_backend: Any) -> None:
    """aiohttp's own test helpers (pytest-aiohttp's fixtures) bind their socket."""
    from aiohttp.test_utils import TestClient, TestServer

    async def main() -> list[Any]:
        app = web.Application()
        app.router.add_get("/hello", _hello)
        async with TestClient(TestServer(app)) as client:
            response = await client.get("/hello")
            return [response.status, await response.json()]

    assert compat.run(main(), backend=loop_backend) == [200, {"path": "/hello"}]
