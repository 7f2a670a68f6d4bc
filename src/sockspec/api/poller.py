""":class:`Poller`: readiness multiplexing over many sockets of one backend.

It mirrors the standard :mod:`selectors` module.  Registrations persist in
the backend's selector (epoll on Linux for the OS backends), so one
:meth:`Poller.poll` costs in proportion to the sockets that are ready, not to
the number registered.  A registered socket that gets closed is dropped from
every Poller it is in.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any

from .. import _registry
from . import _validate as v
from .backend import Backend, SelectorImpl, SocketImpl
from .constants import EVENT_READ, EVENT_WRITE, Event
from .errors import SocketClosed, SocketError, UnsupportedOperation, from_os_error
from .layer import Layer
from .socket import Socket

__all__ = ["PollKey", "Poller"]

# Event member of each mask value.
_EVENT_OF = (Event(0), EVENT_READ, EVENT_WRITE, EVENT_READ | EVENT_WRITE)


@dataclasses.dataclass(frozen=True, slots=True)
class PollKey:
    """A registration: the socket, the events watched and the user's data."""

    #: The registered socket.
    socket: Socket
    #: The events watched (``EVENT_READ``, ``EVENT_WRITE`` or both).
    events: Event
    #: Whatever was passed as ``data`` at registration.
    data: Any


class Poller:
    """Wait for readiness on many sockets at once, like :mod:`selectors`.

    :param backend: the backend whose sockets will be registered (a name or
        a backend object; ``None`` is the current default).  All sockets in one
        Poller come from that backend.
    """

    __slots__ = ("__weakref__", "_backend", "_keys", "_layered", "_selector")

    def __init__(self, backend: str | Backend | None = None) -> None:
        self._backend = _registry.resolve_backend(backend)
        if not self._backend.capabilities.poller:
            raise UnsupportedOperation(
                f"backend {self._backend.name!r} does not support Poller"
            )
        self._selector: SelectorImpl | None = self._backend.selector()
        self._keys: dict[int, PollKey] = {}
        # Sockets with a layer (TLS) that may hold data the selector cannot see.
        self._layered: dict[int, Socket] = {}

    def _sel(self) -> SelectorImpl:
        if self._selector is None:
            raise SocketClosed("the Poller is closed")
        return self._selector

    def register(self, sock: Socket, events: int, data: Any = None) -> PollKey:
        """Watch *sock* for *events*; return its key.

        Raises ``KeyError`` if it is already registered, ``ValueError`` if it
        comes from another backend, :class:`~sockspec.SocketClosed` if closed.
        """
        sel = self._sel()
        if not isinstance(sock, Socket):
            raise TypeError(
                f"sock must be a sockspec.Socket, got {type(sock).__name__}"
            )
        mask = v.events_arg(events)
        impl = sock.implementation(self._backend)
        if id(sock) in self._keys:
            raise KeyError(f"{sock!r} is already registered")
        key = PollKey(sock, mask, data)
        # The key goes in first: a thread already in poll() may wake as
        # soon as the selector knows the socket, and must find its key.
        self._keys[id(sock)] = key
        try:
            sel.register(impl, mask, id(sock))
        except BaseException as exc:
            del self._keys[id(sock)]
            if isinstance(exc, OSError) and not isinstance(exc, SocketError):
                raise from_os_error(exc) from None
            raise
        sock._watch(self)
        self._relayer(sock)
        return key

    def modify(self, sock: Socket, events: int, data: Any = None) -> PollKey:
        """Change the events (and data) watched for a registered socket."""
        sel = self._sel()
        old = self.get_key(sock)
        mask = v.events_arg(events)
        key = PollKey(sock, mask, data)
        self._keys[id(sock)] = key  # before the selector, as in register()
        if mask != old.events:
            try:
                sel.modify(sock.implementation(self._backend), mask, id(sock))
            except BaseException as exc:
                self._keys[id(sock)] = old
                if isinstance(exc, OSError) and not isinstance(exc, SocketError):
                    raise from_os_error(exc) from None
                raise
        return key

    def unregister(self, sock: Socket) -> PollKey:
        """Stop watching *sock*; return its old key (``KeyError`` if unknown)."""
        sel = self._sel()
        key = self.get_key(sock)
        del self._keys[id(sock)]
        self._layered.pop(id(sock), None)
        sock._unwatch(self)
        if not sock.closed:
            sel.unregister(sock.implementation())
        return key

    def get_key(self, sock: Socket) -> PollKey:
        """Return the key of a registered socket (``KeyError`` if unknown)."""
        try:
            return self._keys[id(sock)]
        except KeyError:
            raise KeyError(f"{sock!r} is not registered") from None

    def get_map(self) -> dict[Socket, PollKey]:
        """Return a snapshot of every registration, by socket."""
        return {key.socket: key for key in self._keys.values()}

    def poll(self, timeout: float | None = None) -> list[tuple[PollKey, Event]]:
        """Wait up to *timeout* seconds; return ``(key, ready events)`` pairs.

        ``None`` waits until something is ready, ``0`` only looks.  An empty
        list means the time ran out.  :meth:`close` from another thread ends
        the wait with :class:`~sockspec.SocketClosed`.
        """
        sel = self._sel()
        seconds = v.timeout_arg(timeout)
        if not seconds:  # 0 only looks; None waits for as long as it takes
            deadline = None
        else:
            clock = self._backend.monotonic
            deadline = clock() + seconds
        while True:
            out = self._poll_once(sel, seconds)
            if out or seconds == 0:
                return out
            # Nothing to report although the wait ended: the selector saw a
            # readiness that a concurrent modify() took away, or a wake-up
            # meant for someone else.  An empty list must mean the time ran
            # out, so wait again for what is left of it.
            if deadline is not None:
                seconds = deadline - clock()
                if seconds <= 0:
                    return out

    def _poll_once(
        self, sel: SelectorImpl, seconds: float | None
    ) -> list[tuple[PollKey, Event]]:
        """One wait in the selector; the ready events that keys still want."""
        early = self._buffered() if self._layered else None
        if early:
            seconds = 0  # data is there already: only look
        try:
            ready = sel.select(seconds)
        except SocketError:
            raise
        except OSError as exc:
            raise from_os_error(exc) from None
        if self._selector is None:
            raise SocketClosed("the Poller was closed while waiting")
        keys = self._keys
        if not early:
            # One list, no Python-level flag arithmetic: & is int's (see
            # Event), and the tuple maps the result back to its Event member.
            # A key modified while the selector looked may want none of what
            # it saw.
            return [
                (key, _EVENT_OF[mask])
                for token, events in ready
                if (key := keys.get(token)) is not None  # type: ignore[call-overload]
                and (mask := events & key.events)
            ]
        out = []
        for token, events in ready:
            key = keys.get(token)  # type: ignore[call-overload]
            if key is not None:
                if token in early:
                    events |= early.pop(token)
                if events & key.events:
                    out.append((key, _EVENT_OF[events & key.events]))
        for buffered_token, readable in early.items():
            key = keys.get(buffered_token)
            if key is not None:
                out.append((key, readable))
        return out

    #: :meth:`poll` under the name :class:`selectors.BaseSelector` uses, for
    #: code written against :mod:`selectors`; both return the same.
    select = poll

    def _buffered(self) -> dict[int, Event]:
        """Registered sockets whose layer holds data the selector cannot see."""
        early: dict[int, Event] = {}
        # A copy: another thread may register or unregister meanwhile.
        for token, sock in list(self._layered.items()):
            key = self._keys.get(token)
            impl = sock._impl
            if (
                key is not None
                and key.events & EVENT_READ
                and isinstance(impl, Layer)
                and impl.buffered()
            ):
                early[token] = EVENT_READ
        return early

    def _relayer(self, sock: Socket) -> None:
        """Note whether *sock* (just registered, or its TLS started or ended)
        now has a layer whose buffered data counts as readable."""
        if id(sock) not in self._keys:
            return
        if isinstance(sock._impl, Layer):
            self._layered[id(sock)] = sock
        else:
            self._layered.pop(id(sock), None)

    def _forget(self, sock: Socket, impl: SocketImpl) -> None:
        """Drop *sock*, which is being closed; *impl* is still open."""
        self._layered.pop(id(sock), None)
        if self._keys.pop(id(sock), None) is None or self._selector is None:
            return
        try:
            self._selector.unregister(impl)
        except OSError:
            pass  # the socket is going away; the selector forgets it anyway

    def close(self) -> None:
        """Release the Poller; registered sockets stay open."""
        sel, self._selector = self._selector, None
        if sel is None:
            return
        for key in self._keys.values():
            key.socket._unwatch(self)
        self._keys.clear()
        self._layered.clear()
        sel.close()

    @property
    def closed(self) -> bool:
        """``True`` after :meth:`close`."""
        return self._selector is None

    @property
    def backend(self) -> str:
        """The name of the backend whose sockets this Poller watches."""
        return self._backend.name

    @property
    def backend_object(self) -> Backend:
        """The backend whose sockets this Poller watches, as an object.

        ``Socket(backend=poller.backend_object)`` makes a socket this Poller
        accepts (the name alone may mean another memory network or host).
        """
        return self._backend

    def __len__(self) -> int:
        return len(self._keys)

    def __enter__(self) -> Poller:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.close()
