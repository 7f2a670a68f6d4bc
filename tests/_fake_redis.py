"""The few Redis commands the fake servers of the compat tests answer.

Shared by the thread-based fake (``tests/compat``) and the asyncio one
(``tests/compat_asyncio``); each reads RESP arrays its own way and asks
:func:`redis_answer` for the reply.
"""

from __future__ import annotations


def redis_answer(store: dict[bytes, bytes], args: list[bytes]) -> bytes:
    """The RESP reply to one command (*args*), with *store* as the database."""
    command = args[0].upper()
    if command == b"PING":
        return b"+PONG\r\n"
    if command == b"SET":
        store[args[1]] = args[2]
        return b"+OK\r\n"
    if command == b"GET":
        value = store.get(args[1])
        if value is None:
            return b"$-1\r\n"
        return b"$%d\r\n%s\r\n" % (len(value), value)
    if command == b"DEL":
        return b":%d\r\n" % int(store.pop(args[1], None) is not None)
    return b"+OK\r\n"  # CLIENT SETINFO and other handshake commands
