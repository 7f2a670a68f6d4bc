"""Benchmarks of the memory backend.

1. Single-threaded 1-byte ping-pong through the sockspec ``Socket`` facade on
   a memory network, measured side by side with the same exchange on a raw
   :func:`socket.socketpair` (no sockspec at all).  Target: memory <= 1.0x
   the socketpair time.  Runs alternate and the best of several rounds is
   kept, so a noisy neighbour on a shared machine hurts both sides alike.
2. 5,000 simultaneous connections on one memory network, each exchanging one
   message (client -> server -> client), single-threaded.  Target: well
   under a second.

Run: ``python benchmarks/bench_memory.py [--rounds N] [--trips N]``.
"""

from __future__ import annotations

import argparse
import socket
import time

import sockspec
from sockspec.backends.memory import Network

CONNECTIONS = 5000


def pingpong_socketpair(trips: int) -> float:
    """Seconds per round trip on a raw socketpair."""
    a, b = socket.socketpair()
    try:
        send_a, recv_a, send_b, recv_b = a.send, a.recv, b.send, b.recv
        started = time.perf_counter()
        for _ in range(trips):
            send_a(b"x")
            recv_b(1)
            send_b(b"x")
            recv_a(1)
        return (time.perf_counter() - started) / trips
    finally:
        a.close()
        b.close()


def memory_pair(network: Network) -> tuple[sockspec.Socket, sockspec.Socket]:
    """A connected pair of sockets on *network*."""
    with sockspec.Socket(backend=network) as listener:
        listener.bind("127.0.0.1")
        listener.listen()
        client = sockspec.Socket(backend=network)
        client.connect("127.0.0.1", listener.local_port)
        server = listener.accept()
    return client, server


def pingpong_memory(trips: int) -> float:
    """Seconds per round trip through the facade on a memory network."""
    client, server = memory_pair(Network(seed=1))
    try:
        send_a, recv_a, send_b, recv_b = (
            client.send,
            client.receive,
            server.send,
            server.receive,
        )
        started = time.perf_counter()
        for _ in range(trips):
            send_a(b"x")
            recv_b(1)
            send_b(b"x")
            recv_a(1)
        return (time.perf_counter() - started) / trips
    finally:
        client.close()
        server.close()


def many_connections(count: int = CONNECTIONS) -> float:
    """Seconds to open *count* connections and exchange one message on each."""
    network = Network(seed=2)
    started = time.perf_counter()
    listener = sockspec.Socket(backend=network)
    listener.bind("127.0.0.1", 9000)
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
        reply = client.receive()
        if reply != b"request %d" % i:
            raise AssertionError(f"connection {i} got {reply!r}")
    for client, server in pairs:
        client.close()
        server.close()
    listener.close()
    return time.perf_counter() - started


def main() -> None:
    """Run both benchmarks and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--trips", type=int, default=100_000)
    args = parser.parse_args()
    raw: list[float] = []
    mem: list[float] = []
    for _ in range(args.rounds):
        raw.append(pingpong_socketpair(args.trips))
        mem.append(pingpong_memory(args.trips))
    best_raw, best_mem = min(raw), min(mem)
    print(f"1-byte ping-pong, {args.trips} round trips, best of {args.rounds}:")
    print(f"  socket.socketpair()     {best_raw * 1e6:7.2f} us/round trip")
    print(f"  sockspec memory backend {best_mem * 1e6:7.2f} us/round trip")
    print(f"  memory / socketpair     {best_mem / best_raw:7.2f}x (target <= 1.0x)")
    times = [many_connections() for _ in range(3)]
    print(
        f"{CONNECTIONS} connections, one message each way: "
        f"best {min(times) * 1e3:.0f} ms, worst {max(times) * 1e3:.0f} ms"
    )


if __name__ == "__main__":
    main()
