"""Datagram sockets: boundaries, truncation, senders, connected UDP."""

from __future__ import annotations

import errno

from ...api.constants import AF_UNIX, SOCK_DGRAM
from ...api.datagram import Datagram
from ...api.errors import MessageTooLong
from ..core import FAMILIES, IP_FAMILIES, check
from ..harness import Harness


@check(
    group="datagram",
    types=[SOCK_DGRAM],
    per_family=FAMILIES,
    spec=[
        "receiveFrom( [maxlen])",
        "receiveFrom / Receive all data from socket. Returns object with ip_address",
        "receiveFrom / maxlen: number of bytes to read. Default: X bytes",
        "sendTo( host, port, data)",
        "sendTo / Send a block of data to a specific host and port",
        "sendTo / host: IP address or hostname",
        "sendTo / port: port number or service name",
        "sendTo / data: block of bytes to send",
    ],
)
def datagram_boundaries(h: Harness) -> None:
    """Each send_to arrives as one datagram, whole, with its sender."""
    client, server = h.datagram_pair()
    host, port = h.address(server)
    sizes = [1, 100, 1400, 0, 8000, 60000]
    payloads = [h.random_bytes(size) for size in sizes]
    for payload in payloads:
        assert client.send_to(host, port, payload) == len(payload)
    for payload in payloads:
        datagram = server.receive_from()
        assert isinstance(datagram, Datagram)
        assert datagram.data == payload, f"{len(datagram.data)} != {len(payload)}"
        assert datagram.address == client.local_address, datagram.address
        assert datagram.ip_address == datagram.address
        assert datagram.port == client.local_port, datagram.port
    if h.family is AF_UNIX:
        assert client.local_port is None
        unbound = h.socket(type=SOCK_DGRAM)
        unbound.send_to(host, None, b"anonymous")
        datagram = server.receive_from()
        assert datagram.data == b"anonymous"
        assert datagram.port is None
        assert datagram.address is None, "an unbound sender has no path"


@check(
    group="datagram",
    types=[SOCK_DGRAM],
    per_family=FAMILIES,
    spec=[
        "receive/read / maxlen: number of bytes to read. Default: X bytes",
        "receiveFrom / maxlen: number of bytes to read. Default: X bytes",
    ],
)
def datagram_truncation(h: Harness) -> None:
    """A datagram longer than maxlen is cut; the rest is dropped, not kept."""
    client, server = h.datagram_pair()
    host, port = h.address(server)
    first = h.random_bytes(100)
    for payload in (first, b"second", first, b"fourth"):
        client.send_to(host, port, payload)
    assert server.receive(10) == first[:10]
    assert server.receive() == b"second"
    datagram = server.receive_from(5)
    assert datagram.data == first[:5]
    assert datagram.port == client.local_port
    assert server.receive_from(100).data == b"fourth"


@check(
    group="datagram",
    types=[SOCK_DGRAM],
    per_family=FAMILIES,
    spec=[
        "connect( host, port [, timeout] )",
        "send/write(data)",
        "remoteAddress / Get remote socket IP address",
    ],
)
def datagram_connected(h: Harness) -> None:
    """connect() on a datagram socket sets its peer for send and receive."""
    client, server = h.datagram_pair()
    client.connect(*h.address(server))
    assert client.remote_address == server.local_address
    assert client.remote_port == server.local_port
    client.send(b"to my peer")
    datagram = server.receive_from()
    assert datagram.data == b"to my peer"
    server.send_to(datagram.address or h.address(client)[0], datagram.port, b"back")
    assert client.receive() == b"back"


@check(
    group="datagram",
    types=[SOCK_DGRAM],
    per_family=IP_FAMILIES,
    cross=False,
    spec=["sendTo / data: block of bytes to send"],
)
def datagram_too_long(h: Harness) -> None:
    """A datagram larger than UDP can carry raises MessageTooLong."""
    client, server = h.datagram_pair()
    with h.raises(MessageTooLong, "a 70000-byte UDP datagram was sent") as caught:
        client.send_to(*h.address(server), b"x" * 70000)
    exc = caught.value
    assert exc.errno == errno.EMSGSIZE, exc.errno
    client.send_to(*h.address(server), b"fits")
    assert server.receive() == b"fits"
