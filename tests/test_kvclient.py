"""The worked example of docs/testing-with-memory.md: examples/kvclient.py.

A fake key-value server runs in a thread on its own host of the memory
network; the client runs in the test.  Partitions, a silent server (a
timeout in virtual time) and mid-stream resets are injected with rules.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
from pathlib import Path
from types import ModuleType

import pytest

import sockspec
from sockspec.backends.memory import Host, Network, Reset

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "kvclient.py"
GUIDE = ROOT / "docs" / "testing-with-memory.md"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kvclient", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["kvclient"] = module
    spec.loader.exec_module(module)
    return module


kvclient = load_example()
KVClient = kvclient.KVClient
Unavailable = kvclient.Unavailable


class FakeKVServer:
    """Serves the protocol from a dict, one connection at a time, in a thread."""

    def __init__(self, host: Host, port: int = 7000) -> None:
        self.store: dict[str, str] = {}
        self.silent = False  # read requests but never answer
        self.connections: list[sockspec.Socket] = []
        self.listener = sockspec.Socket(backend=host)
        self.listener.bind(None, port)
        self.listener.listen()
        self.thread = threading.Thread(target=self._serve, name="fake-kv", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn = self.listener.accept()
            except sockspec.SocketClosed:
                return
            self.connections.append(conn)
            try:
                self._handle(conn)
            except (ConnectionResetError, BrokenPipeError, sockspec.SocketClosed):
                pass  # the client went away; serve the next one
            finally:
                conn.close()

    def _handle(self, conn: sockspec.Socket) -> None:
        buffer = b""
        while True:
            chunk = conn.receive()
            if not chunk:
                return
            buffer += chunk
            while b"\n" in buffer:
                line, _, buffer = buffer.partition(b"\n")
                if not self.silent:
                    conn.send(self._answer(line.decode()).encode() + b"\n")

    def _answer(self, line: str) -> str:
        command, _, rest = line.partition(" ")
        if command == "SET":
            key, _, value = rest.partition(" ")
            self.store[key] = value
            return "OK"
        if command == "GET":
            return f"VALUE {self.store[rest]}" if rest in self.store else "MISSING"
        if command == "DEL":
            return "OK" if self.store.pop(rest, None) is not None else "MISSING"
        return "ERROR"

    def stop(self) -> None:
        self.listener.close()
        for conn in self.connections:
            conn.close()
        self.thread.join(5)
        assert not self.thread.is_alive()


@pytest.fixture
def server(memory_network: Network) -> FakeKVServer:
    fake = FakeKVServer(memory_network.add_host("kv"))
    yield fake  # type: ignore[misc]
    fake.stop()


def test_set_get_delete(server: FakeKVServer) -> None:
    with KVClient("kv", 7000) as client:
        assert client.get("colour") is None
        client.set("colour", "blue")
        assert client.get("colour") == "blue"
        assert client.delete("colour") is True
        assert client.delete("colour") is False
    assert server.store == {}


def test_partition_makes_the_server_unavailable_until_healed(
    memory_network: Network, server: FakeKVServer
) -> None:
    client = KVClient("kv", 7000, timeout=5.0)
    client.set("k", "v")
    started = memory_network.now
    cut = memory_network.partition("local", "kv")
    with cut, pytest.raises(Unavailable, match=r"did not answer in 5\.0 s"):
        client.get("k")
    assert memory_network.now - started == pytest.approx(5.0)
    assert client.get("k") == "v"  # healed: a new connection works
    client.close()


def test_silent_server_times_out_in_virtual_time(
    memory_network: Network, server: FakeKVServer
) -> None:
    client = KVClient("kv", 7000, timeout=30.0)
    server.silent = True
    wall = time.monotonic()
    with pytest.raises(Unavailable):
        client.get("k")
    assert memory_network.now == pytest.approx(30.0)
    assert time.monotonic() - wall < 5.0  # 30 virtual seconds, no real wait
    client.close()


def test_a_reset_mid_stream_is_retried_on_a_new_connection(
    memory_network: Network, server: FakeKVServer
) -> None:
    client = KVClient("kv", 7000)
    client.set("k", "v")
    first = server.connections[0]
    # The first connection dies in the middle of the next reply.
    memory_network.add_rule(Reset(after_bytes=3, socket=first))
    assert client.get("k") == "v"
    assert len(server.connections) == 2
    assert len(memory_network.events("reset")) >= 2  # both ends saw it
    client.close()


def test_a_server_that_keeps_resetting_is_unavailable(
    memory_network: Network, server: FakeKVServer
) -> None:
    client = KVClient("kv", 7000)
    memory_network.add_rule(Reset(after_bytes=0, port=7000))
    with pytest.raises(Unavailable, match="keeps resetting"):
        client.get("k")
    client.close()


def test_refused_when_the_server_is_down(memory_network: Network) -> None:
    memory_network.add_host("kv")
    with pytest.raises(Unavailable, match="refused"):
        KVClient("kv", 7000).get("k")


def test_the_guide_shows_the_example_verbatim() -> None:
    code = EXAMPLE.read_text(encoding="utf-8")
    body = code[code.index("from __future__") :]
    assert body in GUIDE.read_text(encoding="utf-8")
