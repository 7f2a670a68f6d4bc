"""The example echo server and client, run the way their docstrings say."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """One line of *proc*'s stdout, or fail after *timeout* seconds."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, f"no output within {timeout}s"
    return proc.stdout.readline()


@pytest.mark.parametrize("backend", ["selectors", "stdlib"])
def test_echo_server_serves_many_clients_at_once(backend: str) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(
        [
            sys.executable,
            str(EXAMPLES / "echo_server.py"),
            "--port",
            "0",
            "--backend",
            backend,
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = read_line(server, 20)
        assert line.startswith("listening on 127.0.0.1:"), line
        port = line.rsplit(":", 1)[1].strip()
        client = subprocess.run(
            [
                sys.executable,
                str(EXAMPLES / "echo_client.py"),
                "--port",
                port,
                "--connections",
                "300",
                "--messages",
                "5",
                "--size",
                "100",
                "--backend",
                backend,
                "--timeout",
                "30",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert client.returncode == 0, client.stderr
        assert "1500 round trips on 300 connections" in client.stdout
        assert "every echo matched" in client.stdout
        server.send_signal(signal.SIGTERM)
        out, _ = server.communicate(timeout=20)
        assert server.returncode == 0
        assert "served 300 connections" in out
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
        if server.stdout is not None:
            server.stdout.close()


def test_echo_client_reports_an_unreachable_server() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "echo_client.py"),
            "--port",
            str(port),
            "--connections",
            "1",
            "--timeout",
            "10",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert client.returncode == 2
    assert "cannot reach" in client.stderr


def test_echo_server_applies_backpressure_and_loses_nothing() -> None:
    sys.path.insert(0, str(EXAMPLES))
    try:
        from echo_server import EchoServer
    finally:
        sys.path.remove(str(EXAMPLES))
    import threading

    import sockspec

    with EchoServer(port=0, max_buffer=64 << 10) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            host, port = server.address
            with sockspec.Socket(backend="selectors", timeout=10) as sock:
                # A small receive buffer (it also stops autotuning), so the
                # kernel cannot absorb the whole payload on our side.
                sock.set_option(sockspec.SO_RCVBUF, 65536)
                sock.connect(host, port)
                payload = os.urandom(16 << 20)
                # Send everything before reading anything: the server must
                # stop reading rather than buffer megabytes, and lose nothing.
                writer = threading.Thread(target=sock.send, args=(payload,))
                writer.start()
                buffered = 0
                for _ in range(500):  # bounded: up to 5 s for the stall
                    time.sleep(0.01)
                    buffered = sum(len(b) for b in list(server.pending.values()))
                    if buffered:
                        break
                time.sleep(0.3)  # had it kept reading, the buffer would grow
                buffered = sum(len(b) for b in list(server.pending.values()))
                assert 0 < buffered <= (64 << 10) + 65536, buffered
                received = bytearray()
                while len(received) < len(payload):
                    chunk = sock.receive(1 << 20)
                    assert chunk, "the server closed early"
                    received += chunk
                writer.join(10)
                assert not writer.is_alive()
                assert bytes(received) == payload
        finally:
            server.stop()
            thread.join(10)
        assert not thread.is_alive()
