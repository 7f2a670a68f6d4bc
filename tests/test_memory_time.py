"""Threads and virtual time on the memory network.

The rule under test: the clock moves only when every thread using the network
waits on it (or is blocked in a threading primitive such as ``join``); a wait
nothing can end raises Deadlock naming the sockets; a thread busy elsewhere
makes virtual time follow wall time instead of jumping.
"""

from __future__ import annotations

import queue
import threading
import time

import pytest

import sockspec
from sockspec import Socket
from sockspec.backends.memory import Deadlock, Network

# These tests leave their sockets to the fixture on purpose: each states
# one behaviour, and the network is dropped after it.
pytestmark = pytest.mark.memory_network(check_leaks=False)


def connected(network: Network) -> tuple[Socket, Socket]:
    lst = Socket(backend=network, timeout=5)
    lst.bind("127.0.0.1")
    lst.listen()
    client = Socket(backend=network, timeout=5)
    client.connect("127.0.0.1", lst.local_port)
    server = lst.accept()
    lst.close()
    return client, server


def test_a_30_second_timeout_costs_no_wall_time(memory_network: Network) -> None:
    client, _ = connected(memory_network)
    client.timeout = 30
    wall = time.monotonic()
    with pytest.raises(sockspec.Timeout):
        client.receive()
    assert memory_network.now == pytest.approx(30)
    assert memory_network.monotonic() == memory_network.now
    assert time.monotonic() - wall < 1.0


def test_a_wait_that_can_never_end_raises_deadlock(memory_network: Network) -> None:
    lst = Socket()
    lst.bind("127.0.0.1", 8080)
    lst.listen()
    wall = time.monotonic()
    with pytest.raises(Deadlock, match=r"accept\(\).*127\.0\.0\.1:8080"):
        lst.accept()
    assert time.monotonic() - wall < 1.0


def test_deadlock_names_every_waiting_thread(memory_network: Network) -> None:
    client, server = connected(memory_network)
    client.timeout = server.timeout = None
    errors: queue.Queue[BaseException] = queue.Queue()

    def serve() -> None:
        try:
            server.receive()
        except BaseException as exc:
            errors.put(exc)

    thread = threading.Thread(target=serve, name="fake-server")
    thread.start()
    with pytest.raises(Deadlock) as info:
        client.receive()
    thread.join(5)
    message = str(info.value)
    assert "fake-server" in message
    assert "MainThread" in message
    assert isinstance(errors.get(timeout=5), Deadlock)


def test_server_thread_timeout_while_main_thread_joins(memory_network: Network) -> None:
    """Main in Thread.join(60) counts as waiting: the clock jumps at once
    to the server's 30 s timeout, which comes before the join's own."""
    _, server = connected(memory_network)
    server.timeout = 30
    result: list[str] = []

    def serve() -> None:
        try:
            server.receive()
        except sockspec.Timeout:
            result.append(f"timeout at {memory_network.now:g}")

    thread = threading.Thread(target=serve)
    wall = time.monotonic()
    thread.start()
    thread.join(60)
    assert result == ["timeout at 30"]
    assert time.monotonic() - wall < 2.0


def test_close_from_another_thread_wakes_the_waiter(memory_network: Network) -> None:
    client, _ = connected(memory_network)
    client.timeout = None
    closer = threading.Timer(0.05, client.close)
    closer.start()
    with pytest.raises(sockspec.SocketClosed):
        client.receive()
    closer.join(5)


def test_busy_thread_keeps_virtual_time_near_wall_time(
    memory_network: Network,
) -> None:
    """A thread in time.sleep is busy elsewhere: no jump, time follows."""
    client, server = connected(memory_network)
    client.timeout = 10

    def late_reply() -> None:
        server.receive(1)  # registers the thread as a user of the network
        time.sleep(0.3)
        server.send(b"late")

    thread = threading.Thread(target=late_reply)
    thread.start()
    client.send(b"?")
    assert client.receive() == b"late"  # the 10 s timeout did not jump ahead
    thread.join(5)
    assert memory_network.now < 2.0


def test_network_sleep_is_virtual(memory_network: Network) -> None:
    wall = time.monotonic()
    memory_network.sleep(3600)
    assert memory_network.now == pytest.approx(3600)
    assert time.monotonic() - wall < 1.0


def test_timeouts_of_two_threads_fire_in_order(memory_network: Network) -> None:
    client, server = connected(memory_network)
    seen: list[tuple[str, float]] = []
    lock = threading.Lock()

    def wait(sock: Socket, name: str, seconds: float) -> None:
        sock.timeout = seconds
        try:
            sock.receive()
        except sockspec.Timeout:
            with lock:
                seen.append((name, memory_network.now))

    threads = [
        threading.Thread(target=wait, args=(client, "short", 2.0)),
        threading.Thread(target=wait, args=(server, "long", 7.0)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == [("short", 2.0), ("long", 7.0)]


def test_fixture_closes_the_network_after_the_test() -> None:
    network = Network(seed=1, stall_timeout=60)
    client, _ = connected(network)
    client.timeout = None
    errors: list[BaseException] = []

    def stuck() -> None:
        try:
            client.receive()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=stuck)
    thread.start()
    # Lets the thread run into its receive (the default seeded schedule
    # hands it the turn here; time.sleep() would keep the turn); the
    # sleeper's deadline means no deadlock is declared meanwhile.
    network.sleep(0.05)
    network.close()
    thread.join(5)
    assert len(errors) == 1
    assert isinstance(errors[0], sockspec.SocketClosed)


def test_scheduler_options_are_validated() -> None:
    with pytest.raises(ValueError, match="stall_timeout"):
        Network(stall_timeout=0)
    with pytest.raises(ValueError, match="realtime_after"):
        Network(realtime_after=-1)
    with pytest.raises(TypeError, match="seed"):
        Network(seed="x")  # type: ignore[arg-type]


def _send_in_thread(sock: Socket, payload: bytes) -> list[BaseException | int]:
    """Run ``sock.send`` in a thread; close *sock* if it has not ended in 5 s.

    Closing makes a spinning send end, so the failing version of the tests
    below fails instead of burning a core for the rest of the run.
    """
    outcome: list[BaseException | int] = []

    def run() -> None:
        try:
            outcome.append(sock.send(payload))
        except BaseException as exc:  # recorded for the assertion
            outcome.append(exc)

    before = threading.active_count()
    thread = threading.Thread(target=run, name="sender")
    thread.start()
    thread.join(5)
    if thread.is_alive():
        sock.close()
        thread.join(5)
        outcome.insert(0, AssertionError("send() did not return within 5 s"))
    assert threading.active_count() == before
    return outcome


@pytest.mark.parametrize("cause", ["backlog", "partition", "blackhole"])
def test_send_during_a_pending_connect_times_out_at_the_deadline(
    memory_network: Network, cause: str
) -> None:
    from sockspec.backends.memory import BlackHole

    lst = Socket()
    lst.bind("127.0.0.1")
    lst.listen(0)
    port = lst.local_port
    fillers = []
    if cause == "backlog":
        filler = Socket(timeout=1)
        filler.connect("127.0.0.1", port)  # the one place backlog 0 leaves
        fillers.append(filler)
    elif cause == "partition":
        db = memory_network.add_host("db")
        lst.close()
        lst = Socket(backend=db)
        lst.bind("0.0.0.0")
        lst.listen()
        port = lst.local_port
        memory_network.partition("local", "db")
    else:
        memory_network.add_rule(BlackHole(port=port))
    target = "127.0.0.1" if cause != "partition" else db.ipv4[0]
    sock = Socket(timeout=0)
    with pytest.raises(sockspec.WouldBlock):
        sock.connect(target, port)
    sock.timeout = 1.5
    started = memory_network.now
    outcome = _send_in_thread(sock, b"x")
    assert len(outcome) == 1, outcome
    assert isinstance(outcome[0], sockspec.Timeout), outcome
    assert outcome[0].bytes_sent == 0
    assert memory_network.now - started == pytest.approx(1.5)
    sock.close()
    for s in [*fillers, lst]:
        s.close()


@pytest.mark.parametrize("size", [1000, 30000, 100000])
def test_send_holds_nothing_of_a_bytearray_after_it_returns(
    memory_network: Network, size: int
) -> None:
    """``del buf[:n]`` right after ``send(buf)`` never raises BufferError.

    A reader thread that waits makes the deadlock detector look at the
    sender's frames while the sender runs; nothing it looked at may keep a
    view of the caller's buffer alive.  Before the fix most large sends
    failed here.
    """
    client, server = connected(memory_network)
    failures: list[int] = []
    before = threading.active_count()

    def drain() -> None:
        while server.receive(65536):
            pass

    def send_and_trim() -> None:
        try:
            for i in range(200):
                buf = bytearray(size)
                n = client.send(buf)
                try:
                    del buf[:n]
                except BufferError:
                    failures.append(i)
        finally:
            client.close()

    threads = [threading.Thread(target=drain), threading.Thread(target=send_and_trim)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    assert threading.active_count() == before
    assert failures == []


def test_idle_executor_workers_count_as_waiting(memory_network: Network) -> None:
    """A ThreadPoolExecutor worker waiting for work is idle, not busy.

    It waits in ``SimpleQueue.get`` (C code, no threading frame), so before
    the fix it counted as busy: the 3 s timeout cost 3 s of wall time and
    the deadlock took the 5 s stall timeout to show.
    """
    from concurrent.futures import ThreadPoolExecutor

    before = threading.active_count()
    with ThreadPoolExecutor(2) as pool:
        # Two workers exist once two tasks ran at the same time.
        gate = threading.Barrier(2, timeout=5)
        for f in [pool.submit(gate.wait) for _ in range(2)]:
            f.result(timeout=5)
        client, _ = connected(memory_network)
        client.timeout = 3
        wall = time.monotonic()
        with pytest.raises(sockspec.Timeout):
            client.receive()
        assert memory_network.now == pytest.approx(3)
        lst = Socket()
        lst.bind("127.0.0.1")
        lst.listen()
        with pytest.raises(Deadlock):
            lst.accept()
        assert time.monotonic() - wall < 2.0
        lst.close()
        # Work submitted while a socket waits keeps the clock honest: the
        # worker runs, is busy, and its network call is seen.
        server = Socket(timeout=5)
        server.bind("127.0.0.1")
        server.listen()

        def dial() -> None:
            with Socket(timeout=5) as sock:
                sock.connect("127.0.0.1", server.local_port)
                sock.send(b"hi")

        late = pool.submit(dial)
        conn = server.accept()
        assert conn.receive() == b"hi"
        late.result(timeout=5)
        conn.close()
        server.close()
    assert threading.active_count() == before


def test_the_thread_that_made_the_network_holds_the_clock(
    memory_network: Network,
) -> None:
    """Main runs (no socket yet) while a helper sleeps: the clock must wait.

    Before the fix main, alive before the network and not yet on it, did
    not count: the helper's sleep jumped to 1.2 s at once, it listened, and
    main's connect at "t=0" succeeded.
    """
    port = 4321
    ready = threading.Event()
    before = threading.active_count()

    def late_server() -> None:
        memory_network.sleep(1.2)
        with Socket() as lst:
            lst.bind("127.0.0.1", port)
            lst.listen()
            ready.set()
            memory_network.sleep(1)

    helper = threading.Thread(target=late_server)
    helper.start()
    time.sleep(0.05)  # main is running, but not on the network
    with Socket(timeout=5) as sock, pytest.raises(sockspec.ConnectionRefused):
        sock.connect("127.0.0.1", port)
    assert memory_network.now < 1.2
    helper.join(10)
    assert ready.is_set()
    assert threading.active_count() == before


def test_a_thread_counts_from_its_first_send() -> None:
    """A thread older than the network counts once it calls into it.

    Its first call here is a send that takes the fast path; afterwards it
    runs (``time.sleep``), so the main thread's 10 s receive must not jump.
    """
    go = threading.Event()
    sent = threading.Event()
    box: list[Socket] = []
    seen: list[float] = []

    def talker() -> None:
        if not go.wait(5):
            return
        client = box[0]
        client.send(b"x")
        sent.set()
        time.sleep(0.3)  # running: the network cannot know what comes next
        seen.append(network.now)
        client.send(b"y")

    before = threading.active_count()
    thread = threading.Thread(target=talker)
    thread.start()  # older than the network
    network = Network(seed=5)
    with network:
        client, server = connected(network)
        box.append(client)
        server.timeout = 10
        go.set()
        # Until its first call the thread is an outsider: wait for it.
        assert sent.wait(5)
        assert server.receive(1) == b"x"
        assert server.receive(1) == b"y"
        assert network.now < 5
        thread.join(5)
    assert len(seen) == 1
    assert seen[0] < 5
    assert threading.active_count() == before


# -- the CPython internals virtual time reads (_frames) ------------------------


def test_this_python_passes_the_idle_self_check() -> None:
    # Runs on every Python in tox: a failure here means virtual time falls
    # back to wall time on that version.
    from sockspec.backends.memory import _frames

    with _fresh_check(_frames):
        codes = _frames.idle_codes()
    assert threading.Condition.wait.__code__ in codes


def test_a_notified_wait_taking_back_a_free_lock_reads_as_about_to_run() -> None:
    # Event.wait() and Thread.start() take their condition's plain lock back
    # in Condition._acquire_restore, in Python: a thread there with the lock
    # free, or with an Event's lock (held only inside Event's own methods),
    # waits only for the CPU or the GIL; with another lock taken it may be
    # blocked for good.
    import sys

    from sockspec.backends.memory import _frames

    seen: list[bool] = []

    class Probe:
        """Stands in for a condition's lock, looking at who takes it."""

        def __init__(self, taken: bool) -> None:
            self.taken = taken

        def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
            if not blocking:
                return False  # Condition._is_owned(): "held by the caller"
            seen.append(_frames.reacquiring(sys._getframe(1)))
            return True

        def release(self) -> None:
            pass

        def __enter__(self) -> bool:
            return True

        def __exit__(self, *exc: object) -> None:
            pass

        def locked(self) -> bool:
            return self.taken

    for taken in (False, True):
        threading.Condition(Probe(taken))._acquire_restore(None)  # type: ignore[arg-type,attr-defined]
    assert seen == [True, False]
    event = threading.Event()
    event._cond = threading.Condition(Probe(True))  # type: ignore[arg-type,attr-defined]
    assert not event.wait(0)
    assert seen == [True, False, True]
    assert not _frames.reacquiring(sys._getframe())


class _fresh_check:
    """Run the self-check again, then put the process's result back."""

    def __init__(self, frames: object) -> None:
        self.frames: object = frames

    def __enter__(self) -> None:
        self.saved = self.frames._checked  # type: ignore[attr-defined]
        self.frames._checked = None  # type: ignore[attr-defined]

    def __exit__(self, *exc: object) -> None:
        self.frames._checked = self.saved  # type: ignore[attr-defined]


def test_a_failed_self_check_warns_once_and_falls_back_to_wall_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sockspec.backends.memory import _frames

    # A Python whose Condition.wait is not where sockspec looks.
    monkeypatch.setattr(_frames, "_candidate_codes", lambda: {})
    with _fresh_check(_frames):
        with pytest.warns(RuntimeWarning, match=r"Event\.wait\(\)"):
            assert _frames.idle_codes() == {}
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert _frames.idle_codes() == {}  # once: no second warning

        # A network user blocked in Event.wait() now counts as busy, so a
        # virtual sleep waits for wall time instead of jumping.
        network = Network(seed=1, realtime_after=0.05)
        assert _sleep_beside_an_event_wait(network, 0.2) >= 0.2


def test_a_thread_in_event_wait_is_idle_with_the_check_passed() -> None:
    network = Network(seed=1, realtime_after=0.05)
    assert _sleep_beside_an_event_wait(network, 10) < 5
    assert network.now == pytest.approx(10)


def _sleep_beside_an_event_wait(network: Network, seconds: float) -> float:
    """Sleep *seconds* of virtual time while a network user waits in
    ``Event.wait()``; return the wall seconds it took."""
    go = threading.Event()
    with sockspec.use_backend(network), network:
        helper = threading.Thread(target=go.wait)
        helper.start()
        try:
            time.sleep(0.02)
            wall = time.monotonic()
            network.sleep(seconds)
            return time.monotonic() - wall
        finally:
            go.set()
            helper.join(5)
