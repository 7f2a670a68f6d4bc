"""The sockspec plugin: offers the ``trace`` backend.

Registered in ``pyproject.toml``::

    [project.entry-points."sockspec.backends"]
    trace = "sockspec_trace.plugin"

sockspec imports this module the first time a backend is chosen or listed,
and calls :func:`sockspec_add_backends` once.  The factory runs the first
time each ``trace:NAME`` is chosen.
"""

from __future__ import annotations

import threading

import sockspec
from sockspec import Backend, BackendSpec, hookimpl

from ._backend import TraceBackend

__all__ = ["make_backend", "sockspec_add_backends"]

#: What ``trace`` without options wraps: sockspec's default backend.
DEFAULT_INNER = "stdlib"

# One trace per inner backend object, so that "trace" and "trace:stdlib" are
# the same backend (a Poller needs all its sockets from one backend object).
_made: dict[int, tuple[Backend, TraceBackend]] = {}
_made_lock = threading.Lock()


def make_backend(options: str | None) -> TraceBackend:
    """Make ``trace:OPTIONS``: a trace of the backend *options* names.

    *options* is any backend choice, options included (``memory``,
    ``trace:stdlib``); ``None`` wraps :data:`DEFAULT_INNER`.
    """
    inner = sockspec.get_backend(options or DEFAULT_INNER)
    with _made_lock:
        known = _made.get(id(inner))
        if known is None or known[0] is not inner:
            known = _made[id(inner)] = (inner, TraceBackend(inner))
        return known[1]


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
