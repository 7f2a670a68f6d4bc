"""TLS through :meth:`~sockspec.Socket.start_tls`, on every stream backend.

TLS is a layer over the backend's connected socket, so a backend gets it by
carrying streams correctly: these checks need nothing else from it.  They
prove the handshake both ways (and mutual TLS), certificate and host-name
verification, ``close_notify`` against an abrupt end, transfers of many
records, half-close, timeouts inside the handshake and the data phase,
non-blocking mode with a :class:`~sockspec.Poller`, ``close()`` from another
thread and ``unwrap()``.

Certificates: the suite ships a TEST-ONLY CA and certificates in
``sockspec/conformance/tlscerts`` (made by ``make_certs.py`` there, valid
until the year 3000), so ``sockspec check`` runs these checks without any
test dependency.  If the files are missing (a repackaged install), each
check is skipped with that reason.
"""

from __future__ import annotations

import functools
import ssl
import time
from importlib import resources

from ...api.constants import (
    EVENT_READ,
    EVENT_WRITE,
    SHUT_WR,
    SO_RCVBUF,
    SO_SNDBUF,
    SOCK_DGRAM,
    Option,
)
from ...api.errors import (
    NotConnected,
    SocketClosed,
    Timeout,
    TLSCertificateError,
    TLSError,
    TLSTruncated,
    UnsupportedOperation,
    WouldBlock,
)
from ...api.socket import Socket
from ..core import check
from ..harness import Harness, Task
from .timeouts import resumes_after_send_timeout

#: The name the shipped server certificate is issued for (besides localhost).
SERVER_NAME = "tls.sockspec.test"
_CERTS = "tlscerts"


@functools.cache
def _cert_path(name: str) -> str | None:
    entry = resources.files("sockspec.conformance") / _CERTS / name
    # The package is a directory on disk (an installed wheel or a checkout);
    # a zipped install has no path, and the checks skip.
    path = str(entry)
    try:
        with open(path, "rb"):
            return path
    except OSError:
        return None


def _material(h: Harness) -> tuple[str, str, str]:
    paths = [_cert_path(n) for n in ("ca.pem", "server.pem", "client.pem")]
    if None in paths:
        h.skip("the test certificates in sockspec/conformance/tlscerts are missing")
    ca, server, client = paths
    assert ca is not None
    assert server is not None
    assert client is not None
    return ca, server, client


def server_context(h: Harness, *, require_client_cert: bool = False) -> ssl.SSLContext:
    """A server context with the shipped TEST-ONLY certificate."""
    ca, server, _ = _material(h)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(server)
    if require_client_cert:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=ca)
    return ctx


def client_context(
    h: Harness, *, trust: bool = True, cert: bool = False
) -> ssl.SSLContext:
    """A client context trusting the shipped TEST CA (only it, or nothing)."""
    ca, _, client = _material(h)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if trust:
        ctx.load_verify_locations(cafile=ca)
    if cert:
        ctx.load_cert_chain(client)
    return ctx


def tls_pair(
    h: Harness,
    *,
    server_ctx: ssl.SSLContext | None = None,
    client_ctx: ssl.SSLContext | None = None,
    server_options: dict[Option, object] | None = None,
) -> tuple[Socket, Socket]:
    """Return ``(client, server)`` connected and with TLS started on both."""
    client, server = h.pair(server_options=server_options)
    sctx = server_ctx or server_context(h)
    task = h.thread(lambda: server.start_tls(sctx, server_side=True), "server")
    client.start_tls(client_ctx or client_context(h), server_hostname=SERVER_NAME)
    task.result()
    return client, server


def _handshake_failure(
    h: Harness, client_ctx: ssl.SSLContext, name: str
) -> tuple[TLSCertificateError, BaseException | None, Socket, Socket]:
    client, server = h.pair()
    sctx = server_context(h)
    task: Task[None] = h.thread(
        lambda: server.start_tls(sctx, server_side=True), "server"
    )
    with h.raises(TLSCertificateError, "a certificate that fails") as caught:
        client.start_tls(client_ctx, server_hostname=name)
    return caught.value, task.error(), client, server


@check(group="tls", spec=["send/write / Send a block of bytes to the socket"])
def tls_handshake(h: Harness) -> None:
    """start_tls on both ends; data flows both ways; properties report TLS."""
    client, server = tls_pair(h)
    for sock in (client, server):
        assert sock.tls_version in ("TLSv1.2", "TLSv1.3"), sock.tls_version
        cipher = sock.cipher
        assert cipher is not None
        assert cipher[2] >= 128, cipher
        assert sock.is_connected
    assert client.tls_version == server.tls_version
    cert = client.peer_certificate
    assert cert is not None, "the client has no verified peer certificate"
    names = [value for kind, value in cert.get("subjectAltName", ()) if kind == "DNS"]
    assert SERVER_NAME in names, names
    assert server.peer_certificate is None, "no client certificate was sent"
    client.send(b"hello over TLS")
    assert h.receive_exactly(server, 14) == b"hello over TLS"
    server.send(b"and back")
    assert h.receive_exactly(client, 8) == b"and back"


@check(group="tls")
def tls_client_certificate(h: Harness) -> None:
    """Mutual TLS: the server sees the client's verified certificate; ALPN."""
    sctx = server_context(h, require_client_cert=True)
    sctx.set_alpn_protocols(["h2", "http/1.1"])
    cctx = client_context(h, cert=True)
    cctx.set_alpn_protocols(["http/1.1"])
    client, server = tls_pair(h, server_ctx=sctx, client_ctx=cctx)
    cert = server.peer_certificate
    assert cert is not None, "the server has no verified client certificate"
    names = [value for kind, value in cert.get("subjectAltName", ()) if kind == "DNS"]
    assert names == ["client.sockspec.test"], names
    assert client.alpn_protocol == server.alpn_protocol == "http/1.1"
    client.send(b"x")
    assert server.receive() == b"x"


@check(group="tls")
def tls_verification_failure(h: Harness) -> None:
    """An untrusted certificate: TLSCertificateError naming the host; both closed."""
    exc, server_error, client, server = _handshake_failure(
        h, client_context(h, trust=False), SERVER_NAME
    )
    assert isinstance(exc, ssl.SSLCertVerificationError)
    assert isinstance(exc, ssl.SSLError)
    assert isinstance(exc, TLSCertificateError)
    assert exc.host == SERVER_NAME, exc.host
    assert SERVER_NAME in str(exc), str(exc)
    assert client.closed, "a failed handshake left the client socket open"
    # The server learns of it from the client's alert (or the closed stream).
    assert isinstance(server_error, (TLSError, ConnectionError)), repr(server_error)
    assert server.closed, "a failed handshake left the server socket open"


@check(group="tls")
def tls_hostname_mismatch(h: Harness) -> None:
    """A certificate for another name fails verification, naming the host."""
    exc, server_error, client, _ = _handshake_failure(
        h, client_context(h), "wrong.sockspec.test"
    )
    assert exc.host == "wrong.sockspec.test", exc.host
    assert "wrong.sockspec.test" in str(exc), str(exc)
    assert client.closed
    assert server_error is not None, "the server's handshake succeeded"


@check(group="tls", spec=["close / Close the socket immediately"])
def tls_close_notify_and_truncation(h: Harness) -> None:
    """close() ends the stream cleanly (b""); a cut stream is TLSTruncated."""
    client, server = tls_pair(h)
    server.send(b"last words")
    server.close()
    assert h.receive_exactly(client, 10) == b"last words"
    assert client.receive() == b"", "close_notify did not end the stream"
    assert client.receive() == b"", "end of stream is not sticky"
    # Now a sender that closes while its data cannot all go out: the stream
    # ends in the middle, without close_notify.
    small: dict[Option, object] = {SO_SNDBUF: 32 * 1024, SO_RCVBUF: 32 * 1024}
    caps = h.server.capabilities.options & h.client.capabilities.options
    options = {k: v for k, v in small.items() if k in caps}
    client, server = tls_pair(h, server_options=options)
    server.timeout = 0
    chunk = h.random_bytes(16 * 1024)
    for _ in range(4096):
        try:
            server.send(chunk)
        except WouldBlock:
            break
    else:
        raise AssertionError("64 MiB went out to a peer that does not read")
    server.close()
    with h.raises(TLSTruncated, "a stream cut without close_notify") as caught:
        h.receive_all(client)
    assert isinstance(caught.value, ssl.SSLEOFError)


@check(group="tls", spec=["send/write / data: block of bytes to send"])
def tls_large_transfer(h: Harness) -> None:
    """Megabytes and odd sizes cross intact: record boundaries are invisible."""
    client, server = tls_pair(h)
    sizes = [1, 16383, 16384, 16385, 100_000, 3 << 20]
    blobs = [h.random_bytes(n) for n in sizes]
    total = sum(sizes)
    sender = h.thread(lambda: [client.send(b) for b in blobs], "sender")
    got = h.receive_exactly(server, total)
    sender.result()
    assert got == b"".join(blobs), "bytes were lost, reordered or altered"
    back = h.thread(lambda: server.send(got), "echo")
    assert h.receive_exactly(client, total) == got
    back.result()


@check(group="tls", spec=["shutdown / Shut down part of a full-duplex"])
def tls_half_close(h: Harness) -> None:
    """shutdown(SHUT_WR) sends close_notify; the other way keeps working."""
    client, server = tls_pair(h)
    client.send(b"request")
    client.shutdown(SHUT_WR)
    assert h.receive_exactly(server, 7) == b"request"
    assert server.receive() == b"", "the peer's close_notify is not end of stream"
    server.send(b"response after the half-close")
    assert h.receive_exactly(client, 29) == b"response after the half-close"
    server.close()
    assert client.receive() == b""


@check(group="tls", spec=["connect / timeout: timeout value"])
def tls_handshake_timeout(h: Harness) -> None:
    """A peer that never answers the handshake: Timeout in the bound; closed."""
    client, server = h.pair()
    client.timeout = 0.3
    started = h.monotonic()
    with h.raises(Timeout, "a handshake with a silent peer"):
        client.start_tls(client_context(h), server_hostname=SERVER_NAME)
    h.assert_timed_out_in(started, 0.3)
    assert client.closed, "a timed-out handshake left the socket open"
    assert server.receive(), "the ClientHello never arrived"


@check(group="tls", spec=["receive/read / Receive a block of bytes from the socket"])
def tls_receive_timeout(h: Harness) -> None:
    """A TLS receive times out in its bound and the stream stays usable."""
    client, server = tls_pair(h)
    client.timeout = 0.2
    started = h.monotonic()
    with h.raises(Timeout, "a TLS receive without data"):
        client.receive()
    h.assert_timed_out_in(started, 0.2)
    server.send(b"late")
    assert h.receive_exactly(client, 4) == b"late"


@check(group="tls", nettest="WriteTimeout")
def tls_send_timeout(h: Harness) -> None:
    """A TLS send to a peer that does not read times out; bytes_sent is exact."""
    small: dict[Option, object] = {SO_SNDBUF: 32 * 1024, SO_RCVBUF: 32 * 1024}
    caps = h.server.capabilities.options & h.client.capabilities.options
    options = {k: v for k, v in small.items() if k in caps}
    client, server = tls_pair(h, server_options=options)
    data = h.random_bytes(16 << 20)
    client.timeout = 0.3
    started = h.monotonic()
    with h.raises(Timeout, "16 MiB over TLS to a peer that never reads") as caught:
        client.send(data)
    h.assert_timed_out_in(started, 0.3)
    sent = caught.value.bytes_sent
    assert 0 < sent < len(data), f"bytes_sent={sent} of {len(data)}"
    resumes_after_send_timeout(h, client, server, data, sent)


@check(group="tls", nettest="CloseTimeout")
def tls_close_during_receive(h: Harness) -> None:
    """close() from another thread wakes a TLS receive or send: SocketClosed."""
    client, _server = tls_pair(h)
    client.timeout = None
    waiter = h.thread(client.receive, "receiver")
    h.pause()
    closed_at = time.monotonic()
    client.close()
    h.assert_woken(waiter, closed_at, "a TLS receive")
    error = waiter.error()
    assert isinstance(error, SocketClosed), repr(error)
    # A send blocked on a peer that does not read.
    client, _server = tls_pair(h)
    client.timeout = None
    data = bytes(32 << 20)  # more than any loopback buffers hold
    sender = h.thread(lambda: client.send(data), "sender")
    h.pause(0.2)
    closed_at = time.monotonic()
    client.close()
    h.assert_woken(sender, closed_at, "a TLS send")
    error = sender.error()
    assert isinstance(error, SocketClosed), repr(error)


@check(group="tls", spec=["isReadable / Returns TRUE if data is waiting"])
def tls_nonblocking_and_poller(h: Harness) -> None:
    """timeout=0: WouldBlock while TLS waits; decrypted data counts as readable."""
    client, server = h.pair()
    client.timeout = server.timeout = 0
    client.start_tls(client_context(h), server_hostname=SERVER_NAME)
    assert client.tls_version is None, "the handshake finished without the server"
    server.start_tls(server_context(h), server_side=True)
    assert server.tls_version is None, "the handshake finished without the client"
    with h.raises(WouldBlock, "receive while the handshake waits") as caught:
        server.receive()
    assert isinstance(caught.value, BlockingIOError)
    poller = h.poller(client)
    poller.register(client, EVENT_READ)
    spoller = h.poller(server)
    spoller.register(server, EVENT_READ)
    payload = h.random_bytes(40_000)  # three records
    sent = 0
    got = b""
    for _ in range(2000):
        if sent < len(payload):
            try:
                sent += client.send(payload[sent:])
            except WouldBlock:
                pass
        try:
            data = server.receive(65536)
            assert data, "end of stream during the exchange"
            got += data
        except WouldBlock:
            pass
        if len(got) == len(payload):
            break
        spoller.poll(0.05)
        poller.poll(0.05)
    assert got == payload, f"{len(got)} of {len(payload)} bytes arrived"
    assert client.tls_version
    assert server.tls_version
    # Two records from one send; a small receive leaves plaintext decrypted
    # inside TLS, which the backend's selector cannot see.
    reply = h.random_bytes(20_000)
    out = 0
    for _ in range(100):
        try:
            out += server.send(reply[out:])
        except WouldBlock:
            h.wait_for(server, EVENT_WRITE)
        if out == len(reply):
            break
    received = 0
    for _ in range(100):
        assert poller.poll(h.io_timeout), "TLS data never became readable"
        try:
            received = len(client.receive(100))
            break
        except WouldBlock:
            continue  # part of a record: wait for the rest
    assert received == 100, "readable but no data"
    assert client.is_readable, "decrypted plaintext does not count as readable"
    assert poller.poll(0), "the Poller misses decrypted plaintext"
    for _ in range(100):
        try:
            received += len(client.receive(65536))
        except WouldBlock:
            poller.poll(h.io_timeout)
        if received == 20_000:
            break
    assert received == 20_000, received


@check(group="tls")
def tls_unwrap(h: Harness) -> None:
    """unwrap() on both ends returns to plaintext on the same connection."""
    client, server = tls_pair(h)
    client.send(b"secret")
    assert h.receive_exactly(server, 6) == b"secret"
    task = h.thread(server.unwrap, "server unwrap")
    client.unwrap()
    task.result()
    assert client.tls_version is None
    assert server.tls_version is None
    client.send(b"plain again")
    assert h.receive_exactly(server, 11) == b"plain again"


@check(group="tls")
def tls_bad_input(h: Harness) -> None:
    """start_tls refuses what cannot work, naming the argument or the state."""
    ctx = client_context(h)
    listener = h.listener()
    with h.raises(NotConnected, "start_tls on a listening socket"):
        listener.start_tls(ctx, server_hostname=SERVER_NAME)
    fresh = h.socket()
    with h.raises(NotConnected, "start_tls on an unconnected socket"):
        fresh.start_tls(ctx, server_hostname=SERVER_NAME)
    client = h.connect(listener)
    with h.raises(TypeError, "a context that is not an SSLContext") as caught:
        client.start_tls("ctx", server_hostname=SERVER_NAME)  # type: ignore[arg-type]
    assert "context" in str(caught.value)
    with h.raises(ValueError, "server_hostname with server_side=True") as bad:
        client.start_tls(
            server_context(h), server_side=True, server_hostname=SERVER_NAME
        )
    assert "server_hostname" in str(bad.value)
    with h.raises(ValueError, "a hostname-checking context without a name") as bad:
        client.start_tls(ctx)
    assert "server_hostname" in str(bad.value)
    assert not client.closed, "bad arguments closed the socket"
    if SOCK_DGRAM in h.client.capabilities.types:
        dgram = h.socket(type=SOCK_DGRAM)
        with h.raises(UnsupportedOperation, "start_tls on a datagram socket"):
            dgram.start_tls(ctx, server_hostname=SERVER_NAME)
    client.close()
    with h.raises(SocketClosed, "start_tls on a closed socket"):
        client.start_tls(ctx, server_hostname=SERVER_NAME)
    tls_client, _ = tls_pair(h)
    with h.raises(ValueError, "start_tls on a TLS socket"):
        tls_client.start_tls(ctx, server_hostname=SERVER_NAME)
