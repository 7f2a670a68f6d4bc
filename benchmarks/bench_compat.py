"""``sockspec.compat`` against the real ``socket`` module.

Two measurements, each side by side in one process, interleaved round by
round after a warm-up round, reported as the median of the per-round
ratios:

* ping-pong: a 1-byte request and reply over a loopback TCP connection,
  both ends driven from one thread, through ``compat.socket`` on the
  ``stdlib`` backend against a raw ``socket.socket``; timed with
  :func:`time.thread_time` (one thread, so scheduler noise stays out).
  Target (issue 12): within 1.25x of raw.
* HTTP: ``http.client`` GETs over one keep-alive connection against
  ``http.server.ThreadingHTTPServer``, unmodified, on the memory network
  (inside ``compat.patch``) against the same pair on the real loopback;
  requests per second on the wall clock (two threads).  Target: the memory
  network serves at least as many requests per second.

Run: ``python benchmarks/bench_compat.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

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
        one = b"x"
        a_send, a_recv, b_send, b_recv = a.send, a.recv, b.send, b.recv
        try:
            t0 = time.thread_time()
            for _ in range(rounds):
                a_send(one)
                b_recv(1)
                b_send(one)
                a_recv(1)
            return (time.thread_time() - t0) / rounds
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
    """Start a server, make *requests* GETs on one connection; return req/s."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.5,))
    thread.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
        conn.request("GET", "/")
        conn.getresponse().read()  # connection set up outside the timing
        t0 = time.perf_counter()
        for _ in range(requests):
            conn.request("GET", "/")
            conn.getresponse().read()
        elapsed = time.perf_counter() - t0
        conn.close()
        return requests / elapsed
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


def paired(
    base: Callable[[], float], other: Callable[[], float], repeat: int
) -> tuple[list[float], list[float]]:
    """Warm up both, then *repeat* interleaved rounds; return both series."""
    base()
    other()
    xs: list[float] = []
    ys: list[float] = []
    for _ in range(repeat):
        xs.append(base())
        ys.append(other())
    return xs, ys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args(argv)
    repeat = 2 if args.quick else args.repeat
    rounds = 2_000 if args.quick else 20_000
    requests = 200 if args.quick else 2_000
    print(f"python {sys.version.split()[0]}, {repeat} interleaved rounds each\n")

    raw, comp = paired(
        ping_pong(socket.socket, rounds),
        ping_pong(compat.socket, rounds, backend="stdlib"),
        repeat,
    )
    ratio = statistics.median(c / r for r, c in zip(raw, comp, strict=True))
    print("1-byte ping-pong, per round trip (thread CPU time)")
    print(f"  raw socket.socket          {statistics.median(raw) * 1e6:9.2f} us")
    print(f"  compat.socket on stdlib    {statistics.median(comp) * 1e6:9.2f} us")
    print(f"  median of paired ratios    {ratio:9.3f}x   (target <= 1.25x)\n")

    loop, mem = paired(http_loopback(requests), http_memory(requests), repeat)
    ratio = statistics.median(m / lo for lo, m in zip(loop, mem, strict=True))
    print(f"http.client GET, {requests} keep-alive requests vs ThreadingHTTPServer")
    print(f"  real loopback              {statistics.median(loop):9.0f} req/s")
    print(f"  memory network (patched)   {statistics.median(mem):9.0f} req/s")
    print(f"  median of paired ratios    {ratio:9.3f}x   (target >= 1.0x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
