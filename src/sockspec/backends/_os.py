"""Pieces shared by the backends that drive real OS sockets.

The option table, address conversion, the connection-state bookkeeping and
every operation that never waits (:class:`OSSocket`), and the epoll-backed
selector live here once.  The waiting operations live in
:mod:`sockspec.backends.selectors`, whose socket the ``stdlib`` backend
reuses (see :mod:`sockspec.backends.stdlib` for why), so the two backends
cannot drift apart.
"""

from __future__ import annotations

import errno
import os
import select
import selectors
import socket
import struct
import threading
import weakref
from collections.abc import Hashable
from typing import Any

from ..api.backend import (
    Address,
    Backend,
    Capabilities,
    SelectorImpl,
    SocketImpl,
    parse_options,
)
from ..api.constants import (
    AF_INET,
    AF_INET6,
    AF_UNIX,
    EVENT_READ,
    EVENT_WRITE,
    SHUT_RD,
    SHUT_RDWR,
    SOCK_DGRAM,
    SOCK_STREAM,
    Event,
    Family,
    Option,
    Shutdown,
    SocketType,
)
from ..api.errors import UnsupportedOperation

# Bound at import: sockspec.compat.patch() replaces these attributes of the
# standard modules, and the OS backends must keep using the real objects.
REAL_SOCKET = socket.socket
REAL_POLL = select.poll
REAL_SELECTOR = selectors.DefaultSelector
REAL_GETADDRINFO = socket.getaddrinfo

# Connection states; plain ints keep the hot-path comparisons cheap.
NEW, BOUND, LISTENING, CONNECTING, CONNECTED = range(5)

_POLLIN = select.POLLIN
_POLLOUT = select.POLLOUT
_POLL_BAD = select.POLLERR | select.POLLHUP | select.POLLNVAL

FAMILIES: dict[Family, int] = {
    AF_INET: socket.AF_INET,
    AF_INET6: socket.AF_INET6,
    AF_UNIX: socket.AF_UNIX,
}
TYPES: dict[SocketType, int] = {
    SOCK_STREAM: socket.SOCK_STREAM,
    SOCK_DGRAM: socket.SOCK_DGRAM,
}
SHUTDOWN: dict[Shutdown, int] = {
    SHUT_RD: socket.SHUT_RD,
    Shutdown.SHUT_WR: socket.SHUT_WR,
    SHUT_RDWR: socket.SHUT_RDWR,
}

_OPTIONS: dict[Option, tuple[int, int]] = {
    Option.SO_REUSEADDR: (socket.SOL_SOCKET, socket.SO_REUSEADDR),
    Option.SO_KEEPALIVE: (socket.SOL_SOCKET, socket.SO_KEEPALIVE),
    Option.SO_BROADCAST: (socket.SOL_SOCKET, socket.SO_BROADCAST),
    Option.SO_RCVBUF: (socket.SOL_SOCKET, socket.SO_RCVBUF),
    Option.SO_SNDBUF: (socket.SOL_SOCKET, socket.SO_SNDBUF),
    Option.SO_LINGER: (socket.SOL_SOCKET, socket.SO_LINGER),
    Option.TCP_NODELAY: (socket.IPPROTO_TCP, socket.TCP_NODELAY),
    Option.IPV6_V6ONLY: (socket.IPPROTO_IPV6, socket.IPV6_V6ONLY),
}
if hasattr(socket, "SO_REUSEPORT"):
    _OPTIONS[Option.SO_REUSEPORT] = (socket.SOL_SOCKET, socket.SO_REUSEPORT)

#: Options the OS backends support on this platform.
OS_OPTIONS = frozenset(_OPTIONS)
_LINGER = struct.Struct("ii")


def set_option(sock: socket.socket, option: Option, value: object) -> None:
    """Set a normalised sockspec option on an OS socket."""
    level, name = _option(option)
    if option is Option.SO_LINGER:
        seconds = value
        packed = _LINGER.pack(0, 0) if seconds is None else _LINGER.pack(1, seconds)
        sock.setsockopt(level, name, packed)
    else:
        sock.setsockopt(level, name, int(value))  # type: ignore[call-overload]


def get_option(sock: socket.socket, option: Option) -> object:
    """Read an option from an OS socket in sockspec's normalised form."""
    level, name = _option(option)
    if option is Option.SO_LINGER:
        onoff, seconds = _LINGER.unpack(sock.getsockopt(level, name, _LINGER.size))
        return seconds if onoff else None
    raw = sock.getsockopt(level, name)
    if option is Option.SO_RCVBUF or option is Option.SO_SNDBUF:
        return raw
    return bool(raw)


def _option(option: Option) -> tuple[int, int]:
    try:
        return _OPTIONS[option]
    except KeyError:
        raise UnsupportedOperation(f"{option.name} is not available here") from None


def split_address(family: Family, addr: Any) -> tuple[str | None, int | None]:
    """Turn an OS address into ``(address, port)``; unbound parts are ``None``."""
    if family is AF_UNIX:
        if isinstance(addr, bytes):  # abstract or undecodable names
            addr = addr.decode("utf-8", "surrogateescape")
        return (addr or None, None)
    host, port = addr[0], addr[1]
    if port == 0:
        return (None, None)
    return (host, port)


def os_address(family: Family, host: str | None, port: int | None) -> Any:
    """Turn a sockspec ``(host, port)`` into what the OS socket wants."""
    if family is AF_UNIX:
        return host or ""
    if host is None:
        host = ""
    return (host, port or 0)


def poll_now(sock: socket.socket, events: int) -> int:
    """Return the ``poll(2)`` events of *sock* right now, without waiting."""
    poller = REAL_POLL()
    poller.register(sock, events)
    ready = poller.poll(0)
    return ready[0][1] if ready else 0


class OSSocket(SocketImpl):
    """The state and the non-waiting operations of one OS socket.

    The ``stdlib`` and ``selectors`` backends subclass it and add the
    operations that may wait (connect, accept, send, receive, close).
    """

    __slots__ = (
        "_closed",
        "_family",
        "_shut_wr",
        "_state",
        "_timeout",
        "_type",
        "os_socket",
    )

    def __init__(
        self, family: Family, type: SocketType, sock: socket.socket, state: int
    ) -> None:
        #: The underlying :class:`socket.socket`.
        self.os_socket = sock
        self._family = family
        self._type = type
        self._timeout: float | None = None
        self._state = state
        self._closed = False
        self._shut_wr = False

    def bind(self, host: str | None, port: int | None) -> None:
        self.os_socket.bind(os_address(self._family, host, port))
        if self._state == NEW:
            self._state = BOUND

    def listen(self, backlog: int) -> None:
        self.os_socket.listen(backlog)
        self._state = LISTENING

    def shutdown(self, how: Shutdown) -> None:
        try:
            self.os_socket.shutdown(SHUTDOWN[how])
        except OSError as exc:
            # Linux records a shutdown it answers with ENOTCONN (a socket
            # not connected yet): after a later connect it still cannot send.
            if exc.errno != errno.ENOTCONN:
                raise
            self._shut_wr = self._shut_wr or how is not SHUT_RD
            raise
        if how is not SHUT_RD:
            self._shut_wr = True

    def set_option(self, option: Option, value: object) -> None:
        set_option(self.os_socket, option, value)

    def get_option(self, option: Option) -> object:
        return get_option(self.os_socket, option)

    def is_connected(self) -> bool:
        if self._state == CONNECTING:
            try:
                self.os_socket.getpeername()
            except OSError:
                return False
            self._state = CONNECTED
        return self._state == CONNECTED and not self._closed

    def is_readable(self) -> bool:
        if self._type is SOCK_STREAM and self._state not in (LISTENING, CONNECTED):
            return False
        return poll_now(self.os_socket, _POLLIN) != 0

    def is_writable(self) -> bool:
        if self._shut_wr or (self._type is SOCK_STREAM and not self.is_connected()):
            return False
        events = poll_now(self.os_socket, _POLLOUT)
        return bool(events & _POLLOUT) and not events & _POLL_BAD

    def local_address(self) -> Address:
        return split_address(self._family, self.os_socket.getsockname())

    def remote_address(self) -> Address:
        if self._state != CONNECTED and not self.is_connected():
            return (None, None)
        try:
            peer = self.os_socket.getpeername()
        except OSError:
            return (None, None)
        if self._family is AF_UNIX:
            return (split_address(self._family, peer)[0], None)
        return (peer[0], peer[1])

    def _sender(self, addr: Any) -> Address:
        """Turn the address ``recvfrom`` reported into ``(address, port)``."""
        if addr is None:
            return (None, None)
        if self._family is AF_UNIX:
            return (split_address(self._family, addr)[0], None)
        return (addr[0], addr[1])


_WAKE = object()  # the token of an OSSelector's wake-up pipe

# Event member of each mask value, selectors-style (1 read, 2 write).
_EVENT_OF = (Event(0), EVENT_READ, EVENT_WRITE, EVENT_READ | EVENT_WRITE)


class _EpollSet:
    """An OSSelector's registrations in an epoll set, polled without selectors.

    ``selectors.EpollSelector.select`` runs a Python loop with a method call
    per ready descriptor, and the OSSelector then made a second pass to turn
    its keys into tokens; a Poller serving many sockets spent as long there
    as in its own loop.  This makes the one pass that is needed, straight
    from ``epoll.poll``'s list, with selectors' reading of the kernel's bits:
    anything but ``EPOLLOUT`` (``EPOLLIN``, ``EPOLLHUP``, ``EPOLLERR``) is
    readable, anything but ``EPOLLIN`` writable, then masked by the events
    registered.
    """

    __slots__ = ("_entries", "_epoll")

    # Only EPOLLIN and EPOLLOUT are ever asked for, so the kernel reports no
    # bit above EPOLLHUP (0x10): a table of the 32 combinations does it.
    _READY = tuple(
        (selectors.EVENT_READ if bits & ~select.EPOLLOUT else 0)
        | (selectors.EVENT_WRITE if bits & ~select.EPOLLIN else 0)
        for bits in range(32)
    )
    _TO_EPOLL = (0, select.EPOLLIN, select.EPOLLOUT, select.EPOLLIN | select.EPOLLOUT)

    def __init__(self) -> None:
        self._epoll = select.epoll()
        # fd -> (token, selectors-style mask)
        self._entries: dict[int, tuple[Hashable, int]] = {}

    def register(self, fd: int, mask: int, token: Hashable) -> None:
        # The entry first: a poll running in another thread may see the
        # kernel report fd as soon as it is registered.
        entries = self._entries
        before = entries.get(fd)
        entries[fd] = (token, mask)
        try:
            self._epoll.register(fd, self._TO_EPOLL[mask])
        except BaseException:
            if before is None:
                del entries[fd]
            else:
                entries[fd] = before  # already registered: left as it was
            raise

    def modify(self, fd: int, mask: int, token: Hashable) -> None:
        self._epoll.modify(fd, self._TO_EPOLL[mask])
        self._entries[fd] = (token, mask)

    def unregister(self, fd: int) -> None:
        self._entries.pop(fd, None)
        self._epoll.unregister(fd)

    def poll(self, timeout: float | None) -> list[tuple[Hashable, Event]]:
        entries = self._entries
        ready = self._epoll.poll(-1 if timeout is None else timeout, len(entries) or 1)
        table = self._READY
        return [
            (entry[0], _EVENT_OF[mask])
            for fd, bits in ready
            if (entry := entries.get(fd)) is not None
            and (mask := table[bits & 31] & entry[1])
            and entry[0] is not _WAKE
        ]

    def close(self) -> None:
        self._epoll.close()


class _SelectorsSet:
    """The same over :class:`selectors.DefaultSelector`, where epoll is missing."""

    __slots__ = ("_selector",)

    def __init__(self) -> None:
        self._selector = REAL_SELECTOR()

    def register(self, fd: int, mask: int, token: Hashable) -> None:
        self._selector.register(fd, mask, token)

    def modify(self, fd: int, mask: int, token: Hashable) -> None:
        self._selector.modify(fd, mask, token)

    def unregister(self, fd: int) -> None:
        self._selector.unregister(fd)

    def poll(self, timeout: float | None) -> list[tuple[Hashable, Event]]:
        return [
            (key.data, _EVENT_OF[mask])
            for key, mask in self._selector.select(timeout)
            if mask and key.data is not _WAKE
        ]

    def close(self) -> None:
        self._selector.close()


_REGISTRATIONS = _EpollSet if hasattr(select, "epoll") else _SelectorsSet


class OSSelector(SelectorImpl):
    """Readiness of OS sockets: an epoll set on Linux (:class:`_EpollSet`),
    :class:`selectors.DefaultSelector` elsewhere.

    Registrations persist in the kernel, so :meth:`select` costs in
    proportion to the sockets that are ready.

    :meth:`close` from another thread wakes a :meth:`select` in progress
    through a pipe registered beside the sockets.  The pipe is made the first
    time a select may sleep, so a Poller only ever polled with ``timeout=0``
    costs no descriptor.  A sleeping thread holds the selector open: the last
    one out after :meth:`close` releases it (closing an epoll set, or a
    descriptor in it, under a sleeping thread could leave that thread asleep).
    """

    __slots__ = (
        "__weakref__",
        "_closed",
        "_fds",
        "_lock",
        "_release_wake",
        "_selector",
        "_waiters",
        "_wake",
    )

    def __init__(self) -> None:
        self._selector: _EpollSet | _SelectorsSet = _REGISTRATIONS()
        self._fds: dict[int, int] = {}  # id(impl) -> fd, valid after close
        self._wake: tuple[int, int] | None = None
        # Closes the pipe if the selector is dropped without close(), as a
        # dropped selectors.DefaultSelector closes its epoll descriptor.
        self._release_wake: weakref.finalize[[int, int], OSSelector] | None = None
        self._waiters: list[None] = []  # one entry per thread in select()
        self._closed = False
        self._lock = threading.Lock()

    def register(self, sock: SocketImpl, events: Event, token: Hashable) -> None:
        fd = _fileno(sock)
        self._selector.register(fd, int(events), token)
        self._fds[id(sock)] = fd

    def modify(self, sock: SocketImpl, events: Event, token: Hashable) -> None:
        self._selector.modify(_fileno(sock), int(events), token)

    def unregister(self, sock: SocketImpl) -> None:
        fd = self._fds.pop(id(sock), None)
        if fd is not None:
            try:
                self._selector.unregister(fd)
            except (KeyError, ValueError, OSError):
                pass  # already gone from the kernel's set

    def select(self, timeout: float | None) -> list[tuple[Hashable, Event]]:
        if timeout != 0 and self._wake is None:
            self._make_wake()
        waiters = self._waiters
        # Announce first, then look at _closed; close() marks first, then
        # looks at the waiters: one of the two always sees the other.
        waiters.append(None)
        try:
            if self._closed:
                return []
            # The wake-up pipe is left out: close() is its only writer, and
            # it is not reused.  The kernel's events are masked with the
            # registration as it is when they are read: a modify() from
            # another thread in between can leave nothing, and a socket with
            # nothing ready is not reported.
            return self._selector.poll(timeout)
        finally:
            waiters.pop()
            if self._closed:
                self._release()

    def _make_wake(self) -> None:
        with self._lock:
            if self._wake is None and not self._closed:
                r, w = os.pipe()
                self._release_wake = weakref.finalize(self, _close_pipe, r, w)
                os.set_blocking(w, False)
                self._selector.register(r, selectors.EVENT_READ, _WAKE)
                self._wake = (r, w)

    def close(self) -> None:
        self._closed = True
        if self._waiters and self._wake is not None:
            try:
                os.write(self._wake[1], b"\0")
            except OSError:
                pass  # a full pipe already wakes everyone
        self._release()

    def _release(self) -> None:
        """Free the selector once closed and no thread sleeps in it."""
        with self._lock:
            if self._waiters or self._selector is None:
                return
            selector, self._selector = self._selector, None  # type: ignore[assignment]
            self._wake = None
            release, self._release_wake = self._release_wake, None
        self._fds.clear()
        selector.close()
        if release is not None:
            release()


def _close_pipe(r: int, w: int) -> None:
    os.close(r)
    os.close(w)


_FD_DIR = "/proc/self/fd"


def open_fds() -> int | None:
    """Count this process's open file descriptors (``None`` without /proc)."""
    try:
        return len(os.listdir(_FD_DIR))
    except OSError:
        return None


def _fileno(sock: SocketImpl) -> int:
    os_sock = getattr(sock, "os_socket", None)
    if os_sock is None:
        raise ValueError("sock is not an OS socket")
    fd: int = os_sock.fileno()
    return fd


class OSBackend(Backend):
    """What the backends driving OS sockets share: options, Poller, fd count."""

    capabilities = Capabilities(
        options=OS_OPTIONS,
        os_sockets=True,
        features=frozenset({"zero-copy-send-file"}),
    )

    def selector(self) -> SelectorImpl:
        """An epoll-backed :class:`OSSelector`."""
        return OSSelector()

    def open_resources(self) -> int | None:
        """The process's open file descriptors."""
        return open_fds()

    def lookup_host(self, host: str, family: Family) -> str | None:
        """The first address ``getaddrinfo`` gives, as the OS's connect uses."""
        infos = REAL_GETADDRINFO(host, None, FAMILIES[family], socket.SOCK_STREAM)
        return str(infos[0][4][0])

    @classmethod
    def make(cls, options: str | None) -> OSBackend:
        """The registry's factory: OS backends take no options."""
        parse_options(options, cls.name)
        return cls()
