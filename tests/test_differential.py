"""The memory backend behaves like stdlib sockets on loopback.

A hypothesis state machine drives two worlds with the same operations: one
on the ``stdlib`` backend (real Linux loopback sockets) and one on a fresh
memory network.  Every operation's observable result -- data, the exception
class and errno, end of stream, readiness (``is_readable``, ``is_writable``,
``is_connected``, Poller events) -- must be identical.

Every call is non-blocking (``timeout=0``) except connect/accept, which
loopback completes at once, so no step can hang.  Amounts stay far below the
smallest buffer, where Linux and the memory network may differ in capacity.
"""

from __future__ import annotations

import array
import errno
import fcntl
import select
import termios
import time
from collections.abc import Callable
from typing import Any

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

import sockspec
from sockspec import (
    EVENT_READ,
    EVENT_WRITE,
    SHUT_RD,
    SHUT_RDWR,
    SHUT_WR,
    SOCK_DGRAM,
    Poller,
    Socket,
)
from sockspec.backends.memory import Network

Outcome = tuple[Any, ...]


def observe(call: Callable[[], object]) -> Outcome:
    """Run *call*; return what an application could see of the result."""
    try:
        value = call()
    except OSError as exc:
        return ("error", type(exc).__name__, exc.errno)
    if isinstance(value, sockspec.Datagram):
        return ("ok", value.data, value.address)
    return ("ok", value)


def _os_socket(sock: Socket) -> Any:
    return getattr(getattr(sock, "_impl", None), "os_socket", None)


def queued(sock: Socket) -> int:
    """Bytes waiting in a real socket's receive queue (0 for memory)."""
    os_sock = _os_socket(sock)
    if os_sock is None or sock.closed:
        return 0
    buf = array.array("i", [0])
    try:
        fcntl.ioctl(os_sock.fileno(), termios.FIONREAD, buf)
    except OSError:
        return 0
    return buf[0]


def settle(sock: Socket, *, until_bytes: int | None = None) -> None:
    """Wait (briefly, wall clock) until loopback delivered to real *sock*.

    Linux loopback usually delivers before ``send`` returns, but on a busy
    machine the softirq may run a moment later; the memory world is always
    settled.  *until_bytes*: wait for that many queued bytes; else wait for
    the peer's FIN or reset (POLLRDHUP, POLLHUP, POLLERR).
    """
    os_sock = _os_socket(sock)
    if os_sock is None or sock.closed:
        return
    deadline = time.monotonic() + 0.2
    poller = select.poll()
    poller.register(os_sock, select.POLLRDHUP)
    if poller.poll(0) and until_bytes is None:
        return
    while time.monotonic() < deadline:
        if until_bytes is not None:
            if queued(sock) >= until_bytes:
                return
        elif poller.poll(0):
            return
        time.sleep(0.0005)


class World:
    """The sockets of one backend, addressed by index like the other world's."""

    def __init__(self, backend: sockspec.Backend | str) -> None:
        self.backend = backend
        self.listener = Socket(backend=backend, timeout=5)
        self.listener.bind("127.0.0.1")
        self.listener.listen()
        self.ends: list[Socket] = []  # client, server, client, server...
        self.udp: list[Socket] = []

    def connect(self) -> None:
        client = Socket(backend=self.backend, timeout=5)
        client.connect("127.0.0.1", self.listener.local_port)
        server = self.listener.accept()
        client.timeout = server.timeout = 0
        self.ends += [client, server]

    def datagram(self) -> None:
        sock = Socket(type=SOCK_DGRAM, backend=self.backend, timeout=0)
        sock.bind("127.0.0.1")
        self.udp.append(sock)

    def events(self, sock: Socket) -> Outcome:
        def poll() -> object:
            with Poller(backend=self.backend) as poller:
                poller.register(sock, EVENT_READ | EVENT_WRITE)
                return [int(ev) for _, ev in poller.poll(0)]

        return observe(poll)

    def state(self, sock: Socket) -> Outcome:
        return (
            sock.closed,
            sock.is_connected,
            sock.is_readable,
            sock.is_writable,
            observe(lambda: sock.remote_address),
        )

    def close(self) -> None:
        for sock in [*self.ends, *self.udp, self.listener]:
            sock.close()


class Differential(RuleBasedStateMachine):
    """Same steps on stdlib and memory; same results."""

    ends = Bundle("ends")
    udps = Bundle("udps")

    def __init__(self) -> None:
        super().__init__()
        self.network = Network(seed=0)
        self.worlds = (World("stdlib"), World(self.network))

    def both(self, action: Callable[[World], Outcome]) -> Outcome:
        real, memory = (action(world) for world in self.worlds)
        assert real == memory, f"stdlib: {real!r}\nmemory: {memory!r}"
        return real

    @initialize(target=ends)
    def first_connection(self) -> Any:
        return self.new_connection()

    @rule(target=ends)
    def new_connection(self) -> Any:
        for world in self.worlds:
            world.connect()
        n = len(self.worlds[0].ends)
        return n - 2, n - 1  # indexes of the client and the server end

    @rule(target=udps)
    def new_datagram_socket(self) -> int:
        for world in self.worlds:
            world.datagram()
        return len(self.worlds[0].udp) - 1

    @property
    def real(self) -> World:
        return self.worlds[0]

    @rule(pair=ends, side=st.integers(0, 1), data=st.binary(max_size=2000))
    def send(self, pair: tuple[int, int], side: int, data: bytes) -> None:
        index, peer = pair[side], pair[1 - side]
        before = queued(self.real.ends[peer])
        outcome = self.both(lambda w: observe(lambda: w.ends[index].send(data)))
        if outcome[0] == "ok" and outcome[1] and not self.real.ends[peer].closed:
            settle(self.real.ends[peer], until_bytes=before + outcome[1])

    @rule(pair=ends, side=st.integers(0, 1), maxlen=st.integers(1, 5000))
    def receive(self, pair: tuple[int, int], side: int, maxlen: int) -> None:
        index = pair[side]
        self.both(lambda w: observe(lambda: w.ends[index].receive(maxlen)))

    @rule(
        pair=ends,
        side=st.integers(0, 1),
        how=st.sampled_from([SHUT_RD, SHUT_WR, SHUT_RDWR]),
    )
    def shutdown(
        self, pair: tuple[int, int], side: int, how: sockspec.Shutdown
    ) -> None:
        index = pair[side]
        outcome = self.both(lambda w: observe(lambda: w.ends[index].shutdown(how)))
        if outcome[0] == "ok" and how is not SHUT_RD:
            settle(self.real.ends[pair[1 - side]])

    @rule(pair=ends, side=st.integers(0, 1))
    def close(self, pair: tuple[int, int], side: int) -> None:
        index = pair[side]
        self.both(lambda w: observe(lambda: w.ends[index].close()))
        settle(self.real.ends[pair[1 - side]])

    @rule(pair=ends, side=st.integers(0, 1))
    def readiness(self, pair: tuple[int, int], side: int) -> None:
        index = pair[side]
        self.both(lambda w: w.events(w.ends[index]))

    @rule(src=udps, dst=udps, data=st.binary(max_size=1500))
    def send_datagram(self, src: int, dst: int, data: bytes) -> None:
        self.both(
            lambda w: observe(
                lambda: w.udp[src].send_to("127.0.0.1", w.udp[dst].local_port, data)
            )
        )

    @rule(sock=udps, maxlen=st.integers(1, 2000))
    def receive_datagram(self, sock: int, maxlen: int) -> None:
        self.both(lambda w: observe(lambda: w.udp[sock].receive_from(maxlen)))

    @rule(sock=udps)
    def datagram_readiness(self, sock: int) -> None:
        self.both(lambda w: w.events(w.udp[sock]))

    @invariant()
    def same_state(self) -> None:
        for i in range(len(self.worlds[0].ends)):
            self.both(lambda w, i=i: ("state", *w.state(w.ends[i])))  # type: ignore[misc]

    def teardown(self) -> None:
        for world in self.worlds:
            world.close()


TestDifferential = Differential.TestCase
TestDifferential.settings = settings(
    max_examples=150,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_errno_of_send_on_a_closed_peer_matches() -> None:
    """A fixed sequence the machine found interesting, kept as an example."""
    outcomes = []
    for backend in ("stdlib", Network(seed=1)):
        world = World(backend)
        try:
            world.connect()
            client, server = world.ends
            server.close()
            outcomes.append(
                (
                    observe(lambda c=client: c.send(b"x")),
                    observe(lambda c=client: c.send(b"x")),
                    observe(lambda c=client: c.receive()),
                )
            )
        finally:
            world.close()
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][1] == ("error", "BrokenPipe", errno.EPIPE)
