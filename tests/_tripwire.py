"""A backend that fails the test if the facade ever calls it.

Argument validation is the facade's job (see :mod:`sockspec.api.backend`):
a bad argument must be refused before any backend code runs.  Tests that
check such refusals run them once, on this backend, instead of once per real
backend: a case that wrongly reaches a backend raises :class:`ReachedBackend`
here instead of passing because some backend error happened to come out.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import BinaryIO, NoReturn

import sockspec
from sockspec.api.backend import Address, SelectorImpl, SocketImpl
from sockspec.api.constants import Event, Family, Option, Shutdown, SocketType


class ReachedBackend(Exception):
    """The facade passed a call on to the backend."""


def _trip(name: str) -> NoReturn:
    raise ReachedBackend(f"the facade passed {name}() on to the backend")


class TripwireSocket(SocketImpl):
    """Every operation trips; closing, timeouts and state queries do not."""

    __slots__ = ()

    def connect(self, host: str, port: int | None, timeout: float | None) -> None:
        _trip("connect")

    def bind(self, host: str | None, port: int | None) -> None:
        _trip("bind")

    def listen(self, backlog: int) -> None:
        _trip("listen")

    def accept(self) -> SocketImpl:
        _trip("accept")

    def shutdown(self, how: Shutdown) -> None:
        _trip("shutdown")

    def close(self) -> None:
        pass

    def receive(self, maxlen: int) -> bytes:
        _trip("receive")

    def send(self, data: bytes | memoryview) -> int:
        _trip("send")

    def receive_from(self, maxlen: int) -> tuple[bytes, str | None, int | None]:
        _trip("receive_from")

    def send_to(self, data: bytes | memoryview, host: str, port: int | None) -> int:
        _trip("send_to")

    def send_file(self, file: BinaryIO) -> int:
        _trip("send_file")

    def set_option(self, option: Option, value: object) -> None:
        _trip("set_option")

    def get_option(self, option: Option) -> object:
        _trip("get_option")

    def set_timeout(self, timeout: float | None) -> None:
        pass

    def is_connected(self) -> bool:
        return False

    def is_readable(self) -> bool:
        return False

    def is_writable(self) -> bool:
        return False

    def local_address(self) -> Address:
        return (None, None)

    def remote_address(self) -> Address:
        return (None, None)


class TripwireSelector(SelectorImpl):
    """Registration is allowed (the facade validates first); polling trips."""

    __slots__ = ()

    def register(self, sock: SocketImpl, events: Event, token: Hashable) -> None:
        pass

    def modify(self, sock: SocketImpl, events: Event, token: Hashable) -> None:
        pass

    def unregister(self, sock: SocketImpl) -> None:
        pass

    def select(self, timeout: float | None) -> list[tuple[Hashable, Event]]:
        _trip("select")

    def close(self) -> None:
        pass


class Tripwire(sockspec.Backend):
    """Offers every family, type and option, and implements none of them."""

    name = "tripwire"
    capabilities = sockspec.Capabilities()

    def socket(self, family: Family, type: SocketType) -> SocketImpl:
        return TripwireSocket()

    def selector(self) -> SelectorImpl:
        return TripwireSelector()
