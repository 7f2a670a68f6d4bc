"""Helpers shared by the compat tests."""

from __future__ import annotations

import contextlib
import http.server
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

from sockspec import compat
from sockspec.backends.memory import Network


@contextlib.contextmanager
def running(server: Any) -> Iterator[Any]:
    """Run a :mod:`socketserver` server in a thread for the block's duration."""
    # shutdown() waits up to one poll interval: short on the wall clock; on
    # the memory network each wake-up costs a scheduler turn, so fewer.
    facade = getattr(server.socket, "sockspec_socket", None)
    interval = 0.5 if facade is not None and facade.backend == "memory" else 0.02
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": interval}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


class EchoHandler(http.server.BaseHTTPRequestHandler):
    """GET answers with the path; POST echoes the body."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = self.path.encode() * (10_000 if self.path == "/big" else 1)
        self._reply(body)

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self._reply(self.rfile.read(length))

    def _reply(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class EchoServer(http.server.ThreadingHTTPServer):
    """A threading HTTP server whose close joins its handler threads."""

    daemon_threads = False  # server_close() joins the handlers: no fd leaks


@contextlib.contextmanager
def serving(
    net: Network, host: str, port: int, handle: Callable[[Any], None]
) -> Iterator[None]:
    """A fake server on *port* of a new host *host* of *net* for the block:
    each connection in a thread of its own, given to *handle*; all of them
    joined when the block ends."""
    with compat.patch(net.add_host(host)):
        listener = socket.create_server(("0.0.0.0", port))

    def accept_all() -> None:
        threads = []
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                break  # closed: the test is over
            threads.append(threading.Thread(target=handle, args=(conn,)))
            threads[-1].start()
        for thread in threads:
            thread.join(10)

    thread = threading.Thread(target=accept_all)
    thread.start()
    try:
        yield
    finally:
        listener.close()
        thread.join(10)
