"""A peer that dies: killed with SIGKILL, or closing with data left unread.

On the OS backends the peer is a real process killed mid-transfer: the
kernel closes its sockets, sending a FIN (nothing was left unread) or a
reset (data we sent was never read).  The survivor must see every byte the
peer sent, in order, then exactly that: end of stream, or
:class:`sockspec.ConnectionReset`; a send into the dead connection must fail
with ``ConnectionReset`` or ``BrokenPipe`` within a few tries.

The memory backend has no processes; its equivalent of a process dying is
every socket of the peer's host closing at once while its thread is blocked
in a call.  The same outcomes are required of it.
"""

from __future__ import annotations

import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator

import pytest

import sockspec
from sockspec import Socket
from sockspec.backends.memory import Network
from sockspec.conformance.harness import Harness, Task

pytestmark = pytest.mark.timeout(60)

#: The peer's stream: this block over and over, so any byte can be checked.
BLOCK = bytes(range(256)) * 256
#: Bytes received before the peer dies.
BEFORE_DEATH = 1 << 20
#: Bytes sent to the peer that it never reads (small enough to fit any buffer).
UNREAD = 16 << 10

PEER = textwrap.dedent(
    """
    import sys, sockspec
    block = bytes(range(256)) * 256
    listener = sockspec.Socket(backend=sys.argv[1], timeout=30)
    listener.bind("127.0.0.1", 0)
    listener.listen(1)
    print(listener.local_port, flush=True)
    conn = listener.accept()
    if sys.argv[2] == "idle":  # send 1 MiB, then wait to be killed
        for _ in range(16):
            conn.send(block)
        sys.stdin.read()
    while True:  # until killed
        conn.send(block)
    """
)


def _check_stream(data: bytes, offset: int) -> None:
    """Assert *data* is the peer's stream from *offset* on."""
    start = offset % len(BLOCK)
    want = (BLOCK * (len(data) // len(BLOCK) + 2))[start : start + len(data)]
    assert data == want, f"wrong bytes after {offset} bytes of the stream"


def _read_to_the_end(sock: Socket, offset: int, limit: int) -> tuple[int, str]:
    """Receive until the stream ends; return the bytes read and how it ended."""
    got = 0
    for _ in range(limit):
        try:
            data = sock.receive()
        except sockspec.ConnectionReset:
            return got, "reset"
        if not data:
            return got, "end"
        _check_stream(data, offset + got)
        got += len(data)
    raise AssertionError(f"the stream did not end within {limit} receives")


def _send_fails(sock: Socket, pause: Callable[[], None]) -> type[BaseException]:
    """Send until the dead connection refuses; return the error's class."""
    for _ in range(50):
        try:
            sock.send(b"are you there?")
        except (sockspec.ConnectionReset, sockspec.BrokenPipe) as exc:
            return type(exc)
        pause()
    raise AssertionError("50 sends into a dead connection all succeeded")


def _expected_end(unread: bool) -> str:
    # Linux: closing with unread data sends a reset, else a FIN.
    return "reset" if unread else "end"


# -- a real process killed with SIGKILL -------------------------------------------


@pytest.fixture
def peer_process(request: pytest.FixtureRequest) -> Iterator[subprocess.Popen[str]]:
    backend, mode = request.param
    proc = subprocess.Popen(
        [sys.executable, "-c", PEER, backend, mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()


@pytest.mark.parametrize(
    "peer_process",
    [
        pytest.param((peer, mode), id=f"{peer}-peer-{mode}")
        for peer in ("stdlib", "selectors")
        for mode in ("streaming", "idle")
    ],
    indirect=True,
)
@pytest.mark.parametrize("backend", ["stdlib", "selectors"])
@pytest.mark.parametrize("unread", [False, True], ids=["all-read", "unread-data"])
def test_peer_killed_mid_transfer(
    peer_process: subprocess.Popen[str], backend: str, unread: bool
) -> None:
    assert peer_process.stdout is not None
    ready, _, _ = select.select([peer_process.stdout], [], [], 20)
    assert ready, "the peer did not start"
    port = int(peer_process.stdout.readline())
    with Socket(backend=backend, timeout=10.0) as sock:
        sock.connect("127.0.0.1", port)
        if unread:
            sock.send(b"x" * UNREAD)  # the peer never reads it
        got = 0
        while got < BEFORE_DEATH:
            data = sock.receive()
            assert data, "the peer ended the stream before it was killed"
            _check_stream(data, got)
            got += len(data)
        # A streaming peer is blocked in send (we stopped reading); an idle
        # one has sent everything, and we block in receive when it dies.
        survivor = Task("survivor", lambda: _read_to_the_end(sock, got, 10_000))
        time.sleep(0.1)
        killed = time.monotonic()
        peer_process.send_signal(signal.SIGKILL)
        assert peer_process.wait(10) == -signal.SIGKILL
        rest, ending = survivor.result(10)
        assert time.monotonic() - killed < 5.0, "the death was noticed late"
        assert ending == _expected_end(unread), f"after {got + rest} bytes"
        assert _send_fails(sock, lambda: time.sleep(0.01))


# -- the memory backend: every socket of the peer's host closes at once ------------


@pytest.fixture
def network() -> Iterator[Network]:
    net = Network(seed=3)
    with sockspec.use_backend(net), net:
        yield net


@pytest.mark.parametrize("unread", [False, True], ids=["all-read", "unread-data"])
def test_memory_peer_host_dies_mid_transfer(network: Network, unread: bool) -> None:
    peer = network.add_host("peer")
    h = Harness(network, io_timeout=10.0)
    try:
        listener = h.track(Socket(backend=peer, timeout=10.0))
        listener.bind(peer.ipv4[0], 7000)
        listener.listen(1)
        accepted: list[Socket] = []
        in_accept = threading.Event()

        def serve() -> None:
            in_accept.set()
            conn = h.track(listener.accept())
            accepted.append(conn)
            while True:  # until its host dies
                conn.send(BLOCK)

        server = h.thread(serve, "peer")
        sock = h.socket()
        sock.connect(peer.ipv4[0], 7000)
        if unread:
            sock.send(b"x" * UNREAD)
        got = 0
        while got < BEFORE_DEATH:
            data = sock.receive()
            assert data
            _check_stream(data, got)
            got += len(data)
        # "Kill the process": close every socket on the peer host at once,
        # while its thread is blocked in send.
        for victim in (*accepted, listener):
            victim.close()
        assert isinstance(server.error(), sockspec.SocketClosed)
        rest, ending = _read_to_the_end(sock, got, 10_000)
        assert ending == _expected_end(unread), f"after {got + rest} bytes"
        assert _send_fails(sock, lambda: network.sleep(0.01))
    finally:
        assert not h.close()


# -- close with unread data resets the peer, on every backend ----------------------


@pytest.fixture(params=["stdlib", "selectors", "memory"])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    name: str = request.param
    if name == "memory":
        net = Network(seed=5)
        with sockspec.use_backend(net), net:
            h = Harness(net, io_timeout=5.0)
            yield h
            assert not h.close()
        return
    h = Harness(sockspec.get_backend(name), io_timeout=5.0)
    yield h
    assert not h.close()


def test_close_with_unread_data_resets_the_peer(harness: Harness) -> None:
    client, server = harness.pair()
    client.send(b"never read")
    assert harness.wait_for(server)
    server.close()
    with harness.raises(sockspec.ConnectionReset, "receive after the reset"):
        client.receive()
    # As on Linux: the reset was reported once; sending now is a broken pipe.
    kind = _send_fails(client, lambda: harness.pause(0.01))
    assert kind in (sockspec.BrokenPipe, sockspec.ConnectionReset)


def test_close_with_everything_read_ends_the_stream(harness: Harness) -> None:
    client, server = harness.pair()
    client.send(b"read")
    assert harness.receive_exactly(server, 4) == b"read"
    server.send(b"bye")
    server.close()
    assert harness.receive_exactly(client, 3) == b"bye"
    assert client.receive() == b""
    assert client.receive() == b""  # and it stays ended


def test_reset_while_the_survivor_is_blocked_in_receive(harness: Harness) -> None:
    client, server = harness.pair()
    server.send(b"unread by the client")
    client_sent = client.send(b"unread by the server")
    assert client_sent == 20
    assert harness.wait_for(server)
    waiter = harness.thread(lambda: harness.receive_all(client), "survivor")
    harness.pause(0.1)
    server.close()
    error = waiter.error()
    # The client may first read what the server sent; then comes the reset.
    assert isinstance(error, sockspec.ConnectionReset), error
