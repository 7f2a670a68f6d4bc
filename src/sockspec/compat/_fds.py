"""File numbers for compat sockets.

A compat socket's :meth:`~sockspec.compat.socket.fileno` must differ from
every real descriptor of the process and from every other open compat
socket, so that it can sit in a selector beside real ones.  The simplest
number nobody else can have is a real descriptor we hold ourselves: each
compat socket opens :data:`os.devnull` once and closes it when the socket
closes.  Such a descriptor is useless for I/O, which is the point: a C
function handed it fails instead of touching a stranger's file.

The table maps each number to its socket (weakly), so :func:`select` can
accept bare numbers, and parks detached sockets until
``socket(fileno=n)`` picks them up again.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._socket import socket

__all__ = [
    "adopt",
    "detach",
    "detached_handles",
    "is_detached",
    "live_sockets",
    "lookup",
    "register",
    "release",
    "reserve",
]

_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
_lock = threading.Lock()
_live: dict[int, weakref.ref[socket]] = {}
_detached: dict[int, Any] = {}


def reserve() -> int:
    """Open and return a descriptor that stands for one compat socket."""
    return os.open(os.devnull, _FLAGS)


def register(fd: int, sock: socket) -> None:
    """Record that *fd* now stands for *sock*."""
    with _lock:
        _live[fd] = weakref.ref(sock)


def release(fd: int) -> None:
    """Forget *fd* and close the descriptor."""
    with _lock:
        _live.pop(fd, None)
    try:
        os.close(fd)
    except OSError:
        pass  # someone closed our descriptor behind our back: nothing to free


def lookup(fd: int) -> socket | None:
    """The open compat socket whose file number is *fd*, or ``None``."""
    ref = _live.get(fd)
    return None if ref is None else ref()


def detach(fd: int, handle: Any) -> None:
    """Park *handle* under *fd* until :func:`adopt` claims it."""
    with _lock:
        _live.pop(fd, None)
        _detached[fd] = handle


def is_detached(fd: int) -> bool:
    """Whether *fd* is a detached compat socket waiting to be adopted."""
    return fd in _detached


def adopt(fd: int) -> Any:
    """Take back the handle parked under *fd*, or ``None``."""
    with _lock:
        return _detached.pop(fd, None)


def live_sockets() -> list[socket]:
    """Every open compat socket (for a fork() child: no lock is taken)."""
    found = (ref() for ref in list(_live.values()))
    return [sock for sock in found if sock is not None]


def detached_handles() -> list[Any]:
    """The handles parked by ``detach()`` (for a fork() child, as above)."""
    return list(_detached.values())
