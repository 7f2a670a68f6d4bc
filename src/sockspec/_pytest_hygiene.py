"""What the ``memory_network`` fixture checks a test left behind.

Four checks, switched through the marker
(``@pytest.mark.memory_network(check_leaks=False)``); the first three are on
by default:

``check_thread_errors``
    An exception that ends a thread using the network (every thread but the
    outsiders of :mod:`sockspec.backends.memory._sched`) fails the test, and
    the report shows that thread's traceback before anything else: such an
    exception otherwise shows only as a pytest warning while the test fails
    for an unrelated reason (a timeout, a deadlock), or even passes.
``check_blocked``
    Threads still waiting on the network when the test ends fail it, with
    the operation and the sockets each waits on.  What is in flight is
    delivered first (up to the earliest deadline of a waiting call), so a
    thread waiting for a FIN that latency holds is not reported.  The
    fixture then closes the network, which wakes them with
    ``SocketClosed``, as it always did.
``check_leaks``
    Sockets of the test's network still open at the end fail it, with their
    netstat lines.  A memory socket is never closed by the garbage collector
    (see :meth:`Network.open_resources`), so this never depends on timing.

``check_real_sockets`` (off by default)
    Address-taking calls on real ``socket.socket`` objects during the test
    raise :class:`~sockspec._pytest_guard.RealSocketBlocked` and fail it,
    naming each call and its address (:mod:`sockspec._pytest_guard`).  Off by
    default because a test may mean to use an OS backend beside the network.

None of the first three can fire on a test that cleans up: before looking, the fixture
gives threads still running (not waiting, not idle) up to :data:`SETTLE`
seconds of wall time to finish their work, so a server thread closing its
last connection is not reported.
"""

from __future__ import annotations

import threading
import time
import traceback
from typing import TYPE_CHECKING, Any

from ._pytest_guard import RealSocketGuard

if TYPE_CHECKING:
    from .backends.memory import Network

__all__ = ["CHECKS", "SETTLE", "Watch"]

#: The marker keywords that switch a check, with their defaults.
CHECKS = {
    "check_leaks": True,
    "check_thread_errors": True,
    "check_blocked": True,
    "check_real_sockets": False,
}

#: Wall seconds the fixture waits for running threads before it checks.
SETTLE = 2.0
# Rounds of "deliver what is in flight, let the woken threads run" before
# threads still waiting are reported as left blocked.
_DELIVER_ROUNDS = 20


class Watch:
    """The checks of one test's network, from setup to teardown."""

    def __init__(self, network: Network, switches: dict[str, Any]) -> None:
        self.network = network
        for name, value in switches.items():
            if not isinstance(value, bool):
                raise TypeError(f"the memory_network marker's {name} must be a bool")
        self.leaks = switches.get("check_leaks", CHECKS["check_leaks"])
        self.thread_errors = switches.get(
            "check_thread_errors", CHECKS["check_thread_errors"]
        )
        self.blocked = switches.get("check_blocked", CHECKS["check_blocked"])
        self.guard: RealSocketGuard | None = None
        if switches.get("check_real_sockets", CHECKS["check_real_sockets"]):
            self.guard = RealSocketGuard()
        #: Formatted tracebacks of threads that died, not yet reported.
        self.errors: list[str] = []
        self._previous: Any = None

    # -- thread exceptions ---------------------------------------------------------

    def start(self) -> None:
        """Start catching exceptions that end threads using the network."""
        if self.thread_errors:
            self._previous = threading.excepthook
            threading.excepthook = self._hook
        if self.guard is not None:
            self.guard.install()

    def stop(self) -> None:
        """Stop catching thread exceptions and real sockets (restores both)."""
        if self.guard is not None:
            self.guard.remove()
        if self._previous is not None:
            if threading.excepthook == self._hook:
                threading.excepthook = self._previous
            self._previous = None

    def _hook(self, args: threading.ExceptHookArgs) -> None:
        thread = args.thread
        if thread is None or not self.network._sched.counts(thread):
            self._previous(args)
            return
        lines = traceback.format_exception(
            args.exc_type, args.exc_value, args.exc_traceback
        )
        self.errors.append(
            f"unhandled exception in thread {thread.name!r}, which used the "
            f"memory network:\n{''.join(lines).rstrip()}"
        )

    def take_errors(self) -> str | None:
        """The thread tracebacks not yet reported, as one text, or ``None``."""
        errors, self.errors = self.errors, []
        return "\n\n".join(errors) if errors else None

    # -- end of the test -----------------------------------------------------------

    def settle(self) -> list[str]:
        """Wait up to :data:`SETTLE` seconds for running threads; return those left."""
        sched = self.network._sched
        give_up = time.monotonic() + SETTLE
        delay = 0.001
        # Not time.sleep(): the test thread may hold the seeded schedule's
        # turn, and a thread asleep outside the network is taken for lost
        # (a "may not replay" note). A wait in a threading primitive hands
        # the turn over as join() does.
        pause = threading.Event()
        while True:
            with sched.lock:
                busy = sched.busy_threads()
            if not busy or time.monotonic() >= give_up:
                return busy
            pause.wait(delay)
            delay = min(delay * 2, 0.05)

    def blocked_threads(self) -> str | None:
        """The message about threads left waiting on the network, if any."""
        if not self.blocked:
            return None
        self.settle()
        sched = self.network._sched
        # What is still in flight arrives first (a FIN held by latency that
        # a handler thread waits for): a real network would deliver it a
        # moment later, so a thread it ends is not left blocked.  Bounded:
        # each round delivers everything due before any waiter's deadline.
        for _ in range(_DELIVER_ROUNDS):
            with sched.lock:
                if not sched.waiters() or not sched.deliver_in_flight():
                    break
            self.settle()
        with sched.lock:
            lines = [w.describe() for w in sched.waiters()]
        if not lines:
            return None
        return (
            f"{len(lines)} thread(s) left blocked on the memory network at the "
            "end of the test (the fixture wakes them with SocketClosed; stop "
            "them, or join them, before the test ends):\n  " + "\n  ".join(lines)
        )

    def leaked_sockets(self) -> str | None:
        """The message about sockets left open, if any.

        Called after the fixture closed the network, so that a thread it woke
        can still close its sockets.
        """
        if not self.leaks:
            return None
        busy = self.settle()
        rows = [r for r in self.network.netstat() if r.state != "TIME_WAIT"]
        if not rows:
            return None
        from .backends.memory._inspect import format_netstat

        text = (
            f"{len(rows)} socket(s) of the memory network left open at the end "
            "of the test (close them, or use them in a with block):\n"
            + format_netstat(rows)
        )
        if busy:
            text += (
                f"\n(threads {', '.join(map(repr, busy))} were still running "
                f"after {SETTLE:g}s and may have closed some)"
            )
        return text

    def real_socket_uses(self) -> str | None:
        """The message about real sockets used during the test, if any."""
        return self.guard.report() if self.guard is not None else None

    @staticmethod
    def switch_help() -> str:
        """The marker keywords, for the marker's description."""
        return ", ".join(f"{k}={v}" for k, v in CHECKS.items())
