"""A thread's timed :mod:`threading` wait, which bounds the virtual clock.

A thread in ``Event.wait(0.5)`` (any ``Condition.wait`` with a timeout, or
``Thread.join(0.5)``) wakes up by itself once the timeout has run out in
wall time.  The scheduler (:mod:`._sched`) treats such a wait as a timer:
it began at the virtual time it was first seen, and the clock may not pass
its end until the thread has woken up.  A :class:`Timed` is one such wait,
as first seen; the scheduler keeps one per thread from one look at the
threads to the next, and makes a new one when the thread is found in
another wait.
"""

from __future__ import annotations

from ._proc import PRECISE as _PRECISE
from ._proc import cpu as _cpu
from ._proc import state as _stat

__all__ = ["Timed"]

# Two looks at a thread's CPU time closer than this say nothing: the
# thread may not have had the GIL in between.
_MIN_LOOK = 0.001

# Where a thread's CPU time cannot be read to the nanosecond, a
# join(timeout) found again this long after its timeout ran out is taken
# for a new join; where it can, this much later at the latest, so that a
# misreading can never hold the clock for good.
_REJOIN = 0.05
_REJOIN_LATEST = 0.5


class Timed:
    """A thread's timed :mod:`threading` wait, as first seen."""

    __slots__ = ("cpu", "due", "end", "last", "timeout", "token")

    def __init__(
        self,
        token: object,
        timeout: float,
        now: float,
        wall: float,
        ident: int,
        kind: str,
    ) -> None:
        """Seen at virtual time *now* and wall time *wall* in thread *ident*,
        blocked for *timeout* seconds in a wait of *kind* (see
        :func:`._frames.blocked_on`, which gives *token*)."""
        # Held, not only compared: a Condition's waiter lock kept alive
        # cannot be freed and its id reused by the thread's next wait.
        self.token = token
        self.timeout = timeout
        #: Virtual time the clock may reach while the thread waits.
        self.end = now + timeout
        #: Wall time at which the wait's own timeout runs out.
        self.due = wall + timeout
        #: The thread's CPU time when first seen (joins, where it can be
        #: read to the nanosecond), or ``None``.
        self.cpu = _cpu(ident) if kind == "join" and _PRECISE else None
        # Its CPU time and the wall time at the last look past the timeout.
        self.last: tuple[float, float] | None = None

    def joined_again(self, ident: int, wall: float) -> bool:
        """Whether a thread found in a join like this one, past its timeout,
        is in a new join rather than still waking from this one.

        Nothing in the frame tells one ``join(0.1)`` of a thread from the
        next (a ``while t.is_alive(): t.join(0.1)`` loop).  A blocked thread
        uses no CPU: one that did since it was first seen, and then none
        between two looks while not runnable, has returned and joined anew.
        One look is not enough: a thread that timed out may be asleep again
        waiting for the GIL, on its way back.
        """
        if wall < self.due:
            return False  # the first one has not timed out yet
        if self.cpu is None:
            return wall > self.due + _REJOIN
        if wall > self.due + _REJOIN_LATEST:
            return True
        cpu = _cpu(ident)
        if cpu is None or cpu == self.cpu:
            return False  # not yet woken up
        last, self.last = self.last, (cpu, wall)
        if last is None or last[0] != cpu or wall - last[1] < _MIN_LOOK:
            return False  # it ran since the last look: look again
        stat = _stat(ident)
        return stat is not None and stat[0] != "R"
