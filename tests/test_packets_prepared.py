"""mywire.packets.prepared: COM_STMT_PREPARE OK and COM_STMT_EXECUTE's parameter block.

Real payloads come from the public captures (/work/shared/captures/SOURCES.md)
``deepflow__mysql-statement.pcap`` and ``deepflow__mysql-exec.pcap`` (deepflowio/deepflow
test data: a Go client and a MySQL 8 server on port 30130), extracted with a few lines
of Python over the pcap records (Ethernet/IPv4/TCP payloads split at the 4-byte packet
headers; tshark was not installed), and from the test server (MariaDB 10.11.19) through
mywire's ClientConnection over a blocking socket.  Every payload is decoded by hand in
the comments.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mywire import MalformedPacket, ProtocolError, TruncatedPacket
from mywire.connection import CLIENT_MARIADB_EXTENDED
from mywire.constants import FieldType
from mywire.events import (
    ColumnDefinition,
    Event,
    Ok,
    Query,
    ResultsetEnd,
    ResultsetStart,
    Rows,
    StmtClose,
    StmtExecute,
    StmtPrepare,
    StmtPrepared,
)
from mywire.packets import command as pcmd
from mywire.packets import prepared as pp
from mywire.packets import resultset as rs

from helpers import BlockingClient, Dsn, check_prefixes, parse_or_error, pymysql_connect
from strategies import TIME_LIMIT, param_values, uints

CLIENT_PROTOCOL_41 = 0x200
UNSIGNED = 0x8000
# Type codes by hand (MySQL include/field_types.h).
TINY, SHORT, LONG, FLOAT, DOUBLE, NULL, TIMESTAMP, LONGLONG, INT24 = 1, 2, 3, 4, 5, 6, 7, 8, 9
DATE, TIME, DATETIME, YEAR, BIT = 10, 11, 12, 13, 16
JSON, NEWDECIMAL, ENUM, BLOB, VAR_STRING, STRING, GEOMETRY = 245, 246, 247, 252, 253, 254, 255
NOT_NULL, PRI_KEY, BINARY, AUTO_INCREMENT, PART_KEY = 0x1, 0x2, 0x80, 0x200, 0x4000


def test_hand_type_codes_match_the_enum() -> None:
    for name in ("TINY", "SHORT", "LONG", "FLOAT", "DOUBLE", "NULL", "TIMESTAMP", "LONGLONG"):
        assert globals()[name] == FieldType[f"MYSQL_TYPE_{name}"]
    assert (DATE, TIME, DATETIME, YEAR, BIT, INT24) == (
        FieldType.MYSQL_TYPE_DATE,
        FieldType.MYSQL_TYPE_TIME,
        FieldType.MYSQL_TYPE_DATETIME,
        FieldType.MYSQL_TYPE_YEAR,
        FieldType.MYSQL_TYPE_BIT,
        FieldType.MYSQL_TYPE_INT24,
    )
    assert (JSON, NEWDECIMAL, ENUM, BLOB, VAR_STRING, STRING, GEOMETRY) == (
        FieldType.MYSQL_TYPE_JSON,
        FieldType.MYSQL_TYPE_NEWDECIMAL,
        FieldType.MYSQL_TYPE_ENUM,
        FieldType.MYSQL_TYPE_BLOB,
        FieldType.MYSQL_TYPE_VAR_STRING,
        FieldType.MYSQL_TYPE_STRING,
        FieldType.MYSQL_TYPE_GEOMETRY,
    )


def as_decoded(value: object) -> object:
    """What a value reads back as: TIME is always a timedelta (time of day -> duration);
    bytearray/memoryview compare equal to bytes and bool to int as they are."""
    if isinstance(value, dt.time):
        return dt.timedelta(
            hours=value.hour,
            minutes=value.minute,
            seconds=value.second,
            microseconds=value.microsecond,
        )
    return value


# ------------------------------------------------------------------------ prepare OK


@given(uints(4), uints(2), uints(2), uints(2), st.none() | st.booleans())
def test_prepare_ok_round_trip(
    sid: int, ncols: int, nparams: int, warnings: int, follows: bool | None
) -> None:
    ok = pp.PrepareOk(sid, ncols, nparams, warnings, follows)
    payload = pp.build_prepare_ok(ok)
    assert pp.parse_prepare_ok(payload) == ok
    # By hand: 00 | id (4) | columns (2) | params (2) | 00 | warnings (2) [| follows].
    assert payload == (
        b"\x00"
        + sid.to_bytes(4, "little")
        + ncols.to_bytes(2, "little")
        + nparams.to_bytes(2, "little")
        + b"\x00"
        + warnings.to_bytes(2, "little")
        + (b"" if follows is None else bytes((follows,)))
    )
    # No strict prefix parses, except the 12 bytes before an optional 13th.
    got = check_prefixes(pp.parse_prepare_ok, payload, strict=False)
    for n, g in enumerate(got):
        if n == 12:
            assert g == ok._replace(metadata_follows=None)
        else:
            assert isinstance(g, ProtocolError), n


@pytest.mark.parametrize(
    ("hexdata", "expected"),
    [
        # deepflow__mysql-statement.pcap, "SELECT * FROM `controller` WHERE name = ?":
        # 00 | 60000000 (statement 96) | 1100 (17 columns) | 0100 (1 parameter) | 00 |
        # 0000 (no warnings).
        ("006000000011000100000000", pp.PrepareOk(96, 17, 1, 0)),
        # deepflow__mysql-exec.pcap, a 97-placeholder INSERT ... ON DUPLICATE KEY UPDATE:
        # 00 | 37000000 (55) | 0000 (no columns) | 6100 (97) | 00 | 1500 (21 warnings).
        ("003700000000006100001500", pp.PrepareOk(55, 0, 97, 21)),
        # MySQL 8 with CLIENT_OPTIONAL_RESULTSET_METADATA: a 13th byte, 0 = no metadata
        # (Protocol_classic::store_ps_status).
        ("00010000000200010000000000", pp.PrepareOk(1, 2, 1, 0, False)),
        ("00010000000200010000000001", pp.PrepareOk(1, 2, 1, 0, True)),
    ],
)
def test_prepare_ok_exact(hexdata: str, expected: pp.PrepareOk) -> None:
    payload = bytes.fromhex(hexdata)
    assert pp.parse_prepare_ok(payload) == expected
    assert pp.build_prepare_ok(expected) == payload


@pytest.mark.parametrize(
    ("hexdata", "error", "offset"),
    [
        ("ff1904233432303030", MalformedPacket, 0),  # an ERR is not a prepare OK
        ("", TruncatedPacket, 0),
        ("0060000000110001000000", TruncatedPacket, 10),  # warnings cut short
        ("00010000000200010000000002", MalformedPacket, 12),  # follows byte 2
        ("0001000000020001000000000100", MalformedPacket, 13),  # a 14th byte
    ],
)
def test_prepare_ok_errors(hexdata: str, error: type[ProtocolError], offset: int) -> None:
    with pytest.raises(error) as info:
        pp.parse_prepare_ok(bytes.fromhex(hexdata))
    assert type(info.value) is error and info.value.offset == offset


# The whole COM_STMT_PREPARE response for statement 96 in deepflow__mysql-statement.pcap:
# the OK, 1 parameter definition, an EOF, 17 column definitions, an EOF (no
# CLIENT_DEPRECATE_EOF: PROTOCOL_NOTES #25).
PCAP_PREPARE_RESPONSE = [
    "006000000011000100000000",
    "03646566000000013f000cff0054550100fd00001f0000",
    "fe00000200",
    "036465660864656570666c6f770a636f6e74726f6c6c65720a636f6e74726f6c6c65720269640269640c3f000b000000030342000000",
    "036465660864656570666c6f770a636f6e74726f6c6c65720a636f6e74726f6c6c65720573746174650573746174650c3f000b000000030000000000",
    "036465660864656570666c6f770a636f6e74726f6c6c65720a636f6e74726f6c6c6572046e616d65046e616d650cff0000010000fe0000000000",
    "036465660864656570666c6f770a636f6e74726f6c6c65720a636f6e74726f6c6c65720b6465736372697074696f6e0b6465736372697074696f6e0cff0000040000fd0000000000",
    "036465660864656570666c6f770a636f6e74726f6c6c65720a636f6e74726f6c6c65720269700269700cff0000010000fe0000000000",
    "036465660864656570666c6f770a636f6e74726f6c6c65720a636f6e74726f6c6c6572066e61745f6970066e61745f69700cff0000010000fe0000000000",
    "036465660864656570666c6f770a636f6e74726f6c6c65720a636f6e74726f6c6c6572076370755f6e756d076370755f6e756d0c3f000b000000030000000000",
    "036465660864656570666c6f770a636f6e74726f6c6c65720a636f6e74726f6c6c65720b6d656d6f72795f73697a650b6d656d6f72795f73697a650c3f0014000000080000000000",
    "036465660864656570666c6f770a636f6e74726f6c6c65720a636f6e74726f6c6c6572046172636804617263680cff0000040000fd0000000000",
    "036465660864656570666c6f770a636f6e74726f6c6c65720a636f6e74726f6c6c6572026f73026f730cff0000040000fd0000000000",
    "036465660864656570666c6f770a636f6e74726f6c6c65720a636f6e74726f6c6c65720e6b65726e656c5f76657273696f6e0e6b65726e656c5f76657273696f6e0cff0000040000fd0000000000",
    "036465660864656570666c6f770a636f6e74726f6c6c65720a636f6e74726f6c6c657208767461705f6d617808767461705f6d61780c3f000b000000030000000000",
    "036465660864656570666c6f770a636f6e74726f6c6c65720a636f6e74726f6c6c65720973796e6365645f61740973796e6365645f61740c3f00130000000c8100000000",
    "036465660864656570666c6f770a636f6e74726f6c6c65720a636f6e74726f6c6c65720e6e61745f69705f656e61626c65640e6e61745f69705f656e61626c65640c3f0001000000010000000000",
    "036465660864656570666c6f770a636f6e74726f6c6c65720a636f6e74726f6c6c6572096e6f64655f74797065096e6f64655f747970650c3f000b000000030000000000",
    "036465660864656570666c6f770a636f6e74726f6c6c65720a636f6e74726f6c6c657214726567696f6e5f646f6d61696e5f70726566697814726567696f6e5f646f6d61696e5f7072656669780cff0000040000fd0000000000",
    "036465660864656570666c6f770a636f6e74726f6c6c65720a636f6e74726f6c6c6572066c6375756964066c63757569640cff0000010000fe0000000000",
    "fe00000200",
]


def test_real_prepare_response_by_hand() -> None:
    payloads = [bytes.fromhex(h) for h in PCAP_PREPARE_RESPONSE]
    ok = pp.parse_prepare_ok(payloads[0])
    assert ok == pp.PrepareOk(statement_id=96, num_columns=17, num_params=1, warnings=0)
    # Count-driven reading: num_params definitions, EOF, num_columns definitions, EOF.
    params = payloads[1 : 1 + ok.num_params]
    eof1 = payloads[1 + ok.num_params]
    columns = payloads[2 + ok.num_params : 2 + ok.num_params + ok.num_columns]
    eof2 = payloads[2 + ok.num_params + ok.num_columns]
    assert len(payloads) == 3 + ok.num_params + ok.num_columns
    # fe | 0000 (warnings) | 0200 (SERVER_STATUS_AUTOCOMMIT)
    assert eof1 == eof2 == bytes.fromhex("fe00000200")
    # The parameter: 03 "def" | 00 | 00 | 00 | 01 "?" | 00 | 0c | ff00 (collation 255,
    # utf8mb4_0900_ai_ci) | 54550100 (87380) | fd (VAR_STRING) | 0000 | 1f | 0000.
    (param,) = [rs.parse_column_definition(p, CLIENT_PROTOCOL_41) for p in params]
    assert param == ColumnDefinition(
        name="?", character_set=255, column_length=87380, type=VAR_STRING, decimals=0x1F
    )
    cols = [rs.parse_column_definition(p, CLIENT_PROTOCOL_41) for p in columns]
    assert [c.name for c in cols] == [
        "id", "state", "name", "description", "ip", "nat_ip", "cpu_num", "memory_size",
        "arch", "os", "kernel_version", "vtap_max", "synced_at", "nat_ip_enabled",
        "node_type", "region_domain_prefix", "lcuuid",
    ]  # fmt: skip
    assert {(c.schema, c.table, c.org_table) for c in cols} == {
        ("deepflow", "controller", "controller")
    }
    by_name = {c.name: c for c in cols}
    # id: 3f00 | 0b000000 | 03 (LONG) | 0342 (NOT_NULL|PRI_KEY|AUTO_INCREMENT|PART_KEY) | 00
    i = by_name["id"]
    assert (i.character_set, i.column_length, i.type, i.decimals) == (63, 11, LONG, 0)
    assert i.flags == NOT_NULL | PRI_KEY | AUTO_INCREMENT | PART_KEY
    # memory_size: 3f00 | 14000000 (20) | 08 (LONGLONG) | 0000 | 00
    m = by_name["memory_size"]
    assert (m.character_set, m.column_length, m.type, m.flags) == (63, 20, LONGLONG, 0)
    # name: ff00 | 00010000 (256 = 64 chars x 4) | fe (STRING) | 0000 | 00
    n = by_name["name"]
    assert (n.character_set, n.column_length, n.type, n.flags) == (255, 256, STRING, 0)
    # synced_at: 3f00 | 13000000 (19) | 0c (DATETIME) | 8100 (NOT_NULL | BINARY) | 00
    s = by_name["synced_at"]
    assert (s.column_length, s.type, s.flags) == (19, DATETIME, NOT_NULL | BINARY)
    # nat_ip_enabled: 3f00 | 01000000 | 01 (TINY) | 0000 -- a TINYINT(1) "boolean".
    assert (by_name["nat_ip_enabled"].type, by_name["nat_ip_enabled"].column_length) == (TINY, 1)
    for p in params + columns:
        c = rs.parse_column_definition(p, CLIENT_PROTOCOL_41)
        assert rs.build_column_definition(c, CLIENT_PROTOCOL_41) == p


# --------------------------------------------------------------- parameter round trips


@given(st.lists(param_values(), max_size=24))
def test_params_round_trip(values: list[object]) -> None:
    block = pp.encode_params(values)
    decoded, types = pp.decode_params(block, len(values))
    assert list(decoded) == [as_decoded(v) for v in values]
    assert types == tuple(pp.infer_type(v) for v in values)
    # Reusing the types (new-params-bound flag 0) reads the same values.
    block0 = pp.encode_params(values, send_types=False)
    assert pp.decode_params(block0, len(values), types=types) == (decoded, types)
    # The layout by hand: bitmap, flag, types.
    n = len(values)
    if not n:
        assert block == block0 == b""
        return
    nbytes = (n + 7) // 8
    bitmap = int.from_bytes(block[:nbytes], "little")
    assert bitmap == sum(1 << i for i, v in enumerate(values) if v is None)
    assert block[nbytes] == 1 and block0[nbytes] == 0
    assert block[nbytes + 1 : nbytes + 1 + 2 * n] == b"".join(
        t.to_bytes(2, "little") for t in types
    )
    assert block0[nbytes + 1 :] == block[nbytes + 1 + 2 * n :]


@given(st.lists(param_values(), min_size=1, max_size=12))
def test_param_block_prefixes_raise_protocol_errors(values: list[object]) -> None:
    block = pp.encode_params(values)
    check_prefixes(lambda b: pp.decode_params(b, len(values)), block)
    # ... and one byte more is left over.
    with pytest.raises(MalformedPacket) as info:
        pp.decode_params(block + b"\x00", len(values))
    assert info.value.offset == len(block)


@given(st.binary(max_size=60), st.integers(0, 20))
def test_arbitrary_blocks_raise_only_protocol_errors(data: bytes, n: int) -> None:
    parse_or_error(lambda b: pp.decode_params(b, n), data)
    parse_or_error(lambda b: pp.decode_params(b, n, types=(STRING,) * n), data)


# (value, 2-byte type, value bytes) -- by hand from the binary protocol description.
EXACT = [
    (True, TINY, b"\x01"),
    (-128, TINY, b"\x80"),
    (127, TINY, b"\x7f"),
    (128, SHORT, b"\x80\x00"),
    (-32769, LONG, b"\xff\x7f\xff\xff"),
    (2**31, LONGLONG, b"\x00\x00\x00\x80\x00\x00\x00\x00"),
    (-(2**63), LONGLONG, b"\x00\x00\x00\x00\x00\x00\x00\x80"),
    (2**63 - 1, LONGLONG, b"\xff\xff\xff\xff\xff\xff\xff\x7f"),
    (2**63, LONGLONG | UNSIGNED, b"\x00\x00\x00\x00\x00\x00\x00\x80"),
    (2**64 - 1, LONGLONG | UNSIGNED, b"\xff" * 8),
    (1.5, DOUBLE, b"\x00\x00\x00\x00\x00\x00\xf8\x3f"),
    # Decimals as plain text, never with an exponent.
    (
        Decimal("-0.000000000000000000000000000001"),
        NEWDECIMAL,
        b"\x21-0.000000000000000000000000000001",
    ),
    (Decimal("1E+2"), NEWDECIMAL, b"\x03100"),
    (Decimal("-1.5E-7"), NEWDECIMAL, b"\x0b-0.00000015"),
    (Decimal("12.50"), NEWDECIMAL, b"\x0512.50"),
    ("h\u00e9", VAR_STRING, b"\x03h\xc3\xa9"),
    ("x" * 251, VAR_STRING, b"\xfc\xfb\x00" + b"x" * 251),
    (b"\x00\xff", BLOB, b"\x02\x00\xff"),
    (bytearray(b"ab"), BLOB, b"\x02ab"),
    (memoryview(b""), BLOB, b"\x00"),
    # DATE: 04 | year (2) | month | day
    (dt.date(1815, 12, 10), DATE, b"\x04\x17\x07\x0c\x0a"),
    # DATETIME: the shortest length that keeps the value (4, 7 or 11; 0 would be the
    # zero date).
    (dt.datetime(2024, 5, 1), DATETIME, b"\x04\xe8\x07\x05\x01"),
    (dt.datetime(2024, 5, 1, 10, 11, 12), DATETIME, b"\x07\xe8\x07\x05\x01\x0a\x0b\x0c"),
    (
        dt.datetime(2024, 5, 1, 10, 11, 12, 345000),
        DATETIME,
        b"\x0b\xe8\x07\x05\x01\x0a\x0b\x0c\xa8\x43\x05\x00",
    ),
    (
        dt.datetime(1, 1, 1, 0, 0, 0, 1),
        DATETIME,
        b"\x0b\x01\x00\x01\x01\x00\x00\x00\x01\x00\x00\x00",
    ),
    # TIME: length | sign | days (4) | hours | minutes | seconds [| microseconds (4)]
    (dt.time(0), TIME, b"\x00"),
    (dt.timedelta(0), TIME, b"\x00"),
    (dt.time(1, 2, 3), TIME, b"\x08\x00\x00\x00\x00\x00\x01\x02\x03"),
    (dt.time(23, 59, 59, 999999), TIME, b"\x0c\x00\x00\x00\x00\x00\x17\x3b\x3b\x3f\x42\x0f\x00"),
    # -00:30:00 keeps its sign though hours are 0 (PROTOCOL_NOTES #17).
    (-dt.timedelta(minutes=30), TIME, b"\x08\x01\x00\x00\x00\x00\x00\x1e\x00"),
    # timedelta(days=-1, hours=1) is -23:00:00.
    (dt.timedelta(days=-1, hours=1), TIME, b"\x08\x01\x00\x00\x00\x00\x17\x00\x00"),
    # -(2 days 23:59:54.999993): sign 1, days 2, 23:59:54, 999993 us.
    (
        dt.timedelta(days=-3, seconds=5, microseconds=7),
        TIME,
        b"\x0c\x01\x02\x00\x00\x00\x17\x3b\x36\x39\x42\x0f\x00",
    ),
    # The limits: 838:59:59 = 34 days 22:59:59.
    (TIME_LIMIT, TIME, b"\x08\x00\x22\x00\x00\x00\x16\x3b\x3b"),
    (-TIME_LIMIT, TIME, b"\x08\x01\x22\x00\x00\x00\x16\x3b\x3b"),
]


@pytest.mark.parametrize(("value", "ftype", "data"), EXACT)
def test_param_bytes_by_hand(value: object, ftype: int, data: bytes) -> None:
    block = pp.encode_params([value])
    assert block == b"\x00\x01" + ftype.to_bytes(2, "little") + data
    assert pp.decode_params(block, 1) == ((as_decoded(value),), (ftype,))


def test_null_bitmap_beyond_eight_parameters() -> None:
    # 20 parameters, NULL at 0, 7, 8, 15 and 19: bitmap 81 81 08 (3 bytes, no offset --
    # binary rows use a 2-bit offset, parameters do not: PROTOCOL_NOTES #24).
    nulls = {0, 7, 8, 15, 19}
    values: list[object] = [None if i in nulls else i for i in range(20)]
    block = pp.encode_params(values)
    assert block[:3] == b"\x81\x81\x08"
    assert block[3] == 1
    assert block[4:44] == b"".join(
        (NULL if i in nulls else TINY).to_bytes(2, "little") for i in range(20)
    )
    assert block[44:] == bytes(i for i in range(20) if i not in nulls)
    assert pp.decode_params(block, 20)[0] == tuple(values)


# -------------------------------------------------------------- real parameter blocks

# deepflow__mysql-exec.pcap: COM_STMT_EXECUTE of statement 55 (97 parameters), 1602
# bytes: 17 | 37000000 | 00 (no cursor) | 01000000 (iteration count) | the block.
PCAP_EXECUTE_97 = (
    "17370000000001000000000000000000000000000000000108000800080008000800fe00fe00fe00fe00fe00"
    "fe00fe00fe00fe0008000800fe00fe00fe0008000800080008000800fe00fe00fe00fe00fe00fe00fe00fe00"
    "fe0008000800fe00fe00fe0008000800080008000800fe00fe00fe00fe00fe00fe00fe00fe00fe0008000800"
    "fe00fe00fe0008000800080008000800fe00fe00fe00fe00fe00fe00fe00fe00fe00fe0008000800fe00fe00"
    "fe0008000800080008000800fe00fe00fe00fe00fe00fe00fe00fe00fe00fe0008000800fe00fe00fe000c00"
    "0000000000000030b2a105000000d00700000000000000000000000000000100000000000000076d61737465"
    "722d2434393963373533362d383036642d346430302d616365642d616264336665613264613736276d617374"
    "65722d64656570666c6f772d7365727665722d366334393662636634342d34346d6b66206138396531376430"
    "6465333763393735353733646438613362343964313736340a31302e312e32332e323307342e31392e313713"
    "323032332d30372d31342031383a30313a35370d31302e3233332e3130322e34320a616e616c797a65723233"
    "010000000000000002000000000000000a616e616c797a65723233067838365f36340d616c70696e6520332e"
    "31382e34100000000000000000b0e68907000000d00700000000000000000000000000000100000000000000"
    "076d61737465722d2432626166623938392d336335362d346431652d383733312d3834643165613330313866"
    "63276d61737465722d64656570666c6f772d7365727665722d366334393662636634342d6b64737670206138"
    "3965313764306465333763393735353733646438613362343964313736340a31302e312e32332e323107342e"
    "31392e313713323032332d30372d31342031383a30313a35380e31302e3233332e3130312e3133360c636f6e"
    "74726f6c6c65723231020000000000000002000000000000000c636f6e74726f6c6c65723231067838365f36"
    "340d616c70696e6520332e31382e340c000000000000000030b2a105000000d0070000000000000000000000"
    "0000000100000000000000076d61737465722d2431383131333539392d626462342d343535312d623736352d"
    "383734666366623434373533276d61737465722d64656570666c6f772d7365727665722d3663343936626366"
    "34342d376b37636b2061383965313764306465333763393735353733646438613362343964313736340a3130"
    "2e312e32332e323207342e31392e313713323032332d30372d31342031383a30313a35380d31302e3233332e"
    "37382e3131310a616e616c797a65723232030000000000000002000000000000000a616e616c797a65723232"
    "067838365f36340d616c70696e6520332e31382e3410000000000000000020ecc907000000d0070000000000"
    "000000000000000000020000000000000007736c617665312d2465343761363735362d636339332d34323139"
    "2d613162352d65303063313636316636613827736c617665312d64656570666c6f772d7365727665722d3537"
    "37626339663935642d6c636e6677206238383035376539353532363566336364346262323263393938613938"
    "6465630d3132322e3139332e32372e37320a31302e35302e312e323007342e31392e313713323032332d3037"
    "2d31342031383a33343a32310d31302e3233332e39362e3137350c636f6e74726f6c6c657232300400000000"
    "00000002000000000000000c636f6e74726f6c6c65723230067838365f36340d616c70696e6520332e31382e"
    "341800000000000000003099a90f000000d0070000000000000000000000000000020000000000000007736c"
    "617665312d2433663938666263322d343438612d343762342d626363632d3139643738376635383665612773"
    "6c617665312d64656570666c6f772d7365727665722d353737626339663935642d6e73347667206238383035"
    "3765393535323635663363643462623232633939386139386465630d3132322e3139332e32372e3732093130"
    "2e35302e312e3807342e31392e313713323032332d30372d31342031383a33343a32350d31302e3233332e37"
    "342e31353209616e616c797a6572380500000000000000020000000000000009616e616c797a657238067838"
    "365f36340d616c70696e6520332e31382e34"
)


def test_real_parameter_blocks_from_a_go_client() -> None:
    # deepflow__mysql-statement.pcap, EXECUTE of statement 96: the block is 00 (no
    # NULLs) | 01 (types follow) | fe00 (STRING) | 11 "deepflow-server-0".
    cmd = pcmd.parse_command(
        bytes.fromhex("176000000000010000000001fe001164656570666c6f772d7365727665722d30"), 0
    )
    assert isinstance(cmd, StmtExecute)
    assert pp.decode_params(cmd.params, 1) == (("deepflow-server-0",), (STRING,))
    assert pp.encode_params(["deepflow-server-0"], types=[STRING]) == cmd.params
    # EXECUTE of statement 97 (two parameters): 00 | 01 | 0800 (LONGLONG) fe00 (STRING) |
    # 0100000000000000 | 0c "10.33.40.162".
    block = bytes.fromhex("00010800fe000100000000000000") + b"\x0c10.33.40.162"
    assert pp.decode_params(block, 2) == ((1, "10.33.40.162"), (LONGLONG, STRING))
    assert pp.encode_params([1, "10.33.40.162"], types=[LONGLONG, STRING]) == block

    # 97 parameters: a 13-byte NULL bitmap (all zero), 01, 97 types, the values.
    cmd = pcmd.parse_command(bytes.fromhex("".join(PCAP_EXECUTE_97)), 0)
    assert isinstance(cmd, StmtExecute)
    assert (cmd.statement_id, cmd.flags, cmd.iteration_count) == (55, 0, 1)
    assert cmd.params[:14] == bytes(13) + b"\x01"
    values, types = pp.decode_params(cmd.params, 97)
    assert set(types) == {LONGLONG, STRING}
    # The first row of the INSERT: cpu_num, memory_size, vtap_max, nat_ip_enabled,
    # node_type, region_domain_prefix, lcuuid, ... (the Go driver sends integers as
    # LONGLONG and everything else, the DATETIME too, as STRING).
    assert values[:12] == (
        12,
        24187645952,
        2000,
        0,
        1,
        "master-",
        "499c7536-806d-4d00-aced-abd3fea2da76",
        "master-deepflow-server-6c496bcf44-44mkf",
        "a89e17d0de37c975573dd8a3b49d1764",
        "10.1.23.23",
        "4.19.17",
        "2023-07-14 18:01:57",
    )
    assert None not in values
    # Rebuilt with the client's types, the block comes out byte for byte.
    assert pp.encode_params(values, types=types) == cmd.params


# -------------------------------------------------------- explicit types and long data


@pytest.mark.parametrize(
    ("value", "ftype", "data", "decoded"),
    [
        (255, TINY | UNSIGNED, b"\xff", 255),
        (-1, SHORT, b"\xff\xff", -1),
        (2024, YEAR, b"\xe8\x07", 2024),
        (-8388608, INT24, b"\x00\x00\x80\xff", -8388608),  # INT24 travels in 4 bytes
        (4294967295, LONG | UNSIGNED, b"\xff\xff\xff\xff", 4294967295),
        (0.5, FLOAT, b"\x00\x00\x00\x3f", 0.5),
        (3, DOUBLE, b"\x00\x00\x00\x00\x00\x00\x08\x40", 3.0),
        (7, NEWDECIMAL, b"\x017", Decimal(7)),
        ('{"a": 1}', JSON, b'\x08{"a": 1}', '{"a": 1}'),
        ("b", ENUM, b"\x01b", "b"),
        (b"\x05", BIT, b"\x01\x05", b"\x05"),
        ("txt", BLOB, b"\x03txt", b"txt"),  # str into a BLOB: UTF-8
        (b"raw", VAR_STRING, b"\x03raw", "raw"),
        (dt.date(2024, 1, 2), DATETIME, b"\x04\xe8\x07\x01\x02", dt.datetime(2024, 1, 2)),
        (dt.datetime(2024, 1, 2, 3, 4, 5), DATE, b"\x04\xe8\x07\x01\x02", dt.date(2024, 1, 2)),
        (dt.datetime(2024, 1, 2, 3, 4, 5), TIMESTAMP, b"\x07\xe8\x07\x01\x02\x03\x04\x05",
         dt.datetime(2024, 1, 2, 3, 4, 5)),
    ],
)  # fmt: skip
def test_explicit_types(value: object, ftype: int, data: bytes, decoded: object) -> None:
    block = pp.encode_params([value], types=[ftype])
    assert block == b"\x00\x01" + ftype.to_bytes(2, "little") + data
    assert pp.decode_params(block, 1) == ((decoded,), (ftype,))


def test_types_from_the_previous_execute() -> None:
    first = pp.encode_params([1, "a", None])
    _, types = pp.decode_params(first, 3)
    assert types == (TINY, VAR_STRING, NULL)
    # Re-executed without types (flag 0): the caller keeps the statement's types.
    again = pp.encode_params([2, "b", None], types=types, send_types=False)
    assert again == b"\x04\x00\x02\x01b"
    assert pp.decode_params(again, 3, types=types) == ((2, "b", None), types)
    # With no previous types the flag-0 block cannot be read: an error at the flag.
    with pytest.raises(MalformedPacket) as info:
        pp.decode_params(again, 3)
    assert info.value.offset == 1


def test_long_data_parameters_have_no_value() -> None:
    # Parameter 1 was streamed with COM_STMT_SEND_LONG_DATA: its type stays, its NULL
    # bit is clear and no value is written.
    block = pp.encode_params([7, b"ignored", "z"], long_data={1})
    assert block == b"\x00\x01" + bytes((TINY, 0, BLOB, 0, VAR_STRING, 0)) + b"\x07\x01z"
    values, types = pp.decode_params(block, 3, long_data={1})
    assert values == (7, pp.LONG_DATA, "z") and types == (TINY, BLOB, VAR_STRING)
    assert repr(pp.LONG_DATA) == "LONG_DATA"


def test_zero_dates_and_unknown_types_decode_without_loss() -> None:
    # DATETIME of length 0 is 0000-00-00 00:00:00, a partial DATE 2016-00-00 (#15):
    # neither is a Python date, and neither is NULL.
    block = b"\x00\x01" + bytes((DATETIME, 0, DATE, 0, DATE, 0, DATETIME, 0))
    block += b"\x00" + b"\x04\xe0\x07\x00\x00" + b"\x00" + b"\x0b" + bytes(7) + b"\x05\x00\x00\x00"
    assert pp.decode_params(block, 4)[0] == (
        "0000-00-00 00:00:00",
        "2016-00-00",
        "0000-00-00",
        "0000-00-00 00:00:00.000005",
    )
    # An unknown type (VECTOR, 242) is read as length-encoded bytes (#23).
    assert pp.decode_params(b"\x00\x01\xf2\x00\x02ab", 1)[0] == (b"ab",)
    # MYSQL_TYPE_NULL carries no value even with its NULL bit clear.
    assert pp.decode_params(b"\x00\x01\x06\x00", 1)[0] == (None,)


@pytest.mark.parametrize(
    ("block", "n", "error", "offset"),
    [
        (b"\x00\x02\x01\x00\x05", 1, MalformedPacket, 1),  # new-params-bound flag 2
        (b"\x00\x01\x0c\x00\x05" + bytes(5), 1, MalformedPacket, 4),  # DATETIME length 5
        (b"\x00\x01\x0a\x00\x03" + bytes(3), 1, MalformedPacket, 4),  # DATE length 3
        (b"\x00\x01\x0b\x00\x04" + bytes(4), 1, MalformedPacket, 4),  # TIME length 4
        (b"\x00\x01\xf6\x00\x031e", 1, TruncatedPacket, 4),  # DECIMAL cut short
        (b"\x00\x01\xf6\x00\x03abc", 1, MalformedPacket, 4),  # DECIMAL text "abc"
        (b"\x00\x01\xf6\x00\x03NaN", 1, MalformedPacket, 4),
        (b"\x00\x01\xf6\x00\x041_00", 1, MalformedPacket, 4),  # Python-only syntax
        (b"\x00\x01\x08\x00\x01\x02", 1, TruncatedPacket, 4),  # LONGLONG cut short
        (b"\x00", 9, TruncatedPacket, 0),  # a 2-byte bitmap needs 2 bytes
        (b"\x00", 0, MalformedPacket, 0),  # no parameters: the block is empty
        # TIME whose days do not fit a timedelta.
        (b"\x00\x01\x0b\x00\x08\x00\xff\xff\xff\xff\x00\x00\x00", 1, MalformedPacket, 4),
    ],
)
def test_decode_errors(block: bytes, n: int, error: type[ProtocolError], offset: int) -> None:
    with pytest.raises(error) as info:
        pp.decode_params(block, n)
    assert type(info.value) is error and info.value.offset == offset


def test_decimal_text_forms_servers_accept() -> None:
    for text, value in [
        (b"-1.5e3", Decimal("-1500")),
        (b".5", Decimal("0.5")),
        (b"+7.", Decimal(7)),
    ]:
        block = b"\x00\x01\xf6\x00" + bytes((len(text),)) + text
        assert pp.decode_params(block, 1)[0] == (value,)


@pytest.mark.parametrize(
    ("values", "types", "error"),
    [
        ([2**64], None, ValueError),
        ([-(2**63) - 1], None, ValueError),
        ([256], [TINY | UNSIGNED], ValueError),
        ([-1], [LONGLONG | UNSIGNED], ValueError),
        ([float("nan")], None, ValueError),
        ([float("inf")], None, ValueError),
        ([1e300], [FLOAT], ValueError),
        ([Decimal("NaN")], None, ValueError),
        ([Decimal("-Infinity")], None, ValueError),
        ([dt.datetime(2024, 1, 1, tzinfo=dt.UTC)], None, ValueError),
        ([dt.time(1, tzinfo=dt.UTC)], None, ValueError),
        ([TIME_LIMIT + dt.timedelta(microseconds=1)], None, ValueError),
        ([-TIME_LIMIT - dt.timedelta(seconds=1)], None, ValueError),
        (["\ud800"], None, ValueError),  # a lone surrogate is not UTF-8
        ([object()], None, TypeError),
        ([{1: 2}], None, TypeError),
        ([1 + 2j], None, TypeError),
        (["1"], [LONG], TypeError),
        ([1.5], [NEWDECIMAL], TypeError),
        ([True], [DOUBLE], TypeError),
        ([1], [DATE], TypeError),
        ([1], [TIME], TypeError),
        ([1], [VAR_STRING], TypeError),
        ([1], [NULL], TypeError),
        ([1], [0x1_0000], ValueError),
        ([1], [242], ValueError),  # no encoder for VECTOR
        ([1, 2], [TINY], ValueError),  # types of the wrong length
        ([None] * 65536, None, ValueError),
    ],
)
def test_encode_refuses_bad_values(
    values: list[object], types: Sequence[int | None] | None, error: type[Exception]
) -> None:
    with pytest.raises(error):
        pp.encode_params(values, types=types)


def test_encode_argument_checks() -> None:
    with pytest.raises(ValueError):
        pp.encode_params([1], long_data={1})
    with pytest.raises(ValueError):
        pp.decode_params(b"", 70000)
    with pytest.raises(ValueError):
        pp.decode_params(b"\x00\x00", 1, types=(TINY, TINY))
    assert pp.encode_params([]) == b"" and pp.decode_params(b"", 0) == ((), ())


def test_last_prepared_statement_id_passes_through() -> None:
    # MariaDB 10.2+: statement id 0xFFFFFFFF = the statement prepared last, so a client
    # can pipeline PREPARE and EXECUTE (PROTOCOL_NOTES #27).
    params = pp.encode_params([42])
    cmd = StmtExecute(statement_id=0xFFFFFFFF, params=params)
    payload = pcmd.build_command(cmd, 0)
    assert payload == b"\x17\xff\xff\xff\xff\x00\x01\x00\x00\x00" + b"\x00\x01\x01\x00\x2a"
    assert pcmd.parse_command(payload, 0) == cmd
    close = StmtClose(statement_id=0xFFFFFFFF)
    assert pcmd.parse_command(pcmd.build_command(close, 0), 0) == close


# --------------------------------------------------------------------- the real MariaDB


def rows_of(events: list[Event]) -> list[bytes]:
    return [r for ev in events if isinstance(ev, Rows) for r in ev.rows]


@pytest.mark.mariadb
def test_prepare_and_execute_against_mariadb(mariadb_dsn: Dsn) -> None:
    db = BlockingClient(mariadb_dsn)
    try:
        caps = db.conn.capabilities
        (ok,) = db.command(
            Query(sql="CREATE TEMPORARY TABLE mw_ps (id INT PRIMARY KEY, s VARCHAR(10), n INT)")
        )
        assert isinstance(ok, Ok)
        (prep,) = db.command(StmtPrepare(sql="INSERT INTO mw_ps VALUES (?, ?, ?)"))
        assert isinstance(prep, StmtPrepared) and prep.columns == ()
        # MariaDB describes each placeholder as: def, no names but "?", an empty
        # extended-metadata block (negotiated by default), 0x0c, 3f00 (binary), length
        # 0, type 06 (MYSQL_TYPE_NULL: unknown until bound), flags 8000 (BINARY),
        # decimals 0.
        assert caps & CLIENT_MARIADB_EXTENDED
        params = list(prep.params)
        assert params == [ColumnDefinition(name="?", character_set=63, type=NULL, flags=BINARY)] * 3
        assert rs.build_column_definition(prep.params[0], caps) == bytes.fromhex(
            "03646566000000013f00000c3f0000000000068000000000"
        )
        (inserted,) = db.command(
            StmtExecute(statement_id=prep.statement_id, params=pp.encode_params([42, "x", None]))
        )
        assert isinstance(inserted, Ok) and inserted.affected_rows == 1

        (sel,) = db.command(StmtPrepare(sql="SELECT id, s, n FROM mw_ps WHERE id = ?"))
        assert isinstance(sel, StmtPrepared) and len(sel.params) == 1
        cols = list(sel.columns)
        assert [(c.name, c.type, c.character_set) for c in cols] == [
            ("id", LONG, 63),
            ("s", VAR_STRING, 45),
            ("n", LONG, 63),
        ]
        events = db.command(
            StmtExecute(statement_id=sel.statement_id, params=pp.encode_params([42]))
        )
        start, end = events[0], events[-1]
        assert isinstance(start, ResultsetStart) and start.binary
        assert start.columns == sel.columns
        assert isinstance(end, ResultsetEnd)
        # The binary row by hand: 00 (header) | NULL bitmap with a 2-bit offset:
        # (3 + 7 + 2) // 8 = 1 byte, column 2 NULL -> bit 2 + 2 = 0x10 | INT 42 as 4
        # bytes | VARCHAR 'x' length-encoded | (nothing for the NULL).
        assert rows_of(events) == [b"\x00\x10" + (42).to_bytes(4, "little") + b"\x01x"]
        # COM_STMT_CLOSE has no response; the connection stays usable.
        db.sock.sendall(db.conn.send(StmtClose(statement_id=sel.statement_id)))
        (again,) = db.command(Query(sql="DO 1"))
        assert isinstance(again, Ok)
    finally:
        db.close()


ROUND_TRIP_TABLE = """CREATE TABLE {name} (
  k INT PRIMARY KEY, bu BIGINT UNSIGNED, bs BIGINT, dm DECIMAL(65,30), db DOUBLE,
  s VARCHAR(300) CHARACTER SET utf8mb4, b VARBINARY(300), d DATE, dtm DATETIME(6),
  t TIME(6), nul INT)"""


@pytest.mark.mariadb
def test_values_sent_by_mywire_read_back_by_pymysql(mariadb_dsn: Dsn) -> None:
    name = "mw_ps_values"
    rows: list[list[object]] = [
        [
            1,
            2**64 - 1,
            -(2**63),
            Decimal("-0.000000000000000000000000000001"),
            1.5,
            "h\u00e9llo \U0001f600",
            b"\x00\xff",
            dt.date(1815, 12, 10),
            dt.datetime(2024, 5, 1, 10, 11, 12, 345678),
            dt.timedelta(days=-1, hours=1, microseconds=5),
            None,
        ],
        [
            2,
            0,
            2**63 - 1,
            Decimal("12345678901234567890123456789012345.123456789012345678901234567890"),
            -0.0,
            "x" * 300,
            bytearray(300),
            dt.date(9999, 12, 31),
            dt.datetime(2024, 5, 1),
            -TIME_LIMIT,
            None,
        ],
        [3, 255, -1, Decimal("1E+2"), 1e-300, "", b"", dt.date(1, 1, 1),
         dt.datetime(1, 1, 1, 0, 0, 0, 1), dt.time(23, 59, 59, 999999), None],
    ]  # fmt: skip
    admin = pymysql_connect(mariadb_dsn)
    db = BlockingClient(mariadb_dsn)
    try:
        with admin.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {name}")
            cur.execute(ROUND_TRIP_TABLE.format(name=name))
        (prep,) = db.command(StmtPrepare(sql=f"INSERT INTO {name} VALUES ({', '.join('?' * 11)})"))
        assert isinstance(prep, StmtPrepared) and len(prep.params) == 11
        for row in rows:
            (ok,) = db.command(
                StmtExecute(statement_id=prep.statement_id, params=pp.encode_params(row))
            )
            assert isinstance(ok, Ok), ok
        with admin.cursor() as cur:
            cur.execute(f"SELECT * FROM {name} ORDER BY k")
            got = cur.fetchall()
        for sent, back in zip(rows, got, strict=True):
            # PyMySQL reads TIME as timedelta; DECIMAL(65,30) pads the scale.
            assert [as_decoded(v) for v in sent] == list(back)
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {name}")
        admin.close()
        db.close()
