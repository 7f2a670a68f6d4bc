"""Implementations layered over another one (TLS, replayed bytes).

A :class:`Layer` wraps the :class:`~sockspec.api.backend.SocketImpl` a
socket had and forwards what it does not change.  The facade swaps layers
in and out (:meth:`~sockspec.Socket.start_tls`,
:meth:`~sockspec.Socket.unwrap`); a :class:`~sockspec.Poller` always
registers the innermost implementation (:func:`base_impl`), which stays the
same underneath, and asks :meth:`Layer.buffered` about data the layer holds
that the backend's selector cannot see.
"""

from __future__ import annotations

from typing import BinaryIO

from .backend import Address, SocketImpl
from .constants import Option, Shutdown

__all__ = ["Layer", "Prefixed", "base_impl"]


class Layer(SocketImpl):
    """An implementation that wraps another one (:attr:`raw`).

    Everything not overridden goes straight to :attr:`raw`, so a layer only
    states what it changes.
    """

    __slots__ = ("raw",)

    def __init__(self, raw: SocketImpl) -> None:
        #: The implementation underneath.
        self.raw = raw

    def buffered(self) -> bool:
        """Whether a receive would return data this layer already holds."""
        return False

    def connect(self, host: str, port: int | None, timeout: float | None) -> None:
        self.raw.connect(host, port, timeout)

    def bind(self, host: str | None, port: int | None) -> None:
        self.raw.bind(host, port)

    def listen(self, backlog: int) -> None:
        self.raw.listen(backlog)

    def accept(self) -> SocketImpl:
        return self.raw.accept()

    def shutdown(self, how: Shutdown) -> None:
        self.raw.shutdown(how)

    def close(self) -> None:
        self.raw.close()

    def receive(self, maxlen: int) -> bytes:
        return self.raw.receive(maxlen)

    def send(self, data: bytes | memoryview) -> int:
        return self.raw.send(data)

    def receive_from(self, maxlen: int) -> tuple[bytes, str | None, int | None]:
        data = self.receive(maxlen)
        host, port = self.remote_address()
        return data, host, port

    def send_to(self, data: bytes | memoryview, host: str, port: int | None) -> int:
        return self.send(data)

    def send_file(self, file: BinaryIO) -> int:
        return self.raw.send_file(file)

    def set_option(self, option: Option, value: object) -> None:
        self.raw.set_option(option, value)

    def get_option(self, option: Option) -> object:
        return self.raw.get_option(option)

    def set_timeout(self, timeout: float | None) -> None:
        self.raw.set_timeout(timeout)

    def is_connected(self) -> bool:
        return self.raw.is_connected()

    def is_readable(self) -> bool:
        return self.buffered() or self.raw.is_readable()

    def is_writable(self) -> bool:
        return self.raw.is_writable()

    def local_address(self) -> Address:
        return self.raw.local_address()

    def remote_address(self) -> Address:
        return self.raw.remote_address()


def base_impl(impl: SocketImpl) -> SocketImpl:
    """Return the backend's own implementation under any layers."""
    while isinstance(impl, Layer):
        impl = impl.raw
    return impl


class Prefixed(Layer):
    """Plaintext that arrived with the peer's ``close_notify``, served first.

    :meth:`TLSImpl.unwrap` may have received bytes the peer sent in the
    clear after ending TLS; they cannot go back into the backend.
    """

    __slots__ = ("_data",)

    def __init__(self, raw: SocketImpl, data: bytes) -> None:
        super().__init__(raw)
        self._data = data

    def buffered(self) -> bool:
        return bool(self._data)

    def receive(self, maxlen: int) -> bytes:
        data = self._data
        if not data:
            return self.raw.receive(maxlen)
        self._data = data[maxlen:]
        return data[:maxlen]
