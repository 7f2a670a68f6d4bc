"""Sockets and the Poller engine of the memory network.

Each :class:`MemorySocket` is one endpoint.  A stream connection is two
endpoints pointing at each other (``_peer``); data sent by one is appended to
the other's receive queue (``_rx``), directly when no fault rule is installed
(the fast path: one lock, one append, one wake-up check), or through the
receiver's ordered in-flight queue (``_inflight``) when latency or a
partition holds it back.  Flow control: a sender may have at most
``_cap = receiver SO_RCVBUF + sender SO_SNDBUF`` bytes queued or in flight
towards its peer, so a slow reader blocks the writer as on a real network.

Error and readiness semantics copy Linux loopback sockets (``tcp_poll``,
``udp_poll``, ``unix_poll``, ``tcp_reset``): the readiness mask is computed
from the same flags the kernel keeps (receive and send shutdown, pending
error, reset, state), and the facade-visible properties are derived from it
the way the ``stdlib`` backend derives them from ``poll(2)``.
"""

from __future__ import annotations

import errno
import os
from collections import deque
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, BinaryIO

from ...api._shared import format_address as _fmt
from ...api._shared import send_file_by_chunks
from ...api.backend import SelectorImpl, SocketImpl
from ...api.constants import (
    AF_INET,
    AF_INET6,
    AF_UNIX,
    EVENT_READ,
    EVENT_WRITE,
    IPV6_V6ONLY,
    SHUT_RD,
    SHUT_WR,
    SO_BROADCAST,
    SO_LINGER,
    SO_RCVBUF,
    SO_REUSEADDR,
    SO_REUSEPORT,
    SO_SNDBUF,
    SOCK_STREAM,
    Event,
    Family,
    Option,
    Shutdown,
    SocketType,
)
from ...api.errors import (
    AddressInUse,
    AddressNotAvailable,
    AlreadyConnected,
    BrokenPipe,
    ConnectionRefused,
    MessageTooLong,
    NotConnected,
    PermissionDenied,
    SocketError,
    Timeout,
    WouldBlock,
    closed_while_waiting,
    from_os_error,
    send_before_connect,
    send_timed_out,
)
from ._faults import (
    Duplicate,
    Latency,
    Loss,
    Reorder,
    ShortReads,
    ShortWrites,
    draw,
)
from ._inspect import SocketInfo
from ._sched import Waiter
from ._tcp import TcpEvent, TcpState, Told, next_state

if TYPE_CHECKING:
    from ._network import Host, Network

__all__ = ["MemorySelector", "MemorySocket"]

# Readiness bits, as poll(2) has them.
_IN, _OUT, _ERR, _HUP = 1, 4, 8, 16
_READ_BITS = _IN | _ERR | _HUP
_WRITE_BITS = _OUT | _ERR | _HUP
_EVENTS = {
    0: Event(0),
    1: EVENT_READ,
    2: EVENT_WRITE,
    3: EVENT_READ | EVENT_WRITE,
}

# The states, as module globals: a state test is one identity check.
CLOSED, LISTEN, SYN_SENT = TcpState.CLOSED, TcpState.LISTEN, TcpState.SYN_SENT
ESTABLISHED, FIN_WAIT = TcpState.ESTABLISHED, TcpState.FIN_WAIT
UNCONNECTED, PENDING, CONNECTED = Told.UNCONNECTED, Told.PENDING, Told.CONNECTED

# Segment kinds in an in-flight queue.
_DATA, _FIN, _RST = range(3)

#: Linux's net.core.somaxconn: listen() backlogs are capped at it.
SOMAXCONN = 4096
#: Linux gives up a connect() nobody answers after this long (6 SYN retries).
SYN_GIVE_UP = 127.0
#: How long an actively closed TCP port stays in TIME_WAIT (2 MSL on Linux).
TIME_WAIT = 60.0
#: Largest UDP payload over IPv4 / IPv6.
_MAX_UDP = {4: 65507, 6: 65527}
#: What one queued datagram costs in the receive buffer besides its bytes.
_DGRAM_OVERHEAD = 768
#: Linux's net.unix.max_dgram_qlen: queued datagrams before senders wait.
UNIX_DGRAM_QLEN = 10
# Linux limits and defaults for SO_RCVBUF / SO_SNDBUF (values are doubled).
_BUF_MAX = 4194304
_MIN_RCVBUF = 2304
_MIN_SNDBUF = 4608
_TCP_RCVBUF = 131072
_TCP_SNDBUF = 16384
_OTHER_BUF = 212992
# What Linux charges an AF_UNIX datagram to its sender (skb truesize):
# page size, skb_shared_info, struct sk_buff, SKB_MAX_ALLOC, MAX_SKB_FRAGS.
_PAGE = 4096
_SHINFO = 320
_SKB_STRUCT = 256
_SKB_MAX_ALLOC = 4 * _PAGE - _SHINFO
_MAX_SKB_FRAGS = 17


def _error(code: int) -> SocketError:
    return from_os_error(OSError(code, os.strerror(code)))


def _unix_truesize(n: int) -> int:
    """Bytes of its sender's SO_SNDBUF an AF_UNIX datagram of *n* bytes takes.

    Linux's unix_dgram_sendmsg puts up to SKB_MAX_ALLOC bytes in the head,
    a kmalloc'd power of two that also holds skb_shared_info, and the rest,
    up to MAX_SKB_FRAGS pages, in whole pages; the sk_buff itself adds 256.
    The charge lasts until the receiver takes the datagram.
    """
    paged = 0
    if n > _SKB_MAX_ALLOC:
        paged = min(n - _SKB_MAX_ALLOC, _MAX_SKB_FRAGS * _PAGE)
        paged = -(-paged // _PAGE) * _PAGE
    head = n - paged + _SHINFO
    return _SKB_STRUCT + max(512, 1 << (head - 1).bit_length()) + paged


def _uncharge(item: tuple[Any, ...]) -> None:
    """An AF_UNIX datagram left its receiver's queue: free its sender's room."""
    if len(item) == 4:
        sender: MemorySocket = item[2]
        sender.wmem -= item[3]
        if sender.waiters or sender.sels:
            _notify(sender)


def _notify(sock: MemorySocket) -> None:
    """Wake threads and Pollers watching *sock* (lock held)."""
    wake = sock.sched.wake
    for w in sock.waiters:
        wake(w)
    for sel in sock.sels:
        sel.dirty[sock] = None
        for w in sel.waiters:
            wake(w)


class MemorySocket(SocketImpl):
    """One socket on a memory :class:`~sockspec.backends.memory.Host`."""

    __slots__ = (
        "accept_q",
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
        self.stopped = False  # a listener that shutdown() stopped
        self.cov4: str | None = None  # IPv4 addresses the binding covers ("*": all)
        self.cov6: str | None = None
        self.remote: tuple[int, str] | str | None = None  # wire addr, or path
        self.rport: int | None = None
        self.peer: MemorySocket | None = None
        self.tx: MemorySocket | None = None  # peer, while the fast send path may run
        self.cap = 0
        # The queues are made on first use: an empty deque is ~760 bytes,
        # most of an idle connection (issue 16).  None reads as empty.
        self.rx: deque[Any] | None = None
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
        self.syn_wait: list[tuple[MemorySocket, int]] = []
        self.syn_token = 0
        self.waiters: list[Waiter] = []
        self.sels: list[MemorySelector] = []
        self.opts: dict[Option, object] = {}
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
        net._next_id += 1
        self.id = net._next_id
        net._sockets[self.id] = self
        self.fast = not net._rules and not net._record_data

    # -- helpers -------------------------------------------------------------------

    def _wait(
        self, what: str, deadline: float | None, also: MemorySocket | None = None
    ) -> None:
        """Block until notified or *deadline* (lock held); raise if closed."""
        w = Waiter(self.lock, what, deadline, self._describe)
        self.waiters.append(w)
        if also is not None:
            also.waiters.append(w)
        try:
            self.sched.block(w)
        finally:
            self.waiters.remove(w)
            if also is not None and w in also.waiters:
                also.waiters.remove(w)
        if self.closed:
            raise closed_while_waiting()

    def _deadline(self, timeout: float | None) -> float | None:
        return None if timeout is None else self.sched.now + timeout

    def _describe(self) -> str:
        local = _fmt(*self._present_local()) if self.local or self.port else "*"
        remote = self._present_remote()
        out = f"<{self._proto_name()} #{self.id} {self.host.hostname}:{local}"
        if remote[0] is not None:
            out += f" -> {_fmt(*remote)}"
        return out + f" {self._state_name()}>"

    def _wire_local(self) -> tuple[int, str] | None:
        if self.unix or self.local is None:
            return None
        return (4 if ":" not in self.local else 6, self.local)

    def _present(self, addr: str) -> str:
        """Show a wire address as this socket's family shows it."""
        if self.family is AF_INET6 and ":" not in addr:
            return "::ffff:" + addr
        return addr

    def _present_local(self) -> tuple[str | None, int | None]:
        if self.unix:
            return (self.local, None)
        if self.port is None:
            return (None, None)
        return (self._present(self.local or ""), self.port)

    def _present_remote(self) -> tuple[str | None, int | None]:
        remote = self.remote
        if remote is None:
            return (None, None)
        if isinstance(remote, str):
            return (remote, None)
        return (self._present(remote[1]), self.rport)

    def _opt(self, option: Option) -> bool:
        return bool(self.opts.get(option, False))

    def _log(
        self, kind: str, other: str = "", nbytes: int = 0, detail: str = ""
    ) -> None:
        here = self.host.hostname + " " + _fmt(*self._present_local())
        self.net._log(kind, here, other, nbytes, detail)

    def _peer_name(self) -> str:
        peer = self.peer
        if peer is not None:
            return peer.host.hostname + " " + _fmt(*peer._present_local())
        return _fmt(*self._present_remote())

    # -- readiness -------------------------------------------------------------------

    def _mask(self) -> int:
        """The poll(2) mask Linux would report for this socket."""
        m = 0
        if self.stream:
            state = self.state
            if state is LISTEN:
                m = _IN if self.accept_q else 0
                if self.unix:  # unix_poll shows a listener's shutdown too
                    if self.rd_shut:
                        m |= _IN
                    if self.rd_shut and self.wr_shut:
                        m |= _HUP
                return m
            if self.unix:
                if self.rd_shut and self.wr_shut:
                    m |= _HUP
                if self.rx or self.rd_shut:
                    m |= _IN
                if state.idle:
                    m |= _HUP
                if state is not SYN_SENT and self._writable_room():
                    m |= _OUT
            else:
                if (self.rd_shut and self.wr_shut) or state.idle or state.dead:
                    m |= _HUP
                if self.rd_shut:
                    m |= _IN
                if state is not SYN_SENT:
                    if self.rx:
                        m |= _IN
                    if self.wr_shut or state.dead or self._writable_room():
                        m |= _OUT
        else:
            if self.rd_shut:
                m |= _IN
                if self.wr_shut:
                    m |= _HUP
            if self.rx:
                m |= _IN
            # unix_writable: a quarter of SO_SNDBUF in flight ends POLLOUT.
            if not self.unix or (self.wmem + 1) * 4 <= self.sndbuf:
                m |= _OUT
        if self.error:
            m |= _ERR
        return m

    def _writable_room(self) -> bool:
        peer = self.peer
        if peer is None or not self.state.connected:
            return True  # Linux reports an idle socket's empty send buffer
        return peer.rx_size + peer.inflight_size < self.cap

    def _selector_events(self) -> int:
        m = self._mask()
        return (1 if m & _READ_BITS else 0) | (2 if m & _WRITE_BITS else 0)

    # -- connections -------------------------------------------------------------------

    def bind(self, host: str | None, port: int | None) -> None:
        with self.lock:
            self.sched.join()
            if (
                self.local is not None
                or self.port is not None
                or self.state is not CLOSED
                or (not self.stream and self.remote is not None)
            ):
                raise SocketError(errno.EINVAL, "Invalid argument")
            if self.unix:
                self._bind_path(host or "")
            else:
                self._bind_inet(host, port or 0)
                self.port_locked = bool(port)
            self._log("bind")

    def _bind_path(self, path: str) -> None:
        paths = self.host._paths
        if not path:
            # Linux "autobind": an unnamed bind gets a unique abstract name of
            # five hex digits; the seeded port stream picks it.
            rng = self.net._port_rng
            for _ in range(64):
                path = f"\0{rng.randrange(0x100000):05x}"
                if path not in paths:
                    break
            else:
                raise AddressInUse("no free autobind name")
        if path in paths:
            raise AddressInUse("Address already in use")
        paths[path] = self
        self.local = path
        self.unix_linked = True

    def _bind_inet(self, host: str | None, port: int) -> None:
        net = self.net
        if host is None:
            wire = (4, "0.0.0.0") if self.ipv == 4 else (6, "::")
        else:
            wire = net._resolve(host, self.family)
        v, addr = wire
        if self.ipv == 6 and v == 4 and self._opt(IPV6_V6ONLY):
            raise SocketError(errno.EINVAL, "Invalid argument")  # IPv4-mapped
        if addr not in ("0.0.0.0", "::") and not self.host.is_local(v, addr):
            raise AddressNotAvailable("Cannot assign requested address")
        self._set_cover(v, addr)
        self._claim_port(port)
        self.local = addr

    def _set_cover(self, v: int, addr: str) -> None:
        if v == 4:
            self.cov4 = "*" if addr == "0.0.0.0" else addr
            self.cov6 = None
        elif addr == "::":
            self.cov6 = "*"
            self.cov4 = None if self._opt(IPV6_V6ONLY) else "*"
        else:
            self.cov6, self.cov4 = addr, None

    def _overlaps(self, other: MemorySocket) -> bool:
        a4, b4, a6, b6 = self.cov4, other.cov4, self.cov6, other.cov6
        return bool(
            (a4 and b4 and (a4 == "*" or b4 == "*" or a4 == b4))
            or (a6 and b6 and (a6 == "*" or b6 == "*" or a6 == b6))
        )

    def _conflicts(self, port: int, listening_only: bool = False) -> bool:
        host = self.host
        for other in host._ports.get((self.proto, port), ()):
            if other is self or not self._overlaps(other):
                continue
            if listening_only and other.state is not LISTEN:
                continue
            if self._opt(SO_REUSEPORT) and other._opt(SO_REUSEPORT):
                continue
            if (
                not listening_only
                and self._opt(SO_REUSEADDR)
                and other._opt(SO_REUSEADDR)
                and (self.proto == "udp" or other.state is not LISTEN)
            ):
                continue
            return True
        if listening_only:
            return False
        entries = host._timewait.get((self.proto, port))
        if entries:
            now = self.sched.now
            entries[:] = [e for e in entries if e[1] > now]
            # Linux (inet_csk_bind_conflict): a TIME_WAIT entry keeps the
            # SO_REUSEADDR/SO_REUSEPORT of its socket; only the same option
            # on both sides lets a new socket bind over it.
            reuse = {opt for opt in (SO_REUSEADDR, SO_REUSEPORT) if self._opt(opt)}
            for addr, _, tw_reuse in entries:
                if reuse & tw_reuse:
                    continue
                if (":" in addr and self.cov6 in ("*", addr)) or (
                    ":" not in addr and self.cov4 in ("*", addr)
                ):
                    return True
        return False

    def _claim_port(self, port: int) -> None:
        host = self.host
        if port == 0:
            port = self._ephemeral()
        elif self._conflicts(port):
            raise AddressInUse("Address already in use")
        host._ports.setdefault((self.proto, port), []).append(self)
        self.port = port

    def _ephemeral(self) -> int:
        rng = self.net._port_rng
        low, high = self.net.ephemeral_ports
        ports = self.host._ports
        for _ in range(64):
            port = rng.randint(low, high)
            if (self.proto, port) not in ports and not self._conflicts(port):
                return port
        for port in range(low, high + 1):
            if (self.proto, port) not in ports and not self._conflicts(port):
                return port
        # Linux (inet_csk_get_port, udp_lib_get_port): bind() and listen()
        # say EADDRINUSE; _autobind translates for connect and send.
        raise AddressInUse("Address already in use (no free ephemeral port)")

    def _destination(self, target: tuple[int, str]) -> tuple[int, str]:
        """Where a connect or send to *target* goes, as Linux decides it.

        The unspecified address means this host: ``::`` is ``::1`` and
        ``0.0.0.0`` the socket's own bound address, else ``127.0.0.1``
        (``tcp_v6_connect``, ``ip_route_output_key_hash_rcu``).  An IPv6
        socket reaches IPv4-mapped addresses only if it may carry IPv4.
        """
        v, addr = target
        local = self.local
        bound_v4 = local is not None and ":" not in local
        if addr == "::":
            return (4, "127.0.0.1") if bound_v4 and self.ipv == 6 else (6, "::1")
        if self.ipv == 6:
            bound_v6 = local is not None and local != "::" and not bound_v4
            if v == 4 and (self._opt(IPV6_V6ONLY) or bound_v6):
                raise _error(errno.ENETUNREACH)
            if v == 6 and bound_v4:
                raise _error(errno.EAFNOSUPPORT)
        if addr == "0.0.0.0":
            if bound_v4 and local != "0.0.0.0":
                return (4, local or "")
            return (4, "127.0.0.1")
        return target

    def _autobind(self, dst: tuple[int, str] | None) -> None:
        """Give an unbound socket an address, as connect/sendto do."""
        if self.unix:
            return
        try:
            self._take_port()
        except AddressInUse:
            # No free ephemeral port: listen() says EADDRINUSE, a TCP connect
            # EADDRNOTAVAIL (__inet_hash_connect), a datagram socket EAGAIN
            # (inet_autobind) -- which a send with a timeout retries until
            # the deadline, as the OS backends do.
            if self.stream:
                if dst is None:
                    raise
                raise AddressNotAvailable("Cannot assign requested address") from None
            if dst is not None or not self.timeout:
                raise _error(errno.EAGAIN) from None
            deadline = self.sched.now + self.timeout
            while self.sched.now < deadline:
                self._wait("send_to() (no free port)", deadline)
            try:
                self._take_port()
            except AddressInUse:
                raise Timeout("timed out") from None
        if dst is not None and self.local in ("0.0.0.0", "::"):
            src = self.host.source_for(dst[0], dst[1])
            if src is None:
                raise _error(errno.ENETUNREACH)
            self.local = src

    def _take_port(self) -> None:
        """Claim an ephemeral port if the socket has none (lock held)."""
        if self.port is None:
            any_addr = "0.0.0.0" if self.ipv == 4 else "::"
            self._set_cover(4 if self.ipv == 4 else 6, any_addr)
            self._claim_port(0)
            self.local = any_addr
        elif self.stopped:
            if not self.port_locked:  # the stopped listener gave it back
                self._claim_port(0)
            self.stopped = False

    def _listeners_first(self) -> None:
        """Move this new listener after the port's other listeners.

        A port's list holds its listeners first, then everything else
        (bound sockets, accepted connections), so Host._listener stops at
        the first non-listener instead of walking every connection.
        """
        bound = self.host._ports[(self.proto, self.port or 0)]
        bound.remove(self)
        at = 0
        while at < len(bound) and bound[at].state is LISTEN:
            at += 1
        bound.insert(at, self)

    def _unbind(self) -> None:
        if self.port is not None:
            key = (self.proto, self.port)
            bound = self.host._ports.get(key)
            if bound is not None:
                try:
                    bound.remove(self)  # one scan, not "in" and then remove
                except ValueError:
                    pass
                else:
                    if not bound:
                        del self.host._ports[key]
        if self.unix and self.local is not None:
            paths = self.host._paths
            if self.local.startswith("\0"):
                paths.pop(self.local, None)  # abstract names vanish with the socket
            elif self.unix_linked and paths.get(self.local) is self:
                paths[self.local] = None  # the file stays, like on disk

    def listen(self, backlog: int) -> None:
        with self.lock:
            self.sched.join()
            if self.state.connected or self.state is SYN_SENT:
                raise SocketError(errno.EINVAL, "Invalid argument")
            if self.state is not LISTEN:
                if self.unix:
                    if self.local is None:
                        raise SocketError(errno.EINVAL, "Invalid argument")
                else:
                    if self.port is None or self.stopped:
                        self._autobind(None)
                    if self._conflicts(self.port or 0, listening_only=True):
                        raise AddressInUse("Address already in use")
                self.state = next_state(self.state, TcpEvent.LISTEN)
                self.accept_q = deque()
                if not self.unix:
                    self._listeners_first()
                self._log("listen")
            self.backlog = min(backlog, SOMAXCONN)
            self._admit_waiting()

    def accept(self) -> MemorySocket:
        with self.lock:
            self.sched.join()
            if self.state is not LISTEN:
                raise SocketError(errno.EINVAL, "accept() needs a listening socket")
            timeout = self.timeout
            deadline = self._deadline(timeout)
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
                self._wait("accept()", deadline)
                if self.state is not LISTEN:  # shutdown() stopped the listener
                    raise SocketError(errno.EINVAL, "Invalid argument")
            conn = queue.popleft()
            conn.told = CONNECTED
            self._admit_waiting()
            conn._log("accept", conn._peer_name())
            return conn

    def _admit_waiting(self) -> None:
        """Let connections that waited for room in the accept queue in."""
        queue = self.accept_q
        while self.syn_wait and queue is not None and len(queue) <= self.backlog:
            client, token = self.syn_wait.pop(0)
            if client.state is SYN_SENT and client.syn_token == token:
                self._establish(client)

    def connect(self, host: str, port: int | None, timeout: float | None) -> None:
        with self.lock:
            self.sched.join()
            if self.unix:
                target: Any = host
            else:
                target = self.net._resolve(host, self.family)
            if not self.stream:
                self._connect_dgram(target, port)
                return
            state = self.state
            if state is LISTEN:
                raise AlreadyConnected("Transport endpoint is already connected")
            if state.connected:
                if self.told is PENDING and not state.dead:
                    self.told = CONNECTED
                    return
                if not state.dead or self.told is not PENDING:
                    # Linux: once connect() reported the connection, the
                    # socket stays SS_CONNECTED, even after a reset.
                    raise AlreadyConnected("Transport endpoint is already connected")
            if state is SYN_SENT:
                if timeout == 0:
                    raise WouldBlock(errno.EALREADY, "Operation already in progress")
            elif self.error and self.told is PENDING:
                code, self.error = self.error, 0
                self.told = UNCONNECTED
                raise _error(code)
            else:
                self._start_connect(target, port)
            if timeout == 0:
                if self.unix:
                    if self.state.connected:
                        self.told = CONNECTED
                        return
                    self._abort_connect()
                    raise WouldBlock("Resource temporarily unavailable")
                self.told = PENDING
                raise WouldBlock(errno.EINPROGRESS, "Operation now in progress")
            self._finish_connect(timeout)

    def _finish_connect(self, timeout: float | None) -> None:
        give_up = timeout is None
        deadline: float | None = self.sched.now + (
            SYN_GIVE_UP if timeout is None else timeout
        )
        if give_up and self.unix:
            deadline = None  # unix_wait_for_peer: no SYN to give up on
        while self.state is SYN_SENT:
            if deadline is not None and self.sched.now >= deadline:
                self._log("timeout", detail="connect")
                if give_up:
                    self._abort_connect()
                    raise Timeout("Connection timed out")
                if self.unix:
                    self._abort_connect()
                else:
                    # Linux: the caller's timeout ends the wait, not the
                    # attempt; the SYN stays out, and the next connect()
                    # reports it (EALREADY) or waits for it.
                    self.told = PENDING
                raise Timeout("timed out")
            self._wait("connect()", deadline)
        if self.error:
            code, self.error = self.error, 0
            raise _error(code)
        self.told = CONNECTED

    def _abort_connect(self) -> None:
        # SYNs still travelling, and places in accept-queue waiting lists,
        # carry the old token and are ignored from now on.
        self.syn_token += 1
        self.state = next_state(self.state, TcpEvent.GIVE_UP)

    def _start_connect(self, target: Any, port: int | None) -> None:
        # A socket whose earlier attempt failed (Linux: TCP_CLOSE) may try again.
        self.rd_shut = self.wr_shut = self.eof = False
        self.error = 0
        self.told = UNCONNECTED
        if self.unix:
            paths = self.host._paths
            if target not in paths:
                raise _error(errno.ENOENT)
            listener = paths[target]
            if (
                listener is None
                or listener.state is not LISTEN
                or not listener.stream
                or listener.rd_shut  # unix_stream_connect: shut down listener
            ):
                raise ConnectionRefused("Connection refused")
            self.remote = target
            self.state = next_state(self.state, TcpEvent.CONNECT)
            self.syn_token += 1
            if len(listener.accept_q or ()) <= listener.backlog:
                listener._establish(self)
            else:
                listener.syn_wait.append((self, self.syn_token))
            return
        target = self._destination(target)
        self._autobind(target)
        self.remote = target
        self.rport = port
        self.state = next_state(self.state, TcpEvent.CONNECT)
        self.syn_token += 1
        self._send_syn(self.syn_token)

    def _send_syn(self, token: int) -> None:
        """Send (or re-send, after a heal) the connection request."""
        if self.state is not SYN_SENT or self.syn_token != token:
            return
        net = self.net
        remote = self.remote
        assert isinstance(remote, tuple)
        v, addr = remote
        dst_host = net._route(self.host, v, addr)
        if dst_host is None:
            return  # nobody has the address: the SYN is lost, connect times out
        verdict, delay = net._path(self, dst_host, remote, self.rport, None, False)
        if verdict == "held":
            net._held.append(lambda: self._send_syn(token))
            return

        def arrive() -> None:
            if self.state is not SYN_SENT or self.syn_token != token:
                return
            if verdict == "refused":
                listener = None
            elif self.rport == self.port and remote == self._wire_local():
                # Linux: the SYN finds the socket itself (simultaneous open).
                self._connect_to_self()
                return
            else:
                listener = dst_host._listener(v, addr, self.rport)
            if listener is None:
                self.net._log(
                    "refuse",
                    self.host.hostname + " " + _fmt(*self._present_local()),
                    dst_host.hostname + " " + _fmt(addr, self.rport),
                )
                back = self.net._path(
                    self, self.host, self._wire_local(), None, None, False
                )[1]
                self._later(back, lambda: self._refused(token))
            elif len(listener.accept_q or ()) > listener.backlog:
                # The SYN is dropped; a retransmission gets in once there is room.
                listener.syn_wait.append((self, token))
            else:
                listener._establish(self)

        self._later(delay, arrive)

    def _connect_to_self(self) -> None:
        """A TCP socket connected to its own address and port is its own peer."""
        self.peer = self.tx = self
        self.cap = self.rcvbuf + self.sndbuf
        self.state = next_state(self.state, TcpEvent.SYN_ACK)
        self._log("connect", self.host.hostname + " " + _fmt(*self._present_local()))
        _notify(self)

    def _later(self, delay: float, fn: Callable[[], None]) -> None:
        if delay <= 0:
            fn()
        else:
            self.sched.call_at(self.sched.now + delay, fn)

    def _refused(self, token: int) -> None:
        if self.state is not SYN_SENT or self.syn_token != token:
            return
        self.state = next_state(self.state, TcpEvent.REFUSE)
        self.error = errno.ECONNREFUSED
        _notify(self)

    def _establish(self, client: MemorySocket) -> None:
        """Create the server end of a connection from *client* (lock held)."""
        conn = MemorySocket(self.host, self.family, SOCK_STREAM, locked=True)
        conn.opts = dict(self.opts)
        conn.rcvbuf, conn.sndbuf = self.rcvbuf, self.sndbuf
        conn.state = next_state(conn.state, TcpEvent.ACCEPTED)
        if self.unix:
            conn.local = self.local
            conn.remote = client.local
            conn.unix_linked = False
        else:
            remote = client.remote
            assert isinstance(remote, tuple)
            conn.local = remote[1]
            conn.port = self.port
            conn.cov4, conn.cov6 = self.cov4, self.cov6
            self.host._ports.setdefault(("tcp", self.port or 0), []).append(conn)
            conn.remote = client._wire_local()
            conn.rport = client.port
        conn.peer, client.peer = client, conn
        conn.cap = client.rcvbuf + conn.sndbuf
        client.cap = conn.rcvbuf + client.sndbuf
        conn.tx = client
        assert self.accept_q is not None
        self.accept_q.append(conn)
        _notify(self)

        def complete() -> None:
            if client.state is not SYN_SENT or client.peer is not conn:
                return
            client.state = next_state(client.state, TcpEvent.SYN_ACK)
            client.tx = conn
            client._log(
                "connect", conn.host.hostname + " " + _fmt(*conn._present_local())
            )
            _notify(client)

        if self.unix:
            complete()
            return
        verdict, back = self.net._path(
            conn, client.host, client._wire_local(), client.port, client, False
        )
        if verdict == "held":
            self.net._held.append(complete)
        else:
            # Nothing the accepting end sends may overtake the handshake:
            # its segments are due no earlier than the SYN-ACK.
            client.last_ready = max(client.last_ready, self.sched.now + back)
            self._later(back, complete)

    def _connect_dgram(self, target: Any, port: int | None) -> None:
        if self.unix:
            paths = self.host._paths
            if target not in paths:
                raise _error(errno.ENOENT)
            if paths[target] is None:
                raise ConnectionRefused("Connection refused")
            self.remote = target
        else:
            target = self._destination(target)
            self._autobind(target)
            self.remote = target
            self.rport = port
        self.told = CONNECTED

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
                _notify(self)
                return
            if self.stream and self.state is LISTEN:
                if rd:  # Linux: SHUT_RD stops a listener, SHUT_WR does nothing
                    self._stop_listening()
                return
            if self.stream and self.state is SYN_SENT:
                self._abandon_connect()
                return
            if not self.stream and self.remote is None:
                # inet_shutdown on an unconnected socket (TCP_CLOSE): the
                # flags stay although it says ENOTCONN.
                self.rd_shut |= rd
                self.wr_shut |= wr
                _notify(self)
                raise NotConnected("Transport endpoint is not connected")
            if self.stream and (not self.state.connected or self._tcp_closed()):
                if self.state.connected:
                    # Linux still records the flags, then says ENOTCONN.
                    self.rd_shut |= rd
                    self.user_shut_wr |= wr
                raise NotConnected("Transport endpoint is not connected")
            if how is not SHUT_WR:
                self.rd_shut = True
                _notify(self)
            if how is not SHUT_RD:
                self.user_shut_wr = True
                if not self.wr_shut:
                    self.wr_shut = True
                    self.tx = None
                    if self.stream:
                        self._send_fin()
                    _notify(self)
            peer = self.peer
            if self.rd_shut and self.state.fin_sent and peer is not None:
                peer.tx = None  # its next data must take the path that resets

    def _stop_listening(self) -> None:
        """SHUT_RD on a TCP listener: Linux's tcp_disconnect from LISTEN.

        Queued connections are reset, waiting ones refused, a blocked
        accept() wakes with EINVAL.  A port the application did not choose
        is given back (getsockname still shows it) and the next listen or
        connect picks a new one.
        """
        self._close_listener()
        self.state = next_state(self.state, TcpEvent.STOP)
        self.accept_q = None
        self.stopped = True
        if not self.port_locked:
            self._unbind()
        else:  # no longer a listener: out of the listeners' place (see listen)
            bound = self.host._ports[(self.proto, self.port or 0)]
            bound.remove(self)
            bound.append(self)
        self._log("shutdown", detail="listener stopped")
        _notify(self)

    def _abandon_connect(self) -> None:
        """shutdown() during a TCP connect: Linux's tcp_disconnect from SYN_SENT.

        The attempt is dropped (a late SYN-ACK is answered with a reset) and
        the socket keeps ECONNRESET as its pending error.
        """
        conn = self.peer
        self._abort_connect()
        if conn is not None and conn.peer is self:
            self._transmit(_RST, b"")
        self.peer = self.tx = None
        self.error = errno.ECONNRESET
        _notify(self)

    def _send_fin(self) -> None:
        if self.state.fin_sent or self.peer is None:
            return
        self.state = next_state(self.state, TcpEvent.SEND_FIN)
        self._transmit(_FIN, b"")

    def close(self) -> None:
        with self.lock:
            self.sched.point()
            if self.closed:
                return
            self.closed = True
            self.tx = None
            net = self.net
            net._sockets.pop(self.id, None)
            if self.peer is not None:
                self.peer.tx = None  # its sends now take the path that resets
            state = self.state
            if state is LISTEN:
                self._close_listener()
            elif self.stream and self.peer is not None and state.connected:
                self._close_connection()
            elif state is SYN_SENT:
                self._abort_connect()
            self._unbind()
            self._log("close")
            if self.unix and not self.stream:
                for item in self.rx or ():
                    _uncharge(item)
            self.rx = None
            self.rx_size = 0
            _notify(self)

    def _close_listener(self) -> None:
        queue = self.accept_q or deque()
        while queue:
            conn = queue.popleft()
            conn.closed = True  # never accepted: it goes with the listener
            self.net._sockets.pop(conn.id, None)
            conn._abort()
            conn._unbind()
        for client, token in self.syn_wait:
            client._refused(token)
        self.syn_wait.clear()

    def _close_connection(self) -> None:
        peer = self.peer
        assert peer is not None
        if self.unix:
            peer.rd_shut = peer.wr_shut = True
            peer.tx = None
            if self.rx_size:
                peer.error = errno.ECONNRESET
            _notify(peer)
            return
        if self.state.dead:
            return
        linger = self.opts.get(SO_LINGER)
        if self.rx_size or linger == 0:
            self._log(
                "reset",
                self._peer_name(),
                detail="closed with unread data" if self.rx_size else "SO_LINGER 0",
            )
            self._transmit(_RST, b"")
            return
        self._send_fin()
        if self.state.active_close and self.port is not None:
            entries = self.host._timewait.setdefault(("tcp", self.port), [])
            reuse = frozenset(o for o in (SO_REUSEADDR, SO_REUSEPORT) if self._opt(o))
            entries.append((self.local or "", self.sched.now + TIME_WAIT, reuse))

    def _abort(self) -> None:
        """Tell the peer the connection is reset (we vanish without a FIN)."""
        peer = self.peer
        if peer is not None and not peer.state.dead:
            self._transmit(_RST, b"")
        if self.state.alive:
            self.state = next_state(self.state, TcpEvent.RESET)

    # -- segments ---------------------------------------------------------------------

    def _transmit(self, kind: int, data: bytes) -> None:
        """Send one segment to the peer, through the rules (lock held)."""
        peer = self.peer
        if peer is None:
            return
        net = self.net
        if self.unix or (not net._rules):
            if not peer.inflight:
                _arrive(peer, kind, data)
                return
            verdict, delay = "ok", 0.0
        else:
            verdict, delay = net._path(
                self, peer.host, peer._wire_local(), peer.port, peer, False
            )
        n = len(data)
        if verdict == "held":
            ready: float | None = None
        else:
            ready = max(self.sched.now + delay, peer.last_ready)
            peer.last_ready = ready
        inflight = peer.inflight
        if inflight is None:
            inflight = peer.inflight = deque()
        inflight.append([ready, kind, data])
        peer.inflight_size += n
        if ready is None:
            net._held.append(lambda: _release(peer))
        else:
            self.sched.call_at(ready, lambda: _pump(peer))
            if ready <= self.sched.now:
                _pump(peer)

    def _reset(self, code: int) -> None:
        """A reset arrived (lock held); without a connection it is ignored."""
        state = self.state
        if not state.alive:
            return
        if code == errno.ECONNRESET and state.fin_received and not self.unix:
            code = errno.EPIPE  # Linux: a reset in CLOSE_WAIT reads as EPIPE
        self.state = next_state(state, TcpEvent.RESET)
        self.rd_shut = self.wr_shut = True
        self.tx = None
        self.error = code
        self.inflight = None
        self.inflight_size = 0
        self._log("reset", self._peer_name())
        _notify(self)
        peer = self.peer
        if peer is not None:
            _notify(peer)  # its send room changed

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
                if self.sched._strangers:
                    self.sched.join()
                if (
                    peer is self.tx
                    and n
                    and peer.rx_size + n <= self.cap
                    and not peer.inflight
                ):
                    rx = peer.rx
                    if rx is None:
                        rx = peer.rx = deque()
                    rx.append(data if data.__class__ is bytes else bytes(data))
                    peer.rx_size += n
                    self.sent += n
                    if peer.waiters or peer.sels:
                        _notify(peer)
                    return n
            finally:
                lock.release()
        return self._send_slow(data)

    def _send_slow(self, data: bytes | memoryview) -> int:
        self.sched.enter()
        if not self.stream:
            with self.lock:
                if self.remote is None:
                    raise _error(errno.EDESTADDRREQ)
                return self._send_dgram(data, self.remote, self.rport)
        # No memoryview of our own: a view left in a frame that outlives the
        # call would stop the caller from resizing its bytearray.
        total = len(data)
        timeout = self.timeout
        with self.lock:
            deadline = None if not timeout else self.sched.now + timeout
            sent = 0
            net = self.net
            while True:
                if self.error:
                    code, self.error = self.error, 0
                    raise _error(code)
                state = self.state
                if state.idle or state is LISTEN:
                    if self.told is PENDING:  # stdlib leaves this one to the kernel
                        raise BrokenPipe("Broken pipe")
                    raise send_before_connect()
                if self.wr_shut or state.dead:
                    raise BrokenPipe("Broken pipe")
                if not state.connected:
                    if timeout == 0:
                        raise WouldBlock("Resource temporarily unavailable")
                    # Linux waits for the pending connect up to the send
                    # timeout (sk_stream_wait_connect); without this check a
                    # passed deadline makes every wait return at once.
                    if deadline is not None and self.sched.now >= deadline:
                        raise send_timed_out(sent)
                    self._wait("send()", deadline)
                    continue
                if total == 0:
                    return 0
                peer = self.peer
                assert peer is not None
                room = self.cap - peer.rx_size - peer.inflight_size
                if room > 0:
                    n = min(room, total - sent)
                    if net._rules and net._any(ShortWrites, self, peer):
                        n = net._rng.randint(1, n)
                    n = self._push(bytes(data[sent : sent + n]))
                    sent += n
                    if sent == total or (timeout == 0 and n):
                        return sent
                    continue  # a reset rule may have fired: the loop reports it
                if timeout == 0:
                    if sent:
                        return sent
                    self.sched.spin()
                    raise WouldBlock("Resource temporarily unavailable")
                if deadline is not None and self.sched.now >= deadline:
                    raise send_timed_out(sent)
                self._wait("send()", deadline, also=peer)

    def _push(self, chunk: bytes) -> int:
        """Hand *chunk* to the connection, applying reset rules (lock held)."""
        net = self.net
        peer = self.peer
        assert peer is not None
        cut = -1
        if net._rules:
            cut = net._reset_cut(self, peer, len(chunk))
            if cut >= 0:
                chunk = chunk[:cut]
        self.sent += len(chunk)
        if net._record_data and chunk:
            self._log("send", self._peer_name(), len(chunk))
        if chunk:
            self._transmit(_DATA, chunk)
        if cut >= 0:
            self._log("reset", self._peer_name(), detail="Reset rule")
            peer._reset(errno.ECONNRESET)
            self._reset(errno.ECONNRESET)
        return len(chunk)

    def receive(self, maxlen: int) -> bytes:
        if self.fast:
            lock = self.lock  # acquire/release: see send()
            lock.acquire()
            try:
                if self.sched._strangers:
                    self.sched.join()
                rx = self.rx
                if rx is not None and len(rx) == 1 and self.stream:
                    data: bytes = rx[0]
                    n = len(data)
                    if n <= maxlen:
                        rx.clear()
                        self.rx_size = 0
                        self.received += n
                        peer = self.peer
                        if peer is not None and (peer.waiters or peer.sels):
                            _notify(peer)
                        return data
            finally:
                lock.release()
        return self._receive_slow(maxlen)[0]

    def _receive_slow(self, maxlen: int) -> tuple[bytes, Any]:
        timeout = self.timeout
        with self.lock:
            self.sched.join()
            deadline = None if not timeout else self.sched.now + timeout
            net = self.net
            slow_done = False
            while True:
                if self.rx:
                    if net._rules and not slow_done:
                        delay = net._slow_reader(self)
                        slow_done = True
                        if delay > 0:
                            until = self.sched.now + delay
                            while self.sched.now < until:
                                self._wait("receive() (SlowReader)", until)
                            continue
                    if self.stream:
                        return self._take_stream(maxlen), None
                    return self._take_dgram(maxlen)
                if self.stream and self.eof and not self.unix:
                    return b"", None  # Linux SOCK_DONE: EOF wins over an error
                if self.error:
                    code, self.error = self.error, 0
                    raise _error(code)
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
                self._wait("receive()", deadline)

    def _take_stream(self, maxlen: int) -> bytes:
        rx = self.rx
        assert rx is not None  # callers saw data queued
        net = self.net
        if net._rules and net._any(ShortReads, self.peer or self, self):
            maxlen = net._rng.randint(1, min(maxlen, self.rx_size))
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
        self.rx_size -= len(data)
        self.received += len(data)
        peer = self.peer
        if peer is not None:
            _notify(peer)
        return data

    def _rx_queue(self) -> deque[Any]:
        """The receive queue, made on first use."""
        rx = self.rx
        if rx is None:
            rx = self.rx = deque()
        return rx

    def _take_dgram(self, maxlen: int) -> tuple[bytes, Any]:
        assert self.rx is not None  # callers saw a datagram queued
        item = self.rx.popleft()
        data, source = item[0], item[1]
        if self.unix:
            _uncharge(item)
        self.rx_size -= len(data) + _DGRAM_OVERHEAD
        self.received += min(len(data), maxlen)
        if self.unix and self.waiters:
            _notify(self)  # a sender may wait for queue room
        return data[:maxlen], source

    def receive_from(self, maxlen: int) -> tuple[bytes, str | None, int | None]:
        if self.stream:
            data = self.receive(maxlen)
            with self.lock:
                host, port = self.remote_address()
            return data, host, port
        data, source = self._receive_slow(maxlen)
        if source is None:
            return data, None, None
        if isinstance(source, str) or self.unix:
            return data, source, None
        _, addr, port = source
        return data, self._present(addr), port

    def send_to(self, data: bytes | memoryview, host: str, port: int | None) -> int:
        if self.stream:
            return self.send(data)
        with self.lock:
            self.sched.join()
            if self.unix:
                target: Any = host
            else:
                target = self.net._resolve(host, self.family)
                if port == 0:
                    # As the OS: no datagram can be addressed to port 0.
                    raise SocketError(errno.EINVAL, "Invalid argument")
            return self._send_dgram(data, target, port)

    def _send_dgram(
        self, data: bytes | memoryview, target: Any, port: int | None
    ) -> int:
        """Send one datagram (lock held)."""
        if self.error:
            code, self.error = self.error, 0
            raise _error(code)
        if self.wr_shut:
            raise BrokenPipe("Broken pipe")
        payload = bytes(data)
        n = len(payload)
        if self.unix:
            return self._send_unix_dgram(payload, target)
        target = self._destination(target)
        v, addr = target
        if n > _MAX_UDP[v]:
            raise MessageTooLong("Message too long")
        if v == 4 and (addr == "255.255.255.255" or self._is_broadcast(addr)):
            if not self._opt(SO_BROADCAST):
                raise PermissionDenied("Permission denied")
            self._autobind(None)
            self.sent += n
            for host in self.net._hosts.values():
                self._route_dgram(payload, host, (4, addr), port, broadcast=True)
            return n
        # Linux's implicit bind picks only a port: each datagram then gets
        # the source address of its own route (_source).
        self._autobind(None)
        if self.local in ("0.0.0.0", "::") and self.host.source_for(v, addr) is None:
            raise _error(errno.ENETUNREACH)
        self.sent += n
        dst_host = self.net._route(self.host, v, addr)
        if dst_host is None:
            self._log("drop", _fmt(addr, port), n, "no host has the address")
            return n
        self._route_dgram(payload, dst_host, target, port, broadcast=False)
        return n

    def _is_broadcast(self, addr: str) -> bool:
        return addr.endswith(".255") and any(
            a.rsplit(".", 1)[0] == addr.rsplit(".", 1)[0] for a in self.host.ipv4
        )

    def _source(self, dst: tuple[int, str]) -> tuple[int, str, int | None]:
        local = self.local or ""
        if local in ("0.0.0.0", "::", ""):
            local = self.host.source_for(dst[0], dst[1]) or local
        v = 4 if ":" not in local else 6
        return (v, local, self.port)

    def _route_dgram(
        self,
        payload: bytes,
        dst_host: Host,
        dst: tuple[int, str],
        port: int | None,
        *,
        broadcast: bool,
    ) -> None:
        net = self.net
        n = len(payload)
        source = self._source(dst)
        where = dst_host.hostname + " " + _fmt(dst[1], port)
        copies = 1
        delays = [0.0]
        if net._rules:
            verdict, delay = net._path(self, dst_host, dst, port, None, True)
            if verdict == "held":
                self._log("drop", where, n, "partitioned or black-holed")
                return
            if verdict == "refused":
                self._icmp_refused(dst, port, delay)
                return
            rng = net._rng
            for _, loss in net._matching(Loss, self, dst_host, dst, port, None, True):
                if rng.random() < loss.rate:
                    self._log("drop", where, n, "Loss rule")
                    return
            for _, dup in net._matching(
                Duplicate, self, dst_host, dst, port, None, True
            ):
                if rng.random() < dup.rate:
                    copies = 2
            extra = 0.0
            for _, rule in net._matching(
                Reorder, self, dst_host, dst, port, None, True
            ):
                if rng.random() < rule.rate:
                    extra += draw(rule.delay, rng)
            delays = [delay + extra]
            if copies == 2:
                again = 0.0
                for _, lat in net._matching(
                    Latency, self, dst_host, dst, port, None, True
                ):
                    again += draw(lat.delay, rng)
                delays.append(again + extra)
                self._log("duplicate", where, n)
        if net._record_data:
            self._log("send", where, n)

        def deliver() -> None:
            _deliver_dgram(self, payload, dst_host, dst, port, source, broadcast)

        for delay in delays:
            self._later(delay, deliver)

    def _icmp_refused(
        self, dst: tuple[int, str], port: int | None, delay: float
    ) -> None:
        """An ICMP port-unreachable comes back: only connected sockets hear it."""
        if self.remote == dst and self.rport == port and not self.closed:

            def arrive() -> None:
                if not self.closed:
                    self.error = errno.ECONNREFUSED
                    _notify(self)

            self._later(delay * 2, arrive)

    def _send_unix_dgram(self, payload: bytes, path: str) -> int:
        n = len(payload)
        if n > self.sndbuf - 32:
            raise MessageTooLong("Message too long")
        paths = self.host._paths
        timeout = self.timeout
        deadline = self._deadline(timeout if timeout else None)
        charge = _unix_truesize(n)
        while True:
            dst = None
            # sock_alloc_send_pskb: room in the sender's SO_SNDBUF comes first.
            if self.wmem < self.sndbuf:
                if path not in paths:
                    raise _error(errno.ENOENT)
                dst = paths[path]
                if dst is None or dst.stream:
                    raise ConnectionRefused("Connection refused")
                if dst.remote is not None and dst.remote != self.local:
                    raise PermissionDenied(errno.EPERM, "Operation not permitted")
                if dst.rd_shut:  # the receiver shut down reading
                    raise BrokenPipe("Broken pipe")
                if len(dst.rx or ()) <= UNIX_DGRAM_QLEN:
                    break
            if timeout == 0:
                self.sched.spin()
                raise WouldBlock("Resource temporarily unavailable")
            if deadline is not None and self.sched.now >= deadline:
                raise Timeout("timed out")
            self._wait("send_to()", deadline, also=dst)
        dst._rx_queue().append((payload, self.local, self, charge))
        self.wmem += charge
        dst.rx_size += n + _DGRAM_OVERHEAD
        self.sent += n
        if self.net._record_data:
            self._log("send", path, n)
        _notify(dst)
        return n

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
                    _notify(peer)
            elif option is SO_SNDBUF:
                assert isinstance(value, int)
                self.sndbuf = max(2 * min(value, _BUF_MAX), _MIN_SNDBUF)
                peer = self.peer
                if peer is not None:
                    self.cap = peer.rcvbuf + self.sndbuf
                    _notify(self)
            elif option is IPV6_V6ONLY and self.port is not None:
                raise SocketError(errno.EINVAL, "Invalid argument")
            else:
                self.opts[option] = value

    def get_option(self, option: Option) -> object:
        if option is SO_RCVBUF:
            return self.rcvbuf
        if option is SO_SNDBUF:
            return self.sndbuf
        if option is SO_LINGER:
            return self.opts.get(option)
        return bool(self.opts.get(option, False))

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
            ready = bool(self._mask() & _READ_BITS)
            if not ready:
                self.sched.spin()
                ready = bool(self._mask() & _READ_BITS)
            return ready

    def is_writable(self) -> bool:
        with self.lock:
            if self.user_shut_wr or (self.stream and not self.is_connected()):
                return False
            m = self._mask()
            return bool(m & _OUT) and not m & (_ERR | _HUP)

    def local_address(self) -> tuple[str | None, int | None]:
        return self._present_local()

    def _tcp_closed(self) -> bool:
        """Linux TCP_CLOSE after a connection: reset, or both FINs exchanged."""
        return not self.unix and self.state.finished

    def remote_address(self) -> tuple[str | None, int | None]:
        if not self.is_connected() or (self.stream and self._tcp_closed()):
            return (None, None)
        return self._present_remote()

    # -- inspection -------------------------------------------------------------

    def _proto_name(self) -> str:
        if self.unix:
            return "unix" if self.stream else "unix-dgram"
        return self.proto + ("6" if self.family is AF_INET6 else "")

    def _state_name(self) -> str:
        if self.closed:
            return "CLOSED"
        if self.stream:
            if self.state is not CLOSED:
                return self.state.label
        elif self.remote is not None:
            return "CONNECTED"
        return "BOUND" if self.port is not None or self.local else "NEW"

    def _info(self) -> SocketInfo:
        local = _fmt(*self._present_local()) if self.local or self.port else "*"
        remote = _fmt(*self._present_remote())
        peer = self.peer
        return SocketInfo(
            self.id,
            self._proto_name(),
            self.host.hostname,
            local,
            remote,
            self._state_name(),
            self.rx_size
            if self.stream
            else sum(len(item[0]) for item in self.rx or ()),
            peer.inflight_size if peer is not None else 0,
            self.sent,
            self.received,
        )

    def __repr__(self) -> str:
        return self._describe()


def _arrive(sock: MemorySocket, kind: int, data: bytes) -> None:
    """A segment reaches *sock* (lock held)."""
    sender = sock.peer
    if kind == _DATA:
        if sock.closed or sock.state.dead:
            # Data for a socket that is gone: it answers with a reset.
            if sender is not None and not sock.unix:
                sender._reset(errno.ECONNRESET)
            return
        if sock.rd_shut and sock.state.fin_sent and not sock.unix:
            # Linux (RFC 1122): data for a socket that shut down both ways
            # (FIN_WAIT with RCV_SHUTDOWN) resets the connection.
            sock._reset(errno.ECONNRESET)
            if sender is not None:
                sender._reset(errno.ECONNRESET)
            return
        sock._rx_queue().append(data)
        sock.rx_size += len(data)
        if sock.net._record_data:
            sock._log("deliver", sock._peer_name(), len(data))
    elif kind == _FIN:
        state = sock.state
        if sock.closed or (state is not ESTABLISHED and state is not FIN_WAIT):
            return  # a dead connection, or an attempt this socket gave up
        sock.state = next_state(state, TcpEvent.RECV_FIN)
        sock.eof = sock.rd_shut = True
    else:
        if sock.closed:
            return
        if sock.state is SYN_SENT:
            sock._refused(sock.syn_token)
            return
        sock._reset(errno.ECONNRESET)
        return
    if sock.waiters or sock.sels:
        _notify(sock)


def _pump(sock: MemorySocket) -> None:
    """Deliver the due head of *sock*'s in-flight queue (lock held)."""
    queue = sock.inflight
    now = sock.sched.now
    while queue:
        ready, kind, data = queue[0]
        if ready is None or ready > now:
            return
        queue.popleft()
        sock.inflight_size -= len(data)
        _arrive(sock, kind, data)
    if sock.peer is not None:
        _notify(sock.peer)  # in-flight bytes no longer count against the sender


def _release(sock: MemorySocket) -> None:
    """A partition healed: schedule what it held for *sock* (lock held)."""
    sender = sock.peer
    net = sock.net
    if sender is None:
        return
    verdict, delay = net._path(
        sender, sock.host, sock._wire_local(), sock.port, sock, False
    )
    if verdict == "held":
        net._held.append(lambda: _release(sock))
        return
    now = sock.sched.now
    ready = max(now + delay, sock.last_ready)
    for segment in sock.inflight or ():
        if segment[0] is None:
            segment[0] = ready
    sock.last_ready = ready
    sock.sched.call_at(ready, lambda: _pump(sock))
    if ready <= now:
        _pump(sock)


def _deliver_dgram(
    sender: MemorySocket,
    payload: bytes,
    host: Host,
    dst: tuple[int, str],
    port: int | None,
    source: tuple[int, str, int | None],
    broadcast: bool,
) -> None:
    """A datagram reaches *host* (lock held)."""
    where = host.hostname + " " + _fmt(dst[1], port)
    n = len(payload)
    targets = host._receivers(dst, port, source, broadcast)
    if not targets:
        if not broadcast:
            sender._log("drop", where, n, "nothing bound there")
            sender._icmp_refused(dst, port, 0.0)
        return
    for sock in targets:
        if sock.rx_size > sock.rcvbuf:
            sock._log("drop", where, n, "receive buffer full")
            continue
        sock._rx_queue().append((payload, source))
        sock.rx_size += n + _DGRAM_OVERHEAD
        if sock.net._record_data:
            sock._log("deliver", _fmt(source[1], source[2]), n)
        if sock.waiters or sock.sels:
            _notify(sock)


class MemorySelector(SelectorImpl):
    """Readiness over memory sockets, level-triggered like epoll.

    Sockets tell their selectors when their state changes (``_dirty``);
    :meth:`select` evaluates only those, plus the ones found ready last time,
    so a poll costs in proportion to the activity, not to the registrations.
    Every thread in :meth:`select` is woken by a change, and by
    :meth:`register` and :meth:`modify` from any thread, as epoll wakes
    every ``epoll_wait`` for a level-triggered event.
    """

    __slots__ = ("closed", "dirty", "net", "regs", "waiters")

    def __init__(self, network: Network) -> None:
        self.closed = False
        self.net = network
        self.regs: dict[MemorySocket, tuple[int, Hashable]] = {}
        self.dirty: dict[MemorySocket, None] = {}
        self.waiters: list[Waiter] = []  # one per thread in select()
        network._sched.enter()

    def _check(self, sock: SocketImpl) -> MemorySocket:
        if not isinstance(sock, MemorySocket) or sock.net is not self.net:
            raise ValueError("sock belongs to another memory network")
        return sock

    def register(self, sock: SocketImpl, events: Event, token: Hashable) -> None:
        msock = self._check(sock)
        sched = self.net._sched
        with sched.lock:
            sched.join()
            self.regs[msock] = (int(events), token)
            msock.sels.append(self)
            self._changed(msock)

    def modify(self, sock: SocketImpl, events: Event, token: Hashable) -> None:
        msock = self._check(sock)
        sched = self.net._sched
        with sched.lock:
            sched.join()
            self.regs[msock] = (int(events), token)
            self._changed(msock)

    def _changed(self, sock: MemorySocket) -> None:
        """*sock*'s registration changed: threads in select() look again."""
        self.dirty[sock] = None
        for w in self.waiters:
            self.net._sched.wake(w)

    def unregister(self, sock: SocketImpl) -> None:
        if not isinstance(sock, MemorySocket):
            return
        with self.net._sched.lock:
            if self.regs.pop(sock, None) is not None:
                sock.sels.remove(self)
            self.dirty.pop(sock, None)

    def _scan(self) -> list[tuple[Hashable, Event]]:
        dirty = self.dirty
        if not dirty:
            return []
        keep: dict[MemorySocket, None] = {}
        self.dirty = keep
        regs = self.regs
        out = []
        for sock in dirty:
            reg = regs.get(sock)
            if reg is None:
                continue
            ready = sock._selector_events() & reg[0]
            if ready:
                out.append((reg[1], _EVENTS[ready]))
                keep[sock] = None  # level-triggered: look again next time
        return out

    def select(self, timeout: float | None) -> list[tuple[Hashable, Event]]:
        sched = self.net._sched
        with sched.lock:
            sched.join()
            deadline = None if timeout is None else sched.now + timeout
            while True:
                if self.closed:
                    return []  # the facade reports the close
                ready = self._scan()
                if ready:
                    return ready
                if timeout == 0:
                    sched.spin()
                    return self._scan()
                if deadline is not None and sched.now >= deadline:
                    return []
                w = Waiter(sched.lock, "Poller.poll()", deadline, self._describe)
                self.waiters.append(w)
                try:
                    sched.block(w)
                finally:
                    self.waiters.remove(w)

    def _describe(self) -> str:
        if not self.regs:
            return "an empty Poller (no socket registered: nothing can make it ready)"
        socks = ", ".join(s._describe() for s in self.regs)
        return f"a Poller watching {socks}"

    def close(self) -> None:
        with self.net._sched.lock:
            self.closed = True
            for w in self.waiters:
                self.net._sched.wake(w)
            for sock in self.regs:
                if self in sock.sels:
                    sock.sels.remove(self)
            self.regs.clear()
            self.dirty.clear()
