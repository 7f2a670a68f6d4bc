"""sockspec-trace: a sockspec backend that records every socket operation.

Choose it like any backend, naming the backend to wrap after a colon::

    SOCKSPEC_BACKEND=trace:memory python -m myapp
    sockspec.Socket(backend="trace:stdlib")
    with sockspec.use_backend("trace:selectors"): ...

``trace`` alone wraps ``stdlib``, sockspec's default backend.  Sockets
behave exactly as on the wrapped backend (same capabilities, same errors,
same clock); each operation is also written to :data:`LOG`::

    import sockspec_trace

    sockspec_trace.clear_log()
    run_the_code_under_test()
    print(sockspec_trace.format_log())
    assert sockspec_trace.LOG.ops(target="s1") == ["connect", "send", "close"]

    with sockspec_trace.capture() as seen:   # just the records of this block
        ...
    assert not seen.errors()

Set ``SOCKSPEC_TRACE_ECHO=stderr`` to see records as they happen.
The plugin itself is :mod:`sockspec_trace.plugin`, registered through the
``sockspec.backends`` entry point; sockspec never imports this package.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ._backend import TraceBackend, TraceSelector, TraceSocket
from ._log import ECHO_ENV, LOG, TraceLog, TraceRecord

__all__ = [
    "ECHO_ENV",
    "LOG",
    "TraceBackend",
    "TraceLog",
    "TraceRecord",
    "TraceSelector",
    "TraceSocket",
    "capture",
    "clear_log",
    "format_log",
    "get_log",
]

__version__ = "0.1.0"


def get_log(*, op: str | None = None, target: str | None = None) -> list[TraceRecord]:
    """Return the records of :data:`LOG`, optionally only one *op* or *target*."""
    return LOG.records(op=op, target=target)


def clear_log() -> None:
    """Forget every record in :data:`LOG`."""
    LOG.clear()


def format_log() -> str:
    """Return :data:`LOG` as text, one line per operation."""
    return LOG.format()


@contextmanager
def capture() -> Iterator[TraceLog]:
    """Collect the records :data:`LOG` gets during the ``with`` block.

    Yields a new :class:`TraceLog` holding only those records.
    """
    with LOG.capture() as seen:
        yield seen
