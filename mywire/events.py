"""Events: what a connection reports (``next_event``) and what its methods send.

Each event is the decoded form of one packet (or one protocol step) and is a frozen,
slotted, keyword-only dataclass with plain field types: ``bytes`` for byte strings,
``str`` only where the protocol defines the text as ASCII or UTF-8 (names, messages).
Events compare by value, so ``parse(build(e)) == e`` is the round-trip property the
tests check for every packet.  Do not subclass these: dispatch is by exact type.

Server ERR packets are events (:class:`Err`), not exceptions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeAlias

__all__ = [
    "ColumnDefinition",
    "StmtPrepared",
    "StatisticsResult",
    "Rows",
    "ResultsetStart",
    "ResultsetEnd",
    "LocalInfileRequest",
    "FieldListResult",
    "NEED_DATA",
    "AuthMoreData",
    "AuthNextFactor",
    "AuthResponse",
    "AuthSwitchRequest",
    "ChangeUser",
    "Command",
    "ConnectionClosed",
    "Debug",
    "Eof",
    "Err",
    "Event",
    "FieldList",
    "Handshake",
    "HandshakeResponse",
    "InitDb",
    "NeedData",
    "Ok",
    "Packet",
    "Ping",
    "ProcessKill",
    "Progress",
    "Query",
    "QueryAttribute",
    "Quit",
    "ResetConnection",
    "SSLRequest",
    "SessionState",
    "SetOption",
    "Statistics",
    "StmtClose",
    "StmtExecute",
    "StmtFetch",
    "StmtPrepare",
    "StmtReset",
    "StmtSendLongData",
    "UnknownCommand",
]


class NeedData:
    """Sentinel type: ``next_event`` needs more bytes.  ``type(NEED_DATA) is NeedData``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = NeedData()


@dataclass(frozen=True, slots=True, kw_only=True)
class Handshake:
    """HandshakeV10, the server's greeting (first packet, sequence id 0)."""

    protocol_version: int = 10
    #: Server version as sent; MariaDB prefixes ``5.5.5-`` for old clients.
    server_version: str
    connection_id: int
    #: The scramble (challenge): part 1 (8 bytes) + part 2, without the trailing NUL.
    auth_plugin_data: bytes
    #: All 64 bits: lower and upper 16 bits of the classic flags, plus MariaDB's extended
    #: capabilities shifted left by 32 when the server clears CLIENT_MYSQL (bit 0).
    capabilities: int
    character_set: int
    status_flags: int
    #: None when the server does not set CLIENT_PLUGIN_AUTH.
    auth_plugin_name: str | None = None

    @property
    def is_mariadb(self) -> bool:
        return "MariaDB" in self.server_version

    @property
    def version(self) -> str:
        """The version without MariaDB's ``5.5.5-`` replication-compatibility prefix."""
        v = self.server_version
        return v[6:] if v.startswith("5.5.5-") and "MariaDB" in v else v


@dataclass(frozen=True, slots=True, kw_only=True)
class SSLRequest:
    """The truncated HandshakeResponse a client sends before starting TLS."""

    capabilities: int
    max_packet_size: int
    character_set: int


@dataclass(frozen=True, slots=True, kw_only=True)
class HandshakeResponse:
    """HandshakeResponse41, the client's answer to the greeting."""

    capabilities: int
    max_packet_size: int
    character_set: int
    username: str
    auth_response: bytes = b""
    database: str | None = None
    auth_plugin_name: str | None = None
    #: Connection attributes (CLIENT_CONNECT_ATTRS), in order.
    attributes: tuple[tuple[str, str], ...] = ()
    #: zstd level (CLIENT_ZSTD_COMPRESSION_ALGORITHM), else None.
    zstd_level: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthSwitchRequest:
    """0xFE from the server during authentication: use another plugin with new data."""

    plugin_name: str
    #: Plugin data (the new scramble), without the trailing NUL the servers append.
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthMoreData:
    """0x01 from the server during authentication: plugin-specific data."""

    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthNextFactor:
    """0x02 from a MySQL 8.0.27+ server: multi-factor authentication's next factor."""

    plugin_name: str
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthResponse:
    """What a client sends after the HandshakeResponse: AuthSwitchResponse or plugin data."""

    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionState:
    """One session-state change from an OK packet (CLIENT_SESSION_TRACK).

    ``kind`` is a SESSION_TRACK_* value; ``data`` the raw entry.  ``name`` and ``value``
    hold the decoded parts where the type defines them (system variable name and value;
    schema name; ``"1"``/``"0"`` for state change; the GTID string; the characteristics or
    the 8-character transaction state), else None.
    """

    kind: int
    data: bytes
    name: str | None = None
    value: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Ok:
    """OK packet (header 0x00, or 0xFE when it ends a resultset under DEPRECATE_EOF)."""

    affected_rows: int = 0
    last_insert_id: int = 0
    status_flags: int = 0
    warnings: int = 0
    info: str = ""
    session_state: tuple[SessionState, ...] = ()
    #: True when the header byte was 0xFE (the EOF-replacing OK).
    eof: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Err:
    """ERR packet.  ``sqlstate`` is "" when the server sent none (before 4.1 capabilities)."""

    code: int
    message: str
    sqlstate: str = "HY000"


@dataclass(frozen=True, slots=True, kw_only=True)
class Eof:
    """Classic EOF packet (0xFE, fewer than 9 bytes), without CLIENT_DEPRECATE_EOF."""

    warnings: int = 0
    status_flags: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Progress:
    """MariaDB progress report (an ERR-shaped packet with code 0xFFFF)."""

    stage: int
    max_stage: int
    progress: int  # thousandths of a percent: 0..100000
    state: str


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryAttribute:
    """A named query attribute (CLIENT_QUERY_ATTRIBUTES), sent as a string or NULL.

    Typed attribute values (ints, dates...) come with the binary-protocol encoder."""

    name: str
    value: str | None


# ---------------------------------------------------------------- commands (client → server)


@dataclass(frozen=True, slots=True, kw_only=True)
class Quit:
    """COM_QUIT."""


@dataclass(frozen=True, slots=True, kw_only=True)
class InitDb:
    """COM_INIT_DB: make ``schema`` the default database."""

    schema: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Query:
    """COM_QUERY.  ``attributes`` is None unless CLIENT_QUERY_ATTRIBUTES is negotiated."""

    sql: str
    attributes: tuple[QueryAttribute, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldList:
    """COM_FIELD_LIST (deprecated): column definitions of ``table``."""

    table: str
    wildcard: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Statistics:
    """COM_STATISTICS: the server answers with a human-readable string."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessKill:
    """COM_PROCESS_KILL."""

    connection_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Debug:
    """COM_DEBUG."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Ping:
    """COM_PING."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeUser:
    """COM_CHANGE_USER."""

    username: str
    auth_response: bytes = b""
    database: str = ""
    character_set: int | None = None
    auth_plugin_name: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ResetConnection:
    """COM_RESET_CONNECTION."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SetOption:
    """COM_SET_OPTION (MYSQL_OPTION_MULTI_STATEMENTS_ON = 0 / _OFF = 1)."""

    option: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StmtPrepare:
    """COM_STMT_PREPARE."""

    sql: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StmtExecute:
    """COM_STMT_EXECUTE.  ``params`` is the parameter block after the iteration count
    (NULL bitmap, new-params-bound flag, types, values), kept as bytes here: its layout
    depends on the statement's parameter count, which the resultset layer knows."""

    statement_id: int
    flags: int = 0
    iteration_count: int = 1
    params: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class StmtSendLongData:
    """COM_STMT_SEND_LONG_DATA."""

    statement_id: int
    param_id: int
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class StmtClose:
    """COM_STMT_CLOSE (the server sends no response)."""

    statement_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StmtReset:
    """COM_STMT_RESET."""

    statement_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StmtFetch:
    """COM_STMT_FETCH."""

    statement_id: int
    num_rows: int


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownCommand:
    """A command byte mywire does not decode (replication, COM_BINLOG_DUMP, ...)."""

    command: int
    data: bytes


Command: TypeAlias = (
    Quit
    | InitDb
    | Query
    | FieldList
    | Statistics
    | ProcessKill
    | Debug
    | Ping
    | ChangeUser
    | ResetConnection
    | SetOption
    | StmtPrepare
    | StmtExecute
    | StmtSendLongData
    | StmtClose
    | StmtReset
    | StmtFetch
    | UnknownCommand
)


# ------------------------------------------------------------ responses (server → client)


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnDefinition:
    """ColumnDefinition41: one column of a resultset (or a prepared statement's parameter).

    ``character_set`` is the full 16-bit collation id (63 = binary).  ``type`` is the
    MYSQL_TYPE_* byte, ``flags`` the column flags (UNSIGNED, BINARY, ...), ``decimals``
    the fractional digits (0x1f: not fixed).  ``extended_type`` and ``extended_format``
    carry MariaDB's extended metadata (MARIADB_CLIENT_EXTENDED_METADATA: e.g. type
    ``"json"``, ``"uuid"``, ``"inet6"``, format ``"json"``) when the server sent them.
    ``default_value`` only appears in COM_FIELD_LIST answers.
    """

    catalog: str = "def"
    schema: str = ""
    table: str = ""
    org_table: str = ""
    name: str
    org_name: str = ""
    character_set: int
    column_length: int = 0
    type: int
    flags: int = 0
    decimals: int = 0
    extended_type: str | None = None
    extended_format: str | None = None
    default_value: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ResultsetStart:
    """A resultset's header: its column count and the column definitions.

    ``binary`` says the rows use the binary protocol (COM_STMT_EXECUTE).
    """

    columns: tuple[ColumnDefinition, ...]
    binary: bool = False


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Rows:
    """A run of row payloads of the current resultset, in order, not yet decoded.

    ``data`` is a buffer holding the rows (usually the received bytes themselves: no
    copy, no Python object per row) and ``spans`` a flat sequence of uint64
    ``[offset0, length0, offset1, ...]`` locating each row payload in it; the row
    decoders take both as they are.  ``rows`` materialises the payloads (for tests and
    small results).  Two chunks are equal when they hold the same rows.
    """

    data: bytes = field(repr=False)
    spans: Sequence[int] = field(repr=False)

    @classmethod
    def of(cls, rows: Iterable[bytes]) -> Rows:
        """A chunk holding ``rows`` (copied into one buffer)."""
        rows = list(rows)
        spans: list[int] = []
        pos = 0
        for r in rows:
            spans += (pos, len(r))
            pos += len(r)
        return cls(data=b"".join(rows), spans=spans)

    @property
    def count(self) -> int:
        return len(self.spans) // 2

    @property
    def rows(self) -> tuple[bytes, ...]:
        data, spans = self.data, self.spans
        return tuple(data[spans[i] : spans[i] + spans[i + 1]] for i in range(0, len(spans), 2))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Rows):
            return NotImplemented
        return self.rows == other.rows

    def __repr__(self) -> str:
        return f"Rows(count={self.count})"


@dataclass(frozen=True, slots=True, kw_only=True)
class ResultsetEnd:
    """The resultset's terminator: a classic EOF, or the 0xFE OK under DEPRECATE_EOF.

    ``more_results`` (SERVER_MORE_RESULTS_EXISTS) says another result follows.
    """

    status_flags: int = 0
    warnings: int = 0
    ok: Ok | None = None

    @property
    def more_results(self) -> bool:
        return bool(self.status_flags & 0x0008)


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalInfileRequest:
    """0xFB from the server: it asks for the contents of ``filename`` (LOAD DATA LOCAL)."""

    filename: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StmtPrepared:
    """The COM_STMT_PREPARE response: the statement id, its parameters and its columns."""

    statement_id: int
    params: tuple[ColumnDefinition, ...] = ()
    columns: tuple[ColumnDefinition, ...] = ()
    warnings: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class StatisticsResult:
    """The COM_STATISTICS response: one human-readable line."""

    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldListResult:
    """The COM_FIELD_LIST response: column definitions with their default values."""

    columns: tuple[ColumnDefinition, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Packet:
    """A payload the state machine does not decode itself (resultset parts until the
    resultset layer lands, LOCAL INFILE data), with its sequence id."""

    seq: int
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionClosed:
    """The peer closed the stream (``receive_data(b"")``) at a packet boundary."""


Event: TypeAlias = (
    Handshake
    | SSLRequest
    | HandshakeResponse
    | AuthSwitchRequest
    | AuthMoreData
    | AuthNextFactor
    | AuthResponse
    | Ok
    | Err
    | Eof
    | Progress
    | Command
    | ResultsetStart
    | Rows
    | ResultsetEnd
    | LocalInfileRequest
    | StmtPrepared
    | StatisticsResult
    | FieldListResult
    | Packet
    | ConnectionClosed
)
