"""Explicit backend resolution (Backend.resolve, backend_choices,
Socket.implementation) and the delegating bases for wrapping backends."""

from __future__ import annotations

import threading

import pytest

import sockspec
from sockspec import DelegatingBackend, DelegatingSocket
from sockspec.backends.memory import Latency, Network

TIMEOUT = 10.0


class Counting(DelegatingSocket):
    """Counts what is sent; everything else is the base's forwarding."""

    def send(self, data: bytes | memoryview) -> int:
        sent = super().send(data)
        counts = self.backend.sent  # type: ignore[attr-defined]
        counts.append(sent)
        return sent


class CountingBackend(DelegatingBackend):
    socket_class = Counting

    def __init__(self, inner: sockspec.Backend | str) -> None:
        super().__init__(inner)
        self.sent: list[int] = []


def _echo_through_poller(backend: sockspec.Backend | str) -> bytes:
    """Accept, then wait for data with a Poller of *backend*, and read it."""
    with sockspec.Socket(backend=backend, timeout=TIMEOUT) as listener:
        listener.bind("127.0.0.1")
        listener.listen()
        with sockspec.Socket(backend=backend, timeout=TIMEOUT) as client:
            client.connect("127.0.0.1", listener.local_port)
            with listener.accept() as server, sockspec.Poller(backend) as poller:
                poller.register(server, sockspec.EVENT_READ)
                client.send(b"ping")
                ready = poller.poll(TIMEOUT)
                assert [key.socket for key, _ in ready] == [server]
                return server.receive(4)


@pytest.mark.parametrize("inner", ["stdlib", "selectors", "memory"])
def test_a_wrapper_overrides_only_send_and_the_rest_works(
    inner: str, memory_network: Network
) -> None:
    backend = CountingBackend(sockspec.get_backend(inner))
    assert _echo_through_poller(backend) == b"ping"
    assert backend.sent == [4]
    assert backend.capabilities == sockspec.get_backend(inner).capabilities
    assert backend.name == sockspec.get_backend(inner).name


def test_accepted_connections_are_wrapped_by_the_same_backend(
    memory_network: Network,
) -> None:
    backend = CountingBackend(memory_network)
    with sockspec.Socket(backend=backend, timeout=TIMEOUT) as listener:
        listener.bind("127.0.0.1", 80)
        listener.listen()
        with sockspec.Socket(backend=backend, timeout=TIMEOUT) as client:
            client.connect("127.0.0.1", 80)
            with listener.accept() as server:
                impl = server.implementation()
                assert isinstance(impl, Counting)
                assert impl.backend is backend
                server.send(b"abc")
                assert client.receive(3) == b"abc"
    assert backend.sent == [3]


def test_clock_and_resources_follow_the_inner_backend(memory_network: Network) -> None:
    backend = DelegatingBackend(memory_network)
    assert backend.monotonic() == memory_network.monotonic()
    before = backend.open_resources()
    with sockspec.Socket(backend=backend):
        assert backend.open_resources() == memory_network.open_resources()
        assert backend.open_resources() == (before or 0) + 1


def test_a_wrapper_of_a_choice_follows_what_it_means_now() -> None:
    wrapper = DelegatingBackend("memory", name="wrapped")
    first, second = Network(seed=1), Network(seed=2)
    with sockspec.use_backend(first):
        view_one = wrapper.resolve()
        assert isinstance(view_one, DelegatingBackend)
        assert view_one.inner is first
        assert wrapper.resolve() is view_one  # the same while it is in use
        with sockspec.Socket(backend=wrapper) as sock:
            sock.bind("127.0.0.1", 9)
            assert first.socket_info(sock).local == "127.0.0.1:9"
    with sockspec.use_backend(second):
        view_two = wrapper.resolve()
        assert view_two.inner is second  # type: ignore[attr-defined]
        assert view_two.name == "wrapped"


def test_a_wrapper_of_a_plain_backend_is_its_own_resolution() -> None:
    inner = sockspec.get_backend("stdlib")
    wrapper = DelegatingBackend(inner)
    assert wrapper.resolve() is wrapper
    assert sockspec.Poller(wrapper).backend == "stdlib"


def test_fault_rules_see_through_wrapped_sockets(memory_network: Network) -> None:
    backend = DelegatingBackend(memory_network)
    with sockspec.Socket(backend=backend) as sock:
        handle = memory_network.add_rule(Latency(0.5, socket=sock))
        handle.remove()
        assert memory_network.socket_info(sock).state == "NEW"


def test_wrapper_inner_must_be_a_backend_or_a_name() -> None:
    with pytest.raises(TypeError, match="inner"):
        DelegatingBackend(42)  # type: ignore[arg-type]


# -- resolution -------------------------------------------------------------------


class _Fixed(sockspec.Backend):
    name = "fixed"
    capabilities = sockspec.Capabilities()

    def __init__(self, inner: sockspec.Backend) -> None:
        self.inner = inner

    def socket(
        self, family: sockspec.Family, type: sockspec.SocketType
    ) -> sockspec.SocketImpl:
        return self.inner.socket(family, type)

    def selector(self) -> sockspec.SelectorImpl:
        return self.inner.selector()


def test_a_proxy_is_resolved_for_sockets_and_pollers_alike() -> None:
    target = sockspec.get_backend("stdlib")

    class Proxy(_Fixed):
        def resolve(self) -> sockspec.Backend:
            return target

    proxy = Proxy(target)
    with sockspec.Socket(backend=proxy) as sock, sockspec.Poller(proxy) as poller:
        assert sock.implementation(target) is sock.implementation()
        poller.register(sock, sockspec.EVENT_WRITE)  # same backend object


def test_backend_choices_is_a_read_only_snapshot_newest_first() -> None:
    network = Network(seed=3)
    assert sockspec.backend_choices() == ()
    with sockspec.use_backend("stdlib"), sockspec.use_backend(network):
        choices = sockspec.backend_choices()
        assert choices == (network, "stdlib")
        assert isinstance(choices, tuple)
    assert sockspec.backend_choices() == ()


def test_implementation_checks_the_backend_and_the_closed_state() -> None:
    stdlib = sockspec.get_backend("stdlib")
    sock = sockspec.Socket(backend=stdlib)
    try:
        assert isinstance(sock.implementation(), sockspec.SocketImpl)
        assert sock.implementation(stdlib) is sock.implementation()
        with pytest.raises(ValueError, match="selectors"):
            sock.implementation(sockspec.get_backend("selectors"))
    finally:
        sock.close()
    with pytest.raises(sockspec.SocketClosed):
        sock.implementation()


def test_memory_reads_use_backend_choices_from_any_thread() -> None:
    network = Network(seed=5)
    seen: list[sockspec.Backend] = []
    with sockspec.use_backend(network):
        worker = threading.Thread(target=lambda: seen.append(sockspec.get_backend()))
        worker.start()
        worker.join(TIMEOUT)
    assert seen == [network]
