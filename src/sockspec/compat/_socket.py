"""The compat ``socket`` class: the standard ``socket.socket`` over any backend.

Theory of operation
-------------------
A compat :class:`socket` wraps one :class:`sockspec.Socket` (the facade),
so it runs on every backend through the :class:`~sockspec.Backend`
interface alone.  The facade is held by a :class:`Handle` that ``dup()``
shares and ``detach()`` parks; the handle also keeps what the facade has no
place for: a non-blocking ``connect`` still to be collected (``SO_ERROR``),
and option values the backend does not model.

Each method checks its arguments the way the standard module does (same
exception classes), calls the facade, and turns sockspec's errors into the
standard module's through :func:`~sockspec.compat._errors.standard_error`.
The timeout is the facade's timeout: ``None`` blocks, ``0.0`` never waits,
a positive number is seconds, as in both APIs.

For code built on top (an asyncio loop, TLS): :attr:`socket.sockspec_socket`
is the facade, and :meth:`socket.from_sockspec` wraps an existing facade
socket, so nothing needs to reach into private attributes.
"""

from __future__ import annotations

import builtins
import errno
import operator
import os
import socket as _s
import types
import warnings
from collections.abc import Iterable
from typing import IO, Any

from ..api.constants import (
    AF_INET,
    AF_INET6,
    AF_UNIX,
    SHUT_RD,
    SHUT_RDWR,
    SHUT_WR,
    SOCK_DGRAM,
    SOCK_STREAM,
    Family,
    SocketType,
)
from ..api.errors import SocketClosed, SocketError, UnsupportedOperation, WouldBlock
from ..api.socket import Socket
from . import _fds
from ._address import host_port, std_address
from ._errors import not_supported, standard_error
from ._files import make_file, send_file
from ._handle import Handle, timeout_value
from ._msg import receive_message, receive_message_into, send_message
from ._options import get_std_option, set_std_option

_INT_MAX = 2**31 - 1
#: The largest backlog sockspec's ``Socket.listen`` takes; every backend caps
#: it lower still (the memory network and Linux at ``net.core.somaxconn``).
_MAX_BACKLOG = 65535

__all__ = ["socket"]

FAMILIES: dict[int, Family] = {
    _s.AF_INET: AF_INET,
    _s.AF_INET6: AF_INET6,
    _s.AF_UNIX: AF_UNIX,
}
TYPES: dict[int, SocketType] = {_s.SOCK_STREAM: SOCK_STREAM, _s.SOCK_DGRAM: SOCK_DGRAM}
STD_FAMILY = {v: _s.AddressFamily(k) for k, v in FAMILIES.items()}
STD_TYPE = {v: _s.SocketKind(k) for k, v in TYPES.items()}
_NONBLOCK = getattr(_s, "SOCK_NONBLOCK", 0)
_TYPE_FLAGS = _NONBLOCK | getattr(_s, "SOCK_CLOEXEC", 0)
_PROTOS = {SOCK_STREAM: _s.IPPROTO_TCP, SOCK_DGRAM: _s.IPPROTO_UDP}
SHUT = {_s.SHUT_RD: SHUT_RD, _s.SHUT_WR: SHUT_WR, _s.SHUT_RDWR: SHUT_RDWR}
_MAX_READ = 1 << 24
_getdefaulttimeout = _s.getdefaulttimeout
_RealSocket = _s.socket


def check_c_int(value: object) -> None:
    """Raise ``OverflowError`` where CPython converts *value* to a C int."""
    if isinstance(value, int) and not -(2**31) <= value < 2**31:
        raise OverflowError("Python int too large to convert to C int")


class _Detached:
    """What a detached compat socket holds instead of its sockspec socket."""

    __slots__ = ("backend", "family", "type")

    closed = True

    @property
    def timeout(self) -> None:
        """A detached object has no timeout of its own."""
        return None

    @timeout.setter
    def timeout(self, value: object) -> None:
        # settimeout() on a detached socket object: EBADF, as CPython's
        # fcntl() on descriptor -1 answers.
        raise SocketClosed("the socket object was detached")

    def __init__(self, sock: Socket) -> None:
        self.family = sock.family
        self.type = sock.type
        self.backend = sock.backend

    def __getattr__(self, name: str) -> Any:
        raise SocketClosed("the socket object was detached")


class socket:
    """A standard-library ``socket.socket`` whose work a sockspec backend does.

    :param family: ``socket.AF_INET`` (default), ``AF_INET6`` or ``AF_UNIX``.
    :param type: ``socket.SOCK_STREAM`` (default) or ``SOCK_DGRAM``
        (``SOCK_NONBLOCK``/``SOCK_CLOEXEC`` may be or-ed in).
    :param proto: ``0`` or the type's protocol (``IPPROTO_TCP``/``UDP``).
    :param fileno: the number a :meth:`detach` returned, to take that socket
        back.
    :param backend: a backend name or object; ``None`` uses the current
        default (the one :func:`sockspec.compat.patch` or
        :func:`sockspec.use_backend` put in force).

    Errors are the standard module's: ``TimeoutError``, ``BlockingIOError``,
    ``ConnectionRefusedError``, :class:`socket.gaierror`...
    """

    __slots__ = (
        "__weakref__",
        "_borrowed",
        "_closed",
        "_fd",
        "_handle",
        "_io_refs",
        "_proto",
        "_sock",
        "_timeout",
    )

    _sock: Socket
    _handle: Handle
    _fd: int
    _proto: int
    _timeout: float | None
    _io_refs: int
    _closed: bool
    _borrowed: bool

    def __new__(
        cls,
        family: int = -1,
        type: int = -1,
        proto: int = -1,
        fileno: int | None = None,
        **kwargs: Any,
    ) -> Any:
        if (
            fileno is not None
            and not _fds.is_detached(fileno)
            and _fds.lookup(fileno) is None
        ):
            # A real descriptor: the standard library's own code (the real
            # accept(), dup(), socketpair()) names the class through the
            # socket module's globals, which a patch has replaced.  It gets
            # the real socket it asked for.
            return _RealSocket(family, type, proto, fileno)
        return super().__new__(cls)

    def __init__(
        self,
        family: int = -1,
        type: int = -1,
        proto: int = -1,
        fileno: int | None = None,
        *,
        backend: Any = None,
    ) -> None:
        self._fd = -1
        if fileno is not None:
            handle = _fds.adopt(fileno)
            if handle is None and (owner := _fds.lookup(fileno)) is not None:
                self._borrow(owner)
                return
            if handle is None:
                raise OSError(
                    errno.EBADF,
                    f"sockspec.compat: descriptor {fileno} is not a detached "
                    "compat socket (a real descriptor cannot be wrapped)",
                )
            self._attach(handle, fileno, handle.sock.timeout)
            return
        fam = FAMILIES.get(_s.AF_INET if family == -1 else family)
        if fam is None:
            raise OSError(errno.EAFNOSUPPORT, os.strerror(errno.EAFNOSUPPORT))
        raw_type = _s.SOCK_STREAM if type == -1 else type
        typ = TYPES.get(raw_type & ~_TYPE_FLAGS)
        if typ is None:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        proto = 0 if proto == -1 else proto
        if proto not in (0, _PROTOS[typ]) or (fam is AF_UNIX and proto):
            raise OSError(errno.EPROTONOSUPPORT, os.strerror(errno.EPROTONOSUPPORT))
        timeout = 0.0 if raw_type & _NONBLOCK else _getdefaulttimeout()
        try:
            sock = Socket(fam, typ, backend=backend, timeout=timeout)
        except UnsupportedOperation:
            raise OSError(
                errno.EAFNOSUPPORT,
                f"sockspec backend cannot make {fam.name} {typ.name}",
            ) from None
        except SocketError as exc:
            raise standard_error(exc, False) from None
        self._attach(Handle(sock), _fds.reserve(), timeout, proto)

    def _borrow(self, owner: socket) -> None:
        """A second object on *owner*'s descriptor (``socket(fileno=n)``).

        As with a real descriptor, both objects are the same socket: closing
        either ends the connection, and ``detach()`` hands the number back
        without closing anything.  The number stays *owner*'s (it is freed
        when *owner* closes), so it can never name a stranger's file.
        """
        handle = owner._handle
        handle.refs += 1
        self._handle = handle
        self._sock = handle.sock
        self._proto = owner._proto
        self._timeout = handle.sock.timeout
        self._io_refs = 0
        self._closed = False
        self._borrowed = True
        self._fd = owner._fd

    def _attach(
        self, handle: Handle, fd: int, timeout: float | None, proto: int = 0
    ) -> None:
        self._borrowed = False
        self._handle = handle
        self._sock = handle.sock
        self._proto = proto
        self._timeout = timeout
        self._io_refs = 0
        self._closed = False
        self._fd = fd
        _fds.register(fd, self)

    @classmethod
    def from_sockspec(cls, sock: Socket, proto: int = 0) -> socket:
        """Wrap an existing :class:`sockspec.Socket`; the wrapper owns it."""
        if not isinstance(sock, Socket):
            raise TypeError(
                f"sock must be a sockspec.Socket, got {type(sock).__name__}"
            )
        self: socket = cls.__new__(cls)
        self._fd = -1
        self._attach(Handle(sock), _fds.reserve(), sock.timeout, proto)
        return self

    @property
    def sockspec_socket(self) -> Socket:
        """The :class:`sockspec.Socket` doing the work (shared with dups)."""
        return self._sock

    # -- errors ----------------------------------------------------------------

    def _err(self, exc: SocketError) -> OSError:
        timeout = self._timeout
        return standard_error(exc, timeout is not None and timeout > 0)

    def _send_err(self, exc: SocketError) -> OSError:
        # Linux answers a send on a stream socket that never connected with
        # EPIPE (the connection is "closed"), not ENOTCONN as recv does.
        if exc.errno == errno.ENOTCONN and self._sock.type is SOCK_STREAM:
            return OSError(errno.EPIPE, os.strerror(errno.EPIPE))
        return self._err(exc)

    # -- identity --------------------------------------------------------------

    @property
    def family(self) -> _s.AddressFamily:
        """The address family, as the standard module's enum."""
        return STD_FAMILY[self._sock.family]

    @property
    def type(self) -> _s.SocketKind:
        """The socket type, as the standard module's enum."""
        return STD_TYPE[self._sock.type]

    @property
    def proto(self) -> int:
        """The protocol number given when the socket was made."""
        return self._proto

    def fileno(self) -> int:
        """A number unique among the process's descriptors; ``-1`` once closed."""
        return self._fd

    def __repr__(self) -> str:
        closed = " [closed]" if self._fd < 0 else ""
        parts = [
            f"fd={self._fd}",
            f"family={self._sock.family.name}",
            f"type={self._sock.type.name}",
            f"proto={self._proto}",
        ]
        if self._fd >= 0:
            for label, fn in (("laddr", self.getsockname), ("raddr", self.getpeername)):
                try:
                    parts.append(f"{label}={fn()!r}")
                except OSError:
                    pass
        parts.append(f"backend={self._sock.backend!r}")
        return f"<sockspec.compat.socket{closed} {', '.join(parts)}>"

    # -- timeouts --------------------------------------------------------------

    def settimeout(self, value: float | None) -> None:
        """``None`` blocks, ``0`` never waits, a positive number is seconds."""
        seconds = timeout_value(value)
        try:
            self._sock.timeout = seconds
        except SocketError as exc:
            raise self._err(exc) from None
        self._timeout = seconds

    def gettimeout(self) -> float | None:
        """The timeout in seconds, ``0.0`` non-blocking, ``None`` blocking."""
        return self._timeout

    @property
    def timeout(self) -> float | None:
        """The same as :meth:`gettimeout`."""
        return self._timeout

    def setblocking(self, flag: bool) -> None:
        """``False`` is ``settimeout(0.0)``, ``True`` is ``settimeout(None)``."""
        self.settimeout(None if flag else 0.0)

    def getblocking(self) -> bool:
        """``False`` when non-blocking (timeout ``0.0``)."""
        return self._timeout != 0.0

    # -- connections -----------------------------------------------------------

    def bind(self, address: object) -> None:
        """Bind to *address* (``(host, port)``, a 4-tuple, or a path)."""
        host, port = host_port(self._sock.family, address, "bind", bind=True)
        try:
            self._sock.bind(host, port or None)
        except SocketError as exc:
            raise self._err(exc) from None
        except ValueError as exc:
            raise OSError(errno.EINVAL, str(exc)) from None

    def listen(self, backlog: int = min(_s.SOMAXCONN, 128)) -> None:
        """Start accepting connections.

        *backlog* is any C ``int``, as in CPython: a negative one counts as 0
        and Linux caps a large one (anyio asks for 65536) at
        ``net.core.somaxconn`` instead of refusing it.
        """
        n = operator.index(backlog)
        if n > _INT_MAX:
            raise OverflowError("signed integer is greater than maximum")
        if n < -_INT_MAX - 1:
            raise OverflowError("signed integer is less than minimum")
        try:
            self._sock.listen(min(max(n, 0), _MAX_BACKLOG) or 1)
        except UnsupportedOperation:
            raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP)) from None
        except SocketError as exc:
            raise self._err(exc) from None
        self._handle.listening = True

    def accept(self) -> tuple[socket, object]:
        """Wait for a connection; return ``(new socket, peer address)``.

        The new socket gets :func:`socket.getdefaulttimeout`, as in CPython.
        """
        try:
            conn = self._sock.accept()
        except UnsupportedOperation:
            raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP)) from None
        except SocketError as exc:
            raise self._err(exc) from None
        timeout = _getdefaulttimeout()
        if conn.timeout != timeout:
            conn.timeout = timeout
        new: socket = socket.__new__(socket)
        new._fd = -1
        new._attach(Handle(conn), _fds.reserve(), timeout, self._proto)
        return new, new._peer(conn)

    def _peer(self, sock: Socket) -> object:
        try:
            return std_address(sock.family, sock.remote_address, sock.remote_port)
        except SocketError:
            return std_address(sock.family, None, None)

    def connect(self, address: object) -> None:
        """Connect to *address*; non-blocking, raises ``BlockingIOError(EINPROGRESS)``.

        Collect the outcome of a non-blocking connect with
        ``getsockopt(SOL_SOCKET, SO_ERROR)`` once the socket is writable.
        """
        host, port = host_port(self._sock.family, address, "connect")
        assert host is not None
        handle = self._handle
        try:
            self._sock.connect(host, port)
        except WouldBlock as exc:
            if exc.errno == errno.EINPROGRESS:
                handle.pending = (host, port)
            raise self._err(exc) from None
        except SocketError as exc:
            handle.pending = None
            raise self._err(exc) from None
        except ValueError as exc:
            # The facade refuses some hosts outright ("no such name" shapes).
            raise _s.gaierror(_s.EAI_NONAME, str(exc)) from None
        handle.pending = None

    def connect_ex(self, address: object) -> int:
        """Like :meth:`connect`, but return the errno instead of raising it.

        A timeout returns ``EAGAIN``, as CPython does; name resolution
        errors still raise :class:`socket.gaierror`.
        """
        try:
            self.connect(address)
        except _s.gaierror:
            raise
        except TimeoutError as exc:
            return exc.errno or errno.EAGAIN
        except OSError as exc:
            if exc.errno is None:
                raise
            return exc.errno
        return 0

    def getsockname(self) -> object:
        """The local address, in the standard module's format."""
        sock = self._sock
        try:
            return std_address(sock.family, sock.local_address, sock.local_port)
        except SocketError as exc:
            raise self._err(exc) from None

    def getpeername(self) -> object:
        """The peer's address; ``OSError(ENOTCONN)`` when not connected."""
        sock = self._sock
        try:
            host, port = sock.remote_address, sock.remote_port
        except SocketError as exc:
            raise self._err(exc) from None
        if host is None:
            # An accepted UNIX socket whose client never bound has an
            # unnamed peer: Linux reports '' (the peer is there, nameless).
            if sock.family is AF_UNIX and sock.is_connected:
                return ""
            raise OSError(errno.ENOTCONN, os.strerror(errno.ENOTCONN))
        return std_address(sock.family, host, port)

    def shutdown(self, how: int) -> None:
        """Shut down reading (``SHUT_RD``), writing (``SHUT_WR``) or both."""
        what = SHUT.get(how)
        if what is None:
            check_c_int(how)
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        try:
            self._sock.shutdown(what)
        except SocketError as exc:
            raise self._err(exc) from None

    # -- data ------------------------------------------------------------------

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """Receive up to *bufsize* bytes; ``b""`` at end of stream."""
        if flags:
            raise not_supported(f"recv() flags ({flags:#x})")
        if bufsize.__class__ is not int or not 0 < bufsize <= _MAX_READ:
            bufsize = self._bufsize(bufsize, "recv")
            if not bufsize:
                return b""
        try:
            return self._sock.receive(bufsize)
        except SocketError as exc:
            raise self._err(exc) from None

    def _bufsize(self, value: object, what: str) -> int:
        if isinstance(value, float):
            raise TypeError("'float' object cannot be interpreted as an integer")
        size = int(value)  # type: ignore[call-overload]
        if size < 0:
            raise ValueError(f"negative buffersize in {what}")
        if size == 0 and self._closed:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        return min(size, _MAX_READ)  # type: ignore[no-any-return]

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        """Read into *buffer* (at most *nbytes*, default its size); return the count."""
        if flags:
            raise not_supported(f"recv_into() flags ({flags:#x})")
        view = memoryview(buffer).cast("B")
        if nbytes < 0:
            raise ValueError("negative buffersize in recv_into")
        size = min(nbytes or len(view), len(view))
        if nbytes > len(view):
            raise ValueError("buffer too small for requested bytes")
        if not size:
            return 0
        data = self.recv(size)
        view[: len(data)] = data
        return len(data)

    def recvfrom(self, bufsize: int, flags: int = 0) -> tuple[bytes, object]:
        """Receive one datagram: ``(data, sender address)``.

        On a stream socket the address is ``None``, as on Linux.
        """
        if flags:
            raise not_supported(f"recvfrom() flags ({flags:#x})")
        sock = self._sock
        if sock.type is SOCK_STREAM:
            return self.recv(bufsize), None
        size = self._bufsize(bufsize, "recvfrom") or 1
        try:
            dgram = sock.receive_from(size)
        except SocketError as exc:
            raise self._err(exc) from None
        return dgram.data, std_address(sock.family, dgram.address, dgram.port)

    def recvfrom_into(
        self, buffer: Any, nbytes: int = 0, flags: int = 0
    ) -> tuple[int, object]:
        """Like :meth:`recvfrom`, into *buffer*; return ``(count, address)``."""
        view = memoryview(buffer).cast("B")
        if nbytes < 0:
            raise ValueError("negative buffersize in recvfrom_into")
        if nbytes > len(view):
            raise ValueError("nbytes is greater than the length of the buffer")
        data, address = self.recvfrom(nbytes or len(view), flags)
        view[: len(data)] = data
        return len(data), address

    def send(self, data: Any, flags: int = 0) -> int:
        """Send *data*; return how many bytes were sent."""
        if flags:
            raise not_supported(f"send() flags ({flags:#x})")
        try:
            return self._sock.send(data)
        except SocketError as exc:
            raise self._send_err(exc) from None
        except TypeError:
            raise TypeError(
                f"a bytes-like object is required, not '{type(data).__name__}'"
            ) from None

    def sendall(self, data: Any, flags: int = 0) -> None:
        """Send all of *data*; on error, how much was sent is unknown."""
        if flags:
            raise not_supported(f"sendall() flags ({flags:#x})")
        view = memoryview(data).cast("B") if data.__class__ is not bytes else data
        total = len(view)
        sent = 0
        send = self._sock.send
        try:
            # Blocking (or with a timeout) the facade sends everything at once;
            # non-blocking it may take several calls before EAGAIN.
            while sent < total:
                sent += send(view[sent:] if sent else view)
        except SocketError as exc:
            raise self._send_err(exc) from None

    def sendto(self, data: Any, flags_or_address: Any, address: Any = None) -> int:
        """Send one datagram: ``sendto(data[, flags], address)``."""
        if address is None:
            address, flags = flags_or_address, 0
        else:
            flags = flags_or_address
        if flags:
            raise not_supported(f"sendto() flags ({flags:#x})")
        host, port = host_port(self._sock.family, address, "sendto")
        assert host is not None
        try:
            return self._sock.send_to(host, port, memoryview(data).cast("B"))
        except SocketError as exc:
            raise self._err(exc) from None

    def sendfile(
        self, file: IO[bytes], offset: int = 0, count: int | None = None
    ) -> int:
        """Send a binary file from *offset* (*count* bytes, or to its end)."""
        return send_file(self, file, offset, count)

    def sendmsg(
        self,
        buffers: Iterable[Any],
        ancdata: Iterable[Any] = (),
        flags: int = 0,
        address: Any = None,
    ) -> int:
        """Send *buffers* as one message; ancillary data is not supported."""
        return send_message(self, buffers, ancdata, flags, address)

    def recvmsg(
        self, bufsize: int, ancbufsize: int = 0, flags: int = 0
    ) -> tuple[bytes, list[Any], int, Any]:
        """Receive one message: ``(data, [], msg_flags, address)``."""
        return receive_message(self, bufsize, ancbufsize, flags)

    def recvmsg_into(
        self, buffers: Iterable[Any], ancbufsize: int = 0, flags: int = 0
    ) -> tuple[int, list[Any], int, Any]:
        """Receive one message into *buffers*: ``(nbytes, [], msg_flags, address)``."""
        return receive_message_into(self, buffers, ancbufsize, flags)

    # -- options ---------------------------------------------------------------

    def setsockopt(
        self, level: int, optname: int, value: Any, optlen: Any = None
    ) -> None:
        """Set an option; those the backend does not model are only remembered."""
        if value is None:
            raise not_supported("setsockopt(level, optname, None, optlen)")
        set_std_option(self, level, optname, value)

    def getsockopt(self, level: int, optname: int, buflen: int | None = None) -> Any:
        """Read an option; ``SO_ERROR`` collects a non-blocking connect."""
        return get_std_option(self, level, optname, buflen)

    # -- files -----------------------------------------------------------------

    def makefile(
        self,
        mode: str = "r",
        buffering: int | None = None,
        *,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> Any:
        """A file object over the socket, exactly as ``socket.socket.makefile``.

        The raw layer is the standard library's :class:`socket.SocketIO`
        (it only needs ``recv_into``, ``send`` and the reference counting
        below); buffering and text decoding are :mod:`io`'s.
        """
        return make_file(self, mode, buffering, encoding, errors, newline)

    def _decref_socketios(self) -> None:
        # Called by SocketIO.close(): the socket really closes once close()
        # was called and no file made by makefile() is open any more.
        if self._io_refs > 0:
            self._io_refs -= 1
        if self._closed:
            self.close()

    # -- lifetime --------------------------------------------------------------

    def close(self) -> None:
        """Close the socket (once every :meth:`makefile` file is closed too)."""
        self._closed = True
        if self._io_refs <= 0:
            self._real_close()

    def _real_close(self) -> None:
        fd = self._fd
        if fd < 0:
            return
        self._fd = -1
        handle = self._handle
        if self._borrowed:
            # Closing a shared descriptor closes the socket for its owner too.
            handle.refs -= 1
            handle.lost = fd
            self._sock.close()
            return
        _fds.release(fd)
        handle.release()
        if handle.lost == fd:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))

    def detach(self) -> int:
        """Close this object without closing the socket; return its number.

        ``socket(fileno=n)`` (compat) takes the socket back.  The number is
        not a real socket descriptor: real ``socket.socket(fileno=n)`` and C
        code cannot use it.
        """
        fd = self._fd
        self._closed = True
        if fd >= 0:
            self._fd = -1
            # As with the real socket object, this one is done with: what it
            # is still asked fails with EBADF (the parked socket lives on).
            self._sock = _Detached(self._sock)  # type: ignore[assignment]
            if self._borrowed:
                self._handle.refs -= 1  # the owner still holds the number
            else:
                _fds.detach(fd, self._handle)
        return fd

    def dup(self) -> socket:
        """A second compat socket on the same connection.

        It has its own number and lifetime; the connection closes when the
        last of them closes.  Both share one timeout (the facade's).
        """
        if self._fd < 0:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        self._handle.refs += 1
        new: socket = socket.__new__(socket)
        new._fd = -1
        new._attach(self._handle, _fds.reserve(), self._timeout, self._proto)
        return new

    def __enter__(self) -> socket:
        return self

    def __exit__(
        self,
        exc_type: builtins.type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        if not self._closed:
            self.close()

    def __getstate__(self) -> None:
        raise TypeError(f"cannot pickle {type(self).__name__!r} object")

    def __del__(self) -> None:
        if getattr(self, "_fd", -1) >= 0:
            try:
                warnings.warn(
                    f"unclosed {self!r}", ResourceWarning, stacklevel=2, source=self
                )
            except Exception:
                pass  # interpreter shutdown: warnings may be gone
            try:
                self._real_close()
            except Exception:
                pass  # __del__ must not raise; at shutdown modules may be gone
