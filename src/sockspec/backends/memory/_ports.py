"""A host's port and address table: who is bound where, and binding rules.

Every host has one :class:`PortTable`: the sockets bound to each
``(protocol, port)``, the TIME_WAIT entries actively closed connections
leave behind, and the UNIX socket paths.  The functions below apply Linux's
binding rules to one socket: which addresses a binding covers
(``cov4``/``cov6``: an address, ``"*"`` for all, ``None`` for none), when
two bindings conflict (``SO_REUSEADDR``, ``SO_REUSEPORT``, TIME_WAIT),
how an ephemeral port is drawn from the network's seeded port stream, and
where a connect or send to the unspecified address goes.

A port's list keeps its listeners first (:func:`listeners_first`), so
finding the listener for a connection stops at the first accepted
connection instead of walking all of them.  A port one socket holds alone
(most of them: each connection's ephemeral port) has no list: the table
maps it to the socket (:meth:`PortTable.bound` reads both).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator, Sequence
from itertools import chain
from typing import TYPE_CHECKING

from ...api.constants import AF_INET6, IPV6_V6ONLY, SO_REUSEADDR, SO_REUSEPORT
from ...api.errors import (
    AddressInUse,
    AddressNotAvailable,
    SocketError,
    Timeout,
    from_os_error,
)
from ._tcp import TcpState

if TYPE_CHECKING:
    from ._socket import MemorySocket

__all__ = [
    "TIME_WAIT",
    "PortTable",
    "Target",
    "errno_error",
    "present",
    "present_local",
    "present_remote",
    "wire_local",
]

#: How long an actively closed TCP port stays in TIME_WAIT (2 MSL on Linux).
TIME_WAIT = 60.0

LISTEN = TcpState.LISTEN

WireAddr = tuple[int, str]  # (4 or 6, canonical text)
#: Where a connect or send goes: a wire address, or a UNIX path.
Target = WireAddr | str
#: A TIME_WAIT entry: the address, when it expires, and the SO_REUSEADDR /
#: SO_REUSEPORT of the socket that left it (:func:`reuse_bits`).  Plain
#: values in tuples: the garbage collector stops tracking them, and a
#: closed connection leaves one behind for 60 virtual seconds (issue 16).
TimeWaitEntry = tuple[str, float, int]


def errno_error(code: int) -> SocketError:
    """The sockspec error for the OS error number *code*."""
    return from_os_error(OSError(code, os.strerror(code)))


class PortTable:
    """One host's bindings: ports by protocol, TIME_WAIT entries, UNIX paths."""

    __slots__ = ("accepted", "files", "owner", "paths", "ports", "timewait")

    def __init__(self) -> None:
        #: (proto, port) -> the socket bound there, while it is the only one:
        #: a list per connection's ephemeral port was one more object the
        #: garbage collector tracks and walks (issue 16).
        self.owner: dict[tuple[str, int], MemorySocket] = {}
        #: (proto, port) -> sockets bound there, once a second one came:
        #: listeners first, then in binding order.  A key is in ``owner``
        #: or here, never in both.
        self.ports: dict[tuple[str, int], list[MemorySocket]] = {}
        #: (proto, port) -> the connections a listener there accepted, in
        #: order: a dict, so closing one of 20,000 is not a scan of them.
        self.accepted: dict[tuple[str, int], dict[MemorySocket, None]] = {}
        #: (proto, port) -> the TIME_WAIT entry actively closed connections
        #: left there, or a list of them once there are more (a server port
        #: whose connections the server closed first).
        self.timewait: dict[tuple[str, int], TimeWaitEntry | list[TimeWaitEntry]] = {}
        #: UNIX path -> its socket, or None for a file whose socket is closed.
        self.paths: dict[str, MemorySocket | None] = {}
        #: Whether a bound UNIX path is also a file in the real file system
        #: (set while the standard modules are patched onto this host, see
        #: :func:`make_socket_file`): ``os.unlink`` and ``os.path.exists``
        #: then see it, and a path unlinked there is free again.
        self.files = False

    def bound(self, key: tuple[str, int]) -> Sequence[MemorySocket]:
        """The sockets bound to *key*, ``(proto, port)``: listeners first."""
        one = self.owner.get(key)
        if one is not None:
            return (one,)
        return self.ports.get(key, ())

    def add(self, key: tuple[str, int], sock: MemorySocket) -> None:
        """Bind *sock* to *key*, after the sockets already there."""
        one = self.owner.pop(key, None)
        if one is not None:
            self.ports[key] = [one, sock]
        else:
            bound = self.ports.get(key)
            if bound is None:
                self.owner[key] = sock
            else:
                bound.append(sock)

    def listener(self, v: int, addr: str, port: int | None) -> MemorySocket | None:
        """The socket listening for TCP connections to *addr*:*port*."""
        best = None
        key = ("tcp", port or 0)
        one = self.owner.get(key)  # bound(), inlined: once per connect
        for sock in (one,) if one is not None else self.ports.get(key, ()):
            if sock.state is not LISTEN:  # listeners come first
                break
            if sock.closed:
                continue
            cover = sock.cov4 if v == 4 else sock.cov6
            if cover == addr:
                return sock
            if cover == "*" and best is None:
                best = sock
        return best

    def receivers(
        self,
        dst: WireAddr,
        port: int | None,
        source: tuple[int, str, int | None],
        broadcast: bool,
    ) -> list[MemorySocket]:
        """The UDP sockets a datagram to *dst*:*port* from *source* reaches."""
        v, addr = dst
        best: list[MemorySocket] = []
        best_score = 0
        for sock in self.bound(("udp", port or 0)):
            if sock.closed:
                continue
            cover = sock.cov4 if v == 4 else sock.cov6
            if cover is None or (cover != "*" and cover != addr):
                continue
            score = 1 if cover == "*" else 2
            if sock.remote is not None:  # connected: only its peer gets in
                if sock.remote != source[:2] or sock.rport != source[2]:
                    continue
                score += 2
            if broadcast:
                best.append(sock)
            elif score > best_score:
                best, best_score = [sock], score
            elif score == best_score:
                best = [sock]  # Linux: the most recently bound one wins
        return best

    def add_accepted(self, sock: MemorySocket) -> None:
        """Record *sock*, a connection a listener made, on the listener's port."""
        self.accepted.setdefault((sock.proto, sock.port or 0), {})[sock] = None

    def in_use(self, key: tuple[str, int]) -> bool:
        """Whether any socket is bound to *key*, ``(proto, port)``."""
        return key in self.owner or key in self.ports or key in self.accepted

    def demote(self, sock: MemorySocket) -> None:
        """*sock* stopped listening but keeps its port: out of the listeners' place."""
        bound = self.ports.get((sock.proto, sock.port or 0))
        if bound is None:
            return  # alone on its port
        bound.remove(sock)
        bound.append(sock)

    def leave_timewait(self, sock: MemorySocket, expiry: float) -> None:
        """*sock*, actively closed, leaves its address in TIME_WAIT until *expiry*."""
        key = (sock.proto, sock.port or 0)
        entry = (sock.local or "", expiry, reuse_bits(sock))
        there = self.timewait.get(key)
        if there is None:
            self.timewait[key] = entry
        elif isinstance(there, list):
            there.append(entry)
        else:
            self.timewait[key] = [there, entry]

    def timewait_entries(self, key: tuple[str, int]) -> list[TimeWaitEntry]:
        """The TIME_WAIT entries on *key*, ``(proto, port)``, expired or not."""
        there = self.timewait.get(key)
        if there is None:
            return []
        return there if isinstance(there, list) else [there]

    def timewait_rows(self, now: float) -> Iterator[tuple[str, int, str]]:
        """``(proto, port, address)`` of every TIME_WAIT entry still running."""
        for proto, port in self.timewait:
            for addr, expiry, _ in self.timewait_entries((proto, port)):
                if expiry > now:
                    yield proto, port, addr

    def unlink(self, path: str) -> None:
        """Remove a UNIX socket path, as ``os.unlink`` removes the file."""
        if self.files and not path.startswith("\0"):
            try:
                os.unlink(path)
            except OSError:
                pass  # already gone on disk: the table entry still goes
        self._forget(path)

    def _forget(self, path: str) -> None:
        sock = self.paths.get(path)
        if sock is None:
            self.paths.pop(path, None)
        # A live socket keeps working; only the name goes (as on Linux).
        elif not path.startswith("\0"):
            del self.paths[path]
            sock.unix_linked = False

    def named(self, path: str) -> MemorySocket | None:
        """The socket bound at *path*; None for a file without one; else ENOENT.

        With :attr:`files`, the file decides: one removed on disk (by
        ``os.unlink``) names nothing any more, and a file of another kind, or
        one left by an earlier network, names no socket (a connect to it is
        refused, as Linux refuses it).
        """
        if self.files and not path.startswith("\0"):
            if not os.path.lexists(path):
                self._forget(path)
                raise errno_error(errno.ENOENT)
            return self.paths.get(path)
        if path not in self.paths:
            raise errno_error(errno.ENOENT)
        return self.paths[path]


# -- one socket's addresses ------------------------------------------------------


def wire_local(sock: MemorySocket) -> tuple[int, str] | None:
    """The socket's own address on the wire, ``(v, text)``; None for UNIX or unbound."""
    if sock.unix or sock.local is None:
        return None
    return (4 if ":" not in sock.local else 6, sock.local)


def present(sock: MemorySocket, addr: str) -> str:
    """Show a wire address as this socket's family shows it."""
    if sock.family is AF_INET6 and ":" not in addr:
        return "::ffff:" + addr
    return addr


def present_local(sock: MemorySocket) -> tuple[str | None, int | None]:
    """getsockname(): the bound address as the socket's family shows it."""
    if sock.unix:
        return (sock.local, None)
    if sock.port is None:
        return (None, None)
    return (present(sock, sock.local or ""), sock.port)


def present_remote(sock: MemorySocket) -> tuple[str | None, int | None]:
    """getpeername()'s address, as the socket's family shows it."""
    remote = sock.remote
    if remote is None:
        return (None, None)
    if isinstance(remote, str):
        return (remote, None)
    return (present(sock, remote[1]), sock.rport)


# -- binding one socket ----------------------------------------------------------


def bind_path(sock: MemorySocket, path: str) -> None:
    """Bind a UNIX socket to *path* (``""``: Linux's autobind to an abstract name)."""
    paths = sock.host.table.paths
    if not path:
        # Linux "autobind": an unnamed bind gets a unique abstract name of
        # five hex digits; the seeded port stream picks it.
        rng = sock.net.port_rng
        for _ in range(64):
            path = f"\0{rng.randrange(0x100000):05x}"
            if path not in paths:
                break
        else:
            raise AddressInUse("no free autobind name")
    table = sock.host.table
    if table.files and not path.startswith("\0"):
        make_socket_file(path)  # EADDRINUSE if anything is there
        table._forget(path)  # a name unlinked on disk
    elif path in paths:
        raise AddressInUse("Address already in use")
    paths[path] = sock
    sock.local = path
    sock.unix_linked = True


def make_socket_file(path: str) -> None:
    """Make the socket file a bind to *path* makes on Linux (a real one).

    A real AF_UNIX socket is bound there and closed at once, which leaves
    what the kernel leaves: a socket file that ``os.stat`` reports, that
    ``os.unlink`` removes, and whose directory must exist and be writable.
    The kernel's refusals (``EADDRINUSE``, ``ENOENT``, ``EACCES``) are
    raised as the memory socket's own.
    """
    import _socket

    probe = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        probe.bind(path)
    except OSError as exc:
        if exc.errno is None:
            raise  # "AF_UNIX path too long": no errno, as the socket module says
        raise errno_error(exc.errno) from None
    finally:
        probe.close()


def bind_inet(sock: MemorySocket, host: str | None, port: int) -> None:
    """Bind an IP socket to *host* (None: the wildcard) and *port* (0: ephemeral)."""
    net = sock.net
    if host is None:
        wire = (4, "0.0.0.0") if sock.ipv == 4 else (6, "::")
    else:
        wire = net.wire_address(host, sock.family)
    v, addr = wire
    if sock.ipv == 6 and v == 4 and sock.opt(IPV6_V6ONLY):
        raise SocketError(errno.EINVAL, "Invalid argument")  # IPv4-mapped
    if addr not in ("0.0.0.0", "::") and not sock.host.is_local(v, addr):
        raise AddressNotAvailable("Cannot assign requested address")
    set_cover(sock, v, addr)
    claim_port(sock, port)
    sock.local = addr


def set_cover(sock: MemorySocket, v: int, addr: str) -> None:
    """Record which IPv4 and IPv6 addresses a binding to *addr* covers."""
    if v == 4:
        sock.cov4 = "*" if addr == "0.0.0.0" else addr
        sock.cov6 = None
    elif addr == "::":
        sock.cov6 = "*"
        sock.cov4 = None if sock.opt(IPV6_V6ONLY) else "*"
    else:
        sock.cov6, sock.cov4 = addr, None


def overlaps(sock: MemorySocket, other: MemorySocket) -> bool:
    """Whether the addresses two bindings cover meet."""
    a4, b4, a6, b6 = sock.cov4, other.cov4, sock.cov6, other.cov6
    return bool(
        (a4 and b4 and (a4 == "*" or b4 == "*" or a4 == b4))
        or (a6 and b6 and (a6 == "*" or b6 == "*" or a6 == b6))
    )


def conflicts(sock: MemorySocket, port: int, listening_only: bool = False) -> bool:
    """Whether binding *sock* to *port* collides with a binding or TIME_WAIT entry."""
    host = sock.host
    key = (sock.proto, port)
    table = host.table
    one = table.owner.get(key)  # bound(), inlined: once per port drawn
    bound = (one,) if one is not None else table.ports.get(key, ())
    for other in chain(bound, table.accepted.get(key, ())):
        if other is sock or not overlaps(sock, other):
            continue
        if listening_only and other.state is not LISTEN:
            continue
        if sock.opt(SO_REUSEPORT) and other.opt(SO_REUSEPORT):
            continue
        if (
            not listening_only
            and sock.opt(SO_REUSEADDR)
            and other.opt(SO_REUSEADDR)
            and (sock.proto == "udp" or other.state is not LISTEN)
        ):
            continue
        return True
    if listening_only:
        return False
    entries = table.timewait_entries(key)
    if entries:
        now = sock.sched.now
        live = [e for e in entries if e[1] > now]
        if len(live) > 1:
            table.timewait[key] = live
        elif live:
            table.timewait[key] = live[0]
        else:
            del table.timewait[key]
        # Linux (inet_csk_bind_conflict): a TIME_WAIT entry keeps the
        # SO_REUSEADDR/SO_REUSEPORT of its socket; only the same option
        # on both sides lets a new socket bind over it.
        reuse = reuse_bits(sock)
        for addr, _, tw_reuse in live:
            if reuse & tw_reuse:
                continue
            if (":" in addr and sock.cov6 in ("*", addr)) or (
                ":" not in addr and sock.cov4 in ("*", addr)
            ):
                return True
    return False


def reuse_bits(sock: MemorySocket) -> int:
    """SO_REUSEADDR (1) and SO_REUSEPORT (2) of *sock*, as bits."""
    return (1 if sock.opt(SO_REUSEADDR) else 0) | (2 if sock.opt(SO_REUSEPORT) else 0)


def claim_port(sock: MemorySocket, port: int) -> None:
    """Take *port* (0: an ephemeral one) in the host's table, or EADDRINUSE."""
    host = sock.host
    if port == 0:
        port = ephemeral_port(sock)
    elif conflicts(sock, port):
        raise AddressInUse("Address already in use")
    host.table.add((sock.proto, port), sock)
    sock.port = port


def ephemeral_port(sock: MemorySocket) -> int:
    """Draw a free ephemeral port from the network's seeded port stream.

    Each draw is ``random.randint(low, high)``'s own (``getrandbits`` of
    the range's bit length, again while out of range), made here: the same
    seed gives the same ports, and a draw that hits a taken port costs one
    C call and a few dict lookups, not three Python calls.  As the range
    fills, draws hit taken ports more often (1/(1 - load) draws on
    average); Linux's connect() likewise walks more ports from its hashed
    offset (``__inet_hash_connect``).
    """
    low, high = sock.net.ephemeral_ports
    width = high - low + 1
    bits = width.bit_length()
    draw = sock.net.port_rng.getrandbits
    table = sock.host.table
    owner, ports, accepted = table.owner, table.ports, table.accepted
    proto = sock.proto
    for _ in range(64):
        r = draw(bits)
        while r >= width:
            r = draw(bits)
        key = (proto, low + r)
        if (
            key not in owner
            and key not in ports
            and key not in accepted
            and not conflicts(sock, low + r)
        ):
            return low + r
    for port in range(low, high + 1):
        key = (proto, port)
        if (
            key not in owner
            and key not in ports
            and key not in accepted
            and not conflicts(sock, port)
        ):
            return port
    # Linux (inet_csk_get_port, udp_lib_get_port): bind() and listen()
    # say EADDRINUSE; autobind translates for connect and send.
    raise AddressInUse("Address already in use (no free ephemeral port)")


def destination(sock: MemorySocket, target: tuple[int, str]) -> tuple[int, str]:
    """Where a connect or send to *target* goes, as Linux decides it.

    The unspecified address means this host: ``::`` is ``::1`` and
    ``0.0.0.0`` the socket's own bound address, else ``127.0.0.1``
    (``tcp_v6_connect``, ``ip_route_output_key_hash_rcu``).  An IPv6
    socket reaches IPv4-mapped addresses only if it may carry IPv4.
    """
    v, addr = target
    local = sock.local
    bound_v4 = local is not None and ":" not in local
    if addr == "::":
        return (4, "127.0.0.1") if bound_v4 and sock.ipv == 6 else (6, "::1")
    if sock.ipv == 6:
        bound_v6 = local is not None and local != "::" and not bound_v4
        if v == 4 and (sock.opt(IPV6_V6ONLY) or bound_v6):
            raise errno_error(errno.ENETUNREACH)
        if v == 6 and bound_v4:
            raise errno_error(errno.EAFNOSUPPORT)
    if addr == "0.0.0.0":
        if bound_v4 and local != "0.0.0.0":
            return (4, local or "")
        return (4, "127.0.0.1")
    return target


def autobind(sock: MemorySocket, dst: tuple[int, str] | None) -> None:
    """Give an unbound socket an address, as connect/sendto do."""
    if sock.unix:
        return
    try:
        take_port(sock)
    except AddressInUse:
        # No free ephemeral port: listen() says EADDRINUSE, a TCP connect
        # EADDRNOTAVAIL (__inet_hash_connect), a datagram socket EAGAIN
        # (inet_autobind) -- which a send with a timeout retries until
        # the deadline, as the OS backends do.
        if sock.stream:
            if dst is None:
                raise
            raise AddressNotAvailable("Cannot assign requested address") from None
        if dst is not None or not sock.timeout:
            raise errno_error(errno.EAGAIN) from None
        deadline = sock.sched.now + sock.timeout
        while sock.sched.now < deadline:
            sock.wait("send_to() (no free port)", deadline)
        try:
            take_port(sock)
        except AddressInUse:
            raise Timeout("timed out") from None
    if dst is not None and sock.local in ("0.0.0.0", "::"):
        src = sock.host.source_for(dst[0], dst[1])
        if src is None:
            raise errno_error(errno.ENETUNREACH)
        sock.local = src


def take_port(sock: MemorySocket) -> None:
    """Claim an ephemeral port if the socket has none (lock held)."""
    if sock.port is None:
        any_addr = "0.0.0.0" if sock.ipv == 4 else "::"
        set_cover(sock, 4 if sock.ipv == 4 else 6, any_addr)
        claim_port(sock, 0)
        sock.local = any_addr
    elif sock.stopped or sock.unhashed:
        # A stopped listener or a failed connect gave its port back.
        if not sock.port_locked:
            claim_port(sock, 0)
        sock.stopped = sock.unhashed = False


def listeners_first(sock: MemorySocket) -> None:
    """Move this new listener after the port's other listeners.

    A port's list holds its listeners first, then everything else
    (bound sockets, accepted connections), so PortTable.listener stops at
    the first non-listener instead of walking every connection.
    """
    bound = sock.host.table.ports.get((sock.proto, sock.port or 0))
    if bound is None:
        return  # alone on its port
    bound.remove(sock)
    at = 0
    while at < len(bound) and bound[at].state is LISTEN:
        at += 1
    bound.insert(at, sock)


def unbind(sock: MemorySocket) -> None:
    """Leave the host's table: the port, and the UNIX path as Linux leaves it."""
    if sock.port is not None:
        key = (sock.proto, sock.port)
        table = sock.host.table
        accepted = table.accepted.get(key)
        if accepted is not None and accepted.pop(sock, 0) is None:
            if not accepted:
                del table.accepted[key]
            bound = None
        elif table.owner.get(key) is sock:
            del table.owner[key]
            bound = None
        else:
            bound = table.ports.get(key)
        if bound is not None:
            try:
                bound.remove(sock)  # one scan, not "in" and then remove
            except ValueError:
                pass
            else:
                if not bound:
                    del sock.host.table.ports[key]
    if sock.unix and sock.local is not None:
        paths = sock.host.table.paths
        if sock.local.startswith("\0"):
            paths.pop(sock.local, None)  # abstract names vanish with the socket
        elif sock.unix_linked and paths.get(sock.local) is sock:
            paths[sock.local] = None  # the file stays, like on disk
