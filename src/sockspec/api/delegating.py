"""Bases for a backend that wraps another: override only what changes.

Theory of operation
-------------------
A wrapping backend (tracing, policy, metrics) hands out its own socket and
selector objects around the inner backend's.  :class:`DelegatingSocket`
forwards each of the nineteen :class:`~sockspec.SocketImpl` methods to
:attr:`~DelegatingSocket.inner`, :class:`DelegatingSelector` forwards the
:class:`~sockspec.SelectorImpl` methods and gives the inner selector the
inner sockets (the inner backend's multiplexing knows nothing of the
wrappers), and :class:`DelegatingBackend` makes both and takes its
capabilities, clock (:meth:`~sockspec.Backend.monotonic`), resource count
(:meth:`~sockspec.Backend.open_resources`) and host-name lookup
(:meth:`~sockspec.Backend.lookup_host`) from the inner backend.  A wrapper
subclasses them and overrides the methods whose behaviour it changes; an
accepted connection is wrapped by the same backend, so the subclass applies
to it too.

The inner backend may stand for another chosen at run time (``"memory"``
means the current network; see :meth:`~sockspec.Backend.resolve`).  Then
the wrapper does too: :meth:`DelegatingBackend.resolve` returns a copy of the
wrapper around what the inner backend stands for now, one copy per inner
object for as long as something uses it, so sockets and Pollers made while
one network is current agree with each other.
"""

from __future__ import annotations

import copy
import threading
import weakref
from collections.abc import Hashable
from typing import BinaryIO

from .backend import Address, Backend, Capabilities, SelectorImpl, SocketImpl
from .constants import Event, Family, Option, Shutdown, SocketType

__all__ = ["DelegatingBackend", "DelegatingSelector", "DelegatingSocket", "unwrap_impl"]


class DelegatingSocket(SocketImpl):
    """A :class:`~sockspec.SocketImpl` that forwards every call to :attr:`inner`.

    :param inner: the inner backend's socket implementation.
    :param backend: the wrapping backend that made this socket.
    """

    __slots__ = ("backend", "inner")

    def __init__(self, inner: SocketImpl, backend: DelegatingBackend) -> None:
        #: The wrapped implementation.
        self.inner = inner
        #: The wrapping backend (accepted connections are wrapped by it too).
        self.backend = backend

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self.inner!r}>"

    def connect(self, host: str, port: int | None, timeout: float | None) -> None:
        """Forward to the inner socket."""
        self.inner.connect(host, port, timeout)

    def bind(self, host: str | None, port: int | None) -> None:
        """Forward to the inner socket."""
        self.inner.bind(host, port)

    def listen(self, backlog: int) -> None:
        """Forward to the inner socket."""
        self.inner.listen(backlog)

    def accept(self) -> SocketImpl:
        """Accept on the inner socket; the wrapping backend wraps the result."""
        return self.backend.wrap_socket(self.inner.accept())

    def shutdown(self, how: Shutdown) -> None:
        """Forward to the inner socket."""
        self.inner.shutdown(how)

    def close(self) -> None:
        """Forward to the inner socket."""
        self.inner.close()

    def receive(self, maxlen: int) -> bytes:
        """Forward to the inner socket."""
        return self.inner.receive(maxlen)

    def send(self, data: bytes | memoryview) -> int:
        """Forward to the inner socket."""
        return self.inner.send(data)

    def receive_from(self, maxlen: int) -> tuple[bytes, str | None, int | None]:
        """Forward to the inner socket."""
        return self.inner.receive_from(maxlen)

    def send_to(self, data: bytes | memoryview, host: str, port: int | None) -> int:
        """Forward to the inner socket."""
        return self.inner.send_to(data, host, port)

    def send_file(self, file: BinaryIO) -> int:
        """Forward to the inner socket."""
        return self.inner.send_file(file)

    def set_option(self, option: Option, value: object) -> None:
        """Forward to the inner socket."""
        self.inner.set_option(option, value)

    def get_option(self, option: Option) -> object:
        """Forward to the inner socket."""
        return self.inner.get_option(option)

    def set_timeout(self, timeout: float | None) -> None:
        """Forward to the inner socket."""
        self.inner.set_timeout(timeout)

    def is_connected(self) -> bool:
        """Forward to the inner socket."""
        return self.inner.is_connected()

    def is_readable(self) -> bool:
        """Forward to the inner socket."""
        return self.inner.is_readable()

    def is_writable(self) -> bool:
        """Forward to the inner socket."""
        return self.inner.is_writable()

    def local_address(self) -> Address:
        """Forward to the inner socket."""
        return self.inner.local_address()

    def remote_address(self) -> Address:
        """Forward to the inner socket."""
        return self.inner.remote_address()


class DelegatingSelector(SelectorImpl):
    """A :class:`~sockspec.SelectorImpl` that forwards to :attr:`inner`.

    Sockets are unwrapped on the way in: the inner selector gets the inner
    backend's own socket implementations.  Tokens pass through unchanged.

    :param inner: the inner backend's selector.
    :param backend: the wrapping backend that made this selector.
    """

    __slots__ = ("backend", "inner")

    def __init__(self, inner: SelectorImpl, backend: DelegatingBackend) -> None:
        #: The wrapped selector.
        self.inner = inner
        #: The wrapping backend.
        self.backend = backend

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self.inner!r}>"

    def unwrap(self, sock: SocketImpl) -> SocketImpl:
        """Return what the inner selector knows *sock* as (one wrapper off)."""
        return sock.inner if isinstance(sock, DelegatingSocket) else sock

    def register(self, sock: SocketImpl, events: Event, token: Hashable) -> None:
        """Register the inner socket with the inner selector."""
        self.inner.register(self.unwrap(sock), events, token)

    def modify(self, sock: SocketImpl, events: Event, token: Hashable) -> None:
        """Modify the inner socket's registration."""
        self.inner.modify(self.unwrap(sock), events, token)

    def unregister(self, sock: SocketImpl) -> None:
        """Unregister the inner socket."""
        self.inner.unregister(self.unwrap(sock))

    def select(self, timeout: float | None) -> list[tuple[Hashable, Event]]:
        """Forward to the inner selector."""
        return self.inner.select(timeout)

    def close(self) -> None:
        """Forward to the inner selector."""
        self.inner.close()


class DelegatingBackend(Backend):
    """A backend that wraps *inner*; subclasses override only what changes.

    :param inner: the backend doing the work: an object, or a backend
        choice (``"memory"``, ``"name:options"``) looked up each time this
        backend is resolved.
    :param name: this backend's name; default the class's ``name``
        attribute, else the inner backend's name.

    Sockets are made by :attr:`socket_class` (default
    :class:`DelegatingSocket`) and selectors by :attr:`selector_class`;
    override :meth:`wrap_socket` or :meth:`wrap_selector` when a wrapper
    needs more than ``(inner, backend)``.  :attr:`capabilities` is the inner
    backend's unless a subclass sets its own (a class attribute, or
    assigning it in ``__init__``).
    """

    #: Makes the wrapper of each inner socket: ``socket_class(inner, backend)``.
    socket_class: type[DelegatingSocket] = DelegatingSocket
    #: Makes the wrapper of each inner selector.
    selector_class: type[DelegatingSelector] = DelegatingSelector

    def __init__(self, inner: Backend | str, *, name: str | None = None) -> None:
        if isinstance(inner, str):
            self._choice: str | None = inner
            self._inner: Backend | None = None
        elif isinstance(inner, Backend):
            self._choice = None
            self._inner = inner
        else:
            raise TypeError(
                f"inner must be a sockspec.Backend or a backend name, "
                f"got {type(inner).__name__}"
            )
        self._capabilities: Capabilities | None = None
        self._views: weakref.WeakValueDictionary[int, DelegatingBackend] = (
            weakref.WeakValueDictionary()
        )
        self._views_lock = threading.Lock()
        if name is not None:
            self.name = name
        elif not isinstance(getattr(type(self), "name", None), str):
            self.name = inner if isinstance(inner, str) else inner.name

    @property
    def inner(self) -> Backend:
        """The backend doing the work (for a choice: what it means now)."""
        if self._inner is not None:
            return self._inner
        from .._registry import get_backend  # the registry needs this module

        assert self._choice is not None
        return get_backend(self._choice)

    @property
    def capabilities(self) -> Capabilities:
        """The inner backend's capabilities, unless set on this backend."""
        if self._capabilities is not None:
            return self._capabilities
        return self.inner.capabilities

    @capabilities.setter
    def capabilities(self, value: Capabilities) -> None:
        if not isinstance(value, Capabilities):
            raise TypeError(
                f"capabilities must be a sockspec.Capabilities, "
                f"got {type(value).__name__}"
            )
        self._capabilities = value

    def resolve(self) -> Backend:
        """This wrapper around what the inner backend stands for now.

        ``self`` when the inner backend is a plain one; otherwise a copy of
        this wrapper around the resolved inner backend, the same copy for as
        long as anything holds it.
        """
        if self._inner is not None:
            inner = self._inner.resolve()
            if inner is self._inner:
                return self
        else:
            inner = self.inner
        view = self._views.get(id(inner))
        if view is not None and view._inner is inner:
            return view
        with self._views_lock:
            view = self._views.get(id(inner))
            if view is None or view._inner is not inner:
                view = copy.copy(self)
                view._choice = None
                view._inner = inner
                view._views = weakref.WeakValueDictionary()
                view._views_lock = threading.Lock()
                self._views[id(inner)] = view
            return view

    def wrap_socket(self, inner: SocketImpl) -> SocketImpl:
        """Return the wrapper of an inner socket (new or accepted)."""
        return self.socket_class(inner, self)

    def wrap_selector(self, inner: SelectorImpl) -> SelectorImpl:
        """Return the wrapper of an inner selector."""
        return self.selector_class(inner, self)

    def socket(self, family: Family, type: SocketType) -> SocketImpl:
        """Make an inner socket and wrap it."""
        backend = self.resolve()
        if backend is not self:
            return backend.socket(family, type)
        return self.wrap_socket(self.inner.socket(family, type))

    def selector(self) -> SelectorImpl:
        """Make an inner selector and wrap it."""
        backend = self.resolve()
        if backend is not self:
            return backend.selector()
        return self.wrap_selector(self.inner.selector())

    def lookup_host(self, host: str, family: Family) -> str | None:
        """The inner backend's name lookup."""
        return self.inner.lookup_host(host, family)

    def monotonic(self) -> float:
        """The inner backend's clock."""
        return self.inner.monotonic()

    def open_resources(self) -> int | None:
        """What the inner backend holds open."""
        return self.inner.open_resources()


def unwrap_impl(impl: object) -> object:
    """Return the innermost implementation under any :class:`DelegatingSocket`."""
    while isinstance(impl, DelegatingSocket):
        impl = impl.inner
    return impl
