"""The :class:`Socket` facade: the Sockets/A API over any backend.

The facade checks arguments, then hands each call to the backend's
:class:`~sockspec.api.backend.SocketImpl`, chosen once when the socket is
made.  The common calls (``send``, ``receive``) do a class check, one method
call and nothing else when the arguments are ordinary; the full validation in
:mod:`sockspec.api._validate` runs only when that quick check fails.
A closed socket swaps its implementation for one that raises
:class:`~sockspec.SocketClosed`, so no call pays for an "is it closed" test.
"""

from __future__ import annotations

import builtins
import functools
import ipaddress
import types
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn, SupportsIndex, TypeVar

from .. import _registry
from . import _validate as v
from ._shared import format_address
from .backend import Address, Backend, SocketImpl
from .constants import (
    AF_INET,
    AF_UNIX,
    SHUT_RDWR,
    SOCK_STREAM,
    Family,
    Option,
    Shutdown,
    SocketType,
)
from .datagram import Datagram
from .errors import (
    NotConnected,
    SocketClosed,
    SocketError,
    UnsupportedOperation,
    closed_while_waiting,
    from_os_error,
)
from .layer import Prefixed, base_impl

if TYPE_CHECKING:
    # ssl costs more to import than the facade: only start_tls and the TLS
    # properties import the TLS layer (and with it ssl), so a program that
    # never uses TLS never loads it.
    import ssl

    from .poller import Poller
    from .tls import TLSImpl

__all__ = ["Socket"]

_T = TypeVar("_T")
_bytes = bytes
_int = int
_MAX_MAXLEN = v.MAX_MAXLEN
_DEFAULT_MAXLEN = v.DEFAULT_MAXLEN


class _ClosedImpl(SocketImpl):
    """Stands in for the implementation of a closed socket."""

    __slots__ = ()

    def _closed(self, *args: object) -> Any:
        raise SocketClosed("the socket is closed")

    connect = bind = listen = accept = shutdown = _closed  # type: ignore[assignment]
    receive = send = receive_from = send_to = send_file = _closed  # type: ignore[assignment]
    set_option = get_option = set_timeout = _closed  # type: ignore[assignment]
    local_address = remote_address = _closed

    def close(self) -> None:
        return None

    def is_connected(self) -> bool:
        return False

    is_readable = is_writable = is_connected


_CLOSED = _ClosedImpl()


def _release(payload: bytes | memoryview) -> None:
    """Release the view :func:`data_arg` made of a caller's buffer.

    A frame that outlives the call (a traceback, a debugger, another thread
    looking at ``sys._current_frames()``) would otherwise keep the buffer
    exported, and the caller's ``del buf[:n]`` would raise ``BufferError``.
    """
    if payload.__class__ is memoryview:
        payload.release()


def _os_errors(method: Callable[..., _T]) -> Callable[..., _T]:
    """Turn native ``OSError`` from an implementation into sockspec errors.

    Used on the calls that are not hot; ``send`` and ``receive`` inline the
    same ``try``/``except`` to save a frame.
    """

    def wrapper(*args: Any, **kwargs: Any) -> _T:
        try:
            return method(*args, **kwargs)
        except SocketError:
            raise
        except OSError as exc:
            raise from_os_error(exc) from None

    wrapper.__name__ = method.__name__
    wrapper.__qualname__ = method.__qualname__
    wrapper.__doc__ = method.__doc__
    wrapper.__annotations__ = method.__annotations__
    wrapper.__wrapped__ = method  # type: ignore[attr-defined]
    return wrapper


class Socket:
    """A TCP, UDP or UNIX socket with the Sockets/A API.

    :param family: ``AF_INET`` (default), ``AF_INET6`` or ``AF_UNIX``.
    :param type: ``SOCK_STREAM`` (default) or ``SOCK_DGRAM``.
    :param backend: a backend name (``"stdlib"``, ``"selectors"``,
        ``"memory"``, ``"name:options"``) or a backend object; ``None`` uses
        the current default (see :func:`sockspec.use_backend`).
    :param timeout: ``None`` blocks, ``0`` never waits (raising
        :class:`~sockspec.WouldBlock`), a positive number is seconds.

    Every method has a PEP 8 name; the spec's camelCase name is an alias of
    it.  A socket is a context manager that closes it on exit.
    """

    __slots__ = (
        "__weakref__",
        "_backend",
        "_family",
        "_impl",
        "_pollers",
        "_timeout",
        "_type",
    )

    _impl: SocketImpl
    _backend: Backend
    _family: Family
    _type: SocketType
    _timeout: float | None
    _pollers: list[Poller] | None

    def __init__(
        self,
        family: Family = AF_INET,
        type: SocketType = SOCK_STREAM,
        *,
        backend: str | Backend | None = None,
        timeout: float | None = None,
    ) -> None:
        if family.__class__ is not Family:
            family = v.family_arg(family)
        if type.__class__ is not SocketType:
            type = v.type_arg(type)
        if timeout is not None:
            timeout = v.timeout_arg(timeout)
        be = _registry.resolve_backend(backend)
        caps = be.capabilities
        if family not in caps.families or type not in caps.types:
            raise UnsupportedOperation(
                f"backend {be.name!r} does not support {family.name} {type.name}"
            )
        try:
            impl = be.socket(family, type)
        except SocketError:
            raise
        except OSError as exc:
            raise from_os_error(exc) from None
        # _init's body, inlined: one frame less on every socket made.
        self._impl = impl
        self._backend = be
        self._family = family
        self._type = type
        self._timeout = timeout
        self._pollers = None
        if timeout is not None:
            impl.set_timeout(timeout)

    def _init(
        self,
        impl: SocketImpl,
        backend: Backend,
        family: Family,
        type: SocketType,
        timeout: float | None,
    ) -> None:
        self._impl = impl
        self._backend = backend
        self._family = family
        self._type = type
        self._timeout = timeout
        self._pollers = None
        if timeout is not None:
            impl.set_timeout(timeout)

    # -- connections -------------------------------------------------------

    @_os_errors
    def connect(
        self, host: str, port: int | str | None = None, timeout: float | None = None
    ) -> None:
        """Connect to *port* on *host* (an IP address or a name).

        *port* is a number or a service name (``"http"``); for ``AF_UNIX``
        *host* is the path and *port* is ``None``.  *timeout* (seconds)
        bounds the connection attempt; without it the socket's own timeout
        applies.  Raises :class:`~sockspec.ConnectionRefused`,
        :class:`~sockspec.Timeout`, :class:`~sockspec.HostNotFound`...
        on failure.  On a datagram socket it sets the default peer.
        """
        host = self._lookup(v.host_arg(host, self._family))
        portnum = v.port_arg(port, self._family, self._type, required=True)
        t = self._timeout if timeout is None else v.timeout_arg(timeout)
        self._impl.connect(host, portnum, t)

    @_os_errors
    def bind(self, host: str | None = None, port: int | str | None = None) -> None:
        """Assign the local address: *host* (``None``: any) and *port*.

        Without *port* the system picks an ephemeral one; read it back from
        :attr:`local_port`.  For ``AF_UNIX`` *host* is the path.
        """
        if host is not None:
            host = self._lookup(v.host_arg(host, self._family))
        portnum = v.port_arg(port, self._family, self._type, required=False)
        self._impl.bind(host, portnum)

    @_os_errors
    def listen(self, backlog: int | None = None) -> None:
        """Accept incoming connections, queueing up to *backlog* of them."""
        if self._type is not SOCK_STREAM:
            raise UnsupportedOperation("listen() needs a SOCK_STREAM socket")
        self._impl.listen(v.backlog_arg(backlog))

    @_os_errors
    def accept(self) -> Socket:
        """Wait for a connection and return it as a new connected socket.

        The new socket has this socket's backend and timeout.
        """
        if self._type is not SOCK_STREAM:
            raise UnsupportedOperation("accept() needs a SOCK_STREAM socket")
        impl = self._impl.accept()
        sock = Socket.__new__(Socket)
        sock._init(impl, self._backend, self._family, self._type, self._timeout)
        return sock

    @_os_errors
    def shutdown(self, what: Shutdown = SHUT_RDWR) -> None:
        """Shut down reading (``SHUT_RD``), writing (``SHUT_WR``) or both."""
        if what.__class__ is not Shutdown:
            what = v.shutdown_arg(what)
        self._impl.shutdown(what)

    def close(self) -> None:
        """Close the socket now; idempotent.

        Threads blocked on this socket in another method wake up with
        :class:`~sockspec.SocketClosed`; any :class:`~sockspec.Poller` drops it.
        """
        impl = self._impl
        if impl is _CLOSED:
            return
        self._impl = _CLOSED
        pollers, self._pollers = self._pollers, None
        if pollers:
            for poller in pollers:
                poller._forget(self, base_impl(impl))
        try:
            impl.close()
        except OSError:
            pass  # closing must not fail; the resource is released either way

    # -- data --------------------------------------------------------------

    def receive(self, maxlen: int | None = None) -> bytes:
        """Receive up to *maxlen* bytes (default 65536).

        Stream: returns as soon as some data is there, ``b""`` at end of
        stream.  Datagram: one whole datagram, truncated to *maxlen*.
        """
        if maxlen is None:
            maxlen = _DEFAULT_MAXLEN
        elif maxlen.__class__ is not _int or not 0 < maxlen <= _MAX_MAXLEN:
            maxlen = v.maxlen_arg(maxlen)
        try:
            data = self._impl.receive(maxlen)
        except SocketError:
            raise
        except OSError as exc:
            if self._impl is _CLOSED:
                raise closed_while_waiting() from None
            raise from_os_error(exc) from None
        if not data and self._impl is _CLOSED:
            # close() from another thread woke this receive up.
            raise closed_while_waiting()
        return data

    def send(self, data: bytes | bytearray | memoryview) -> int:
        """Send *data* (bytes-like) and return the number of bytes sent.

        Blocking or with a timeout it sends all of *data* (a
        :class:`~sockspec.Timeout` tells in ``bytes_sent`` how far it got);
        non-blocking it sends what fits now, raising
        :class:`~sockspec.WouldBlock` if nothing does.
        """
        if data.__class__ is _bytes:
            try:
                return self._impl.send(data)
            except SocketError:
                raise
            except OSError as exc:
                raise from_os_error(exc) from None
        payload = v.data_arg(data)
        try:
            return self._impl.send(payload)
        except SocketError:
            raise
        except OSError as exc:
            raise from_os_error(exc) from None
        finally:
            _release(payload)

    @_os_errors
    def receive_from(self, maxlen: int | None = None) -> Datagram:
        """Receive one datagram: data, sender address and port.

        On a stream socket the address is the peer's.
        """
        data, address, port = self._impl.receive_from(v.maxlen_arg(maxlen))
        return Datagram(data, address, port)

    @_os_errors
    def send_to(
        self, host: str, port: int | str | None, data: bytes | bytearray | memoryview
    ) -> int:
        """Send *data* as one datagram to *host* and *port*; return the count."""
        host = self._lookup(v.host_arg(host, self._family))
        portnum = v.port_arg(port, self._family, self._type, required=True)
        if data.__class__ is _bytes:
            return self._impl.send_to(data, host, portnum)
        payload = v.data_arg(data)
        try:
            return self._impl.send_to(payload, host, portnum)
        finally:
            _release(payload)

    @_os_errors
    def send_file(self, file: BinaryIO) -> int:
        """Send a binary file from its current position to its end.

        Uses the OS's zero-copy path where the backend can.  Returns the
        number of bytes sent; the file position ends after them.
        """
        if self._type is not SOCK_STREAM:
            raise UnsupportedOperation("send_file() needs a SOCK_STREAM socket")
        return self._impl.send_file(v.file_arg(file))

    # -- options -----------------------------------------------------------

    @_os_errors
    def set_option(self, option: Option, value: object) -> None:
        """Set a socket option (``SO_REUSEADDR``, ``TCP_NODELAY``...).

        Flags take ``bool``; ``SO_RCVBUF``/``SO_SNDBUF`` a byte count;
        ``SO_LINGER`` ``None`` or seconds.
        """
        option = v.option_arg(option)
        self._check_option(option)
        self._impl.set_option(option, v.option_value(option, value))

    @_os_errors
    def get_option(self, option: Option) -> object:
        """Return the value of a socket option."""
        option = v.option_arg(option)
        self._check_option(option)
        return self._impl.get_option(option)

    def _check_option(self, option: Option) -> None:
        if option not in self._backend.capabilities.options:
            raise UnsupportedOperation(
                f"backend {self._backend.name!r} does not support {option.name}"
            )
        if not v.option_applies(option, self._family, self._type):
            raise UnsupportedOperation(
                f"{option.name} does not apply to {self._family.name} "
                f"{self._type.name} sockets"
            )

    # -- TLS -------------------------------------------------------------------

    def start_tls(
        self,
        context: ssl.SSLContext,
        *,
        server_side: bool = False,
        server_hostname: str | None = None,
    ) -> None:
        """Upgrade this connected stream socket to TLS in place (STARTTLS).

        :param context: an :class:`ssl.SSLContext` (certificates, protocol
            versions, ALPN...).
        :param server_side: ``True`` to play the TLS server.
        :param server_hostname: the name a client checks the server's
            certificate against (and sends as SNI); clients only.

        The handshake runs now, bounded by the socket's timeout; afterwards
        ``send``/``receive`` carry plaintext.  With ``timeout=0`` it starts
        the handshake and returns; later calls continue it and raise
        :class:`~sockspec.WouldBlock` while it waits for the peer.  A failed
        handshake closes the socket and raises :class:`~sockspec.TLSError`
        (:class:`~sockspec.TLSCertificateError` when the certificate does
        not verify), :class:`~sockspec.Timeout`... Works on every backend.
        """
        tls = self._tls_layer(context, server_side, server_hostname)
        try:
            tls.handshake()
        except BlockingIOError:
            # Non-blocking: send/receive go on with it, and close the socket
            # if it fails.  A weak reference: an abandoned socket is not kept
            # alive by its own layer.
            ref = weakref.ref(self)

            def failed() -> None:
                sock = ref()
                if sock is not None:
                    sock.close()

            tls.on_failure = failed
        except BaseException as exc:
            self.close()
            if isinstance(exc, OSError) and not isinstance(exc, SocketError):
                raise from_os_error(exc) from None
            raise

    def _tls_layer(
        self,
        context: ssl.SSLContext,
        server_side: bool,
        server_hostname: str | None,
    ) -> TLSImpl:
        """Check :meth:`start_tls`'s arguments, put TLS in place, no I/O yet.

        The handshake is the caller's: :meth:`start_tls` runs it at once,
        the compat ``SSLSocket`` only when ``ssl`` would (so that
        ``do_handshake_on_connect=False`` reads and writes nothing).
        """
        from .tls import TLSImpl, check_arguments

        check_arguments(context, server_side, server_hostname)
        impl = self._impl
        if impl is _CLOSED:
            raise SocketClosed("the socket is closed")
        if self._type is not SOCK_STREAM:
            raise UnsupportedOperation("start_tls() needs a SOCK_STREAM socket")
        if isinstance(impl, TLSImpl):
            raise ValueError("start_tls(): the socket already uses TLS")
        if not impl.is_connected():
            raise NotConnected("start_tls() needs a connected socket")
        tls = TLSImpl(
            impl,
            context,
            server_side=server_side,
            server_hostname=server_hostname,
            timeout=self._timeout,
            clock=self._backend.monotonic,
        )
        self._set_layer(tls)
        return tls

    def unwrap(self) -> None:
        """End TLS (``close_notify`` both ways) and carry plaintext again.

        Raises ``ValueError`` if the socket does not use TLS.
        """
        from .tls import TLSImpl

        impl = self._impl
        if not isinstance(impl, TLSImpl):
            if impl is _CLOSED:
                raise SocketClosed("the socket is closed")
            raise ValueError("unwrap(): the socket does not use TLS")
        try:
            early = impl.unwrap()
        except SocketError:
            raise
        except OSError as exc:
            raise from_os_error(exc) from None
        self._set_layer(Prefixed(impl.raw, early) if early else impl.raw)

    def _set_layer(self, impl: SocketImpl) -> None:
        self._impl = impl
        for poller in self._pollers or ():
            poller._relayer(self)

    def _tls(self) -> ssl.SSLObject | None:
        from .tls import TLSImpl

        impl = self._impl
        if isinstance(impl, TLSImpl) and impl.ready:
            return impl.ssl_object
        return None

    @property
    def tls_version(self) -> str | None:
        """The negotiated TLS version (``"TLSv1.3"``), ``None`` without TLS."""
        tls = self._tls()
        return tls.version() if tls is not None else None

    @property
    def cipher(self) -> tuple[str, str, int] | None:
        """``(name, protocol, secret bits)`` of the cipher, ``None`` without TLS."""
        tls = self._tls()
        return tls.cipher() if tls is not None else None

    @property
    def alpn_protocol(self) -> str | None:
        """The protocol ALPN chose (``"h2"``), ``None`` if none or without TLS."""
        tls = self._tls()
        return tls.selected_alpn_protocol() if tls is not None else None

    @property
    def peer_certificate(self) -> dict[str, Any] | None:
        """The peer's verified certificate, decoded like
        :meth:`ssl.SSLSocket.getpeercert`; ``None`` without TLS, without a
        certificate, or when the context did not verify it.
        """
        tls = self._tls()
        cert = tls.getpeercert() if tls is not None else None
        return dict(cert) if cert else None

    # -- properties ----------------------------------------------------------

    @property
    def timeout(self) -> float | None:
        """``None`` blocks, ``0`` never waits, a positive number is seconds."""
        return self._timeout

    @timeout.setter
    def timeout(self, value: float | None) -> None:
        seconds = v.timeout_arg(value)
        try:
            self._impl.set_timeout(seconds)
        except SocketError:
            raise
        except OSError as exc:
            raise from_os_error(exc) from None
        self._timeout = seconds

    @property
    def is_connected(self) -> bool:
        """``True`` once connected (or accepted) and until closed."""
        return self._impl.is_connected()

    @property
    def is_readable(self) -> bool:
        """``True`` if a receive (or accept) would return without waiting.

        That is: data is waiting, the peer has ended the stream, an error is
        pending, or (listening) a connection is waiting to be accepted.
        """
        return self._impl.is_readable()

    @property
    def is_writable(self) -> bool:
        """``True`` if the socket can accept data to send without waiting."""
        return self._impl.is_writable()

    @property
    def local_address(self) -> str | None:
        """The local IP address (or path), ``None`` while unbound."""
        return self._local()[0]

    @property
    def local_port(self) -> int | None:
        """The local port, ``None`` while unbound and for ``AF_UNIX``."""
        return self._local()[1]

    @property
    def remote_address(self) -> str | None:
        """The peer's IP address (or path), ``None`` while unconnected."""
        return self._remote()[0]

    @property
    def remote_port(self) -> int | None:
        """The peer's port, ``None`` while unconnected and for ``AF_UNIX``."""
        return self._remote()[1]

    @_os_errors
    def _local(self) -> Address:
        return self._impl.local_address()

    @_os_errors
    def _remote(self) -> Address:
        return self._impl.remote_address()

    @property
    def family(self) -> Family:
        """The address family: ``AF_INET``, ``AF_INET6`` or ``AF_UNIX``."""
        return self._family

    @property
    def type(self) -> SocketType:
        """The socket type: ``SOCK_STREAM`` or ``SOCK_DGRAM``."""
        return self._type

    @property
    def backend(self) -> str:
        """The name of the backend this socket runs on."""
        return self._backend.name

    @property
    def backend_object(self) -> Backend:
        """The backend this socket runs on, as an object.

        Pass it as ``backend=`` to make sockets and Pollers that work with
        this one: a name such as ``"memory"`` means whatever is current
        then, which need not be this socket's network or host.
        """
        return self._backend

    @property
    def closed(self) -> bool:
        """``True`` after :meth:`close`."""
        return self._impl is _CLOSED

    # -- plumbing ------------------------------------------------------------

    def _lookup(self, host: str) -> str:
        """A host name turned into an address by the backend, if it does that.

        So that a wrapping backend sees addresses (see
        :meth:`sockspec.Backend.lookup_host`); literals and paths pass as is.
        """
        if self._family is AF_UNIX or not _is_name(host):
            return host
        return self._backend.lookup_host(host, self._family) or host

    def implementation(self, backend: Backend | None = None) -> SocketImpl:
        """Return the backend's :class:`~sockspec.SocketImpl` behind this socket.

        For backends and the :class:`~sockspec.Poller`, not for applications:
        a memory network finds the socket a fault rule names this way.  With
        *backend*, a socket of another backend is a :class:`ValueError`.
        Raises :class:`~sockspec.SocketClosed` once the socket is closed.
        """
        if backend is not None and backend is not self._backend:
            mine, theirs = repr(self._backend.name), repr(backend.name)
            if mine == theirs:  # the names alone would not tell them apart
                mine += f" ({self._backend!r})"
                theirs += f" ({backend!r})"
            raise ValueError(
                f"sock belongs to backend {mine}, not to this Poller's backend "
                f"{theirs}; make the socket with backend=poller.backend_object"
            )
        impl = self._impl
        if impl is _CLOSED:
            raise SocketClosed("the socket is closed")
        return base_impl(impl)

    def _watch(self, poller: Poller) -> None:
        if self._pollers is None:
            self._pollers = []
        self._pollers.append(poller)

    def _unwatch(self, poller: Poller) -> None:
        if self._pollers and poller in self._pollers:
            self._pollers.remove(poller)

    def __reduce_ex__(self, protocol: SupportsIndex) -> NoReturn:
        # Also what copy.copy and copy.deepcopy use: a copy would be a second
        # facade over one connection (closing it would leave this one
        # claiming to be open), and a pickle cannot carry a connection.
        raise TypeError(f"cannot pickle {type(self).__name__!r} object")

    def __enter__(self) -> Socket:
        return self

    def __exit__(
        self,
        exc_type: builtins.type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._impl is _CLOSED else "open"
        parts = [self._backend.name, self._family.name, self._type.name, state]
        if self._impl is not _CLOSED:
            try:
                local = self._impl.local_address()
                remote = self._impl.remote_address()
            except OSError:
                local = remote = (None, None)
            if local[0] is not None:
                parts.append(f"local={format_address(*local)}")
            if remote[0] is not None:
                parts.append(f"remote={format_address(*remote)}")
        return f"<sockspec.Socket {' '.join(parts)}>"

    # -- the spec's names ------------------------------------------------------

    read = receive
    write = send
    receiveFrom = receive_from
    sendTo = send_to
    sendFile = send_file
    setOption = set_option
    getOption = get_option
    isConnected = is_connected
    isWritable = is_writable
    isReadable = is_readable
    localAddress = local_address
    localPort = local_port
    remoteAddress = remote_address
    remotePort = remote_port


@functools.lru_cache(maxsize=512)
def _is_name(host: str) -> bool:
    """Whether *host* is a host name, not an IP literal; cached for send_to."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return False


#: Spec name -> PEP 8 name, for documentation and the alias check.
SPEC_ALIASES: dict[str, str] = {
    "read": "receive",
    "write": "send",
    "receiveFrom": "receive_from",
    "sendTo": "send_to",
    "sendFile": "send_file",
    "setOption": "set_option",
    "getOption": "get_option",
    "isConnected": "is_connected",
    "isWritable": "is_writable",
    "isReadable": "is_readable",
    "localAddress": "local_address",
    "localPort": "local_port",
    "remoteAddress": "remote_address",
    "remotePort": "remote_port",
}

# A property bound to two names keeps the last one (the spec's) for its error
# messages ("property 'isConnected' ... has no setter" for ``s.is_connected =
# x``); give it back its PEP 8 name.  Python 3.10 properties have no name.
for _pep8 in SPEC_ALIASES.values():
    _member = Socket.__dict__[_pep8]
    if isinstance(_member, property) and hasattr(_member, "__set_name__"):
        _member.__set_name__(Socket, _pep8)
del _pep8, _member
