"""Resources: descriptors are released, addresses are freed by close()."""

from __future__ import annotations

import gc
import os

from ...api.constants import AF_INET, SOCK_DGRAM
from ...api.errors import SocketError
from ...api.poller import Poller
from ...api.socket import Socket
from ..core import FAMILIES, IP_FAMILIES, check
from ..harness import Harness

_FD_DIR = "/proc/self/fd"


def _open_fds() -> int:
    return len(os.listdir(_FD_DIR))


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
    # A socket dropped without close() is released by the garbage collector.
    Socket(backend=h.client)


@check(group="resources", os_sockets=True, cross=False, spec=["close()"])
def fd_leak(h: Harness) -> None:
    """Sockets, failed calls and Pollers give back every file descriptor."""
    if not os.path.isdir(_FD_DIR):
        h.skip(f"{_FD_DIR} does not exist on this system")
    _workload(h)  # warm up: first use may open lasting descriptors (epoll...)
    gc.collect()
    before = _open_fds()
    for _ in range(3):
        _workload(h)
    gc.collect()
    after = _open_fds()
    assert after <= before, f"file descriptors leaked: {before} -> {after}"


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
