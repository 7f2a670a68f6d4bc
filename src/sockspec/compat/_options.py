"""``setsockopt``/``getsockopt`` over sockspec's backend-neutral options.

The standard module names an option by ``(level, optname)`` integers and
passes values as ints or packed structs; sockspec has one enum
(:class:`~sockspec.Option`) with normalised values.  This module maps
between the two.  ``SO_ERROR``, ``SO_TYPE`` and friends are answered by the
compat socket itself (see :mod:`sockspec.compat._socket`).
"""

from __future__ import annotations

import socket as _s
import struct

from ..api.constants import Option

__all__ = ["KNOWN", "from_std_value", "to_std_value"]

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
