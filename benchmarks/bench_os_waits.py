"""Costs of how the OS backends wait (issue 10), in CPU time.

Two measurements that a busy machine disturbs far less than wall time:

* ping-pong: 1-byte request and reply over loopback TCP with both ends in
  one thread, sockspec ``stdlib`` against raw ``socket``, measured as every
  script here measures (``_measure.py``: :func:`time.thread_time`,
  interleaved rounds after a warm-up, median of paired ratios);
* unix-wait: the process CPU time spent by a ``send_to(timeout=1)`` of an
  AF_UNIX datagram socket to a receiver whose queue is full, per backend
  (a busy loop shows as a large share of the second).

Run: ``python benchmarks/bench_os_waits.py`` (``--quick`` for a smoke run).
To compare with another version, put its ``src`` first on ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

from _measure import header, interleave, one_byte_ping_pong, parser, table
from bench_stdlib import raw_pair, spec_pair

import sockspec


def ping_pong(make: Callable[[], Any], raw: bool, rounds: int) -> float:
    a, b, close = make()
    try:
        return one_byte_ping_pong(a, b, rounds, raw=raw)
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
        wall, cpu0 = time.monotonic(), time.process_time()
        try:
            sender.send_to(path, None, b"y" * 1024)
        except sockspec.Timeout:
            pass
        return time.process_time() - cpu0, time.monotonic() - wall
    finally:
        sender.close()
        receiver.close()
        os.unlink(path)
        os.rmdir(directory)


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__, rounds=15).parse_args(argv)
    rounds, trips = (1, 1_000) if args.quick else (args.rounds, 5_000)
    print(f"sockspec from {os.path.dirname(sockspec.__file__)}")
    header(rounds)
    table(
        "1-byte ping-pong, one thread (CPU per round trip)",
        interleave(
            {
                "raw socket": lambda: ping_pong(raw_pair, True, trips),
                "sockspec stdlib": lambda: ping_pong(spec_pair, False, trips),
            },
            rounds,
            "raw socket",
        ),
        unit="us",
        scale=1e6,
    )
    print("AF_UNIX datagram send_to(timeout=1) to a full receiver")
    for backend in ("stdlib", "selectors"):
        cpu_s, wall = unix_wait(backend, 0.2 if args.quick else 1.0)
        print(f"  {backend:<10} {cpu_s * 1e3:7.1f} ms CPU in {wall * 1e3:6.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
