"""Every public entry point, given bad input, answers with a clean error.

Wrong types, out-of-range values, closed sockets and unknown names must
raise ``TypeError``, ``ValueError`` or a :class:`sockspec.SocketError`
subclass -- never a crash from deeper down, never a hang; a
``TypeError``/``ValueError`` must name the argument.  The one exception is
the Poller's ``KeyError`` for unknown or duplicate registrations, which
mirrors :mod:`selectors`.

The facade refuses bad arguments before any backend code runs, so those
cases run once, on a backend that fails the test when it is called
(:mod:`_tripwire`); what involves a backend (closed sockets, paths, the
Poller) runs on every backend.  A case that names an argument fails when a
:class:`sockspec.SocketError` comes instead of the ``TypeError``/``ValueError``.
"""

from __future__ import annotations

import io
import math
import socket as _socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sockspec
from _tripwire import ReachedBackend, Tripwire
from sockspec import (
    AF_INET,
    AF_INET6,
    AF_UNIX,
    EVENT_READ,
    SO_LINGER,
    SO_RCVBUF,
    SO_REUSEADDR,
    SOCK_DGRAM,
    SOCK_STREAM,
    Socket,
)

BACKENDS = sockspec.available_backends()
#: Every socket here has a short timeout, so a call that wrongly waits fails.
T = 0.2

Call = Callable[[Socket], object]


#: What a case expects: the argument a TypeError/ValueError must name, the
#: SocketError subclass the facade raises, or ``None`` for any clean error.
Expect = str | type[sockspec.SocketError] | None


def _expect_clean(call: Callable[[], object], expect: Expect) -> None:
    """Run *call*; it must be refused as *expect* says (see :data:`Expect`)."""
    error: Exception | None = None
    try:
        call()
    except (sockspec.SocketError, TypeError, ValueError) as exc:
        error = exc
    if error is None:
        raise AssertionError("bad input was accepted")
    if expect is None:
        return
    if isinstance(expect, str):
        if isinstance(error, sockspec.SocketError):
            raise AssertionError(
                f"expected a TypeError or ValueError naming {expect!r}; got {error!r}"
            ) from error
        assert expect in str(error), f"{str(error)!r} does not name {expect!r}"
    elif not isinstance(error, expect):
        raise AssertionError(f"expected {expect.__name__}; got {error!r}") from error


def test_a_backend_error_does_not_stand_in_for_a_named_argument() -> None:
    def refused() -> None:
        raise sockspec.ConnectionRefused("refused")

    with pytest.raises(AssertionError, match="naming 'port'"):
        _expect_clean(refused, "port")
    _expect_clean(refused, None)
    _expect_clean(refused, sockspec.ConnectionRefused)
    with pytest.raises(AssertionError, match="HostNotFound"):
        _expect_clean(refused, sockspec.HostNotFound)
    with pytest.raises(AssertionError, match="does not name"):
        _expect_clean(lambda: sockspec.Socket(family=3), "port")  # type: ignore[arg-type]


#: The facade alone answers these cases: one backend object for all of them.
TRIPWIRE = Tripwire()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def sock(backend: str) -> Iterator[Socket]:
    with Socket(backend=backend, timeout=T) as s:
        yield s


@pytest.fixture
def udp(backend: str) -> Iterator[Socket]:
    with Socket(AF_INET, SOCK_DGRAM, backend=backend, timeout=T) as s:
        yield s


# -- the constructor ----------------------------------------------------------

CONSTRUCTOR: list[tuple[dict[str, Any], Expect]] = [
    ({"family": _socket.AF_INET}, "family"),
    ({"family": "AF_INET"}, "family"),
    ({"family": None}, "family"),
    ({"family": 99}, "family"),
    ({"type": _socket.SOCK_STREAM}, "type"),
    ({"type": "SOCK_RAW"}, "type"),
    ({"type": None}, "type"),
    ({"timeout": -1}, "timeout"),
    ({"timeout": "1"}, "timeout"),
    ({"timeout": math.nan}, "timeout"),
    ({"timeout": True}, "timeout"),
    ({"timeout": 1e300}, "timeout"),
    ({"timeout": [1]}, "timeout"),
    ({"backend": 5}, "backend"),
    ({"backend": "no-such-backend"}, "backend"),
    ({"backend": ""}, "backend"),
]


@pytest.mark.parametrize(("kwargs", "expect"), CONSTRUCTOR)
def test_constructor(kwargs: dict[str, Any], expect: Expect) -> None:
    kwargs = {"backend": TRIPWIRE, **kwargs}
    _expect_clean(lambda: Socket(**kwargs).close(), expect)


# -- methods of an open socket --------------------------------------------------

HOSTS: list[object] = [None, 5, b"127.0.0.1", "", "a\x00b", "\udcff", ["x"]]
PORTS: list[object] = [-1, 65536, 1.5, "", b"80", [80], True, "99999", "no-svc"]
MAXLENS: list[object] = [0, -1, "1", 1.5, True, None.__class__]
DATA: list[object] = ["text", 3, None, [1, 2], 1.5, object()]
TIMEOUTS: list[object] = [-1, "1", math.nan, 1e300, [1], True]


def _port(value: object) -> Expect:
    """An unknown service name is the facade's HostNotFound, like getaddrinfo."""
    return sockspec.HostNotFound if value == "no-svc" else "port"


METHODS: list[tuple[str, Call, Expect]] = [
    *[(f"connect host={h!r}", lambda s, h=h: s.connect(h, 80), "host") for h in HOSTS],
    *[
        (f"connect port={p!r}", lambda s, p=p: s.connect("127.0.0.1", p), _port(p))
        for p in [*PORTS, None]
    ],
    *[
        (
            f"connect timeout={t!r}",
            lambda s, t=t: s.connect("127.0.0.1", 9, t),
            "timeout",
        )
        for t in TIMEOUTS
    ],
    *[(f"bind host={h!r}", lambda s, h=h: s.bind(h, 0), "host") for h in HOSTS[1:]],
    *[
        (f"bind port={p!r}", lambda s, p=p: s.bind("127.0.0.1", p), _port(p))
        for p in PORTS
    ],
    *[
        (f"listen backlog={b!r}", lambda s, b=b: s.listen(b), "backlog")
        for b in (-1, "1", 1.5, 70000, True)
    ],
    *[
        (f"shutdown what={w!r}", lambda s, w=w: s.shutdown(w), "what")
        for w in (0, "SHUT_RD", None, _socket.SHUT_RD)
    ],
    *[
        (f"receive maxlen={m!r}", lambda s, m=m: s.receive(m), "maxlen")
        for m in MAXLENS
    ],
    *[
        (f"receive_from maxlen={m!r}", lambda s, m=m: s.receive_from(m), "maxlen")
        for m in MAXLENS
    ],
    *[(f"send data={d!r}", lambda s, d=d: s.send(d), "data") for d in DATA],
    *[
        (f"send_to data={d!r}", lambda s, d=d: s.send_to("127.0.0.1", 9, d), "data")
        for d in DATA
    ],
    *[
        (f"send_to host={h!r}", lambda s, h=h: s.send_to(h, 9, b"x"), "host")
        for h in HOSTS
    ],
    *[
        (
            f"send_to port={p!r}",
            lambda s, p=p: s.send_to("127.0.0.1", p, b"x"),
            _port(p),
        )
        for p in PORTS
    ],
    *[
        (f"send_file file={f!r}", lambda s, f=f: s.send_file(f), "file")
        for f in ("path", None, 3, io.StringIO("text"))
    ],
    *[
        (f"set_option option={o!r}", lambda s, o=o: s.set_option(o, True), "option")
        for o in ("SO_REUSEADDR", 2, None, _socket.SO_REUSEADDR)
    ],
    *[
        (f"get_option option={o!r}", lambda s, o=o: s.get_option(o), "option")
        for o in ("SO_REUSEADDR", 2, None)
    ],
    *[
        (
            f"SO_REUSEADDR value={v!r}",
            lambda s, v=v: s.set_option(SO_REUSEADDR, v),
            "value",
        )
        for v in ("yes", 2, None, 1.5)
    ],
    *[
        (f"SO_RCVBUF value={v!r}", lambda s, v=v: s.set_option(SO_RCVBUF, v), "value")
        for v in (-1, 0, "big", 2**40, 1.5, True)
    ],
    *[
        (f"SO_LINGER value={v!r}", lambda s, v=v: s.set_option(SO_LINGER, v), "value")
        for v in (-1, "5", 1.5, True, 70000)
    ],
    *[
        (f"timeout = {t!r}", lambda s, t=t: setattr(s, "timeout", t), "timeout")
        for t in TIMEOUTS
    ],
]


#: Calls a datagram socket refuses whatever the argument: the kind comes first.
STREAM_ONLY = ("listen ", "send_file ", "SO_LINGER ")


@pytest.mark.parametrize(
    ("call", "expect"),
    [pytest.param(call, expect, id=label) for label, call, expect in METHODS],
)
def test_method_arguments(call: Call, expect: Expect) -> None:
    with Socket(backend=TRIPWIRE, timeout=T) as sock:
        _expect_clean(lambda: call(sock), expect)
        sock.timeout = T  # the socket is still usable after the refusal


@pytest.mark.parametrize(
    ("call", "expect"),
    [
        pytest.param(
            call,
            sockspec.UnsupportedOperation if label.startswith(STREAM_ONLY) else expect,
            id=label,
        )
        for label, call, expect in METHODS
    ],
)
def test_method_arguments_on_datagram_socket(call: Call, expect: Expect) -> None:
    with Socket(AF_INET, SOCK_DGRAM, backend=TRIPWIRE, timeout=T) as udp:
        _expect_clean(lambda: call(udp), expect)


def test_unix_sockets_refuse_ports_and_odd_paths() -> None:
    with Socket(AF_UNIX, backend=TRIPWIRE, timeout=T) as s:
        _expect_clean(lambda: s.bind("/tmp/x", 80), "port")
        _expect_clean(lambda: s.connect("/tmp/x", "http"), "port")
        _expect_clean(lambda: s.bind(b"/tmp/x"), "host")  # type: ignore[arg-type]
        _expect_clean(lambda: s.bind("/tmp/a\x00b"), "host")
        _expect_clean(lambda: s.bind("/tmp/" + "x" * 200), "host")


def test_unix_connect_to_a_missing_path(backend: str) -> None:
    if AF_UNIX not in sockspec.get_backend(backend).capabilities.families:
        pytest.skip(f"{backend} has no AF_UNIX")
    with Socket(AF_UNIX, backend=backend, timeout=T) as s:
        _expect_clean(
            lambda: s.connect("/nonexistent/dir/sock", None), sockspec.SocketError
        )


def test_options_of_another_family_are_refused() -> None:
    with Socket(AF_INET6, backend=TRIPWIRE, timeout=T) as s:
        _expect_clean(lambda: s.set_option(sockspec.TCP_NODELAY, "x"), "value")
    with Socket(AF_INET, backend=TRIPWIRE, timeout=T) as s:
        _expect_clean(
            lambda: s.set_option(sockspec.IPV6_V6ONLY, True),
            sockspec.UnsupportedOperation,
        )


def test_ipv4_socket_refuses_an_ipv6_address(backend: str) -> None:
    with Socket(AF_INET, backend=backend, timeout=T) as s:
        _expect_clean(lambda: s.connect("::1", 9), sockspec.SocketError)


# -- closed sockets ------------------------------------------------------------

CLOSED: list[tuple[str, Call]] = [
    ("connect", lambda s: s.connect("127.0.0.1", 9)),
    ("bind", lambda s: s.bind("127.0.0.1", 0)),
    ("listen", lambda s: s.listen()),
    ("accept", lambda s: s.accept()),
    ("shutdown", lambda s: s.shutdown()),
    ("receive", lambda s: s.receive()),
    ("read", lambda s: s.read(10)),
    ("send", lambda s: s.send(b"x")),
    ("write", lambda s: s.write(b"x")),
    ("receive_from", lambda s: s.receive_from()),
    ("send_to", lambda s: s.send_to("127.0.0.1", 9, b"x")),
    ("send_file", lambda s: s.send_file(io.BytesIO(b"x"))),
    ("set_option", lambda s: s.set_option(SO_REUSEADDR, True)),
    ("get_option", lambda s: s.get_option(SO_REUSEADDR)),
    ("timeout", lambda s: setattr(s, "timeout", 1.0)),
    ("local_address", lambda s: s.local_address),
    ("local_port", lambda s: s.local_port),
    ("remote_address", lambda s: s.remote_address),
    ("remote_port", lambda s: s.remote_port),
]


@pytest.mark.parametrize("type_", [SOCK_STREAM, SOCK_DGRAM])
@pytest.mark.parametrize(("name", "call"), CLOSED, ids=[n for n, _ in CLOSED])
def test_closed_socket(type_: sockspec.SocketType, name: str, call: Call) -> None:
    # The facade answers for a closed socket: no call reaches the backend
    # (the conformance suite's closed-socket checks run on each backend).
    s = Socket(AF_INET, type_, backend=TRIPWIRE, timeout=T)
    s.close()
    with pytest.raises(sockspec.SocketError) as caught:
        call(s)
    kind_refusal = isinstance(caught.value, sockspec.UnsupportedOperation)
    assert isinstance(caught.value, sockspec.SocketClosed) or kind_refusal, caught.value
    # Nothing about a closed socket raises from a read-only property.
    assert (s.is_connected, s.is_readable, s.is_writable) == (False, False, False)
    assert s.closed


# -- Poller ----------------------------------------------------------------------


def test_poller_bad_input(backend: str) -> None:
    _expect_clean(lambda: sockspec.Poller(5), "backend")  # type: ignore[arg-type]
    _expect_clean(lambda: sockspec.Poller("no-such-backend"), "backend")
    with sockspec.Poller(backend) as poller, Socket(backend=backend) as s:
        _expect_clean(lambda: poller.register("sock", EVENT_READ), "sock")  # type: ignore[arg-type]
        for events, argument in ((0, "events"), (4, "events"), ("r", "events")):
            _expect_clean(lambda e=events: poller.register(s, e), argument)  # type: ignore[misc]
        for timeout in (-1, "1", math.nan, 1e300):
            _expect_clean(lambda t=timeout: poller.poll(t), "timeout")  # type: ignore[misc]
        poller.register(s, EVENT_READ)
        with pytest.raises(KeyError):
            poller.register(s, EVENT_READ)
        _expect_clean(lambda: poller.modify(s, 0), "events")
        with Socket(backend=backend) as other:
            with pytest.raises(KeyError):
                poller.modify(other, EVENT_READ)
            with pytest.raises(KeyError):
                poller.unregister(other)
            other.close()
            with pytest.raises(sockspec.SocketClosed):
                poller.register(other, EVENT_READ)
    with pytest.raises(sockspec.SocketClosed):
        poller.poll(0)
    with Socket(backend=backend) as s, pytest.raises(sockspec.SocketClosed):
        poller.register(s, EVENT_READ)


def test_poller_refuses_sockets_of_another_backend(backend: str) -> None:
    others = [name for name in BACKENDS if name != backend]
    if not others:
        pytest.skip("only one backend is available")
    with sockspec.Poller(backend) as poller, Socket(backend=others[0]) as s:
        _expect_clean(lambda: poller.register(s, EVENT_READ), "sock")


# -- choosing backends -------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: sockspec.use_backend(5), "backend"),  # type: ignore[arg-type]
        (lambda: sockspec.use_backend(None), "backend"),  # type: ignore[arg-type]
        (lambda: sockspec.use_backend("no-such-backend"), "backend"),
        (lambda: sockspec.use_backend(""), "backend"),
        (lambda: sockspec.get_backend(5), "name"),  # type: ignore[arg-type]
        (lambda: sockspec.get_backend("no-such-backend"), "backend"),
        (lambda: sockspec.get_backend("stdlib:options"), "stdlib"),
        (lambda: sockspec.get_backend(":"), "backend"),
    ],
)
def test_backend_selection(call: Callable[[], object], argument: str) -> None:
    _expect_clean(call, argument)


def test_use_backend_failure_leaves_the_default_alone() -> None:
    before = sockspec.get_backend()
    _expect_clean(lambda: sockspec.use_backend("no-such-backend"), "backend")
    assert sockspec.get_backend() is before


# -- fuzzing -----------------------------------------------------------------------

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.binary(max_size=8),
    st.lists(st.integers(0, 255), max_size=3),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.builds(object),
)

#: Methods whose argument may be anything: none resolves names or connects.
FUZZED: dict[str, tuple[Callable[[Socket, Any], object], str]] = {
    "receive": (lambda s, x: s.receive(x), "maxlen"),
    "receive_from": (lambda s, x: s.receive_from(x), "maxlen"),
    "send": (lambda s, x: s.send(x), "data"),
    "listen": (lambda s, x: s.listen(x), "backlog"),
    "shutdown": (lambda s, x: s.shutdown(x), "what"),
    "get_option": (lambda s, x: s.get_option(x), "option"),
    "set_option SO_RCVBUF": (lambda s, x: s.set_option(SO_RCVBUF, x), "value"),
    "set_option SO_LINGER": (lambda s, x: s.set_option(SO_LINGER, x), "value"),
    "bind port": (lambda s, x: s.bind("127.0.0.1", x), "port"),
    "timeout": (lambda s, x: setattr(s, "timeout", x), "timeout"),
    "send_file": (lambda s, x: s.send_file(x), "file"),
}


@pytest.mark.parametrize("method", sorted(FUZZED))
@settings(max_examples=60, deadline=None)
@given(value=JUNK)
def test_fuzzed_arguments(method: str, value: object) -> None:
    # On the tripwire backend a value is either refused by the facade or
    # reaches the backend (it was valid); a backend cannot mask a bad value.
    call, argument = FUZZED[method]
    with Socket(backend=TRIPWIRE, timeout=0) as s:
        try:
            call(s, value)
        except (ReachedBackend, sockspec.SocketError):
            pass
        except (TypeError, ValueError) as exc:
            message = str(exc) or type(exc).__name__
            assert argument in message, f"{message!r} does not name {argument!r}"
