"""Every state transition of both connection roles, in one table.

Theory of operation
-------------------
A connection is in exactly one state.  Each thing that happens to it is an *input*: an
event received from the peer (its class name, e.g. ``"Ok"``) or something sent
(``"send:Query"``).  Where the next state depends on the event's data, the input name
carries it (``"Ok+more"`` for an OK with SERVER_MORE_RESULTS_EXISTS).  The table maps
``(role, state) -> {input: next state}``; an input missing from the table is a protocol
error, and the connection moves to ERROR (for received input) or refuses the call (for
sent input).  This file knows nothing else: no bytes, no roles' methods.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["CLIENT", "SERVER", "TRANSITIONS", "State"]

CLIENT = "client"
SERVER = "server"


class State(Enum):
    # connection phase
    CONNECTING = "connecting"  # client: waiting for the greeting; server: must send it
    GREETED = "greeted"  # greeting exchanged; the client's first packet is next
    TLS = "tls"  # SSLRequest done: the caller switches to TLS, then the response follows
    AUTH = "authenticating"
    # command phase
    READY = "ready"
    RESPONSE = "response"  # a command was sent; its response is next
    ROWS = "rows"  # inside a resultset
    INFILE = "infile"  # the server asked for a LOCAL INFILE; the client sends data
    PREPARE = "prepare"
    STATISTICS = "statistics"
    FIELD_LIST = "field_list"
    FETCH = "fetch"
    CLOSED = "closed"
    ERROR = "error"


S = State

_COMMANDS_WITH_RESPONSE = (
    "InitDb",
    "Query",
    "Ping",
    "ProcessKill",
    "Debug",
    "ResetConnection",
    "SetOption",
    "StmtExecute",
    "StmtReset",
    "UnknownCommand",
)

_CLIENT_READY: dict[str, State] = {f"send:{c}": S.RESPONSE for c in _COMMANDS_WITH_RESPONSE}
_CLIENT_READY.update(
    {
        "send:StmtPrepare": S.PREPARE,
        "send:Statistics": S.STATISTICS,
        "send:FieldList": S.FIELD_LIST,
        "send:StmtFetch": S.FETCH,
        "send:ChangeUser": S.AUTH,
        # No response at all for these two.
        "send:StmtClose": S.READY,
        "send:StmtSendLongData": S.READY,
        "send:Quit": S.CLOSED,
        # MySQL 8 sends an ERR with sequence id 0 on an idle connection before closing it
        # (ER_CLIENT_INTERACTION_TIMEOUT); go-sql-driver#1393.
        "Err": S.CLOSED,
        "ConnectionClosed": S.CLOSED,
    }
)

_SERVER_READY: dict[str, State] = {c: S.RESPONSE for c in _COMMANDS_WITH_RESPONSE}
_SERVER_READY.update(
    {
        "StmtPrepare": S.RESPONSE,
        "Statistics": S.RESPONSE,
        "FieldList": S.RESPONSE,
        "StmtFetch": S.RESPONSE,
        "ChangeUser": S.AUTH,
        "StmtClose": S.READY,
        "StmtSendLongData": S.READY,
        "Quit": S.CLOSED,
        "ConnectionClosed": S.CLOSED,
        "send:Err": S.CLOSED,  # e.g. an idle timeout, as MySQL 8 does
    }
)

_RESULT_END = {"Ok": S.READY, "Ok+more": S.RESPONSE, "Err": S.READY}

TRANSITIONS: dict[tuple[str, State], dict[str, State]] = {
    # ------------------------------------------------------------------ client role
    (CLIENT, S.CONNECTING): {"Handshake": S.GREETED, "Err": S.CLOSED},
    (CLIENT, S.GREETED): {"send:SSLRequest": S.TLS, "send:HandshakeResponse": S.AUTH},
    (CLIENT, S.TLS): {"send:HandshakeResponse": S.AUTH},
    (CLIENT, S.AUTH): {
        "AuthSwitchRequest": S.AUTH,
        "AuthMoreData": S.AUTH,
        "AuthNextFactor": S.AUTH,
        "send:AuthResponse": S.AUTH,
        "Ok": S.READY,
        "Err": S.CLOSED,
    },
    (CLIENT, S.READY): _CLIENT_READY,
    (CLIENT, S.RESPONSE): {
        **_RESULT_END,
        "ResultsetStart": S.ROWS,
        "LocalInfileRequest": S.INFILE,
        "Progress": S.RESPONSE,
    },
    (CLIENT, S.ROWS): {
        "Rows": S.ROWS,
        "ResultsetEnd": S.READY,
        "ResultsetEnd+more": S.RESPONSE,
        "Err": S.READY,
        "Progress": S.ROWS,
    },
    (CLIENT, S.INFILE): {"send:InfileData": S.RESPONSE},
    (CLIENT, S.PREPARE): {"StmtPrepared": S.READY, "Err": S.READY},
    (CLIENT, S.STATISTICS): {"StatisticsResult": S.READY, "Err": S.READY},
    (CLIENT, S.FIELD_LIST): {"FieldListResult": S.READY, "Err": S.READY},
    (CLIENT, S.FETCH): {"Rows": S.FETCH, "ResultsetEnd": S.READY, "Err": S.READY},
    (CLIENT, S.CLOSED): {"ConnectionClosed": S.CLOSED},
    # ------------------------------------------------------------------ server role
    (SERVER, S.CONNECTING): {"send:Handshake": S.GREETED, "send:Err": S.CLOSED},
    (SERVER, S.GREETED): {"SSLRequest": S.TLS, "HandshakeResponse": S.AUTH},
    (SERVER, S.TLS): {"HandshakeResponse": S.AUTH},
    (SERVER, S.AUTH): {
        "send:AuthSwitchRequest": S.AUTH,
        "send:AuthMoreData": S.AUTH,
        "AuthResponse": S.AUTH,
        "send:Ok": S.READY,
        "send:Err": S.CLOSED,
    },
    (SERVER, S.READY): _SERVER_READY,
    (SERVER, S.RESPONSE): {
        "send:Ok": S.READY,
        "send:Ok+more": S.RESPONSE,
        "send:Err": S.READY,
        "send:Resultset": S.READY,
        "send:Resultset+more": S.RESPONSE,
        "send:StmtPrepared": S.READY,
        "send:StatisticsResult": S.READY,
        "send:Progress": S.RESPONSE,
    },
    (SERVER, S.CLOSED): {"ConnectionClosed": S.CLOSED},
}

# The peer may close the connection in any state; what that means (a lost connection in
# the middle of a response, a client giving up during authentication) is the adapter's
# to report.  Only ERROR stays terminal.
for (_role, _st), _table in TRANSITIONS.items():
    _table.setdefault("ConnectionClosed", S.CLOSED)
