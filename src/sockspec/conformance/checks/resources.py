"""Resources: descriptors and sockets are released, addresses freed by close()."""

from __future__ import annotations

import gc

from ...api.constants import AF_INET, SOCK_DGRAM
from ...api.errors import SocketError
from ...api.poller import Poller
from ...api.socket import Socket
from ..core import FAMILIES, IP_FAMILIES, check
from ..harness import Harness


def _workload(h: Harness) -> None:
    """Open, use and close sockets every way a program does, errors included."""
    caps = h.backend.capabilities
    for family in FAMILIES:
        if family not in caps.families:
            continue
        listener = Socket(family, backend=h.server, timeout=h.io_timeout)
        with listener:
            listener.bind(h.host(family))
            listener.listen()
            with Socket(family, backend=h.client, timeout=h.io_timeout) as client:
                client.connect(*h.address(listener))
                with listener.accept() as server:
                    client.send(b"x" * 1000)
                    h.receive_exactly(server, 1000)
                    server.timeout = 0.01
                    try:
                        server.receive()
                    except SocketError:
                        pass
        # Failures must release their sockets too.
        refused = Socket(family, backend=h.client)
        with refused:
            try:
                refused.connect(*h.address(listener))
            except SocketError:
                pass
        if SOCK_DGRAM in caps.types:
            with Socket(family, SOCK_DGRAM, backend=h.client) as dgram:
                dgram.bind(h.host(family))
    try:
        with Socket(AF_INET, backend=h.client) as named:
            named.connect("no-such-host.sockspec.invalid", 80)
    except SocketError:
        pass
    with Poller(h.client) as poller, Socket(backend=h.client) as sock:
        sock.bind(h.host(AF_INET))
        sock.listen()
        poller.register(sock, 1)
        poller.poll(0)
    if caps.os_sockets:
        # An OS socket dropped without close() is released by the garbage
        # collector; a simulated one stays open (and visible) until closed.
        Socket(backend=h.client)


@check(group="resources", cross=False, spec=["close()"])
def resource_leak(h: Harness) -> None:
    """Sockets, failed calls and Pollers give back every resource they take.

    Resources are what :meth:`~sockspec.Backend.open_resources` counts: file
    descriptors for the OS backends, open sockets for a simulated network.
    """
    if h.backend.open_resources() is None:
        h.skip(f"backend {h.backend.name!r} cannot count its open resources")
    _workload(h)  # warm up: first use may open lasting descriptors (epoll...)
    gc.collect()
    before = h.backend.open_resources()
    for _ in range(3):
        _workload(h)
    gc.collect()
    after = h.backend.open_resources()
    assert after is not None
    assert before is not None
    assert after <= before, f"resources leaked: {before} -> {after}"


@check(
    group="resources",
    per_family=IP_FAMILIES,
    cross=False,
    spec=["close / Close the socket immediately"],
)
def close_releases_address(h: Harness) -> None:
    """After close() a listener's address can be bound again at once.

    IP only: an ``AF_UNIX`` path outlives its socket by design.
    """
    host = h.host()
    for _ in range(3):
        sock = h.socket(server=True)
        sock.bind(host)
        sock.listen()
        host, port = h.address(sock)
        sock.close()
        again = h.socket(server=True)
        again.bind(host, port)
        again.close()
