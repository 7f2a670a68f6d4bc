"""sockspec errors turned into exactly what the standard ``socket`` module raises.

sockspec's own errors already subclass the matching built-ins, but code that
compares ``type(exc)``, prints ``exc.args`` or catches ``socket.gaierror``
expects the standard module's objects.  :func:`standard_error` is the one
place where the translation happens.
"""

from __future__ import annotations

import errno
import os
import socket as _stdsocket

from ..api.errors import HostNotFound, SocketClosed, SocketError, Timeout

__all__ = ["not_supported", "standard_error"]


def standard_error(exc: SocketError, timed: bool) -> OSError:
    """Return the exception a standard socket would have raised for *exc*.

    *timed* says whether the socket has a positive timeout: its expiry is
    then ``TimeoutError('timed out')`` without an errno, as CPython raises
    it, while a blocking connect that the peer never answered is
    ``TimeoutError(ETIMEDOUT, ...)`` from the kernel.
    """
    if isinstance(exc, Timeout):
        if timed:
            return TimeoutError("timed out")
        return OSError(errno.ETIMEDOUT, os.strerror(errno.ETIMEDOUT))
    if isinstance(exc, HostNotFound):
        gai = exc.errno if exc.errno is not None else _stdsocket.EAI_NONAME
        return _stdsocket.gaierror(gai, exc.strerror or "Name or service not known")
    if isinstance(exc, SocketClosed):
        return OSError(errno.EBADF, os.strerror(errno.EBADF))
    if exc.errno is None:
        return OSError(*exc.args)
    code: int = exc.errno
    # OSError(code, ...) picks the subclass (ConnectionRefusedError...) itself.
    return OSError(code, exc.strerror or os.strerror(code))


def not_supported(what: str) -> OSError:
    """An ``EOPNOTSUPP`` error that says sockspec is why."""
    return OSError(errno.EOPNOTSUPP, f"sockspec.compat does not support {what}")
