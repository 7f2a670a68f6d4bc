"""The :class:`Harness` a check receives: sockets, peers, threads and a clock.

Theory of operation
-------------------
A check never builds sockets by hand.  It asks the harness, which knows the
backend under test and, for cross-backend runs, which backend plays the
*client* and which the *server* (a ``stdlib`` client against a
``selectors`` server and back).  Everything the harness makes is tracked and
closed when the check ends, and every socket gets a finite timeout
(:attr:`Harness.io_timeout`) unless the check asks otherwise, so a backend
that loses data makes the check fail instead of hang.

Time: checks measure with :meth:`Harness.monotonic`, the backend's own
clock.  A backend with virtual time runs a 2-second timeout in no wall time,
and the same assertions hold.  Checks never sleep to wait for the network;
they wait with a socket timeout or a :class:`~sockspec.Poller`.  The only
sleep is :meth:`Harness.pause`, which gives a thread a moment to reach a
blocking call where the check is correct whether or not it got there.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from ..api.backend import Backend
from ..api.constants import (
    AF_INET,
    AF_INET6,
    AF_UNIX,
    EVENT_READ,
    EVENT_WRITE,
    SOCK_DGRAM,
    SOCK_STREAM,
    Event,
    Family,
    Option,
    SocketType,
)
from ..api.poller import Poller
from ..api.socket import Socket
from .core import Skip

__all__ = ["JOIN_TIMEOUT", "LOOPBACK", "WAKE_LIMIT", "Caught", "Harness", "Task"]

_T = TypeVar("_T")
_E = TypeVar("_E", bound=BaseException)

#: The loopback address of each IP family.
LOOPBACK: dict[Family, str] = {AF_INET: "127.0.0.1", AF_INET6: "::1"}
#: How long (wall-clock seconds) a check waits for one of its threads.
JOIN_TIMEOUT = 10.0
#: How soon (wall-clock seconds) close() must wake a call blocked on the
#: socket in another thread; the OS backends take milliseconds.
WAKE_LIMIT = 1.0


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT"


#: Stands for "the harness's io_timeout" in ``timeout=`` arguments.
DEFAULT: Any = _Default()


class Task(Generic[_T]):
    """A function running in a daemon thread, joined with a bound."""

    def __init__(self, name: str, function: Callable[[], _T]) -> None:
        self.name = name
        self._function = function
        self._result: _T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = self._function()
        except BaseException as exc:  # handed to whoever joins
            self._error = exc

    def join(self, timeout: float = JOIN_TIMEOUT) -> bool:
        """Wait up to *timeout* seconds; return whether the thread ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def done(self) -> bool:
        """Whether the function has returned or raised."""
        return not self._thread.is_alive()

    def error(self, timeout: float = JOIN_TIMEOUT) -> BaseException | None:
        """Join, then return what the function raised (``None`` if it returned).

        Raises ``AssertionError`` if the thread is still running after
        *timeout* seconds: the call it makes did not return.
        """
        if not self.join(timeout):
            raise AssertionError(f"{self.name}: still running after {timeout} s")
        return self._error

    def result(self, timeout: float = JOIN_TIMEOUT) -> _T:
        """Join, then return the function's value or re-raise its exception."""
        error = self.error(timeout)
        if error is not None:
            raise error
        return self._result  # type: ignore[return-value]


class Caught(Generic[_E]):
    """The exception :meth:`Harness.raises` caught."""

    def __init__(self) -> None:
        self._value: _E | None = None

    @property
    def value(self) -> _E:
        """The exception (only valid after the ``with`` block)."""
        assert self._value is not None, "nothing was raised yet"
        return self._value


class Harness:
    """What a check gets: the backends, socket factories, threads and a clock.

    :param client: the backend under test, or the client side's.
    :param server: the backend of server-side sockets (listeners, accepted
        connections, datagram receivers); default *client*.
    :param family: the family a ``per_family`` check runs for.
    :param seed: seeds :meth:`random_bytes` and :attr:`rng`.
    :param io_timeout: the timeout of every socket the harness makes.
    """

    def __init__(
        self,
        client: Backend,
        server: Backend | None = None,
        *,
        family: Family = AF_INET,
        seed: int = 0,
        io_timeout: float = 5.0,
    ) -> None:
        #: The backend of client-side sockets (the one under test).
        self.client = client
        #: The backend of server-side sockets.
        self.server = server if server is not None else client
        #: The family this run of the check is for.
        self.family = family
        #: The seed of this run; failures report it.
        self.seed = seed
        #: A random source seeded with :attr:`seed`.
        self.rng = random.Random(seed)
        #: The timeout given to sockets when a check does not choose one.
        self.io_timeout = io_timeout
        self._sockets: list[Socket] = []
        self._pollers: list[Poller] = []
        self._tasks: list[Task[Any]] = []
        self._tmpdir: str | None = None
        self._paths = 0

    # -- backends and time -----------------------------------------------------

    @property
    def backend(self) -> Backend:
        """The backend under test (the client side's in a cross run)."""
        return self.client

    @property
    def cross(self) -> bool:
        """Whether client and server sockets come from different backends."""
        return self.client is not self.server

    def monotonic(self) -> float:
        """The clock timeouts run on (virtual for a virtual-time backend)."""
        return self.client.monotonic()

    def assert_timed_out_in(self, started: float, timeout: float) -> float:
        """Assert that a *timeout* started at *started* fired in its bound.

        Not before it (allowing for clock granularity) and not much later
        (allowing for a loaded machine).  Returns the elapsed time.
        """
        elapsed = self.monotonic() - started
        early = timeout - 0.01
        late = timeout + 1.0 + timeout / 2
        assert elapsed >= early, f"a {timeout} s timeout fired after {elapsed:.3f} s"
        assert elapsed <= late, (
            f"a {timeout} s timeout fired after {elapsed:.3f} s (bound {late:.2f} s)"
        )
        return elapsed

    def pause(self, seconds: float = 0.05) -> None:
        """Let another thread run into its blocking call.

        Only where the check holds either way: correctness never depends on
        how long this takes.
        """
        time.sleep(seconds)

    @contextmanager
    def raises(
        self, kind: type[_E] | tuple[type[_E], ...], what: str
    ) -> Iterator[Caught[_E]]:
        """Assert that the block raises *kind*; *what* names the call.

        Any other exception propagates (and fails the check).
        """
        caught: Caught[_E] = Caught()
        try:
            yield caught
        except kind as exc:
            caught._value = exc
            return
        names = [k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,))]
        raise AssertionError(f"{what}: no {' or '.join(names)} was raised")

    def skip(self, reason: str) -> None:
        """Stop the check and report it skipped with *reason*."""
        raise Skip(reason)

    def assert_woken(self, task: Task[Any], closed_at: float, what: str) -> None:
        """Assert that *task* ended within ``WAKE_LIMIT`` seconds of a close().

        *closed_at* is :func:`time.monotonic` (wall clock) taken just before
        the ``close()``; *what* names the blocked call.  A close that lets
        the call run on until its own timeout fails here, however it ends.
        """
        left = closed_at + WAKE_LIMIT - time.monotonic()
        if not task.join(max(0.0, left)):
            raise AssertionError(
                f"expected close() to wake the thread blocked in {what} within "
                f"{WAKE_LIMIT:g} s; got: still blocked after "
                f"{time.monotonic() - closed_at:.2f} s"
            )

    # -- addresses -------------------------------------------------------------

    def host(self, family: Family | None = None) -> str:
        """Where to bind on loopback: ``127.0.0.1``, ``::1`` or a fresh path."""
        family = family or self.family
        if family is AF_UNIX:
            return self.unix_path()
        return LOOPBACK[family]

    def unix_path(self, name: str | None = None) -> str:
        """Return a fresh, unused filesystem path for an ``AF_UNIX`` socket."""
        if self._tmpdir is None:
            self._tmpdir = tempfile.mkdtemp(prefix="sockspec-")
        self._paths += 1
        return os.path.join(self._tmpdir, name or f"s{self._paths}")

    def address(self, sock: Socket) -> tuple[str, int | None]:
        """Return ``(host, port)`` a client connects (or sends) to to reach *sock*."""
        host = sock.local_address
        assert host is not None, f"{sock!r} is not bound"
        return host, sock.local_port

    # -- sockets -----------------------------------------------------------------

    def track(self, sock: Socket) -> Socket:
        """Close *sock* when the check ends; return it."""
        self._sockets.append(sock)
        return sock

    def socket(
        self,
        family: Family | None = None,
        type: SocketType = SOCK_STREAM,
        *,
        server: bool = False,
        timeout: float | None = DEFAULT,
    ) -> Socket:
        """Make a socket of the client (or *server*) backend, tracked.

        *timeout* defaults to :attr:`io_timeout`.
        """
        sock = Socket(
            family or self.family,
            type,
            backend=self.server if server else self.client,
            timeout=self.io_timeout if timeout is DEFAULT else timeout,
        )
        return self.track(sock)

    def listener(
        self,
        family: Family | None = None,
        *,
        backlog: int | None = None,
        timeout: float | None = DEFAULT,
        options: dict[Option, object] | None = None,
    ) -> Socket:
        """Return a server-side stream socket listening on loopback."""
        family = family or self.family
        sock = self.socket(family, server=True, timeout=timeout)
        for option, value in (options or {}).items():
            sock.set_option(option, value)
        sock.bind(self.host(family))
        sock.listen(backlog)
        return sock

    def connect(
        self,
        listener: Socket,
        *,
        timeout: float | None = DEFAULT,
        options: dict[Option, object] | None = None,
    ) -> Socket:
        """Return a client socket connected to *listener*."""
        sock = self.socket(listener.family, timeout=timeout)
        for option, value in (options or {}).items():
            sock.set_option(option, value)
        sock.connect(*self.address(listener))
        return sock

    def accept(self, listener: Socket) -> Socket:
        """Accept one connection on *listener*, tracked."""
        return self.track(listener.accept())

    def pair(
        self,
        family: Family | None = None,
        *,
        timeout: float | None = DEFAULT,
        client_options: dict[Option, object] | None = None,
        server_options: dict[Option, object] | None = None,
    ) -> tuple[Socket, Socket]:
        """Return ``(client, server)``: a connected stream pair over loopback.

        *server_options* are set on the listener, so the accepted socket
        inherits them the way the OS does.
        """
        listener = self.listener(family, timeout=timeout, options=server_options)
        client = self.connect(listener, timeout=timeout, options=client_options)
        server = self.accept(listener)
        listener.close()
        return client, server

    def datagram_pair(
        self, family: Family | None = None, *, timeout: float | None = DEFAULT
    ) -> tuple[Socket, Socket]:
        """Return ``(client, server)``: two bound datagram sockets, unconnected."""
        family = family or self.family
        client = self.socket(family, SOCK_DGRAM, timeout=timeout)
        server = self.socket(family, SOCK_DGRAM, server=True, timeout=timeout)
        client.bind(self.host(family))
        server.bind(self.host(family))
        return client, server

    def poller(self, sock: Socket) -> Poller:
        """Return a tracked :class:`~sockspec.Poller` for *sock*'s backend.

        Skips the check when that backend declares no Poller support.
        """
        backend = self.client if sock.backend == self.client.name else self.server
        if not backend.capabilities.poller:
            self.skip(f"backend {backend.name!r} declares no Poller support")
        poller = Poller(backend)
        self._pollers.append(poller)
        return poller

    def wait_for(
        self, sock: Socket, events: Event = EVENT_READ, timeout: float | None = None
    ) -> bool:
        """Wait (bounded) until *sock* is ready for *events*; return whether it is.

        Uses a :class:`~sockspec.Poller`; on a backend without one, looks at
        ``is_readable``/``is_writable`` every few milliseconds instead.
        """
        limit = self.io_timeout if timeout is None else timeout
        backend = self.client if sock.backend == self.client.name else self.server
        if not backend.capabilities.poller:
            deadline = time.monotonic() + limit
            while True:
                if (events & EVENT_READ and sock.is_readable) or (
                    events & EVENT_WRITE and sock.is_writable
                ):
                    return True
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.005)
        poller = self.poller(sock)
        try:
            poller.register(sock, events)
            return bool(poller.poll(limit))
        finally:
            poller.close()

    # -- data --------------------------------------------------------------------

    def random_bytes(self, size: int) -> bytes:
        """Return *size* bytes from the seeded random source."""
        return self.rng.randbytes(size)

    def receive_exactly(self, sock: Socket, size: int) -> bytes:
        """Receive exactly *size* bytes; fail on a premature end of stream."""
        chunks = []
        got = 0
        while got < size:
            chunk = sock.receive(min(65536, size - got))
            assert chunk, f"end of stream after {got} of {size} bytes"
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def receive_all(self, sock: Socket, limit: int = 1 << 28) -> bytes:
        """Receive until end of stream (each receive bounded by the timeout)."""
        chunks: list[bytes] = []
        got = 0
        while True:
            chunk = sock.receive()
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            got += len(chunk)
            assert got <= limit, f"more than {limit} bytes before end of stream"

    # -- threads -----------------------------------------------------------------

    def thread(self, function: Callable[[], _T], name: str = "task") -> Task[_T]:
        """Run *function* in a daemon thread; the check joins it with a bound."""
        task: Task[_T] = Task(name, function)
        self._tasks.append(task)
        return task

    # -- cleanup -----------------------------------------------------------------

    def close(self) -> list[str]:
        """Close everything the check made; return threads that did not end.

        Closing the sockets wakes any thread still blocked on one, so a
        thread that survives this is a call that ``close()`` did not unblock.
        """
        for poller in self._pollers:
            poller.close()
        for sock in reversed(self._sockets):
            sock.close()
        self._sockets.clear()
        stuck = []
        deadline = time.monotonic() + 2.0
        for task in self._tasks:
            if not task.join(max(0.0, deadline - time.monotonic())):
                stuck.append(task.name)
        self._tasks.clear()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
        return stuck
