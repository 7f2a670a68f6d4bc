"""The TLS errors of :mod:`sockspec.api.errors`, made when first used.

They subclass :mod:`ssl`'s errors, so defining them imports ``ssl``;
:mod:`sockspec.api.errors` imports this module the first time one of these
names is looked up there (PEP 562), which keeps ``ssl`` out of
``import sockspec``.  Each class says it belongs to
:mod:`sockspec.api.errors`, which exports it: tracebacks, ``repr`` of the
class and pickles name it there, as they did when it was defined there.
"""

from __future__ import annotations

import ssl

from .errors import SocketError

__all__ = ["TLSCertificateError", "TLSError", "TLSTruncated", "tls_error"]

_HOME = "sockspec.api.errors"


class TLSError(SocketError, ssl.SSLError):
    """The TLS layer of a socket failed (see :meth:`~sockspec.Socket.start_tls`).

    It is also an :class:`ssl.SSLError`, so ``except ssl.SSLError`` written
    for the standard library keeps working.  As there, :attr:`errno` is the
    ``ssl.SSL_ERROR_*`` code and :attr:`library` and :attr:`reason` name
    OpenSSL's reason (``"SSL"``, ``"WRONG_VERSION_NUMBER"``).
    """


class TLSCertificateError(TLSError, ssl.SSLCertVerificationError):
    """The peer's certificate failed verification (also an
    :class:`ssl.SSLCertVerificationError`).

    :attr:`host` is the name the certificate was checked against;
    ``verify_code`` and ``verify_message`` are OpenSSL's, as in :mod:`ssl`.
    """

    # The server name the client expected (``server_hostname``), or ``None``.
    # Documented in docs/reference.rst: autodoc reads ``#:`` comments from
    # the module a class names as its ``__module__``, which is not this one.
    host: str | None = None


class TLSTruncated(TLSError, ssl.SSLEOFError):
    """The connection ended without TLS's ``close_notify`` alert.

    Also an :class:`ssl.SSLEOFError`, which is what :mod:`ssl` raises for the
    same event: an attacker (or a crashed peer) cut the stream, so the data
    received may be incomplete.
    """


def tls_error(exc: ssl.SSLError, host: str | None = None) -> TLSError:
    """Return the sockspec error that stands for the :mod:`ssl` error *exc*.

    *host* is the server name a client checked the certificate against.
    """
    if isinstance(exc, TLSError):
        return exc
    code = exc.errno if exc.errno is not None else ssl.SSL_ERROR_SSL
    message = exc.strerror or str(exc)
    err: TLSError
    if isinstance(exc, ssl.SSLCertVerificationError):
        if host is not None:
            message = f"{message} (server_hostname {host!r})"
        cert = TLSCertificateError(code, message)
        cert.host = host
        cert.verify_code = getattr(exc, "verify_code", 0)
        cert.verify_message = getattr(exc, "verify_message", "")
        err = cert
    elif isinstance(exc, ssl.SSLEOFError):
        err = TLSTruncated(code, message)
    else:
        err = TLSError(code, message)
    err.library = getattr(exc, "library", None)  # type: ignore[assignment]
    err.reason = getattr(exc, "reason", None)  # type: ignore[assignment]
    return err


for _exported in (TLSError, TLSCertificateError, TLSTruncated, tls_error):
    _exported.__module__ = _HOME
del _exported
