"""The selectors backend against raw blocking ``socket``: ping-pong and bulk.

Every case runs side by side with its raw twin in one run, interleaved round
by round so machine noise hits both alike; the figure is the median.

* ``pingpong-1thread``: 1-byte request and reply over loopback TCP with both
  ends in one thread.  Loopback delivers during ``send``, so ``receive``
  never waits: this isolates the per-call cost of facade + backend.
* ``pingpong-2proc``: the same with the echoing end in a child process, so
  every ``receive`` really waits (the selectors backend then does
  ``recv`` -> ``EAGAIN`` -> ``poll`` -> ``recv`` where raw does one
  blocking ``recv``).  Scheduler noise on a busy machine is large here.
* ``bulk``: ``--mib`` MiB (128) from this process to a child over loopback
  TCP, 1 MiB per ``send`` (raw: ``sendall``), receiving 256 KiB at a time;
  the clock stops when the child acknowledges the last byte.

Both ends of a case use the implementation under test: blocking sockspec
sockets (``timeout=None``) on the ``selectors`` backend, or raw sockets.

Usage::

    python benchmarks/bench_selectors.py                     # all cases
    python benchmarks/bench_selectors.py --case bulk --repeat 9
    python benchmarks/bench_selectors.py --quick             # smoke run

Targets (issue 3): ping-pong <= 1.25x raw, bulk <= 1.10x raw.
"""

from __future__ import annotations

import argparse
import multiprocessing
import socket
import statistics
import time
from collections.abc import Callable
from typing import Any, Protocol

import sockspec

BACKEND = "selectors"
_CTX = multiprocessing.get_context("fork")


class _Stream(Protocol):
    """What the cases need from a socket, raw or sockspec."""

    def close(self) -> None: ...


def raw_connect(port: int) -> socket.socket:
    """A raw client connection to *port* with Nagle off."""
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def spec_connect(port: int) -> sockspec.Socket:
    """A blocking sockspec client connection to *port* with Nagle off."""
    s = sockspec.Socket(backend=BACKEND)
    s.connect("127.0.0.1", port)
    s.set_option(sockspec.TCP_NODELAY, True)
    return s


def raw_listener() -> tuple[socket.socket, int]:
    """A raw loopback listener and its port."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s, s.getsockname()[1]


def spec_listener() -> tuple[sockspec.Socket, int]:
    """A sockspec loopback listener and its port."""
    s = sockspec.Socket(backend=BACKEND)
    s.bind("127.0.0.1")
    s.listen()
    return s, s.local_port or 0


def raw_accept(lst: socket.socket) -> socket.socket:
    """Accept one raw connection with Nagle off."""
    conn, _ = lst.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def spec_accept(lst: sockspec.Socket) -> sockspec.Socket:
    """Accept one sockspec connection with Nagle off."""
    conn = lst.accept()
    conn.set_option(sockspec.TCP_NODELAY, True)
    return conn


# -- ping-pong ---------------------------------------------------------------------


def pingpong_1thread(kind: str, n: int) -> float:
    """Microseconds per round trip, both ends in this thread."""
    a: Any
    b: Any
    if kind == "raw":
        lst, port = raw_listener()
        a = raw_connect(port)
        b = raw_accept(lst)
        a_send, a_recv, b_send, b_recv = a.send, a.recv, b.send, b.recv
    else:
        lst, port = spec_listener()  # type: ignore[assignment]
        a = spec_connect(port)
        b = spec_accept(lst)  # type: ignore[arg-type]
        a_send, a_recv, b_send, b_recv = a.send, a.receive, b.send, b.receive
    lst.close()
    msg = b"x"
    started = time.perf_counter()
    for _ in range(n):
        a_send(msg)
        b_recv(1)
        b_send(msg)
        a_recv(1)
    elapsed = time.perf_counter() - started
    a.close()
    b.close()
    return elapsed / n * 1e6


def _echo_child(kind: str, port: int) -> None:
    s: Any = raw_connect(port) if kind == "raw" else spec_connect(port)
    recv = s.recv if kind == "raw" else s.receive
    send = s.send
    while data := recv(1):
        send(data)
    s.close()


def pingpong_2proc(kind: str, n: int) -> float:
    """Microseconds per round trip, the echoing end in a child process."""
    lst: Any
    lst, port = raw_listener() if kind == "raw" else spec_listener()
    child = _CTX.Process(target=_echo_child, args=(kind, port))
    child.start()
    conn: Any = raw_accept(lst) if kind == "raw" else spec_accept(lst)
    lst.close()
    recv = conn.recv if kind == "raw" else conn.receive
    send = conn.send
    msg = b"x"
    for _ in range(min(n, 200)):  # warm up both ends
        send(msg)
        recv(1)
    started = time.perf_counter()
    for _ in range(n):
        send(msg)
        recv(1)
    elapsed = time.perf_counter() - started
    conn.close()
    child.join(30)
    return elapsed / n * 1e6


# -- bulk ----------------------------------------------------------------------------


def _sink_child(kind: str, port: int, total: int) -> None:
    s: Any = raw_connect(port) if kind == "raw" else spec_connect(port)
    recv = s.recv if kind == "raw" else s.receive
    got = 0
    while got < total:
        data = recv(1 << 18)
        if not data:
            break
        got += len(data)
    s.send(b"!")
    s.close()


def bulk(kind: str, mib: int) -> float:
    """Seconds to move *mib* MiB to a child process and hear it got them."""
    total = mib << 20
    chunk = bytes(1 << 20)
    lst: Any
    lst, port = raw_listener() if kind == "raw" else spec_listener()
    child = _CTX.Process(target=_sink_child, args=(kind, port, total))
    child.start()
    conn: Any = raw_accept(lst) if kind == "raw" else spec_accept(lst)
    lst.close()
    send_all: Callable[[bytes], object] = conn.sendall if kind == "raw" else conn.send
    recv = conn.recv if kind == "raw" else conn.receive
    started = time.perf_counter()
    for _ in range(mib):
        send_all(chunk)
    ack = recv(1)
    elapsed = time.perf_counter() - started
    assert ack == b"!", ack
    conn.close()
    child.join(30)
    return elapsed


# -- driver ----------------------------------------------------------------------------


def run_case(
    name: str, fn: Callable[[str], float], repeat: int, unit: str
) -> tuple[float, float, float]:
    """Interleave raw and sockspec *repeat* times; print and return medians."""
    figures: dict[str, list[float]] = {"raw": [], BACKEND: []}
    for _ in range(repeat):
        for kind in figures:
            figures[kind].append(fn(kind))
    raw = statistics.median(figures["raw"])
    ours = statistics.median(figures[BACKEND])
    # Each round's two runs are neighbours in time, so the median of the
    # per-round ratios resists load that comes and goes better than the
    # ratio of medians; both are printed, the paired one is the figure.
    paired = statistics.median(
        o / r for o, r in zip(figures[BACKEND], figures["raw"], strict=True)
    )
    print(f"{name}")
    for kind, values in figures.items():
        runs = " ".join(f"{v:.3f}" for v in values)
        print(f"  {kind:<10} median {statistics.median(values):>10.3f} {unit}   {runs}")
    print(f"  ratio of medians {BACKEND}/raw = {ours / raw:.3f}x")
    print(f"  median of paired ratios     = {paired:.3f}x")
    return raw, ours, paired


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--case",
        choices=("pingpong-1thread", "pingpong-2proc", "bulk", "all"),
        default="all",
    )
    parser.add_argument("--repeat", type=int, default=15, help="interleaved rounds")
    parser.add_argument("--trips", type=int, default=10000, help="ping-pong count")
    parser.add_argument("--mib", type=int, default=128, help="bulk size in MiB")
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = parser.parse_args()
    if args.quick:
        args.repeat, args.trips, args.mib = 1, 500, 4
    cases: dict[str, tuple[Callable[[str], float], str, float]] = {
        "pingpong-1thread": (
            lambda k: pingpong_1thread(k, args.trips),
            "us/trip",
            1.25,
        ),
        "pingpong-2proc": (lambda k: pingpong_2proc(k, args.trips), "us/trip", 1.25),
        "bulk": (lambda k: bulk(k, args.mib), "s", 1.10),
    }
    summary = []
    for name, (fn, unit, target) in cases.items():
        if args.case in (name, "all"):
            _, _, ratio = run_case(name, fn, args.repeat, unit)
            summary.append((name, ratio, target))
    print("summary")
    for name, ratio, target in summary:
        verdict = "ok" if ratio <= target else "MISSED"
        print(f"  {name:<18} {ratio:.3f}x  (target <= {target:.2f}x) {verdict}")


if __name__ == "__main__":
    main()
