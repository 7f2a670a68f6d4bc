"""Non-blocking mode, readiness properties, backpressure and the Poller."""

from __future__ import annotations

import errno

from ...api.constants import (
    EVENT_READ,
    EVENT_WRITE,
    SHUT_WR,
    SO_RCVBUF,
    SO_SNDBUF,
    Option,
)
from ...api.errors import WouldBlock
from ...api.socket import Socket
from ..core import FAMILIES, check
from ..harness import Harness


def _fill(sock: Socket, chunk: bytes) -> int:
    """Send non-blocking until the socket refuses; return the bytes taken."""
    taken = 0
    for _ in range(100_000):
        try:
            taken += sock.send(chunk)
        except WouldBlock:
            return taken
    raise AssertionError("the send buffer never filled")


def _small(h: Harness) -> dict[Option, object]:
    caps = h.client.capabilities.options & h.server.capabilities.options
    return {opt: 32 * 1024 for opt in (SO_SNDBUF, SO_RCVBUF) if opt in caps}


@check(
    group="readiness",
    per_family=FAMILIES,
    spec=[
        "Socket / The Socket class is used to create a non-blocking TCP socket.",
        "accept / Accept a connection on a socket",
    ],
)
def would_block(h: Harness) -> None:
    """With timeout=0, accept, receive and a full send raise WouldBlock."""
    listener = h.listener(timeout=0)
    with h.raises(WouldBlock, "accept with no pending connection") as caught:
        listener.accept()
    exc = caught.value
    assert exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK), exc.errno
    client = h.connect(listener)
    assert h.wait_for(listener), "a pending connection did not make it readable"
    server = h.track(listener.accept())
    assert server.timeout == 0
    with h.raises(WouldBlock, "receive with no data") as caught:
        server.receive()
    client.timeout = 0
    assert _fill(client, b"\0" * 65536) > 0
    assert server.is_connected
    assert client.is_connected


@check(
    group="readiness",
    per_family=FAMILIES,
    spec=[
        "isReadable",
        "isReadable / Returns TRUE if data is waiting to be read from socket",
    ],
)
def readable(h: Harness) -> None:
    """is_readable: data waiting, end of stream or a connection to accept."""
    listener = h.listener()
    assert not listener.is_readable, "an idle listener is readable"
    client = h.connect(listener)
    assert h.wait_for(listener), "a pending connection never showed"
    assert listener.is_readable, "a listener with a pending connection"
    server = h.accept(listener)
    assert not server.is_readable, "readable with nothing sent"
    client.send(b"abc")
    assert h.wait_for(server), "sent data never became readable"
    assert server.is_readable
    assert h.receive_exactly(server, 3) == b"abc"
    assert not server.is_readable, "readable after reading everything"
    client.shutdown(SHUT_WR)
    assert h.wait_for(server), "end of stream never became readable"
    assert server.is_readable, "end of stream counts as readable"
    assert server.receive() == b""


@check(
    group="readiness",
    per_family=FAMILIES,
    spec=[
        "isWritable",
        "isWritable / Returns TRUE if socket can accept written data",
    ],
)
def writable(h: Harness) -> None:
    """is_writable: true with room to send, false when full or shut down."""
    assert not h.socket().is_writable, "an unconnected stream socket is writable"
    options = _small(h)
    client, server = h.pair(client_options=options, server_options=options)
    assert client.is_writable
    assert server.is_writable
    client.timeout = 0
    sent = _fill(client, b"\0" * 65536)
    assert not client.is_writable, "writable although send would block"
    drain = h.thread(lambda: h.receive_exactly(server, sent), "drain")
    assert h.wait_for(client, EVENT_WRITE), "never writable again after draining"
    assert client.is_writable
    drain.result()
    client.shutdown(SHUT_WR)
    assert not client.is_writable, "writable after shutdown(SHUT_WR)"


@check(
    group="readiness",
    per_family=FAMILIES,
    spec=[
        "isConnected",
        "isConnected / Returns TRUE if the socket is in a connected state",
    ],
)
def non_blocking_connect(h: Harness) -> None:
    """connect with timeout=0 completes or raises WouldBlock, then connects."""
    listener = h.listener()
    client = h.socket(timeout=0)
    assert not client.is_connected
    try:
        client.connect(*h.address(listener))
    except WouldBlock:
        assert h.wait_for(client, EVENT_WRITE), "the connection never completed"
    assert client.is_connected, "not connected after the connection completed"
    server = h.accept(listener)
    client.timeout = h.io_timeout
    client.send(b"hi")
    assert h.receive_exactly(server, 2) == b"hi"
    client.close()
    assert not client.is_connected, "connected after close()"


@check(group="readiness", spec=["isReadable", "isWritable"], any_family=True)
def poller(h: Harness) -> None:
    """A Poller reports readiness; modify, unregister and close behave."""
    client, server = h.pair()
    p = h.poller(server)
    key = p.register(server, EVENT_READ, data="server")
    assert key.socket is server
    assert key.data == "server"
    assert p.poll(0) == [], "ready before anything was sent"
    client.send(b"x")
    ready = p.poll(h.io_timeout)
    assert [(k.socket, ev) for k, ev in ready] == [(server, EVENT_READ)], ready
    p.modify(server, EVENT_READ | EVENT_WRITE, data="both")
    ready = p.poll(h.io_timeout)
    assert len(ready) == 1, ready
    assert ready[0][1] == EVENT_READ | EVENT_WRITE, ready
    assert ready[0][0].data == "both"
    p.unregister(server)
    assert p.poll(0) == []
    assert len(p) == 0
    p.register(server, EVENT_READ)
    server.close()
    assert len(p) == 0, "a closed socket stayed registered"
    assert p.poll(0) == []


@check(group="readiness", spec=["isReadable"])
def poller_register_wakes_poll(h: Harness) -> None:
    """register() or modify() in one thread wakes a thread in poll(None).

    As with epoll: a socket that is ready when it is registered (or whose
    events are widened to what it is ready for) ends a wait already under
    way, whichever thread makes the change.
    """
    client, server = h.pair()
    client.send(b"x")
    assert h.wait_for(server), "sent data never became readable"
    p = h.poller(server)
    waiting = h.thread(lambda: p.poll(None), "poll")
    h.pause()  # correct either way: poll() is level-triggered
    key = p.register(server, EVENT_READ, data="registered")
    ready = waiting.result()
    assert [(k.data, ev) for k, ev in ready] == [("registered", EVENT_READ)], ready

    listener = h.listener()
    h.connect(listener)
    assert h.wait_for(listener), "a pending connection never showed"
    p2 = h.poller(listener)
    p2.register(listener, EVENT_WRITE)  # a listener is never writable
    assert p2.poll(0) == []
    waiting = h.thread(lambda: p2.poll(None), "poll after modify")
    h.pause()
    p2.modify(listener, EVENT_READ, data="modified")
    ready = waiting.result()
    assert [(k.data, ev) for k, ev in ready] == [("modified", EVENT_READ)], ready
    assert key.socket is server


@check(group="readiness", spec=["isReadable"])
def poller_wakes_every_polling_thread(h: Harness) -> None:
    """Two threads in poll(None) on one Poller both wake for one ready socket."""
    client, server = h.pair()
    p = h.poller(server)
    p.register(server, EVENT_READ)
    pollers = [h.thread(lambda: p.poll(None), f"poll-{i}") for i in range(2)]
    h.pause()
    client.send(b"x")
    for task in pollers:
        ready = task.result()
        assert [(k.socket, ev) for k, ev in ready] == [(server, EVENT_READ)], ready
