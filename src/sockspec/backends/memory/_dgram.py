"""Datagrams on the memory network: UDP and UNIX datagram sockets.

A UDP datagram is routed to the host that has its destination address
(every host, for a broadcast), through the fault rules (loss, duplication,
reordering, latency, partitions), and queued at the sockets
:meth:`PortTable.receivers <._ports.PortTable.receivers>` picks, as Linux's
UDP lookup scores bound and connected sockets.  Nothing bound there, or a
:class:`Refuse` rule, sends an ICMP port-unreachable back, which only a
connected sender hears (its next call says ECONNREFUSED).

UNIX datagrams go straight to the socket bound at the path, with Linux's
flow control: a sender is charged each datagram's ``skb`` truesize until
the receiver takes it (:func:`unix_truesize`), and a receiver queue
longer than ``net.unix.max_dgram_qlen`` makes senders wait.

A queued datagram is ``(payload, source)`` (UDP: ``(v, address, port)``;
UNIX: the sender's path) and, for UNIX, also ``(sender, charge)``.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, TypeAlias

from ...api._shared import format_address as _fmt
from ...api.constants import SO_BROADCAST
from ...api.errors import (
    BrokenPipe,
    ConnectionRefused,
    MessageTooLong,
    PermissionDenied,
    SocketError,
    Timeout,
    WouldBlock,
)
from ._faults import Duplicate, Latency, Loss, Reorder, draw
from ._ports import Target, autobind, destination, errno_error, present
from ._selector import notify
from ._tcp import Told

if TYPE_CHECKING:
    from ._host import Host
    from ._socket import MemorySocket

#: Where a received datagram came from: ``(v, address, port)`` over UDP, the
#: sender's path (or None, unbound) over UNIX.
Source: TypeAlias = "tuple[int, str, int | None] | str | None"
#: A queued datagram: ``(payload, source)``, and for UNIX also
#: ``(sender, charge)`` (what it costs the sender until it is taken).
Datagram: TypeAlias = "tuple[bytes, Source] | tuple[bytes, Source, MemorySocket, int]"

#: Largest UDP payload over IPv4 / IPv6.
MAX_UDP = {4: 65507, 6: 65527}
#: What one queued datagram costs in the receive buffer besides its bytes.
DGRAM_OVERHEAD = 768
#: Linux's net.unix.max_dgram_qlen: queued datagrams before senders wait.
UNIX_DGRAM_QLEN = 10
# What Linux charges an AF_UNIX datagram to its sender (skb truesize):
# page size, skb_shared_info, struct sk_buff, SKB_MAX_ALLOC, MAX_SKB_FRAGS.
_PAGE = 4096
_SHINFO = 320
_SKB_STRUCT = 256
_SKB_MAX_ALLOC = 4 * _PAGE - _SHINFO
_MAX_SKB_FRAGS = 17


def connect_dgram(sock: MemorySocket, target: Target, port: int | None) -> None:
    """connect() of a datagram socket: remember the peer (and autobind over IP)."""
    if isinstance(target, str):  # a UNIX path
        if sock.host.table.named(target) is None:
            raise ConnectionRefused("Connection refused")
        sock.remote = target
    else:
        target = destination(sock, target)
        autobind(sock, target)
        sock.remote = target
        sock.rport = port
    sock.told = Told.CONNECTED


def send_dgram_to(
    sock: MemorySocket, data: bytes | memoryview, host: str, port: int | None
) -> int:
    """send_to(): resolve *host* (a UNIX path as it is), then send (lock held)."""
    if sock.unix:
        return send_dgram(sock, data, host, port)
    target = sock.net.wire_address(host, sock.family)
    if port == 0:
        # As the OS: no datagram can be addressed to port 0.
        raise SocketError(errno.EINVAL, "Invalid argument")
    return send_dgram(sock, data, target, port)


def source_text(sock: MemorySocket, source: Source) -> tuple[str | None, int | None]:
    """Where a received datagram came from, as receive_from() reports it."""
    if source is None or isinstance(source, str):  # unbound, or a UNIX path
        return source, None
    _, addr, port = source
    return present(sock, addr), port


def send_dgram(
    sock: MemorySocket, data: bytes | memoryview, target: Target, port: int | None
) -> int:
    """Send one datagram (lock held)."""
    if sock.error:
        code, sock.error = sock.error, 0
        raise errno_error(code)
    if sock.wr_shut:
        raise BrokenPipe("Broken pipe")
    payload = bytes(data)
    n = len(payload)
    if isinstance(target, str):  # a UNIX path
        return send_unix_dgram(sock, payload, target)
    target = destination(sock, target)
    v, addr = target
    if n > MAX_UDP[v]:
        raise MessageTooLong("Message too long")
    if v == 4 and (addr == "255.255.255.255" or is_broadcast(sock, addr)):
        if not sock.opt(SO_BROADCAST):
            raise PermissionDenied("Permission denied")
        autobind(sock, None)
        sock.sent += n
        for host in sock.net.hosts:
            route_dgram(sock, payload, host, (4, addr), port, broadcast=True)
        return n
    # Linux's implicit bind picks only a port: each datagram then gets
    # the source address of its own route (source_address).
    autobind(sock, None)
    if sock.local in ("0.0.0.0", "::") and sock.host.source_for(v, addr) is None:
        raise errno_error(errno.ENETUNREACH)
    sock.sent += n
    dst_host = sock.net.route(sock.host, v, addr)
    if dst_host is None:
        sock.log("drop", _fmt(addr, port), n, "no host has the address")
        return n
    route_dgram(sock, payload, dst_host, target, port, broadcast=False)
    return n


def is_broadcast(sock: MemorySocket, addr: str) -> bool:
    """Whether *addr* is the broadcast address of a subnet of the host."""
    return addr.endswith(".255") and any(
        a.rsplit(".", 1)[0] == addr.rsplit(".", 1)[0] for a in sock.host.ipv4
    )


def source_address(
    sock: MemorySocket, dst: tuple[int, str]
) -> tuple[int, str, int | None]:
    """The ``(v, address, port)`` a datagram to *dst* is sent from."""
    local = sock.local or ""
    if local in ("0.0.0.0", "::", ""):
        local = sock.host.source_for(dst[0], dst[1]) or local
    v = 4 if ":" not in local else 6
    return (v, local, sock.port)


def route_dgram(
    sock: MemorySocket,
    payload: bytes,
    dst_host: Host,
    dst: tuple[int, str],
    port: int | None,
    *,
    broadcast: bool,
) -> None:
    """Send *payload* to *dst_host* through the fault rules (lock held)."""
    net = sock.net
    n = len(payload)
    source = source_address(sock, dst)
    where = dst_host.hostname + " " + _fmt(dst[1], port)
    copies = 1
    delays = [0.0]
    if net.rule_set.handles:
        verdict, delay = net.rule_set.path(sock, dst_host, dst, port, None, True)
        if verdict == "held":
            sock.log("drop", where, n, "partitioned or black-holed")
            return
        if verdict == "refused":
            icmp_refused(sock, dst, port, delay)
            return
        rng = net.rule_set.rng
        for _, loss in net.rule_set.matching(
            Loss, sock, dst_host, dst, port, None, True
        ):
            if rng.random() < loss.rate:
                sock.log("drop", where, n, "Loss rule")
                return
        for _, dup in net.rule_set.matching(
            Duplicate, sock, dst_host, dst, port, None, True
        ):
            if rng.random() < dup.rate:
                copies = 2
        extra = 0.0
        for _, rule in net.rule_set.matching(
            Reorder, sock, dst_host, dst, port, None, True
        ):
            if rng.random() < rule.rate:
                extra += draw(rule.delay, rng)
        delays = [delay + extra]
        if copies == 2:
            again = 0.0
            for _, lat in net.rule_set.matching(
                Latency, sock, dst_host, dst, port, None, True
            ):
                again += draw(lat.delay, rng)
            delays.append(again + extra)
            sock.log("duplicate", where, n)
    if net.logs_data:
        sock.log("send", where, n)

    def deliver() -> None:
        deliver_dgram(sock, payload, dst_host, dst, port, source, broadcast)

    for delay in delays:
        sock.later(delay, deliver)


def icmp_refused(
    sock: MemorySocket, dst: tuple[int, str], port: int | None, delay: float
) -> None:
    """An ICMP port-unreachable comes back: only connected sockets hear it."""
    if sock.remote == dst and sock.rport == port and not sock.closed:

        def arrive() -> None:
            if not sock.closed:
                sock.error = errno.ECONNREFUSED
                notify(sock)

        sock.later(delay * 2, arrive)


def send_unix_dgram(sock: MemorySocket, payload: bytes, path: str) -> int:
    """Send an AF_UNIX datagram to *path*, waiting for room (lock held)."""
    n = len(payload)
    if n > sock.sndbuf - 32:
        raise MessageTooLong("Message too long")
    table = sock.host.table
    timeout = sock.timeout
    deadline = sock.deadline(timeout if timeout else None)
    charge = unix_truesize(n)
    while True:
        dst = None
        # sock_alloc_send_pskb: room in the sender's SO_SNDBUF comes first.
        if sock.wmem < sock.sndbuf:
            dst = table.named(path)
            if dst is None or dst.stream:
                raise ConnectionRefused("Connection refused")
            if dst.remote is not None and dst.remote != sock.local:
                raise PermissionDenied(errno.EPERM, "Operation not permitted")
            if dst.rd_shut:  # the receiver shut down reading
                raise BrokenPipe("Broken pipe")
            if len(dst.datagrams()) <= UNIX_DGRAM_QLEN:
                break
        if timeout == 0:
            sock.sched.spin()
            raise WouldBlock("Resource temporarily unavailable")
        if deadline is not None and sock.sched.now >= deadline:
            raise Timeout("timed out")
        sock.wait("send_to()", deadline, also=dst)
    dst.rx_queue().append((payload, sock.local, sock, charge))
    sock.wmem += charge
    dst.rx_size += n + DGRAM_OVERHEAD
    sock.sent += n
    if sock.net.logs_data:
        sock.log("send", path, n)
    notify(dst)
    return n


def take_dgram(sock: MemorySocket, maxlen: int) -> tuple[bytes, Source]:
    """Take the next datagram, cut to *maxlen*, with its source (lock held)."""
    rx = sock.rx
    assert rx  # callers saw a datagram queued
    assert not isinstance(rx, bytes)  # only a stream's queue is bytes
    item = rx.popleft()
    data, source = item[0], item[1]
    if sock.unix:
        uncharge(item)
    sock.rx_size -= len(data) + DGRAM_OVERHEAD
    sock.received += min(len(data), maxlen)
    if sock.unix and sock.waiters:
        notify(sock)  # a sender may wait for queue room
    return data[:maxlen], source


def deliver_dgram(
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
    targets = host.table.receivers(dst, port, source, broadcast)
    if not targets:
        if not broadcast:
            sender.log("drop", where, n, "nothing bound there")
            icmp_refused(sender, dst, port, 0.0)
        return
    for sock in targets:
        if sock.rx_size > sock.rcvbuf:
            sock.log("drop", where, n, "receive buffer full")
            continue
        sock.rx_queue().append((payload, source))
        sock.rx_size += n + DGRAM_OVERHEAD
        if sock.net.logs_data:
            sock.log("deliver", _fmt(source[1], source[2]), n)
        if sock.waiters or sock.sels:
            notify(sock)


def uncharge(item: Datagram) -> None:
    """An AF_UNIX datagram left its receiver's queue: free its sender's room."""
    if len(item) == 4:
        sender = item[2]
        sender.wmem -= item[3]
        if sender.waiters or sender.sels:
            notify(sender)


def unix_truesize(n: int) -> int:
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
