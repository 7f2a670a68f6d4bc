"""Fault rules on the memory network: seeded, scoped, removable."""

from __future__ import annotations

import threading

import pytest

import sockspec
from sockspec import SOCK_DGRAM, Socket
from sockspec.backends.memory import (
    BlackHole,
    Duplicate,
    Latency,
    Loss,
    Network,
    Normal,
    Partition,
    Refuse,
    Reorder,
    Reset,
    ShortReads,
    ShortWrites,
    SlowReader,
    Uniform,
)

# These tests leave their sockets to the fixture on purpose: each states
# one behaviour, and the network is dropped after it.
pytestmark = pytest.mark.memory_network(check_leaks=False)


def serve(network: Network, host: str = "server", port: int = 7000) -> Socket:
    backend = (
        network.host(host)
        if host in {h.hostname for h in network.hosts}
        else (network.add_host(host))
    )
    lst = Socket(backend=backend, timeout=5)
    lst.bind(None, port)
    lst.listen()
    return lst


def connect(port: int = 7000, host: str = "server", timeout: float = 5) -> Socket:
    sock = Socket(timeout=timeout)
    sock.connect(host, port)
    return sock


def udp_pair(network: Network) -> tuple[Socket, Socket]:
    rx = Socket(type=SOCK_DGRAM, timeout=0)
    rx.bind("127.0.0.1", 5000)
    tx = Socket(type=SOCK_DGRAM)
    return tx, rx


def drain(sock: Socket) -> list[bytes]:
    out = []
    for _ in range(10_000):
        try:
            out.append(sock.receive())
        except sockspec.WouldBlock:
            return out
    raise AssertionError("receive never blocked")


# -- latency ---------------------------------------------------------------------------


def test_fixed_latency_delays_connect_and_data(memory_network: Network) -> None:
    lst = serve(memory_network)
    memory_network.latency(0.05)
    client = connect()
    assert memory_network.now == pytest.approx(0.1)  # SYN and SYN-ACK
    server = lst.accept()
    client.send(b"x")
    started = memory_network.now
    assert server.receive() == b"x"
    assert memory_network.now - started == pytest.approx(0.05)


def test_stream_latency_never_reorders(memory_network: Network) -> None:
    lst = serve(memory_network)
    client = connect()
    server = lst.accept()
    memory_network.add_rule(Latency(Uniform(0.001, 0.1)))
    for i in range(50):
        client.send(b"%d," % i)
    client.shutdown(sockspec.SHUT_WR)
    data = b""
    while chunk := server.receive():
        data += chunk
    assert data == b"".join(b"%d," % i for i in range(50))


def test_distributed_latency_reorders_datagrams_reproducibly() -> None:
    def run(seed: int) -> list[bytes]:
        network = Network(seed=seed)
        with sockspec.use_backend(network):
            tx, rx = udp_pair(network)
            network.add_rule(Latency(Normal(0.05, 0.03)))
            for i in range(20):
                tx.send_to("127.0.0.1", 5000, b"%d" % i)
            network.advance(1)
            return drain(rx)

    first = run(5)
    assert sorted(first, key=int) == [b"%d" % i for i in range(20)]
    assert first != sorted(first, key=int)
    assert run(5) == first


# -- datagram faults -------------------------------------------------------------------


def test_loss_duplication_and_reorder_are_seeded() -> None:
    def run(seed: int) -> tuple[list[bytes], int]:
        network = Network(seed=seed)
        with sockspec.use_backend(network):
            tx, rx = udp_pair(network)
            network.add_rule(Loss(rate=0.3))
            network.add_rule(Duplicate(rate=0.2))
            network.add_rule(Reorder(rate=0.2, delay=0.01))
            for i in range(100):
                tx.send_to("127.0.0.1", 5000, b"%d" % i)
            network.advance(1)
            return drain(rx), len(network.events("drop"))

    got, drops = run(42)
    assert 40 < len(set(got)) < 90
    assert len(got) > len(set(got))  # duplicates
    assert drops == 100 - len(set(got))
    assert run(42) == (got, drops)
    assert run(43) != (got, drops)


def test_rules_scoped_to_a_socket(memory_network: Network) -> None:
    tx, rx = udp_pair(memory_network)
    other = Socket(type=SOCK_DGRAM)
    handle = memory_network.add_rule(Loss(rate=1.0, socket=tx))
    tx.send_to("127.0.0.1", 5000, b"lost")
    other.send_to("127.0.0.1", 5000, b"kept")
    assert drain(rx) == [b"kept"]
    handle.remove()
    assert not handle.active
    tx.send_to("127.0.0.1", 5000, b"now kept")
    assert drain(rx) == [b"now kept"]


# -- partitions ------------------------------------------------------------------------


def test_two_way_partition_holds_stream_data_until_healed(
    memory_network: Network,
) -> None:
    lst = serve(memory_network)
    client = connect()
    server = lst.accept()
    with memory_network.partition("local", "server"):
        client.send(b"held")
        server.timeout = 3
        with pytest.raises(sockspec.Timeout):
            server.receive()
        assert server.send(b"back") == 4
        client.timeout = 3
        with pytest.raises(sockspec.Timeout):
            client.receive()
    assert server.receive() == b"held"  # TCP retransmits after the heal
    assert client.receive() == b"back"


def test_one_way_partition(memory_network: Network) -> None:
    lst = serve(memory_network)
    client = connect()
    server = lst.accept()
    memory_network.add_rule(Partition(src="server", dst="local", one_way=True))
    client.send(b"up")
    assert server.receive() == b"up"
    server.send(b"down")
    client.timeout = 1
    with pytest.raises(sockspec.Timeout):
        client.receive()
    memory_network.clear_rules()
    assert client.receive() == b"down"


def test_connect_during_partition_times_out_or_completes_after_heal(
    memory_network: Network,
) -> None:
    serve(memory_network)
    handle = memory_network.partition("server")  # cut off from everyone
    with pytest.raises(sockspec.Timeout):
        connect(timeout=2)
    handle.remove()
    assert connect().is_connected


def test_partition_drops_datagrams(memory_network: Network) -> None:
    peer = memory_network.add_host("peer")
    rx = Socket(type=SOCK_DGRAM, backend=peer, timeout=0)
    rx.bind(None, 5000)
    tx = Socket(type=SOCK_DGRAM)
    with memory_network.partition("local", "peer"):
        tx.send_to("peer", 5000, b"lost")
    tx.send_to("peer", 5000, b"kept")
    assert drain(rx) == [b"kept"]


# -- resets, refusals, black holes -----------------------------------------------------


def test_reset_mid_stream_after_some_bytes(memory_network: Network) -> None:
    lst = serve(memory_network)
    client = connect()
    server = lst.accept()
    memory_network.add_rule(Reset(after_bytes=10))
    with pytest.raises(sockspec.ConnectionReset):
        client.send(b"0123456789abcdef")  # sends all or fails, like sendall
    assert server.receive() == b"0123456789"  # what got through stays readable
    with pytest.raises(sockspec.ConnectionReset):
        server.receive()
    with pytest.raises(sockspec.BrokenPipe):
        client.send(b"more")
    assert len(memory_network.events("reset")) >= 2


def test_refused_address(memory_network: Network) -> None:
    serve(memory_network)
    refuse = memory_network.add_rule(Refuse(dst="server", port=7000))
    with refuse, pytest.raises(sockspec.ConnectionRefused):
        connect()
    assert connect().is_connected


def test_black_hole_makes_connect_wait_for_its_timeout(memory_network: Network) -> None:
    serve(memory_network)
    memory_network.add_rule(BlackHole(dst="server"))
    with pytest.raises(sockspec.Timeout):
        connect(timeout=7)
    assert memory_network.now == pytest.approx(7)
    sock = Socket()
    with pytest.raises(sockspec.Timeout, match="Connection timed out"):
        sock.connect("server", 7000)  # Linux gives up after about 127 s
    assert memory_network.now == pytest.approx(7 + 127)


# -- short reads and writes, slow readers ----------------------------------------------


def test_short_reads_and_writes_keep_the_bytes(memory_network: Network) -> None:
    lst = serve(memory_network)
    client = connect()
    server = lst.accept()
    memory_network.add_rule(ShortReads())
    memory_network.add_rule(ShortWrites())
    payload = bytes(range(256)) * 40
    client.send(payload)  # blocking: all of it, in random pieces
    client.shutdown(sockspec.SHUT_WR)
    pieces = []
    while chunk := server.receive(4096):
        pieces.append(chunk)
    assert b"".join(pieces) == payload
    assert len(pieces) > len(payload) // 4096 + 1
    client.timeout = 0
    server.timeout = 0
    assert 1 <= server.send(b"y" * 1000) <= 1000


def test_slow_reader_creates_backpressure(memory_network: Network) -> None:
    lst = serve(memory_network)
    client = connect(timeout=None)  # type: ignore[arg-type]
    server = lst.accept()
    memory_network.add_rule(SlowReader(delay=0.5, socket=server))
    started = memory_network.now
    received = []

    def read() -> None:
        while chunk := server.receive(65536):
            received.append(len(chunk))

    thread = threading.Thread(target=read)
    thread.start()
    client.send(b"x" * 1_000_000)
    client.shutdown(sockspec.SHUT_WR)
    thread.join(10)
    assert sum(received) == 1_000_000
    assert memory_network.now - started >= 0.5 * (1_000_000 // 147456)


# -- validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Latency(-1), "delay"),
        (lambda: Loss(rate=1.5), "rate"),
        (lambda: Duplicate(rate=-0.1), "rate"),
        (lambda: Reorder(rate=0.5, delay=-2), "delay"),
        (lambda: Uniform(0.2, 0.1), "high"),
        (lambda: Normal(0.1, -1), "stddev"),
        (lambda: Reset(after_bytes=-5), "after_bytes"),
        (lambda: Latency(0.1, port=70000), "port"),
    ],
)
def test_impossible_values_name_the_field(make: object, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        make()  # type: ignore[operator]


def test_unknown_hosts_name_the_field(memory_network: Network) -> None:
    with pytest.raises(ValueError, match="src: unknown host 'nope'"):
        memory_network.add_rule(Loss(rate=0.5, src="nope"))
    with pytest.raises(ValueError, match="dst"):
        memory_network.partition("local", "nope")
    with pytest.raises(ValueError, match="socket"):
        memory_network.add_rule(Loss(rate=0.5, socket=object()))


def test_rules_list_and_clear(memory_network: Network) -> None:
    a = memory_network.latency(0.1)
    b = memory_network.add_rule(Loss(rate=0.1))
    assert memory_network.rules == [a, b]
    memory_network.clear_rules()
    assert memory_network.rules == []
    a.remove()  # idempotent
