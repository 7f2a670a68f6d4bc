"""The interface between the :class:`~sockspec.Socket` facade and a backend.

Theory of operation
-------------------
A backend is an object with a name, a set of :class:`Capabilities` and two
factories: :meth:`Backend.socket` makes a :class:`SocketImpl` (one socket) and
:meth:`Backend.selector` makes a :class:`SelectorImpl` (the engine behind
:class:`~sockspec.Poller`).  The facade validates every argument and turns
service names into port numbers before it calls an implementation, so an
implementation receives only well-typed, in-range values:

* ``host`` is a non-empty ``str`` (an IP literal, a name, or for ``AF_UNIX``
  a path); ``port`` an ``int`` in ``0..65535`` (``None`` for ``AF_UNIX``);
* ``data`` is ``bytes`` or a byte-format, C-contiguous ``memoryview``;
* ``maxlen`` is an ``int >= 1``; timeouts are ``None``, ``0.0`` or ``> 0``;
* option values are normalised (``bool`` flags, ``int`` sizes, linger
  ``None`` or ``int``), and only options that apply to the socket's family
  and type reach :meth:`SocketImpl.set_option`.

An implementation raises :class:`~sockspec.SocketError` subclasses, or plain
:class:`OSError` which the facade turns into them through
:func:`sockspec.errors.from_os_error`.  Pluggy hooks choose the backend; the
facade then calls these methods directly, so no hook runs on the data path.
"""

from __future__ import annotations

import abc
import dataclasses
import difflib
import functools
import time
from collections.abc import Callable, Hashable
from typing import Any, BinaryIO

from .constants import (
    AF_INET,
    AF_INET6,
    AF_UNIX,
    SOCK_DGRAM,
    SOCK_STREAM,
    Event,
    Family,
    Option,
    Shutdown,
    SocketType,
)

__all__ = [
    "Backend",
    "BackendSpec",
    "Capabilities",
    "SelectorImpl",
    "SocketImpl",
    "parse_options",
]

Address = tuple[str | None, int | None]


@dataclasses.dataclass(frozen=True)
class Capabilities:
    """What a backend can do; conformance checks needing more are skipped."""

    #: Address families the backend supports.
    families: frozenset[Family] = frozenset({AF_INET, AF_INET6, AF_UNIX})
    #: Socket types the backend supports.
    types: frozenset[SocketType] = frozenset({SOCK_STREAM, SOCK_DGRAM})
    #: Socket options the backend understands.
    options: frozenset[Option] = frozenset(Option)
    #: Timeouts run on a virtual clock instead of wall time.
    virtual_time: bool = False
    #: Sockets are real OS sockets (``fileno()`` is meaningful).
    os_sockets: bool = False
    #: :meth:`Backend.selector` works, so a :class:`~sockspec.Poller` can be
    #: made; ``False`` makes ``Poller(backend)`` raise
    #: :class:`~sockspec.UnsupportedOperation` and the conformance suite skip
    #: the checks that need one.
    poller: bool = True
    #: Free-form feature names, for checks that need something specific.
    features: frozenset[str] = frozenset()

    def describe(self) -> str:
        """Return a one-line, human-readable summary."""
        fams = ",".join(sorted(f.name for f in self.families))
        types = ",".join(sorted(t.name for t in self.types))
        if self.options >= frozenset(Option):
            options = "options=all"
        else:
            options = "options=" + (
                ",".join(sorted(o.name for o in self.options)) or "none"
            )
        extra = [options]
        if self.virtual_time:
            extra.append("virtual-time")
        if self.os_sockets:
            extra.append("os-sockets")
        if not self.poller:
            extra.append("no-poller")
        extra.extend(sorted(self.features))
        return " ".join([fams, types, *extra])


class SocketImpl(abc.ABC):
    """One socket of a backend, driven by the :class:`~sockspec.Socket` facade.

    Methods mirror the facade's; see the module docstring for the argument
    guarantees.  Only :meth:`close` may be called after :meth:`close`.
    """

    __slots__ = ()

    @abc.abstractmethod
    def connect(self, host: str, port: int | None, timeout: float | None) -> None:
        """Connect to *host*/*port*; *timeout* overrides the socket's own."""

    @abc.abstractmethod
    def bind(self, host: str | None, port: int | None) -> None:
        """Bind to *host* (``None``: any) and *port* (``None``: ephemeral)."""

    @abc.abstractmethod
    def listen(self, backlog: int) -> None:
        """Start accepting connections with a queue of *backlog*."""

    @abc.abstractmethod
    def accept(self) -> SocketImpl:
        """Wait for and return the next incoming connection."""

    @abc.abstractmethod
    def shutdown(self, how: Shutdown) -> None:
        """Close one or both directions of the connection."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the socket and wake every thread waiting on it."""

    @abc.abstractmethod
    def receive(self, maxlen: int) -> bytes:
        """Return up to *maxlen* bytes (one datagram); ``b""`` at end of stream.

        A receive woken by :meth:`close` from another thread may return
        ``b""`` or raise :class:`OSError`: the facade, which marks the socket
        closed before it calls :meth:`close`, reports
        :class:`~sockspec.SocketClosed` then.  An implementation may therefore
        bind this name straight to a native call, keeping the hot path one C
        call deep, if its :meth:`close` can wake that call without effects
        beyond this process (a ``shutdown(2)`` is seen by the peer and by
        forked processes sharing the socket; see issue 10).
        """

    @abc.abstractmethod
    def send(self, data: bytes | memoryview) -> int:
        """Send *data* (all of it unless non-blocking); return the count."""

    @abc.abstractmethod
    def receive_from(self, maxlen: int) -> tuple[bytes, str | None, int | None]:
        """Return ``(data, sender address, sender port)``."""

    @abc.abstractmethod
    def send_to(self, data: bytes | memoryview, host: str, port: int | None) -> int:
        """Send one datagram to *host*/*port*; return the count."""

    @abc.abstractmethod
    def send_file(self, file: BinaryIO) -> int:
        """Send *file* from its current position to its end; return the count."""

    @abc.abstractmethod
    def set_option(self, option: Option, value: object) -> None:
        """Set a (normalised, applicable) option."""

    @abc.abstractmethod
    def get_option(self, option: Option) -> object:
        """Return an option's value in its normalised form."""

    @abc.abstractmethod
    def set_timeout(self, timeout: float | None) -> None:
        """Use *timeout* for every later blocking operation."""

    @abc.abstractmethod
    def is_connected(self) -> bool:
        """Whether the socket has a peer (after connect or accept)."""

    @abc.abstractmethod
    def is_readable(self) -> bool:
        """Whether a receive (or accept) would return without waiting."""

    @abc.abstractmethod
    def is_writable(self) -> bool:
        """Whether a send would accept data without waiting."""

    @abc.abstractmethod
    def local_address(self) -> Address:
        """Return ``(address, port)`` this socket is bound to, or ``(None, None)``."""

    @abc.abstractmethod
    def remote_address(self) -> Address:
        """Return the peer's ``(address, port)``, or ``(None, None)``."""


class SelectorImpl(abc.ABC):
    """Readiness multiplexing over many :class:`SocketImpl` of one backend.

    *token* is an opaque value the facade uses to find its key again.
    """

    __slots__ = ()

    @abc.abstractmethod
    def register(self, sock: SocketImpl, events: Event, token: Hashable) -> None:
        """Start watching *sock* for *events*."""

    @abc.abstractmethod
    def modify(self, sock: SocketImpl, events: Event, token: Hashable) -> None:
        """Change the events watched for *sock*."""

    @abc.abstractmethod
    def unregister(self, sock: SocketImpl) -> None:
        """Stop watching *sock* (it may already be closed)."""

    @abc.abstractmethod
    def select(self, timeout: float | None) -> list[tuple[Hashable, Event]]:
        """Wait up to *timeout* and return ``(token, ready events)`` pairs.

        :meth:`Poller.poll <sockspec.Poller.poll>` calls it and turns the
        tokens back into keys.  The name is :mod:`selectors`' (this class
        is a selector); the Poller, a facade over it, answers to both.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Release the selector's resources."""


class Backend(abc.ABC):
    """A family of socket implementations, chosen by name.

    A subclass must give every instance a :attr:`name` and
    :attr:`capabilities` (class attributes, or set in ``__init__``): one
    that does not fails with :class:`TypeError` when the class is defined
    (no ``__init__``) or instantiated, not at its first socket.
    """

    #: The name the backend is chosen by (``"stdlib"``, ``"memory"``...).
    name: str
    #: What the backend supports.
    capabilities: Capabilities

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None:
            if cls.__init__ is object.__init__ and not _abstract(cls):
                _check_members(cls, cls)
            return

        @functools.wraps(init)
        def checked_init(self: Backend, *args: Any, **kw: Any) -> None:
            init(self, *args, **kw)
            # Only the outermost __init__ checks: a subclass may set the
            # name after its base's __init__ returns.
            if type(self).__init__ is checked_init:
                _check_members(self, type(self))

        setattr(cls, "__init__", checked_init)  # noqa: B010

    @abc.abstractmethod
    def socket(self, family: Family, type: SocketType) -> SocketImpl:
        """Create one unconnected socket."""

    @abc.abstractmethod
    def selector(self) -> SelectorImpl:
        """Create the multiplexer behind a :class:`~sockspec.Poller`."""

    def resolve(self) -> Backend:
        """Return the backend that does the work for this one now.

        A plain backend returns itself (the default).  A *proxy* -- an object
        that stands for another backend chosen at run time, as ``"memory"``
        stands for whichever memory network is current -- overrides this.
        The registry calls it every time it hands out a backend (by name, as
        the default, or an object passed as ``backend=``), so every socket
        and Poller holds the resolved object and agrees with the others.
        """
        return self

    def lookup_host(self, host: str, family: Family) -> str | None:
        """Return the address host name *host* has for a *family* socket.

        Optional.  The facade calls it for ``connect``, ``bind`` and
        ``send_to`` when *host* is a name (never for an IP literal or an
        ``AF_UNIX`` path) and hands the :class:`SocketImpl` the address it
        returns, so a wrapping backend (a policy, a tracer) sees the
        address, not the name, and need not resolve anything itself.  Raise
        :class:`~sockspec.HostNotFound` when the name has no address of that
        family.  The default returns ``None``: the implementation gets the
        name and resolves it.  (Not :meth:`resolve`, which finds the backend
        a proxy stands for.)
        """
        return None

    def monotonic(self) -> float:
        """Return the backend's clock in seconds, the one timeouts run on.

        Wall-clock backends use :func:`time.monotonic`; a backend with
        virtual time returns its own clock, so a check can measure that a
        30-second timeout fired after 30 (virtual) seconds.
        """
        return time.monotonic()

    def open_resources(self) -> int | None:
        """Return how many resources the backend holds open now, or ``None``.

        OS backends count the process's file descriptors; a simulated network
        counts its open sockets.  The conformance suite compares the figure
        before and after a workload to find leaks; ``None`` (the default)
        means the backend cannot tell, and that check is skipped.
        """
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def _abstract(cls: type) -> bool:
    return any(
        getattr(getattr(cls, attr, None), "__isabstractmethod__", False)
        for attr in dir(cls)
    )


def _check_members(obj: object, cls: type) -> None:
    """Fail early on a backend without a usable name or capabilities."""
    what = f"backend class {cls.__module__}.{cls.__qualname__}"
    name = getattr(obj, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError(
            f"{what} has no name: set the class attribute 'name' (a non-empty "
            f"str) or assign self.name in __init__, got {name!r}"
        )
    # A property is computed (DelegatingBackend asks its inner backend);
    # reading it here could need the registry before it is ready.
    caps = getattr(cls, "capabilities", None)
    if not isinstance(caps, property):
        caps = getattr(obj, "capabilities", None)
        if not isinstance(caps, Capabilities):
            raise TypeError(
                f"{what} has no capabilities: set the class attribute "
                f"'capabilities' (a sockspec.Capabilities) or assign it in "
                f"__init__, got {caps!r}"
            )


def parse_options(
    options: str | None, backend: str, **keys: Callable[[str], object]
) -> dict[str, object]:
    """Parse the option text of a ``name:options`` choice: ``key=value;key=value``.

    The convention for backend factories.  *options* is what the factory
    received (``None`` for the bare name, which gives ``{}``: a bare name
    must work); *backend* names the backend in errors; each keyword argument
    names a key the backend takes and converts its text (``int``, ``float``,
    ``str``, or any callable).  Keys may come in any order; spaces around
    keys and values are ignored.  Raises :class:`ValueError` naming the key:
    an unknown key (with the closest known one), a key given twice, a part
    without ``=``, or a value its converter rejects.
    """
    if not options:
        return {}
    if not keys:
        raise ValueError(f"backend {backend!r} takes no options, got {options!r}")
    parsed: dict[str, object] = {}
    for part in options.split(";"):
        if not part.strip():
            continue
        key, sep, text = (piece.strip() for piece in part.partition("="))
        if not sep:
            raise ValueError(
                f"backend {backend!r}: option {key!r} needs a value ({key}=VALUE)"
            )
        if key not in keys:
            close = difflib.get_close_matches(key, keys, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            known = ", ".join(sorted(keys))
            raise ValueError(
                f"backend {backend!r}: unknown option {key!r}{hint}; it takes: {known}"
            )
        if key in parsed:
            raise ValueError(f"backend {backend!r}: option {key!r} is given twice")
        try:
            parsed[key] = keys[key](text)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"backend {backend!r}: option {key!r} has a bad value {text!r}: {exc}"
            ) from None
    return parsed


@dataclasses.dataclass(frozen=True)
class BackendSpec:
    """A backend a plugin offers, returned from ``sockspec_add_backends``.

    The registry calls :attr:`factory` once per distinct option string, the
    first time the backend is chosen, and reuses the object afterwards.
    """

    #: The name users choose the backend by (letters, digits, ``_``, ``-``).
    name: str
    #: Makes the backend; receives the text after ``name:`` or ``None``.
    factory: Callable[[str | None], Backend]
    #: One line shown by ``sockspec backends``.
    summary: str = ""
    #: The factory cannot work without options (it needs a server address,
    #: say): ``sockspec backends`` and a bare ``sockspec check`` then list
    #: the backend as "needs options" instead of calling the factory with
    #: ``None``.
    needs_options: bool = False
