"""The seeded schedule: one thread at a time between network operations.

With ``Network(schedule="seeded")`` the threads that use the network take
*turns*.  Every network operation is a scheduling point: the thread holding
the turn may keep it or hand it to another thread that is waiting at a
scheduling point; which one is drawn from a stream of its own,
``random.Random(f"{seed}:schedule")``, among the candidates sorted by thread
name.  A thread that blocks on the network (a receive with nothing to read,
``accept``, ``Network.sleep``...) gives the turn away; when it is woken it
waits at a scheduling point like the others.

A choice is made only once every other thread using the network is
*settled*: waiting for the turn, blocked on the network, blocked in a
:mod:`threading` primitive the virtual clock recognises (``join()``,
``Event.wait()``, ``Queue.get()``, an idle pool worker) or finished.  A
thread just started is running until it reaches its first network call, so
the choice waits for it: starting and joining threads hand over the turn
deterministically.  Then the order of operations, hence the event log, the
ephemeral ports and every fault draw, depends on the seed only.

What the network cannot see -- a thread in ``time.sleep``, real I/O, a C
lock -- cannot be waited for forever: after :data:`BUDGET` seconds of wall
time the schedule goes on without it and writes a note (thread, call) to
:attr:`Turns.notes`; the pytest fixture's failure report shows the notes,
and the run is to be taken as not reproducible.  Nothing hangs.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from types import FrameType
from typing import TYPE_CHECKING

from . import _executor

if TYPE_CHECKING:
    from ._sched import Scheduler

__all__ = ["BUDGET", "Turns"]

#: Wall seconds the schedule waits for a thread it cannot see settle.
BUDGET = 2.0
_POLL = 0.001
_MAX_POLL = 0.02


class Turns:
    """Who may run: the turn, the threads waiting for it, the seeded choice."""

    __slots__ = (
        "_changed",
        "_parked",
        "_settling",
        "_stalled",
        "notes",
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
        #: Threads waiting at a scheduling point for the turn.
        self.ready: dict[int, threading.Condition] = {}
        #: Where the schedule could not be kept deterministic.
        self.notes: list[str] = []
        #: How many times the turn went to another thread.
        self.switches = 0
        self._stalled: float | None = None
        # Wakes a holder waiting for the others to settle, when one arrives
        # at a scheduling point or blocks.
        self._changed = threading.Condition(sched.lock)
        # Threads woken on the network while another holds the turn: their
        # wait's condition, notified only when the turn falls on them, so
        # that a thread is not woken twice (once to find the turn taken).
        self._parked: dict[int, threading.Condition] = {}
        # Holders waiting in _settle(): blocked in a Condition, yet running.
        self._settling: set[int] = set()
        #: Set when the network closes: every thread runs freely again.
        self.off = False

    # -- scheduling points (network lock held) --------------------------------------

    def point(self, *, woken: bool = False) -> None:
        """The calling thread is about to operate on the network.

        *woken*: it is going on after a wait on the network, and holds the
        turn if the choice made while it was on its way fell on it.
        """
        if self.off:
            return
        me = threading.get_ident()
        if woken:
            self._parked.pop(me, None)
        if self.turn == me:
            if woken:
                return  # chosen on its way back: the choice is made
            if not self._settle(me):
                return  # noted: nobody else to choose from deterministically
            if not self.ready and not self._transit():
                return
            chosen = self._choose(me)
            if chosen == me:
                return
            self._give(chosen)
        self._wait(me)

    def release(self) -> None:
        """The calling thread blocks on the network: the turn goes on."""
        if self._settling:
            self._changed.notify_all()
        if self.turn == threading.get_ident():
            self.turn = None
            self._dispatch()

    def park(self, ident: int | None, cond: threading.Condition) -> bool:
        """Whether a thread just woken on the network may sleep on (locked).

        It may while another thread holds the turn: :meth:`_give` notifies
        *cond* when the turn falls on it.  Its wait also ends by itself
        every few milliseconds, so nothing depends on this for progress.
        """
        if self.off or ident is None or self.turn is None or self.turn == ident:
            return False
        self._parked[ident] = cond
        return True

    @property
    def budget(self) -> float:
        """Wall seconds the schedule waits for a thread out of its sight."""
        return BUDGET

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
        for cond in self.ready.values():
            cond.notify()
        for cond in self._parked.values():
            cond.notify()
        self._parked.clear()

    def holds_clock(self) -> bool:
        """Whether a thread can run by the schedule, so the clock must stay."""
        if self.off:
            return False
        if self.ready or self._transit():
            return True
        holder = self.turn
        if holder is None or holder in self.sched._waiting:
            return False
        if self._still(holder):
            self.turn = None  # it blocked or ended: the turn is free
            return False
        return True

    # -- internals -------------------------------------------------------------------

    def _wait(self, me: int) -> None:
        cond = threading.Condition(self.sched.lock)
        self.ready[me] = cond
        self.sched._woken.discard(me)  # arrived at the point
        if self._settling:
            self._changed.notify_all()
        interval = _POLL
        try:
            while self.turn != me and not self.off:
                holder = self.turn
                if holder is not None and self._still(holder):
                    self.turn = holder = None
                if holder is None:
                    self._dispatch()
                    if self.turn == me:
                        break
                elif self._over_budget():
                    self._note(
                        f"thread {_name(holder)!r} kept the turn without a network "
                        f"call ({_where(holder)}); the turn was taken from it"
                    )
                    self.turn = None
                    continue
                cond.wait(interval)
                interval = min(interval * 2, _MAX_POLL)
        finally:
            del self.ready[me]
        self._stalled = None

    def _dispatch(self) -> None:
        """The turn is free: give it to a ready thread once all are settled."""
        if (self.ready or self._transit()) and self._settle(None, wait=False):
            self._give(self._choose(None))

    def _transit(self) -> list[int]:
        """Threads woken on the network and not yet back at a point.

        They count as waiting for the turn: which wake happened is part of
        the deterministic state, when the thread gets the CPU is not.
        """
        sched = self.sched
        woken = sched._woken
        if not woken:
            return []
        return [
            i
            for i in woken
            if i is not None and i not in self.ready and i not in sched._waiting
        ]

    def _give(self, ident: int) -> None:
        if ident != self.turn:
            self.switches += 1
        self.turn = ident
        cond = self.ready.get(ident) or self._parked.pop(ident, None)
        if cond is not None:
            cond.notify()

    def _choose(self, me: int | None) -> int:
        candidates = list(self.ready)
        candidates.extend(self._transit())
        if me is not None and me not in candidates:
            candidates.append(me)
        if len(candidates) == 1:
            return candidates[0]
        candidates.sort(key=lambda i: (_name(i), i))
        return self.rng.choice(candidates)

    def _over_budget(self) -> bool:
        now = time.monotonic()
        if self._stalled is None:
            self._stalled = now
            return False
        return now - self._stalled >= BUDGET

    def _settle(self, me: int | None, *, wait: bool = True) -> bool:
        """Whether every other thread using the network is settled.

        With *wait*, the calling thread (holding the turn) waits for them,
        up to :data:`BUDGET`; past it, it notes the threads and goes on.
        """
        interval = _POLL
        while True:
            busy = self._busy(me)
            if not busy:
                self._stalled = None
                return True
            if self._over_budget():
                self._note(
                    "threads "
                    + ", ".join(f"{_name(i)!r} ({_where(i)})" for i in busy)
                    + " ran outside the network's sight; the schedule went on "
                    "without them"
                )
                self._stalled = None
                return True
            if not wait or me is None:
                return False
            self._settling.add(me)
            try:
                self._changed.wait(interval)
            finally:
                self._settling.discard(me)
            interval = min(interval * 2, _MAX_POLL)

    def _busy(self, me: int | None) -> list[int]:
        """Threads using the network that are running (not settled)."""
        sched = self.sched
        from ._frames import BUSY, blocked_for, idle_codes

        codes = idle_codes()

        threads = threading.enumerate()
        alive: set[int | None] = {t.ident for t in threads}
        busy: list[int] = []
        frames: dict[int, FrameType] | None = None
        try:
            for thread in threads:
                ident = thread.ident
                if ident is None or ident == me or ident in self.ready:
                    continue
                if ident == self.turn and me is None:
                    continue  # the holder is checked by _still()
                if not sched.counts(thread):
                    continue
                if ident in sched._waiting:
                    continue
                if ident in self._settling:
                    busy.append(ident)
                    continue
                if ident in sched._woken:
                    continue  # on its way to a point: a candidate already
                    continue
                if frames is None:
                    frames = sys._current_frames()
                frame = frames.get(ident)
                if frame is None:
                    continue  # ended
                kind = codes.get(frame.f_code)
                if kind is None:
                    if frame.f_code.co_name == "_worker" and (
                        _executor.waiting_for_work(frame) is not None
                    ):
                        continue
                    busy.append(ident)
                    continue
                if blocked_for(frame, kind, alive) == BUSY or _starting(frame):
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
        thread = threading._active.get(ident)  # type: ignore[attr-defined]
        if thread is None or not thread.is_alive():
            return True
        return not self._busy_one(thread)

    def _busy_one(self, thread: threading.Thread) -> bool:
        ident = thread.ident
        assert ident is not None
        saved, self.turn = self.turn, None
        try:
            return ident in self._busy(threading.get_ident())
        finally:
            self.turn = saved

    def _note(self, text: str) -> None:
        line = f"t={self.sched.now:.6f}s: {text}"
        if line not in self.notes:
            self.notes.append(line)


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
    thread = threading._active.get(ident)  # type: ignore[attr-defined]
    return thread.name if thread is not None else f"thread {ident}"


def _where(ident: int) -> str:
    frame = sys._current_frames().get(ident)
    if frame is None:
        return "ended"
    try:
        code = frame.f_code
        return f"in {code.co_name}() at {code.co_filename}:{frame.f_lineno}"
    finally:
        del frame
