"""Behaviour the OS backends promise beyond the conformance suite."""

from __future__ import annotations

import os
import tempfile
import threading
from typing import Any

import pytest

import sockspec

OS_BACKENDS = ["stdlib", "selectors"]


def _pair(backend: str) -> tuple[sockspec.Socket, sockspec.Socket]:
    with sockspec.Socket(backend=backend, timeout=5) as listener:
        listener.bind("127.0.0.1")
        listener.listen()
        client = sockspec.Socket(backend=backend, timeout=5)
        client.connect("127.0.0.1", listener.local_port)
        return client, listener.accept()


@pytest.mark.skipif(not hasattr(os, "sendfile"), reason="no os.sendfile here")
@pytest.mark.parametrize("backend", OS_BACKENDS)
def test_send_file_takes_the_zero_copy_path(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = os.sendfile

    def counting(*args: Any, **kwargs: Any) -> int:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(os, "sendfile", counting)
    data = os.urandom(256 * 1024)
    client, server = _pair(backend)
    received = bytearray()
    with client, server, tempfile.TemporaryFile() as file:
        file.write(data)
        file.seek(1000)
        result: list[int] = []
        sender = threading.Thread(target=lambda: result.append(client.send_file(file)))
        sender.start()
        while len(received) < len(data) - 1000:
            chunk = server.receive()
            assert chunk, "end of stream before the whole file arrived"
            received += chunk
        sender.join(5)
        assert result == [len(data) - 1000]
        assert file.tell() == len(data)
    assert bytes(received) == data[1000:]
    assert calls, "send_file did not use os.sendfile"
