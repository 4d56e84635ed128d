"""Tests for mywire.constants: well-known values, generated tables, the generator."""

from __future__ import annotations

import codecs
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from urllib.parse import unquote, urlsplit

import pytest

from mywire.constants import (
    COLLATIONS,
    MARIADB_COLLATIONS,
    MYSQL_COLLATIONS,
    Capability,
    ColumnFlag,
    Command,
    CursorType,
    FieldType,
    MariaDBCapability,
    ServerStatus,
    SessionTrack,
    SetOption,
    charset,
    charset_codec,
    collation,
    cr,
    er,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
GENERATOR = REPO_ROOT / "tools" / "gen_constants.py"
DEFAULT_DSN = "mysql://root@127.0.0.1:3306/test"


@pytest.fixture(scope="module")
def gen() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("gen_constants", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_constants"] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules["gen_constants"]


# --- hand-written enums ---------------------------------------------------------------


def test_capability_values() -> None:
    assert int(Capability.CLIENT_LONG_PASSWORD) == 1
    assert Capability["CLIENT_MYSQL"] is Capability.CLIENT_LONG_PASSWORD
    assert int(Capability.CLIENT_CONNECT_WITH_DB) == 8
    assert int(Capability.CLIENT_PROTOCOL_41) == 0x200
    assert int(Capability.CLIENT_SSL) == 0x800
    assert int(Capability.CLIENT_TRANSACTIONS) == 0x2000
    assert int(Capability.CLIENT_SECURE_CONNECTION) == 0x8000
    assert Capability["CLIENT_RESERVED2"] is Capability.CLIENT_SECURE_CONNECTION
    assert int(Capability.CLIENT_MULTI_STATEMENTS) == 1 << 16
    assert int(Capability.CLIENT_PLUGIN_AUTH) == 1 << 19
    assert int(Capability.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) == 1 << 21
    assert int(Capability.CLIENT_SESSION_TRACK) == 1 << 23
    assert int(Capability.CLIENT_DEPRECATE_EOF) == 1 << 24
    assert int(Capability.CLIENT_ZSTD_COMPRESSION_ALGORITHM) == 1 << 26
    assert int(Capability.CLIENT_QUERY_ATTRIBUTES) == 1 << 27
    assert int(Capability.MULTI_FACTOR_AUTHENTICATION) == 1 << 28
    assert int(Capability.CLIENT_CAPABILITY_EXTENSION) == 1 << 29
    assert int(Capability.CLIENT_REMEMBER_OPTIONS) == 1 << 31
    # 32 distinct bits, one per bit of the 32-bit word.
    canonical = list(Capability)
    assert len(canonical) == 32
    assert sum(int(flag) for flag in canonical) == 0xFFFFFFFF


def test_mariadb_capability_values() -> None:
    assert int(MariaDBCapability.MARIADB_CLIENT_PROGRESS) == 1
    assert int(MariaDBCapability.MARIADB_CLIENT_COM_MULTI) == 2
    assert int(MariaDBCapability.MARIADB_CLIENT_STMT_BULK_OPERATIONS) == 4
    assert int(MariaDBCapability.MARIADB_CLIENT_EXTENDED_METADATA) == 8
    assert (
        MariaDBCapability["MARIADB_CLIENT_EXTENDED_TYPE_INFO"]
        is MariaDBCapability.MARIADB_CLIENT_EXTENDED_METADATA
    )
    assert int(MariaDBCapability.MARIADB_CLIENT_CACHE_METADATA) == 16
    assert int(MariaDBCapability.MARIADB_CLIENT_BULK_UNIT_RESULTS) == 32
    # Connector/C's 64-bit representation: MARIADB_CLIENT_PROGRESS == 1ULL << 32.
    assert MariaDBCapability.MARIADB_CLIENT_PROGRESS.to_u64() == 1 << 32
    both = (
        MariaDBCapability.MARIADB_CLIENT_STMT_BULK_OPERATIONS
        | MariaDBCapability.MARIADB_CLIENT_CACHE_METADATA
    )
    value64 = both.to_u64() | int(Capability.CLIENT_PROTOCOL_41)
    assert value64 == (1 << 34) | (1 << 36) | 0x200
    assert MariaDBCapability.from_u64(value64) == both


def test_server_status_values() -> None:
    assert int(ServerStatus.SERVER_STATUS_IN_TRANS) == 1
    assert int(ServerStatus.SERVER_STATUS_AUTOCOMMIT) == 2
    assert int(ServerStatus.SERVER_MORE_RESULTS_EXISTS) == 8
    assert int(ServerStatus.SERVER_STATUS_CURSOR_EXISTS) == 64
    assert int(ServerStatus.SERVER_STATUS_LAST_ROW_SENT) == 128
    assert int(ServerStatus.SERVER_STATUS_NO_BACKSLASH_ESCAPES) == 512
    assert int(ServerStatus.SERVER_PS_OUT_PARAMS) == 4096
    assert int(ServerStatus.SERVER_SESSION_STATE_CHANGED) == 1 << 14
    assert int(ServerStatus.SERVER_STATUS_ANSI_QUOTES) == 1 << 15


def test_command_values() -> None:
    assert int(Command.COM_SLEEP) == 0
    assert int(Command.COM_QUIT) == 1
    assert int(Command.COM_INIT_DB) == 2
    assert int(Command.COM_QUERY) == 3
    assert int(Command.COM_FIELD_LIST) == 4
    assert int(Command.COM_STATISTICS) == 9
    assert int(Command.COM_PING) == 0x0E
    assert int(Command.COM_CHANGE_USER) == 0x11
    assert int(Command.COM_BINLOG_DUMP) == 0x12
    assert int(Command.COM_REGISTER_SLAVE) == 0x15
    assert int(Command.COM_STMT_PREPARE) == 0x16
    assert int(Command.COM_STMT_EXECUTE) == 0x17
    assert int(Command.COM_STMT_SEND_LONG_DATA) == 0x18
    assert int(Command.COM_STMT_CLOSE) == 0x19
    assert int(Command.COM_STMT_RESET) == 0x1A
    assert int(Command.COM_SET_OPTION) == 0x1B
    assert int(Command.COM_STMT_FETCH) == 0x1C
    assert int(Command.COM_BINLOG_DUMP_GTID) == 0x1E
    assert int(Command.COM_RESET_CONNECTION) == 0x1F
    assert int(Command.COM_CLONE) == 0x20
    assert int(Command.COM_SUBSCRIBE_GROUP_REPLICATION_STREAM) == 0x21
    assert int(Command.COM_STMT_BULK_EXECUTE) == 0xFA
    assert int(Command.COM_MULTI) == 0xFE
    # 0x00..0x21 are contiguous.
    assert sorted(int(c) for c in Command if c < 0x40) == list(range(0x22))
    assert int(SetOption.MYSQL_OPTION_MULTI_STATEMENTS_ON) == 0
    assert int(SetOption.MYSQL_OPTION_MULTI_STATEMENTS_OFF) == 1


def test_field_type_values() -> None:
    assert int(FieldType.MYSQL_TYPE_DECIMAL) == 0
    assert int(FieldType.MYSQL_TYPE_LONGLONG) == 8
    assert int(FieldType.MYSQL_TYPE_VARCHAR) == 15
    assert int(FieldType.MYSQL_TYPE_BIT) == 16
    assert int(FieldType.MYSQL_TYPE_TIMESTAMP2) == 17
    assert int(FieldType.MYSQL_TYPE_TYPED_ARRAY) == 20
    assert int(FieldType.MYSQL_TYPE_VECTOR) == 242
    assert int(FieldType.MYSQL_TYPE_INVALID) == 243
    assert int(FieldType.MYSQL_TYPE_BOOL) == 244
    assert int(FieldType.MYSQL_TYPE_JSON) == 245
    assert int(FieldType.MYSQL_TYPE_NEWDECIMAL) == 246
    assert int(FieldType.MYSQL_TYPE_BLOB) == 252
    assert int(FieldType.MYSQL_TYPE_VAR_STRING) == 253
    assert int(FieldType.MYSQL_TYPE_STRING) == 254
    assert int(FieldType.MYSQL_TYPE_GEOMETRY) == 255
    assert [int(t) for t in FieldType if t <= 20] == list(range(21))
    assert [int(t) for t in FieldType if t >= 242] == list(range(242, 256))


def test_column_flag_cursor_session_track_values() -> None:
    assert int(ColumnFlag.NOT_NULL_FLAG) == 1
    assert int(ColumnFlag.PRI_KEY_FLAG) == 2
    assert int(ColumnFlag.BLOB_FLAG) == 16
    assert int(ColumnFlag.UNSIGNED_FLAG) == 32
    assert int(ColumnFlag.BINARY_FLAG) == 128
    assert int(ColumnFlag.AUTO_INCREMENT_FLAG) == 512
    assert int(ColumnFlag.NO_DEFAULT_VALUE_FLAG) == 4096
    assert int(ColumnFlag.PART_KEY_FLAG) == 16384
    assert int(ColumnFlag.NUM_FLAG) == 32768
    assert ColumnFlag["GROUP_FLAG"] is ColumnFlag.NUM_FLAG
    assert int(ColumnFlag.BINCMP_FLAG) == 131072
    assert int(CursorType.CURSOR_TYPE_NO_CURSOR) == 0
    assert int(CursorType.CURSOR_TYPE_READ_ONLY) == 1
    assert int(CursorType.CURSOR_TYPE_FOR_UPDATE) == 2
    assert int(CursorType.CURSOR_TYPE_SCROLLABLE) == 4
    assert int(CursorType.PARAMETER_COUNT_AVAILABLE) == 8
    assert [int(t) for t in SessionTrack] == [0, 1, 2, 3, 4, 5]
    assert int(SessionTrack.SESSION_TRACK_GTIDS) == 3
    assert int(SessionTrack.SESSION_TRACK_TRANSACTION_STATE) == 5


# --- collations -------------------------------------------------------------------------


def test_well_known_collations() -> None:
    c33 = COLLATIONS[33]
    assert (c33.charset, c33.name, c33.codec, c33.maxlen) == (
        "utf8mb3",
        "utf8mb3_general_ci",
        "utf-8",
        3,
    )
    c45 = COLLATIONS[45]
    assert (c45.charset, c45.name, c45.codec, c45.maxlen) == (
        "utf8mb4",
        "utf8mb4_general_ci",
        "utf-8",
        4,
    )
    binary = COLLATIONS[63]
    assert (binary.charset, binary.name, binary.codec) == ("binary", "binary", None)
    latin1 = COLLATIONS[8]
    assert (latin1.charset, latin1.name, latin1.codec, latin1.is_default) == (
        "latin1",
        "latin1_swedish_ci",
        "cp1252",
        True,
    )
    mysql_default = MYSQL_COLLATIONS[255]
    assert (mysql_default.name, mysql_default.is_default) == ("utf8mb4_0900_ai_ci", True)
    assert MYSQL_COLLATIONS[309].name == "utf8mb4_0900_bin"
    assert 255 not in MARIADB_COLLATIONS
    # Defaults differ per server: MariaDB's utf8mb4 default is utf8mb4_general_ci.
    assert MARIADB_COLLATIONS[45].is_default
    assert not MYSQL_COLLATIONS[45].is_default
    assert MARIADB_COLLATIONS[2048].name == "utf8mb3_uca1400_ai_ci"
    assert MARIADB_COLLATIONS[2048].charset == "utf8mb3"


def test_collation_lookup_functions() -> None:
    assert collation(255) == MYSQL_COLLATIONS[255]
    assert collation(255, mariadb=True) is None
    assert collation(2048) is None
    found = collation(2048, mariadb=True)
    assert found is not None and found.codec == "utf-8"
    assert collation(1_000_000) is None
    assert charset_codec(63) is None
    assert charset_codec(8) == "cp1252"
    assert charset_codec(8, mariadb=True) == "cp1252"
    assert charset_codec(224) == "utf-8"
    assert charset_codec(54) == "utf-16-be"  # utf16_general_ci
    assert charset_codec(56) == "utf-16-le"  # utf16le_general_ci
    assert charset_codec(60) == "utf-32-be"  # utf32_general_ci
    assert charset_codec(99999) is None


def test_collation_tables_disagreement_and_union() -> None:
    # MySQL 8.0.30 dropped the "mysql561" suffix MariaDB still uses for these ids.
    assert MYSQL_COLLATIONS[245].name == "utf8mb4_croatian_ci"
    assert MARIADB_COLLATIONS[245].name == "utf8mb4_croatian_mysql561_ci"
    assert COLLATIONS[245] == MYSQL_COLLATIONS[245]
    assert set(COLLATIONS) == set(MYSQL_COLLATIONS) | set(MARIADB_COLLATIONS)
    assert list(COLLATIONS) == sorted(COLLATIONS)
    for table in (MYSQL_COLLATIONS, MARIADB_COLLATIONS):
        for collation_id, entry in table.items():
            assert entry.id == collation_id
            assert entry.name.startswith(entry.charset) or entry.charset == "binary"


def test_codecs_exist_and_latin1_is_cp1252() -> None:
    for entry in COLLATIONS.values():
        if entry.codec is not None:
            codecs.lookup(entry.codec)
        assert entry.maxlen in (1, 2, 3, 4)
    assert b"\x80\x93".decode(COLLATIONS[8].codec or "") == "\u20ac\u201c"
    assert {e.charset for e in COLLATIONS.values() if e.codec is None} == {
        "armscii8",
        "binary",
        "dec8",
        "eucjpms",
        "geostd8",
        "hp8",
        "keybcs2",
        "swe7",
    }


# --- error codes ------------------------------------------------------------------------


def test_error_codes() -> None:
    assert er.ER_ACCESS_DENIED_ERROR == 1045
    assert er.ER_PARSE_ERROR == 1064
    assert er.ER_NO_SUCH_TABLE == 1146
    assert er.ER_DUP_ENTRY == 1062
    assert er.ER_LOCK_DEADLOCK == 1213
    for table in (er.MYSQL_ERRORS, er.MARIADB_ERRORS):
        assert table[1045] == "ER_ACCESS_DENIED_ERROR"
        assert table[1064] == "ER_PARSE_ERROR"
        assert table[1146] == "ER_NO_SUCH_TABLE"
    # Same code, different meaning.
    assert er.MYSQL_ERRORS[1076] == "ER_READY"
    assert er.MARIADB_ERRORS[1076] == "ER_BINLOG_CANT_DELETE_GTID_DOMAIN"
    assert er.error_name(1076) == "ER_READY"
    assert er.error_name(1076, mariadb=True) == "ER_BINLOG_CANT_DELETE_GTID_DOMAIN"
    # Same name, different code: the module constant carries MySQL's number.
    assert er.ER_ACCOUNT_HAS_BEEN_LOCKED == 3118
    assert er.MARIADB_ERRORS[4151] == "ER_ACCOUNT_HAS_BEEN_LOCKED"
    # Server-specific ranges.
    assert er.ER_CONNECTION_KILLED == 1927  # MariaDB only
    assert er.MARIADB_ERRORS[4025] == "ER_CONSTRAINT_FAILED"
    assert er.MYSQL_ERRORS[3000] == er.MARIADB_ERRORS[3000] == "ER_FILE_CORRUPT"
    assert er.OBSOLETE_ER_HASHCHK == er.ER_HASHCHK == 1000
    assert er.error_name(2006) is None  # client errors are not in these tables
    # Every name in either table is a module constant with one of its codes.
    for table in (er.MYSQL_ERRORS, er.MARIADB_ERRORS):
        for code, name in table.items():
            value = getattr(er, name)
            assert value == code or er.MYSQL_ERRORS.get(value) == name


def test_client_error_codes() -> None:
    assert cr.CR_UNKNOWN_ERROR == 2000
    assert cr.CR_CONNECTION_ERROR == 2002
    assert cr.CR_CONN_HOST_ERROR == 2003
    assert cr.CR_SERVER_GONE_ERROR == 2006
    assert cr.CR_SERVER_LOST == 2013
    assert cr.CR_COMMANDS_OUT_OF_SYNC == 2014
    assert cr.CR_NET_PACKET_TOO_LARGE == 2020
    assert cr.CR_SSL_CONNECTION_ERROR == 2026
    assert cr.CR_MALFORMED_PACKET == 2027
    assert cr.CR_NO_PREPARE_STMT == 2030
    assert cr.CR_AUTH_PLUGIN_ERR == 2061
    assert cr.CR_SECURE_AUTH == 2049
    assert cr.CR_ERR_NET_READ == 5013
    assert cr.CLIENT_ERRORS[2013] == "CR_SERVER_LOST"
    assert cr.CLIENT_ERRORS[2038] == "CR_SHARED_MEMORY_CONNECT_REQUEST_ERROR"
    assert list(cr.CLIENT_ERRORS) == sorted(cr.CLIENT_ERRORS)
    assert set(range(2000, 2076)) <= set(cr.CLIENT_ERRORS)


# --- generated files and the generator --------------------------------------------------


@pytest.mark.parametrize("module", [charset, er], ids=["charset", "er"])
def test_generated_header(module: ModuleType) -> None:
    path = Path(module.__file__ or "")
    text = path.read_text(encoding="utf-8")
    comment_block = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        comment_block.append(line[2:])
    header = " ".join(comment_block)
    assert header.startswith("GENERATED by tools/gen_constants.py from ")
    assert header.endswith("— DO NOT EDIT.")
    assert module.SOURCES
    for source in module.SOURCES:
        assert source in header
    assert "mysql-connector-python" in header
    assert "MariaDB" in header or "mariadb" in header


def test_charset_rendering_is_stable(gen: ModuleType) -> None:
    def rows(table: dict[int, charset.Collation]) -> list[tuple[int, str, str, bool]]:
        return [(c.id, c.charset, c.name, c.is_default) for c in table.values()]

    maxlen = {c.charset: c.maxlen for c in COLLATIONS.values()}
    rendered = gen.render_charset(
        rows(MYSQL_COLLATIONS), rows(MARIADB_COLLATIONS), maxlen, charset.SOURCES
    )
    assert rendered == Path(charset.__file__ or "").read_text(encoding="utf-8")
    for entry in COLLATIONS.values():
        assert entry.codec == gen.CHARSET_CODECS[entry.charset]
        if entry.charset in gen.MYSQL_CHARSET_MAXLEN:
            assert entry.maxlen == gen.MYSQL_CHARSET_MAXLEN[entry.charset]


def test_er_rendering_is_stable(gen: ModuleType) -> None:
    rendered = gen.render_er(er.MYSQL_ERRORS, er.MARIADB_ERRORS, er.SOURCES)
    assert rendered == Path(er.__file__ or "").read_text(encoding="utf-8")
    # Input order must not matter.
    shuffled = dict(reversed(list(er.MYSQL_ERRORS.items())))
    assert gen.render_er(shuffled, er.MARIADB_ERRORS, er.SOURCES) == rendered


def test_parse_errmsg_numbering(gen: ModuleType) -> None:
    text = (
        "languages english=eng, german=ger;\n"
        "\n"
        "default-language eng\n"
        "\n"
        "start-error-number 1000\n"
        "\n"
        "ER_FIRST  \n"
        '        eng "first"\n'
        '        ger "erste"\n'
        "# a comment\n"
        "ER_SECOND 42000 S1009\n"
        '        eng "second"\n'
        "WARN_THIRD\n"
        '        eng "third"\n'
        "start-error-number 1900\n"
        "ER_MARIA\n"
        '        eng "m"\n'
        "skip-to-error-number 4000\n"
        "ER_LATE 0A000\n"
        '        eng "late"\n'
    )
    assert gen.parse_errmsg(text) == {
        1000: "ER_FIRST",
        1001: "ER_SECOND",
        1002: "WARN_THIRD",
        1900: "ER_MARIA",
        4000: "ER_LATE",
    }
    with pytest.raises(gen.GenerationError):
        gen.parse_errmsg("start-error-number 10\nER_A\nskip-to-error-number 5\n")
    with pytest.raises(gen.GenerationError):
        gen.parse_errmsg("ER_A\n")


def test_parse_connector_sources(gen: ModuleType) -> None:
    errorcode = (
        '_GENERATED_ON = "2021-08-11"\n'
        "_MYSQL_VERSION = (8, 0, 27)\n"
        "ER_NO = 1002\n"
        "OBSOLETE_ER_HASHCHK = 1000\n"
        "CR_UNKNOWN_ERROR = 2000\n"
    )
    assert gen.parse_connector_errorcode(errorcode) == {1002: "ER_NO", 1000: "OBSOLETE_ER_HASHCHK"}
    assert gen.connector_mysql_version(errorcode) == "8.0.27"
    charsets = (
        "from typing import List, Optional, Tuple\n"
        "MYSQL_CHARACTER_SETS: List[Optional[Tuple[str, str, bool]]] = [\n"
        "    None,\n"
        '    ("big5", "big5_chinese_ci", True),  # 1\n'
        "    None,\n"
        '    ("dec8", "dec8_swedish_ci", True),  # 3\n'
        "]\n"
    )
    assert gen.parse_connector_charsets(charsets) == [
        (1, "big5", "big5_chinese_ci", True),
        (3, "dec8", "dec8_swedish_ci", True),
    ]


# --- live server ------------------------------------------------------------------------


def _mariadb_cli() -> tuple[list[str], dict[str, str]]:
    parts = urlsplit(os.environ.get("MYWIRE_TEST_DSN", DEFAULT_DSN))
    binary = shutil.which("mariadb") or shutil.which("mysql")
    if binary is None:
        raise OSError("no mariadb/mysql command-line client on PATH")
    argv = [
        binary,
        "--batch",
        "--skip-column-names",
        "--protocol=TCP",
        "--connect-timeout=5",
        f"--host={parts.hostname or '127.0.0.1'}",
        f"--port={parts.port or 3306}",
        f"--user={unquote(parts.username or 'root')}",
    ]
    env = dict(os.environ)
    if parts.password is not None:
        env["MYSQL_PWD"] = unquote(parts.password)
    return argv, env


def _query(sql: str) -> list[list[str]]:
    argv, env = _mariadb_cli()
    result = subprocess.run(
        [*argv, "--execute", sql],
        check=True,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=60,
    )
    return [line.split("\t") for line in result.stdout.splitlines() if line]


@pytest.fixture(scope="module")
def live_server_version() -> str:
    try:
        return _query("SELECT VERSION()")[0][0]
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", None) or exc
        message = f"MariaDB server unreachable: {detail}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def test_mariadb_collations_match_live_server(live_server_version: str) -> None:
    if "mariadb" not in live_server_version.lower():
        pytest.skip(f"server {live_server_version} is not MariaDB")
    rows = _query("SHOW COLLATION")
    assert rows
    checked = 0
    for row in rows:
        name, charset_name, collation_id = row[0], row[1], row[2]
        if collation_id == "NULL":
            # MariaDB 10.10+ lists charset-independent UCA-14 names (uca1400_ai_ci ...)
            # without an id; their per-charset ids are checked below.
            continue
        entry = MARIADB_COLLATIONS.get(int(collation_id))
        assert entry is not None, f"{name} ({collation_id}) missing"
        assert (entry.charset, entry.name) == (charset_name, name)
        assert entry.is_default == (row[3] == "Yes")
        checked += 1
    assert checked > 200
    has_full_names = _query(
        "SELECT COUNT(*) FROM information_schema.COLUMNS"
        " WHERE TABLE_SCHEMA = 'information_schema'"
        " AND TABLE_NAME = 'COLLATION_CHARACTER_SET_APPLICABILITY'"
        " AND COLUMN_NAME = 'FULL_COLLATION_NAME'"
    )[0][0]
    if has_full_names != "0":
        for collation_id, charset_name, name in _query(
            "SELECT ID, CHARACTER_SET_NAME, FULL_COLLATION_NAME"
            " FROM information_schema.COLLATION_CHARACTER_SET_APPLICABILITY"
        ):
            entry = MARIADB_COLLATIONS.get(int(collation_id))
            assert entry is not None, f"{name} ({collation_id}) missing"
            assert (entry.charset, entry.name) == (charset_name, name)
    for charset_name, maxlen in _query(
        "SELECT CHARACTER_SET_NAME, MAXLEN FROM information_schema.CHARACTER_SETS"
    ):
        for entry in MARIADB_COLLATIONS.values():
            if entry.charset == charset_name:
                assert entry.maxlen == int(maxlen), charset_name
