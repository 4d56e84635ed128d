"""Command phase, client → server: every COM_* the client sends.

``build_command(event, capabilities)`` returns the payload (framing starts each command
at sequence id 0); ``parse_command(payload, capabilities)`` is the server role's inverse.
Commands mywire does not decode (replication, COM_BINLOG_DUMP...) parse to
:class:`~mywire.events.UnknownCommand` and build back byte for byte.

COM_QUERY carries query attributes when CLIENT_QUERY_ATTRIBUTES is negotiated
(MySQL 8.0.23+): parameter count and parameter-set count (length-encoded), then for a
non-zero count the NULL bitmap (no offset), the new-params-bound flag, a (type, name)
pair per attribute and the binary-protocol values, then the SQL.  Attributes are strings
here, sent as MYSQL_TYPE_STRING like libmysql does; integer and double attributes sent
by other clients are read as their decimal text.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from ..codec import Reader, Writer
from ..constants import Capability as C
from ..constants import Command as Cmd
from ..constants import FieldType as T
from ..errors import MalformedPacket, UnsupportedFeature
from ..events import (
    ChangeUser,
    Command,
    Debug,
    FieldList,
    InitDb,
    Ping,
    ProcessKill,
    Query,
    QueryAttribute,
    Quit,
    ResetConnection,
    SetOption,
    Statistics,
    StmtClose,
    StmtExecute,
    StmtFetch,
    StmtPrepare,
    StmtReset,
    StmtSendLongData,
    UnknownCommand,
)
from ._text import as_bytes, as_int, dec, enc
from .handshake import read_attributes, write_attributes

__all__ = ["build_command", "parse_command"]

_NO_ARG: dict[int, Callable[[], Command]] = {
    Cmd.COM_QUIT: Quit,
    Cmd.COM_STATISTICS: Statistics,
    Cmd.COM_DEBUG: Debug,
    Cmd.COM_PING: Ping,
    Cmd.COM_RESET_CONNECTION: ResetConnection,
}
_CODE_OF: dict[object, int] = {cls: code for code, cls in _NO_ARG.items()}
_UNSIGNED = 0x8000  # the high bit of a parameter type: unsigned


# --------------------------------------------------------------------- query attributes


def _parse_attributes(r: Reader) -> tuple[QueryAttribute, ...]:
    count, _sets = r.unpack("LL")
    count = as_int(count)
    if count == 0:
        return ()
    if count > r.remaining:  # each attribute needs at least a type and a name byte
        raise MalformedPacket(
            f"malformed packet: {count} query attributes at offset 1 cannot fit in "
            f"{r.remaining} bytes",
            offset=1,
            expected="a query attribute count that fits the packet",
        )
    bitmap = r.fixed((count + 7) // 8)
    start = r.offset
    if r.int1() != 1:
        raise MalformedPacket(
            f"malformed packet: new-params-bound flag at offset {start} is not 1",
            offset=start,
            expected="new-params-bound flag 1",
        )
    types: list[tuple[int, str]] = []
    for _ in range(count):
        v_type, v_name = r.unpack("HS")
        types.append((as_int(v_type), dec(v_name)))
    out = []
    for i, (t, name) in enumerate(types):
        if bitmap[i // 8] >> (i % 8) & 1:
            out.append(QueryAttribute(name=name, value=None))
            continue
        out.append(QueryAttribute(name=name, value=_read_value(r, t)))
    return tuple(out)


def _read_value(r: Reader, t: int) -> str:
    base, unsigned = t & 0xFF, bool(t & _UNSIGNED)
    start = r.offset
    ints: dict[int, tuple[int, str]] = {
        T.MYSQL_TYPE_TINY: (1, "b"),
        T.MYSQL_TYPE_SHORT: (2, "h"),
        T.MYSQL_TYPE_LONG: (4, "i"),
        T.MYSQL_TYPE_LONGLONG: (8, "q"),
    }
    if base in ints:
        width, code = ints[base]
        raw = r.fixed(width)
        return str(struct.unpack("<" + (code.upper() if unsigned else code), raw)[0])
    if base == T.MYSQL_TYPE_DOUBLE:
        return repr(struct.unpack("<d", r.fixed(8))[0])
    if base == T.MYSQL_TYPE_FLOAT:
        return repr(struct.unpack("<f", r.fixed(4))[0])
    if base in (
        T.MYSQL_TYPE_STRING,
        T.MYSQL_TYPE_VAR_STRING,
        T.MYSQL_TYPE_VARCHAR,
        T.MYSQL_TYPE_BLOB,
        T.MYSQL_TYPE_DECIMAL,
        T.MYSQL_TYPE_NEWDECIMAL,
        T.MYSQL_TYPE_JSON,
    ):
        return dec(r.lenenc_str())
    raise UnsupportedFeature(
        f"query attribute of type {t} at offset {start}: only string and numeric types are decoded"
    )


def _write_attributes(w: Writer, attrs: tuple[QueryAttribute, ...]) -> None:
    w.pack("LL", len(attrs), 1)
    if not attrs:
        return
    bitmap = bytearray((len(attrs) + 7) // 8)
    for i, a in enumerate(attrs):
        if a.value is None:
            bitmap[i // 8] |= 1 << (i % 8)
    w.fixed(bytes(bitmap)).int1(1)
    for a in attrs:
        w.pack("HS", T.MYSQL_TYPE_STRING, enc(a.name))
    for a in attrs:
        if a.value is not None:
            w.pack("S", enc(a.value))


# ----------------------------------------------------------------------------- commands


def parse_command(payload: bytes, capabilities: int) -> Command:
    """Parse a command payload (server role).

    Raises:
        MalformedPacket, TruncatedPacket: the payload does not match its command byte.
        UnsupportedFeature: a query attribute of a type this layer does not decode.
    """
    r = Reader(payload)
    code = r.int1()
    if code in _NO_ARG:
        r.expect_end()
        return _NO_ARG[code]()
    parser = _PARSERS.get(code)
    if parser is None:
        return UnknownCommand(command=code, data=payload[1:])
    return parser(r, capabilities)


def _query(r: Reader, caps: int) -> Command:
    attrs = _parse_attributes(r) if caps & C.CLIENT_QUERY_ATTRIBUTES else None
    return Query(sql=dec(r.rest()), attributes=attrs)


def _init_db(r: Reader, caps: int) -> Command:
    return InitDb(schema=dec(r.rest()))


def _field_list(r: Reader, caps: int) -> Command:
    table, wildcard = r.unpack("ZE")
    return FieldList(table=dec(table), wildcard=dec(wildcard))


def _process_kill(r: Reader, caps: int) -> Command:
    cid = r.int4()
    r.expect_end()
    return ProcessKill(connection_id=cid)


def _set_option(r: Reader, caps: int) -> Command:
    option = r.int2()
    r.expect_end()
    return SetOption(option=option)


def _change_user(r: Reader, caps: int) -> Command:
    username = dec(r.nul_str())
    auth = r.fixed(r.int1()) if caps & C.CLIENT_SECURE_CONNECTION else r.nul_str()
    database = dec(r.nul_str())
    charset = plugin = None
    attributes: tuple[tuple[str, str], ...] = ()
    if not r.at_end():
        charset = r.int2()
    if caps & C.CLIENT_PLUGIN_AUTH and not r.at_end():
        plugin = dec(r.nul_str())
    if caps & C.CLIENT_CONNECT_ATTRS and not r.at_end():
        attributes = read_attributes(r, r.buffer)
    r.expect_end()
    return ChangeUser(
        username=username,
        auth_response=auth,
        database=database,
        character_set=charset,
        auth_plugin_name=plugin,
        attributes=attributes,
    )


def _stmt_prepare(r: Reader, caps: int) -> Command:
    return StmtPrepare(sql=dec(r.rest()))


def _stmt_execute(r: Reader, caps: int) -> Command:
    sid, flags, iterations, params = r.unpack("IBIE")
    return StmtExecute(
        statement_id=as_int(sid),
        flags=as_int(flags),
        iteration_count=as_int(iterations),
        params=as_bytes(params),
    )


def _stmt_send_long_data(r: Reader, caps: int) -> Command:
    sid, param, data = r.unpack("IHE")
    return StmtSendLongData(statement_id=as_int(sid), param_id=as_int(param), data=as_bytes(data))


def _stmt_id_only(cls: type[StmtClose] | type[StmtReset]) -> Callable[[Reader, int], Command]:
    def parse(r: Reader, caps: int) -> Command:
        sid = r.int4()
        r.expect_end()
        return cls(statement_id=sid)

    return parse


def _stmt_fetch(r: Reader, caps: int) -> Command:
    sid, rows = r.unpack("II")
    r.expect_end()
    return StmtFetch(statement_id=as_int(sid), num_rows=as_int(rows))


_PARSERS: dict[int, Callable[[Reader, int], Command]] = {
    Cmd.COM_QUERY: _query,
    Cmd.COM_INIT_DB: _init_db,
    Cmd.COM_FIELD_LIST: _field_list,
    Cmd.COM_PROCESS_KILL: _process_kill,
    Cmd.COM_SET_OPTION: _set_option,
    Cmd.COM_CHANGE_USER: _change_user,
    Cmd.COM_STMT_PREPARE: _stmt_prepare,
    Cmd.COM_STMT_EXECUTE: _stmt_execute,
    Cmd.COM_STMT_SEND_LONG_DATA: _stmt_send_long_data,
    Cmd.COM_STMT_CLOSE: _stmt_id_only(StmtClose),
    Cmd.COM_STMT_RESET: _stmt_id_only(StmtReset),
    Cmd.COM_STMT_FETCH: _stmt_fetch,
}


def build_command(cmd: Command, capabilities: int) -> bytes:
    """Build a command payload (client role).

    Raises:
        ValueError: attributes given without CLIENT_QUERY_ATTRIBUTES, a COM_CHANGE_USER
            auth response over 255 bytes, or fields out of range.
    """
    code = _CODE_OF.get(type(cmd))
    if code is not None:
        return bytes((code,))
    w = Writer()
    if isinstance(cmd, Query):
        w.int1(Cmd.COM_QUERY)
        if capabilities & C.CLIENT_QUERY_ATTRIBUTES:
            _write_attributes(w, cmd.attributes or ())
        elif cmd.attributes:
            raise ValueError("query attributes need CLIENT_QUERY_ATTRIBUTES")
        w.raw(enc(cmd.sql))
    elif isinstance(cmd, InitDb):
        w.int1(Cmd.COM_INIT_DB).raw(enc(cmd.schema))
    elif isinstance(cmd, FieldList):
        w.pack("BZ", Cmd.COM_FIELD_LIST, enc(cmd.table)).raw(enc(cmd.wildcard))
    elif isinstance(cmd, ProcessKill):
        w.pack("BI", Cmd.COM_PROCESS_KILL, cmd.connection_id)
    elif isinstance(cmd, SetOption):
        w.pack("BH", Cmd.COM_SET_OPTION, cmd.option)
    elif isinstance(cmd, ChangeUser):
        _build_change_user(w, cmd, capabilities)
    elif isinstance(cmd, StmtPrepare):
        w.int1(Cmd.COM_STMT_PREPARE).raw(enc(cmd.sql))
    elif isinstance(cmd, StmtExecute):
        w.pack("BIBI", Cmd.COM_STMT_EXECUTE, cmd.statement_id, cmd.flags, cmd.iteration_count)
        w.raw(cmd.params)
    elif isinstance(cmd, StmtSendLongData):
        w.pack("BIH", Cmd.COM_STMT_SEND_LONG_DATA, cmd.statement_id, cmd.param_id).raw(cmd.data)
    elif isinstance(cmd, StmtClose):
        w.pack("BI", Cmd.COM_STMT_CLOSE, cmd.statement_id)
    elif isinstance(cmd, StmtReset):
        w.pack("BI", Cmd.COM_STMT_RESET, cmd.statement_id)
    elif isinstance(cmd, StmtFetch):
        w.pack("BII", Cmd.COM_STMT_FETCH, cmd.statement_id, cmd.num_rows)
    elif isinstance(cmd, UnknownCommand):
        w.int1(cmd.command).raw(cmd.data)
    else:  # pragma: no cover - every Command type is handled above
        raise TypeError(f"not a command: {cmd!r}")
    return w.getvalue()


def _build_change_user(w: Writer, cmd: ChangeUser, caps: int) -> None:
    w.pack("BZ", Cmd.COM_CHANGE_USER, enc(cmd.username))
    if caps & C.CLIENT_SECURE_CONNECTION:
        if len(cmd.auth_response) > 255:
            raise ValueError("a COM_CHANGE_USER auth response holds at most 255 bytes")
        w.int1(len(cmd.auth_response)).fixed(cmd.auth_response)
    else:
        w.nul_str(cmd.auth_response)
    w.nul_str(enc(cmd.database))
    later = (cmd.auth_plugin_name is not None and caps & C.CLIENT_PLUGIN_AUTH) or (
        cmd.attributes and caps & C.CLIENT_CONNECT_ATTRS
    )
    if cmd.character_set is None:
        if later:
            raise ValueError(
                "COM_CHANGE_USER needs character_set when a plugin or attributes follow"
            )
        return
    w.int2(cmd.character_set)
    if caps & C.CLIENT_PLUGIN_AUTH:
        w.nul_str(enc(cmd.auth_plugin_name or ""))
    if caps & C.CLIENT_CONNECT_ATTRS:
        write_attributes(w, cmd.attributes)
