"""Behaviour specific to the ``selectors`` backend.

The conformance suite proves it behaves like every other backend; these
tests prove what only a non-blocking backend can get wrong: wakeups on
close, partial sends, finishing a non-blocking connect, descriptor economy
and a Poller over many sockets.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

import sockspec
from _fds import open_fds
from sockspec.backends.selectors import SelectorsSocket

BACKEND = "selectors"
# Every blocking call in these tests is bounded by this many seconds.
LIMIT = 10.0


@contextlib.contextmanager
def tcp_pair(
    backend: str = BACKEND, server_backend: str | None = None
) -> Iterator[tuple[sockspec.Socket, sockspec.Socket]]:
    """Yield a connected ``(client, server-side)`` pair on loopback."""
    with sockspec.Socket(backend=server_backend or backend, timeout=LIMIT) as srv:
        srv.bind("127.0.0.1")
        srv.listen()
        client = sockspec.Socket(backend=backend, timeout=LIMIT)
        try:
            client.connect("127.0.0.1", srv.local_port)
            conn = srv.accept()
        except BaseException:
            client.close()
            raise
        with client, conn:
            yield client, conn


def impl(sock: sockspec.Socket) -> SelectorsSocket:
    """The backend object behind a facade socket."""
    inner = sock._impl
    assert isinstance(inner, SelectorsSocket)
    return inner


def in_thread(
    func: Callable[[], object],
) -> tuple[threading.Thread, list[BaseException | object]]:
    """Start *func* in a daemon thread; the list gets its result or error."""
    out: list[BaseException | object] = []

    def run() -> None:
        try:
            out.append(func())
        except BaseException as exc:
            out.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def wait_until_waiting(sock: sockspec.Socket) -> None:
    """Return once a thread sleeps in a wait on *sock* (bounded)."""
    deadline = time.monotonic() + LIMIT
    while not impl(sock)._waiters:
        assert time.monotonic() < deadline, "the thread never started waiting"
        time.sleep(0.001)


def fill_send_buffer(sock: sockspec.Socket) -> int:
    """Send until the kernel takes no more; return the count."""
    old = sock.timeout
    sock.timeout = 0
    total = 0
    chunk = b"x" * 65536
    try:
        for _ in range(10_000):  # bounded: buffers are far smaller
            try:
                total += sock.send(chunk)
            except sockspec.WouldBlock:
                return total
        raise AssertionError("the send buffer never filled")
    finally:
        sock.timeout = old


def drain(sock: sockspec.Socket, expected: int | None = None) -> int:
    """Receive until end of stream (or *expected* bytes); return the count."""
    total = 0
    while expected is None or total < expected:
        data = sock.receive(1 << 20)
        if not data:
            break
        total += len(data)
    return total


# -- close() wakes waiters --------------------------------------------------


@pytest.mark.parametrize("operation", ["receive", "accept", "send", "receive_from"])
def test_close_from_another_thread_wakes_a_blocked_call(
    operation: str, no_fd_leak: None
) -> None:
    with tcp_pair() as (client, server):
        target = server
        call: Callable[[], object]
        listener = None
        if operation == "receive":
            target.timeout = None
            call = target.receive
        elif operation == "receive_from":
            target = sockspec.Socket(
                sockspec.AF_INET, sockspec.SOCK_DGRAM, backend=BACKEND
            )
            target.bind("127.0.0.1")
            call = target.receive_from
        elif operation == "accept":
            listener = target = sockspec.Socket(backend=BACKEND)
            target.bind("127.0.0.1")
            target.listen()
            call = target.accept
        else:
            target = client
            target.timeout = None
            fill_send_buffer(client)
            call = lambda: client.send(b"y" * (8 << 20))  # noqa: E731
        thread, out = in_thread(call)
        wait_until_waiting(target)
        started = time.monotonic()
        target.close()
        thread.join(LIMIT)
        assert not thread.is_alive()
        assert time.monotonic() - started < 2
        assert len(out) == 1
        assert isinstance(out[0], sockspec.SocketClosed), out
        if listener is not None or operation == "receive_from":
            target.close()


def test_close_wakes_every_waiter_and_releases_the_wakeup_fd(
    no_fd_leak: None,
) -> None:
    with tcp_pair() as (_client, server):
        server.timeout = None
        threads = [in_thread(server.receive) for _ in range(4)]
        deadline = time.monotonic() + LIMIT
        while len(impl(server)._waiters) < 4:
            assert time.monotonic() < deadline
            time.sleep(0.001)
        inner = impl(server)
        server.close()
        for thread, out in threads:
            thread.join(LIMIT)
            assert not thread.is_alive()
            assert isinstance(out[0], sockspec.SocketClosed)
        assert inner._wakeup is None
        assert not inner._waiters


def test_wakeup_fd_is_made_only_when_a_thread_waits() -> None:
    with tcp_pair() as (client, server):
        client.send(b"ready")
        assert server.receive() == b"ready"  # data was there: no wait
        assert impl(server)._wakeup is None
        server.timeout = 0.01
        with pytest.raises(sockspec.Timeout):
            server.receive()
        wakeup = impl(server)._wakeup
        assert wakeup is not None
        for _ in range(5):  # later waits reuse it
            with pytest.raises(sockspec.Timeout):
                server.receive()
        assert impl(server)._wakeup is wakeup


# -- timeouts and non-blocking mode -------------------------------------------


def test_receive_timeout_is_honoured() -> None:
    with tcp_pair() as (_client, server):
        server.timeout = 0.2
        started = time.monotonic()
        with pytest.raises(sockspec.Timeout) as info:
            server.receive()
        elapsed = time.monotonic() - started
        assert 0.2 <= elapsed < 2
        assert info.value.errno is not None


def test_timeout_zero_raises_would_block_without_waiting() -> None:
    with tcp_pair() as (_client, server):
        server.timeout = 0
        started = time.monotonic()
        with pytest.raises(sockspec.WouldBlock):
            server.receive()
        assert time.monotonic() - started < 0.5
        assert impl(server)._wakeup is None


def test_non_blocking_send_returns_partial_counts_and_loses_nothing() -> None:
    with tcp_pair() as (client, server):
        client.set_option(sockspec.SO_SNDBUF, 16384)
        client.timeout = 0
        payload = bytes(random.Random(7).getrandbits(8) for _ in range(1 << 16)) * 64
        sent = 0
        partial_seen = False
        for _ in range(1000):
            try:
                n = client.send(payload[sent:])
            except sockspec.WouldBlock:
                break
            assert 0 < n <= len(payload) - sent
            partial_seen = partial_seen or n < len(payload) - sent
            sent += n
        else:
            raise AssertionError("the buffer never filled")
        assert partial_seen
        assert 0 < sent < len(payload)
        client.shutdown(sockspec.SHUT_WR)
        received = b""
        while chunk := server.receive(1 << 20):
            received += chunk
        assert received == payload[:sent]


def test_send_timeout_reports_how_much_was_sent() -> None:
    with tcp_pair() as (client, server):
        client.timeout = 0.3
        payload = b"z" * (32 << 20)  # far more than the buffers hold
        started = time.monotonic()
        with pytest.raises(sockspec.Timeout) as info:
            client.send(payload)
        assert 0.3 <= time.monotonic() - started < 3
        sent = info.value.bytes_sent
        assert 0 < sent < len(payload)
        client.shutdown(sockspec.SHUT_WR)
        assert drain(server) == sent


def test_blocking_send_sends_everything_while_the_peer_reads_slowly() -> None:
    with tcp_pair() as (client, server):
        client.timeout = None
        payload = os.urandom(8 << 20)
        reader, out = in_thread(lambda: drain(server, len(payload)))
        assert client.send(payload) == len(payload)
        reader.join(LIMIT)
        assert out == [len(payload)]


def test_timeout_zero_send_file_sends_what_fits_and_positions_the_file(
    tmp_path: os.PathLike[str],
) -> None:
    path = os.path.join(os.fspath(tmp_path), "data.bin")
    payload = os.urandom(16 << 20)
    with open(path, "wb") as f:
        f.write(payload)
    with tcp_pair() as (client, server), open(path, "rb") as f:
        client.timeout = 0
        sent = client.send_file(f)
        assert 0 < sent < len(payload)
        assert f.tell() == sent
        client.timeout = LIMIT
        reader, out = in_thread(lambda: drain(server, len(payload)))
        rest = client.send_file(f)
        assert sent + rest == len(payload)
        reader.join(LIMIT)
        assert out == [len(payload)]


def test_send_file_falls_back_for_objects_without_a_descriptor() -> None:
    payload = os.urandom(3 << 20)
    with tcp_pair() as (client, server):
        reader, out = in_thread(lambda: drain(server, len(payload)))
        assert client.send_file(io.BytesIO(payload)) == len(payload)
        reader.join(LIMIT)
        assert out == [len(payload)]


@pytest.mark.parametrize("kind", ["regular file", "BytesIO"])
def test_send_before_connect_is_not_connected(
    kind: str, tmp_path: os.PathLike[str]
) -> None:
    path = os.path.join(os.fspath(tmp_path), "f")
    with open(path, "wb") as f:
        f.write(b"abc")
    with (
        sockspec.Socket(backend=BACKEND, timeout=LIMIT) as s,
        open(path, "rb") as regular,
    ):
        file = regular if kind == "regular file" else io.BytesIO(b"abc")
        with pytest.raises(sockspec.NotConnected):
            s.send_file(file)
        with pytest.raises(sockspec.NotConnected):
            s.send(b"abc")


# -- connect -------------------------------------------------------------------


def closed_port() -> int:
    """A loopback port nothing listens on (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("timeout", [None, 2.0])
def test_refused_connect_is_reported_through_so_error(timeout: float | None) -> None:
    with sockspec.Socket(backend=BACKEND) as s:
        with pytest.raises(sockspec.ConnectionRefused) as info:
            s.connect("127.0.0.1", closed_port(), timeout=timeout)
        assert info.value.errno is not None
        assert not s.is_connected


def test_non_blocking_connect_completes_on_a_later_call() -> None:
    with sockspec.Socket(backend=BACKEND) as srv:
        srv.bind("127.0.0.1")
        srv.listen()
        with sockspec.Socket(backend=BACKEND, timeout=0) as s:
            try:
                s.connect("127.0.0.1", srv.local_port)
            except sockspec.WouldBlock:
                with sockspec.Poller(BACKEND) as poller:
                    poller.register(s, sockspec.EVENT_WRITE)
                    assert poller.poll(LIMIT)
                s.connect("127.0.0.1", srv.local_port)  # reports completion
            assert s.is_connected
            assert s.remote_port == srv.local_port


def test_non_blocking_connect_failure_is_reported_on_the_next_call() -> None:
    port = closed_port()
    with sockspec.Socket(backend=BACKEND, timeout=0) as s:
        try:
            s.connect("127.0.0.1", port)
        except sockspec.WouldBlock:
            pass
        except sockspec.ConnectionRefused:
            return  # the kernel answered at once; nothing left to prove
        with sockspec.Poller(BACKEND) as poller:
            poller.register(s, sockspec.EVENT_WRITE)
            assert poller.poll(LIMIT)
        with pytest.raises(sockspec.ConnectionRefused):
            s.connect("127.0.0.1", port)


def test_unix_connect_waits_for_room_in_a_full_backlog(
    tmp_path: os.PathLike[str],
) -> None:
    path = os.path.join(os.fspath(tmp_path), "sock")
    with sockspec.Socket(sockspec.AF_UNIX, backend=BACKEND) as srv:
        srv.bind(path)
        srv.listen(0)
        extra: list[sockspec.Socket] = []
        try:
            # Fill the queue until a non-blocking connect is turned away.
            for _ in range(64):
                s = sockspec.Socket(sockspec.AF_UNIX, backend=BACKEND, timeout=0)
                extra.append(s)
                try:
                    s.connect(path, None)
                except sockspec.WouldBlock:
                    break
            else:
                pytest.skip("the kernel never reported a full UNIX backlog")
            cpu = time.process_time()
            with (
                sockspec.Socket(sockspec.AF_UNIX, backend=BACKEND) as late,
                pytest.raises(sockspec.Timeout),
            ):
                late.connect(path, None, timeout=0.3)
            # The retry sleeps between attempts; it must not spin.
            assert time.process_time() - cpu < 0.15
            with sockspec.Socket(sockspec.AF_UNIX, backend=BACKEND) as late:
                thread, out = in_thread(lambda: late.connect(path, None, timeout=LIMIT))
                time.sleep(0.05)
                srv.timeout = LIMIT
                srv.accept().close()
                thread.join(LIMIT)
                assert out == [None]
                assert late.is_connected
        finally:
            for s in extra:
                s.close()


# -- resets --------------------------------------------------------------------


def reset(sock: sockspec.Socket) -> None:
    """Close *sock* so that the peer gets a RST, not a FIN."""
    sock.set_option(sockspec.SO_LINGER, 0)
    sock.close()


def test_peer_reset_while_waiting_is_connection_reset_not_end_of_stream() -> None:
    with tcp_pair() as (client, server):
        client.send(b"partial")
        assert server.receive() == b"partial"
        server.timeout = None
        thread, out = in_thread(server.receive)
        wait_until_waiting(server)
        reset(client)
        thread.join(LIMIT)
        assert len(out) == 1
        assert isinstance(out[0], sockspec.ConnectionReset), out


def test_peer_reset_seen_through_a_poller_is_connection_reset() -> None:
    with tcp_pair() as (client, server), sockspec.Poller(BACKEND) as poller:
        server.timeout = 0
        poller.register(server, sockspec.EVENT_READ)
        reset(client)
        assert poller.poll(LIMIT)
        with pytest.raises(sockspec.ConnectionReset):
            server.receive()


def test_send_to_a_reset_peer_fails_with_a_connection_error() -> None:
    with tcp_pair() as (client, server):
        reset(client)
        time.sleep(0.05)
        server.timeout = 0
        error: OSError | None = None
        for _ in range(100):  # the first send may still be accepted
            try:
                server.send(b"x" * 65536)
            except (sockspec.ConnectionReset, sockspec.BrokenPipe) as exc:
                error = exc
                break
        assert error is not None


# -- descriptors -----------------------------------------------------------------


def test_no_descriptor_is_leaked_per_operation() -> None:
    with tcp_pair() as (client, server):
        server.timeout = 0.001
        with pytest.raises(sockspec.Timeout):
            server.receive()  # the one wakeup fd this socket will ever get
        gc.collect()
        before = open_fds()
        for i in range(200):
            with pytest.raises(sockspec.Timeout):
                server.receive()
            client.send(b"%d" % i)
            # A waiting receive again, with room for a loaded machine (two
            # test runs at once in CI): the data is on its way.
            server.timeout = 10
            assert server.receive() == b"%d" % i
            server.timeout = 0
            with pytest.raises(sockspec.WouldBlock):
                server.receive()
            server.timeout = 0.001
        assert server.is_readable is False
        assert client.is_writable is True
        gc.collect()
        assert open_fds() == before


def test_sockets_that_waited_release_everything_on_close(no_fd_leak: None) -> None:
    for _ in range(50):
        with tcp_pair() as (client, server):
            server.timeout = 0.001
            client.timeout = 0.001
            with pytest.raises(sockspec.Timeout):
                server.receive()
            with pytest.raises(sockspec.Timeout):
                client.receive()


def test_a_dropped_socket_does_not_leak_its_wakeup_fd(no_fd_leak: None) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        for _ in range(20):
            s = sockspec.Socket(sockspec.AF_INET, sockspec.SOCK_DGRAM, backend=BACKEND)
            s.bind("127.0.0.1")
            s.timeout = 0.001
            with pytest.raises(sockspec.Timeout):
                s.receive()
            del s
        gc.collect()


# -- Poller ------------------------------------------------------------------------


def test_poller_over_many_sockets_reports_exactly_the_ready_ones(
    no_fd_leak: None,
) -> None:
    count = 300
    rng = random.Random(3)
    with sockspec.Socket(backend=BACKEND, timeout=LIMIT) as srv:
        srv.bind("127.0.0.1")
        srv.listen(count)
        clients: list[sockspec.Socket] = []
        servers: list[sockspec.Socket] = []
        try:
            for _ in range(count):
                c = sockspec.Socket(backend=BACKEND, timeout=LIMIT)
                clients.append(c)
                c.connect("127.0.0.1", srv.local_port)
                servers.append(srv.accept())
            with sockspec.Poller(BACKEND) as poller:
                for i, s in enumerate(servers):
                    s.timeout = 0
                    poller.register(s, sockspec.EVENT_READ, data=i)
                assert len(poller) == count
                assert poller.poll(0) == []
                for _round in range(5):
                    chosen = set(rng.sample(range(count), 25))
                    for i in chosen:
                        clients[i].send(b"ping %d" % i)
                    seen: set[int] = set()
                    for _ in range(100):  # bounded: loopback delivers at once
                        for key, events in poller.poll(LIMIT):
                            assert events == sockspec.EVENT_READ
                            assert key.data in chosen
                            assert key.socket.receive() == b"ping %d" % key.data
                            seen.add(key.data)
                        if seen == chosen:
                            break
                    assert seen == chosen
                    assert poller.poll(0) == []
                # Closing registered sockets drops them from the Poller.
                for s in servers[: count // 2]:
                    s.close()
                assert len(poller) == count - count // 2
                for c in clients[count // 2 :]:
                    c.send(b"!")
                ready: set[int] = set()
                for _ in range(100):
                    for key, _events in poller.poll(LIMIT):
                        assert key.data >= count // 2
                        key.socket.receive()
                        ready.add(key.data)
                    if len(ready) == count - count // 2:
                        break
                assert len(ready) == count - count // 2
        finally:
            for s in clients + servers:
                s.close()


def test_poller_write_events_and_modify() -> None:
    with tcp_pair() as (client, server), sockspec.Poller(BACKEND) as poller:
        client.timeout = 0
        key = poller.register(client, sockspec.EVENT_WRITE, "c")
        assert poller.poll(LIMIT) == [(key, sockspec.EVENT_WRITE)]
        fill_send_buffer(client)
        assert poller.poll(0.05) == []
        key = poller.modify(client, sockspec.EVENT_READ | sockspec.EVENT_WRITE, "c2")
        server.send(b"hi")
        [(got, events)] = poller.poll(LIMIT)
        assert got is key
        assert events == sockspec.EVENT_READ
        assert poller.unregister(client) is key
        assert len(poller) == 0


@pytest.mark.parametrize("backend", ["stdlib", "selectors"])
def test_poller_works_for_both_os_backends(backend: str, no_fd_leak: None) -> None:
    with tcp_pair(backend) as (client, server), sockspec.Poller(backend) as poller:
        poller.register(server, sockspec.EVENT_READ, "srv")
        client.send(b"hello")
        [(key, events)] = poller.poll(LIMIT)
        assert key.data == "srv"
        assert events == sockspec.EVENT_READ
        assert server.receive() == b"hello"


def test_registering_a_socket_of_another_backend_is_a_value_error() -> None:
    with (
        sockspec.Socket(backend="stdlib") as foreign,
        sockspec.Poller(BACKEND) as poller,
    ):
        with pytest.raises(ValueError, match="backend"):
            poller.register(foreign, sockspec.EVENT_READ)
        assert len(poller) == 0
    with (
        sockspec.Socket(backend=BACKEND) as foreign,
        sockspec.Poller("stdlib") as poller,
        pytest.raises(ValueError, match="backend"),
    ):
        poller.register(foreign, sockspec.EVENT_READ)


def test_a_closed_socket_is_dropped_even_if_its_fd_is_reused(no_fd_leak: None) -> None:
    with sockspec.Poller(BACKEND) as poller, tcp_pair() as (_client, server):
        poller.register(server, sockspec.EVENT_READ, "old")
        server.close()
        assert len(poller) == 0
        # A new socket probably gets the same descriptor number.
        with tcp_pair() as (client2, server2):
            poller.register(server2, sockspec.EVENT_READ, "new")
            client2.send(b"y")
            [(key, _events)] = poller.poll(LIMIT)
            assert key.data == "new"
            poller.unregister(server2)
        with pytest.raises(KeyError):
            poller.unregister(server)


# -- the OS backends against each other ---------------------------------------------


@pytest.mark.parametrize(
    ("client_backend", "server_backend"),
    [("stdlib", "selectors"), ("selectors", "stdlib")],
)
def test_os_backends_talk_to_each_other(
    client_backend: str, server_backend: str
) -> None:
    with tcp_pair(client_backend, server_backend) as (client, server):
        assert client.backend == client_backend
        assert server.backend == server_backend
        payload = os.urandom(1 << 20)
        reader, out = in_thread(lambda: drain(server, len(payload)))
        assert client.send(payload) == len(payload)
        reader.join(LIMIT)
        assert out == [len(payload)]
        server.send(b"bye")
        assert client.receive() == b"bye"
