"""Cost of the seeded schedule: two-thread ping-pong on the memory network.

The echo end runs in a second thread, so every round trip makes each thread
wait for the other on the network: the case where the seeded schedule (the
default, ``Network(schedule="seeded")``) has the most to do per byte.
Measured side by side with the free schedule (``schedule="free"``, the
default before issue 14) in one process, the shared way
(``_measure.py``: interleaved rounds after a warm-up, median of the paired
ratios seeded/free).  Wall time (``time.perf_counter``), since two threads
take part.  Target (issue 14): <= 1.5x.

Run: ``python benchmarks/bench_schedule.py [--rounds N] [--trips N]``
(``--quick`` for a smoke run).
"""

from __future__ import annotations

import threading
import time

from _measure import Target, header, interleave, parser, summary, table

import sockspec
from sockspec.backends.memory import Network


def pingpong(schedule: str, trips: int) -> float:
    """Seconds per round trip, the echo end in another thread."""
    network = Network(seed=1, schedule=schedule)
    with sockspec.Socket(backend=network, timeout=30) as listener:
        listener.bind("127.0.0.1")
        listener.listen()
        client = sockspec.Socket(backend=network, timeout=30)
        client.connect("127.0.0.1", listener.local_port)
        server = listener.accept()

    def echo() -> None:
        for _ in range(trips):
            server.send(server.receive(1))

    thread = threading.Thread(target=echo, name="echo")
    try:
        started = time.perf_counter()
        thread.start()
        for _ in range(trips):
            client.send(b"x")
            client.receive(1)
        thread.join(60)
        return (time.perf_counter() - started) / trips
    finally:
        client.close()
        server.close()


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__, rounds=7)
    p.add_argument("--trips", type=int, default=2000, help="round trips per case")
    args = p.parse_args(argv)
    rounds = 1 if args.quick else args.rounds
    trips = 100 if args.quick else args.trips
    header(rounds)
    results = interleave(
        {
            "free schedule": lambda: pingpong("free", trips),
            "seeded schedule (default)": lambda: pingpong("seeded", trips),
        },
        rounds,
        baseline="free schedule",
    )
    rows = table(
        "two-thread ping-pong on the memory network (wall time)",
        results,
        unit="us/trip",
        scale=1e6,
        targets=[Target("seeded schedule (default)", 1.5, "issue 14")],
    )
    summary(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
