"""Unmodified http.server, http.client, urllib and requests on every backend."""

from __future__ import annotations

import http.client
import http.server
import random
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from _compat_helpers import EchoHandler, running
from _compat_helpers import EchoServer as Server

from sockspec.backends.memory import Latency, Reset

pytestmark = pytest.mark.timeout(60)


def _server(server_side: tuple[Any, str]) -> tuple[Server, str]:
    patch, host = server_side
    with patch():
        server = Server(("0.0.0.0", 0), EchoHandler)
    return server, host


def test_keep_alive_and_a_1mib_post_echoed(
    server_side: tuple[Any, str], no_fd_leak: None
) -> None:
    server, host = _server(server_side)
    with running(server):
        conn = http.client.HTTPConnection(host, server.server_port, timeout=10)
        conn.request("GET", "/one")
        assert conn.getresponse().read() == b"/one"
        first = conn.sock
        conn.request("GET", "/two")
        assert conn.getresponse().read() == b"/two"
        assert conn.sock is first  # the same connection served both
        payload = random.Random(1).randbytes(1 << 20)
        conn.request("POST", "/echo", body=payload)
        response = conn.getresponse()
        assert response.status == 200
        assert response.read() == payload
        conn.close()


def test_urlopen_timeout(server_side: tuple[Any, str], patched: Any) -> None:
    """A server that accepts and never answers: the client's timeout fires.

    On the memory network 30 s of timeout pass in virtual time.
    """
    import socket

    patch, host = server_side
    with patch():
        silent = socket.create_server(("0.0.0.0", 0))
    timeout = 30.0 if patched is not None else 0.3
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    started, wall = (patched.now if patched else 0.0), time.monotonic()
    with silent, pytest.raises((TimeoutError, urllib.error.URLError)) as info:
        opener.open(f"http://{host}:{silent.getsockname()[1]}/", timeout=timeout)
    wall = time.monotonic() - wall
    reason = getattr(info.value, "reason", info.value)
    assert isinstance(reason, TimeoutError)
    if patched is not None:
        assert patched.now - started == pytest.approx(30.0, abs=0.5)
        assert wall < 5  # virtual time: no 30 s wait (typically ~10 ms)


def test_refused_connection(server_side: tuple[Any, str]) -> None:
    import socket

    patch, host = server_side
    with patch(), socket.socket() as probe:
        probe.bind(("0.0.0.0", 0))
        port = probe.getsockname()[1]
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with pytest.raises(urllib.error.URLError) as info:
        opener.open(f"http://{host}:{port}/", timeout=5)
    assert isinstance(info.value.reason, ConnectionRefusedError)


def test_partition_makes_a_30s_timeout_fire_without_waiting(
    server_side: tuple[Any, str], patched: Any
) -> None:
    if patched is None:
        pytest.skip("faults need the memory network")
    server, host = _server(server_side)
    with running(server):
        conn = http.client.HTTPConnection(host, server.server_port, timeout=30)
        conn.request("GET", "/before")
        assert conn.getresponse().read() == b"/before"
        cut = patched.partition("local", "api")
        started, wall = patched.now, time.monotonic()
        conn.request("GET", "/during")  # the bytes wait in the send buffer
        with pytest.raises(TimeoutError):
            conn.getresponse()
        wall = time.monotonic() - wall
        assert patched.now - started == pytest.approx(30.0, abs=0.5)
        assert wall < 5  # typically a few ms of wall time
        patched.remove_rule(cut)
        conn.close()


def test_reset_mid_response(
    server_side: tuple[Any, str], patched: Any, no_fd_leak: None
) -> None:
    if patched is None:
        pytest.skip("faults need the memory network")
    server, host = _server(server_side)
    with running(server):
        conn = http.client.HTTPConnection(host, server.server_port, timeout=10)
        conn.request("GET", "/ok")
        assert conn.getresponse().read() == b"/ok"
        patched.add_rule(Reset(src="api", dst="local", after_bytes=5_000))
        conn.request("GET", "/big")
        response = conn.getresponse()
        assert response.status == 200
        with pytest.raises((ConnectionResetError, http.client.IncompleteRead)):
            response.read()
        conn.close()


def test_latency_costs_virtual_time_only(
    server_side: tuple[Any, str], patched: Any
) -> None:
    if patched is None:
        pytest.skip("faults need the memory network")
    server, host = _server(server_side)
    with running(server):
        patched.add_rule(Latency(0.25, src="local", dst="api"))
        patched.add_rule(Latency(0.25, src="api", dst="local"))
        started = patched.now
        conn = http.client.HTTPConnection(host, server.server_port, timeout=10)
        conn.request("GET", "/slow")
        assert conn.getresponse().read() == b"/slow"
        # Connect (one round trip) and the exchange (one more): >= 1 s.
        assert patched.now - started >= 1.0
        conn.close()


def test_requests_against_http_server(
    server_side: tuple[Any, str], no_fd_leak: None
) -> None:
    requests = pytest.importorskip("requests")
    server, host = _server(server_side)
    with running(server), requests.Session() as session:
        session.trust_env = False  # no proxies from the environment
        base = f"http://{host}:{server.server_port}"
        assert session.get(f"{base}/hello", timeout=10).text == "/hello"
        body = bytes(range(256)) * 1000
        assert session.post(f"{base}/echo", data=body, timeout=10).content == body
        assert session.get(f"{base}/again", timeout=10).text == "/again"


def test_requests_sees_a_refused_connection(server_side: tuple[Any, str]) -> None:
    requests = pytest.importorskip("requests")
    import socket

    patch, host = server_side
    with patch(), socket.socket() as probe:
        probe.bind(("0.0.0.0", 0))
        port = probe.getsockname()[1]
    with requests.Session() as session:
        session.trust_env = False
        with pytest.raises(requests.ConnectionError):
            session.get(f"http://{host}:{port}/", timeout=5)
