"""The sockspec plugin: offers the ``trace`` backend.

Registered in ``pyproject.toml``::

    [project.entry-points."sockspec.backends"]
    trace = "sockspec_trace.plugin"

sockspec imports this module the first time a backend is chosen or listed,
and calls :func:`sockspec_add_backends` once.  The factory runs the first
time each ``trace:NAME`` is chosen and returns a
:class:`~sockspec_trace.TraceBackend` of the *choice* ``NAME``: like every
:class:`~sockspec.DelegatingBackend` around a choice, it follows what the
choice means each time a socket is made, so ``trace:memory`` traces whichever
memory network is current (a fresh one per test under the ``memory_network``
fixture), and ``trace:stdlib`` always the same stdlib backend.
"""

from __future__ import annotations

import threading

import sockspec
from sockspec import BackendSpec, hookimpl

from ._backend import TraceBackend

__all__ = ["DEFAULT_INNER", "make_backend", "sockspec_add_backends"]

#: What ``trace`` without options wraps: sockspec's default backend.
DEFAULT_INNER = "stdlib"

# One trace per choice, so "trace" and "trace:stdlib" are the same backend
# (a Poller needs all its sockets from one backend object).
_traces: dict[str, TraceBackend] = {}
_traces_lock = threading.Lock()


def make_backend(options: str | None) -> TraceBackend:
    """Make ``trace:OPTIONS``: a trace of the backend *options* names.

    *options* is any backend choice, options included (``memory``,
    ``trace:stdlib``); ``None`` wraps :data:`DEFAULT_INNER`.  An unknown
    choice fails here, with the list of available backends.
    """
    choice = options or DEFAULT_INNER
    sockspec.get_backend(choice)
    with _traces_lock:
        traced = _traces.get(choice)
        if traced is None:
            traced = _traces[choice] = TraceBackend(choice)
        return traced


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
