"""mywire._state: the transition table, swept state by state and input by input.

In the manner of h2's ``test_state_machines.py``: for every role and every state, every
input the table knows (and some it does not) is fed to the connection's ``_move``.  An
input the table lists for that state moves to the listed state; any other raises
ProtocolError, and a *received* input leaves the connection in State.ERROR while a *sent*
one is refused with the state unchanged (the caller may still do something else).
"""

from __future__ import annotations

from collections import deque
from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mywire import ProtocolError, events
from mywire._state import CLIENT, SERVER, TRANSITIONS, State
from mywire.connection import ClientConnection, ServerConnection

ROLES = (CLIENT, SERVER)
KNOWN_INPUTS = sorted({inp for table in TRANSITIONS.values() for inp in table})
# Names the table never uses: typos of real ones, other events, empty and odd strings.
UNKNOWN_INPUTS = [
    "",
    "send:",
    "Bogus",
    "send:Bogus",
    "ok",
    "send:ok",
    "Ok+less",
    "NeedData",
    "send:ConnectionClosed",
    "send:Rows",
    "Packet",
]
ALL_INPUTS = KNOWN_INPUTS + UNKNOWN_INPUTS
CASES = [(role, state, inp) for role in ROLES for state in State for inp in ALL_INPUTS]


def connection(role: str, state: State) -> ClientConnection | ServerConnection:
    conn: ClientConnection | ServerConnection
    conn = ClientConnection(user="u") if role == CLIENT else ServerConnection()
    conn.state = state
    return conn


def check_move(role: str, state: State, inp: str) -> None:
    conn = connection(role, state)
    received = not inp.startswith("send:")
    table = TRANSITIONS.get((role, state), {})
    if inp in table:
        conn._move(inp, received=received)
        assert conn.state is table[inp]
        return
    with pytest.raises(ProtocolError) as info:
        conn._move(inp, received=received)
    assert info.value.offset == 0
    assert conn.state is (State.ERROR if received else state)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("state", list(State), ids=lambda s: s.value)
def test_sweep_every_input(role: str, state: State) -> None:
    for inp in ALL_INPUTS:
        check_move(role, state, inp)


@given(st.sampled_from(CASES))
def test_sampled_moves(case: tuple[str, State, str]) -> None:
    check_move(*case)


@given(
    role=st.sampled_from(ROLES),
    state=st.sampled_from(list(State)),
    inp=st.text(max_size=12) | st.text(max_size=12).map(lambda t: "send:" + t),
)
def test_arbitrary_input_names(role: str, state: State, inp: str) -> None:
    check_move(role, state, inp)


def test_error_and_closed_states() -> None:
    for role in ROLES:
        # Nothing leaves ERROR; a closed connection only sees the peer's EOF.
        assert (role, State.ERROR) not in TRANSITIONS
        assert TRANSITIONS[(role, State.CLOSED)] == {"ConnectionClosed": State.CLOSED}
    assert all(State.ERROR not in table.values() for table in TRANSITIONS.values())


def reachable(role: str, start: State = State.CONNECTING) -> set[State]:
    seen = {start}
    todo = deque([start])
    while todo:
        for nxt in TRANSITIONS.get((role, todo.popleft()), {}).values():
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def states_of(role: str) -> set[State]:
    out: set[State] = set()
    for (r, state), table in TRANSITIONS.items():
        if r == role:
            out.add(state)
            out.update(table.values())
    return out


@pytest.mark.parametrize("role", ROLES)
def test_every_state_of_a_role_is_reachable_from_connecting(role: str) -> None:
    assert reachable(role) == states_of(role)


def test_every_state_is_reachable_from_connecting() -> None:
    # ERROR is entered on a protocol error, never through the table.
    assert reachable(CLIENT) | reachable(SERVER) | {State.ERROR} == set(State)
    # The client role uses every state.
    assert reachable(CLIENT) | {State.ERROR} == set(State)


@given(role=st.sampled_from(ROLES), data=st.data())
def test_closed_is_reachable_from_every_state(role: str, data: st.DataObject) -> None:
    state = data.draw(st.sampled_from(sorted(states_of(role), key=lambda s: s.value)))
    assert State.CLOSED in reachable(role, state)


def test_input_names_are_event_names() -> None:
    names = set(events.__all__)
    for (role, _state), table in TRANSITIONS.items():
        for inp in table:
            base = inp.removeprefix("send:").removesuffix("+more")
            if base in ("InfileData", "Resultset"):  # methods, not event classes
                continue
            assert base in names, (role, inp)


def test_every_command_has_a_transition_on_both_sides() -> None:
    commands = {t.__name__ for t in get_args(events.Command)}
    client_ready = TRANSITIONS[(CLIENT, State.READY)]
    server_ready = TRANSITIONS[(SERVER, State.READY)]
    assert {f"send:{c}" for c in commands} <= set(client_ready)
    assert commands <= set(server_ready)
    # Both sides agree on where a command leads when it has no response or closes.
    for c in ("StmtClose", "StmtSendLongData", "Quit", "ChangeUser"):
        assert client_ready[f"send:{c}"] is server_ready[c]


@pytest.mark.parametrize("received", [True, False])
def test_error_message_names_the_state_it_happened_in(received: bool) -> None:
    # An OK before the greeting (received) / a query before the greeting (sent): the
    # message must name CONNECTING, where it happened, not the ERROR state it led to.
    conn = ClientConnection(user="u")
    with pytest.raises(ProtocolError) as info:
        conn._move("Ok" if received else "send:Query", received=received)
    assert "connecting" in str(info.value)
    if received:
        assert "Handshake" in info.value.expected
