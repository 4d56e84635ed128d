"""A passive observer of one MySQL conversation: both directions' bytes in, notes out.

Theory of operation
-------------------
The sans-IO connections take part in a conversation (the client role computes auth
responses, both check what they may send next); an observer only watches, so it is built
here on the same framing (:mod:`mywire.framing`) and packet parsers
(:mod:`mywire.packets`) instead.  The decoder feeds it each direction's reassembled
bytes in capture order (:meth:`Observer.data`), plus the holes (:meth:`Observer.gap`)
and the ends (:meth:`Observer.end`, :meth:`Observer.finish`); each call returns
:class:`Note` items: what was said, by whom, when.

The client's payloads are read one at a time: the login (or an SSLRequest, after which
the rest of the connection is TLS and only counted), authentication data, then commands
(:func:`mywire.packets.command.parse_command`).  Each command that has an answer is
queued; the server's payloads are parsed by a generator per queued command, which knows
what the answer looks like (a resultset, a prepare OK with its definitions, statistics,
a field list, an authentication exchange...).  Server payloads that arrive while nothing
is queued (a capture that put the response before its request) wait until a command
comes, so pipelined and reordered traffic pairs up.  Resultsets go through a
:class:`~mywire.transcode.Transcoder` (JSON), so rows come out in its value mapping.

Capabilities come from the greeting and the login.  A connection captured mid-stream
starts in the *hunt* phase: each client chunk is tested for the start of a command (a
packet header with sequence id 0, a command byte and a body that fits, plain or inside a
compressed frame); the first one that passes starts decoding, with capabilities assumed
(:data:`ASSUMED_CAPABILITIES`) and refined from what the traffic shows: EOF packets or
not after column definitions, query attributes in COM_QUERY, MariaDB's extended
metadata in column definitions.  The hunt is also how decoding recovers: after a gap in
the capture or an error, the observer reports it and hunts for the next command.

Compression (zlib or zstd) starts in both directions after the OK that ends the login
when both sides set it.  Nothing here raises for what the peers sent: an error becomes a
note of kind ``"error"`` (with the mywire exception text) and the hunt starts again.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections import deque
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from ..constants import Capability as C
from ..constants import Command as Cmd
from ..constants import FieldType, MariaDBCapability, ServerStatus
from ..constants import SetOption as SetOpt
from ..errors import MalformedPacket, MywireError, ProtocolError, UnsupportedFeature
from ..events import (
    ChangeUser,
    ColumnDefinition,
    Debug,
    Err,
    FieldList,
    InitDb,
    Ok,
    Ping,
    ProcessKill,
    Progress,
    Query,
    QueryAttribute,
    Quit,
    ResetConnection,
    ResultsetEnd,
    ResultsetStart,
    Rows,
    SetOption,
    SSLRequest,
    Statistics,
    StmtClose,
    StmtExecute,
    StmtFetch,
    StmtPrepare,
    StmtReset,
    StmtSendLongData,
    UnknownCommand,
)
from ..events import Command as CommandEvent
from ..framing import DEFAULT_MAX_PAYLOAD, CompressedPacketReader, PacketReader, Payload
from ..packets import command as pcmd
from ..packets import generic as pgen
from ..packets import handshake as phs
from ..packets import prepared as pprep
from ..packets import resultset as prs
from ..packets._text import dec
from ..transcode import Transcoder
from .sniff import looks_like_greeting, recognise

__all__ = [
    "ASSUMED_CAPABILITIES",
    "C2S",
    "DEFAULT_MAX_ROWS",
    "S2C",
    "Note",
    "Observer",
    "capability_names",
]

C2S: Final = "c2s"
S2C: Final = "s2c"

#: Rows kept per resultset in the notes (the rest are counted): a capture of a bulk
#: export should not become a document of the same size.  None keeps every row.
DEFAULT_MAX_ROWS = 1000

#: What a mid-stream connection is assumed to have negotiated: the 4.1 protocol every
#: server since 2004 speaks.  CLIENT_DEPRECATE_EOF, CLIENT_QUERY_ATTRIBUTES and MariaDB's
#: extended metadata are learned from the traffic; CLIENT_COMPRESS from the framing.
ASSUMED_CAPABILITIES: Final[int] = int(
    C.CLIENT_LONG_PASSWORD
    | C.CLIENT_LONG_FLAG
    | C.CLIENT_PROTOCOL_41
    | C.CLIENT_TRANSACTIONS
    | C.CLIENT_SECURE_CONNECTION
    | C.CLIENT_MULTI_RESULTS
    | C.CLIENT_PS_MULTI_RESULTS
    | C.CLIENT_PLUGIN_AUTH
    | C.CLIENT_SESSION_TRACK
)

# Rows handed to the transcoder per call.
_ROW_BATCH = 256
# Hex shown for bytes nothing decodes (execute parameters of an unknown statement...).
_HEX_LIMIT = 256
_EXT_METADATA = MariaDBCapability.MARIADB_CLIENT_EXTENDED_METADATA.to_u64()

_HUNT, _GREETING, _LOGIN, _COMMAND, _TLS, _CLOSED = (
    "hunt",
    "greeting",
    "login",
    "command",
    "tls",
    "closed",
)

_COMMAND_NAMES: dict[type, str] = {
    Quit: "COM_QUIT",
    InitDb: "COM_INIT_DB",
    Query: "COM_QUERY",
    FieldList: "COM_FIELD_LIST",
    Statistics: "COM_STATISTICS",
    ProcessKill: "COM_PROCESS_KILL",
    Debug: "COM_DEBUG",
    Ping: "COM_PING",
    ChangeUser: "COM_CHANGE_USER",
    ResetConnection: "COM_RESET_CONNECTION",
    SetOption: "COM_SET_OPTION",
    StmtPrepare: "COM_STMT_PREPARE",
    StmtExecute: "COM_STMT_EXECUTE",
    StmtSendLongData: "COM_STMT_SEND_LONG_DATA",
    StmtClose: "COM_STMT_CLOSE",
    StmtReset: "COM_STMT_RESET",
    StmtFetch: "COM_STMT_FETCH",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Note:
    """One thing the observer saw.

    ``direction`` is ``"c2s"`` (client to server), ``"s2c"``, or ``""`` for the
    connection as a whole; ``details`` holds JSON-ready values (see the decoder's
    documentation for each kind).
    """

    direction: str
    ts: float
    kind: str
    details: Mapping[str, Any] = field(default_factory=dict)


def capability_names(caps: int) -> list[str]:
    """The CLIENT_* names of a 64-bit capability value (MariaDB's in the upper half)."""
    names = [f.name for f in C(caps & 0xFFFFFFFF) if f.name]
    names += [f.name for f in MariaDBCapability((caps >> 32) & 0xFFFFFFFF) if f.name]
    return names


def _hex(data: bytes) -> str:
    if len(data) <= _HEX_LIMIT:
        return data.hex()
    return data[:_HEX_LIMIT].hex() + "…"


def _jsonable(value: object) -> object:
    """A parameter value as JSON: the transcoder's rules (DECIMAL and temporal types as
    MySQL's text, binary as base64)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        us = abs(value) // dt.timedelta(microseconds=1)
        sign = "-" if value < dt.timedelta(0) else ""
        secs, us = divmod(us, 1_000_000)
        text = f"{sign}{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"
        return f"{text}.{us:06d}" if us else text
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    return repr(value)


@dataclass(slots=True)
class _Statement:
    sql: str | None
    params: tuple[ColumnDefinition, ...] = ()
    columns: tuple[ColumnDefinition, ...] = ()
    types: tuple[int, ...] | None = None
    long_data: set[int] = field(default_factory=set)


@dataclass(slots=True)
class _Pending:
    """A command whose answer is expected."""

    name: str
    ts: float
    expect: str  # result, prepare, statistics, field_list, fetch, auth, opaque
    binary: bool = False
    cursor: bool = False
    statement: _Statement | None = None
    sql: str | None = None
    statement_id: int | None = None


Received = tuple[float, Payload]
Gen = Generator[None, Received, None]


class Observer:
    """Decodes one MySQL connection passively.

    Args:
        from_start: the connection's start is in the capture, so the server's first
            bytes are its greeting; otherwise decoding starts at the first recognisable
            command.
        max_rows: rows kept per resultset in the notes (None: all).
        max_payload: largest payload accepted (as for :class:`~mywire.framing.PacketReader`).
    """

    def __init__(
        self,
        *,
        from_start: bool,
        max_rows: int | None = DEFAULT_MAX_ROWS,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
    ) -> None:
        self.max_rows = max_rows
        self.max_payload = max_payload
        self.phase = _GREETING if from_start else _HUNT
        #: The negotiated capabilities (assumed ones until a greeting is seen).
        self.capabilities: int = ASSUMED_CAPABILITIES
        #: True until a greeting and a login have shown the real capabilities.
        self.assumed = True
        self._eof_mode: str | None = None  # "classic", "deprecate" or None (unknown)
        self._qattrs: bool | None = None  # CLIENT_QUERY_ATTRIBUTES, None: unknown
        self._server_caps = 0
        self._compression: str | None = None  # "zlib" / "zstd" once switched
        self._readers: dict[str, PacketReader | CompressedPacketReader] = {
            C2S: self._reader(None),
            S2C: self._reader(None),
        }
        self._notes: list[Note] = []
        self._pending: deque[_Pending] = deque()
        self._held: deque[Received] = deque()
        self._gen: Gen | None = None
        self._current: _Pending | None = None
        self._maybe_eof = False  # unknown EOF mode: a trailing EOF may follow
        self._infile = False  # the client is sending a LOCAL INFILE's data
        self._infile_bytes = 0
        self._statements: dict[int, _Statement] = {}
        self._last_statement: _Statement | None = None
        #: Bytes seen per direction after TLS started, skipped while hunting, and
        #: unexpected errors reported.
        self.tls_bytes = {C2S: 0, S2C: 0}
        self.skipped = {C2S: 0, S2C: 0}
        self.errors = 0

    # ================================================================= input
    def data(self, direction: str, ts: float, data: bytes) -> list[Note]:
        """Bytes of ``direction`` (``"c2s"`` or ``"s2c"``) that continue its stream."""
        try:
            self._data(direction, ts, data)
        except MywireError as exc:
            self._error(direction, ts, str(exc), type(exc).__name__)
        except Exception as exc:  # a bug: report it, never stop the whole decode
            self._error(direction, ts, f"internal error: {exc!r}", type(exc).__name__)
        return self._take()

    def gap(self, direction: str, ts: float, size: int, reason: str) -> list[Note]:
        """Bytes of ``direction`` missing from the capture: decoding hunts again."""
        if self.phase == _TLS:
            self.tls_bytes[direction] += size
            return self._take()
        self._note(direction, ts, "gap", {"bytes": size, "reason": reason})
        if self.phase != _CLOSED:
            self._abandon(ts, "a gap in the capture")
            self._hunt()
        return self._take()

    def end(self, direction: str, ts: float, how: str) -> list[Note]:
        """``direction``'s sender closed (``"fin"``) or aborted (``"rst"``)."""
        return self._take()

    def finish(self, ts: float, *, closed: bool = False) -> list[Note]:
        """The capture ended, or (``closed``) the connection did: report what is
        unfinished."""
        try:
            self._finish(ts, "the connection closed" if closed else "the capture ended")
        except MywireError as exc:
            self._error("", ts, str(exc), type(exc).__name__)
        except Exception as exc:
            self._error("", ts, f"internal error: {exc!r}", type(exc).__name__)
        return self._take()

    # ============================================================== plumbing
    def _take(self) -> list[Note]:
        out, self._notes = self._notes, []
        return out

    def _note(self, direction: str, ts: float, kind: str, details: dict[str, Any]) -> None:
        self._notes.append(Note(direction=direction, ts=ts, kind=kind, details=details))

    def _error(self, direction: str, ts: float, message: str, exc_type: str) -> None:
        self.errors += 1
        self._note(direction, ts, "error", {"error": exc_type, "message": message})
        if self.phase not in (_CLOSED, _TLS):
            self._abandon(ts, None)
            self._hunt()

    def _reader(self, algorithm: str | None) -> PacketReader | CompressedPacketReader:
        if algorithm is None:
            return PacketReader(max_payload=self.max_payload, seq=None)
        return CompressedPacketReader(algorithm=algorithm, max_payload=self.max_payload, seq=None)

    def _hunt(self) -> None:
        self.phase = _HUNT
        self._readers = {C2S: self._reader(None), S2C: self._reader(None)}
        self._pending.clear()
        self._held.clear()
        self._gen = None
        self._current = None
        self._infile = False
        self._maybe_eof = False

    def _abandon(self, ts: float, why: str | None) -> None:
        """Report the responses left unfinished or not begun (the hunt or the end drops
        them), unless ``why`` is None."""
        waiting = [self._current] if self._current is not None else []
        waiting += self._pending
        for pending in waiting:
            if why is not None and pending is not None and pending.expect != "opaque":
                self._note(S2C, ts, "incomplete", {"response_to": pending.name, "reason": why})
        if self._gen is not None:
            self._gen.close()
        self._gen = None
        self._current = None
        self._pending.clear()

    # ------------------------------------------------------------------ data
    def _data(self, direction: str, ts: float, data: bytes) -> None:
        phase = self.phase
        if phase == _TLS:
            self.tls_bytes[direction] += len(data)
            return
        if phase == _CLOSED:
            self.skipped[direction] += len(data)
            return
        if phase == _HUNT:
            if not self._hunt_chunk(direction, ts, data):
                self.skipped[direction] += len(data)
                return
        self._readers[direction].feed(data)
        self._drain(direction, ts)

    def _hunt_chunk(self, direction: str, ts: float, data: bytes) -> bool:
        """Whether decoding starts (or goes on) with this chunk."""
        if direction == S2C:
            if looks_like_greeting(data):
                self.phase = _GREETING
                return True
            return False
        how = recognise(data)
        if how is None:
            return False
        if how == "tls":
            self.phase = _TLS
            self._note(
                C2S,
                ts,
                "tls",
                {"note": "TLS records captured mid-stream; the connection is not decoded"},
            )
            self.tls_bytes[C2S] += len(data)
            return False
        algorithm = "zlib" if how == "zlib" else None
        self._compression = algorithm
        if algorithm is not None:
            self.capabilities |= int(C.CLIENT_COMPRESS)
        self._readers = {C2S: self._reader(algorithm), S2C: self._reader(algorithm)}
        self.phase = _COMMAND
        details: dict[str, Any] = {"skipped_bytes": dict(self.skipped)}
        if self.assumed:
            details["assumed_capabilities"] = capability_names(self.capabilities)
        if algorithm is not None:
            details["compression"] = algorithm
        self._note("", ts, "mid_stream", details)
        return True

    def _drain(self, direction: str, ts: float) -> None:
        while self.phase not in (_TLS, _CLOSED, _HUNT):
            reader = self._readers[direction]
            payload = reader.next_payload()
            if payload is None:
                return
            if direction == C2S:
                self._client(ts, payload)
            else:
                self._server(ts, payload)

    # ================================================================ client
    def _client(self, ts: float, p: Payload) -> None:
        phase = self.phase
        if phase == _GREETING:
            raise ProtocolError(
                "the client sent a packet before the server's greeting",
                offset=0,
                expected="the server greeting first",
            )
        if phase == _LOGIN:
            self._login(ts, p)
            return
        # _COMMAND
        if self._infile:
            if p.data:
                self._infile_bytes += len(p.data)
                return
            self._infile = False
            self._note(C2S, ts, "infile_data", {"bytes": self._infile_bytes})
            self._infile_bytes = 0
            return
        current = self._current
        if p.seq != 0 and current is not None and current.expect == "auth":
            self._note(C2S, ts, "auth_data", {"bytes": len(p.data)})
            return
        self._command(ts, p.data)

    def _login(self, ts: float, p: Payload) -> None:
        hello = phs.parse_client_hello(p.data)
        if isinstance(hello, SSLRequest):
            self.capabilities = self._server_caps & hello.capabilities
            self._note(
                C2S,
                ts,
                "ssl_request",
                {"capabilities": capability_names(hello.capabilities)},
            )
            self._note(
                "",
                ts,
                "tls",
                {"note": "the client asked for TLS: the rest of the connection is encrypted"},
            )
            self.phase = _TLS
            for d, reader in self._readers.items():
                if isinstance(reader, PacketReader):
                    self.tls_bytes[d] += len(reader.take_unread())
            return
        caps = self._server_caps & hello.capabilities
        if not hello.capabilities & C.CLIENT_MYSQL:
            caps &= ~int(C.CLIENT_MYSQL)  # what MariaDB clients clear to send extended caps
        self.capabilities = caps
        self.assumed = False
        self._eof_mode = "deprecate" if caps & C.CLIENT_DEPRECATE_EOF else "classic"
        self._qattrs = bool(caps & C.CLIENT_QUERY_ATTRIBUTES)
        details: dict[str, Any] = {
            "user": hello.username,
            "database": hello.database,
            "auth_plugin": hello.auth_plugin_name,
            "auth_response_bytes": len(hello.auth_response),
            "capabilities": capability_names(hello.capabilities),
            "character_set": hello.character_set,
            "max_packet_size": hello.max_packet_size,
        }
        if hello.attributes:
            details["attributes"] = dict(hello.attributes)
        if hello.zstd_level is not None:
            details["zstd_level"] = hello.zstd_level
        self._note(C2S, ts, "login", details)
        self.phase = _COMMAND
        self._queue(_Pending(name="login", ts=ts, expect="auth"))

    def _command(self, ts: float, data: bytes) -> None:
        caps = self.capabilities
        if (
            self._qattrs is None
            and data[:1] == bytes((Cmd.COM_QUERY,))
            and data[1:3] == b"\x00\x01"
        ):
            self._qattrs = True  # an empty attribute block: MySQL 8.0.23+ negotiated it
        if self._qattrs:
            caps |= C.CLIENT_QUERY_ATTRIBUTES
        else:
            caps &= ~int(C.CLIENT_QUERY_ATTRIBUTES)
        try:
            cmd = pcmd.parse_command(data, caps)
        except UnsupportedFeature:
            if not caps & C.CLIENT_QUERY_ATTRIBUTES or data[:1] != bytes((Cmd.COM_QUERY,)):
                raise
            cmd = _query_with_typed_attributes(data)
        name = _COMMAND_NAMES.get(type(cmd))
        details: dict[str, Any] = {}
        if isinstance(cmd, UnknownCommand):
            try:
                name = Cmd(cmd.command).name
            except ValueError:
                name = f"COM_0x{cmd.command:02x}"
            details["bytes"] = len(cmd.data)
        assert name is not None
        pending = self._describe(cmd, name, ts, details)
        self._note(C2S, ts, "command", {"command": name, **details})
        if self._current is not None and self._current.expect == "opaque":
            # A replication stream and such end with the next command.
            if self._gen is not None:
                self._gen.close()
            self._gen = self._current = None
        if pending is not None:
            self._queue(pending)

    def _describe(
        self, cmd: CommandEvent, name: str, ts: float, details: dict[str, Any]
    ) -> _Pending | None:
        """Fill ``details`` with the command's arguments; the answer it expects."""
        p = _Pending(name=name, ts=ts, expect="result")
        if isinstance(cmd, Query):
            details["sql"] = cmd.sql
            if cmd.attributes:
                details["attributes"] = {a.name: a.value for a in cmd.attributes}
        elif isinstance(cmd, InitDb):
            details["schema"] = cmd.schema
        elif isinstance(cmd, FieldList):
            details["table"] = cmd.table
            if cmd.wildcard:
                details["wildcard"] = cmd.wildcard
            p.expect = "field_list"
        elif isinstance(cmd, ProcessKill):
            details["connection_id"] = cmd.connection_id
        elif isinstance(cmd, SetOption):
            try:
                details["option"] = SetOpt(cmd.option).name
            except ValueError:
                details["option"] = cmd.option
        elif isinstance(cmd, Statistics):
            p.expect = "statistics"
        elif isinstance(cmd, ChangeUser):
            details.update(
                user=cmd.username,
                database=cmd.database,
                auth_plugin=cmd.auth_plugin_name,
                auth_response_bytes=len(cmd.auth_response),
            )
            if cmd.attributes:
                details["attributes"] = dict(cmd.attributes)
            p.expect = "auth"
        elif isinstance(cmd, StmtPrepare):
            details["sql"] = cmd.sql
            p.expect = "prepare"
            p.sql = cmd.sql
        elif isinstance(cmd, StmtExecute):
            stmt = self._statement(cmd.statement_id)
            details["statement_id"] = cmd.statement_id
            if stmt is not None and stmt.sql is not None:
                details["sql"] = stmt.sql
            details["flags"] = cmd.flags
            if cmd.iteration_count != 1:
                details["iteration_count"] = cmd.iteration_count
            self._execute_params(cmd, stmt, details)
            p.binary = True
            p.cursor = bool(cmd.flags & 0x07)
            p.statement = stmt
            p.statement_id = cmd.statement_id
        elif isinstance(cmd, StmtSendLongData):
            stmt = self._statement(cmd.statement_id)
            details.update(
                statement_id=cmd.statement_id, param_id=cmd.param_id, bytes=len(cmd.data)
            )
            if stmt is not None:
                stmt.long_data.add(cmd.param_id)
            return None
        elif isinstance(cmd, StmtClose):
            details["statement_id"] = cmd.statement_id
            self._statements.pop(cmd.statement_id, None)
            return None
        elif isinstance(cmd, StmtReset):
            details["statement_id"] = cmd.statement_id
            stmt = self._statement(cmd.statement_id)
            if stmt is not None:
                stmt.long_data.clear()
        elif isinstance(cmd, StmtFetch):
            details.update(statement_id=cmd.statement_id, num_rows=cmd.num_rows)
            p.expect = "fetch"
            p.binary = True
            p.statement = self._statement(cmd.statement_id)
            p.statement_id = cmd.statement_id
        elif isinstance(cmd, Quit):
            return None
        elif isinstance(cmd, UnknownCommand):
            p.expect = "opaque"
        return p

    def _statement(self, statement_id: int) -> _Statement | None:
        if statement_id == 0xFFFFFFFF:  # MariaDB: the statement prepared last
            return self._last_statement
        return self._statements.get(statement_id)

    def _execute_params(
        self, cmd: StmtExecute, stmt: _Statement | None, details: dict[str, Any]
    ) -> None:
        block = cmd.params
        if not block:
            details["params"] = []
            return
        try:
            if self.capabilities & C.CLIENT_QUERY_ATTRIBUTES:
                values, names, types = _decode_attr_params(block, stmt)
                details["params"] = [_jsonable(v) for v in values]
                if any(names):
                    details["param_names"] = names
            elif stmt is None:
                raise UnsupportedFeature("the statement's prepare is not in the capture")
            else:
                values, types = _decode_params(block, stmt)
                details["params"] = [
                    "<long data>" if v is pprep.LONG_DATA else _jsonable(v) for v in values
                ]
            if stmt is not None:
                stmt.types = types if len(types) == len(stmt.params) else stmt.types
                stmt.long_data.clear()
        except (MywireError, ValueError) as exc:
            details["params_hex"] = _hex(block)
            details["params_undecoded"] = str(exc)

    # ================================================================ server
    def _queue(self, pending: _Pending) -> None:
        self._pending.append(pending)
        self._pump()

    def _server(self, ts: float, p: Payload) -> None:
        if self.phase == _GREETING:
            self._greeting(ts, p)
            return
        if self.phase == _LOGIN:
            if p.data[:1] == b"\xff":
                self._err(ts, p.data, "login")
                self.phase = _CLOSED
                return
            raise ProtocolError(
                "the server sent a packet before the client's login",
                offset=0,
                expected="the client's HandshakeResponse",
            )
        self._held.append((ts, p))
        self._pump()

    def _pump(self) -> None:
        """Hand held server payloads to the response parsers, in order."""
        while self._held and self.phase == _COMMAND:
            ts, p = self._held[0]
            if self._gen is None:
                if self._maybe_eof:
                    self._maybe_eof = False
                    if p.data[:1] == b"\xfe" and len(p.data) == 5:
                        # The EOF that ends definitions without CLIENT_DEPRECATE_EOF.
                        self._eof_mode = "classic"
                        self._held.popleft()
                        continue
                    self._eof_mode = self._eof_mode or "deprecate"
                if not self._pending:
                    if p.data[:1] == b"\xff":
                        # An ERR nobody asked for: an idle timeout, a shutdown.
                        self._held.popleft()
                        self._err(ts, p.data, None)
                        continue
                    return  # wait for the request it answers
                self._current = self._pending.popleft()
                self._gen = self._responder(self._current)
                next(self._gen)
            self._held.popleft()
            try:
                self._gen.send((ts, p))
            except StopIteration:
                self._gen = None
                self._current = None

    def _responder(self, pending: _Pending) -> Gen:
        expect = pending.expect
        if expect == "auth":
            return self._auth(pending)
        if expect == "prepare":
            return self._prepare(pending)
        if expect == "statistics":
            return self._statistics(pending)
        if expect == "field_list":
            return self._field_list(pending)
        if expect == "fetch":
            return self._fetch(pending)
        if expect == "opaque":
            return self._opaque(pending)
        return self._result(pending)

    # --------------------------------------------------------- connection phase
    def _greeting(self, ts: float, p: Payload) -> None:
        if p.data[:1] == b"\xff":
            self._err(ts, p.data, "connect")
            self.phase = _CLOSED
            return
        h = phs.parse_handshake(p.data)
        self._server_caps = h.capabilities
        self.capabilities = h.capabilities
        self._note(
            S2C,
            ts,
            "handshake",
            {
                "server_version": h.server_version,
                "protocol_version": h.protocol_version,
                "connection_id": h.connection_id,
                "auth_plugin": h.auth_plugin_name,
                "capabilities": capability_names(h.capabilities),
                "character_set": h.character_set,
                "status_flags": h.status_flags,
            },
        )
        if not h.capabilities & C.CLIENT_PROTOCOL_41:
            raise UnsupportedFeature("the server does not speak the 4.1 protocol")
        self.phase = _LOGIN

    def _auth(self, pending: _Pending) -> Gen:
        """The server's side of authentication (after the login or COM_CHANGE_USER)."""
        during = pending.name
        while True:
            ts, p = yield
            data = p.data
            head = data[:1]
            if head == b"\x00":
                ok = pgen.parse_ok(data, self.capabilities)
                self._note(S2C, ts, "ok", self._ok_details(ok, pending, ts))
                if during == "login":
                    self._start_compression()
                return
            if head == b"\xff":
                self._err(ts, data, during, pending)
                if during == "login":
                    self.phase = _CLOSED
                return
            if head == b"\xfe":
                sw = phs.parse_auth_switch_request(data)
                self._note(
                    S2C, ts, "auth_switch", {"auth_plugin": sw.plugin_name, "bytes": len(sw.data)}
                )
                continue
            if head == b"\x01":
                more = phs.parse_auth_more_data(data)
                details: dict[str, Any] = {"bytes": len(more.data)}
                if more.data == b"\x03":
                    details["status"] = "fast_auth_success"
                elif more.data == b"\x04":
                    details["status"] = "perform_full_authentication"
                self._note(S2C, ts, "auth_more_data", details)
                continue
            if head == b"\x02":
                nf = phs.parse_auth_next_factor(data)
                self._note(S2C, ts, "auth_next_factor", {"auth_plugin": nf.plugin_name})
                continue
            raise MalformedPacket(
                f"malformed packet: header 0x{data[0]:02x} at offset 0"
                if data
                else "truncated packet: empty payload at offset 0",
                offset=0,
                expected="OK, ERR, auth switch (0xfe), more data (0x01) or next factor (0x02)",
            )

    def _start_compression(self) -> None:
        caps = self.capabilities
        algorithm = None
        if caps & C.CLIENT_COMPRESS:
            algorithm = "zlib"
        elif caps & C.CLIENT_ZSTD_COMPRESSION_ALGORITHM:
            algorithm = "zstd"
        if algorithm is None or self._compression is not None:
            return
        self._compression = algorithm
        for d, reader in list(self._readers.items()):
            leftover = reader.take_unread() if isinstance(reader, PacketReader) else b""
            self._readers[d] = self._reader(algorithm)
            if leftover:
                self._readers[d].feed(leftover)

    # ------------------------------------------------------------ command phase
    def _ok_details(self, ok: Ok, pending: _Pending | None, ts: float) -> dict[str, Any]:
        details: dict[str, Any] = {}
        if pending is not None:
            details["response_to"] = pending.name
        details.update(
            affected_rows=ok.affected_rows,
            insert_id=ok.last_insert_id,
            status_flags=ok.status_flags,
            warnings=ok.warnings,
        )
        if ok.info:
            details["info"] = ok.info
        if ok.session_state:
            details["session_state"] = [
                {"type": s.kind, "name": s.name, "value": s.value} for s in ok.session_state
            ]
        if pending is not None:
            details["elapsed"] = round(ts - pending.ts, 6)
        return details

    def _parse_ok(self, data: bytes) -> Ok:
        try:
            return pgen.parse_ok(data, self.capabilities)
        except MalformedPacket:
            if not self.assumed:
                raise
            # Assumed CLIENT_SESSION_TRACK, and the server did not negotiate it.
            return pgen.parse_ok(data, self.capabilities & ~int(C.CLIENT_SESSION_TRACK))

    def _err(
        self, ts: float, data: bytes, during: str | None, pending: _Pending | None = None
    ) -> Err | Progress:
        e = pgen.parse_err(data)
        if isinstance(e, Progress):
            self._note(
                S2C,
                ts,
                "progress",
                {"stage": e.stage, "max_stage": e.max_stage, "progress": e.progress / 1000},
            )
            return e
        details: dict[str, Any] = {}
        if during is not None:
            details["response_to"] = during
        details.update(code=e.code, sqlstate=e.sqlstate, message=e.message)
        if pending is not None:
            details["elapsed"] = round(ts - pending.ts, 6)
        self._note(S2C, ts, "err", details)
        return e

    def _column(self, data: bytes, *, field_list: bool = False) -> ColumnDefinition:
        caps = self.capabilities
        try:
            return prs.parse_column_definition(data, caps, field_list=field_list)
        except MalformedPacket:
            if not self.assumed or caps & _EXT_METADATA:
                raise
            # MariaDB's extended metadata, negotiated before the capture started.
            col = prs.parse_column_definition(
                data, (caps | _EXT_METADATA) & ~int(C.CLIENT_MYSQL), field_list=field_list
            )
            self.capabilities = (caps | _EXT_METADATA) & ~int(C.CLIENT_MYSQL)
            return col

    def _definitions(
        self, n: int
    ) -> Generator[None, Received, tuple[tuple[ColumnDefinition, ...], int, Received | None]]:
        """Read ``n`` column definitions and, without CLIENT_DEPRECATE_EOF, the EOF.

        Returns:
            The definitions, the EOF's status flags (0 without one) and a payload read
            ahead when the EOF mode was unknown and it was not an EOF.
        """
        cols = []
        for _ in range(n):
            _, p = yield
            cols.append(self._column(p.data))
        if not n or self._eof_mode == "deprecate":
            return tuple(cols), 0, None
        item = yield
        data = item[1].data
        if self._eof_mode is None:
            if not (data[:1] == b"\xfe" and len(data) == 5):
                self._eof_mode = "deprecate"
                return tuple(cols), 0, item
            self._eof_mode = "classic"
        eof = pgen.parse_eof(data, self.capabilities)
        return tuple(cols), eof.status_flags, None

    def _result(self, pending: _Pending) -> Gen:
        """OK, ERR or resultsets (text, or binary for COM_STMT_EXECUTE)."""
        while True:
            ts, p = yield
            data = p.data
            head = data[:1]
            if head == b"\x00":
                ok = self._parse_ok(data)
                self._note(S2C, ts, "ok", self._ok_details(ok, pending, ts))
                if ok.status_flags & ServerStatus.SERVER_MORE_RESULTS_EXISTS:
                    continue
                return
            if head == b"\xff":
                if isinstance(self._err(ts, data, pending.name, pending), Progress):
                    continue
                return
            if head == b"\xfb":
                self._note(S2C, ts, "local_infile", {"filename": dec(data[1:])})
                self._infile = True
                continue
            if head == b"\xfe" and len(data) == 5 and pending.name == "COM_DEBUG":
                self._note(S2C, ts, "eof", {"response_to": pending.name})
                return
            count, follows = prs.parse_column_count(data, self.capabilities)
            if follows:
                columns, status, ahead = yield from self._definitions(count)
            elif pending.statement is not None and len(pending.statement.columns) == count:
                columns, status, ahead = pending.statement.columns, 0, None
            else:
                raise UnsupportedFeature(
                    "the server skipped the column definitions (cached metadata) of a "
                    "statement whose prepare is not in the capture"
                )
            if pending.statement is not None and pending.cursor:
                pending.statement.columns = columns
            more = yield from self._rows(pending, ts, columns, status, ahead)
            if not more:
                return

    def _rows(
        self,
        pending: _Pending,
        ts: float,
        columns: tuple[ColumnDefinition, ...] | None,
        status: int,
        ahead: Received | None,
        *,
        fetch: bool = False,
    ) -> Generator[None, Received, bool]:
        """A resultset's rows up to its end; returns whether more results follow."""
        rs = _Resultset(columns, pending.binary, self.max_rows)
        if (
            not fetch
            and pending.cursor
            and status & ServerStatus.SERVER_STATUS_CURSOR_EXISTS
            and self._eof_mode == "classic"
        ):
            # A cursor was opened: the rows come with COM_STMT_FETCH.
            details = rs.end(ResultsetEnd(status_flags=status))
            details["cursor"] = True
            self._resultset_note(ts, pending, details)
            return False
        while True:
            if ahead is not None:
                (ts, p), ahead = ahead, None
            else:
                ts, p = yield
            data = p.data
            head = data[:1]
            if head == b"\xff":
                e = pgen.parse_err(data)
                if isinstance(e, Progress):
                    self._err(ts, data, pending.name)
                    continue
                self._resultset_note(ts, pending, rs.end(e))
                self._err(ts, data, pending.name, pending)
                return False
            if head == b"\xfe" and self._is_terminator(data):
                end = self._terminator(data)
                details = rs.end(end)
                self._resultset_note(ts, pending, details)
                return end.more_results
            rs.row(data)

    def _is_terminator(self, data: bytes) -> bool:
        if self._eof_mode == "classic":
            return len(data) < 9
        if self._eof_mode == "deprecate":
            return len(data) < 0xFFFFFF
        # Unknown: a classic EOF has 5 bytes; the OK replacing it at least 7.
        return len(data) < 0xFFFFFF

    def _terminator(self, data: bytes) -> ResultsetEnd:
        if self._eof_mode is None:
            self._eof_mode = "classic" if len(data) == 5 else "deprecate"
        if self._eof_mode == "deprecate":
            ok = self._parse_ok(data)
            return ResultsetEnd(status_flags=ok.status_flags, warnings=ok.warnings, ok=ok)
        eof = pgen.parse_eof(data, self.capabilities)
        return ResultsetEnd(status_flags=eof.status_flags, warnings=eof.warnings)

    def _resultset_note(self, ts: float, pending: _Pending, details: dict[str, Any]) -> None:
        details = {"response_to": pending.name, **details, "elapsed": round(ts - pending.ts, 6)}
        self._note(S2C, ts, "resultset", details)
        error = details.get("error")
        if isinstance(error, dict) and error.get("kind") == "error":
            # A row the transcoder could not decode: the bytes are wrong for their columns.
            self.errors += 1
            self._note(
                S2C,
                ts,
                "error",
                {"error": "RowError", "message": str(error.get("message"))},
            )

    def _prepare(self, pending: _Pending) -> Gen:
        ts, p = yield
        data = p.data
        if data[:1] == b"\xff":
            self._err(ts, data, pending.name, pending)
            return
        ok = pprep.parse_prepare_ok(data)
        params: tuple[ColumnDefinition, ...] = ()
        columns: tuple[ColumnDefinition, ...] = ()
        if ok.metadata_follows is not False:
            params, _, ahead = yield from self._definitions(ok.num_params)
            if ahead is not None:
                # The EOF mode was unknown and no EOF came: the column definitions begin.
                cols = [self._column(ahead[1].data)]
                for _ in range(ok.num_columns - 1):
                    _, q = yield
                    cols.append(self._column(q.data))
                columns = tuple(cols)
            else:
                unknown = self._eof_mode is None
                columns, _, ahead = yield from self._definitions_last(ok.num_columns, unknown)
        stmt = _Statement(sql=pending.sql, params=params, columns=columns)
        self._statements[ok.statement_id] = stmt
        self._last_statement = stmt
        details = {
            "response_to": pending.name,
            "statement_id": ok.statement_id,
            "params": len(params) if params else ok.num_params,
            "columns": [c.name for c in columns],
            "warnings": ok.warnings,
            "elapsed": round(ts - pending.ts, 6),
        }
        self._note(S2C, ts, "prepared", details)

    def _definitions_last(
        self, n: int, unknown: bool
    ) -> Generator[None, Received, tuple[tuple[ColumnDefinition, ...], int, Received | None]]:
        """The last definitions of a response: with the EOF mode unknown, whether an EOF
        follows is decided by the next server payload (see :meth:`_pump`)."""
        if not unknown or not n:
            return (yield from self._definitions(n))
        cols = []
        for _ in range(n):
            _, p = yield
            cols.append(self._column(p.data))
        self._maybe_eof = True
        return tuple(cols), 0, None

    def _statistics(self, pending: _Pending) -> Gen:
        ts, p = yield
        if p.data[:1] == b"\xff":
            self._err(ts, p.data, pending.name, pending)
            return
        self._note(
            S2C,
            ts,
            "statistics",
            {
                "response_to": pending.name,
                "text": dec(p.data),
                "elapsed": round(ts - pending.ts, 6),
            },
        )

    def _field_list(self, pending: _Pending) -> Gen:
        cols = []
        while True:
            ts, p = yield
            data = p.data
            if data[:1] == b"\xff":
                self._err(ts, data, pending.name, pending)
                return
            if data[:1] == b"\xfe" and len(data) < 0xFFFFFF:
                if self._eof_mode is None:
                    self._eof_mode = "classic" if len(data) == 5 else "deprecate"
                break
            cols.append(self._column(data, field_list=True))
        self._note(
            S2C,
            ts,
            "field_list",
            {
                "response_to": pending.name,
                "fields": [
                    {
                        "name": c.name,
                        "type": _type_name(c.type),
                        "length": c.column_length,
                        "flags": c.flags,
                        "default": None
                        if c.default_value is None
                        else c.default_value.decode("utf-8", "surrogateescape"),
                    }
                    for c in cols
                ],
                "elapsed": round(ts - pending.ts, 6),
            },
        )

    def _fetch(self, pending: _Pending) -> Gen:
        stmt = pending.statement
        columns = stmt.columns if stmt is not None and stmt.columns else None
        ts, p = yield
        if p.data[:1] == b"\xff":
            self._err(ts, p.data, pending.name, pending)
            return
        yield from self._rows(pending, ts, columns, 0, (ts, p), fetch=True)

    def _opaque(self, pending: _Pending) -> Gen:
        """Answers to commands mywire does not decode (replication...): each payload is
        reported as it is, until the next command."""
        while True:
            ts, p = yield
            data = p.data
            if data[:1] == b"\xff":
                self._err(ts, data, pending.name, pending)
                continue
            self._note(
                S2C,
                ts,
                "packet",
                {"response_to": pending.name, "bytes": len(data), "head": _hex(data[:16])},
            )

    # ------------------------------------------------------------------- end
    def _finish(self, ts: float, ended: str) -> None:
        if self.phase in (_TLS, _CLOSED, _HUNT):
            return
        self._abandon(ts, f"{ended} before the response did")
        while self._held:
            _, p = self._held.popleft()
            raise MalformedPacket(
                f"the server sent {len(p.data)} bytes that answer no command",
                offset=0,
                expected="a response to a command",
            )
        for d, reader in self._readers.items():
            held = _buffered(reader)
            if held:
                self._note(
                    d,
                    ts,
                    "incomplete",
                    {"bytes": held, "reason": f"{ended} inside a packet"},
                )


def _buffered(reader: PacketReader | CompressedPacketReader) -> int:
    if isinstance(reader, PacketReader):
        return reader.buffered
    return reader.packets.buffered + len(reader._buf) - reader._pos


def _decode_params(block: bytes, stmt: _Statement) -> tuple[tuple[object, ...], tuple[int, ...]]:
    """A COM_STMT_EXECUTE parameter block of a known statement.  Some clients
    (Connector/Python) still write a value for a parameter sent as long data, which the
    servers skip: read it as a value then, and report the long data."""
    n = len(stmt.params)
    try:
        return pprep.decode_params(block, n, types=stmt.types, long_data=stmt.long_data)
    except MalformedPacket:
        if not stmt.long_data:
            raise
        values, types = pprep.decode_params(block, n, types=stmt.types)
        marked = tuple(pprep.LONG_DATA if i in stmt.long_data else v for i, v in enumerate(values))
        return marked, types


def _type_name(t: int) -> str:
    try:
        return FieldType(t).name.removeprefix("MYSQL_TYPE_")
    except ValueError:
        return str(t)


def _decode_attr_params(
    block: bytes, stmt: _Statement | None
) -> tuple[tuple[object, ...], list[str], tuple[int, ...]]:
    """A COM_STMT_EXECUTE parameter block with CLIENT_QUERY_ATTRIBUTES (MySQL 8.0.23+):
    a parameter count, and a name after each type.  Rebuilt without the names for
    :func:`~mywire.packets.prepared.decode_params`."""
    from ..codec import Reader

    r = Reader(block)
    count = r.lenenc_int()
    if count == 0:
        return (), [], ()
    bitmap = r.fixed((count + 7) // 8)
    flag = r.int1()
    names: list[str] = []
    types = b""
    if flag == 1:
        parts = []
        for _ in range(count):
            parts.append(r.fixed(2))
            names.append(dec(r.lenenc_str()))
        types = b"".join(parts)
    elif stmt is not None and stmt.types is not None and len(stmt.types) == count:
        names = [""] * count
    else:
        raise UnsupportedFeature("parameter types from an execute that is not in the capture")
    rest = block[r.offset :]
    plain = bitmap + bytes((flag,)) + types + rest
    values, got = pprep.decode_params(
        plain,
        count,
        types=stmt.types if stmt is not None and flag == 0 else None,
        long_data=stmt.long_data if stmt is not None else (),
    )
    return values, names, got


def _query_with_typed_attributes(data: bytes) -> Query:
    """COM_QUERY whose attributes have types :mod:`mywire.packets.command` does not
    decode (dates, times...): values read as binary-protocol parameters."""
    from ..codec import Reader
    from ..packets.prepared import _read_value

    r = Reader(data, 1)
    count = r.lenenc_int()
    r.lenenc_int()  # parameter sets: always 1
    bitmap = r.fixed((count + 7) // 8)
    at = r.offset
    if r.int1() != 1:
        raise MalformedPacket(
            f"malformed packet: new-params-bound flag at offset {at} is not 1",
            offset=at,
            expected="new-params-bound flag 1",
        )
    typed = []
    for _ in range(count):
        t = r.int2()
        typed.append((t, dec(r.lenenc_str())))
    attrs = []
    for i, (t, name) in enumerate(typed):
        if bitmap[i // 8] >> (i % 8) & 1:
            attrs.append(QueryAttribute(name=name, value=None))
        else:
            value = _jsonable(_read_value(r, t))
            attrs.append(QueryAttribute(name=name, value=None if value is None else str(value)))
    return Query(sql=dec(r.rest()), attributes=tuple(attrs))


class _Resultset:
    """One resultset on its way through the JSON transcoder."""

    def __init__(
        self, columns: tuple[ColumnDefinition, ...] | None, binary: bool, max_rows: int | None
    ) -> None:
        self.columns = columns
        self.max_rows = max_rows
        self.count = 0
        self._batch: list[bytes] = []
        self._out: list[bytes] = []
        self._tc: Transcoder | None = None
        if columns is not None:
            self._tc = Transcoder("json")
            self._out.append(self._tc.feed(ResultsetStart(columns=columns, binary=binary)))

    def row(self, data: bytes) -> None:
        self.count += 1
        if self._tc is None or (self.max_rows is not None and self.count > self.max_rows):
            return
        self._batch.append(data)
        if len(self._batch) >= _ROW_BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._batch and self._tc is not None:
            self._out.append(self._tc.feed(Rows.of(self._batch)))
        self._batch = []

    def end(self, event: ResultsetEnd | Err) -> dict[str, Any]:
        """The resultset's details: the transcoder's document, the row count, flags."""
        details: dict[str, Any]
        if self._tc is None:
            details = {"fields": None, "rows": None}
        else:
            self._flush()
            self._out.append(self._tc.feed(event))
            self._out.append(self._tc.finish())
            details = json.loads(b"".join(self._out))
        details["row_count"] = self.count
        if self.max_rows is not None and self.count > self.max_rows:
            details["rows_truncated"] = True
        if isinstance(event, ResultsetEnd):
            details["status_flags"] = event.status_flags
            if event.more_results:
                details["more_results"] = True
        return details
