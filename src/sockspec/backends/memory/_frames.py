"""What virtual time reads from CPython's internals, all in one place.

The scheduler (:mod:`._sched`) moves the virtual clock when no thread using
the network can run.  Whether a thread can run is not something Python
tells: sockspec reads it from the thread's top frame, through
``sys._current_frames()``, matching the code objects of the
:mod:`threading` functions that block (``Condition.wait``, and the
``Thread.join`` internals, which changed in 3.13) and reading their local
variables (``waiter``, ``timeout``, ``self``).  None of that is a public
interface, so it lives here, behind five names: :func:`idle_codes`,
:func:`blocked_for`, :func:`blocked_on`, :func:`reacquiring` and
:data:`BUSY`.  (Idle
thread-pool workers, which wait in C code, are recognised by
:mod:`._executor`, which checks its own assumptions in the same way.)

Self-check.  The first time the scheduler asks, a helper thread blocks in
``threading.Event().wait()`` and must be classified as idle by exactly the
code the scheduler uses, and another in ``Event().wait(3600)`` as waiting
with that timeout.  On a Python where it is not -- a new version that
moved ``Condition.wait``'s locals, another implementation -- a
:class:`RuntimeWarning` says so once, and :func:`idle_codes` returns an
empty table: every thread that is not waiting on the network then counts as
busy, so virtual time follows wall time (after ``realtime_after``) instead
of jumping while a thread might still act.  Slower, never wrong.
"""

from __future__ import annotations

import sys
import threading
import time
import warnings
from types import CodeType, FrameType
from typing import Any

__all__ = ["BUSY", "blocked_for", "blocked_on", "idle_codes", "reacquiring"]

#: :func:`blocked_for`'s answer for a thread that is in fact runnable.
BUSY = -1.0

_checked: dict[CodeType, str] | None = None
_check_lock = threading.Lock()


def _candidate_codes() -> dict[CodeType, str]:
    """Code objects of the :mod:`threading` functions that block a thread.

    The value says how to tell whether the thread is still blocked there:
    ``"cond"`` (``Condition.wait``) or ``"join"`` (``Thread.join``).
    """
    codes: dict[CodeType, str] = {threading.Condition.wait.__code__: "cond"}
    tstate = getattr(threading.Thread, "_wait_for_tstate_lock", None)
    if tstate is not None:  # Python <= 3.12: join() blocks in here
        codes[tstate.__code__] = "join"
    else:  # Python 3.13+: join() blocks in C directly under Thread.join
        codes[threading.Thread.join.__code__] = "join"
    return codes


def blocked_for(frame: FrameType, kind: str, alive: set[int | None]) -> float | None:
    """How a thread stopped in a threading primitive waits.

    Returns ``None`` (blocked until another thread acts), a wall timeout in
    seconds, or :data:`BUSY` when it is in fact runnable: a notified
    ``Condition.wait`` still shows its frame until the thread gets the CPU,
    and so does ``join()`` on a thread that has ended.
    """
    return blocked_on(frame, kind, alive)[0]


def blocked_on(
    frame: FrameType, kind: str, alive: set[int | None]
) -> tuple[float | None, object]:
    """:func:`blocked_for`, and what tells this wait from the thread's next.

    The second item is ``Condition.wait``'s ``waiter`` lock, made anew for
    every call (so a thread that left a timed wait and entered another
    between two looks is seen to have done so), or for ``join`` the thread
    joined, the same for every call: a caller must tell consecutive joins
    apart by their timeouts and by wall time.
    """
    try:
        f_locals: Any = frame.f_locals
        owner = f_locals.get("self")
        if kind == "cond":
            waiter = f_locals.get("waiter")
            # notify() removes the waiter from the condition's queue.
            if waiter is None or waiter not in owner._waiters:
                return BUSY, None
            token = waiter
        else:
            if f_locals.get("block", True) is False or owner is None:
                return BUSY, None
            if owner.ident not in alive:
                return BUSY, None
            token = owner
        value = f_locals.get("timeout")
    except Exception:  # a frame changing under us: assume it runs
        return BUSY, None
    if value is None:
        return None, token
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return BUSY, None
    return (None if seconds < 0 else seconds), token


def idle_codes() -> dict[CodeType, str]:
    """The blocking code objects, or ``{}`` if this Python failed the self-check.

    The check runs once per process, at the first call.
    """
    global _checked
    codes = _checked
    if codes is None:
        with _check_lock:
            if _checked is None:
                _checked = _self_checked(_candidate_codes())
            codes = _checked
    return codes


def _self_checked(codes: dict[CodeType, str]) -> dict[CodeType, str]:
    """*codes* if a thread in ``Event.wait()`` reads as idle through them."""
    try:
        understood = _idle_in_event_wait(codes)
    except Exception:  # an unknown Python: keep the safe fallback
        understood = False
    if understood:
        return codes
    warnings.warn(
        "sockspec memory network: this Python's threading internals are not "
        "as expected (a thread in Event.wait() does not read as idle), so "
        "virtual time follows wall time whenever a thread using the network "
        "runs or blocks outside it",
        RuntimeWarning,
        stacklevel=2,
    )
    return {}


def _idle_in_event_wait(codes: dict[CodeType, str]) -> bool:
    return _reads_as(codes, None) and _reads_as(codes, 3600.0)


def _reads_as(codes: dict[CodeType, str], timeout: float | None) -> bool:
    """Whether a thread in ``Event().wait(timeout)`` reads as waiting that long."""
    started = threading.Event()
    never = threading.Event()

    def helper() -> None:
        started.set()
        never.wait(timeout)

    thread = threading.Thread(target=helper, name="sockspec-idle-self-check")
    thread.daemon = True
    thread.start()
    try:
        started.wait(5)
        give_up = time.monotonic() + 1.0
        while time.monotonic() < give_up:
            frame = sys._current_frames().get(thread.ident or 0)
            kind = codes.get(frame.f_code) if frame is not None else None
            idle = kind is not None and (
                frame is not None
                and blocked_for(frame, kind, {thread.ident}) == timeout
            )
            frame = None  # hold no other thread's frame
            if idle:
                return True
            time.sleep(0.001)
        return False
    finally:
        never.set()
        thread.join(5)


_RESTORE: CodeType | None = getattr(
    getattr(threading.Condition, "_acquire_restore", None), "__code__", None
)
_EVENT_WAIT = threading.Event.wait.__code__


def reacquiring(frame: FrameType) -> bool:
    """Whether *frame* is a notified ``Condition.wait`` taking back a lock
    that nobody holds, or an ``Event``'s.

    Such a thread only waits for the CPU, or for the GIL, however long a
    loaded machine makes that: an ``Event``'s lock is held only inside
    its own short methods (``Thread.start()`` waits on one).  A
    ``Condition`` over a plain ``Lock`` re-takes it in Python code; over an
    ``RLock`` the same happens in C, in the caller's frame.
    """
    if _RESTORE is None or frame.f_code is not _RESTORE:
        return False
    try:
        waiting = frame.f_back
        caller = waiting.f_back if waiting is not None else None
        if caller is not None and caller.f_code is _EVENT_WAIT:
            return True
        lock: Any = frame.f_locals["self"]._lock
        return not lock.locked()
    except Exception:  # a frame changing under us, or another lock type
        return False
