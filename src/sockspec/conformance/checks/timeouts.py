"""Timeouts and concurrency: Go's ``nettest.TestConn`` cases, in seconds.

Go's ``net.Conn`` has *deadlines*: absolute instants, separate for reads and
writes, that any goroutine may move while a call waits.  sockspec has one
``timeout`` per socket: a duration in seconds that every blocking call
starts afresh.  The checks keep every behaviour that survives the
translation; :data:`sockspec.conformance.spec.NETTEST_NOTES` records what does not and
why.
"""

from __future__ import annotations

import collections
import functools
import io
import tempfile
import time

from ...api.constants import SHUT_WR, SO_RCVBUF, SO_SNDBUF, SOCK_DGRAM, Option
from ...api.errors import SocketClosed, SocketError, Timeout, WouldBlock
from ...api.socket import Socket
from ..core import check
from ..harness import JOIN_TIMEOUT, Harness


def _small_buffers(h: Harness) -> dict[Option, object]:
    """Small buffers where supported, so backpressure sets in quickly."""
    caps = h.client.capabilities.options & h.server.capabilities.options
    return {opt: 32 * 1024 for opt in (SO_SNDBUF, SO_RCVBUF) if opt in caps}


@check(
    group="timeouts",
    any_family=True,
    nettest="ReadTimeout",
    spec=["receive/read / Receive a block of bytes from the socket"],
)
def read_timeout(h: Harness) -> None:
    """A receive times out in its bound; sends still work; nothing is lost."""
    client, server = h.pair()
    client.timeout = 0.2
    for receive in (client.receive, client.receive_from):
        started = h.monotonic()
        with h.raises(
            Timeout, f"{receive.__name__} without data did not time out"
        ) as caught:
            receive()
        exc = caught.value
        h.assert_timed_out_in(started, 0.2)
        assert isinstance(exc, TimeoutError)
    client.send(b"after the timeout")
    assert h.receive_exactly(server, 17) == b"after the timeout"
    server.send(b"late data")
    assert h.receive_exactly(client, 9) == b"late data"


@check(
    group="timeouts",
    any_family=True,
    nettest="WriteTimeout",
    spec=[
        "send/write / Send a block of bytes to the socket",
        "isWritable / Returns TRUE if socket can accept written data",
    ],
)
def write_timeout(h: Harness) -> None:
    """A peer that never reads makes send time out; bytes_sent is exact."""
    options = _small_buffers(h)
    client, server = h.pair(client_options=options, server_options=options)
    data = h.random_bytes(16 << 20)
    client.timeout = 0.3
    started = h.monotonic()
    with h.raises(
        Timeout, "16 MiB to a peer that never reads did not time out"
    ) as caught:
        client.send(data)
    exc = caught.value
    h.assert_timed_out_in(started, 0.3)
    sent = exc.bytes_sent
    assert 0 < sent < len(data), f"bytes_sent={sent} of {len(data)}"
    assert not client.is_writable, "a socket whose send timed out is writable"
    # A send timing out leaves receiving working.
    server.send(b"ping")
    assert h.receive_exactly(client, 4) == b"ping"
    resumes_after_send_timeout(h, client, server, data, sent)


def resumes_after_send_timeout(
    h: Harness, client: Socket, server: Socket, data: bytes, sent: int
) -> None:
    """After a send of *data* timed out having sent *sent* bytes, the peer
    receives exactly those bytes and then what the client sends next."""
    drain = h.thread(lambda: h.receive_all(server, limit=len(data)), "drain")
    client.timeout = h.io_timeout
    client.send(b"tail")
    client.shutdown(SHUT_WR)
    received = drain.result()
    assert len(received) == sent + 4, f"peer got {len(received)}, sent {sent} + 4"
    assert received == data[:sent] + b"tail", "bytes were lost or altered"


@check(
    group="timeouts",
    spec=["sendFile / Sends a complete File object across a socket."],
)
def send_file_timeout(h: Harness) -> None:
    """A send_file timing out: bytes_sent is exact, the file is right after it.

    Resuming from the file's position then delivers the rest, byte-exact,
    both for a regular file and for a file object without a descriptor.
    """
    options = _small_buffers(h)
    data = h.random_bytes(16 << 20)
    start = 1000
    with tempfile.TemporaryFile() as disk:
        disk.write(data)
        for file in (disk, io.BytesIO(data)):
            client, server = h.pair(client_options=options, server_options=options)
            file.seek(start)
            client.timeout = 0.3
            started = h.monotonic()
            with h.raises(
                Timeout, "send_file of 16 MiB to a peer that never reads"
            ) as caught:
                client.send_file(file)
            h.assert_timed_out_in(started, 0.3)
            sent = caught.value.bytes_sent
            assert 0 < sent < len(data) - start, f"bytes_sent={sent}"
            position = file.tell()
            assert position == start + sent, (
                f"file at {position} after bytes_sent={sent} from {start}"
            )
            drain = h.thread(functools.partial(h.receive_all, server, len(data)))
            client.timeout = h.io_timeout
            assert client.send_file(file) == len(data) - position
            client.shutdown(SHUT_WR)
            received = drain.result()
            assert received == data[start:], (
                f"peer got {len(received)} bytes, expected {len(data) - start}"
                if len(received) != len(data) - start
                else "bytes were lost, repeated or altered"
            )
            client.close()
            server.close()


@check(
    group="timeouts",
    any_family=True,
    nettest="PastTimeout",
    spec=["Socket / The Socket class is used to create a non-blocking TCP socket."],
)
def past_timeout(h: Harness) -> None:
    """timeout=0 fails at once with WouldBlock, loses nothing, stays usable."""
    options = _small_buffers(h)
    client, server = h.pair(client_options=options, server_options=options)
    client.timeout = 0
    started = h.monotonic()
    for _ in range(3):
        with h.raises(
            WouldBlock, "receive with timeout=0 and no data returned"
        ) as caught:
            client.receive()
        exc = caught.value
        assert isinstance(exc, BlockingIOError)
    assert h.monotonic() - started < 0.5, "timeout=0 waited"
    server.send(b"now there is data")
    assert h.wait_for(client), "data never became readable"
    assert client.receive() == b"now there is data"
    chunk = h.random_bytes(65536)
    accepted = []
    for _ in range(100_000):
        try:
            count = client.send(chunk)
        except WouldBlock:
            break
        assert 0 < count <= len(chunk), f"non-blocking send returned {count}"
        accepted.append(chunk[:count])
    else:
        raise AssertionError("non-blocking sends to a peer that never reads")
    client.timeout = h.io_timeout
    drain = h.thread(lambda: h.receive_all(server), "drain")
    client.send(b"end")
    client.shutdown(SHUT_WR)
    expected = b"".join(accepted) + b"end"
    received = drain.result()
    assert len(received) == len(expected), f"{len(received)} != {len(expected)}"
    assert received == expected, "bytes were lost or altered"


@check(group="timeouts", nettest="PresentTimeout", any_family=True)
def present_timeout(h: Harness) -> None:
    """A very short timeout fires promptly, again and again, losing nothing."""
    client, server = h.pair()
    for i in range(20):
        client.timeout = 0.001
        started = h.monotonic()
        with h.raises(Timeout, "a 1 ms receive without data"):
            client.receive()
        h.assert_timed_out_in(started, 0.001)
        server.send(bytes([i]))
        client.timeout = h.io_timeout
        assert client.receive(1) == bytes([i])


@check(group="timeouts", nettest="FutureTimeout", any_family=True)
def future_timeout(h: Harness) -> None:
    """A call finishing before its timeout returns; the next gets it afresh."""
    client, server = h.pair()
    client.timeout = 3.0
    for i in range(3):
        sender = h.thread(functools.partial(server.send, bytes([i]) * 10), "sender")
        started = h.monotonic()
        assert h.receive_exactly(client, 10) == bytes([i]) * 10
        assert h.monotonic() - started < 3.0
        sender.result()
    client.timeout = 0.25
    started = h.monotonic()
    with h.raises(Timeout, "receive without data"):
        client.receive()
    h.assert_timed_out_in(started, 0.25)


@check(
    group="timeouts",
    any_family=True,
    nettest="CloseTimeout",
    spec=["close / Close the socket immediately"],
)
def close_timeout(h: Harness) -> None:
    """close() wakes threads blocked in receive and send with SocketClosed."""
    options = _small_buffers(h)
    client, server = h.pair(client_options=options, server_options=options)
    block = h.random_bytes(65536)

    def until_error(call: str) -> None:
        # Loop like nettest does: the call may not have blocked yet when
        # close() comes, and a timeout only means "not yet".
        while True:
            try:
                if call == "receive":
                    if client.receive() == b"":
                        raise AssertionError("receive saw end of stream, not close")
                else:
                    client.send(block)
            except Timeout:
                continue

    reader = h.thread(lambda: until_error("receive"), "receive")
    writer = h.thread(lambda: until_error("send"), "send")
    h.pause()
    closed_at = time.monotonic()
    client.close()
    for task in (reader, writer):
        h.assert_woken(task, closed_at, task.name)
        error = task.error(JOIN_TIMEOUT)
        assert isinstance(error, SocketClosed), f"{task.name} ended with {error!r}"
    assert server.is_connected


def close_wakes(h: Harness, sock: Socket, call_name: str) -> None:
    """Block *call_name* on *sock* in a thread; close() must wake it, promptly."""

    def call() -> None:
        while True:
            try:
                getattr(sock, call_name)()
            except Timeout:
                continue

    task = h.thread(call, call_name)
    h.pause()
    closed_at = time.monotonic()
    sock.close()
    h.assert_woken(task, closed_at, call_name)
    error = task.error(JOIN_TIMEOUT)
    assert isinstance(error, SocketClosed), f"{call_name} ended with {error!r}"


@check(group="timeouts", nettest="CloseTimeout", spec=["accept()"], any_family=True)
def close_unblocks_accept(h: Harness) -> None:
    """close() on a listener wakes a thread blocked in accept()."""
    close_wakes(h, h.listener(), "accept")


@check(
    group="timeouts",
    any_family=True,
    nettest="CloseTimeout",
    types=[SOCK_DGRAM],
    spec=["receiveFrom( [maxlen])"],
)
def close_unblocks_receive_from(h: Harness) -> None:
    """close() on a datagram socket wakes a thread blocked in receive_from()."""
    sock = h.socket(type=SOCK_DGRAM)
    sock.bind(h.host())
    close_wakes(h, sock, "receive_from")


@check(group="timeouts", nettest="RacyRead", any_family=True)
def racy_read(h: Harness) -> None:
    """Threads receiving at once share the stream: every byte arrives once."""
    client, server = h.pair()
    data = h.random_bytes(1 << 20)

    def reader(size: int) -> list[bytes]:
        chunks: list[bytes] = []
        while True:
            chunk = server.receive(size)
            if not chunk:
                return chunks
            chunks.append(chunk)

    sizes = (512, 1536, 4096)
    readers = [h.thread(functools.partial(reader, n), "reader") for n in sizes]
    client.send(data)
    client.shutdown(SHUT_WR)
    chunks = [chunk for task in readers for chunk in task.result()]
    total = sum(len(chunk) for chunk in chunks)
    assert total == len(data), f"readers got {total} of {len(data)} bytes"
    assert collections.Counter(b"".join(chunks)) == collections.Counter(data)


@check(group="timeouts", nettest="RacyWrite", any_family=True)
def racy_write(h: Harness) -> None:
    """Threads sending at once each get all their bytes through."""
    client, server = h.pair()
    size = 128 * 1024

    def writer(mark: int) -> int:
        total = 0
        for _ in range(8):
            total += client.send(bytes([mark]) * (size // 8))
        return total

    writers = [h.thread(functools.partial(writer, m), "writer") for m in (1, 2, 3, 4)]
    drain = h.thread(lambda: h.receive_all(server), "drain")
    for task in writers:
        assert task.result() == size
    client.shutdown(SHUT_WR)
    counts = collections.Counter(drain.result())
    assert counts == {1: size, 2: size, 3: size, 4: size}, dict(counts)


@check(
    group="timeouts",
    any_family=True,
    nettest="ConcurrentMethods",
    spec=[
        "isConnected",
        "isReadable",
        "isWritable",
        "localAddress",
        "remotePort",
    ],
)
def concurrent_methods(h: Harness) -> None:
    """Every method called from several threads at once, then close under them."""
    client, server = h.pair()
    rounds = 50
    size = 100

    def echo() -> None:
        while chunk := server.receive():
            server.send(chunk)

    def write() -> None:
        for _ in range(rounds):
            assert client.send(b"w" * size) == size

    def read() -> None:
        got = 0
        while got < rounds * size:
            chunk = client.receive()
            assert chunk, "end of stream while the echo runs"
            got += len(chunk)

    def inspect() -> None:
        for _ in range(rounds):
            assert client.is_connected
            _ = (client.is_readable, client.is_writable, client.local_address)
            _ = (client.local_port, client.remote_address, client.remote_port)
            _ = (client.type, client.family, client.backend, client.timeout)
            client.timeout = h.io_timeout

    echoer = h.thread(echo, "echo")
    tasks = [h.thread(fn, fn.__name__) for fn in (write, read, inspect, inspect)]
    for task in tasks:
        task.result()

    # Now close while every method is in use; each thread must end with a
    # sockspec error, never another exception, and never stay blocked.
    def hammer(action: str) -> None:
        while True:
            if action == "send":
                client.send(b"h" * size)
            elif action == "receive":
                client.receive()
            else:
                _ = client.local_address, client.remote_port

    hammers = [
        h.thread(functools.partial(hammer, a), a)
        for a in ("send", "receive", "inspect", "send")
    ]
    h.pause()
    closed_at = time.monotonic()
    client.close()
    for task in hammers:
        h.assert_woken(task, closed_at, task.name)
        error = task.error(JOIN_TIMEOUT)
        assert isinstance(error, SocketError), f"{task.name} ended with {error!r}"
    server.close()
    echoer.error(JOIN_TIMEOUT)
