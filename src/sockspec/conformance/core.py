"""Checks, their metadata and the registry that holds them.

A conformance check is a plain function that takes a
:class:`~sockspec.conformance.harness.Harness` and raises (usually
``AssertionError``) when the backend misbehaves.  :func:`check` registers it
with what it needs from a backend (:class:`Requirements`) and which lines
of the Sockets/A text it proves; the runner skips a check whose
requirements a backend does not meet, with the reason, and never counts it
as passed.

``per_family=(AF_INET, AF_INET6, AF_UNIX)`` registers one check per family:
the first keeps the plain name, the others get a suffix (``basic_io``,
``basic_io_inet6``, ``basic_io_unix``), and the harness's
:attr:`~sockspec.conformance.harness.Harness.family` tells the function
which one it runs for.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from ..api.backend import Capabilities
from ..api.constants import (
    AF_INET,
    AF_INET6,
    AF_UNIX,
    SOCK_STREAM,
    Family,
    Option,
    SocketType,
)
from .spec import SpecLine, resolve_claim

if TYPE_CHECKING:
    from .harness import Harness

__all__ = [
    "FAMILIES",
    "IP_FAMILIES",
    "Check",
    "CheckFunction",
    "Requirements",
    "Skip",
    "all_checks",
    "check",
    "select_checks",
]

#: What a check function looks like.
CheckFunction = Callable[["Harness"], None]

_SUFFIX = {AF_INET: "", AF_INET6: "_inet6", AF_UNIX: "_unix"}
#: Every address family, for ``per_family=``.
FAMILIES = (AF_INET, AF_INET6, AF_UNIX)
#: The IP families, for ``per_family=``.
IP_FAMILIES = (AF_INET, AF_INET6)


class Skip(Exception):
    """Raised inside a check that finds at run time it cannot apply."""


@dataclasses.dataclass(frozen=True)
class Requirements:
    """What a check needs from the backends it runs on."""

    #: Address families the check uses.
    families: frozenset[Family] = frozenset({AF_INET})
    #: Socket types the check uses.
    types: frozenset[SocketType] = frozenset({SOCK_STREAM})
    #: Options the check sets or reads.
    options: frozenset[Option] = frozenset()
    #: Feature names (see :attr:`sockspec.Capabilities.features`).
    features: frozenset[str] = frozenset()
    #: ``True``: only real OS sockets make sense (descriptor counting...).
    os_sockets: bool = False
    #: ``True`` needs virtual time, ``False`` wall-clock time, ``None`` either.
    virtual_time: bool | None = None
    #: ``True``: any one of :attr:`families` will do (the runner picks the
    #: first the backend declares), not all of them.
    any_family: bool = False
    #: ``True``: any one of :attr:`types` will do; the check picks.
    any_type: bool = False

    def missing(self, name: str, caps: Capabilities) -> str | None:
        """Return why backend *name* with *caps* cannot run the check, or None."""
        lacks: list[str] = []
        lacks += _lacking(self.families, caps.families, self.any_family)
        lacks += _lacking(self.types, caps.types, self.any_type)
        lacks += [o.name for o in _sorted(self.options - caps.options)]
        lacks += [f"feature {f!r}" for f in sorted(self.features - caps.features)]
        if self.os_sockets and not caps.os_sockets:
            lacks.append("OS sockets")
        if self.virtual_time is True and not caps.virtual_time:
            lacks.append("virtual time")
        if self.virtual_time is False and caps.virtual_time:
            lacks.append("wall-clock time")
        if not lacks:
            return None
        return f"backend {name!r} lacks {', '.join(lacks)}"


def _sorted(
    items: Iterable[Family | SocketType | Option],
) -> list[Family | SocketType | Option]:
    return sorted(items, key=lambda item: item.name)


def _lacking(
    needed: frozenset[Family] | frozenset[SocketType],
    declared: frozenset[Family] | frozenset[SocketType],
    any_one: bool,
) -> list[str]:
    if not any_one:
        return [item.name for item in _sorted(needed - declared)]
    if needed & declared:
        return []
    return ["any of " + "/".join(item.name for item in _sorted(needed))]


@dataclasses.dataclass(frozen=True)
class Check:
    """A registered conformance check."""

    #: Unique name, also the pytest id (``basic_io``, ``basic_io_unix``).
    name: str
    #: Theme: the module the check lives in (``stream``, ``timeouts``...).
    group: str
    #: The function; it takes a harness.
    function: CheckFunction
    #: What the check needs from the backend.
    requires: Requirements
    #: The Sockets/A lines the check proves.
    spec: tuple[SpecLine, ...]
    #: The Go ``nettest.TestConn`` case it adapts, if any.
    nettest: str | None
    #: The family the check runs for (see ``per_family``).
    family: Family
    #: ``True`` when the check talks between two sockets, so running it with
    #: a client of one backend and a server of another means something.
    cross: bool
    #: First line of the function's docstring.
    summary: str

    def missing(self, name: str, caps: Capabilities) -> str | None:
        """Why backend *name* cannot run this check, or ``None`` if it can."""
        return self.requires.missing(name, caps)

    def family_for(self, *caps: Capabilities) -> Family:
        """The family to run with on backends declaring *caps*.

        :attr:`family`, unless the check takes any family: then the first of
        ``AF_INET``, ``AF_INET6``, ``AF_UNIX`` that every side declares.
        """
        if not self.requires.any_family:
            return self.family
        for family in FAMILIES:
            if family in self.requires.families and all(
                family in c.families for c in caps
            ):
                return family
        return self.family


_CHECKS: dict[str, Check] = {}


def check(
    *,
    group: str,
    spec: Sequence[str] = (),
    families: Iterable[Family] = (AF_INET,),
    types: Iterable[SocketType] = (SOCK_STREAM,),
    options: Iterable[Option] = (),
    features: Iterable[str] = (),
    os_sockets: bool = False,
    virtual_time: bool | None = None,
    nettest: str | None = None,
    per_family: Sequence[Family] = (),
    cross: bool = True,
    name: str | None = None,
    any_family: bool = False,
    any_type: bool = False,
) -> Callable[[CheckFunction], CheckFunction]:
    """Register the decorated function as a conformance check.

    :param group: the theme it belongs to, shown in reports.
    :param spec: claims of the Sockets/A lines it proves (see
        :func:`~sockspec.conformance.spec.resolve_claim`); resolved now, so a
        claim that names no line fails at import time.
    :param families: address families it needs (ignored with *per_family*).
    :param types: socket types it needs.
    :param options: options it needs the backend to support.
    :param features: backend feature names it needs.
    :param os_sockets: whether it needs real OS sockets.
    :param virtual_time: ``True``/``False`` to need virtual/wall-clock time.
    :param nettest: the Go nettest case it adapts.
    :param per_family: register one check per family listed.
    :param cross: whether it is meaningful between two backends.
    :param name: the check's name; default the function's.
    :param any_family: the check works in any family: it runs in the first
        of *families* (default all three) the backend declares, and is
        skipped only when it declares none.  Use it for behaviour that is
        not about addresses, so a backend with only ``AF_UNIX`` (or only
        IPv6) is still checked.
    :param any_type: the check picks the socket types it uses from what the
        backend declares among *types*; skipped only when it declares none.
    """
    if any_family and per_family:
        raise ValueError("any_family and per_family exclude each other")
    if any_family and tuple(families) == (AF_INET,):
        families = FAMILIES
    lines = tuple(resolve_claim(claim) for claim in spec)

    def register(function: CheckFunction) -> CheckFunction:
        base = name or function.__name__
        doc = (function.__doc__ or "").strip().splitlines()
        summary = doc[0] if doc else base
        variants: list[tuple[Family | None, str]] = [
            (f, _SUFFIX[f]) for f in per_family
        ] or [(None, "")]
        for family, suffix in variants:
            fams = frozenset({family}) if family is not None else frozenset(families)
            entry = Check(
                name=base + suffix,
                group=group,
                function=function,
                requires=Requirements(
                    families=fams,
                    types=frozenset(types),
                    options=frozenset(options),
                    features=frozenset(features),
                    os_sockets=os_sockets,
                    virtual_time=virtual_time,
                    any_family=any_family,
                    any_type=any_type,
                ),
                spec=lines,
                nettest=nettest,
                family=family if family is not None else min(fams, key=_order),
                cross=cross,
                summary=summary,
            )
            if entry.name in _CHECKS:
                raise ValueError(f"a check named {entry.name!r} already exists")
            _CHECKS[entry.name] = entry
        return function

    return register


def _order(family: Family) -> int:
    return list(_SUFFIX).index(family)


def all_checks() -> list[Check]:
    """Return every registered check, in registration order."""
    from . import checks  # noqa: F401 -- importing registers the built-ins

    return list(_CHECKS.values())


def select_checks(
    patterns: Sequence[str] = (), *, cross_only: bool = False
) -> list[Check]:
    """Return the checks whose name or group matches any of *patterns*.

    A pattern with ``*``, ``?`` or ``[`` is a glob over the name; otherwise
    it matches when it occurs in the name or equals the group.  No patterns
    selects every check.  *cross_only* keeps the checks that talk between
    two sockets (the ones worth running across backends).
    """
    chosen = []
    for entry in all_checks():
        if cross_only and not entry.cross:
            continue
        if patterns and not any(_matches(entry, p) for p in patterns):
            continue
        chosen.append(entry)
    return chosen


def _matches(entry: Check, pattern: str) -> bool:
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(entry.name, pattern)
    return pattern in entry.name or pattern == entry.group
