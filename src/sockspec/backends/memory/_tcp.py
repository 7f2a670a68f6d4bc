"""The state of a memory stream connection, as an explicit table.

Theory of operation
-------------------

A stream socket of the memory network (TCP, and UNIX streams, which use
the same machine) is in exactly one :class:`TcpState`.  What moves it is a
:class:`TcpEvent`: the application listens or connects, the handshake
completes, a FIN or a reset arrives.  :data:`TRANSITIONS` lists every
allowed ``(state, event) -> next state``; :func:`next_state` looks one up
and raises :class:`TcpStateError` for a pair the table does not have, so a
protocol bug fails loudly instead of leaving a socket in a state nobody
designed.  The module has no I/O, no lock and no clock: the unit tests
drive it directly (``tests/test_memory_tcp_state.py``).

The states are Linux's (``include/net/tcp_states.h``) where the memory
network needs the distinction, merged where it does not: there is no
SYN_RECV (a connection is queued for ``accept()`` already established, as
Linux does once the handshake's last ACK arrives), FIN_WAIT1/FIN_WAIT2 are
one state (there are no ACKs to wait for), and the end of a connection
after both FINs is CLOSING or LAST_ACK depending on which side closed
first: the side whose FIN went first leaves a TIME_WAIT entry behind when
it is closed (:attr:`TcpState.active_close`).

What the state does not hold, on purpose, lives beside it on the socket,
because each can change without the connection changing state:

* ``rd_shut`` / ``wr_shut``: Linux's ``sk_shutdown`` bits.  ``shutdown()``
  sets them on sockets without a connection too (UNIX sockets, and TCP
  sockets that then report ``ENOTCONN``), and SHUT_RD sends nothing.  A
  TCP connect keeps them; only the connect() that reports a failed
  attempt (DISCONNECT, Linux's ``tcp_disconnect``) clears them.
* ``user_shut_wr``: the application called ``shutdown(SHUT_WR)``;
  ``is_writable`` reports it whatever the connection did since.
* ``error``: the pending error (``sk_err``), consumed by the next call
  that reports it; datagram sockets have one too (ICMP port unreachable).
* ``eof``: a FIN arrived (Linux ``SOCK_DONE``).  Reads end there even
  after a reset replaced the FIN-received state (a reset in CLOSE_WAIT).
* ``told``: what ``connect()`` has reported to the application
  (:class:`Told`, Linux's ``socket->state``: ``SS_CONNECTING`` while a
  non-blocking connect is unconfirmed), which lags the connection state.
* ``closed``: the application closed the socket; the connection carries
  on (a FIN still to be answered, a TIME_WAIT entry), as an orphaned
  socket does on Linux.
"""

from __future__ import annotations

import enum

__all__ = [
    "TRANSITIONS",
    "TcpEvent",
    "TcpState",
    "TcpStateError",
    "Told",
    "next_state",
]


class TcpState(enum.Enum):
    """The state of a stream socket's connection.

    Each member carries what the code asks about it, so a check reads as
    one attribute (cheap on the data path) instead of a set of states.
    A member's value is a tuple: its name first (unique, so no two states
    are aliases), its netstat label, and the flags its attributes derive
    from.
    """

    #: No connection: new, bound, or an attempt given up (Linux TCP_CLOSE).
    CLOSED = ("CLOSED", "NEW", False, False, False, False)
    #: Accepting connections.
    LISTEN = ("LISTEN", "LISTEN", False, False, False, False)
    #: A connect() whose handshake is under way.
    SYN_SENT = ("SYN_SENT", "SYN_SENT", False, False, False, False)
    #: Connected; no FIN either way.
    ESTABLISHED = ("ESTABLISHED", "ESTABLISHED", True, False, False, False)
    #: Our FIN is sent, the peer's has not arrived (FIN_WAIT1/2).
    FIN_WAIT = ("FIN_WAIT", "FIN_WAIT", True, True, False, False)
    #: The peer's FIN arrived, ours is not sent.
    CLOSE_WAIT = ("CLOSE_WAIT", "CLOSE_WAIT", True, False, True, False)
    #: Both FINs, ours first: closing this socket leaves TIME_WAIT.
    CLOSING = ("CLOSING", "CLOSING", True, True, True, False)
    #: Both FINs, the peer's first (shown as CLOSING, as before the table).
    LAST_ACK = ("LAST_ACK", "CLOSING", True, True, True, False)
    #: The connection was reset.
    RESET = ("RESET", "RESET", True, False, False, True)
    #: A connect() failed (refused, or the listener went away) and no
    #: connect() has reported it yet; reporting it makes the socket CLOSED.
    REFUSED = ("REFUSED", "CLOSED", False, False, False, True)

    def __init__(
        self,
        name: str,
        label: str,
        connected: bool,
        fin_sent: bool,
        fin_received: bool,
        dead: bool,
    ) -> None:
        #: What netstat shows (``NEW`` is shown as ``BOUND`` once bound).
        self.label = label
        #: A connection was made (established, closing or reset).
        self.connected = connected
        #: Our FIN is sent.
        self.fin_sent = fin_sent
        #: The peer's FIN arrived.
        self.fin_received = fin_received
        #: Reset or refused: the connection is gone.
        self.dead = dead
        #: Connected and not reset: data can still flow one way or both.
        self.alive = connected and not dead
        #: Never connected, or no longer trying (Linux TCP_CLOSE before or
        #: after a failed attempt).
        self.idle = name in ("CLOSED", "REFUSED")
        #: Linux TCP_CLOSE after a connection: reset, or both FINs exchanged.
        self.finished = dead or (fin_sent and fin_received)
        #: Our FIN went first: the socket leaves TIME_WAIT when closed.
        self.active_close = fin_sent and name != "LAST_ACK"

    def __repr__(self) -> str:
        return f"TcpState.{self.name}"

    # Members are singletons compared by identity: the identity hash (in C)
    # agrees with ==, where Enum's own hashes the name in Python.
    __hash__ = object.__hash__


class TcpEvent(enum.Enum):
    """What can happen to a stream connection."""

    LISTEN = "listen() (again: a new backlog)"
    STOP = "shutdown(SHUT_RD) of a listener"
    CONNECT = "connect() sends a SYN"
    SYN_ACK = "the handshake completes at the connecting end"
    ACCEPTED = "a listener made this socket, the accepting end"
    GIVE_UP = "the connect is abandoned (timeout, close, shutdown)"
    REFUSE = "the connect is refused (RST, no listener, listener gone)"
    DISCONNECT = "connect() reported the failed attempt (Linux tcp_disconnect)"
    SEND_FIN = "this end sends its FIN (shutdown(SHUT_WR) or close)"
    RECV_FIN = "the peer's FIN arrives"
    RESET = "the connection is reset (RST arrives, Reset rule, data after close)"

    __hash__ = object.__hash__  # see TcpState


class TcpStateError(RuntimeError):
    """An event that the state machine does not allow in the current state.

    Raised only by a bug in the memory backend: every caller checks what
    it may do first.
    """

    def __init__(self, state: TcpState, event: TcpEvent) -> None:
        super().__init__(f"{event.name} ({event.value}) is not allowed in {state.name}")
        self.state = state
        self.event = event


_S, _E = TcpState, TcpEvent

#: Every allowed transition.
TRANSITIONS: dict[tuple[TcpState, TcpEvent], TcpState] = {
    (_S.CLOSED, _E.LISTEN): _S.LISTEN,
    (_S.LISTEN, _E.LISTEN): _S.LISTEN,
    (_S.LISTEN, _E.STOP): _S.CLOSED,
    (_S.CLOSED, _E.CONNECT): _S.SYN_SENT,
    (_S.SYN_SENT, _E.SYN_ACK): _S.ESTABLISHED,
    (_S.CLOSED, _E.ACCEPTED): _S.ESTABLISHED,
    (_S.SYN_SENT, _E.GIVE_UP): _S.CLOSED,
    (_S.SYN_SENT, _E.REFUSE): _S.REFUSED,
    # The connect() that reports a refusal, or a reset before it confirmed
    # the connection, makes the socket new again; only then may it retry
    # or listen (until then Linux's socket->state is SS_CONNECTING).
    (_S.REFUSED, _E.DISCONNECT): _S.CLOSED,
    (_S.RESET, _E.DISCONNECT): _S.CLOSED,
    (_S.ESTABLISHED, _E.SEND_FIN): _S.FIN_WAIT,
    (_S.CLOSE_WAIT, _E.SEND_FIN): _S.LAST_ACK,
    (_S.ESTABLISHED, _E.RECV_FIN): _S.CLOSE_WAIT,
    (_S.FIN_WAIT, _E.RECV_FIN): _S.CLOSING,
    (_S.ESTABLISHED, _E.RESET): _S.RESET,
    (_S.FIN_WAIT, _E.RESET): _S.RESET,
    (_S.CLOSE_WAIT, _E.RESET): _S.RESET,
    (_S.CLOSING, _E.RESET): _S.RESET,
    (_S.LAST_ACK, _E.RESET): _S.RESET,
}


def next_state(state: TcpState, event: TcpEvent) -> TcpState:
    """The state *event* moves a connection in *state* to.

    :raises TcpStateError: the table has no such transition.
    """
    try:
        return TRANSITIONS[state, event]
    except KeyError:
        raise TcpStateError(state, event) from None


class Told(enum.Enum):
    """What connect() (or accept()) has told the application so far.

    Linux keeps it apart from the connection (``socket->state`` beside
    ``sk->sk_state``): a non-blocking connect is reported as connected
    only when the application asks again, and a connection reset later
    still counts as once connected.
    """

    #: Nothing yet (or the attempt failed and was reported).
    UNCONNECTED = enum.auto()
    #: connect() said EINPROGRESS (or timed out): the next call confirms.
    PENDING = enum.auto()
    #: connect() or accept() reported the connection.
    CONNECTED = enum.auto()
