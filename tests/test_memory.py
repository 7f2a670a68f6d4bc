"""The memory network's model: addresses, ports, connections, data, datagrams.

Each test states one behaviour of Linux loopback sockets that the memory
backend reproduces.  Every blocking call has a timeout (virtual, so free).
"""

from __future__ import annotations

import errno
import socket as _socket
from collections.abc import Callable

import pytest

import sockspec
from sockspec import (
    AF_INET6,
    AF_UNIX,
    EVENT_READ,
    EVENT_WRITE,
    SHUT_RD,
    SHUT_WR,
    SO_BROADCAST,
    SO_LINGER,
    SO_RCVBUF,
    SO_REUSEADDR,
    SO_REUSEPORT,
    SOCK_DGRAM,
    Poller,
    Socket,
)
from sockspec.backends.memory import Host, MemoryBackend, Network, default_network

# These tests leave their sockets to the fixture on purpose: each states
# one behaviour, and the network is dropped after it.
pytestmark = pytest.mark.memory_network(check_leaks=False)


def listener(host: str = "127.0.0.1", port: int = 0, **kw: object) -> Socket:
    sock = Socket(timeout=5, **kw)  # type: ignore[arg-type]
    sock.bind(host, port)
    sock.listen()
    return sock


def pair(network: Network | None = None) -> tuple[Socket, Socket, Socket]:
    backend = network or None
    lst = Socket(timeout=5, backend=backend)
    lst.bind("127.0.0.1")
    lst.listen()
    client = Socket(timeout=5, backend=backend)
    client.connect("127.0.0.1", lst.local_port)
    return lst, client, lst.accept()


def until_would_block(call: Callable[[], int]) -> int:
    """Repeat a non-blocking *call* until WouldBlock; return the sum of results."""
    total = 0
    for _ in range(100_000):
        try:
            total += call()
        except sockspec.WouldBlock:
            return total
    raise AssertionError("the call never blocked")


# -- choosing the network --------------------------------------------------------------


def test_memory_name_means_the_installed_network(memory_network: Network) -> None:
    assert sockspec.get_backend("memory") is memory_network
    with Socket(backend="memory") as sock:
        sock.bind("127.0.0.1", 4000)
        assert memory_network.socket_info(sock).state == "BOUND"


def test_memory_name_without_installation_is_the_default_network() -> None:
    assert sockspec.get_backend("memory") is default_network()
    other = Network(seed=3)
    with sockspec.use_backend(other):
        assert sockspec.get_backend("memory") is other
        with sockspec.use_backend("stdlib"):
            assert sockspec.get_backend("memory") is other
    assert sockspec.get_backend("memory") is default_network()


def test_registry_keeps_one_front_object() -> None:
    from sockspec._registry import REGISTRY

    assert isinstance(REGISTRY._made("memory"), MemoryBackend)


def test_poller_by_name_accepts_sockets_of_the_installed_network(
    memory_network: Network,
) -> None:
    _, client, server = pair()
    with Poller(backend="memory") as poller:
        poller.register(server, EVENT_READ)
        assert poller.poll(0) == []
        client.send(b"x")
        [(key, events)] = poller.poll(1)
        assert key.socket is server
        assert events == EVENT_READ


def test_host_is_a_backend_and_pollers_are_per_host(memory_network: Network) -> None:
    db = memory_network.add_host("db")
    with Socket(backend=db) as sock, Poller(backend=db) as poller:
        poller.register(sock, EVENT_WRITE)
        assert sock.backend == "memory"
    assert isinstance(db, Host)
    local = Socket()
    with Poller(backend=db) as poller, pytest.raises(ValueError, match="backend"):
        poller.register(local, EVENT_READ)


def test_real_ports_are_invisible(memory_network: Network) -> None:
    real = _socket.socket()
    real.bind(("127.0.0.1", 0))
    real.listen()
    try:
        with Socket(timeout=1) as sock, pytest.raises(sockspec.ConnectionRefused):
            sock.connect("127.0.0.1", real.getsockname()[1])
    finally:
        real.close()


# -- addresses, names, ports -----------------------------------------------------------


def test_ephemeral_ports_are_in_the_linux_range(memory_network: Network) -> None:
    ports = set()
    for _ in range(20):
        sock = Socket()
        sock.bind("127.0.0.1")
        assert sock.local_port is not None
        assert 32768 <= sock.local_port <= 60999
        ports.add(sock.local_port)
    assert len(ports) == 20


def test_same_seed_same_ports() -> None:
    def ports(seed: int) -> list[int | None]:
        out = []
        net = Network(seed=seed)
        for _ in range(5):
            sock = Socket(backend=net)
            sock.bind("127.0.0.1")
            out.append(sock.local_port)
        return out

    assert ports(11) == ports(11)
    assert ports(11) != ports(12)


def test_address_in_use_and_reuseaddr(memory_network: Network) -> None:
    first = listener()
    port = first.local_port
    with Socket() as second, pytest.raises(sockspec.AddressInUse) as info:
        second.bind(None, port)
    assert info.value.errno == errno.EADDRINUSE
    with Socket() as third:
        third.set_option(SO_REUSEADDR, True)
        with pytest.raises(sockspec.AddressInUse):
            third.bind("127.0.0.1", port)  # the other one did not set it
    first.close()
    with Socket() as again:
        again.bind("127.0.0.1", port)  # nothing left behind


def test_time_wait_blocks_rebinding_without_reuseaddr(memory_network: Network) -> None:
    lst, client, server = pair()
    port = lst.local_port
    server.close()  # the server closes first: its port enters TIME_WAIT
    assert client.receive() == b""
    client.close()
    lst.close()
    assert any(r.state == "TIME_WAIT" for r in memory_network.netstat())
    with Socket() as sock, pytest.raises(sockspec.AddressInUse):
        sock.bind("127.0.0.1", port)
    with Socket() as sock:
        sock.set_option(SO_REUSEADDR, True)
        with pytest.raises(sockspec.AddressInUse):  # Linux: the old one needs it too
            sock.bind("127.0.0.1", port)
    memory_network.advance(61)
    with Socket() as sock:
        sock.bind("127.0.0.1", port)


def test_listeners_sharing_a_port_come_and_go_in_any_order(
    memory_network: Network,
) -> None:
    # Linux: SO_REUSEPORT listeners share a port; the others keep accepting
    # when one closes, and the port is free once all are gone.  (The port
    # table keeps a port one socket holds alone apart from a port's list.)
    def reuse_listener() -> Socket:
        sock = Socket(timeout=5)
        sock.set_option(SO_REUSEPORT, True)
        sock.bind("127.0.0.1", 7000)
        sock.listen()
        return sock

    def served_by(lst: Socket) -> None:
        with Socket(timeout=5) as client:
            client.connect("127.0.0.1", 7000)
            with lst.accept() as server:
                client.send(b"hi")
                assert server.receive() == b"hi"
                client.close()  # the client closes first: TIME_WAIT is its port's
                assert server.receive() == b""

    first, second = reuse_listener(), reuse_listener()
    first.close()
    served_by(second)
    third = reuse_listener()
    second.close()
    served_by(third)
    with Socket() as other, pytest.raises(sockspec.AddressInUse):
        other.bind("127.0.0.1", 7000)  # no SO_REUSEPORT: the port is taken
    third.close()
    with listener(port=7000) as alone:
        served_by(alone)
        alone.shutdown(SHUT_RD)  # a stopped listener keeps its port
        with Socket(timeout=5) as client, pytest.raises(sockspec.ConnectionRefused):
            client.connect("127.0.0.1", 7000)
        with Socket() as other, pytest.raises(sockspec.AddressInUse):
            other.bind("127.0.0.1", 7000)
    with listener(port=7000):
        pass


def test_time_wait_entries_of_one_port_each_block_it_until_they_expire(
    memory_network: Network,
) -> None:
    # A server that closes its connections first leaves one TIME_WAIT entry
    # per connection on its own port; the port is free once all expire.
    lst = listener()
    port = lst.local_port
    for delay in (0, 30):
        memory_network.advance(delay)
        client = Socket(timeout=5)
        client.connect("127.0.0.1", port)
        server = lst.accept()
        server.close()
        assert client.receive() == b""
        client.close()
    lst.close()
    rows = [r for r in memory_network.netstat() if r.state == "TIME_WAIT"]
    assert len(rows) == 2
    memory_network.advance(31)  # the first entry has expired, not the second
    with Socket() as sock, pytest.raises(sockspec.AddressInUse):
        sock.bind("127.0.0.1", port)
    assert len([r for r in memory_network.netstat() if r.state == "TIME_WAIT"]) == 1
    memory_network.advance(30)
    with Socket() as sock:
        sock.bind("127.0.0.1", port)


def test_bind_to_a_foreign_address_is_not_available(memory_network: Network) -> None:
    with Socket() as sock, pytest.raises(sockspec.AddressNotAvailable):
        sock.bind("10.99.0.1")


def test_names_resolve_and_unknown_names_are_host_not_found(
    memory_network: Network,
) -> None:
    db = memory_network.add_host("db", "10.1.0.5", "fd00::5")
    memory_network.add_name("database.internal", "10.1.0.5")
    with Socket(AF_INET6, backend=db) as srv:
        srv.bind(None, 5432)  # "::" takes IPv4 too
        srv.listen()
        for name in ("db", "database.internal", "10.1.0.5"):
            with Socket(timeout=1) as client:
                client.connect(name, 5432)
                assert client.remote_address == "10.1.0.5"
                assert client.local_address == memory_network.local.ipv4[0]
        with Socket(AF_INET6, timeout=1) as client:
            client.connect("db", 5432)  # dual-stack listener
            assert client.remote_address == "fd00::5"
    with Socket() as client, pytest.raises(sockspec.HostNotFound) as info:
        client.connect("nowhere.invalid", 80)
    assert info.value.errno == _socket.EAI_NONAME


def test_localhost_and_loopback_on_every_host(memory_network: Network) -> None:
    db = memory_network.add_host("db")
    with Socket(backend=db, timeout=1) as srv:
        srv.bind("127.0.0.1", 80)
        srv.listen()
        with Socket(backend=db, timeout=1) as client:
            client.connect("localhost", 80)
        # Another host's loopback is its own: nothing listens there.
        with Socket(timeout=1) as other, pytest.raises(sockspec.ConnectionRefused):
            other.connect("127.0.0.1", 80)


def test_dual_stack_listener_shows_mapped_addresses(memory_network: Network) -> None:
    lst = Socket(AF_INET6, timeout=1)
    lst.bind(None, 7000)
    lst.listen()
    client = Socket(timeout=1)
    client.connect("127.0.0.1", 7000)
    server = lst.accept()
    assert server.remote_address == "::ffff:127.0.0.1"
    assert server.local_address == "::ffff:127.0.0.1"


def test_bad_host_configuration_is_a_value_error(memory_network: Network) -> None:
    memory_network.add_host("a", "10.2.0.1")
    with pytest.raises(ValueError, match="name"):
        memory_network.add_host("a")
    with pytest.raises(ValueError, match="addresses"):
        memory_network.add_host("b", "10.2.0.1")
    with pytest.raises(ValueError, match="addresses"):
        memory_network.add_host("c", "not-an-ip")


# -- connections -----------------------------------------------------------------------


def test_refused_when_nothing_listens(memory_network: Network) -> None:
    with Socket(timeout=1) as sock, pytest.raises(sockspec.ConnectionRefused) as info:
        sock.connect("127.0.0.1", 1)
    assert info.value.errno == errno.ECONNREFUSED
    assert memory_network.events("refuse")


def test_backlog_holds_backlog_plus_one_then_connect_times_out(
    memory_network: Network,
) -> None:
    lst = Socket()
    lst.bind("127.0.0.1")
    lst.listen(1)
    clients = []
    for _ in range(2):
        sock = Socket(timeout=0.5)
        sock.connect("127.0.0.1", lst.local_port)
        clients.append(sock)
    late = Socket(timeout=0.5)
    started = memory_network.now
    with pytest.raises(sockspec.Timeout):
        late.connect("127.0.0.1", lst.local_port)
    assert memory_network.now - started == pytest.approx(0.5)
    lst.close()  # queued, never-accepted connections are reset
    for sock in clients:
        with pytest.raises(sockspec.ConnectionReset):
            sock.receive()


def test_non_blocking_connect_is_in_progress_then_connected(
    memory_network: Network,
) -> None:
    lst = listener()
    sock = Socket(timeout=0)
    with pytest.raises(sockspec.WouldBlock) as info:
        sock.connect("127.0.0.1", lst.local_port)
    assert info.value.errno == errno.EINPROGRESS
    sock.connect("127.0.0.1", lst.local_port)  # EISCONN: the connect finished
    assert sock.is_connected
    assert sock.is_writable
    with pytest.raises(sockspec.AlreadyConnected):
        sock.connect("127.0.0.1", lst.local_port)


def test_half_close(memory_network: Network) -> None:
    _, client, server = pair()
    client.send(b"request")
    client.shutdown(SHUT_WR)
    assert server.receive() == b"request"
    assert server.receive() == b""
    server.send(b"reply")
    assert client.receive() == b"reply"
    with pytest.raises(sockspec.BrokenPipe):
        client.send(b"more")
    assert not client.is_writable


def test_shut_rd_reads_eof_but_queued_data_first(memory_network: Network) -> None:
    _, client, server = pair()
    server.send(b"queued")
    client.shutdown(SHUT_RD)
    assert client.receive() == b"queued"
    assert client.receive() == b""


def test_close_with_unread_data_resets_the_peer(memory_network: Network) -> None:
    _, client, server = pair()
    server.send(b"left over")
    client.send(b"unread by server")
    server.close()  # data from the client was never read: RST, not FIN
    assert client.receive() == b"left over"  # what had arrived stays readable
    with pytest.raises(sockspec.ConnectionReset) as info:
        client.receive()
    assert info.value.errno == errno.ECONNRESET
    assert client.receive() == b""
    with pytest.raises(sockspec.BrokenPipe):
        client.send(b"x")
    assert any(e.kind == "reset" for e in memory_network.events())


def test_send_after_peer_closed_succeeds_once_then_broken_pipe(
    memory_network: Network,
) -> None:
    _, client, server = pair()
    server.close()
    assert client.send(b"x") == 1  # the peer answers with a reset
    with pytest.raises(sockspec.BrokenPipe):
        client.send(b"x")
    assert client.receive() == b""


def test_linger_zero_resets(memory_network: Network) -> None:
    _, client, server = pair()
    server.set_option(SO_LINGER, 0)
    server.close()
    with pytest.raises(sockspec.ConnectionReset):
        client.receive()


# -- buffers and backpressure ----------------------------------------------------------


def test_bounded_buffer_blocks_writer_until_reader_drains(
    memory_network: Network,
) -> None:
    _, client, server = pair()
    client.timeout = 0
    sent = until_would_block(lambda: client.send(b"x" * 65536))
    assert sent == server.get_option(SO_RCVBUF) + client.get_option(sockspec.SO_SNDBUF)
    assert not client.is_writable
    server.receive(1000)
    assert client.is_writable
    assert client.send(b"y" * 5000) == 1000  # only what fits


def test_so_rcvbuf_shrinks_the_window(memory_network: Network) -> None:
    lst = listener()
    client = Socket(timeout=0)
    client.set_option(sockspec.SO_SNDBUF, 1)  # Linux minimum: 4608
    with pytest.raises(sockspec.WouldBlock):
        client.connect("127.0.0.1", lst.local_port)
    server = lst.accept()
    server.set_option(SO_RCVBUF, 1)  # Linux minimum: 2304
    assert server.get_option(SO_RCVBUF) == 2304
    assert client.send(b"z" * 100_000) == 2304 + 4608


def test_send_timeout_reports_bytes_sent(memory_network: Network) -> None:
    _, client, _server = pair()
    client.timeout = 2
    started = memory_network.now
    with pytest.raises(sockspec.Timeout) as info:
        client.send(b"x" * 1_000_000)
    assert info.value.bytes_sent == 131072 + 16384
    assert memory_network.now - started == pytest.approx(2)


def test_stream_coalesces_and_splits_like_tcp(memory_network: Network) -> None:
    _, client, server = pair()
    for part in (b"ab", b"cd", b"ef"):
        client.send(part)
    assert server.receive(3) == b"abc"
    assert server.receive() == b"def"


# -- datagrams -------------------------------------------------------------------------


def test_datagram_boundaries_truncation_and_sender(memory_network: Network) -> None:
    a = Socket(type=SOCK_DGRAM, timeout=1)
    b = Socket(type=SOCK_DGRAM, timeout=1)
    b.bind("127.0.0.1")
    a.send_to("127.0.0.1", b.local_port, b"hello world")
    a.send_to("127.0.0.1", b.local_port, b"")
    a.send_to("127.0.0.1", b.local_port, b"third")
    assert b.receive(5) == b"hello"  # the rest of the datagram is gone
    empty = b.receive_from()
    assert empty.data == b""
    assert empty.address == "127.0.0.1"
    assert empty.port == a.local_port
    assert b.receive() == b"third"


def test_datagrams_to_nowhere_are_dropped_silently(memory_network: Network) -> None:
    with Socket(type=SOCK_DGRAM) as sock:
        assert sock.send_to("127.0.0.1", 9, b"lost") == 4
        assert sock.send_to("10.77.0.1", 9, b"lost") == 4
    assert len(memory_network.events("drop")) == 2


def test_connected_udp_hears_port_unreachable(memory_network: Network) -> None:
    sock = Socket(type=SOCK_DGRAM, timeout=0)
    sock.connect("127.0.0.1", 9)
    sock.send(b"x")
    assert sock.is_readable
    assert not sock.is_writable
    with pytest.raises(sockspec.ConnectionRefused):
        sock.receive()
    with pytest.raises(sockspec.WouldBlock):
        sock.receive()


def test_unconnected_udp_send_is_not_connected(memory_network: Network) -> None:
    with Socket(type=SOCK_DGRAM) as sock, pytest.raises(sockspec.NotConnected):
        sock.send(b"x")


def test_oversized_datagram(memory_network: Network) -> None:
    with Socket(type=SOCK_DGRAM) as sock, pytest.raises(sockspec.MessageTooLong):
        sock.send_to("127.0.0.1", 9, b"x" * 65508)


def test_full_receive_buffer_drops_datagrams(memory_network: Network) -> None:
    rx = Socket(type=SOCK_DGRAM, timeout=0)
    rx.bind("127.0.0.1")
    rx.set_option(SO_RCVBUF, 4096)
    tx = Socket(type=SOCK_DGRAM)
    for _ in range(100):
        tx.send_to("127.0.0.1", rx.local_port, b"x" * 1000)
    got = until_would_block(lambda: rx.receive() and 1)
    assert 0 < got < 100
    assert any("buffer full" in e.detail for e in memory_network.events("drop"))


def test_broadcast_needs_so_broadcast(memory_network: Network) -> None:
    other = memory_network.add_host("other")
    rx_here = Socket(type=SOCK_DGRAM, timeout=1)
    rx_here.bind(None, 6000)
    rx_there = Socket(type=SOCK_DGRAM, backend=other, timeout=1)
    rx_there.bind(None, 6000)
    tx = Socket(type=SOCK_DGRAM)
    with pytest.raises(sockspec.PermissionDenied):
        tx.send_to("255.255.255.255", 6000, b"all")
    tx.set_option(SO_BROADCAST, True)
    tx.send_to("255.255.255.255", 6000, b"all")
    assert rx_here.receive() == b"all"
    assert rx_there.receive() == b"all"


# -- UNIX sockets ----------------------------------------------------------------------


def test_unix_stream_and_stale_paths(memory_network: Network) -> None:
    lst = Socket(AF_UNIX, timeout=1)
    lst.bind("/run/app.sock")
    lst.listen()
    client = Socket(AF_UNIX, timeout=1)
    client.connect("/run/app.sock")
    server = lst.accept()
    assert client.remote_address == "/run/app.sock"
    assert server.local_address == "/run/app.sock"
    assert server.remote_address is None
    client.send(b"ping")
    assert server.receive() == b"ping"
    lst.close()
    with Socket(AF_UNIX) as sock, pytest.raises(sockspec.ConnectionRefused):
        sock.connect("/run/app.sock")  # the file is still there
    with Socket(AF_UNIX) as sock, pytest.raises(sockspec.AddressInUse):
        sock.bind("/run/app.sock")
    memory_network.local.unlink("/run/app.sock")
    with Socket(AF_UNIX) as sock, pytest.raises(sockspec.SocketError) as info:
        sock.connect("/run/app.sock")
    assert info.value.errno == errno.ENOENT


def test_unix_datagrams_wait_for_queue_room(memory_network: Network) -> None:
    rx = Socket(AF_UNIX, SOCK_DGRAM)
    rx.bind("/tmp/rx")
    tx = Socket(AF_UNIX, SOCK_DGRAM, timeout=0)
    sent = until_would_block(lambda: tx.send_to("/tmp/rx", None, b"d"))
    assert sent == 11  # like net.unix.max_dgram_qlen = 10
    assert rx.receive_from().address is None  # the sender is unbound


# -- Poller ----------------------------------------------------------------------------


def test_poller_readiness_matches_linux(memory_network: Network) -> None:
    lst = Socket()
    lst.bind("127.0.0.1")
    fresh = Socket()
    with Poller() as poller:
        both = EVENT_READ | EVENT_WRITE
        poller.register(fresh, both)
        # An unconnected TCP socket reports POLLHUP|POLLOUT: both events.
        assert [ev for _, ev in poller.poll(0)] == [both]
        lst.listen()
        poller.register(lst, both)
        client = Socket(timeout=1)
        client.connect("127.0.0.1", lst.local_port)
        ready = {key.socket: ev for key, ev in poller.poll(0)}
        assert ready[lst] == EVENT_READ
        server = lst.accept()
        poller.register(server, both)
        ready = {key.socket: ev for key, ev in poller.poll(0)}
        assert ready[server] == EVENT_WRITE
        client.close()
        ready = {key.socket: ev for key, ev in poller.poll(0)}
        assert ready[server] == both  # EOF is readable


def test_poller_waits_in_virtual_time(memory_network: Network) -> None:
    sock = Socket(type=SOCK_DGRAM)
    sock.bind("127.0.0.1")
    with Poller() as poller:
        poller.register(sock, EVENT_READ)
        assert poller.poll(30) == []
    assert memory_network.now == pytest.approx(30)


def test_poller_drops_closed_sockets(memory_network: Network) -> None:
    sock = Socket(type=SOCK_DGRAM)
    with Poller() as poller:
        poller.register(sock, EVENT_WRITE)
        sock.close()
        assert len(poller) == 0
        assert poller.poll(0) == []


# -- inspection ------------------------------------------------------------------------


def test_netstat_and_event_log(memory_network: Network) -> None:
    memory_network.record_data = True
    _lst, client, server = pair()
    client.send(b"12345")
    rows = {r.id: r for r in memory_network.netstat()}
    states = sorted(r.state for r in rows.values())
    assert states == ["ESTABLISHED", "ESTABLISHED", "LISTEN"]
    info = memory_network.socket_info(server)
    assert info.recv_q == 5
    assert info.remote == f"127.0.0.1:{client.local_port}"
    assert server.receive() == b"12345"
    kinds = [e.kind for e in memory_network.events()]
    assert kinds[:4] == ["bind", "listen", "connect", "accept"]
    assert [e.nbytes for e in memory_network.events("send")] == [5]
    assert [e.nbytes for e in memory_network.events("deliver")] == [5]
    table = memory_network.format_netstat()
    assert "LISTEN" in table
    assert "Recv-Q" in table
    assert "connect" in memory_network.format_events()


def test_netstat_shows_a_refused_socket_closed_until_it_takes_a_port(
    memory_network: Network,
) -> None:
    """A refused connect gave its ephemeral port back: not BOUND any more."""
    with Socket() as gone:
        gone.bind("127.0.0.1")
        port = gone.local_port
    with Socket() as sock:
        with pytest.raises(sockspec.ConnectionRefused):
            sock.connect("127.0.0.1", port)
        info = memory_network.socket_info(sock)
        assert (info.state, info.local) == ("CLOSED", f"0.0.0.0:{sock.local_port}")
        sock.listen()
        assert memory_network.socket_info(sock).state == "LISTEN"


def test_event_log_is_a_bounded_ring_by_default() -> None:
    """A long-lived network keeps the newest events only, in bounded memory."""
    network = Network(seed=1)
    size = network.event_log_size
    assert size == 10_000
    with Socket(type=SOCK_DGRAM, backend=network) as beat:
        for i in range(size + 500):  # heartbeats to nowhere: one drop each
            beat.send_to("127.0.0.1", 9, b"%d" % i)
    events = network.events()
    assert len(events) == size
    assert events[-1].kind == "close"
    drops = network.events("drop")
    assert drops[-1].nbytes == len(b"%d" % (size + 499))
    assert network.events_discarded > 0
    assert len(events) + network.events_discarded == size + 500 + 1  # close
    assert network.format_events().startswith(
        f"({network.events_discarded} earlier events discarded"
    )


def test_event_log_size_can_be_changed_or_unbounded() -> None:
    small = Network(seed=1, event_log_size=3)
    full = Network(seed=1, event_log_size=None)
    for network in (small, full):
        with Socket(type=SOCK_DGRAM, backend=network) as beat:
            for _ in range(50):
                beat.send_to("127.0.0.1", 9, b"x")
    assert [e.kind for e in small.events()] == ["drop", "drop", "close"]
    assert small.events_discarded == 48
    assert len(full.events()) == 51
    assert full.events_discarded == 0
    assert full.event_log_size is None
    small.clear_events()
    assert small.events() == []
    assert small.events_discarded == 0
    for bad in (0, -1):
        with pytest.raises(ValueError, match="event_log_size"):
            Network(event_log_size=bad)
    for wrong in (1.5, True, "10"):
        with pytest.raises(TypeError, match="event_log_size"):
            Network(event_log_size=wrong)  # type: ignore[arg-type]


def test_the_log_record_is_network_event_and_event_is_a_deprecated_alias(
    memory_network: Network,
) -> None:
    import sockspec.backends.memory as memory

    with Socket(type=SOCK_DGRAM) as sock:
        sock.bind("127.0.0.1")
    [entry] = memory_network.events("bind")
    assert type(entry) is memory.NetworkEvent
    assert memory.NetworkEvent is not sockspec.Event
    assert "Event" not in memory.__all__
    with pytest.warns(DeprecationWarning, match="NetworkEvent"):
        old = memory.Event  # type: ignore[attr-defined]
    assert old is memory.NetworkEvent
