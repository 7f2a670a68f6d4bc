"""How the memory network wakes the next thread (issue 16): its gates.

The seeded schedule hands the turn from one thread to the next.  Waking the
next thread by releasing a lock happens while the releasing thread holds the
GIL, so the woken thread finds the GIL taken and sleeps again; a descriptor
gate is opened by ``write(2)`` with the GIL let go.  These tests count the
operations a hand-over makes (never time), and the descriptors gates hold.
"""

from __future__ import annotations

import _thread
import collections
import contextlib
import gc
import os
import select
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from _fds import open_fds
from _pingpong import connected_pair, profiled_ping_pong
from sockspec.backends.memory import Network, _gates

pytestmark = pytest.mark.skipif(
    not _gates.fd_gates(), reason="no poll(2) here: every gate is a lock"
)


counts_fds = pytest.mark.skipif(
    not os.path.isdir("/proc/self/fd"), reason="counts descriptors in /proc"
)


def _wakeups(schedule: str, trips: int) -> collections.Counter[str]:
    """Per-kind counts of the C calls that can wake a thread, both threads
    of a two-thread ping-pong: ``write`` (a descriptor gate opened) and
    ``release`` of a lock other than the network's (a lock gate opened)."""
    net = Network(seed=1, schedule=schedule)
    seen = collections.Counter[str]()
    network_lock = net._sched.lock

    def profile(frame: object, event: str, arg: object) -> None:
        if event != "c_call":
            return
        if arg is os.write:
            seen["write"] += 1
        elif getattr(arg, "__name__", None) == "release":
            owner = getattr(arg, "__self__", None)
            if isinstance(owner, _thread.LockType) and owner is not network_lock:
                seen["lock release"] += 1

    @contextlib.contextmanager
    def counting() -> Iterator[None]:
        seen.clear()
        yield

    profiled_ping_pong(net, trips, profile, counting)
    return seen


def test_a_seeded_hand_over_wakes_the_next_thread_with_the_gil_let_go() -> None:
    # Two hand-overs per round trip are forced (one per message); each
    # opens the next holder's gate once, with write(2).  Before descriptor
    # gates, each released that thread's lock (with the GIL held), and no
    # write was made.
    trips = 200
    seen = _wakeups("seeded", trips)
    assert seen["lock release"] <= trips // 20, seen
    assert 2 * trips <= seen["write"] <= 2.75 * trips, seen


def test_the_free_schedule_still_wakes_through_locks() -> None:
    # There a thread is woken under the network's lock: a woken thread that
    # took the GIL would find that lock taken, so the free schedule keeps
    # its lock gates (and makes no system call to wake).
    seen = _wakeups("free", 200)
    assert seen["write"] == 0, seen
    assert seen["lock release"] > 0, seen


@counts_fds
def test_gate_descriptors_are_held_only_while_threads_wait(no_fd_leak: None) -> None:
    gc.collect()
    before = open_fds()
    net = Network(seed=3)
    client, server = connected_pair(net)
    during: list[int] = []

    def echo() -> None:
        data = server.receive(1)
        during.append(open_fds())  # the main thread waits for the reply
        server.send(data)

    thread = threading.Thread(target=echo)
    thread.start()
    client.send(b"x")
    assert client.receive(1) == b"x"
    thread.join(30)
    per_gate = 1 if hasattr(os, "eventfd") else 2
    assert during
    assert during[0] >= before + 2 * per_gate
    # Nobody waits on the (open) network any more: no gate is left open.
    gc.collect()
    assert open_fds() == before
    client.close()
    server.close()
    net.close()


@counts_fds
def test_no_more_than_fd_gates_descriptors_however_many_threads_wait(
    no_fd_leak: None,
) -> None:
    # Three times FD_GATES threads block at once: the threads past the
    # first FD_GATES wait on their locks.
    gc.collect()
    before = open_fds()
    per_gate = 1 if hasattr(os, "eventfd") else 2
    net = Network(seed=4)
    pairs = [connected_pair(net) for _ in range(3 * _gates.FD_GATES)]
    got: list[bytes] = []
    threads = [
        threading.Thread(target=lambda end=server: got.append(end.receive(1)))
        for _, server in pairs
    ]
    try:
        for thread in threads:
            thread.start()
        # A scheduling point: it waits for the new threads to settle (block).
        pairs[0][0].send(b"y")
        # The first thread may be ending meanwhile: its dropped gate closes
        # once nothing refers to it, and the next waiter may already hold a
        # new one, so one gate more than FD_GATES can be open for a moment
        # (seen once in CI on Python 3.10).
        gc.collect()
        during = open_fds()
        for client, _ in pairs[1:]:
            client.send(b"y")
        for thread in threads:
            thread.join(30)
        assert got == [b"y"] * len(pairs)
        assert before < during <= before + (_gates.FD_GATES + 1) * per_gate
    finally:
        for client, server in pairs:
            client.close()
            server.close()
        net.close()
    gc.collect()
    assert open_fds() == before


@counts_fds
def test_a_thread_gate_closes_when_the_thread_ends(no_fd_leak: None) -> None:
    # Another thread stays blocked on the network all along, so the network
    # is never idle: the gate of the thread that ended must close anyway.
    per_gate = 1 if hasattr(os, "eventfd") else 2
    net = Network(seed=5)
    (c1, s1), (c2, s2) = connected_pair(net), connected_pair(net)
    during: list[int] = []

    def once() -> None:
        s2.receive(1)
        during.append(open_fds())

    waiter = threading.Thread(target=s1.receive, args=(1,), name="waiter")
    ender = threading.Thread(target=once, name="ender")
    try:
        waiter.start()
        ender.start()
        c2.send(b"x")
        ender.join(30)
        assert not ender.is_alive()
        assert during
        # At once, but a thread that opened the gate may be about to let
        # go of its reference: a bounded wait.
        for _ in range(200):
            gc.collect()
            if open_fds() <= during[0] - per_gate:
                break
            time.sleep(0.01)
        assert open_fds() == during[0] - per_gate
    finally:
        c1.send(b"y")
        waiter.join(30)
        for sock in (c1, s1, c2, s2):
            sock.close()
        net.close()


def test_a_gate_opened_before_its_wait_lets_it_through_once() -> None:
    g = _gates.FdGate()
    try:
        assert not g.acquire(True, 0.001)
        g.release()
        g.release()  # opened twice: open once
        assert g.acquire(True, 1.0)
        assert not g.acquire(True, 0.001)
        g.release()
        assert g.acquire(False)  # clears a leftover opening
        assert not g.acquire(True, 0.001)
    finally:
        del g
        gc.collect()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_gets_gates_of_its_own() -> None:
    # The child's gate must not share the parent's eventfd: a child
    # opening it would wake the parent's thread, or take its opening.
    g = _gates.FdGate()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            g.release()
            os.write(w, b"1" if g.acquire(True, 1.0) else b"0")
        finally:
            os._exit(0)
    os.close(w)
    try:
        if not select.select([r], [], [], 10)[0]:
            os.kill(pid, signal.SIGKILL)
        assert os.read(r, 1) == b"1"
        _, status = os.waitpid(pid, 0)
        assert status == 0
        # The child's opening did not reach the parent's gate.
        assert not g.acquire(True, 0.01)
    finally:
        os.close(r)
        del g
        gc.collect()
