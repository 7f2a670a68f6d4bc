"""Readiness: the Poller engine of the memory network, and wake-ups.

A socket tells the threads waiting on it and the selectors it is
registered with when its state changes (:func:`notify`); a selector then
evaluates only the sockets marked dirty, plus the ones found ready last
time, so a poll costs in proportion to the activity, not to the
registrations.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING

from ...api.backend import SelectorImpl, SocketImpl
from ...api.constants import EVENT_READ, EVENT_WRITE, Event
from ._sched import Waiter

if TYPE_CHECKING:
    from ._network import Network
    from ._socket import MemorySocket

__all__ = ["MemorySelector", "notify"]

_EVENTS = {
    0: Event(0),
    1: EVENT_READ,
    2: EVENT_WRITE,
    3: EVENT_READ | EVENT_WRITE,
}


def notify(sock: MemorySocket) -> None:
    """Wake threads and Pollers watching *sock* (lock held)."""
    wake = sock.sched.wake
    for w in sock.waiters:
        wake(w)
    for sel in sock.sels:
        sel.dirty[sock] = None
        for w in sel.waiters:
            wake(w)


class MemorySelector(SelectorImpl):
    """Readiness over memory sockets, level-triggered like epoll.

    Sockets tell their selectors when their state changes (``_dirty``);
    :meth:`select` evaluates only those, plus the ones found ready last time,
    so a poll costs in proportion to the activity, not to the registrations.
    Every thread in :meth:`select` is woken by a change, and by
    :meth:`register` and :meth:`modify` from any thread, as epoll wakes
    every ``epoll_wait`` for a level-triggered event.
    """

    __slots__ = ("closed", "dirty", "net", "regs", "waiters")

    def __init__(self, network: Network) -> None:
        self.closed = False
        self.net = network
        self.regs: dict[MemorySocket, tuple[int, Hashable]] = {}
        self.dirty: dict[MemorySocket, None] = {}
        self.waiters: list[Waiter] = []  # one per thread in select()
        network._sched.enter()

    def _check(self, sock: SocketImpl) -> MemorySocket:
        from ._socket import MemorySocket  # _socket imports this module

        if not isinstance(sock, MemorySocket) or sock.net is not self.net:
            raise ValueError("sock belongs to another memory network")
        return sock

    def register(self, sock: SocketImpl, events: Event, token: Hashable) -> None:
        msock = self._check(sock)
        sched = self.net._sched
        with sched.lock:
            sched.join()
            self.regs[msock] = (int(events), token)
            msock.sels.append(self)
            self._changed(msock)

    def modify(self, sock: SocketImpl, events: Event, token: Hashable) -> None:
        msock = self._check(sock)
        sched = self.net._sched
        with sched.lock:
            sched.join()
            self.regs[msock] = (int(events), token)
            self._changed(msock)

    def _changed(self, sock: MemorySocket) -> None:
        """*sock*'s registration changed: threads in select() look again."""
        self.dirty[sock] = None
        for w in self.waiters:
            self.net._sched.wake(w)

    def unregister(self, sock: SocketImpl) -> None:
        from ._socket import MemorySocket  # _socket imports this module

        if not isinstance(sock, MemorySocket):
            return
        with self.net._sched.lock:
            if self.regs.pop(sock, None) is not None:
                sock.sels.remove(self)
            self.dirty.pop(sock, None)

    def _scan(self) -> list[tuple[Hashable, Event]]:
        dirty = self.dirty
        if not dirty:
            return []
        keep: dict[MemorySocket, None] = {}
        self.dirty = keep
        regs = self.regs
        out = []
        for sock in dirty:
            reg = regs.get(sock)
            if reg is None:
                continue
            ready = sock.selector_events() & reg[0]
            if ready:
                out.append((reg[1], _EVENTS[ready]))
                keep[sock] = None  # level-triggered: look again next time
        return out

    def select(self, timeout: float | None) -> list[tuple[Hashable, Event]]:
        sched = self.net._sched
        with sched.lock:
            sched.join()
            deadline = None if timeout is None else sched.now + timeout
            while True:
                if self.closed:
                    return []  # the facade reports the close
                ready = self._scan()
                if ready:
                    return ready
                if timeout == 0:
                    sched.spin()
                    return self._scan()
                if deadline is not None and sched.now >= deadline:
                    return []
                w = Waiter(sched.lock, "Poller.poll()", deadline, self.describe)
                self.waiters.append(w)
                try:
                    sched.block(w)
                finally:
                    self.waiters.remove(w)

    def describe(self) -> str:
        if not self.regs:
            return "an empty Poller (no socket registered: nothing can make it ready)"
        socks = ", ".join(s.describe() for s in self.regs)
        return f"a Poller watching {socks}"

    def close(self) -> None:
        with self.net._sched.lock:
            self.closed = True
            for w in self.waiters:
                self.net._sched.wake(w)
            for sock in self.regs:
                if self in sock.sels:
                    sock.sels.remove(self)
            self.regs.clear()
            self.dirty.clear()
