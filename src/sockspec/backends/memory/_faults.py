"""Fault rules: what can go wrong on the memory network, and where.

A rule is a small frozen value: *where* it applies (``src``, ``dst``,
``port``, ``socket``; ``None`` matches anything) and *what* it does.  It is
installed with :meth:`Network.add_rule`, which validates it against the
network (an unknown host is a :class:`ValueError` naming the field) and
returns a :class:`RuleHandle` whose :meth:`~RuleHandle.remove` takes it out
again; handles are context managers too.

Every random decision (a latency drawn from a distribution, whether a
datagram is lost) uses the network's seeded random source, so one seed gives
one run.  Rules only ever delay, drop, duplicate, reorder, cut or reset:
none of them changes a byte.
"""

from __future__ import annotations

import abc
import dataclasses
import math
import random
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._network import Network

__all__ = [
    "BlackHole",
    "Distribution",
    "Duplicate",
    "Exponential",
    "Fixed",
    "Latency",
    "Loss",
    "Normal",
    "Partition",
    "Refuse",
    "Reorder",
    "Reset",
    "Rule",
    "RuleHandle",
    "ShortReads",
    "ShortWrites",
    "SlowReader",
    "Uniform",
]


def _number(value: object, field: str, *, minimum: float = 0.0) -> float:
    """Check a finite number >= *minimum*; the message names *field*."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{field} must be a number, got {type(value).__name__}")
    if math.isnan(value) or math.isinf(value) or value < minimum:
        raise ValueError(f"{field} must be a finite number >= {minimum}, got {value!r}")
    return float(value)


def _rate(value: object, field: str) -> float:
    rate = _number(value, field)
    if rate > 1.0:
        raise ValueError(f"{field} must be between 0 and 1, got {value!r}")
    return rate


# -- distributions ------------------------------------------------------------------


class Distribution(abc.ABC):
    """A source of non-negative delays in seconds, drawn from the network's RNG."""

    __slots__ = ()

    @abc.abstractmethod
    def sample(self, rng: random.Random) -> float:
        """Draw one delay (seconds, >= 0)."""


@dataclasses.dataclass(frozen=True)
class Fixed(Distribution):
    """Always the same delay."""

    #: The delay in seconds.
    seconds: float

    def __post_init__(self) -> None:
        _number(self.seconds, "seconds")

    def sample(self, rng: random.Random) -> float:
        """Return :attr:`seconds`."""
        return float(self.seconds)


@dataclasses.dataclass(frozen=True)
class Uniform(Distribution):
    """A delay drawn uniformly from ``[low, high]``."""

    #: Smallest delay.
    low: float
    #: Largest delay.
    high: float

    def __post_init__(self) -> None:
        _number(self.low, "low")
        _number(self.high, "high")
        if self.high < self.low:
            raise ValueError(
                f"high must be >= low, got low={self.low} high={self.high}"
            )

    def sample(self, rng: random.Random) -> float:
        """Draw from the interval."""
        return rng.uniform(self.low, self.high)


@dataclasses.dataclass(frozen=True)
class Exponential(Distribution):
    """An exponentially distributed delay with the given mean."""

    #: Mean delay in seconds.
    mean: float

    def __post_init__(self) -> None:
        _number(self.mean, "mean")

    def sample(self, rng: random.Random) -> float:
        """Draw one delay."""
        return rng.expovariate(1.0 / self.mean) if self.mean > 0 else 0.0


@dataclasses.dataclass(frozen=True)
class Normal(Distribution):
    """A normally distributed delay, clipped at zero."""

    #: Mean delay in seconds.
    mean: float
    #: Standard deviation in seconds.
    stddev: float

    def __post_init__(self) -> None:
        _number(self.mean, "mean")
        _number(self.stddev, "stddev")

    def sample(self, rng: random.Random) -> float:
        """Draw one delay (never negative)."""
        return max(0.0, rng.gauss(self.mean, self.stddev))


DelaySpec = float | int | Distribution


def _delay(value: object, field: str) -> Distribution:
    if isinstance(value, Distribution):
        return value
    return Fixed(_number(value, field))


def draw(delay: DelaySpec, rng: random.Random) -> float:
    """One delay in seconds from a rule's ``delay`` field.

    A rule normalises the field to a :class:`Distribution` when it is made;
    the field's type still admits the plain number a user may pass.
    """
    if isinstance(delay, Distribution):
        return delay.sample(rng)
    return float(delay)


# -- rules --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Rule:
    """Where a fault applies.  Subclasses say what it does.

    :param src: a host name, a :class:`~sockspec.backends.memory.Host` or an
        IP address the traffic comes from (``None``: any).
    :param dst: the same for where it goes.
    :param port: the destination port (``None``: any).
    :param socket: a :class:`sockspec.Socket` whose traffic (either
        direction) is affected (``None``: any).
    """

    src: Any = dataclasses.field(default=None, kw_only=True)
    dst: Any = dataclasses.field(default=None, kw_only=True)
    port: int | None = dataclasses.field(default=None, kw_only=True)
    socket: Any = dataclasses.field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        if self.port is not None and (
            isinstance(self.port, bool)
            or not isinstance(self.port, int)
            or not 0 <= self.port <= 65535
        ):
            raise ValueError(f"port must be None or an int 0..65535, got {self.port!r}")

    #: Whether the rule acts on datagrams, on streams, on both.
    datagrams = True
    streams = True


@dataclasses.dataclass(frozen=True)
class Latency(Rule):
    """Delay every packet by *delay* seconds (a number or a distribution).

    Stream data keeps its order (TCP does); datagrams with a random delay
    may overtake each other, as on a real network.
    """

    delay: DelaySpec = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "delay", _delay(self.delay, "delay"))


@dataclasses.dataclass(frozen=True)
class _DatagramRate(Rule):
    """A fault that hits each datagram with probability *rate*."""

    rate: float = 0.0
    streams = False

    def __post_init__(self) -> None:
        super().__post_init__()
        _rate(self.rate, "rate")


@dataclasses.dataclass(frozen=True)
class Loss(_DatagramRate):
    """Drop each datagram with probability *rate*."""


@dataclasses.dataclass(frozen=True)
class Duplicate(_DatagramRate):
    """Deliver each datagram twice with probability *rate*."""


@dataclasses.dataclass(frozen=True)
class Reorder(_DatagramRate):
    """Hold back each datagram with probability *rate* by *delay* seconds.

    Datagrams sent during that time overtake it.
    """

    delay: DelaySpec = 0.001

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "delay", _delay(self.delay, "delay"))


@dataclasses.dataclass(frozen=True)
class Partition(Rule):
    """Cut the path from ``src`` to ``dst`` (both ways unless *one_way*).

    Datagrams are lost; stream data, connection attempts and closes are held
    (TCP keeps retransmitting) and go through once the partition is removed
    (healed), or a blocking call times out first.
    """

    one_way: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.one_way, bool):
            raise TypeError(f"one_way must be a bool, got {self.one_way!r}")


@dataclasses.dataclass(frozen=True)
class Reset(Rule):
    """Reset matching connections once *after_bytes* more bytes crossed them.

    ``after_bytes=0`` resets at the next byte sent.  Both ends then see
    :class:`~sockspec.ConnectionReset`, as with a middlebox that kills the
    connection.
    """

    after_bytes: int = 0
    datagrams = False

    def __post_init__(self) -> None:
        super().__post_init__()
        _number(self.after_bytes, "after_bytes")
        if not isinstance(self.after_bytes, int):
            raise TypeError("after_bytes must be an int")


@dataclasses.dataclass(frozen=True)
class Refuse(Rule):
    """Refuse connections to ``dst`` (and ``port``), as if nothing listened.

    Connected datagram sockets get ``ConnectionRefused`` on their next call,
    as with an ICMP port-unreachable.
    """


@dataclasses.dataclass(frozen=True)
class BlackHole(Rule):
    """Let packets to ``dst`` (and ``port``) vanish without an answer.

    A connect then waits until its timeout (or Linux's 127 s SYN give-up);
    datagrams are dropped.
    """


@dataclasses.dataclass(frozen=True)
class ShortReads(Rule):
    """Make each stream receive return a random, non-empty prefix of what is there.

    Exercises code that assumes one ``send`` arrives as one ``receive``.
    """

    datagrams = False


@dataclasses.dataclass(frozen=True)
class ShortWrites(Rule):
    """Make each stream send accept a random, non-empty prefix of the data.

    A blocking send still sends everything, in random pieces; a
    non-blocking one returns the short count, as the OS may.
    """

    datagrams = False


@dataclasses.dataclass(frozen=True)
class SlowReader(Rule):
    """Make each receive on matching sockets take *delay* seconds first.

    The receiving application is slow, so senders fill the buffers and feel
    backpressure.  Matches by ``socket``, or by the receiving host (``dst``).
    """

    delay: DelaySpec = 0.01

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "delay", _delay(self.delay, "delay"))


class RuleHandle:
    """An installed rule; :meth:`remove` uninstalls it (also on ``with`` exit)."""

    __slots__ = ("_network", "rule")

    def __init__(self, network: Network, rule: Rule) -> None:
        self._network = network
        #: The installed rule.
        self.rule = rule

    def remove(self) -> None:
        """Uninstall the rule; idempotent.  Removing a partition heals it."""
        self._network.remove_rule(self)

    @property
    def active(self) -> bool:
        """``True`` while the rule is installed."""
        return self._network._has_rule(self)

    def __enter__(self) -> RuleHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.remove()

    def __repr__(self) -> str:
        state = "active" if self.active else "removed"
        return f"<RuleHandle {self.rule!r} {state}>"
