"""The module's surface: exports, construction, spec aliases and errors."""

from __future__ import annotations

import copy
import errno
import pickle

import sockspec

from ...api.constants import AF_INET, SOCK_STREAM, Family, SocketType
from ...api.datagram import Datagram
from ...api.errors import (
    AddressInUse,
    ConnectionRefused,
    HostNotFound,
    NotConnected,
    SocketClosed,
    SocketError,
    Timeout,
    WouldBlock,
)
from ...api.socket import SPEC_ALIASES, Socket
from ..core import check
from ..harness import Harness

_EXPORTS = (
    "Socket",
    "Datagram",
    "Poller",
    "AF_INET",
    "AF_INET6",
    "AF_UNIX",
    "SOCK_STREAM",
    "SOCK_DGRAM",
    "SHUT_RD",
    "SHUT_WR",
    "SHUT_RDWR",
    "SocketError",
)


@check(
    group="api",
    cross=False,
    spec=[
        'The "socket" module supports the Socket API',
        'For the purpose of this documentation, "soc"',
        'The "socket" module must export the following:',
    ],
)
def api_surface(h: Harness) -> None:
    """The package exports the Socket class, the constants and the errors."""
    for name in _EXPORTS:
        assert name in sockspec.__all__, f"sockspec.__all__ lacks {name}"
        assert hasattr(sockspec, name), f"sockspec has no attribute {name}"
    with h.socket() as sock:
        assert isinstance(sock, sockspec.Socket)
        for method in ("connect", "accept", "bind", "listen", "shutdown", "close"):
            assert callable(getattr(sock, method)), f"Socket.{method} missing"


@check(
    group="api",
    cross=False,
    spec=[
        'For the purpose of this documentation, "soc"',
        "receive/read( [maxlen])",
        "send/write(data)",
        "receiveFrom( [maxlen])",
        "sendTo( host, port, data)",
        "sendFile(file)",
        "setOption( option, value)",
        "getOption()",
        "isConnected",
        "isWritable",
        "isReadable",
        "localAddress",
        "localPort",
        "remoteAddress",
        "remotePort",
        "receiveFrom / Receive all data from socket. Returns object with ip_address",
    ],
)
def spec_aliases(h: Harness) -> None:
    """Every spec name is the same member as its PEP 8 name."""
    for spec_name, pep8 in SPEC_ALIASES.items():
        member = Socket.__dict__.get(spec_name)
        assert member is not None, f"Socket.{spec_name} is missing"
        assert member is Socket.__dict__[pep8], f"{spec_name} is not {pep8}"
    client, server = h.pair()
    for spec_name, pep8 in SPEC_ALIASES.items():
        value = getattr(client, pep8)
        if not callable(value):
            assert getattr(client, spec_name) == value, f"{spec_name} != {pep8}"
    client.write(b"alias")
    assert h.receive_exactly(server, 5) == b"alias"
    server.write(b"back")
    assert client.read(4) == b"back"
    datagram = Datagram(b"x", "127.0.0.1", 9)
    assert datagram.ip_address == datagram.address


@check(
    group="api",
    cross=False,
    spec=[
        "var s = new Socket(family, type)",
        "Socket / The Socket class is used to create",
        "Socket / family = AF_INET (default)",
        "Socket / type = SOCK_STREAM for TCP (default)",
        "type",
        "type / Socket type, SOCK_STREAM (TCP) or SOCK_DGRAM (UDP)",
    ],
)
def socket_construct(h: Harness) -> None:
    """Socket(family, type) makes each kind the backend offers.

    Undeclared kinds and bad arguments never reach a backend: the facade
    refuses them, and the API tests check that once.
    """
    caps = h.backend.capabilities
    with Socket(backend=h.backend) as default:
        assert default.family is AF_INET, default.family
        assert default.type is SOCK_STREAM, default.type
        assert default.backend == h.backend.name
        assert default.timeout is None
        assert not default.is_connected
    kinds: list[tuple[Family, SocketType]] = [
        (f, t) for f in sockspec.Family for t in sockspec.SocketType
    ]
    for family, type in kinds:
        if family not in caps.families or type not in caps.types:
            continue
        with Socket(family, type, backend=h.backend, timeout=0) as sock:
            assert sock.family is family
            assert sock.type is type
            assert sock.timeout == 0


@check(
    group="api",
    cross=False,
    spec=["connect / Initiate a connection on a socket"],
)
def errors_carry_errno(h: Harness) -> None:
    """Errors from real failures subclass the built-ins and carry errno."""
    found: list[tuple[OSError, type[OSError], int | None]] = []
    listener = h.listener()
    host, port = h.address(listener)
    client = h.connect(listener, timeout=0.1)
    server = h.accept(listener)
    try:
        client.receive()
    except Timeout as exc:
        found.append((exc, TimeoutError, errno.ETIMEDOUT))
    client.timeout = 0
    try:
        client.receive()
    except WouldBlock as exc:
        found.append((exc, BlockingIOError, errno.EAGAIN))
    clash = h.socket()
    try:
        clash.bind(host, port)
    except AddressInUse as exc:
        found.append((exc, OSError, errno.EADDRINUSE))
    listener.close()
    # The port stays taken by the accepted connection's socket on some
    # systems; a bound, non-listening socket refuses connections everywhere.
    closed_port = h.socket()
    closed_port.bind(h.host())
    try:
        h.socket().connect(*h.address(closed_port))
    except ConnectionRefused as exc:
        found.append((exc, ConnectionRefusedError, errno.ECONNREFUSED))
    try:
        h.socket().receive()
    except NotConnected as exc:
        found.append((exc, OSError, errno.ENOTCONN))
    try:
        h.socket().connect("no-such-host.invalid", 80)
    except HostNotFound as exc:
        found.append((exc, OSError, exc.errno if exc.errno is not None else 0))
    server.close()
    try:
        server.send(b"x")
    except SocketClosed as exc:
        found.append((exc, OSError, errno.EBADF))
    expected = 7
    assert len(found) == expected, f"only {len(found)} of {expected} errors raised"
    for error, builtin, code in found:
        name = type(error).__name__
        assert isinstance(error, SocketError), f"{error!r} is not a SocketError"
        assert isinstance(error, builtin), f"{error!r} is not a {builtin.__name__}"
        assert error.errno == code, f"{name}.errno is {error.errno}, not {code}"


@check(
    group="api",
    cross=False,
    spec=["Socket / The Socket class is used to create"],
)
def not_copyable(h: Harness) -> None:
    """copy, deepcopy and pickle of a socket raise TypeError, as in socket.

    A copy would be a second object over one connection: closing it would
    leave the original claiming to be open.
    """
    listener = h.listener()
    client = h.connect(listener)
    for sock in (h.socket(), listener, client, h.accept(listener)):
        for name, attempt in (
            ("copy.copy", copy.copy),
            ("copy.deepcopy", copy.deepcopy),
            ("pickle.dumps", pickle.dumps),
        ):
            with h.raises(TypeError, f"{name} of {sock!r}"):
                attempt(sock)
    client.send(b"still usable")
