"""Establishing connections and what goes wrong: refused, in use, names.

Unreachable hosts: the suite runs on loopback only, and a route-less address
cannot be provoked there without sending packets off the machine, so it is
covered by ``address_not_available`` (binding an address the host does not
have) and ``unknown_host`` (names under the reserved ``.invalid`` domain,
which never resolve and answer at once without a DNS round trip).
"""

from __future__ import annotations

import errno
import socket as _socket
from collections.abc import Callable

from ...api.constants import (
    AF_INET,
    AF_INET6,
    AF_UNIX,
    EVENT_WRITE,
    SHUT_RDWR,
    SO_REUSEADDR,
    SOCK_DGRAM,
    SOCK_STREAM,
    TCP_NODELAY,
)
from ...api.errors import (
    AddressInUse,
    AddressNotAvailable,
    AlreadyConnected,
    ConnectionRefused,
    HostNotFound,
    NotConnected,
    SocketClosed,
    SocketError,
    Timeout,
    WouldBlock,
)
from ...api.socket import Socket
from ..core import FAMILIES, IP_FAMILIES, check
from ..harness import Harness

#: Names in the reserved ``.invalid`` domain (RFC 2606) never resolve.
UNKNOWN_HOST = "no-such-host.sockspec.invalid"
#: An address from TEST-NET-2 (RFC 5737): never one of this host's own.
FOREIGN_ADDRESS = {AF_INET: "198.51.100.7", AF_INET6: "2001:db8::7"}


@check(
    group="connect",
    per_family=FAMILIES,
    spec=[
        "connect / Initiate a connection on a socket",
        "listen / Listen for incoming connections on a socket (use before an accept)",
    ],
)
def connection_refused(h: Harness) -> None:
    """Connecting where nothing listens raises ConnectionRefused."""
    bound = h.socket(server=True)
    bound.bind(h.host())
    client = h.socket()
    with h.raises(
        ConnectionRefused, "connect to a non-listening socket succeeded"
    ) as caught:
        client.connect(*h.address(bound))
    exc = caught.value
    assert exc.errno == errno.ECONNREFUSED, exc.errno
    assert isinstance(exc, ConnectionRefusedError)
    assert not client.is_connected
    if h.family is AF_UNIX:
        with h.raises(SocketError, "connect to a missing path") as missing:
            h.socket().connect(h.unix_path("nothing-here"), None)
        assert missing.value.errno in (errno.ENOENT, errno.ECONNREFUSED), missing.value


@check(
    group="connect",
    per_family=FAMILIES,
    spec=["bind / When a new socket is created, it has no address bound to it."],
)
def address_in_use(h: Harness) -> None:
    """Binding an address a listener holds raises AddressInUse."""
    listener = h.listener()
    clash = h.socket()
    with h.raises(
        AddressInUse, "a second bind to a listening address succeeded"
    ) as caught:
        clash.bind(*h.address(listener))
    exc = caught.value
    assert exc.errno == errno.EADDRINUSE, exc.errno
    # The failed bind left the socket usable.
    clash.bind(h.host())


@check(
    group="connect",
    per_family=IP_FAMILIES,
    options=[SO_REUSEADDR],
    spec=["setOption / Set socket option value to socket option name"],
)
def port_reuse_after_close(h: Harness) -> None:
    """With SO_REUSEADDR a server can listen again on the port it just used."""
    listener = h.listener(options={SO_REUSEADDR: True})
    host, port = h.address(listener)
    client = h.connect(listener)
    server = h.accept(listener)
    server.send(b"bye")
    # The server closes first, so its side of the connection lingers in
    # TIME_WAIT: exactly the state SO_REUSEADDR exists for.
    server.close()
    assert h.receive_all(client) == b"bye"
    client.close()
    listener.close()
    again = h.socket(server=True)
    again.set_option(SO_REUSEADDR, True)
    again.bind(host, port)
    again.listen()
    h.connect(again).send(b"hello again")
    assert h.receive_exactly(h.accept(again), 11) == b"hello again"


@check(
    group="connect",
    spec=[
        "connect( host, port [, timeout] )",
        "connect / Initiate a connection on a socket",
    ],
)
def connect_while_connecting(h: Harness) -> None:
    """A connect while a non-blocking one is pending: EALREADY, or it waits.

    As with the socket module: a non-blocking second connect raises
    :class:`~sockspec.WouldBlock` (a ``BlockingIOError``) with ``EALREADY``;
    a blocking or timed one waits for the pending attempt to finish.
    """
    listener = h.listener(backlog=0)
    address = h.address(listener)
    h.socket(timeout=None).connect(*address, timeout=2.5)  # fills the queue
    for _ in range(8):  # bounded: the queue is full after a few at most
        pending = h.socket(timeout=0)
        try:
            pending.connect(*address)
        except WouldBlock:
            pass
        except ConnectionRefused:
            h.skip("the backend refuses connections to a full queue at once")
        else:
            continue
        if not h.wait_for(pending, EVENT_WRITE, timeout=0.3):
            break  # still in progress
    else:
        raise AssertionError("no connect stayed in progress behind a full queue")
    with h.raises(WouldBlock, "connect while one is in progress") as caught:
        pending.connect(*address)
    exc = caught.value
    assert isinstance(exc, BlockingIOError)
    assert exc.errno == errno.EALREADY, f"errno {exc.errno}, not EALREADY"
    started = h.monotonic()
    with h.raises(Timeout, "connect(timeout=0.3) behind a full queue"):
        pending.connect(*address, timeout=0.3)
    h.assert_timed_out_in(started, 0.3)
    h.accept(listener)  # room in the queue: the pending attempt gets through
    pending.connect(*address, timeout=h.io_timeout)
    assert pending.is_connected, "connect returned but the socket is not connected"


@check(
    group="connect",
    cross=False,
    types=[SOCK_STREAM, SOCK_DGRAM],
    spec=[
        "connect / Initiate a connection on a socket",
        "connect / host: IP address or hostname",
        "sendTo / host: IP address or hostname",
    ],
)
def unknown_host(h: Harness) -> None:
    """Unresolvable names raise HostNotFound (with errno) from every call."""
    calls: dict[str, Callable[[], object]] = {
        "connect": lambda: h.socket().connect(UNKNOWN_HOST, 80),
        "bind": lambda: h.socket().bind(UNKNOWN_HOST, 0),
        "send_to": lambda: h.socket(type=SOCK_DGRAM).send_to(UNKNOWN_HOST, 9, b"x"),
    }
    for name, call in calls.items():
        started = h.monotonic()
        with h.raises(HostNotFound, f"{name} to {UNKNOWN_HOST}") as caught:
            call()
        exc = caught.value
        assert exc.errno is not None, f"{name}: HostNotFound without errno"
        assert isinstance(exc, OSError)
        assert h.monotonic() - started < 10, f"{name}: resolution took too long"
    with h.raises(HostNotFound, "an unknown service name") as caught:
        h.socket().connect("127.0.0.1", "no-such-service")


@check(
    group="connect",
    cross=False,
    per_family=IP_FAMILIES,
    spec=["bind / host: address (interface) to which the socket will be bound."],
)
def address_not_available(h: Harness) -> None:
    """Binding an address this host does not have raises AddressNotAvailable."""
    with h.raises(
        AddressNotAvailable, f"bind to {FOREIGN_ADDRESS[h.family]} succeeded"
    ) as caught:
        h.socket().bind(FOREIGN_ADDRESS[h.family], 0)
    exc = caught.value
    assert exc.errno == errno.EADDRNOTAVAIL, exc.errno


@check(
    group="connect",
    spec=[
        "connect / port: port number or service name",
        "sendTo / port: port number or service name",
        "bind / port: port number or service name to which socket is to be bound.",
    ],
)
def service_name_port(h: Harness) -> None:
    """Ports may be given as service names ("http-alt") or digit strings."""
    listener = h.listener()
    client = h.socket()
    client.connect(h.host(), str(listener.local_port))
    assert client.remote_port == listener.local_port
    h.accept(listener)
    for name in ("http-alt", "tproxy", "postgresql", "mysql"):
        try:
            number = _socket.getservbyname(name, "tcp")
        except OSError:
            continue
        server = h.socket(server=True)
        if SO_REUSEADDR in h.server.capabilities.options:
            server.set_option(SO_REUSEADDR, True)  # earlier runs' TIME_WAIT
        try:
            server.bind(h.host(), name)
        except AddressInUse:
            continue  # a real service holds it on this machine; try another
        assert server.local_port == number, f"{name} bound {server.local_port}"
        server.listen()
        named = h.socket()
        named.connect(h.host(), name)
        assert named.remote_port == number
        accepted = h.accept(server)
        # The client closes first, so TIME_WAIT stays on its ephemeral port
        # and the next run can bind the service's port again.
        named.close()
        assert accepted.receive() == b""
        return
    h.skip("no unprivileged service name is free in the services database")


@check(
    group="connect",
    per_family=IP_FAMILIES,
    spec=[
        "connect( host, port [, timeout] )",
        "connect / timeout: timeout value (default X microseconds)",
    ],
)
def connect_timeout(h: Harness) -> None:
    """connect(timeout=) bounds the attempt and leaves the socket's timeout."""
    listener = h.listener(backlog=0)
    sock = h.socket(timeout=None)
    sock.connect(*h.address(listener), timeout=2.5)
    assert sock.is_connected
    assert sock.timeout is None
    # A listener that never accepts and has a full queue ignores new
    # attempts (real TCP drops the SYN), so connecting must time out.
    for _ in range(8):
        attempt = h.socket(timeout=None)
        started = h.monotonic()
        try:
            attempt.connect(*h.address(listener), timeout=0.3)
        except Timeout:
            h.assert_timed_out_in(started, 0.3)
            assert attempt.timeout is None, "connect(timeout=) changed timeout"
            assert not attempt.is_connected
            return
        except ConnectionRefused:
            h.skip("the backend refuses connections to a full queue at once")
    raise AssertionError("connections to a full, never-accepting queue succeeded")


@check(
    group="connect",
    cross=False,
    types=[SOCK_STREAM, SOCK_DGRAM],
    options=[TCP_NODELAY],
    spec=[
        "isConnected / Returns TRUE if the socket is in a connected state",
        "remoteAddress / Get remote socket IP address",
        "remotePort / Get remote socket port number",
        "shutdown([what])",
        "send/write / Send a block of bytes to the socket",
    ],
)
def unconnected_operations(h: Harness) -> None:
    """Calls that need a peer raise NotConnected on a socket without one."""
    sock = h.socket()
    assert not sock.is_connected
    assert not sock.is_readable
    assert not sock.is_writable
    assert sock.remote_address is None
    assert sock.remote_port is None
    needs_peer: dict[str, Callable[[], object]] = {
        "send": lambda: sock.send(b"x"),
        "receive": lambda: sock.receive(),
        "shutdown": lambda: sock.shutdown(SHUT_RDWR),
    }
    for name, call in needs_peer.items():
        with h.raises(
            NotConnected, f"{name} on an unconnected socket succeeded"
        ) as caught:
            call()
        exc = caught.value
        assert exc.errno == errno.ENOTCONN, f"{name}: errno {exc.errno}"
    sock.set_option(TCP_NODELAY, True)  # options need no peer
    datagram = h.socket(type=SOCK_DGRAM)
    with h.raises(
        NotConnected, "send on an unconnected datagram socket succeeded"
    ) as caught:
        datagram.send(b"x")


@check(
    group="connect",
    spec=["connect / Initiate a connection on a socket"],
)
def connect_twice(h: Harness) -> None:
    """connect() on a connected stream socket raises AlreadyConnected."""
    listener = h.listener()
    for timeout in (None, 0.5):
        client = h.connect(listener, timeout=timeout)
        h.accept(listener)
        with h.raises(
            AlreadyConnected, f"second connect (timeout={timeout})"
        ) as caught:
            client.connect(*h.address(listener))
        exc = caught.value
        assert exc.errno == errno.EISCONN, exc.errno
        assert client.is_connected


@check(
    group="connect",
    cross=False,
    types=[SOCK_STREAM, SOCK_DGRAM],
    any_family=True,
    spec=["close()", "close / Close the socket immediately"],
)
def closed_operations(h: Harness) -> None:
    """Every call on a closed socket raises SocketClosed; close is idempotent."""
    client, server = h.pair()
    for sock in (client, h.socket(type=SOCK_DGRAM), h.listener()):
        sock.close()
        sock.close()
        assert sock.closed
        assert not sock.is_connected
        assert not sock.is_readable
        assert not sock.is_writable
        calls = closed_calls(h, sock)
        for name, call in calls.items():
            with h.raises(SocketError, f"{name} on a closed socket") as caught:
                call()
            error = caught.value
            if isinstance(error, SocketClosed):
                assert error.errno == errno.EBADF, f"{name}: errno {error.errno}"
            elif not _kind_error(sock, name):
                # Only calls that make no sense for this kind of socket may
                # say so first (listen on a datagram socket).
                raise AssertionError(f"{name}: {error!r}, not SocketClosed")
        with h.raises(SocketClosed, "setting the timeout of a closed socket"):
            sock.timeout = 1.0
    assert h.receive_all(server) == b""


def _kind_error(sock: Socket, name: str) -> bool:
    if name in ("set_option", "get_option"):
        return True  # the backend may lack the option
    return sock.type is SOCK_DGRAM and name in ("listen", "accept")


def closed_calls(h: Harness, sock: Socket) -> dict[str, Callable[[], object]]:
    """One call of each kind on *sock*, by name, for the closed-socket checks."""
    port = None if sock.family is AF_UNIX else 9
    return {
        "connect": lambda: sock.connect(h.host(), port),
        "bind": lambda: sock.bind(h.host()),
        "listen": lambda: sock.listen(),
        "accept": lambda: sock.accept(),
        "shutdown": lambda: sock.shutdown(),
        "receive": lambda: sock.receive(),
        "send": lambda: sock.send(b"x"),
        "receive_from": lambda: sock.receive_from(),
        "send_to": lambda: sock.send_to(h.host(), port, b"x"),
        "set_option": lambda: sock.set_option(SO_REUSEADDR, True),
        "get_option": lambda: sock.get_option(SO_REUSEADDR),
        "local_address": lambda: sock.local_address,
        "remote_port": lambda: sock.remote_port,
    }
