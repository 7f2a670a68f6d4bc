"""Memory-network compat sockets in a ``fork()`` child fail, and say why.

A memory network lives in the memory of the process that made it.  A child
made by ``fork()`` (``socketserver.ForkingMixIn``, ``multiprocessing`` with
the ``fork`` start method) gets a frozen copy: its packets reach nobody,
and locks that another thread held at the fork stay locked in it for good.
Left alone, a child that uses a copied socket hangs or sees a reset.

So, right after a fork, the child swaps the sockspec socket under each of
its compat sockets on the memory network for a :class:`_Forked` stand-in:
every use raises an ``EOPNOTSUPP`` error naming the limitation, and closing
(which a child does to its copies) is allowed.  Compat sockets on the OS
backends sit on real descriptors, which do cross ``fork()``: they are left
as they are.
"""

from __future__ import annotations

import errno
import os
from typing import Any, NoReturn

from ..api.errors import UnsupportedOperation
from . import _fds

__all__ = ["MESSAGE", "install"]

#: What a fork() child is told when it uses a memory-network socket.
MESSAGE = (
    "sockspec: this socket is on a memory network, which lives in the process "
    "that made it and cannot cross fork(): use threads "
    "(ThreadingMixIn, not ForkingMixIn; no multiprocessing 'fork')"
)


class _Forked:
    """Stands for a memory-network socket in a ``fork()`` child."""

    __slots__ = ()

    closed = True

    def close(self) -> None:
        """Closing the child's copy is harmless: nothing to do."""

    def __getattr__(self, name: str) -> NoReturn:
        raise UnsupportedOperation(errno.EOPNOTSUPP, MESSAGE)


_FORKED = _Forked()


def _after_fork_in_child() -> None:
    for sock in _fds.live_sockets():
        _poison(sock)
    for handle in _fds.detached_handles():
        _poison_handle(handle)


def _poison(sock: Any) -> None:
    handle = sock._handle
    if _on_memory(handle):
        sock._sock = _FORKED
        handle.sock = _FORKED


def _poison_handle(handle: Any) -> None:
    if _on_memory(handle):
        handle.sock = _FORKED


def _on_memory(handle: Any) -> bool:
    facade = handle.sock
    if facade is _FORKED:
        return True
    try:
        return bool(facade.backend == "memory")
    except Exception:
        return False


_installed = False


def install() -> None:
    """Register the fork hook (once per process; a no-op without fork)."""
    global _installed
    if _installed or not hasattr(os, "register_at_fork"):
        return
    os.register_at_fork(after_in_child=_after_fork_in_child)
    _installed = True
