"""socketserver (TCP, UDP), xmlrpc, a selectors echo server and redis, unmodified."""

from __future__ import annotations

import selectors
import socket
import socketserver
import threading
import xmlrpc.client
import xmlrpc.server
from typing import Any

import pytest
from _compat_helpers import running

from _fake_redis import redis_answer
from sockspec.backends.memory import Latency, Loss, Reset, Uniform

pytestmark = pytest.mark.timeout(60)


class LineEcho(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for line in self.rfile:
            self.wfile.write(line.upper())


class Upper(socketserver.DatagramRequestHandler):
    def handle(self) -> None:
        self.wfile.write(self.rfile.read().upper())


class TCPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True


def test_socketserver_tcp(
    server_side: tuple[Any, str], patched: Any, no_fd_leak: None
) -> None:
    patch, host = server_side
    with patch():
        server = TCPServer(("0.0.0.0", 0), LineEcho)
    with (
        running(server),
        socket.create_connection((host, server.server_address[1]), 10) as sock,
    ):
        f = sock.makefile("rwb")
        for word in (b"alpha\n", b"beta\n"):
            f.write(word)
            f.flush()
            assert f.readline() == word.upper()
        f.close()
        if patched is not None:  # a middlebox kills the connection
            patched.add_rule(Reset(src="local", dst="api"))
            with pytest.raises(ConnectionResetError):
                sock.sendall(b"gamma\n")
            with pytest.raises(BrokenPipeError):  # as Linux says it next
                sock.sendall(b"delta\n")


def test_socketserver_udp(
    server_side: tuple[Any, str], patched: Any, no_fd_leak: None
) -> None:
    patch, host = server_side
    with patch():
        server = socketserver.UDPServer(("0.0.0.0", 0), Upper)
    with running(server), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(10)
        address = (socket.gethostbyname(host), server.server_address[1])
        sock.sendto(b"quiet", address)
        data, sender = sock.recvfrom(100)
        assert data == b"QUIET"
        assert sender == address
        if patched is not None:  # every datagram lost: the 30 s timeout fires
            patched.add_rule(Loss(1.0, src="local", dst="api"))
            sock.settimeout(30)
            started = patched.now
            sock.sendto(b"lost", address)
            with pytest.raises(TimeoutError):
                sock.recvfrom(100)
            assert patched.now - started == pytest.approx(30.0)


def test_xmlrpc(server_side: tuple[Any, str], patched: Any) -> None:
    patch, host = server_side
    with patch():
        server = xmlrpc.server.SimpleXMLRPCServer(("0.0.0.0", 0), logRequests=False)
    server.register_function(pow)
    server.register_function(lambda *xs: sorted(xs), "sort")
    with running(server):
        url = f"http://{host}:{server.server_address[1]}/"
        with xmlrpc.client.ServerProxy(url) as proxy:
            assert proxy.pow(2, 10) == 1024
            assert proxy.sort(3, 1, 2) == [1, 2, 3]
        if patched is not None:  # 200 ms each way: slower only on the clock
            patched.add_rule(Latency(0.2, src="local", dst="api"))
            patched.add_rule(Latency(0.2, src="api", dst="local"))
            started = patched.now
            with xmlrpc.client.ServerProxy(url) as proxy:
                assert proxy.pow(3, 3) == 27
            assert patched.now - started >= 0.8  # handshake + request/reply


def _echo_server(listener: Any, stop: threading.Event, clients: int) -> None:
    """A selectors echo server that stops after *clients* connections ended."""
    ended = 0
    with selectors.DefaultSelector() as sel:
        sel.register(listener, selectors.EVENT_READ)
        for _ in range(100_000):  # bounded; each round handles some events
            if ended >= clients or stop.is_set():
                break
            for key, _ in sel.select(timeout=1):
                if key.fileobj is listener:
                    conn, _ = listener.accept()
                    conn.setblocking(False)
                    sel.register(conn, selectors.EVENT_READ)
                    continue
                conn = key.fileobj
                data = conn.recv(4096)
                if data:
                    conn.sendall(data)
                else:
                    sel.unregister(conn)
                    conn.close()
                    ended += 1
        for key in list(sel.get_map().values()):
            if key.fileobj is not listener:
                key.fileobj.close()


def test_selectors_echo_server_with_200_clients(
    server_side: tuple[Any, str], patched: Any, no_fd_leak: None
) -> None:
    patch, host = server_side
    count = 200
    with patch():
        listener = socket.create_server(("0.0.0.0", 0), backlog=count)
    if patched is not None:  # a random 1-20 ms each way
        patched.add_rule(Latency(Uniform(0.001, 0.02), src="local", dst="api"))
        patched.add_rule(Latency(Uniform(0.001, 0.02), src="api", dst="local"))
    listener.setblocking(False)
    stop = threading.Event()
    thread = threading.Thread(target=_echo_server, args=(listener, stop, count))
    thread.start()
    clients = []
    try:
        port = listener.getsockname()[1]
        for _ in range(count):
            clients.append(socket.create_connection((host, port), timeout=20))
        for i, sock in enumerate(clients):
            sock.sendall(b"client %d\n" % i)
        for i, sock in enumerate(clients):
            expected = b"client %d\n" % i
            got = b""
            while len(got) < len(expected):
                chunk = sock.recv(100)
                assert chunk
                got += chunk
            assert got == expected
    finally:
        for sock in clients:
            sock.close()
        thread.join(30)
        stop.set()
        thread.join(5)
        listener.close()
    assert not thread.is_alive()


class FakeRedis(socketserver.StreamRequestHandler):
    """Just enough RESP for GET, SET, DEL, PING (and redis-py's handshake)."""

    store: dict[bytes, bytes] = {}  # noqa: RUF012 - one per server class

    def handle(self) -> None:
        while True:
            line = self.rfile.readline()
            if not line:
                return
            assert line.startswith(b"*")
            args = []
            for _ in range(int(line[1:])):
                size = int(self.rfile.readline()[1:])
                args.append(self.rfile.read(size + 2)[:-2])
            self.wfile.write(self.answer(args))

    def answer(self, args: list[bytes]) -> bytes:
        return redis_answer(self.store, args)


def test_redis_client_against_a_fake_server(
    server_side: tuple[Any, str], patched: Any, no_fd_leak: None
) -> None:
    redis = pytest.importorskip("redis")
    patch, host = server_side

    class Handler(FakeRedis):
        store: dict[bytes, bytes] = {}  # noqa: RUF012

    with patch():
        server = TCPServer(("0.0.0.0", 0), Handler)
    with running(server):
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        client = redis.Redis(
            host=host,
            port=server.server_address[1],
            socket_timeout=30,
            protocol=2,  # the fake speaks RESP2 only
            retry=Retry(NoBackoff(), 0),  # one attempt: the timeout is the point
        )
        try:
            assert client.ping() is True
            assert client.set("k", "v") is True
            assert client.get("k") == b"v"
            assert client.delete("k") == 1
            assert client.get("k") is None
            if patched is not None:
                cut = patched.partition("local", "api")
                started = patched.now
                with pytest.raises(redis.exceptions.TimeoutError):
                    client.get("k")
                assert patched.now - started == pytest.approx(30.0, abs=0.5)
                patched.remove_rule(cut)
        finally:
            client.close()
