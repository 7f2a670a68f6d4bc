"""A Deadlock message points at the cause: the rule holding data or a
connect (and how many bytes), an empty Poller, and says "no data in flight"
only when that is true."""

from __future__ import annotations

import pytest

from sockspec import Poller, Socket, WouldBlock
from sockspec.backends.memory import BlackHole, Deadlock, Network


def connected(network: Network) -> tuple[Socket, Socket, Socket]:
    network.add_host("server", "10.0.0.2")
    lst = Socket(backend=network.host("server"))
    lst.bind("10.0.0.2", 7000)
    lst.listen()
    client = Socket(backend=network, timeout=5)
    client.connect("10.0.0.2", 7000)
    return lst, client, lst.accept()


def test_data_held_by_a_partition_names_the_rule_and_the_bytes() -> None:
    network = Network(seed=1)
    _lst, client, server = connected(network)
    network.partition("local", "server")
    client.send(b"x" * 1234)
    with pytest.raises(Deadlock) as info:
        server.receive(10)
    message = str(info.value)
    assert "no data in flight" not in message
    assert "1234 bytes" in message
    assert "Partition(src='local', dst='server')" in message
    assert "10.0.0.2:7000" in message


def test_connect_held_by_a_black_hole_names_the_rule() -> None:
    network = Network(seed=1)
    network.add_host("server", "10.0.0.2")
    lst = Socket(backend=network.host("server"), timeout=None)
    lst.bind("10.0.0.2", 7000)
    lst.listen()
    network.add_rule(BlackHole(dst="server"))
    client = Socket(backend=network, timeout=0)
    with pytest.raises(WouldBlock):
        client.connect("10.0.0.2", 7000)  # in progress
    with pytest.raises(Deadlock) as info:
        lst.accept()
    message = str(info.value)
    assert "no data in flight" not in message
    assert "connect of <tcp #2 local:10.0.0.1:" in message
    assert "-> 10.0.0.2:7000 SYN_SENT> held by BlackHole(dst='server')" in message


def test_an_empty_poller_is_described_as_such() -> None:
    network = Network(seed=1)
    poller = Poller(backend=network)
    with pytest.raises(Deadlock, match="an empty Poller"):
        poller.poll()


def test_no_data_in_flight_when_true() -> None:
    network = Network(seed=1)
    _lst, _client, server = connected(network)
    with pytest.raises(Deadlock, match="no data in flight"):
        server.receive(10)


def test_a_raw_thread_about_to_connect_is_no_deadlock() -> None:
    # CPython's test_socket starts its client threads with
    # _thread.start_new_thread, which threading.enumerate() does not list:
    # the server's accept() while such a client waits on an Event that is
    # already set must wait for it, not raise Deadlock.
    import _thread
    import threading

    network = Network(seed=1)
    lst = Socket(backend=network, timeout=None)
    lst.bind("127.0.0.1", 7000)
    lst.listen()
    ready, done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def client() -> None:
        try:
            ready.wait(10)
            # Busy outside the network for a moment, as a thread starting up.
            sum(range(200_000))
            with Socket(backend=network, timeout=5) as sock:
                sock.connect("127.0.0.1", 7000)
                sock.send(b"hi")
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            done.set()

    _thread.start_new_thread(client, ())
    ready.set()
    conn = lst.accept()
    with conn, lst:
        assert conn.receive(2) == b"hi"
    assert done.wait(10)
    assert not errors


def test_a_plain_asyncio_loop_shuts_its_executor_down() -> None:
    # CPython 3.13's test_asyncio under --sockspec-compat memory: 3.13's
    # shutdown() hands its sentinel straight to the idle worker's get(), so
    # the worker looked idle while the thread joining it was about to wake
    # the loop; the loop's wait was declared a deadlock.
    import asyncio

    from sockspec import compat

    for seed in range(5):
        network = Network(seed=seed)
        with compat.patch(network):
            loop = asyncio.new_event_loop()
            try:
                assert loop.run_until_complete(loop.run_in_executor(None, int)) == 0
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                loop.close()
