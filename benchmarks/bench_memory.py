"""Benchmarks of the memory backend.

Measured the way every script here measures (see ``_measure.py``):
interleaved rounds after a warm-up, median of paired ratios.

1. 1-byte ping-pong through the sockspec ``Socket`` facade on a memory
   network against the same exchange on a raw :func:`socket.socketpair`:
   both ends in one thread (CPU time of the thread), and one thread per end
   (CPU time of the process, both threads; the ends hand over every message),
   on the default seeded schedule and on ``schedule="free"``.
2. Connections to a listener bound to ``0.0.0.0``: open, exchange one
   message each way, close, for 2,000 and for 20,000 connections (CPU
   time; the 2,000 figure is the mean of ten runs in each round).  Linear
   cost means the 20,000 case costs 10x the 2,000 one.
   Three more tables break the figure down: with the objects the process made
   before the run frozen (``gc.freeze()``: full collections walk only what
   the run made, not the interpreter's and the modules' own objects), and
   with the cyclic garbage collector off; and, as a reference, a
   pure-Python model that makes the same objects and walks them the same
   way without sockspec (:func:`floor_model`).
3. The size of an idle connection, both ends (``tracemalloc``: the bytes
   one more connected pair costs), with and without the records it adds to
   the network's event log, fresh and once a message went each way; no
   timing.

Run: ``python benchmarks/bench_memory.py`` (``--quick`` for a smoke run;
``--case connections`` for the connection counts alone, in
``--scale-rounds`` rounds, 3 by default).
"""

from __future__ import annotations

import argparse
import gc
import socket
import threading
import time
import tracemalloc
from collections import deque
from collections.abc import Callable
from typing import Any

from _measure import Target, cpu, header, interleave, parser, summary, table

import sockspec
from sockspec.backends.memory import Network

#: A summary row: (table title, case, ratio, target).
Row = tuple[str, str, float, float | None]

JOIN = 60.0  # seconds a ping-pong thread may take before the run is abandoned


def socketpair_ends() -> tuple[Any, Any, Callable[[], None]]:
    a, b = socket.socketpair()

    def close() -> None:
        a.close()
        b.close()

    return (a.send, a.recv), (b.send, b.recv), close


def memory_ends(schedule: str = "seeded") -> tuple[Any, Any, Callable[[], None]]:
    network = Network(seed=1, schedule=schedule)
    with sockspec.Socket(backend=network) as listener:
        listener.bind("127.0.0.1")
        listener.listen()
        client = sockspec.Socket(backend=network)
        client.connect("127.0.0.1", listener.local_port)
        server = listener.accept()

    def close() -> None:
        client.close()
        server.close()

    return (client.send, client.receive), (server.send, server.receive), close


def one_thread(make: Callable[[], Any], trips: int) -> Callable[[], float]:
    """CPU seconds of this thread per round trip, both ends in this thread."""

    def run() -> float:
        (send_a, recv_a), (send_b, recv_b), close = make()
        try:
            started = cpu()
            for _ in range(trips):
                send_a(b"x")
                recv_b(1)
                send_b(b"x")
                recv_a(1)
            return (cpu() - started) / trips
        finally:
            close()

    return run


def two_threads(make: Callable[[], Any], trips: int) -> Callable[[], float]:
    """CPU seconds of the process per round trip, an echo thread at one end."""

    def run() -> float:
        (send_a, recv_a), (send_b, recv_b), close = make()

        def echo() -> None:
            for _ in range(trips):
                send_b(recv_b(1))

        thread = threading.Thread(target=echo, daemon=True)
        try:
            started = time.process_time()
            thread.start()
            for _ in range(trips):
                send_a(b"x")
                recv_a(1)
            thread.join(JOIN)
            if thread.is_alive():
                raise SystemExit("the echo thread is stuck")
            return (time.process_time() - started) / trips
        finally:
            close()

    return run


def connections(
    count: int, collector: str = "on", repeat: int = 1
) -> Callable[[], float]:
    """CPU seconds to open, use and close *count* connections to 0.0.0.0.

    *collector*: ``"on"``; ``"frozen"``, the objects that existed before
    the run moved out of the collector's reach (:func:`gc.freeze`), so a
    full collection walks only what the run made; ``"off"``, no cyclic
    collection during the run: what is left is sockspec's own work.
    *repeat*: the mean of that many runs, each on a new network, garbage
    collected between them off the clock (the short case runs ten times:
    one run of 2,000 lasts about 0.1 s, and one preemption or cache flush
    on a shared machine moved its paired ratio by 30%).
    """

    def once() -> float:
        network = Network(seed=2)
        if collector == "off":
            gc.disable()
        elif collector == "frozen":
            gc.freeze()
        try:
            return _connections(network, count)
        finally:
            gc.enable()
            gc.unfreeze()

    return _mean_of(once, repeat)


def _mean_of(once: Callable[[], float], repeat: int) -> Callable[[], float]:
    """A case that runs *once* *repeat* times, collecting garbage off the
    clock between runs, and gives the mean."""

    def run() -> float:
        total = 0.0
        for i in range(repeat):
            if i:
                gc.collect()
            total += once()
        return total / repeat

    return run


def _connections(network: Network, count: int) -> float:
    """CPU seconds of one run of :func:`connections` on *network*."""
    started = cpu()
    listener = sockspec.Socket(backend=network)
    listener.bind("0.0.0.0", 9000)
    listener.listen(4096)
    pairs = []
    for _ in range(count):
        client = sockspec.Socket(backend=network)
        client.connect("127.0.0.1", 9000)
        pairs.append((client, listener.accept()))
    for i, (client, _) in enumerate(pairs):
        client.send(b"request %d" % i)
    for _, server in pairs:
        server.send(server.receive())
    for i, (client, _) in enumerate(pairs):
        if client.receive() != b"request %d" % i:
            raise AssertionError(f"connection {i} got the wrong reply")
    for client, server in pairs:
        client.close()
        server.close()
    listener.close()
    return cpu() - started


class _End:
    """The floor model's socket: as many slots as a ``MemorySocket``."""

    __slots__ = ("closed", "id", "peer", "port", "rx", *(f"s{i}" for i in range(51)))
    peer: Any
    rx: Any

    def __init__(self, table: dict[int, _End], ident: int, port: int) -> None:
        self.id, self.port, self.peer, self.rx, self.closed = ident, port, None, None, 0
        table[ident] = self


class _Facade:
    """The floor model's ``Socket``: a small object in front of an end."""

    __slots__ = ("closed", "impl")

    def __init__(self, impl: _End) -> None:
        self.impl, self.closed = impl, False


def floor_model(count: int, repeat: int = 1) -> Callable[[], float]:
    """CPU seconds of a pure-Python model of :func:`connections`, no sockspec.

    Per connection it makes the objects sockspec made until the pass of
    docs/performance.md's "objects per connection" (two ends with 56
    slots, two facades, a port's list, a receive queue each; sockspec now
    makes neither the list nor the queues), keeps them in the same kind of
    tables and walks them in the same five passes:
    what the interpreter and the machine's caches charge for that many
    objects, with little Python work per connection.  A reference for the
    connection counts: its 20,000 / 2,000 ratio is what the heap alone does.
    """

    def once() -> float:
        started = cpu()
        ends: dict[int, _End] = {}
        ports: dict[tuple[str, int], list[_End]] = {}
        accepted: dict[_End, None] = {}
        log: deque[tuple[float, str, str]] = deque(maxlen=10_000)
        pairs = []
        for i in range(count):
            client, server = _End(ends, 2 * i, 32768 + i), _End(ends, 2 * i + 1, 9000)
            ports[("tcp", client.port)] = [client]
            accepted[server] = None
            client.peer, server.peer = server, client
            log.append((0.0, "connect", f"local 127.0.0.1:{client.port}"))
            log.append((0.0, "accept", f"local 127.0.0.1:{client.port}"))
            pairs.append((_Facade(client), _Facade(server)))
        for i, (c, _) in enumerate(pairs):
            c.impl.peer.rx = deque([b"request %d" % i])
        for _, s in pairs:
            s.impl.peer.rx = deque([s.impl.rx.popleft()])
        for c, _ in pairs:
            c.impl.rx.popleft()
        for c, s in pairs:
            for facade in (c, s):
                end = facade.impl
                end.closed = facade.closed = True
                del ends[end.id]
                if end.port == 9000:
                    del accepted[end]
                else:
                    del ports[("tcp", end.port)]
                log.append((0.0, "close", f"local 127.0.0.1:{end.port}"))
        return cpu() - started

    return _mean_of(once, repeat)


def idle_connection_bytes(count: int, traffic: bool = False) -> tuple[float, float]:
    """Bytes one idle connection (both ends) costs: with, and without, its log.

    The mean over *count* connections opened to one listener.  The second
    figure leaves out the records the connection added to the network's
    event log, which is the network's history rather than the connection.
    *traffic*: each connection sends a message each way (and receives it)
    before it is counted, so what a drained connection keeps counts too.
    """
    network = Network(seed=3)
    listener = sockspec.Socket(backend=network)
    listener.bind("127.0.0.1", 9000)
    listener.listen(4096)
    pairs = []

    def connect() -> None:
        client = sockspec.Socket(backend=network)
        client.connect("127.0.0.1", 9000)
        server = listener.accept()
        if traffic:
            client.send(b"ping")
            server.send(server.receive(10))
            client.receive(10)
        pairs.append((client, server))

    for _ in range(10):  # warm the network's tables before counting
        connect()
    network.clear_events()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(count):
        connect()
    gc.collect()
    with_log = tracemalloc.get_traced_memory()[0]
    network.clear_events()
    gc.collect()
    without_log = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    for client, server in pairs:
        client.close()
        server.close()
    listener.close()
    return (with_log - before) / count, (without_log - before) / count


def main() -> None:
    args = parser(__doc__, rounds=7)
    args.add_argument("--trips", type=int, default=50_000)
    args.add_argument(
        "--case",
        choices=["all", "pingpong", "threads", "connections", "idle"],
        default="all",
        help="run one case only (default: all)",
    )
    args.add_argument(
        "--scale-rounds",
        type=int,
        default=3,
        help="measured rounds of the connection counts (default 3)",
    )
    opts = args.parse_args()
    rounds = 1 if opts.quick else opts.rounds
    trips = 2_000 if opts.quick else opts.trips
    small, large = (200, 2_000) if opts.quick else (2_000, 20_000)
    header(
        opts.scale_rounds if opts.case == "connections" and not opts.quick else rounds
    )
    rows: list[Row] = []
    if opts.case in ("all", "pingpong"):
        rows += table(
            "1-byte ping-pong, both ends in one thread (CPU per round trip)",
            interleave(
                {
                    "socket.socketpair()": one_thread(socketpair_ends, trips),
                    "sockspec memory": one_thread(memory_ends, trips),
                },
                rounds,
                "socket.socketpair()",
            ),
            unit="us",
            scale=1e6,
            targets=[Target("sockspec memory", 0.8)],
        )
    if opts.case in ("all", "threads"):
        rows += table(
            "1-byte ping-pong, one thread per end (process CPU per round trip)",
            interleave(
                {
                    "socket.socketpair()": two_threads(socketpair_ends, trips // 5),
                    "sockspec memory": two_threads(memory_ends, trips // 5),
                    "sockspec memory, free schedule": two_threads(
                        lambda: memory_ends("free"), trips // 5
                    ),
                },
                rounds,
                "socket.socketpair()",
            ),
            unit="us",
            scale=1e6,
            targets=[
                Target("sockspec memory", 3.0),
                Target("sockspec memory, free schedule", 3.0),
            ],
        )
    if opts.case in ("all", "connections"):
        rows += connection_tables(small, large, opts)
    if opts.case in ("all", "idle"):
        for label, traffic in (
            ("idle connection, both ends", False),
            ("the same once a message went each way", True),
        ):
            with_log, without_log = idle_connection_bytes(
                200 if opts.quick else 2_000, traffic
            )
            verdict = "ok" if without_log <= 2560 else "MISSED"
            print(
                f"{label}: {without_log:,.0f} bytes, {with_log:,.0f} with its "
                f"event-log records (target <= 2,560) {verdict}"
            )
        print()
    summary(rows)


def connection_tables(small: int, large: int, opts: argparse.Namespace) -> list[Row]:
    """The connection-count case and its two breakdown rows; its summary rows."""
    scale_rounds = 1 if opts.quick else opts.scale_rounds
    rows = table(
        f"{small:,} vs {large:,} connections to 0.0.0.0 (CPU, whole run; "
        f"{small:,}: the mean of {large // small} runs)",
        interleave(
            {
                f"{small:,}": connections(small, repeat=large // small),
                f"{large:,}": connections(large),
            },
            scale_rounds,
            f"{small:,}",
        ),
        unit="s",
        scale=1.0,
        targets=[Target(f"{large:,}", 1.2 * large / small)],
    )
    for label, collector in (
        (
            "the same with the objects made before each run frozen "
            "(full collections walk only the run's objects)",
            "frozen",
        ),
        ("the same with the cyclic garbage collector off (sockspec's own work)", "off"),
    ):
        table(
            label,
            interleave(
                {
                    f"{small:,}": connections(small, collector, large // small),
                    f"{large:,}": connections(large, collector),
                },
                scale_rounds,
                f"{small:,}",
            ),
            unit="s",
            scale=1.0,
        )
    table(
        "reference: a pure-Python model of the same objects and passes, no "
        "sockspec (what the heap alone costs)",
        interleave(
            {
                f"{small:,}": floor_model(small, large // small),
                f"{large:,}": floor_model(large),
            },
            scale_rounds,
            f"{small:,}",
        ),
        unit="s",
        scale=1.0,
    )
    return rows


if __name__ == "__main__":
    main()
