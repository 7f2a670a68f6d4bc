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
    """Readiness events for :class:`Poller` (bit flags, combine with ``|``)."""

    EVENT_READ = 1
    EVENT_WRITE = 2


AF_INET = Family.AF_INET
AF_INET6 = Family.AF_INET6
AF_UNIX = Family.AF_UNIX
SOCK_STREAM = SocketType.SOCK_STREAM
SOCK_DGRAM = SocketType.SOCK_DGRAM
SHUT_RD = Shutdown.SHUT_RD
SHUT_WR = Shutdown.SHUT_WR
SHUT_RDWR = Shutdown.SHUT_RDWR
EVENT_READ = Event.EVENT_READ
EVENT_WRITE = Event.EVENT_WRITE
SO_REUSEADDR = Option.SO_REUSEADDR
SO_REUSEPORT = Option.SO_REUSEPORT
SO_KEEPALIVE = Option.SO_KEEPALIVE
SO_BROADCAST = Option.SO_BROADCAST
SO_RCVBUF = Option.SO_RCVBUF
SO_SNDBUF = Option.SO_SNDBUF
SO_LINGER = Option.SO_LINGER
TCP_NODELAY = Option.TCP_NODELAY
IPV6_V6ONLY = Option.IPV6_V6ONLY

#: Options whose value is a boolean flag.
FLAG_OPTIONS = frozenset(
    {SO_REUSEADDR, SO_REUSEPORT, SO_KEEPALIVE, SO_BROADCAST, TCP_NODELAY, IPV6_V6ONLY}
)
#: Options whose value is a byte count.
SIZE_OPTIONS = frozenset({SO_RCVBUF, SO_SNDBUF})
