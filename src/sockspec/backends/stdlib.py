"""The ``stdlib`` backend: blocking OS sockets from the :mod:`socket` module.

Each sockspec socket owns one :class:`socket.socket`.  Timeouts are the
socket module's own (seconds); ``send`` in blocking or timeout mode sends
everything, and with a timeout reports how far it got when time runs out.
``send_file`` goes through :meth:`socket.socket.sendfile`, which uses
``os.sendfile`` (zero copy) for regular files.

Closing from another thread: a thread blocked in ``recv``/``accept`` is not
woken by ``close(2)`` on Linux.  :meth:`close` therefore first shuts the
receiving side down (``SHUT_RD``), which wakes every reader and acceptor and
puts nothing on the wire, so what the peer sees (FIN, or a reset when data
was left unread) is exactly what a plain ``close(2)`` gives.  Readers report
:class:`~sockspec.SocketClosed`.  A sender blocked on a full buffer is woken
only by ``SHUT_WR``, which sends a FIN: calls that can block that way (and
``connect``) count themselves in ``_waiters``, and ``close`` shuts both
directions down only when one of them waits.  The receive path counts
nothing, which keeps it as short as a raw ``recv``.
"""

from __future__ import annotations

import errno
import socket
import time
from collections.abc import Callable
from typing import BinaryIO

from ..api.backend import BackendSpec
from ..api.constants import SOCK_STREAM, Family, SocketType
from ..api.errors import AlreadyConnected, NotConnected, SocketClosed, SocketError
from ..hookspecs import hookimpl
from . import _os
from ._os import BOUND, CONNECTED, CONNECTING, LISTENING, NEW

__all__ = ["StdlibBackend", "StdlibSocket"]

_SEND_CHUNK = 1 << 20


class StdlibSocket(_os.OSSocket):
    """One blocking OS socket."""

    __slots__ = ("_waiters", "receive")

    #: ``receive`` is the OS socket's own ``recv``: nothing to add on this
    #: path (the facade reports a close from another thread).
    receive: Callable[[int], bytes]  # type: ignore[assignment]

    def __init__(
        self,
        family: Family,
        type: SocketType,
        sock: socket.socket | None = None,
        state: int = NEW,
    ) -> None:
        super().__init__(
            family,
            type,
            sock or socket.socket(_os.FAMILIES[family], _os.TYPES[type]),
            state,
        )
        self._waiters = 0
        self.receive = self.os_socket.recv

    def _raise_if_closed(self) -> None:
        if self._closed:
            raise SocketClosed("the socket was closed while waiting")

    # -- connections -----------------------------------------------------------

    def connect(self, host: str, port: int | None, timeout: float | None) -> None:
        if self._state == CONNECTED and self._type is SOCK_STREAM:
            # With a timeout set, CPython's connect() reports success on a
            # connected socket (it reads EISCONN as "the connect finished").
            raise AlreadyConnected("the socket is already connected")
        sock = self.os_socket
        address = _os.os_address(self._family, host, port)
        if timeout != self._timeout:
            sock.settimeout(timeout)
        self._waiters += 1
        try:
            sock.connect(address)
        except OSError as exc:
            self._raise_if_closed()
            if exc.errno == errno.EISCONN and self._state == CONNECTING:
                self._state = CONNECTED
                return
            if isinstance(exc, BlockingIOError):
                self._state = CONNECTING
            raise
        finally:
            self._waiters -= 1
            if timeout != self._timeout and not self._closed:
                sock.settimeout(self._timeout)
        self._state = CONNECTED

    def accept(self) -> StdlibSocket:
        if self._state != LISTENING:
            raise SocketError(errno.EINVAL, "accept() needs a listening socket")
        try:
            conn, _ = self.os_socket.accept()
        except OSError:
            self._raise_if_closed()
            raise
        return StdlibSocket(self._family, self._type, conn, CONNECTED)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        sock = self.os_socket
        # A datagram socket can block in recvfrom() before it is bound.
        if self._waiters or self._state != NEW or self._type is not SOCK_STREAM:
            how = socket.SHUT_RDWR if self._waiters else socket.SHUT_RD
            try:
                sock.shutdown(how)
            except OSError:
                pass  # e.g. ENOTCONN on an unconnected socket: it still wakes
        sock.close()

    # -- data ------------------------------------------------------------------

    def send(self, data: bytes | memoryview) -> int:
        timeout = self._timeout
        try:
            if timeout == 0:
                return self.os_socket.send(data)
            if timeout is not None:
                return self._send_before(data, time.monotonic() + timeout)
            self._waiters += 1
            try:
                self.os_socket.sendall(data)
            except OSError:
                self._raise_if_closed()
                raise
            finally:
                self._waiters -= 1
        except BrokenPipeError:
            self._raise_if_never_connected()
            raise
        return len(data)

    def _raise_if_never_connected(self) -> None:
        # Linux answers a send on a never-connected stream socket with
        # EPIPE; the contract says NotConnected, like receive().
        if self._type is SOCK_STREAM and self._state in (NEW, BOUND, LISTENING):
            raise NotConnected("the socket is not connected") from None

    def _send_before(self, data: bytes | memoryview, deadline: float) -> int:
        """Send all of *data* by *deadline*, or raise Timeout with the count."""
        sock = self.os_socket
        view = memoryview(data)
        total = len(view)
        sent = 0
        self._waiters += 1
        try:
            while sent < total:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise _os.send_timeout(sent)
                sock.settimeout(remaining)
                try:
                    sent += sock.send(view[sent : sent + _SEND_CHUNK])
                except TimeoutError:
                    raise _os.send_timeout(sent) from None
        except OSError:
            self._raise_if_closed()
            raise
        finally:
            self._waiters -= 1
            if not self._closed:
                sock.settimeout(self._timeout)
        return sent

    def receive_from(self, maxlen: int) -> tuple[bytes, str | None, int | None]:
        if self._type is SOCK_STREAM:
            data = self.receive(maxlen)
            if not data:
                self._raise_if_closed()
            host, port = self.remote_address()
            return data, host, port
        try:
            data, addr = self.os_socket.recvfrom(maxlen)
        except OSError:
            self._raise_if_closed()
            raise
        if self._closed:
            raise SocketClosed("the socket was closed while waiting")
        host, port = self._sender(addr)
        return data, host, port

    def send_to(self, data: bytes | memoryview, host: str, port: int | None) -> int:
        if self._type is SOCK_STREAM:
            # The OS ignores the address on a stream socket; send() also
            # sends everything and says NotConnected before a connection.
            return self.send(data)
        self._waiters += 1
        try:
            return self.os_socket.sendto(data, _os.os_address(self._family, host, port))
        except OSError:
            self._raise_if_closed()
            raise
        finally:
            self._waiters -= 1

    def send_file(self, file: BinaryIO) -> int:
        self._raise_if_never_connected()
        try:
            offset = file.tell()
        except (AttributeError, OSError):
            offset = 0
        if self._timeout == 0:
            return self._send_file_nonblocking(file)
        self._waiters += 1
        try:
            return self.os_socket.sendfile(file, offset)
        except OSError:
            self._raise_if_closed()
            raise
        finally:
            self._waiters -= 1

    def _send_file_nonblocking(self, file: BinaryIO) -> int:
        """Send what fits now; leave the file positioned after it."""
        sent = 0
        while True:
            chunk = file.read(_SEND_CHUNK)
            if not chunk:
                return sent
            try:
                n = self.os_socket.send(chunk)
            except BlockingIOError:
                n = 0
                if sent == 0:
                    file.seek(-len(chunk), 1)
                    raise
            sent += n
            if n < len(chunk):
                file.seek(n - len(chunk), 1)
                return sent

    # -- options and state -------------------------------------------------

    def set_timeout(self, timeout: float | None) -> None:
        self.os_socket.settimeout(timeout)
        self._timeout = timeout


class StdlibBackend(_os.OSBackend):
    """Blocking OS sockets, one :class:`socket.socket` per sockspec socket."""

    name = "stdlib"

    def socket(self, family: Family, type: SocketType) -> StdlibSocket:
        return StdlibSocket(family, type)


@hookimpl
def sockspec_add_backends() -> list[BackendSpec]:
    """Offer the ``stdlib`` backend."""
    return [
        BackendSpec(
            "stdlib", StdlibBackend.make, "blocking OS sockets (the socket module)"
        )
    ]
