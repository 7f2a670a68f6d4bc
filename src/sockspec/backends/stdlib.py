"""The ``stdlib`` backend: OS sockets from the :mod:`socket` module.

Each sockspec socket owns one :class:`socket.socket`.  Timeouts are
sockspec's own (seconds); ``send`` in blocking or timeout mode sends
everything, and with a timeout reports how far it got when time runs out.
``send_file`` uses ``os.sendfile`` (zero copy) for regular files.

Why the waits are not done inside the system call
--------------------------------------------------
Until issue 10 this backend let the kernel block in ``recv``/``accept``/
``send`` and woke such a thread on :meth:`close` with ``shutdown(2)``.  But a
shutdown acts on the socket, not on this process's descriptor: a forked
child sharing the socket saw a false end of stream, a child closing its
inherited listener stopped the parent's, and a ``SHUT_WR`` sent the peer a
FIN.  Nothing else wakes a thread blocked in the kernel on Linux (``close``
and ``dup2`` of the descriptor do not), so the waits moved out of the system
call: the OS socket is non-blocking for its whole life, each call is made
at once, and only when the kernel answers ``EAGAIN`` does the thread sleep
in ``poll(2)`` on the socket and a wakeup descriptor that :meth:`close`
signals.  That is exactly the ``selectors`` backend's socket
(:class:`~sockspec.backends.selectors.SelectorsSocket`), which this backend
therefore reuses: when data is there a receive is one ``recv(2)``, as before
(``benchmarks/bench_os_waits.py`` measures it).  The OS socket is in
non-blocking mode (``O_NONBLOCK``), as a socket module socket is whenever
it has a timeout.  It also
means the socket module's process-wide default timeout
(:func:`socket.setdefaulttimeout`) never reaches a sockspec socket, and a
timeout of one call never changes what a concurrent call on the same
socket waits for.
"""

from __future__ import annotations

from ..api.backend import BackendSpec
from ..api.constants import Family, SocketType
from ..hookspecs import hookimpl
from . import _os
from .selectors import SelectorsSocket

__all__ = ["StdlibBackend", "StdlibSocket"]


class StdlibSocket(SelectorsSocket):
    """One OS socket of the ``stdlib`` backend (see the module docstring)."""

    __slots__ = ()


class StdlibBackend(_os.OSBackend):
    """OS sockets, one :class:`socket.socket` per sockspec socket."""

    name = "stdlib"

    def socket(self, family: Family, type: SocketType) -> StdlibSocket:
        return StdlibSocket(family, type)


@hookimpl
def sockspec_add_backends() -> list[BackendSpec]:
    """Offer the ``stdlib`` backend."""
    return [
        BackendSpec(
            "stdlib", StdlibBackend.make, "blocking OS sockets (the socket module)"
        )
    ]
