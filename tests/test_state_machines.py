"""Random operation sequences on sockets, checked against a model of TCP.

Two hypothesis state machines, run on every backend:

* :class:`StreamPair` drives both ends of one connection through random
  sends, receives, shutdowns, closes, timeout and option changes and polls.
  A model keeps what each end sent and the other has not received yet, so
  every byte received is checked to be the next one sent: nothing lost,
  duplicated or reordered, and end of stream only after the peer stopped
  sending and every byte before it arrived.
* :class:`OneSocket` throws arbitrary operations, in any order, at a single
  socket (bind, listen, connect to itself or a listener, accept, data,
  shutdown, close...).  Every call must return or raise ``TypeError``,
  ``ValueError`` or a :class:`sockspec.SocketError`, never crash or hang.

Every socket has a timeout of at most 20 ms, so no step can hang; after the
run the process must hold as many descriptors as before.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import sockspec
from _fds import open_fds as count_fds
from sockspec import (
    EVENT_READ,
    EVENT_WRITE,
    SHUT_RD,
    SHUT_RDWR,
    SHUT_WR,
    SO_RCVBUF,
    SO_REUSEADDR,
    SOCK_DGRAM,
    TCP_NODELAY,
    Poller,
    Socket,
)

BACKENDS = ["stdlib", "selectors", "memory"]
T = 0.02
ALLOWED = (TypeError, ValueError, sockspec.SocketError)
#: Examples per machine: quick by default, deep under the `slow` tox env.
EXAMPLES = int(os.environ.get("SOCKSPEC_FUZZ_EXAMPLES", "10"))
MACHINE = settings(
    max_examples=EXAMPLES * 2,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def open_fds() -> int:
    gc.collect()
    return count_fds()


def _listener(backend: str) -> Socket:
    sock = Socket(backend=backend, timeout=T)
    sock.bind("127.0.0.1", 0)
    sock.listen()
    return sock


# -- two ends of one connection against a model -------------------------------------


class StreamPair(RuleBasedStateMachine):
    """Both ends of a TCP connection, checked against a byte-exact model."""

    backend = "stdlib"

    def __init__(self) -> None:
        super().__init__()
        with _listener(self.backend) as listener:
            client = Socket(backend=self.backend, timeout=T)
            client.connect("127.0.0.1", listener.local_port)
            server = listener.accept()
        self.ends = [client, server]
        #: Bytes end i sent that end 1-i has not received yet.
        self.in_flight = [bytearray(), bytearray()]
        #: End i stopped sending (shutdown SHUT_WR or close).
        self.write_done = [False, False]
        self.closed = [False, False]
        #: End i shut down its reading side: it may see end of stream early.
        self.read_done = [False, False]
        #: End i may see a reset: it or its peer closed with unread data.
        self.may_reset = [False, False]

    def _call(self, i: int, call: Callable[[Socket], object]) -> object:
        try:
            return call(self.ends[i])
        except sockspec.SocketClosed:
            assert self.closed[i], "SocketClosed from an open socket"
        except (sockspec.ConnectionReset, sockspec.BrokenPipe):
            assert self.may_reset[i] or self.write_done[i], "unexpected reset"
        except sockspec.WouldBlock:
            pass
        except sockspec.Timeout:
            pass
        return None

    @rule(i=st.integers(0, 1), data=st.binary(min_size=1, max_size=3000))
    def send(self, i: int, data: bytes) -> None:
        sock = self.ends[i]
        try:
            sent = sock.send(data)
        except sockspec.Timeout as exc:
            sent = exc.bytes_sent
        except sockspec.WouldBlock:
            sent = 0
        except sockspec.SocketClosed:
            assert self.closed[i]
            return
        except (sockspec.ConnectionReset, sockspec.BrokenPipe):
            assert self.write_done[i] or self.may_reset[i], "unexpected broken pipe"
            return
        assert not self.write_done[i], "send after shutdown succeeded"
        assert 0 <= sent <= len(data)
        if not self.closed[1 - i]:
            self.in_flight[i] += data[:sent]

    @rule(i=st.integers(0, 1), maxlen=st.integers(1, 5000))
    def receive(self, i: int, maxlen: int) -> None:
        sock = self.ends[i]
        try:
            data = sock.receive(maxlen)
        except (sockspec.Timeout, sockspec.WouldBlock):
            return
        except sockspec.SocketClosed:
            assert self.closed[i]
            return
        except sockspec.ConnectionReset:
            assert self.may_reset[i], "unexpected reset"
            self.in_flight[1 - i].clear()
            return
        expected = self.in_flight[1 - i]
        if not data:
            if self.read_done[i]:
                return
            assert not expected or self.may_reset[i], "end of stream before the data"
            assert self.write_done[1 - i], "end of stream while the peer may send"
            return
        assert len(data) <= maxlen
        assert data == expected[: len(data)], "received bytes differ from those sent"
        del expected[: len(data)]

    @rule(i=st.integers(0, 1), how=st.sampled_from([SHUT_RD, SHUT_WR, SHUT_RDWR]))
    def shutdown(self, i: int, how: sockspec.Shutdown) -> None:
        try:
            self.ends[i].shutdown(how)
        except sockspec.SocketClosed:
            assert self.closed[i]
            return
        except sockspec.NotConnected:
            assert self.may_reset[i] or self.write_done[i] or self.write_done[1 - i]
            return
        if how is not SHUT_RD:
            self.write_done[i] = True
        if how is not SHUT_WR:
            self.read_done[i] = True
        if self.read_done[i] and self.write_done[i]:
            # As on Linux: data reaching an end shut both ways (at once or
            # one after the other) is answered with a reset, as if closed.
            self.may_reset = [True, True]

    @rule(i=st.integers(0, 1))
    def close(self, i: int) -> None:
        if not self.closed[i] and self.in_flight[1 - i]:
            # Unread data: Linux resets the connection.  What this end sent
            # before may still arrive first (Linux hands queued data out
            # before the error), or be lost with the reset.
            self.may_reset = [True, True]
        # Whatever the peer sends from now on is answered with a reset.
        self.may_reset[1 - i] = True
        self.ends[i].close()
        self.closed[i] = True
        self.write_done[i] = True
        self.in_flight[1 - i].clear()

    @rule(i=st.integers(0, 1), timeout=st.sampled_from([0, 0.001, T]))
    def set_timeout(self, i: int, timeout: float) -> None:
        self._call(i, lambda s: setattr(s, "timeout", timeout))

    @rule(i=st.integers(0, 1), flag=st.booleans())
    def options(self, i: int, flag: bool) -> None:
        self._call(i, lambda s: s.set_option(TCP_NODELAY, flag))
        self._call(i, lambda s: s.get_option(SO_RCVBUF))

    @rule(i=st.integers(0, 1))
    def poll(self, i: int) -> None:
        sock = self.ends[i]
        with Poller(sock.backend) as poller:
            if self.closed[i]:
                return
            poller.register(sock, EVENT_READ | EVENT_WRITE)
            for key, events in poller.poll(0):
                assert key.socket is sock
                assert events

    @invariant()
    def properties_never_raise_unexpectedly(self) -> None:
        for i, sock in enumerate(self.ends):
            state = (sock.is_connected, sock.is_readable, sock.is_writable)
            if self.closed[i]:
                assert state == (False, False, False)
                assert sock.closed

    def teardown(self) -> None:
        for sock in self.ends:
            sock.close()


def test_stream_pair_against_a_model(backend: str) -> None:
    before = open_fds()
    machine = type(f"StreamPair_{backend}", (StreamPair,), {"backend": backend})
    run_state_machine_as_test(machine, settings=MACHINE)
    assert open_fds() == before


# -- anything at all on one socket ----------------------------------------------------


class OneSocket(RuleBasedStateMachine):
    """Arbitrary operations on one socket; only clean outcomes are allowed."""

    backend = "stdlib"

    def __init__(self) -> None:
        super().__init__()
        self.listener = _listener(self.backend)
        self.sock = Socket(backend=self.backend, timeout=T)
        self.udp = Socket(type=SOCK_DGRAM, backend=self.backend, timeout=T)
        self.extra: list[Socket] = []

    def _do(self, call: Callable[[], object]) -> None:
        try:
            result = call()
        except ALLOWED:
            return
        if isinstance(result, Socket):
            self.extra.append(result)

    def target(self, which: int) -> Socket:
        return (self.sock, self.udp, self.listener)[which]

    @rule(which=st.integers(0, 2), port=st.sampled_from([0, None, 1, "x"]))
    def bind(self, which: int, port: object) -> None:
        self._do(lambda: self.target(which).bind("127.0.0.1", port))  # type: ignore[arg-type]

    @rule(which=st.integers(0, 2), backlog=st.sampled_from([None, 0, 1, 5]))
    def listen(self, which: int, backlog: int | None) -> None:
        self._do(lambda: self.target(which).listen(backlog))

    @rule(which=st.integers(0, 2), to=st.sampled_from(["listener", "self", "udp"]))
    def connect(self, which: int, to: str) -> None:
        peer = {"listener": self.listener, "self": self.target(which), "udp": self.udp}
        target = peer[to]

        def call() -> None:
            port = target.local_port
            self.target(which).connect("127.0.0.1", port if port else 9)

        self._do(call)

    @rule(which=st.integers(0, 2))
    def accept(self, which: int) -> None:
        self._do(lambda: self.target(which).accept())

    @rule(which=st.integers(0, 2), data=st.binary(max_size=100))
    def send(self, which: int, data: bytes) -> None:
        self._do(lambda: self.target(which).send(data))

    @rule(which=st.integers(0, 2), data=st.binary(max_size=100))
    def send_to(self, which: int, data: bytes) -> None:
        def call() -> None:
            port = self.udp.local_port or 9
            self.target(which).send_to("127.0.0.1", port, data)

        self._do(call)

    @rule(which=st.integers(0, 2), maxlen=st.integers(1, 1000))
    def receive(self, which: int, maxlen: int) -> None:
        self._do(lambda: self.target(which).receive(maxlen))
        self._do(lambda: self.target(which).receive_from(maxlen))

    @rule(which=st.integers(0, 2), how=st.sampled_from([SHUT_RD, SHUT_WR, SHUT_RDWR]))
    def shutdown(self, which: int, how: sockspec.Shutdown) -> None:
        self._do(lambda: self.target(which).shutdown(how))

    @rule(which=st.integers(0, 2), timeout=st.sampled_from([0, 0.001, T]))
    def set_timeout(self, which: int, timeout: float) -> None:
        self._do(lambda: setattr(self.target(which), "timeout", timeout))

    @rule(which=st.integers(0, 2), flag=st.booleans())
    def options(self, which: int, flag: bool) -> None:
        self._do(lambda: self.target(which).set_option(SO_REUSEADDR, flag))
        self._do(lambda: self.target(which).get_option(SO_REUSEADDR))

    @rule(which=st.integers(0, 2))
    def close(self, which: int) -> None:
        self.target(which).close()

    @precondition(lambda self: bool(self.extra))
    @rule()
    def use_accepted(self) -> None:
        conn = self.extra[-1]
        self._do(lambda: conn.send(b"hello"))
        self._do(lambda: conn.receive())
        self._do(conn.close)

    @invariant()
    def properties_are_readable(self) -> None:
        for sock in (self.sock, self.udp, self.listener):
            _ = (sock.is_connected, sock.is_readable, sock.is_writable, repr(sock))
            self._do(lambda s=sock: (s.local_address, s.local_port))
            self._do(lambda s=sock: (s.remote_address, s.remote_port))

    def teardown(self) -> None:
        for sock in (self.sock, self.udp, self.listener, *self.extra):
            sock.close()


def test_any_sequence_on_one_socket(backend: str) -> None:
    before = open_fds()
    machine = type(f"OneSocket_{backend}", (OneSocket,), {"backend": backend})
    run_state_machine_as_test(machine, settings=MACHINE)
    assert open_fds() == before
