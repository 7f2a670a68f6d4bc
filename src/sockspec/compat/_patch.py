"""``patch()``: the standard ``socket``, ``select``, ``selectors`` on a backend.

Theory of operation
-------------------
Entering a :class:`patch` does two things:

1. it puts the backend in force as sockspec's default
   (:class:`sockspec.use_backend`), so every compat socket made without
   ``backend=`` lives there;
2. it replaces attributes of the standard modules with their compat
   counterparts, remembering each original object.

Leaving undoes both in reverse order, also after an exception, and puts back
the very objects it found.  Patches nest (the inner one remembers the outer
one's objects).  Sockets made inside keep their backend after the patch
ends, so they work until closed.

Only attribute lookups at call time see the patch: a module that ran
``from socket import socket`` before the patch keeps the real class.  Two
such bindings in the standard library matter and are handled here:
``socketserver._ServerSelector`` and ``ssl.SSLContext.wrap_socket`` (which
hands compat sockets to :mod:`sockspec.compat._ssl` and real ones to
``ssl``).

Patching is process-wide, so it is owned by one thread at a time: a second
thread entering a patch while another thread's patch is active gets a
``RuntimeError`` (nesting in the owning thread is fine).
"""

from __future__ import annotations

import functools
import inspect
import select as _select_mod
import selectors as _selectors_mod
import socket as _socket_mod
import sys
import threading
import time
import types
from collections.abc import Callable
from typing import Any, TypeVar

from .. import _registry
from . import _functions, _select, _socket, _ssl

__all__ = ["patch"]

_F = TypeVar("_F", bound=Callable[..., Any])

_SOCKET_NAMES: dict[str, Any] = {
    "socket": _socket.socket,
    "SocketType": _socket.socket,
    "create_connection": _functions.create_connection,
    "create_server": _functions.create_server,
    "socketpair": _functions.socketpair,
    "getaddrinfo": _functions.getaddrinfo,
    "gethostbyname": _functions.gethostbyname,
    "gethostbyname_ex": _functions.gethostbyname_ex,
    "getfqdn": _functions.getfqdn,
    "gethostname": _functions.gethostname,
    "has_dualstack_ipv6": _functions.has_dualstack_ipv6,
    "fromfd": _functions.fromfd,
}
_SELECT_NAMES: dict[str, Any] = {"select": _select.select}
if hasattr(_select_mod, "poll"):
    _SELECT_NAMES["poll"] = _select.poll
_SELECTORS_NAMES: dict[str, Any] = {
    name: getattr(_select, name)
    for name in (
        "SelectSelector",
        "PollSelector",
        "EpollSelector",
        "DevpollSelector",
        "KqueueSelector",
    )
    if hasattr(_selectors_mod, name)
}
_SELECTORS_NAMES["DefaultSelector"] = _select.DefaultSelector

#: What patch() replaces: (module, attribute) -> compat object.
PATCHED: list[tuple[types.ModuleType, str, Any]] = [
    *((_socket_mod, n, o) for n, o in _SOCKET_NAMES.items()),
    *((_select_mod, n, o) for n, o in _SELECT_NAMES.items()),
    *((_selectors_mod, n, o) for n, o in _SELECTORS_NAMES.items()),
]

_lock = threading.Lock()
_owner: int | None = None
_depth = 0
_real_monotonic = time.monotonic
_real_time = time.time


def _guarded_wrap_socket(original: Callable[..., Any]) -> Callable[..., Any]:
    """``SSLContext.wrap_socket``: compat sockets to compat TLS, others unchanged."""

    @functools.wraps(original)
    def wrap_socket(self: Any, sock: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(sock, _socket.socket):
            return _ssl.wrap_socket(self, sock, *args, **kwargs)
        return original(self, sock, *args, **kwargs)

    wrap_socket.__sockspec_original__ = original  # type: ignore[attr-defined]
    return wrap_socket


_ssl_lock = threading.Lock()
_ssl_holds = 0
_ssl_saved: Any = None


def hold_ssl() -> None:
    """Send compat sockets given to ``SSLContext.wrap_socket`` to compat TLS.

    Patches and compat event loops both need it and may end in any order,
    so it is counted: the first hold installs the guard, the last release
    puts back the very object that was there.  Real sockets still go to
    ``ssl``'s own ``wrap_socket``; a compat socket never could.
    """
    global _ssl_holds, _ssl_saved
    try:
        import ssl
    except ImportError:  # pragma: no cover - Python without ssl
        return
    with _ssl_lock:
        if _ssl_holds == 0:
            _ssl_saved = ssl.SSLContext.__dict__.get("wrap_socket", _MISSING)
            current = ssl.SSLContext.wrap_socket
            if not hasattr(current, "__sockspec_original__"):
                ssl.SSLContext.wrap_socket = _guarded_wrap_socket(current)  # type: ignore[method-assign]
        _ssl_holds += 1


def release_ssl() -> None:
    """End one :func:`hold_ssl`; the last one restores ``wrap_socket``."""
    global _ssl_holds
    try:
        import ssl
    except ImportError:  # pragma: no cover - Python without ssl
        return
    with _ssl_lock:
        _ssl_holds -= 1
        if _ssl_holds == 0:
            if _ssl_saved is _MISSING:
                del ssl.SSLContext.wrap_socket
            else:
                ssl.SSLContext.wrap_socket = _ssl_saved  # type: ignore[method-assign]


class patch:
    """Serve the standard ``socket``, ``select`` and ``selectors`` from a backend.

    :param backend: a backend name, a backend object, a memory ``Network``
        or ``Host``; ``None`` means the current default.
    :param clock: also put :func:`time.sleep`, :func:`time.monotonic` and
        :func:`time.time` (and their ``_ns`` forms) on the memory network's
        virtual clock, so back-offs, polling loops and deadlines cost no wall
        time.  Needs a backend with virtual time.

    A context manager and a decorator::

        with sockspec.compat.patch(network):
            urllib.request.urlopen("http://app.test/")

    Leaving restores every original object exactly, also after an
    exception; patches nest.  ``sockspec.compat.PATCHED`` lists what is replaced.
    """

    def __init__(self, backend: Any = None, *, clock: bool = False) -> None:
        self._backend = backend
        self._clock = bool(clock)
        self._saved: list[tuple[Any, str, Any]] | None = None
        self._use: _registry.use_backend | None = None

    def __call__(self, fn: _F) -> _F:
        """Decorate *fn* so that each call runs inside a fresh patch.

        A coroutine function is patched while its coroutine runs.
        """
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def patched_async(*args: Any, **kwargs: Any) -> Any:
                with patch(self._backend, clock=self._clock):
                    return await fn(*args, **kwargs)

            return patched_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def patched(*args: Any, **kwargs: Any) -> Any:
            with patch(self._backend, clock=self._clock):
                return fn(*args, **kwargs)

        return patched  # type: ignore[return-value]

    def _targets(self) -> list[tuple[Any, str, Any]]:
        targets: list[tuple[Any, str, Any]] = list(PATCHED)
        server = sys.modules.get("socketserver")
        if server is not None and hasattr(server, "_ServerSelector"):
            targets.append((server, "_ServerSelector", _select.PollSelector))
        if self._clock:
            net = _virtual_network(self._backend)
            base: float = _real_monotonic() - net.monotonic()

            def monotonic() -> float:
                clock: float = net.monotonic()
                return base + clock

            def monotonic_ns() -> int:
                return int(monotonic() * 1e9)

            # Deadlines are often wall-clock times (dnspython's lifetime,
            # many retry loops): the wall clock starts where it is and then
            # moves with the virtual one.
            epoch: float = _real_time() - net.monotonic()

            def time_() -> float:
                clock: float = net.monotonic()
                return epoch + clock

            def time_ns() -> int:
                return int(time_() * 1e9)

            def sleep(seconds: float) -> None:
                if seconds < 0:
                    raise ValueError("sleep length must be non-negative")
                net.sleep(seconds)

            targets += [
                (time, "monotonic", monotonic),
                (time, "monotonic_ns", monotonic_ns),
                (time, "time", time_),
                (time, "time_ns", time_ns),
                (time, "sleep", sleep),
            ]
        return targets

    def __enter__(self) -> patch:
        global _owner, _depth
        if self._saved is not None:
            raise RuntimeError("this patch is already active; make a new one to nest")
        me = threading.get_ident()
        with _lock:
            if _owner is not None and _owner != me:
                raise RuntimeError(
                    "sockspec.compat.patch() is already active in another thread; "
                    "patching the standard modules from two threads at once is "
                    "not supported (patch once, around both)"
                )
            _owner = me
            _depth += 1
        try:
            targets = self._targets()
            chosen = self._backend
            if chosen is None:
                chosen = _registry.resolve_backend(None)
            self._use = _registry.use_backend(chosen)
            self._use.start()
            _unix_paths_are_files(chosen)
        except BaseException:
            self._release()
            raise
        saved: list[tuple[Any, str, Any]] = []
        for owner, name, replacement in targets:
            saved.append((owner, name, owner.__dict__.get(name, _MISSING)))
            setattr(owner, name, replacement)
        hold_ssl()
        self._saved = saved
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        saved, self._saved = self._saved, None
        try:
            if saved is not None:
                release_ssl()
            for owner, name, original in reversed(saved or []):
                if original is _MISSING:
                    delattr(owner, name)
                else:
                    setattr(owner, name, original)
            # socketserver imported inside the patch bound the compat selector.
            server = sys.modules.get("socketserver")
            if (
                server is not None
                and getattr(server, "_ServerSelector", None)
                in _SELECTORS_NAMES.values()
                and _selectors_mod.DefaultSelector not in _SELECTORS_NAMES.values()
            ):
                server._ServerSelector = getattr(  # type: ignore[attr-defined]
                    _selectors_mod, "PollSelector", _selectors_mod.SelectSelector
                )
        finally:
            use, self._use = self._use, None
            if use is not None:
                use.restore()
            self._release()

    def _release(self) -> None:
        global _owner, _depth
        with _lock:
            _depth -= 1
            if _depth <= 0:
                _depth = 0
                _owner = None


_MISSING = object()


def _unix_paths_are_files(backend: Any) -> None:
    """Let the memory host the patch serves make a file for each bound path.

    Unmodified code treats a UNIX socket's path as a file: it removes a
    stale one with ``os.unlink`` before binding (or checks
    ``os.path.exists`` first, as asyncio does), and removes its own after
    closing.  Those calls reach the file system, so the path must be there.
    """
    memory = sys.modules.get("sockspec.backends.memory")
    if memory is None:
        return  # no memory network was made: the backend is not one
    Host, Network = memory.Host, memory.Network
    be = _registry.resolve_backend(backend)
    host = be.local if isinstance(be, Network) else be
    if isinstance(host, Host):
        host.table.files = True


def _virtual_network(backend: Any) -> Any:
    """The memory network whose clock ``clock=True`` follows."""
    be = _registry.resolve_backend(backend)  # a proxy comes back resolved
    net = getattr(be, "network", be)
    if not be.capabilities.virtual_time or not hasattr(net, "sleep"):
        raise ValueError(
            f"patch(clock=True) needs a backend with virtual time; "
            f"{be.name!r} runs on the wall clock"
        )
    return net
