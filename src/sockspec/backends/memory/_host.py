"""A host of the memory network, and the address literals hosts are named by.

A :class:`Host` is a machine: its addresses (loopback plus the ones the
network gave it), its name, and its :class:`~._ports.PortTable` of
bindings.  It is also a :class:`~sockspec.Backend`, so a test can make a
socket on any host; the network's traffic between hosts is routed by
:class:`~sockspec.backends.memory.Network`.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import TYPE_CHECKING

from ...api.backend import Backend, Capabilities
from ...api.constants import Family, Option, SocketType
from ._ports import PortTable
from ._selector import MemorySelector
from ._socket import MemorySocket

if TYPE_CHECKING:
    from ._network import Network

__all__ = ["CAPABILITIES", "Host", "WireAddr", "parse_inet_aton", "parse_ip"]

#: What the memory backend supports: everything the API names.
CAPABILITIES = Capabilities(
    options=frozenset(Option),
    virtual_time=True,
    features=frozenset({"fault-injection", "multiple-hosts", "event-log"}),
)

WireAddr = tuple[int, str]  # (4 or 6, canonical text)


# Remembered: a program connects to the same few literals again and again,
# and a parse is 11 Python calls (~3 us, a tenth of a memory connect); the
# connections then share one address tuple instead of one each (issue 16).
@functools.lru_cache(maxsize=1024)
def parse_ip(text: str) -> WireAddr | None:
    """Return ``(version, canonical text)`` for an IP literal, else ``None``.

    An IPv4-mapped IPv6 address is returned as version 4: on the wire it is
    IPv4 traffic, whatever family the socket has.
    """
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if ip.version == 6:
        mapped = ip.ipv4_mapped
        if mapped is not None:
            return 4, str(mapped)
        return 6, str(ip)
    return 4, str(ip)


def parse_inet_aton(text: str) -> str | None:
    """Read an IPv4 address the way glibc's ``inet_aton`` does, else ``None``.

    ``getaddrinfo`` accepts these spellings for ``AF_INET``: one to four
    dot-separated numbers, each decimal, octal (leading ``0``) or hex
    (``0x``), the last one filling the remaining bytes (``127.1``,
    ``2130706433``, ``0x7f.0.0.1``, ``0177.0.0.1``, ``0``).
    """
    parts = text.split(".")
    if len(parts) > 4:
        return None
    values = []
    for part in parts:
        digits, base = part, 10
        if part[:2] in ("0x", "0X"):
            digits, base = part[2:], 16
        elif part[:1] == "0" and len(part) > 1:
            digits, base = part[1:], 8
        allowed = "0123456789abcdefABCDEF"[: base if base < 16 else 22]
        if not digits or any(c not in allowed for c in digits):
            return None
        values.append(int(digits, base))
    *head, last = values
    if any(v > 0xFF for v in head) or last >= 1 << (8 * (4 - len(head))):
        return None
    number = last
    for i, v in enumerate(head):
        number |= v << (8 * (3 - i))
    return str(ipaddress.IPv4Address(number))


class Host(Backend):
    """A machine on the network: addresses, ports, UNIX paths.

    A host is a :class:`~sockspec.Backend`: ``Socket(backend=host)`` makes a
    socket that lives on it, and ``sockspec.use_backend(host)`` makes it the
    default.  Every host has loopback (``127.0.0.0/8``, ``::1``).
    """

    name = "memory"
    capabilities = CAPABILITIES

    def __init__(
        self, network: Network, hostname: str, ipv4: list[str], ipv6: list[str]
    ) -> None:
        #: The network the host is on.
        self.network = network
        #: The host's name (resolvable through the network's name table).
        self.hostname = hostname
        #: IPv4 addresses besides loopback.
        self.ipv4 = ipv4
        #: IPv6 addresses besides loopback.
        self.ipv6 = ipv6
        # Who is bound where on this host (ports, TIME_WAIT, UNIX paths).
        self.table = PortTable()

    def socket(self, family: Family, type: SocketType) -> MemorySocket:
        """Create a socket on this host."""
        return MemorySocket(self, family, type)

    def selector(self) -> MemorySelector:
        """Create the engine of a :class:`~sockspec.Poller` on this host."""
        return MemorySelector(self.network)

    def monotonic(self) -> float:
        """The network's virtual clock."""
        return self.network._sched.now

    def open_resources(self) -> int:
        """Open sockets on the whole network (see :meth:`Network.open_resources`)."""
        return self.network.open_resources()

    def lookup_host(self, host: str, family: Family) -> str | None:
        """Resolve through the network's name table (:meth:`Network.lookup_host`)."""
        return self.network.lookup_host(host, family)

    def is_local(self, v: int, addr: str) -> bool:
        """Whether *addr* (IP version *v*) belongs to this host."""
        if v == 4:
            return addr.startswith("127.") or addr in self.ipv4
        return addr == "::1" or addr in self.ipv6

    def source_for(self, v: int, dst: str) -> str | None:
        """The address this host sends from to reach *dst*."""
        if v == 4:
            if dst.startswith("127."):
                return "127.0.0.1"
            if dst in self.ipv4:
                return dst
            return self.ipv4[0] if self.ipv4 else None
        if dst == "::1":
            return "::1"
        if dst in self.ipv6:
            return dst
        return self.ipv6[0] if self.ipv6 else None

    def unlink(self, path: str) -> None:
        """Remove a UNIX socket path, as ``os.unlink`` removes the file."""
        with self.network._sched.lock:
            self.table.unlink(path)

    def __repr__(self) -> str:
        addrs = ", ".join(self.ipv4 + self.ipv6)
        seed = self.network.seed
        return f"<memory Host {self.hostname!r} {addrs} on network seed={seed}>"
