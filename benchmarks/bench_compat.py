"""``sockspec.compat`` against the real ``socket`` module.

Two measurements, each side by side in one process, interleaved round by
round after a warm-up round, reported as the median of the per-round
ratios (``_measure.py``, as every script here):

* ping-pong: a 1-byte request and reply over a loopback TCP connection,
  both ends driven from one thread, through ``compat.socket`` on the
  ``stdlib`` backend against a raw ``socket.socket``; timed with
  :func:`time.thread_time` (one thread, so scheduler noise stays out).
  Target (issue 12): within 1.25x of raw.
* HTTP: ``http.client`` GETs over one keep-alive connection against
  ``http.server.ThreadingHTTPServer``, unmodified, on the memory network
  (inside ``compat.patch``) against the same pair on the real loopback;
  wall-clock time per request (two threads).  Target: the memory network
  takes no longer per request (serves at least as many per second).

Run: ``python benchmarks/bench_compat.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import http.client
import http.server
import socket
import threading
from collections.abc import Callable
from typing import Any

from _measure import (
    Target,
    header,
    interleave,
    one_byte_ping_pong,
    parser,
    summary,
    table,
    wall,
)

from sockspec import compat
from sockspec.backends.memory import Network


def _pair(make: Callable[..., Any], **kw: Any) -> tuple[Any, Any]:
    listener = make(socket.AF_INET, socket.SOCK_STREAM, **kw)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    a = make(socket.AF_INET, socket.SOCK_STREAM, **kw)
    a.connect(listener.getsockname())
    b, _ = listener.accept()
    listener.close()
    for s in (a, b):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return a, b


def ping_pong(make: Callable[..., Any], rounds: int, **kw: Any) -> Callable[[], float]:
    def run() -> float:
        a, b = _pair(make, **kw)
        try:
            return one_byte_ping_pong(a, b, rounds, raw=True)
        finally:
            a.close()
            b.close()

    return run


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes; with Nagle on, the real loopback
    # would wait for a delayed ACK (~40 ms) on every request.
    disable_nagle_algorithm = True
    body = b"x" * 512

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve_and_get(requests: int) -> float:
    """Start a server, make *requests* GETs on one connection; return s/request."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.5,))
    thread.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
        conn.request("GET", "/")
        conn.getresponse().read()  # connection set up outside the timing
        t0 = wall()
        for _ in range(requests):
            conn.request("GET", "/")
            conn.getresponse().read()
        elapsed = wall() - t0
        conn.close()
        return elapsed / requests
    finally:
        server.shutdown()
        thread.join(30)
        server.server_close()


def http_memory(requests: int) -> Callable[[], float]:
    def run() -> float:
        with Network(seed=1) as net, compat.patch(net):
            return _serve_and_get(requests)

    return run


def http_loopback(requests: int) -> Callable[[], float]:
    return lambda: _serve_and_get(requests)


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__, rounds=9).parse_args(argv)
    rounds = 1 if args.quick else args.rounds
    trips = 2_000 if args.quick else 20_000
    requests = 200 if args.quick else 2_000
    header(rounds)
    rows = table(
        "1-byte ping-pong, one thread (CPU per round trip)",
        interleave(
            {
                "raw socket.socket": ping_pong(socket.socket, trips),
                "compat.socket on stdlib": ping_pong(
                    compat.socket, trips, backend="stdlib"
                ),
            },
            rounds,
            "raw socket.socket",
        ),
        unit="us",
        scale=1e6,
        targets=[Target("compat.socket on stdlib", 1.25, "issue 12")],
    )
    rows += table(
        f"http.client GET, {requests} keep-alive requests vs ThreadingHTTPServer "
        "(wall per request)",
        interleave(
            {
                "real loopback": http_loopback(requests),
                "memory network (patched)": http_memory(requests),
            },
            rounds,
            "real loopback",
        ),
        unit="us",
        scale=1e6,
        targets=[Target("memory network (patched)", 1.0, "issue 12")],
    )
    summary(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
