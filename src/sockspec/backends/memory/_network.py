"""The network: hosts, names, routing, rules, the event log and the clock.

See :mod:`sockspec.backends.memory` for the theory of operation.  A socket's
protocol logic lives in the modules :mod:`._socket` names; a host's
bindings in :mod:`._ports`; rule matching in :mod:`._rules`.  This module
holds what every socket of a network shares and the public configuration
API.  The attributes without an underscore that are not documented
(``rule_set``, ``sockets``, ``next_id``, ``port_rng``, ``logs_data``,
``wire_address``, ``route``, ``log_event``) are the package's internal
interface to the network, not API.
"""

from __future__ import annotations

import functools
import os
import random
import socket as _socket
import types
import weakref
from collections import deque

from ...api._shared import format_address as _fmt
from ...api.backend import Backend
from ...api.constants import AF_INET, Family, SocketType
from ...api.delegating import unwrap_impl
from ...api.errors import HostNotFound, SocketClosed
from ...api.socket import Socket
from ._collector import watch_collections
from ._explain import held_by_rules
from ._faults import Distribution, Latency, Partition, Rule, RuleHandle
from ._host import CAPABILITIES, Host, WireAddr, parse_inet_aton, parse_ip
from ._inspect import NetworkEvent, SocketInfo, format_netstat, socket_info
from ._rules import End, RuleSet
from ._sched import Scheduler, Waiter
from ._selector import MemorySelector
from ._socket import MemorySocket

__all__ = ["Network"]

#: How many events a network's log keeps by default (the newest ones).
EVENT_LOG_SIZE = 10_000

#: One record of the event log: a NetworkEvent's fields, in order.
EventRecord = tuple[float, str, str, str, int, str]

#: The port range Linux hands out ephemeral ports from.
EPHEMERAL = (32768, 60999)


class Network(Backend):
    """A simulated network: the ``memory`` backend.

    :param seed: seeds every random choice (ephemeral ports, fault rules);
        ``None`` picks one, readable afterwards from :attr:`seed`.
    :param record_data: also log every stream send and delivery (slower).
    :param realtime_after: wall seconds without any thread starting or ending
        a wait after which virtual time follows wall time, when some thread
        is busy outside the network (see :mod:`._sched`).
    :param stall_timeout: wall seconds after which a wait nothing on the
        network can end raises :class:`Deadlock` although some thread is
        still busy elsewhere.
    :param event_log_size: how many of the newest events :meth:`events`
        keeps (default 10,000), so a long-lived network uses bounded
        memory; ``None`` keeps the whole history.
    :param schedule: ``"seeded"`` (default): one thread at a time between
        network operations, the next one drawn from the seed, so the same
        seed gives the same run (see :mod:`._turns` and
        :attr:`schedule_notes`); ``"free"``: threads run as the OS schedules
        them (cheaper with threads, but a multi-threaded run may differ
        between runs of one seed).

    The network is a :class:`~sockspec.Backend` whose sockets live on its
    default host (:attr:`local`, name ``"local"``, ``10.0.0.1`` and
    ``fd00::1``); :meth:`add_host` adds more.
    """

    name = "memory"
    capabilities = CAPABILITIES

    def __init__(
        self,
        seed: int | None = None,
        *,
        record_data: bool = False,
        realtime_after: float = 0.1,
        stall_timeout: float = 5.0,
        event_log_size: int | None = EVENT_LOG_SIZE,
        schedule: str = "seeded",
    ) -> None:
        if seed is None:
            seed = int.from_bytes(os.urandom(4), "big")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {type(seed).__name__}")
        for field, value in (
            ("realtime_after", realtime_after),
            ("stall_timeout", stall_timeout),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{field} must be a number of seconds")
            if not value > 0:
                raise ValueError(f"{field} must be > 0 seconds, got {value!r}")
        if event_log_size is not None:
            if isinstance(event_log_size, bool) or not isinstance(event_log_size, int):
                raise TypeError(
                    "event_log_size must be an int or None, got "
                    f"{type(event_log_size).__name__}"
                )
            if event_log_size < 1:
                raise ValueError(f"event_log_size must be >= 1, got {event_log_size}")
        #: The seed every random choice derives from.
        self.seed = seed
        # One stream for faults, one for port numbers, both from the seed,
        # so opening one more socket does not change which datagram is lost.
        #: Package-internal: the installed fault rules (with the fault
        #: stream); the rest of this block is read by the socket modules too.
        self.rule_set = RuleSet(random.Random(f"{seed}:faults"))
        self.port_rng = random.Random(f"{seed}:ports")
        if not isinstance(schedule, str):
            raise TypeError(
                f"schedule must be 'free' or 'seeded', not {type(schedule).__name__}"
            )
        if schedule not in ("free", "seeded"):
            raise ValueError(f"schedule must be 'free' or 'seeded', got {schedule!r}")
        #: ``"free"`` (threads run as the OS schedules them) or ``"seeded"``.
        self.schedule = schedule
        self._sched = Scheduler(
            realtime_after=float(realtime_after),
            stall_timeout=float(stall_timeout),
            schedule_seed=seed if schedule == "seeded" else None,
        )
        watch_collections()  # finalizers that close sockets: see _collector
        # A proxy: the scheduler must not keep its network alive.
        self._sched.explain = functools.partial(held_by_rules, weakref.proxy(self))
        self.logs_data = bool(record_data)
        self._hosts: dict[str, Host] = {}  # by lower-case name
        self._by_addr: dict[WireAddr, Host] = {}
        self._names: dict[str, list[WireAddr]] = {}
        # Plain tuples, the fields of a NetworkEvent, which events() makes:
        # a tuple of strings and numbers is cheap to make and the cyclic
        # collector stops tracking it (issue 16).
        self._events: deque[EventRecord] = deque(maxlen=event_log_size)
        self._discarded = 0
        self.sockets: dict[int, MemorySocket] = {}
        self.next_id = 0
        self._next_addr = 1
        self._ephemeral_ports = EPHEMERAL
        #: The host sockets of this backend live on.
        self.local = self.add_host("local")

    # -- Backend -------------------------------------------------------------------

    def socket(self, family: Family, type: SocketType) -> MemorySocket:
        """Create a socket on the default host :attr:`local`."""
        return MemorySocket(self.local, family, type)

    def selector(self) -> MemorySelector:
        """Create the engine of a :class:`~sockspec.Poller`."""
        return MemorySelector(self)

    def monotonic(self) -> float:
        """The virtual clock in seconds (starts at 0.0); :attr:`now` as a call.

        This is :meth:`sockspec.Backend.monotonic`, the clock every backend's timeouts
        run on; tests usually read :attr:`now`.
        """
        return self._sched.now

    def open_resources(self) -> int:
        """How many sockets are open on the network (every host).

        A socket stays open until it is closed: unlike an OS socket, one
        that is merely dropped is not closed by the garbage collector, so
        :meth:`netstat` still shows it and a test can find the leak.
        """
        return len(self.sockets)

    @property
    def now(self) -> float:
        """The virtual clock in seconds (starts at 0.0): :meth:`monotonic`."""
        return self._sched.now

    @property
    def ephemeral_ports(self) -> tuple[int, int]:
        """The range ephemeral ports come from, both ends included.

        Linux's ``net.ipv4.ip_local_port_range``, ``(32768, 60999)`` unless
        set; a small range lets a test run out of ports quickly.
        """
        return self._ephemeral_ports

    @ephemeral_ports.setter
    def ephemeral_ports(self, value: tuple[int, int]) -> None:
        try:
            low, high = value
        except (TypeError, ValueError):
            raise TypeError("ephemeral_ports must be a (low, high) pair") from None
        for end in (low, high):
            if isinstance(end, bool) or not isinstance(end, int):
                raise TypeError("ephemeral_ports must be a pair of ints")
        if not 1 <= low <= high <= 65535:
            raise ValueError(
                f"ephemeral_ports must satisfy 1 <= low <= high <= 65535, got {value!r}"
            )
        with self._sched.lock:
            self._ephemeral_ports = (low, high)

    # -- hosts and names -------------------------------------------------------------

    def add_host(self, name: str, *addresses: str) -> Host:
        """Add a host named *name* with *addresses* (IPv4 and/or IPv6 literals).

        Without addresses it gets the next free ``10.0.0.N`` and ``fd00::N``.
        The name resolves to the addresses.  A name or address already taken
        is a :class:`ValueError`.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty str, got {name!r}")
        with self._sched.lock:
            key = name.lower()
            if key in self._hosts or key == "localhost" or key in self._names:
                raise ValueError(f"name {name!r} is already taken")
            wires: list[WireAddr] = []
            for text in addresses:
                wire = parse_ip(text) if isinstance(text, str) else None
                if wire is None or (":" in text and wire[0] == 4):
                    raise ValueError(f"addresses: {text!r} is not an IP address")
                if (
                    wire in self._by_addr
                    or text.startswith("127.")
                    or wire == (6, "::1")
                ):
                    raise ValueError(f"addresses: {text!r} is already in use")
                wires.append(wire)
            if not wires:
                while (4, f"10.0.0.{self._next_addr}") in self._by_addr:
                    self._next_addr += 1
                n = self._next_addr
                self._next_addr += 1
                wires = [(4, f"10.0.{n // 256}.{n % 256}"), (6, f"fd00::{n:x}")]
            host = Host(
                self,
                name,
                [a for v, a in wires if v == 4],
                [a for v, a in wires if v == 6],
            )
            self._hosts[key] = host
            for wire in wires:
                self._by_addr[wire] = host
            self._names[key] = wires
            return host

    def host(self, name: str) -> Host:
        """Return the host called *name*, in any case (``KeyError`` if none)."""
        try:
            return self._hosts[name.lower() if isinstance(name, str) else name]
        except KeyError:
            raise KeyError(f"no host named {name!r}") from None

    @property
    def hosts(self) -> list[Host]:
        """Every host, in the order they were added."""
        return list(self._hosts.values())

    def add_name(self, name: str, *addresses: str) -> None:
        """Make *name* resolve to *addresses* (replacing what it meant)."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty str, got {name!r}")
        if (
            name.lower() == "localhost"
            or parse_ip(name) is not None
            or parse_inet_aton(name) is not None
        ):
            raise ValueError(f"name {name!r} cannot be redefined")
        wires = []
        for text in addresses:
            wire = parse_ip(text) if isinstance(text, str) else None
            if wire is None:
                raise ValueError(f"addresses: {text!r} is not an IP address")
            wires.append(wire)
        if not wires:
            raise ValueError("addresses: give at least one address")
        with self._sched.lock:
            self._names[name.lower()] = wires

    def remove_name(self, name: str) -> None:
        """Forget *name*; resolving it then raises ``HostNotFound``."""
        with self._sched.lock:
            self._names.pop(name.lower(), None)

    def lookup_host(self, host: str, family: Family = AF_INET) -> str:
        """Resolve a name or literal to an address of *family*, like getaddrinfo.

        The facade calls this for every host name a socket on the network
        is given (see :meth:`sockspec.Backend.lookup_host`).
        """
        v, addr = self.wire_address(host, family)
        return addr if family is AF_INET or v == 6 else "::ffff:" + addr

    def wire_address(self, host: str, family: Family) -> WireAddr:
        """Return the wire address for *host* on a socket of *family*."""
        want = 4 if family is AF_INET else 6
        wire = parse_ip(host)
        if wire is None:
            loose = parse_inet_aton(host)
            wire = None if loose is None else (4, loose)
        if wire is not None:
            # glibc: an IPv4-mapped literal is IPv4 for AF_INET; an IPv4
            # literal is no address for AF_INET6 (no AI_V4MAPPED).
            mapped = wire[0] == 4 and ":" in host
            if (want == 4 and wire[0] == 6) or (
                want == 6 and wire[0] == 4 and not mapped
            ):
                raise HostNotFound(
                    _socket.EAI_ADDRFAMILY, "Address family for hostname not supported"
                )
            return wire
        name = host.lower()  # host names are case-insensitive (DNS, /etc/hosts)
        if name == "localhost":
            return (4, "127.0.0.1") if want == 4 else (6, "::1")
        wires = self._names.get(name)
        if wires is None:
            raise HostNotFound(_socket.EAI_NONAME, "Name or service not known")
        for wire in wires:
            if wire[0] == want:
                return wire
        raise HostNotFound(
            _socket.EAI_ADDRFAMILY, "Address family for hostname not supported"
        )

    def route(self, src: Host, v: int, addr: str) -> Host | None:
        """The host that *addr* reaches from *src*, or ``None``."""
        if src.is_local(v, addr):
            return src
        return self._by_addr.get((v, addr))

    # -- fault rules -------------------------------------------------------------------

    def add_rule(self, rule: Rule) -> RuleHandle:
        """Install a fault rule; return a handle that removes it.

        Hosts named in ``src``/``dst`` must exist and ``socket`` must be a
        memory socket, or :class:`ValueError` names the field.
        """
        if not isinstance(rule, Rule):
            raise TypeError(f"rule must be a fault Rule, got {type(rule).__name__}")
        src = self._matcher(rule.src, "src")
        dst = self._matcher(rule.dst, "dst")
        sock: MemorySocket | None = None
        if rule.socket is not None:
            sock = _memory_impl(rule.socket)
            if sock is None:
                raise ValueError(
                    "socket must be an open socket of the memory backend, "
                    f"got {rule.socket!r}"
                )
        handle = RuleHandle(self, rule)
        with self._sched.lock:
            self.rule_set.add(handle, src, dst, sock)
            self._refresh_fast()
        return handle

    def remove_rule(self, handle: RuleHandle) -> None:
        """Uninstall a rule (what :meth:`RuleHandle.remove` does); idempotent."""
        with self._sched.lock:
            if self.rule_set.remove(handle):
                self._refresh_fast()

    def clear_rules(self) -> None:
        """Uninstall every rule (healing every partition)."""
        for handle in list(self.rule_set.handles):
            self.remove_rule(handle)

    @property
    def rules(self) -> list[RuleHandle]:
        """The installed rules, oldest first."""
        return list(self.rule_set.handles)

    def _has_rule(self, handle: RuleHandle) -> bool:
        return handle in self.rule_set

    def partition(
        self, a: object, b: object = None, *, one_way: bool = False
    ) -> RuleHandle:
        """Cut traffic between *a* and *b* (hosts, names or addresses).

        ``b=None`` cuts *a* off from everyone.  Remove the handle to heal.
        """
        return self.add_rule(Partition(src=a, dst=b, one_way=one_way))

    def latency(
        self, delay: float | Distribution, *, src: object = None, dst: object = None
    ) -> RuleHandle:
        """Delay packets from *src* to *dst* by *delay* (seconds or a distribution)."""
        return self.add_rule(Latency(delay, src=src, dst=dst))

    def _matcher(self, value: object, field: str) -> End:
        """Turn a rule's ``src``/``dst`` into a Host or a wire address."""
        if value is None:
            return None
        if isinstance(value, Host):
            if value.network is not self:
                raise ValueError(
                    f"{field}: host {value.hostname!r} is on another network"
                )
            return value
        if isinstance(value, str):
            wire = parse_ip(value)
            if wire is not None:
                return wire
            if value.lower() in self._hosts:
                return self._hosts[value.lower()]
            if value.lower() in self._names:
                return self._names[value.lower()][0]
            raise ValueError(f"{field}: unknown host {value!r}")
        raise ValueError(
            f"{field} must be a host, a host name or an address, got {value!r}"
        )

    def _refresh_fast(self) -> None:
        fast = not self.rule_set.handles and not self.logs_data
        for sock in self.sockets.values():
            sock.fast = fast

    # -- time ------------------------------------------------------------------------

    def sleep(self, seconds: float) -> None:
        """Sleep *seconds* of virtual time in the calling thread.

        Use it instead of :func:`time.sleep` in tests: other threads keep
        running, and the clock jumps when every thread waits.
        """
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise TypeError("seconds must be a number")
        if not seconds >= 0:
            raise ValueError(f"seconds must be >= 0, got {seconds!r}")
        sched = self._sched
        with sched.lock:
            deadline = sched.now + seconds
            while sched.now < deadline:
                waiter = Waiter(
                    sched.lock, "Network.sleep()", deadline, lambda: "(no socket)"
                )
                sched.block(waiter)

    @property
    def schedule_notes(self) -> list[str]:
        """Where the seeded schedule could not stay deterministic (a copy).

        Each note names the thread and the call the network could not see
        (``time.sleep``, real I/O); empty when the run is reproducible, and
        always empty with ``schedule="free"``.  The first 200 are kept; a
        last line counts those left out.
        """
        with self._sched.lock:
            turns = self._sched.turns
            if turns is None:
                return []
            notes = list(turns.notes)
            if turns.notes_left_out:
                notes.append(f"... {turns.notes_left_out} more notes left out")
            return notes

    def advance(self, seconds: float) -> None:
        """Move the virtual clock forward by *seconds* now, running due deliveries."""
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise TypeError("seconds must be a number")
        if not seconds >= 0:
            raise ValueError(f"seconds must be >= 0, got {seconds!r}")
        with self._sched.lock:
            self._sched.advance(float(seconds))

    # -- inspection ------------------------------------------------------------------

    @property
    def record_data(self) -> bool:
        """Whether every stream send and delivery is logged."""
        return self.logs_data

    @record_data.setter
    def record_data(self, value: bool) -> None:
        with self._sched.lock:
            self.logs_data = bool(value)
            self._refresh_fast()

    @property
    def event_log_size(self) -> int | None:
        """How many events the log keeps (``None``: all of them)."""
        return self._events.maxlen

    @property
    def events_discarded(self) -> int:
        """How many older events the log dropped to stay within its size."""
        return self._discarded

    def log_event(
        self, kind: str, src: str, dst: str = "", nbytes: int = 0, detail: str = ""
    ) -> None:
        """Append an event to the log (package-internal: the socket modules).

        Not API: tests read the log through :meth:`events`.
        """
        events = self._events
        if len(events) == events.maxlen:
            self._discarded += 1
        events.append((self._sched.now, kind, src, dst, nbytes, detail))

    def events(self, kind: str | None = None) -> list[NetworkEvent]:
        """The event log (a copy), optionally only events of *kind*.

        Only the newest :attr:`event_log_size` events are kept.
        """
        with self._sched.lock:
            if kind is None:
                return [NetworkEvent(*e) for e in self._events]
            return [NetworkEvent(*e) for e in self._events if e[1] == kind]

    def clear_events(self) -> None:
        """Empty the event log."""
        with self._sched.lock:
            self._events.clear()
            self._discarded = 0

    def format_events(self) -> str:
        """The event log as text, one event per line.

        When the log dropped older events, a first line says how many.
        """
        with self._sched.lock:
            lines = [str(NetworkEvent(*e)) for e in self._events]
            if self._discarded:
                lines.insert(
                    0,
                    f"({self._discarded} earlier events discarded; the log "
                    f"keeps the newest {self._events.maxlen})",
                )
        return "\n".join(lines)

    def netstat(self) -> list[SocketInfo]:
        """A snapshot of every open socket (and TIME_WAIT entry), by id."""
        with self._sched.lock:
            rows = [socket_info(s) for s in self.sockets.values()]
            now = self._sched.now
            for host in self._hosts.values():
                for proto, port, addr in host.table.timewait_rows(now):
                    rows.append(
                        SocketInfo(
                            0,
                            proto,
                            host.hostname,
                            _fmt(addr, port),
                            "*",
                            "TIME_WAIT",
                            0,
                            0,
                            0,
                            0,
                        )
                    )
            return rows

    def format_netstat(self) -> str:
        """:meth:`netstat` as a ``netstat -an``-style table."""
        return format_netstat(self.netstat())

    def socket_info(self, sock: Socket) -> SocketInfo:
        """The netstat row of one :class:`sockspec.Socket`."""
        impl = _memory_impl(sock) if isinstance(sock, Socket) else None
        if impl is None:
            raise ValueError(f"sock must be an open memory socket, got {sock!r}")
        with self._sched.lock:
            return socket_info(impl)

    # -- life cycle --------------------------------------------------------------------

    def close(self) -> None:
        """Wake every thread still waiting on the network with ``SocketClosed``.

        The pytest fixture calls this after each test so no helper thread is
        left blocked.  Sockets stay usable; the network is not reset.
        """
        with self._sched.lock:
            self._sched.fail_all(lambda: SocketClosed("the memory network was closed"))

    def __enter__(self) -> Network:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<memory Network seed={self.seed} t={self._sched.now:.6f}s "
            f"hosts={len(self._hosts)} sockets={len(self.sockets)}>"
        )


def _memory_impl(sock: object) -> MemorySocket | None:
    """The memory socket behind *sock* (a :class:`~sockspec.Socket` or an impl).

    Wrappers made with :class:`~sockspec.DelegatingSocket` are looked through,
    so a fault rule can name a socket of a backend that wraps this network.
    ``None`` for a closed socket or one of another backend.
    """
    impl: object = sock
    if isinstance(sock, Socket):
        if sock.closed:
            return None
        impl = sock.implementation()
    impl = unwrap_impl(impl)
    return impl if isinstance(impl, MemorySocket) else None
