"""Two network namespaces joined by a veth pair, for real fault injection.

Theory of operation
-------------------
Each :class:`VethLink` creates two fresh namespaces (names carry the pid and
a counter, so parallel runs never collide) joined by one veth pair:
``a`` holds ``10.77.0.1/24``, ``b`` holds ``10.77.0.2/24``.  Nothing is
routed to or from the host's namespaces, so every byte a test sends stays
on that pair.  :meth:`VethLink.close` deletes both namespaces (which
destroys the veth pair with them); the fixture calls it even when the test
fails.

A socket belongs to the network namespace of the thread that created it, and
keeps it whichever thread later uses it.  :meth:`Namespace.run` therefore
runs a function (typically ``Socket(...)``) in a short-lived thread that
first enters the namespace with ``setns(2)``; the test's own threads never
change namespace.  ``os.setns`` exists from Python 3.12; before that the
libc call is made through :mod:`ctypes`.

Faults are the kernel's own: ``tc`` queueing disciplines (rate limits and
tail drops with ``tbf``; ``netem`` where the kernel has it), link down and
up, MTU changes, and routes that swallow packets.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from typing import TypeVar

_T = TypeVar("_T")

CLONE_NEWNET = 0x40000000
#: The two ends of every link.
ADDRESS_A = "10.77.0.1"
ADDRESS_B = "10.77.0.2"
#: A second address of ``a`` to which ``b`` has a black-hole route.
ADDRESS_A_HIDDEN = "10.77.1.1"
#: An address routed from ``a`` through ``b``, which does not forward: a SYN
#: sent there is dropped without any answer.
ADDRESS_SILENT = "10.77.9.9"

#: Namespace names are PREFIX + pid + "-" + counter + "a"/"b".
PREFIX = "sockspec-test-"

_counter = itertools.count()
_probe_lock = threading.Lock()
_probes: dict[str, str | None] = {}


def _setns(fd: int) -> None:
    setns = getattr(os, "setns", None)
    if setns is not None:  # Python 3.12+
        setns(fd, CLONE_NEWNET)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"setns: {os.strerror(code)}")


def run_ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``ip ARGS`` (bounded); raise with its stderr if it fails."""
    return _run(["ip", *args], check)


def run_tc(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``tc ARGS`` (bounded); raise with its stderr if it fails."""
    return _run(["tc", *args], check)


def _run(argv: list[str], check: bool) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()}")
    return done


class Namespace:
    """One named network namespace made by this test run."""

    def __init__(self, name: str) -> None:
        #: The name ``ip netns`` knows it by.
        self.name = name

    def run(self, function: Callable[[], _T], timeout: float = 10.0) -> _T:
        """Call *function* in a thread inside this namespace; return its value."""
        result: list[_T] = []
        error: list[BaseException] = []

        def target() -> None:
            try:
                with open(f"/var/run/netns/{self.name}", "rb") as handle:
                    _setns(handle.fileno())
                result.append(function())
            except BaseException as exc:  # handed to the caller
                error.append(exc)

        thread = threading.Thread(target=target, name=f"netns-{self.name}")
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            raise AssertionError(f"call in namespace {self.name} hung")
        if error:
            raise error[0]
        return result[0]

    def ip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``ip -n NAME ARGS``."""
        return run_ip("-n", self.name, *args, check=check)

    def tc(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``tc -n NAME ARGS``."""
        return run_tc("-n", self.name, *args, check=check)


class VethLink:
    """Namespaces ``a`` and ``b`` joined by veth devices ``dev_a``/``dev_b``."""

    def __init__(self) -> None:
        n = next(_counter)
        tag = f"ss{os.getpid() % 100000}x{n}"
        self.a = Namespace(f"{PREFIX}{os.getpid()}-{n}a")
        self.b = Namespace(f"{PREFIX}{os.getpid()}-{n}b")
        #: The veth device in ``a`` (at most 15 characters, as Linux requires).
        self.dev_a = f"{tag}va"
        #: The veth device in ``b``.
        self.dev_b = f"{tag}vb"
        self._made: list[Namespace] = []
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def _build(self) -> None:
        for ns in (self.a, self.b):
            run_ip("netns", "add", ns.name)
            self._made.append(ns)
        run_ip(
            "link", "add", self.dev_a, "netns", self.a.name,
            "type", "veth", "peer", "name", self.dev_b, "netns", self.b.name,
        )  # fmt: skip
        self.a.ip("addr", "add", f"{ADDRESS_A}/24", "dev", self.dev_a)
        self.a.ip("addr", "add", f"{ADDRESS_A_HIDDEN}/32", "dev", self.dev_a)
        self.b.ip("addr", "add", f"{ADDRESS_B}/24", "dev", self.dev_b)
        for ns, dev in ((self.a, self.dev_a), (self.b, self.dev_b)):
            ns.ip("link", "set", "lo", "up")
            ns.ip("link", "set", dev, "up")
        # b does not forward, so what a routes through b vanishes silently.
        self.a.ip("route", "add", f"{ADDRESS_SILENT}/32", "via", ADDRESS_B)

    def devices(self) -> list[tuple[Namespace, str]]:
        """Both ends: ``[(a, dev_a), (b, dev_b)]``."""
        return [(self.a, self.dev_a), (self.b, self.dev_b)]

    def qdisc(self, *spec: str) -> None:
        """Install the root qdisc *spec* on both ends (so both directions)."""
        for ns, dev in self.devices():
            ns.tc("qdisc", "replace", "dev", dev, "root", *spec)

    def qdisc_drops(self) -> int:
        """Packets the root qdiscs of both ends dropped so far."""
        total = 0
        for ns, dev in self.devices():
            out = ns.tc("-s", "qdisc", "show", "dev", dev).stdout
            words = out.replace(",", " ").replace("(", " ").split()
            total += sum(
                int(words[i + 1]) for i, w in enumerate(words[:-1]) if w == "dropped"
            )
        return total

    def retransmits(self) -> int:
        """TCP segments both namespaces retransmitted so far (``RetransSegs``)."""
        return sum(ns.run(_retrans_segs) for ns in (self.a, self.b))

    def set_up(self, up: bool) -> None:
        """Take both ends of the link down, or bring them back up."""
        for ns, dev in self.devices():
            ns.ip("link", "set", dev, "up" if up else "down")

    def set_mtu(self, mtu: int) -> None:
        """Change the MTU of both ends."""
        for ns, dev in self.devices():
            ns.ip("link", "set", dev, "mtu", str(mtu))

    def close(self) -> None:
        """Delete the namespaces (and with them the veth pair); idempotent."""
        while self._made:
            ns = self._made.pop()
            run_ip("netns", "del", ns.name, check=False)


def _retrans_segs() -> int:
    # /proc/thread-self: the calling thread's namespace, not the process's.
    with open("/proc/thread-self/net/snmp") as handle:
        rows = [line.split() for line in handle if line.startswith("Tcp:")]
    return int(rows[1][rows[0].index("RetransSegs")])


def netns_unavailable() -> str | None:
    """Why namespace tests cannot run here, or ``None`` if they can."""
    with _probe_lock:
        if "netns" not in _probes:
            _probes["netns"] = _probe_netns()
        return _probes["netns"]


def _probe_netns() -> str | None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            return f"the {tool!r} command (iproute2) is not installed"
    remove_stale_namespaces()
    try:
        VethLink().close()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        return f"cannot create namespaces joined by veth: {exc}"
    return None


def remove_stale_namespaces() -> list[str]:
    """Delete namespaces left by test processes that died (SIGKILL...)."""
    removed = []
    for line in run_ip("netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.strip() else ""
        if not name.startswith(PREFIX):
            continue
        pid = name[len(PREFIX) :].split("-")[0]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            run_ip("netns", "del", name, check=False)
            removed.append(name)
    return removed


def qdisc_unavailable(kind: str, *example: str) -> str | None:
    """Why the qdisc *kind* cannot be installed here, or ``None``.

    *example* is a valid parameter list for it (``netem`` needs one).
    """
    reason = netns_unavailable()
    if reason is not None:
        return reason
    with _probe_lock:
        if kind not in _probes:
            link = VethLink()
            try:
                done = link.a.tc(
                    "qdisc", "add", "dev", link.dev_a, "root", kind, *example,
                    check=False,
                )  # fmt: skip
            finally:
                link.close()
            _probes[kind] = (
                None
                if done.returncode == 0
                else f"tc qdisc {kind} is unavailable here ({done.stderr.strip()};"
                f" the kernel lacks sch_{kind})"
            )
        return _probes[kind]
