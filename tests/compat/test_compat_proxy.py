"""urllib3 through a forward proxy, and http.client's chunked transfers.

The proxy is a small ``http.server`` handler: absolute-form GETs are
fetched with ``http.client``; CONNECT opens a tunnel relayed with
``select``.  Client, proxy and origin all run unmodified on each backend.
"""

from __future__ import annotations

import http.client
import http.server
import select
import socket
import ssl
import urllib.parse
from typing import Any

import pytest
from _compat_helpers import EchoHandler, running
from _compat_helpers import EchoServer as Server

pytestmark = pytest.mark.timeout(60)

# urllib3's manager.clear() leaves a kept-alive proxy connection open (on
# real sockets too), and the servers' close joins their handler threads.
_CLOSE = {"Connection": "close"}


class _Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        upstream = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        try:
            upstream.request("GET", url.path or "/")
            answer = upstream.getresponse()
            body = answer.read()
        finally:
            upstream.close()
        self.send_response(answer.status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Via", "1.1 test-proxy")
        self.end_headers()
        self.wfile.write(body)

    def do_CONNECT(self) -> None:
        host, port = self.path.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)), timeout=10)
        self.send_response(200)
        self.end_headers()
        ends = [self.connection, upstream]
        try:
            while True:
                ready, _, _ = select.select(ends, [], [], 10)
                if not ready:
                    return
                for end in ready:
                    data = end.recv(65536)
                    if not data:
                        return
                    (upstream if end is self.connection else self.connection).sendall(
                        data
                    )
        finally:
            upstream.close()
            self.close_connection = True  # a tunnel ends its connection

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Chunked(http.server.BaseHTTPRequestHandler):
    """GET answers in three chunks; POST echoes a chunked body."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i in range(3):
            data = str(i).encode() * 10_000
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.write(b"0\r\n\r\n")

    def do_POST(self) -> None:
        body = b""
        while size := int(self.rfile.readline(), 16):
            body += self.rfile.read(size)
            self.rfile.readline()
        self.rfile.readline()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_urllib3_through_a_forward_proxy(
    server_side: tuple[Any, str], no_fd_leak: None
) -> None:
    urllib3 = pytest.importorskip("urllib3")
    patch, host = server_side
    with patch():
        origin = Server(("0.0.0.0", 0), EchoHandler)
        proxy = Server(("0.0.0.0", 0), _Proxy)
    with running(origin), running(proxy):
        manager = urllib3.ProxyManager(f"http://{host}:{proxy.server_port}", timeout=10)
        try:
            response = manager.request(
                "GET", f"http://{host}:{origin.server_port}/x", headers=_CLOSE
            )
        finally:
            manager.clear()
    assert (response.status, response.data) == (200, b"/x")
    assert response.headers["Via"] == "1.1 test-proxy"


def test_https_through_a_connect_tunnel(
    server_side: tuple[Any, str], no_fd_leak: None
) -> None:
    urllib3 = pytest.importorskip("urllib3")
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    patch, host = server_side
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(host).configure_cert(server_ctx)
    with patch():
        origin = Server(("0.0.0.0", 0), EchoHandler)
        origin.socket = server_ctx.wrap_socket(origin.socket, server_side=True)
        proxy = Server(("0.0.0.0", 0), _Proxy)
    with running(origin), running(proxy), ca.cert_pem.tempfile() as ca_file:
        manager = urllib3.ProxyManager(
            f"http://{host}:{proxy.server_port}", timeout=10, ca_certs=ca_file
        )
        try:
            response = manager.request(
                "GET", f"https://{host}:{origin.server_port}/secret", headers=_CLOSE
            )
        finally:
            manager.clear()
    assert (response.status, response.data) == (200, b"/secret")


def test_http_client_chunked_both_ways_with_keep_alive(
    server_side: tuple[Any, str], no_fd_leak: None
) -> None:
    patch, host = server_side
    with patch():
        server = Server(("0.0.0.0", 0), _Chunked)
    with running(server):
        conn = http.client.HTTPConnection(host, server.server_port, timeout=10)
        try:
            conn.request("GET", "/")
            first = conn.getresponse()
            got = [(first.chunked, len(first.read()))]
            sock = conn.sock
            conn.request("POST", "/", body=iter([b"abc", b"", b"defg"]))
            got.append(conn.getresponse().read())
            got.append(conn.sock is sock)
        finally:
            conn.close()
    assert got == [(True, 30_000), b"abcdefg", True]
