"""The virtual clock and the rule that decides when it moves.

Theory of operation
-------------------
One :class:`Scheduler` per network owns the network's lock, its virtual
clock (``now``, seconds from 0.0) and a heap of timers (deliveries that
latency postponed).  A thread that must wait -- for data, space, a
connection, a deadline -- registers a :class:`Waiter` and calls
:meth:`Scheduler.block`; whatever changes the state it waits for calls
:meth:`Scheduler.wake`.

The clock moves only inside :meth:`Scheduler._progress`, which every waiting
thread runs when it starts to wait and again every few milliseconds of wall
time.  It sorts the threads that use the network into four groups:

* **waiting** on this network (registered waiters);
* **idle**: blocked in a :mod:`threading` primitive with no timeout
  (``Thread.join()``, ``Event.wait()``, ``Queue.get()``, a ``Lock`` taken
  through a ``Condition``); only another thread can wake them;
* **sleeping**: blocked in such a primitive *with* a wall-clock timeout
  (``thread.join(5)``, ``Event.wait(0.5)``, ``Queue.get(timeout=1)``, a
  ``Timer``): a timer that runs in wall time;
* **busy**: everything else (running Python code, ``time.sleep``, real
  I/O), including a sleeping thread whose timeout has run out in wall time
  but that has not left the primitive yet, and a thread in a C-level
  ``Lock.acquire()`` called from its own code, whose top frame is that
  code's: with or without a timeout, nothing tells it from a running one.

An idle :class:`~concurrent.futures.ThreadPoolExecutor` worker, waiting for
work in C code, is recognised as idle too (:mod:`._executor`).

**Which threads count.**  Every thread is counted, as above, except the
*outsiders*: threads that were already alive when the network was made,
other than the thread that made it, and that have not called into the
network since (pytest's own threads, pools left by earlier tests).  A
thread stops being an outsider on its first call: making a socket or a
Poller; ``bind``, ``listen``, ``connect``, ``accept``, any send or receive
(the fast paths included); ``poll``, ``register`` or ``modify``; any wait
on the network, such as :meth:`Network.sleep`.  So the thread that makes
the network and every thread started after it hold the clock whenever they
run -- a thread that uses the network never sees the clock jump under it
-- while an outsider neither sees the clock nor holds it until it calls
in.  Then:

1. No thread is busy: the clock jumps at once to the next timer or waiter
   deadline -- unless a sleeping thread's timeout runs out first.  Such a
   wait began at the virtual time it was first seen (the clock does not
   move while a thread using the network runs), so it ends at that time
   plus its timeout: the clock jumps that far and no further, until the
   thread has woken up in wall time and acted or waited again (a new
   bound); meanwhile the waiting threads look again as its timeout runs
   out.  On Linux whatever it does then happens before any later deadline.
   If there is no deadline and no sleeping thread, nothing on the network
   can ever happen: every waiter gets :class:`Deadlock`, which names the
   threads, the operations and the sockets -- at once, or, while some
   thread sleeps with a wall timeout and might still act, once
   :attr:`stall_timeout` (at least that timeout) has passed.
2. Some thread is busy: the network cannot know when it will act, so
   virtual time follows wall time, but only after :attr:`realtime_after`
   seconds in which no thread started or finished a wait (so short bursts of
   computation never move the clock and single-threaded runs stay exactly
   reproducible); it never passes a sleeping thread's bound either.  A
   wait that no timer or deadline can end becomes a :class:`Deadlock` after
   :attr:`stall_timeout` such seconds.

So nothing can hang: the exact rule handles the usual shapes (a fake server in
a thread, the test thread in ``join()`` or ``queue.get()``), and the wall-time
fallback keeps faithfulness when a thread is busy elsewhere.  A thread that
spins on non-blocking calls drives the same fallback through
:meth:`Scheduler.spin`.
"""

from __future__ import annotations

import _thread
import heapq
import sys
import threading
import time
import weakref
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING

from . import _executor
from ._frames import BUSY as _BUSY
from ._frames import blocked_on as _blocked_on
from ._frames import idle_codes
from ._gates import FdGate, Gate, _local, gate, open_gate
from ._timed import Timed as _Timed
from ._turns import _active

if TYPE_CHECKING:
    from ._turns import Turns

__all__ = ["Deadlock", "Scheduler", "StaleNetwork", "Waiter"]

# Bound once: sockspec.compat.patch(clock=True) replaces time.monotonic with
# the virtual clock, and the scheduler must keep measuring wall time.
_wall = time.monotonic
_get_ident = threading.get_ident


class Deadlock(RuntimeError):
    """Every thread using the network waits, and nothing can ever wake them.

    Raised in each waiting thread instead of hanging; the message names the
    threads, what each was doing and on which sockets.  It is deliberately not
    an :class:`OSError`, so application code that handles socket errors does
    not swallow it.
    """


class StaleNetwork(RuntimeError):
    """A socket or Poller of a network whose test has ended was used.

    The ``memory_network`` fixture retires its network when its test ends,
    so a socket kept from an earlier test (in a global, a cache, a
    module-scoped object) fails loudly instead of silently working on the
    old network.  Like :class:`Deadlock`, not an :class:`OSError`: a
    server loop that retries on socket errors does not swallow it.
    """


#: Wall-clock seconds between re-evaluations by a waiting thread, at most.
_MAX_POLL = 0.05
_MIN_POLL = 0.002


class Waiter:
    """One thread blocked on the network."""

    __slots__ = (
        "deadline",
        "error",
        "gate",
        "ident",
        "reads",
        "sockets",
        "thread",
        "what",
    )

    def __init__(
        self,
        lock: threading.Lock,
        what: str,
        deadline: float | None,
        sockets: Callable[[], str],
        *,
        reads: bool = False,
    ) -> None:
        # *lock* (the network's) is implied: the waiter sleeps on its
        # thread's gate, opened by wake() or by the turn's hand-over.
        #: The waiting thread's gate: its lock (:func:`._gates.gate`), or
        #: on a seeded network the one block() takes from the schedule.
        try:
            self.gate: Gate = _local.gate
        except AttributeError:
            self.gate = gate()
        #: Virtual time at which the wait ends by itself, or ``None``.
        self.deadline = deadline
        #: An error to raise in the waiting thread (deadlock, shutdown).
        self.error: BaseException | None = None
        ident = _get_ident()
        self.ident: int | None = ident
        # current_thread() only for a thread threading has not seen (it
        # registers one): this runs on every wait.
        self.thread = _active.get(ident) or threading.current_thread()
        #: The operation, for error messages (``"receive()"``).
        self.what = what
        #: Whether the thread waits to read: the room its peer frees by
        #: reading is none of its business (see :func:`._selector.notify_room`).
        self.reads = reads
        #: Describes the sockets involved, evaluated only for messages.
        self.sockets = sockets

    @property
    def name(self) -> str:
        """The waiting thread's name."""
        return self.thread.name

    def describe(self) -> str:
        """One line: thread, operation, sockets."""
        return f"thread {self.name!r} in {self.what} on {self.sockets()}"


class Scheduler:
    """Lock, virtual clock, timers and waiting threads of one network."""

    __slots__ = (
        "__weakref__",
        "_credited",
        "_due",
        "_mark",
        "_outsiders",
        "_raw_outsiders",
        "_retired",
        "_seq",
        "_strangers",
        "_timed",
        "_timers",
        "_waiting",
        "_woken",
        "explain",
        "lock",
        "now",
        "realtime_after",
        "stall_timeout",
        "turns",
    )

    def __init__(
        self,
        *,
        realtime_after: float,
        stall_timeout: float,
        schedule_seed: int | None = None,
    ) -> None:
        #: The one lock that guards all state of the network.
        self.lock = threading.Lock()
        #: The virtual clock, in seconds.
        self.now = 0.0
        #: Wall seconds without wait activity before time follows wall time.
        self.realtime_after = realtime_after
        #: Wall seconds after which a wait nothing can end is a deadlock.
        self.stall_timeout = stall_timeout
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = 0
        self._waiting: dict[int | None, Waiter] = {}
        self._woken: set[int | None] = set()
        # Threads in a timed threading wait, by ident, as last classified;
        # _due: the wall time at which the first of them, that bounds the
        # clock, times out (waiting threads look again then).
        self._timed: dict[int, _Timed] = {}
        self._due: float | None = None
        # Threads alive before the network existed are not its users until
        # they touch it: pytest's own threads, pools of earlier tests.  The
        # thread making the network is about to use it: it counts at once.
        me = threading.current_thread()
        threads = threading.enumerate()
        self._outsiders: weakref.WeakSet[threading.Thread] = weakref.WeakSet(
            t for t in threads if t is not me
        )
        # Threads started with _thread.start_new_thread, which threading does
        # not list, are outsiders too if they were there first.
        self._raw_outsiders = _raw_threads(threads)
        #: Whether some outsider may still join: a cheap test for hot paths.
        #: Also set for good by :meth:`retire`, so every entry point checks.
        self._strangers = bool(self._outsiders)
        self._retired: str | None = None
        self._mark = self._credited = _wall()
        #: Lines saying what fault rules hold (data, connects), for the
        #: :class:`Deadlock` message; set by the network.
        self.explain: Callable[[], list[str]] | None = None
        #: The seeded schedule (:mod:`._turns`), or ``None`` (threads run
        #: freely, as the OS schedules them).
        self.turns: Turns | None = None
        if schedule_seed is not None:
            from ._turns import Turns

            self.turns = Turns(self, schedule_seed)
            # Every entry point then calls join(): each one is a scheduling
            # point.  The free schedule never pays for this.
            self._strangers = True

    # -- participation -----------------------------------------------------------

    def join(self) -> None:
        """Count the calling thread as a user of the network.

        Every entry point that acts for the calling thread calls this (the
        send and receive fast paths only while :attr:`_strangers` says
        that an outsider is left).
        """
        if self._strangers:
            if self._retired is not None:
                raise StaleNetwork(self._retired)
            turns = self.turns
            if turns is not None:
                turns.point()  # admits an outsider itself, cheaply
                return
            outsiders = self._outsiders
            outsiders.discard(threading.current_thread())
            if not outsiders:
                self._strangers = False

    def point(self) -> None:
        """A scheduling point that is not an entry (``close()``...; locked).

        Unlike :meth:`join` it never raises: cleanup works on a retired
        network.
        """
        turns = self.turns
        if turns is not None:
            turns.point()

    def enter(self) -> None:
        """:meth:`join` for a caller that does not hold the lock."""
        if self.turns is None:
            self.join()
        else:
            with self.lock:
                self.join()

    def retire(self, message: str) -> None:
        """Make every later call into the network raise :class:`StaleNetwork`.

        Costs the hot paths nothing: they call :meth:`join` while
        :attr:`_strangers` is set, and this sets it for good.  ``close()``
        of a socket still works, so cleanup code never fails.
        """
        self._retired = message
        self._strangers = True

    def counts(self, thread: threading.Thread) -> bool:
        """Whether *thread* is one of the network's users (not an outsider)."""
        return not (self._strangers and thread in self._outsiders)

    # -- timers ------------------------------------------------------------------

    def call_at(self, when: float, fn: Callable[[], None]) -> None:
        """Run *fn* (under the lock) when the clock reaches *when*."""
        self._seq += 1
        heapq.heappush(self._timers, (when, self._seq, fn))

    def advance(self, seconds: float) -> None:
        """Move the clock forward by *seconds*, running due timers (locked)."""
        self._advance(self.now + seconds)
        self._touch()

    def deliver_in_flight(self, limit: int = 100_000) -> bool:
        """Run the timers due before any waiter's deadline (locked).

        What is in flight (data, a FIN, a reset held by latency) arrives,
        as it would a moment later on a real network, and no wait times out
        because of it.  At most *limit* timers run.  Returns whether any
        did.  The pytest fixture calls this at the end of a test before it
        reports threads left blocked: a thread waiting for a FIN that is
        still in flight is not stuck.
        """
        timers = self._timers
        deadline = min(
            (w.deadline for w in self._waiting.values() if w.deadline is not None),
            default=None,
        )
        ran = 0
        while timers and ran < limit and (deadline is None or timers[0][0] < deadline):
            when, _, fn = heapq.heappop(timers)
            if when > self.now:
                self.now = when
            fn()
            ran += 1
        if ran:
            self._advance(self.now)  # hands the turn to a thread just woken
            self._touch()
        return ran > 0

    def _advance(self, target: float) -> None:
        timers = self._timers
        while timers and timers[0][0] <= target:
            when, _, fn = heapq.heappop(timers)
            if when > self.now:
                self.now = when
            fn()
        if target > self.now:
            self.now = target
        for w in list(self._waiting.values()):
            if w.deadline is not None and w.deadline <= self.now:
                self.wake(w)
        if self.turns is not None and self._woken:
            self.turns.dispatch()  # the clock moved with the turn free

    def _next_time(self) -> float | None:
        nxt = self._timers[0][0] if self._timers else None
        for w in self._waiting.values():
            d = w.deadline
            if d is not None and (nxt is None or d < nxt):
                nxt = d
        return nxt

    # -- waiting -----------------------------------------------------------------

    def wake(self, w: Waiter) -> None:
        """Wake *w* (lock held); it re-checks what it waits for."""
        if self._waiting.pop(w.ident, None) is not None:
            self._woken.add(w.ident)
            turns = self.turns
            if turns is None or turns.off:
                open_gate(w.gate)
            # Else it is a candidate for the turn, and only the hand-over
            # opens its gate: one wake-up, for the thread that runs next.

    def block(self, w: Waiter) -> None:
        """Wait until woken, a deadline passes or a deadlock is found.

        Called with the lock held, returns with it held; raises
        :attr:`Waiter.error` if one was set.
        """
        # Not join(): its scheduling point may let the lock go, and the
        # caller has just seen that it must wait; a wake in between would
        # be lost.
        turns = self.turns
        if self._strangers and self._retired is None:
            if turns is not None:
                if w.ident in turns._outs:
                    turns.admit(w.ident)
            else:
                self._outsiders.discard(threading.current_thread())
        ident = w.ident
        if turns is not None and not turns.off and ident is not None:
            # The seeded schedule's gate (a descriptor, see ._gates).
            g = w.gate = turns._mine.get(ident) or turns.gate_of(ident)
            if g.__class__ is not FdGate:
                g.acquire(False)  # a release left from an earlier wait
            # A descriptor gate is not cleared here (a system call per
            # wait): an opening left over costs a look more, which is rare.
        else:
            g = w.gate
            g.acquire(False)  # a release left from an earlier wait
        waiting = self._waiting
        waiting[ident] = w
        if turns is not None:
            turns.release(g)
        self._mark = self._credited = _wall()
        interval = _MIN_POLL
        lock = self.lock
        woken = self._woken
        try:
            while ident in waiting:
                if (
                    turns is not None
                    and (holder := turns.turn) is not None
                    and holder != ident
                    and (holder in turns.ready or holder in woken)
                ):
                    # The turn went to a thread on its way to a point: the
                    # clock stays (Turns.holds_clock()), nothing to evaluate.
                    self._due = None
                else:
                    self._progress()
                if ident not in waiting:
                    break
                handoff = None
                if turns is not None:
                    handoff, turns._handoff = turns._handoff, None
                pause = interval
                due = self._due
                if due is not None:
                    # The clock waits for a thread's timed wait to run out:
                    # look again just after it does, and often until that
                    # thread is back (it announces nothing if it only
                    # waits again).
                    left = due - _wall()
                    pause = min(pause, max(left, 0.0) + _MIN_POLL)
                    if left < interval:
                        interval = _MIN_POLL / 2
                lock.release()
                # The chosen thread's gate is opened last, just before this
                # one sleeps: the sooner this thread lets the GIL go, the
                # less often the woken one finds it taken and sleeps again.
                if handoff is not None:
                    try:
                        handoff.release()
                    except RuntimeError:
                        pass  # opened meanwhile under another network's lock
                    # Not kept while asleep: a descriptor gate closes when
                    # nothing refers to it (its thread may end meanwhile).
                    handoff = None
                try:
                    g.acquire(True, pause)
                finally:
                    lock.acquire()
                # Back off: re-evaluating is only needed to notice threads
                # that went idle or died, which nobody announces.
                interval = min(interval * 2, _MAX_POLL)
        finally:
            waiting.pop(ident, None)
            if turns is not None:
                if turns.turn == ident and not turns._gone and ident not in turns._outs:
                    turns._held = None  # chosen on its way back: point(woken=True)
                else:
                    turns.point(woken=True)  # wait for the turn to go on
                # None left, unless the schedule stopped or the wait ended
                # before the loop let the lock go.
                handoff, turns._handoff = turns._handoff, None
                if handoff is not None:
                    open_gate(handoff)
            woken.discard(ident)
            self._mark = self._credited = _wall()
            if (
                turns is not None
                and turns._mine
                and not waiting
                and not woken
                and not turns.ready
                and not turns._settling
            ):
                turns.idle()  # nobody waits: the gates' descriptors can go
        if w.error is not None:
            raise w.error

    def _touch(self) -> None:
        self._mark = self._credited = _wall()

    def spin(self) -> None:
        """A non-blocking call found nothing: let wall time flow if quiet.

        A thread polling with ``timeout=0`` never waits, so without this a
        single-threaded busy loop would freeze the clock forever.  Under the
        seeded schedule the turn goes to another thread that can run, if
        any: the poller can do nothing until one acts, and keeping the turn
        (7 times in 8) made it poll, and sleep between polls, in vain.
        """
        turns = self.turns
        if turns is not None:
            turns.point(miss=True)
        if self._waiting:
            return  # the waiting threads drive the clock
        wall = _wall()
        if wall - self._mark >= self.realtime_after:
            self._flow(wall, self._next_time())

    def _flow(self, wall: float, nxt: float | None) -> None:
        target = self.now + (wall - self._credited)
        self._credited = wall
        if nxt is not None and nxt < target:
            target = nxt
        self._advance(target)

    def _progress(self) -> None:
        """Move the clock if the rule allows, or report a deadlock (locked)."""
        self._due = None
        while self._waiting:
            if self.turns is not None and self.turns.holds_clock():
                return  # a thread may run by the schedule: no clock move yet
            busy, sleep_limit, first = self._classify()
            nxt = self._next_time()
            # A timed threading wait that runs out first bounds the clock:
            # it may go that far, and no further until the thread has woken
            # up in wall time (it then acts, or waits again: a new bound).
            bound = None
            if first is not None and (nxt is None or first.end < nxt):
                bound = first.end
                if first.end <= self.now:
                    self._due = first.due  # waiting for it: look again then
            if not busy:
                if bound is not None:
                    if bound > self.now:
                        self._advance(bound)
                        self._due = first.due if first is not None else None
                        if self._woken:
                            return
                    if nxt is not None:
                        return
                elif nxt is None:  # nothing due, nobody to wake up
                    if _late_starter():
                        continue  # look again, with the newcomer in sight
                    self._deadlock([])
                    return
                else:
                    self._advance(nxt)
                    if self._woken:
                        return
                    continue
            wall = _wall()
            quiet = wall - self._mark
            if nxt is None:
                limit = self.stall_timeout
                if sleep_limit is not None:
                    limit = max(limit, sleep_limit + self.realtime_after)
                if quiet >= limit:
                    self._deadlock(busy)
                return
            target = nxt if bound is None else bound
            turns = self.turns
            if turns is None:
                if quiet >= self.realtime_after:
                    self._flow(wall, target)
            elif quiet >= turns.flow_after(busy, self.realtime_after):
                # Under the seeded schedule a thread running without the
                # turn is about to reach a scheduling point; only one that
                # stays out of sight that long (or that the schedule gave
                # up on) makes time follow wall time, and the run is no
                # longer reproducible.
                turns.note_flow(busy)
                self._flow(wall, target)
            return

    def _classify(self) -> tuple[list[str], float | None, _Timed | None]:
        """Return busy thread names, the longest timeout of the threads in a
        timed :mod:`threading` wait, and the one of those waits that ends
        first, which the clock may not pass (``None``: no such thread)."""
        waiting = self._waiting
        woken = self._woken
        outsiders = self._outsiders
        busy: list[str] = []
        sleep_limit: float | None = None
        first: _Timed | None = None
        timed = self._timed
        seen: dict[int, _Timed] = {}
        wall = _wall()
        frames: dict[int, FrameType] | None = None
        # Executor workers waiting for work, by executor: (executor, names).
        pool_workers: dict[int, tuple[object, list[str]]] = {}
        threads = threading.enumerate()
        alive: set[int | None] = {t.ident for t in threads}
        me = threading.get_ident()
        try:
            for thread in threads:
                ident = thread.ident
                # The caller is a waiting thread, or the pytest fixture
                # asking who is still busy: neither counts itself.
                if ident in waiting or ident == me:
                    continue
                if outsiders and thread in outsiders:
                    continue
                if ident in woken or ident is None:
                    busy.append(thread.name)
                    continue
                if frames is None:
                    frames = sys._current_frames()
                    # Our own frame in the dict would make a cycle through
                    # this function's locals: every frame in it, with the
                    # locals (memoryviews of callers' buffers) of functions
                    # that have since returned, would live until the next
                    # garbage collection.
                    frames.pop(threading.get_ident(), None)
                frame = frames.get(ident)
                kind = idle_codes().get(frame.f_code) if frame is not None else None
                if (
                    kind is None
                    and frame is not None
                    and frame.f_code.co_name == "_worker"
                ):
                    owner = _executor.waiting_for_work(frame)
                    if owner is not None:  # idle unless work was handed over
                        pool_workers.setdefault(id(owner), (owner, []))[1].append(
                            thread.name
                        )
                        continue
                if frame is None or kind is None:
                    busy.append(thread.name)
                    continue
                timeout, token = _blocked_on(frame, kind, alive)
                if timeout == _BUSY:
                    busy.append(thread.name)
                elif timeout is not None:
                    sleep_limit = max(sleep_limit or 0.0, timeout)
                    # A timed wait is a timer: it ends by itself, in wall
                    # time, and the thread then acts. The virtual time it
                    # was first seen at is when it began: the clock does
                    # not move while a thread using the network runs.
                    entry = timed.get(ident)
                    if (
                        entry is None
                        or entry.token is not token
                        or entry.timeout != timeout
                    ):
                        entry = _Timed(token, timeout, self.now, wall, ident, kind)
                    elif kind == "join" and entry.joined_again(ident, wall):
                        # It began as the last one ended, in wall time.
                        entry = _Timed(token, timeout, self.now, entry.due, ident, kind)
                    seen[ident] = entry
                    if first is None or entry.end < first.end:
                        first = entry
                    if wall >= entry.due:
                        # Timed out, not yet back from the wait: it runs as
                        # soon as the OS lets it.
                        busy.append(thread.name)
            # Threads started with _thread.start_new_thread (CPython's
            # test_socket starts its clients so) are users threading cannot
            # list: judged by their frames alike, lest a wait they would end
            # be taken for a deadlock.
            for ident in _raw_threads(threads) - self._raw_outsiders:
                if ident in waiting or ident == me:
                    continue
                name = f"<thread {ident}>"
                if ident in woken:
                    busy.append(name)
                    continue
                if frames is None:
                    frames = sys._current_frames()
                    frames.pop(threading.get_ident(), None)
                frame = frames.get(ident)
                kind = idle_codes().get(frame.f_code) if frame is not None else None
                if frame is None or kind is None:
                    busy.append(name)
                    continue
                timeout, _token = _blocked_on(frame, kind, alive)
                if timeout == _BUSY:
                    busy.append(name)
                elif timeout is not None:
                    sleep_limit = max(sleep_limit or 0.0, timeout)
        finally:
            # Hold other threads' frames no longer than needed: a frame
            # object alive when its function returns keeps that function's
            # locals alive with it.
            frame = None
            if frames is not None:
                frames.clear()
        self._timed = seen
        for owner, names in pool_workers.values():
            if not _executor.all_idle(owner, len(names)):
                busy.extend(names)
        return busy, sleep_limit, first

    def busy_threads(self) -> list[str]:
        """Names of the threads using the network that are running (locked).

        The calling thread and the threads waiting on the network are not
        listed; neither are idle ones (blocked in a :mod:`threading`
        primitive).
        """
        return self._classify()[0]

    def waiters(self) -> list[Waiter]:
        """The threads waiting on the network now (locked)."""
        return list(self._waiting.values())

    def _deadlock(self, busy: list[str]) -> None:
        waiters = list(self._waiting.values())
        lines = [w.describe() for w in waiters]
        held = self.explain() if self.explain is not None else []
        # Nothing is due (no timer): what is still in flight is held.
        why = (
            "no timeout, and data or connects held by rules"
            if held
            else ("no timeout, no data in flight")
        )
        message = (
            f"memory network deadlock at t={self.now:.6f}s: every thread using "
            f"the network is waiting and nothing can wake it ({why}):\n  "
            + "\n  ".join(lines)
        )
        if held:
            message += "\nheld until the rule is removed:\n  " + "\n  ".join(held)
        if busy:
            message += (
                f"\nthreads {', '.join(map(repr, busy))} did not touch the "
                f"network for {self.stall_timeout:g}s of wall time and are "
                "presumed blocked elsewhere"
            )
        for w in waiters:
            w.error = Deadlock(message)
            self.wake(w)
        if self.turns is not None:
            self.turns.dispatch()

    def fail_all(self, error_factory: Callable[[], BaseException]) -> None:
        """Wake every waiter with an error (the network is shutting down).

        The seeded schedule stops: threads woken here run freely.
        """
        if self.turns is not None:
            self.turns.stop()
        for w in list(self._waiting.values()):
            w.error = error_factory()
            self.wake(w)


def _raw_threads(threads: list[threading.Thread]) -> frozenset[int]:
    """Threads alive that *threads* (``threading.enumerate()``) misses.

    Those started with ``_thread.start_new_thread`` and not yet seen by
    ``threading.current_thread()``.  Cheap when there are none:
    ``_thread._count()`` counts every thread ``_thread`` started, so the
    frames are looked at only when it exceeds what threading lists.
    """
    main = threading.main_thread()
    listed = 0
    for thread in threads:
        if thread is not main and not isinstance(thread, threading._DummyThread):
            listed += 1
    if _thread._count() <= listed:
        return frozenset()
    known = {thread.ident for thread in threads}
    return frozenset(ident for ident in sys._current_frames() if ident not in known)


def _late_starter() -> bool:
    """Whether a thread came to life during a few milliseconds of grace.

    A thread started with ``_thread.start_new_thread`` is invisible until
    it runs (``start_new_thread`` returns at once, unlike
    ``threading.Thread.start``): before a wait is called a deadlock, it gets
    that moment to appear.  Only the deadlock path pays for it.
    """
    before = _thread._count()
    for _ in range(10):  # a busy machine may take a few to schedule it
        time.sleep(0.001)
        if _thread._count() > before:
            return True
    return False
