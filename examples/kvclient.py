"""A small client for a line-based key-value protocol.

The protocol: one request per line, one reply per line::

    SET <key> <value>   ->  OK
    GET <key>           ->  VALUE <value>   |   MISSING
    DEL <key>           ->  OK              |   MISSING

The client keeps one connection, reconnects once when the server resets it,
and turns a silent server into :class:`Unavailable` after its timeout.  It
only uses the sockspec API, so it runs on any backend: real sockets in
production, the memory network in its tests (``tests/test_kvclient.py`` and
the guide ``docs/testing-with-memory.md``).
"""

from __future__ import annotations

import sockspec


class Unavailable(Exception):
    """The server did not answer: it is down, unreachable or too slow."""


class ProtocolError(Exception):
    """The server answered something the protocol does not allow."""


class KVClient:
    """Talks to one key-value server at *host*:*port*.

    *timeout* bounds every network wait in seconds; a request that gets no
    complete reply in that time raises :class:`Unavailable`.  A connection
    the server resets is reopened once per request.
    """

    def __init__(self, host: str, port: int, *, timeout: float = 5.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self._sock: sockspec.Socket | None = None
        self._buffer = b""

    def get(self, key: str) -> str | None:
        """Return the value of *key*, or ``None`` if it is not set."""
        reply = self._request(f"GET {key}")
        if reply == "MISSING":
            return None
        if reply.startswith("VALUE "):
            return reply[len("VALUE ") :]
        raise ProtocolError(f"unexpected reply to GET: {reply!r}")

    def set(self, key: str, value: str) -> None:
        """Set *key* to *value*."""
        reply = self._request(f"SET {key} {value}")
        if reply != "OK":
            raise ProtocolError(f"unexpected reply to SET: {reply!r}")

    def delete(self, key: str) -> bool:
        """Remove *key*; return whether it was set."""
        return self._request(f"DEL {key}") == "OK"

    def close(self) -> None:
        """Close the connection (the next request opens a new one)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._buffer = b""

    def __enter__(self) -> KVClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------

    def _request(self, line: str) -> str:
        for attempt in (1, 2):
            try:
                sock = self._connection()
                sock.send(line.encode() + b"\n")
                return self._read_line(sock)
            except (ConnectionResetError, BrokenPipeError, EOFError):
                # The server dropped us (restart, idle timeout, middlebox):
                # one fresh connection is worth a try, a second failure is not.
                self.close()
                if attempt == 2:
                    raise Unavailable(
                        f"{self.host}:{self.port} keeps resetting"
                    ) from None
            except TimeoutError:
                self.close()  # a late reply must not answer the next request
                raise Unavailable(
                    f"{self.host}:{self.port} did not answer in {self.timeout} s"
                ) from None
            except ConnectionRefusedError:
                raise Unavailable(f"{self.host}:{self.port} refused") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _connection(self) -> sockspec.Socket:
        if self._sock is None:
            sock = sockspec.Socket(timeout=self.timeout)
            try:
                sock.connect(self.host, self.port)
            except BaseException:
                sock.close()
                raise
            self._sock = sock
        return self._sock

    def _read_line(self, sock: sockspec.Socket) -> str:
        while b"\n" not in self._buffer:
            chunk = sock.receive()
            if not chunk:
                raise EOFError("the server closed the connection")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode()
