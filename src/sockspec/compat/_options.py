"""``setsockopt``/``getsockopt`` over sockspec's backend-neutral options.

The standard module names an option by ``(level, optname)`` integers and
passes values as ints or packed structs; sockspec has one enum
(:class:`~sockspec.Option`) with normalised values.  This module maps
between the two.  ``SO_ERROR``, ``SO_TYPE`` and friends are answered by the
compat socket itself (see :mod:`sockspec.compat._socket`).
"""

from __future__ import annotations

import errno
import os
import socket as _s
import struct
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..api.constants import AF_UNIX, SOCK_DGRAM, SOCK_STREAM, Option
from ..api.errors import SocketError, UnsupportedOperation, WouldBlock

if TYPE_CHECKING:
    from ._socket import socket

__all__ = [
    "KNOWN",
    "connect_outcome",
    "from_std_value",
    "get_std_option",
    "set_std_option",
    "to_std_value",
]

_PROTOS = {SOCK_STREAM: _s.IPPROTO_TCP, SOCK_DGRAM: _s.IPPROTO_UDP}

#: ``(level, optname)`` -> sockspec option, for those the OS module has.
KNOWN: dict[tuple[int, int], Option] = {
    (_s.SOL_SOCKET, _s.SO_REUSEADDR): Option.SO_REUSEADDR,
    (_s.SOL_SOCKET, _s.SO_KEEPALIVE): Option.SO_KEEPALIVE,
    (_s.SOL_SOCKET, _s.SO_BROADCAST): Option.SO_BROADCAST,
    (_s.SOL_SOCKET, _s.SO_RCVBUF): Option.SO_RCVBUF,
    (_s.SOL_SOCKET, _s.SO_SNDBUF): Option.SO_SNDBUF,
    (_s.SOL_SOCKET, _s.SO_LINGER): Option.SO_LINGER,
    (_s.IPPROTO_TCP, _s.TCP_NODELAY): Option.TCP_NODELAY,
}
if hasattr(_s, "SO_REUSEPORT"):
    KNOWN[(_s.SOL_SOCKET, _s.SO_REUSEPORT)] = Option.SO_REUSEPORT
if hasattr(_s, "IPV6_V6ONLY"):
    KNOWN[(_s.IPPROTO_IPV6, _s.IPV6_V6ONLY)] = Option.IPV6_V6ONLY

_LINGER = struct.Struct("ii")
_INT = struct.Struct("i")


def from_std_value(option: Option, value: int | bytes) -> object:
    """Turn a ``setsockopt`` value into sockspec's normalised value."""
    if option is Option.SO_LINGER:
        if isinstance(value, int):
            raise OSError(22, "Invalid argument")
        onoff, seconds = _LINGER.unpack(bytes(value)[: _LINGER.size])
        return seconds if onoff else None
    number: int = value if isinstance(value, int) else _INT.unpack(value[:4])[0]
    if option in (Option.SO_RCVBUF, Option.SO_SNDBUF):
        return max(number, 1)
    return bool(number)


def to_std_value(option: Option, value: object, buflen: int | None) -> int | bytes:
    """Turn sockspec's option value into what ``getsockopt`` returns."""
    if option is Option.SO_LINGER:
        onoff: int = 0 if value is None else 1
        seconds = 0 if value is None else int(value)  # type: ignore[call-overload]
        packed = _LINGER.pack(onoff, seconds)
        return onoff if buflen is None else packed[:buflen]
    number: int = int(value)  # type: ignore[call-overload]
    if buflen is None:
        return number
    return _INT.pack(number).ljust(buflen, b"\0")[:buflen]


def set_std_option(sock: socket, level: int, optname: int, value: Any) -> None:
    """``setsockopt`` on compat socket *sock*."""
    if not isinstance(value, (int, bytes, bytearray, memoryview)):
        raise TypeError(
            f"a bytes-like object is required, not '{type(value).__name__}'"
        )
    if sock._fd < 0:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))
    option = KNOWN.get((level, optname))
    facade = sock._sock
    if option is None or option not in facade._backend.capabilities.options:
        sock._handle.extra_options[(level, optname)] = (
            value if isinstance(value, int) else bytes(value)
        )
        return
    std = value if isinstance(value, int) else bytes(value)
    try:
        facade.set_option(option, from_std_value(option, std))
    except UnsupportedOperation:
        if _unix_generic(sock, level, optname):
            sock._handle.extra_options[(level, optname)] = std
            return
        raise _unsupported(sock) from None
    except SocketError as exc:
        raise sock._err(exc) from None


def _unix_generic(sock: socket, level: int, optname: int) -> bool:
    """Whether Linux takes this option on *sock*, a UNIX socket, without effect.

    ``SOL_SOCKET`` options are the socket layer's, whatever the family:
    Linux keeps ``SO_KEEPALIVE``, ``SO_BROADCAST``, ``SO_LINGER``... on a
    UNIX socket (aiohttp's server sets keep-alive on every connection)
    where sockspec's API, which has no such option for UNIX, refuses it.
    """
    return (
        sock._sock.family is AF_UNIX
        and level == _s.SOL_SOCKET
        and optname != getattr(_s, "SO_REUSEPORT", None)
    )


def _unsupported(sock: socket) -> OSError:
    # Linux: a TCP option, or SO_REUSEPORT, on a UNIX socket is EOPNOTSUPP;
    # an option the protocol does not have is ENOPROTOOPT.
    code = errno.EOPNOTSUPP if sock._sock.family is AF_UNIX else errno.ENOPROTOOPT
    return OSError(code, os.strerror(code))


def get_std_option(sock: socket, level: int, optname: int, buflen: int | None) -> Any:
    """``getsockopt`` on compat socket *sock*."""
    if sock._fd < 0:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))
    facade = sock._sock
    if level == _s.SOL_SOCKET:
        special: dict[int, Callable[[], int]] = {
            _s.SO_ERROR: lambda: connect_outcome(sock),
            _s.SO_TYPE: lambda: int(sock.type),
            _s.SO_ACCEPTCONN: lambda: int(sock._handle.listening),
        }
        if hasattr(_s, "SO_DOMAIN"):
            special[_s.SO_DOMAIN] = lambda: int(sock.family)
        if hasattr(_s, "SO_PROTOCOL"):
            special[_s.SO_PROTOCOL] = lambda: (
                0 if facade.family is AF_UNIX else _PROTOS[facade.type]
            )
        fn = special.get(optname)
        if fn is not None:
            return to_std_value(Option.SO_RCVBUF, fn(), buflen)
    option = KNOWN.get((level, optname))
    if option is None or option not in facade._backend.capabilities.options:
        return _stored(sock, level, optname, buflen)
    try:
        value = facade.get_option(option)
    except UnsupportedOperation:
        if facade.family is AF_UNIX and level == _s.SOL_SOCKET:
            # As set (SO_REUSEPORT, which cannot be set, reads back 0).
            return _stored(sock, level, optname, buflen)
        raise _unsupported(sock) from None
    except SocketError as exc:
        raise sock._err(exc) from None
    return to_std_value(option, value, buflen)


def _stored(sock: socket, level: int, optname: int, buflen: int | None) -> Any:
    """An option kept by compat only, as ``getsockopt`` returns it."""
    stored = sock._handle.extra_options.get((level, optname), 0)
    if isinstance(stored, bytes):
        return (
            stored
            if buflen is not None
            else int.from_bytes(stored[:4].ljust(4, b"\0"), sys.byteorder)
        )
    return to_std_value(Option.SO_RCVBUF, stored, buflen)


def connect_outcome(sock: socket) -> int:
    """Collect the outcome of a pending non-blocking connect (``SO_ERROR``)."""
    handle = sock._handle
    if handle.pending is None:
        return 0
    host, port = handle.pending
    try:
        sock._sock.connect(host, port, 0)
    except SocketError as exc:
        if isinstance(exc, WouldBlock) or exc.errno in (
            errno.EALREADY,
            errno.EINPROGRESS,
        ):
            return 0  # still in progress: Linux answers 0 too
        handle.pending = None
        if exc.errno == errno.EISCONN:
            return 0
        return exc.errno or errno.EIO
    handle.pending = None
    return 0
