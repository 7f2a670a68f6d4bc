"""The seeded schedule: one thread at a time between network operations.

With ``Network(schedule="seeded")`` the threads that use the network take
*turns*.  Every network operation is a scheduling point: where another
thread could run (it waits at a point, or was woken on the network), the
thread holding the turn hands it over with probability :data:`PREEMPT`, else
keeps it.  A thread that blocks on the network (a receive with nothing to
read, ``accept``, ``Network.sleep``...) gives the turn away, and so does
one whose non-blocking call found nothing to do (it can only poll again).  Both draws --
whether to hand over, and to whom among the candidates sorted by thread
name -- come from a stream of their own, ``random.Random(f"{seed}:schedule")``.
Handing over at every point would switch threads twice as often as the work
needs (each switch is a wake-up by the OS); one point in eight still puts a
preemption between any two operations across a few dozen seeds.

A choice is made only once every other thread using the network is
*settled*: waiting for the turn, blocked on the network, blocked in a
:mod:`threading` primitive the virtual clock recognises (``join()``,
``Event.wait()``, ``Queue.get()``, an idle pool worker) or finished.  A
thread just started is running until it reaches its first network call, so
the choice waits for it: starting and joining threads hand over the turn
deterministically.  Then the order of operations, hence the event log, the
ephemeral ports and every fault draw, depends on the seed only.

The hand-over.  Every thread has a *gate* of its own in each seeded
network (:meth:`Turns.gate_of`, see :mod:`._gates`): an ``eventfd`` for
the first few threads, else the thread's lock, that the thread waits on
whenever it waits for the network or for the turn.  Handing the turn over
opens the gate of exactly the chosen thread; nobody else wakes.  A
descriptor gate is opened by ``write(2)``, which lets the GIL go first: the
woken thread takes the GIL at once instead of finding it held by the thread
that woke it and sleeping again (a lock can only be released with the GIL
held).  When every other thread is known to the network -- waiting for the
turn, blocked on it, woken and on its way back -- the holder decides
without looking at any other thread's frame; between two threads, where
the other one is plainly blocked or woken, without a walk at all: a
two-thread exchange costs a few dictionary lookups and one ``write(2)``
per hand-over.

What the network cannot see -- a thread in ``time.sleep``, real I/O, a C
lock, or a long computation -- is never waited for forever.  Every
:data:`GRACE` seconds of wall time the waiting threads look at the silent
thread: one that is not runnable and used (almost) no CPU meanwhile is
blocked outside the network (Linux: the state from ``/proc``'s ``stat``,
the CPU time to the nanosecond from ``schedstat``, so the grace can be a
few GIL switch intervals), and the schedule goes on without it at once,
unless another thread out of the schedule's sight ran meanwhile (the silent
one may be waiting for it, or for the GIL); one that keeps running Python
code is waited for up to :data:`BUDGET` seconds.  Either way a note
(thread, call, source line) goes to :attr:`Turns.notes`, the pytest
fixture's failure report shows it, and
the run is to be taken as not reproducible.  Nothing hangs: every wait on a
gate has a timeout.
"""

from __future__ import annotations

import bisect
import linecache
import os
import random
import sys
import threading
import time
from types import CodeType, FrameType
from typing import TYPE_CHECKING, TypeAlias

from . import _executor, _gates, _proc
from ._gates import FD_GATES, FdGate, Gate, gate, open_gate

if TYPE_CHECKING:
    from ._sched import Scheduler

__all__ = ["BUDGET", "GRACE", "NOTES_KEPT", "Turns", "gate", "open_gate"]

#: Wall seconds the schedule waits for a thread that runs out of its sight.
BUDGET = 2.0
_POLL = 0.001
_MAX_POLL = 0.02
#: Wall seconds after which a silent thread is looked at: one blocked
#: outside the network (sleep, I/O, a C lock) is not waited for any longer.
#: Four GIL switch intervals, so that a holder waiting for the GIL behind
#: computing threads gets it (and CPU time) within the window; 0.1 s where
#: CPU time is only counted in clock ticks.
GRACE = max(0.015, 4 * sys.getswitchinterval()) if _proc.PRECISE else 0.1
# How often a thread waiting for the turn looks at a silent holder at most:
# twice a grace, so that one blocked outside is passed soon after it.
_WATCH_POLL = min(_MAX_POLL, GRACE / 2)
#: Chance that the holder of the turn, at a scheduling point where another
#: thread could run, hands the turn over (drawn from the seed).
PREEMPT = 0.125
#: How many notes a network keeps; later ones are only counted.
NOTES_KEPT = 200

# Bound once: sockspec.compat.patch(clock=True) replaces time.monotonic with
# the virtual clock, and the schedule measures wall time.
_wall = time.monotonic
_get_ident = threading.get_ident
# Read, never written: who is alive, without threading.enumerate()'s copy.
_active: dict[int, threading.Thread] = threading._active  # type: ignore[attr-defined]
_limbo: dict[object, threading.Thread] = threading._limbo  # type: ignore[attr-defined]


class Turns:
    """Who may run: the turn, the threads waiting for it, the seeded choice."""

    __slots__ = (
        "__weakref__",
        "_gates",
        "_gone",
        "_handoff",
        "_held",
        "_keys",
        "_mine",
        "_order",
        "_outs",
        "_settling",
        "_watch",
        "notes",
        "notes_left_out",
        "off",
        "ready",
        "rng",
        "sched",
        "switches",
        "turn",
    )

    def __init__(self, sched: Scheduler, seed: int) -> None:
        self.sched = sched
        self.rng = random.Random(f"{seed}:schedule")
        #: Ident of the thread holding the turn, or ``None``.
        self.turn: int | None = None
        #: Threads waiting at a scheduling point for the turn: their gates.
        self.ready: dict[int, Gate] = {}
        # The same threads as (name, ident), kept sorted as they come and
        # go, so a choice among hundreds costs no walk over them, and the
        # key each was sorted under.
        self._order: list[tuple[str, int]] = []
        self._keys: dict[int, tuple[str, int]] = {}
        #: Where the schedule could not be kept deterministic.
        self.notes: list[str] = []
        #: Notes not kept once :data:`NOTES_KEPT` were.
        self.notes_left_out = 0
        #: How many times the turn went to another thread.
        self.switches = 0
        #: Set when the network closes: every thread runs freely again.
        self.off = False
        # The gate of every thread that waited on the network: a thread
        # woken there is given the turn through it.
        self._gates: dict[int, Gate] = {}
        # Holders waiting for the others to settle, by ident: their gates,
        # opened when a thread arrives at a point or blocks.
        self._settling: dict[int, Gate] = {}
        # The scheduler's outsiders by ident, for a cheap test on hot paths.
        self._outs: dict[int, threading.Thread] = {
            t.ident: t for t in sched._outsiders if t.ident is not None
        }
        # Threads the schedule went on without (noted): not waited for
        # again until they are back at a network call.
        self._gone: dict[int, threading.Thread] = {}
        # When a running thread was last seen silent after running: the
        # window its silence is measured over (see _Window).
        self._watch: dict[int, _Window] = {}
        # The same for the holder of the turn, while others wait for it.
        self._held: tuple[int, _Window] | None = None
        # The gate of the thread just given the turn by one about to wait:
        # opened once the network's lock is let go (handoff()), so that the
        # woken thread does not find the lock still taken and sleep again.
        self._handoff: Gate | None = None
        # The gate each thread waits on here (gate_of()): a descriptor for
        # the first FD_GATES threads, where there can be one.
        self._mine: dict[int, Gate] = {}

    # -- scheduling points (network lock held) --------------------------------------

    def point(self, *, woken: bool = False, miss: bool = False) -> None:
        """The calling thread is about to operate on the network.

        *woken*: it is going on after a wait on the network, and holds the
        turn if the choice made while it was on its way fell on it.  *miss*:
        a non-blocking call of the holder found nothing to do; the turn goes
        to another thread that can run, without a draw.
        """
        if self.off:
            return
        me = _get_ident()
        if me in self._outs:
            self.admit(me)
        if self._gone:
            self._gone.pop(me, None)
        if self.turn == me:
            self._held = None
            if woken or (len(_active) == 1 and not _limbo):
                return  # chosen on its way back, or alone: nothing to choose
            sched = self.sched
            waiting = sched._waiting
            back = sched._woken
            if (
                len(_active) == 2
                and len(waiting) + len(back) == 1
                and not self.ready
                and not _limbo
                and None not in back
            ):
                # Two threads, the other blocked on the network or on its way
                # back from it (the caller is neither: it left both before its
                # own point): every thread is known without _known()'s walk;
                # blocked, the other cannot run, woken, it is a candidate.
                if waiting:
                    return
            else:
                if not self._known(me):
                    self._settle(me)
                if not self.ready and (not back or not self._transit(me)):
                    return  # nobody else can run: no choice to make
            if not miss and self.rng.random() >= PREEMPT:
                return
            self._give(self._choose(me), later=True)
        self._wait(me)

    def admit(self, ident: int) -> None:
        """Outsider *ident* called into the network: it is a user now."""
        thread = self._outs.pop(ident, None)
        if thread is not None:
            self.sched._outsiders.discard(thread)

    def release(self, g: Gate) -> None:
        """The calling thread blocks on the network: the turn goes on.

        Called after the thread is registered as waiting, before it waits
        on its gate *g* (registered in :attr:`_gates` for a later hand-over).
        """
        me = _get_ident()
        self._gates[me] = g
        if self._watch:
            self._watch.pop(me, None)
        if self._gone:
            self._gone.pop(me, None)
        if self._settling:
            self._nudge()
        if self.turn == me:
            self.turn = None
            sched = self.sched
            woken = sched._woken
            if len(woken) == 1 and len(_active) == 2 and not self.ready and not _limbo:
                # A two-thread exchange: the other thread, woken by this
                # one, is the only candidate, and every thread is known.
                # What the general path below decides, without its walks.
                for other in woken:
                    if (
                        other is not None
                        and other != me
                        and other in _active
                        and other not in sched._waiting
                        and not self.off
                    ):
                        self.switches += 1
                        self.turn = other
                        self._held = None
                        theirs = self._gates.get(other)
                        if theirs is not None:
                            self._handoff = theirs
                        return
            # dispatch(later=True), one call less on every hand-over.
            if (
                not self.off
                and (self.ready or self._transit(None))
                and (self._known(None) or self._settle(None, wait=False))
            ):
                self._give(self._choose(None), later=True)

    def dispatch(self, *, later: bool = False) -> None:
        """The turn is free: give it to a candidate once all are settled.

        *later*: the caller is about to let the lock go and wait; it opens
        the chosen thread's gate then, through :meth:`handoff`.
        """
        if (
            self.turn is None
            and not self.off
            and (self.ready or self._transit(None))
            and (self._known(None) or self._settle(None, wait=False))
        ):
            self._give(self._choose(None), later=later)

    def handoff(self) -> Gate | None:
        """The gate to open once the lock is let go (and forget it; locked)."""
        g, self._handoff = self._handoff, None
        return g

    def gate_of(self, ident: int) -> Gate:
        """The gate thread *ident* (the caller) waits on in this network.

        A descriptor (:class:`._gates.FdGate`), so that handing it the turn
        lets the GIL go before waking it, for the first :data:`FD_GATES`
        threads alive; the thread's lock for the others, for a thread alone
        in the process (nobody can open its gate: a wait of its own ends
        by the clock), and once the schedule stopped.  A descriptor is kept
        until the network is idle (:meth:`idle`) or the thread ends
        (:meth:`drop`).
        """
        g = self._mine.get(ident)
        if g is not None:
            return g
        if self.off or len(_active) < 2 or not _gates.fd_gates():
            return gate()
        mine = self._mine
        if len(mine) >= FD_GATES:
            for ended in mine.keys() - _active.keys():
                self.drop(ended)
            if len(mine) >= FD_GATES:
                return gate()
        try:
            made = FdGate()
        except OSError:
            return gate()  # out of descriptors: the lock will do
        mine[ident] = made
        _gates.on_thread_end(self)
        return made

    def drop(self, ident: int) -> None:
        """Forget thread *ident*'s gate (it ended); its descriptor closes as
        soon as no thread refers to it.  Called without the network's lock
        at the end of a thread: both removals are single dict operations."""
        self._mine.pop(ident, None)
        self._gates.pop(ident, None)

    def idle(self) -> None:
        """No thread waits on the network (nor for the turn): drop the gates.

        Their descriptors close as soon as no thread refers to them, so a
        network that is not in use holds none (tests count descriptors
        while their network is open); the next wait makes new ones.
        """
        self._mine.clear()
        self._gates.clear()

    @property
    def budget(self) -> float:
        """Wall seconds the schedule waits for a thread out of its sight."""
        return BUDGET

    def flow_after(self, busy: list[str], realtime_after: float) -> float:
        """Quiet wall seconds after which virtual time follows wall time.

        Threads the schedule already went on without behave as in the free
        schedule; any other running thread is about to reach a point.
        """
        gone = {t.name for t in self._gone.values()}
        if busy and all(name in gone for name in busy):
            return realtime_after
        return max(realtime_after, BUDGET)

    def note_flow(self, busy: list[str]) -> None:
        """Virtual time is about to follow wall time because of *busy*."""
        self._note(
            f"virtual time followed wall time while threads "
            f"{', '.join(map(repr, busy))} ran outside the network's sight"
        )

    def stop(self) -> None:
        """Stop scheduling: release every thread waiting for the turn."""
        self.off = True
        self.turn = None
        for g in self.ready.values():
            open_gate(g)
        for ident in self.sched._woken:
            woken = self._gates.get(ident) if ident is not None else None
            if woken is not None:
                open_gate(woken)
        self._nudge()
        # The descriptors close as soon as the threads woken above are out
        # of their waits (nothing else refers to them then).
        self.idle()

    def holds_clock(self) -> bool:
        """Whether a thread can run by the schedule, so the clock must stay."""
        if self.off:
            return False
        if self.ready or self._transit(None):
            return True
        holder = self.turn
        if holder is None or holder in self.sched._waiting:
            return False
        if self._still(holder) or self._holder_lost(holder):
            self.turn = None  # it blocked, ended or left: the turn is free
            return False
        return True

    # -- internals -------------------------------------------------------------------

    def _wait(self, me: int) -> None:
        """Wait at a point until the turn falls on the calling thread."""
        sched = self.sched
        lock = sched.lock
        g = self._mine.get(me) or self.gate_of(me)
        g.acquire(False)  # a release left from an earlier wait
        self.ready[me] = g
        key = self._keys[me] = (_name(me), me)
        bisect.insort(self._order, key)
        sched._woken.discard(me)  # arrived at the point
        self._watch.pop(me, None)
        if self._settling:
            self._nudge()
        interval = _POLL
        looked = False
        try:
            while self.turn != me and not self.off:
                holder = self.turn
                if holder is None:
                    self.dispatch()
                    if self.turn == me:
                        break
                elif looked and (self._still(holder) or self._holder_lost(holder)):
                    self.turn = None
                    continue
                handoff = self.handoff()
                lock.release()
                if handoff is not None:
                    open_gate(handoff)
                    # Not kept while asleep: a descriptor gate closes when
                    # nothing refers to it (its thread may end meanwhile).
                    handoff = None
                try:
                    looked = not g.acquire(True, interval)
                finally:
                    lock.acquire()
                if looked:
                    # The waiters share what they saw of the holder
                    # (_held): together they look every _WATCH_POLL or so,
                    # not each of hundreds, which would keep the holder
                    # from the network's lock.
                    spread = _WATCH_POLL * (1 + len(self.ready) // 4)
                    interval = min(interval * 2, spread)
        finally:
            del self.ready[me]
            key = self._keys.pop(me)
            del self._order[bisect.bisect_left(self._order, key)]
            if (
                self._mine
                and not self.ready
                and not sched._waiting
                and not sched._woken
                and not self._settling
            ):
                self.idle()

    def _holder_lost(self, holder: int) -> bool:
        """Whether the silent holder is given up on (and noted)."""
        if holder in self._settling:
            # Asleep on its gate inside the network, waiting for the others
            # to settle: its own _settle() gives up on whoever is silent.
            self._held = None
            return False
        held = self._held
        if held is None or held[0] != holder:
            self._held = (holder, self._window(holder, self._others()))
            return False
        verdict = self._overdue(holder, held[1])
        if verdict is _AGAIN:
            self._held = (holder, self._window(holder, self._others(), held[1][0]))
            return False
        if verdict is None:
            return False
        why, where = verdict
        self._note(
            f"thread {_name(holder)!r} {why} holding the turn "
            f"({where}); the turn was taken from it"
        )
        self._lose(holder)
        self._held = None
        return True

    def _lose(self, ident: int) -> None:
        thread = _active.get(ident)
        if thread is not None:
            self._gone[ident] = thread
        self._watch.pop(ident, None)

    def _nudge(self) -> None:
        for g in self._settling.values():
            open_gate(g)

    def _transit(self, me: int | None) -> bool:
        """Whether a thread woken on the network is not yet back at a point.

        It counts as waiting for the turn: which wake happened is part of
        the deterministic state, when the thread gets the CPU is not.
        """
        woken = self.sched._woken
        if woken:
            ready = self.ready
            waiting = self.sched._waiting
            for i in woken:
                if i is not None and i != me and i not in ready and i not in waiting:
                    return True
        return False

    def _unseen(self, me: int | None) -> set[int]:
        """Idents of the live threads other than *me* that are neither waiting
        for the turn, nor blocked on the network, nor woken on it.

        Set operations in C: a scheduling point must not walk every thread
        in Python, or a test with hundreds of threads pays for each of them
        at each of its points.
        """
        rest = _active.keys() - self.ready.keys()
        sched = self.sched
        if sched._waiting:
            rest.difference_update(sched._waiting)
        if sched._woken:
            rest.difference_update(sched._woken)
        if me is not None:
            rest.discard(me)
        return rest

    def _known(self, me: int | None) -> bool:
        """Whether every other thread alive is known to the schedule.

        Known: waiting for the turn, blocked on the network, woken on its way
        back, given up on, or an outsider.  Then nobody can be running out
        of sight and no frame needs looking at: the hot path, which is why
        :meth:`_unseen`'s set operations are repeated here instead of called.
        """
        if _limbo:
            return False  # a thread is starting
        rest = _active.keys() - self.ready.keys()
        sched = self.sched
        if sched._waiting:
            rest.difference_update(sched._waiting)
        if sched._woken:
            rest.difference_update(sched._woken)
        rest.discard(me)
        if not rest:
            return True
        outs = self._outs
        gone = self._gone
        for ident in rest:
            thread = _active.get(ident)
            if thread is None:
                continue  # ended meanwhile
            if (outs and outs.get(ident) is thread) or (
                gone and gone.get(ident) is thread
            ):
                continue
            return False
        return True

    def _give(self, ident: int, *, later: bool = False) -> None:
        if ident != self.turn:
            self.switches += 1
        self.turn = ident
        self._held = None
        g = self.ready.get(ident)
        if g is None:
            g = self._gates.get(ident)
        if g is None:
            return
        if later:
            self._handoff = g
        else:
            open_gate(g)

    def _choose(self, me: int | None) -> int:
        """Draw the next holder among the candidates other than *me*."""
        # Idents differ from process to process, names do not: the
        # candidates are drawn from in the order of their names.
        keyed = self._order
        mine = me is not None and me in self._keys
        woken = self.sched._woken
        extra: list[int] = []
        if woken:
            ready = self.ready
            waiting = self.sched._waiting
            for i in woken:  # a loop, not a comprehension: no frame on 3.11
                if i is not None and i != me and i not in ready and i not in waiting:
                    extra.append(i)
        if len(keyed) - mine + len(extra) == 1:
            # One candidate (a two-thread exchange): no draw, no name read.
            if extra:
                return extra[0]
            for key in keyed:
                if key[1] != me:
                    return key[1]
        if mine:
            keyed = [k for k in keyed if k[1] != me]
        if extra:
            keyed = sorted(keyed + [(_name(i), i) for i in extra])
        return self.rng.choice(keyed)[1]

    def _settle(self, me: int | None, *, wait: bool = True) -> bool:
        """Whether every other thread using the network is settled.

        With *wait*, the calling thread (holding the turn) waits for them on
        its gate, which a thread arriving at a point or blocking opens.  A
        thread silent for too long (:func:`_overdue`) is noted and no longer
        waited for.
        """
        interval = _POLL
        sched = self.sched
        while True:
            busy = self._busy(me)
            watch = self._watch
            for ident in [i for i in watch if i not in busy]:
                del watch[ident]
            if not busy:
                return True
            left = []
            others: dict[int, _proc.Usage] | None = None  # one look for them all
            for ident in busy:
                seen = watch.get(ident)
                if seen is None:
                    if others is None:
                        others = self._others()
                    watch[ident] = self._window(ident, others)
                    left.append(ident)
                    continue
                verdict = self._overdue(ident, seen)
                if verdict is _AGAIN:
                    if others is None:
                        others = self._others()
                    watch[ident] = self._window(ident, others, seen[0])
                if verdict is None or verdict is _AGAIN:
                    left.append(ident)
                    continue
                self._note(
                    f"thread {_name(ident)!r} {verdict[0]} ({verdict[1]}); the "
                    "schedule went on without it"
                )
                self._lose(ident)
            if not left:
                return True
            if not wait or me is None:
                return False
            g = self.gate_of(me)
            g.acquire(False)
            self._settling[me] = g
            sched.lock.release()
            try:
                g.acquire(True, interval)
            finally:
                sched.lock.acquire()
                self._settling.pop(me, None)
            interval = min(interval * 2, _WATCH_POLL)

    def _busy(self, me: int | None) -> list[int]:
        """Threads using the network that are running (not settled)."""
        sched = self.sched
        from ._frames import idle_codes

        codes = idle_codes()
        # Only the threads the schedule does not know about need a look at
        # their frames; the others are settled by what the network knows.
        unseen = self._unseen(me)
        alive: set[int | None] = set(_active)
        if _limbo:
            for thread in tuple(_limbo.values()):
                alive.add(thread.ident)
                if thread.ident is not None and thread.ident != me:
                    unseen.add(thread.ident)
        busy: list[int] = []
        frames: dict[int, FrameType] | None = None
        gone = self._gone
        try:
            for ident in unseen:
                found = _active.get(ident) or next(
                    (t for t in _limbo.values() if t.ident == ident), None
                )
                if found is None:
                    continue  # ended meanwhile
                thread = found
                if ident == self.turn and me is None:
                    continue  # the holder is checked by _still()
                if not sched.counts(thread):
                    continue
                if gone and gone.get(ident) is thread:
                    continue
                if ident in self._settling:
                    busy.append(ident)
                    continue
                if frames is None:
                    frames = sys._current_frames()
                frame = frames.get(ident)
                if frame is None:
                    continue  # ended
                if _frame_runs(frame, codes, alive):
                    busy.append(ident)
        finally:
            frame = None
            if frames is not None:
                frames.clear()
        return busy

    def _still(self, ident: int) -> bool:
        """Whether the holder *ident* has ended or blocked where it cannot act."""
        if ident in self.ready or ident in self._settling:
            return False  # given the turn and not awake yet, or choosing
        if ident in self.sched._woken:
            return False  # given the turn on its way back from a wait
        if ident in self.sched._waiting:
            return True
        thread = _active.get(ident)
        if thread is None or not thread.is_alive():
            return True
        if not self.sched.counts(thread):
            return True
        gone = self._gone
        if gone and gone.get(ident) is thread:
            return True
        # The holder's frame only, not _busy()'s walk over every thread:
        # every waiter looks every few milliseconds, and with hundreds of
        # threads those walks took the CPU from the threads doing the work.
        from ._frames import idle_codes

        frame = sys._current_frames().get(ident)
        if frame is None:
            return True  # ended
        try:
            return not _frame_runs(frame, idle_codes(), set(_active))
        finally:
            del frame

    @staticmethod
    def _window(
        ident: int, others: dict[int, _proc.Usage], first: float | None = None
    ) -> _Window:
        """Start measuring the silence of thread *ident*, first waited for
        at *first* (now if ``None``): now, its CPU time, what the *others*
        had used (:meth:`_others`), and how crowded the CPUs are."""
        now = _wall()
        return (
            now if first is None else first,
            now,
            _proc.cpu(ident),
            others,
            _proc.crowding(),
        )

    def _others(self) -> dict[int, _proc.Usage]:
        """CPU use of the live threads other than the caller that the
        schedule does not know to be asleep (waiting for the turn,
        settling, blocked in a network call, given up on).

        One of them may hold the GIL, or a lock, that a silent thread
        waits for.  A thread blocked in the network runs only once the
        network wakes it, so it is left out: with hundreds of threads
        waiting on their sockets, reading /proc for each at every look
        made a scheduling point cost milliseconds (200 clients of
        bench_schedule_threads.py took 48 s instead of 0.7 s).
        """
        rest = _active.keys() - self.ready.keys()
        rest.difference_update(self._settling)
        rest.difference_update(self.sched._waiting)
        rest.discard(_get_ident())
        gone = self._gone
        return {i: _proc.usage(i) for i in rest if not (gone and i in gone)}

    def _overdue(self, ident: int, window: _Window) -> tuple[str, str] | None:
        """Why the schedule stops waiting for silent thread *ident*, and
        where it is; ``None`` to go on waiting, or :data:`_AGAIN` when it
        was seen doing something since *window* began, so its silence is
        measured afresh.

        Past :data:`GRACE`, a thread that is not runnable and used at most
        a quarter of that time on the CPU is blocked outside the network
        (the scheduler of the OS says so, not a guess from wall time).  A
        thread asleep on a lock is waited for while another thread that
        could own the lock ran meanwhile or is runnable; and if the lock
        may be the GIL, the grace is of the CPU time it could have had
        (the wall time divided by how many threads the machine had
        runnable per core): on a loaded machine a thread waiting for the
        GIL, or for a lock that a computing thread will release, is as
        silent as one blocked for good.  A thread in ``time.sleep``,
        ``select`` or a read is plainly blocked.  Past
        :data:`BUDGET` of wall time any thread is overdue, counted from
        when it was first waited for.  A thread in a :mod:`threading`
        primitive or back in the network is waiting for another thread, not
        blocked outside: its silence starts again.
        """
        first, began, cpu0, others0, crowd0 = window
        now = _wall()
        waited = now - began
        if now - first >= BUDGET:
            why = f"ran outside the network's sight for {BUDGET:g}s of wall time"
            return why, _where(ident)
        if _in_primitive(ident):
            return _AGAIN
        if waited < GRACE or cpu0 is None:
            return None
        stat = _proc.state(ident)
        if stat is None or stat[0] == "R":
            return _AGAIN  # runnable: it runs, or the OS is about to run it
        on = _proc.asleep_on(ident)
        if on == _proc.GIL:
            # Maybe waiting for the GIL, which a loaded machine can keep
            # from it for tens of milliseconds.  Count the CPU time it
            # could have had meanwhile: with ten runnable threads per core,
            # a thread that works all along is as silent for 20 ms as one
            # blocked for good.
            waited /= max(crowd0, _proc.crowding())
            if waited < GRACE:
                return None
        cpu = _proc.cpu(ident)
        if cpu is None or cpu - cpu0 > waited / 4:
            return _AGAIN
        if on and _proc.any_ran(self._others(), others0, ident):
            return None  # the lock's owner may be the thread that ran
        where = _where(ident)
        if _in_primitive(ident):
            return _AGAIN  # back in the network (or a primitive) meanwhile
        return "was blocked outside the network", where

    def _note(self, text: str) -> None:
        notes = self.notes
        if len(notes) >= NOTES_KEPT:
            # A long-lived network (the process-wide default) must not grow
            # without bound; the first notes say what went wrong.
            self.notes_left_out += 1
            return
        line = f"t={self.sched.now:.6f}s: {text}"
        if line not in notes:
            notes.append(line)


#: A thread's silence: when it was first waited for (wall time), when it
#: was last seen acting, its CPU time then, and the CPU time then of the
#: threads it could be waiting for (:meth:`Turns._others`), and how crowded
#: the machine's CPUs were (:func:`_proc.crowding`).
_Window: TypeAlias = "tuple[float, float, float | None, dict[int, _proc.Usage], float]"
#: :meth:`Turns._overdue`'s answer for a thread seen acting since its
#: window began.
_AGAIN: tuple[str, str] = ("seen acting", "")


def _frame_runs(
    frame: FrameType, codes: dict[CodeType, str], alive: set[int | None]
) -> bool:
    """Whether the thread whose top frame is *frame* is running, by that frame.

    Not running: blocked in a :mod:`threading` primitive that only another
    thread can end (or with a timeout), or an idle pool worker.
    """
    from ._frames import BUSY, blocked_for

    kind = codes.get(frame.f_code)
    if kind is None:
        return not (
            frame.f_code.co_name == "_worker"
            and _executor.waiting_for_work(frame) is not None
        )
    return blocked_for(frame, kind, alive) == BUSY or _starting(frame)


_HERE = os.path.dirname(__file__)


def _in_primitive(ident: int) -> bool:
    """Whether thread *ident* waits in a :mod:`threading` primitive, or for
    the network's own lock.

    Such a thread was found running all the same (it is starting a thread,
    or was notified, and may be taking back its condition's free lock), or
    is inside the network, about to take the lock that the threads looking
    at it hold in turn: it is about to go on, however long the OS takes to
    run it on a loaded machine.
    """
    from ._frames import idle_codes, reacquiring

    frame = sys._current_frames().get(ident)
    try:
        return frame is not None and (
            frame.f_code in idle_codes()
            or os.path.dirname(frame.f_code.co_filename) == _HERE
            or reacquiring(frame)
        )
    finally:
        del frame


_START = threading.Thread.start.__code__


def _starting(frame: FrameType) -> bool:
    """Whether *frame* waits inside ``Thread.start()`` for the new thread.

    That wait ends by itself as soon as the new thread runs, and the new
    thread may not be listed yet by :func:`threading.enumerate`: the
    starting thread is as good as running.
    """
    outer = frame.f_back
    for _ in range(3):
        if outer is None:
            return False
        if outer.f_code is _START:
            return True
        outer = outer.f_back
    return False


def _name(ident: int) -> str:
    thread = _active.get(ident)
    return thread.name if thread is not None else f"thread {ident}"


def _where(ident: int) -> str:
    """The Python line thread *ident* is at, with its source when there is one."""
    frame = sys._current_frames().get(ident)
    if frame is None:
        return "ended"
    try:
        code = frame.f_code
        line = frame.f_lineno
        source = linecache.getline(code.co_filename, line).strip()
        where = f"in {code.co_name}() at {code.co_filename}:{line}"
        return f"{where}: {source}" if source else where
    finally:
        del frame
