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
warm-up round; the ratio reported is the median of the per-round ratios to
the baseline, for wall time and for the process's CPU time (which a busy
machine disturbs less).  Certificates come from ``trustme`` (the ``test`` extra).

Run: ``python benchmarks/bench_tls.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import socket
import ssl
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import trustme
from _common import now

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
        t0 = now()
        c0 = time.process_time()
        t.start()
        while got < total:
            data = receive(262144)
            if not data:
                break
            got += len(data)
        t.join(30)
        elapsed = now() - t0
        cpu = time.process_time() - c0
        close()
        if got != total:
            raise SystemExit(f"bulk transfer lost data: {got} != {total}")
        return elapsed, cpu

    return run


def _paired(values: list[float], base: list[float]) -> float:
    return statistics.median(v / b for v, b in zip(values, base, strict=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    repeat = 2 if args.quick else args.repeat
    total = (8 if args.quick else 128) << 20
    net = Network(seed=1)
    cases = {
        "raw ssl.SSLSocket": bulk(raw_pair, total, raw=True),
        "sockspec stdlib": bulk(spec_pair("stdlib"), total, raw=False),
        "sockspec selectors": bulk(spec_pair("selectors"), total, raw=False),
        "sockspec memory": bulk(spec_pair(net), total, raw=False),
    }
    for fn in cases.values():  # warm-up round, not counted
        fn()
    wall: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeat):
        for name, fn in cases.items():
            w, c = fn()
            wall[name].append(w)
            cpu[name].append(c)
    print(
        f"python {sys.version.split()[0]}, {ssl.OPENSSL_VERSION}, "
        f"{repeat} interleaved rounds, {total >> 20} MiB over TLS 1.3\n"
    )
    print(
        f"  {'case':<22} {'wall ms':>9} {'MiB/s':>7} {'ratio':>7}"
        f" {'CPU ms':>9} {'ratio':>7}"
    )
    base = "raw ssl.SSLSocket"
    for name in cases:
        w = statistics.median(wall[name])
        c = statistics.median(cpu[name])
        wr = _paired(wall[name], wall[base])
        cr = _paired(cpu[name], cpu[base])
        rate = (total >> 20) / w
        print(
            f"  {name:<22} {w * 1e3:>9.1f} {rate:>7.0f} {wr:>6.3f}x"
            f" {c * 1e3:>9.1f} {cr:>6.3f}x"
        )
    print(
        "\n  ratio: median of per-round ratios to raw ssl.SSLSocket; CPU is the"
        "\n  process's CPU time (both threads), steadier than wall time on a"
        "\n  busy machine"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
