"""Poller behaviour shared by every backend."""

from __future__ import annotations

import threading

import pytest

import sockspec

BACKENDS = ["stdlib", "selectors", "memory"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_close_wakes_a_thread_blocked_in_poll(backend: str, no_fd_leak: None) -> None:
    outcome: list[BaseException | list[object]] = []
    with sockspec.Socket(backend=backend) as listener:
        listener.bind("127.0.0.1")
        listener.listen()
        poller = sockspec.Poller(backend)
        poller.register(listener, sockspec.EVENT_READ)

        # On memory a 30 s timeout would pass at once in virtual time while
        # this thread sleeps in join(); with no timeout it waits for close().
        timeout = None if backend == "memory" else 30

        def wait() -> None:
            try:
                outcome.append(list(poller.poll(timeout)))
            except BaseException as exc:  # recorded for the assertion below
                outcome.append(exc)

        waiter = threading.Thread(target=wait)
        waiter.start()
        # Bounded wait until the thread is (very likely) inside poll().
        waiter.join(0.2)
        poller.close()
        waiter.join(5)
        assert not waiter.is_alive(), "close() did not wake the thread in poll()"
    assert len(outcome) == 1
    assert isinstance(outcome[0], sockspec.SocketClosed)


@pytest.mark.parametrize("backend", ["stdlib", "selectors"])
def test_a_poller_polled_without_waiting_opens_no_descriptor(backend: str) -> None:
    def open_fds() -> int:
        count = sockspec.get_backend(backend).open_resources()
        assert count is not None
        return count

    poller = sockspec.Poller(backend)
    before = open_fds()
    poller.poll(0)
    assert open_fds() == before
    poller.poll(0.001)
    assert open_fds() == before + 2  # the wake-up pipe, made on first sleep
    poller.close()
    assert open_fds() == before - 1  # the epoll set went too


def test_memory_register_from_another_thread_is_no_deadlock() -> None:
    """The registering thread then joins: nothing is busy, yet poll must wake.

    Before the fix the thread in ``poll(None)`` got a false ``Deadlock``:
    the registration did not wake it, and with every thread waiting the
    network found nothing that could.
    """
    from sockspec.backends.memory import Network

    network = Network(seed=3)
    before = threading.active_count()
    with network:
        client = sockspec.Socket(backend=network, timeout=5)
        listener = sockspec.Socket(backend=network, timeout=5)
        listener.bind("127.0.0.1")
        listener.listen()
        client.connect("127.0.0.1", listener.local_port)
        poller = sockspec.Poller(network)
        outcome: list[object] = []

        def wait() -> None:
            try:
                outcome.append([ev for _, ev in poller.poll(None)])
            except BaseException as exc:  # recorded for the assertion below
                outcome.append(exc)

        waiter = threading.Thread(target=wait)
        waiter.start()
        waiter.join(0.05)
        poller.register(listener, sockspec.EVENT_READ)

        def join_without_timeout() -> None:
            waiter.join()  # idle in the network's eyes: no wall timeout

        joiner = threading.Thread(target=join_without_timeout)
        joiner.start()
        joiner.join(10)
        waiter.join(1)
        poller.close()
        for sock in (client, listener):
            sock.close()
    assert outcome == [[sockspec.EVENT_READ]]
    assert threading.active_count() == before
