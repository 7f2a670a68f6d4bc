"""What a test can look at: the event log and the netstat-style snapshot."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from ...api._shared import format_address as _fmt
from ...api.constants import AF_INET6
from ._ports import present_local, present_remote
from ._tcp import TcpState

if TYPE_CHECKING:
    from ._socket import MemorySocket

__all__ = [
    "NetworkEvent",
    "SocketInfo",
    "describe",
    "format_netstat",
    "socket_info",
    "state_name",
]


@dataclasses.dataclass(frozen=True)
class NetworkEvent:
    """One entry of the network's event log: what happened, at a virtual time.

    (Not :class:`sockspec.Event`, the Poller's readiness flags; this class
    was called ``Event`` until 0.1.0, a name still importable, deprecated.)

    Kinds: ``"bind"``, ``"listen"``, ``"connect"`` (a connection was made),
    ``"accept"``, ``"refuse"``, ``"send"`` and ``"deliver"`` (stream data or
    datagrams; recorded only with :attr:`Network.record_data`), ``"drop"`` (a
    datagram lost, filtered or overflowing a buffer), ``"duplicate"``,
    ``"fin"``, ``"reset"``, ``"close"``, ``"timeout"``.
    """

    #: Virtual time in seconds.
    time: float
    #: What happened (see the class docstring).
    kind: str
    #: Where it came from, ``"host addr:port"`` or ``"host path"``.
    src: str
    #: Where it went (``""`` when there is no other end).
    dst: str = ""
    #: Bytes involved, for data events.
    nbytes: int = 0
    #: Free-form detail (why a datagram was dropped...).
    detail: str = ""

    def __str__(self) -> str:
        parts = [f"{self.time:12.6f}", f"{self.kind:<9}", self.src]
        if self.dst:
            parts.append(f"-> {self.dst}")
        if self.nbytes:
            parts.append(f"{self.nbytes}B")
        if self.detail:
            parts.append(f"({self.detail})")
        return " ".join(parts)


@dataclasses.dataclass(frozen=True)
class SocketInfo:
    """One row of :meth:`Network.netstat`."""

    #: Socket number, unique in the network, in creation order.
    id: int
    #: ``"tcp"``, ``"tcp6"``, ``"udp"``, ``"udp6"``, ``"unix"`` or ``"unix-dgram"``.
    proto: str
    #: Name of the host the socket lives on.
    host: str
    #: Local ``addr:port`` (or path), ``"*"`` when unbound.
    local: str
    #: Remote ``addr:port`` (or path), ``"*"`` when unconnected.
    remote: str
    #: ``NEW``, ``BOUND``, ``LISTEN``, ``SYN_SENT``, ``ESTABLISHED``,
    #: ``FIN_WAIT``, ``CLOSE_WAIT``, ``CLOSING`` (both FINs), ``RESET``,
    #: ``CLOSED``, ``TIME_WAIT``; a connected datagram socket ``CONNECTED``.
    state: str
    #: Bytes (or datagrams' bytes) waiting to be read.
    recv_q: int
    #: Bytes sent but not yet delivered to the peer (in flight).
    send_q: int
    #: Total bytes this socket sent.
    bytes_sent: int
    #: Total bytes this socket received (handed to the application).
    bytes_received: int


def format_netstat(rows: list[SocketInfo]) -> str:
    """Render rows like ``netstat -an`` does."""
    header = ("Id", "Proto", "Host", "Local", "Remote", "State", "Recv-Q", "Send-Q")
    table = [header] + [
        (
            str(r.id),
            r.proto,
            r.host,
            r.local,
            r.remote,
            r.state,
            str(r.recv_q),
            str(r.send_q),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in table
    )


# -- one socket, as the log and netstat show it ----------------------------------


def describe(sock: MemorySocket) -> str:
    """``<tcp #3 host:addr:port -> peer STATE>``, as deadlock messages show it."""
    local = _fmt(*present_local(sock)) if sock.local or sock.port else "*"
    remote = present_remote(sock)
    out = f"<{proto_name(sock)} #{sock.id} {sock.host.hostname}:{local}"
    if remote[0] is not None:
        out += f" -> {_fmt(*remote)}"
    return out + f" {state_name(sock)}>"


def proto_name(sock: MemorySocket) -> str:
    """The protocol column of netstat: tcp, tcp6, udp, udp6, unix, unix-dgram."""
    if sock.unix:
        return "unix" if sock.stream else "unix-dgram"
    return sock.proto + ("6" if sock.family is AF_INET6 else "")


def state_name(sock: MemorySocket) -> str:
    """The state column of netstat for *sock*."""
    if sock.closed:
        return "CLOSED"
    if sock.stream:
        if sock.state is not TcpState.CLOSED:
            return sock.state.label
        if sock.unhashed:  # a failed connect gave its port back
            return "CLOSED"
    elif sock.remote is not None:
        return "CONNECTED"
    return "BOUND" if sock.port is not None or sock.local else "NEW"


def socket_info(sock: MemorySocket) -> SocketInfo:
    """The netstat row of *sock*."""
    local = _fmt(*present_local(sock)) if sock.local or sock.port else "*"
    remote = _fmt(*present_remote(sock))
    peer = sock.peer
    return SocketInfo(
        sock.id,
        proto_name(sock),
        sock.host.hostname,
        local,
        remote,
        state_name(sock),
        sock.rx_size if sock.stream else sum(len(item[0]) for item in sock.datagrams()),
        peer.inflight_size if peer is not None else 0,
        sock.sent,
        sock.received,
    )
