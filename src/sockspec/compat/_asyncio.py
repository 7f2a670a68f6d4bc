"""An asyncio event loop with a backend's sockets, selector, resolver and clock.

Theory of operation
-------------------
:class:`EventLoop` is the standard selector event loop
(:class:`asyncio.SelectorEventLoop`) with four things swapped:

* **selector**: a compat selector (:class:`_LoopSelector`), so the loop's
  single blocking call is a wait the backend can see.  On the memory network
  that wait has the loop's next timer as its virtual deadline: when every
  thread using the network waits, the network's clock jumps to the earliest
  deadline or delivery, and ``await asyncio.sleep(3600)`` costs no wall time.
  A wait that nothing can end is the network's :class:`Deadlock`, to which
  the selector adds the loop's pending tasks.
* **clock**: :meth:`EventLoop.time` is the backend's ``monotonic()``, which
  the memory network answers with its virtual clock.
* **sockets**: asyncio makes its sockets by calling ``socket.socket``,
  ``socket.socketpair`` and ``socket.getaddrinfo`` through the ``socket``
  name of its own modules.  While compat loops exist, those names in
  ``asyncio.base_events``, ``asyncio.selector_events`` and
  ``asyncio.unix_events`` are a :class:`_SocketModule`, which answers with
  compat functions bound to the backend of the loop running *in the calling
  thread*, and with the real module's objects otherwise.  So a real loop in
  another thread, or code outside any loop, sees nothing change; the global
  ``socket`` module is never touched.  aiohttp, anyio and tornado make
  sockets for the loop in their own modules, which get the stand-in too
  (``_MODULE_NAMES``); tornado also wraps them in TLS itself, so while
  compat loops exist ``ssl.SSLContext.wrap_socket`` sends compat sockets to
  compat TLS (:func:`~sockspec.compat._patch.hold_ssl`), as a patch does.
* **self-pipe and resolver**: the self-pipe is a compat socket pair on the
  backend (``call_soon_threadsafe`` and signals wake the loop's wait there),
  and :meth:`EventLoop.getaddrinfo` answers from a backend with its own name
  table without a thread, since a lookup there never blocks.
"""

from __future__ import annotations

import asyncio
import asyncio.base_events
import asyncio.selector_events
import concurrent.futures
import functools
import os
import queue
import signal
import socket as _s
import stat
import sys
import threading
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from .. import _registry
from . import _fds
from ._functions import getaddrinfo as _compat_getaddrinfo
from ._functions import name_service
from ._functions import socketpair as _compat_socketpair
from ._patch import hold_ssl, release_ssl
from ._select import SelectSelector
from ._socket import socket as _compat_socket

__all__ = ["EventLoop", "new_event_loop", "run"]

_T = TypeVar("_T")

# The modules that make an event loop's sockets through their global name
# ``socket`` and hand them to the loop: asyncio's own; aiohappyeyeballs'
# (aiohttp's connector makes and connects its client sockets there) and
# aiohttp's test server (pytest-aiohttp's fixtures); anyio's
# (create_tcp_listener, UNIX sockets) for its asyncio backend; tornado's
# (bind_sockets, TCPClient) for its IOLoop on asyncio.
_MODULE_NAMES = (
    "asyncio.base_events",
    "asyncio.selector_events",
    "asyncio.unix_events",
    "aiohappyeyeballs.impl",
    "aiohttp.test_utils",
    "anyio._core._sockets",
    "anyio._backends._asyncio",
    "tornado.netutil",
    "tornado.tcpclient",
)


def _network_of(backend: Any) -> Any:
    """The object whose clock and waits *backend*'s sockets share."""
    return getattr(backend, "network", None) or backend


class _SocketModule:
    """Stands for ``socket`` inside asyncio while compat loops exist.

    Each attribute lookup asks which loop runs in the calling thread; only a
    compat loop gets compat functions.
    """

    def __getattr__(self, name: str) -> Any:
        loop = asyncio.events._get_running_loop()
        if isinstance(loop, EventLoop):
            bound = loop._sockspec_names.get(name)
            if bound is not None:
                return bound
        return getattr(_s, name)

    def __repr__(self) -> str:
        return "<sockspec.compat stand-in for the socket module inside asyncio>"


_stand_in = _SocketModule()
_installed = 0
_install_lock = threading.Lock()


def _install() -> None:
    global _installed
    with _install_lock:
        if _installed == 0:
            # tornado wraps the sockets it made in TLS itself.
            hold_ssl()
        _installed += 1
        _cover_modules()


def _cover_modules() -> None:
    """Put the stand-in into each module of the list imported by now.

    Called with the lock held while compat loops exist: when a loop is made
    and whenever one starts running, so that a module imported after the
    first loop was made (aiohttp imported inside ``main()``) is covered too.
    """
    for name in _MODULE_NAMES:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "socket", None) is _s:
            module.socket = _stand_in  # type: ignore[attr-defined]


def _uninstall() -> None:
    global _installed
    with _install_lock:
        _installed -= 1
        if _installed == 0:
            release_ssl()
            for name in _MODULE_NAMES:
                module = sys.modules.get(name)
                if module is not None and getattr(module, "socket", None) is _stand_in:
                    module.socket = _s  # type: ignore[attr-defined]


#: Consecutive empty polls without a timeout after which the loop is taken to
#: be busy-waiting (a few milliseconds of ``await asyncio.sleep(0)``).
_SPIN_POLLS = 1000


class _LoopSelector(SelectSelector):
    """The loop's compat selector: refuses real sockets, explains deadlocks."""

    def __init__(self, loop: EventLoop, network: Any) -> None:
        super().__init__()
        self._loop_ref = weakref.ref(loop)
        # A memory network lets wall time into its clock when a poll with no
        # timeout finds nothing after a quiet spell, taking the caller for a
        # thread spinning on non-blocking calls.  The loop polls that way
        # whenever it has callbacks to run, which is work, not spinning:
        # advance(0) tells the network so (the clock does not move).  Only a
        # long run of empty polls -- tasks busy-waiting with sleep(0) -- is
        # left to the network's rule, so that it cannot freeze the clock.
        self._hold: Callable[[float], None] | None = getattr(network, "advance", None)
        self._empty_polls = 0

    def register(self, fileobj: Any, events: int, data: Any = None) -> Any:
        """Watch *fileobj*, a compat socket of this loop's backend or a non-socket."""
        loop = self._loop_ref()
        fd = fileobj if isinstance(fileobj, int) else getattr(fileobj, "fileno", int)()
        if isinstance(fd, int) and fd >= 0 and loop is not None:
            loop._sockspec_check_fd(fd, fileobj)
        return super().register(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[Any, int]]:
        """Wait as the backend waits; add the loop's tasks to a deadlock report."""
        at_once = timeout is not None and timeout <= 0
        if at_once and self._hold is not None and self._empty_polls < _SPIN_POLLS:
            self._hold(0)
        try:
            ready = super().select(timeout)
            if ready or not at_once:
                self._empty_polls = 0
            else:
                self._empty_polls += 1
            return ready
        except RuntimeError as exc:
            loop = self._loop_ref()
            if loop is None or type(exc).__name__ != "Deadlock":
                raise
            tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
            lines = [repr(t) for t in tasks] or ["(none)"]
            raise type(exc)(
                f"{exc}\nasyncio tasks of the loop, all waiting:\n  "
                + "\n  ".join(lines)
            ) from None


class _Executor(concurrent.futures.ThreadPoolExecutor):
    """The loop's default executor, whose idle workers block in a ``Condition``.

    The standard pool parks idle workers in a C queue, where the memory
    network cannot tell an idle worker from a busy one and would let its
    clock follow wall time; a :class:`queue.Queue` parks them in
    ``Condition.wait``, which the network recognizes as waiting.
    """

    def __init__(self, thread_name_prefix: str = "") -> None:
        super().__init__(thread_name_prefix=thread_name_prefix)
        self._work_queue = queue.Queue()  # type: ignore[assignment]


class EventLoop(asyncio.SelectorEventLoop):
    """An :class:`asyncio.SelectorEventLoop` served by a sockspec backend.

    Make one with :func:`sockspec.compat.new_event_loop`.  Everything asyncio
    offers works as on the default loop; sockets come from the backend, and
    on the memory network :meth:`time` is the network's virtual clock.
    """

    def __init__(self, backend: Any = None) -> None:
        be = _registry.resolve_backend(backend)  # "memory": the network now
        self._sockspec_backend = be
        self._sockspec_network = _network_of(be)
        self._sockspec_clock: Callable[[], float] = be.monotonic
        self._sockspec_resolve = name_service(be)[0]
        self._sockspec_names: dict[str, Any] = {
            "socket": functools.partial(_compat_socket, backend=be),
            "socketpair": functools.partial(_compat_socketpair, backend=be),
            "getaddrinfo": functools.partial(_compat_getaddrinfo, backend=be),
        }
        _install()
        self._sockspec_installed = True
        try:
            super().__init__(_LoopSelector(self, self._sockspec_network))
        except BaseException:
            self._sockspec_release()
            raise

    @property
    def sockspec_backend(self) -> Any:
        """The backend (a memory :class:`Network` or :class:`Host`, or an OS one)."""
        return self._sockspec_backend

    def __repr__(self) -> str:
        return (
            f"<sockspec.compat.EventLoop backend={self._sockspec_backend!r} "
            f"running={self.is_running()} closed={self.is_closed()}>"
        )

    def time(self) -> float:
        """The backend's clock: virtual on the memory network."""
        return self._sockspec_clock()

    def run_forever(self) -> None:
        """As asyncio's; modules imported since the loop was made see its sockets."""
        with _install_lock:
            if _installed:
                _cover_modules()
        super().run_forever()

    def _make_self_pipe(self) -> None:
        # The loop's wakeup pair lives on the backend, so that a wakeup from
        # another thread ends the loop's one wait there.
        self._ssock, self._csock = _compat_socketpair(backend=self._sockspec_backend)
        self._ssock.setblocking(False)
        self._csock.setblocking(False)
        # asyncio hands this number to signal.set_wakeup_fd(), which insists
        # on a non-blocking descriptor; add_signal_handler then takes it back
        # and _sockspec_on_signal delivers signals through the pair.
        os.set_blocking(self._csock.fileno(), False)
        base: Any = self  # asyncio's private names, absent from its stubs
        base._internal_fds += 1
        base._add_reader(self._ssock.fileno(), base._read_from_self)

    def _make_datagram_transport(self, sock: Any, *args: Any, **kwargs: Any) -> Any:
        self._sockspec_check_sock(sock)
        return super()._make_datagram_transport(sock, *args, **kwargs)  # type: ignore[misc]

    def _make_socket_transport(self, sock: Any, *args: Any, **kwargs: Any) -> Any:
        # asyncio registers a transport's socket in a callback, where a wrong
        # socket would only be logged: check it now, in the caller.
        self._sockspec_check_sock(sock)
        return super()._make_socket_transport(sock, *args, **kwargs)  # type: ignore[misc]

    def _sockspec_check_sock(self, sock: Any) -> None:
        number = sock if isinstance(sock, int) else getattr(sock, "fileno", int)()
        if isinstance(number, int) and number >= 0:
            self._sockspec_check_fd(number, sock)

    def _sockspec_check_fd(self, fd: int, fileobj: Any) -> None:
        sock = _fds.lookup(fd)
        if sock is None:
            try:
                is_socket = stat.S_ISSOCK(os.fstat(fd).st_mode)
            except OSError:
                return  # let the selector report a bad descriptor
            if is_socket:
                what = f"descriptor {fd}" if isinstance(fileobj, int) else fileobj
                raise ValueError(
                    f"{what} is a real OS socket, but this sockspec.compat "
                    f"event loop serves sockets from {self._sockspec_backend!r}: "
                    "make it with sockspec.compat.socket(..., backend=...) or "
                    "socket.socket inside sockspec.compat.patch(), or use a "
                    "standard event loop for real sockets"
                )
            return
        theirs = sock.sockspec_socket._backend
        ours = self._sockspec_backend
        # One wait covers the sockets of one backend object.  OS backends can
        # be mixed (the selector polls each in turn on the wall clock), but on
        # a memory network that would let wall time drive the virtual clock.
        if theirs is not ours and (
            not theirs.capabilities.os_sockets or not ours.capabilities.os_sockets
        ):
            raise ValueError(
                f"{fileobj!r} lives on {theirs!r}, but this sockspec.compat "
                f"event loop serves {ours!r}: a loop waits on one backend (one "
                "memory host); run another host's sockets in a loop of its own "
                "(in its own thread), or scope fault rules by port or socket"
            )

    def add_signal_handler(  # type: ignore[override]
        self, sig: int, callback: Callable[..., object], *args: Any
    ) -> None:
        """As asyncio's: *callback* runs in the loop when signal *sig* arrives."""
        super().add_signal_handler(sig, callback, *args)
        # C cannot write to a compat socket's number (a read-only /dev/null).
        signal.set_wakeup_fd(-1)
        signal.signal(sig, self._sockspec_on_signal)

    def _sockspec_on_signal(self, signum: int, frame: Any) -> None:
        # asyncio learns of a signal from the byte C writes to the wakeup
        # descriptor, which for a compat pair is /dev/null.  The Python-level
        # handler may interrupt this thread while it holds the backend's
        # lock, so the byte goes through the pair from a short-lived thread.
        threading.Thread(
            target=self._sockspec_deliver,
            args=(signum,),
            name=f"sockspec-signal-{signum}",
            daemon=True,
        ).start()

    def _sockspec_deliver(self, signum: int) -> None:
        try:
            self._csock.send(bytes([signum]))
        except OSError:
            pass  # the loop is closing, or its pair is full: it is awake

    async def getaddrinfo(
        self,
        host: Any,
        port: Any,
        *,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> list[tuple[Any, Any, int, str, Any]]:
        """``socket.getaddrinfo`` answered by the backend.

        A backend with its own name table (the memory network) answers at
        once; OS backends ask the OS resolver in the default executor, as
        asyncio does.
        """
        base: Any = self
        base._check_closed()
        call = functools.partial(
            _compat_getaddrinfo,
            host,
            port,
            family,
            type,
            proto,
            flags,
            backend=self._sockspec_backend,
        )
        if self._sockspec_resolve is not None:
            return call()
        return await self.run_in_executor(None, call)

    def run_in_executor(  # type: ignore[override]
        self, executor: Any, func: Callable[..., _T], *args: Any
    ) -> asyncio.Future[_T]:
        """As asyncio's; the default executor's idle workers count as waiting."""
        base: Any = self
        if executor is None and base._default_executor is None and not base._closed:
            base._default_executor = _Executor(thread_name_prefix="asyncio")
        return super().run_in_executor(executor, func, *args)

    async def shutdown_default_executor(self, *args: Any) -> None:
        """As asyncio's, after closing the sockets no task will close any more.

        ``asyncio.run`` shuts the executor down after cancelling every task.
        A worker thread blocked on one of the loop's connections (a blocking
        client talking to the loop's server, say) would then wait forever,
        and so would the shutdown; closing what was left open ends its wait
        as the end of a process would.
        """
        self._sockspec_close_abandoned()
        await super().shutdown_default_executor(*args)

    def close(self) -> None:
        """Close as asyncio does, and the sockets transports left open.

        The last compat loop to close restores asyncio's ``socket`` names.
        """
        try:
            if not self.is_running():
                self._sockspec_close_abandoned()
            super().close()
        finally:
            self._sockspec_release()

    def _sockspec_close_abandoned(self) -> None:
        base: Any = self
        selector = base._selector
        if selector is None:
            return
        pipe = (getattr(self, "_ssock", None), getattr(self, "_csock", None))
        for key in list(selector.get_map().values()):
            sock = _fds.lookup(key.fd)
            if sock is None or sock in pipe:
                continue
            base._remove_reader(key.fd)
            base._remove_writer(key.fd)
            sock.close()

    def _sockspec_release(self) -> None:
        if self._sockspec_installed:
            self._sockspec_installed = False
            _uninstall()


def _checked(name: str) -> Any:
    """``loop.sock_<name>()`` that first checks the socket belongs here.

    asyncio's own versions try the socket call before any registration, so a
    real socket or one of another network would get a baffling error or be
    used behind the backend's back.
    """
    method = getattr(asyncio.SelectorEventLoop, name)

    @functools.wraps(method)
    async def checked(self: EventLoop, sock: Any, *args: Any, **kwargs: Any) -> Any:
        self._sockspec_check_sock(sock)
        return await method(self, sock, *args, **kwargs)

    return checked


for _name in (
    "sock_accept",
    "sock_connect",
    "sock_recv",
    "sock_recv_into",
    "sock_recvfrom",
    "sock_recvfrom_into",
    "sock_sendall",
    "sock_sendfile",
    "sock_sendto",
):
    if hasattr(asyncio.SelectorEventLoop, _name):
        setattr(EventLoop, _name, _checked(_name))


def new_event_loop(backend: Any = None) -> EventLoop:
    """An asyncio event loop with a backend's sockets, selector, resolver and clock.

    :param backend: a backend name or object (a memory :class:`Network` or
        :class:`Host`, ``"stdlib"``...); ``None`` uses the current default
        (see :func:`sockspec.use_backend`).  ``"memory"`` means the network
        current now, for the loop's whole life.
    """
    return EventLoop(backend)


def run(
    main: Coroutine[Any, Any, _T],
    *,
    backend: Any = None,
    debug: bool | None = None,
) -> _T:
    """:func:`asyncio.run` on a loop from :func:`new_event_loop` (Python 3.10+).

    Runs *main* to completion, cancels the tasks left, finalizes async
    generators, shuts the default executor down and closes the loop.
    """
    if asyncio.events._get_running_loop() is not None:
        raise RuntimeError(
            "sockspec.compat.run() cannot be called from a running event loop"
        )
    if not asyncio.iscoroutine(main):
        raise ValueError(f"a coroutine was expected, got {main!r}")
    _registry.resolve_backend(backend)  # a bad name fails before a loop exists
    runner = getattr(asyncio, "Runner", None)
    if runner is not None:
        with runner(debug=debug, loop_factory=lambda: new_event_loop(backend)) as r:
            return r.run(main)  # type: ignore[no-any-return]
    return _run_310(main, backend, debug)


def _run_310(main: Awaitable[_T], backend: Any, debug: bool | None) -> _T:
    """``asyncio.run`` for Python 3.10, which has no ``Runner``."""
    loop = new_event_loop(backend)
    try:
        if debug is not None:
            loop.set_debug(debug)
        return loop.run_until_complete(main)
    finally:
        try:
            _cancel_all(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()


def _cancel_all(loop: EventLoop) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    if not tasks:
        return
    for task in tasks:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            loop.call_exception_handler(
                {
                    "message": "unhandled exception during sockspec.compat.run() "
                    "shutdown",
                    "exception": task.exception(),
                    "task": task,
                }
            )
