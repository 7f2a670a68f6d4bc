"""TLS over any backend: a :class:`SocketImpl` layered on a connected one.

Theory of operation
-------------------
:meth:`Socket.start_tls <sockspec.Socket.start_tls>` replaces the socket's
implementation with a :class:`TLSImpl` that holds the old one as
``raw``.  The TLS state machine is :class:`ssl.SSLObject` over two
:class:`ssl.MemoryBIO` buffers, which needs no descriptor: every byte of
ciphertext goes through ``raw.send``/``raw.receive``, so TLS works on every
backend (the memory network and third-party ones included) with no code in
the backend, and the plain send/receive path never checks for TLS.

* **Receiving.**  ``SSLObject.read`` first; only when it needs ciphertext
  (``SSLWantReadError``) does the layer flush what OpenSSL wants to send
  (handshake, key updates), receive from ``raw`` and try again.  A plain end
  of stream without ``close_notify`` raises :class:`~sockspec.TLSTruncated`
  (an :class:`ssl.SSLEOFError`): a truncated stream is never reported as a
  clean end of data.
* **Sending.**  Plaintext is encrypted a chunk at a time and the ciphertext
  handed to ``raw.send``.  Encrypted bytes cannot be taken back (the record
  sequence numbers advanced), so ciphertext ``raw`` did not take (a timeout,
  non-blocking mode) waits in ``_backlog`` and goes out before
  anything else; the plaintext it carries counts as sent.
* **Timeouts** are the socket's: one operation (the handshake included) may
  take several ``raw`` calls, and together they keep to one deadline on the
  backend's clock (virtual on the memory network).  Non-blocking
  (``timeout=0``): the handshake continues inside later ``send``/``receive``
  calls, which raise :class:`~sockspec.WouldBlock` while TLS waits for the
  peer.
* **Closing** sends ``close_notify`` if it can without waiting, then closes
  ``raw``; ``shutdown(SHUT_WR)`` sends it and half-closes ``raw`` (TLS 1.3
  lets the peer go on sending).
* **Readiness.**  Plaintext already decrypted (or a whole record already
  received) is invisible to the backend's selector, so ``buffered()``
  tells :class:`~sockspec.Poller` and :attr:`~sockspec.Socket.is_readable`
  about it.  Pollers register the innermost implementation (see
  :mod:`sockspec.api.layer`), which stays the same when TLS starts or ends.

``SSLObject`` is not safe to use from two threads at once: ``_lock`` guards
every call into it and is never held across a ``raw`` call, so a blocked
receive never holds it.  ``_wlock`` is held from encrypting to handing the
ciphertext to ``raw``, so records from concurrent senders reach the wire in
the order they were numbered; ``close()`` and a receive never wait for it.
"""

from __future__ import annotations

import errno
import ssl
import threading
from collections.abc import Callable
from typing import BinaryIO, TypeVar

from ._shared import send_file_by_chunks
from .backend import SocketImpl
from .constants import SHUT_RD, SHUT_RDWR, SHUT_WR, Shutdown
from .errors import (
    SocketClosed,
    Timeout,
    TLSError,
    TLSTruncated,
    WouldBlock,
    closed_while_waiting,
    send_timed_out,
    tls_error,
)
from .layer import Layer

__all__ = ["TLSImpl", "check_arguments"]

# Plaintext encrypted per raw send when blocking: big enough that the
# per-call costs vanish, small enough that a timeout overshoots little.
_CHUNK = 64 * 1024
# Non-blocking: one full record, so little ciphertext waits in the backlog.
_RECORD = 16 * 1024
# Ciphertext asked from raw at once: many records, one call.
_RAW_READ = 256 * 1024

_A = TypeVar("_A")
_R = TypeVar("_R")

_WantRead = ssl.SSLWantReadError
_WantWrite = ssl.SSLWantWriteError
_ZeroReturn = ssl.SSLZeroReturnError
_SSLError = ssl.SSLError


class TLSImpl(Layer):
    """TLS over :attr:`raw` with :class:`ssl.SSLObject` and memory BIOs.

    :param raw: a connected stream implementation.
    :param ssl_object: made by ``context.wrap_bio(incoming, outgoing, ...)``.
    :param timeout: the socket's timeout.
    :param clock: the backend's clock (virtual on the memory network).
    :param host: the server name a client checks (for error messages).
    """

    __slots__ = (
        "_backlog",
        "_clock",
        "_closed",
        "_in",
        "_lock",
        "_out",
        "_rd_shut",
        "_ready",
        "_ssl",
        "_stash",
        "_timeout",
        "_wlock",
        "_wr_shut",
        "host",
        "notify_on_close",
        "on_failure",
    )

    def __init__(
        self,
        raw: SocketImpl,
        context: ssl.SSLContext,
        *,
        server_side: bool,
        server_hostname: str | None,
        timeout: float | None,
        clock: Callable[[], float],
    ) -> None:
        super().__init__(raw)
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        try:
            self._ssl = context.wrap_bio(
                self._in,
                self._out,
                server_side=server_side,
                server_hostname=server_hostname,
            )
        except _SSLError as exc:
            raise tls_error(exc, server_hostname) from None
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        # Held from encrypting to handing the ciphertext to raw, so records
        # from two threads reach the wire in the order they were made.
        self._wlock = threading.RLock()
        self._backlog = b""  # ciphertext raw has not taken yet
        self._stash = b""  # plaintext decrypted by buffered()
        self._ready = False  # handshake complete
        self._closed = False
        self._rd_shut = False
        self._wr_shut = False
        #: The server name certificates are checked against (client side).
        self.host = server_hostname
        #: Called when a handshake driven by send/receive fails, so the
        #: facade closes the socket (never left half-upgraded).
        self.on_failure: Callable[[], None] | None = None
        #: Whether :meth:`close` sends ``close_notify`` (sockspec's own
        #: sockets do; the compat ``SSLSocket`` does not, as ``ssl``).
        self.notify_on_close = True

    # -- the handshake ---------------------------------------------------------

    def handshake(self) -> None:
        """Run the handshake to its end (or raise WouldBlock if non-blocking)."""
        deadline = self._deadline()
        while True:
            try:
                with self._lock:
                    self._ssl.do_handshake()
                break
            except _WantRead:
                pass
            except _SSLError as exc:
                self._fail_quietly()
                raise tls_error(exc, self.host) from None
            self._flush(deadline)
            self._feed(deadline)
        self._ready = True
        # The server's TLS 1.3 session tickets and the client's Finished.
        self._flush(deadline)

    def _ensure_ready(self) -> None:
        """Continue a handshake a non-blocking start_tls left unfinished."""
        try:
            self.handshake()
        except (TLSError, SocketClosed):
            self._failed()
            raise
        except OSError as exc:
            if not isinstance(exc, BlockingIOError):
                self._failed()
            raise

    def _failed(self) -> None:
        callback, self.on_failure = self.on_failure, None
        if callback is not None:
            callback()

    def _fail_quietly(self) -> None:
        """Send the alert OpenSSL prepared (why the handshake failed), if it fits."""
        with self._lock:
            alert = self._out.read()
        if alert:
            self._send_nowait(alert)

    # -- raw I/O -----------------------------------------------------------------

    def _deadline(self) -> float | None:
        timeout = self._timeout
        if not timeout:
            return None
        return self._clock() + timeout

    def _raw_call(
        self, call: Callable[[_A], _R], arg: _A, deadline: float | None
    ) -> _R:
        """Run ``call(arg)`` on raw with what is left of the operation's timeout."""
        if deadline is None:
            return call(arg)
        remaining = deadline - self._clock()
        if remaining <= 0:
            raise Timeout(errno.ETIMEDOUT, "timed out")
        if self._timeout is not None and remaining > self._timeout - 0.001:
            return call(arg)  # the first call: raw has the full timeout already
        raw = self.raw
        raw.set_timeout(remaining)
        try:
            return call(arg)
        finally:
            if not self._closed:
                raw.set_timeout(self._timeout)

    def _feed(self, deadline: float | None) -> None:
        """Receive ciphertext from raw into OpenSSL; EOF becomes TLS's EOF."""
        raw = self.raw
        try:
            data = self._raw_call(raw.receive, _RAW_READ, deadline)
        except OSError:
            if self._closed:
                raise closed_while_waiting() from None
            raise
        if not data:
            if self._closed:
                raise closed_while_waiting()
            with self._lock:
                self._in.write_eof()
        else:
            with self._lock:
                self._in.write(data)

    def _flush(self, deadline: float | None, *, quiet: bool = True) -> None:
        """Send the backlog and what OpenSSL produced, within *deadline*.

        *quiet*: a non-blocking flush ignores a connection that is gone (the
        next read reports it); a send's own flush raises it.
        """
        with self._wlock:
            self._flush_locked(deadline, quiet)

    def _flush_locked(self, deadline: float | None, quiet: bool = True) -> None:
        with self._lock:
            data = (
                self._backlog + self._out.read() if self._out.pending else self._backlog
            )
            self._backlog = b""
        if not data:
            return
        if self._timeout == 0:
            self._backlog = data[self._send_nowait(data, quiet) :]
            if self._backlog:
                raise WouldBlock("the TLS layer waits to send to the peer")
            return
        raw = self.raw
        try:
            self._raw_call(raw.send, data, deadline)
        except TimeoutError as exc:
            self._backlog = data[getattr(exc, "bytes_sent", 0) :]
            raise

    def _send_nowait(self, data: bytes, quiet: bool = True) -> int:
        """Hand raw what it takes of *data* now; return the count.

        A connection that is gone (``EPIPE``, ``ECONNRESET``) takes it all
        when *quiet* (an alert, a flush after a read: nothing will go out,
        and the caller's next read reports it); otherwise it raises, as
        ``ssl``'s non-blocking ``send`` does.
        """
        raw = self.raw
        if self._timeout != 0:
            raw.set_timeout(0)
        try:
            return raw.send(data)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:
            if not quiet:
                raise
            return len(data)  # the connection is gone: nothing will go out
        finally:
            if self._timeout != 0 and not self._closed:
                raw.set_timeout(self._timeout)

    # -- receiving ---------------------------------------------------------------

    def receive(self, maxlen: int) -> bytes:
        if self._stash:
            data = self._stash
            self._stash = data[maxlen:]
            return data[:maxlen]
        try:
            with self._lock:
                data = self._ssl.read(maxlen)
        except _WantRead:
            return self._receive_slow(maxlen)
        except _ZeroReturn:
            return b""
        except _SSLError as exc:
            # The alert OpenSSL answers with (an unexpected EOF included)
            # goes out, as it would over a real socket.
            self._fail_quietly()
            raise self._error(exc) from None
        if self._out.pending:
            self._flush_quietly()
        if not self._ready:
            self._ready = True  # a read that returns data finished the handshake
        return data

    def _receive_slow(self, maxlen: int) -> bytes:
        # The handshake may bring application data along: read before waiting.
        fed = not self._ready
        if fed:
            self._ensure_ready()
        deadline = self._deadline()
        while True:
            if not fed:
                if self._backlog or self._out.pending:
                    self._flush_quietly()
                if self._rd_shut:
                    return b""
                self._feed(deadline)
            fed = False
            try:
                with self._lock:
                    data = self._ssl.read(maxlen)
            except _WantRead:
                continue
            except _ZeroReturn:
                return b""
            except _SSLError as exc:
                self._fail_quietly()
                raise self._error(exc) from None
            if self._out.pending:
                self._flush_quietly()
            return data

    def _flush_quietly(self) -> None:
        """Flush what a read produced (a key update) without failing the read.

        A thread sending now flushes it itself, ahead of its own records.
        """
        if not self._wlock.acquire(blocking=False):
            return
        try:
            self._flush_locked(self._deadline())
        except OSError:
            pass  # what is left stays in the backlog; the next send reports
        finally:
            self._wlock.release()

    def _error(self, exc: _SSLError) -> TLSError:
        if isinstance(exc, ssl.SSLEOFError):
            return TLSTruncated(
                exc.errno or ssl.SSL_ERROR_EOF,
                "the peer ended the connection without TLS close_notify "
                "(the data may be truncated)",
            )
        return tls_error(exc, self.host)

    def buffered(self) -> bool:
        if self._stash or self._ssl.pending():
            return True
        if not self._in.pending:
            return False
        # Ciphertext is waiting: is a whole record there?  Only decrypting
        # tells, so keep what it gives for the next receive.
        try:
            with self._lock:
                self._stash = self._ssl.read(_RECORD)
        except _WantRead:
            return False
        except _SSLError:
            return True  # the receive reports it
        return True

    # -- sending -----------------------------------------------------------------

    def send(self, data: bytes | memoryview) -> int:
        if not self._ready:
            self._ensure_ready()
        with self._wlock:
            if self._timeout == 0:
                return self._send_some(data)
            return self._send_all(data)

    def _send_all(self, data: bytes | memoryview) -> int:
        deadline = self._deadline()
        if self._backlog or self._out.pending:
            try:
                self._flush(deadline)
            except TimeoutError:
                raise send_timed_out(0) from None
        view = chunk = memoryview(data)
        total = len(view)
        sent = 0
        ssl_object = self._ssl
        outgoing = self._out
        raw = self.raw
        try:
            while sent < total:
                chunk = view[sent : sent + _CHUNK]
                with self._lock:
                    try:
                        ssl_object.write(chunk)
                    except _SSLError as exc:
                        raise self._error(exc) from None
                    cipher = outgoing.read()
                sent += len(chunk)
                try:
                    if deadline is None:
                        raw.send(cipher)
                    else:
                        self._raw_call(raw.send, cipher, deadline)
                except TimeoutError as exc:
                    self._backlog = cipher[getattr(exc, "bytes_sent", 0) :]
                    raise send_timed_out(sent) from None
        finally:
            _release(chunk, view)
        return total

    def _send_some(self, data: bytes | memoryview) -> int:
        """Non-blocking send: encrypt record by record while raw takes them all.

        The record raw takes only part of waits in the backlog (its plaintext
        counts as sent); the next call raises WouldBlock until it is out.
        """
        if self._backlog or self._out.pending:
            self._flush(None, quiet=False)  # WouldBlock while the old ciphertext waits
        view = chunk = memoryview(data)
        total = len(view)
        sent = 0
        try:
            while sent < total:
                chunk = view[sent : sent + _RECORD]
                with self._lock:
                    try:
                        self._ssl.write(chunk)
                    except _SSLError as exc:
                        raise self._error(exc) from None
                    cipher = self._out.read()
                sent += len(chunk)
                taken = self._send_nowait(cipher, quiet=False)
                if taken < len(cipher):
                    self._backlog = cipher[taken:]
                    break
        finally:
            _release(chunk, view)
        return sent

    def send_file(self, file: BinaryIO) -> int:
        return send_file_by_chunks(self.send, file, _CHUNK)

    # -- ending ------------------------------------------------------------------

    def shutdown(self, how: Shutdown) -> None:
        if (how is SHUT_WR or how is SHUT_RDWR) and not self._wr_shut:
            if self._ready:  # before the handshake there is nothing to end
                self._close_notify(self._deadline())
            self._wr_shut = True
        if how is SHUT_RD or how is SHUT_RDWR:
            self._rd_shut = True
        self.raw.shutdown(how)

    def shutdown_plain(self, how: Shutdown) -> None:
        """Shut the connection under TLS down without ``close_notify``.

        What :meth:`ssl.SSLSocket.shutdown` does (the compat ``SSLSocket``
        mirrors it): no alert, no waiting, no TLS error possible; the peer
        sees the stream end as a truncation.  A later :meth:`close` sends
        no ``close_notify`` on a write side shut this way.
        """
        if how is SHUT_WR or how is SHUT_RDWR:
            self._wr_shut = True
        if how is SHUT_RD or how is SHUT_RDWR:
            self._rd_shut = True
        self.raw.shutdown(how)

    def _close_notify(self, deadline: float | None) -> None:
        with self._wlock:
            with self._lock:
                try:
                    self._ssl.unwrap()
                except (_WantRead, _WantWrite):
                    pass  # sent; the peer's reply is not needed for a half-close
                except _SSLError as exc:
                    raise self._error(exc) from None
            self._flush_locked(deadline)

    def unwrap(self) -> bytes:
        """End TLS both ways (``close_notify`` each way); return early plaintext.

        What the peer sent in the clear right after its ``close_notify`` and
        already arrived is returned, for the plain socket to serve first.
        """
        if not self._ready:
            self._ensure_ready()
        deadline = self._deadline()
        self._flush(deadline)
        while True:
            try:
                with self._lock:
                    self._ssl.unwrap()
                break
            except _WantRead:
                pass
            except _SSLError as exc:
                raise self._error(exc) from None
            self._flush(deadline)
            self._feed(deadline)
        self._flush(deadline)
        with self._lock:
            return self._in.read()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # close_notify if it goes out without waiting (and no other thread is
        # sending or inside OpenSSL): the peer then sees a clean end of
        # stream instead of a truncation.
        if (
            self._ready
            and self.notify_on_close
            and not self._wr_shut
            and self._wlock.acquire(blocking=False)
        ):
            try:
                if self._lock.acquire(blocking=False):
                    try:
                        self._ssl.unwrap()
                    except _SSLError:
                        pass
                    finally:
                        data = self._backlog + self._out.read()
                        self._lock.release()
                    if data:
                        self._send_nowait(data)
            finally:
                self._wlock.release()
        self.raw.close()

    # -- state -------------------------------------------------------------------

    def set_timeout(self, timeout: float | None) -> None:
        self.raw.set_timeout(timeout)
        self._timeout = timeout

    def is_writable(self) -> bool:
        return not self._backlog and not self._wr_shut and self.raw.is_writable()

    @property
    def ssl_object(self) -> ssl.SSLObject:
        """The :class:`ssl.SSLObject` (for the properties the facade reports)."""
        return self._ssl

    @property
    def ready(self) -> bool:
        """Whether the handshake has completed."""
        return self._ready


def check_arguments(
    context: object,
    server_side: object,
    server_hostname: object,
) -> None:
    """Raise the TypeError/ValueError that ``start_tls``'s arguments deserve."""
    if not isinstance(context, ssl.SSLContext):
        raise TypeError(
            f"context must be an ssl.SSLContext, got {type(context).__name__}"
        )
    if not isinstance(server_side, bool):
        raise TypeError(f"server_side must be a bool, got {type(server_side).__name__}")
    if server_hostname is not None:
        if not isinstance(server_hostname, str):
            raise TypeError(
                "server_hostname must be a str or None, "
                f"got {type(server_hostname).__name__}"
            )
        if server_side:
            raise ValueError("server_hostname is for clients, not server_side=True")
        if not server_hostname:
            raise ValueError("server_hostname must not be empty")
    elif not server_side and context.check_hostname:
        raise ValueError("server_hostname is required: the context checks host names")


def _release(*views: memoryview) -> None:
    """Let go of the caller's buffer at once, also when a send failed.

    A traceback keeps the failed call's frame, and with it these views:
    the caller could not resize its ``bytearray`` (``BufferError``) while
    it kept the exception, where ``ssl``'s C code holds nothing.
    """
    for view in views:
        view.release()
