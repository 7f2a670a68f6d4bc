"""Sockets closed by finalizers that the cyclic garbage collector runs.

A collection starts at whatever allocation crosses the collector's
threshold, also one sockspec makes while it holds the network's lock, and
it runs the finalizers of what it frees right there, in the same thread:
``__del__`` methods, ``weakref.finalize`` callbacks (urllib3 closes a
pool's connections this way), asyncio transports closing their sockets.
A finalizer that closes a memory socket would then wait for a lock its own
thread holds, below it on the stack, and never get it.

So the network watches collections (:data:`gc.callbacks`, installed when
the first :class:`~sockspec.backends.memory.Network` is made).  A close
made by the collecting thread during a collection does not wait for the
lock: when the lock is busy, a short-lived thread makes the close as soon
as the lock is free.  Any other close waits for the lock as always, so it
has taken effect when it returns.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["close_later", "in_collection", "watch_collections"]

_get_ident = threading.get_ident
#: The thread running a collection now, or ``None``.
_collecting: int | None = None


def _watch(phase: str, info: dict[str, Any]) -> None:
    global _collecting
    _collecting = _get_ident() if phase == "start" else None


def watch_collections() -> None:
    """Follow the collector's collections (once per process)."""
    if _watch not in gc.callbacks:
        gc.callbacks.append(_watch)


def in_collection() -> bool:
    """Whether the calling thread is running a collection's finalizers."""
    return _collecting is not None and _collecting == _get_ident()


def close_later(close: Callable[[], None]) -> None:
    """Run *close* in a thread of its own, which may wait for the lock."""
    threading.Thread(
        target=close, name="sockspec: close from a finalizer", daemon=True
    ).start()
