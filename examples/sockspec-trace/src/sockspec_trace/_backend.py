"""The ``trace`` backend: another backend, with every operation recorded.

Theory of operation
-------------------
:class:`TraceBackend` holds an *inner* backend and hands out wrappers:
:class:`TraceSocket` around each of the inner backend's socket
implementations and :class:`TraceSelector` around its selector.  Each
wrapper method times the inner call on the inner backend's clock, lets it
run unchanged, writes one :class:`~sockspec_trace.TraceRecord` (arguments
and result summarised, or the exception) and returns the result or re-raises
the very same exception.  Behaviour, capabilities and errors are therefore
the inner backend's, which is what lets the conformance suite pass on
``trace:NAME`` whenever it passes on ``NAME``.

The three classes build on sockspec's :class:`~sockspec.DelegatingBackend`,
:class:`~sockspec.DelegatingSocket` and :class:`~sockspec.DelegatingSelector`:
the bases forward, so this module only adds the recording.  From them the
trace gets its capabilities, clock and resource count from the inner backend,
a selector that hands the inner selector the inner sockets (so the inner
backend's own multiplexing, epoll or the memory network's, does the work),
and "follow the current backend": ``TraceBackend("memory")`` traces
whichever memory network is current.  Attributes an inner implementation
has beyond the :class:`~sockspec.SocketImpl` interface are reached through
the wrapper unchanged and untraced.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import BinaryIO, TypeVar

from sockspec import (
    Backend,
    DelegatingBackend,
    DelegatingSelector,
    DelegatingSocket,
    Event,
    Family,
    Option,
    SelectorImpl,
    Shutdown,
    SocketImpl,
)
from sockspec import SocketType as SockType
from sockspec.errors import SocketError, from_os_error

from ._log import LOG, TraceLog

__all__ = ["TraceBackend", "TraceSelector", "TraceSocket"]

_T = TypeVar("_T")
_PREVIEW = 24  # bytes of data shown in a record


def summarize(value: object) -> str:
    """Return a short, readable text for an argument or a result."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value[:_PREVIEW])
        size = len(value) if not isinstance(value, memoryview) else value.nbytes
        if size <= _PREVIEW:
            return repr(data)
        return f"{data!r}...({size} bytes)"
    if isinstance(value, (TraceSocket, TraceSelector)):
        return value.label
    if isinstance(value, (Family, SockType, Option, Shutdown)):
        return value.name
    if isinstance(value, Event):
        return "|".join(e.name or "" for e in Event if e in value) or "0"
    if isinstance(value, tuple):
        return "(" + ", ".join(summarize(v) for v in value) + ")"
    if isinstance(value, list):
        return "[" + ", ".join(summarize(v) for v in value) + "]"
    if hasattr(value, "read"):
        name = getattr(value, "name", None)
        return f"<file {name!r}>" if name is not None else f"<{type(value).__name__}>"
    return repr(value)


def _address(value: tuple[str | None, int | None]) -> str:
    host, port = value
    if host is None:
        return "None"
    if port is None:
        return repr(host)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _args(*args: object, **kwargs: object) -> str:
    parts = [summarize(a) for a in args]
    parts.extend(f"{k}={summarize(v)}" for k, v in kwargs.items())
    return ", ".join(parts)


def _error(exc: BaseException) -> tuple[str, str]:
    """The exception as the application will see it, after the facade maps it."""
    shown: BaseException = exc
    if isinstance(exc, OSError) and not isinstance(exc, SocketError):
        shown = from_os_error(exc)
    return type(shown).__name__, str(exc)


def _run(
    backend: TraceBackend,
    target: str,
    op: str,
    args: str,
    fn: Callable[..., _T],
    call_args: tuple[object, ...],
    show: Callable[[_T], str],
) -> _T:
    """Call *fn*, record how it went, and return its result or re-raise."""
    clock = backend.inner.monotonic
    start = clock()
    try:
        result = fn(*call_args)
    except BaseException as exc:
        error_type, message = _error(exc)
        backend.log.add(
            backend=backend.name,
            target=target,
            op=op,
            args=args,
            result=None,
            error_type=error_type,
            error=message,
            start=start,
            duration=clock() - start,
        )
        raise
    backend.log.add(
        backend=backend.name,
        target=target,
        op=op,
        args=args,
        result=show(result),
        error_type=None,
        error=None,
        start=start,
        duration=clock() - start,
    )
    return result


class _Traced:
    """What the socket and selector wrappers share: a label and recording."""

    __slots__ = ()

    backend: TraceBackend
    label: str

    def _call(
        self,
        op: str,
        args: str,
        fn: Callable[..., _T],
        *call_args: object,
        show: Callable[[_T], str] = summarize,
    ) -> _T:
        return _run(self.backend, self.label, op, args, fn, call_args, show)


class TraceSocket(_Traced, DelegatingSocket):
    """A socket implementation of the inner backend, with each call recorded."""

    __slots__ = ("label",)

    backend: TraceBackend

    def __init__(self, inner: SocketImpl, backend: TraceBackend) -> None:
        super().__init__(inner, backend)
        #: This socket's name in the log (``"s3"``).
        self.label = backend.log.label("s")

    def __getattr__(self, name: str) -> object:
        if name == "inner":  # not set yet: no recursion through __getattr__
            raise AttributeError(name)
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return f"<TraceSocket {self.label} of {self.inner!r}>"

    def connect(self, host: str, port: int | None, timeout: float | None) -> None:
        """Connect, recorded as ``connect(host, port, timeout=...)``."""
        self._call(
            "connect",
            _args(host, port, timeout=timeout),
            self.inner.connect,
            host,
            port,
            timeout,
        )

    def bind(self, host: str | None, port: int | None) -> None:
        """Bind, recorded as ``bind(host, port)``."""
        self._call("bind", _args(host, port), self.inner.bind, host, port)

    def listen(self, backlog: int) -> None:
        """Listen, recorded as ``listen(backlog)``."""
        self._call("listen", _args(backlog), self.inner.listen, backlog)

    def accept(self) -> SocketImpl:
        """Accept; the result is the new socket's label."""
        return self._call("accept", "", self._accept)

    def _accept(self) -> SocketImpl:
        return super().accept()

    def shutdown(self, how: Shutdown) -> None:
        """Shut down, recorded as ``shutdown(SHUT_WR)``."""
        self._call("shutdown", _args(how), self.inner.shutdown, how)

    def close(self) -> None:
        """Close, recorded as ``close()``."""
        self._call("close", "", self.inner.close)

    def receive(self, maxlen: int) -> bytes:
        """Receive; the result shows the start of the data and its length."""
        return self._call("receive", _args(maxlen), self.inner.receive, maxlen)

    def send(self, data: bytes | memoryview) -> int:
        """Send; the argument shows the start of the data and its length."""
        return self._call("send", _args(data), self.inner.send, data)

    def receive_from(self, maxlen: int) -> tuple[bytes, str | None, int | None]:
        """Receive a datagram; the result is ``(data, address, port)``."""
        return self._call(
            "receive_from", _args(maxlen), self.inner.receive_from, maxlen
        )

    def send_to(self, data: bytes | memoryview, host: str, port: int | None) -> int:
        """Send a datagram, recorded as ``send_to(data, host, port)``."""
        return self._call(
            "send_to", _args(data, host, port), self.inner.send_to, data, host, port
        )

    def send_file(self, file: BinaryIO) -> int:
        """Send a file, recorded with the file's name."""
        return self._call("send_file", _args(file), self.inner.send_file, file)

    def set_option(self, option: Option, value: object) -> None:
        """Set an option, recorded as ``set_option(TCP_NODELAY, True)``."""
        self._call(
            "set_option", _args(option, value), self.inner.set_option, option, value
        )

    def get_option(self, option: Option) -> object:
        """Read an option, recorded with its value."""
        return self._call("get_option", _args(option), self.inner.get_option, option)

    def set_timeout(self, timeout: float | None) -> None:
        """Change the timeout, recorded as ``set_timeout(5.0)``."""
        self._call("set_timeout", _args(timeout), self.inner.set_timeout, timeout)

    def is_connected(self) -> bool:
        """Whether connected, recorded."""
        return self._call("is_connected", "", self.inner.is_connected)

    def is_readable(self) -> bool:
        """Whether readable, recorded."""
        return self._call("is_readable", "", self.inner.is_readable)

    def is_writable(self) -> bool:
        """Whether writable, recorded."""
        return self._call("is_writable", "", self.inner.is_writable)

    def local_address(self) -> tuple[str | None, int | None]:
        """The local address, recorded as ``host:port``."""
        return self._call("local_address", "", self.inner.local_address, show=_address)

    def remote_address(self) -> tuple[str | None, int | None]:
        """The peer's address, recorded as ``host:port``."""
        return self._call(
            "remote_address", "", self.inner.remote_address, show=_address
        )


class TraceSelector(_Traced, DelegatingSelector):
    """The inner backend's selector, with each call recorded.

    Results of :meth:`select` are shown by socket label (``[s2 EVENT_READ]``).
    """

    __slots__ = ("_names", "label")

    backend: TraceBackend

    def __init__(self, inner: SelectorImpl, backend: TraceBackend) -> None:
        super().__init__(inner, backend)
        #: This selector's name in the log (``"p1"``).
        self.label = backend.log.label("p")
        self._names: dict[Hashable, str] = {}

    def __repr__(self) -> str:
        return f"<TraceSelector {self.label} of {self.inner!r}>"

    def register(self, sock: SocketImpl, events: Event, token: Hashable) -> None:
        """Watch a socket, recorded as ``register(s1, EVENT_READ)``."""
        self._call(
            "register",
            _args(sock, events),
            self.inner.register,
            self.unwrap(sock),
            events,
            token,
        )
        self._names[token] = summarize(sock)

    def modify(self, sock: SocketImpl, events: Event, token: Hashable) -> None:
        """Change the events, recorded as ``modify(s1, EVENT_WRITE)``."""
        self._call(
            "modify",
            _args(sock, events),
            self.inner.modify,
            self.unwrap(sock),
            events,
            token,
        )
        self._names[token] = summarize(sock)

    def unregister(self, sock: SocketImpl) -> None:
        """Stop watching, recorded as ``unregister(s1)``."""
        self._call("unregister", _args(sock), self.inner.unregister, self.unwrap(sock))

    def select(self, timeout: float | None) -> list[tuple[Hashable, Event]]:
        """Wait; the result lists the ready sockets by label."""
        return self._call(
            "select", _args(timeout), self.inner.select, timeout, show=self._ready
        )

    def _ready(self, ready: list[tuple[Hashable, Event]]) -> str:
        shown = (
            f"{self._names.get(token, '?')} {summarize(events)}"
            for token, events in ready
        )
        return "[" + ", ".join(shown) + "]"

    def close(self) -> None:
        """Close, recorded as ``close()``."""
        self._call("close", "", self.inner.close)


class TraceBackend(DelegatingBackend):
    """Wrap *inner* so that every socket operation is written to *log*.

    :param inner: the backend doing the work: an object, or a backend
        choice (``"memory"``) that is followed to what it means now.
    :param log: where records go (default: the process-wide
        :data:`sockspec_trace.LOG`).
    :param name: the backend's name (default: ``"trace:" + inner's name``).

    Capabilities and the clock are the inner backend's.  Use it by name
    (``Socket(backend="trace:memory")``, ``SOCKSPEC_BACKEND=trace:stdlib``)
    or pass an instance as ``backend=`` to give a test its own log.
    """

    socket_class = TraceSocket
    selector_class = TraceSelector

    def __init__(
        self,
        inner: Backend | str,
        log: TraceLog | None = None,
        name: str | None = None,
    ) -> None:
        if name is None:
            name = f"trace:{inner if isinstance(inner, str) else inner.name}"
        super().__init__(inner, name=name)
        #: Where this backend's records go.
        self.log = log if log is not None else LOG

    def socket(self, family: Family, type: SockType) -> SocketImpl:
        """Create a socket of the inner backend, recorded as ``socket(...)``."""
        backend = self.resolve()
        if backend is not self:
            return backend.socket(family, type)
        return _run(
            self,
            "",
            "socket",
            _args(family, type),
            super().socket,
            (family, type),
            summarize,
        )

    def selector(self) -> SelectorImpl:
        """Create the inner backend's selector, recorded as ``selector()``."""
        backend = self.resolve()
        if backend is not self:
            return backend.selector()
        return _run(self, "", "selector", "", super().selector, (), summarize)
