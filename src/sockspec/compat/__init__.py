"""Unmodified socket code on any sockspec backend.

``sockspec.compat`` quacks like the standard :mod:`socket` module, with
every socket served by a sockspec backend: the memory network (virtual
time, faults), the OS backends, or a third-party one.  Two ways to use it:

* import it in place of :mod:`socket`: ``from sockspec import compat as
  socket``;
* leave the code alone and run it inside :class:`patch`, which makes the
  standard ``socket``, ``select`` and ``selectors`` modules serve from the
  backend for its duration::

      import http.client
      from sockspec import compat
      from sockspec.backends.memory import Network

      net = Network(seed=1)
      with compat.patch(net):
          ...  # http.server, http.client, requests... run on the network

What is here: the :class:`socket` class; ``create_connection``,
``create_server``, ``socketpair``, ``getaddrinfo``, ``gethostbyname``,
``gethostbyname_ex``, ``getfqdn``, ``gethostname``, ``has_dualstack_ipv6``,
``fromfd``; ``select()``, ``poll`` and the ``selectors`` classes
(``DefaultSelector``...); :class:`patch`; and every constant, error class
and helper of the standard module (``AF_INET``, ``SOL_SOCKET``,
``gaierror``, ``timeout``, ``inet_aton``...), which are the standard
module's own objects.

Layering: compat is written against :class:`sockspec.Socket` and the
:class:`sockspec.Backend` interface only.  Code building on it (an event
loop, TLS) gets the facade socket from :attr:`socket.sockspec_socket` and
wraps one with :meth:`socket.from_sockspec`.
"""

from __future__ import annotations

import socket as _s
from socket import (
    AF_INET,
    AF_INET6,
    AF_UNIX,
    AI_CANONNAME,
    AI_NUMERICHOST,
    AI_PASSIVE,
    EAI_NONAME,
    IPPROTO_IPV6,
    IPPROTO_TCP,
    IPPROTO_UDP,
    IPV6_V6ONLY,
    SHUT_RD,
    SHUT_RDWR,
    SHUT_WR,
    SO_BROADCAST,
    SO_ERROR,
    SO_KEEPALIVE,
    SO_LINGER,
    SO_RCVBUF,
    SO_REUSEADDR,
    SO_SNDBUF,
    SO_TYPE,
    SOCK_DGRAM,
    SOCK_STREAM,
    SOL_SOCKET,
    SOMAXCONN,
    TCP_NODELAY,
    AddressFamily,
    SocketIO,
    SocketKind,
    gaierror,
    getdefaulttimeout,
    herror,
    setdefaulttimeout,
    timeout,
)
from typing import Any

from ._fork import install as _install_fork_hook
from ._functions import (
    create_connection,
    create_server,
    fromfd,
    getaddrinfo,
    getfqdn,
    gethostbyname,
    gethostbyname_ex,
    gethostname,
    has_dualstack_ipv6,
    socketpair,
)
from ._patch import PATCHED, patch
from ._select import (
    DefaultSelector,
    DevpollSelector,
    EpollSelector,
    KqueueSelector,
    PollSelector,
    SelectSelector,
    poll,
    select,
)
from ._socket import socket

_install_fork_hook()

#: The standard module's ``socket.error`` (an alias of :class:`OSError`).
error = OSError
#: ``socket.SocketType``: the compat socket class.
SocketType = socket

__all__ = [
    # sockets
    "SocketType",
    "socket",
    # functions
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
    # waiting
    "DefaultSelector",
    "DevpollSelector",
    "EpollSelector",
    "KqueueSelector",
    "PollSelector",
    "SelectSelector",
    "poll",
    "select",
    # asyncio
    "new_event_loop",
    "run",
    # patching
    "PATCHED",
    "patch",
    # the standard module's own objects
    "AF_INET",
    "AF_INET6",
    "AF_UNIX",
    "AI_CANONNAME",
    "AI_NUMERICHOST",
    "AI_PASSIVE",
    "AddressFamily",
    "EAI_NONAME",
    "IPPROTO_IPV6",
    "IPPROTO_TCP",
    "IPPROTO_UDP",
    "IPV6_V6ONLY",
    "SHUT_RD",
    "SHUT_RDWR",
    "SHUT_WR",
    "SOCK_DGRAM",
    "SOCK_STREAM",
    "SOL_SOCKET",
    "SOMAXCONN",
    "SO_BROADCAST",
    "SO_ERROR",
    "SO_KEEPALIVE",
    "SO_LINGER",
    "SO_RCVBUF",
    "SO_REUSEADDR",
    "SO_SNDBUF",
    "SO_TYPE",
    "SocketIO",
    "SocketKind",
    "TCP_NODELAY",
    "error",
    "gaierror",
    "getdefaulttimeout",
    "herror",
    "setdefaulttimeout",
    "timeout",
]

# Everything else the standard module has that is not replaced by compat
# (constants, inet_aton, htons, getservbyname...), as its own objects.  Taken
# now, before any patch, so a lookup never returns a patched attribute.
_STANDARD: dict[str, Any] = {
    name: value
    for name, value in vars(_s).items()
    if not name.startswith("__") and name not in __all__
}
for _name in ("socket", "SocketType", "_GLOBAL_DEFAULT_TIMEOUT"):
    _STANDARD.pop(_name, None)
_GLOBAL_DEFAULT_TIMEOUT = _s._GLOBAL_DEFAULT_TIMEOUT  # type: ignore[attr-defined]


def new_event_loop(backend: Any = None) -> Any:
    """An asyncio event loop with a backend's sockets, selector, resolver and clock.

    A subclass of ``asyncio.SelectorEventLoop``; on the memory network
    ``loop.time()`` is the network's virtual clock.  See
    :func:`sockspec.compat._asyncio.new_event_loop` and the asyncio guide.
    """
    from ._asyncio import new_event_loop as make

    return make(backend)


def run(main: Any, *, backend: Any = None, debug: bool | None = None) -> Any:
    """``asyncio.run`` on a loop from :func:`new_event_loop` (Python 3.10+)."""
    from ._asyncio import run as run_on

    return run_on(main, backend=backend, debug=debug)


def __getattr__(name: str) -> Any:
    try:
        return _STANDARD[name]
    except KeyError:
        raise AttributeError(
            f"module 'sockspec.compat' has no attribute {name!r}"
        ) from None
