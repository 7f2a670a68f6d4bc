"""The ``memory`` backend: a deterministic in-memory network for tests.

Theory of operation
-------------------
A :class:`Network` simulates hosts (:class:`Host`), each with IPv4 and IPv6
addresses and loopback, a name table, UNIX paths, and the TCP, UDP and UNIX
socket semantics of Linux loopback: ephemeral ports, address-in-use (with
``SO_REUSEADDR``/``SO_REUSEPORT`` and ``TIME_WAIT``), backlog limits,
refused connections, half-close, resets (closing with unread data), bounded
buffers with backpressure (``SO_RCVBUF``/``SO_SNDBUF``), datagram boundaries,
truncation, datagrams to nowhere dropped (and ``ConnectionRefused`` on a
connected UDP socket, as ICMP does), ``SO_BROADCAST``.  Nothing touches the
operating system's network: a real port is invisible inside it.

**Threads.**  All state of a network sits behind one lock.  A blocking call
that cannot proceed waits on the network; whatever changes the state it
waits for wakes it, and :meth:`~sockspec.Socket.close` wakes every waiter
on that socket with :class:`~sockspec.SocketClosed`.  By default the
threads that use a network take turns, one at a time between network
operations, the next drawn from the seed, so a threaded run replays
exactly; ``Network(schedule="free")`` lets the OS schedule them instead
(:mod:`sockspec.backends.memory._turns`).

**Virtual time.**  Timeouts run on the network's clock
(:meth:`Network.monotonic`), which moves only when every thread using the
network (the one that made it, those started since, and any other from its
first call into it) waits on it (or is blocked in ``Thread.join()``,
``Event.wait()``, ``Queue.get()``, an idle thread-pool worker...): it then
jumps to the next deadline or delivery, so a
30-second timeout costs no wall time.  A timed wait (``Event.wait(0.5)``,
``join(5)``, a ``threading.Timer``) is a deadline too, measured in wall
time: the clock goes no further than its end until the thread has woken
up.  If there is none, the wait can never
end and each waiter gets :class:`Deadlock` naming the threads and sockets.
When some thread is busy elsewhere (computing, ``time.sleep``, real I/O),
virtual time follows wall time after a short quiet period, so nothing hangs
and nothing fires earlier than on a real network.  The exact rule is in
:mod:`sockspec.backends.memory._sched`.

**Faults.**  Rules (:class:`Latency`, :class:`Loss`, :class:`Duplicate`,
:class:`Reorder`, :class:`Partition`, :class:`Reset`, :class:`Refuse`,
:class:`BlackHole`, :class:`ShortReads`, :class:`ShortWrites`,
:class:`SlowReader`) are installed with :meth:`Network.add_rule`, scoped by
host pair, port or socket, and removed with their handle.  One seed drives
every random choice.

**Inspection.**  :meth:`Network.events` is the log (connects, accepts,
resets, drops, and with ``record_data`` every send and delivery);
:meth:`Network.netstat` a snapshot of sockets and their states.

**Which network "memory" means.**  The registry keeps one backend object per
name; for ``"memory"`` it is a small front (:class:`MemoryBackend`) that
resolves, each time a socket or Poller is made, to the network installed by
``sockspec.use_backend(network)`` (or the ``memory_network`` pytest fixture),
else to one process-wide default network (:func:`default_network`).

Quick start::

    from sockspec import Socket, use_backend
    from sockspec.backends.memory import Network

    net = Network(seed=1)
    with use_backend(net):
        server = Socket(); server.bind("127.0.0.1", 8000); server.listen()
        client = Socket(); client.connect("localhost", 8000)
"""

from __future__ import annotations

import threading

from ... import backend_choices
from ...api.backend import Backend, BackendSpec, parse_options
from ...api.constants import Family, SocketType
from ...hookspecs import hookimpl
from ._faults import (
    BlackHole,
    Distribution,
    Duplicate,
    Exponential,
    Fixed,
    Latency,
    Loss,
    Normal,
    Partition,
    Refuse,
    Reorder,
    Reset,
    Rule,
    RuleHandle,
    ShortReads,
    ShortWrites,
    SlowReader,
    Uniform,
)
from ._host import CAPABILITIES, Host
from ._inspect import NetworkEvent, SocketInfo
from ._network import Network
from ._sched import Deadlock, StaleNetwork
from ._selector import MemorySelector
from ._socket import MemorySocket

__all__ = [
    # the network
    "Host",
    "MemoryBackend",
    "Network",
    "default_network",
    # errors
    "Deadlock",
    "StaleNetwork",
    # fault rules
    "BlackHole",
    "Duplicate",
    "Latency",
    "Loss",
    "Partition",
    "Refuse",
    "Reorder",
    "Reset",
    "Rule",
    "RuleHandle",
    "ShortReads",
    "ShortWrites",
    "SlowReader",
    # delay distributions
    "Distribution",
    "Exponential",
    "Fixed",
    "Normal",
    "Uniform",
    # inspection
    "NetworkEvent",
    "SocketInfo",
]


def __getattr__(name: str) -> object:
    # The log record was called Event, which sockspec.Event (the Poller's
    # readiness flags) also is; the old name keeps working for a while.
    if name == "Event":
        import warnings

        warnings.warn(
            "sockspec.backends.memory.Event is now NetworkEvent",
            DeprecationWarning,
            stacklevel=2,
        )
        return NetworkEvent
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_default: Network | None = None
_default_lock = threading.Lock()


def default_network() -> Network:
    """The process-wide network ``"memory"`` means when none is installed."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Network()
    return _default


class MemoryBackend(Backend):
    """The registry's ``"memory"``: whichever network is current.

    A proxy: the registry asks :meth:`resolve` each time the name is
    chosen, so sockets and Pollers get the current :class:`Network` (or
    :class:`Host`) object itself and always agree with each other.
    """

    name = "memory"
    capabilities = CAPABILITIES

    def resolve(self) -> Backend:
        """The installed network or host, else :func:`default_network`."""
        # The newest memory network or host use_backend() put in force is
        # the current one.
        for choice in backend_choices():
            if isinstance(choice, (Network, Host)):
                return choice
        return default_network()

    def socket(self, family: Family, type: SocketType) -> MemorySocket:
        """Create a socket on the current network."""
        backend = self.resolve()
        assert isinstance(backend, (Network, Host))
        return backend.socket(family, type)

    def selector(self) -> MemorySelector:
        """Create a Poller engine on the current network."""
        backend = self.resolve()
        assert isinstance(backend, (Network, Host))
        return backend.selector()

    def monotonic(self) -> float:
        """The current network's virtual clock."""
        return self.resolve().monotonic()

    def open_resources(self) -> int | None:
        """Open sockets on the current network."""
        return self.resolve().open_resources()

    def lookup_host(self, host: str, family: Family) -> str | None:
        """Resolve through the current network's name table."""
        return self.resolve().lookup_host(host, family)


def _make(options: str | None) -> MemoryBackend:
    parse_options(options, "memory")
    return MemoryBackend()


@hookimpl
def sockspec_add_backends() -> list[BackendSpec]:
    """Offer the ``memory`` backend."""
    return [
        BackendSpec(
            "memory",
            _make,
            "deterministic in-memory network: virtual time, fault injection",
        )
    ]
