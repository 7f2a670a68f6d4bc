"""dnspython's async resolver against an asyncio DNS server on the compat loop.

The server is a ``create_datagram_endpoint`` protocol (UDP) beside a
``start_server`` one (TCP), both answering with dnspython's message classes.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sockspec import compat
from sockspec.backends.memory import Network

pytest.importorskip("dns")
import dns.asyncquery
import dns.asyncresolver
import dns.flags
import dns.message
import dns.resolver
import dns.rrset


def _answer(wire: bytes, udp: bool) -> bytes:
    query = dns.message.from_wire(wire)
    reply = dns.message.make_response(query)
    name = query.question[0].name
    if name.labels[0] == b"big" and udp:
        reply.flags |= dns.flags.TC  # ask for TCP
    else:
        reply.answer.append(dns.rrset.from_text(name, 60, "IN", "A", "10.1.2.3"))
    return reply.to_wire()


class _UdpServer(asyncio.DatagramProtocol):
    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.transport.sendto(_answer(data, udp=True), addr)


async def _tcp_server(reader: asyncio.StreamReader, writer: Any) -> None:
    try:
        size = int.from_bytes(await reader.readexactly(2), "big")
        reply = _answer(await reader.readexactly(size), udp=False)
        writer.write(len(reply).to_bytes(2, "big") + reply)
        await writer.drain()
    finally:
        writer.close()


def test_async_resolver_udp_tcp_fallback_and_lifetime(net: Network) -> None:
    async def main() -> list[Any]:
        loop = asyncio.get_running_loop()
        udp, _ = await loop.create_datagram_endpoint(
            _UdpServer, local_addr=("127.0.0.1", 5353)
        )
        tcp = await asyncio.start_server(_tcp_server, "127.0.0.1", 5353)
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = 5353
        resolver.lifetime = 5
        out: list[Any] = []
        async with tcp:
            answer = await resolver.resolve("www.example.", "A")
            out.append([a.address for a in answer])
            reply, used_tcp = await dns.asyncquery.udp_with_fallback(
                dns.message.make_query("big.example.", "A"),
                "127.0.0.1",
                timeout=5,
                port=5353,
            )
            out.append((used_tcp, str(reply.answer[0][0])))
            udp.close()  # nothing answers any more
            started = loop.time()
            with pytest.raises(dns.resolver.LifetimeTimeout):
                await resolver.resolve("www.example.", "A")
            out.append(round(loop.time() - started))
        return out

    # dnspython times its lifetime with time.time(): clock=True makes it virtual.
    with compat.patch(net, clock=True):
        got = compat.run(main(), backend=net)
    assert got[:2] == [["10.1.2.3"], (True, "10.1.2.3")]
    assert 5 <= got[2] <= 7


def test_async_resolver_retries_through_datagram_loss(net: Network) -> None:
    """Half the datagrams lost each way: dnspython retries until it has answers."""
    from sockspec.backends.memory import Loss

    seen: list[bytes] = []

    class Counting(_UdpServer):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            seen.append(data)
            super().datagram_received(data, addr)

    async def main() -> int:
        loop = asyncio.get_running_loop()
        udp, _ = await loop.create_datagram_endpoint(
            Counting, local_addr=("127.0.0.1", 5353)
        )
        net.add_rule(Loss(0.5))
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = 5353
        resolver.timeout, resolver.lifetime = 1, 60
        answered = 0
        for i in range(10):
            answer = await resolver.resolve(f"h{i}.example.", "A")
            answered += answer[0].address == "10.1.2.3"
        udp.close()
        return answered

    with compat.patch(net, clock=True):
        assert compat.run(main(), backend=net) == 10
    assert len(seen) > 10  # some queries or answers were lost and asked again
