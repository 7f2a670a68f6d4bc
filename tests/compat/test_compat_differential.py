"""The compat socket against the real ``socket.socket`` on loopback.

Each scenario runs once on the real module and once with the standard
modules patched onto a backend; the observations (results and errors, with
port numbers masked) must be the same.
"""

from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Callable
from typing import Any

import pytest

from sockspec import compat
from sockspec.backends.memory import Network

pytestmark = pytest.mark.timeout(30)

Scenario = Callable[[], Any]
SCENARIOS: dict[str, Scenario] = {}


def scenario(fn: Scenario) -> Scenario:
    SCENARIOS[fn.__name__] = fn
    return fn


def _mask(value: Any) -> Any:
    """Replace port numbers in addresses so that runs compare."""
    if (
        isinstance(value, tuple)
        and len(value) in (2, 4)
        and isinstance(value[0], str)
        and ("." in value[0] or ":" in value[0])
        and isinstance(value[1], int)
    ):
        return (value[0], "PORT", *value[2:])
    if isinstance(value, (list, tuple)):
        return type(value)(_mask(v) for v in value)
    return value


def _observe(step: Callable[[], Any]) -> Any:
    try:
        return ("ok", _mask(step()))
    except Exception as exc:
        return ("raise", type(exc).__name__, getattr(exc, "errno", None), exc.args)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@scenario
def refused() -> list[Any]:
    port = _free_port()
    with socket.socket() as sock:
        out = [_observe(lambda: sock.connect(("127.0.0.1", port)))]
    with socket.socket() as sock:
        out.append(sock.connect_ex(("127.0.0.1", port)))
    return out


@scenario
def stream_life() -> list[Any]:
    out: list[Any] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)
        out.append(_observe(listener.accept))
        listener.setblocking(True)
        with socket.create_connection(listener.getsockname(), 5) as client:
            conn, addr = listener.accept()
            with conn:
                out.append(addr == client.getsockname())
                out.append(
                    _observe(
                        lambda: client.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    )
                )
                out.append(client.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE))
                out.append(client.recv(0))
                client.sendall(b"hello world")
                got = b""
                while len(got) < 11:
                    got += conn.recv(4)
                out.append(got)
                conn.setblocking(False)
                out.append(_observe(lambda: conn.recv(1)))
                conn.settimeout(0.05)
                out.append(_observe(lambda: conn.recv(1)))
                client.shutdown(socket.SHUT_WR)
                out.append(conn.recv(10))
                out.append(_observe(lambda: client.send(b"x")))
                conn.sendall(b"back")
                out.append(client.recv(10))
    return out


@scenario
def errors_after_close() -> list[Any]:
    sock = socket.socket()
    sock.close()
    sock.close()
    return [
        sock.fileno(),
        _observe(lambda: sock.recv(1)),
        _observe(lambda: sock.getsockname()),
        _observe(lambda: sock.connect(("127.0.0.1", 1))),
    ]


@scenario
def unconnected() -> list[Any]:
    with socket.socket() as sock:
        return [
            sock.getsockname(),
            _observe(sock.getpeername),
            _observe(lambda: sock.send(b"x")),
            _observe(lambda: sock.recv(1)),
            sock.getblocking(),
            sock.gettimeout(),
        ]


@scenario
def address_in_use() -> list[Any]:
    with socket.create_server(("127.0.0.1", 0)) as one, socket.socket() as two:
        return [_observe(lambda: two.bind(one.getsockname()))]


@scenario
def bad_arguments() -> list[Any]:
    with socket.socket() as sock:
        return [
            _observe(lambda: sock.connect(("127.0.0.1", 70000))),
            _observe(lambda: sock.connect(("127.0.0.1", "80"))),
            _observe(lambda: sock.connect(["127.0.0.1", 80])),
            _observe(lambda: sock.settimeout(-1)),
            _observe(lambda: sock.settimeout("1")),
            _observe(lambda: sock.recv(-1)),
        ]


@scenario
def datagrams() -> list[Any]:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b,
    ):
        b.bind(("127.0.0.1", 0))
        b.settimeout(5)
        a.sendto(b"12345", b.getsockname())
        a.sendto(b"678", b.getsockname())
        first = b.recvfrom(3)
        second = b.recvfrom(100)
        a.connect(b.getsockname())
        return [first[0], first[1] == a.getsockname(), second[0], a.getpeername()]


@scenario
def ipv6_names() -> list[Any]:
    with socket.socket(socket.AF_INET6) as sock:
        before = sock.getsockname()
        sock.bind(("::1", 0))
        return [before, sock.getsockname(), sock.family, sock.type, sock.proto]


@scenario
def dualstack_server_and_source_addresses() -> list[Any]:
    """create_server(dualstack_ipv6=True) takes both families; source_address binds."""
    out: list[Any] = [socket.has_dualstack_ipv6()]
    with socket.create_server(
        ("", 0), family=socket.AF_INET6, dualstack_ipv6=True
    ) as server:
        port = server.getsockname()[1]
        out.append(server.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY))
        for host in ("127.0.0.1", "::1"):
            source = (host, 0)
            with socket.create_connection((host, port), 5, source) as client:
                conn, peer = server.accept()
                with conn:
                    out.append((client.getsockname()[0], peer[0], peer[1] > 0))
        out.append(
            _observe(
                lambda: socket.create_connection(
                    ("127.0.0.1", port), 5, ("10.9.9.9", 0)
                )
            )
        )
    return out


@scenario
def makefile_lines() -> list[Any]:
    with (
        socket.create_server(("127.0.0.1", 0)) as listener,
        socket.create_connection(listener.getsockname(), 5) as client,
    ):
        conn, _ = listener.accept()
        with conn, conn.makefile("rb") as reader, client.makefile("w") as writer:
            writer.write("one\ntwo\n")
            writer.flush()
            return [reader.readline(), reader.readline(), writer.mode]


@scenario
def construction_and_arguments() -> list[Any]:
    out = [
        _observe(lambda: socket.socket(12345, socket.SOCK_STREAM)),
        _observe(lambda: socket.socket(socket.AF_INET, 999)),
    ]
    with socket.socket() as sock, socket.socket(socket.AF_INET6) as six:
        out += [
            _observe(lambda: sock.shutdown(5)),
            _observe(lambda: sock.bind(("127.0.0.1",))),
            _observe(lambda: sock.connect([1, 2])),
            _observe(lambda: sock.connect((1, 80))),
            _observe(lambda: six.connect(("::1",))),
            _observe(lambda: six.connect([1])),
            _observe(lambda: sock.bind(("127.0.0.1", -1))),
        ]
    return out


@scenario
def listen_backlogs() -> list[Any]:
    """Any C int is a backlog (anyio passes 65536); Linux caps it, not refuses."""
    out = []
    for backlog in (65536, 2**31 - 1, -5, 0, 2**31, "5"):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            out.append(_observe(lambda: sock.listen(backlog)))  # noqa: B023
            address = sock.getsockname()
            out.append(_observe(lambda: socket.create_connection(address, 5).close()))  # noqa: B023
    return out


@scenario
def empty_host_names() -> list[Any]:
    """``""`` is no name to getaddrinfo, but INADDR_ANY to bind and gethostbyname."""
    passive = socket.AI_PASSIVE
    out = [
        _observe(lambda: socket.getaddrinfo("", 80)),
        _observe(lambda: socket.getaddrinfo("", 80, 0, socket.SOCK_STREAM, 0, passive)),
        _observe(lambda: socket.getaddrinfo(b"", None, socket.AF_INET)),
        _observe(lambda: socket.gethostbyname("")),
    ]
    with socket.socket() as sock:
        sock.bind(("", 0))
        out.append(sock.getsockname()[0])
    return out


@scenario
def unix_socket_options() -> list[Any]:
    """SOL_SOCKET options are generic on Linux: aiohttp sets SO_KEEPALIVE on UNIX."""
    options = [
        (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
        (socket.SOL_SOCKET, socket.SO_REUSEADDR, 1),
        (socket.SOL_SOCKET, socket.SO_BROADCAST, 1),
        (socket.SOL_SOCKET, socket.SO_REUSEPORT, 1),
        (socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)),
        (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),
    ]
    out = []
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_UNIX, kind) as sock:
            for level, name, value in options:
                out.append(_observe(lambda: sock.setsockopt(level, name, value)))  # noqa: B023
                out.append(_observe(lambda: sock.getsockopt(level, name)))  # noqa: B023
    return out


@scenario
def getaddrinfo_literals() -> list[Any]:
    return [
        socket.getaddrinfo("127.0.0.1", 80),
        socket.getaddrinfo("::1", "http", type=socket.SOCK_STREAM),
        socket.getaddrinfo(None, 80, 0, socket.SOCK_STREAM, 0, socket.AI_PASSIVE),
        socket.getaddrinfo("localhost", 80, socket.AF_INET, socket.SOCK_STREAM),
        _observe(lambda: socket.getaddrinfo("127.0.0.1", 80, 99)),
        socket.gethostbyname("127.0.0.1"),
    ]


@scenario
def service_ports() -> list[Any]:
    """glibc reads a numeric service with strtoul and keeps 16 bits of it.

    httpx's own tests connect to port 123456 and expect a refusal (port
    57920), not the ``OverflowError`` of a port kept whole.
    """
    services = [
        123456, 65536, 2**32 + 5, -1, -5, 2**63 - 1, 2**63, 2**64, -(2**100),
        "123456", "-1", "-18446744073709551616", "-4294967295",
        "-0", "+80", " 80", "\t80", "80 ", "8 0", "080", "0x50", "", " ", "+",
        "4294967297", "18446744073709551616", "\u0663", "http", "nosuch",
        b"80", None, 1.5,
    ]  # fmt: skip
    return [
        _observe(
            lambda: socket.getaddrinfo("127.0.0.1", service, type=socket.SOCK_STREAM)  # noqa: B023
        )
        for service in services
    ]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
@pytest.mark.parametrize("backend", ["memory", "stdlib", "selectors"])
def test_compat_matches_the_real_socket(name: str, backend: str) -> None:
    run = SCENARIOS[name]
    expected = run()
    if backend == "memory":
        with Network(seed=11) as net, compat.patch(net):
            got = run()
    else:
        with compat.patch(backend):
            got = run()
    assert _mask(got) == _mask(expected)


@pytest.mark.parametrize("backend", ["memory", "stdlib"])
def test_scenarios_leave_no_descriptor_open(backend: str, no_fd_leak: None) -> None:
    with Network(seed=12) as net, compat.patch(net if backend == "memory" else backend):
        for run in SCENARIOS.values():
            run()
        if backend == "memory":
            assert net.open_resources() == 0


def test_errno_of_refused_is_linux_s() -> None:
    assert SCENARIOS["refused"]()[1] == errno.ECONNREFUSED
