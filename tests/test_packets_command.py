"""mywire.packets.command: every COM_* the client sends, query attributes, COM_CHANGE_USER.

Real payloads: the bundled recording ``mywire/samples/mariadb-session.mwtrace`` (PyMySQL
1.2.4), public captures (/work/shared/captures/SOURCES.md: zeek/zeek
``mysql/query-attr.pcap`` (libmysql 8.0.29), ``mysql-9.0.0-query-attributes.pcap``,
``change-user-success.pcap`` (mysql-connector-python 9.0.0), ``caching_sha2_password.pcap``;
deepflowio/deepflow ``mysql-statement.pcap`` (a Go client's prepared statements),
``mysql-error.pcap``) and the COM_QUERY examples of the MySQL documentation.  Layouts, by
hand, from the MySQL "Text Protocol" / "Prepared Statements" pages.
"""

from __future__ import annotations

from typing import get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mywire import MalformedPacket, TruncatedPacket, UnsupportedFeature
from mywire.events import (
    ChangeUser,
    Command,
    FieldList,
    InitDb,
    Ping,
    ProcessKill,
    Query,
    QueryAttribute,
    Quit,
    SetOption,
    StmtClose,
    StmtExecute,
    StmtFetch,
    StmtPrepare,
    StmtReset,
    UnknownCommand,
)
from mywire.packets import command as c

from helpers import check_prefixes, parse_or_error, trace_payloads
from strategies import DECODED_COMMAND_BYTES, command_strategies, commands

CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_PLUGIN_AUTH = 0x80000
CLIENT_CONNECT_ATTRS = 0x100000
CLIENT_QUERY_ATTRIBUTES = 0x8000000

PYMYSQL_CAPS = 0x003AA20D  # the recording: no CLIENT_QUERY_ATTRIBUTES
LIBMYSQL_8029_CAPS = 0x19FFA685  # zeek query-attr.pcap's response: QUERY_ATTRIBUTES set
CONNECTOR_PY_CAPS = 0x181BA20D  # zeek change-user-success.pcap's response

VERSION_COMMENT = "select @@version_comment limit 1"


def test_recorded_commands() -> None:
    client = [p for p in trace_payloads() if not p.from_server]
    queries = [p.data for p in client[1:] if p.data[:1] == b"\x03"]
    assert queries[0] == b"\x03SET NAMES utf8mb4"
    for p in queries:
        q = c.parse_command(p, PYMYSQL_CAPS)
        assert q == Query(sql=p[1:].decode())
        assert q.attributes is None
        assert c.build_command(q, PYMYSQL_CAPS) == p
    last = client[-1]
    assert last.data == b"\x01" and last.seq == 0
    assert c.parse_command(last.data, PYMYSQL_CAPS) == Quit()
    assert c.build_command(Quit(), PYMYSQL_CAPS) == b"\x01"


def test_docs_com_query_example() -> None:
    # 21 00 00 00 | 03 "select @@version_comment limit 1"
    # https://dev.mysql.com/doc/internals/en/com-query.html
    p = b"\x03" + VERSION_COMMENT.encode()
    assert c.parse_command(p, 0) == Query(sql=VERSION_COMMENT)
    assert c.build_command(Query(sql=VERSION_COMMENT), 0) == p


def test_docs_com_query_with_query_attributes() -> None:
    # 03 | 01 (1 parameter) | 01 (1 set) | 00 (NULL bitmap) | 01 (new params bound) |
    # fe 00 (MYSQL_TYPE_STRING) | 01 "a" | 01 "1" | the SQL
    # https://dev.mysql.com/doc/dev/mysql-server/8.0.40/page_protocol_com_query.html
    p = bytes.fromhex("03010100 01fe00 0161 0131".replace(" ", "")) + VERSION_COMMENT.encode()
    q = Query(sql=VERSION_COMMENT, attributes=(QueryAttribute(name="a", value="1"),))
    assert c.parse_command(p, CLIENT_QUERY_ATTRIBUTES) == q
    # mywire writes string attributes as MYSQL_TYPE_STRING (0xfe), as libmysql does.
    assert c.build_command(q, CLIENT_QUERY_ATTRIBUTES) == p


@pytest.mark.parametrize(
    ("hexdata", "attributes", "sql"),
    [
        # libmysql 8.0.29 without attributes: count 00, sets 01, then the SQL.
        ("030001", (), VERSION_COMMENT),
        # ... with two: 02 01 | 00 | 01 | fe00 02 "n1" | fe00 02 "n2" | 02 "v1" | 02 "v2"
        (
            "0302010001fe00026e31fe00026e32027631027632",
            (QueryAttribute(name="n1", value="v1"), QueryAttribute(name="n2", value="v2")),
            "select now()",
        ),
    ],
    ids=["none", "two-strings"],
)
def test_real_query_attributes(
    hexdata: str, attributes: tuple[QueryAttribute, ...], sql: str
) -> None:
    p = bytes.fromhex(hexdata) + sql.encode()
    q = c.parse_command(p, LIBMYSQL_8029_CAPS)
    assert q == Query(sql=sql, attributes=attributes)
    rebuilt = c.build_command(q, LIBMYSQL_8029_CAPS)
    assert rebuilt == p


MYSQL9_TYPED_ATTRIBUTES = bytes.fromhex(
    "03040100010180076e756d62657231fe0007737472696e67310a000564617465310c0009646174657469"
    "6d65312a086120737472696e6704c3070a1207c607091a0c0d0e53454c4543542076657273696f6e2829"
)


def test_mysql_9_typed_query_attributes() -> None:
    # 04 attributes: number1 TINY|UNSIGNED (0x8001) = 0x2a, string1 STRING = "a string",
    # date1 DATE = 2011-10-18, datetime1 DATETIME = 1990-09-26 12:13:14.  Dates are not
    # decoded by this layer, and it says so with UnsupportedFeature.
    with pytest.raises(UnsupportedFeature):
        c.parse_command(MYSQL9_TYPED_ATTRIBUTES, LIBMYSQL_8029_CAPS)
    # The first two alone (same bytes, count 2, the date values dropped): numbers are
    # read as their decimal text.
    p = (
        bytes.fromhex("0302010001")
        + bytes.fromhex("0180076e756d62657231fe0007737472696e6731")
        + bytes.fromhex("2a086120737472696e67")
        + b"SELECT version()"
    )
    assert c.parse_command(p, LIBMYSQL_8029_CAPS) == Query(
        sql="SELECT version()",
        attributes=(
            QueryAttribute(name="number1", value="42"),
            QueryAttribute(name="string1", value="a string"),
        ),
    )


@pytest.mark.parametrize(
    ("type_hex", "value_hex", "text"),
    [
        ("0100", "ff", "-1"),  # TINY
        ("0180", "ff", "255"),  # TINY UNSIGNED
        ("0200", "feff", "-2"),  # SHORT
        ("0300", "00000080", "-2147483648"),  # LONG
        ("0880", "ffffffffffffffff", "18446744073709551615"),  # LONGLONG UNSIGNED
        ("0500", "000000000000f83f", "1.5"),  # DOUBLE
        ("0400", "0000c03f", "1.5"),  # FLOAT
        ("f600", "0531322e3530", "12.50"),  # NEWDECIMAL
    ],
)
def test_numeric_query_attribute_values(type_hex: str, value_hex: str, text: str) -> None:
    p = bytes.fromhex("0301010001" + type_hex + "0178" + value_hex) + b"SELECT 1"
    assert c.parse_command(p, CLIENT_QUERY_ATTRIBUTES) == Query(
        sql="SELECT 1", attributes=(QueryAttribute(name="x", value=text),)
    )


def test_null_query_attributes() -> None:
    # 3 attributes, the 1st and 3rd NULL: bitmap 0b101 (no offset, unlike binary rows).
    q = Query(
        sql="SELECT 1",
        attributes=(
            QueryAttribute(name="a", value=None),
            QueryAttribute(name="b", value="x"),
            QueryAttribute(name="c", value=None),
        ),
    )
    p = bytes.fromhex("0303010501fe000161fe000162fe0001630178") + b"SELECT 1"
    assert c.build_command(q, CLIENT_QUERY_ATTRIBUTES) == p
    assert c.parse_command(p, CLIENT_QUERY_ATTRIBUTES) == q


def test_query_attribute_errors() -> None:
    caps = CLIENT_QUERY_ATTRIBUTES
    # count 200 with 3 bytes left
    with pytest.raises(MalformedPacket) as info:
        c.parse_command(bytes.fromhex("03c801000000"), caps)
    assert info.value.offset == 1
    # new-params-bound flag 0
    with pytest.raises(MalformedPacket) as info:
        c.parse_command(bytes.fromhex("0301010000fd00016101") + b"x", caps)
    assert info.value.offset == 4
    with pytest.raises(ValueError):  # attributes without the capability
        c.build_command(Query(sql="x", attributes=(QueryAttribute(name="a", value="b"),)), 0)


# ----------------------------------------------------------------------- other commands


@pytest.mark.parametrize(
    ("hexdata", "caps", "expected"),
    [
        ("0e", 0, Ping()),  # COM_PING
        ("047400", 0, FieldList(table="t")),  # COM_FIELD_LIST "t" NUL, no wildcard
        ("0261626364", 0, InitDb(schema="abcd")),  # COM_INIT_DB of an unknown db
        # A Go client's prepared statement (deepflow mysql-statement.pcap): PREPARE,
        # EXECUTE of statement 0x60 (flags 00, iteration count 1, then NULL bitmap 00,
        # new-params-bound 01, type fe00, lenenc "deepflow-server-0"), CLOSE.
        (
            "1653454c454354202a2046524f4d2060636f6e74726f6c6c657260205748455245206e616d65203d203f",
            0,
            StmtPrepare(sql="SELECT * FROM `controller` WHERE name = ?"),
        ),
        (
            "176000000000010000000001fe001164656570666c6f772d7365727665722d30",
            0,
            StmtExecute(
                statement_id=0x60,
                flags=0,
                iteration_count=1,
                params=b"\x00\x01\xfe\x00\x11deepflow-server-0",
            ),
        ),
        (
            "1761000000000100000000010800fe0001000000000000000c31302e33332e34302e313632",
            0,
            StmtExecute(
                statement_id=0x61,
                params=bytes.fromhex("00010800fe000100000000000000") + b"\x0c10.33.40.162",
            ),
        ),
        ("1960000000", 0, StmtClose(statement_id=0x60)),
        ("0c2a000000", 0, ProcessKill(connection_id=42)),  # COM_PROCESS_KILL 42
        ("1b0100", 0, SetOption(option=1)),  # MYSQL_OPTION_MULTI_STATEMENTS_OFF
        ("1a07000000", 0, StmtReset(statement_id=7)),
        ("1c0700000064000000", 0, StmtFetch(statement_id=7, num_rows=100)),
        # COM_BINLOG_DUMP (0x12) is not decoded: kept as bytes.
        (
            "120400000000000100000062696e6c6f67",
            0,
            UnknownCommand(command=0x12, data=bytes.fromhex("0400000000000100000062696e6c6f67")),
        ),
    ],
    ids=[
        "ping",
        "field-list",
        "init-db",
        "prepare",
        "execute",
        "execute-2",
        "close",
        "kill",
        "set-option",
        "reset",
        "fetch",
        "binlog-dump",
    ],
)
def test_commands_exact_bytes(hexdata: str, caps: int, expected: Command) -> None:
    p = bytes.fromhex(hexdata)
    assert c.parse_command(p, caps) == expected
    assert c.build_command(expected, caps) == p


CHANGE_USER = bytes.fromhex(
    "11726f6f743200204e239d8a600c2e4b81f726bb457bd22a80b662ae3e058d415d9a79ee551a8c2500ff"
    "0063616368696e675f736861325f70617373776f72640096045f7069640731353831343433095f706c"
    "6174666f726d067838365f36340c5f736f757263655f686f73740774696e6b7978310c5f636c69656e"
    "745f6e616d65166d7973716c2d636f6e6e6563746f722d707974686f6e0f5f636c69656e745f6c6963"
    "656e73650747504c2d322e300f5f636c69656e745f76657273696f6e05392e302e30035f6f730c5562"
    "756e74752d32342e3034"
)


def test_change_user_from_mysql_connector_python() -> None:
    # 11 | "root2" 00 | 20 + 32 bytes | "" 00 (database) | ff00 (charset 255) |
    # "caching_sha2_password" 00 | 96 (150 bytes of attributes)
    cu = c.parse_command(CHANGE_USER, CONNECTOR_PY_CAPS)
    assert cu == ChangeUser(
        username="root2",
        auth_response=bytes.fromhex(
            "4e239d8a600c2e4b81f726bb457bd22a80b662ae3e058d415d9a79ee551a8c25"
        ),
        database="",
        character_set=255,
        auth_plugin_name="caching_sha2_password",
        attributes=(
            ("_pid", "1581443"),
            ("_platform", "x86_64"),
            ("_source_host", "tinkyx1"),
            ("_client_name", "mysql-connector-python"),
            ("_client_license", "GPL-2.0"),
            ("_client_version", "9.0.0"),
            ("_os", "Ubuntu-24.04"),
        ),
    )
    assert c.build_command(cu, CONNECTOR_PY_CAPS) == CHANGE_USER


def test_change_user_without_the_optional_tail() -> None:
    # Old form: user, NUL-terminated auth (no SECURE_CONNECTION), schema, nothing else.
    p = b"\x11bob\x00pw\x00db\x00"
    cu = ChangeUser(username="bob", auth_response=b"pw", database="db")
    assert c.parse_command(p, 0) == cu
    assert c.build_command(cu, 0) == p


def test_change_user_attribute_errors_point_into_the_attribute_block() -> None:
    # The connector's COM_CHANGE_USER with its first attribute key length raised from 4
    # to 250: the key runs past the 150-byte block.  Whatever offset is reported must lie in
    # the attribute block (from its length prefix on), not at the packet's start.
    block = CHANGE_USER.index(bytes.fromhex("96045f706964"))
    p = bytearray(CHANGE_USER)
    p[block + 1] = 250
    with pytest.raises(TruncatedPacket) as info:
        c.parse_command(bytes(p), CONNECTOR_PY_CAPS)
    assert block <= info.value.offset < len(p)


def test_change_user_builder_value_errors() -> None:
    caps = CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_ATTRS
    with pytest.raises(ValueError):  # > 255 bytes of auth data
        c.build_command(ChangeUser(username="u", auth_response=bytes(256)), caps)
    with pytest.raises(ValueError):  # a plugin name needs the character set before it
        c.build_command(ChangeUser(username="u", auth_plugin_name="p"), caps)
    with pytest.raises(ValueError):  # attributes too
        c.build_command(ChangeUser(username="u", attributes=(("a", "b"),)), caps)


@pytest.mark.parametrize(
    "hexdata",
    [
        "",  # no command byte
        "0e00",  # COM_PING with a trailing byte
        "0c2a0000",  # COM_PROCESS_KILL with 3 of 4 bytes
        "1b01",  # COM_SET_OPTION with 1 of 2 bytes
        "1c070000006400",  # COM_STMT_FETCH short
        "0474",  # COM_FIELD_LIST without NUL
        "1962000000ff",  # COM_STMT_CLOSE with a trailing byte
    ],
)
def test_malformed_commands(hexdata: str) -> None:
    with pytest.raises(MalformedPacket):
        c.parse_command(bytes.fromhex(hexdata), 0)


# ------------------------------------------------------------------------ properties


def test_strategies_cover_every_command_type() -> None:
    assert set(command_strategies(0)) == set(get_args(Command))


def test_unknown_command_bytes() -> None:
    # Every byte that is not one of the decoded commands parses to UnknownCommand.
    for b in range(256):
        got = parse_or_error(lambda p: c.parse_command(p, 0), bytes([b]))
        if b not in DECODED_COMMAND_BYTES:
            assert got == UnknownCommand(command=b, data=b"")


@given(commands())
def test_command_round_trip(cmd_caps: tuple[Command, int]) -> None:
    cmd, caps = cmd_caps
    p = c.build_command(cmd, caps)
    assert c.parse_command(p, caps) == cmd


@given(commands())
@settings(max_examples=60)
def test_command_prefixes(cmd_caps: tuple[Command, int]) -> None:
    cmd, caps = cmd_caps
    p = c.build_command(cmd, caps)
    fixed = (ProcessKill, SetOption, StmtClose, StmtReset, StmtFetch)
    check_prefixes(lambda d: c.parse_command(d, caps), p, strict=isinstance(cmd, fixed))


@given(caps=st.sampled_from([0, 0xFFFFFFFF, CLIENT_QUERY_ATTRIBUTES]), data=st.binary(max_size=80))
def test_arbitrary_bytes(caps: int, data: bytes) -> None:
    parse_or_error(lambda p: c.parse_command(p, caps), data)


@given(
    code=st.sampled_from(sorted(DECODED_COMMAND_BYTES)),
    caps=st.sampled_from([0, 0xFFFFFFFF]),
    data=st.binary(max_size=60),
)
def test_arbitrary_bytes_after_a_known_command_byte(code: int, caps: int, data: bytes) -> None:
    parse_or_error(lambda p: c.parse_command(p, caps), bytes([code]) + data)


@given(
    count=st.integers(0, 300),
    data=st.binary(max_size=60),
    types=st.lists(st.sampled_from([0x01, 0x02, 0x03, 0x04, 0x05, 0x08, 0xF6, 0xFD, 0xFE, 0x0A])),
)
def test_arbitrary_query_attribute_blocks(count: int, data: bytes, types: list[int]) -> None:
    # Plausible headers (count, 1 set, bitmap, flag 1, typed names) over junk values.
    n = max(count, 1)
    head = bytes([0x03]) + (
        bytes([count]) if count < 251 else b"\xfc" + count.to_bytes(2, "little")
    )
    body = b"\x01" + bytes((n + 7) // 8) + b"\x01"
    body += b"".join(bytes([t, 0x00, 0x01, 0x61]) for t in types[:n])
    parse_or_error(lambda p: c.parse_command(p, CLIENT_QUERY_ATTRIBUTES), head + body + data)
