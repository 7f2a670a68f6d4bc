"""pymemcache, unmodified, against a small memcached written here."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from _compat_helpers import serving

from sockspec import compat
from sockspec.backends.memory import Network, Reset

pytest.importorskip("pymemcache")
from pymemcache.client.base import Client

pytestmark = pytest.mark.timeout(60)


class _FakeMemcached:
    """The text protocol's set, get/gets (several keys), delete and version."""

    def __init__(self) -> None:
        self.store: dict[bytes, tuple[bytes, bytes]] = {}

    def handle(self, conn: Any) -> None:
        with conn, conn.makefile("rb") as stream:
            try:
                while line := stream.readline():
                    conn.sendall(self.answer(line.split(), stream))
            except OSError:
                pass  # the reset test cuts connections

    def answer(self, words: list[bytes], stream: Any) -> bytes:
        verb, quiet = words[0], b"noreply" in words
        if verb == b"set":
            data = stream.read(int(words[4]) + 2)[:-2]
            self.store[words[1]] = (words[2], data)
            return b"" if quiet else b"STORED\r\n"
        if verb in (b"get", b"gets"):
            out = b""
            for key in words[1:]:
                if key in self.store:
                    flags, data = self.store[key]
                    out += b"VALUE %s %s %d\r\n%s\r\n" % (key, flags, len(data), data)
            return out + b"END\r\n"
        if verb == b"delete":
            found = self.store.pop(words[1], None) is not None
            return b"" if quiet else b"DELETED\r\n" if found else b"NOT_FOUND\r\n"
        if verb == b"version":
            return b"VERSION 1.6.0\r\n"
        return b"ERROR\r\n"


@pytest.fixture
def net(no_fd_leak: None) -> Iterator[Network]:
    with Network(seed=3) as network:
        yield network


def memcached(net: Network) -> contextlib.AbstractContextManager[None]:
    """A fake memcached on port 11211 of host ``mc``."""
    return serving(net, "mc", 11211, _FakeMemcached().handle)


def test_commands_and_faults(net: Network) -> None:
    big = b"v" * 100_000
    with memcached(net), compat.patch(net, clock=True):
        client = Client(("mc", 11211), connect_timeout=5, timeout=5)
        try:
            got: list[Any] = [client.set("k", big), client.get("k") == big]
            got.append(sorted(client.get_many(["k", "missing"])))
            got.append(client.delete("k"))
            got.append(client.version())
            cut = net.partition("local", "mc")
            started, wall = time.monotonic(), time.perf_counter()
            with pytest.raises(TimeoutError):
                client.get("k")
            got.append(time.monotonic() - started)
            assert time.perf_counter() - wall < 5
            net.remove_rule(cut)
        finally:
            client.close()
        client = Client(("mc", 11211), connect_timeout=5, timeout=5)
        try:
            client.set("k", big)
            net.add_rule(Reset(src="mc", dst="local", after_bytes=1000))
            with pytest.raises(ConnectionResetError):
                client.get("k")
        finally:
            client.close()
        with pytest.raises(ConnectionRefusedError):
            Client(("localhost", 11211), connect_timeout=5).get("k")
        with pytest.raises(socket.gaierror):
            Client(("nosuch.internal", 11211), connect_timeout=5).get("k")
    assert got == [True, True, ["k"], True, b"1.6.0", pytest.approx(5)]
