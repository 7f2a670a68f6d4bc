"""Costs of how the OS backends wait (issue 10), in CPU time.

Two measurements that a busy machine disturbs far less than wall time:

* ping-pong: 1-byte request and reply over loopback TCP with both ends in
  one thread, sockspec ``stdlib`` against raw ``socket``; each round times
  both with :func:`time.thread_time`, and the figure is the median of the
  paired ratios (a warm-up round first);
* unix-wait: the process CPU time spent by a ``send_to(timeout=1)`` of an
  AF_UNIX datagram socket to a receiver whose queue is full, per backend
  (a busy loop shows as a large share of the second).

Run: ``python benchmarks/bench_os_waits.py`` (``--quick`` for a smoke run).
To compare with another version, put its ``src`` first on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from bench_stdlib import raw_pair, spec_pair

import sockspec


def ping_pong(make: Callable[[], Any], raw: bool, rounds: int) -> float:
    a, b, close = make()
    one = b"x"
    try:
        if raw:
            a_send, a_recv, b_send, b_recv = a.send, a.recv, b.send, b.recv
        else:
            a_send, a_recv = a.send, a.receive
            b_send, b_recv = b.send, b.receive
        t0 = time.thread_time()
        for _ in range(rounds):
            a_send(one)
            b_recv(1)
            b_send(one)
            a_recv(1)
        return (time.thread_time() - t0) / rounds
    finally:
        close()


def unix_wait(backend: str, seconds: float) -> tuple[float, float]:
    """Return (CPU seconds, wall seconds) of one send_to to a full receiver."""
    directory = tempfile.mkdtemp(prefix="sockspec-bench-")
    path = os.path.join(directory, "receiver")
    family, kind = sockspec.AF_UNIX, sockspec.SOCK_DGRAM
    receiver = sockspec.Socket(family, kind, backend=backend)
    sender = sockspec.Socket(family, kind, backend=backend, timeout=0)
    try:
        receiver.bind(path)
        for _ in range(100_000):  # the queue fills long before
            try:
                sender.send_to(path, None, b"x" * 1024)
            except sockspec.WouldBlock:
                break
        sender.timeout = seconds
        wall, cpu = time.monotonic(), time.process_time()
        try:
            sender.send_to(path, None, b"y" * 1024)
        except sockspec.Timeout:
            pass
        return time.process_time() - cpu, time.monotonic() - wall
    finally:
        sender.close()
        receiver.close()
        os.unlink(path)
        os.rmdir(directory)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    args = parser.parse_args(argv)
    repeat, rounds = (3, 1_000) if args.quick else (15, 5_000)
    print(f"sockspec from {os.path.dirname(sockspec.__file__)}")
    print(f"python {sys.version.split()[0]}\n")
    ping_pong(raw_pair, True, rounds // 5)
    ping_pong(spec_pair, False, rounds // 5)
    raws, specs, ratios = [], [], []
    for _ in range(repeat):
        r = ping_pong(raw_pair, True, rounds)
        s = ping_pong(spec_pair, False, rounds)
        raws.append(r)
        specs.append(s)
        ratios.append(s / r)
    print(f"1-byte ping-pong, one thread, CPU per round trip ({repeat} rounds)")
    print(f"  raw socket       {statistics.median(raws) * 1e6:8.2f} us")
    print(f"  sockspec stdlib  {statistics.median(specs) * 1e6:8.2f} us")
    print(f"  median of paired ratios {statistics.median(ratios):.3f}x\n")
    print("AF_UNIX datagram send_to(timeout=1) to a full receiver")
    for backend in ("stdlib", "selectors"):
        cpu, wall = unix_wait(backend, 0.2 if args.quick else 1.0)
        print(f"  {backend:<10} {cpu * 1e3:7.1f} ms CPU in {wall * 1e3:6.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
