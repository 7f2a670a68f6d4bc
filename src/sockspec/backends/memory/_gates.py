"""Gates: what a thread waiting on the memory network sleeps on.

A gate is shut while its thread must wait and opened by the thread that
lets it go on.  Two kinds exist, with the same three calls as a lock
(``acquire(blocking, timeout)``, ``release()``, ``locked()``):

* the thread's **lock** (:func:`gate`): a :mod:`_thread` lock made once per
  thread and kept locked.  Releasing it is cheap but wakes the waiting
  thread while the releasing one still holds the GIL: the woken thread
  finds the GIL taken and sleeps again until the releasing thread lets it
  go, two or three context switches for one hand-over;
* a **descriptor** (:class:`FdGate`), an ``eventfd`` (a pipe where there is
  none).  Opening it is a ``write(2)`` made with the GIL let go, so the
  woken thread can take the GIL at once, as a thread woken by a real
  socket's ``send`` does; waiting is ``poll(2)`` with the timeout, then a
  ``read(2)`` that empties it (the read alone when it was opened already).

The free schedule uses the locks: there a thread is woken under the
network's lock, and a woken thread that took the GIL would only find that
lock taken.  The seeded schedule (:mod:`._turns`) hands the turn over
after letting the network's lock go, so each of its networks gives a few of
the threads that use it a descriptor gate (:data:`FD_GATES`, the others
keep their lock): a two-thread exchange wakes each end once per message.

A descriptor gate is closed by the garbage collector only, when nothing
refers to it any more: the network dropped it (its thread ended, no thread
waits on the network any more, or the network closed) and no thread is
inside a wait or an opening of it.  So no descriptor is ever written after
it was closed, nor its number taken by another file meanwhile.  The descriptors
are close-on-exec, not sockets, and made afresh in a child after
``fork()`` (the child's gates must not wake its parent's threads).
"""

from __future__ import annotations

import _thread
import os
import select
import sys
import threading
import weakref
from typing import Protocol

__all__ = [
    "FD_GATES",
    "FdGate",
    "Gate",
    "fd_gates",
    "gate",
    "on_thread_end",
    "open_gate",
]

#: How many of the threads using one seeded network get a descriptor gate
#: (ended threads' gates are dropped before this is reached); the others
#: wait on their lock.  Descriptors are a limited resource, and the cost
#: they save is a two-thread hand-over's.
FD_GATES = 8

_local = threading.local()
_EVENTFD = hasattr(os, "eventfd")
_POST = (1).to_bytes(8, sys.byteorder)  # an eventfd write adds an 8-byte count
# Bound at import: sockspec.compat.patch() replaces select.poll with its own.
_poll = getattr(select, "poll", None)
_POLLIN = getattr(select, "POLLIN", 1)
if _poll is not None and getattr(_poll, "__module__", None) != "select":
    _poll = None  # imported under a compat patch: the real one is out of reach


class Gate(Protocol):
    """What both kinds of gate offer: a lock's calls."""

    def acquire(self, blocking: bool = ..., timeout: float = ...) -> bool:
        """Wait until opened (or *timeout*); whether it was."""

    def release(self) -> None:
        """Open it."""

    def locked(self) -> bool:
        """Whether opening it can be needed."""


def gate() -> _thread.LockType:
    """The calling thread's lock gate: locked when shut.

    One per thread for its whole life, shared by every network: a thread
    waits in one place at a time, and every wait re-checks what it waits
    for, so a release left over from an earlier wait costs one more look.
    """
    try:
        g: _thread.LockType = _local.gate
    except AttributeError:
        g = _local.gate = _thread.allocate_lock()
        g.acquire()
    return g


def open_gate(g: Gate) -> None:
    """Let the thread waiting on *g* (or its next wait) go on."""
    try:
        if g.locked():
            g.release()
    except RuntimeError:
        pass  # opened at the same moment under another network's lock


class _Dropper(Protocol):
    """What keeps a thread's descriptor gate: told when the thread ends."""

    def drop(self, ident: int) -> None:
        """Forget the gate of thread *ident*."""


class _Ends:
    """Held in a thread's :mod:`threading` local storage, which is freed when
    the thread ends: then it tells the networks that gave the thread a
    descriptor gate to drop it (a test counting descriptors while its
    network is open must not see the gate of a thread that ended)."""

    __slots__ = ("holders", "ident")

    def __init__(self) -> None:
        self.ident = threading.get_ident()
        self.holders: weakref.WeakSet[_Dropper] = weakref.WeakSet()

    def __del__(self) -> None:
        for holder in list(self.holders):
            holder.drop(self.ident)


def on_thread_end(holder: _Dropper) -> None:
    """Have *holder* drop the calling thread's gate when the thread ends."""
    try:
        ends: _Ends = _local.ends
    except AttributeError:
        ends = _local.ends = _Ends()
    ends.holders.add(holder)


def fd_gates() -> bool:
    """Whether descriptor gates can be made here (``poll(2)`` and a pipe)."""
    return _poll is not None


# Every descriptor gate alive, to give each new descriptors in a forked child.
_alive: weakref.WeakSet[FdGate] = weakref.WeakSet()


class FdGate:
    """A gate made of an ``eventfd`` (or a pipe): opened with the GIL let go.

    Raises :class:`OSError` when no descriptor can be had (the caller then
    uses the thread's lock).
    """

    __slots__ = ("__weakref__", "_poller", "_r", "_w", "posted")

    def __init__(self) -> None:
        self._r = self._w = -1
        #: Whether an opening was written and not yet taken: a wait then
        #: takes it with one read(2), without poll(2).
        self.posted = False
        self._open()
        _alive.add(self)

    def _open(self) -> None:
        if _poll is None:
            raise OSError("no poll(2) here")
        if _EVENTFD:
            self._r = self._w = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        else:
            self._r, self._w = os.pipe()  # not inheritable by default
            os.set_blocking(self._r, False)
            os.set_blocking(self._w, False)
        self._poller = _poll()
        self._poller.register(self._r, _POLLIN)

    def locked(self) -> bool:
        """Always true: opening it twice leaves it open once."""
        return True

    def release(self) -> None:
        """Open the gate: ``write(2)``, during which the GIL is let go."""
        self.posted = True
        if self._w < 0:
            return  # a forked child that had no descriptor left: waits time out
        try:
            os.write(self._w, _POST)
        except BlockingIOError:
            pass  # a pipe full of openings: open already

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Wait until opened, at most *timeout* seconds (none if negative);
        whether it was.  Non-blocking: clear an opening left over."""
        if self.posted:
            # Opened already (a thread that handed the turn over gets the
            # GIL back once the next one let it go, which it does when it
            # hands the turn back): one read(2), no poll(2).
            self.posted = False
            try:
                os.read(self._r, 64)
                return True
            except BlockingIOError:
                pass  # the opening's write(2) is still on its way
        if not blocking:
            return False
        if self._poller.poll(None if timeout < 0 else timeout * 1000.0):
            self.posted = False
            try:
                os.read(self._r, 64)
            except BlockingIOError:
                return False  # consumed by a clear racing with it
            return True
        return False

    def _renew(self) -> None:
        """In a forked child: descriptors of its own (the parent keeps its)."""
        self._close()
        self.posted = False
        try:
            self._open()
        except OSError:
            # No descriptor left: nothing opens it, its waits time out.
            self._poller = _poll()  # type: ignore[misc]

    def _close(self) -> None:
        r, w = self._r, self._w
        self._r = self._w = -1
        for fd in {r, w}:
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass  # closed behind our back: nothing to free

    def __del__(self) -> None:
        self._close()


def _renew_all() -> None:
    for g in list(_alive):
        g._renew()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_renew_all)
