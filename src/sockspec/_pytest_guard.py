"""The real-socket guard of the ``memory_network`` fixture (opt-in).

A test on the memory network that reaches the real network by mistake --
a library that did ``from socket import socket`` before
:func:`sockspec.compat.patch` ran, a client made with an explicit OS
backend, a forgotten URL -- passes or fails for reasons the test does not
control.  With ``@pytest.mark.memory_network(check_real_sockets=True)`` every
address-taking call on a real ``socket.socket`` during the test (``connect``,
``connect_ex``, ``bind``, ``sendto``, ``sendmsg``) raises
:class:`RealSocketBlocked`, which names the call and the address, and the
test fails with the list of such calls even if the code under test swallowed
the error.  Socket pairs and already-connected sockets handed in from outside
are left alone: they reach no network.

The guard shadows those methods on the ``socket.socket`` class for the
duration of the test and puts the class back exactly as it was.  It sees
every Python-level socket, sockspec's own OS backends included (they use the
real class); it cannot see sockets that C extensions open themselves.
"""

from __future__ import annotations

import _socket
import socket
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["RealSocketBlocked", "RealSocketGuard"]

#: The methods of ``socket.socket`` that take an address.
GUARDED = ("bind", "connect", "connect_ex", "sendto", "sendmsg")

#: Only one guard can own the class at a time.
_owner_lock = threading.Lock()


class RealSocketBlocked(RuntimeError):
    """A real socket was used in a test that runs on the memory network."""


class RealSocketGuard:
    """Refuses address-taking calls on real sockets while installed."""

    def __init__(self) -> None:
        #: One line per refused call, in order.
        self.uses: list[str] = []
        self._saved: dict[str, Any] | None = None

    def install(self) -> None:
        """Shadow the guarded methods of ``socket.socket``."""
        if not _owner_lock.acquire(blocking=False):
            raise RuntimeError(
                "another test's real-socket guard is installed (tests that run "
                "in threads of one process cannot each have one)"
            )
        cls = socket.socket
        self._saved = {name: cls.__dict__.get(name) for name in GUARDED}
        for name in GUARDED:
            setattr(cls, name, self._refusal(name))

    def remove(self) -> None:
        """Put ``socket.socket`` back exactly as it was."""
        if self._saved is None:
            return
        cls = socket.socket
        for name, original in self._saved.items():
            if original is None:
                delattr(cls, name)  # it was inherited from _socket.socket
            else:
                setattr(cls, name, original)
        self._saved = None
        _owner_lock.release()

    def _refusal(self, name: str) -> Callable[..., Any]:
        uses = self.uses

        def refuse(sock: socket.socket, *args: Any) -> Any:
            if name == "sendmsg":  # (buffers[, ancdata[, flags[, address]]])
                address = args[3] if len(args) >= 4 else None
            elif args:
                address = args[-1] if name == "sendto" else args[0]
            else:
                address = None
            if address is None:  # no new address (or a bad call): the real one
                return getattr(_socket.socket, name)(sock, *args)
            call = f"socket.{name}({address!r}) on {sock.family.name}"
            where = threading.current_thread().name
            uses.append(f"{call} in thread {where!r}")
            raise RealSocketBlocked(
                f"{call}: a real socket in a test on the memory network "
                "(check_real_sockets=True); make it through sockspec.compat "
                "(the compat_network fixture patches the socket module) or "
                "switch the check off for this test"
            )

        refuse.__name__ = name
        return refuse

    def report(self) -> str | None:
        """The test's failure message, if any real socket was used."""
        if not self.uses:
            return None
        return (
            f"{len(self.uses)} use(s) of a real socket in a test on the memory "
            "network:\n  " + "\n  ".join(self.uses)
        )
