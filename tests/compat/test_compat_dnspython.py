"""dnspython, unmodified, against a small DNS server on the memory network.

The server is written here with dnspython's message classes over plain
sockets (UDP and TCP on port 53 of its own host ``ns``); the client side is
dnspython's own ``dns.query`` and ``dns.resolver``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sockspec import compat
from sockspec.backends.memory import Network

pytest.importorskip("dns")
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.resolver
import dns.rrset

pytestmark = pytest.mark.timeout(60)

NS = "10.0.0.53"


def _answer(wire: bytes, udp: bool) -> bytes:
    """A: 10.1.2.3; ``big.*``: 60 TXT records (truncated over UDP); ``nx.*``."""
    query = dns.message.from_wire(wire)
    reply = dns.message.make_response(query)
    name = query.question[0].name
    label = name.labels[0]
    if label == b"big":
        if udp:
            reply.flags |= dns.flags.TC
            return reply.to_wire()
        texts = [f'"{i:03} ' + "x" * 200 + '"' for i in range(60)]
        reply.answer.append(dns.rrset.from_text(name, 60, "IN", "TXT", *texts))
    elif label == b"nx":
        reply.set_rcode(dns.rcode.NXDOMAIN)
    else:
        reply.answer.append(dns.rrset.from_text(name, 60, "IN", "A", "10.1.2.3"))
    return reply.to_wire()


def _serve_udp(sock: Any) -> None:
    while True:
        try:
            wire, peer = sock.recvfrom(65535)
        except OSError:
            return  # closed: the test is over
        sock.sendto(_answer(wire, udp=True), peer)


def _serve_tcp(listener: Any) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn, conn.makefile("rb") as stream:
            size = int.from_bytes(stream.read(2), "big")
            reply = _answer(stream.read(size), udp=False)
            conn.sendall(len(reply).to_bytes(2, "big") + reply)


@contextlib.contextmanager
def dns_server(net: Network) -> Iterator[None]:
    """Serve DNS on UDP and TCP port 53 of host ``ns`` for the block."""
    host = net.add_host("ns", NS)
    with compat.patch(host):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("0.0.0.0", 53))
        tcp = socket.create_server(("0.0.0.0", 53))
    threads = [
        threading.Thread(target=_serve_udp, args=(udp,)),
        threading.Thread(target=_serve_tcp, args=(tcp,)),
    ]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        udp.close()
        tcp.close()
        for thread in threads:
            thread.join(10)


@pytest.fixture
def net(no_fd_leak: None) -> Iterator[Network]:
    with Network(seed=5) as network:
        yield network


def _resolver(**options: Any) -> Any:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [NS]
    for name, value in options.items():
        setattr(resolver, name, value)
    return resolver


def test_queries_over_udp_and_tcp_and_truncation(net: Network) -> None:
    with dns_server(net), compat.patch(net):
        query = dns.message.make_query("www.example.", "A")
        udp = dns.query.udp(query, NS, timeout=5)
        tcp = dns.query.tcp(query, NS, timeout=5)
        big, used_tcp = dns.query.udp_with_fallback(
            dns.message.make_query("big.example.", "TXT"), NS, timeout=5
        )
        resolver = _resolver(lifetime=10)
        addresses = [a.address for a in resolver.resolve("www.example.", "A")]
        with pytest.raises(dns.resolver.NXDOMAIN):
            resolver.resolve("nx.example.", "A")
    assert str(udp.answer[0][0]) == str(tcp.answer[0][0]) == "10.1.2.3"
    assert used_tcp
    assert len(big.answer[0]) == 60
    assert addresses == ["10.1.2.3"]


def test_resolver_lifetime_runs_on_the_virtual_clock(net: Network) -> None:
    """dnspython times its retries with time.time(): clock=True covers it."""
    with dns_server(net), compat.patch(net, clock=True):
        resolver = _resolver(lifetime=10, timeout=2)
        net.partition("local", "ns")
        started, wall = net.now, time.perf_counter()
        with pytest.raises(dns.resolver.LifetimeTimeout):
            resolver.resolve("www.example.", "A")
        waited = net.now - started
    assert 10 <= waited <= 12  # its back-off sleeps may overshoot the lifetime
    assert time.perf_counter() - wall < 5
