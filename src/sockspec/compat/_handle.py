"""What compat sockets share: the underlying socket's handle, timeout checks.

A :class:`Handle` holds one :class:`sockspec.Socket` and what the facade has
no place for; ``dup()`` shares it and ``detach()`` parks it (see
:mod:`sockspec.compat._fds`).
"""

from __future__ import annotations

import math

from ..api.socket import Socket

__all__ = ["Handle", "timeout_value"]


def timeout_value(value: object) -> float | None:
    """Check a ``settimeout`` argument as the standard module does."""
    if value is None:
        return None
    # Like CPython: anything with __float__ or __index__, but not a str.
    if not hasattr(value, "__float__") and not hasattr(value, "__index__"):
        raise TypeError(
            f"'{type(value).__name__}' object cannot be interpreted as an integer"
        )
    seconds = float(value)  # type: ignore[arg-type]
    if math.isnan(seconds) or seconds < 0:
        raise ValueError("Timeout value out of range")
    return seconds


class Handle:
    """One underlying sockspec socket, shared by ``dup()``-ed compat sockets."""

    __slots__ = ("extra_options", "listening", "lost", "pending", "refs", "sock")

    def __init__(self, sock: Socket) -> None:
        #: The facade socket doing the work.
        self.sock = sock
        #: How many open compat sockets use it; the last close closes it.
        self.refs = 1
        #: ``(host, port)`` of a non-blocking connect not yet collected.
        self.pending: tuple[str, int | None] | None = None
        #: Options the backend does not model: remembered, without effect.
        self.extra_options: dict[tuple[int, int], int | bytes] = {}
        #: ``listen()`` succeeded (``SO_ACCEPTCONN``).
        self.listening = False
        #: The number a second object on it (``socket(fileno=n)``) closed:
        #: its owner's own close then fails with ``EBADF``, as on Linux.
        self.lost = -1

    def release(self) -> None:
        """Drop one user; the last one closes the facade socket."""
        self.refs -= 1
        if self.refs <= 0:
            self.sock.close()
