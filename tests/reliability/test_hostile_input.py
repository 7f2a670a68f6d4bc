"""Every public function and method, every argument generated, every backend.

``tests/test_bad_input.py`` checks hand-picked bad values one argument at a
time.  Here hypothesis generates *all* the arguments of a call at once
(wrong types, out-of-range numbers, odd strings, valid values mixed in) and
calls it on sockets in every state: fresh, bound, listening, connected and
closed, stream and datagram.  The only acceptable outcomes are a normal
return, ``TypeError``, ``ValueError`` or a :class:`sockspec.SocketError`
subclass (plus ``KeyError`` from a Poller, mirroring :mod:`selectors`).
Nothing may wait beyond the sockets' 50 ms timeout, and no descriptor may be
left behind.

Traffic stays on loopback: generated hosts are IP literals or malformed
strings (never a name that would go to DNS), and a generated port that is
valid is replaced by one nothing listens on.
"""

from __future__ import annotations

import gc
import io
import math
import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sockspec
from _fds import open_fds as count_fds
from sockspec import AF_INET, AF_INET6, SOCK_DGRAM, SOCK_STREAM, Option, Socket

BACKENDS = ["stdlib", "selectors", "memory"]
T = 0.05
ALLOWED = (TypeError, ValueError, sockspec.SocketError)

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.binary(max_size=12),
    st.lists(st.integers(0, 255), max_size=3),
    st.tuples(st.text(max_size=3), st.integers()),
    st.builds(object),
    st.sampled_from(list(sockspec.Option) + list(sockspec.Family)),
    st.sampled_from([b"x", bytearray(b"xy"), memoryview(b"z"), io.BytesIO(b"f")]),
)
HOSTS = st.one_of(
    JUNK.filter(lambda x: not isinstance(x, str)),
    st.sampled_from(
        ["127.0.0.1", "::1", "0.0.0.0", "::", "127.0.0.2", "::ffff:127.0.0.1"]
    ),
    st.sampled_from(["", "\x00", "a\x00b", "\udcff", "1.2.3.4.5", "x" * 300, "[::1]"]),
)
TIMEOUTS = st.one_of(
    JUNK, st.none(), st.floats(min_value=0, max_value=T), st.sampled_from([0, T])
)
OPTIONS = st.one_of(JUNK, st.sampled_from(list(Option)))


def open_fds() -> int:
    gc.collect()
    return count_fds()


@pytest.fixture
def dead_port(backend: str) -> int:
    """A loopback port nothing listens on (it was bound, then released)."""
    with Socket(backend=backend) as s:
        s.bind("127.0.0.1", 0)
        port = s.local_port
    assert port is not None
    return port


def _port(value: object, dead: int) -> object:
    if type(value) is int and 0 < value < 65536:
        return dead  # never reach somebody else's socket
    return value


def _bounded(timeout: object) -> object:
    """*timeout*, except that a valid long wait (or ``None``) becomes ``T``."""
    if timeout is None:
        return T
    if type(timeout) in (int, float) and not timeout <= T:  # type: ignore[operator]
        return timeout if math.isnan(timeout) else T  # type: ignore[arg-type]
    return timeout


def _clean(call: Callable[[], object], argument: str | None = None) -> None:
    """Run *call*; an error must be a clean one, naming *argument* if given."""
    try:
        call()
    except sockspec.SocketError:
        pass
    except (TypeError, ValueError) as exc:
        message = str(exc) or type(exc).__name__
        if argument is not None:
            assert argument in message, f"{message!r} does not name {argument!r}"


#: How to put a socket of the sweep into each state.
STATES = ["fresh", "bound", "listening", "connected", "closed"]


def _socket_in(state: str, backend: str, kind: sockspec.SocketType) -> list[Socket]:
    """Return sockets whose first is in *state*; close them all afterwards."""
    s = Socket(AF_INET, kind, backend=backend, timeout=T)
    made = [s]
    try:
        if state == "closed":
            s.close()
        elif state in ("bound", "listening", "connected"):
            s.bind("127.0.0.1", 0)
            if state == "listening" and kind is SOCK_STREAM:
                s.listen()
            elif state == "connected":
                peer = Socket(AF_INET, kind, backend=backend, timeout=T)
                made.append(peer)
                if kind is SOCK_STREAM:
                    peer.bind("127.0.0.1", 0)
                    peer.listen()
                    s.close()
                    s = Socket(AF_INET, kind, backend=backend, timeout=T)
                    made[0] = s
                    s.connect("127.0.0.1", peer.local_port)
                    made.append(peer.accept())
                else:
                    peer.bind("127.0.0.1", 0)
                    s.connect("127.0.0.1", peer.local_port)
    except BaseException:
        for sock in made:
            sock.close()
        raise
    return made


def _methods(dead: int) -> dict[str, tuple[Any, Callable[[Socket, Any], object]]]:
    """name -> (strategy of the arguments, the call)."""
    return {
        "connect": (
            st.tuples(HOSTS, JUNK, TIMEOUTS),
            lambda s, a: s.connect(a[0], _port(a[1], dead), _bounded(a[2])),
        ),
        "bind": (st.tuples(HOSTS, JUNK), lambda s, a: s.bind(a[0], _port(a[1], dead))),
        "listen": (JUNK, lambda s, a: s.listen(a)),
        "accept": (st.none(), lambda s, a: s.accept().close()),
        "shutdown": (JUNK, lambda s, a: s.shutdown(a)),
        "receive": (JUNK, lambda s, a: s.receive(a)),
        "read": (JUNK, lambda s, a: s.read(a)),
        "send": (JUNK, lambda s, a: s.send(a)),
        "write": (JUNK, lambda s, a: s.write(a)),
        "receive_from": (JUNK, lambda s, a: s.receive_from(a)),
        "send_to": (
            st.tuples(HOSTS, JUNK, JUNK),
            lambda s, a: s.send_to(a[0], _port(a[1], dead), a[2]),
        ),
        "send_file": (JUNK, lambda s, a: s.send_file(a)),
        "set_option": (st.tuples(OPTIONS, JUNK), lambda s, a: s.set_option(*a)),
        "get_option": (OPTIONS, lambda s, a: s.get_option(a)),
        "timeout": (JUNK, lambda s, a: setattr(s, "timeout", a)),
        "properties": (
            st.none(),
            lambda s, a: (
                s.is_connected,
                s.is_readable,
                s.is_writable,
                s.local_address,
                s.local_port,
                s.remote_address,
                s.remote_port,
                repr(s),
            ),
        ),
    }


METHOD_NAMES = sorted(_methods(0))
#: The one argument of each single-argument method: a TypeError or ValueError
#: from it must name that argument (several generated arguments may each be
#: the bad one, so the others are only checked for a clean error).
ARGUMENT = {
    "listen": "backlog",
    "shutdown": "what",
    "receive": "maxlen",
    "read": "maxlen",
    "send": "data",
    "write": "data",
    "receive_from": "maxlen",
    "send_file": "file",
    "get_option": "option",
    "timeout": "timeout",
}
#: Methods whose generated arguments come as a tuple.
TUPLE_ARGS = frozenset({"bind", "connect", "send_to", "set_option"})
#: Examples per generated test: a quick pass by default, the `slow` tox env
#: sets SOCKSPEC_FUZZ_EXAMPLES for a deep one.
EXAMPLES = int(os.environ.get("SOCKSPEC_FUZZ_EXAMPLES", "10"))
SWEEP = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.mark.parametrize("method", METHOD_NAMES)
@settings(SWEEP, max_examples=EXAMPLES * 2)
@given(data=st.data())
def test_every_method_with_generated_arguments(
    backend: str, dead_port: int, method: str, data: st.DataObject
) -> None:
    state = data.draw(st.sampled_from(STATES), label="state")
    kind = data.draw(st.sampled_from([SOCK_STREAM, SOCK_DGRAM]), label="type")
    strategy, call = _methods(dead_port)[method]
    args = data.draw(strategy, label="arguments")
    made = _socket_in(state, backend, kind)
    try:
        _clean(lambda: call(made[0], args), ARGUMENT.get(method))
    finally:
        for sock in made:
            sock.close()


CONSTRUCTOR_ARGS = st.fixed_dictionaries(
    {},
    optional={
        "family": st.one_of(JUNK, st.sampled_from(list(sockspec.Family))),
        "type": st.one_of(JUNK, st.sampled_from(list(sockspec.SocketType))),
        "timeout": TIMEOUTS,
    },
)


@SWEEP
@given(kwargs=CONSTRUCTOR_ARGS)
def test_constructor_with_generated_arguments(
    backend: str, kwargs: dict[str, Any]
) -> None:
    def make() -> None:
        Socket(backend=backend, **kwargs).close()

    _clean(make)


@SWEEP
@given(events=JUNK, timeout=TIMEOUTS, data=JUNK, target=JUNK)
def test_poller_with_generated_arguments(
    backend: str, events: object, timeout: object, data: object, target: object
) -> None:
    with sockspec.Poller(backend) as poller, Socket(backend=backend) as sock:
        for call in (
            lambda: poller.register(sock, events, data),  # type: ignore[arg-type]
            lambda: poller.modify(sock, events, data),  # type: ignore[arg-type]
            lambda: poller.poll(_bounded(timeout)),  # type: ignore[arg-type]
            lambda: poller.register(target, 1),  # type: ignore[arg-type]
            lambda: poller.get_key(target),  # type: ignore[arg-type]
            lambda: poller.unregister(target),  # type: ignore[arg-type]
            lambda: poller.unregister(sock),
        ):
            try:
                call()
            except (*ALLOWED, KeyError):
                pass


@SWEEP
@given(name=JUNK)
def test_backend_functions_with_generated_arguments(name: object) -> None:
    before = sockspec.get_backend()
    for call in (
        lambda: sockspec.get_backend(name),  # type: ignore[arg-type]
        lambda: sockspec.backend_info(name),  # type: ignore[arg-type]
        lambda: sockspec.Poller(name).close(),  # type: ignore[arg-type]
        lambda: Socket(backend=name).close(),  # type: ignore[arg-type]
    ):
        _clean(call)

    def choose() -> None:
        with sockspec.use_backend(name):  # type: ignore[arg-type]
            pass

    _clean(choose)
    assert sockspec.get_backend() is before


def test_the_sweep_leaves_no_descriptor(backend: str, dead_port: int) -> None:
    # One pass over every method and state with fixed junk, counting fds.
    junk: list[object] = [None, -1, math.nan, "x", b"\x00", [1], object()]
    before = open_fds()
    for state in STATES:
        for kind in (SOCK_STREAM, SOCK_DGRAM):
            for _name, (_strategy, call) in sorted(_methods(dead_port).items()):
                for value in junk:
                    made = _socket_in(state, backend, kind)
                    arg = (value, value, value) if _name in TUPLE_ARGS else value
                    try:
                        _clean(lambda c=call, s=made[0], a=arg: c(s, a))
                    finally:
                        for sock in made:
                            sock.close()
    assert open_fds() == before


def test_ipv6_sockets_with_ipv4_arguments(backend: str, dead_port: int) -> None:
    with Socket(AF_INET6, backend=backend, timeout=T) as s:
        for call in (
            lambda: s.connect("127.0.0.1", dead_port),
            lambda: s.bind("10.0.0.300"),
            lambda: s.send_to("127.0.0.1", dead_port, b"x"),
        ):
            _clean(call)
