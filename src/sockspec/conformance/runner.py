"""Running checks over backends and collecting structured results.

A :class:`Target` names the backend of the client side and of the server
side; they are the same except in cross-backend runs.  A side is a backend
choice (``"stdlib"``, ``"name:options"``), a backend object, or a factory
that makes one (called afresh for every check), so a backend can be checked
before it is packaged: ``conformance.run(MyBackend())``.  :func:`run_check`
runs one check on one target in a worker thread with a wall-clock limit, so
a backend that hangs costs a failure, never the whole run.

A failure's message says what the check expected (its summary), what
happened instead, and the Sockets/A line the check proves.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
import threading
import time
import traceback
import zlib
from collections.abc import Callable, Iterable, Sequence

from .._registry import backend_info, get_backend
from ..api.backend import Backend
from .core import Check, Skip, select_checks
from .harness import Harness

__all__ = [
    "BackendLike",
    "Outcome",
    "Result",
    "Target",
    "run",
    "run_check",
    "targets",
]

#: What a :class:`Target` side may be: a backend choice, a backend object,
#: or a factory (no arguments) that makes a backend object.
BackendLike = str | Backend | Callable[[], Backend]

#: Wall-clock seconds one check may take before it counts as hung.
TIME_LIMIT = 60.0


class Outcome(enum.Enum):
    """How a check ended."""

    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"


@dataclasses.dataclass(frozen=True)
class Target:
    """Which backend plays the client and which the server."""

    #: The client side (the backend under test): a backend choice, a
    #: backend object or a factory.
    client: BackendLike
    #: The server side.
    server: BackendLike

    @classmethod
    def parse(cls, text: str) -> Target:
        """``"stdlib"`` or ``"stdlib->selectors"`` (client->server)."""
        client, _, server = text.partition("->")
        return cls(client, server or client)

    @classmethod
    def of(cls, backend: BackendLike) -> Target:
        """The target that checks *backend* against itself.

        *backend* is a choice (``"stdlib"``, ``"a->b"`` for a cross pair), a
        backend object, or a factory called once per check.
        """
        if isinstance(backend, str):
            return cls.parse(backend)
        if not isinstance(backend, Backend) and not callable(backend):
            raise TypeError(
                f"backend must be a backend name, a sockspec.Backend or a "
                f"factory, got {type(backend).__name__}"
            )
        return cls(backend, backend)

    @property
    def name(self) -> str:
        """``"stdlib"``, or ``"client->server"`` for a cross run."""
        client, server = _label(self.client), _label(self.server)
        if self.client == self.server:
            return client
        return f"{client}->{server}"

    @property
    def cross(self) -> bool:
        """Whether the two sides use different backends."""
        return self.client != self.server

    def __str__(self) -> str:
        return self.name


@dataclasses.dataclass(frozen=True)
class Result:
    """The outcome of one check on one target."""

    #: The check's name.
    check: str
    #: The target's name (``"stdlib"``, ``"stdlib->selectors"``).
    target: str
    #: Pass, fail or skip.
    outcome: Outcome
    #: The failure message or the skip reason; empty on a pass.
    message: str
    #: Wall-clock seconds the check took.
    duration: float
    #: The traceback of a failure, with the seed to reproduce it.
    details: str = ""

    @property
    def passed(self) -> bool:
        """``True`` on a pass."""
        return self.outcome is Outcome.PASS

    @property
    def failed(self) -> bool:
        """``True`` on a failure."""
        return self.outcome is Outcome.FAIL

    @property
    def skipped(self) -> bool:
        """``True`` on a skip."""
        return self.outcome is Outcome.SKIP


def targets(
    names: Sequence[BackendLike] | None = None, *, cross: bool = False
) -> list[Target]:
    """Return one target per backend (default: every available one that
    works by its bare name).

    *names* are backend choices, backend objects or factories.  With
    *cross*, add every ordered pair of distinct backends that drive real OS
    sockets (only those can talk to each other).  A name that cannot be
    loaded still gets its target; running it reports why.
    """
    # A backend whose factory needs options cannot be checked by bare name.
    chosen: list[BackendLike] = (
        list(names)
        if names
        else [i.name for i in backend_info() if not i.needs_options]
    )
    out = [Target(name, name) for name in chosen]
    if cross:
        os_backends = [name for name in chosen if _os_sockets(name)]
        out += [Target(a, b) for a, b in itertools.permutations(os_backends, 2)]
    return out


def _os_sockets(side: BackendLike) -> bool:
    try:
        return _load(side).capabilities.os_sockets
    except Exception:  # reported when the target runs
        return False


def _label(side: BackendLike) -> str:
    if isinstance(side, str):
        return side
    if isinstance(side, Backend):
        return str(getattr(side, "name", type(side).__name__))
    return str(getattr(side, "__qualname__", None) or type(side).__name__)


def _load(side: BackendLike) -> Backend:
    """The backend object for one side of a target (a factory runs now)."""
    if isinstance(side, str):
        return get_backend(side)
    backend = side if isinstance(side, Backend) else side()
    if not isinstance(backend, Backend):
        raise TypeError(
            f"the factory {_label(side)} returned {type(backend).__name__}, "
            f"not a sockspec.Backend"
        )
    return backend.resolve()


def seed_for(check: Check) -> int:
    """The default seed of *check*: stable across runs and machines."""
    return zlib.crc32(check.name.encode())


def run_check(
    check: Check,
    target: Target,
    *,
    seed: int | None = None,
    time_limit: float = TIME_LIMIT,
) -> Result:
    """Run *check* on *target* and return its result; never raises."""
    started = time.perf_counter()

    def result(outcome: Outcome, message: str = "", details: str = "") -> Result:
        duration = time.perf_counter() - started
        return Result(check.name, target.name, outcome, message, duration, details)

    try:
        client = _load(target.client)
        server = client if target.server is target.client else _load(target.server)
    except Exception as exc:
        return result(Outcome.FAIL, f"cannot load backend: {_describe(exc)}")
    if target.cross and not check.cross:
        return result(Outcome.SKIP, "uses one backend only; not run across backends")
    reasons = {check.missing(b.name, b.capabilities) for b in (client, server)}
    reasons.discard(None)
    if reasons:
        return result(Outcome.SKIP, "; ".join(sorted(r for r in reasons if r)))
    seed = seed_for(check) if seed is None else seed
    outcome, message, details = _execute(check, client, server, seed, time_limit)
    return result(outcome, message, details)


def _execute(
    check: Check, client: Backend, server: Backend, seed: int, time_limit: float
) -> tuple[Outcome, str, str]:
    family = check.family_for(client.capabilities, server.capabilities)
    harness = Harness(client, server, family=family, seed=seed)
    box: list[tuple[Outcome, str, str]] = []

    def body() -> None:
        try:
            check.function(harness)
        except Skip as exc:
            box.append((Outcome.SKIP, str(exc), ""))
        except BaseException as exc:
            details = f"{traceback.format_exc()}(seed {seed})"
            box.append((Outcome.FAIL, _failure(check, exc), details))
        else:
            box.append((Outcome.PASS, "", ""))

    worker = threading.Thread(target=body, name=f"check {check.name}", daemon=True)
    worker.start()
    worker.join(time_limit)
    if worker.is_alive():
        harness.close()  # closing its sockets is the best chance to free it
        worker.join(2.0)
        return (
            Outcome.FAIL,
            f"did not finish within {time_limit:g} s (a call blocked)",
            f"(seed {seed})",
        )
    stuck = harness.close()
    outcome = box[0] if box else (Outcome.FAIL, "the check vanished", "")
    if stuck and outcome[0] is Outcome.PASS:
        names = ", ".join(stuck)
        return (Outcome.FAIL, f"threads still blocked after close(): {names}", "")
    return outcome


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _failure(check: Check, exc: BaseException) -> str:
    """What went wrong, what the check expected (its summary), the spec line."""
    if check.spec:
        line = check.spec[0]
        proves = f"Sockets/A line {line.number}: {line.key!r}"
    else:
        proves = "no Sockets/A line (a sockspec guarantee)"
    return f"{_describe(exc)} [expected: {check.summary} | proves: {proves}]"


def run(
    checks: Iterable[Check] | BackendLike | None = None,
    on: Iterable[Target | BackendLike] | None = None,
    *,
    progress: Callable[[Result], None] | None = None,
) -> list[Result]:
    """Run *checks* (default: all) on each target (default: every backend).

    ``run(backend)`` checks one backend: a backend object, a factory (called
    afresh for every check), or a backend choice; it need not be installed.
    *on* lists targets the same way (or :class:`Target` pairs).  Checks that
    use one backend only are left out of cross targets.  *progress* is
    called with each result as it comes.
    """
    if isinstance(checks, (str, Backend)) or callable(checks):
        on, checks = [checks], None
    chosen = list(checks) if checks is not None else select_checks()
    results = []
    chosen_on = targets() if on is None else on
    for item in chosen_on:
        target = item if isinstance(item, Target) else Target.of(item)
        for entry in chosen:
            if target.cross and not entry.cross:
                continue
            res = run_check(entry, target)
            if progress is not None:
                progress(res)
            results.append(res)
    return results
