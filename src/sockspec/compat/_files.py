"""``makefile()`` for compat sockets, built like the standard library's.

The raw layer is the standard library's own :class:`socket.SocketIO`: it
needs only ``recv_into``, ``send``, ``fileno`` and the ``_io_refs`` /
``_decref_socketios`` reference counting that keeps a socket open while a
file made from it is.  Buffering and text decoding are :mod:`io`'s, chosen
from the mode as ``socket.socket.makefile`` chooses them.
"""

from __future__ import annotations

import io
import socket as _s
from typing import IO, TYPE_CHECKING, Any

from ..api.constants import SOCK_STREAM

if TYPE_CHECKING:
    from ._socket import socket

__all__ = ["make_file", "send_file"]


def make_file(
    sock: socket,
    mode: str,
    buffering: int | None,
    encoding: str | None,
    errors: str | None,
    newline: str | None,
) -> Any:
    """Return a file object over *sock* (see ``socket.socket.makefile``)."""
    if not set(mode) <= {"r", "w", "b"}:
        raise ValueError(f"invalid mode {mode!r} (only r, w, b allowed)")
    reading = "r" in mode
    writing = "w" in mode
    if not (reading or writing):
        reading = True
    binary = "b" in mode
    raw = _s.SocketIO(sock, ("r" if reading else "") + ("w" if writing else ""))  # type: ignore[arg-type]
    sock._io_refs += 1
    if buffering is None:
        buffering = -1
    if buffering < 0:
        buffering = io.DEFAULT_BUFFER_SIZE
    if buffering == 0:
        if not binary:
            raise ValueError("unbuffered streams must be binary")
        return raw
    buffer: io.BufferedIOBase
    if reading and writing:
        buffer = io.BufferedRWPair(raw, raw, buffering)
    elif reading:
        buffer = io.BufferedReader(raw, buffering)
    else:
        buffer = io.BufferedWriter(raw, buffering)
    if binary:
        return buffer
    text = io.TextIOWrapper(buffer, encoding, errors, newline)  # type: ignore[type-var]
    text.mode = mode  # type: ignore[misc]
    return text


def send_file(sock: socket, file: IO[bytes], offset: int, count: int | None) -> int:
    """``socket.sendfile`` through *sock*'s ``sendall``; return the count."""
    if "b" not in getattr(file, "mode", "b"):
        raise ValueError("file should be opened in binary mode")
    if sock.sockspec_socket.type is not SOCK_STREAM:
        raise ValueError("only SOCK_STREAM type sockets are supported")
    if count is not None and (not isinstance(count, int) or count <= 0):
        raise ValueError(f"count must be a positive integer (got {count!r})")
    if sock.gettimeout() == 0.0:
        raise ValueError("non-blocking sockets are not supported")
    if offset:
        file.seek(offset)
    total = 0
    while count is None or total < count:
        want = 65536 if count is None else min(65536, count - total)
        chunk = file.read(want)
        if not chunk:
            break
        sock.sendall(chunk)
        total += len(chunk)
    if total and hasattr(file, "seek"):
        file.seek(offset + total)
    return total
