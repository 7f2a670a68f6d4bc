"""The sockspec error hierarchy.

Every error a backend reports is a :class:`SocketError` (itself an
:class:`OSError`).  Each specific error also subclasses the matching built-in
exception, so ``except ConnectionRefusedError`` or ``except TimeoutError``
written for the standard library keeps working, and carries ``errno`` where an
OS code exists, on every backend including the in-memory one.

OS errors are turned into these classes in exactly one place,
:func:`from_os_error`; backends that do not use the OS raise them directly.

The TLS errors subclass :mod:`ssl`'s, and ``ssl`` costs more to import than
the rest of ``import sockspec`` together; they are made on first use
(PEP 562) by :mod:`sockspec.api._tlserrors`, so a program that never uses TLS
never loads ``ssl``.  They still belong to this module: their
``__module__`` is this one's and pickles name them here.
"""

from __future__ import annotations

import _socket
import errno as _errno
import os
import sys

from .._lazy import lazy_attributes

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

# The TLS errors' module imports this one; its list of names is written out
# here so that looking one up is the only thing that imports it.
_tlserrors_all = ("TLSCertificateError", "TLSError", "TLSTruncated", "tls_error")

# typing itself (with re, which it imports) would be a third of what
# ``import sockspec`` costs; type checkers treat this name as True.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._tlserrors import TLSCertificateError as TLSCertificateError
    from ._tlserrors import TLSError as TLSError
    from ._tlserrors import TLSTruncated as TLSTruncated
    from ._tlserrors import tls_error as tls_error

# PEP 562: the TLS errors are made when first looked up (see above).
__getattr__, __dir__ = lazy_attributes(
    __name__, dict.fromkeys(_tlserrors_all, "sockspec.api._tlserrors"), globals()
)


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
    # An ssl.SSLError exists only once the C module that defines it is loaded.
    ssl_c = sys.modules.get("_ssl")
    if ssl_c is not None and isinstance(exc, ssl_c.SSLError):
        from ._tlserrors import tls_error

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
