"""The memory socket: the :class:`SocketImpl` the facade calls.

Theory of operation
-------------------

:class:`MemorySocket` is a thin adapter: it takes the network lock, checks
what the call may do, waits (in virtual time) when it must, and hands the
protocol work to the modules that own it:

* :mod:`._ports` -- the host's port and address table, binding rules,
  ephemeral ports, TIME_WAIT, UNIX paths, how addresses are shown;
* :mod:`._tcp` -- the states of a stream connection, as a table;
* :mod:`._handshake` -- listen, connect, the accept queue;
* :mod:`._stream` -- segments, FIN and reset, closing, the send loop;
* :mod:`._dgram` -- UDP and UNIX datagram routing;
* :mod:`._selector` -- readiness, wake-ups and the Poller engine;
* :mod:`._rules` -- which fault rules cover a packet;
* :mod:`._inspect` -- a socket's netstat row and description.

One object per endpoint holds all of the endpoint's state (its slots are
the data those modules share), so an idle connection stays small and the
data path has no indirection.  (That is why this module is a little over
600 lines: a third of it declares and initialises those fields, the rest
is the facade's twenty calls and their waits.)  A stream connection is two endpoints
pointing at each other (``peer``); data sent by one is queued for the
other (``rx``) directly when no fault rule is installed
(the fast path of :meth:`MemorySocket.send`: one lock, one store, one
wake-up check), or through the receiver's ordered in-flight queue
(``inflight``) when latency or a partition holds it back.  Flow control:
a sender may have at most ``cap = receiver SO_RCVBUF + sender SO_SNDBUF``
bytes queued or in flight towards its peer, so a slow reader blocks the
writer as on a real network.

Error and readiness semantics copy Linux loopback sockets (``tcp_poll``,
``udp_poll``, ``unix_poll``, ``tcp_reset``): the readiness mask is computed
from the same flags the kernel keeps (receive and send shutdown, pending
error, reset, state), and the facade-visible properties are derived from it
the way the ``stdlib`` backend derives them from ``poll(2)``.
"""

from __future__ import annotations

import errno
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO

from ...api._shared import format_address as _fmt
from ...api._shared import send_file_by_chunks
from ...api.backend import SocketImpl
from ...api.constants import (
    AF_INET,
    AF_UNIX,
    IPV6_V6ONLY,
    SHUT_RD,
    SHUT_WR,
    SO_LINGER,
    SO_RCVBUF,
    SO_SNDBUF,
    SOCK_STREAM,
    Family,
    Option,
    Shutdown,
    SocketType,
)
from ...api.errors import (
    NotConnected,
    SocketError,
    Timeout,
    WouldBlock,
    closed_while_waiting,
)
from ._collector import close_later, in_collection
from ._dgram import (
    Source,
    connect_dgram,
    send_dgram,
    send_dgram_to,
    source_text,
    take_dgram,
    uncharge,
)
from ._handshake import (
    abandon_connect,
    abort_connect,
    admit_waiting,
    close_listener,
    connect_stream,
    start_listening,
    stop_listening,
)
from ._inspect import describe
from ._ports import (
    Target,
    bind_inet,
    bind_path,
    errno_error,
    present_local,
    present_remote,
    unbind,
)
from ._sched import Waiter
from ._selector import READ_BITS, mask, notify, notify_room
from ._stream import (
    close_connection,
    queue_chunk,
    send_stream,
    shut_connection,
    take_stream,
)
from ._tcp import TcpState, Told

if TYPE_CHECKING:
    from ._host import Host
    from ._selector import MemorySelector

__all__ = ["MemorySocket"]

_OUT, _ERR, _HUP = 4, 8, 16  # poll(2) bits, as _selector's mask() has them

# The states, as module globals: a state test is one identity check.
CLOSED, LISTEN, SYN_SENT = TcpState.CLOSED, TcpState.LISTEN, TcpState.SYN_SENT
UNCONNECTED, PENDING, CONNECTED = Told.UNCONNECTED, Told.PENDING, Told.CONNECTED

# Linux limits and defaults for SO_RCVBUF / SO_SNDBUF (values are doubled).
_BUF_MAX = 4194304
_MIN_RCVBUF = 2304
_MIN_SNDBUF = 4608
_TCP_RCVBUF = 131072
_TCP_SNDBUF = 16384
_OTHER_BUF = 212992


class MemorySocket(SocketImpl):
    """One socket on a memory :class:`~sockspec.backends.memory.Host`."""

    __slots__ = (
        "accept_q",
        "addr_locked",
        "backlog",
        "cap",
        "closed",
        "cov4",
        "cov6",
        "eof",
        "error",
        "family",
        "fast",
        "host",
        "id",
        "inflight",
        "inflight_size",
        "ipv",
        "last_ready",
        "local",
        "lock",
        "net",
        "opts",
        "peer",
        "port",
        "port_locked",
        "proto",
        "rcvbuf",
        "rd_shut",
        "received",
        "remote",
        "rport",
        "rx",
        "rx_size",
        "sched",
        "sels",
        "sent",
        "sndbuf",
        "state",
        "stopped",
        "stream",
        "syn_token",
        "syn_wait",
        "timeout",
        "told",
        "tx",
        "type",
        "unhashed",
        "unix",
        "unix_linked",
        "user_shut_wr",
        "waiters",
        "wmem",
        "wr_shut",
    )

    def __init__(
        self, host: Host, family: Family, type: SocketType, *, locked: bool = False
    ) -> None:
        net = host.network
        self.net = net
        self.host = host
        self.sched = net._sched
        self.lock = net._sched.lock
        self.family = family
        self.type = type
        self.stream = type is SOCK_STREAM
        self.unix = family is AF_UNIX
        self.proto = "unix" if self.unix else ("tcp" if self.stream else "udp")
        self.ipv = 4 if family is AF_INET else 6
        self.timeout: float | None = None
        # The connection's state (streams only: a datagram socket stays
        # CLOSED, its connectedness is ``remote``) and the flags beside it;
        # _tcp's docstring says why each flag is not part of the state.
        self.state = CLOSED
        self.told = UNCONNECTED
        self.local: str | None = None  # wire address text, or UNIX path
        self.port: int | None = None
        self.port_locked = False  # Linux SOCK_BINDPORT_LOCK: bind() chose it
        self.addr_locked = False  # Linux SOCK_BINDADDR_LOCK: bind() chose it
        # The port was given back by a failed connect (Linux inet_put_port):
        # getsockname still shows it, bind() may choose another.
        self.unhashed = False
        self.stopped = False  # a listener that shutdown() stopped
        self.cov4: str | None = None  # IPv4 addresses the binding covers ("*": all)
        self.cov6: str | None = None
        self.remote: tuple[int, str] | str | None = None  # wire addr, or path
        self.rport: int | None = None
        self.peer: MemorySocket | None = None
        self.tx: MemorySocket | None = None  # peer, while the fast send path may run
        self.cap = 0
        # The queues are made on first use: an empty deque is ~760 bytes,
        # most of an idle connection (issue 16).  None reads as empty.  A
        # stream's receive queue is one chunk (bytes) while only one waits,
        # which is every message of a ping-pong, and a deque of chunks while
        # more do; a drained one is None again (see _stream.queue_chunk).
        self.rx: deque[Any] | bytes | None = None
        self.rx_size = 0
        self.inflight: deque[list[Any]] | None = None
        self.inflight_size = 0
        self.last_ready = 0.0
        self.rd_shut = False  # Linux RCV_SHUTDOWN: FIN received or SHUT_RD
        self.wr_shut = False  # Linux SEND_SHUTDOWN
        self.user_shut_wr = False  # shutdown(SHUT_WR) was called here
        self.eof = False  # a FIN arrived (Linux SOCK_DONE)
        self.error = 0  # pending error (Linux sk_err)
        self.closed = False
        self.accept_q: deque[MemorySocket] | None = None
        self.backlog = 0
        # Listeners only: connects waiting for room in the accept queue.
        self.syn_wait: list[tuple[MemorySocket, int]] | None = None
        self.syn_token = 0
        # Made on first use, like the queues: most sockets never wait, are
        # never registered with a Poller and keep every option's default.
        self.waiters: list[Waiter] | None = None
        self.sels: list[MemorySelector] | None = None
        self.opts: dict[Option, object] | None = None
        if self.stream and not self.unix:
            self.rcvbuf, self.sndbuf = _TCP_RCVBUF, _TCP_SNDBUF
        else:
            self.rcvbuf = self.sndbuf = _OTHER_BUF
        self.sent = 0
        self.received = 0
        self.wmem = 0  # AF_UNIX datagrams sent and not yet received (truesize)
        self.unix_linked = False
        if locked:  # made by the network itself, under its lock
            self._register()
        else:
            with self.lock:
                self._register()
                self.sched.join()

    def _register(self) -> None:
        net = self.net
        net.next_id += 1
        self.id = net.next_id
        net.sockets[self.id] = self
        self.fast = not net.rule_set.handles and not net.logs_data

    # -- helpers -------------------------------------------------------------------

    def wait(
        self,
        what: str,
        deadline: float | None,
        also: MemorySocket | None = None,
        *,
        reads: bool = False,
    ) -> None:
        """Block until notified or *deadline* (lock held); raise if closed.

        *reads*: the thread waits for something to read, so the room its
        peer frees by reading does not wake it (:func:`._selector.notify_room`).
        """
        if self.closed:
            # Closed by another thread while this one waited for its turn
            # (the seeded schedule lets the lock go there): nothing would
            # ever wake this wait.
            raise closed_while_waiting()
        w = Waiter(self.lock, what, deadline, self.__repr__, reads=reads)
        waiters = self.waiters
        if waiters is None:
            waiters = self.waiters = []
        waiters.append(w)
        if also is not None:
            if also.waiters is None:
                also.waiters = []
            also.waiters.append(w)
        try:
            self.sched.block(w)
        finally:
            waiters.remove(w)
            if also is not None and also.waiters and w in also.waiters:
                also.waiters.remove(w)
        if self.closed:
            raise closed_while_waiting()

    def deadline(self, timeout: float | None) -> float | None:
        """The virtual time *timeout* seconds from now (None: no deadline)."""
        return None if timeout is None else self.sched.now + timeout

    def opt(self, option: Option) -> bool:
        """Whether the boolean *option* is set."""
        opts = self.opts
        return opts is not None and bool(opts.get(option, False))

    def log(
        self, kind: str, other: str = "", nbytes: int = 0, detail: str = ""
    ) -> None:
        """Record an event of this socket in the network's log."""
        here = self.host.hostname + " " + _fmt(*present_local(self))
        self.net.log_event(kind, here, other, nbytes, detail)

    def peer_name(self) -> str:
        """``host address:port`` of the other end, for the log."""
        peer = self.peer
        if peer is not None:
            return peer.host.hostname + " " + _fmt(*present_local(peer))
        return _fmt(*present_remote(self))

    # -- connections -------------------------------------------------------------------

    def bind(self, host: str | None, port: int | None) -> None:
        with self.lock:
            self.sched.join()
            if (
                (
                    not self.unhashed
                    and (self.local is not None or self.port is not None)
                )
                or self.state is not CLOSED
                or (not self.stream and self.remote is not None)
            ):
                raise SocketError(errno.EINVAL, "Invalid argument")
            if self.unix:
                bind_path(self, host or "")
            else:
                bind_inet(self, host, port or 0)
                self.unhashed = False
                self.port_locked = bool(port)
                self.addr_locked = self.local not in ("0.0.0.0", "::")
            self.log("bind")

    def listen(self, backlog: int) -> None:
        with self.lock:
            self.sched.join()
            start_listening(self, backlog)

    def accept(self) -> MemorySocket:
        with self.lock:
            self.sched.join()
            if self.state is not LISTEN:
                raise SocketError(errno.EINVAL, "accept() needs a listening socket")
            timeout = self.timeout
            deadline = self.deadline(timeout)
            queue = self.accept_q
            assert queue is not None
            while not queue:
                if timeout == 0:
                    self.sched.spin()
                    if queue:
                        break
                    raise WouldBlock("Resource temporarily unavailable")
                if deadline is not None and self.sched.now >= deadline:
                    raise Timeout("timed out")
                self.wait("accept()", deadline)
                if self.state is not LISTEN:  # shutdown() stopped the listener
                    raise SocketError(errno.EINVAL, "Invalid argument")
            conn = queue.popleft()
            conn.told = CONNECTED
            admit_waiting(self)
            conn.log("accept", conn.peer_name())
            return conn

    def connect(self, host: str, port: int | None, timeout: float | None) -> None:
        with self.lock:
            self.sched.join()
            if self.unix:
                target: Target = host
            else:
                target = self.net.wire_address(host, self.family)
            if not self.stream:
                connect_dgram(self, target, port)
                return
            connect_stream(self, target, port, timeout)

    def later(self, delay: float, fn: Callable[[], None]) -> None:
        """Run *fn* after *delay* seconds of virtual time (now if not positive)."""
        if delay <= 0:
            fn()
        else:
            self.sched.call_at(self.sched.now + delay, fn)

    def shutdown(self, how: Shutdown) -> None:
        with self.lock:
            self.sched.point()
            rd, wr = how is not SHUT_WR, how is not SHUT_RD
            if self.unix and (
                not self.state.connected if self.stream else self.remote is None
            ):
                # unix_shutdown needs no connection: it records the flags.
                self.rd_shut |= rd
                self.wr_shut |= wr
                self.user_shut_wr |= wr
                notify(self)
                return
            if self.stream and self.state is LISTEN:
                if rd:  # Linux: SHUT_RD stops a listener, SHUT_WR does nothing
                    stop_listening(self)
                return
            if self.stream and self.state is SYN_SENT:
                abandon_connect(self)
                return
            if not self.stream and self.remote is None:
                # inet_shutdown on an unconnected socket (TCP_CLOSE): the
                # flags stay although it says ENOTCONN.
                self.rd_shut |= rd
                self.wr_shut |= wr
                self.user_shut_wr |= wr
                notify(self)
                raise NotConnected("Transport endpoint is not connected")
            if self.stream and (not self.state.connected or self.tcp_closed()):
                # Linux inet_shutdown still records the flags, then says
                # ENOTCONN; a later connect keeps them (only the connect
                # that reports a failure clears them).
                self.rd_shut |= rd
                self.user_shut_wr |= wr
                if not self.state.connected:
                    self.wr_shut |= wr
                notify(self)
                raise NotConnected("Transport endpoint is not connected")
            shut_connection(self, rd, wr)

    def close(self) -> None:
        lock = self.lock
        if not lock.acquire(not in_collection()):
            # A finalizer run by a collection that may have started while
            # this very thread held the lock: waiting could never end.
            close_later(self.close)
            return
        try:
            self.sched.point()
            if self.closed:
                return
            self.closed = True
            self.tx = None
            net = self.net
            net.sockets.pop(self.id, None)
            if self.peer is not None:
                self.peer.tx = None  # its sends now take the path that resets
            state = self.state
            if state is LISTEN:
                close_listener(self)
            elif self.stream and self.peer is not None and state.connected:
                close_connection(self)
            elif state is SYN_SENT:
                abort_connect(self)
            unbind(self)
            self.log("close")
            if self.unix and not self.stream:
                for item in self.datagrams():
                    uncharge(item)
            self.rx = None
            self.rx_size = 0
            notify(self)
            peer = self.peer
            if peer is not None and peer.closed:
                # Both ends are closed: the pair stops naming each other,
                # so reference counting frees it (a cycle waited for the
                # collector; tornado's tests look for such garbage).
                peer.peer = self.peer = None
        finally:
            lock.release()

    # -- data -------------------------------------------------------------------

    def send(self, data: bytes | memoryview) -> int:
        peer = self.tx
        if peer is not None and self.fast:
            n = len(data)
            # acquire/release, not "with": half the cost on 3.11, and this
            # is every send of a ping-pong.
            lock = self.lock
            lock.acquire()
            try:
                sched = self.sched
                if sched._strangers:
                    turns = sched.turns
                    if turns is not None and sched._retired is None:
                        turns.point()  # what join() does, one call less
                    else:
                        sched.join()
                if (
                    peer is self.tx
                    and n
                    and peer.rx_size + n <= self.cap
                    and not peer.inflight
                ):
                    if data.__class__ is not bytes:
                        data = bytes(data)
                    rx = peer.rx
                    if rx is None:
                        peer.rx = data
                    else:
                        queue_chunk(peer, rx, data)
                    peer.rx_size += n
                    self.sent += n
                    if peer.waiters or peer.sels:
                        notify(peer)
                    return n
                # Go on under the lock (a connected stream socket): the call
                # has had its scheduling point; see receive().
                return send_stream(self, data)
            finally:
                lock.release()
        return self._send_slow(data)

    def _send_slow(self, data: bytes | memoryview) -> int:
        self.sched.enter()
        if not self.stream:
            with self.lock:
                if self.remote is None:
                    raise errno_error(errno.EDESTADDRREQ)
                return send_dgram(self, data, self.remote, self.rport)
        with self.lock:
            return send_stream(self, data)

    def receive(self, maxlen: int) -> bytes:
        if self.fast:
            lock = self.lock  # acquire/release: see send()
            lock.acquire()
            try:
                sched = self.sched
                if sched._strangers:
                    turns = sched.turns
                    if turns is not None and sched._retired is None:
                        turns.point()  # what join() does, one call less
                    else:
                        sched.join()
                data = self.rx
                # One chunk waiting (a datagram queue is never bytes).
                if type(data) is bytes:
                    n = len(data)
                    if n <= maxlen:
                        self.rx = None
                        self.rx_size = 0
                        self.received += n
                        peer = self.peer
                        if peer is not None and (peer.waiters or peer.sels):
                            notify_room(peer)
                        return data
                # Go on under the lock: the call has had its scheduling
                # point, and a second one would draw for a hand-over again.
                return self._receive_locked(maxlen)[0]
            finally:
                lock.release()
        return self._receive_slow(maxlen)[0]

    def _receive_slow(self, maxlen: int) -> tuple[bytes, Source]:
        with self.lock:
            self.sched.join()
            return self._receive_locked(maxlen)

    def _receive_locked(self, maxlen: int) -> tuple[bytes, Source]:
        """receive() past its scheduling point (lock held)."""
        timeout = self.timeout
        deadline = None if not timeout else self.sched.now + timeout
        net = self.net
        slow_done = False
        while True:
            if self.rx:
                if net.rule_set.handles and not slow_done:
                    delay = net.rule_set.slow_reader(self)
                    slow_done = True
                    if delay > 0:
                        until = self.sched.now + delay
                        while self.sched.now < until:
                            self.wait("receive() (SlowReader)", until)
                        continue
                if self.stream:
                    return take_stream(self, maxlen), None
                return take_dgram(self, maxlen)
            if self.stream and self.eof and not self.unix:
                return b"", None  # Linux SOCK_DONE: EOF wins over an error
            if self.error:
                code, self.error = self.error, 0
                raise errno_error(code)
            if self.stream:
                if self.rd_shut or self.state.dead:
                    return b"", None
                if self.state.idle or self.state is LISTEN:
                    raise NotConnected("Transport endpoint is not connected")
            elif self.rd_shut and timeout != 0:
                return b"", None
            if timeout == 0:
                self.sched.spin()
                if self.rx or self.error:
                    continue
                raise WouldBlock("Resource temporarily unavailable")
            if deadline is not None and self.sched.now >= deadline:
                raise Timeout("timed out")
            self.wait("receive()", deadline, reads=True)

    def rx_queue(self) -> deque[Any]:
        """The datagram receive queue, made on first use."""
        rx = self.rx
        if rx is None:
            rx = self.rx = deque()
        assert not isinstance(rx, bytes)  # only a stream's queue is bytes
        return rx

    def datagrams(self) -> deque[Any] | tuple[()]:
        """The datagrams queued (a datagram socket's receive queue)."""
        rx = self.rx
        assert not isinstance(rx, bytes)  # only a stream's queue is bytes
        return rx or ()

    def receive_from(self, maxlen: int) -> tuple[bytes, str | None, int | None]:
        if self.stream:
            data = self.receive(maxlen)
            with self.lock:
                host, port = self.remote_address()
            return data, host, port
        data, source = self._receive_slow(maxlen)
        return (data, *source_text(self, source))

    def send_to(self, data: bytes | memoryview, host: str, port: int | None) -> int:
        if self.stream:
            return self.send(data)
        with self.lock:
            self.sched.join()
            return send_dgram_to(self, data, host, port)

    def send_file(self, file: BinaryIO) -> int:
        return send_file_by_chunks(self.send, file)

    # -- options and state ------------------------------------------------------------

    def set_option(self, option: Option, value: object) -> None:
        with self.lock:
            self.sched.point()
            if option is SO_RCVBUF:
                assert isinstance(value, int)
                self.rcvbuf = max(2 * min(value, _BUF_MAX), _MIN_RCVBUF)
                peer = self.peer
                if peer is not None:
                    peer.cap = self.rcvbuf + peer.sndbuf
                    notify(peer)
            elif option is SO_SNDBUF:
                assert isinstance(value, int)
                self.sndbuf = max(2 * min(value, _BUF_MAX), _MIN_SNDBUF)
                peer = self.peer
                if peer is not None:
                    self.cap = peer.rcvbuf + self.sndbuf
                    notify(self)
            elif option is IPV6_V6ONLY and self.port is not None:
                raise SocketError(errno.EINVAL, "Invalid argument")
            else:
                if self.opts is None:
                    self.opts = {}
                self.opts[option] = value

    def get_option(self, option: Option) -> object:
        if option is SO_RCVBUF:
            return self.rcvbuf
        if option is SO_SNDBUF:
            return self.sndbuf
        if option is SO_LINGER:
            return self.opts.get(option) if self.opts else None
        return self.opt(option)

    def set_timeout(self, timeout: float | None) -> None:
        self.timeout = timeout

    def is_connected(self) -> bool:
        if self.closed:
            return False
        if self.told is PENDING and self.state.alive:
            self.told = CONNECTED
        return self.told is CONNECTED

    def is_readable(self) -> bool:
        with self.lock:
            # Like stdlib: a pending non-blocking connect is not upgraded here.
            if (
                self.stream
                and self.state is not LISTEN
                and self.told is not CONNECTED
                and not self.stopped  # as stdlib, which still polls it
            ):
                return False
            ready = bool(mask(self) & READ_BITS)
            if not ready:
                self.sched.spin()
                ready = bool(mask(self) & READ_BITS)
            return ready

    def is_writable(self) -> bool:
        with self.lock:
            if self.user_shut_wr or (self.stream and not self.is_connected()):
                return False
            m = mask(self)
            return bool(m & _OUT) and not m & (_ERR | _HUP)

    def local_address(self) -> tuple[str | None, int | None]:
        return present_local(self)

    def tcp_closed(self) -> bool:
        """Linux TCP_CLOSE after a connection: reset, or both FINs exchanged."""
        return not self.unix and self.state.finished

    def remote_address(self) -> tuple[str | None, int | None]:
        if not self.is_connected() or (self.stream and self.tcp_closed()):
            return (None, None)
        return present_remote(self)

    def __repr__(self) -> str:
        """What the socket is, as deadlock messages and the log show it."""
        return describe(self)
