"""A single-threaded TCP echo server on ``sockspec.Poller`` that serves thousands.

Usage::

    python examples/echo_server.py                      # 127.0.0.1:7007
    python examples/echo_server.py --port 0             # an ephemeral port
    python examples/echo_server.py --host 0.0.0.0 --port 9000 --backend stdlib

It prints ``listening on HOST:PORT`` once it accepts connections, and runs
until interrupted (Ctrl-C or SIGTERM), then prints how many connections it
served and closes everything.  Try it with ``examples/echo_client.py``.

How it works: one thread, one :class:`sockspec.Poller` (epoll on Linux, so a
poll costs in proportion to the sockets that are ready, not to the thousands
registered).  Every socket has ``timeout=0``, so no call ever waits; a call
that cannot proceed raises :class:`sockspec.WouldBlock` and the loop moves on.

* The listener is readable: accept until ``WouldBlock`` (a burst of clients
  is taken in one go) and register each new connection for reading.
* A connection is readable: receive and send the data straight back.  What
  the kernel will not take now is kept in that connection's buffer, and the
  connection is watched for writability until the buffer is empty.
* A client that sends faster than it reads would grow its buffer without
  bound, so above ``--max-buffer`` bytes the server stops reading from it
  (backpressure) until the buffer drains.
* End of stream, a reset or any other socket error: close the connection,
  which also removes it from the Poller.
"""

from __future__ import annotations

import argparse
import resource
import signal
import sys
import types
from collections.abc import Sequence

import sockspec

READ = sockspec.EVENT_READ
WRITE = sockspec.EVENT_WRITE


class EchoServer:
    """Echo every byte back to its sender, for any number of clients.

    :param host: address to listen on.
    :param port: port to listen on (``0``: an ephemeral one).
    :param backend: sockspec backend name; ``"selectors"`` suits a Poller.
    :param max_buffer: bytes buffered per client before reading pauses.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 7007,
        *,
        backend: str = "selectors",
        max_buffer: int = 1 << 20,
    ) -> None:
        self.max_buffer = max_buffer
        self.listener = sockspec.Socket(backend=backend, timeout=0)
        self.listener.set_option(sockspec.SO_REUSEADDR, True)
        self.listener.bind(host, port)
        self.listener.listen(4096)
        self.poller = sockspec.Poller(backend)
        self.poller.register(self.listener, READ)
        #: Bytes received but not yet sent back, per connection.
        self.pending: dict[sockspec.Socket, bytearray] = {}
        #: Connections accepted so far.
        self.served = 0
        self._running = False

    @property
    def address(self) -> tuple[str, int]:
        """The ``(host, port)`` the server listens on."""
        return (self.listener.local_address or "", self.listener.local_port or 0)

    def serve_forever(self) -> None:
        """Serve until :meth:`stop` is called (from a signal handler)."""
        self._running = True
        while self._running:
            # A bounded poll lets a stop request be noticed promptly.
            for key, events in self.poller.poll(0.5):
                if key.socket is self.listener:
                    self._accept()
                    continue
                if events & READ:
                    self._read(key.socket)
                if events & WRITE and not key.socket.closed:
                    self._write(key.socket)

    def stop(self) -> None:
        """Make :meth:`serve_forever` return after the current poll."""
        self._running = False

    def close(self) -> None:
        """Close every connection, the listener and the Poller."""
        for conn in list(self.pending):
            conn.close()
        self.pending.clear()
        for sock in list(self.poller.get_map()):
            sock.close()
        self.poller.close()
        self.listener.close()

    # -- events ---------------------------------------------------------------

    def _accept(self) -> None:
        while True:
            try:
                conn = self.listener.accept()  # inherits timeout=0
            except sockspec.WouldBlock:
                return
            except OSError as exc:  # e.g. out of descriptors: keep serving
                print(f"accept failed: {exc}", file=sys.stderr)
                return
            self.served += 1
            self.poller.register(conn, READ)

    def _read(self, conn: sockspec.Socket) -> None:
        try:
            data = conn.receive(65536)
        except sockspec.WouldBlock:
            return
        except OSError:  # reset or other failure: drop the client
            data = b""
        if not data:
            self._drop(conn)
            return
        buffer = self.pending.get(conn)
        if buffer is not None:  # earlier data still queued: keep the order
            buffer += data
            if len(buffer) > self.max_buffer:
                self.poller.modify(conn, WRITE)  # backpressure: stop reading
            return
        try:
            sent = conn.send(data)
        except sockspec.WouldBlock:
            sent = 0
        except OSError:
            self._drop(conn)
            return
        if sent < len(data):
            self.pending[conn] = bytearray(data[sent:])
            self.poller.modify(conn, READ | WRITE)

    def _write(self, conn: sockspec.Socket) -> None:
        buffer = self.pending.get(conn)
        if buffer is None:
            return
        try:
            sent = conn.send(buffer)
        except sockspec.WouldBlock:
            return
        except OSError:
            self._drop(conn)
            return
        del buffer[:sent]
        if not buffer:
            del self.pending[conn]
            self.poller.modify(conn, READ)
        elif len(buffer) <= self.max_buffer:
            self.poller.modify(conn, READ | WRITE)

    def _drop(self, conn: sockspec.Socket) -> None:
        self.pending.pop(conn, None)
        conn.close()  # also unregisters it from the Poller

    def __enter__(self) -> EchoServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.close()


def raise_fd_limit() -> int:
    """Raise the soft descriptor limit to the hard one; return the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server from the command line; returns the exit status."""
    parser = argparse.ArgumentParser(description="single-threaded echo server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7007, help="0: ephemeral")
    parser.add_argument("--backend", default="selectors")
    parser.add_argument(
        "--max-buffer", type=int, default=1 << 20, help="bytes per client"
    )
    args = parser.parse_args(argv)
    raise_fd_limit()  # each client costs one descriptor
    with EchoServer(
        args.host, args.port, backend=args.backend, max_buffer=args.max_buffer
    ) as server:

        def stop(signum: int, frame: types.FrameType | None) -> None:
            server.stop()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        host, port = server.address
        print(f"listening on {host}:{port}", flush=True)
        server.serve_forever()
        print(f"served {server.served} connections", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
