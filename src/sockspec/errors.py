"""The sockspec error hierarchy (see :mod:`sockspec.api.errors`)."""

from ._lazy import lazy_attributes
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
    from_os_error,
)

# typing itself (with re, which it imports) would be a third of what
# ``import sockspec`` costs; type checkers treat this name as True.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from .api.errors import TLSCertificateError, TLSError, TLSTruncated, tls_error

# The same list as sockspec.api.errors' (tests/test_imports.py checks), written
# out because a star import would look up, and so load, the TLS errors.
__all__ = [
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

# The TLS errors load ssl: looked up on first use (see sockspec.api.errors).
__getattr__, __dir__ = lazy_attributes(
    __name__,
    dict.fromkeys(
        ("TLSCertificateError", "TLSError", "TLSTruncated", "tls_error"),
        "sockspec.api.errors",
    ),
    globals(),
)
