"""Argument checks shared by the facade: one message style, one place.

Every function returns the normalised value or raises ``TypeError`` /
``ValueError`` whose message names the argument.  They sit off the hot path:
the facade calls them only when a quick class check fails.
"""

from __future__ import annotations

import functools
import io
import math
import os
import socket as _socket
import sys
from typing import BinaryIO, TypeVar

from .constants import (
    AF_INET6,
    AF_UNIX,
    FLAG_OPTIONS,
    IPV6_V6ONLY,
    SIZE_OPTIONS,
    SO_BROADCAST,
    SO_KEEPALIVE,
    SO_LINGER,
    SO_REUSEPORT,
    SOCK_DGRAM,
    SOCK_STREAM,
    TCP_NODELAY,
    Event,
    Family,
    Option,
    Shutdown,
    SocketType,
)
from .errors import HostNotFound

#: ``receive`` and ``receive_from`` read at most this many bytes by default.
DEFAULT_MAXLEN = 65536
#: A larger ``maxlen`` reads at most this much: buffers are allocated at
#: full size, so ``receive(2**62)`` would otherwise fail with MemoryError.
#: No datagram is larger, so truncation never differs.
MAX_MAXLEN = 1 << 24
#: The longest AF_UNIX path in bytes (``sizeof(sun_path)``); the in-memory
#: backend keeps the same limit, so code that works there works on the OS.
UNIX_PATH_MAX = 104 if sys.platform == "darwin" or "bsd" in sys.platform else 108
#: The longest finite timeout (seconds): the OS waits take int milliseconds.
MAX_TIMEOUT = 2_147_483.0
#: ``listen()`` without an argument uses this backlog.
DEFAULT_BACKLOG = 128


#: The sockspec enums an argument may be a member of.
_E = TypeVar("_E", Family, SocketType, Shutdown, Option)


def _names(enum_cls: type[Family | SocketType | Shutdown | Option]) -> str:
    return ", ".join(m.name for m in enum_cls)


def enum_arg(value: object, enum_cls: type[_E], name: str) -> _E:
    """Check that *value* is a member of *enum_cls* (a sockspec constant)."""
    if isinstance(value, enum_cls):
        return value
    hint = ""
    if isinstance(value, int) and not isinstance(value, bool):
        hint = " (use the sockspec constants, not the socket module's numbers)"
    raise ValueError(f"{name} must be one of {_names(enum_cls)}, got {value!r}{hint}")


def family_arg(value: object) -> Family:
    """Validate a ``family`` argument."""
    return enum_arg(value, Family, "family")


def type_arg(value: object) -> SocketType:
    """Validate a ``type`` argument."""
    return enum_arg(value, SocketType, "type")


def shutdown_arg(value: object) -> Shutdown:
    """Validate the ``what`` argument of ``shutdown``."""
    return enum_arg(value, Shutdown, "what")


def option_arg(value: object) -> Option:
    """Validate an option name."""
    return enum_arg(value, Option, "option")


def int_arg(value: object, name: str, minimum: int, maximum: int | None = None) -> int:
    """Check that *value* is an ``int`` (not ``bool``) within bounds."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and <= {maximum}"
        raise ValueError(f"{name} must be >= {minimum}{upper}, got {value}")
    return int(value)


def maxlen_arg(value: object) -> int:
    """Validate ``maxlen`` (``None`` gives the default)."""
    if value is None:
        return DEFAULT_MAXLEN
    return min(int_arg(value, "maxlen", 1), MAX_MAXLEN)


def backlog_arg(value: object) -> int:
    """Validate ``backlog`` (``None`` gives the default)."""
    if value is None:
        return DEFAULT_BACKLOG
    return int_arg(value, "backlog", 0, 65535)


def timeout_arg(value: object, name: str = "timeout") -> float | None:
    """Validate a timeout in seconds: ``None``, ``0`` or a positive number."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"{name} must be None or a number of seconds, got {type(value).__name__}"
        )
    seconds = float(value)
    if math.isnan(seconds) or seconds < 0:
        raise ValueError(f"{name} must be None or >= 0 seconds, got {value!r}")
    if math.isinf(seconds):
        return None
    if seconds > MAX_TIMEOUT:
        raise ValueError(
            f"{name} must be at most {MAX_TIMEOUT:.0f} seconds (about 24 days), "
            f"got {value!r}; use None to wait forever"
        )
    return seconds


def data_arg(value: object, name: str = "data") -> bytes | memoryview:
    """Accept a bytes-like object; refuse ``str`` and everything else."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        raise TypeError(f"{name} must be bytes-like, not str (encode it first)")
    try:
        view = memoryview(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"{name} must be bytes-like, got {type(value).__name__}"
        ) from None
    if not view.c_contiguous:
        return view.tobytes()
    return view.cast("B") if view.format != "B" or view.ndim != 1 else view


def host_arg(value: object, family: Family, name: str = "host") -> str:
    """Validate a host: an address or name, or a path for ``AF_UNIX``."""
    if family is AF_UNIX and isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} must not be empty")
    if "\x00" in value and not (family is AF_UNIX and value.startswith("\x00")):
        raise ValueError(f"{name} must not contain NUL characters")
    if family is AF_UNIX:
        # A filesystem path needs room for its terminating NUL; a Linux
        # abstract name (leading NUL) may fill the whole field.
        limit = UNIX_PATH_MAX - (not value.startswith("\x00"))
        if len(os.fsencode(value)) > limit:
            raise ValueError(
                f"{name} is too long for an AF_UNIX path "
                f"(at most {limit} bytes): {value!r}"
            )
    else:
        problem = _host_name_problem(value)
        if problem:
            raise ValueError(f"{name} {value!r} is not a valid host name: {problem}")
    return value


@functools.lru_cache(maxsize=512)
def _host_name_problem(host: str) -> str:
    """Why *host* cannot be looked up (the socket module would raise a bare
    UnicodeError from its IDNA encoding), or ``""``; cached, since
    ``send_to`` validates its host on every datagram."""
    try:
        host.encode("idna")
    except UnicodeError as exc:
        return str(exc.__cause__ or exc)
    return ""


def port_arg(
    value: object, family: Family, type: SocketType, *, required: bool
) -> int | None:
    """Validate a port: ``int`` 0-65535 or a service name; ``None`` for UNIX."""
    if family is AF_UNIX:
        if value is not None:
            raise ValueError(f"port must be None for AF_UNIX sockets, got {value!r}")
        return None
    if value is None:
        if required:
            raise ValueError("port is required for AF_INET and AF_INET6 sockets")
        return 0
    if isinstance(value, str):
        return service_port(value, type)
    return int_arg(value, "port", 0, 65535)


def service_port(name: str, type: SocketType) -> int:
    """Resolve a service name such as ``"http"`` to its port number."""
    if not name:
        raise ValueError("port must not be an empty service name")
    if name.isascii() and name.isdigit():  # not "²": int() refuses it
        return int_arg(int(name), "port", 0, 65535)
    if "\x00" in name or not name.isprintable():
        raise ValueError(f"port {name!r} is not a service name")
    proto = "tcp" if type is SOCK_STREAM else "udp"
    try:
        return _socket.getservbyname(name, proto)
    except (OSError, UnicodeError):
        raise HostNotFound(
            _socket.EAI_SERVICE, f"unknown service name {name!r} for {proto}"
        ) from None


def file_arg(value: object) -> BinaryIO:
    """Check that *value* is a binary file object."""
    if isinstance(value, io.TextIOBase):
        raise TypeError("file must be opened in binary mode ('rb'), not text mode")
    if not callable(getattr(value, "read", None)):
        raise TypeError(
            f"file must be a binary file object, got {type(value).__name__}"
        )
    return value  # type: ignore[return-value]


# Event member of each valid mask value (Event(value) runs enum machinery).
_EVENT_OF = (Event(0), Event.EVENT_READ, Event.EVENT_WRITE, Event(3))


def events_arg(value: object) -> Event:
    """Validate a Poller event mask (EVENT_READ | EVENT_WRITE)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"events must be EVENT_READ and/or EVENT_WRITE, got {value!r}")
    if not 0 < value <= 3:
        raise ValueError(f"events must be EVENT_READ and/or EVENT_WRITE, got {value!r}")
    return _EVENT_OF[value]


def option_applies(option: Option, family: Family, type: SocketType) -> bool:
    """Whether *option* means something for a socket of *family* and *type*.

    The same table serves every backend, so each refuses the same options.
    """
    if option is TCP_NODELAY or option is SO_KEEPALIVE or option is SO_LINGER:
        return type is SOCK_STREAM and (family is not AF_UNIX or option is SO_LINGER)
    if option is SO_BROADCAST:
        return type is SOCK_DGRAM and family is not AF_UNIX
    if option is IPV6_V6ONLY:
        return family is AF_INET6
    if option is SO_REUSEPORT:
        # Paths have no ports to share; Linux answers EOPNOTSUPP.
        return family is not AF_UNIX
    return True


def option_value(option: Option, value: object) -> object:
    """Normalise an option value: ``bool`` flags, ``int`` sizes, linger."""
    if option in FLAG_OPTIONS:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise TypeError(f"value for {option.name} must be a bool, got {value!r}")
    if option in SIZE_OPTIONS:
        return int_arg(value, "value", 1, 2**31 - 1)
    if option is SO_LINGER:
        if value is None or value is False:
            return None
        return int_arg(value, "value", 0, 65535)
    raise ValueError(f"option {option!r} has no value rule")  # pragma: no cover
