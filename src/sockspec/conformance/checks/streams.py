"""Stream sockets: data integrity, half-close, end of stream, accept, files."""

from __future__ import annotations

import functools
import io
import socket as _socket
import tempfile
from collections.abc import Callable

from ...api.constants import (
    AF_INET,
    AF_INET6,
    AF_UNIX,
    SHUT_RD,
    SHUT_RDWR,
    SHUT_WR,
    SOCK_DGRAM,
    SOCK_STREAM,
)
from ...api.errors import (
    BrokenPipe,
    ConnectionReset,
    SocketError,
    UnsupportedOperation,
)
from ...api.socket import Socket
from ..core import FAMILIES, IP_FAMILIES, check
from ..harness import Harness

_MIB = 1 << 20


def _send_in_chunks(h: Harness, sock: Socket, data: bytes) -> Callable[[], None]:
    """Return a function that sends *data* in random-sized pieces, then EOF."""
    sizes = []
    left = len(data)
    while left:
        size = min(left, h.rng.randint(1, 96 * 1024))
        sizes.append(size)
        left -= size

    def send() -> None:
        view = memoryview(data)
        offset = 0
        for size in sizes:
            sent = sock.send(view[offset : offset + size])
            assert sent == size, f"send returned {sent} for {size} bytes"
            offset += size
        sock.shutdown(SHUT_WR)

    return send


@check(
    group="stream",
    per_family=FAMILIES,
    nettest="BasicIO",
    spec=[
        "connect( host, port [, timeout] )",
        "accept()",
        "listen()",
        "send/write(data)",
        "send/write / Send a block of bytes to the socket",
        "send/write / data: block of bytes to send",
        "receive/read( [maxlen])",
        "receive/read / Receive a block of bytes from the socket",
    ],
)
def basic_io(h: Harness) -> None:
    """1 MiB of seeded random bytes echoed back arrive byte-exact."""
    data = h.random_bytes(_MIB)
    client, server = h.pair()

    def echo() -> int:
        total = 0
        while True:
            chunk = server.receive(h.rng.randint(1, 70000))
            if not chunk:
                server.shutdown(SHUT_WR)
                return total
            server.send(chunk)
            total += len(chunk)

    echoer = h.thread(echo, "echo")
    sender = h.thread(_send_in_chunks(h, client, data), "sender")
    received = h.receive_all(client, limit=len(data))
    sender.result()
    assert echoer.result() == len(data)
    assert len(received) == len(data), f"{len(received)} of {len(data)} bytes back"
    assert received == data, "the data came back altered"


@check(
    group="stream",
    per_family=FAMILIES,
    nettest="PingPong",
    spec=[
        "send/write / Send a block of bytes to the socket",
        "receive/read / Receive a block of bytes from the socket",
    ],
)
def ping_pong(h: Harness) -> None:
    """Small messages bounce back and forth in order, each side waiting."""
    client, server = h.pair()
    for i in range(200):
        message = i.to_bytes(4, "big")
        assert client.send(message) == 4
        assert h.receive_exactly(server, 4) == message
        reply = (i + 1).to_bytes(4, "big")
        assert server.send(reply) == 4
        assert h.receive_exactly(client, 4) == reply


@check(
    group="stream",
    per_family=FAMILIES,
    spec=[
        "shutdown([what])",
        "shutdown / Shut down part of a full-duplex connection",
        "shutdown / what: SHUT_RD, SHUT_WR or SHUT_RDWR",
    ],
)
def half_close(h: Harness) -> None:
    """SHUT_WR on either side ends its direction; the other keeps working."""
    for closer_is_client in (True, False):
        client, server = h.pair()
        closer, other = (client, server) if closer_is_client else (server, client)
        closer.send(b"last words")
        closer.shutdown(SHUT_WR)
        assert h.receive_all(other) == b"last words"
        assert other.receive() == b"", "end of stream is not sticky"
        with h.raises(SocketError, "send after shutdown(SHUT_WR)"):
            closer.send(b"more")
        payload = h.random_bytes(100_000)
        sender = h.thread(functools.partial(other.send, payload), "reply")
        assert h.receive_exactly(closer, len(payload)) == payload
        assert sender.result() == len(payload)
        other.shutdown(SHUT_WR)
        assert closer.receive() == b""


@check(
    group="stream",
    per_family=FAMILIES,
    spec=[
        "shutdown / Shut down part of a full-duplex connection",
        "shutdown / what: SHUT_RD, SHUT_WR or SHUT_RDWR",
    ],
)
def shutdown_read_and_both(h: Harness) -> None:
    """SHUT_RD stops receiving but not sending; SHUT_RDWR stops both."""
    client, server = h.pair()
    client.shutdown(SHUT_RD)
    assert client.receive() == b"", "receive after SHUT_RD must report the end"
    client.send(b"still sending")
    assert h.receive_exactly(server, 13) == b"still sending"
    client2, server2 = h.pair()
    client2.shutdown(SHUT_RDWR)
    assert client2.receive() == b""
    with h.raises(SocketError, "send after shutdown(SHUT_RDWR)"):
        client2.send(b"x")
    assert h.receive_all(server2) == b""


@check(
    group="stream",
    per_family=FAMILIES,
    spec=[
        "close()",
        "close / Close the socket immediately",
        "receive/read / Receive a block of bytes from the socket",
    ],
)
def eof(h: Harness) -> None:
    """Data sent before close arrives first, then b"" at every receive."""
    client, server = h.pair()
    client.send(b"goodbye")
    client.close()
    assert h.receive_all(server) == b"goodbye"
    for _ in range(3):
        assert server.receive() == b"", "end of stream is not sticky"
    assert server.is_readable, "a socket at end of stream must be readable"
    # Writing to a closed peer fails sooner or later; it must not hang.
    try:
        for _ in range(64):
            server.send(b"x" * 65536)
    except SocketError:
        pass


@check(
    group="stream",
    per_family=FAMILIES,
    spec=["close()", "close / Close the socket immediately"],
)
def reset_on_unread_close(h: Harness) -> None:
    """Closing with unread data resets the peer: ConnectionReset, not b"".

    A reset must never pass for a clean end of stream, and once reported the
    connection stays unusable for sending.
    """
    client, server = h.pair()
    client.send(b"this is never read")
    assert h.wait_for(server), "the data never reached the server"
    server.close()
    assert h.wait_for(client), "the reset never reached the client"
    with h.raises(ConnectionReset, "receive after the peer reset"):
        client.receive()
    with h.raises((ConnectionReset, BrokenPipe), "send after the reset"):
        for _ in range(64):
            client.send(b"x" * 65536)


@check(
    group="stream",
    spec=[
        "receive/read / maxlen: number of bytes to read. Default: X bytes",
        "receive/read( [maxlen])",
    ],
)
def receive_maxlen(h: Harness) -> None:
    """receive(n) never returns more than n; receive() at most 65536."""
    client, server = h.pair()
    data = h.random_bytes(200_000)
    sender = h.thread(lambda: client.send(data), "sender")
    got = bytearray()
    for size in (1, 7, 1000):
        chunk = server.receive(size)
        assert 0 < len(chunk) <= size, f"receive({size}) gave {len(chunk)} bytes"
        got += chunk
    while len(got) < len(data):
        chunk = server.receive()
        assert 0 < len(chunk) <= 65536, f"receive() gave {len(chunk)} bytes"
        got += chunk
    sender.result()
    assert bytes(got) == data


@check(
    group="stream",
    per_family=FAMILIES,
    spec=[
        "accept()",
        "accept / Accept a connection on a socket. Returns a new (connected)",
        "listen()",
        "listen / Listen for incoming connections on a socket",
        "isConnected",
        "isConnected / Returns TRUE if the socket is in a connected state",
    ],
)
def accept_connections(h: Harness) -> None:
    """accept() returns a new connected Socket per client; listening goes on."""
    listener = h.listener(backlog=8)
    assert not listener.is_connected, "a listening socket is not connected"
    clients = [h.connect(listener) for _ in range(3)]
    accepted = [h.accept(listener) for _ in clients]
    for sock in accepted:
        assert isinstance(sock, Socket)
        assert sock is not listener
        assert sock.is_connected
        assert sock.backend == h.server.name
        assert sock.family is listener.family
        assert sock.type is listener.type
    for i, client in enumerate(clients):
        assert client.is_connected
        client.send(bytes([i]) * 3)
    for i, server in enumerate(accepted):
        # Connections are accepted in arrival order on every real system.
        assert h.receive_exactly(server, 3) == bytes([i]) * 3


@check(group="stream", spec=["accept / Accept a connection on a socket"])
def accept_inherits_timeout(h: Harness) -> None:
    """An accepted socket starts with its listener's timeout."""
    listener = h.listener(timeout=0.3)
    h.connect(listener)
    server = h.accept(listener)
    assert server.timeout == 0.3, f"accepted timeout {server.timeout}"
    started = h.monotonic()
    with h.raises(TimeoutError, "receive on the accepted socket"):
        server.receive()
    h.assert_timed_out_in(started, 0.3)


@check(
    group="stream",
    per_family=(AF_INET, AF_UNIX),
    spec=[
        "sendFile(file)",
        "sendFile / Sends a complete File object across a socket.",
        "sendFile / file: a File object",
    ],
)
def send_file(h: Harness) -> None:
    """send_file sends a file from its position to its end, byte-exact."""
    data = h.random_bytes(_MIB + 4321)
    client, server = h.pair()
    with tempfile.TemporaryFile() as file:
        file.write(data)
        file.seek(1000)
        task = h.thread(lambda: client.sendFile(file), "send_file")
        received = h.receive_exactly(server, len(data) - 1000)
        assert task.result() == len(data) - 1000
        assert file.tell() == len(data), f"file position {file.tell()} after send"
    assert received == data[1000:], "send_file altered the data"
    memory = io.BytesIO(b"not a real file")
    memory.seek(4)
    assert client.send_file(memory) == 11
    assert h.receive_exactly(server, 11) == b"a real file"
    client.shutdown(SHUT_WR)
    assert server.receive() == b""


@check(
    group="stream",
    per_family=FAMILIES,
    spec=[
        "localAddress",
        "localAddress / Get local socket IP address",
        "localPort",
        "localPort / Get local socket port number",
        "remoteAddress",
        "remoteAddress / Get remote socket IP address",
        "remotePort",
        "remotePort / Get remote socket port number",
    ],
)
def metadata(h: Harness) -> None:
    """local/remote address and port describe both ends, None where unset."""
    fresh = h.socket()
    assert fresh.remote_address is None
    assert fresh.remote_port is None
    assert fresh.local_port is None
    listener = h.listener()
    host, port = h.address(listener)
    client = h.connect(listener)
    server = h.accept(listener)
    assert client.remote_address == host, client.remote_address
    assert client.remote_port == port, client.remote_port
    assert server.local_address == host, server.local_address
    assert server.local_port == port, server.local_port
    if h.family is AF_UNIX:
        assert port is None
        assert client.local_port is None
        assert server.remote_port is None
        assert client.local_address is None, "an unbound client has no path"
        assert server.remote_address is None, server.remote_address
    else:
        assert isinstance(client.local_port, int)
        assert client.local_port > 0
        assert client.local_address == host, client.local_address
        assert server.remote_address == client.local_address
        assert server.remote_port == client.local_port


@check(
    group="stream",
    per_family=IP_FAMILIES,
    spec=[
        "bind( [host] [,port])",
        "bind / When a new socket is created, it has no address bound to it.",
        "bind / host: address (interface) to which the socket will be bound.",
        "bind / port: port number or service name to which socket is to be bound.",
    ],
)
def bind_defaults(h: Harness) -> None:
    """bind() takes any address and an ephemeral port; bind(host) a port."""
    sock = h.socket(server=True)
    assert sock.local_port is None, "a new socket must have no address"
    sock.bind()
    any_address = "0.0.0.0" if h.family is AF_INET else "::"
    assert sock.local_address == any_address, sock.local_address
    port = sock.local_port
    assert isinstance(port, int), port
    assert 0 < port < 65536, port
    sock.listen()
    client = h.socket()
    client.connect(h.host(), port)
    accepted = h.accept(sock)
    assert accepted.local_address == h.host()
    named = h.socket()
    named.bind(h.host())
    assert named.local_address == h.host()
    assert isinstance(named.local_port, int)
    assert named.local_port > 0


@check(
    group="stream",
    types=[SOCK_STREAM, SOCK_DGRAM],
    spec=[
        "listen()",
        "listen / Listen for incoming connections on a socket",
    ],
)
def listen_rules(h: Harness) -> None:
    """listen() needs a stream socket; accept() needs a listening one."""
    datagram = h.socket(type=SOCK_DGRAM)
    with h.raises(UnsupportedOperation, "listen() on a datagram socket"):
        datagram.listen()
    idle = h.socket()
    idle.bind(h.host())
    with h.raises(SocketError, "accept() on a non-listening socket"):
        idle.accept()
    small = h.listener(backlog=0)
    h.connect(small)
    h.accept(small)


@check(
    group="stream",
    per_family=IP_FAMILIES,
    spec=[
        "connect / host: IP address or hostname",
        "sendTo / host: IP address or hostname",
    ],
)
def connect_by_name(h: Harness) -> None:
    """A host name resolves: "localhost" reaches a loopback listener."""
    if h.family is AF_INET6:
        try:
            infos = _socket.getaddrinfo("localhost", 0, _socket.AF_INET6)
        except OSError:
            infos = []
        if not infos and h.backend.capabilities.os_sockets:
            h.skip("this machine does not resolve localhost to ::1")
    listener = h.listener()
    client = h.socket()
    client.connect("localhost", listener.local_port)
    assert client.remote_address == h.host(), client.remote_address
    h.accept(listener)
    sender = h.socket(type=SOCK_DGRAM)
    receiver = h.socket(type=SOCK_DGRAM, server=True)
    receiver.bind(h.host())
    sender.send_to("localhost", receiver.local_port, b"by name")
    assert receiver.receive() == b"by name"
