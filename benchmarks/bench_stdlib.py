"""The sockspec facade over the stdlib backend against raw ``socket``.

Measured the way every script here measures (see ``_measure.py``): cases
side by side in one process, interleaved rounds after a warm-up, the
figure is the median of paired ratios.

* ping-pong: 1-byte request and reply over a loopback TCP connection, both
  ends driven from one thread (loopback delivers during ``send``, so the
  ``recv`` that follows never sleeps); CPU time of this thread;
* bulk: 128 MiB through a loopback TCP connection, a sender thread and a
  receiving main thread; CPU time of the process (both threads: waiting
  for the other thread is not the library's cost, and on a shared machine
  wall-clock time mostly measures the neighbours);
  beside it, as a labelled reference, the same transfer on raw sockets
  made non-blocking with ``poll(2)``, the way the ``stdlib`` backend makes
  it (no target);
* creation: make and close a TCP socket, with ``backend="stdlib"`` and with
  the default backend; CPU time of this thread.

Run: ``python benchmarks/bench_stdlib.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import select
import socket
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

from _measure import (
    Target,
    cpu,
    header,
    interleave,
    one_byte_ping_pong,
    parser,
    summary,
    table,
)

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
        try:
            return one_byte_ping_pong(a, b, rounds, raw=raw)
        finally:
            close()

    return run


def _bulk_done(
    sender: threading.Thread, t0: float, close: Callable[[], None], got: int, total: int
) -> float:
    """End a bulk run: CPU seconds since *t0*, once every byte arrived."""
    sender.join(30)
    elapsed = time.process_time() - t0
    close()
    if got != total:
        raise SystemExit(f"bulk transfer lost data: {got} != {total}")
    return elapsed


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
        t0 = time.process_time()
        t.start()
        while True:
            data = receive(262144)
            if not data:
                break
            got += len(data)
        return _bulk_done(t, t0, close, got, total)

    return run


def bulk_nonblocking(total: int) -> Callable[[], float]:
    """The bulk transfer on raw sockets made the way the ``stdlib`` backend
    makes it: non-blocking, each call tried first and ``poll(2)`` after an
    ``EAGAIN`` or a short send.  A labelled reference, not a target: it shows
    what that design costs against calls that sleep inside the kernel,
    before any of sockspec's own code.
    """
    chunk = bytes(1 << 20)

    def run() -> float:
        a, b, close = raw_pair()
        a.setblocking(False)
        b.setblocking(False)

        def sender() -> None:
            writable = select.poll()
            writable.register(a, select.POLLOUT)
            for _ in range(total // len(chunk)):
                with memoryview(chunk) as view:
                    sent = 0
                    while True:
                        try:
                            sent += a.send(view[sent:])
                        except BlockingIOError:
                            pass
                        if sent == len(view):
                            break
                        writable.poll()
            a.shutdown(socket.SHUT_WR)

        readable = select.poll()
        readable.register(b, select.POLLIN)
        t = threading.Thread(target=sender)
        got = 0
        t0 = time.process_time()
        t.start()
        while True:
            try:
                data = b.recv(262144)
            except BlockingIOError:
                readable.poll()
                continue
            if not data:
                break
            got += len(data)
        return _bulk_done(t, t0, close, got, total)

    return run


def creation(count: int, backend: str | None) -> Callable[[], float]:
    def run() -> float:
        if backend == "raw":
            make: Callable[[], Any] = socket.socket
            t0 = cpu()
            for _ in range(count):
                make().close()
        elif backend is None:
            make = sockspec.Socket
            t0 = cpu()
            for _ in range(count):
                make().close()
        else:
            make = sockspec.Socket
            t0 = cpu()
            for _ in range(count):
                make(backend=backend).close()
        return (cpu() - t0) / count

    return run


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__, rounds=7).parse_args(argv)
    rounds = 1 if args.quick else args.rounds
    trips = 2_000 if args.quick else 20_000
    total = (8 if args.quick else 128) << 20
    count = 2_000 if args.quick else 20_000
    sockspec.get_backend("stdlib")  # load plugins before timing
    header(rounds)
    rows = []
    pp = interleave(
        {
            "raw socket": ping_pong(raw_pair, trips, raw=True),
            "sockspec stdlib": ping_pong(spec_pair, trips, raw=False),
        },
        rounds,
        "raw socket",
    )
    rows += table(
        "1-byte ping-pong, one thread (CPU per round trip)",
        pp,
        unit="us",
        scale=1e6,
        targets=[Target("sockspec stdlib", 1.15)],
    )
    bk = interleave(
        {
            "raw socket": bulk(raw_pair, total, raw=True),
            "sockspec stdlib": bulk(spec_pair, total, raw=False),
            "raw non-blocking + poll (reference)": bulk_nonblocking(total),
        },
        rounds,
        "raw socket",
    )
    rows += table(
        f"bulk {total >> 20} MiB, sender thread (process CPU, both threads)",
        bk,
        unit="ms",
        scale=1e3,
        targets=[Target("sockspec stdlib", 1.05, "issue 2")],
    )
    vs_design = [
        s / r
        for s, r in zip(
            bk["sockspec stdlib"].values,
            bk["raw non-blocking + poll (reference)"].values,
            strict=True,
        )
    ]
    print(
        f"reference: sockspec stdlib / raw non-blocking + poll, paired = "
        f"{statistics.median(vs_design):.3f}x "
        f"({min(vs_design):.3f} - {max(vs_design):.3f}); no target\n"
    )
    cr = interleave(
        {
            "raw socket.socket()": creation(count, "raw"),
            'Socket(backend="stdlib")': creation(count, "stdlib"),
            "Socket() (default backend)": creation(count, None),
        },
        rounds,
        "raw socket.socket()",
    )
    rows += table(
        "TCP socket creation + close (CPU each)",
        cr,
        unit="us",
        scale=1e6,
        targets=[
            Target('Socket(backend="stdlib")', 1.5),
            Target("Socket() (default backend)", 1.5),
        ],
    )
    summary(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
