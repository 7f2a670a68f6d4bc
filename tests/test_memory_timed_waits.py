"""Timed threading waits are timers: virtual time never jumps past them.

A thread in ``Event.wait(0.2)``, ``Queue.get(timeout=0.2)``, a
``threading.Timer`` or ``join(0.2)`` acts once its wall-clock timeout
expires.  The virtual clock may run ahead to that point at once, but not
past it until the thread has woken up: on Linux, what it does then happens
before any later deadline.  Each program here runs unchanged on the memory
network (virtual seconds) and, where it says so, on the real one.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

import pytest

import sockspec
from sockspec import Socket
from sockspec.backends.memory import Deadlock, Network


def pair(backend: object) -> tuple[Socket, Socket]:
    """A connected (client, server) pair on *backend*, listener closed."""
    with Socket(backend=backend, timeout=5) as lst:  # type: ignore[arg-type]
        lst.bind("127.0.0.1")
        lst.listen()
        client = Socket(backend=backend, timeout=5)  # type: ignore[arg-type]
        client.connect("127.0.0.1", lst.local_port)
        server = lst.accept()
    return client, server


def heartbeat(
    backend: object, clock: Callable[[], float], interval: float, timeout: float
) -> list[float]:
    """Times (by *clock*, from the start) at which four pings arrived.

    A heartbeat thread sends a ping every *interval* seconds of
    ``stop.wait(interval)``; the reader waits for each with a socket
    timeout of *timeout*.
    """
    client, server = pair(backend)
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            client.send(b"ping")

    arrivals: list[float] = []
    thread = threading.Thread(target=beat, name="heartbeat")
    with client, server:
        server.timeout = timeout
        start = clock()
        thread.start()
        try:
            received = 0
            while received < 4:
                data = server.receive(4096)
                # Two pings read at once on a slow machine count as two.
                for _ in range(len(data) // 4):
                    received += 1
                    arrivals.append(clock() - start)
        finally:
            stop.set()
            thread.join(5)
    assert not thread.is_alive()
    return arrivals


@pytest.mark.parametrize("schedule", ["seeded", "free"])
def test_heartbeat_pings_arrive_before_a_longer_socket_timeout(
    schedule: str,
) -> None:
    network = Network(seed=1, schedule=schedule)
    wall = time.monotonic()
    with network:
        arrivals = heartbeat(network, network.monotonic, 0.2, 2.0)
    # The clock did not jump to the reader's 2 s timeout while the heartbeat
    # thread waited: each ping came after one interval of virtual time.
    assert arrivals == pytest.approx([0.2, 0.4, 0.6, 0.8], abs=1e-6)
    # The price: the intervals were waited for in wall time.
    assert time.monotonic() - wall >= 0.8 - 0.01


def test_heartbeat_is_the_linux_behaviour(no_fd_leak: None) -> None:
    """The same program on real sockets gets the same four pings."""
    arrivals = heartbeat("stdlib", time.monotonic, 0.2, 2.0)
    assert len(arrivals) == 4
    assert arrivals[-1] < 2.0
    assert arrivals[0] >= 0.2 - 0.01


@pytest.mark.memory_network
def test_a_timer_fires_before_a_longer_socket_timeout(
    memory_network: Network,
) -> None:
    client, server = pair(memory_network)
    with client, server:
        timer = threading.Timer(0.3, client.send, args=(b"fire",))
        timer.start()
        server.timeout = 5
        try:
            assert server.receive() == b"fire"
        finally:
            timer.cancel()
            timer.join(5)
        assert memory_network.now == pytest.approx(0.3, abs=1e-6)


@pytest.mark.memory_network
def test_a_queue_get_with_a_timeout_ends_before_a_longer_socket_timeout(
    memory_network: Network,
) -> None:
    client, server = pair(memory_network)
    work: queue.Queue[bytes] = queue.Queue()

    def consume() -> None:
        # Reports each empty 0.25 s over the socket; two, then it stops.
        for _ in range(2):
            try:
                client.send(work.get(timeout=0.25))
            except queue.Empty:
                client.send(b"idle")

    thread = threading.Thread(target=consume, name="consumer")
    with client, server:
        server.timeout = 5
        thread.start()
        try:
            assert server.receive(4) == b"idle"
            # Queue.get waits for what is left of its timeout, by the wall
            # clock: a little less than 0.25 s.
            idle_at = memory_network.now
            assert idle_at == pytest.approx(0.25, abs=1e-3)
            work.put(b"item")
            assert server.receive(4) == b"item"
            assert memory_network.now == idle_at
        finally:
            thread.join(5)
    assert not thread.is_alive()


@pytest.mark.memory_network
def test_a_condition_wait_with_a_timeout_bounds_the_clock(
    memory_network: Network,
) -> None:
    client, server = pair(memory_network)
    cond = threading.Condition()

    def waiter() -> None:
        with cond:
            cond.wait(0.2)
        client.send(b"woke")

    thread = threading.Thread(target=waiter, name="waiter")
    with client, server:
        server.timeout = 60
        thread.start()
        try:
            assert server.receive() == b"woke"
        finally:
            thread.join(5)
        assert memory_network.now == pytest.approx(0.2, abs=1e-6)


@pytest.mark.memory_network
def test_join_with_a_timeout_returns_while_the_thread_still_waits(
    memory_network: Network,
) -> None:
    """As on Linux: ``join(0.3)`` does not see a 30 s timeout fire."""
    client, server = pair(memory_network)
    outcome: list[str] = []

    def serve() -> None:
        try:
            server.receive()
        except sockspec.Timeout:
            outcome.append(f"timeout at {memory_network.now:g}")
        except sockspec.SocketClosed:
            outcome.append("closed")

    thread = threading.Thread(target=serve, name="server")
    with client, server:
        server.timeout = 30
        thread.start()
        thread.join(0.3)
        assert thread.is_alive()
        assert outcome == []
        assert memory_network.now == pytest.approx(0.3, abs=1e-6)
        # A join long enough for the virtual timeout costs no wall time.
        wall = time.monotonic()
        thread.join(60)
        assert outcome == ["timeout at 30"]
        assert time.monotonic() - wall < 2.0


@pytest.mark.memory_network
def test_an_untimed_wait_is_still_idle(memory_network: Network) -> None:
    """A thread in ``Event.wait()`` can only be woken by another: the clock
    jumps an hour in milliseconds."""
    stop = threading.Event()
    got: queue.Queue[bytes] = queue.Queue()
    helper = threading.Thread(target=stop.wait, name="idle")
    consumer = threading.Thread(target=got.get, name="idle-consumer")
    helper.start()
    consumer.start()
    try:
        wall = time.monotonic()
        memory_network.sleep(3600)
        assert memory_network.now == pytest.approx(3600)
        assert time.monotonic() - wall < 1.0
    finally:
        stop.set()
        got.put(b"")
        helper.join(5)
        consumer.join(5)


@pytest.mark.memory_network
def test_a_timed_wait_longer_than_the_next_deadline_costs_no_wall_time(
    memory_network: Network,
) -> None:
    stop = threading.Event()
    helper = threading.Thread(target=stop.wait, args=(7200,), name="patient")
    helper.start()
    try:
        wall = time.monotonic()
        memory_network.sleep(3600)
        assert memory_network.now == pytest.approx(3600)
        assert time.monotonic() - wall < 1.0
    finally:
        stop.set()
        helper.join(5)


@pytest.mark.memory_network
def test_a_timed_waiter_that_never_touches_the_network_does_not_hang(
    memory_network: Network,
) -> None:
    """A thread ticking in ``stop.wait(0.05)`` forever: a 1 s virtual timeout
    still fires, after about 1 s of wall time (time follows its ticks)."""
    client, server = pair(memory_network)
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(0.05):
            pass

    thread = threading.Thread(target=tick, name="ticker")
    with client, server:
        server.timeout = 1
        thread.start()
        wall = time.monotonic()
        try:
            with pytest.raises(sockspec.Timeout):
                server.receive()
        finally:
            stop.set()
            thread.join(5)
        assert memory_network.now == pytest.approx(1.0)
        assert 0.9 <= time.monotonic() - wall < 5.0


@pytest.mark.memory_network
def test_a_deadlock_behind_a_timed_wait_is_still_reported(
    memory_network: Network,
) -> None:
    """The timed waiter wakes and ends without a network call: the receive
    that nothing can end is a Deadlock, not a hang."""
    client, server = pair(memory_network)
    server.timeout = None
    thread = threading.Thread(target=threading.Event().wait, args=(0.2,))
    with client, server:
        thread.start()
        wall = time.monotonic()
        try:
            with pytest.raises(Deadlock):
                server.receive()
        finally:
            thread.join(5)
        assert time.monotonic() - wall < 3.0


def test_a_heartbeat_replays_under_the_seeded_schedule() -> None:
    """Nothing else can happen before each wait's deadline: same log."""
    logs = []
    for _ in range(2):
        network = Network(seed=5, record_data=True)
        with network:
            heartbeat(network, network.monotonic, 0.05, 2.0)
            logs.append(network.format_events())
    assert "deliver" in logs[0]
    assert logs[0] == logs[1]


@pytest.mark.parametrize("cpu_time", ["read", "unknown"])
@pytest.mark.memory_network
def test_a_join_loop_advances_the_clock_join_by_join(
    memory_network: Network, cpu_time: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``while t.is_alive(): t.join(0.1)``: nothing in the frame tells one
    join from the next; each moves the clock by its timeout, no more.

    The thread's CPU time tells them apart; where it cannot be read (off
    Linux), wall time does, less exactly.
    """
    if cpu_time == "unknown":
        from sockspec.backends.memory import _timed

        monkeypatch.setattr(_timed, "_cpu", lambda ident: None)
    client, server = pair(memory_network)
    outcome: list[float] = []

    def serve() -> None:
        try:
            server.receive()
        except sockspec.Timeout:
            outcome.append(memory_network.now)

    thread = threading.Thread(target=serve, name="server")
    with client, server:
        server.timeout = 0.5
        thread.start()
        joins = 0
        while thread.is_alive() and joins < 50:
            thread.join(0.1)
            joins += 1
            # By wall time alone, a join slow to wake up (a loaded machine)
            # may be taken for the next one: only the end is certain.
            if thread.is_alive() and cpu_time == "read":
                assert memory_network.now == pytest.approx(0.1 * joins, abs=1e-6)
    assert outcome == [0.5]
    assert joins <= 6
    if cpu_time == "read":
        assert joins >= 4  # as on Linux: five joins of 0.1 s see it time out


def test_under_the_compat_clock_a_timed_wait_lasts_its_timeout() -> None:
    """``time.monotonic`` is virtual, the wait's timeout is wall time: the
    clock does not run ahead of it, so the wait measures what it lasts."""
    from sockspec import compat

    with Network(seed=4) as network, compat.patch(network, clock=True):
        client, server = pair(network)
        measured: list[float] = []

        def waiter() -> None:
            start = time.monotonic()
            threading.Event().wait(0.2)
            measured.append(time.monotonic() - start)
            client.send(b"done")

        thread = threading.Thread(target=waiter, name="waiter")
        with client, server:
            server.timeout = 5
            thread.start()
            try:
                assert server.receive() == b"done"
            finally:
                thread.join(5)
    assert measured == [pytest.approx(0.2, abs=1e-6)]
