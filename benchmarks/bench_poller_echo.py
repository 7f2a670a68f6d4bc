"""Echo-server CPU cost: sockspec Poller + selectors vs asyncio vs raw selectors.

One run measures three servers side by side, interleaved round by round so
machine noise hits all of them alike.  Each round, for each server:

1. the server starts in its own process (this script, ``--serve IMPL``),
   binds an ephemeral loopback port, prints it, and reads its CPU clock;
2. this process, the load generator, opens ``--connections`` connections
   (1,000 by default) and drives ``--trips`` round trips (30) of a
   ``--size``-byte message (64) on each, all concurrently from one
   ``selectors`` loop, then closes them all;
3. when every connection has ended, the server prints the CPU seconds
   (user + system, ``resource.getrusage``) it spent since it started
   listening, and exits.

The figure is the server process's CPU seconds; lower is better.  The three
servers run the same algorithm (echo what arrives, buffer what the kernel
will not take, watch for writability only while something is buffered):

* ``sockspec``: ``sockspec.Poller`` over ``selectors``-backend sockets with
  ``timeout=0``;
* ``asyncio``: ``asyncio.start_server`` with a stream reader/writer pair per
  connection (``read``, ``write``, ``await drain()``);
* ``raw``: the standard ``selectors.DefaultSelector`` over ``socket``
  objects, the floor any Python server can hope for.

Usage::

    python benchmarks/bench_poller_echo.py                 # 5 rounds
    python benchmarks/bench_poller_echo.py --rounds 9 --connections 1000
    python benchmarks/bench_poller_echo.py --quick         # smoke run

Rounds are interleaved after a warm-up round and the figure is the median
of paired ratios to the raw loop (see ``_measure.py``).  The sockspec and
raw servers test readiness the way user code does, ``if events &
EVENT_READ:`` with the module's constant.

Targets: sockspec <= 1.15x raw (issue 16); sockspec <= 0.5x asyncio
(issue 3, a second, labelled reference).
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from _measure import Target, header, interleave, parser, summary, table

IMPLS = ("sockspec", "asyncio", "raw")
LOAD_TIMEOUT = 120.0  # seconds one load run may take before it is abandoned


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def announce(port: int) -> float:
    """Tell the driver the port; return the CPU clock serving starts from."""
    print(port, flush=True)
    return cpu_seconds()


def report(start: float, connections: int) -> None:
    """Print the CPU seconds spent serving (the driver reads this line)."""
    print(f"{cpu_seconds() - start:.6f} {connections}", flush=True)


# -- the three servers ------------------------------------------------------------


def serve_sockspec(expected: int) -> None:
    """Echo on Poller + selectors until *expected* connections have ended."""
    import sockspec

    listener = sockspec.Socket(backend="selectors", timeout=0)
    listener.set_option(sockspec.SO_REUSEADDR, True)
    listener.bind("127.0.0.1", 0)
    listener.listen(4096)
    poller = sockspec.Poller("selectors")
    poller.register(listener, sockspec.EVENT_READ)
    pending: dict[sockspec.Socket, bytes] = {}
    ended = 0
    would_block = sockspec.WouldBlock
    start = announce(listener.local_port or 0)
    while ended < expected:
        for key, events in poller.poll():
            sock = key.socket
            if sock is listener:
                while True:
                    try:
                        conn = listener.accept()
                    except would_block:
                        break
                    poller.register(conn, sockspec.EVENT_READ)
                continue
            if events & sockspec.EVENT_READ:
                try:
                    data = sock.receive(65536)
                except would_block:
                    continue
                except OSError:
                    data = b""
                if not data:
                    pending.pop(sock, None)
                    sock.close()  # also drops it from the Poller
                    ended += 1
                    continue
                if sock in pending:
                    pending[sock] += data
                    continue
                try:
                    sent = sock.send(data)
                except would_block:
                    sent = 0
                if sent < len(data):
                    pending[sock] = data[sent:]
                    poller.modify(sock, sockspec.EVENT_READ | sockspec.EVENT_WRITE)
            elif sock in pending:
                data = pending[sock]
                try:
                    sent = sock.send(data)
                except would_block:
                    continue
                if sent == len(data):
                    del pending[sock]
                    poller.modify(sock, sockspec.EVENT_READ)
                else:
                    pending[sock] = data[sent:]
    report(start, ended)


def serve_raw(expected: int) -> None:
    """The same algorithm on the standard library's selectors and sockets."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    listener.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    pending: dict[socket.socket, bytes] = {}
    ended = 0
    start = announce(listener.getsockname()[1])
    while ended < expected:
        for key, events in sel.select():
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            if sock is listener:
                while True:
                    try:
                        conn, _ = listener.accept()
                    except BlockingIOError:
                        break
                    conn.setblocking(False)
                    sel.register(conn, selectors.EVENT_READ)
                continue
            if events & selectors.EVENT_READ:
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    pending.pop(sock, None)
                    sel.unregister(sock)
                    sock.close()
                    ended += 1
                    continue
                if sock in pending:
                    pending[sock] += data
                    continue
                try:
                    sent = sock.send(data)
                except BlockingIOError:
                    sent = 0
                if sent < len(data):
                    pending[sock] = data[sent:]
                    sel.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
            elif sock in pending:
                data = pending[sock]
                try:
                    sent = sock.send(data)
                except BlockingIOError:
                    continue
                if sent == len(data):
                    del pending[sock]
                    sel.modify(sock, selectors.EVENT_READ)
                else:
                    pending[sock] = data[sent:]
    report(start, ended)


def serve_asyncio(expected: int) -> None:
    """The same service as an asyncio streams server."""

    async def main() -> None:
        done = asyncio.Event()
        ended = 0

        async def handle(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            nonlocal ended
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except OSError:
                pass
            finally:
                writer.close()
                ended += 1
                if ended >= expected:
                    done.set()

        server = await asyncio.start_server(
            handle, "127.0.0.1", 0, backlog=4096, reuse_address=True
        )
        start = announce(server.sockets[0].getsockname()[1])
        await done.wait()
        report(start, ended)
        server.close()

    asyncio.run(main())


SERVERS = {"sockspec": serve_sockspec, "asyncio": serve_asyncio, "raw": serve_raw}


# -- the load generator -------------------------------------------------------------


def generate_load(port: int, connections: int, rounds: int, size: int) -> float:
    """Drive *rounds* round trips on *connections* connections; return seconds."""
    message = b"m" * size
    sel = selectors.DefaultSelector()
    # per connection: [round trips left, bytes of the echo still missing]
    state: dict[socket.socket, list[int]] = {}
    started = time.perf_counter()
    for _ in range(connections):
        s = socket.socket()
        s.setblocking(False)
        err = s.connect_ex(("127.0.0.1", port))
        if err not in (0, errno.EINPROGRESS):
            raise OSError(err, f"connect failed: {errno.errorcode.get(err, err)}")
        state[s] = [rounds, 0]
        sel.register(s, selectors.EVENT_WRITE)
    active = connections
    deadline = time.monotonic() + LOAD_TIMEOUT
    while active:
        if time.monotonic() > deadline:
            raise TimeoutError("the load run took too long; is the server stuck?")
        for key, events in sel.select(1.0):
            conn = key.fileobj
            assert isinstance(conn, socket.socket)
            left = state[conn]
            if events & selectors.EVENT_WRITE:  # connected: send the first one
                err = conn.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise OSError(err, "connect failed")
                conn.send(message)
                left[1] = size
                sel.modify(conn, selectors.EVENT_READ)
                continue
            data = conn.recv(65536)
            if not data:
                raise ConnectionError("the server closed a connection early")
            left[1] -= len(data)
            if left[1] > 0:
                continue
            left[0] -= 1
            if left[0] == 0:
                sel.unregister(conn)
                conn.close()
                active -= 1
            else:
                conn.send(message)
                left[1] = size
    sel.close()
    return time.perf_counter() - started


def measure(impl: str, args: argparse.Namespace) -> tuple[float, float]:
    """Run one server under load; return (server CPU seconds, wall seconds)."""
    command = [sys.executable, __file__, "--serve", impl]
    proc = subprocess.Popen(
        [*command, "--connections", str(args.connections)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        wall = generate_load(port, args.connections, args.trips, args.size)
        line = proc.stdout.readline().split()
        proc.wait(timeout=LOAD_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    cpu, served = float(line[0]), int(line[1])
    if served != args.connections:
        raise RuntimeError(f"{impl}: served {served} of {args.connections}")
    return cpu, wall


def main() -> None:
    p = parser(__doc__, rounds=5)
    p.add_argument("--connections", type=int, default=1000)
    p.add_argument("--trips", type=int, default=30, help="round trips each")
    p.add_argument("--size", type=int, default=64, help="message bytes")
    p.add_argument("--serve", choices=IMPLS, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        SERVERS[args.serve](args.connections)
        return
    if args.quick:
        args.connections, args.trips, args.rounds = 50, 5, 1
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.connections + 64
    if limit[0] < want:  # the load generator holds every connection open
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, limit[1]), limit[1]))
    walls: dict[str, list[float]] = {impl: [] for impl in IMPLS}

    def case(impl: str) -> Callable[[], float]:
        def run() -> float:
            cpu_s, wall_s = measure(impl, args)
            walls[impl].append(wall_s)
            return cpu_s

        return run

    header(args.rounds)
    print(
        f"echo server: {args.connections} connections x {args.trips} round "
        f"trips of {args.size} bytes; figure = the server process's CPU seconds\n"
    )
    result = interleave({impl: case(impl) for impl in IMPLS}, args.rounds, "raw")
    rows = table(
        "server CPU: raw selectors loop (baseline), sockspec Poller, asyncio streams",
        result,
        unit="s",
        scale=1.0,
        targets=[Target("sockspec", 1.15)],
    )
    vs_asyncio = [
        s / a
        for s, a in zip(
            result["sockspec"].values, result["asyncio"].values, strict=True
        )
    ]
    print(
        f"reference: sockspec / asyncio streams, paired = "
        f"{statistics.median(vs_asyncio):.3f}x "
        f"({min(vs_asyncio):.3f} - {max(vs_asyncio):.3f}); issue 3 target <= 0.50x\n"
    )
    rows.append(
        ("server CPU vs asyncio", "sockspec", statistics.median(vs_asyncio), 0.5)
    )
    summary(rows)


if __name__ == "__main__":
    main()
