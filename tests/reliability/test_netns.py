"""The OS backends under real network faults, made by the kernel.

Every test builds its own pair of network namespaces joined by a veth link
(:mod:`_netns`) and injects a fault the kernel itself produces: a rate
limit, tail drops from a tiny queue, the link going down and up, the MTU
shrinking mid-transfer, routes that swallow packets, and (where the kernel
has ``sch_netem``) delay, jitter, loss, reordering, duplication and
corruption.  Under each, a payload echoed through the link must come back
byte-exact (SHA-256 of what was sent, what the server got and what came
back), timeouts must fire within their bound, and nothing may hang: every
socket has a timeout, every loop a count and a deadline, every thread a
bounded join.

Needs root and iproute2; elsewhere each test is skipped with the reason.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from _netns import (
    ADDRESS_A_HIDDEN,
    ADDRESS_B,
    ADDRESS_SILENT,
    VethLink,
    netns_unavailable,
    qdisc_unavailable,
    run_ip,
)

import sockspec
from sockspec import SHUT_WR, Socket
from sockspec.conformance.harness import Harness

pytestmark = pytest.mark.timeout(120)

OS_BACKENDS = ["stdlib", "selectors"]
#: (client backend, server backend): each OS backend alone, then mixed.
PAIRS = [("stdlib", "stdlib"), ("selectors", "selectors"), ("stdlib", "selectors")]
CHUNK = 64 * 1024
#: Rate limit that makes a transfer last long enough to be interrupted.
SHAPED = ("tbf", "rate", "40mbit", "burst", "32kb", "latency", "400ms")


@pytest.fixture
def link() -> Iterator[VethLink]:
    reason = netns_unavailable()
    if reason is not None:
        pytest.skip(reason)
    made = VethLink()
    try:
        yield made
    finally:
        made.close()


def _harness(client: str, server: str, io_timeout: float = 20.0) -> Harness:
    return Harness(
        sockspec.get_backend(client),
        sockspec.get_backend(server),
        io_timeout=io_timeout,
    )


def _payload(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _connected(
    link: VethLink, h: Harness, timeout: float | None = None
) -> tuple[Socket, Socket]:
    """``(client in a, server in b)`` connected over the veth link."""
    t = h.io_timeout if timeout is None else timeout
    listener = h.track(link.b.run(lambda: Socket(backend=h.server, timeout=t)))
    listener.bind(ADDRESS_B, 0)
    listener.listen(1)
    client = h.track(link.a.run(lambda: Socket(backend=h.client, timeout=t)))
    client.connect(ADDRESS_B, listener.local_port)
    server = h.accept(listener)
    listener.close()
    return client, server


def _echo_until_end(conn: Socket, limit: int, deadline: float) -> tuple[str, int]:
    """Echo everything back; at end of stream shut down; return hash and count."""
    digest = hashlib.sha256()
    total = 0
    for _ in range(limit):  # each round moves at least one byte
        assert time.monotonic() < deadline, "server: transfer overran its deadline"
        data = conn.receive(CHUNK)
        if not data:
            conn.shutdown(SHUT_WR)
            return digest.hexdigest(), total
        digest.update(data)
        total += len(data)
        conn.send(data)
    raise AssertionError(f"server: more than {limit} receives")


def echo_through(
    link: VethLink,
    client_backend: str,
    server_backend: str,
    size: int,
    *,
    fault: Callable[[], None] | None = None,
    fault_at: float = 0.2,
    budget: float = 60.0,
) -> float:
    """Echo *size* random bytes from ``a`` through a server in ``b``.

    *fault* runs in its own thread once a fraction *fault_at* of the echo
    is back.  Asserts that the server got, and the client got back, exactly
    what was sent; returns the elapsed seconds.
    """
    h = _harness(client_backend, server_backend)
    payload = _payload(size)
    started = time.monotonic()
    deadline = started + budget
    try:
        client, server = _connected(link, h)
        echo = h.thread(lambda: _echo_until_end(server, size + 1, deadline), "echo")

        def send_all() -> None:
            view = memoryview(payload)
            for offset in range(0, size, CHUNK):
                assert time.monotonic() < deadline, "client: sending overran"
                client.send(view[offset : offset + CHUNK])
            client.shutdown(SHUT_WR)

        sender = h.thread(send_all, "sender")
        back = hashlib.sha256()
        got = 0
        injector = None
        for _ in range(size + 1):
            assert time.monotonic() < deadline, f"echo stalled at {got} of {size}"
            data = client.receive(CHUNK)
            if not data:
                break
            back.update(data)
            got += len(data)
            if fault is not None and injector is None and got >= size * fault_at:
                injector = h.thread(fault, "fault")
        sender.result()
        server_digest, server_count = echo.result()
        if injector is not None:
            injector.result()
        elapsed = time.monotonic() - started
        assert server_count == size, f"server got {server_count} of {size} bytes"
        assert server_digest == _digest(payload), "server got different bytes"
        assert got == size, f"client got {got} of {size} bytes back"
        assert back.hexdigest() == _digest(payload), "echo differs from what was sent"
        assert fault is None or injector is not None, "the fault was never injected"
        return elapsed
    finally:
        stuck = h.close()
        assert not stuck, f"threads did not end: {stuck}"


# -- transfers under faults -------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("client", "server"), PAIRS)
def test_rate_limited_link_delivers_every_byte(
    link: VethLink, client: str, server: str
) -> None:
    link.qdisc(*SHAPED)
    size = 4 << 20
    elapsed = echo_through(link, client, server, size)
    # 4 MiB each way through 40 Mbit/s cannot take less than ~0.84 s: the
    # shaper was really in the path.
    assert elapsed > size * 8 / 40e6 * 0.8, f"too fast for the shaper: {elapsed}"


@pytest.mark.slow
@pytest.mark.parametrize(("client", "server"), PAIRS)
def test_tail_drops_are_repaired(link: VethLink, client: str, server: str) -> None:
    # A 24 KB queue behind a 20 Mbit/s shaper overflows at every burst:
    # the kernel drops packets and TCP must retransmit them.
    link.qdisc("tbf", "rate", "20mbit", "burst", "16kb", "limit", "24kb")
    echo_through(link, client, server, 1 << 20)
    assert link.qdisc_drops() > 0, "the queue never overflowed: no loss was tested"
    assert link.retransmits() > 0, "TCP retransmitted nothing: no loss was tested"


@pytest.mark.slow
@pytest.mark.parametrize(("client", "server"), PAIRS)
def test_link_down_and_up_mid_transfer(
    link: VethLink, client: str, server: str
) -> None:
    link.qdisc(*SHAPED)
    outage: list[float] = []

    def flap() -> None:
        link.set_up(False)
        down = time.monotonic()
        time.sleep(1.5)
        link.set_up(True)
        outage.append(time.monotonic() - down)

    echo_through(link, client, server, 6 << 20, fault=flap)
    assert outage, "the link never came back up"
    assert outage[0] >= 1.5
    assert link.retransmits() > 0, "nothing was in flight during the outage"


@pytest.mark.slow
@pytest.mark.parametrize(("client", "server"), PAIRS)
def test_mtu_shrinks_and_grows_mid_transfer(
    link: VethLink, client: str, server: str
) -> None:
    link.qdisc(*SHAPED)

    def squeeze() -> None:
        for mtu in (1280, 576, 9000, 1500):
            link.set_mtu(mtu)
            time.sleep(0.3)

    echo_through(link, client, server, 6 << 20, fault=squeeze)


NETEM = {
    "delay": ("delay", "40ms"),
    "jitter": ("delay", "20ms", "15ms", "distribution", "normal"),
    "loss": ("loss", "3%"),
    "reorder": ("delay", "10ms", "reorder", "25%", "50%"),
    "duplicate": ("duplicate", "5%"),
    "corrupt": ("corrupt", "1%"),
    "all-at-once": (
        "delay", "15ms", "5ms", "loss", "1%", "duplicate", "1%", "reorder", "5%",
    ),
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(NETEM))
@pytest.mark.parametrize(("client", "server"), PAIRS)
def test_netem_faults(link: VethLink, client: str, server: str, fault: str) -> None:
    reason = qdisc_unavailable("netem", "delay", "1ms")
    if reason is not None:
        pytest.skip(reason)
    link.qdisc("netem", *NETEM[fault])
    echo_through(link, client, server, 2 << 20)


# -- timeouts and route errors ---------------------------------------------------


def _connect_timeout(link: VethLink, backend: str, source: str | None) -> None:
    h = _harness(backend, backend)
    try:
        sock = h.track(link.a.run(lambda: Socket(backend=backend, timeout=5.0)))
        if source is not None:
            sock.bind(source)
        target = ADDRESS_SILENT if source is None else ADDRESS_B
        started = h.monotonic()
        with h.raises(sockspec.Timeout, "connect into a black hole"):
            sock.connect(target, 80, timeout=0.5)
        h.assert_timed_out_in(started, 0.5)
        assert not sock.is_connected
    finally:
        assert not h.close()


@pytest.mark.parametrize("backend", OS_BACKENDS)
def test_connect_into_silence_times_out_in_bound(link: VethLink, backend: str) -> None:
    # The SYN is routed through b, which does not forward: no answer at all.
    _connect_timeout(link, backend, None)


@pytest.mark.parametrize("backend", OS_BACKENDS)
def test_connect_whose_answers_are_black_holed_times_out_in_bound(
    link: VethLink, backend: str
) -> None:
    # The SYN arrives, but b's route back to the source is a black hole.
    link.b.ip("route", "add", "blackhole", f"{ADDRESS_A_HIDDEN}/32")
    _connect_timeout(link, backend, ADDRESS_A_HIDDEN)


ROUTE_ERRORS: dict[str, type[sockspec.SocketError]] = {
    # Linux answers a local connect over a blackhole route with EINVAL.
    "blackhole": sockspec.SocketError,
    "unreachable": sockspec.HostUnreachable,
    "prohibit": sockspec.PermissionDenied,
}


@pytest.mark.parametrize("kind", sorted(ROUTE_ERRORS))
@pytest.mark.parametrize("backend", OS_BACKENDS)
def test_route_errors_fail_at_once(link: VethLink, backend: str, kind: str) -> None:
    link.a.ip("route", "add", kind, "10.88.0.0/24")
    with link.a.run(lambda: Socket(backend=backend, timeout=5.0)) as sock:
        started = time.monotonic()
        with pytest.raises(ROUTE_ERRORS[kind]):
            sock.connect("10.88.0.1", 80)
        assert time.monotonic() - started < 1.0
        assert not sock.is_connected


@pytest.mark.parametrize("backend", OS_BACKENDS)
def test_receive_times_out_in_bound_while_the_link_is_down(
    link: VethLink, backend: str
) -> None:
    h = _harness(backend, backend)
    try:
        client, server = _connected(link, h)
        link.set_up(False)
        server.send(b"lost in the outage")
        client.timeout = 0.5
        started = h.monotonic()
        with h.raises(sockspec.Timeout, "receive over a dead link"):
            client.receive()
        h.assert_timed_out_in(started, 0.5)
        link.set_up(True)
        client.timeout = 20.0
        assert h.receive_exactly(client, 18) == b"lost in the outage"
    finally:
        assert not h.close()


@pytest.mark.slow
@pytest.mark.parametrize(("client_be", "server_be"), PAIRS)
def test_send_timeout_during_outage_loses_and_repeats_nothing(
    link: VethLink, client_be: str, server_be: str
) -> None:
    """A send cut short by a dead link reports ``bytes_sent`` exactly.

    Sending the rest afterwards delivers the payload byte-exact: nothing
    counted as sent was lost, nothing was sent twice.
    """
    h = _harness(client_be, server_be)
    size = 16 << 20  # far more than the socket buffers hold
    payload = _payload(size, seed=11)
    try:
        client, server = _connected(link, h)
        got = h.thread(lambda: h.receive_exactly(server, size), "receiver")
        link.set_up(False)
        client.timeout = 1.0
        started = h.monotonic()
        with h.raises(sockspec.Timeout, "send over a dead link") as caught:
            client.send(payload)
        h.assert_timed_out_in(started, 1.0)
        sent = caught.value.bytes_sent
        assert 0 < sent < size, f"bytes_sent={sent}"
        link.set_up(True)
        client.timeout = 30.0
        assert client.send(payload[sent:]) == size - sent
        client.shutdown(SHUT_WR)
        assert _digest(got.result(60)) == _digest(payload)
    finally:
        assert not h.close()


def test_namespaces_are_removed_after_use() -> None:
    reason = netns_unavailable()
    if reason is not None:
        pytest.skip(reason)
    made = VethLink()
    names = {made.a.name, made.b.name}
    made.close()
    made.close()  # idempotent
    listed = run_ip("netns", "list").stdout
    assert not any(name in listed.split() for name in names), listed


def test_threads_entering_a_namespace_leave_the_caller_outside(
    link: VethLink,
) -> None:
    # The caller's own namespace is untouched: its loopback still answers.
    inside = link.a.run(lambda: Socket(backend="stdlib", timeout=2.0))
    with inside, Socket(backend="stdlib", timeout=2.0) as outside:
        outside.bind("127.0.0.1", 0)
        outside.listen()
        with pytest.raises(sockspec.ConnectionRefused):
            inside.connect("127.0.0.1", outside.local_port)
    assert threading.current_thread() is threading.main_thread()
