"""The backend-neutral API: constants, errors, the Socket facade, Poller and
the Backend interface that backends implement.

Only the constants and the errors are imported with the package.  The rest
is imported on first use (PEP 562): the facade (:class:`Socket`,
:class:`Poller`), so that importing the backend interface does not pull in
the facade and, through it, the backend registry; the backend interface and
:class:`Datagram`, which are dataclasses (``dataclasses`` imports
``inspect``); and the TLS errors, which import ``ssl``.
"""

from __future__ import annotations

from .._lazy import lazy_attributes
from .constants import *  # noqa: F403
from .constants import __all__ as _constants_all
from .errors import (
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
    from_os_error,
)

# typing itself (with re, which it imports) would be a third of what
# ``import sockspec`` costs; type checkers treat this name as True.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from .backend import Backend, BackendSpec, Capabilities, SelectorImpl, SocketImpl
    from .datagram import Datagram
    from .errors import TLSCertificateError, TLSError, TLSTruncated, tls_error
    from .poller import Poller, PollKey
    from .socket import SPEC_ALIASES, Socket

__all__ = [
    "SPEC_ALIASES",
    "Backend",
    "BackendSpec",
    "Capabilities",
    "Datagram",
    "PollKey",
    "Poller",
    "SelectorImpl",
    "Socket",
    "SocketImpl",
    *_constants_all,
    # errors: the same list as sockspec.api.errors.__all__ (tests/test_imports.py)
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
    "from_os_error",
    "tls_error",
]

_LAZY = {
    "Backend": ".backend",
    "BackendSpec": ".backend",
    "Capabilities": ".backend",
    "SelectorImpl": ".backend",
    "SocketImpl": ".backend",
    "Datagram": ".datagram",
    "TLSCertificateError": ".errors",
    "TLSError": ".errors",
    "TLSTruncated": ".errors",
    "tls_error": ".errors",
    "PollKey": ".poller",
    "Poller": ".poller",
    "SPEC_ALIASES": ".socket",
    "Socket": ".socket",
}


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())
