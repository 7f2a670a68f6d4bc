"""Helpers shared by the compat tests."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def running(server: Any) -> Iterator[Any]:
    """Run a :mod:`socketserver` server in a thread for the block's duration."""
    # shutdown() waits up to one poll interval: short on the wall clock; on
    # the memory network each wake-up costs a scheduler turn, so fewer.
    facade = getattr(server.socket, "sockspec_socket", None)
    interval = 0.5 if facade is not None and facade.backend == "memory" else 0.02
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": interval}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()
