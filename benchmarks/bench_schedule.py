"""Cost of the seeded schedule: two-thread ping-pong on the memory network.

The echo end runs in a second thread, so every round trip makes each thread
wait for the other on the network: the case where the seeded schedule
(``Network(schedule="seeded")``) has the most to do per byte.  Measured side
by side with the default free schedule in one process: rounds alternate
(free, seeded, free...), the first pair is a warm-up and is dropped, and the
figure is the median of the paired ratios seeded/free.  Wall time
(``time.perf_counter``), since two threads take part.  Target: <= 1.5x.

Run: ``python benchmarks/bench_schedule.py [--rounds N] [--trips N]``.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--trips", type=int, default=2000)
    args = parser.parse_args()
    ratios = []
    for round_ in range(args.rounds + 1):
        free = pingpong("free", args.trips)
        seeded = pingpong("seeded", args.trips)
        if round_:  # the first pair warms up
            ratios.append(seeded / free)
        print(
            f"round {round_}: free {free * 1e6:.1f} us/trip, "
            f"seeded {seeded * 1e6:.1f} us/trip, ratio {seeded / free:.2f}x"
        )
    print(f"median seeded/free: {statistics.median(ratios):.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
