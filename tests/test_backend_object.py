"""Sockets and Pollers name their backend and hand out the object (issue 10, 27).

``backend`` stays the name (DESIGN.md); ``backend_object`` is the object to
pass on, since a name such as ``"memory"`` means whatever network is current.
"""

from __future__ import annotations

import pytest

import sockspec
from sockspec import EVENT_READ, Poller, Socket
from sockspec.backends.memory import Network


def test_poller_backend_object_makes_sockets_it_accepts() -> None:
    network = Network(seed=1)
    db = network.add_host("db")
    with Poller(backend=db) as poller:
        assert poller.backend == "memory"
        assert poller.backend_object is db
        with Socket(backend=poller.backend_object) as sock:
            assert sock.backend == "memory"
            assert sock.backend_object is db
            sock.bind(None)
            assert sock.local_address == "0.0.0.0"
            poller.register(sock, EVENT_READ)  # the same host: accepted


def test_socket_backend_object_is_the_one_it_was_made_with(backend: str) -> None:
    with Socket(backend=backend) as sock, Socket(backend=sock.backend_object) as other:
        assert sock.backend == backend
        assert other.backend_object is sock.backend_object
        with Poller(backend=sock.backend_object) as poller:
            poller.register(other, EVENT_READ)


def test_mismatch_names_the_hosts_and_networks() -> None:
    first, second = Network(seed=1), Network(seed=2)
    db = first.add_host("db")
    with Poller(backend=first) as poller, Socket(backend=db) as sock:
        with pytest.raises(ValueError, match="'db'") as info:
            poller.register(sock, EVENT_READ)
        assert "seed=1" in str(info.value)
        assert "backend_object" in str(info.value)
    with (
        Poller(backend=first.local) as poller,
        Socket(backend=second.local) as sock,
        pytest.raises(ValueError, match="'local'") as info,
    ):
        poller.register(sock, EVENT_READ)
    assert "seed=1" in str(info.value)
    assert "seed=2" in str(info.value)
    with Poller(backend=first) as poller, Socket(backend=second) as sock:
        with pytest.raises(ValueError, match="seed=2") as info:
            poller.register(sock, EVENT_READ)
        assert "seed=1" in str(info.value)
    expected = "'memory', not to this Poller's backend 'stdlib'"
    with (
        Poller(backend="stdlib") as poller,
        Socket(backend=first) as sock,
        pytest.raises(ValueError, match=expected),
    ):
        poller.register(sock, EVENT_READ)


def test_backend_object_is_read_only() -> None:
    with Socket(backend="stdlib") as sock, Poller(backend="stdlib") as poller:
        assert isinstance(sock.backend_object, sockspec.Backend)
        assert poller.backend_object is sock.backend_object
        with pytest.raises(AttributeError):
            sock.backend_object = None  # type: ignore[misc]
        with pytest.raises(AttributeError):
            poller.backend_object = None  # type: ignore[misc]
