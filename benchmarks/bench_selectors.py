"""The selectors backend against raw blocking ``socket``: ping-pong and bulk.

Every case runs side by side with its raw twin in one run, interleaved round
by round after a warm-up round; the figure is the median of paired ratios
(see ``_measure.py``).  The one-thread ping-pong is timed in this thread's
CPU time; the cases with a child process in wall-clock time, since their
cost is waiting.

* ``pingpong-1thread``: 1-byte request and reply over loopback TCP with both
  ends in one thread.  Loopback delivers during ``send``, so ``receive``
  never waits: this isolates the per-call cost of facade + backend.
* ``pingpong-2proc``: the same with the echoing end in a child process, so
  every ``receive`` really waits (the selectors backend then does
  ``poll`` -> ``recv`` where raw does one blocking ``recv``).  Scheduler
  noise on a busy machine is large here.
* ``bulk``: ``--mib`` MiB (128) from this process to a child over loopback
  TCP, 1 MiB per ``send`` (raw: ``sendall``), receiving 256 KiB at a time;
  the clock stops when the child acknowledges the last byte.

Both ends of a case use the implementation under test: blocking sockspec
sockets (``timeout=None``) on the ``selectors`` backend, or raw sockets.

Usage::

    python benchmarks/bench_selectors.py                     # all cases
    python benchmarks/bench_selectors.py --case bulk --rounds 9
    python benchmarks/bench_selectors.py --quick             # smoke run
    python benchmarks/bench_selectors.py --case hungry       # _HUNGRY on/off

``--case hungry`` measures the backend's receive heuristic (``_HUNGRY``:
after a receive that waited, the next ones poll first) against none, on
request/response traffic with a child process and on a stream received
from one, so the heuristic stays only while it measurably helps.

Targets (issues 3, 16): ping-pong <= 1.25x raw, bulk <= 1.10x raw.
"""

from __future__ import annotations

import multiprocessing
import socket
from collections.abc import Callable
from typing import Any, Protocol

from _measure import Target, cpu, header, interleave, parser, summary, table, wall

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
    """CPU seconds of this thread per round trip, both ends in this thread."""
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
    started = cpu()
    for _ in range(n):
        a_send(msg)
        b_recv(1)
        b_send(msg)
        a_recv(1)
    elapsed = cpu() - started
    a.close()
    b.close()
    return elapsed / n


def _echo_child(kind: str, port: int) -> None:
    s: Any = raw_connect(port) if kind == "raw" else spec_connect(port)
    recv = s.recv if kind == "raw" else s.receive
    send = s.send
    while data := recv(1):
        send(data)
    s.close()


def pingpong_2proc(kind: str, n: int, clock: Callable[[], float] = wall) -> float:
    """Seconds (*clock*) per round trip, the echoing end in a child process."""
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
    started = clock()
    for _ in range(n):
        send(msg)
        recv(1)
    elapsed = clock() - started
    conn.close()
    child.join(30)
    return elapsed / n


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
    started = wall()
    for _ in range(mib):
        send_all(chunk)
    ack = recv(1)
    elapsed = wall() - started
    assert ack == b"!", ack
    conn.close()
    child.join(30)
    return elapsed


# -- the receive heuristic (_HUNGRY) on and off ------------------------------------


def _source_child(port: int, total: int) -> None:
    s = raw_connect(port)
    chunk = bytes(1 << 14)
    for _ in range(total // len(chunk)):
        s.sendall(chunk)
    s.close()


def stream_in(total: int) -> float:
    """CPU seconds of this thread receiving *total* bytes from a child."""
    lst, port = spec_listener()
    child = _CTX.Process(target=_source_child, args=(port, total))
    child.start()
    conn = spec_accept(lst)
    lst.close()
    got = 0
    started = cpu()
    while data := conn.receive(1 << 16):
        got += len(data)
    elapsed = cpu() - started
    conn.close()
    child.join(30)
    assert got == total, got
    return elapsed


def hungry_ab(opts: Any) -> list[tuple[str, str, float, float | None]]:
    """The shipped ``_HUNGRY`` against none, on traffic that waits and that streams."""
    from sockspec.backends import selectors as backend_module

    shipped = backend_module._HUNGRY

    def with_hungry(value: int, fn: Callable[[], float]) -> Callable[[], float]:
        def run() -> float:
            backend_module._HUNGRY = value  # the forked child inherits it too
            try:
                return fn()
            finally:
                backend_module._HUNGRY = shipped

        return run

    rows = []
    for title, fn, unit, scale in (
        (
            "request/response, echo in a child process (CPU of this thread/trip)",
            lambda: pingpong_2proc(BACKEND, opts.trips, cpu),
            "us",
            1e6,
        ),
        (
            "request/response, echo in a child process (wall/trip)",
            lambda: pingpong_2proc(BACKEND, opts.trips, wall),
            "us",
            1e6,
        ),
        (
            f"stream {opts.mib} MiB in from a child (CPU of this thread)",
            lambda: stream_in(opts.mib << 20),
            "ms",
            1e3,
        ),
    ):
        result = interleave(
            {
                "no heuristic": with_hungry(0, fn),
                f"_HUNGRY={shipped}": with_hungry(shipped, fn),
            },
            opts.rounds,
            "no heuristic",
        )
        rows += table(title, result, unit=unit, scale=scale)
    return rows


# -- driver ----------------------------------------------------------------------------


def main() -> None:
    args = parser(__doc__, rounds=15)
    args.add_argument(
        "--case",
        choices=("pingpong-1thread", "pingpong-2proc", "bulk", "all", "hungry"),
        default="all",
    )
    args.add_argument("--trips", type=int, default=10000, help="ping-pong count")
    args.add_argument("--mib", type=int, default=128, help="bulk size in MiB")
    opts = args.parse_args()
    if opts.quick:
        opts.rounds, opts.trips, opts.mib = 1, 500, 4
    cases: dict[str, tuple[Callable[[str], float], str, float, float]] = {
        "pingpong-1thread": (
            lambda k: pingpong_1thread(k, opts.trips),
            "us",
            1e6,
            1.25,
        ),
        "pingpong-2proc": (lambda k: pingpong_2proc(k, opts.trips), "us", 1e6, 1.25),
        "bulk": (lambda k: bulk(k, opts.mib), "ms", 1e3, 1.10),
    }
    titles = {
        "pingpong-1thread": "1-byte ping-pong, both ends in this thread (CPU/trip)",
        "pingpong-2proc": "1-byte ping-pong, echo in a child process (wall/trip)",
        "bulk": f"bulk {opts.mib} MiB to a child process (wall clock)",
    }
    header(opts.rounds)
    if opts.case == "hungry":
        hungry_ab(opts)
        return
    rows = []
    for name, (fn, unit, scale, limit) in cases.items():
        if opts.case not in (name, "all"):
            continue
        result = interleave(
            {"raw": lambda fn=fn: fn("raw"), BACKEND: lambda fn=fn: fn(BACKEND)},
            opts.rounds,
            "raw",
        )
        rows += table(
            titles[name],
            result,
            unit=unit,
            scale=scale,
            targets=[Target(BACKEND, limit)],
        )
    summary(rows)


if __name__ == "__main__":
    main()
