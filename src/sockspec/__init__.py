"""sockspec: the CommonJS Sockets/A API for Python.

One :class:`Socket` API for TCP, UDP and UNIX sockets, over interchangeable
backends chosen by configuration: ``stdlib`` (blocking OS sockets),
``selectors`` (non-blocking OS sockets) and ``memory`` (a deterministic
in-memory network), plus any installed through the ``sockspec.backends``
entry-point group.
"""

from __future__ import annotations

from ._lazy import lazy_attributes
from .api.constants import (
    AF_INET,
    AF_INET6,
    AF_UNIX,
    EVENT_READ,
    EVENT_WRITE,
    IPV6_V6ONLY,
    SHUT_RD,
    SHUT_RDWR,
    SHUT_WR,
    SO_BROADCAST,
    SO_KEEPALIVE,
    SO_LINGER,
    SO_RCVBUF,
    SO_REUSEADDR,
    SO_REUSEPORT,
    SO_SNDBUF,
    SOCK_DGRAM,
    SOCK_STREAM,
    TCP_NODELAY,
    Event,
    Family,
    Option,
    Shutdown,
    SocketType,
)
from .api.errors import (
    AddressInUse,
    AddressNotAvailable,
    AlreadyConnected,
    BrokenPipe,
    ConnectionAborted,
    ConnectionRefused,
    ConnectionReset,
    HostNotFound,
    HostUnreachable,
    MessageTooLong,
    NetworkUnreachable,
    NotConnected,
    PermissionDenied,
    SocketClosed,
    SocketError,
    Timeout,
    UnsupportedOperation,
    WouldBlock,
)

# typing itself (with re, which it imports) would be a third of what
# ``import sockspec`` costs; type checkers treat this name as True.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._registry import (
        BackendInfo,
        PluginProblem,
        UnknownBackend,
        available_backends,
        backend_choices,
        backend_info,
        get_backend,
        plugin_problems,
        use_backend,
    )
    from .api.backend import (
        Backend,
        BackendSpec,
        Capabilities,
        SelectorImpl,
        SocketImpl,
        parse_options,
    )
    from .api.datagram import Datagram
    from .api.delegating import (
        DelegatingBackend,
        DelegatingSelector,
        DelegatingSocket,
    )
    from .api.errors import TLSCertificateError, TLSError, TLSTruncated
    from .api.poller import Poller, PollKey
    from .api.socket import Socket
    from .hookspecs import hookimpl

# Loaded on first use (PEP 562), so that ``import sockspec`` stays light:
# only the constants and the errors come with it.  The facade, the registry
# and pluggy (which imports importlib.metadata) come in when a socket or the
# registry is first needed; the backend interface and Datagram (dataclasses,
# which import inspect) when first named; the TLS errors (ssl) when first
# named or raised.  tests/test_imports.py checks what ``import sockspec``
# loads, and benchmarks/bench_import.py what it costs.
_LAZY = {
    "Backend": ".api.backend",
    "BackendSpec": ".api.backend",
    "Capabilities": ".api.backend",
    "SelectorImpl": ".api.backend",
    "SocketImpl": ".api.backend",
    "parse_options": ".api.backend",
    "Datagram": ".api.datagram",
    "DelegatingBackend": ".api.delegating",
    "DelegatingSelector": ".api.delegating",
    "DelegatingSocket": ".api.delegating",
    "TLSCertificateError": ".api.errors",
    "TLSError": ".api.errors",
    "TLSTruncated": ".api.errors",
    "BackendInfo": "._registry",
    "PluginProblem": "._registry",
    "UnknownBackend": "._registry",
    "available_backends": "._registry",
    "backend_choices": "._registry",
    "backend_info": "._registry",
    "get_backend": "._registry",
    "plugin_problems": "._registry",
    "use_backend": "._registry",
    "PollKey": ".api.poller",
    "Poller": ".api.poller",
    "Socket": ".api.socket",
    "hookimpl": ".hookspecs",
}


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())


__version__ = "0.1.0"

__all__ = [
    # sockets
    "Datagram",
    "PollKey",
    "Poller",
    "Socket",
    # constants
    "AF_INET",
    "AF_INET6",
    "AF_UNIX",
    "EVENT_READ",
    "EVENT_WRITE",
    "IPV6_V6ONLY",
    "SHUT_RD",
    "SHUT_RDWR",
    "SHUT_WR",
    "SOCK_DGRAM",
    "SOCK_STREAM",
    "SO_BROADCAST",
    "SO_KEEPALIVE",
    "SO_LINGER",
    "SO_RCVBUF",
    "SO_REUSEADDR",
    "SO_REUSEPORT",
    "SO_SNDBUF",
    "TCP_NODELAY",
    "Event",
    "Family",
    "Option",
    "Shutdown",
    "SocketType",
    # errors
    "AddressInUse",
    "AddressNotAvailable",
    "AlreadyConnected",
    "BrokenPipe",
    "ConnectionAborted",
    "ConnectionRefused",
    "ConnectionReset",
    "HostNotFound",
    "HostUnreachable",
    "MessageTooLong",
    "NetworkUnreachable",
    "NotConnected",
    "PermissionDenied",
    "SocketClosed",
    "SocketError",
    "TLSCertificateError",
    "TLSError",
    "TLSTruncated",
    "Timeout",
    "UnsupportedOperation",
    "WouldBlock",
    # backends and configuration
    "Backend",
    "BackendInfo",
    "BackendSpec",
    "Capabilities",
    "DelegatingBackend",
    "DelegatingSelector",
    "DelegatingSocket",
    "PluginProblem",
    "SelectorImpl",
    "SocketImpl",
    "UnknownBackend",
    "available_backends",
    "backend_choices",
    "backend_info",
    "get_backend",
    "hookimpl",
    "parse_options",
    "plugin_problems",
    "use_backend",
]
