"""Behaviour the OS backends promise beyond the conformance suite."""

from __future__ import annotations

import os
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

import sockspec
from _pingpong import connected_pair

OS_BACKENDS = ["stdlib", "selectors"]


@pytest.fixture(autouse=True)
def no_thread_leak() -> Iterator[None]:
    """Fail a test that leaves threads behind (each gets 5 s to finish)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5
    for thread in set(threading.enumerate()) - before:
        thread.join(max(0.0, deadline - time.monotonic()))
    left = [t.name for t in set(threading.enumerate()) - before]
    assert left == [], f"threads left running: {left}"


def _pair(backend: str) -> tuple[sockspec.Socket, sockspec.Socket]:
    return connected_pair(backend, timeout=5)


@pytest.mark.skipif(not hasattr(os, "sendfile"), reason="no os.sendfile here")
@pytest.mark.parametrize("backend", OS_BACKENDS)
def test_send_file_takes_the_zero_copy_path(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = os.sendfile

    def counting(*args: Any, **kwargs: Any) -> int:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(os, "sendfile", counting)
    data = os.urandom(256 * 1024)
    client, server = _pair(backend)
    received = bytearray()
    with client, server, tempfile.TemporaryFile() as file:
        file.write(data)
        file.seek(1000)
        result: list[int] = []
        sender = threading.Thread(target=lambda: result.append(client.send_file(file)))
        sender.start()
        while len(received) < len(data) - 1000:
            chunk = server.receive()
            assert chunk, "end of stream before the whole file arrived"
            received += chunk
        sender.join(5)
        assert result == [len(data) - 1000]
        assert file.tell() == len(data)
    assert bytes(received) == data[1000:]
    assert calls, "send_file did not use os.sendfile"


# -- issue 10: closing, timeouts and threads ---------------------------------


def _unix_path() -> str:
    return os.path.join(tempfile.mkdtemp(prefix="sockspec-"), "s")


def _fork() -> int:
    with warnings.catch_warnings():
        # 3.12+ warns about forking with threads; the children here only
        # touch their own sockets and leave with os._exit.
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()


def _fork_and_close(sock: sockspec.Socket) -> None:
    """Fork a child that closes its copy of *sock* and exits; wait for it."""
    pid = _fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            sock.close()
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("backend", OS_BACKENDS)
def test_a_child_closing_its_copy_leaves_the_parents_connection_alone(
    backend: str, no_fd_leak: None
) -> None:
    client, server = _pair(backend)
    with client, server:
        _fork_and_close(server)
        server.timeout = 0.2
        with pytest.raises(sockspec.Timeout):
            server.receive(100)  # not a false end of stream
        client.send(b"still here")
        server.timeout = 10
        assert server.receive(100) == b"still here"
        server.send(b"reply")
        assert client.receive(100) == b"reply"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("backend", OS_BACKENDS)
def test_a_child_closing_its_inherited_listener_leaves_the_parents_alone(
    backend: str, no_fd_leak: None
) -> None:
    with sockspec.Socket(backend=backend, timeout=5) as listener:
        listener.bind("127.0.0.1")
        listener.listen()
        _fork_and_close(listener)
        with sockspec.Socket(backend=backend, timeout=5) as client:
            client.connect("127.0.0.1", listener.local_port)
            listener.accept().close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("backend", OS_BACKENDS)
def test_close_waking_a_blocked_thread_is_invisible_to_a_process_sharing_it(
    backend: str, no_fd_leak: None
) -> None:
    client, server = _pair(backend)
    client.timeout = None
    go_r, go_w = os.pipe()
    pid = _fork()
    if pid == 0:  # pragma: no cover - the child keeps its copy, then uses it
        try:
            os.close(go_w)
            os.read(go_r, 1)
            client.send(b"child got " + client.receive(100))
        finally:
            os._exit(0)
    os.close(go_r)
    try:
        with server:
            outcome: list[BaseException | int] = []

            def writer() -> None:
                try:
                    outcome.append(client.send(bytes(64 << 20)))
                except BaseException as exc:
                    outcome.append(exc)

            thread = threading.Thread(target=writer)
            thread.start()
            thread.join(0.3)
            assert thread.is_alive(), "the send did not block on a full buffer"
            client.close()
            thread.join(5)
            assert not thread.is_alive(), "close() did not wake the writer"
            assert len(outcome) == 1
            assert isinstance(outcome[0], sockspec.SocketClosed), outcome
            # The child still holds the connection: no end of stream here.
            server.timeout = 0.3
            for _ in range(1000):  # bounded: 64 MiB at most
                try:
                    assert server.receive(1 << 20) != b"", "a false end of stream"
                except sockspec.Timeout:
                    break
            server.timeout = 5
            server.send(b"data")
            os.write(go_w, b"x")
            assert server.receive(100) == b"child got data"
    finally:
        os.close(go_w)
        os.waitpid(pid, 0)


def _fill_unix_datagram_receiver(
    backend: str,
) -> tuple[sockspec.Socket, sockspec.Socket, str]:
    path = _unix_path()
    receiver = sockspec.Socket(sockspec.AF_UNIX, sockspec.SOCK_DGRAM, backend=backend)
    receiver.bind(path)
    sender = sockspec.Socket(
        sockspec.AF_UNIX, sockspec.SOCK_DGRAM, backend=backend, timeout=0
    )
    for _ in range(100_000):  # bounded: the receive queue fills long before
        try:
            sender.send_to(path, None, b"x" * 1024)
        except sockspec.WouldBlock:
            break
    else:
        pytest.fail("the receiver never filled up")
    return sender, receiver, path


def _closing_wakes(sock: sockspec.Socket, call: Any) -> None:
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(0.2)
    assert thread.is_alive(), f"the call did not block: {outcome}"
    sock.close()
    thread.join(5)
    assert not thread.is_alive(), "close() did not wake the blocked thread"
    assert len(outcome) == 1, outcome
    assert isinstance(outcome[0], sockspec.SocketClosed), outcome


@pytest.mark.parametrize("backend", OS_BACKENDS)
def test_close_wakes_a_unix_datagram_send_to_a_full_receiver(
    backend: str, no_fd_leak: None
) -> None:
    sender, receiver, path = _fill_unix_datagram_receiver(backend)
    with sender, receiver:
        sender.timeout = None
        _closing_wakes(sender, lambda: sender.send_to(path, None, b"y" * 1024))
    os.unlink(path)
    os.rmdir(os.path.dirname(path))


@pytest.mark.parametrize("backend", OS_BACKENDS)
def test_close_wakes_a_unix_connect_to_a_full_backlog(
    backend: str, no_fd_leak: None
) -> None:
    path = _unix_path()
    listener = sockspec.Socket(sockspec.AF_UNIX, backend=backend)
    listener.bind(path)
    listener.listen(1)
    queued: list[sockspec.Socket] = []
    try:
        for _ in range(64):  # bounded: a backlog of 1 fills after two
            s = sockspec.Socket(sockspec.AF_UNIX, backend=backend, timeout=0)
            queued.append(s)
            try:
                s.connect(path, None)
            except sockspec.WouldBlock:
                break
        else:
            pytest.fail("the backlog never filled up")
        blocked = sockspec.Socket(sockspec.AF_UNIX, backend=backend)
        with blocked:
            _closing_wakes(blocked, lambda: blocked.connect(path, None))
    finally:
        for s in queued:
            s.close()
        listener.close()
        os.unlink(path)
        os.rmdir(os.path.dirname(path))


@pytest.mark.parametrize("backend", OS_BACKENDS)
def test_the_socket_modules_default_timeout_does_not_leak_in(
    backend: str, no_fd_leak: None
) -> None:
    import socket

    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(0.05)
    try:
        with sockspec.Socket(backend=backend) as listener:
            listener.bind("127.0.0.1")
            listener.listen()
            client = sockspec.Socket(backend=backend)
            client.connect("127.0.0.1", listener.local_port)
            server = listener.accept()
        with client, server:
            got: list[bytes] = []
            thread = threading.Thread(target=lambda: got.append(server.receive(10)))
            thread.start()
            thread.join(0.3)
            assert thread.is_alive(), "receive() with timeout=None gave up"
            client.send(b"late")
            thread.join(5)
            assert got == [b"late"]
            fresh = sockspec.Socket(backend=backend)
            with fresh:
                assert fresh.timeout is None
    finally:
        socket.setdefaulttimeout(old)


@pytest.mark.parametrize("backend", OS_BACKENDS)
def test_a_send_with_a_timeout_leaves_a_concurrent_receive_alone(
    backend: str, no_fd_leak: None
) -> None:
    client, server = _pair(backend)
    with client, server:
        client.timeout = 1.0
        sent: list[BaseException] = []

        def sender() -> None:
            try:
                client.send(bytes(64 << 20))
            except BaseException as exc:
                sent.append(exc)

        sending = threading.Thread(target=sender)
        sending.start()
        # Drain slowly for a while, so the send keeps going with less and
        # less of its second left.
        deadline = time.monotonic() + 0.6
        while time.monotonic() < deadline:
            server.receive(65536)
            time.sleep(0.01)
        got: list[BaseException | bytes] = []

        def reader() -> None:
            try:
                got.append(client.receive(10))
            except BaseException as exc:
                got.append(exc)

        reading = threading.Thread(target=reader)
        started = time.monotonic()
        reading.start()
        sending.join(5)
        assert len(sent) == 1, sent
        assert isinstance(sent[0], sockspec.Timeout), sent
        reading.join(max(0.0, started + 0.7 - time.monotonic()))
        assert reading.is_alive(), f"the receive gave up early: {got}"
        server.timeout = 0
        server.send(b"ok")
        reading.join(5)
        assert got == [b"ok"]


@pytest.mark.parametrize("backend", OS_BACKENDS)
@pytest.mark.parametrize("kind", [sockspec.SOCK_STREAM, sockspec.SOCK_DGRAM])
def test_connect_with_a_timeout_leaves_the_os_sockets_timeout_alone(
    backend: str, kind: sockspec.SocketType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    with sockspec.Socket(sockspec.AF_INET, kind, backend=backend) as peer:
        peer.bind("127.0.0.1")
        if kind is sockspec.SOCK_STREAM:
            peer.listen()
        with sockspec.Socket(sockspec.AF_INET, kind, backend=backend) as sock:
            changes: list[object] = []
            real = socket.socket.settimeout

            def spy(self: socket.socket, value: float | None) -> None:
                changes.append(value)
                real(self, value)

            monkeypatch.setattr(socket.socket, "settimeout", spy)
            sock.connect("127.0.0.1", peer.local_port, timeout=2)
            monkeypatch.undo()
            assert changes == [], "connect() changed the OS socket's timeout"


@pytest.mark.parametrize("backend", OS_BACKENDS)
def test_poll_during_modify_from_another_thread_reports_only_watched_events(
    backend: str, no_fd_leak: None
) -> None:
    client, server = _pair(backend)
    server.send(b"x")  # the client is readable and writable from now on
    errors: list[BaseException] = []
    reported: list[tuple[sockspec.PollKey, int]] = []
    stop = time.monotonic() + 0.5
    with client, server, sockspec.Poller(backend) as poller:
        poller.register(client, sockspec.EVENT_READ)

        def flip() -> None:
            try:
                while time.monotonic() < stop:
                    poller.modify(client, sockspec.EVENT_WRITE)
                    poller.modify(client, sockspec.EVENT_READ)
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=flip)
        thread.start()
        try:
            while time.monotonic() < stop:
                reported.extend(poller.poll(0))
        except BaseException as exc:
            errors.append(exc)
        thread.join(5)
        # Whether the race reported anything depends on the scheduling;
        # once it is over, the Poller must still work.
        key = poller.modify(client, sockspec.EVENT_READ)
        assert poller.poll(0) == [(key, sockspec.EVENT_READ)]
    assert errors == []
    for key, events in reported:
        assert events, f"{key} reported with no events"
        assert not events & ~key.events, f"{events} reported for {key}"


@pytest.mark.parametrize("backend", OS_BACKENDS)
def test_a_poller_dropped_without_close_releases_its_descriptors(
    backend: str, no_fd_leak: None
) -> None:
    client, server = _pair(backend)
    with client, server:
        poller = sockspec.Poller(backend)
        poller.register(client, sockspec.EVENT_READ)
        assert poller.poll(0.01) == []  # a wait: the wakeup pipe exists now
        del poller


@pytest.mark.parametrize("backend", OS_BACKENDS)
def test_a_unix_datagram_send_to_a_full_receiver_sleeps(
    backend: str, no_fd_leak: None
) -> None:
    sender, receiver, path = _fill_unix_datagram_receiver(backend)
    with sender, receiver:
        sender.timeout = 0.5
        wall, cpu = time.monotonic(), time.process_time()
        with pytest.raises(sockspec.Timeout):
            sender.send_to(path, None, b"y" * 1024)
        wall, cpu = time.monotonic() - wall, time.process_time() - cpu
        assert wall >= 0.45
        assert cpu < 0.2 * wall, f"{cpu:.3f} s of CPU in {wall:.3f} s of waiting"
        # Room in the receiver ends the wait well before the deadline.
        sender.timeout = 5
        timer = threading.Timer(0.2, lambda: receiver.receive(2048))
        timer.start()
        started = time.monotonic()
        assert sender.send_to(path, None, b"z" * 1024) == 1024
        timer.join(5)
        assert time.monotonic() - started < 2
    os.unlink(path)
    os.rmdir(os.path.dirname(path))


@pytest.mark.parametrize("backend", OS_BACKENDS)
def test_a_refused_shutdown_still_ends_writing_as_linux_records_it(
    backend: str,
) -> None:
    # Linux answers shutdown() on an unconnected TCP socket with ENOTCONN but
    # records it: after a later connect, send fails with EPIPE.  The socket
    # must then not call itself writable.
    with sockspec.Socket(backend=backend, timeout=5) as listener:
        listener.bind("127.0.0.1")
        listener.listen()
        with sockspec.Socket(backend=backend, timeout=5) as sock:
            with pytest.raises(sockspec.NotConnected):
                sock.shutdown(sockspec.SHUT_WR)
            sock.connect("127.0.0.1", listener.local_port)
            with listener.accept():
                assert not sock.is_writable
                with pytest.raises(sockspec.BrokenPipe):
                    sock.send(b"x")


@pytest.mark.parametrize("backend", OS_BACKENDS)
@pytest.mark.parametrize("timeout", [None, 2.0, 0])
def test_a_refused_connect_forgets_an_earlier_shutdown_as_linux_does(
    backend: str, timeout: float | None
) -> None:
    # The connect() that reports a failed attempt runs tcp_disconnect, which
    # clears the shutdown flags: the next connection can send, so the
    # socket must call itself writable again.
    with sockspec.Socket(backend=backend) as gone:
        gone.bind("127.0.0.1")
        port = gone.local_port
    with sockspec.Socket(backend=backend, timeout=5) as listener:
        listener.bind("127.0.0.1")
        listener.listen()
        with sockspec.Socket(backend=backend, timeout=timeout) as sock:
            with pytest.raises(sockspec.NotConnected):
                sock.shutdown(sockspec.SHUT_WR)
            if timeout == 0:
                with pytest.raises(sockspec.WouldBlock):
                    sock.connect("127.0.0.1", port)
                sock.timeout = 2.0
            with pytest.raises(sockspec.ConnectionRefused):
                sock.connect("127.0.0.1", port)
            sock.connect("127.0.0.1", listener.local_port)
            with listener.accept() as server:
                assert sock.is_writable
                assert sock.send(b"x") == 1
                assert server.receive() == b"x"
