"""Telling an idle :class:`~concurrent.futures.ThreadPoolExecutor` worker.

The scheduler (:mod:`._sched`) counts a thread blocked in a
:mod:`threading` primitive as idle by the primitive's frame.  An executor
worker waiting for work has no such frame: it waits in
``SimpleQueue.get()``, C code, so its top frame is
``concurrent.futures.thread._worker`` stopped on the line of
``work_queue.get(block=True)``.  Counting it busy made virtual time fall
back to wall time whenever a test used a thread pool.

That shape is a CPython internal, so it is checked when first needed:
statically (exactly one line calls ``get``; where the idle semaphore is
released, before or after it) and by watching a real worker of a one-thread
pool stop on that line.  On a Python where anything differs, workers count
as busy again: the wall-time fallback, never a wrong jump.

A worker on that line is idle only if no work is waiting for it.  Work in
the queue is visible (``empty()``).  Since CPython 3.13 ``put()`` may hand
an item straight to a blocked ``get()``, leaving the queue empty while the
worker has not yet run; there the worker releases the executor's idle
semaphore before each wait and ``submit()`` takes one back, so the workers
of one executor on that line are idle only if the semaphore still counts
them all.  (Between ``put()`` and taking the semaphore back, the submitting
thread is running, so the clock cannot move then either.)  ``shutdown()``
hands out its sentinels without taking the semaphore back, so the workers
of an executor shutting down count as running.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from types import CodeType, FrameType
from typing import Any

# Bound once: sockspec.compat.patch(clock=True) replaces time.monotonic and
# time.sleep with the virtual clock; this self-check measures wall time.
_wall = time.monotonic
_sleep = time.sleep

__all__ = ["all_idle", "waiting_for_work"]


@dataclasses.dataclass(frozen=True)
class _Shape:
    """Where this Python's executor worker waits, and how to count it."""

    code: CodeType
    lines: frozenset[int]
    #: Whether the worker releases the idle semaphore before each wait.
    counted: bool


_shape: _Shape | None = None
_looked = False


def _worker_shape() -> _Shape | None:
    """This Python's worker shape, checked once; ``None`` if not understood."""
    global _shape, _looked
    if not _looked:
        _looked = True
        try:
            _shape = _find_shape()
        except Exception:  # an unknown Python: keep the safe fallback
            _shape = None
    return _shape


def _find_shape() -> _Shape | None:
    import dis
    from concurrent.futures import ThreadPoolExecutor, thread

    code = thread._worker.__code__
    if not {"work_queue", "executor_reference"} <= set(code.co_varnames):
        return None
    spans = list(code.co_lines())

    def lines_of(attribute: str) -> set[int | None]:
        return {
            line
            for ins in dis.get_instructions(code)
            if ins.opname in ("LOAD_ATTR", "LOAD_METHOD") and ins.argval == attribute
            for start, end, line in spans
            if start <= ins.offset < end
        }

    waits = lines_of("get")
    if len(waits) != 1 or None in waits:
        return None
    wait = min(line for line in waits if line is not None)
    counted = any(line is not None and line < wait for line in lines_of("release"))
    if not counted and sys.version_info >= (3, 13):
        return None  # items may be handed over unseen, and nothing counts them
    shape = _Shape(code, frozenset({wait}), counted)
    # Watch a real worker go idle where the shape says it will.
    pool = ThreadPoolExecutor(1, thread_name_prefix="sockspec-self-check")
    try:
        ident = pool.submit(threading.get_ident).result(timeout=5)
        give_up = _wall() + 1.0
        while _wall() < give_up:
            frame = sys._current_frames().get(ident)
            owner = _waiting(frame, shape) if frame is not None else None
            frame = None
            if owner is not None and (not counted or all_idle(owner, 1)):
                return shape
            _sleep(0.001)
        return None
    finally:
        pool.shutdown(wait=True)


def _waiting(frame: FrameType, shape: _Shape) -> object | None:
    if frame.f_code is not shape.code or frame.f_lineno not in shape.lines:
        return None
    try:
        f_locals: Any = frame.f_locals
        if not f_locals["work_queue"].empty():
            return None  # it takes that work at once
        owner: object = f_locals["executor_reference"]()
    except Exception:  # a frame changing under us: assume it runs
        return None
    if owner is None or not shape.counted:
        return frame.f_code  # nothing to count against: the queue told all
    if getattr(owner, "_shutdown", False):
        # shutdown() hands each worker a sentinel without taking the idle
        # semaphore back: one on the wait line may be about to exit, and a
        # thread joining it (asyncio's shutdown_default_executor) will act.
        return None
    return owner


def waiting_for_work(frame: FrameType) -> object | None:
    """If *frame* is an executor worker waiting for work, what to count it by.

    Returns ``None`` when the thread may be running; else an object that
    :func:`all_idle` checks together with the other workers of the same
    executor.
    """
    shape = _worker_shape()
    return None if shape is None else _waiting(frame, shape)


def all_idle(owner: object, waiting: int) -> bool:
    """Whether *waiting* workers of *owner* on the wait line are all idle.

    With the idle semaphore, each idle worker released it once and each
    item handed over took one back: fewer than *waiting* means some worker
    there has work it has not started.
    """
    semaphore = getattr(owner, "_idle_semaphore", None)
    if semaphore is None:
        return True  # no count kept (see _waiting): the queue was empty
    value = getattr(semaphore, "_value", None)
    return isinstance(value, int) and value >= waiting
