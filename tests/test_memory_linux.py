"""Places where the memory network once differed from Linux (issue 10).

The scenarios that loopback can show run on both the kernel and the memory
network in ``tests/test_differential.py``; the ones here need what only the
memory network has (several hosts, virtual time, a small ephemeral range)
and assert the behaviour measured on Linux, quoted in each docstring.
"""

from __future__ import annotations

import errno
import threading
import time

import pytest

import sockspec
from sockspec import SHUT_RDWR, SOCK_DGRAM, Socket
from sockspec.backends.memory import Network


def test_host_names_are_case_insensitive(memory_network: Network) -> None:
    db = memory_network.add_host("db")
    with Socket(backend=db, timeout=5) as server:
        server.bind(None, 5432)
        server.listen()
        for spelling in ("DB", "Db", "db"):
            with Socket(timeout=5) as client:
                client.connect(spelling, 5432)
                assert client.remote_address == db.ipv4[0]
                server.accept().close()
    with pytest.raises(ValueError, match="already taken"):
        memory_network.add_host("DB")
    memory_network.add_name("Cache", "10.9.9.9")
    assert memory_network.resolve("CACHE") == "10.9.9.9"
    memory_network.remove_name("cache")
    with pytest.raises(sockspec.HostNotFound):
        memory_network.resolve("Cache")


def test_unspecified_address_is_the_bound_host_address(memory_network: Network) -> None:
    """Linux: connecting to 0.0.0.0 goes to the socket's own source address."""
    local = memory_network.local
    with Socket(timeout=5) as server, Socket(timeout=5) as client:
        server.bind(None)
        server.listen()
        client.bind(local.ipv4[0])
        client.connect("0.0.0.0", server.local_port)
        assert client.remote_address == local.ipv4[0]
        with server.accept() as conn:
            assert conn.local_address == local.ipv4[0]


def test_each_datagram_gets_the_source_of_its_route(memory_network: Network) -> None:
    """Linux: an implicit bind picks a port; the source follows the route."""
    db = memory_network.add_host("db")
    with (
        Socket(type=SOCK_DGRAM, backend=db, timeout=5) as remote,
        Socket(type=SOCK_DGRAM, timeout=5) as here,
        Socket(type=SOCK_DGRAM, timeout=5) as sender,
    ):
        remote.bind(None)
        here.bind("127.0.0.1")
        sender.send_to("127.0.0.1", here.local_port, b"a")
        sender.send_to("db", remote.local_port, b"b")
        assert sender.local_address == "0.0.0.0"
        assert here.receive_from().address == "127.0.0.1"
        got = remote.receive_from()
        assert (got.address, got.port) == (
            memory_network.local.ipv4[0],
            sender.local_port,
        )


def test_shutdown_wakes_a_blocked_accept_with_einval(backend: str) -> None:
    """Linux: shutdown(SHUT_RD) of a listener is a way to stop an accept loop."""
    errors: list[BaseException] = []
    with Socket(backend=backend, timeout=30) as server:
        server.bind("127.0.0.1")
        server.listen()

        def serve() -> None:
            try:
                server.accept()
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=serve)
        thread.start()
        time.sleep(0.2)  # let it block (real time; the memory clock follows)
        server.shutdown(SHUT_RDWR)
        thread.join(10)
    assert not thread.is_alive()
    assert len(errors) == 1
    assert isinstance(errors[0], sockspec.SocketError)
    assert errors[0].errno == errno.EINVAL
