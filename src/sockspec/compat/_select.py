"""``select()``, ``poll`` and ``selectors`` classes that take compat sockets.

Theory of operation
-------------------
Compat sockets are waited on through :class:`sockspec.Poller`, one per
backend, so the wait happens where the backend can see it: on the memory
network it is a wait on the virtual clock, and a 30-second ``select`` with
nothing to do costs no wall time.  Real descriptors (pipes, real sockets)
registered beside them go to a real selector of the standard library.

:class:`_Multiplexer` holds both kinds.  When everything registered sits in
one place (the usual case) a wait is one blocking call there.  When compat
sockets of several backends, or compat sockets and real descriptors, are
mixed, no single call can wait on all of them: the wait then polls each in
turn, blocking in short slices on the first, until something is ready or
the time is up.  That costs a little CPU but stays correct.
"""

from __future__ import annotations

import select as _select_mod
import selectors as _selectors_mod
from collections.abc import Iterable, Mapping
from time import monotonic as _wall
from time import sleep as _wall_sleep
from typing import Any

from ..api.errors import SocketError
from ..api.poller import Poller
from ..api.socket import Socket
from . import _fds

__all__ = [
    "DefaultSelector",
    "DevpollSelector",
    "EpollSelector",
    "KqueueSelector",
    "PollSelector",
    "SelectSelector",
    "poll",
    "select",
]

_os_select = _select_mod.select
_OSSelector = _selectors_mod.DefaultSelector
EVENT_READ = _selectors_mod.EVENT_READ
EVENT_WRITE = _selectors_mod.EVENT_WRITE
SelectorKey = _selectors_mod.SelectorKey
_SLICE = 0.005


def _fileno(fileobj: Any) -> int:
    """The number of *fileobj* (an int or an object with ``fileno()``)."""
    if isinstance(fileobj, int):
        fd = fileobj
    else:
        try:
            fd = int(fileobj.fileno())
        except (AttributeError, TypeError, ValueError):
            raise ValueError(f"Invalid file object: {fileobj!r}") from None
    if fd < 0:
        raise ValueError(f"Invalid file descriptor: {fd}")
    return fd


class _Multiplexer:
    """Readiness of compat sockets (any backends) and real descriptors."""

    def __init__(self) -> None:
        self._pollers: dict[int, Poller] = {}
        # id(facade socket) -> (facade, {key: events}); dups share a facade.
        self._compat: dict[int, tuple[Socket, dict[Any, int]]] = {}
        self._where: dict[Any, int | None] = {}  # key -> id(facade), None: real
        self._real: _selectors_mod.BaseSelector | None = None

    def add(self, key: Any, fd: int, events: int) -> None:
        """Watch *fd* (a compat socket's number or a real one) under *key*."""
        sock = _fds.lookup(fd)
        if sock is None:
            if self._real is None:
                self._real = _OSSelector()
            self._real.register(fd, events, key)
            self._where[key] = None
            return
        facade = sock.sockspec_socket
        entry = self._compat.get(id(facade))
        if entry is None:
            entry = self._compat[id(facade)] = (facade, {})
        before = _union(entry[1])
        entry[1][key] = events
        self._where[key] = id(facade)
        self._update(facade, before, _union(entry[1]))

    def _update(self, facade: Socket, before: int, after: int) -> None:
        backend = facade._backend
        poller = self._pollers.get(id(backend))
        if poller is None:
            poller = self._pollers[id(backend)] = Poller(backend)
        try:
            if not before:
                poller.register(facade, after)
            elif not after:
                poller.unregister(facade)
            elif before != after:
                poller.modify(facade, after)
        except KeyError:
            pass  # closed meanwhile: the Poller already forgot it
        except SocketError as exc:
            raise OSError(exc.errno, exc.strerror) from None

    def remove(self, key: Any) -> None:
        """Stop watching what *key* stands for."""
        where = self._where.pop(key)
        if where is None:
            assert self._real is not None
            for fd, rkey in list(self._real.get_map().items()):
                if rkey.data is key:
                    self._real.unregister(fd)
            return
        facade, keys = self._compat[where]
        before = _union(keys)
        del keys[key]
        if not keys:
            del self._compat[where]
        self._update(facade, before, _union(keys))

    def wait(self, timeout: float | None) -> list[tuple[Any, int]]:
        """Wait up to *timeout* seconds; return ``(key, events)`` pairs."""
        if timeout is not None and timeout < 0:
            timeout = 0.0
        sources: list[Any] = [p for p in self._pollers.values() if len(p)]
        if self._real is not None and self._real.get_map():
            # Mixed with real descriptors, the slices block on the real
            # selector: wall time is what matters then, and a virtual clock
            # would race ahead of it.
            sources.insert(0, self._real)
        if not sources:
            if timeout is None:
                raise ValueError("nothing to wait for and no timeout: it would hang")
            _wall_sleep(timeout)
            return []
        if len(sources) == 1:
            return self._collect(sources[0], timeout)
        deadline = None if timeout is None else _wall() + timeout
        while True:
            for source in sources:
                ready = self._collect(source, 0)
                if ready:
                    return ready
            left = None if deadline is None else deadline - _wall()
            if left is not None and left <= 0:
                return []
            ready = self._collect(
                sources[0], _SLICE if left is None else min(_SLICE, left)
            )
            if ready:
                return ready

    def _collect(self, source: Any, timeout: float | None) -> list[tuple[Any, int]]:
        out: list[tuple[Any, int]] = []
        if isinstance(source, Poller):
            try:
                ready = source.poll(timeout)
            except SocketError as exc:
                raise OSError(exc.errno, exc.strerror) from None
            for pkey, events in ready:
                entry = self._compat.get(id(pkey.socket))
                if entry is None:
                    continue
                for key, wanted in entry[1].items():
                    if events & wanted:
                        out.append((key, int(events & wanted)))
            return out
        for skey, events in source.select(timeout):
            out.append((skey.data, events))
        return out

    def close(self) -> None:
        """Release every Poller and the real selector."""
        for poller in self._pollers.values():
            poller.close()
        self._pollers.clear()
        self._compat.clear()
        self._where.clear()
        if self._real is not None:
            self._real.close()
            self._real = None


def _union(keys: Mapping[Any, int]) -> int:
    mask = 0
    for events in keys.values():
        mask |= events
    return mask


def _select_fd(obj: Any) -> int:
    if isinstance(obj, int):
        fd = obj
    else:
        fileno = getattr(obj, "fileno", None)
        if fileno is None:
            raise TypeError("argument must be an int, or have a fileno() method.")
        fd = fileno()
        if not isinstance(fd, int):
            raise TypeError("fileno() returned a non-integer")
    if fd < 0:
        raise ValueError(f"file descriptor cannot be a negative integer ({fd})")
    return fd


def select(
    rlist: Iterable[Any],
    wlist: Iterable[Any],
    xlist: Iterable[Any],
    timeout: float | None = None,
) -> tuple[list[Any], list[Any], list[Any]]:
    """``select.select`` that also takes compat sockets and their numbers.

    Without any compat socket it is the real ``select``.  Compat sockets
    never report exceptional conditions (``xlist``): no backend has
    out-of-band data.
    """
    rlist, wlist, xlist = list(rlist), list(wlist), list(xlist)
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise TypeError("timeout must be a float or None")
        if timeout < 0:
            raise ValueError("timeout must be non-negative")
    fds = [[_select_fd(o) for o in group] for group in (rlist, wlist, xlist)]
    if not any(_fds.lookup(fd) is not None for group in fds for fd in group):
        return _os_select(rlist, wlist, xlist, timeout)
    wanted: dict[int, int] = {}
    for fd in fds[0]:
        wanted[fd] = wanted.get(fd, 0) | EVENT_READ
    for fd in fds[1]:
        wanted[fd] = wanted.get(fd, 0) | EVENT_WRITE
    mux = _Multiplexer()
    try:
        for fd, events in wanted.items():
            mux.add(fd, fd, events)
        ready = dict(mux.wait(timeout)) if wanted else {}
        if not wanted and timeout:
            mux.wait(timeout)
    finally:
        mux.close()
    readable = [
        o for o, fd in zip(rlist, fds[0], strict=True) if ready.get(fd, 0) & EVENT_READ
    ]
    writable = [
        o for o, fd in zip(wlist, fds[1], strict=True) if ready.get(fd, 0) & EVENT_WRITE
    ]
    return readable, writable, []


_POLLIN = _select_mod.POLLIN | _select_mod.POLLPRI
_POLLOUT = _select_mod.POLLOUT


class poll:
    """``select.poll()`` objects that also take compat sockets."""

    def __init__(self) -> None:
        self._mux = _Multiplexer()
        self._masks: dict[int, int] = {}

    def register(self, fd: Any, eventmask: int = _POLLIN | _POLLOUT) -> None:
        """Watch *fd* for *eventmask* (``POLLIN``, ``POLLOUT``...)."""
        num = _select_fd(fd)
        if num in self._masks:
            self._mux.remove(num)
        self._masks[num] = eventmask
        self._mux.add(num, num, _to_events(eventmask))

    def modify(self, fd: Any, eventmask: int) -> None:
        """Change the mask of a registered *fd* (``FileNotFoundError`` if not)."""
        num = _select_fd(fd)
        if num not in self._masks:
            raise FileNotFoundError(2, "No such file or directory")
        self.register(num, eventmask)

    def unregister(self, fd: Any) -> None:
        """Stop watching *fd* (``KeyError`` if it was not registered)."""
        num = _select_fd(fd)
        del self._masks[num]
        self._mux.remove(num)

    def poll(self, timeout: float | None = None) -> list[tuple[int, int]]:
        """Wait up to *timeout* milliseconds (``None`` or negative: forever)."""
        seconds = None if timeout is None or timeout < 0 else timeout / 1000.0
        out = []
        for num, events in self._mux.wait(seconds):
            mask = self._masks[num]
            revents = (_select_mod.POLLIN if events & EVENT_READ else 0) | (
                _POLLOUT if events & EVENT_WRITE else 0
            )
            if revents & mask:
                out.append((num, revents & mask))
        return out


def _to_events(mask: int) -> int:
    return (EVENT_READ if mask & _POLLIN else 0) | (
        EVENT_WRITE if mask & _POLLOUT else 0
    )


class _Map(Mapping[Any, Any]):
    def __init__(self, keys: dict[int, Any]) -> None:
        self._keys = keys

    def __len__(self) -> int:
        return len(self._keys)

    def __getitem__(self, fileobj: Any) -> Any:
        return self._keys[_fileno(fileobj)]

    def __iter__(self) -> Any:
        return iter(self._keys)


class SelectSelector(_selectors_mod.BaseSelector):
    """A ``selectors`` selector that takes compat sockets beside real files.

    All the standard names (``PollSelector``, ``EpollSelector``,
    ``DefaultSelector``...) are this class: on a simulated network there is
    only one way to wait.
    """

    def __init__(self) -> None:
        self._keys: dict[int, Any] = {}
        self._mux = _Multiplexer()
        self._map = _Map(self._keys)

    def _lookup(self, fileobj: Any) -> int:
        try:
            return _fileno(fileobj)
        except ValueError:
            # A file closed since it was registered: find it by identity.
            for key in self._keys.values():
                if key.fileobj is fileobj:
                    return int(key.fd)
            raise

    def register(self, fileobj: Any, events: int, data: Any = None) -> Any:
        """Watch *fileobj* for *events*; return its ``SelectorKey``."""
        if not events or events & ~(EVENT_READ | EVENT_WRITE):
            raise ValueError(f"Invalid events: {events!r}")
        fd = self._lookup(fileobj)
        if fd in self._keys:
            raise KeyError(f"{fileobj!r} (FD {fd}) is already registered")
        key = SelectorKey(fileobj, fd, events, data)
        self._mux.add(fd, fd, events)
        self._keys[fd] = key
        return key

    def unregister(self, fileobj: Any) -> Any:
        """Stop watching *fileobj*; return its old key."""
        try:
            key = self._keys.pop(self._lookup(fileobj))
        except KeyError:
            raise KeyError(f"{fileobj!r} is not registered") from None
        self._mux.remove(key.fd)
        return key

    def modify(self, fileobj: Any, events: int, data: Any = None) -> Any:
        """Change the events or data of a registered *fileobj*."""
        try:
            key = self._keys[self._lookup(fileobj)]
        except KeyError:
            raise KeyError(f"{fileobj!r} is not registered") from None
        if events != key.events:
            self.unregister(fileobj)
            return self.register(fileobj, events, data)
        if data != key.data:
            key = key._replace(data=data)
            self._keys[key.fd] = key
        return key

    def select(self, timeout: float | None = None) -> list[tuple[Any, int]]:
        """Wait up to *timeout* seconds (``None``: forever, ``<= 0``: look only)."""
        out = []
        for fd, events in self._mux.wait(timeout):
            key = self._keys.get(fd)
            if key is not None and events & key.events:
                out.append((key, events & key.events))
        return out

    def close(self) -> None:
        """Release the selector; registered files stay open."""
        self._keys.clear()
        self._mux.close()

    def get_map(self) -> Mapping[Any, Any]:
        """A read-only mapping of file objects to keys."""
        return self._map


class PollSelector(SelectSelector):
    """The same as :class:`SelectSelector`."""


class EpollSelector(SelectSelector):
    """The same as :class:`SelectSelector` (it has no ``fileno()`` of its own)."""


class DevpollSelector(SelectSelector):
    """The same as :class:`SelectSelector`."""


class KqueueSelector(SelectSelector):
    """The same as :class:`SelectSelector`."""


DefaultSelector = SelectSelector
