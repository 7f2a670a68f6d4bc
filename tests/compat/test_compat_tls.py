"""Unmodified TLS code (ssl.SSLContext.wrap_socket) on compat sockets, every backend.

HTTPS with http.client, urllib and requests against an ssl-wrapped
http.server, SMTP STARTTLS with smtplib, and what ``ssl`` raises: the
same tests run on stdlib and selectors (where the compat socket sits on a
real one) and on the memory network, which adds the faults.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import socket
import socketserver
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from _compat_helpers import EchoHandler, EchoServer, running

from sockspec import compat

pytestmark = pytest.mark.timeout(60)

NAMES = ("api", "localhost", "127.0.0.1")
_REAL_SOCKETPAIR = socket.socketpair  # taken before any patch


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_ctx(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*NAMES).configure_cert(ctx)
    return ctx


@pytest.fixture(scope="module")
def client_ctx(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


class Server(EchoServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (the verification tests) is expected


@pytest.fixture
def https(
    server_side: tuple[Any, str], server_ctx: ssl.SSLContext
) -> Iterator[tuple[Server, str]]:
    """An ssl-wrapped ThreadingHTTPServer, running; ``(server, host)``."""
    patch, host = server_side
    with patch():
        server = Server(("0.0.0.0", 0), EchoHandler)
        server.socket = server_ctx.wrap_socket(server.socket, server_side=True)
    with running(server):
        yield server, host


def test_wrapped_sockets_are_compat_ssl_sockets(
    no_fd_leak: None, https: tuple[Server, str], client_ctx: ssl.SSLContext
) -> None:
    server, host = https
    assert isinstance(server.socket, compat.socket)
    raw = socket.create_connection((host, server.server_port), timeout=10)
    with raw, client_ctx.wrap_socket(raw, server_hostname=host) as tls:
        assert raw.fileno() == -1  # taken over, as ssl does
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
        assert tls.cipher()[1] == tls.version()  # type: ignore[index]
        assert tls.selected_alpn_protocol() is None
        assert tls.server_hostname == host
        assert not tls.server_side
        cert = tls.getpeercert()
        assert ("DNS", "api") in cert["subjectAltName"]
        der = tls.getpeercert(binary_form=True)
        assert ssl.DER_cert_to_PEM_cert(der).startswith("-----BEGIN CERT")
        tls.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        reply = tls.makefile("rb").read()
        assert reply.startswith(b"HTTP/1.1 200")
        assert reply.endswith(b"/x")


def test_https_connection(
    no_fd_leak: None, https: tuple[Server, str], client_ctx: ssl.SSLContext
) -> None:
    server, host = https
    conn = http.client.HTTPSConnection(
        host, server.server_port, context=client_ctx, timeout=10
    )
    conn.request("GET", "/one")
    assert conn.getresponse().read() == b"/one"
    first = conn.sock
    body = bytes(range(256)) * 4096  # 1 MiB through TLS records
    conn.request("POST", "/echo", body=body)
    assert conn.getresponse().read() == body
    assert conn.sock is first  # keep-alive over one TLS connection
    conn.request("GET", "/big")
    assert conn.getresponse().read() == b"/big" * 10_000
    conn.close()


def test_urllib_https(
    no_fd_leak: None, https: tuple[Server, str], client_ctx: ssl.SSLContext
) -> None:
    server, host = https
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        urllib.request.HTTPSHandler(context=client_ctx),
    )
    with opener.open(f"https://{host}:{server.server_port}/u", timeout=10) as r:
        assert r.read() == b"/u"


def test_requests_https(
    no_fd_leak: None, https: tuple[Server, str], ca_file: str
) -> None:
    requests = pytest.importorskip("requests")
    server, host = https
    base = f"https://{host}:{server.server_port}"
    with requests.Session() as session:
        session.trust_env = False
        assert session.get(f"{base}/r", verify=ca_file, timeout=10).text == "/r"
        body = b"x" * 100_000
        reply = session.post(f"{base}/e", data=body, verify=ca_file, timeout=10)
        assert reply.content == body


def test_verification_failure_is_sslcertverificationerror(
    no_fd_leak: None, https: tuple[Server, str]
) -> None:
    server, host = https
    untrusting = ssl.create_default_context()  # does not know the test CA
    conn = http.client.HTTPSConnection(
        host, server.server_port, context=untrusting, timeout=10
    )
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        conn.request("GET", "/")
    conn.close()
    # Exactly ssl's class, attributes and wording, not a sockspec subclass.
    assert type(info.value) is ssl.SSLCertVerificationError
    assert info.value.reason == "CERTIFICATE_VERIFY_FAILED"
    assert info.value.verify_code == 20  # unable to get local issuer certificate
    assert "certificate verify failed" in str(info.value)
    assert "server_hostname" not in str(info.value)


def test_hostname_mismatch(
    no_fd_leak: None, https: tuple[Server, str], client_ctx: ssl.SSLContext
) -> None:
    server, host = https
    raw = socket.create_connection((host, server.server_port), timeout=10)
    with raw, pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        client_ctx.wrap_socket(raw, server_hostname="other.test")


def test_real_sockets_still_get_real_ssl(
    patched: Any, server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext
) -> None:
    a, b = _REAL_SOCKETPAIR()
    assert not isinstance(a, compat.socket)
    client = client_ctx.wrap_socket(
        a, server_hostname="localhost", do_handshake_on_connect=False
    )
    server = server_ctx.wrap_socket(b, server_side=True, do_handshake_on_connect=False)
    with client, server:
        assert type(client) is ssl.SSLSocket  # the real ssl path, unchanged
        shake = threading.Thread(target=server.do_handshake)
        shake.start()
        client.do_handshake()
        shake.join(10)
        client.sendall(b"real")
        assert server.recv(4) == b"real"


@pytest.fixture
def pair(
    patched: Any, server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext
) -> Iterator[tuple[Any, Any]]:
    """A connected compat socket pair, wrapped both ways (handshake done)."""
    a, b = socket.socketpair()
    a.settimeout(10)
    b.settimeout(10)
    done: list[Any] = []
    shake = threading.Thread(
        target=lambda: done.append(server_ctx.wrap_socket(b, server_side=True))
    )
    shake.start()
    client = client_ctx.wrap_socket(a, server_hostname="localhost")
    shake.join(10)
    server = done[0]
    try:
        yield client, server
    finally:
        client.close()
        server.close()


def test_pair_roundtrip_pending_and_recv_into(pair: tuple[Any, Any]) -> None:
    client, server = pair
    assert server.server_side
    assert server.server_hostname is None
    client.sendall(b"hello world")
    buf = bytearray(5)
    assert server.recv_into(buf) == 5
    assert buf == b"hello"
    assert server.pending() == 6  # the rest of the record, already decrypted
    assert server.read(100) == b" world"
    assert server.write(b"back") == 4
    assert client.recv(10) == b"back"


def test_nonblocking_handshake_raises_want_read(
    patched: Any, server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext
) -> None:
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    client = client_ctx.wrap_socket(
        a, server_hostname="localhost", do_handshake_on_connect=False
    )
    server = server_ctx.wrap_socket(b, server_side=True, do_handshake_on_connect=False)
    with client, server:
        with pytest.raises(ssl.SSLWantReadError) as info:
            server.do_handshake()  # nothing from the client yet
        assert type(info.value) is ssl.SSLWantReadError
        with pytest.raises(ValueError, match="handshake not done"):
            client.getpeercert()
        assert client.version() is None
        done = {client: False, server: False}
        for _ in range(50):  # each side answers what the other sent
            for side in (client, server):
                if not done[side]:
                    try:
                        side.do_handshake()
                    except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                        continue
                    done[side] = True
            if all(done.values()):
                break
        assert all(done.values())
        assert client.version() == server.version()
        with pytest.raises(ssl.SSLWantReadError):
            client.recv(10)
        server.send(b"nb")
        for _ in range(50):
            try:
                assert client.recv(10) == b"nb"
                break
            except ssl.SSLWantReadError:
                time.sleep(0.001)
        else:
            pytest.fail("the data never arrived")


def test_handshake_on_connect_with_nonblocking_is_refused(
    patched: Any, client_ctx: ssl.SSLContext
) -> None:
    a, b = socket.socketpair()
    with a, b:
        a.setblocking(False)
        with pytest.raises(ValueError, match="non-blocking"):
            client_ctx.wrap_socket(a, server_hostname="localhost")
        with pytest.raises(ValueError, match="check_hostname requires"):
            client_ctx.wrap_socket(b)


def test_ragged_eof(pair: tuple[Any, Any]) -> None:
    client, server = pair
    server.sendall(b"last")
    # The server's connection ends without close_notify: a truncation.
    _abort(server)
    assert client.recv(10) == b"last"
    assert client.recv(10) == b""  # suppress_ragged_eofs=True, as in ssl


def test_ragged_eof_raised_when_asked(
    patched: Any, server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext
) -> None:
    a, b = socket.socketpair()
    a.settimeout(10)
    b.settimeout(10)
    done: list[Any] = []
    shake = threading.Thread(
        target=lambda: done.append(server_ctx.wrap_socket(b, server_side=True))
    )
    shake.start()
    client = client_ctx.wrap_socket(
        a, server_hostname="localhost", suppress_ragged_eofs=False
    )
    shake.join(10)
    with client, done[0] as server:
        _abort(server)
        with pytest.raises(ssl.SSLEOFError) as info:
            client.recv(10)
        assert type(info.value) is ssl.SSLEOFError


def _abort(tls: Any) -> None:
    """End *tls*'s connection without close_notify (as a crashed peer would)."""
    # Test-only reach into the TLS layer: close the connection beneath it.
    impl = tls.sockspec_socket._impl
    impl.raw.close()


def test_unwrap_returns_to_plaintext(no_fd_leak: None, pair: tuple[Any, Any]) -> None:
    client, server = pair
    result: list[Any] = []
    other = threading.Thread(target=lambda: result.append(server.unwrap()))
    other.start()
    plain = client.unwrap()
    other.join(10)
    with plain, result[0] as plain_server:
        assert plain is client  # as ssl: the same object, now in the clear
        plain.sendall(b"clear")
        assert plain_server.recv(5) == b"clear"
        with pytest.raises(ValueError, match="No SSL wrapper"):
            plain.unwrap()
    assert client.fileno() == -1


def test_dup_and_flags_refused_as_in_ssl(pair: tuple[Any, Any]) -> None:
    client, _ = pair
    with pytest.raises(NotImplementedError, match="dup"):
        client.dup()
    with pytest.raises(ValueError, match="non-zero flags"):
        client.recv(10, socket.MSG_PEEK)
    with pytest.raises(ValueError, match="non-zero flags"):
        client.recv_into(bytearray(10), 0, socket.MSG_PEEK)
    with pytest.raises(ValueError, match="sendto not allowed"):
        client.sendto(b"x", ("h", 1))


@pytest.mark.skipif(not hasattr(ssl, "wrap_socket"), reason="removed in 3.12")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_module_level_wrap_socket(patched: Any, server_ctx: ssl.SSLContext) -> None:
    a, b = socket.socketpair()
    a.settimeout(10)
    b.settimeout(10)
    client = ssl.wrap_socket(a, do_handshake_on_connect=False)  # type: ignore[attr-defined]
    server = server_ctx.wrap_socket(b, server_side=True, do_handshake_on_connect=False)
    with client, server:
        assert isinstance(client, compat.socket)
        assert not client.server_side
        shake = threading.Thread(target=server.do_handshake)
        shake.start()
        client.do_handshake()
        shake.join(10)
        client.sendall(b"old api")
        assert server.recv(7) == b"old api"


def test_partition_during_a_tls_read_fires_a_30s_timeout_fast(
    https: tuple[Server, str], client_ctx: ssl.SSLContext, patched: Any
) -> None:
    if patched is None:
        pytest.skip("faults need the memory network")
    server, host = https
    conn = http.client.HTTPSConnection(
        host, server.server_port, context=client_ctx, timeout=30
    )
    conn.request("GET", "/before")
    assert conn.getresponse().read() == b"/before"
    cut = patched.partition("local", "api")
    started, wall = patched.now, time.monotonic()
    conn.request("GET", "/during")  # the records wait in the send buffer
    with pytest.raises(TimeoutError) as info:
        conn.getresponse()
    wall = time.monotonic() - wall
    assert str(info.value) == "The read operation timed out"  # ssl's words
    assert patched.now - started == pytest.approx(30.0, abs=0.5)
    assert wall < 1.0
    patched.remove_rule(cut)
    conn.close()


# -- SMTP STARTTLS ------------------------------------------------------------------


class FakeSMTP(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: EHLO, STARTTLS, MAIL, RCPT, DATA, QUIT."""

    context: ssl.SSLContext
    received: list[bytes]

    def handle(self) -> None:
        self.wfile.write(b"220 fake ESMTP\r\n")
        tls = False
        while True:
            line = self.rfile.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb == b"EHLO":
                extra = b"" if tls else b"250-STARTTLS\r\n"
                self.wfile.write(b"250-fake\r\n" + extra + b"250 8BITMIME\r\n")
            elif verb == b"STAR":
                self.wfile.write(b"220 go ahead\r\n")
                self.wfile.flush()
                self.request = self.context.wrap_socket(
                    self.connection, server_side=True
                )
                self.connection = self.request
                self.rfile = self.request.makefile("rb")
                self.wfile = socketserver._SocketWriter(self.request)  # type: ignore[attr-defined]
                tls = True
            elif verb == b"DATA":
                self.wfile.write(b"354 end with .\r\n")
                body = b""
                while (part := self.rfile.readline()) not in (b".\r\n", b""):
                    body += part
                self.received.append(body if tls else b"PLAINTEXT:" + body)
                self.wfile.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


class SMTPServer(socketserver.ThreadingTCPServer):
    daemon_threads = False
    allow_reuse_address = True


def test_smtplib_starttls(
    no_fd_leak: None,
    server_side: tuple[Any, str],
    server_ctx: ssl.SSLContext,
    client_ctx: ssl.SSLContext,
) -> None:
    import smtplib

    patch, host = server_side
    received: list[bytes] = []
    handler = type(
        "Handler", (FakeSMTP,), {"context": server_ctx, "received": received}
    )
    with patch():
        server = SMTPServer(("0.0.0.0", 0), handler)
    port = server.server_address[1]
    with running(server), smtplib.SMTP(host, port, timeout=10) as smtp:
        smtp.starttls(context=client_ctx)
        assert smtp.sock.version() in ("TLSv1.2", "TLSv1.3")
        smtp.sendmail("a@x.test", ["b@x.test"], "Subject: hi\r\n\r\nsecret\r\n")
    assert received == [b"Subject: hi\r\n\r\nsecret\r\n"]


def _failed_handshake(pair: tuple[Any, Any], server_ctx: ssl.SSLContext) -> Any:
    """The client's error when it does not trust the server's certificate."""
    a, b = pair
    a.settimeout(10)
    b.settimeout(10)

    def serve() -> None:
        with contextlib.suppress(OSError):
            server_ctx.wrap_socket(b, server_side=True).close()

    thread = threading.Thread(target=serve)
    thread.start()
    with a, b, pytest.raises(ssl.SSLError) as info:
        ssl.create_default_context().wrap_socket(a, server_hostname="localhost")
    thread.join(10)
    return info.value


def test_verification_error_matches_real_ssl(
    patched: Any, server_ctx: ssl.SSLContext
) -> None:
    """The same failure through real ssl and through compat: the same error."""
    real = _failed_handshake(_REAL_SOCKETPAIR(), server_ctx)
    fake = _failed_handshake(socket.socketpair(), server_ctx)
    assert type(fake) is type(real) is ssl.SSLCertVerificationError
    assert fake.args == real.args
    assert (fake.library, fake.reason) == (real.library, real.reason)
    assert (fake.verify_code, fake.verify_message) == (
        real.verify_code,
        real.verify_message,
    )


def test_pending_counts_what_select_decrypted(
    patched: Any, pair: tuple[Any, Any]
) -> None:
    """A record that select() decrypted to decide readability is pending."""
    import select

    if patched is None:
        pytest.skip("needs both records delivered at once: the memory network")
    client, server = pair
    client.sendall(b"aaaa")
    client.sendall(b"bbbb")  # a second record
    assert server.recv(4) == b"aaaa"  # both records arrived; one decrypted
    assert select.select([server], [], [], 10)[0] == [server]
    assert server.pending() == 4
    assert server.recv(10) == b"bbbb"
    assert server.pending() == 0


def test_faults_in_the_handshake_give_what_ssl_gives(
    https: tuple[Server, str], client_ctx: ssl.SSLContext, patched: Any
) -> None:
    """A reset mid-handshake and a partition before it, through HTTPSConnection."""
    from sockspec.backends.memory import Reset

    if patched is None:
        pytest.skip("faults need the memory network")
    server, host = https
    port = server.server_port
    reset = patched.add_rule(Reset(src="local", dst="api", after_bytes=100))
    conn = http.client.HTTPSConnection(host, port, context=client_ctx, timeout=30)
    with pytest.raises(ConnectionResetError):
        conn.request("GET", "/")  # the ClientHello is cut
    conn.close()
    patched.remove_rule(reset)
    raw = socket.create_connection((host, port), timeout=30)
    cut = patched.partition("local", "api")
    started, wall = patched.now, time.monotonic()
    with raw, pytest.raises(TimeoutError, match="handshake operation timed out"):
        client_ctx.wrap_socket(raw, server_hostname=host)
    assert patched.now - started == pytest.approx(30.0, abs=0.5)
    assert time.monotonic() - wall < 1.0
    patched.remove_rule(cut)


def test_nonblocking_selectors_tls_echo_server(
    no_fd_leak: None,
    server_side: tuple[Any, str],
    server_ctx: ssl.SSLContext,
    client_ctx: ssl.SSLContext,
) -> None:
    """The classic event loop: handshakes and reads driven by SSLWant* errors."""
    import selectors

    patch, host = server_side
    with patch():
        listener = socket.create_server(("0.0.0.0", 0))
    listener.setblocking(False)
    port = listener.getsockname()[1]
    stop = threading.Event()
    failures: list[BaseException] = []

    def serve() -> None:
        sel = selectors.DefaultSelector()
        sel.register(listener, selectors.EVENT_READ, "accept")
        shaken: dict[Any, bool] = {}
        try:
            for _ in range(10_000):  # bounded; the test ends it much sooner
                if stop.is_set():
                    return
                for key, _events in sel.select(0.05):
                    if key.data == "accept":
                        conn, _ = listener.accept()
                        conn.setblocking(False)
                        tls = server_ctx.wrap_socket(
                            conn, server_side=True, do_handshake_on_connect=False
                        )
                        shaken[tls] = False
                        sel.register(tls, selectors.EVENT_READ, "tls")
                        continue
                    tls = key.fileobj
                    try:
                        if not shaken[tls]:
                            tls.do_handshake()
                            shaken[tls] = True
                        while True:
                            data = tls.recv(4096)
                            if not data:
                                sel.unregister(tls)
                                del shaken[tls]
                                tls.close()
                                break
                            tls.sendall(data.upper())
                    except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                        continue
        except BaseException as exc:
            failures.append(exc)
        finally:
            for tls in shaken:
                tls.close()
            sel.close()

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        clients = []
        for _ in range(3):
            raw = socket.create_connection((host, port), timeout=10)
            clients.append(client_ctx.wrap_socket(raw, server_hostname=host))
        for i, tls in enumerate(clients):
            tls.sendall(b"hello %d" % i)
        for i, tls in enumerate(clients):
            assert tls.recv(100) == b"HELLO %d" % i
            tls.close()
    finally:
        stop.set()
        thread.join(10)
        listener.close()
    assert not failures
