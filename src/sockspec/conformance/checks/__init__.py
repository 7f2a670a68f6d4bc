"""The built-in checks, one module per theme; importing registers them.

* :mod:`.api` -- the module's surface, construction, spec aliases, errors;
* :mod:`.streams` -- stream I/O, half-close, EOF, accept, send_file, metadata;
* :mod:`.connections` -- refused, in use, reuse, names, unconnected and closed;
* :mod:`.timeouts` -- Go nettest's timeout and concurrency cases, in seconds;
* :mod:`.readiness` -- non-blocking mode, ``is_readable``/``is_writable``,
  backpressure and :class:`~sockspec.Poller`;
* :mod:`.datagrams` -- UDP and ``AF_UNIX`` datagrams;
* :mod:`.kinds` -- readiness, Poller, timeouts, close and closed sockets on
  datagram sockets, in whichever family the backend declares;
* :mod:`.options` -- socket options;
* :mod:`.resources` -- descriptor leaks and released addresses;
* :mod:`.tls` -- ``start_tls``: handshakes, verification, TLS endings.
"""

from . import (
    api,
    connections,
    datagrams,
    kinds,
    options,
    readiness,
    resources,
    streams,
    timeouts,
    tls,
)

__all__ = [
    "api",
    "connections",
    "datagrams",
    "kinds",
    "options",
    "readiness",
    "resources",
    "streams",
    "timeouts",
    "tls",
]
