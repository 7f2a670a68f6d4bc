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


class _SpuriousSelector(sockspec.DelegatingSelector):
    """Ends the first two waits with nothing, as a wake-up meant for no one."""

    spurious = 2

    def select(self, timeout: float | None) -> list[tuple[object, sockspec.Event]]:
        if self.spurious and timeout != 0:
            self.spurious -= 1
            return []
        return self.inner.select(timeout)


class _SpuriousBackend(sockspec.DelegatingBackend):
    name = "spurious"
    selector_class = _SpuriousSelector


@pytest.mark.parametrize("timeout", [None, 5.0])
def test_poll_reports_nothing_only_when_the_time_is_up(
    backend: str, timeout: float | None
) -> None:
    # A selector may end a wait with nothing to report (a modify() from
    # another thread took the readiness away after the kernel saw it).  An
    # empty list from poll() means the time ran out, so it waits again.
    wrapper = _SpuriousBackend(backend)
    with (
        sockspec.Socket(backend=wrapper, timeout=5) as server,
        sockspec.Socket(backend=wrapper, timeout=5) as client,
        sockspec.Poller(backend=wrapper) as poller,
    ):
        server.bind("127.0.0.1")
        server.listen()
        poller.register(server, sockspec.EVENT_READ)
        client.connect("127.0.0.1", server.local_port)
        ready = poller.poll(timeout)
        assert [key.socket for key, _ in ready] == [server]
        with server.accept():
            pass


def test_poll_with_a_timeout_still_ends_empty(backend: str) -> None:
    wrapper = _SpuriousBackend(backend)
    with (
        sockspec.Socket(backend=wrapper) as sock,
        sockspec.Poller(backend=wrapper) as poller,
    ):
        sock.bind("127.0.0.1")
        sock.listen()
        poller.register(sock, sockspec.EVENT_READ)
        assert poller.poll(0.05) == []


@pytest.mark.parametrize("backend", ["stdlib", "selectors"])
def test_os_poller_reports_what_selectors_reports(
    backend: str, no_fd_leak: None
) -> None:
    # The OS backends read epoll's bits themselves (no selectors in between);
    # in every state below they must report what selectors.DefaultSelector
    # reports for the same descriptor, hang-ups and errors included.
    import selectors
    import socket
    import struct

    listener = sockspec.Socket(backend=backend)
    listener.bind("127.0.0.1")
    listener.listen()
    fresh = sockspec.Socket(backend=backend)  # never connected: EPOLLHUP
    quiet = sockspec.Socket(backend=backend)
    quiet.connect("127.0.0.1", listener.local_port)
    with_data = sockspec.Socket(backend=backend)
    with_data.connect("127.0.0.1", listener.local_port)
    peer_closed = sockspec.Socket(backend=backend)
    peer_closed.connect("127.0.0.1", listener.local_port)
    reset = sockspec.Socket(backend=backend)
    reset.connect("127.0.0.1", listener.local_port)
    accepted = [listener.accept() for _ in range(4)]
    accepted[1].send(b"x")
    accepted[2].close()
    linger = accepted[3].implementation().os_socket  # type: ignore[attr-defined]
    linger.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    accepted[3].close()  # RST: EPOLLERR | EPOLLHUP on the other end
    pending = sockspec.Socket(backend=backend)
    pending.connect("127.0.0.1", listener.local_port)  # listener readable
    states = [listener, fresh, quiet, with_data, peer_closed, reset]
    try:
        for mask in (
            sockspec.EVENT_READ,
            sockspec.EVENT_WRITE,
            sockspec.EVENT_READ | sockspec.EVENT_WRITE,
        ):
            with sockspec.Poller(backend) as poller, selectors.DefaultSelector() as sel:
                for sock in states:
                    poller.register(sock, mask)
                    impl = sock.implementation()
                    sel.register(impl.os_socket, int(mask), sock)  # type: ignore[attr-defined]
                ours = {id(key.socket): int(ev) for key, ev in poller.poll(0)}
                theirs = {id(key.data): ev for key, ev in sel.select(0)}
                assert ours == theirs, mask
                assert len(theirs) >= 4  # the states do differ
    finally:
        for sock in [*states, *accepted, pending]:
            sock.close()
