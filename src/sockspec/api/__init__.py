"""The backend-neutral API: constants, errors, the Socket facade, Poller and
the Backend interface that backends implement.

The facade (:class:`Socket`, :class:`Poller`) is imported on first use, so
that importing the backend interface (:mod:`sockspec.api.backend`) does not
pull in the facade and, through it, the backend registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes
from .backend import Backend, BackendSpec, Capabilities, SelectorImpl, SocketImpl
from .constants import *  # noqa: F403
from .constants import __all__ as _constants_all
from .datagram import Datagram
from .errors import *  # noqa: F403
from .errors import __all__ as _errors_all

if TYPE_CHECKING:
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
    *_errors_all,
]

_LAZY = {
    "PollKey": ".poller",
    "Poller": ".poller",
    "SPEC_ALIASES": ".socket",
    "Socket": ".socket",
}


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())
