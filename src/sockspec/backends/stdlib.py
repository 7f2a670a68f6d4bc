"""The ``stdlib`` backend: blocking OS sockets from the :mod:`socket` module.

Each sockspec socket owns one :class:`socket.socket`.  Timeouts are the
socket module's own (seconds); ``send`` in blocking or timeout mode sends
everything, and with a timeout reports how far it got when time runs out.
``send_file`` goes through :meth:`socket.socket.sendfile`, which uses
``os.sendfile`` (zero copy) for regular files.

Closing from another thread: a thread blocked in ``recv``/``accept`` is not
woken by ``close(2)`` on Linux.  Each blocking call counts itself in
``_waiters``; :meth:`close` shuts the socket down first when someone waits,
which wakes them, and they report :class:`~sockspec.SocketClosed`.  With no
waiter, ``close`` is a plain ``close(2)``, so what the peer sees (FIN, or a
reset when data was left unread) is exactly what the OS does.
"""

from __future__ import annotations

import errno
import select
import socket
import time
from typing import BinaryIO

from ..api.backend import Backend, BackendSpec, Capabilities, SelectorImpl, SocketImpl
from ..api.constants import (
    AF_UNIX,
    SHUT_RD,
    SOCK_STREAM,
    Family,
    Option,
    Shutdown,
    SocketType,
)
from ..api.errors import SocketClosed, SocketError, Timeout
from ..hookspecs import hookimpl
from . import _os

__all__ = ["StdlibBackend", "StdlibSocket"]

# Connection states; plain ints keep the hot-path comparisons cheap.
NEW, BOUND, LISTENING, CONNECTING, CONNECTED = range(5)

_POLLIN = select.POLLIN
_POLLOUT = select.POLLOUT
_POLL_BAD = select.POLLERR | select.POLLHUP | select.POLLNVAL
_SEND_CHUNK = 1 << 20


class StdlibSocket(SocketImpl):
    """One blocking OS socket."""

    __slots__ = (
        "_closed",
        "_family",
        "_shut_wr",
        "_state",
        "_timeout",
        "_type",
        "_waiters",
        "os_socket",
    )

    def __init__(
        self,
        family: Family,
        type: SocketType,
        sock: socket.socket | None = None,
        state: int = NEW,
    ) -> None:
        #: The underlying :class:`socket.socket`.
        self.os_socket = sock or socket.socket(_os.FAMILIES[family], _os.TYPES[type])
        self._family = family
        self._type = type
        self._timeout: float | None = None
        self._state = state
        self._waiters = 0
        self._closed = False
        self._shut_wr = False

    def _raise_if_closed(self) -> None:
        if self._closed:
            raise SocketClosed("the socket was closed while waiting")

    # -- connections -----------------------------------------------------------

    def connect(self, host: str, port: int | None, timeout: float | None) -> None:
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

    def bind(self, host: str | None, port: int | None) -> None:
        self.os_socket.bind(_os.os_address(self._family, host, port))
        if self._state == NEW:
            self._state = BOUND

    def listen(self, backlog: int) -> None:
        self.os_socket.listen(backlog)
        self._state = LISTENING

    def accept(self) -> StdlibSocket:
        if self._state != LISTENING:
            raise SocketError(errno.EINVAL, "accept() needs a listening socket")
        self._waiters += 1
        try:
            conn, _ = self.os_socket.accept()
        except OSError:
            self._raise_if_closed()
            raise
        finally:
            self._waiters -= 1
        return StdlibSocket(self._family, self._type, conn, CONNECTED)

    def shutdown(self, how: Shutdown) -> None:
        self.os_socket.shutdown(_os.SHUTDOWN[how])
        if how is not SHUT_RD:
            self._shut_wr = True

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        sock = self.os_socket
        if self._waiters:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # e.g. ENOTCONN on an unconnected socket: it still wakes
        sock.close()

    # -- data ------------------------------------------------------------------

    def receive(self, maxlen: int) -> bytes:
        self._waiters += 1
        try:
            data = self.os_socket.recv(maxlen)
        except OSError:
            self._raise_if_closed()
            raise
        finally:
            self._waiters -= 1
        if not data and self._closed:
            raise SocketClosed("the socket was closed while waiting")
        return data

    def send(self, data: bytes | memoryview) -> int:
        timeout = self._timeout
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
        return len(data)

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
                    raise _timeout(sent)
                sock.settimeout(remaining)
                try:
                    sent += sock.send(view[sent : sent + _SEND_CHUNK])
                except TimeoutError:
                    raise _timeout(sent) from None
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
            host, port = self.remote_address()
            return data, host, port
        self._waiters += 1
        try:
            data, addr = self.os_socket.recvfrom(maxlen)
        except OSError:
            self._raise_if_closed()
            raise
        finally:
            self._waiters -= 1
        if self._closed:
            raise SocketClosed("the socket was closed while waiting")
        if addr is None:
            return data, None, None
        if self._family is AF_UNIX:
            return data, _os.split_address(self._family, addr)[0], None
        return data, addr[0], addr[1]

    def send_to(self, data: bytes | memoryview, host: str, port: int | None) -> int:
        self._waiters += 1
        try:
            return self.os_socket.sendto(data, _os.os_address(self._family, host, port))
        except OSError:
            self._raise_if_closed()
            raise
        finally:
            self._waiters -= 1

    def send_file(self, file: BinaryIO) -> int:
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

    def set_option(self, option: Option, value: object) -> None:
        _os.set_option(self.os_socket, option, value)

    def get_option(self, option: Option) -> object:
        return _os.get_option(self.os_socket, option)

    def set_timeout(self, timeout: float | None) -> None:
        self.os_socket.settimeout(timeout)
        self._timeout = timeout

    def is_connected(self) -> bool:
        if self._state == CONNECTING:
            try:
                self.os_socket.getpeername()
            except OSError:
                return False
            self._state = CONNECTED
        return self._state == CONNECTED and not self._closed

    def _ready(self, event: int) -> int:
        poller = select.poll()
        poller.register(self.os_socket, event)
        ready = poller.poll(0)
        return ready[0][1] if ready else 0

    def is_readable(self) -> bool:
        if self._type is SOCK_STREAM and self._state not in (LISTENING, CONNECTED):
            return False
        return self._ready(_POLLIN) != 0

    def is_writable(self) -> bool:
        if self._shut_wr or (self._type is SOCK_STREAM and not self.is_connected()):
            return False
        events = self._ready(_POLLOUT)
        return bool(events & _POLLOUT) and not events & _POLL_BAD

    def local_address(self) -> tuple[str | None, int | None]:
        return _os.split_address(self._family, self.os_socket.getsockname())

    def remote_address(self) -> tuple[str | None, int | None]:
        if self._state != CONNECTED and not self.is_connected():
            return (None, None)
        try:
            peer = self.os_socket.getpeername()
        except OSError:
            return (None, None)
        if self._family is AF_UNIX:
            return (_os.split_address(self._family, peer)[0], None)
        return (peer[0], peer[1])


def _timeout(sent: int) -> Timeout:
    exc = Timeout(errno.ETIMEDOUT, f"timed out after sending {sent} bytes")
    exc.bytes_sent = sent
    return exc


class StdlibBackend(Backend):
    """Blocking OS sockets, one :class:`socket.socket` per sockspec socket."""

    name = "stdlib"
    capabilities = Capabilities(
        options=_os.OS_OPTIONS,
        os_sockets=True,
        features=frozenset({"zero-copy-send-file"}),
    )

    def socket(self, family: Family, type: SocketType) -> StdlibSocket:
        return StdlibSocket(family, type)

    def selector(self) -> SelectorImpl:
        return _os.OSSelector()


def _make(options: str | None) -> StdlibBackend:
    if options:
        raise ValueError(f"backend 'stdlib' takes no options, got {options!r}")
    return StdlibBackend()


@hookimpl
def sockspec_add_backends() -> list[BackendSpec]:
    """Offer the ``stdlib`` backend."""
    return [BackendSpec("stdlib", _make, "blocking OS sockets (the socket module)")]
