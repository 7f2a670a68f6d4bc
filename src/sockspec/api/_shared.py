"""Small pieces the facade, the TLS layer and the backends share.

Each exists once so that every backend words an address, and resumes a
timed-out ``send_file``, the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from .errors import Timeout

#: Bytes read from the file per send by :func:`send_file_by_chunks`.
FILE_CHUNK = 64 * 1024


def format_address(host: str | None, port: int | None) -> str:
    """Return ``host:port``, ``[v6]:port``, a path, ``@name`` or ``*``.

    ``None`` as *host* is the unbound ``*``; ``None`` as *port* is an
    ``AF_UNIX`` path, shown as is, or a Linux abstract name (leading NUL),
    shown with ``@`` as ``ss`` and ``netstat`` do.
    """
    if host is None:
        return "*"
    if port is None:
        return "@" + host[1:] if host.startswith("\0") else host
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def send_file_by_chunks(
    send: Callable[[bytes], int], file: BinaryIO, chunk: int = FILE_CHUNK
) -> int:
    """Send *file* from its position to its end through *send*; return the count.

    For a backend without a zero-copy path.  Whatever stops it, the file is
    left right after the last byte that went out, so a caller can resume
    without losing or repeating any: a non-blocking send that takes part of
    the file returns the count, one that takes nothing raises as *send* did,
    and a :class:`~sockspec.Timeout` counts the earlier chunks too in
    ``bytes_sent``.
    """
    total = 0
    while True:
        data = file.read(chunk)
        if not data:
            return total
        try:
            n = send(data)
        except BlockingIOError:
            file.seek(-len(data), 1)
            if total:
                return total
            raise
        except Timeout as exc:
            file.seek(exc.bytes_sent - len(data), 1)
            exc.bytes_sent += total
            raise
        total += n
        if n < len(data):
            file.seek(n - len(data), 1)
            return total
