"""Compat sockets do what socket.socket does where CPython's suites look.

Found by running CPython's own test suites on the memory network.  Each
test runs on the real ``socket`` module first (``real``: the reference),
then with the standard modules patched onto each built-in backend.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(30)


def _connected_pair() -> tuple[socket.socket, socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname(), timeout=10)
        server, _ = listener.accept()
    server.settimeout(10)
    return client, server


def test_a_second_object_on_the_same_descriptor(where: str) -> None:
    # test_httplib's test_response_fileno: socket(fileno=response.fileno()),
    # write through it, detach() it; the first object goes on working.
    a, b = _connected_pair()
    with a, b:
        other = socket.socket(fileno=a.fileno())
        assert other.fileno() == a.fileno()
        assert other.getpeername() == a.getpeername()
        other.sendall(b"through the other object ")
        assert other.detach() == a.fileno()
        a.sendall(b"and the first")
        expected = b"through the other object and the first"
        got = b""
        while len(got) < len(expected):
            got += b.recv(100)
        assert got == expected


def test_closing_the_second_object_closes_the_socket(where: str) -> None:
    a, b = _connected_pair()
    with b:
        other = socket.socket(fileno=a.fileno())
        other.close()
        assert b.recv(10) == b""  # the connection ended
        with pytest.raises(OSError, match="Bad file descriptor") as info:
            a.send(b"x")
        assert info.value.errno == errno.EBADF
        with pytest.raises(OSError, match="Bad file descriptor") as info:
            a.close()  # its descriptor is closed already
        assert info.value.errno == errno.EBADF
        assert a.fileno() == -1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_fork_child_is_told_the_memory_network_cannot_follow(
    compat_network: Any,
) -> None:
    # socketserver.ForkingMixIn hands the accepted socket to a child; on the
    # memory network the child must fail at once, naming the limitation,
    # instead of hanging on locks copied mid-use or seeing a reset.
    a, b = _connected_pair()
    with a, b:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report what using the socket raised
            try:
                b.recv(10)
                report = b"no error"
            except OSError as exc:
                report = f"{type(exc).__name__} {exc.errno} {exc}".encode()
            os.write(write_end, report)
            b.close()  # closing the child's copy is allowed
            os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            report = pipe.read()
        os.waitpid(pid, 0)
        assert report.startswith(b"OSError %d " % errno.EOPNOTSUPP), report
        assert b"cannot cross fork()" in report
        assert b"ForkingMixIn" in report
        a.sendall(b"still fine")  # the parent's sockets are untouched
        assert b.recv(10) == b"still fine"


def test_an_unnamed_unix_peer_reads_as_empty_string(where: str, tmp_path: Any) -> None:
    # asyncio's test_open_unix_connection_no_loop_ssl: the server's
    # wrap_socket() asks getpeername() whether the accepted socket is
    # connected; ENOTCONN there meant "not connected", so TLS never started.
    path = str(tmp_path / "sock")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(path)
        listener.listen()
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(path)
            server, address = listener.accept()
            with server:
                assert address == ""
                assert server.getpeername() == ""
                assert server.getsockname() == path
                assert client.getsockname() == ""
                assert client.getpeername() == path
    with (
        socket.socket(socket.AF_UNIX) as lone,
        pytest.raises(OSError, match="not connected") as info,
    ):
        lone.getpeername()
    assert info.value.errno == errno.ENOTCONN


def test_a_detached_socket_object_is_done_with(where: str) -> None:
    # CPython's test_socket testDetach: after detach() the object refuses
    # I/O (EBADF) while the socket lives on under its number.
    a, b = _connected_pair()
    with a:
        number = b.fileno()
        assert b.detach() == number
        assert b.family == socket.AF_INET
        with pytest.raises(OSError, match="Bad file descriptor") as info:
            b.recv(10)
        assert info.value.errno == errno.EBADF
        # urllib3's tests tell a socket that ssl wrapped (and so detached)
        # from a live one by settimeout() raising OSError.
        for call in (lambda: b.settimeout(1.0), lambda: b.setblocking(False)):
            with pytest.raises(OSError, match="Bad file descriptor") as info:
                call()
            assert info.value.errno == errno.EBADF
        b.close()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM, fileno=number) as again:
            a.sendall(b"still there")
            assert again.recv(20) == b"still there"


def test_shutdown_how_out_of_c_int_range_overflows(where: str) -> None:
    a, b = _connected_pair()
    with a, b:
        for how in (2**31, 2 + 2**32):
            with pytest.raises(OverflowError):
                a.shutdown(how)
        with pytest.raises(OSError, match="Invalid argument"):
            a.shutdown(3)


def test_a_unix_path_reads_back_as_the_kernel_decodes_it(
    where: str, tmp_path: Any
) -> None:
    # CPython's test_socket testSurrogateescapeBind: a str path with
    # surrogate escapes names the same bytes; getsockname() decodes them.
    path = str(tmp_path / "sock-\u00e0\u00f2")
    escaped = os.fsencode(path).decode("ascii", "surrogateescape")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(escaped)
        assert sock.getsockname() == path


def test_a_bound_unix_path_is_a_file_until_unlinked(where: str, tmp_path: Any) -> None:
    # Code around UNIX servers treats the path as a file: asyncio and most
    # servers remove a stale one (os.path.exists / os.stat, os.unlink)
    # before binding, and tests remove theirs afterwards.
    path = str(tmp_path / "app.sock")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(path)
        server.listen(1)
        assert stat.S_ISSOCK(os.stat(path).st_mode)
    # The file outlives the socket: the name stays taken, connects refused.
    with socket.socket(socket.AF_UNIX) as again:
        with pytest.raises(OSError, match="in use") as info:
            again.bind(path)
        assert info.value.errno == errno.EADDRINUSE
    with socket.socket(socket.AF_UNIX) as client, pytest.raises(ConnectionRefusedError):
        client.connect(path)
    os.unlink(path)
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(path)  # free again
        server.listen(1)
        os.unlink(path)  # the socket lives on, nameless
        with (
            socket.socket(socket.AF_UNIX) as client,
            pytest.raises(FileNotFoundError),
        ):
            client.connect(path)
    # A file of another kind is no listener; a missing directory is ENOENT.
    plain = tmp_path / "plain"
    plain.write_text("x")
    with socket.socket(socket.AF_UNIX) as client, pytest.raises(ConnectionRefusedError):
        client.connect(str(plain))
    with socket.socket(socket.AF_UNIX) as sock, pytest.raises(FileNotFoundError):
        sock.bind(str(tmp_path / "missing" / "app.sock"))
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        with pytest.raises(OSError, match="in use") as info:
            sock.bind(str(plain))
        assert info.value.errno == errno.EADDRINUSE


def test_sendmsg_and_recvmsg_without_ancillary_data(where: str) -> None:
    a, b = _connected_pair()
    with a, b:
        assert a.sendmsg([b"ab", memoryview(b"cd"), bytearray(b"e")]) == 5
        assert b.recvmsg(10, 100) == (b"abcde", [], 0, None)
        a.sendmsg([b"xyz"])
        first, second = bytearray(2), bytearray(5)
        assert b.recvmsg_into([first, second]) == (3, [], 0, None)
        assert (first, second[:1]) == (b"xy", b"z")
        with pytest.raises(ValueError, match="negative buffer size"):
            b.recvmsg(-1)
        with pytest.raises(ValueError, match="ancillary data buffer length"):
            b.recvmsg(1, -1)
        with pytest.raises(TypeError, match="bytes-like object is required"):
            a.sendmsg(b"not a list of buffers")
        with pytest.raises(TypeError, match="read-write buffers"):
            b.recvmsg_into([b"read-only"])


def test_recvmsg_flags_a_cut_datagram(where: str) -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender,
    ):
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(5)
        target = receiver.getsockname()
        assert sender.sendmsg([b"hello", b"world"], [], 0, target) == 10
        data, ancdata, flags, source = receiver.recvmsg(4)
        assert (data, ancdata, flags) == (b"hell", [], socket.MSG_TRUNC)
        assert source == ("127.0.0.1", sender.getsockname()[1])
        sender.sendmsg([b"hello"], [], 0, target)
        assert receiver.recvmsg(5)[:3] == (b"hello", [], 0)
        sender.sendto(b"hello", target)
        head, tail = bytearray(3), bytearray(10)
        assert receiver.recvmsg_into([head, tail])[:3] == (5, [], 0)
        assert (head, tail[:2]) == (b"hel", b"lo")
