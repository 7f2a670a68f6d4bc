"""The compat socket behaves like the standard one, on every backend."""

from __future__ import annotations

import errno
import os
import select
import socket
import threading
from typing import Any

import pytest

from sockspec import compat

pytestmark = pytest.mark.timeout(30)


def _pair(listener: Any) -> tuple[Any, Any]:
    client = socket.create_connection(listener.getsockname()[:2], timeout=5)
    conn, _ = listener.accept()
    return client, conn


def test_patched_names_are_the_compat_objects(patched: Any) -> None:
    assert socket.socket is compat.socket
    assert socket.create_connection is compat.create_connection
    assert select.select is compat.select
    with socket.socket() as sock:
        assert isinstance(sock, compat.socket)


def test_echo_and_addresses(patched: Any) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client, conn = _pair(listener)
        with client, conn:
            client.sendall(b"ping")
            assert conn.recv(10) == b"ping"
            assert client.getpeername() == listener.getsockname()
            assert conn.getpeername() == client.getsockname()
            conn.shutdown(socket.SHUT_WR)
            assert client.recv(10) == b""


def test_ipv6_addresses_are_four_tuples(patched: Any) -> None:
    with socket.socket(socket.AF_INET6) as sock:
        assert sock.getsockname() == ("::", 0, 0, 0)
        sock.bind(("::1", 0))
        host, port, flow, scope = sock.getsockname()
        assert (host, flow, scope) == ("::1", 0, 0)
        assert port > 0


def test_timeout_is_the_standard_timeout(patched: Any) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client, conn = _pair(listener)
        with client, conn:
            client.settimeout(0.2)
            with pytest.raises(TimeoutError) as info:
                client.recv(1)
            assert info.type is TimeoutError
            assert info.value.errno is None
            assert info.value.args == ("timed out",)


def test_non_blocking_recv_raises_eagain(patched: Any) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client, conn = _pair(listener)
        with client, conn:
            client.setblocking(False)
            assert client.getblocking() is False
            assert client.gettimeout() == 0.0
            with pytest.raises(BlockingIOError) as info:
                client.recv(1)
            assert info.value.errno == errno.EAGAIN


def test_refused_connection(patched: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError) as info:
        sock.connect(("127.0.0.1", port))
    assert info.type is ConnectionRefusedError
    assert info.value.errno == errno.ECONNREFUSED
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) == errno.ECONNREFUSED


def test_non_blocking_connect_then_so_error(patched: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with socket.socket() as sock:
        sock.setblocking(False)
        code = sock.connect_ex(("127.0.0.1", port))
        if code:  # a backend may refuse at once, as Linux loopback can
            assert code in (errno.EINPROGRESS, errno.ECONNREFUSED)
        if code == errno.EINPROGRESS:
            _, writable, _ = select.select([], [sock], [], 5)
            assert writable == [sock]
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        assert code == errno.ECONNREFUSED


def test_non_blocking_connect_succeeds(patched: Any) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener, socket.socket() as sock:
        sock.setblocking(False)
        assert sock.connect_ex(listener.getsockname()) in (0, errno.EINPROGRESS)
        _, writable, _ = select.select([], [sock.fileno()], [], 5)
        assert writable == [sock.fileno()]
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
        conn, _ = listener.accept()
        with conn:
            sock.setblocking(True)
            sock.sendall(b"x")
            assert conn.recv(1) == b"x"


def test_fileno_is_unique_among_real_and_compat(patched: Any, no_fd_leak: None) -> None:
    socks = [socket.socket() for _ in range(5)]
    r, w = os.pipe()
    try:
        numbers = {s.fileno() for s in socks}
        assert len(numbers) == 5
        assert r not in numbers
        assert w not in numbers
    finally:
        os.close(r)
        os.close(w)
        for s in socks:
            s.close()
    assert all(s.fileno() == -1 for s in socks)


def test_makefile_text_and_binary(patched: Any) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client, conn = _pair(listener)
        with client, conn:
            out = client.makefile("w", encoding="utf-8")
            out.write("héllo\nworld\n")
            out.flush()
            out.close()
            reader = conn.makefile("rb")
            assert reader.readline() == "héllo\n".encode()
            assert reader.readline() == b"world\n"
            reader.close()


def test_close_waits_for_makefile(patched: Any, no_fd_leak: None) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client, conn = _pair(listener)
        reader = conn.makefile("rb")
        conn.close()  # the file keeps the connection open
        client.sendall(b"still here\n")
        assert reader.readline() == b"still here\n"
        reader.close()
        assert conn.fileno() == -1
        assert client.recv(1) == b""
        client.close()


def test_dup_and_detach(patched: Any, no_fd_leak: None) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client, conn = _pair(listener)
        twin = client.dup()
        assert twin.fileno() != client.fileno()
        client.close()
        twin.sendall(b"a")
        assert conn.recv(1) == b"a"
        number = twin.detach()
        assert twin.fileno() == -1
        again = socket.socket(fileno=number)
        again.sendall(b"b")
        assert conn.recv(1) == b"b"
        again.close()
        assert conn.recv(1) == b""
        conn.close()


def test_wrapping_an_attached_number_names_the_limitation(
    patched: Any, no_fd_leak: None
) -> None:
    """socket(fileno=n) of a live compat socket: Linux would share the descriptor."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        with pytest.raises(OSError, match=r"detach\(\) first") as raised:
            socket.socket(fileno=listener.fileno())
        assert raised.value.errno == errno.ENOTSOCK
        assert listener.accept  # the listener is untouched
        listener.settimeout(0)
        with pytest.raises(BlockingIOError):
            listener.accept()


def test_datagrams(patched: Any) -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b,
    ):
        a.bind(("127.0.0.1", 0))
        b.bind(("127.0.0.1", 0))
        b.settimeout(5)
        a.sendto(b"one", b.getsockname())
        data, sender = b.recvfrom(100)
        assert (data, sender) == (b"one", a.getsockname())
        buf = bytearray(10)
        a.sendto(b"two", b.getsockname())
        assert b.recvfrom_into(buf) == (3, a.getsockname())


def test_bad_arguments_raise_what_the_standard_module_raises(patched: Any) -> None:
    with socket.socket() as sock:
        with pytest.raises(OverflowError):
            sock.connect(("127.0.0.1", 70000))
        with pytest.raises(TypeError):
            sock.connect("127.0.0.1:80")
        with pytest.raises(TypeError):
            sock.connect(("127.0.0.1", "80"))
        with pytest.raises(ValueError, match="out of range"):
            sock.settimeout(-1)
        with pytest.raises(ValueError, match="negative"):
            sock.recv(-1)
    with pytest.raises(OSError, match="Bad file descriptor") as info:
        sock.recv(1)
    assert info.value.errno == errno.EBADF


def test_selector_echo(patched: Any) -> None:
    import selectors

    with (
        socket.create_server(("127.0.0.1", 0)) as listener,
        selectors.DefaultSelector() as sel,
    ):
        listener.setblocking(False)
        sel.register(listener, selectors.EVENT_READ, "accept")
        clients = [
            socket.create_connection(listener.getsockname(), timeout=5)
            for _ in range(3)
        ]
        conns: list[Any] = []
        for i, c in enumerate(clients):
            c.sendall(b"m%d" % i)
        answered = 0
        rounds = 0
        while answered < 3 and rounds < 100:
            rounds += 1
            for key, _ in sel.select(timeout=5):
                if key.data == "accept":
                    conn, _ = listener.accept()
                    conn.setblocking(False)
                    conns.append(conn)
                    sel.register(conn, selectors.EVENT_READ, "echo")
                else:
                    data = key.fileobj.recv(100)
                    key.fileobj.sendall(data)
                    answered += 1
        assert sorted(c.recv(10) for c in clients) == [b"m0", b"m1", b"m2"]
        for s in clients + conns:
            sel.get_map().get(s) and sel.unregister(s)
            s.close()


def test_socketpair(patched: Any) -> None:
    a, b = socket.socketpair()
    with a, b:
        a.sendall(b"x")
        assert b.recv(1) == b"x"


def test_threads_block_and_wake(patched: Any) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client, conn = _pair(listener)
        got: list[bytes] = []
        reader = threading.Thread(target=lambda: got.append(conn.recv(10)))
        reader.start()
        client.sendall(b"late")
        reader.join(10)
        assert got == [b"late"]
        client.close()
        conn.close()


def test_sendfile_from_an_offset(patched: Any, tmp_path: Any) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(bytes(range(256)) * 400)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client, conn = _pair(listener)
        with client, conn, open(path, "rb") as f:
            assert client.sendfile(f, offset=100, count=50_000) == 50_000
            assert f.tell() == 50_100
            client.shutdown(socket.SHUT_WR)
            got = b""
            while chunk := conn.recv(65536):
                got += chunk
            assert got == path.read_bytes()[100:50_100]


def test_options_known_and_unknown(patched: Any) -> None:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) != 0
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) == socket.SOCK_STREAM
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
        pytest.raises(OSError, match="Protocol not available"),
    ):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def test_unbuffered_makefile_and_repr(patched: Any) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client, conn = _pair(listener)
        with client, conn:
            raw = client.makefile("wb", buffering=0)
            raw.write(b"abc")
            raw.close()
            assert conn.recv(3) == b"abc"
            assert "laddr=('127.0.0.1'" in repr(client)
            assert "backend=" in repr(client)
    assert "[closed]" in repr(client)


def test_select_mixes_real_descriptors_and_compat_sockets(patched: Any) -> None:
    import selectors

    r, w = os.pipe()
    try:
        with socket.create_server(("127.0.0.1", 0)) as listener:
            client, conn = _pair(listener)
            with client, conn, selectors.DefaultSelector() as sel:
                assert select.select([r, conn], [], [], 0) == ([], [], [])
                os.write(w, b"p")
                assert select.select([r, conn], [], [], 5)[0] == [r]
                os.read(r, 1)
                client.sendall(b"s")
                assert select.select([r, conn], [], [], 5)[0] == [conn]
                sel.register(r, selectors.EVENT_READ, "pipe")
                sel.register(conn, selectors.EVENT_READ, "sock")
                assert [k.data for k, _ in sel.select(5)] == ["sock"]
                conn.recv(1)
                os.write(w, b"q")
                assert [k.data for k, _ in sel.select(5)] == ["pipe"]
                sel.unregister(r)
                sel.unregister(conn)
    finally:
        os.close(r)
        os.close(w)
