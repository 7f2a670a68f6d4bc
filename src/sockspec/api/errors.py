"""The sockspec error hierarchy.

Every error a backend reports is a :class:`SocketError` (itself an
:class:`OSError`).  Each specific error also subclasses the matching built-in
exception, so ``except ConnectionRefusedError`` or ``except TimeoutError``
written for the standard library keeps working, and carries ``errno`` where an
OS code exists, on every backend including the in-memory one.

OS errors are turned into these classes in exactly one place,
:func:`from_os_error`; backends that do not use the OS raise them directly.
"""

from __future__ import annotations

import errno as _errno
import os
import socket as _socket
import ssl as _ssl

__all__ = [
    "AddressInUse",
    "AddressNotAvailable",
    "AlreadyConnected",
    "BrokenPipe",
    "ConnectionAborted",
    "ConnectionRefused",
    "ConnectionReset",
    "HostNotFound",
    "HostUnreachable",
    "MessageTooLong",
    "NetworkUnreachable",
    "NotConnected",
    "PermissionDenied",
    "SocketClosed",
    "SocketError",
    "TLSCertificateError",
    "TLSError",
    "TLSTruncated",
    "Timeout",
    "UnsupportedOperation",
    "WouldBlock",
    "from_os_error",
    "tls_error",
]


class SocketError(OSError):
    """Base class of every error raised by a sockspec socket.

    Construct it like :class:`OSError`: ``SocketError(errno, message)``; a
    specific subclass built from a message alone gets its default ``errno``.
    """

    #: The errno a subclass carries when it is raised with a message only.
    default_errno: int | None = None

    def __init__(self, *args: object) -> None:
        if len(args) == 1 and isinstance(args[0], str) and self.default_errno:
            args = (self.default_errno, args[0])
        super().__init__(*args)

    def __reduce__(self) -> tuple[type[SocketError], tuple[object, ...]]:
        if self.errno is not None:
            return (type(self), (self.errno, self.strerror))
        return (type(self), self.args)


class Timeout(SocketError, TimeoutError):
    """The operation did not finish within the socket's timeout.

    For :meth:`~sockspec.Socket.send`, :attr:`bytes_sent` tells how much of
    the data was handed to the network before the time ran out, so nothing is
    lost silently.
    """

    default_errno = _errno.ETIMEDOUT
    #: Bytes of the data that were sent before the timeout (``send`` only).
    bytes_sent: int = 0


class WouldBlock(SocketError, BlockingIOError):
    """The socket is non-blocking (``timeout=0``) and the call would wait.

    ``errno`` says why, as the socket module does: ``EAGAIN`` for data,
    ``EINPROGRESS`` for a connect that started, ``EALREADY`` for a connect
    while an earlier one is still in progress.
    """

    default_errno = _errno.EAGAIN


class ConnectionRefused(SocketError, ConnectionRefusedError):
    """Nothing listens at the address connected to."""

    default_errno = _errno.ECONNREFUSED


class ConnectionReset(SocketError, ConnectionResetError):
    """The peer reset the connection (for example it closed with unread data)."""

    default_errno = _errno.ECONNRESET


class ConnectionAborted(SocketError, ConnectionAbortedError):
    """The connection was aborted on this side."""

    default_errno = _errno.ECONNABORTED


class BrokenPipe(SocketError, BrokenPipeError):
    """Sending on a connection whose peer can no longer receive."""

    default_errno = _errno.EPIPE


class AddressInUse(SocketError):
    """The address and port are already bound by another socket."""

    default_errno = _errno.EADDRINUSE


class AddressNotAvailable(SocketError):
    """The address is not one of this host's, or cannot be used here."""

    default_errno = _errno.EADDRNOTAVAIL


class HostNotFound(SocketError):
    """A host or service name could not be resolved."""

    default_errno = _socket.EAI_NONAME


class HostUnreachable(SocketError):
    """No route to the host."""

    default_errno = _errno.EHOSTUNREACH


class NetworkUnreachable(SocketError):
    """The network of the address cannot be reached."""

    default_errno = _errno.ENETUNREACH


class NotConnected(SocketError):
    """The operation needs a connected socket."""

    default_errno = _errno.ENOTCONN


class AlreadyConnected(SocketError):
    """``connect`` on a socket that is already connected."""

    default_errno = _errno.EISCONN


class SocketClosed(SocketError):
    """The socket was closed; no operation is possible any more."""

    default_errno = _errno.EBADF


class UnsupportedOperation(SocketError):
    """The backend or socket type cannot do this operation."""

    default_errno = _errno.EOPNOTSUPP


class MessageTooLong(SocketError):
    """A datagram is larger than the network can carry."""

    default_errno = _errno.EMSGSIZE


class PermissionDenied(SocketError, PermissionError):
    """The OS refused the operation (for example broadcast without SO_BROADCAST)."""

    default_errno = _errno.EACCES


class TLSError(SocketError, _ssl.SSLError):
    """The TLS layer of a socket failed (see :meth:`~sockspec.Socket.start_tls`).

    It is also an :class:`ssl.SSLError`, so ``except ssl.SSLError`` written
    for the standard library keeps working.  As there, :attr:`errno` is the
    ``ssl.SSL_ERROR_*`` code and :attr:`library` and :attr:`reason` name
    OpenSSL's reason (``"SSL"``, ``"WRONG_VERSION_NUMBER"``).
    """


class TLSCertificateError(TLSError, _ssl.SSLCertVerificationError):
    """The peer's certificate failed verification (also an
    :class:`ssl.SSLCertVerificationError`).

    :attr:`host` is the name the certificate was checked against;
    ``verify_code`` and ``verify_message`` are OpenSSL's, as in :mod:`ssl`.
    """

    #: The server name the client expected (``server_hostname``), or ``None``.
    host: str | None = None


class TLSTruncated(TLSError, _ssl.SSLEOFError):
    """The connection ended without TLS's ``close_notify`` alert.

    Also an :class:`ssl.SSLEOFError`, which is what :mod:`ssl` raises for the
    same event: an attacker (or a crashed peer) cut the stream, so the data
    received may be incomplete.
    """


def tls_error(exc: _ssl.SSLError, host: str | None = None) -> TLSError:
    """Return the sockspec error that stands for the :mod:`ssl` error *exc*.

    *host* is the server name a client checked the certificate against.
    """
    if isinstance(exc, TLSError):
        return exc
    code = exc.errno if exc.errno is not None else _ssl.SSL_ERROR_SSL
    message = exc.strerror or str(exc)
    err: TLSError
    if isinstance(exc, _ssl.SSLCertVerificationError):
        if host is not None:
            message = f"{message} (server_hostname {host!r})"
        cert = TLSCertificateError(code, message)
        cert.host = host
        cert.verify_code = getattr(exc, "verify_code", 0)
        cert.verify_message = getattr(exc, "verify_message", "")
        err = cert
    elif isinstance(exc, _ssl.SSLEOFError):
        err = TLSTruncated(code, message)
    else:
        err = TLSError(code, message)
    err.library = getattr(exc, "library", None)  # type: ignore[assignment]
    err.reason = getattr(exc, "reason", None)  # type: ignore[assignment]
    return err


_BY_ERRNO: dict[int, type[SocketError]] = {
    _errno.ETIMEDOUT: Timeout,
    _errno.EAGAIN: WouldBlock,
    _errno.EINPROGRESS: WouldBlock,
    _errno.EALREADY: WouldBlock,
    _errno.ECONNREFUSED: ConnectionRefused,
    _errno.ECONNRESET: ConnectionReset,
    _errno.ECONNABORTED: ConnectionAborted,
    _errno.EPIPE: BrokenPipe,
    _errno.EADDRINUSE: AddressInUse,
    _errno.EADDRNOTAVAIL: AddressNotAvailable,
    _errno.EHOSTUNREACH: HostUnreachable,
    _errno.ENETUNREACH: NetworkUnreachable,
    _errno.ENOTCONN: NotConnected,
    # send() on a datagram socket without connect() or a destination.
    _errno.EDESTADDRREQ: NotConnected,
    _errno.EISCONN: AlreadyConnected,
    _errno.EBADF: SocketClosed,
    _errno.EOPNOTSUPP: UnsupportedOperation,
    _errno.EMSGSIZE: MessageTooLong,
    _errno.EACCES: PermissionDenied,
    _errno.EPERM: PermissionDenied,
}
if hasattr(_errno, "EWOULDBLOCK"):
    _BY_ERRNO[_errno.EWOULDBLOCK] = WouldBlock


def from_os_error(exc: OSError) -> SocketError:
    """Return the sockspec error that stands for the OS error *exc*.

    This is the one place where native exceptions become sockspec ones.
    An error that already is a :class:`SocketError` is returned unchanged.
    """
    if isinstance(exc, SocketError):
        return exc
    if isinstance(exc, _ssl.SSLError):
        return tls_error(exc)
    if isinstance(exc, _socket.gaierror):
        return HostNotFound(exc.errno, exc.strerror or str(exc))
    if isinstance(exc, TimeoutError) and exc.errno is None:
        return Timeout(_errno.ETIMEDOUT, "timed out")
    code = exc.errno
    if code is None:
        return SocketError(str(exc))
    cls = _BY_ERRNO.get(code, SocketError)
    return cls(code, exc.strerror or os.strerror(code))


# -- errors every backend raises in the same situation ------------------------
# Built in one place so that the message, the errno and the extra attributes
# are the same whichever backend raises them.


def send_timed_out(sent: int) -> Timeout:
    """Return the :class:`Timeout` of a send that got *sent* bytes out first."""
    exc = Timeout(_errno.ETIMEDOUT, f"timed out after sending {sent} bytes")
    exc.bytes_sent = sent
    return exc


def closed_while_waiting() -> SocketClosed:
    """Return the error of a call woken because its socket was closed."""
    return SocketClosed(_errno.EBADF, "the socket was closed while waiting")


def send_before_connect() -> NotConnected:
    """Return the error of a send on a stream socket that was never connected.

    Linux answers ``EPIPE`` there; the contract says ``ENOTCONN``, as a
    receive on the same socket does and as the other systems do.
    """
    return NotConnected(_errno.ENOTCONN, os.strerror(_errno.ENOTCONN))
