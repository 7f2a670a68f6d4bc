"""patch(): what it replaces, how it restores, nesting, threads, the clock."""

from __future__ import annotations

import select
import selectors
import socket
import threading
import time
from typing import Any

import pytest

from sockspec import compat
from sockspec.backends.memory import Network

pytestmark = pytest.mark.timeout(30)


def _snapshot() -> dict[tuple[int, str], Any]:
    import socketserver
    import ssl

    out = {}
    for owner in (socket, select, selectors, time, socketserver, ssl.SSLContext):
        for name, value in vars(owner).items():
            out[(id(owner), name)] = value
    return out


def test_leaving_restores_every_original_object() -> None:
    before = _snapshot()
    with Network(seed=1) as net, compat.patch(net, clock=True):
        assert socket.socket is compat.socket
        assert socket.SocketType is compat.socket
        assert selectors.DefaultSelector is compat.DefaultSelector
        assert time.sleep is not before[(id(time), "sleep")]
    assert _snapshot() == before


def test_restores_after_an_exception() -> None:
    before = _snapshot()
    with pytest.raises(KeyError), Network(seed=1) as net, compat.patch(net):
        raise KeyError("boom")
    assert _snapshot() == before


def test_nesting_restores_the_outer_patch() -> None:
    before = _snapshot()
    with Network(seed=1) as outer, Network(seed=2) as inner, compat.patch(outer):
        with compat.patch(inner), socket.socket() as sock:
            assert sock.sockspec_socket._backend is inner
        assert socket.socket is compat.socket
        with socket.socket() as sock:
            assert sock.sockspec_socket._backend is outer
    assert _snapshot() == before


def test_decorator() -> None:
    net = Network(seed=3)

    @compat.patch(net)
    def probe() -> Any:
        return socket.socket

    assert probe() is compat.socket
    assert probe() is compat.socket  # each call is a fresh patch
    assert socket.socket is not compat.socket
    net.close()


def test_sockets_made_inside_keep_working_after() -> None:
    with Network(seed=4) as net:
        with compat.patch(net):
            listener = socket.create_server(("127.0.0.1", 0))
            client = socket.create_connection(listener.getsockname())
        conn, _ = listener.accept()
        client.sendall(b"after")
        assert conn.recv(10) == b"after"
        for s in (client, conn, listener):
            s.close()
        assert net.open_resources() == 0


def test_a_second_thread_is_refused_clearly() -> None:
    errors: list[BaseException] = []

    def other() -> None:
        try:
            with compat.patch("memory"):
                pass
        except RuntimeError as exc:
            errors.append(exc)

    with Network(seed=5) as net, compat.patch(net):
        t = threading.Thread(target=other)
        t.start()
        t.join(10)
    assert len(errors) == 1
    assert "another thread" in str(errors[0])
    # Once released, another thread may patch.
    t = threading.Thread(target=other)
    t.start()
    t.join(10)
    assert len(errors) == 1


def test_clock_puts_sleep_and_monotonic_on_virtual_time() -> None:
    real, real_wall = time.monotonic(), time.time()
    with Network(seed=6) as net, compat.patch(net, clock=True):
        start, wall = time.monotonic(), time.time()
        assert start >= real  # never goes backwards
        assert wall >= real_wall
        time.sleep(3600)
        assert time.monotonic() - start == pytest.approx(3600)
        assert time.time() - wall == pytest.approx(3600)
        assert time.time_ns() // 10**9 == int(time.time())
        assert net.now == pytest.approx(3600)
    assert time.monotonic() - real < 60
    assert time.time() - real_wall < 60


def test_clock_needs_virtual_time() -> None:
    with (
        pytest.raises(ValueError, match="virtual time"),
        compat.patch("stdlib", clock=True),
    ):
        pass


def test_ssl_wraps_compat_sockets_inside_the_patch_only() -> None:
    import ssl

    real = ssl.SSLContext.wrap_socket
    with Network(seed=8) as net, compat.patch(net), socket.socket() as sock:
        ctx = ssl.create_default_context()
        assert ssl.SSLContext.wrap_socket is not real
        with ctx.wrap_socket(sock, server_hostname="x") as tls:
            # Not connected yet: TLS starts in connect(), as in ssl.
            assert isinstance(tls, compat.socket)
            assert tls.version() is None
            assert sock.fileno() == -1
    assert ssl.SSLContext.wrap_socket is real


def test_ssl_guard_is_shared_by_patches_and_loops_ending_in_any_order() -> None:
    """Compat loops wrap compat sockets in TLS too (tornado does it itself)."""
    import ssl

    real = ssl.SSLContext.wrap_socket
    ctx = ssl.create_default_context()

    def wraps_compat(net: Network) -> bool:
        with compat.socket(backend=net) as sock:
            tls = ctx.wrap_socket(sock, server_hostname="x")
            tls.close()
            return isinstance(tls, compat.socket)

    with Network(seed=13) as net:
        loop = compat.new_event_loop(net)  # a loop first, then a patch
        try:
            with compat.patch(net):
                loop.close()  # the loop ends inside the patch
                assert wraps_compat(net)
        finally:
            loop.close()
        assert ssl.SSLContext.wrap_socket is real
        with compat.patch(net):  # a patch first, then a loop
            loop = compat.new_event_loop(net)
        try:
            assert wraps_compat(net)  # the loop outlives the patch
        finally:
            loop.close()
    assert ssl.SSLContext.wrap_socket is real


def test_real_sockets_still_work_inside_a_memory_patch(no_fd_leak: None) -> None:
    real = socket.socket  # taken before the patch
    with Network(seed=9) as net, compat.patch(net):
        a, b = real(), real()
        with a, b:
            a.bind(("127.0.0.1", 0))
            a.listen()
            b.connect(a.getsockname())
            conn, _ = a.accept()  # socket.py's accept names the patched class
            with conn:
                assert type(conn) is real
                b.sendall(b"r")
                r, _, _ = select.select([conn], [], [], 5)
                assert r == [conn]
                assert conn.recv(1) == b"r"


def test_clock_with_a_thread_pool_server() -> None:
    """The scheduler keeps measuring wall time while time.* is virtual."""
    from concurrent.futures import ThreadPoolExecutor

    with Network(seed=10) as net, compat.patch(net, clock=True):
        listener = socket.create_server(("127.0.0.1", 0))
        with ThreadPoolExecutor(2) as pool:
            got = pool.submit(lambda: listener.accept()[0].recv(10))
            client = socket.create_connection(listener.getsockname())
            time.sleep(5)  # virtual: the worker waits in recv meanwhile
            client.sendall(b"hi")
            assert got.result(timeout=10) == b"hi"
            client.close()
        listener.close()
        assert net.now == pytest.approx(5.0)


def _seeded_run(seed: int) -> str:
    with Network(seed=seed) as net, compat.patch(net):
        listener = socket.create_server(("127.0.0.1", 0))
        client = socket.create_connection(listener.getsockname(), timeout=5)
        conn, _ = listener.accept()
        client.sendall(b"same seed, same run")
        conn.recv(100)
        for s in (client, conn, listener):
            s.close()
        return net.format_events()


def test_same_seed_same_event_log() -> None:
    assert _seeded_run(21) == _seeded_run(21)
    assert _seeded_run(21) != _seeded_run(22)  # ports come from the seed


def test_decorating_a_coroutine_function_patches_while_it_runs() -> None:
    import asyncio

    net = Network(seed=13)

    @compat.patch(net)
    async def probe() -> Any:
        await asyncio.sleep(0)
        return socket.socket

    assert asyncio.run(probe()) is compat.socket
    assert socket.socket is not compat.socket
    net.close()
