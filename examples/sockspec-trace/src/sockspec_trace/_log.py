"""The trace log: what every traced operation did, in the order it finished.

A :class:`TraceLog` is a bounded, thread-safe list of :class:`TraceRecord`.
Each record is immutable and carries text summaries, not the objects
themselves, so keeping a log never keeps sockets, buffers or tracebacks
alive.  :meth:`TraceLog.capture` hands out a private log that sees the
records made during a ``with`` block, which is what a test wants to assert
on when other tests (or threads) share the process-wide log.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import itertools
import os
import sys
import threading
from collections.abc import Iterable, Iterator
from typing import TextIO

__all__ = ["ECHO_ENV", "LOG", "TraceLog", "TraceRecord"]

#: Environment variable: ``stderr`` (or ``1``) or ``stdout`` echoes every
#: record of the process-wide log as it is made.
ECHO_ENV = "SOCKSPEC_TRACE_ECHO"


@dataclasses.dataclass(frozen=True, slots=True)
class TraceRecord:
    """One traced operation and how it ended."""

    #: Position in the log (from 1), in the order operations finished.
    seq: int
    #: Name of the traced backend (``"trace:stdlib"``).
    backend: str
    #: Label of the socket (``"s1"``) or poller (``"p1"``); ``""`` for the backend.
    target: str
    #: Operation name: a :class:`~sockspec.SocketImpl` or
    #: :class:`~sockspec.SelectorImpl` method, or ``"socket"``/``"selector"``.
    op: str
    #: The arguments, summarised (long data is cut short, with its length).
    args: str
    #: The result, summarised; ``None`` when the operation raised.
    result: str | None
    #: Class name of the exception raised, as the application sees it
    #: (``"ConnectionRefused"``), or ``None``.
    error_type: str | None
    #: The exception's message, or ``None``.
    error: str | None
    #: Name of the thread that made the call.
    thread: str
    #: When the operation started, on the wrapped backend's clock (virtual
    #: time for the memory backend), in seconds.
    start: float
    #: How long it took, in seconds on the same clock.
    duration: float

    @property
    def ok(self) -> bool:
        """``True`` if the operation returned instead of raising."""
        return self.error_type is None

    @property
    def outcome(self) -> str:
        """``"-> result"`` or ``"!! ErrorType: message"``."""
        if self.error_type is None:
            return f"-> {self.result}"
        return f"!! {self.error_type}: {self.error}"

    def call(self) -> str:
        """The call as text: ``s1.connect('127.0.0.1', 8080, timeout=5.0)``."""
        prefix = f"{self.target}." if self.target else ""
        return f"{prefix}{self.op}({self.args})"

    def __str__(self) -> str:
        return f"{self.seq:>5} [{self.thread}] {self.call()} {self.outcome}"


class TraceLog:
    """A thread-safe log of :class:`TraceRecord`, oldest first.

    :param maxlen: keep at most this many records, dropping the oldest
        (``None``: no limit).  :attr:`dropped` counts what was dropped.
    :param echo: a text stream to write each record to as it is made.
    """

    def __init__(self, maxlen: int | None = 100_000, echo: TextIO | None = None):
        self._lock = threading.Lock()
        self._records: collections.deque[TraceRecord] = collections.deque(maxlen=maxlen)
        self._seq = itertools.count(1)
        self._labels: dict[str, Iterator[int]] = {}
        self._captures: list[TraceLog] = []
        #: Number of records dropped because the log was full.
        self.dropped = 0
        #: Stream every new record is written to, or ``None``.
        self.echo = echo

    # -- writing (used by the backend) -------------------------------------------

    def label(self, prefix: str) -> str:
        """Return a new label (``s1``, ``s2``...); labels are never reused."""
        with self._lock:
            counter = self._labels.setdefault(prefix, itertools.count(1))
            return f"{prefix}{next(counter)}"

    def add(
        self,
        *,
        backend: str,
        target: str,
        op: str,
        args: str,
        result: str | None,
        error_type: str | None,
        error: str | None,
        start: float,
        duration: float,
    ) -> TraceRecord:
        """Append a record of the calling thread's operation; return it."""
        thread = threading.current_thread().name
        with self._lock:
            record = TraceRecord(
                next(self._seq),
                backend,
                target,
                op,
                args,
                result,
                error_type,
                error,
                thread,
                start,
                duration,
            )
            self._append(record)
            return record

    def _append(self, record: TraceRecord) -> None:
        records = self._records
        if records.maxlen is not None and len(records) == records.maxlen:
            self.dropped += 1
        records.append(record)
        for capture in self._captures:
            capture._append(record)
        if self.echo is not None:
            try:
                self.echo.write(f"{record}\n")
                self.echo.flush()
            except (OSError, ValueError):
                pass  # a closed echo stream must not break the traced program

    # -- reading -------------------------------------------------------------------

    def records(
        self, *, op: str | None = None, target: str | None = None
    ) -> list[TraceRecord]:
        """Return a snapshot of the records, optionally only one *op* or *target*."""
        with self._lock:
            snapshot = list(self._records)
        return [
            r
            for r in snapshot
            if (op is None or r.op == op) and (target is None or r.target == target)
        ]

    def ops(self, *, target: str | None = None) -> list[str]:
        """Return just the operation names, in order: handy in assertions."""
        return [r.op for r in self.records(target=target)]

    def errors(self) -> list[TraceRecord]:
        """Return the records of operations that raised."""
        return [r for r in self.records() if not r.ok]

    def clear(self) -> None:
        """Forget every record (labels keep counting, so they stay unique)."""
        with self._lock:
            self._records.clear()
            self.dropped = 0

    def format(self, records: Iterable[TraceRecord] | None = None) -> str:
        """Return the records (default: all) as a table, one line each.

        Columns: sequence number, start time relative to the first record,
        duration, thread, call and outcome.
        """
        rows = self.records() if records is None else list(records)
        if not rows:
            return "(no socket operations recorded)"
        t0 = rows[0].start
        lines = []
        if self.dropped and records is None:
            lines.append(f"({self.dropped} older records dropped)")
        for r in rows:
            lines.append(
                f"{r.seq:>5} {r.start - t0:+10.6f}s {r.duration * 1e3:9.3f}ms "
                f"[{r.thread}] {r.call()} {r.outcome}"
            )
        return "\n".join(lines)

    def dump(self, file: TextIO | None = None) -> None:
        """Write :meth:`format` to *file* (default: ``sys.stderr``)."""
        print(self.format(), file=file if file is not None else sys.stderr)

    @contextlib.contextmanager
    def capture(self) -> Iterator[TraceLog]:
        """Collect the records made during the ``with`` block in a new log.

        ``with log.capture() as seen: ...`` -- *seen* is an unbounded
        :class:`TraceLog` with only those records; this log still gets them.
        """
        seen = TraceLog(maxlen=None)
        with self._lock:
            self._captures.append(seen)
        try:
            yield seen
        finally:
            with self._lock:
                self._captures.remove(seen)

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def __iter__(self) -> Iterator[TraceRecord]:
        return iter(self.records())

    def __repr__(self) -> str:
        return f"<TraceLog {len(self)} records>"


def echo_from_env() -> TextIO | None:
    """Return the stream ``$SOCKSPEC_TRACE_ECHO`` asks for, or ``None``."""
    value = os.environ.get(ECHO_ENV, "").strip().lower()
    if value in ("1", "stderr", "true", "yes"):
        return sys.stderr
    if value == "stdout":
        return sys.stdout
    return None


#: The process-wide log that backends chosen by name write to.
LOG = TraceLog(echo=echo_from_env())
