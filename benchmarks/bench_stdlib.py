"""The sockspec facade over the stdlib backend against raw ``socket``.

Three measurements, each taken side by side in one process and interleaved
round by round so machine noise hits both alike:

* ping-pong: 1-byte request and reply over a loopback TCP connection, both
  ends driven from one thread (no scheduler noise: loopback delivers during
  ``send``, so the ``recv`` that follows never sleeps);
* bulk: 128 MiB through a loopback TCP connection, a sender thread and a
  receiving main thread;
* creation: make and close a TCP socket.

Run: ``python benchmarks/bench_stdlib.py`` (``--quick`` for a smoke run).
Targets (issue 2): ping-pong <= 1.10x, bulk <= 1.05x, creation <= 1.5x raw.
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any

from _common import interleaved, now, ratios, table

import sockspec


def raw_pair() -> tuple[socket.socket, socket.socket, Callable[[], None]]:
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen()
    a = socket.create_connection(lst.getsockname())
    b, _ = lst.accept()
    lst.close()
    for s in (a, b):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close() -> None:
        a.close()
        b.close()

    return a, b, close


def spec_pair() -> tuple[sockspec.Socket, sockspec.Socket, Callable[[], None]]:
    lst = sockspec.Socket(backend="stdlib")
    lst.bind("127.0.0.1")
    lst.listen()
    a = sockspec.Socket(backend="stdlib")
    a.connect("127.0.0.1", lst.local_port)
    b = lst.accept()
    lst.close()
    for s in (a, b):
        s.set_option(sockspec.TCP_NODELAY, True)

    def close() -> None:
        a.close()
        b.close()

    return a, b, close


def ping_pong(make: Callable[[], Any], rounds: int, raw: bool) -> Callable[[], float]:
    def run() -> float:
        a, b, close = make()
        one = b"x"
        try:
            if raw:
                a_send, a_recv, b_send, b_recv = a.send, a.recv, b.send, b.recv
            else:
                a_send, a_recv = a.send, a.receive
                b_send, b_recv = b.send, b.receive
            t0 = now()
            for _ in range(rounds):
                a_send(one)
                b_recv(1)
                b_send(one)
                a_recv(1)
            return (now() - t0) / rounds
        finally:
            close()

    return run


def bulk(make: Callable[[], Any], total: int, raw: bool) -> Callable[[], float]:
    chunk = bytes(1 << 20)

    def run() -> float:
        a, b, close = make()
        sender_send = a.sendall if raw else a.send
        receive = b.recv if raw else b.receive

        def sender() -> None:
            for _ in range(total // len(chunk)):
                sender_send(chunk)
            a.shutdown(socket.SHUT_WR if raw else sockspec.SHUT_WR)

        t = threading.Thread(target=sender)
        got = 0
        t0 = now()
        t.start()
        while True:
            data = receive(262144)
            if not data:
                break
            got += len(data)
        elapsed = now() - t0
        t.join(30)
        close()
        if got != total:
            raise SystemExit(f"bulk transfer lost data: {got} != {total}")
        return elapsed

    return run


def creation(count: int, raw: bool) -> Callable[[], float]:
    def run() -> float:
        t0 = now()
        if raw:
            for _ in range(count):
                socket.socket().close()
        else:
            backend = sockspec.get_backend("stdlib")
            for _ in range(count):
                sockspec.Socket(backend=backend).close()
        return (now() - t0) / count

    return run


def creation_default(count: int) -> Callable[[], float]:
    def run() -> float:
        t0 = now()
        for _ in range(count):
            sockspec.Socket().close()
        return (now() - t0) / count

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    repeat = 2 if args.quick else args.repeat
    rounds = 2_000 if args.quick else 20_000
    total = (8 if args.quick else 128) << 20
    count = 2_000 if args.quick else 20_000
    sockspec.get_backend("stdlib")  # load plugins before timing

    print(f"python {sys.version.split()[0]}, {repeat} interleaved rounds each\n")
    pp = interleaved(
        {
            "raw socket": ping_pong(raw_pair, rounds, raw=True),
            "sockspec stdlib": ping_pong(spec_pair, rounds, raw=False),
        },
        repeat,
    )
    print(
        table("1-byte ping-pong (per round trip)", ratios(pp, "raw socket", 1e6), "us")
    )
    bk = interleaved(
        {
            "raw socket": bulk(raw_pair, total, raw=True),
            "sockspec stdlib": bulk(spec_pair, total, raw=False),
        },
        repeat,
    )
    print(
        table(
            f"\nbulk {total >> 20} MiB (whole transfer)",
            ratios(bk, "raw socket", 1e3),
            "ms",
        )
    )
    cr = interleaved(
        {
            "raw socket": creation(count, raw=True),
            "sockspec stdlib": creation(count, raw=False),
            "sockspec (default backend)": creation_default(count),
        },
        repeat,
    )
    print(
        table("\nsocket creation + close (each)", ratios(cr, "raw socket", 1e6), "us")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
