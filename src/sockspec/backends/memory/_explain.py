"""What holds a deadlocked network still: the words of a Deadlock message.

When every thread waits and no timer is due, the only things that could
still move are held by fault rules (a :class:`Partition`, a
:class:`BlackHole`): stream bytes in flight and connection requests that
wait for the rule to go.  This module finds them, without drawing from the
network's random streams, so explaining a deadlock changes no later draw.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from ._faults import Rule
from ._inspect import describe, state_name
from ._ports import wire_local

if TYPE_CHECKING:
    from ._host import Host
    from ._network import Network
    from ._socket import MemorySocket

__all__ = ["held_by_rules", "rule_text"]


def rule_text(rule: Rule) -> str:
    """A rule as its class and the fields that differ from the defaults."""
    parts = []
    for field in dataclasses.fields(rule):
        value = getattr(rule, field.name)
        if field.default is not dataclasses.MISSING and value == field.default:
            continue
        parts.append(f"{field.name}={value!r}")
    return f"{type(rule).__name__}({', '.join(parts)})"


def _holding(
    net: Network,
    src: MemorySocket,
    dst_host: Host,
    dst: tuple[int, str] | None,
    dport: int | None,
    dst_sock: MemorySocket | None,
) -> list[str]:
    """The rules that hold a stream packet from *src*, as text."""
    return [
        rule_text(r) for r in net.rule_set.holding(src, dst_host, dst, dport, dst_sock)
    ]


def held_by_rules(net: Network) -> list[str]:
    """One line per stream or connect held by a rule (lock held)."""
    lines = []
    for sock in list(net.sockets.values()):
        inflight = getattr(sock, "inflight", None) or ()  # made on first use
        held = sum(len(seg[2]) for seg in inflight if seg[0] is None)
        sender = sock.peer
        if held and sender is not None:
            rules = _holding(net, sender, sock.host, wire_local(sock), sock.port, sock)
            lines.append(
                f"{held} bytes from {describe(sender)} to {describe(sock)} "
                f"held by {', '.join(rules) or 'a rule'}"
            )
        if state_name(sock) != "SYN_SENT" or not isinstance(sock.remote, tuple):
            continue
        v, addr = sock.remote
        dst_host = net.route(sock.host, v, addr)
        if dst_host is None:
            continue
        rules = _holding(net, sock, dst_host, sock.remote, sock.rport, None)
        if not rules and sender is not None:  # the answer is held on its way back
            rules = _holding(net, sender, sock.host, wire_local(sock), sock.port, sock)
        if rules:
            lines.append(f"connect of {describe(sock)} held by {', '.join(rules)}")
    return lines
