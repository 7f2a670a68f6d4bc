"""The compat SSLSocket does what ssl.SSLSocket does where CPython's suites look.

Found by running CPython's test_poplib, test_imaplib and test_ftplib on the
memory network.  Each test runs on the real ``socket``/``ssl`` pair first
(``real``: the reference) and then with the standard modules patched onto
each built-in backend, so the compat socket is held to what ``ssl`` does.
"""

from __future__ import annotations

import errno
import select
import socket
import ssl
import struct
import sys
import threading
from typing import Any

import pytest
import trustme

pytestmark = pytest.mark.timeout(60)

#: What ssl raises for a connection reset under a TLS read: until Python
#: 3.13 (OpenSSL 3) an end of stream without close_notify.
RESET: type[OSError] = (
    ssl.SSLEOFError if sys.version_info < (3, 13) else ConnectionResetError
)


@pytest.fixture(scope="module")
def contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """``(server context, client context)`` for ``localhost``."""
    ca = trustme.CA()
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost").configure_cert(server)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ca.configure_trust(client)
    return server, client


def _connected_pair() -> tuple[socket.socket, socket.socket]:
    """A TCP connection over loopback (socketpair would not be TCP on Linux)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname(), timeout=10)
        server, _ = listener.accept()
    server.settimeout(10)
    return client, server


def _tls_pair(
    contexts: tuple[ssl.SSLContext, ssl.SSLContext], **server_kwargs: Any
) -> tuple[Any, Any]:
    """A TLS connection, handshake done: ``(client, server)``."""
    server_ctx, client_ctx = contexts
    a, b = _connected_pair()
    done: list[Any] = []
    shake = threading.Thread(
        target=lambda: done.append(
            server_ctx.wrap_socket(b, server_side=True, **server_kwargs)
        )
    )
    shake.start()
    client = client_ctx.wrap_socket(a, server_hostname="localhost")
    shake.join(10)
    return client, done[0]


def test_wrap_without_handshake_on_connect_reads_nothing(
    where: str, contexts: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    # test_poplib/test_imaplib's asyncore servers wrap with
    # do_handshake_on_connect=False and drive the handshake from their loop:
    # wrap_socket must not read what the client already sent.
    server_ctx, _ = contexts
    client, server = _connected_pair()
    with client, server:
        client.sendall(b"not a TLS record\r\n")
        assert select.select([server], [], [], 10)[0]  # it is there to read
        tls = server_ctx.wrap_socket(
            server, server_side=True, do_handshake_on_connect=False
        )
        with tls:
            with pytest.raises(ssl.SSLError) as info:
                tls.do_handshake()  # the garbage is read here, not before
            assert not isinstance(info.value, ssl.SSLWantReadError)
            assert tls.fileno() >= 0  # a failed handshake does not close it


def test_isinstance_sslsocket(
    where: str, contexts: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    # ftplib.FTP_TLS, test_poplib and asyncio decide by this check.
    client, server = _tls_pair(contexts)
    with client, server:
        assert isinstance(client, ssl.SSLSocket)
        assert isinstance(server, ssl.SSLSocket)
        assert isinstance(client, socket.socket)
    a, b = _connected_pair()
    with a, b:
        assert not isinstance(a, ssl.SSLSocket)


def test_shutdown_sends_no_close_notify(
    where: str, contexts: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    # ssl.SSLSocket.shutdown() shuts the TCP connection down and sends no
    # TLS alert: a peer that insists on close_notify sees a truncation.
    client, server = _tls_pair(contexts, suppress_ragged_eofs=False)
    with client, server:
        client.sendall(b"last words")
        client.shutdown(socket.SHUT_RDWR)
        assert server.recv(100) == b"last words"
        with pytest.raises(ssl.SSLEOFError):
            server.recv(100)


def test_shutdown_after_the_peer_closed_does_not_fail(
    where: str, contexts: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    # imaplib's logout(): the server says BYE and closes; the client's
    # shutdown must not raise a TLS error (it raised
    # APPLICATION_DATA_AFTER_CLOSE_NOTIFY on compat sockets).
    client, server = _tls_pair(contexts)
    with client:
        with server:
            server.sendall(b"* BYE\r\n")
        assert client.recv(100) == b"* BYE\r\n"
        assert client.recv(100) == b""
        # OpenSSL answered the EOF with an alert, the closed peer reset the
        # connection: ENOTCONN, which imaplib expects; never a TLS error.
        with pytest.raises(OSError, match="not connected") as info:
            client.shutdown(socket.SHUT_RDWR)
        assert type(info.value) is OSError
        assert info.value.errno == errno.ENOTCONN


def test_close_sends_no_close_notify(
    where: str, contexts: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    # ssl.SSLSocket.close() frees the TLS state without an alert; only
    # unwrap() ends TLS cleanly.
    client, server = _tls_pair(contexts, suppress_ragged_eofs=False)
    with server:
        client.sendall(b"bye")
        client.close()  # with the session tickets unread: a reset
        assert server.recv(100) == b"bye"
        with pytest.raises(RESET):
            server.recv(100)


def test_a_reset_under_tls_reads_as_a_truncation(
    where: str, contexts: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    # ssl on OpenSSL 3 turns ECONNRESET in a TLS read into an EOF without
    # close_notify (SSLEOFError, or b"" with suppress_ragged_eofs) until
    # Python 3.13, which raises ConnectionResetError.
    for suppress in (False, True):
        client, server = _tls_pair(contexts, suppress_ragged_eofs=suppress)
        with server:
            client.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            client.close()  # linger 0: a reset
            if suppress and RESET is ssl.SSLEOFError:
                assert server.recv(100) == b""
            else:
                with pytest.raises(RESET):
                    server.recv(100)


def test_unwrap_returns_the_same_socket(
    where: str, contexts: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    # ftplib.FTP_TLS.ccc() does self.sock = self.sock.unwrap(); CPython's
    # test_ftplib then expects a second unwrap() to raise ValueError, and its
    # server checks sock._sslobj to know whether TLS is still on.
    client, server = _tls_pair(contexts)
    with client, server:
        assert client._sslobj is not None
        other = threading.Thread(target=server.unwrap)
        other.start()
        plain = client.unwrap()
        other.join(10)
        assert plain is client
        assert client._sslobj is None
        assert isinstance(client, ssl.SSLSocket)
        with pytest.raises(ValueError, match="No SSL wrapper"):
            client.unwrap()
        client.sendall(b"in the clear")
        assert server.recv(100) == b"in the clear"


def test_after_close_nothing_to_tell_and_read_write_refused(
    where: str, contexts: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    # CPython's test_ssl: test_version_basic, test_read_write_after_close_...
    client, server = _tls_pair(contexts)
    with server:
        assert client.version() is not None
        client.close()
        assert client.version() is None
        assert client.cipher() is None
        assert client._sslobj is None
        with pytest.raises(ValueError, match="Read on closed"):
            client.read(10)
        with pytest.raises(ValueError, match="Write on closed"):
            client.write(b"x")


def test_read_into_a_buffer_with_no_length(
    where: str, contexts: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    # CPython's test_ssl test_recv_send: read(-1, buffer) fills the buffer.
    client, server = _tls_pair(contexts)
    with client, server:
        server.sendall(b"0123456789")
        buffer = bytearray(4)
        assert client.read(-1, buffer) == 4
        assert buffer == b"0123"
        with pytest.raises(ValueError, match="negative"):
            client.read(-1)


def test_server_hostname_is_kept_as_its_idna_form(
    where: str, contexts: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    # CPython's test_ssl test_check_hostname_idn.
    _, client_ctx = contexts
    for name in ("könig.example", b"xn--knig-5qa.example"):
        with client_ctx.wrap_socket(socket.socket(), server_hostname=name) as tls:
            assert tls.server_hostname == "xn--knig-5qa.example"


def test_msg_calls_are_refused_on_tls_sockets(
    where: str, contexts: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    # CPython's test_ssl test_recv_send: they would bypass the TLS stream.
    client, server = _tls_pair(contexts)
    with client, server:
        with pytest.raises(NotImplementedError, match="sendmsg"):
            client.sendmsg([b"data"])
        with pytest.raises(NotImplementedError, match="recvmsg"):
            client.recvmsg(100)
        with pytest.raises(NotImplementedError, match="recvmsg_into"):
            client.recvmsg_into([bytearray(100)])
        with pytest.raises(ValueError, match="negative"):
            client.recv(-1)


def test_a_host_name_that_does_not_encode_closes_the_socket(
    where: str, contexts: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    # CPython 3.13's test_ssl test_check_hostname_idn: no ResourceWarning.
    _, client_ctx = contexts
    raw = socket.socket()
    with pytest.raises(UnicodeError):
        client_ctx.wrap_socket(raw, server_hostname=".pythontest.net")
    assert raw.fileno() == -1
