"""Cost of the seeded schedule with many threads on the memory network.

N client threads each connect to one server, which starts a handler
thread per connection; each client sends 2 bytes and reads the echo.
Every thread waits for the turn most of the time, so the cost of one
scheduling point with many threads waiting shows up here, and a cost that
grows with the number of threads makes the total grow faster than N.
Measured side by side with the free schedule in one process, the shared
way (``_measure.py``: interleaved rounds after a warm-up, median of the
paired ratios seeded/free), wall time (``time.perf_counter``), since
2N + 2 threads take part.  No target: the figures of interest are how
seeded grows from 50 to 200 clients.

Run: ``python benchmarks/bench_schedule_threads.py [--rounds N]
[--clients 50,100,200]`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from _measure import header, interleave, parser, table

import sockspec
from sockspec.backends.memory import Network


def clients(schedule: str, n: int) -> float:
    """Wall seconds for *n* clients, each served by a handler thread."""
    network = Network(seed=1, schedule=schedule)
    listener = sockspec.Socket(backend=network, timeout=30)
    listener.bind("127.0.0.1", 7000)
    listener.listen(n)
    handlers: list[threading.Thread] = []

    def handle(conn: sockspec.Socket) -> None:
        with conn:
            conn.send(conn.receive(10))

    def serve() -> None:
        for i in range(n):
            conn = listener.accept()
            h = threading.Thread(target=handle, args=(conn,), name=f"h{i:03d}")
            h.start()
            handlers.append(h)

    def client() -> None:
        with sockspec.Socket(backend=network, timeout=30) as c:
            c.connect("127.0.0.1", 7000)
            c.send(b"hi")
            c.receive(10)

    started = time.perf_counter()
    server = threading.Thread(target=serve, name="server")
    server.start()
    threads = [threading.Thread(target=client, name=f"c{i:03d}") for i in range(n)]
    for t in threads:
        t.start()
    for t in [*threads, server]:
        t.join(60)
    for h in handlers:
        h.join(60)
    elapsed = time.perf_counter() - started
    listener.close()
    network.close()
    return elapsed


def case(schedule: str, n: int) -> Callable[[], float]:
    """One case of :func:`interleave`: *n* clients under *schedule*."""
    return lambda: clients(schedule, n)


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__, rounds=5)
    p.add_argument("--clients", default="50,100,200", help="client counts")
    args = p.parse_args(argv)
    rounds = 1 if args.quick else args.rounds
    counts = [10] if args.quick else [int(n) for n in args.clients.split(",")]
    header(rounds)
    for n in counts:
        results = interleave(
            {
                "free schedule": case("free", n),
                "seeded schedule (default)": case("seeded", n),
            },
            rounds,
            baseline="free schedule",
        )
        table(
            f"{n} clients, {n} handler threads (wall time)",
            results,
            unit="s",
            scale=1.0,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
