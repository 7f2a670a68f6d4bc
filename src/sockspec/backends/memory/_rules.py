"""The installed fault rules of one network, and which of them cover a packet.

:mod:`._faults` defines the rules as values; :class:`RuleSet` is what a
:class:`~sockspec.backends.memory.Network` keeps of them once installed:
each rule's ends resolved against the network (a host, a wire address, a
socket), the bytes a :class:`Reset` rule still lets through per connection,
the work a :class:`Partition` or :class:`BlackHole` holds back until it is
removed, and the seeded random source every rule's draws come from.

The socket modules ask it one question per packet: :meth:`RuleSet.path`
(held, refused, or delayed by how much), :meth:`RuleSet.matching` for the
rules of one kind, :meth:`RuleSet.reset_cut` and :meth:`RuleSet.slow_reader`.
With no rule installed ``handles`` is empty and callers skip the set
altogether, which keeps the data path free of rule code.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeAlias, TypeVar

from ._faults import (
    BlackHole,
    Latency,
    Partition,
    Refuse,
    Reset,
    Rule,
    RuleHandle,
    SlowReader,
    draw,
)
from ._ports import wire_local

if TYPE_CHECKING:
    from ._host import Host
    from ._socket import MemorySocket

__all__ = ["End", "RuleSet"]

#: A kind of rule, for matching that keeps the kind's type.
R = TypeVar("R", bound=Rule)

WireAddr = tuple[int, str]  # (4 or 6, canonical text)
#: One end of a rule, resolved: a host, an address, or ``None`` for any.
End: TypeAlias = "Host | WireAddr | None"


def _end_covers(end: End, host: Host | None, addr: WireAddr | None) -> bool:
    if end is None:
        return True
    if isinstance(end, tuple):
        return addr == end
    return host is end


class RuleSet:
    """The rules installed on one network, oldest first."""

    __slots__ = ("_budget", "_ends", "handles", "held", "rng")

    def __init__(self, rng: random.Random) -> None:
        #: The installed rules, oldest first; empty means no rule code runs.
        self.handles: list[RuleHandle] = []
        #: Work a rule holds back (a segment, a SYN, a handshake's end),
        #: retried when any rule is removed.
        self.held: list[Callable[[], None]] = []
        #: The network's seeded source for every fault decision.
        self.rng = rng
        # Each rule's src, dst and socket, resolved when it was installed.
        self._ends: dict[RuleHandle, tuple[End, End, MemorySocket | None]] = {}
        # (Reset rule, connection) -> bytes it still lets through, -1 once fired.
        self._budget: dict[tuple[RuleHandle, int], int] = {}

    def __contains__(self, handle: object) -> bool:
        return handle in self._ends

    def add(
        self, handle: RuleHandle, src: End, dst: End, sock: MemorySocket | None
    ) -> None:
        """Install *handle* with its ends resolved."""
        self.handles.append(handle)
        self._ends[handle] = (src, dst, sock)

    def remove(self, handle: RuleHandle) -> bool:
        """Uninstall *handle* and retry what was held; False if not installed."""
        if handle not in self._ends:
            return False
        self.handles.remove(handle)
        del self._ends[handle]
        for key in [k for k in self._budget if k[0] is handle]:
            del self._budget[key]
        held, self.held = self.held, []
        for retry in held:
            retry()
        return True

    def covers(
        self,
        handle: RuleHandle,
        src: MemorySocket,
        dst_host: Host,
        dst: WireAddr | None,
        dport: int | None,
        dst_sock: MemorySocket | None,
    ) -> bool:
        """Whether *handle*'s rule covers a packet from *src* to *dst*."""
        rule = handle.rule
        msrc, mdst, msock = self._ends[handle]
        if msock is not None and msock is not src and msock is not dst_sock:
            return False
        if rule.port is not None and rule.port != dport and rule.port != src.port:
            return False
        src_host = src.host
        src_addr = wire_local(src)
        if _end_covers(msrc, src_host, src_addr) and _end_covers(mdst, dst_host, dst):
            return True
        if isinstance(rule, Partition) and not rule.one_way:
            return _end_covers(msrc, dst_host, dst) and _end_covers(
                mdst, src_host, src_addr
            )
        return False

    def matching(
        self,
        kind: type[R],
        src: MemorySocket,
        dst_host: Host,
        dst: WireAddr | None,
        dport: int | None,
        dst_sock: MemorySocket | None,
        dgram: bool,
    ) -> Iterator[tuple[RuleHandle, R]]:
        """Yield the installed rules of *kind* that cover this packet."""
        for handle in self.handles:
            rule = handle.rule
            if (
                isinstance(rule, kind)
                and (rule.datagrams if dgram else rule.streams)
                and self.covers(handle, src, dst_host, dst, dport, dst_sock)
            ):
                yield handle, rule

    def path(
        self,
        src: MemorySocket,
        dst_host: Host,
        dst: WireAddr | None,
        dport: int | None,
        dst_sock: MemorySocket | None,
        dgram: bool,
    ) -> tuple[str, float]:
        """Decide a packet's fate: ``("ok" | "held" | "refused", delay)``."""
        if not self.handles:
            return "ok", 0.0
        verdict = "ok"
        delay = 0.0
        for _, rule in self.matching(Rule, src, dst_host, dst, dport, dst_sock, dgram):
            if isinstance(rule, Partition):
                if src.host is not dst_host:  # a host is never cut from itself
                    verdict = "held"
            elif isinstance(rule, BlackHole):
                verdict = "held"
            elif isinstance(rule, Refuse):
                if verdict == "ok":
                    verdict = "refused"
            elif isinstance(rule, Latency):
                delay += draw(rule.delay, self.rng)
        return verdict, delay

    def holding(
        self,
        src: MemorySocket,
        dst_host: Host,
        dst: WireAddr | None,
        dport: int | None,
        dst_sock: MemorySocket | None,
    ) -> list[Rule]:
        """The rules that hold a stream packet from *src*, as :meth:`path` decides.

        Draws nothing from :attr:`rng`: explaining a deadlock must not
        change a later random decision.
        """
        found: list[Rule] = []
        for handle in self.handles:
            rule = handle.rule
            if not isinstance(rule, (Partition, BlackHole)) or not rule.streams:
                continue
            if isinstance(rule, Partition) and src.host is dst_host:
                continue
            if self.covers(handle, src, dst_host, dst, dport, dst_sock):
                found.append(rule)
        return found

    def any(self, kind: type[Rule], src: MemorySocket, dst: MemorySocket) -> bool:
        """Whether a rule of *kind* covers the stream from *src* to *dst*."""
        for _ in self.matching(
            kind, src, dst.host, wire_local(dst), dst.port, dst, False
        ):
            return True
        return False

    def reset_cut(self, src: MemorySocket, dst: MemorySocket, n: int) -> int:
        """Bytes of *n* that pass before a Reset rule fires, or -1."""
        cut = -1
        for handle, rule in self.matching(
            Reset, src, dst.host, wire_local(dst), dst.port, dst, False
        ):
            key = (handle, min(src.id, dst.id))
            budget = self._budget.setdefault(key, rule.after_bytes)
            if budget < 0:
                continue  # this rule already reset this connection
            if n > budget:
                self._budget[key] = -1
                cut = budget if cut < 0 else min(cut, budget)
            else:
                self._budget[key] = budget - n
        return cut

    def slow_reader(self, sock: MemorySocket) -> float:
        """Seconds a receive on *sock* takes because of SlowReader rules."""
        src = sock.peer or sock
        delay = 0.0
        for _, rule in self.matching(
            SlowReader, src, sock.host, wire_local(sock), sock.port, sock, True
        ):
            delay += draw(rule.delay, self.rng)
        return delay
