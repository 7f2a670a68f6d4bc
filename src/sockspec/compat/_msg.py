"""``sendmsg()``, ``recvmsg()`` and ``recvmsg_into()`` for compat sockets.

Built on the compat socket's own ``send``/``sendto``/``recv``/``recvfrom``,
so they run on every backend: the buffers of a ``sendmsg`` go out as one
message (one datagram, or bytes in order on a stream), and ``recvmsg``
reads one.  Ancillary data is not modelled: sending some raises
``OSError(EOPNOTSUPP)`` naming sockspec, and none is ever received (the
list is empty, ``MSG_CTRUNC`` never set).

A datagram longer than the buffer is cut, as ``recvfrom`` cuts it, and
``recvmsg`` says so with ``MSG_TRUNC`` in its flags, as Linux does: one
byte more than asked for is read to tell.
"""

from __future__ import annotations

import socket as _s
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..api.constants import SOCK_STREAM
from ._errors import not_supported

if TYPE_CHECKING:
    from ._socket import socket

__all__ = ["receive_message", "receive_message_into", "send_message"]

_MSG_TRUNC = getattr(_s, "MSG_TRUNC", 0x20)


def send_message(
    sock: socket,
    buffers: Iterable[Any],
    ancdata: Iterable[Any] = (),
    flags: int = 0,
    address: Any = None,
) -> int:
    """``sendmsg()``: the buffers as one message; return the bytes sent."""
    views = []
    for buffer in buffers:
        try:
            views.append(memoryview(buffer).cast("B"))
        except TypeError:
            raise TypeError(
                f"a bytes-like object is required, not '{type(buffer).__name__}'"
            ) from None
    if list(ancdata):
        raise not_supported("sendmsg() ancillary data")
    if flags:
        raise not_supported(f"sendmsg() flags ({flags:#x})")
    data = b"".join(views)
    if address is None:
        return sock.send(data)
    return sock.sendto(data, address)


def _check_ancillary(ancbufsize: int) -> None:
    if ancbufsize.__class__ is not int:
        ancbufsize = int(ancbufsize)
    if ancbufsize < 0:
        raise ValueError("invalid ancillary data buffer length")


def receive_message(
    sock: socket, bufsize: int, ancbufsize: int = 0, flags: int = 0
) -> tuple[bytes, list[Any], int, Any]:
    """``recvmsg()``: ``(data, [], msg_flags, address)``."""
    if bufsize.__class__ is not int:
        bufsize = int(bufsize)
    if bufsize < 0:
        raise ValueError("negative buffer size in recvmsg()")
    _check_ancillary(ancbufsize)
    if flags:
        raise not_supported(f"recvmsg() flags ({flags:#x})")
    if sock.sockspec_socket.type is SOCK_STREAM:
        return (sock.recv(bufsize) if bufsize else b""), [], 0, None
    data, address = sock.recvfrom(bufsize + 1)
    if len(data) > bufsize:
        return data[:bufsize], [], _MSG_TRUNC, address
    return data, [], 0, address


def receive_message_into(
    sock: socket, buffers: Iterable[Any], ancbufsize: int = 0, flags: int = 0
) -> tuple[int, list[Any], int, Any]:
    """``recvmsg_into()``: scatter one message into *buffers*."""
    views = []
    for buffer in buffers:
        try:
            view = memoryview(buffer)
        except TypeError:
            view = None
        if view is None or view.readonly:
            raise TypeError(
                "recvmsg_into() argument 1 must be an iterable of single-segment "
                "read-write buffers"
            )
        views.append(view.cast("B"))
    data, ancdata, msg_flags, address = receive_message(
        sock, sum(len(v) for v in views), ancbufsize, flags
    )
    at = 0
    for view in views:
        if at >= len(data):
            break
        piece = data[at : at + len(view)]
        view[: len(piece)] = piece
        at += len(piece)
    return len(data), ancdata, msg_flags, address
