"""The standard ``socket`` module's functions, answered through a backend.

Names resolve the way the backend's own ``connect`` resolves them: a
backend on OS sockets (``capabilities.os_sockets``) asks the OS resolver, so
these functions ask it too, with everything ``getaddrinfo`` reports; any
other backend answers through :meth:`Backend.lookup_host
<sockspec.Backend.lookup_host>` (the memory network's name table).  A
backend whose ``lookup_host`` declines (returns ``None``) resolves names
inside its sockets: the name itself then stands in the address, and the
compat socket hands it to ``connect`` unchanged.  IP literals never need a
resolver.
"""

from __future__ import annotations

import builtins
import ipaddress
import socket as _s
import sys
from collections.abc import Callable
from typing import Any

from .. import _registry
from ..api.constants import Family
from ..api.errors import SocketError
from ._errors import standard_error
from ._socket import FAMILIES, socket

__all__ = [
    "create_connection",
    "create_server",
    "fromfd",
    "getaddrinfo",
    "getfqdn",
    "gethostbyname",
    "gethostbyname_ex",
    "gethostname",
    "has_dualstack_ipv6",
    "socketpair",
]

# The originals, taken before any patch can replace them.
_os_getaddrinfo = _s.getaddrinfo
_os_gethostname = _s.gethostname
_os_getfqdn = _s.getfqdn
_os_fromfd = _s.fromfd
_GLOBAL_DEFAULT_TIMEOUT: Any = _s._GLOBAL_DEFAULT_TIMEOUT  # type: ignore[attr-defined]

Resolver = Callable[[str, Family], "str | None"]
_PROTOCOLS: dict[int, int] = {
    _s.SOCK_STREAM: _s.IPPROTO_TCP,
    _s.SOCK_DGRAM: _s.IPPROTO_UDP,
    _s.SOCK_RAW: 0,
}


def name_service(backend: Any = None) -> tuple[Resolver | None, str | None]:
    """The backend's ``(lookup_host, host name)``; ``(None, None)``: the OS's."""
    be = _registry.resolve_backend(backend)  # a proxy comes back resolved
    if be.capabilities.os_sockets:
        return None, None
    # The memory network names the host its sockets live on; a Host is one.
    local = getattr(be, "hostname", None) or getattr(
        getattr(be, "local", None), "hostname", None
    )
    return be.lookup_host, local


def _literal(host: str) -> int | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).version
    except ValueError:
        return None


_C_LONG = 1 << 63
_ULONG_MAX = (1 << 64) - 1
_INT_AS_C_LONG = sys.version_info < (3, 12)
_SPACE = " \t\n\v\f\r"


def _service_port(port: Any) -> int:
    """The port a service (``getaddrinfo``'s second argument) names, as glibc.

    A number is read the way glibc reads it (``strtoul``: leading blanks
    and a sign allowed, nothing after the digits), kept in a C ``int``,
    refused when that is negative, and cut to 16 bits: 123456 is port
    57920, ``"-1"`` is ``EAI_SERVICE``.  Any other text is a service name.
    """
    if port is None:
        return 0
    if isinstance(port, (bytes, bytearray)):
        port = bytes(port).decode()
    if isinstance(port, int):
        # Up to 3.11 CPython passes an int through a C long; 3.12 and later
        # hand glibc its decimal text, whatever its size.
        if _INT_AS_C_LONG and not -_C_LONG <= port < _C_LONG:
            raise OverflowError("Python int too large to convert to C long")
        port = str(port)
    elif not isinstance(port, str):
        raise OSError("Int or String expected")
    text = port.lstrip(_SPACE)
    sign = 1
    if text[:1] in ("+", "-"):
        sign, text = (-1 if text[0] == "-" else 1), text[1:]
    if port == "" or (text and text.isascii() and text.isdigit()):
        value = int(text or "0")
        # strtoul: out of range is ULONG_MAX, sign or not; else a minus
        # sign negates modulo 2**64.  glibc keeps the result in an int.
        value = _ULONG_MAX if value > _ULONG_MAX else (sign * value) % (1 << 64)
        value %= 1 << 32
        if value >= 1 << 31:  # negative as a C int
            raise _s.gaierror(_s.EAI_SERVICE, "Servname not supported for ai_socktype")
        return value & 0xFFFF
    try:
        return _s.getservbyname(port)
    except OSError:
        raise _s.gaierror(
            _s.EAI_SERVICE, "Servname not supported for ai_socktype"
        ) from None


def getaddrinfo(
    host: Any,
    port: Any,
    family: int = 0,
    type: int = 0,
    proto: int = 0,
    flags: int = 0,
    *,
    backend: Any = None,
) -> list[tuple[Any, Any, int, str, Any]]:
    """``socket.getaddrinfo`` answered by the backend's name table.

    Unknown names raise :class:`socket.gaierror` (``EAI_NONAME``).
    """
    resolve, _ = name_service(backend)
    if resolve is None:
        return _os_getaddrinfo(host, port, family, type, proto, flags)
    if isinstance(host, (bytes, bytearray)):
        host = bytes(host).decode("idna")
    if host is not None and not isinstance(host, str):
        raise TypeError("getaddrinfo() argument 1 must be string or None")
    portnum = _service_port(port)
    if family not in (0, _s.AF_INET, _s.AF_INET6):
        raise _s.gaierror(_s.EAI_FAMILY, "ai_family not supported")
    families = [_s.AF_INET, _s.AF_INET6] if family == 0 else [family]
    if host == "":
        # No host is None; an empty name is no name, as glibc answers.
        raise _s.gaierror(_s.EAI_NONAME, "Name or service not known")
    if host is None:
        passive = flags & _s.AI_PASSIVE
        addrs = [
            (
                f,
                ("0.0.0.0" if f == _s.AF_INET else "::")
                if passive
                else ("127.0.0.1" if f == _s.AF_INET else "::1"),
            )
            for f in families
        ]
    else:
        version = _literal(host)
        if version is not None:
            want = _s.AF_INET if version == 4 else _s.AF_INET6
            if want not in families:
                raise _s.gaierror(
                    _s.EAI_ADDRFAMILY, "Address family for hostname not supported"
                )
            addrs = [(want, host)]
        elif flags & _s.AI_NUMERICHOST:
            raise _s.gaierror(_s.EAI_NONAME, "Name or service not known")
        else:
            addrs = []
            first: SocketError | None = None
            for f in families:
                try:
                    addrs.append((f, resolve(host, FAMILIES[f]) or host))
                except SocketError as exc:
                    first = first or exc
            if not addrs:
                assert first is not None
                if family == 0:
                    raise _s.gaierror(_s.EAI_NONAME, "Name or service not known")
                raise standard_error(first, False)
            # A v4-only name asked for as v6 comes back v4-mapped: skip it
            # unless it was asked for explicitly.
            if family == 0:
                addrs = [
                    (f, a) for f, a in addrs if not a.startswith("::ffff:")
                ] or addrs
    # Linux lists a raw socket too when no type is asked for.
    types = [type] if type else [_s.SOCK_STREAM, _s.SOCK_DGRAM, _s.SOCK_RAW]
    out: list[tuple[Any, Any, int, str, Any]] = []
    canon = host if (flags & _s.AI_CANONNAME and host) else ""
    for f, addr in addrs:
        for t in types:
            if t not in _PROTOCOLS:
                raise _s.gaierror(_s.EAI_SOCKTYPE, "ai_socktype not supported")
            p = proto or _PROTOCOLS[t]
            sa = (addr, portnum) if f == _s.AF_INET else (addr, portnum, 0, 0)
            out.append((_s.AddressFamily(f), _s.SocketKind(t), p, canon, sa))
            canon = ""
    return out


def gethostbyname(hostname: str, *, backend: Any = None) -> str:
    """The IPv4 address of *hostname* (``socket.gaierror`` if unknown).

    As in CPython, ``""`` is the wildcard address and ``"<broadcast>"`` the
    broadcast one, without a lookup.
    """
    special = {"": "0.0.0.0", "<broadcast>": "255.255.255.255"}.get(hostname)
    if special is not None:
        return special
    infos = getaddrinfo(hostname, None, _s.AF_INET, _s.SOCK_STREAM, backend=backend)
    return str(infos[0][4][0])


def gethostbyname_ex(
    hostname: str, *, backend: Any = None
) -> tuple[str, list[str], list[str]]:
    """``(name, aliases, IPv4 addresses)`` of *hostname*."""
    infos = getaddrinfo(hostname, None, _s.AF_INET, _s.SOCK_STREAM, backend=backend)
    return hostname, [], [info[4][0] for info in infos]


def gethostname(*, backend: Any = None) -> str:
    """The name of the host the backend's sockets live on."""
    resolve, local = name_service(backend)
    if resolve is None or local is None:
        return _os_gethostname()
    return local


def getfqdn(name: str = "", *, backend: Any = None) -> str:
    """A fully qualified name for *name* (this host when empty).

    The simulated network has no reverse lookup: a name comes back as is.
    """
    resolve, _ = name_service(backend)
    if resolve is None:
        return _os_getfqdn(name)
    name = name.strip()
    if not name or name in ("0.0.0.0", "::"):
        return gethostname(backend=backend)
    return name


def fromfd(fd: int, family: int, type: int, proto: int = 0) -> Any:
    """``socket.fromfd``: a compat socket's number gives a :meth:`~socket.dup`.

    A real descriptor gives a real socket, as before the patch.
    """
    from ._fds import lookup

    sock = lookup(fd)
    if sock is None:
        return _os_fromfd(fd, family, type, proto)
    return sock.dup()


def create_connection(
    address: tuple[str, int],
    timeout: Any = _GLOBAL_DEFAULT_TIMEOUT,
    source_address: tuple[str, int] | None = None,
    *,
    all_errors: bool = False,
    backend: Any = None,
) -> socket:
    """Connect to the first address of *address* that answers.

    Tries each ``getaddrinfo`` result in turn, like the standard function,
    and raises the last error (all of them in an ``ExceptionGroup`` with
    *all_errors*, on Pythons that have it).
    """
    host, port = address
    errors: list[OSError] = []
    for af, kind, proto, _canon, sa in getaddrinfo(
        host, port, 0, _s.SOCK_STREAM, backend=backend
    ):
        sock = None
        try:
            sock = socket(af, kind, proto, backend=backend)
            if timeout is not _GLOBAL_DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sa)
            errors.clear()
            return sock
        except OSError as exc:
            errors.append(exc)
            if sock is not None:
                sock.close()
    if not errors:
        raise OSError("getaddrinfo returns an empty list")
    if all_errors:
        group: Any = getattr(builtins, "ExceptionGroup", None)
        if group is not None:
            raise group("create_connection failed", errors)
    try:
        raise errors[-1]
    finally:
        errors.clear()  # break the frame <-> exception cycle


def has_dualstack_ipv6(*, backend: Any = None) -> bool:
    """Whether an ``AF_INET6`` socket can also serve IPv4 on this backend."""
    try:
        with socket(_s.AF_INET6, _s.SOCK_STREAM, backend=backend) as sock:
            sock.setsockopt(_s.IPPROTO_IPV6, _s.IPV6_V6ONLY, 0)
            return True
    except OSError:
        return False


def create_server(
    address: tuple[str, int],
    *,
    family: int = _s.AF_INET,
    backlog: int | None = None,
    reuse_port: bool = False,
    dualstack_ipv6: bool = False,
    backend: Any = None,
) -> socket:
    """A listening socket bound to *address*, like ``socket.create_server``."""
    if reuse_port and not hasattr(_s, "SO_REUSEPORT"):
        raise ValueError("SO_REUSEPORT not supported on this platform")
    if dualstack_ipv6:
        if not has_dualstack_ipv6(backend=backend):
            raise ValueError("dualstack_ipv6 not supported on this platform")
        if family != _s.AF_INET6:
            raise ValueError("dualstack_ipv6 requires AF_INET6 family")
    sock = socket(family, _s.SOCK_STREAM, backend=backend)
    try:
        if _s.SO_REUSEADDR is not None:
            sock.setsockopt(_s.SOL_SOCKET, _s.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(_s.SOL_SOCKET, _s.SO_REUSEPORT, 1)
        if family == _s.AF_INET6:
            sock.setsockopt(_s.IPPROTO_IPV6, _s.IPV6_V6ONLY, 0 if dualstack_ipv6 else 1)
        try:
            sock.bind(address)
        except OSError as exc:
            raise OSError(
                exc.errno,
                f"{exc.strerror} (while attempting to bind on address {address!r})",
            ) from None
        if backlog is None:
            sock.listen()
        else:
            sock.listen(backlog)
        return sock
    except BaseException:
        sock.close()
        raise


def socketpair(
    family: int | None = None,
    type: int = _s.SOCK_STREAM,
    proto: int = 0,
    *,
    backend: Any = None,
) -> tuple[socket, socket]:
    """Two connected compat sockets.

    Built from a loopback listener, as CPython does where the OS has no
    ``socketpair``: the pair's family is therefore ``AF_INET`` (or
    ``AF_INET6``), whatever *family* asked for.
    """
    fam = _s.AF_INET6 if family == _s.AF_INET6 else _s.AF_INET
    if type != _s.SOCK_STREAM:
        raise ValueError("Only SOCK_STREAM socket type is supported")
    if proto != 0:
        raise ValueError("Only protocol zero is supported")
    host = "::1" if fam == _s.AF_INET6 else "127.0.0.1"
    listener = socket(fam, _s.SOCK_STREAM, backend=backend)
    try:
        listener.bind((host, 0))
        listener.listen()
        a = socket(fam, _s.SOCK_STREAM, backend=backend)
        try:
            a.connect(listener.getsockname())
            b, _ = listener.accept()
        except BaseException:
            a.close()
            raise
    finally:
        listener.close()
    return a, b
