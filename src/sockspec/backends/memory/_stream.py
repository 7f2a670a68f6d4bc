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
from typing import TYPE_CHECKING, Any

from ...api._shared import format_address as _fmt
from ...api.constants import SO_LINGER, SOCK_STREAM
from ...api.errors import ConnectionRefused, Timeout
from ._faults import ShortReads
from ._ports import TIME_WAIT, autobind, destination, errno_error, unbind
from ._selector import notify
from ._tcp import TcpEvent, TcpState, Told, next_state

if TYPE_CHECKING:
    from ._socket import MemorySocket

#: Linux gives up a connect() nobody answers after this long (6 SYN retries).
SYN_GIVE_UP = 127.0

# Segment kinds in an in-flight queue.
DATA, FIN, RST = range(3)

LISTEN, SYN_SENT = TcpState.LISTEN, TcpState.SYN_SENT
ESTABLISHED, FIN_WAIT = TcpState.ESTABLISHED, TcpState.FIN_WAIT
UNCONNECTED, PENDING, CONNECTED = Told.UNCONNECTED, Told.PENDING, Told.CONNECTED


def admit_waiting(sock: MemorySocket) -> None:
    """Let connections that waited for room in the accept queue in."""
    queue = sock.accept_q
    while sock.syn_wait and queue is not None and len(queue) <= sock.backlog:
        client, token = sock.syn_wait.pop(0)
        if client.state is SYN_SENT and client.syn_token == token:
            establish(sock, client)


def finish_connect(sock: MemorySocket, timeout: float | None) -> None:
    give_up = timeout is None
    deadline: float | None = sock.sched.now + (
        SYN_GIVE_UP if timeout is None else timeout
    )
    if give_up and sock.unix:
        deadline = None  # unix_wait_for_peer: no SYN to give up on
    while sock.state is SYN_SENT:
        if deadline is not None and sock.sched.now >= deadline:
            sock.log("timeout", detail="connect")
            if give_up:
                abort_connect(sock)
                raise Timeout("Connection timed out")
            if sock.unix:
                abort_connect(sock)
            else:
                # Linux: the caller's timeout ends the wait, not the
                # attempt; the SYN stays out, and the next connect()
                # reports it (EALREADY) or waits for it.
                sock.told = PENDING
            raise Timeout("timed out")
        sock.wait("connect()", deadline)
    if sock.error:
        code, sock.error = sock.error, 0
        raise errno_error(code)
    sock.told = CONNECTED


def abort_connect(sock: MemorySocket) -> None:
    # SYNs still travelling, and places in accept-queue waiting lists,
    # carry the old token and are ignored from now on.
    sock.syn_token += 1
    sock.state = next_state(sock.state, TcpEvent.GIVE_UP)


def start_connect(sock: MemorySocket, target: Any, port: int | None) -> None:
    # A socket whose earlier attempt failed (Linux: TCP_CLOSE) may try again.
    sock.rd_shut = sock.wr_shut = sock.eof = False
    sock.error = 0
    sock.told = UNCONNECTED
    if sock.unix:
        paths = sock.host.table.paths
        if target not in paths:
            raise errno_error(errno.ENOENT)
        listener = paths[target]
        if (
            listener is None
            or listener.state is not LISTEN
            or not listener.stream
            or listener.rd_shut  # unix_stream_connect: shut down listener
        ):
            raise ConnectionRefused("Connection refused")
        sock.remote = target
        sock.state = next_state(sock.state, TcpEvent.CONNECT)
        sock.syn_token += 1
        if len(listener.accept_q or ()) <= listener.backlog:
            establish(listener, sock)
        else:
            listener.syn_wait.append((sock, sock.syn_token))
        return
    target = destination(sock, target)
    autobind(sock, target)
    sock.remote = target
    sock.rport = port
    sock.state = next_state(sock.state, TcpEvent.CONNECT)
    sock.syn_token += 1
    send_syn(sock, sock.syn_token)


def send_syn(sock: MemorySocket, token: int) -> None:
    """Send (or re-send, after a heal) the connection request."""
    if sock.state is not SYN_SENT or sock.syn_token != token:
        return
    net = sock.net
    remote = sock.remote
    assert isinstance(remote, tuple)
    v, addr = remote
    dst_host = net.route(sock.host, v, addr)
    if dst_host is None:
        return  # nobody has the address: the SYN is lost, connect times out
    verdict, delay = net.rule_set.path(sock, dst_host, remote, sock.rport, None, False)
    if verdict == "held":
        net.rule_set.held.append(lambda: send_syn(sock, token))
        return

    def arrive() -> None:
        if sock.state is not SYN_SENT or sock.syn_token != token:
            return
        if verdict == "refused":
            listener = None
        elif sock.rport == sock.port and remote == sock.wire_local():
            # Linux: the SYN finds the socket itself (simultaneous open).
            connect_to_self(sock)
            return
        else:
            listener = dst_host.table.listener(v, addr, sock.rport)
        if listener is None:
            sock.net.log_event(
                "refuse",
                sock.host.hostname + " " + _fmt(*sock.present_local()),
                dst_host.hostname + " " + _fmt(addr, sock.rport),
            )
            back = sock.net.rule_set.path(
                sock, sock.host, sock.wire_local(), None, None, False
            )[1]
            sock.later(back, lambda: refused(sock, token))
        elif len(listener.accept_q or ()) > listener.backlog:
            # The SYN is dropped; a retransmission gets in once there is room.
            listener.syn_wait.append((sock, token))
        else:
            establish(listener, sock)

    sock.later(delay, arrive)


def connect_to_self(sock: MemorySocket) -> None:
    """A TCP socket connected to its own address and port is its own peer."""
    sock.peer = sock.tx = sock
    sock.cap = sock.rcvbuf + sock.sndbuf
    sock.state = next_state(sock.state, TcpEvent.SYN_ACK)
    sock.log("connect", sock.host.hostname + " " + _fmt(*sock.present_local()))
    notify(sock)


def refused(sock: MemorySocket, token: int) -> None:
    if sock.state is not SYN_SENT or sock.syn_token != token:
        return
    sock.state = next_state(sock.state, TcpEvent.REFUSE)
    sock.error = errno.ECONNREFUSED
    notify(sock)


def establish(sock: MemorySocket, client: MemorySocket) -> None:
    """Create the server end of a connection from *client* (lock held)."""
    # The listener's own class: this module cannot import _socket (a cycle).
    conn = type(sock)(sock.host, sock.family, SOCK_STREAM, locked=True)
    conn.opts = dict(sock.opts)
    conn.rcvbuf, conn.sndbuf = sock.rcvbuf, sock.sndbuf
    conn.state = next_state(conn.state, TcpEvent.ACCEPTED)
    if sock.unix:
        conn.local = sock.local
        conn.remote = client.local
        conn.unix_linked = False
    else:
        remote = client.remote
        assert isinstance(remote, tuple)
        conn.local = remote[1]
        conn.port = sock.port
        conn.cov4, conn.cov6 = sock.cov4, sock.cov6
        sock.host.table.add(conn)
        conn.remote = client.wire_local()
        conn.rport = client.port
    conn.peer, client.peer = client, conn
    conn.cap = client.rcvbuf + conn.sndbuf
    client.cap = conn.rcvbuf + client.sndbuf
    conn.tx = client
    assert sock.accept_q is not None
    sock.accept_q.append(conn)
    notify(sock)

    def complete() -> None:
        if client.state is not SYN_SENT or client.peer is not conn:
            return
        client.state = next_state(client.state, TcpEvent.SYN_ACK)
        client.tx = conn
        client.log("connect", conn.host.hostname + " " + _fmt(*conn.present_local()))
        notify(client)

    if sock.unix:
        complete()
        return
    verdict, back = sock.net.rule_set.path(
        conn, client.host, client.wire_local(), client.port, client, False
    )
    if verdict == "held":
        sock.net.rule_set.held.append(complete)
    else:
        # Nothing the accepting end sends may overtake the handshake:
        # its segments are due no earlier than the SYN-ACK.
        client.last_ready = max(client.last_ready, sock.sched.now + back)
        sock.later(back, complete)


def stop_listening(sock: MemorySocket) -> None:
    """SHUT_RD on a TCP listener: Linux's tcp_disconnect from LISTEN.

    Queued connections are reset, waiting ones refused, a blocked
    accept() wakes with EINVAL.  A port the application did not choose
    is given back (getsockname still shows it) and the next listen or
    connect picks a new one.
    """
    close_listener(sock)
    sock.state = next_state(sock.state, TcpEvent.STOP)
    sock.accept_q = None
    sock.stopped = True
    if not sock.port_locked:
        unbind(sock)
    else:  # no longer a listener: out of the listeners' place (see listen)
        sock.host.table.demote(sock)
    sock.log("shutdown", detail="listener stopped")
    notify(sock)


def abandon_connect(sock: MemorySocket) -> None:
    """shutdown() during a TCP connect: Linux's tcp_disconnect from SYN_SENT.

    The attempt is dropped (a late SYN-ACK is answered with a reset) and
    the socket keeps ECONNRESET as its pending error.
    """
    conn = sock.peer
    abort_connect(sock)
    if conn is not None and conn.peer is sock:
        transmit(sock, RST, b"")
    sock.peer = sock.tx = None
    sock.error = errno.ECONNRESET
    notify(sock)


def send_fin(sock: MemorySocket) -> None:
    if sock.state.fin_sent or sock.peer is None:
        return
    sock.state = next_state(sock.state, TcpEvent.SEND_FIN)
    transmit(sock, FIN, b"")


def close_listener(sock: MemorySocket) -> None:
    queue = sock.accept_q or deque()
    while queue:
        conn = queue.popleft()
        conn.closed = True  # never accepted: it goes with the listener
        sock.net.sockets.pop(conn.id, None)
        abort(conn)
        unbind(conn)
    for client, token in sock.syn_wait:
        refused(client, token)
    sock.syn_wait.clear()


def close_connection(sock: MemorySocket) -> None:
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
    linger = sock.opts.get(SO_LINGER)
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
            sock, peer.host, peer.wire_local(), peer.port, peer, False
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


def take_stream(sock: MemorySocket, maxlen: int) -> bytes:
    rx = sock.rx
    assert rx is not None  # callers saw data queued
    net = sock.net
    if net.rule_set.handles and net.rule_set.any(ShortReads, sock.peer or sock, sock):
        maxlen = net.rule_set.rng.randint(1, min(maxlen, sock.rx_size))
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
    data = parts[0] if len(parts) == 1 else b"".join(parts)
    sock.rx_size -= len(data)
    sock.received += len(data)
    peer = sock.peer
    if peer is not None:
        notify(peer)
    return data


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
        sock.rx_queue().append(data)
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
        notify(sock.peer)  # in-flight bytes no longer count against the sender


def release(sock: MemorySocket) -> None:
    """A partition healed: schedule what it held for *sock* (lock held)."""
    sender = sock.peer
    net = sock.net
    if sender is None:
        return
    verdict, delay = net.rule_set.path(
        sender, sock.host, sock.wire_local(), sock.port, sock, False
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
