"""Load: many connections at once, many connections in a row, many threads.

* 1,000 concurrent connections each stream 1 MiB through the example Poller
  echo server (``examples/echo_server.py`` on ``selectors``, in its own
  process); every byte that comes back is compared as it arrives and each
  connection's SHA-256 at the end.
* 10,000 connect / accept / exchange / close cycles per backend, with the
  process's descriptor count back where it started.
* Go nettest's ConcurrentMethods, RacyRead and RacyWrite: every method of one
  connected socket called from several threads at once, with the data
  still byte-exact and every thread ending.
"""

from __future__ import annotations

import gc
import hashlib
import os
import random
import resource
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import sockspec
from _fds import open_fds as count_fds
from sockspec import (
    EVENT_READ,
    EVENT_WRITE,
    SHUT_WR,
    SO_RCVBUF,
    TCP_NODELAY,
    Poller,
    Socket,
)
from sockspec.conformance.harness import Harness

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BACKENDS = ["stdlib", "selectors", "memory"]


def open_fds() -> int:
    """Descriptors this process holds."""
    gc.collect()
    return count_fds()


# -- 1,000 connections x 1 MiB through the Poller echo server ---------------------


class _Stream:
    """One connection's progress through its 1 MiB."""

    __slots__ = ("offset", "received", "sent", "sha", "sock")

    def __init__(self, sock: Socket, offset: int) -> None:
        self.sock = sock
        #: Where in the doubled random block this connection's bytes start.
        self.offset = offset
        self.sent = 0
        self.received = 0
        self.sha = hashlib.sha256()


def _start_echo_server() -> tuple[subprocess.Popen[str], int]:
    server = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "echo_server.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert server.stdout is not None
    ready, _, _ = select.select([server.stdout], [], [], 20)
    assert ready, "the echo server did not start within 20 s"
    line = server.stdout.readline()
    assert line.startswith("listening on 127.0.0.1:"), line
    return server, int(line.rsplit(":", 1)[1])


def _stop_echo_server(server: subprocess.Popen[str]) -> str:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
    try:
        out, _ = server.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        out, _ = server.communicate(timeout=10)
    return out


def stream_through_echo(
    port: int, connections: int, size: int, window: int, budget: float
) -> int:
    """Stream *size* bytes per connection through the echo server at *port*.

    Each connection sends a different slice of one random block, keeps at
    most *window* bytes in flight, compares every byte that comes back and
    checks the SHA-256 of its stream at the end.  Returns the bytes echoed.
    """
    block = random.Random(1).randbytes(size)
    doubled = memoryview(block + block)
    deadline = time.monotonic() + budget
    streams: dict[Socket, _Stream] = {}
    done = 0
    echoed = 0
    with Poller("selectors") as poller:
        try:
            for index in range(connections):
                sock = Socket(backend="selectors", timeout=10.0)
                streams[sock] = _Stream(sock, index * 7919 % size)
                sock.connect("127.0.0.1", port)
                sock.timeout = 0
                poller.register(sock, EVENT_READ | EVENT_WRITE)
            # Each round moves at least one chunk of some connection, so
            # this bound is generous; the deadline is the real limit.
            for _ in range(connections * size):
                if done == connections:
                    break
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"{done} of {connections} done by the deadline"
                for key, events in poller.poll(min(remaining, 1.0)):
                    s = streams[key.socket]
                    if events & EVENT_READ:
                        got = _drain(s, doubled, size)
                        echoed += got
                        if got and s.sent < size and key.events == EVENT_READ:
                            # The echo opened the window again.
                            poller.modify(s.sock, EVENT_READ | EVENT_WRITE)
                        if s.received == size:
                            want = hashlib.sha256(
                                doubled[s.offset : s.offset + size]
                            ).hexdigest()
                            assert s.sha.hexdigest() == want, "SHA-256 differs"
                            s.sock.close()  # also leaves the Poller
                            done += 1
                            continue
                    if events & EVENT_WRITE:
                        _feed(s, doubled, size, window, poller)
            assert done == connections
        finally:
            for sock in streams:
                sock.close()
    return echoed


def _drain(s: _Stream, doubled: memoryview, size: int) -> int:
    try:
        data = s.sock.receive(1 << 18)
    except sockspec.WouldBlock:
        return 0
    assert data, f"stream at {s.offset}: end of stream after {s.received} bytes"
    start = s.offset + s.received
    assert data == doubled[start : start + len(data)], (
        f"stream at {s.offset}: wrong bytes at {s.received}"
    )
    s.sha.update(data)
    s.received += len(data)
    return len(data)


def _feed(
    s: _Stream, doubled: memoryview, size: int, window: int, poller: Poller
) -> None:
    room = min(size - s.sent, window - (s.sent - s.received))
    if room > 0:
        start = s.offset + s.sent
        try:
            s.sent += s.sock.send(doubled[start : start + room])
        except sockspec.WouldBlock:
            return
    if s.sent == size or s.sent - s.received >= window:
        # All sent, or the window is full: wait for the echo only.  No
        # shutdown: the server drops a client at its end of stream.
        poller.modify(s.sock, EVENT_READ)


def _run_echo_load(connections: int, size: int, budget: float) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = connections + 256
    if hard < need:
        pytest.skip(f"needs {need} descriptors, the hard limit is {hard}")
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    server, port = _start_echo_server()
    try:
        echoed = stream_through_echo(port, connections, size, 256 << 10, budget)
        assert echoed == connections * size
    finally:
        out = _stop_echo_server(server)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert f"served {connections} connections" in out
    assert server.returncode == 0


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_thousand_connections_each_echo_one_mebibyte() -> None:
    _run_echo_load(connections=1000, size=1 << 20, budget=240.0)


def test_hundred_connections_each_echo_64_kib() -> None:
    # The same path in miniature, for the default run.
    _run_echo_load(connections=100, size=64 << 10, budget=60.0)


# -- connect / close cycles ----------------------------------------------------------


def connect_close_cycles(backend: str, cycles: int) -> None:
    """Make and drop *cycles* connections; each exchanges one byte each way."""
    deadline = time.monotonic() + 150.0
    with Socket(backend=backend, timeout=5.0) as listener:
        listener.set_option(sockspec.SO_REUSEADDR, True)
        listener.bind("127.0.0.1", 0)
        listener.listen(64)
        port = listener.local_port
        assert port is not None
        for i in range(cycles):
            if i % 256 == 0:
                assert time.monotonic() < deadline, f"only {i} cycles in 150 s"
            with Socket(backend=backend, timeout=5.0) as client:
                client.connect("127.0.0.1", port)
                with listener.accept() as server:
                    client.send(b"c")
                    assert server.receive(1) == b"c"
                    server.send(b"s")
                    assert client.receive(1) == b"s"
                    # Alternate who closes first: both FIN orders get exercised.
                    if i % 2:
                        client.close()
                        assert server.receive(1) == b""


@pytest.mark.slow
@pytest.mark.timeout(200)
@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_ten_thousand_connect_close_cycles_leave_no_descriptor(backend: str) -> None:
    before = open_fds()
    connect_close_cycles(backend, 10_000)
    assert open_fds() == before


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_connect_close_cycles_leave_no_descriptor(backend: str) -> None:
    before = open_fds()
    connect_close_cycles(backend, 300)
    assert open_fds() == before


# -- every method from several threads on one socket ------------------------------

#: Bytes each direction carries during the concurrent-methods test.
CONCURRENT_BYTES = 4 << 20


def _pattern(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _noise(sock: Socket, rounds: int, stop: threading.Event) -> Callable[[], int]:
    """A thread body calling every non-data method of *sock* over and over."""

    def body() -> int:
        calls = 0
        with Poller(sock.backend) as poller:
            for i in range(rounds):
                if stop.is_set() or sock.closed:
                    break
                try:
                    _ = (sock.is_connected, sock.is_readable, sock.is_writable)
                    _ = (sock.local_address, sock.local_port)
                    _ = (sock.remote_address, sock.remote_port)
                    _ = (sock.family, sock.type, sock.backend, sock.timeout, repr(sock))
                    sock.set_option(TCP_NODELAY, bool(i % 2))
                    assert sock.get_option(TCP_NODELAY) in (True, False)
                    assert isinstance(sock.get_option(SO_RCVBUF), int)
                    sock.timeout = 20.0 + i % 2  # never short enough to fire
                    poller.register(sock, EVENT_READ | EVENT_WRITE)
                    poller.poll(0)
                    poller.unregister(sock)
                except sockspec.SocketClosed:
                    break
                calls += 17
        return calls

    return body


def _send_pattern(sock: Socket, data: bytes) -> None:
    view = memoryview(data)
    for offset in range(0, len(data), 32 << 10):
        sock.send(view[offset : offset + (32 << 10)])
    sock.shutdown(SHUT_WR)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_concurrent_methods(backend: str) -> None:
    """Go's ConcurrentMethods: data both ways while 6 threads call the rest."""
    h = Harness(sockspec.get_backend(backend), io_timeout=20.0)
    try:
        client, server = h.pair(client_options={TCP_NODELAY: True})
        up, down = _pattern(CONCURRENT_BYTES, 1), _pattern(CONCURRENT_BYTES, 2)
        stop = threading.Event()
        noise = [
            h.thread(_noise(sock, 3000, stop), f"noise-{n}")
            for n, sock in enumerate([client, server, client, server, client, server])
        ]
        writers = [
            h.thread(lambda: _send_pattern(client, up), "client-writer"),
            h.thread(lambda: _send_pattern(server, down), "server-writer"),
        ]
        got_up = h.thread(lambda: h.receive_all(server), "server-reader")
        got_down = h.thread(lambda: h.receive_all(client), "client-reader")
        assert got_up.result(90) == up
        assert got_down.result(90) == down
        for writer in writers:
            writer.result(30)
        stop.set()
        calls = sum(t.result(30) for t in noise)
        assert calls > 0
    finally:
        stuck = h.close()
        assert not stuck, f"threads did not end: {stuck}"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_close_from_another_thread_ends_every_blocked_call(backend: str) -> None:
    h = Harness(sockspec.get_backend(backend))
    try:
        client, _server = h.pair(timeout=None)
        readers = [h.thread(client.receive, f"reader-{n}") for n in range(3)]
        h.pause(0.2)
        client.close()
        for reader in readers:
            error = reader.error(10)
            assert isinstance(error, sockspec.SocketError), error
    finally:
        stuck = h.close()
        assert not stuck, f"threads did not end: {stuck}"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_racy_reads_and_writes_conserve_every_byte(backend: str) -> None:
    """Go's RacyRead/RacyWrite: 4 writers and 4 readers on one connection.

    Writer *w* sends only the byte value *w*; whatever the interleaving, the
    readers together must get exactly as many of each value as were sent.
    """
    writers, per_writer = 4, 1 << 20
    h = Harness(sockspec.get_backend(backend), io_timeout=20.0)
    try:
        client, server = h.pair()
        lock = threading.Lock()
        counts = [0] * 256

        def write(value: int) -> None:
            chunk = bytes([value]) * (16 << 10)
            for _ in range(per_writer // len(chunk)):
                client.send(chunk)

        def read() -> None:
            for _ in range(writers * per_writer):
                data = server.receive(7919)
                if not data:
                    return
                seen = [data.count(value) for value in range(writers)]
                with lock:
                    for value in range(writers):
                        counts[value] += seen[value]
                    counts[255] += len(data) - sum(seen)

        senders = [h.thread(lambda v=v: write(v), f"writer-{v}") for v in range(4)]
        readers = [h.thread(read, f"reader-{n}") for n in range(4)]
        for sender in senders:
            sender.result(90)
        client.shutdown(SHUT_WR)
        for reader in readers:
            reader.result(30)
        assert counts[:writers] == [per_writer] * writers
        assert counts[255] == 0, "bytes nobody sent arrived"
    finally:
        stuck = h.close()
        assert not stuck, f"threads did not end: {stuck}"
