"""Stream connections of the memory network: handshake, segments, closing.

A stream connection is two :class:`~._socket.MemorySocket` endpoints
pointing at each other (``peer``).  This module moves a connection through
the states of :mod:`._tcp`: the handshake (:func:`start_connect`,
:func:`send_syn`, :func:`establish`, refusals and the accept queue's
waiting list), the segments that travel afterwards (:func:`transmit`
hands DATA, FIN and RST to the peer, directly when nothing is in flight
and no fault rule applies, else through the peer's ordered in-flight queue
that :func:`pump` drains at the virtual time of arrival), and the ways a
connection ends (FIN, reset, close with unread data, a listener stopped or
closed).  Every function runs with the network lock held and takes the
socket it acts for first; the blocking calls and the fast paths live in
:mod:`._socket`.

UNIX stream sockets use the same functions: their segments never meet a
rule, and a connection is made at once instead of after a SYN's trip.
"""

from __future__ import annotations

import errno
from collections import deque
from typing import TYPE_CHECKING

from ...api.constants import SO_LINGER
from ...api.errors import BrokenPipe, WouldBlock, send_before_connect, send_timed_out
from ._faults import ShortReads, ShortWrites
from ._ports import TIME_WAIT, errno_error, wire_local
from ._selector import notify, notify_room
from ._tcp import TcpEvent, TcpState, Told, next_state

if TYPE_CHECKING:
    from ._socket import MemorySocket

# Segment kinds in an in-flight queue.
DATA, FIN, RST = range(3)

LISTEN, SYN_SENT = TcpState.LISTEN, TcpState.SYN_SENT
ESTABLISHED, FIN_WAIT = TcpState.ESTABLISHED, TcpState.FIN_WAIT
UNCONNECTED, PENDING, CONNECTED = Told.UNCONNECTED, Told.PENDING, Told.CONNECTED


def refused(sock: MemorySocket, token: int) -> None:
    """The connect attempt *token* is refused: ECONNREFUSED (lock held)."""
    if sock.state is not SYN_SENT or sock.syn_token != token:
        return
    sock.state = next_state(sock.state, TcpEvent.REFUSE)
    sock.error = errno.ECONNREFUSED
    notify(sock)


def shut_connection(sock: MemorySocket, rd: bool, wr: bool) -> None:
    """shutdown() of a connected socket (lock held): SHUT_WR sends the FIN."""
    if rd:
        sock.rd_shut = True
        notify(sock)
        peer = sock.peer
        if sock.unix and peer is not None and not peer.wr_shut:
            # unix_shutdown tells the peer: it may send no more (EPIPE).
            peer.wr_shut = True
            peer.tx = None
            notify(peer)
    if wr:
        sock.user_shut_wr = True
        # A TCP socket shut before it connected has the flag but no FIN
        # sent: Linux's tcp_shutdown sends it now.
        if not sock.wr_shut or (
            sock.stream and not sock.unix and not sock.state.fin_sent
        ):
            sock.wr_shut = True
            sock.tx = None
            if sock.stream:
                send_fin(sock)
            notify(sock)
    peer = sock.peer
    if sock.rd_shut and sock.state.fin_sent and peer is not None:
        peer.tx = None  # its next data must take the path that resets


def send_fin(sock: MemorySocket) -> None:
    """Send our FIN once, moving to FIN_WAIT or LAST_ACK (lock held)."""
    if sock.state.fin_sent or sock.peer is None:
        return
    sock.state = next_state(sock.state, TcpEvent.SEND_FIN)
    transmit(sock, FIN, b"")


def close_connection(sock: MemorySocket) -> None:
    """close() of a connected socket: FIN, or RST with unread data or SO_LINGER 0."""
    peer = sock.peer
    assert peer is not None
    if sock.unix:
        peer.rd_shut = peer.wr_shut = True
        peer.tx = None
        if sock.rx_size:
            peer.error = errno.ECONNRESET
        notify(peer)
        return
    if sock.state.dead:
        return
    linger = sock.opts.get(SO_LINGER) if sock.opts else None
    if sock.rx_size or linger == 0:
        sock.log(
            "reset",
            sock.peer_name(),
            detail="closed with unread data" if sock.rx_size else "SO_LINGER 0",
        )
        transmit(sock, RST, b"")
        return
    send_fin(sock)
    if sock.state.active_close and sock.port is not None:
        sock.host.table.leave_timewait(sock, sock.sched.now + TIME_WAIT)


def abort(sock: MemorySocket) -> None:
    """Tell the peer the connection is reset (we vanish without a FIN)."""
    peer = sock.peer
    if peer is not None and not peer.state.dead:
        transmit(sock, RST, b"")
    if sock.state.alive:
        sock.state = next_state(sock.state, TcpEvent.RESET)


def transmit(sock: MemorySocket, kind: int, data: bytes) -> None:
    """Send one segment to the peer, through the rules (lock held)."""
    peer = sock.peer
    if peer is None:
        return
    net = sock.net
    if sock.unix or (not net.rule_set.handles):
        if not peer.inflight:
            arrive(peer, kind, data)
            return
        verdict, delay = "ok", 0.0
    else:
        verdict, delay = net.rule_set.path(
            sock, peer.host, wire_local(peer), peer.port, peer, False
        )
    n = len(data)
    if verdict == "held":
        ready: float | None = None
    else:
        ready = max(sock.sched.now + delay, peer.last_ready)
        peer.last_ready = ready
    inflight = peer.inflight
    if inflight is None:
        inflight = peer.inflight = deque()
    inflight.append([ready, kind, data])
    peer.inflight_size += n
    if ready is None:
        net.rule_set.held.append(lambda: release(peer))
    else:
        sock.sched.call_at(ready, lambda: pump(peer))
        if ready <= sock.sched.now:
            pump(peer)


def reset(sock: MemorySocket, code: int) -> None:
    """A reset arrived (lock held); without a connection it is ignored."""
    state = sock.state
    if not state.alive:
        return
    if code == errno.ECONNRESET and state.fin_received and not sock.unix:
        code = errno.EPIPE  # Linux: a reset in CLOSE_WAIT reads as EPIPE
    sock.state = next_state(state, TcpEvent.RESET)
    sock.rd_shut = sock.wr_shut = True
    sock.tx = None
    sock.error = code
    sock.inflight = None
    sock.inflight_size = 0
    sock.log("reset", sock.peer_name())
    notify(sock)
    peer = sock.peer
    if peer is not None:
        notify(peer)  # its send room changed


def push(sock: MemorySocket, chunk: bytes) -> int:
    """Hand *chunk* to the connection, applying reset rules (lock held)."""
    net = sock.net
    peer = sock.peer
    assert peer is not None
    cut = -1
    if net.rule_set.handles:
        cut = net.rule_set.reset_cut(sock, peer, len(chunk))
        if cut >= 0:
            chunk = chunk[:cut]
    sock.sent += len(chunk)
    if net.logs_data and chunk:
        sock.log("send", sock.peer_name(), len(chunk))
    if chunk:
        transmit(sock, DATA, chunk)
    if cut >= 0:
        sock.log("reset", sock.peer_name(), detail="Reset rule")
        reset(peer, errno.ECONNRESET)
        reset(sock, errno.ECONNRESET)
    return len(chunk)


def queue_chunk(sock: MemorySocket, rx: deque[bytes] | bytes, chunk: bytes) -> None:
    """Queue *chunk* behind *rx*, the stream's non-empty receive queue.

    A stream's queue is its one waiting chunk itself (a ping-pong never
    queues a second), and a deque only while more wait: an empty deque
    keeps a 64-slot block (~760 bytes), which a drained queue would keep
    for the life of an idle connection (issue 16).  (lock held)
    """
    if type(rx) is bytes:
        sock.rx = deque((rx, chunk))
    else:
        assert not isinstance(rx, bytes)
        rx.append(chunk)


def take_stream(sock: MemorySocket, maxlen: int) -> bytes:
    """Take up to *maxlen* queued bytes (ShortReads may take fewer) (lock held)."""
    rx = sock.rx
    assert rx  # callers saw data queued
    net = sock.net
    if net.rule_set.handles and net.rule_set.any(ShortReads, sock.peer or sock, sock):
        maxlen = net.rule_set.rng.randint(1, min(maxlen, sock.rx_size))
    if type(rx) is bytes:  # one chunk waiting
        if len(rx) > maxlen:
            data, sock.rx = rx[:maxlen], rx[maxlen:]
        else:
            data, sock.rx = rx, None
    else:
        assert not isinstance(rx, bytes)
        data = _take_chunks(rx, maxlen)
        if not rx:
            sock.rx = None  # a drained deque would keep its block
    sock.rx_size -= len(data)
    sock.received += len(data)
    peer = sock.peer
    if peer is not None:
        notify_room(peer)
    return data


def _take_chunks(rx: deque[bytes], maxlen: int) -> bytes:
    """Take up to *maxlen* bytes from the chunks queued in *rx*."""
    parts = []
    want = maxlen
    while rx and want:
        chunk = rx[0]
        if len(chunk) <= want:
            rx.popleft()
            parts.append(chunk)
            want -= len(chunk)
        else:
            parts.append(chunk[:want])
            rx[0] = chunk[want:]
            want = 0
    return parts[0] if len(parts) == 1 else b"".join(parts)


def arrive(sock: MemorySocket, kind: int, data: bytes) -> None:
    """A segment reaches *sock* (lock held)."""
    sender = sock.peer
    if kind == DATA:
        if sock.closed or sock.state.dead:
            # Data for a socket that is gone: it answers with a reset.
            if sender is not None and not sock.unix:
                reset(sender, errno.ECONNRESET)
            return
        if sock.rd_shut and sock.state.fin_sent and not sock.unix:
            # Linux (RFC 1122): data for a socket that shut down both ways
            # (FIN_WAIT with RCV_SHUTDOWN) resets the connection.
            reset(sock, errno.ECONNRESET)
            if sender is not None:
                reset(sender, errno.ECONNRESET)
            return
        rx = sock.rx
        if rx is None:
            sock.rx = data
        else:
            queue_chunk(sock, rx, data)
        sock.rx_size += len(data)
        if sock.net.logs_data:
            sock.log("deliver", sock.peer_name(), len(data))
    elif kind == FIN:
        state = sock.state
        if sock.closed or (state is not ESTABLISHED and state is not FIN_WAIT):
            return  # a dead connection, or an attempt this socket gave up
        sock.state = next_state(state, TcpEvent.RECV_FIN)
        sock.eof = sock.rd_shut = True
    else:
        if sock.closed:
            return
        if sock.state is SYN_SENT:
            refused(sock, sock.syn_token)
            return
        reset(sock, errno.ECONNRESET)
        return
    if sock.waiters or sock.sels:
        notify(sock)


def pump(sock: MemorySocket) -> None:
    """Deliver the due head of *sock*'s in-flight queue (lock held)."""
    queue = sock.inflight
    now = sock.sched.now
    while queue:
        ready, kind, data = queue[0]
        if ready is None or ready > now:
            return
        queue.popleft()
        sock.inflight_size -= len(data)
        arrive(sock, kind, data)
    if sock.peer is not None:
        notify_room(sock.peer)  # in-flight bytes no longer count against it


def release(sock: MemorySocket) -> None:
    """A partition healed: schedule what it held for *sock* (lock held)."""
    sender = sock.peer
    net = sock.net
    if sender is None:
        return
    verdict, delay = net.rule_set.path(
        sender, sock.host, wire_local(sock), sock.port, sock, False
    )
    if verdict == "held":
        net.rule_set.held.append(lambda: release(sock))
        return
    now = sock.sched.now
    ready = max(now + delay, sock.last_ready)
    for segment in sock.inflight or ():
        if segment[0] is None:
            segment[0] = ready
    sock.last_ready = ready
    sock.sched.call_at(ready, lambda: pump(sock))
    if ready <= now:
        pump(sock)


def send_stream(sock: MemorySocket, data: bytes | memoryview) -> int:
    """send() on a stream socket, waiting for room or the connection (lock held)."""
    # No memoryview of our own: a view left in a frame that outlives the
    # call would stop the caller from resizing its bytearray.
    total = len(data)
    timeout = sock.timeout
    deadline = None if not timeout else sock.sched.now + timeout
    sent = 0
    net = sock.net
    while True:
        if sock.error:
            code, sock.error = sock.error, 0
            raise errno_error(code)
        state = sock.state
        if state.idle or state is LISTEN:
            if sock.told is PENDING:  # stdlib leaves this one to the kernel
                raise BrokenPipe("Broken pipe")
            raise send_before_connect()
        if sock.wr_shut or state.dead:
            raise BrokenPipe("Broken pipe")
        peer = sock.peer
        if sock.unix and peer is not None and peer.rd_shut and not sock.closed:
            # unix_stream_sendmsg: the peer shut its receiving side, even
            # before it connected (nothing told this end then).  A send
            # racing this end's own close() goes on to say SocketClosed.
            raise BrokenPipe("Broken pipe")
        if not state.connected:
            if timeout == 0:
                raise WouldBlock("Resource temporarily unavailable")
            # Linux waits for the pending connect up to the send
            # timeout (sk_stream_wait_connect); without this check a
            # passed deadline makes every wait return at once.
            if deadline is not None and sock.sched.now >= deadline:
                raise send_timed_out(sent)
            sock.wait("send()", deadline)
            continue
        if total == 0:
            return 0
        peer = sock.peer
        assert peer is not None
        room = sock.cap - peer.rx_size - peer.inflight_size
        if room > 0:
            n = min(room, total - sent)
            if net.rule_set.handles and net.rule_set.any(ShortWrites, sock, peer):
                n = net.rule_set.rng.randint(1, n)
            n = push(sock, bytes(data[sent : sent + n]))
            sent += n
            if sent == total or (timeout == 0 and n):
                return sent
            continue  # a reset rule may have fired: the loop reports it
        if timeout == 0:
            if sent:
                return sent
            sock.sched.spin()
            raise WouldBlock("Resource temporarily unavailable")
        if deadline is not None and sock.sched.now >= deadline:
            raise send_timed_out(sent)
        sock.wait("send()", deadline, also=peer)
