"""What the seeded schedule reads about threads from Linux's ``/proc``.

The schedule (:mod:`._turns`) must tell a thread blocked outside the
network (``time.sleep``, real I/O, a lock only a waiting thread would
release) from one that is merely slow to run: waiting for the CPU, for the
GIL, or for a lock a running thread will release.  The OS knows: a
thread's state and CPU time (``stat``, ``schedstat``), the system call it
sleeps in (``syscall``), how many threads the machine has runnable
(``loadavg``).  Elsewhere each answer is "cannot tell", and the schedule
falls back to its wall-clock budget.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import TypeAlias

__all__ = [
    "FUTEX",
    "GIL",
    "LOCK",
    "PRECISE",
    "Usage",
    "any_ran",
    "asleep_on",
    "cpu",
    "crowding",
    "state",
    "usage",
]

# Read, never written: the threads threading knows, by ident.
_active: dict[int, threading.Thread] = threading._active  # type: ignore[attr-defined]

try:
    _TICK = 1.0 / os.sysconf("SC_CLK_TCK")
except (AttributeError, ValueError, OSError):  # pragma: no cover - not Linux
    _TICK = 0.01
# schedstat gives a thread's CPU time in nanoseconds, stat only in clock
# ticks (10 ms): a short window needs the former.
PRECISE = os.path.exists(f"/proc/self/task/{threading.get_native_id()}/schedstat")
#: What a thread used of the CPU: seconds, and how many times it was run
#: (Linux's ``schedstat``; -1 where only ``stat``'s ticks are known).
Usage: TypeAlias = "tuple[float, int] | None"
#: CPU seconds another thread must use within a window to count as
#: running (besides any new time slice: one that kept its core all along
#: has none).
_RAN = 0.0005


def any_ran(now: dict[int, Usage], before: dict[int, Usage], silent: int) -> bool:
    """Whether a thread other than *silent* started, ended, came to wait
    for the turn, was run, or is runnable since *before* was taken
    (*now*).

    Any run counts, however short: a thread waiting for the GIL wakes every
    switch interval to ask for it, and on a machine with ten runnable
    threads per core it may get only microseconds of CPU in a window.
    """
    if before.keys() - now.keys() - {silent}:
        return True  # ended, or came to wait for the turn, meanwhile
    for ident, use in now.items():
        if ident == silent:
            continue
        if ident not in before:
            return True  # started meanwhile
        use0 = before[ident]
        if use is None or use0 is None:
            return True
        if use[0] - use0[0] > _RAN or use[1] != use0[1]:
            return True  # ran on: no new time slice, but CPU time
        found = state(ident)
        if found is not None and found[0] == "R":
            return True
    return False


def _tid(ident: int) -> int | None:
    thread = _active.get(ident)
    return getattr(thread, "native_id", None)


def state(ident: int) -> tuple[str, float] | None:
    """Scheduler state (``R`` runnable) and CPU seconds of thread *ident*.

    Read from ``/proc`` (Linux); ``None`` elsewhere or when it ended.  The
    CPU time is in clock ticks here; :func:`cpu` is precise where it can be.
    """
    tid = _tid(ident)
    if tid is None:
        return None
    try:
        with open(f"/proc/self/task/{tid}/stat", "rb") as f:
            data = f.read()
        # The thread's name, in parentheses, may hold anything: the fields
        # (state, ..., utime, stime) start after the last parenthesis.
        fields = data[data.rindex(b")") + 2 :].split()
        return fields[0].decode(), (int(fields[11]) + int(fields[12])) * _TICK
    except (OSError, ValueError, IndexError):
        return None


_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


# The system call a thread asleep on a lock (or the GIL) is in: futex.
FUTEX: bytes | None = {"x86_64": b"202", "aarch64": b"98", "riscv64": b"98"}.get(
    os.uname().machine if hasattr(os, "uname") else ""
)
# What asleep_on() says: on the GIL (or cannot tell), on another lock.
GIL = "gil"
LOCK = "lock"
_statics: list[tuple[int, int]] | None = None


def _interpreter_statics() -> list[tuple[int, int]]:
    """Address ranges of the interpreter's own writable data.

    The GIL lives there (``_PyRuntime``); threading locks are allocated
    on the heap.  Read once from ``/proc/self/maps``.
    """
    global _statics
    if _statics is None:
        found: list[tuple[int, int]] = []
        exe = os.path.realpath(sys.executable)
        try:
            with open("/proc/self/maps", encoding="utf-8") as f:
                for line in f:
                    fields = line.split()
                    if len(fields) < 6 or not fields[1].startswith("rw"):
                        continue
                    path = fields[5]
                    if path == exe or os.path.basename(path).startswith("libpython"):
                        lo, hi = fields[0].split("-")
                        found.append((int(lo, 16), int(hi, 16)))
        except (OSError, ValueError):
            pass
        _statics = found
    return _statics


def asleep_on(ident: int) -> str:
    """What thread *ident*, not runnable, sleeps on: :data:`GIL` (it may be
    the GIL, or that cannot be told), :data:`LOCK` (another lock), or
    ``""`` (something else: ``time.sleep``, ``select``, a read).

    Linux's ``/proc/.../syscall`` names the system call a thread is
    blocked in and its arguments; a lock is a ``futex``, whose address
    tells the GIL, in the interpreter's static data, from a threading lock.
    """
    tid = _tid(ident)
    if FUTEX is None or tid is None:
        return GIL
    try:
        with open(f"/proc/self/task/{tid}/syscall", "rb") as f:
            call = f.read().split()
        if call[0] != FUTEX:
            return GIL if call[0] == b"running" else ""
        address = int(call[1], 16)
    except (OSError, IndexError, ValueError):
        return GIL
    statics = _interpreter_statics()
    if not statics or any(lo <= address < hi for lo, hi in statics):
        return GIL
    return LOCK


def crowding() -> float:
    """Runnable threads on the machine per core this process may use, at
    least 1: how much longer than its CPU time a busy thread takes in wall
    time.  Linux's ``/proc/loadavg`` counts them at this moment (the
    caller included); 1 elsewhere."""
    try:
        with open("/proc/loadavg", "rb") as f:
            running = int(f.read().split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return 1.0
    return max(1.0, running / _CORES)


def usage(ident: int) -> Usage:
    """CPU seconds thread *ident* used and how many times it was run."""
    if PRECISE:
        tid = _tid(ident)
        if tid is None:
            return None
        try:
            with open(f"/proc/self/task/{tid}/schedstat", "rb") as f:
                fields = f.read().split()
            return int(fields[0]) * 1e-9, int(fields[2])
        except (OSError, ValueError, IndexError):
            return None
    found = state(ident)
    return None if found is None else (found[1], -1)


def cpu(ident: int) -> float | None:
    """CPU seconds thread *ident* has used, to the nanosecond on Linux."""
    use = usage(ident)
    return None if use is None else use[0]
