"""A two-thread one-byte ping-pong that the tests profile in both threads."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import sockspec
from sockspec.backends.memory import Network


def connected_pair(
    backend: Any, timeout: float = 30
) -> tuple[sockspec.Socket, sockspec.Socket]:
    """A connected TCP pair on *backend* over loopback: ``(client, server)``."""
    with sockspec.Socket(backend=backend, timeout=timeout) as listener:
        listener.bind("127.0.0.1")
        listener.listen()
        client = sockspec.Socket(backend=backend, timeout=timeout)
        client.connect("127.0.0.1", listener.local_port)
        return client, listener.accept()


def profiled_ping_pong(
    network: Network,
    trips: int,
    profile: Callable[[Any, str, Any], object],
    counting: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext,
) -> None:
    """*trips* round trips to warm up, then *trips* under ``sys.setprofile``.

    Over a :func:`connected_pair` on *network*, this thread sends one byte
    and reads the echo, which an ``echo`` thread sends back; the profile
    runs in both threads during the second pass, which *counting* (a
    context manager factory: reset counters, stop the collector)
    surrounds.  The echo thread's start and end are not round trips, so
    they are not profiled.  The pair and *network* are closed at the end.
    """
    client, server = connected_pair(network)

    def echo(count: bool) -> None:
        if count:
            sys.setprofile(profile)
        try:
            for _ in range(trips):
                server.send(server.receive(1))
        finally:
            sys.setprofile(None)

    def run(count: bool) -> None:
        thread = threading.Thread(target=echo, args=(count,), name="echo")
        thread.start()
        if count:
            sys.setprofile(profile)
        try:
            for _ in range(trips):
                client.send(b"x")
                assert client.receive(1) == b"x"
        finally:
            sys.setprofile(None)
            thread.join(30)
        assert not thread.is_alive()

    try:
        run(False)
        with counting():
            run(True)
    finally:
        client.close()
        server.close()
        network.close()
