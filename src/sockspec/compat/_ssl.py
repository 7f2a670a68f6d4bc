"""``ssl.SSLContext.wrap_socket`` for compat sockets: an ``SSLSocket`` look-alike.

Theory of operation
-------------------
A compat socket has no real descriptor, so :mod:`ssl`'s own ``SSLSocket``
cannot wrap it.  :func:`wrap_socket` (which :func:`sockspec.compat.patch`
installs over ``SSLContext.wrap_socket``) sends compat sockets here and
every other socket to the real method unchanged.

The wrapper is an :class:`SSLSocket`, a compat socket that takes over the
wrapped one's connection as ``ssl`` does (the original is detached).  TLS
itself is :meth:`sockspec.Socket.start_tls` on the facade socket, started
without waiting (timeout ``0``) so that ``do_handshake_on_connect=False``
and non-blocking sockets work; :meth:`SSLSocket.do_handshake` then drives
the TLS layer's handshake with the socket's own timeout.  A socket wrapped
before it is connected (a client that connects later, a listening server
socket) starts TLS in ``connect()`` / ``accept()``, as ``ssl`` does.

Errors are translated into exactly what ``ssl`` raises: the plain
:mod:`ssl` exception classes (not sockspec's subclasses),
``SSLWantReadError``/``SSLWantWriteError`` in non-blocking mode, ``ssl``'s
timeout messages, and a ragged EOF read as ``b""`` unless
``suppress_ragged_eofs=False``.
"""

from __future__ import annotations

import errno
import os
import socket as _s
import ssl
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from ..api.errors import (
    SocketError,
    Timeout,
    TLSCertificateError,
    TLSError,
    TLSTruncated,
    WouldBlock,
    from_os_error,
)
from ..api.socket import Socket
from ..api.tls import TLSImpl
from . import _fds
from ._socket import SHUT, socket

__all__ = ["SSLSocket", "wrap_socket"]

# Until Python 3.13, ssl on OpenSSL 3 reads a reset connection as an end of
# stream without close_notify: a peer that closes with unread data (say, TLS
# 1.3 session tickets) is a truncation there, and ConnectionResetError since.
_EOF_ERRORS: tuple[type[OSError], ...] = (
    (TLSTruncated, ConnectionResetError)
    if sys.version_info < (3, 13)
    else (TLSTruncated,)
)


def _ssl_error(exc: TLSError) -> ssl.SSLError:
    """The plain :mod:`ssl` exception a real ``SSLSocket`` raises for *exc*."""
    message = exc.strerror or str(exc)
    host = getattr(exc, "host", None)
    suffix = f" (server_hostname {host!r})"
    if host is not None and message.endswith(suffix):
        message = message[: -len(suffix)]
    err: ssl.SSLError
    if isinstance(exc, TLSCertificateError):
        err = ssl.SSLCertVerificationError(exc.errno, message)
        err.verify_code = exc.verify_code
        err.verify_message = exc.verify_message
    elif isinstance(exc, TLSTruncated):
        err = ssl.SSLEOFError(exc.errno, message)
    else:
        err = ssl.SSLError(exc.errno, message)
    # ssl fills these in (or leaves them None) exactly like this.
    err.library = getattr(exc, "library", None)  # type: ignore[assignment]
    err.reason = getattr(exc, "reason", None)  # type: ignore[assignment]
    return err


def _want(read: bool) -> ssl.SSLError:
    if read:
        return ssl.SSLWantReadError(
            ssl.SSL_ERROR_WANT_READ, "The operation did not complete (read)"
        )
    return ssl.SSLWantWriteError(
        ssl.SSL_ERROR_WANT_WRITE, "The operation did not complete (write)"
    )


class SSLSocket(socket):
    """What ``SSLContext.wrap_socket`` returns for a compat socket.

    It offers what clients and servers use of :class:`ssl.SSLSocket`
    (``do_handshake``, ``getpeercert``, ``cipher``, ``version``,
    ``selected_alpn_protocol``, ``pending``, ``unwrap``, ``makefile``,
    ``recv``/``send`` and the rest of the compat socket), raising what
    :mod:`ssl` raises.
    """

    __slots__ = (
        "_context",
        "_tls",
        "do_handshake_on_connect",
        "server_hostname",
        "server_side",
        "suppress_ragged_eofs",
    )

    _context: ssl.SSLContext
    _tls: TLSImpl | None
    server_side: bool
    server_hostname: str | None
    do_handshake_on_connect: bool
    suppress_ragged_eofs: bool

    @classmethod
    def _create(
        cls,
        sock: socket,
        context: ssl.SSLContext,
        server_side: bool,
        do_handshake_on_connect: bool,
        suppress_ragged_eofs: bool,
        server_hostname: str | None,
    ) -> SSLSocket:
        # The argument checks (and their wording) of ssl.SSLSocket._create.
        if sock.type != _s.SOCK_STREAM:
            raise NotImplementedError("only stream sockets are supported")
        if server_side:
            if server_hostname:
                raise ValueError("server_hostname can only be specified in server mode")
        elif context.check_hostname and not server_hostname:
            raise ValueError("check_hostname requires server_hostname")
        timeout = sock.gettimeout()
        try:
            sock.getpeername()
        except OSError as exc:
            if exc.errno != errno.ENOTCONN:
                raise
            connected = False
        else:
            connected = True
            if timeout == 0.0 and do_handshake_on_connect:
                raise ValueError(
                    "do_handshake_on_connect should not be specified for "
                    "non-blocking sockets"
                )
        proto = sock.proto
        listening = sock._handle.listening
        fd = sock.detach()
        handle = _fds.adopt(fd)
        self: SSLSocket = cls.__new__(cls)
        self._fd = -1
        self._attach(handle, fd, timeout, proto)
        self._handle.listening = listening
        self._context = context
        self._tls = None
        self.server_side = server_side
        self.server_hostname = server_hostname
        self.do_handshake_on_connect = do_handshake_on_connect
        self.suppress_ragged_eofs = suppress_ragged_eofs
        if connected:
            try:
                self._start()
            except BaseException:
                self.close()
                raise
        return self

    @property  # type: ignore[misc]
    def __class__(self) -> type[Any]:
        """``ssl.SSLSocket``, so that ``isinstance(sock, ssl.SSLSocket)`` holds.

        Code checks that to know whether TLS is on (``ftplib.FTP_TLS``
        unwraps its data connections and refuses a second ``auth()`` by it;
        ``asyncio`` refuses ``ssl.SSLSocket`` objects).  ``type(sock)`` stays
        this class, so ``isinstance(sock, sockspec.compat.socket)`` holds too.
        """
        return ssl.SSLSocket

    @property
    def context(self) -> ssl.SSLContext:
        """The :class:`ssl.SSLContext` the socket was wrapped with."""
        return self._context

    @property
    def session(self) -> None:
        """TLS session reuse is not offered over compat sockets: ``None``."""
        return None

    @property
    def session_reused(self) -> bool:
        """Always ``False`` (see :attr:`session`)."""
        return False

    # -- the handshake ---------------------------------------------------------

    def _start(self) -> None:
        """Put TLS on the connected facade socket, then shake hands if asked."""
        facade: Socket = self._sock
        # The layer goes in without any I/O: with do_handshake_on_connect=False
        # ssl reads and writes nothing until do_handshake() (an asyncore
        # server wraps, then drives the handshake from its loop), and a
        # failed handshake leaves the socket open for the caller to close.
        try:
            tls = facade._tls_layer(
                self._context, self.server_side, self.server_hostname
            )
        except TLSError as exc:
            raise _ssl_error(exc) from None
        except SocketError as exc:
            raise self._err(exc) from None
        # ssl.SSLSocket.close() sends no close_notify (unwrap() does): a peer
        # with suppress_ragged_eofs=False sees the truncation it would see.
        tls.notify_on_close = False
        self._tls = tls
        if self.do_handshake_on_connect:
            self.do_handshake()

    def _layer(self) -> TLSImpl:
        tls = self._tls
        if tls is None or self._fd < 0:
            raise OSError(errno.ENOTCONN, os.strerror(errno.ENOTCONN))
        return tls

    def do_handshake(self, block: bool = False) -> None:
        """Run the TLS handshake (``SSLWantReadError`` etc. when non-blocking)."""
        tls = self._layer()
        if block and self._timeout == 0.0:
            self.settimeout(None)
            try:
                self._call(tls.handshake, "handshake")
            finally:
                self.settimeout(0.0)
            return
        self._call(tls.handshake, "handshake")

    def _call(self, fn: Callable[[], Any], operation: str) -> Any:
        """Run *fn*; raise what :mod:`ssl` raises for its failure."""
        try:
            return fn()
        except OSError as exc:
            self._raise(exc, operation)

    def _raise(self, exc: OSError, operation: str) -> NoReturn:
        if not isinstance(exc, SocketError):
            exc = from_os_error(exc)
        if isinstance(exc, TLSError):
            raise _ssl_error(exc) from None
        if isinstance(exc, WouldBlock):
            tls = self._tls
            wants_write = tls is not None and not tls.is_writable()
            raise _want(operation == "read" or not wants_write) from None
        if isinstance(exc, Timeout) and self._timeout:
            raise TimeoutError(f"The {operation} operation timed out") from None
        if isinstance(exc, SocketError):
            raise self._err(exc) from None
        raise exc

    # -- what the handshake tells ----------------------------------------------

    def _done(self) -> ssl.SSLObject | None:
        tls = self._tls
        if tls is None or not tls.ready or self._fd < 0:
            return None  # as ssl: nothing to tell once closed or unwrapped
        return tls.ssl_object

    def getpeercert(self, binary_form: bool = False) -> Any:
        """The peer's certificate, as :meth:`ssl.SSLSocket.getpeercert`."""
        obj = self._done()
        if obj is None:
            if self._tls is None:
                raise OSError(errno.ENOTCONN, os.strerror(errno.ENOTCONN))
            raise ValueError("handshake not done yet")
        return obj.getpeercert(binary_form)

    def cipher(self) -> tuple[str, str, int] | None:
        """``(name, protocol, secret bits)``, ``None`` before the handshake."""
        obj = self._done()
        return obj.cipher() if obj is not None else None

    def shared_ciphers(self) -> list[tuple[str, str, int]] | None:
        """The ciphers both sides offered (server side), as in :mod:`ssl`."""
        obj = self._done()
        return obj.shared_ciphers() if obj is not None else None

    def compression(self) -> str | None:
        """The compression in use; ``None`` (TLS compression is off)."""
        obj = self._done()
        return obj.compression() if obj is not None else None

    def version(self) -> str | None:
        """The negotiated protocol (``"TLSv1.3"``), ``None`` before the handshake."""
        obj = self._done()
        return obj.version() if obj is not None else None

    def selected_alpn_protocol(self) -> str | None:
        """The protocol ALPN chose, or ``None``."""
        obj = self._done()
        return obj.selected_alpn_protocol() if obj is not None else None

    def get_channel_binding(self, cb_type: str = "tls-unique") -> bytes | None:
        """Channel binding data, as :meth:`ssl.SSLSocket.get_channel_binding`."""
        obj = self._done()
        return obj.get_channel_binding(cb_type) if obj is not None else None

    def pending(self) -> int:
        """Decrypted bytes ready to read without waiting."""
        tls = self._tls
        if tls is None:
            return 0
        # Plaintext a readiness check (select, a Poller) already decrypted
        # waits in the TLS layer's stash, no longer inside OpenSSL.
        stash: bytes = getattr(tls, "_stash", b"")
        return tls.ssl_object.pending() + len(stash)

    # -- data ------------------------------------------------------------------

    def _no_flags(self, flags: int, name: str) -> None:
        if flags != 0 and self._tls is not None:
            raise ValueError(
                f"non-zero flags not allowed in calls to {name}() on {type(self)}"
            )

    def recv(self, bufsize: int = 1024, flags: int = 0) -> bytes:
        """Receive up to *bufsize* bytes of plaintext; ``b""`` at the end."""
        if self._tls is None:
            return super().recv(bufsize, flags)
        self._no_flags(flags, "recv")
        if bufsize.__class__ is not int or bufsize <= 0:
            bufsize = self._bufsize(bufsize, "recv")
            if not bufsize:
                return b""
        try:
            return self._sock.receive(bufsize)
        except _EOF_ERRORS:
            if self.suppress_ragged_eofs:
                return b""
            raise ssl.SSLEOFError(
                ssl.SSL_ERROR_EOF, "EOF occurred in violation of protocol"
            ) from None
        except OSError as exc:
            self._raise(exc, "read")

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        """Read plaintext into *buffer* (at most *nbytes*); return the count."""
        self._no_flags(flags, "recv_into")
        return super().recv_into(buffer, nbytes, flags)

    def read(self, len: int = 1024, buffer: Any = None) -> Any:
        """``SSLSocket.read``: *len* bytes, or into *buffer*."""
        if self._sslobj is None:
            raise ValueError("Read on closed or unwrapped SSL socket.")
        if buffer is not None:
            # As OpenSSL's read: a length outside the buffer means all of it.
            size = memoryview(buffer).nbytes
            return self.recv_into(buffer, len if 0 < len <= size else 0)
        if len < 0:
            raise ValueError("size should not be negative")
        return self.recv(len)

    def write(self, data: Any) -> int:
        """``SSLSocket.write``: send *data*, return the count."""
        if self._sslobj is None:
            raise ValueError("Write on closed or unwrapped SSL socket.")
        return self.send(data)

    def send(self, data: Any, flags: int = 0) -> int:
        """Encrypt and send *data*; return how much plaintext went."""
        if self._tls is None:
            return super().send(data, flags)
        self._no_flags(flags, "send")
        try:
            return self._sock.send(data)
        except TypeError:
            raise TypeError(
                f"a bytes-like object is required, not '{type(data).__name__}'"
            ) from None
        except OSError as exc:
            self._raise(exc, "write")

    def sendall(self, data: Any, flags: int = 0) -> None:
        """Send all of *data*."""
        if self._tls is None:
            super().sendall(data, flags)
            return
        self._no_flags(flags, "sendall")
        view = memoryview(data).cast("B")
        sent = 0
        while sent < len(view):
            sent += self.send(view[sent:])

    def sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        """Send a file through TLS (plain sends, as :mod:`ssl` does)."""
        if self._tls is None:
            return super().sendfile(file, offset, count)
        if offset:
            file.seek(offset)
        total = 0
        while count is None or total < count:
            chunk = file.read(65536 if count is None else min(65536, count - total))
            if not chunk:
                break
            self.sendall(chunk)
            total += len(chunk)
        return total

    def recvfrom(self, bufsize: int, flags: int = 0) -> tuple[bytes, object]:
        """Refused with TLS, as in :mod:`ssl`."""
        if self._tls is not None:
            raise ValueError(f"recvfrom not allowed on instances of {type(self)}")
        return super().recvfrom(bufsize, flags)

    def recvfrom_into(
        self, buffer: Any, nbytes: int = 0, flags: int = 0
    ) -> tuple[int, object]:
        """Refused with TLS, as in :mod:`ssl`."""
        if self._tls is not None:
            raise ValueError(f"recvfrom_into not allowed on instances of {type(self)}")
        return super().recvfrom_into(buffer, nbytes, flags)

    def sendto(self, data: Any, flags_or_address: Any, address: Any = None) -> int:
        """Refused with TLS, as in :mod:`ssl`."""
        if self._tls is not None:
            raise ValueError(f"sendto not allowed on instances of {type(self)}")
        return super().sendto(data, flags_or_address, address)

    def sendmsg(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Refused, as in :mod:`ssl` (it would bypass the TLS stream)."""
        raise NotImplementedError(
            f"sendmsg not allowed on instances of {type(self).__name__}"
        )

    def recvmsg(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Refused, as in :mod:`ssl`."""
        raise NotImplementedError(
            f"recvmsg not allowed on instances of {type(self).__name__}"
        )

    def recvmsg_into(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Refused, as in :mod:`ssl`."""
        raise NotImplementedError(
            f"recvmsg_into not allowed on instances of {type(self).__name__}"
        )

    def dup(self) -> NoReturn:
        """Refused, as in :mod:`ssl`."""
        raise NotImplementedError(f"Can't dup() {type(self).__name__} instances")

    # -- connections -----------------------------------------------------------

    def connect(self, address: object) -> None:
        """Connect, then start TLS (``ssl`` wraps before connecting, too)."""
        self._check_unstarted()
        super().connect(address)
        self._start()

    def connect_ex(self, address: object) -> int:
        """Like :meth:`connect`, returning an errno instead of raising."""
        self._check_unstarted()
        code = super().connect_ex(address)
        if code == 0:
            self._start()
        return code

    def _check_unstarted(self) -> None:
        if self.server_side:
            raise ValueError("can't connect in server-side mode")
        if self._tls is not None:
            raise ValueError("attempt to connect already-connected SSLSocket!")

    def accept(self) -> tuple[socket, object]:
        """Accept a connection and wrap it (server side) with this context."""
        conn, address = super().accept()
        wrapped = SSLSocket._create(
            conn,
            self._context,
            True,
            self.do_handshake_on_connect,
            self.suppress_ragged_eofs,
            None,
        )
        return wrapped, address

    def shutdown(self, how: int) -> None:
        """Shut the connection down under TLS, with no ``close_notify``.

        As :meth:`ssl.SSLSocket.shutdown`: the TCP connection is shut down
        and no TLS alert is sent (:meth:`unwrap` is the clean end of TLS),
        so a server that already ended its side never makes it fail.
        """
        tls = self._tls
        what = SHUT.get(how)
        if tls is None or what is None or self._fd < 0:
            super().shutdown(how)
            return
        try:
            tls.shutdown_plain(what)
        except SocketError as exc:
            raise self._err(exc) from None

    def unwrap(self) -> socket:
        """End TLS (``close_notify`` both ways); plaintext goes on in the clear.

        As :meth:`ssl.SSLSocket.unwrap`, the socket returned is this very
        object, now without TLS (``ftplib`` keeps using it after ``ccc()``);
        a second call raises ``ValueError``.
        """
        if self._tls is None:
            raise ValueError(f"No SSL wrapper around {self}")
        self._call(self._sock.unwrap, "unwrap")
        self._tls = None
        return self

    @property
    def _sslobj(self) -> ssl.SSLObject | None:
        # ssl.SSLSocket's private attribute, read by code that asks "is TLS
        # still on?" (CPython's test_ftplib does): None once unwrapped or
        # closed.
        tls = self._tls
        if tls is None or self._fd < 0:
            return None
        return tls.ssl_object


def wrap_socket(
    context: ssl.SSLContext,
    sock: socket,
    server_side: bool = False,
    do_handshake_on_connect: bool = True,
    suppress_ragged_eofs: bool = True,
    server_hostname: str | bytes | None = None,
    session: Any = None,
) -> SSLSocket:
    """``SSLContext.wrap_socket`` for a compat socket (same arguments)."""
    if session is not None:
        raise NotImplementedError(
            "sockspec.compat: TLS session reuse (session=) is not supported "
            "on compat sockets"
        )
    # As ssl: the name is kept in its ASCII (IDNA A-label) form; a name that
    # does not encode fails the wrap, which has taken the socket over and
    # closes it (no ResourceWarning later, as in ssl since Python 3.13).
    try:
        if isinstance(server_hostname, bytes):
            server_hostname = server_hostname.decode("ascii")
        elif server_hostname is not None:
            server_hostname = server_hostname.encode("idna").decode("ascii")
    except UnicodeError:
        sock.close()
        raise
    return SSLSocket._create(
        sock,
        context,
        server_side,
        do_handshake_on_connect,
        suppress_ragged_eofs,
        server_hostname,
    )
