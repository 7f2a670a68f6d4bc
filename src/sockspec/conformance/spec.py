"""The Sockets/A text, split into lines that checks can claim.

Theory of operation
-------------------
The proposal's text ships with the package (``sockets-a.txt``, a verbatim
copy of the CommonJS wiki page).  :func:`spec_lines` cuts it into
:class:`SpecLine` objects.  A line is a *heading* (the wiki's title block and
section titles: short, no bullet, no sentence punctuation) or a *content*
line; every content line must be proved by at least one conformance check.

Bullet lines such as ``- connect( host, port [, timeout] )`` open an *entry*
(here ``connect``); the lines under it (description, parameters) belong to
that entry until the next entry or heading.  Some texts occur twice
(``- host: IP address or hostname`` under both ``connect`` and ``sendTo``),
so a check names a line by a *claim*: a prefix of its text, preceded by
``"entry / "`` when the prefix alone is ambiguous.  Claims are resolved when
a check is registered, so a typo fails at import time, not in a report.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from importlib import resources

__all__ = ["SpecLine", "python_api", "resolve_claim", "spec_lines", "spec_text"]

_SIGNATURE = re.compile(
    r"^(?:var \w+ = new (?P<ctor>\w+)\(.*\)"
    r"|(?P<call>[A-Za-z]+(?:/[A-Za-z]+)?)\s*\(.*\)"
    r"|(?P<name>[A-Za-z]+))$"
)


@dataclasses.dataclass(frozen=True)
class SpecLine:
    """One line of the Sockets/A text."""

    #: 1-based line number in ``sockets-a.txt``.
    number: int
    #: The line as written, without the leading ``"- "`` bullet.
    text: str
    #: The entry the line belongs to (``"connect"``, ``"Socket"``...), if any.
    entry: str | None
    #: Whether the line opens its entry (``connect( host, port [, timeout] )``).
    is_signature: bool
    #: Whether the line is wiki chrome (title, section name), not a statement.
    is_heading: bool

    @property
    def key(self) -> str:
        """The line's unambiguous name: ``"entry / text"`` or the text."""
        if self.entry is None or self.is_signature:
            return self.text
        return f"{self.entry} / {self.text}"


def spec_text() -> str:
    """Return the Sockets/A proposal exactly as shipped with the package."""
    return (
        resources.files("sockspec.conformance")
        .joinpath("sockets-a.txt")
        .read_text(encoding="utf-8")
    )


def _is_heading(raw: str) -> bool:
    # The wiki's title block and section names are short and unpunctuated;
    # every statement of the proposal is a bullet or a full sentence.
    return (
        not raw.startswith("- ")
        and len(raw.split()) <= 6
        and not raw.endswith((".", ":"))
    )


@functools.cache
def spec_lines() -> tuple[SpecLine, ...]:
    """Return every non-blank line of the proposal, in order."""
    out: list[SpecLine] = []
    entry: str | None = None
    for number, raw in enumerate(spec_text().splitlines(), start=1):
        raw = raw.strip()
        if not raw:
            continue
        if _is_heading(raw):
            entry = None
            out.append(SpecLine(number, raw, None, False, True))
            continue
        text = raw[2:] if raw.startswith("- ") else raw
        match = _SIGNATURE.match(text) if raw.startswith("- ") else None
        if match:
            entry = match.group("ctor") or match.group("call") or match.group("name")
        out.append(SpecLine(number, text, entry, match is not None, False))
    return tuple(out)


def resolve_claim(claim: str) -> SpecLine:
    """Return the one content line a check's *claim* names.

    A claim is a prefix of the line's text, optionally preceded by
    ``"entry / "``.  Raises ``ValueError`` naming the candidates when the
    claim matches no line or more than one.
    """
    entry: str | None = None
    prefix = claim
    if " / " in claim:
        head, _, rest = claim.partition(" / ")
        if any(line.entry == head for line in spec_lines()):
            entry, prefix = head, rest
    found = [
        line
        for line in spec_lines()
        if not line.is_heading
        and line.text.startswith(prefix)
        and (entry is None or line.entry == entry)
    ]
    exact = [line for line in found if line.text == prefix]
    if len(exact) == 1:
        return exact[0]
    if len(found) == 1:
        return found[0]
    if not found:
        raise ValueError(f"claim {claim!r} matches no line of the Sockets/A text")
    keys = "; ".join(line.key for line in found)
    raise ValueError(f"claim {claim!r} is ambiguous: it matches {keys}")


# The Python spelling of each entry, and of the lines whose meaning the
# Python API pins down more precisely than the proposal does ("X bytes").
_ENTRY_API: dict[str | None, str] = {
    "Socket": "`Socket(family=AF_INET, type=SOCK_STREAM, *, backend=None, "
    "timeout=None)`",
    "connect": "`Socket.connect(host, port=None, timeout=None)`",
    "accept": "`Socket.accept() -> Socket`",
    "bind": "`Socket.bind(host=None, port=None)`",
    "listen": "`Socket.listen(backlog=None)`",
    "shutdown": "`Socket.shutdown(what=SHUT_RDWR)`",
    "close": "`Socket.close()`, `with Socket(...)`",
    "receive/read": "`Socket.receive(maxlen=None)`, alias `read`",
    "send/write": "`Socket.send(data) -> int`, alias `write`",
    "receiveFrom": "`Socket.receive_from(maxlen=None) -> Datagram`, "
    "alias `receiveFrom`",
    "sendTo": "`Socket.send_to(host, port, data) -> int`, alias `sendTo`",
    "sendFile": "`Socket.send_file(file) -> int`, alias `sendFile`",
    "setOption": "`Socket.set_option(option, value)`, alias `setOption`",
    "getOption": "`Socket.get_option(option)`, alias `getOption`",
    "isConnected": "`Socket.is_connected`, alias `isConnected`",
    "isWritable": "`Socket.is_writable`, alias `isWritable`",
    "isReadable": "`Socket.is_readable`, alias `isReadable`",
    "localAddress": "`Socket.local_address`, alias `localAddress`",
    "localPort": "`Socket.local_port`, alias `localPort`",
    "remoteAddress": "`Socket.remote_address`, alias `remoteAddress`",
    "remotePort": "`Socket.remote_port`, alias `remotePort`",
    "type": "`Socket.type`",
}

_LINE_API: dict[str, str] = {
    'The "socket" module supports': "the `sockspec` package",
    'For the purpose of this documentation, "soc"': "`sockspec.Socket`; "
    "spec names are aliases of the PEP 8 names",
    'The "socket" module must export': "`sockspec.__all__`",
    "Socket / The Socket class is used": "`Socket(...)` is a TCP socket by "
    "default; `timeout=0` makes it non-blocking (`WouldBlock`)",
    "Socket / family = ": "`family=`: `AF_INET` (default), `AF_INET6`, `AF_UNIX`",
    "Socket / type = ": "`type=`: `SOCK_STREAM` (default), `SOCK_DGRAM`; "
    "others are a `ValueError`",
    "connect / Initiate a connection": "raises `ConnectionRefused`, `Timeout`, "
    "`HostNotFound`...",
    "connect / host: ": "`host`: IP literal or name; the path for `AF_UNIX`",
    "connect / port: ": '`port`: `int` or service name (`"http"`); `None` '
    "for `AF_UNIX`",
    "connect / timeout: ": "`timeout=` in seconds (float); `None`: the "
    "socket's `timeout`",
    "accept / Accept a connection": "returns a connected `Socket` of the same "
    "backend and timeout",
    "bind / When a new socket": "raises `AddressInUse`, `AddressNotAvailable`...",
    "bind / host: ": "`host=None`: any address (`0.0.0.0` / `::`)",
    "bind / port: ": "`port=None`: an ephemeral port (read `local_port`)",
    "listen / Listen for incoming": "`listen()` then `accept()`; "
    "`UnsupportedOperation` on `SOCK_DGRAM`",
    "shutdown / what: ": "`SHUT_RD`, `SHUT_WR`, `SHUT_RDWR`",
    "close / Close the socket": "idempotent; wakes other threads with `SocketClosed`",
    "receive/read / Receive a block": 'stream: up to `maxlen` bytes, `b""` at '
    "end of stream; datagram: one datagram",
    "receive/read / maxlen: ": "`maxlen=None` reads up to 65536 bytes",
    "send/write / Send a block": "sends all of `data` unless non-blocking; "
    "`Timeout.bytes_sent` on timeout",
    "send/write / data: ": "`data`: bytes-like; `str` is a `TypeError`",
    "receiveFrom / Receive all data": "`Datagram(data, address, port)`, "
    "`.ip_address` alias of `.address`",
    "receiveFrom / maxlen: ": "`maxlen=None` reads up to 65536 bytes; longer "
    "datagrams are truncated",
    "sendTo / host: ": "`host`: IP literal or name; the path for `AF_UNIX`",
    "sendTo / port: ": "`port`: `int` or service name; `None` for `AF_UNIX`",
    "sendTo / data: ": "`data`: bytes-like",
    "sendFile / Sends a complete": "from the file's current position to its "
    "end; zero-copy where the backend can",
    "sendFile / file: ": "`file`: a binary file object",
    "setOption / Set socket option": "`SO_REUSEADDR`, `SO_REUSEPORT`, "
    "`SO_KEEPALIVE`, `SO_BROADCAST`, `SO_RCVBUF`, `SO_SNDBUF`, `SO_LINGER`, "
    "`TCP_NODELAY`, `IPV6_V6ONLY`",
    "type / Socket type": "`SOCK_STREAM` or `SOCK_DGRAM`; also `Socket.family`",
}


@functools.cache
def _line_api() -> dict[int, str]:
    return {resolve_claim(claim).number: api for claim, api in _LINE_API.items()}


def python_api(line: SpecLine) -> str:
    """Return the Python API that implements *line* (Markdown)."""
    specific = _line_api().get(line.number)
    if specific is not None:
        return specific
    return _ENTRY_API.get(line.entry, "")


#: How Go nettest cases map onto per-call timeouts in seconds.
NETTEST_NOTES: dict[str, str] = {
    "ReadTimeout / WriteTimeout": (
        "Go has a read deadline and a write deadline; sockspec has one "
        "timeout for both. The checks prove that a receive timing out leaves "
        "sending working and a send timing out leaves receiving working."
    ),
    "PastTimeout": (
        "A deadline in the past has no duration equivalent; timeout=0 "
        "(non-blocking) stands in for it: calls fail at once with WouldBlock, "
        "lose no data, and the socket stays usable."
    ),
    "PresentTimeout": (
        "Go moves the deadline to 'now' while a Read waits in another "
        "goroutine, which wakes it. A duration is read when a call starts, "
        "so changing timeout cannot affect a call already waiting: that part "
        "has no meaning here. Kept: a very short timeout fires promptly, "
        "again and again, without losing data; close() is what wakes a "
        "waiting call (CloseTimeout)."
    ),
    "FutureTimeout": (
        "Go sets one deadline for a run of calls; sockspec's timeout "
        "restarts with every call, so 'the deadline passes between calls' "
        "has no meaning. Kept: a call that completes before its timeout "
        "returns normally, and the next call gets the full timeout again."
    ),
    "CloseTimeout": "Kept as is: close() wakes receive, send, accept and "
    "receive_from blocked in other threads, with SocketClosed.",
}
