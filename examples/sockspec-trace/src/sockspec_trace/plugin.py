"""The sockspec plugin: offers the ``trace`` backend.

Registered in ``pyproject.toml``::

    [project.entry-points."sockspec.backends"]
    trace = "sockspec_trace.plugin"

sockspec imports this module the first time a backend is chosen or listed,
and calls :func:`sockspec_add_backends` once.  The factory runs the first
time each ``trace:NAME`` is chosen and returns a :class:`TraceChoice`: the
registry asks its ``current_backend()`` every time the name is chosen, so
``trace:memory`` follows whichever memory network is current (a fresh one per
test under the ``memory_network`` fixture), and ``trace:stdlib`` is always
the same :class:`~sockspec_trace.TraceBackend`.
"""

from __future__ import annotations

import threading
import weakref

import sockspec
from sockspec import Backend, BackendSpec, Capabilities, Family, SelectorImpl, hookimpl
from sockspec import SocketType as SockType

from ._backend import TraceBackend, TraceSocket

__all__ = ["DEFAULT_INNER", "TraceChoice", "make_backend", "sockspec_add_backends"]

#: What ``trace`` without options wraps: sockspec's default backend.
DEFAULT_INNER = "stdlib"

# One trace per live inner backend object, so "trace" and "trace:stdlib" are
# the same backend (a Poller needs all its sockets from one backend object).
# The trace holds its inner backend, so an entry lives exactly as long as
# something uses the trace, and the id of a live inner object is unique.
_traces: weakref.WeakValueDictionary[int, TraceBackend] = weakref.WeakValueDictionary()
_traces_lock = threading.Lock()


def trace_of(inner: Backend) -> TraceBackend:
    """Return the trace of *inner* writing to the process-wide log."""
    with _traces_lock:
        traced = _traces.get(id(inner))
        if traced is None or traced.inner is not inner:
            traced = _traces[id(inner)] = TraceBackend(inner)
        return traced


class TraceChoice(Backend):
    """What the registry keeps for ``trace:NAME``: a trace of NAME's current backend.

    The registry resolves it through :meth:`current_backend` whenever the
    name is chosen; the other methods do the same, for code that holds the
    object itself.
    """

    def __init__(self, choice: str) -> None:
        #: The backend choice being traced (``"memory"``, ``"foo:opts"``).
        self.choice = choice
        self.name = f"trace:{choice}"

    def current_backend(self) -> TraceBackend:
        """The trace of what :attr:`choice` means now."""
        return trace_of(sockspec.get_backend(self.choice))

    @property
    def capabilities(self) -> Capabilities:  # type: ignore[override]
        """The current inner backend's capabilities."""
        return self.current_backend().capabilities

    def socket(self, family: Family, type: SockType) -> TraceSocket:
        """A traced socket of the current inner backend."""
        return self.current_backend().socket(family, type)

    def selector(self) -> SelectorImpl:
        """A traced selector of the current inner backend."""
        return self.current_backend().selector()

    def monotonic(self) -> float:
        """The current inner backend's clock."""
        return self.current_backend().monotonic()

    def open_resources(self) -> int | None:
        """What the current inner backend holds open."""
        return self.current_backend().open_resources()


def make_backend(options: str | None) -> TraceChoice:
    """Make ``trace:OPTIONS``: a trace of the backend *options* names.

    *options* is any backend choice, options included (``memory``,
    ``trace:stdlib``); ``None`` wraps :data:`DEFAULT_INNER`.  An unknown
    choice fails here, with the list of available backends.
    """
    choice = options or DEFAULT_INNER
    sockspec.get_backend(choice)
    return TraceChoice(choice)


@hookimpl
def sockspec_add_backends() -> list[BackendSpec]:
    """Offer ``trace``, choosable as ``trace:NAME`` for any backend NAME."""
    return [
        BackendSpec(
            "trace",
            make_backend,
            "records every operation of another backend (trace:NAME)",
        )
    ]
