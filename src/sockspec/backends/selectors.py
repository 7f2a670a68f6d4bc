"""The ``selectors`` backend: non-blocking OS sockets, waits done by a selector.

Theory of operation
-------------------
Every OS socket of this backend is in non-blocking mode for its whole life;
the sockspec timeout is bookkeeping in Python, never ``settimeout``.  Each
operation first makes its system call.  Only when the kernel answers
``EAGAIN`` (or ``EINPROGRESS`` for ``connect``) does the mode matter:

* ``timeout == 0``: the error goes up as :class:`~sockspec.WouldBlock`.  A
  ``send`` that fitted part of the data returns that count instead, so no
  byte is ever lost or sent twice.
* ``timeout`` ``None`` or positive: the thread waits in ``poll(2)`` until the
  socket is ready, then makes the call again.  The deadline is taken at the
  first wait and covers the whole operation, so a ``send`` that needs many
  waits still ends on time, raising :class:`~sockspec.Timeout` with
  ``bytes_sent``.  A ``send`` that got a short count waits before the next
  try: a short count means the buffer is full, and trying again at once
  would only cost a system call that fails.

When the data is already there, ``receive`` is one ``recv(2)`` and ``send``
one ``send(2)``: nothing is allocated and no selector is created.  A wait
reuses an idle ``select.poll`` object of the socket (made on the first
wait; it holds no descriptor, only the numbers to poll), so a blocking
``receive`` that has to wait costs ``recv`` + ``poll`` + ``recv``.

A non-blocking ``connect`` is finished by waiting for the socket to become
writable and then calling ``connect(2)`` again, which reports how the
attempt ended and, when it failed, leaves the socket unconnected, so that
the next connect starts afresh as on a blocking socket.  Nothing reads
``SO_ERROR``: reading it clears a pending ``ECONNRESET``, and a reset would
then look like a clean end of stream; it would also leave a failed
attempt's socket marked as connecting (the next connect then fails with
``ECONNABORTED``).  ``recv`` reports a reset itself.

Waking waiters on close
-----------------------
``close(2)`` does not wake a thread sleeping in ``poll(2)`` on that
descriptor.  So each socket gets, the first time a thread actually waits on
it, a wakeup descriptor (an ``eventfd`` on Linux, a pipe elsewhere) that
every wait polls beside the socket.  :meth:`SelectorsSocket.close` marks the
socket closed, signals the wakeup descriptor if anyone waits, then closes
the socket at once; the waiters see the mark and raise
:class:`~sockspec.SocketClosed`.  The wait itself takes no lock: a waiter
appends itself to ``_waiters`` and then looks at the mark, ``close`` sets
the mark and then looks at ``_waiters`` (both atomic under the GIL), so
either the waiter never sleeps or ``close`` signals it.  The wakeup
descriptor is closed by whoever leaves last (``close`` when nobody waits,
else the last waiter out), under one module lock that also covers the
signal, so a descriptor is never signalled or polled after it was closed
and its number reused.  The cost is one extra descriptor, made once, for
sockets that ever wait (a UDP or TCP socket that waited holds two); sockets
driven only through a :class:`~sockspec.Poller` with ``timeout=0`` never
get one.

Multiplexing uses :class:`sockspec.backends._os.OSSelector` (epoll on Linux,
registrations kept in the kernel).  The ``stdlib`` backend reuses both this
socket and that selector (see :mod:`sockspec.backends.stdlib` for why).
"""

from __future__ import annotations

import errno
import io
import math
import os
import select
import socket
import stat
import threading
import time
from collections.abc import Callable
from typing import Any, BinaryIO, TypeVar

from ..api.backend import BackendSpec
from ..api.constants import AF_UNIX, SOCK_STREAM, Family, SocketType
from ..api.errors import (
    SocketError,
    Timeout,
    WouldBlock,
    closed_while_waiting,
    send_before_connect,
    send_timed_out,
)
from ..hookspecs import hookimpl
from . import _os
from ._os import BOUND, CONNECTED, CONNECTING, LISTENING, NEW

__all__ = ["SelectorsBackend", "SelectorsSocket"]

_T = TypeVar("_T")

_POLLIN = select.POLLIN
_POLLOUT = select.POLLOUT
#: Receives that ask poll(2) first after one that had to wait.
_HUNGRY = 8
# How a TCP connect attempt that was made ends in the kernel's
# inet_stream_connect error path, whose tcp_disconnect clears the
# socket's shutdown flags (a shutdown before the attempt is forgotten).
_ATTEMPT_FAILED = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
    }
)
# One os.sendfile call is capped so a huge file cannot overflow ssize_t.
_SENDFILE_MAX = 1 << 30
# Chunk size of the read-and-send fallback of send_file.
_COPY_CHUNK = 1 << 18
# Backoff of a UNIX connect whose listener's queue is full, and of a UNIX
# datagram send to a full receiver (the kernel has no readiness event for
# "the queue has room again").
_UNIX_RETRY_FIRST = 0.001
_UNIX_RETRY_MAX = 0.05
_HAVE_EVENTFD = hasattr(os, "eventfd")
_SOCK_NONBLOCK: int = getattr(socket, "SOCK_NONBLOCK", 0)
# Serialises the rare steps of the wakeup fd's life (creation, signal on
# close, release) across all sockets; the wait itself takes no lock.
_LOCK = threading.Lock()


class _Wakeup:
    """A descriptor that turns readable once :meth:`signal` is called."""

    __slots__ = ("_write_fd", "fd")

    def __init__(self) -> None:
        if _HAVE_EVENTFD:
            #: The descriptor to poll for ``POLLIN``.
            self.fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
            self._write_fd = self.fd
        else:  # pragma: no cover - non-Linux
            self.fd, self._write_fd = os.pipe()
            os.set_blocking(self._write_fd, False)

    def signal(self) -> None:
        """Make :attr:`fd` readable (for good: nobody drains it)."""
        try:
            if _HAVE_EVENTFD:
                os.eventfd_write(self._write_fd, 1)
            else:  # pragma: no cover - non-Linux
                os.write(self._write_fd, b"\0")
        except BlockingIOError:
            pass  # already full, hence already readable

    def close(self) -> None:
        """Release the descriptor(s); idempotent."""
        fd, self.fd = self.fd, -1
        if fd < 0:
            return
        os.close(fd)
        if self._write_fd != fd:  # pragma: no cover - non-Linux
            os.close(self._write_fd)

    def __del__(self) -> None:
        # A socket dropped without close() must not leak its wakeup fd.
        self.close()


def _os_error(code: int) -> OSError:
    # A native error: the facade maps it (from_os_error), like the kernel's.
    return OSError(code, os.strerror(code))


def _timed_out(what: str) -> Timeout:
    return Timeout(errno.ETIMEDOUT, f"{what} timed out")


class SelectorsSocket(_os.OSSocket):
    """One OS socket in non-blocking mode; waits happen in ``poll(2)``."""

    # __dict__ holds only the OS socket's own recv and send, which shadow
    # the methods on a socket that never waits (see set_timeout); it is
    # made on first use, so other sockets pay nothing for it.
    __slots__ = ("__dict__", "_fd", "_hungry", "_idle_polls", "_waiters", "_wakeup")

    def __init__(
        self,
        family: Family,
        type: SocketType,
        sock: socket.socket | None = None,
        state: int = NEW,
    ) -> None:
        if sock is None and _SOCK_NONBLOCK:
            # Born non-blocking: saves the ioctl of setblocking().
            sock = _os.REAL_SOCKET(
                _os.FAMILIES[family], _os.TYPES[type] | _SOCK_NONBLOCK
            )
        else:
            if sock is None:  # pragma: no cover - no SOCK_NONBLOCK (non-Linux)
                sock = _os.REAL_SOCKET(_os.FAMILIES[family], _os.TYPES[type])
            sock.setblocking(False)
        # OSSocket.__init__'s assignments, inlined: a socket is made per
        # connection and a super() call is a frame and an object more.
        # tests/test_perf_guards.py checks that every slot gets set.
        self.os_socket = sock
        self._family = family
        self._type = type
        self._timeout = None
        self._state = state
        self._closed = False
        self._shut_wr = False
        self._fd = sock.fileno()
        # One entry per thread inside _wait; list.append/pop are atomic.
        self._waiters: list[None] = []
        # Idle poll objects with the socket and the wakeup fd registered.
        self._idle_polls: list[select.poll] = []
        self._wakeup: _Wakeup | None = None
        # How many more receives ask poll(2) before recv(2); see receive().
        self._hungry = 0

    # -- waiting ---------------------------------------------------------------

    def _deadline(self, timeout: float | None) -> float | None:
        return None if timeout is None else time.monotonic() + timeout

    def _wait(self, events: int, deadline: float | None) -> bool:
        """Sleep until the socket reports *events* or *deadline* passes.

        Returns ``False`` when the deadline passed first.  ``events == 0``
        sleeps on the wakeup descriptor alone (a plain interruptible sleep).
        Raises :class:`~sockspec.SocketClosed` if the socket is (or gets)
        closed.  Readiness may be spurious; callers retry their call.
        """
        if deadline is None:
            ms: int | None = None
        else:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            # Round up: rounding down would wake early and spin.
            ms = math.ceil(remaining * 1000)
        waiters = self._waiters
        # Announce first, then look at _closed; close() sets _closed, then
        # looks at _waiters.  Either close() sees us and signals, or we see
        # the mark and never sleep.  No lock is needed for that.
        waiters.append(None)
        try:
            if self._closed:
                raise closed_while_waiting()
            if self._wakeup is None:
                self._make_wakeup()
            if events:
                polls = self._idle_polls
                poller = polls.pop() if polls else self._new_poller()
                poller.register(self._fd, events)  # only updates the mask
                ready = poller.poll(ms)
                polls.append(poller)
            else:
                # The socket must stay out: poll reports POLLHUP even for
                # an empty mask, and an unconnected socket has it set.
                ready = self._new_poller().poll(ms)
        finally:
            waiters.pop()
            if self._closed:
                self._leave_closed()
        if self._closed:
            raise closed_while_waiting()
        return bool(ready)

    def _make_wakeup(self) -> None:
        with _LOCK:
            if self._closed:
                raise closed_while_waiting()
            if self._wakeup is None:
                self._wakeup = _Wakeup()

    def _new_poller(self) -> select.poll:
        assert self._wakeup is not None
        poller = _os.REAL_POLL()
        poller.register(self._wakeup.fd, _POLLIN)
        return poller

    def _leave_closed(self) -> None:
        """A waiter leaves a closed socket: the last one out frees the wakeup."""
        with _LOCK:
            if not self._waiters and self._wakeup is not None:
                self._wakeup.close()
                self._wakeup = None
                self._idle_polls.clear()

    def _retry(self, events: int, call: Callable[[], _T], what: str) -> _T:
        """Wait for *events* and repeat *call* until it stops blocking."""
        deadline = self._deadline(self._timeout)
        while True:
            if not self._wait(events, deadline):
                raise _timed_out(what)
            try:
                return call()
            except BlockingIOError:
                continue

    # -- connections -----------------------------------------------------------

    def connect(self, host: str, port: int | None, timeout: float | None) -> None:
        if self._state == CONNECTED and self._type is SOCK_STREAM:
            # Linux answers the first connect() after a non-blocking one
            # completed with success (that is how the completion is
            # collected), so the kernel alone would not refuse this one.
            raise _os_error(errno.EISCONN)
        sock = self.os_socket
        address = _os.os_address(self._family, host, port)
        try:
            sock.connect(address)
        except BlockingIOError as exc:
            if exc.errno == errno.EAGAIN and self._type is not SOCK_STREAM:
                raise  # a datagram socket found no free port: nothing is pending
            if exc.errno == errno.EAGAIN and self._family is AF_UNIX:
                # The listener's queue is full; nothing is in progress.
                if timeout == 0:
                    raise
                self._connect_unix(address, timeout)
                return
            self._state = CONNECTING
            if timeout == 0:
                if exc.errno == errno.EALREADY:
                    raise WouldBlock(
                        exc.errno, "the connection is in progress"
                    ) from None
                raise
            self._finish_connect(address, timeout)
            return
        except OSError as exc:
            if self._state == CONNECTING:
                if exc.errno == errno.EISCONN:
                    self._state = CONNECTED
                    return
                # The kernel reported how the pending attempt ended and
                # made the socket unconnected again.
                self._state = BOUND
            self._attempt_failed(exc)
            raise
        self._state = CONNECTED

    def _attempt_failed(self, exc: OSError) -> None:
        """Forget a shutdown() the kernel forgot when the attempt failed."""
        if exc.errno in _ATTEMPT_FAILED and self._type is SOCK_STREAM:
            self._shut_wr = False

    def _finish_connect(self, address: Any, timeout: float | None) -> None:
        """Wait for a non-blocking connect and collect how it ended.

        A second ``connect(2)`` collects it: success once the handshake is
        done, ``EALREADY`` while it is not, else the error.  Reading
        ``SO_ERROR`` would tell the error too, but would leave the kernel's
        socket marked as connecting, so the next connect on it would fail
        with ``ECONNABORTED`` (as a socket module socket with a timeout
        does) where a blocking socket just starts a new attempt.
        """
        deadline = self._deadline(timeout)
        connect = self.os_socket.connect
        while True:
            if not self._wait(_POLLOUT, deadline):
                raise _timed_out("connect")
            try:
                connect(address)
            except BlockingIOError:
                continue  # EALREADY: woken before the handshake ended
            except OSError as exc:
                if exc.errno != errno.EISCONN:
                    self._state = BOUND  # unconnected again, as on Linux
                    self._attempt_failed(exc)
                    raise
            self._state = CONNECTED
            return

    def _connect_unix(self, address: str, timeout: float | None) -> None:
        """Retry a UNIX connect refused with ``EAGAIN`` (full queue)."""
        self._back_off(
            lambda: self.os_socket.connect(address), self._deadline(timeout), "connect"
        )
        self._state = CONNECTED

    def _back_off(
        self, call: Callable[[], _T], deadline: float | None, what: str
    ) -> _T:
        """Repeat *call*, sleeping longer each time, while it fails with EAGAIN.

        For the waits the kernel has no readiness event for: a UNIX
        listener's full queue, and a UNIX datagram receiver's full queue (the
        sender's own socket polls writable all along, so waiting for
        ``POLLOUT`` would spin).  The sleeps are interruptible: close() ends
        them.
        """
        delay = _UNIX_RETRY_FIRST
        while True:
            until = time.monotonic() + delay
            if deadline is not None:
                if until >= deadline:
                    until = deadline
                if until <= time.monotonic():
                    raise _timed_out(what)
            self._wait(0, until)
            delay = min(delay * 2, _UNIX_RETRY_MAX)
            try:
                return call()
            except BlockingIOError as exc:
                if exc.errno != errno.EAGAIN:
                    raise

    def accept(self) -> SelectorsSocket:
        if self._state != LISTENING:
            raise SocketError(errno.EINVAL, "accept() needs a listening socket")
        sock = self.os_socket
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            if self._timeout == 0:
                raise
            conn, _ = self._retry(_POLLIN, sock.accept, "accept")
        return type(self)(self._family, self._type, conn, CONNECTED)

    def close(self) -> None:
        with _LOCK:
            if self._closed:
                return
            self._closed = True
            wakeup = self._wakeup
            if wakeup is not None:
                if self._waiters:
                    # Signalled under the lock, so the last waiter cannot
                    # have closed it yet; that waiter closes it on its way out.
                    wakeup.signal()
                else:
                    self._wakeup = None
                    self._idle_polls.clear()
                    wakeup.close()
        # A waiter's poll holds its own reference to the open file, so this
        # close cannot pull the socket out from under it; it wakes on the
        # wakeup fd and never touches the descriptor number again.
        self.os_socket.close()

    # -- data ------------------------------------------------------------------

    def receive(self, maxlen: int) -> bytes:
        # A receive that had to wait predicts the next ones: in request /
        # response traffic the reply is rarely there yet.  For the next
        # _HUNGRY receives poll(2) goes first -- it returns at once when data
        # is there -- instead of a recv that fails with EAGAIN, whose
        # exception costs more than the poll.  Then recv goes first again,
        # so streaming traffic returns to one syscall per receive.
        if self._hungry and self._timeout != 0:
            self._hungry -= 1
            return self._receive_waiting(maxlen)
        try:
            return self.os_socket.recv(maxlen)
        except BlockingIOError:
            if self._timeout == 0:
                raise
        self._hungry = _HUNGRY
        return self._receive_waiting(maxlen)

    def _receive_waiting(self, maxlen: int) -> bytes:
        # _retry specialised: this is the path of every blocking receive
        # that finds no data, so it skips the closure and the extra frame.
        recv = self.os_socket.recv
        timeout = self._timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if not self._wait(_POLLIN, deadline):
                raise _timed_out("receive")
            try:
                return recv(maxlen)
            except BlockingIOError:
                continue

    def send(self, data: bytes | memoryview) -> int:
        try:
            sent = self.os_socket.send(data)
        except BlockingIOError:
            if self._timeout == 0:
                raise
            sent = 0
        except BrokenPipeError:
            self._check_connected()
            raise
        else:
            if sent == len(data) or self._timeout == 0:
                return sent
        return self._send_rest(data, sent, self._deadline(self._timeout))

    def _check_connected(self) -> None:
        """Turn a stream's ``EPIPE`` before any connect into ``ENOTCONN``.

        Linux answers a send on a never-connected stream socket with
        ``EPIPE``; the contract says NotConnected, as ``recv`` does.
        """
        if self._type is SOCK_STREAM and self._state in (NEW, BOUND, LISTENING):
            raise send_before_connect() from None

    def _send_rest(
        self, data: bytes | memoryview, sent: int, deadline: float | None
    ) -> int:
        """Send *data* from offset *sent* to its end by *deadline*."""
        send = self.os_socket.send
        with memoryview(data) as view:
            total = len(view)
            while sent < total:
                # Getting here means the last try did not fit everything:
                # the buffer is full, so wait first instead of retrying.
                if not self._wait(_POLLOUT, deadline):
                    raise send_timed_out(sent)
                try:
                    sent += send(view[sent:])
                except BlockingIOError:
                    continue
        return sent

    def receive_from(self, maxlen: int) -> tuple[bytes, str | None, int | None]:
        if self._type is SOCK_STREAM:
            data = self.receive(maxlen)
            host, port = self.remote_address()
            return data, host, port
        recvfrom = self.os_socket.recvfrom
        try:
            data, addr = recvfrom(maxlen)
        except BlockingIOError:
            if self._timeout == 0:
                raise
            data, addr = self._retry(_POLLIN, lambda: recvfrom(maxlen), "receive")
        host, port = self._sender(addr)
        return data, host, port

    def send_to(self, data: bytes | memoryview, host: str, port: int | None) -> int:
        if self._type is SOCK_STREAM:
            # The OS ignores the address on a stream socket; send() also
            # sends everything and says NotConnected before a connection.
            return self.send(data)
        sendto = self.os_socket.sendto
        address = _os.os_address(self._family, host, port)
        try:
            return sendto(data, address)
        except BlockingIOError:
            if self._timeout == 0:
                raise
        if self._family is AF_UNIX:
            deadline = self._deadline(self._timeout)
            return self._back_off(lambda: sendto(data, address), deadline, "send")
        return self._retry(_POLLOUT, lambda: sendto(data, address), "send")

    def send_file(self, file: BinaryIO) -> int:
        try:
            fd = file.fileno()
            offset = file.tell()
            info = os.fstat(fd)
        except (AttributeError, OSError, io.UnsupportedOperation):
            return self._send_file_copy(file)
        if not stat.S_ISREG(info.st_mode):
            return self._send_file_copy(file)
        return self._send_file_zero_copy(file, fd, offset, info.st_size)

    def _send_file_zero_copy(
        self, file: BinaryIO, fd: int, offset: int, size: int
    ) -> int:
        """Send a regular file with ``os.sendfile``; position it after the data."""
        out = self.os_socket.fileno()
        timeout = self._timeout
        deadline: float | None = None
        waited = False
        sent = 0
        try:
            while offset + sent < size:
                count = min(size - offset - sent, _SENDFILE_MAX)
                try:
                    n = os.sendfile(out, fd, offset + sent, count)
                except BlockingIOError:
                    if timeout == 0:
                        if sent:
                            break
                        raise
                    if not waited:
                        waited = True
                        deadline = self._deadline(timeout)
                    if not self._wait(_POLLOUT, deadline):
                        raise send_timed_out(sent) from None
                    continue
                except OSError as exc:
                    if sent == 0 and exc.errno in (errno.EINVAL, errno.ENOSYS):
                        return self._send_file_copy(file)  # not sendfile-able
                    if exc.errno == errno.EPIPE:
                        self._check_connected()
                    raise
                if n == 0:
                    break  # the file shrank under us
                sent += n
        finally:
            if sent:
                file.seek(offset + sent)
        return sent

    def _send_file_copy(self, file: BinaryIO) -> int:
        """Send what ``file.read`` yields; for files ``sendfile`` cannot take."""
        timeout = self._timeout
        deadline: float | None = None
        total = 0
        while True:
            chunk = file.read(_COPY_CHUNK)
            if not chunk:
                return total
            try:
                n = self.os_socket.send(chunk)
            except BlockingIOError:
                if timeout == 0:
                    file.seek(-len(chunk), io.SEEK_CUR)
                    if total:
                        return total
                    raise
                n = 0
            except BrokenPipeError:
                self._check_connected()
                raise
            if n < len(chunk):
                if timeout == 0:
                    file.seek(n - len(chunk), io.SEEK_CUR)
                    return total + n
                if deadline is None:
                    deadline = self._deadline(timeout)
                try:
                    n = self._send_rest(chunk, n, deadline)
                except Timeout as exc:
                    # Leave the file after the bytes that did go out.
                    file.seek(exc.bytes_sent - len(chunk), io.SEEK_CUR)
                    exc.bytes_sent += total
                    raise
            total += n

    # -- options and state -------------------------------------------------

    def set_timeout(self, timeout: float | None) -> None:
        # The OS socket stays non-blocking; the timeout only steers waits.
        was, self._timeout = self._timeout, timeout
        # A socket that never waits gets the OS socket's own recv (and, once
        # connected, send) in place of the methods, which would only make
        # the same call and re-raise BlockingIOError: a Poller loop saves a
        # frame per call.
        sock = self.os_socket
        if timeout == 0:
            self.receive = sock.recv  # type: ignore[method-assign, assignment]
            # Before a connection, send must turn EPIPE into ENOTCONN.
            if self._state == CONNECTED and self._type is SOCK_STREAM:
                self.send = sock.send  # type: ignore[method-assign, assignment]
        elif was == 0:
            self.__dict__.clear()  # the methods again


class SelectorsBackend(_os.OSBackend):
    """OS sockets in non-blocking mode, every wait done in ``poll(2)``."""

    name = "selectors"

    def socket(self, family: Family, type: SocketType) -> SelectorsSocket:
        return SelectorsSocket(family, type)


@hookimpl
def sockspec_add_backends() -> list[BackendSpec]:
    """Offer the ``selectors`` backend."""
    return [
        BackendSpec(
            "selectors",
            SelectorsBackend.make,
            "non-blocking OS sockets, waits in a selector (scales with Poller)",
        )
    ]
