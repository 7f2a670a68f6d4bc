"""The backend-neutral API: constants, errors, the Socket facade, Poller and
the Backend interface that backends implement."""

from .backend import Backend, BackendSpec, Capabilities, SelectorImpl, SocketImpl
from .constants import *  # noqa: F403
from .constants import __all__ as _constants_all
from .datagram import Datagram
from .errors import *  # noqa: F403
from .errors import __all__ as _errors_all
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
