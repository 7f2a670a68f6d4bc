"""The value returned by :meth:`Socket.receive_from`."""

from __future__ import annotations

import dataclasses

__all__ = ["Datagram"]


@dataclasses.dataclass(frozen=True, slots=True)
class Datagram:
    """One received block of data and who sent it.

    ``port`` is ``None`` for ``AF_UNIX`` sockets, where ``address`` is the
    sender's path (``None`` when the sender is unbound).
    """

    #: The bytes received (truncated to ``maxlen``).
    data: bytes
    #: The sender's IP address (or path for ``AF_UNIX``).
    address: str | None
    #: The sender's port (``None`` for ``AF_UNIX``).
    port: int | None

    @property
    def ip_address(self) -> str | None:
        """The spec's name for :attr:`address`."""
        return self.address
