"""The memory network's stream connection state machine, without a network.

``_tcp`` is a table and a lookup: every test here drives it directly, with
no socket, thread or clock.
"""

from __future__ import annotations

import itertools
import sys

import pytest

from sockspec.backends.memory._tcp import (
    TRANSITIONS,
    TcpEvent,
    TcpState,
    TcpStateError,
    next_state,
)

S, E = TcpState, TcpEvent

#: The table as the protocol reads (written out, not computed from TRANSITIONS).
EXPECTED = {
    (S.CLOSED, E.LISTEN): S.LISTEN,
    (S.LISTEN, E.LISTEN): S.LISTEN,
    (S.LISTEN, E.STOP): S.CLOSED,
    (S.CLOSED, E.CONNECT): S.SYN_SENT,
    (S.SYN_SENT, E.SYN_ACK): S.ESTABLISHED,
    (S.CLOSED, E.ACCEPTED): S.ESTABLISHED,
    (S.SYN_SENT, E.GIVE_UP): S.CLOSED,
    (S.SYN_SENT, E.REFUSE): S.REFUSED,
    (S.REFUSED, E.DISCONNECT): S.CLOSED,
    (S.RESET, E.DISCONNECT): S.CLOSED,
    (S.ESTABLISHED, E.SEND_FIN): S.FIN_WAIT,
    (S.CLOSE_WAIT, E.SEND_FIN): S.LAST_ACK,
    (S.ESTABLISHED, E.RECV_FIN): S.CLOSE_WAIT,
    (S.FIN_WAIT, E.RECV_FIN): S.CLOSING,
    (S.ESTABLISHED, E.RESET): S.RESET,
    (S.FIN_WAIT, E.RESET): S.RESET,
    (S.CLOSE_WAIT, E.RESET): S.RESET,
    (S.CLOSING, E.RESET): S.RESET,
    (S.LAST_ACK, E.RESET): S.RESET,
}


@pytest.mark.parametrize(
    ("state", "event", "after"),
    [(s, e, a) for (s, e), a in EXPECTED.items()],
    ids=[f"{s.name}-{e.name}" for s, e in EXPECTED],
)
def test_each_allowed_transition(
    state: TcpState, event: TcpEvent, after: TcpState
) -> None:
    assert next_state(state, event) is after


def test_the_table_has_exactly_the_expected_transitions() -> None:
    assert TRANSITIONS == EXPECTED


INVALID = [
    (s, e) for s, e in itertools.product(TcpState, TcpEvent) if (s, e) not in EXPECTED
]


@pytest.mark.parametrize(
    ("state", "event"), INVALID, ids=[f"{s.name}-{e.name}" for s, e in INVALID]
)
def test_every_other_pair_is_refused(state: TcpState, event: TcpEvent) -> None:
    with pytest.raises(TcpStateError) as info:
        next_state(state, event)
    assert info.value.state is state
    assert info.value.event is event
    assert state.name in str(info.value)
    assert event.name in str(info.value)


def test_no_two_states_are_aliases() -> None:
    # Two members with one value would silently be one state.
    assert len({s.value for s in TcpState}) == len(TcpState) == 10


def test_a_client_connection_from_connect_to_time_wait() -> None:
    state = S.CLOSED
    for event, name in [
        (E.CONNECT, "SYN_SENT"),
        (E.SYN_ACK, "ESTABLISHED"),
        (E.SEND_FIN, "FIN_WAIT"),
        (E.RECV_FIN, "CLOSING"),
    ]:
        state = next_state(state, event)
        assert state.name == name
    assert state.active_close  # closing it leaves a TIME_WAIT entry
    # Both FINs: Linux TCP_CLOSE, yet what arrived can still be read.
    assert state.finished
    assert state.alive


def test_a_failed_connect_is_reported_before_the_socket_is_new_again() -> None:
    # Linux: until connect() reports the failure (socket->state is still
    # SS_CONNECTING) the socket may neither retry nor listen; reporting
    # it (tcp_disconnect) makes it new.
    for failed in (S.REFUSED, S.RESET):
        for event in (E.CONNECT, E.LISTEN):
            with pytest.raises(TcpStateError):
                next_state(failed, event)
        again = next_state(failed, E.DISCONNECT)
        assert again is S.CLOSED
        assert next_state(again, E.CONNECT) is S.SYN_SENT
        assert next_state(again, E.LISTEN) is S.LISTEN


def test_only_a_failed_connect_is_disconnected() -> None:
    assert {s for (s, e) in TRANSITIONS if e is E.DISCONNECT} == {S.REFUSED, S.RESET}


def test_the_passive_close_leaves_no_time_wait() -> None:
    state = next_state(next_state(S.ESTABLISHED, E.RECV_FIN), E.SEND_FIN)
    assert state is S.LAST_ACK
    assert not state.active_close
    assert state.label == "CLOSING"  # what netstat showed before the table


@pytest.mark.parametrize(
    ("state", "connected", "alive", "idle", "dead", "finished"),
    [
        (S.CLOSED, False, False, True, False, False),
        (S.LISTEN, False, False, False, False, False),
        (S.SYN_SENT, False, False, False, False, False),
        (S.ESTABLISHED, True, True, False, False, False),
        (S.FIN_WAIT, True, True, False, False, False),
        (S.CLOSE_WAIT, True, True, False, False, False),
        (S.CLOSING, True, True, False, False, True),
        (S.LAST_ACK, True, True, False, False, True),
        (S.RESET, True, False, False, True, True),
        (S.REFUSED, False, False, True, True, True),
    ],
)
def test_what_each_state_answers(
    state: TcpState,
    connected: bool,
    alive: bool,
    idle: bool,
    dead: bool,
    finished: bool,
) -> None:
    assert (state.connected, state.alive, state.idle, state.dead, state.finished) == (
        connected,
        alive,
        idle,
        dead,
        finished,
    )


def test_fin_flags_follow_the_fins_exchanged() -> None:
    sent = {s for s in TcpState if s.fin_sent}
    received = {s for s in TcpState if s.fin_received}
    assert sent == {S.FIN_WAIT, S.CLOSING, S.LAST_ACK}
    assert received == {S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK}
    assert {s for s in TcpState if s.active_close} == {S.FIN_WAIT, S.CLOSING}


def test_a_reset_is_allowed_from_every_live_state_and_only_there() -> None:
    live = {s for s in TcpState if s.alive}
    assert {s for (s, e) in TRANSITIONS if e is E.RESET} == live


def test_labels_are_what_netstat_shows() -> None:
    assert {s.label for s in TcpState} == {
        "NEW",
        "LISTEN",
        "SYN_SENT",
        "ESTABLISHED",
        "FIN_WAIT",
        "CLOSE_WAIT",
        "CLOSING",
        "RESET",
        "CLOSED",
    }


def test_a_transition_runs_no_python_code_but_the_lookup() -> None:
    # Enum's own __hash__ is Python (it hashes the name); a connection makes
    # about five transitions, so the table is keyed by identity hashes.
    seen: list[str] = []

    def profile(frame: object, event: str, arg: object) -> None:
        if event == "call":
            seen.append(frame.f_code.co_name)  # type: ignore[attr-defined]

    sys.setprofile(profile)
    try:
        next_state(S.ESTABLISHED, E.SEND_FIN)
    finally:
        sys.setprofile(None)
    assert seen == ["next_state"]
    # ... and members still work as dict keys and compare as before.
    assert {S.CLOSED: 1}[TcpState["CLOSED"]] == 1
