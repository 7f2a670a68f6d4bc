"""TLS through Socket.start_tls: faults on the memory network, and the same
errors a real TLS stack (ssl.SSLSocket over loopback) gives.

The conformance suite (sockspec/conformance/checks/tls.py) proves the
behaviour on every backend with the shipped test certificates; these tests
use trustme for theirs and add what needs the memory network's faults and
virtual time, or a comparison with the ssl module itself.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import trustme

import sockspec
from sockspec import (
    SHUT_WR,
    SO_RCVBUF,
    SO_SNDBUF,
    ConnectionReset,
    Poller,
    Socket,
    SocketClosed,
    Timeout,
    TLSCertificateError,
    TLSError,
    TLSTruncated,
)
from sockspec.backends.memory import Latency, Network, Partition, Reset
from sockspec.errors import from_os_error

pytestmark = pytest.mark.usefixtures("no_fd_leak")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_ctx(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "example.test").configure_cert(ctx)
    return ctx


@pytest.fixture(scope="module")
def client_ctx(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


@pytest.fixture
def net() -> Iterator[Network]:
    network = Network(seed=3)
    with sockspec.use_backend(network), network:
        yield network


def _connected(timeout: float | None = 5.0) -> tuple[Socket, Socket]:
    with Socket(timeout=timeout) as listener:
        listener.bind("127.0.0.1")
        listener.listen()
        client = Socket(timeout=timeout)
        client.connect("127.0.0.1", listener.local_port)
        server = listener.accept()
    return client, server


class _Thread:
    """A function in a thread whose result or exception the test collects."""

    def __init__(self, function: Callable[[], object]) -> None:
        self.result: object = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.result = function()
            except BaseException as exc:
                self.error = exc

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def join(self) -> object:
        self._thread.join(10)
        assert not self._thread.is_alive(), "the thread did not finish"
        return self.result


def _tls_pair(
    server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext, timeout: float = 5.0
) -> tuple[Socket, Socket]:
    client, server = _connected(timeout)
    task = _Thread(lambda: server.start_tls(server_ctx, server_side=True))
    client.start_tls(client_ctx, server_hostname="localhost")
    task.join()
    assert task.error is None
    return client, server


# -- the basics on each backend ---------------------------------------------


def test_start_tls_carries_data_on_every_backend(
    backend: str, server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext
) -> None:
    with sockspec.use_backend(backend):
        client, server = _tls_pair(server_ctx, client_ctx)
    with client, server:
        assert client.tls_version == "TLSv1.3"
        assert client.cipher is not None
        assert client.peer_certificate is not None
        assert server.peer_certificate is None
        client.send(b"ping")
        assert server.receive() == b"ping"
        server.send(b"pong")
        assert client.receive() == b"pong"


def test_non_blocking_send_to_a_closed_peer_fails_on_every_backend(
    backend: str, server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext
) -> None:
    # Tornado writes a TLS stream non-blocking; when the peer has gone, the
    # writes must fail (EPIPE, ECONNRESET) as ssl's do, not be counted as
    # sent for ever, and leave the caller's bytearray resizable.
    with sockspec.use_backend(backend):
        client, server = _tls_pair(server_ctx, client_ctx)
    with client:
        server.close()
        client.timeout = 0
        chunk = bytearray(b"x" * 65536)
        failure: OSError | None = None
        for _ in range(10_000):  # 640 MB: far past any socket buffer
            try:
                client.send(chunk)
            except BlockingIOError:
                time.sleep(0.001)
            except OSError as exc:
                failure = exc
                break
        assert isinstance(failure, (BrokenPipeError, ConnectionResetError))
        # The exception (with its traceback) holds no view of the buffer:
        # the caller can resize it, as after ssl's send (tornado checks).
        del chunk[:]


def test_plain_socket_reports_no_tls() -> None:
    client, server = _connected()
    with client, server:
        assert client.tls_version is None
        assert client.cipher is None
        assert client.alpn_protocol is None
        assert client.peer_certificate is None
        with pytest.raises(ValueError, match="does not use TLS"):
            client.unwrap()


def test_tls_errors_are_ssl_errors() -> None:
    assert issubclass(TLSError, ssl.SSLError)
    assert issubclass(TLSError, sockspec.SocketError)
    assert issubclass(TLSCertificateError, ssl.SSLCertVerificationError)
    assert issubclass(TLSTruncated, ssl.SSLEOFError)
    converted = from_os_error(ssl.SSLError(1, "[SSL] bad"))
    assert type(converted) is TLSError


def test_certificate_error_names_the_host(
    net: Network, server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext
) -> None:
    client, server = _connected()
    task = _Thread(lambda: server.start_tls(server_ctx, server_side=True))
    with pytest.raises(TLSCertificateError) as caught:
        client.start_tls(client_ctx, server_hostname="other.test")
    task.join()
    assert caught.value.host == "other.test"
    assert "other.test" in str(caught.value)
    assert caught.value.verify_code == 62  # X509_V_ERR_HOSTNAME_MISMATCH
    assert client.closed
    assert isinstance(task.error, TLSError)
    assert server.closed


# -- bad input -----------------------------------------------------------------


def test_start_tls_bad_arguments_name_the_argument(
    net: Network, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    client, server = _connected()
    with client, server:
        with pytest.raises(TypeError, match="context"):
            client.start_tls(None, server_hostname="x")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="server_side"):
            client.start_tls(client_ctx, server_side=1)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="server_hostname"):
            client.start_tls(client_ctx, server_hostname=b"x")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="server_hostname"):
            client.start_tls(server_ctx, server_side=True, server_hostname="x")
        with pytest.raises(ValueError, match="server_hostname"):
            client.start_tls(client_ctx, server_hostname="")
        with pytest.raises(ValueError, match="server_hostname"):
            client.start_tls(client_ctx)
        assert not client.closed
    with (
        Socket(type=sockspec.SOCK_DGRAM) as dgram,
        pytest.raises(sockspec.UnsupportedOperation, match="SOCK_STREAM"),
    ):
        dgram.start_tls(client_ctx, server_hostname="x")


# -- faults on the memory network ------------------------------------------------


def test_reset_mid_handshake_is_connection_reset(
    net: Network, server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext
) -> None:
    client, server = _connected()
    net.add_rule(Reset(after_bytes=600))  # after the ClientHello, mid-flight
    task = _Thread(lambda: server.start_tls(server_ctx, server_side=True))
    with pytest.raises(ConnectionReset) as caught:
        client.start_tls(client_ctx, server_hostname="localhost")
    task.join()
    assert isinstance(caught.value, ConnectionResetError)
    assert client.closed
    assert isinstance(task.error, (ConnectionResetError, TLSError))
    assert server.closed


@pytest.mark.parametrize("os_backend", ["stdlib", "selectors"])
def test_reset_mid_handshake_matches_ssl_on_loopback(
    os_backend: str, server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext
) -> None:
    # A server that reads the ClientHello and aborts (RST): the ssl module's
    # own socket and start_tls on the stdlib backend raise the same type.
    def abort_after_hello(listener: socket.socket) -> None:
        conn, _ = listener.accept()
        conn.recv(4096)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
        conn.close()

    errors = []
    for use_sockspec in (False, True):
        with socket.create_server(("127.0.0.1", 0)) as listener:
            port = listener.getsockname()[1]
            task = _Thread(lambda listener=listener: abort_after_hello(listener))
            try:
                if use_sockspec:
                    with Socket(backend=os_backend, timeout=5) as sock:
                        sock.connect("127.0.0.1", port)
                        sock.start_tls(client_ctx, server_hostname="localhost")
                else:
                    with socket.create_connection(("127.0.0.1", port), 5) as raw:
                        client_ctx.wrap_socket(raw, server_hostname="localhost")
            except OSError as exc:
                errors.append(exc)
            task.join()
    assert isinstance(errors[0], ConnectionResetError), errors
    assert isinstance(errors[1], ConnectionResetError), errors
    assert isinstance(errors[1], ConnectionReset)


def test_partition_during_tls_read_times_out_in_virtual_time(
    net: Network, server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext
) -> None:
    # A partition cuts a path between hosts (loopback never crosses one).
    with Socket(backend=net.add_host("server"), timeout=5) as listener:
        listener.bind(None, 443)
        listener.listen()
        client = Socket(timeout=5)
        client.connect("server", 443)
        server = listener.accept()
    task = _Thread(lambda: server.start_tls(server_ctx, server_side=True))
    client.start_tls(client_ctx, server_hostname="localhost")
    task.join()
    with client, server:
        client.timeout = 30.0
        net.add_rule(Partition(src="server", dst="local"))
        server.send(b"lost in the partition")
        started_virtual = net.monotonic()
        started_wall = time.monotonic()
        with pytest.raises(Timeout):
            client.receive()
        assert net.monotonic() - started_virtual == pytest.approx(30.0, abs=0.5)
        assert time.monotonic() - started_wall < 1.0


def test_latency_slows_the_handshake_by_round_trips(
    net: Network, server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext
) -> None:
    client, server = _connected()
    net.add_rule(Latency(delay=0.1))
    started = net.monotonic()
    task = _Thread(lambda: server.start_tls(server_ctx, server_side=True))
    client.start_tls(client_ctx, server_hostname="localhost")
    client_done = net.monotonic() - started
    task.join()
    with client, server:
        # TLS 1.3: the client finishes after one round trip (two one-way
        # delays); the server needs the client's Finished, half a trip more.
        assert client_done == pytest.approx(0.2, abs=0.02)
        client.send(b"x")
        assert server.receive() == b"x"


def _truncating_sender(server: Socket) -> None:
    """Fill the buffers, then close: close_notify cannot go out."""
    server.timeout = 0
    chunk = b"t" * 16384
    for _ in range(4096):
        try:
            server.send(chunk)
        except sockspec.WouldBlock:
            break
    server.close()


def _drain(sock: Socket) -> int:
    total = 0
    while True:
        data = sock.receive()
        if not data:
            return total
        total += len(data)


def test_truncation_is_tls_truncated_on_memory(
    net: Network, server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext
) -> None:
    client, server = _tls_pair(server_ctx, client_ctx)
    for sock in (client, server):
        sock.set_option(SO_SNDBUF, 32768)
        sock.set_option(SO_RCVBUF, 32768)
    _truncating_sender(server)
    with client, pytest.raises(TLSTruncated) as caught:
        _drain(client)
    assert isinstance(caught.value, ssl.SSLEOFError)
    assert caught.value.errno == ssl.SSL_ERROR_EOF


@pytest.mark.parametrize("os_backend", ["stdlib", "selectors"])
def test_truncation_matches_ssl_sslsocket_on_loopback(
    os_backend: str, server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext
) -> None:
    # ssl.SSLSocket.close() sends no close_notify: the reader sees the
    # stream cut.  The ssl module reports ssl.SSLEOFError (unless told to
    # suppress it); start_tls on the stdlib backend reports the same class.
    def serve(listener: socket.socket) -> None:
        conn, _ = listener.accept()
        with server_ctx.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(b"partial answer")

    seen: list[BaseException] = []
    for use_sockspec in (False, True):
        with socket.create_server(("127.0.0.1", 0)) as listener:
            port = listener.getsockname()[1]
            task = _Thread(lambda listener=listener: serve(listener))
            try:
                if use_sockspec:
                    with Socket(backend=os_backend, timeout=5) as sock:
                        sock.connect("127.0.0.1", port)
                        sock.start_tls(client_ctx, server_hostname="localhost")
                        _drain(sock)
                else:
                    raw = socket.create_connection(("127.0.0.1", port), 5)
                    with client_ctx.wrap_socket(
                        raw, server_hostname="localhost", suppress_ragged_eofs=False
                    ) as tls:
                        while tls.recv(65536):
                            pass
            except OSError as exc:
                seen.append(exc)
            task.join()
    assert len(seen) == 2, seen
    assert type(seen[0]) is ssl.SSLEOFError
    assert isinstance(seen[1], ssl.SSLEOFError)
    assert isinstance(seen[1], TLSTruncated)


# -- send timeouts, Poller, threads ------------------------------------------


def test_send_timeout_counts_plaintext_and_loses_nothing(
    net: Network, server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext
) -> None:
    client, server = _tls_pair(server_ctx, client_ctx)
    with client, server:
        for sock in (client, server):
            sock.set_option(SO_SNDBUF, 32768)
            sock.set_option(SO_RCVBUF, 32768)
        data = bytes(range(256)) * 4096  # 1 MiB
        client.timeout = 0.5
        with pytest.raises(Timeout) as caught:
            client.send(data)
        sent = caught.value.bytes_sent
        assert 0 < sent < len(data)
        assert not client.is_writable
        reader = _Thread(lambda: _drain(server))
        client.timeout = 5.0
        client.send(b"tail")
        client.shutdown(SHUT_WR)
        assert reader.join() == sent + 4


def test_poller_on_a_socket_upgraded_while_registered(
    net: Network, server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext
) -> None:
    client, server = _connected()
    with client, server, Poller() as poller:
        poller.register(client, sockspec.EVENT_READ)
        task = _Thread(lambda: server.start_tls(server_ctx, server_side=True))
        client.start_tls(client_ctx, server_hostname="localhost")
        task.join()
        server.send(b"a" * 40000)
        assert poller.poll(5)
        assert len(client.receive(10)) == 10
        # The rest of the record is decrypted already: readable at once.
        assert poller.poll(0)
    assert len(poller) == 0


def test_close_during_tls_receive_raises_socket_closed(
    net: Network, server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext
) -> None:
    client, server = _tls_pair(server_ctx, client_ctx)
    client.timeout = None
    reader = _Thread(client.receive)
    time.sleep(0.05)
    client.close()
    reader.join()
    assert isinstance(reader.error, SocketClosed)
    server.close()


def test_unwrap_keeps_plaintext_sent_right_after_close_notify(
    net: Network, server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext
) -> None:
    client, server = _tls_pair(server_ctx, client_ctx)
    with client, server:

        def server_side() -> None:
            server.unwrap()
            server.send(b"in the clear")

        task = _Thread(server_side)
        client.unwrap()
        task.join()
        assert task.error is None
        got = b""
        while len(got) < 12:
            chunk = client.receive(5)
            assert chunk
            got += chunk
        assert got == b"in the clear"


def test_failed_non_blocking_handshake_closes_the_socket(
    net: Network, server_ctx: ssl.SSLContext
) -> None:
    untrusting = ssl.create_default_context(cafile=None)
    untrusting.load_verify_locations(cadata=trustme.CA().cert_pem.bytes().decode())
    client, server = _connected()
    with client, server:
        client.timeout = server.timeout = 0
        client.start_tls(untrusting, server_hostname="localhost")
        server.start_tls(server_ctx, server_side=True)
        assert client.tls_version is None
        failure: BaseException | None = None
        for _ in range(10):
            try:
                client.send(b"never")
            except sockspec.WouldBlock:
                with pytest.raises(sockspec.WouldBlock):
                    server.receive()  # the server answers the ClientHello
            except TLSCertificateError as exc:
                failure = exc
                break
        assert isinstance(failure, TLSCertificateError)
        assert client.closed


def test_both_directions_at_once_from_four_threads(
    backend: str, server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext
) -> None:
    with sockspec.use_backend(backend):
        client, server = _tls_pair(server_ctx, client_ctx)
    up = bytes(range(256)) * 4096
    down = bytes(reversed(range(256))) * 4096

    def receive_exactly(sock: Socket, size: int) -> bytes:
        got = b""
        while len(got) < size:
            chunk = sock.receive()
            assert chunk
            got += chunk
        return got

    with client, server:
        tasks = [
            _Thread(lambda: client.send(up)),
            _Thread(lambda: server.send(down)),
            _Thread(lambda: receive_exactly(server, len(up))),
            _Thread(lambda: receive_exactly(client, len(down))),
        ]
        results = [task.join() for task in tasks]
        assert [task.error for task in tasks] == [None] * 4
        assert results[2] == up
        assert results[3] == down
