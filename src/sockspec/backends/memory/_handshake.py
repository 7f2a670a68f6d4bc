"""Making stream connections on the memory network: listen, connect, accept queue.

The connecting end sends a SYN (:func:`send_syn`) that travels through the
fault rules to the host that has the address; there the listener found by
:meth:`PortTable.listener <._ports.PortTable.listener>` either makes the
accepting end at once (:func:`establish`: the connection is queued for
``accept()`` already established, and the SYN-ACK travels back to complete
the connecting end), or, when its accept queue is over the backlog, keeps
the attempt waiting until ``accept()`` makes room (Linux drops the SYN and
a retransmission gets in).  No listener, or a :class:`Refuse` rule,
answers with a reset: the connect fails with ECONNREFUSED.  A connect whose
SYN is lost times out after :data:`SYN_GIVE_UP` seconds, as Linux's six
retries do.

Every attempt carries a token (``syn_token``): an abandoned attempt's SYN,
SYN-ACK or place in a waiting list no longer matches and is ignored.
UNIX stream sockets connect at once, to the listener bound at the path.
"""

from __future__ import annotations

import errno
from collections import deque
from typing import TYPE_CHECKING, NoReturn

from ...api._shared import format_address as _fmt
from ...api.constants import SOCK_STREAM
from ...api.errors import (
    AddressInUse,
    AlreadyConnected,
    ConnectionRefused,
    SocketError,
    Timeout,
    WouldBlock,
)
from ._ports import (
    Target,
    autobind,
    conflicts,
    destination,
    errno_error,
    listeners_first,
    present_local,
    unbind,
    wire_local,
)
from ._selector import notify
from ._stream import RST, abort, refused, send_fin, transmit
from ._tcp import TcpEvent, TcpState, Told, next_state

if TYPE_CHECKING:
    from ._socket import MemorySocket

__all__ = [
    "SOMAXCONN",
    "SYN_GIVE_UP",
    "abandon_connect",
    "abort_connect",
    "admit_waiting",
    "close_listener",
    "connect_stream",
    "disconnect",
    "start_listening",
    "stop_listening",
]

#: Linux's net.core.somaxconn: listen() backlogs are capped at it.
SOMAXCONN = 4096
#: Linux gives up a connect() nobody answers after this long (6 SYN retries).
SYN_GIVE_UP = 127.0

LISTEN, SYN_SENT = TcpState.LISTEN, TcpState.SYN_SENT
UNCONNECTED, PENDING, CONNECTED = Told.UNCONNECTED, Told.PENDING, Told.CONNECTED


def start_listening(sock: MemorySocket, backlog: int) -> None:
    """listen(): become (or stay) a listener with *backlog* (lock held)."""
    if sock.state.connected or sock.state is SYN_SENT or sock.state.dead:
        # Linux inet_listen: EINVAL unless SS_UNCONNECTED, which a failed
        # non-blocking connect (REFUSED) is only once connect() reported
        # it; a shutdown() during the handshake makes it so at once.
        raise SocketError(errno.EINVAL, "Invalid argument")
    if sock.state is not LISTEN:
        if sock.unix:
            if sock.local is None:
                raise SocketError(errno.EINVAL, "Invalid argument")
        else:
            if sock.port is None or sock.stopped or sock.unhashed:
                autobind(sock, None)
            if conflicts(sock, sock.port or 0, listening_only=True):
                raise AddressInUse("Address already in use")
        sock.state = next_state(sock.state, TcpEvent.LISTEN)
        sock.accept_q = deque()
        if not sock.unix:
            listeners_first(sock)
        sock.log("listen")
    sock.backlog = min(backlog, SOMAXCONN)
    admit_waiting(sock)


def connect_stream(
    sock: MemorySocket, target: Target, port: int | None, timeout: float | None
) -> None:
    """connect() on a stream socket (lock held): start, confirm or wait."""
    state = sock.state
    if state is LISTEN:
        raise AlreadyConnected("Transport endpoint is already connected")
    if state.connected:
        if sock.told is PENDING and not state.dead:
            sock.told = CONNECTED
            return
        if not state.dead or sock.told is not PENDING:
            # Linux: once connect() reported the connection, the
            # socket stays SS_CONNECTED, even after a reset.
            raise AlreadyConnected("Transport endpoint is already connected")
    if state is SYN_SENT:
        if timeout == 0:
            raise WouldBlock(errno.EALREADY, "Operation already in progress")
    elif sock.told is PENDING and state.dead:
        report_failure(sock)
    else:
        start_connect(sock, target, port)
    if timeout == 0:
        if sock.unix:
            if sock.state.connected:
                sock.told = CONNECTED
                return
            abort_connect(sock)
            raise WouldBlock("Resource temporarily unavailable")
        sock.told = PENDING
        raise WouldBlock(errno.EINPROGRESS, "Operation now in progress")
    finish_connect(sock, timeout)


def wait_for_room(listener: MemorySocket, client: MemorySocket, token: int) -> None:
    """*listener*'s accept queue is full: *client*'s attempt waits for room."""
    if listener.syn_wait is None:
        listener.syn_wait = []
    listener.syn_wait.append((client, token))


def admit_waiting(sock: MemorySocket) -> None:
    """Let connections that waited for room in the accept queue in."""
    queue = sock.accept_q
    waiting = sock.syn_wait
    while waiting and queue is not None and len(queue) <= sock.backlog:
        client, token = waiting.pop(0)
        if client.state is SYN_SENT and client.syn_token == token:
            establish(sock, client)


def finish_connect(sock: MemorySocket, timeout: float | None) -> None:
    """Wait for the handshake until *timeout* (None: Linux's SYN give-up time)."""
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
    if sock.state.dead:
        report_failure(sock)
    if sock.error:
        code, sock.error = sock.error, 0
        raise errno_error(code)
    sock.told = CONNECTED


def report_failure(sock: MemorySocket) -> NoReturn:
    """connect() reports a refused or reset attempt, then forgets it.

    The pending error is the answer; if something (a receive) took it
    already, Linux says ECONNABORTED.
    """
    code = sock.error or errno.ECONNABORTED
    sock.error = 0
    disconnect(sock)
    raise errno_error(code)


def disconnect(sock: MemorySocket) -> None:
    """Linux's tcp_disconnect after a failed connect: the socket is new again.

    The shutdown flags and the pending error go, and so do the address
    and port bind() did not name (:func:`give_back_address`).
    """
    sock.state = next_state(sock.state, TcpEvent.DISCONNECT)
    sock.told = UNCONNECTED
    sock.rd_shut = sock.wr_shut = sock.user_shut_wr = sock.eof = False
    sock.error = 0
    sock.peer = sock.tx = None
    give_back_address(sock)


def give_back_address(sock: MemorySocket) -> None:
    """tcp_disconnect: keep only the address and port that bind() named.

    getsockname then shows the wildcard address and the old port; the
    next connect or listen picks a new port, and bind() is allowed.
    """
    if sock.unix:
        return
    if not sock.addr_locked:
        sock.local = "0.0.0.0" if sock.ipv == 4 else "::"
    if not sock.port_locked and not sock.unhashed:
        unbind(sock)
        sock.unhashed = True


def abort_connect(sock: MemorySocket) -> None:
    """Give the attempt up: the socket is CLOSED again, old SYNs are ignored."""
    # SYNs still travelling, and places in accept-queue waiting lists,
    # carry the old token and are ignored from now on.
    sock.syn_token += 1
    sock.state = next_state(sock.state, TcpEvent.GIVE_UP)


def start_connect(sock: MemorySocket, target: Target, port: int | None) -> None:
    """Start connecting to *target*: a SYN over IP, at once over UNIX (lock held)."""
    sock.error = 0
    sock.told = UNCONNECTED
    if isinstance(target, str):  # a UNIX path
        listener = sock.host.table.named(target)
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
            wait_for_room(listener, sock, sock.syn_token)
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
        elif sock.rport == sock.port and remote == wire_local(sock):
            # Linux: the SYN finds the socket itself (simultaneous open).
            connect_to_self(sock)
            return
        else:
            listener = dst_host.table.listener(v, addr, sock.rport)
        if listener is None:
            sock.net.log_event(
                "refuse",
                sock.host.hostname + " " + _fmt(*present_local(sock)),
                dst_host.hostname + " " + _fmt(addr, sock.rport),
            )
            back = sock.net.rule_set.path(
                sock, sock.host, wire_local(sock), None, None, False
            )[1]
            sock.later(back, lambda: refused(sock, token))
        elif len(listener.accept_q or ()) > listener.backlog:
            # The SYN is dropped; a retransmission gets in once there is room.
            wait_for_room(listener, sock, token)
        else:
            establish(listener, sock)

    sock.later(delay, arrive)


def connect_to_self(sock: MemorySocket) -> None:
    """A TCP socket connected to its own address and port is its own peer."""
    sock.peer = sock
    if not sock.wr_shut:
        sock.tx = sock
    sock.cap = sock.rcvbuf + sock.sndbuf
    sock.state = next_state(sock.state, TcpEvent.SYN_ACK)
    sock.log("connect", sock.host.hostname + " " + _fmt(*present_local(sock)))
    notify(sock)


def establish(sock: MemorySocket, client: MemorySocket) -> None:
    """Create the server end of a connection from *client* (lock held)."""
    # The listener's own class: this module cannot import _socket (a cycle).
    conn = type(sock)(sock.host, sock.family, SOCK_STREAM, locked=True)
    conn.opts = dict(sock.opts) if sock.opts else None
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
        sock.host.table.add_accepted(conn)
        conn.remote = wire_local(client)
        conn.rport = client.port
    conn.peer, client.peer = client, conn
    conn.cap = client.rcvbuf + conn.sndbuf
    client.cap = conn.rcvbuf + client.sndbuf
    if not sock.unix:
        # Linux clones the listener (sk_clone_lock), shutdown flags
        # included: flags kept from a shutdown() before listen() hold for
        # every connection it makes, and SEND_SHUTDOWN sends the FIN.
        conn.rd_shut, conn.wr_shut = sock.rd_shut, sock.wr_shut
    if not conn.wr_shut and not (sock.unix and client.rd_shut):
        conn.tx = client  # the fast send path; see send_stream for UNIX
    assert sock.accept_q is not None
    sock.accept_q.append(conn)
    notify(sock)

    def complete() -> None:
        if client.state is not SYN_SENT or client.peer is not conn:
            return
        client.state = next_state(client.state, TcpEvent.SYN_ACK)
        # No fast send path for a client shut before connecting, nor to an
        # end that shut both ways (its data must take the path that resets).
        if not client.wr_shut and not (conn.rd_shut and conn.state.fin_sent):
            client.tx = conn
        client.log("connect", conn.host.hostname + " " + _fmt(*present_local(conn)))
        notify(client)

    if sock.unix:
        complete()
        return
    verdict, back = sock.net.rule_set.path(
        conn, client.host, wire_local(client), client.port, client, False
    )
    if verdict == "held":
        sock.net.rule_set.held.append(complete)
    else:
        # Nothing the accepting end sends may overtake the handshake:
        # its segments are due no earlier than the SYN-ACK.
        client.last_ready = max(client.last_ready, sock.sched.now + back)
        sock.later(back, complete)
    if conn.wr_shut:
        send_fin(conn)
        if conn.rd_shut:
            client.tx = None  # its data must take the path that resets


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
    give_back_address(sock)
    notify(sock)


def close_listener(sock: MemorySocket) -> None:
    """A listener goes: reset the connections it queued, refuse the waiting ones."""
    queue = sock.accept_q or deque()
    while queue:
        conn = queue.popleft()
        conn.closed = True  # never accepted: it goes with the listener
        sock.net.sockets.pop(conn.id, None)
        abort(conn)
        unbind(conn)
    for client, token in sock.syn_wait or ():
        refused(client, token)
    sock.syn_wait = None
