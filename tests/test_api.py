"""The facade: aliases, argument validation and registry selection."""

from __future__ import annotations

import errno
import os
import socket

import pytest

import sockspec
from _tripwire import ReachedBackend, Tripwire
from sockspec.api.backend import SocketImpl
from sockspec.api.constants import FLAG_OPTIONS, Family, SocketType
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


# -- refusals the facade makes before any backend code runs -------------------
# These once lived in the conformance suite, where they passed on every
# backend without exercising it; here they run once, on a backend that fails
# the test if it is called.


class _FewKinds(Tripwire):
    name = "few-kinds"
    capabilities = sockspec.Capabilities(
        families=frozenset({sockspec.AF_INET}),
        types=frozenset({sockspec.SOCK_STREAM}),
        options=frozenset({sockspec.SO_REUSEADDR}),
    )

    def socket(self, family: Family, type: SocketType) -> SocketImpl:
        assert (family, type) == (sockspec.AF_INET, sockspec.SOCK_STREAM), (
            f"the facade asked for an undeclared {family.name} {type.name}"
        )
        return super().socket(family, type)


def test_undeclared_kinds_are_refused_before_the_backend() -> None:
    backend = _FewKinds()
    for family in sockspec.Family:
        for type in sockspec.SocketType:
            if (family, type) == (sockspec.AF_INET, sockspec.SOCK_STREAM):
                sockspec.Socket(family, type, backend=backend).close()
                continue
            with pytest.raises(sockspec.UnsupportedOperation, match="few-kinds"):
                sockspec.Socket(family, type, backend=backend)


@pytest.mark.parametrize("bad", ["SOCK_RAW", 3, None, socket.SOCK_STREAM])
def test_bad_kinds_name_the_type_argument(bad: object) -> None:
    with pytest.raises((TypeError, ValueError), match="type"):
        sockspec.Socket(sockspec.AF_INET, bad, backend=Tripwire())  # type: ignore[arg-type]


def test_undeclared_options_are_refused_before_the_backend() -> None:
    with sockspec.Socket(backend=_FewKinds()) as sock:
        for option in sockspec.Option:
            if option is sockspec.SO_REUSEADDR:
                continue
            value = True if option in FLAG_OPTIONS else 1
            with pytest.raises(sockspec.UnsupportedOperation, match=option.name):
                sock.set_option(option, value)
            with pytest.raises(sockspec.UnsupportedOperation, match=option.name):
                sock.get_option(option)


#: Options meaningless for a kind of socket, written out (not derived from
#: the facade's own table) so that a change to that table shows up here.
_AF, _SOCK = sockspec.Family, sockspec.SocketType
_REFUSED: dict[tuple[str, str], str] = {
    ("AF_INET", "SOCK_STREAM"): "IPV6_V6ONLY SO_BROADCAST",
    ("AF_INET", "SOCK_DGRAM"): "IPV6_V6ONLY SO_KEEPALIVE SO_LINGER TCP_NODELAY",
    ("AF_INET6", "SOCK_STREAM"): "SO_BROADCAST",
    ("AF_INET6", "SOCK_DGRAM"): "SO_KEEPALIVE SO_LINGER TCP_NODELAY",
    ("AF_UNIX", "SOCK_STREAM"): (
        "IPV6_V6ONLY SO_BROADCAST SO_KEEPALIVE SO_REUSEPORT TCP_NODELAY"
    ),
    ("AF_UNIX", "SOCK_DGRAM"): (
        "IPV6_V6ONLY SO_BROADCAST SO_KEEPALIVE SO_LINGER SO_REUSEPORT TCP_NODELAY"
    ),
}
NOT_APPLICABLE = [
    (_AF[family], _SOCK[type], sockspec.Option[option])
    for (family, type), options in _REFUSED.items()
    for option in options.split()
]


@pytest.mark.parametrize(("family", "type", "option"), NOT_APPLICABLE)
def test_options_that_do_not_apply_are_refused_before_the_backend(
    family: Family, type: SocketType, option: sockspec.Option
) -> None:
    value = True if option in FLAG_OPTIONS else 0
    with sockspec.Socket(family, type, backend=Tripwire()) as sock:
        with pytest.raises(sockspec.UnsupportedOperation, match=option.name):
            sock.set_option(option, value)
        with pytest.raises(sockspec.UnsupportedOperation, match=option.name):
            sock.get_option(option)


def test_options_that_apply_reach_the_backend() -> None:
    # The other half of the table: nothing the backend must implement is
    # refused by the facade.
    refused = set(NOT_APPLICABLE)
    for family in sockspec.Family:
        for type in sockspec.SocketType:
            with sockspec.Socket(family, type, backend=Tripwire()) as sock:
                for option in sockspec.Option:
                    if (family, type, option) in refused:
                        continue
                    with pytest.raises(ReachedBackend):
                        sock.get_option(option)
