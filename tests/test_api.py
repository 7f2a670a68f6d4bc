"""The facade: aliases, argument validation and registry selection."""

from __future__ import annotations

import errno
import os

import pytest

import sockspec
from sockspec.api.socket import SPEC_ALIASES


def test_spec_aliases_are_the_pep8_members() -> None:
    for spec_name, pep8 in SPEC_ALIASES.items():
        assert sockspec.Socket.__dict__[spec_name] is sockspec.Socket.__dict__[pep8]


def test_datagram_ip_address_is_address() -> None:
    d = sockspec.Datagram(b"x", "127.0.0.1", 9)
    assert d.ip_address == d.address == "127.0.0.1"


@pytest.mark.parametrize(
    ("cls", "builtin", "code"),
    [
        (sockspec.Timeout, TimeoutError, errno.ETIMEDOUT),
        (sockspec.WouldBlock, BlockingIOError, errno.EAGAIN),
        (sockspec.ConnectionRefused, ConnectionRefusedError, errno.ECONNREFUSED),
        (sockspec.ConnectionReset, ConnectionResetError, errno.ECONNRESET),
        (sockspec.AddressInUse, OSError, errno.EADDRINUSE),
        (sockspec.SocketClosed, OSError, errno.EBADF),
        (sockspec.NotConnected, OSError, errno.ENOTCONN),
    ],
)
def test_errors_subclass_builtin_and_carry_errno(
    cls: type[sockspec.SocketError], builtin: type[OSError], code: int
) -> None:
    exc = cls("message")
    assert isinstance(exc, sockspec.SocketError)
    assert isinstance(exc, builtin)
    assert exc.errno == code


def test_os_error_mapping() -> None:
    from sockspec.errors import from_os_error

    mapped = from_os_error(OSError(errno.ECONNREFUSED, "refused"))
    assert type(mapped) is sockspec.ConnectionRefused
    assert mapped.errno == errno.ECONNREFUSED
    assert type(from_os_error(TimeoutError("timed out"))) is sockspec.Timeout


def test_unknown_backend_lists_available() -> None:
    with pytest.raises(sockspec.UnknownBackend, match="stdlib"):
        sockspec.Socket(backend="no-such-backend")


def test_backend_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCKSPEC_BACKEND", "no-such-backend")
    with pytest.raises(sockspec.UnknownBackend):
        sockspec.Socket()
    with sockspec.use_backend("stdlib"), sockspec.Socket() as s:
        assert s.backend == "stdlib"
    monkeypatch.delenv("SOCKSPEC_BACKEND")
    with sockspec.Socket() as s:
        assert s.backend == "stdlib"


@pytest.mark.parametrize(
    ("call", "exc", "word"),
    [
        (lambda s: s.send("text"), TypeError, "data"),
        (lambda s: s.send(3), TypeError, "data"),
        (lambda s: s.receive(-1), ValueError, "maxlen"),
        (lambda s: s.receive("10"), TypeError, "maxlen"),
        (lambda s: s.bind("127.0.0.1", 70000), ValueError, "port"),
        (lambda s: s.bind("127.0.0.1", -1), ValueError, "port"),
        (lambda s: s.connect("127.0.0.1", 1.5), TypeError, "port"),
        (lambda s: s.connect(None, 80), TypeError, "host"),
        (lambda s: s.shutdown(1), ValueError, "what"),
        (lambda s: s.set_option("SO_REUSEADDR", True), ValueError, "option"),
        (lambda s: s.set_option(sockspec.SO_RCVBUF, -5), ValueError, "value"),
        (lambda s: s.listen(-1), ValueError, "backlog"),
        (lambda s: setattr(s, "timeout", -1), ValueError, "timeout"),
        (lambda s: setattr(s, "timeout", "1"), TypeError, "timeout"),
    ],
)
def test_bad_arguments_name_the_argument(call, exc, word) -> None:  # type: ignore[no-untyped-def]
    with sockspec.Socket() as s, pytest.raises(exc, match=word):
        call(s)


def test_bad_family_and_type() -> None:
    import socket

    with pytest.raises(ValueError, match="family"):
        sockspec.Socket(socket.AF_INET)
    with pytest.raises(ValueError, match="type"):
        sockspec.Socket(sockspec.AF_INET, "udp")  # type: ignore[arg-type]


def test_closed_socket_raises_socket_closed(no_fd_leak: None) -> None:
    s = sockspec.Socket()
    s.close()
    s.close()
    assert s.closed
    assert not s.is_connected
    with pytest.raises(sockspec.SocketClosed):
        s.bind("127.0.0.1")
    with pytest.raises(sockspec.SocketClosed):
        s.receive()
    with pytest.raises(sockspec.SocketClosed):
        _ = s.local_port


def test_environment_is_clean() -> None:
    assert "SOCKSPEC_BACKEND" not in os.environ or os.environ["SOCKSPEC_BACKEND"] in (
        "",
        *sockspec.available_backends(),
    )


@pytest.mark.parametrize("backend", ["stdlib", "selectors", "memory"])
def test_send_to_on_a_stream_socket_is_send(backend: str) -> None:
    # The address is ignored, as by the OS; before a connection it is
    # NotConnected, like send(), on every backend.
    with (
        sockspec.Socket(backend=backend, timeout=5) as sock,
        pytest.raises(sockspec.NotConnected),
    ):
        sock.send_to("127.0.0.1", 9, b"x")
    with sockspec.Socket(backend=backend, timeout=5) as listener:
        listener.bind("127.0.0.1")
        listener.listen()
        with sockspec.Socket(backend=backend, timeout=5) as client:
            client.connect("127.0.0.1", listener.local_port)
            with listener.accept() as server:
                assert client.send_to("127.0.0.1", 9, b"hello") == 5
                client.shutdown(sockspec.SHUT_WR)
                received = b""
                while chunk := server.receive():
                    received += chunk
                assert received == b"hello"


@pytest.mark.parametrize("backend", ["stdlib", "selectors", "memory"])
@pytest.mark.parametrize("family", [sockspec.AF_INET, sockspec.AF_INET6])
def test_send_to_port_0_is_einval_on_every_backend(
    backend: str, family: sockspec.Family
) -> None:
    host = "127.0.0.1" if family is sockspec.AF_INET else "::1"
    with (
        sockspec.Socket(family, sockspec.SOCK_DGRAM, backend=backend) as sock,
        pytest.raises(sockspec.SocketError) as exc,
    ):
        sock.send_to(host, 0, b"x")
    assert exc.value.errno == errno.EINVAL


@pytest.mark.skipif(
    not hasattr(property, "__set_name__"), reason="Python 3.10 properties are unnamed"
)
def test_read_only_property_error_names_the_pep8_name() -> None:
    with sockspec.Socket(backend="memory") as sock:
        with pytest.raises(AttributeError, match="'is_connected'"):
            sock.is_connected = True  # type: ignore[misc]
        with pytest.raises(AttributeError, match="'local_port'"):
            sock.local_port = 1  # type: ignore[misc]
