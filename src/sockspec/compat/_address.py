"""Standard socket addresses to sockspec ``(host, port)`` pairs and back.

The standard module takes ``(host, port)`` for ``AF_INET``, ``(host, port[,
flowinfo[, scope_id]])`` for ``AF_INET6`` and a path for ``AF_UNIX``, and
rejects anything else with ``TypeError`` (wrong shape or type) or
``OverflowError`` (port out of range).  The checks below raise the same
classes so that code probing for them behaves as it does on the OS.
"""

from __future__ import annotations

import operator
import os

from ..api.constants import AF_INET, AF_INET6, AF_UNIX, Family

__all__ = ["host_port", "std_address"]

Pair = tuple[str | None, int | None]


def _host(value: object, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("idna")
    raise TypeError(f"str, bytes or bytearray expected, not {type(value).__name__}")


def _port(value: object, what: str) -> int:
    try:
        port = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"'{type(value).__name__}' object cannot be interpreted as an integer"
        ) from None
    if not 0 <= port <= 65535:
        raise OverflowError(f"{what}(): port must be 0-65535.")
    return port


def host_port(
    family: Family, address: object, what: str, *, bind: bool = False
) -> Pair:
    """Check a standard *address* for *family*; return sockspec's ``(host, port)``.

    *what* names the calling method in messages.  With *bind*, an empty
    host means "any address" (``None``); elsewhere it means this host, as on
    Linux.  ``"<broadcast>"`` is the standard module's broadcast spelling.
    """
    if family is AF_UNIX:
        if isinstance(address, (str, bytes, bytearray, os.PathLike)):
            # Through bytes and back, as the kernel sees it: a str with
            # surrogate escapes reads back decoded (getsockname()).
            path = os.fsdecode(os.fsencode(os.fspath(address)))  # type: ignore[arg-type]
            if not path:
                raise OSError(22, "Invalid argument")
            return path, None
        raise TypeError(
            f"{what}(): AF_UNIX address must be str or bytes, "
            f"not {type(address).__name__}"
        )
    if not isinstance(address, tuple):
        raise TypeError(
            f"{what}(): {family.name} address must be tuple, "
            f"not {type(address).__name__}"
        )
    if family is AF_INET:
        if len(address) != 2:
            raise TypeError("AF_INET address must be a pair (host, port)")
    elif not 2 <= len(address) <= 4:
        raise TypeError(
            "AF_INET6 address must be a tuple (host, port[, flowinfo[, scopeid]])"
        )
    host = _host(address[0], what)
    port = _port(address[1], what)
    for extra in address[2:]:
        _port_free_int(extra, what)
    if host == "<broadcast>":
        host = "255.255.255.255"
    if not host:
        if bind:
            return None, port
        host = "0.0.0.0" if family is AF_INET else "::"
    if family is AF_INET6 and "%" in host:
        host = host.split("%", 1)[0]  # scope ids mean nothing off the OS
    return host, port


def _port_free_int(value: object, what: str) -> None:
    try:
        operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"'{type(value).__name__}' object cannot be interpreted as an integer"
        ) from None


def std_address(family: Family, host: str | None, port: int | None) -> object:
    """Format sockspec's ``(host, port)`` as the standard module would.

    Unbound ``AF_INET`` reads ``('0.0.0.0', 0)``, ``AF_INET6`` a 4-tuple,
    ``AF_UNIX`` the path (``''`` when unbound).
    """
    if family is AF_UNIX:
        return host or ""
    if family is AF_INET6:
        return (host or "::", port or 0, 0, 0)
    return (host or "0.0.0.0", port or 0)
