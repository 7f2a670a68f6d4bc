"""TLS through ``Socket.start_tls`` against the ``ssl`` module's own socket.

Bulk transfer of 128 MiB over TLS (the handshake is not timed): a sender
thread and a receiving main thread, the same loop for every case.

* ``raw ssl.SSLSocket``: ``ssl.SSLContext.wrap_socket`` over a loopback TCP
  connection, the baseline;
* ``sockspec stdlib``: ``start_tls`` on a stdlib-backend connection
  (target: within 1.15x of the baseline);
* ``sockspec selectors``: the same on the selectors backend;
* ``sockspec memory``: ``start_tls`` on the memory network (target: no
  slower than the baseline, which runs over real loopback).

Cases run side by side in one process, interleaved round by round after a
warm-up round (see ``_measure.py``); the figure is the median of the
per-round ratios to the baseline in the process's CPU time (which a busy
machine disturbs less), with the wall-time ratios printed beside.
Certificates come from ``trustme`` (the ``test`` extra).

Run: ``python benchmarks/bench_tls.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import socket
import ssl
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import trustme
from _measure import Target, header, interleave, parser, summary, table, wall

import sockspec
from sockspec.backends.memory import Network

_CA = trustme.CA()
_CERT = _CA.issue_cert("localhost")
SERVER = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
_CERT.configure_cert(SERVER)
CLIENT = ssl.create_default_context()
_CA.configure_trust(CLIENT)

Pair = tuple[Any, Any, Callable[[], None]]


def _handshake(client: Callable[[], Any], server: Callable[[], Any]) -> tuple[Any, Any]:
    box: list[Any] = []
    t = threading.Thread(target=lambda: box.append(server()))
    t.start()
    a = client()
    t.join(30)
    return a, box[0]


def raw_pair() -> Pair:
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen()
    plain_a = socket.create_connection(lst.getsockname())
    plain_b, _ = lst.accept()
    lst.close()
    a, b = _handshake(
        lambda: CLIENT.wrap_socket(plain_a, server_hostname="localhost"),
        lambda: SERVER.wrap_socket(plain_b, server_side=True),
    )

    def close() -> None:
        a.close()
        b.close()

    return a, b, close


def spec_pair(backend: str | sockspec.Backend) -> Callable[[], Pair]:
    def make() -> Pair:
        lst = sockspec.Socket(backend=backend, timeout=30)
        lst.bind("127.0.0.1")
        lst.listen()
        a = sockspec.Socket(backend=backend, timeout=30)
        a.connect("127.0.0.1", lst.local_port)
        b = lst.accept()
        lst.close()
        for s in (a, b):
            s.timeout = None
        _handshake(
            lambda: a.start_tls(CLIENT, server_hostname="localhost"),
            lambda: b.start_tls(SERVER, server_side=True),
        )

        def close() -> None:
            a.close()
            b.close()

        return a, b, close

    return make


def bulk(
    make: Callable[[], Pair], total: int, raw: bool
) -> Callable[[], tuple[float, float]]:
    chunk = bytes(1 << 20)

    def run() -> tuple[float, float]:
        a, b, close = make()
        sender_send = a.sendall if raw else a.send
        receive = b.recv if raw else b.receive

        def sender() -> None:
            for _ in range(total // len(chunk)):
                sender_send(chunk)

        t = threading.Thread(target=sender)
        got = 0
        t0 = wall()
        c0 = time.process_time()
        t.start()
        while got < total:
            data = receive(262144)
            if not data:
                break
            got += len(data)
        t.join(30)
        elapsed = wall() - t0
        cpu = time.process_time() - c0
        close()
        if got != total:
            raise SystemExit(f"bulk transfer lost data: {got} != {total}")
        return elapsed, cpu

    return run


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__, rounds=7).parse_args(argv)
    rounds = 1 if args.quick else args.rounds
    total = (8 if args.quick else 128) << 20
    net = Network(seed=1)
    walls: dict[str, list[float]] = {}

    def cpu_of(name: str, fn: Callable[[], tuple[float, float]]) -> Callable[[], float]:
        def run() -> float:
            w, c = fn()
            walls.setdefault(name, []).append(w)
            return c

        return run

    base = "raw ssl.SSLSocket"
    cases = {
        base: bulk(raw_pair, total, raw=True),
        "sockspec stdlib": bulk(spec_pair("stdlib"), total, raw=False),
        "sockspec selectors": bulk(spec_pair("selectors"), total, raw=False),
        "sockspec memory": bulk(spec_pair(net), total, raw=False),
    }
    header(rounds)
    print(f"{ssl.OPENSSL_VERSION}, {total >> 20} MiB over TLS 1.3\n")
    result = interleave(
        {name: cpu_of(name, fn) for name, fn in cases.items()}, rounds, base
    )
    rows = table(
        "bulk over TLS, sender thread (process CPU, both threads)",
        result,
        unit="ms",
        scale=1e3,
        targets=[Target("sockspec stdlib", 1.15), Target("sockspec memory", 1.0)],
    )
    # walls holds the warm-up round first; the paired wall ratios skip it.
    print("wall clock, paired ratio to the baseline (a busy machine disturbs it):")
    for name in cases:
        ratios = [w / b for w, b in zip(walls[name][1:], walls[base][1:], strict=True)]
        print(f"  {name:<22} {statistics.median(ratios):.3f}x")
    print()
    summary(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
