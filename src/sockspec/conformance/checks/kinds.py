"""Readiness, the Poller, timeouts, close and closed sockets on datagram sockets.

The stream checks prove these behaviours on TCP; they exist on datagram
sockets too, so they are checked there as well, each in the first family
the backend declares (``any_family``).  A backend that offers only UDP, or
only ``AF_UNIX`` datagrams, is therefore still checked on all of them
instead of skipping everything that needs TCP.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

from ...api.constants import EVENT_READ, EVENT_WRITE, SOCK_DGRAM
from ...api.errors import SocketClosed, SocketError, Timeout, WouldBlock
from ...api.socket import Socket
from ..core import check
from ..harness import Harness
from .connections import closed_calls
from .timeouts import close_wakes


@check(
    group="readiness",
    types=[SOCK_DGRAM],
    any_family=True,
    spec=["isReadable / Returns TRUE if data is waiting to be read from socket"],
)
def datagram_readable(h: Harness) -> None:
    """is_readable on a datagram socket: false idle, true with a datagram waiting."""
    client, server = h.datagram_pair()
    assert not server.is_readable, (
        "expected an idle datagram socket not to be readable; got is_readable True"
    )
    client.send_to(*h.address(server), b"ping")
    assert h.wait_for(server), "expected a datagram to make the socket readable"
    assert server.is_readable, (
        "expected is_readable True with a datagram waiting; got False"
    )
    got = server.receive_from().data
    assert got == b"ping", f"expected b'ping'; got {got!r}"
    assert not server.is_readable, (
        "expected is_readable False after reading the only datagram; got True"
    )


@check(
    group="readiness",
    types=[SOCK_DGRAM],
    any_family=True,
    spec=["isWritable / Returns TRUE if socket can accept written data"],
)
def datagram_writable(h: Harness) -> None:
    """A bound datagram socket is writable: a send_to would not wait."""
    client, _ = h.datagram_pair()
    assert client.is_writable, (
        "expected a bound datagram socket to be writable; got is_writable False"
    )
    assert h.wait_for(client, EVENT_WRITE), "expected a Poller to report it writable"


@check(
    group="readiness",
    types=[SOCK_DGRAM],
    any_family=True,
    spec=["receiveFrom( [maxlen])"],
)
def datagram_would_block(h: Harness) -> None:
    """With timeout=0, receive_from with nothing waiting raises WouldBlock."""
    client, server = h.datagram_pair(timeout=0)
    with h.raises(WouldBlock, "receive_from with nothing waiting") as caught:
        server.receive_from()
    code = caught.value.errno
    assert code in (errno.EAGAIN, errno.EWOULDBLOCK), (
        f"expected errno EAGAIN; got {code}"
    )
    client.send_to(*h.address(server), b"x")
    assert h.wait_for(server), "expected the datagram to make the socket readable"
    got = server.receive_from().data
    assert got == b"x", f"expected b'x' once it arrived; got {got!r}"


@check(group="readiness", types=[SOCK_DGRAM], any_family=True, spec=["isReadable"])
def datagram_poller(h: Harness) -> None:
    """A Poller reports datagram readiness; modify, unregister and close behave."""
    client, server = h.datagram_pair()
    p = h.poller(server)
    p.register(server, EVENT_READ, data="server")
    ready = p.poll(0)
    assert ready == [], f"expected nothing ready before a send; got {ready}"
    client.send_to(*h.address(server), b"x")
    ready = p.poll(h.io_timeout)
    pairs = [(k.socket, ev) for k, ev in ready]
    assert pairs == [(server, EVENT_READ)], (
        f"expected [(server, EVENT_READ)]; got {pairs}"
    )
    p.modify(server, EVENT_READ | EVENT_WRITE, data="both")
    ready = p.poll(h.io_timeout)
    events = [ev for _, ev in ready]
    assert events == [EVENT_READ | EVENT_WRITE], (
        f"expected [EVENT_READ|EVENT_WRITE]; got {events}"
    )
    server.receive_from()
    events = [ev for _, ev in p.poll(h.io_timeout)]
    assert events == [EVENT_WRITE], (
        f"expected [EVENT_WRITE] after reading; got {events}"
    )
    p.unregister(server)
    assert p.poll(0) == [], "expected nothing ready after unregister"
    p.register(server, EVENT_READ)
    server.close()
    assert len(p) == 0, "expected a closed socket to leave the Poller"


@check(
    group="timeouts",
    types=[SOCK_DGRAM],
    any_family=True,
    nettest="ReadTimeout",
    spec=["receiveFrom( [maxlen])"],
)
def datagram_receive_timeout(h: Harness) -> None:
    """receive_from times out in its bound with Timeout; the socket still works."""
    client, server = h.datagram_pair(timeout=0.25)
    started = h.monotonic()
    with h.raises(Timeout, "receive_from with nothing sent"):
        server.receive_from()
    h.assert_timed_out_in(started, 0.25)
    client.send_to(*h.address(server), b"late")
    server.timeout = h.io_timeout
    got = server.receive_from().data
    assert got == b"late", f"expected b'late' after the timeout; got {got!r}"


@check(
    group="timeouts",
    types=[SOCK_DGRAM],
    any_family=True,
    nettest="CloseTimeout",
    spec=["close / Close the socket immediately"],
)
def close_unblocks_datagram_receive(h: Harness) -> None:
    """close() on a connected datagram socket wakes a thread blocked in receive()."""
    client, server = h.datagram_pair()
    client.connect(*h.address(server))
    close_wakes(h, client, "receive")


def _calls(h: Harness, sock: Socket) -> dict[str, Callable[[], object]]:
    # A datagram socket has no listen or accept to call.
    skip = ("listen", "accept", "set_option")
    return {k: v for k, v in closed_calls(h, sock).items() if k not in skip}


@check(
    group="connect",
    types=[SOCK_DGRAM],
    any_family=True,
    cross=False,
    spec=["close()", "close / Close the socket immediately"],
)
def datagram_closed_operations(h: Harness) -> None:
    """Every call on a closed datagram socket raises SocketClosed (EBADF)."""
    client, server = h.datagram_pair()
    client.connect(*h.address(server))
    client.close()
    client.close()
    assert client.closed, "expected closed True after close()"
    assert not client.is_connected, "expected is_connected False after close()"
    assert not client.is_readable, "expected is_readable False after close()"
    assert not client.is_writable, "expected is_writable False after close()"
    for name, call in _calls(h, client).items():
        with h.raises(SocketError, f"{name} on a closed socket") as caught:
            call()
        error = caught.value
        if name == "get_option" and not isinstance(error, SocketClosed):
            continue  # the backend may lack the option, and may say so first
        assert isinstance(error, SocketClosed), (
            f"expected SocketClosed from {name} on a closed socket; got {error!r}"
        )
        assert error.errno == errno.EBADF, (
            f"expected errno EBADF from {name}; got {error.errno}"
        )
