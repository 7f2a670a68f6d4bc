"""A load-generating client for ``examples/echo_server.py``, on ``sockspec.Poller``.

Usage::

    python examples/echo_server.py --port 7007 &
    python examples/echo_client.py                         # 100 clients x 10
    python examples/echo_client.py --connections 2000 --messages 30 --size 64
    python examples/echo_client.py --host 10.0.0.5 --port 9000 --backend stdlib

It opens ``--connections`` connections to ``--host``:``--port``; each sends
``--messages`` messages of ``--size`` bytes one after the other, waiting for
the full echo of one before sending the next, and checks that every echoed
byte is the byte it sent.  All connections run at once from one thread.  At
the end it prints the number of round trips, the time taken and the rate,
and exits with status 0 if every echo matched (1 otherwise, 2 if the server
could not be reached).  ``--timeout`` bounds the whole run.

How it works: the connections are made with a bounded blocking ``connect``,
then switched to ``timeout=0`` and registered in one :class:`sockspec.Poller`
for reading.  Whenever one is readable, whatever arrived is compared with
what is still expected; when the whole message is back, the next one goes
out.  A message is small enough that the kernel takes it whole, and the
client checks that it did.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections.abc import Sequence

import sockspec


class Client:
    """One connection's progress: what it sent and what must still come back."""

    __slots__ = ("expected", "index", "left", "sock")

    def __init__(self, sock: sockspec.Socket, index: int, messages: int) -> None:
        self.sock = sock
        self.index = index
        #: Messages still to send after the one in flight.
        self.left = messages
        #: Bytes of the message in flight not yet echoed back.
        self.expected = b""

    def send_next(self, size: int) -> None:
        """Send the next message; each one is different, so mix-ups show."""
        self.left -= 1
        tag = f"{self.index}:{self.left}:".encode()
        message = (tag * (size // len(tag) + 1))[:size]
        sent = self.sock.send(message)
        if sent != len(message):  # a small message always fits; say so if not
            raise RuntimeError(f"connection {self.index}: short send {sent}")
        self.expected = message


def run(
    host: str,
    port: int,
    *,
    connections: int = 100,
    messages: int = 10,
    size: int = 64,
    backend: str = "selectors",
    timeout: float = 60.0,
) -> tuple[int, float]:
    """Drive the load; return ``(round trips, seconds)``.

    Raises :class:`AssertionError` if an echo differs from what was sent and
    :class:`sockspec.Timeout` if the run takes longer than *timeout*.
    """
    if size < 1 or messages < 1 or connections < 1:
        raise ValueError("connections, messages and size must be >= 1")
    deadline = time.monotonic() + timeout
    clients: dict[sockspec.Socket, Client] = {}
    started = time.perf_counter()
    with sockspec.Poller(backend) as poller:
        try:
            for index in range(connections):
                sock = sockspec.Socket(backend=backend, timeout=10.0)
                clients[sock] = Client(sock, index, messages)
                sock.connect(host, port)
                sock.set_option(sockspec.TCP_NODELAY, True)
                sock.timeout = 0
                poller.register(sock, sockspec.EVENT_READ)
                clients[sock].send_next(size)
            trips = 0
            active = connections
            while active:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise sockspec.Timeout(f"the run took longer than {timeout}s")
                for key, _events in poller.poll(min(remaining, 1.0)):
                    client = clients[key.socket]
                    try:
                        data = client.sock.receive(65536)
                    except sockspec.WouldBlock:
                        continue
                    if not data:
                        raise ConnectionError(
                            f"server closed connection {client.index}"
                        )
                    want = client.expected
                    if data != want[: len(data)]:
                        raise AssertionError(
                            f"connection {client.index}: got {data[:32]!r}, "
                            f"expected {want[:32]!r}"
                        )
                    client.expected = want[len(data) :]
                    if client.expected:
                        continue
                    trips += 1
                    if client.left:
                        client.send_next(size)
                    else:
                        client.sock.close()  # leaves the Poller too
                        active -= 1
        finally:
            for sock in clients:
                sock.close()
    return trips, time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> int:
    """Run the client from the command line; returns the exit status."""
    parser = argparse.ArgumentParser(description="echo load generator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7007)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--messages", type=int, default=10, help="per connection")
    parser.add_argument("--size", type=int, default=64, help="bytes per message")
    parser.add_argument("--backend", default="selectors")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds")
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.connections + 64 <= hard:  # one descriptor per connection
        resource.setrlimit(resource.RLIMIT_NOFILE, (args.connections + 64, hard))
    try:
        trips, seconds = run(
            args.host,
            args.port,
            connections=args.connections,
            messages=args.messages,
            size=args.size,
            backend=args.backend,
            timeout=args.timeout,
        )
    except (sockspec.ConnectionRefused, sockspec.HostNotFound) as exc:
        print(f"cannot reach {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    except (AssertionError, OSError, RuntimeError) as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 1
    rate = trips / seconds if seconds else float("inf")
    print(
        f"{trips} round trips on {args.connections} connections "
        f"in {seconds:.3f}s ({rate:,.0f}/s); every echo matched"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
