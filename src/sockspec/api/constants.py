"""Backend-neutral constants of the Sockets/A API.

The values are sockspec's own enumerations, not the operating system's
numbers, so every backend (the in-memory one included) understands them and
a stray ``socket.AF_INET`` from the standard library is refused with a clear
message instead of being silently misread.
"""

from __future__ import annotations

import enum

__all__ = [
    "AF_INET",
    "AF_INET6",
    "AF_UNIX",
    "EVENT_READ",
    "EVENT_WRITE",
    "IPV6_V6ONLY",
    "SHUT_RD",
    "SHUT_RDWR",
    "SHUT_WR",
    "SOCK_DGRAM",
    "SOCK_STREAM",
    "SO_BROADCAST",
    "SO_KEEPALIVE",
    "SO_LINGER",
    "SO_RCVBUF",
    "SO_REUSEADDR",
    "SO_REUSEPORT",
    "SO_SNDBUF",
    "TCP_NODELAY",
    "Event",
    "Family",
    "Option",
    "Shutdown",
    "SocketType",
]


class Family(enum.Enum):
    """Address family of a socket."""

    AF_INET = "AF_INET"
    AF_INET6 = "AF_INET6"
    AF_UNIX = "AF_UNIX"

    def __repr__(self) -> str:
        return f"sockspec.{self.name}"


class SocketType(enum.Enum):
    """Socket type: a byte stream (TCP) or datagrams (UDP)."""

    SOCK_STREAM = "SOCK_STREAM"
    SOCK_DGRAM = "SOCK_DGRAM"

    def __repr__(self) -> str:
        return f"sockspec.{self.name}"


class Shutdown(enum.Enum):
    """Which direction :meth:`Socket.shutdown` closes."""

    SHUT_RD = "SHUT_RD"
    SHUT_WR = "SHUT_WR"
    SHUT_RDWR = "SHUT_RDWR"

    def __repr__(self) -> str:
        return f"sockspec.{self.name}"


class Option(enum.Enum):
    """Socket option names understood by :meth:`Socket.set_option`.

    Values: flags take and return ``bool``; ``SO_RCVBUF`` and ``SO_SNDBUF``
    take and return a byte count (``int``; the OS may round it up);
    ``SO_LINGER`` takes ``None`` (off) or a number of seconds (``int >= 0``).
    """

    SO_REUSEADDR = "SO_REUSEADDR"
    SO_REUSEPORT = "SO_REUSEPORT"
    SO_KEEPALIVE = "SO_KEEPALIVE"
    SO_BROADCAST = "SO_BROADCAST"
    SO_RCVBUF = "SO_RCVBUF"
    SO_SNDBUF = "SO_SNDBUF"
    SO_LINGER = "SO_LINGER"
    TCP_NODELAY = "TCP_NODELAY"
    IPV6_V6ONLY = "IPV6_V6ONLY"

    def __repr__(self) -> str:
        return f"sockspec.{self.name}"


class Event(enum.IntFlag):
    """Readiness events for :class:`Poller` (bit flags, combine with ``|``).

    An :class:`enum.IntFlag`: members combine with ``|`` into an ``Event``,
    iterate, support ``in`` and print their names.  ``&`` is ``int``'s own
    and gives a plain ``int``, so the test every event loop makes,
    ``if events & EVENT_READ:``, costs what it costs on ints (``IntFlag``'s
    ``&`` runs three Python calls, 20 to 40 times slower;
    ``benchmarks/bench_events.py`` measures both).
    """

    EVENT_READ = 1
    EVENT_WRITE = 2

    # The slot wrappers of int: CPython installs int's C function directly.
    __and__ = int.__and__  # type: ignore[assignment]
    __rand__ = int.__rand__  # type: ignore[assignment]


# Members are singletons compared by identity, so the identity hash (in C)
# agrees with ==.  Enum's own __hash__ hashes the name in Python, and making
# a socket looks these up in dicts and sets several times.
for _cls in (Family, SocketType, Shutdown, Option):
    _cls.__hash__ = object.__hash__  # type: ignore[method-assign]
del _cls

#: IPv4: addresses like ``127.0.0.1``, a port per socket.
AF_INET = Family.AF_INET
#: IPv6: addresses like ``::1``, a port per socket.
AF_INET6 = Family.AF_INET6
#: UNIX domain sockets: the address is a filesystem path, no port.
AF_UNIX = Family.AF_UNIX
#: A reliable, ordered byte stream (TCP, or a UNIX stream socket).
SOCK_STREAM = SocketType.SOCK_STREAM
#: Separate messages that keep their boundaries (UDP, or UNIX datagrams).
SOCK_DGRAM = SocketType.SOCK_DGRAM
#: Shut down the receiving direction.
SHUT_RD = Shutdown.SHUT_RD
#: Shut down the sending direction; the peer reads end of stream.
SHUT_WR = Shutdown.SHUT_WR
#: Shut down both directions.
SHUT_RDWR = Shutdown.SHUT_RDWR
#: Ready to receive or accept (for :class:`~sockspec.Poller`).
EVENT_READ = Event.EVENT_READ
#: Ready to send (for :class:`~sockspec.Poller`).
EVENT_WRITE = Event.EVENT_WRITE
#: Flag: bind to an address still in ``TIME_WAIT``.
SO_REUSEADDR = Option.SO_REUSEADDR
#: Flag: let several sockets bind the same address and port.
SO_REUSEPORT = Option.SO_REUSEPORT
#: Flag: probe an idle connection to find a dead peer.
SO_KEEPALIVE = Option.SO_KEEPALIVE
#: Flag: allow datagrams to a broadcast address.
SO_BROADCAST = Option.SO_BROADCAST
#: Size in bytes of the receive buffer.
SO_RCVBUF = Option.SO_RCVBUF
#: Size in bytes of the send buffer.
SO_SNDBUF = Option.SO_SNDBUF
#: ``None`` (off) or the seconds ``close`` may wait to send what is left.
SO_LINGER = Option.SO_LINGER
#: Flag: send small segments at once (no Nagle delay).
TCP_NODELAY = Option.TCP_NODELAY
#: Flag: an ``AF_INET6`` socket accepts IPv6 only, not mapped IPv4.
IPV6_V6ONLY = Option.IPV6_V6ONLY

#: Options whose value is a boolean flag.
FLAG_OPTIONS = frozenset(
    {SO_REUSEADDR, SO_REUSEPORT, SO_KEEPALIVE, SO_BROADCAST, TCP_NODELAY, IPV6_V6ONLY}
)
#: Options whose value is a byte count.
SIZE_OPTIONS = frozenset({SO_RCVBUF, SO_SNDBUF})
