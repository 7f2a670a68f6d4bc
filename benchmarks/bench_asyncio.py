"""asyncio on the memory network against asyncio on the real loopback.

One program, unmodified: an ``asyncio.start_server`` echo server and N
clients (``asyncio.open_connection``) that each make R round trips of a
64-byte line, all at once.  It runs on ``sockspec.compat.new_event_loop``
over a fresh memory network, and on ``asyncio.new_event_loop()`` (the
default loop) over the real loopback, side by side in one process:
interleaved rounds after a warm-up round, reported as the median of the
per-round ratios (``benchmarks/_measure.py``).  Both are single-threaded,
so each round is timed in CPU time of the thread (the kernel's share of
loopback work is charged to the thread's system time); wall time is shown
too.  Target (issue 13): the memory network no slower than the real
loopback.

Run: ``python benchmarks/bench_asyncio.py`` (``--quick`` for a smoke run;
``--rounds``, ``--connections`` and ``--round-trips`` to change it).
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Callable
from typing import Any

from _measure import Target, cpu, header, interleave, parser, summary, table, wall

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


def _case(
    make_loop: Callable[[], Any], connections: int, round_trips: int, walls: list[float]
) -> Callable[[], float]:
    """One run of the program on a fresh loop: its CPU seconds (wall into *walls*)."""

    def run() -> float:
        loop = make_loop()
        try:
            started_wall, started = wall(), cpu()
            total = loop.run_until_complete(_program(connections, round_trips))
            used = cpu() - started
            walls.append(wall() - started_wall)
        finally:
            loop.close()
        assert total == connections * round_trips * len(_LINE)
        return used

    return run


def main(argv: list[str] | None = None) -> int:
    options = parser(__doc__, rounds=5)
    options.add_argument("--connections", type=int, default=1000)
    options.add_argument("--round-trips", type=int, default=30)
    args = options.parse_args(argv)
    rounds = 1 if args.quick else args.rounds
    connections = 100 if args.quick else args.connections
    round_trips = 5 if args.quick else args.round_trips
    header(rounds)
    real_walls: list[float] = []
    memory_walls: list[float] = []
    real, memory = "real loopback, default loop", "memory network, compat loop"
    results = interleave(
        {
            real: _case(asyncio.new_event_loop, connections, round_trips, real_walls),
            memory: _case(
                lambda: compat.new_event_loop(Network(seed=1)),
                connections,
                round_trips,
                memory_walls,
            ),
        },
        rounds,
        baseline=real,
    )
    rows = table(
        f"asyncio streams echo, {connections} connections x {round_trips} round "
        "trips at once (CPU time of the thread)",
        results,
        unit="s",
        scale=1.0,
        targets=[Target(memory, 1.0, "issue 13")],
    )
    # The warm-up round's walls are the first of each list.
    wall_ratios = [m / r for r, m in zip(real_walls[1:], memory_walls[1:], strict=True)]
    print(
        f"  wall clock: real {statistics.median(real_walls[1:]):.3f} s, memory "
        f"{statistics.median(memory_walls[1:]):.3f} s, median of paired ratios "
        f"{statistics.median(wall_ratios):.3f}x\n"
    )
    summary(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
