"""Places where the memory network once differed from Linux (issue 10).

The scenarios that loopback can show run on both the kernel and the memory
network in ``tests/test_differential.py``; the ones here need what only the
memory network has (several hosts, virtual time, a small ephemeral range)
and assert the behaviour measured on Linux, quoted in each docstring.
"""

from __future__ import annotations

import errno
import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

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
    assert memory_network.host("dB") is db
    assert db.hostname == "db"
    cut = memory_network.partition("DB")
    with Socket(timeout=1) as client, pytest.raises(sockspec.Timeout):
        client.connect("db", 5432)
    cut.remove()
    memory_network.add_name("Cache", "10.9.9.9")
    assert memory_network.lookup_host("CACHE") == "10.9.9.9"
    memory_network.remove_name("cache")
    with pytest.raises(sockspec.HostNotFound):
        memory_network.lookup_host("Cache")


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


#: A two-port ephemeral range, so running out takes three sockets.
SMALL_RANGE = (40000, 40001)


def run_out_of_ports(backend: sockspec.Backend | str) -> list[list[object]]:
    """Take every ephemeral port, then ask for one more in each way."""
    made: list[Socket] = []

    def new(type: sockspec.SocketType) -> Socket:
        made.append(Socket(type=type, backend=backend, timeout=0.2))
        return made[-1]

    def observe(call: Callable[[], object]) -> list[object]:
        try:
            call()
        except OSError as exc:
            return [type(exc).__name__, exc.errno]
        return ["ok"]

    out = []
    try:
        for kind in (sockspec.SOCK_STREAM, SOCK_DGRAM):
            for _ in range(3):
                out.append(observe(partial(new(kind).bind, "127.0.0.1")))
            if kind is sockspec.SOCK_STREAM:
                out.append(observe(new(kind).listen))
            else:
                out.append(observe(partial(new(kind).send_to, "127.0.0.1", 9, b"x")))
            out.append(observe(partial(new(kind).connect, "127.0.0.1", SMALL_RANGE[0])))
    finally:
        for sock in made:
            sock.close()
    return out


def test_running_out_of_ephemeral_ports_fails_as_on_linux() -> None:
    """Linux: bind/listen EADDRINUSE, TCP connect EADDRNOTAVAIL, UDP EAGAIN."""
    network = Network(seed=1)
    network.ephemeral_ports = SMALL_RANGE
    assert run_out_of_ports(network) == [
        ["ok"],
        ["ok"],
        ["AddressInUse", errno.EADDRINUSE],
        ["AddressInUse", errno.EADDRINUSE],
        ["AddressNotAvailable", errno.EADDRNOTAVAIL],
        ["ok"],
        ["ok"],
        ["AddressInUse", errno.EADDRINUSE],
        ["Timeout", errno.ETIMEDOUT],  # EAGAIN, retried until the timeout
        ["WouldBlock", errno.EAGAIN],
    ]
    with (
        Socket(type=SOCK_DGRAM, backend=network) as first,
        Socket(type=SOCK_DGRAM, backend=network) as second,
        Socket(type=SOCK_DGRAM, backend=network) as blocking,
    ):
        first.bind("127.0.0.1")
        second.bind("127.0.0.1")
        with pytest.raises(sockspec.WouldBlock):  # a blocking socket: EAGAIN
            blocking.send_to("127.0.0.1", 9, b"x")
        first.close()  # a port is free again
        blocking.send_to("127.0.0.1", 9, b"x")
        assert blocking.local_port in range(SMALL_RANGE[0], SMALL_RANGE[1] + 1)


def test_running_out_of_ephemeral_ports_matches_the_kernel(tmp_path: Path) -> None:
    """The same calls on the kernel (both OS backends) in a private network
    namespace with the same range."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("needs unshare(1) and ip(8)")
    script = tmp_path / "run.py"
    script.write_text(
        "import json, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_memory_linux import SMALL_RANGE, run_out_of_ports\n"
        "with open('/proc/sys/net/ipv4/ip_local_port_range', 'w') as f:\n"
        "    f.write('%d %d' % SMALL_RANGE)\n"
        "print(json.dumps([run_out_of_ports(b) for b in ('stdlib', 'selectors')]))\n"
    )
    command = [
        "unshare",
        "-rn",
        "sh",
        "-c",
        f"ip link set lo up && {sys.executable} {script}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if done.returncode != 0 and "unshare" in done.stderr:
        pytest.skip(f"cannot make a network namespace here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    network = Network(seed=1)
    network.ephemeral_ports = SMALL_RANGE
    stdlib, selectors = json.loads(done.stdout)
    assert stdlib == selectors == run_out_of_ports(network)


def test_ephemeral_range_is_checked() -> None:
    network = Network(seed=1)
    assert network.ephemeral_ports == (32768, 60999)
    with pytest.raises(ValueError, match="ephemeral_ports"):
        network.ephemeral_ports = (5, 4)
    with pytest.raises(TypeError, match="ephemeral_ports"):
        network.ephemeral_ports = 5  # type: ignore[assignment]


def test_blocking_unix_connect_to_a_full_backlog_waits_without_limit(
    memory_network: Network, tmp_path: Path
) -> None:
    """Linux: a UNIX connect has no SYN to give up on (unix_wait_for_peer)."""
    path = str(tmp_path / "server")
    done: list[object] = []
    with Socket(sockspec.AF_UNIX, timeout=5) as server:
        server.bind(path)
        server.listen(0)
        queued = Socket(sockspec.AF_UNIX, timeout=5)
        queued.connect(path, None)  # fills the backlog
        waiting = Socket(sockspec.AF_UNIX, timeout=None)

        def connect() -> None:
            try:
                waiting.connect(path, None)
                done.append(memory_network.now)
            except BaseException as exc:
                done.append(exc)

        thread = threading.Thread(target=connect)
        thread.start()
        memory_network.sleep(600)  # far past the 127 s a TCP connect waits
        assert done == []
        server.accept().close()
        thread.join(10)
        assert done == [pytest.approx(600)]
        for sock in (queued, waiting, server.accept()):
            sock.close()


def test_a_timed_out_connect_stays_pending(backend: str) -> None:
    """Linux keeps a TCP connect whose caller's timeout ran out in SYN_SENT.

    Measured on Linux (stdlib over loopback, SYNs dropped by a full accept
    queue): a second non-blocking ``connect`` gives EALREADY, not a new
    attempt that could succeed where the first one had not.
    """
    with Socket(backend=backend, timeout=5) as listener:
        listener.bind("127.0.0.1")
        listener.listen(0)  # room for one unaccepted connection
        port = listener.local_port
        queued = []
        try:
            # Fill the accept queue until a connect can no longer complete.
            for _ in range(8):
                sock = Socket(backend=backend)
                queued.append(sock)
                try:
                    sock.connect("127.0.0.1", port, timeout=0.2)
                except sockspec.Timeout:
                    break
            else:
                pytest.fail("the accept queue never filled")
            with pytest.raises(BlockingIOError) as info:
                sock.connect("127.0.0.1", port, timeout=0)
            assert info.value.errno == errno.EALREADY
        finally:
            for sock in queued:
                sock.close()


def _closed_port(backend: str) -> int:
    """A loopback port that nothing listens on (just released)."""
    with Socket(backend=backend) as sock:
        sock.bind("127.0.0.1")
        port = sock.local_port
    assert port is not None
    return port


@pytest.mark.parametrize("timeout", [None, 2.0])
def test_a_refused_connect_leaves_the_socket_ready_to_connect_again(
    backend: str, timeout: float | None
) -> None:
    """Linux: after ECONNREFUSED the socket is unconnected and can connect again.

    Measured with a blocking ``socket.socket`` over loopback: connect to a
    closed port raises ECONNREFUSED, send then raises EPIPE (the contract's
    NotConnected), and connect to a listening port succeeds.  (A socket
    module socket *with a timeout* answers that second connect with
    ECONNABORTED: it collects the failure by reading ``SO_ERROR``, which
    leaves the kernel's socket marked as connecting.)
    """
    with Socket(backend=backend, timeout=5) as listener:
        listener.bind("127.0.0.1")
        listener.listen()
        with Socket(backend=backend, timeout=timeout) as client:
            with pytest.raises(sockspec.ConnectionRefused):
                client.connect("127.0.0.1", _closed_port(backend))
            assert not client.is_connected
            with pytest.raises(sockspec.NotConnected):
                client.send(b"x")
            client.connect("127.0.0.1", listener.local_port)
            assert client.is_connected
            with listener.accept() as server:
                client.send(b"ping")
                assert server.receive() == b"ping"
            with pytest.raises(sockspec.AlreadyConnected):
                client.connect("127.0.0.1", listener.local_port)
