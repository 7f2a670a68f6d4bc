"""asyncio on the memory network against asyncio on the real loopback.

One program, unmodified: an ``asyncio.start_server`` echo server and N
clients (``asyncio.open_connection``) that each make R round trips of a
64-byte line, all at once.  It runs on ``sockspec.compat.new_event_loop``
over a fresh memory network, and on ``asyncio.new_event_loop()`` (the
default loop) over the real loopback, side by side in one process:
interleaved rounds after a warm-up round, reported as the median of the
per-round ratios.  Both are single-threaded, so each round is timed with
:func:`time.thread_time` (the kernel's share of loopback work is charged to
the thread's system time); wall time is shown too.  Target (issue 13):
the memory network no slower than the real loopback.

Run: ``python benchmarks/bench_asyncio.py`` (``--quick`` for a smoke run;
``--connections`` and ``--round-trips`` to change the shape).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from sockspec import compat
from sockspec.backends.memory import Network

_LINE = b"x" * 63 + b"\n"


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while line := await reader.readline():
        writer.write(line)
        await writer.drain()
    writer.close()


async def _program(connections: int, round_trips: int) -> int:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0, backlog=connections)
    port = server.sockets[0].getsockname()[1]

    async def client() -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        got = 0
        for _ in range(round_trips):
            writer.write(_LINE)
            got += len(await reader.readline())
        writer.close()
        await writer.wait_closed()
        return got

    async with server:
        totals = await asyncio.gather(*(client() for _ in range(connections)))
    return sum(totals)


def _timed(make_loop: Callable[[], Any], connections: int, round_trips: int) -> Any:
    def run() -> tuple[float, float]:
        gc.collect()
        loop = make_loop()
        try:
            wall, cpu = time.perf_counter(), time.thread_time()
            total = loop.run_until_complete(_program(connections, round_trips))
            cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        finally:
            loop.close()
        assert total == connections * round_trips * len(_LINE)
        return cpu, wall

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--round-trips", type=int, default=30)
    args = parser.parse_args(argv)
    repeat = 1 if args.quick else args.repeat
    connections = 100 if args.quick else args.connections
    round_trips = 5 if args.quick else args.round_trips
    print(
        f"python {sys.version.split()[0]}: asyncio streams echo, {connections} "
        f"connections x {round_trips} round trips at once, "
        f"{repeat} interleaved rounds after a warm-up\n"
    )
    cases = {
        "real loopback, default loop": _timed(
            asyncio.new_event_loop, connections, round_trips
        ),
        "memory network, compat loop": _timed(
            lambda: compat.new_event_loop(Network(seed=1)), connections, round_trips
        ),
    }
    for run in cases.values():
        run()  # warm-up
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for _ in range(repeat):
        for name, run in cases.items():
            results[name].append(run())
    real, memory = results.values()
    cpu_ratio = statistics.median(
        m[0] / r[0] for r, m in zip(real, memory, strict=True)
    )
    wall_ratio = statistics.median(
        m[1] / r[1] for r, m in zip(real, memory, strict=True)
    )
    print(f"  {'case':<30} {'CPU s':>8} {'wall s':>8}")
    for name, series in results.items():
        cpu = statistics.median(s[0] for s in series)
        wall = statistics.median(s[1] for s in series)
        print(f"  {name:<30} {cpu:>8.3f} {wall:>8.3f}")
    print(
        f"\n  memory / loopback, median of paired ratios: CPU {cpu_ratio:.3f}x, "
        f"wall {wall_ratio:.3f}x   (target <= 1.0x)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
