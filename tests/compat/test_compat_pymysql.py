"""PyMySQL, unmodified, against a fake MySQL server written here.

The fake speaks just enough of the MySQL client/server protocol: the
version-10 greeting, an OK to any login, and a one-column text result set
for ``SELECT <literal>``.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from typing import Any

import pytest
from _compat_helpers import serving

from sockspec import compat
from sockspec.backends.memory import Network

pytest.importorskip("pymysql")
import pymysql

pytestmark = pytest.mark.timeout(60)

# CLIENT_LONG_PASSWORD, FOUND_ROWS, LONG_FLAG, CONNECT_WITH_DB, PROTOCOL_41,
# TRANSACTIONS, SECURE_CONNECTION, MULTI_RESULTS, PLUGIN_AUTH (no SSL).
_CAPABILITIES = 0x1 | 0x2 | 0x4 | 0x8 | 0x200 | 0x2000 | 0x8000 | 0x20000 | 0x80000
_OK = b"\x00\x00\x00\x02\x00\x00\x00"
_EOF = b"\xfe\x00\x00\x02\x00"


def _packet(seq: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "little") + bytes([seq]) + payload


def _lenenc(data: bytes) -> bytes:
    return bytes([len(data)]) + data


def _greeting() -> bytes:
    salt = b"abcdefghijklmnopqrst"
    return (
        b"\x0a8.0.0-fake\x00"
        + struct.pack("<I", 1)
        + salt[:8]
        + b"\x00"
        + struct.pack("<HBHH", _CAPABILITIES & 0xFFFF, 33, 2, _CAPABILITIES >> 16)
        + bytes([21])
        + b"\x00" * 10
        + salt[8:]
        + b"\x00mysql_native_password\x00"
    )


def _column(name: bytes) -> bytes:
    head = b"".join(_lenenc(part) for part in (b"def", b"", b"", b"", name, name))
    return head + b"\x0c" + struct.pack("<HIBHB", 33, 255, 253, 0, 0) + b"\x00\x00"


def _serve_one(conn: Any) -> None:
    with conn, conn.makefile("rb") as stream:

        def read() -> bytes | None:
            head = stream.read(4)
            if len(head) < 4:
                return None
            return bytes(stream.read(int.from_bytes(head[:3], "little")))

        try:
            conn.sendall(_packet(0, _greeting()))
            read()  # the login: anyone may
            conn.sendall(_packet(2, _OK))
            while (command := read()) is not None and command[:1] != b"\x01":
                query = command[1:].decode()
                if command[:1] == b"\x03" and query.upper().startswith("SELECT"):
                    value = query.split(None, 1)[1].encode()
                    conn.sendall(
                        _packet(1, b"\x01")
                        + _packet(2, _column(b"v"))
                        + _packet(3, _EOF)
                        + _packet(4, _lenenc(value))
                        + _packet(5, _EOF)
                    )
                else:
                    conn.sendall(_packet(1, _OK))  # COM_PING and the rest
        except OSError:
            pass


@pytest.fixture
def net(no_fd_leak: None) -> Iterator[Network]:
    with Network(seed=4) as network:
        yield network


def test_query_ping_timeout_and_refusal(net: Network) -> None:
    with serving(net, "db", 3306, _serve_one), compat.patch(net, clock=True):
        conn = pymysql.connect(
            host="db", user="u", password="p", database="x",
            connect_timeout=5, read_timeout=5,
        )  # fmt: skip
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT 'hello'")
                rows = cursor.fetchall()
            conn.ping(reconnect=False)
            cut = net.partition("local", "db")
            started, wall = time.monotonic(), time.perf_counter()
            with (
                pytest.raises(pymysql.err.OperationalError, match="timed out"),
                conn.cursor() as cursor,
            ):
                cursor.execute("SELECT 1")
            waited = time.monotonic() - started
            assert time.perf_counter() - wall < 5
            net.remove_rule(cut)  # the server's end hears of the close
        finally:
            conn.close()
        with pytest.raises(pymysql.err.OperationalError, match="refused"):
            pymysql.connect(host="localhost", connect_timeout=5)
    assert rows == (("'hello'",),)
    assert waited == pytest.approx(5)
