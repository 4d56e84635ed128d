"""The transcoder against the real MariaDB: an all-types table through ``query_json``,
``query_msgpack``, ``stream`` and :func:`mywire.transcode.transcode`.

The expected documents are computed here, independently of mywire's formatting code:
PyMySQL reads the same rows (text protocol, its own converters) and :func:`ref_value`
turns each value into what the rules of :mod:`mywire._tcspec` say the document holds
(ints as ints, DECIMAL as its text, temporals in MySQL's text form with the column's
fractional digits, bytes as base64 or msgpack bin, BIT as a big-endian number, a JSON
column as its own text).  The psdb rows are compared with the text-protocol bytes of each
value, cut out of the raw row payloads by :func:`text_values`.

FLOAT is the one type whose value differs by protocol: the server's text form has six
significant digits, binary rows carry the float32 itself.  :data:`FLOAT_CASES` names
each value and says whether its text form reads back as the same float32.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import msgpack  # type: ignore[import-untyped]  # no stubs, no py.typed
import pytest

import mywire._backend
from mywire import aio
from mywire.constants.field_type import FieldType
from mywire.events import ResultsetStart
from mywire.transcode import CLOSING_RESERVE, transcode

from helpers import Dsn, dsn_url, pymysql_connect
from rowbuild import latin1_text

T = TypeVar("T")

pytestmark = pytest.mark.mariadb

FORMATS = ("json", "ndjson", "msgpack")
STATS = b'"rows_affected":0,"insert_id":0,"warnings":0'
STAT_KEYS = ("rows_affected", "insert_id", "warnings")


# ------------------------------------------------------------------------ the table


@dataclass(frozen=True)
class Col:
    """One column of the all-types table."""

    name: str
    ddl: str
    #: How the reference converts PyMySQL's value (see :func:`ref_value`).
    ref: str
    #: Vitess type name (psdb fields).
    vitess: str
    #: Fractional digits of temporal columns.
    fsp: int = 0
    #: Integer columns with leading zeros in their text form (ZEROFILL, YEAR).
    zerofill: bool = False
    #: latin1 on the server (sent as latin1 when character_set_results is NULL).
    latin1: bool = False


COLS = (
    Col("id", "INT NOT NULL PRIMARY KEY", "int", "INT32"),
    Col("ti", "TINYINT", "int", "INT8"),
    Col("tiu", "TINYINT UNSIGNED", "int", "UINT8"),
    Col("si", "SMALLINT", "int", "INT16"),
    Col("siu", "SMALLINT UNSIGNED", "int", "UINT16"),
    Col("mi", "MEDIUMINT", "int", "INT24"),
    Col("miu", "MEDIUMINT UNSIGNED", "int", "UINT24"),
    Col("i", "INT", "int", "INT32"),
    Col("iu", "INT UNSIGNED", "int", "UINT32"),
    Col("bi", "BIGINT", "int", "INT64"),
    Col("biu", "BIGINT UNSIGNED", "int", "UINT64"),
    Col("zf", "INT(8) ZEROFILL", "int", "UINT32", zerofill=True),
    Col("zbi", "BIGINT ZEROFILL", "int", "UINT64", zerofill=True),
    Col("yr", "YEAR", "int", "YEAR", zerofill=True),
    Col("f", "FLOAT", "float", "FLOAT32"),
    Col("d", "DOUBLE", "float", "FLOAT64"),
    Col("dc", "DECIMAL(65,30)", "decimal", "DECIMAL"),
    Col("dc0", "DECIMAL(10,0)", "decimal", "DECIMAL"),
    Col("dt", "DATE", "temporal", "DATE"),
    *(Col(f"dtm{n}", f"DATETIME({n})", "temporal", "DATETIME", fsp=n) for n in range(7)),
    Col("ts", "TIMESTAMP(6) NULL DEFAULT NULL", "temporal", "TIMESTAMP", fsp=6),
    Col("tm", "TIME", "temporal", "TIME"),
    Col("tm3", "TIME(3)", "temporal", "TIME", fsp=3),
    Col("tm6", "TIME(6)", "temporal", "TIME", fsp=6),
    Col("ch", "CHAR(10)", "str", "CHAR"),
    Col("vc", "VARCHAR(500)", "str", "VARCHAR"),
    Col("tx", "TEXT", "str", "TEXT"),
    Col("l1", "VARCHAR(300) CHARACTER SET latin1", "str", "VARCHAR", latin1=True),
    Col("l1t", "TEXT CHARACTER SET latin1", "str", "TEXT", latin1=True),
    Col("en", "ENUM('a','b','ä😀')", "str", "ENUM"),
    Col("st", "SET('x','y','z')", "str", "SET"),
    Col("bn", "BINARY(4)", "bytes", "BINARY"),
    Col("vb", "VARBINARY(300)", "bytes", "VARBINARY"),
    Col("bl", "BLOB", "bytes", "BLOB"),
    Col("mb", "MEDIUMBLOB", "bytes", "BLOB"),
    Col("b1", "BIT(1)", "bit", "BIT"),
    Col("b64", "BIT(64)", "bit", "BIT"),
    Col("js", "JSON", "json", "JSON"),
    Col("pt", "POINT", "bytes", "GEOMETRY"),
)
NAMES = tuple(c.name for c in COLS)
BY_NAME = {c.name: c for c in COLS}
#: Extended metadata MariaDB sends for these columns (MARIADB_CLIENT_EXTENDED_METADATA).
EXTENDED = {"js": (None, "json"), "pt": ("point", None)}


class Lit(str):
    """A value written into the INSERT as SQL text rather than bound."""


ALL_BYTES = bytes(range(256))
SPECIAL = (
    'quote " backslash \\ slash / ctl \x00\x01\x07\x08\t\n\x0b\x0c\r\x1b\x1f\x7f'
    " é ü 😀 \u2028\u2029\ufeff"
)
JSON_DOC = (
    '{"k": "v\\"q\\\\", "n": [1, -2.5e-3, 1E400, true, false, null], "u": "é😀\\u00e9", "e": {}}'
)
LATIN1_SOME = bytes([0x80, 0x81, 0x8D, 0x8F, 0x90, 0x9D, 0xA0, 0xE9, 0xFF]) + b"abc"

ZERO_DT = "0000-00-00 00:00:00"
ROWS: tuple[dict[str, object], ...] = (
    {"id": 0},  # NULL in every nullable column
    {  # minima
        "id": 1,
        **dict(ti=-128, tiu=0, si=-32768, siu=0, mi=-8388608, miu=0, i=-(2**31), iu=0),
        **dict(bi=-(2**63), biu=0, zf=0, zbi=0, yr=1901),
        "dc": Lit("-" + "9" * 35 + "." + "9" * 30),
        "dc0": Lit("-9999999999"),
        "dt": "1000-01-01",
        **{f"dtm{n}": "1000-01-01 00:00:00" for n in range(7)},
        "ts": "1970-01-01 00:00:01",
        **dict(tm="-838:59:59", tm3="-838:59:59.999", tm6="-838:59:59.999999"),
        **dict(ch="", vc="", tx="", l1="", l1t="", en="a", st=""),
        **dict(bn=Lit("X''"), vb=b"", bl=b"", mb=b"", b1=Lit("b'0'"), b64=Lit("b'0'")),
        **dict(js="[]", pt=Lit("POINT(0, 0)")),
    },
    {  # maxima
        "id": 2,
        **dict(ti=127, tiu=255, si=32767, siu=65535, mi=8388607, miu=16777215),
        **dict(i=2**31 - 1, iu=2**32 - 1, bi=2**63 - 1, biu=2**64 - 1),
        **dict(zf=2**32 - 1, zbi=2**64 - 1, yr=2155),
        "dc": Lit("9" * 35 + "." + "9" * 30),
        "dc0": Lit("9999999999"),
        "dt": "9999-12-31",
        **{f"dtm{n}": "9999-12-31 23:59:59.999999" for n in range(7)},
        "ts": "2038-01-19 03:14:07.999999",
        **dict(tm="838:59:59", tm3="838:59:59.999", tm6="838:59:59.999999"),
        **dict(ch="é😀\"\\'xyzw", vc=SPECIAL, tx="é" * 30000),
        **dict(l1=Lit("X'" + LATIN1_SOME.hex() + "'"), l1t=Lit("X'" + ALL_BYTES.hex() + "'")),
        **dict(en="ä😀", st="x,y,z", bn=b"\xff" * 4, vb=ALL_BYTES, bl=ALL_BYTES * 4),
        **dict(mb=ALL_BYTES[::-1] * 300, b1=Lit("b'1'"), b64=Lit("b'" + "1" * 64 + "'")),
        **dict(js=JSON_DOC, pt=Lit("POINT(1.5, -2.25)")),
    },
    {  # zeros, zero dates, odd strings
        "id": 3,
        **dict(ti=-1, tiu=1, si=-1, siu=1, mi=-1, miu=1, i=-1, iu=1, bi=-1, biu=1),
        **dict(zf=42, zbi=7, yr=0, dc=Lit("0"), dc0=Lit("0")),
        "dt": "0000-00-00",
        **{f"dtm{n}": ZERO_DT for n in range(7)},
        "ts": ZERO_DT,
        **dict(tm="00:00:00", tm3="-00:00:00.001", tm6="-00:00:00.000001"),
        **dict(ch=" lead", vc="\x00", tx="\ufeff\u2028", l1="plain", l1t=Lit("X'00091f7f'")),
        **dict(en="b", st="y", bn=Lit("X'01'"), vb=b"\x00", bl=b"\xff", mb=b"\x00" * 70000),
        **dict(b1=Lit("b'0'"), b64=Lit("0x0123456789ABCDEF"), js='"str \\" \\\\ \\u00e9"'),
        "pt": Lit("POINT(-180, 90)"),
    },
    {  # partial dates, fractions
        "id": 4,
        **dict(ti=1, tiu=128, zf=1, zbi=12345678901234567, yr=2024),
        **dict(dc=Lit("-0.000000000000000000000000000001"), dc0=Lit("-1")),
        "dt": "2016-00-00",
        **{f"dtm{n}": "2024-02-29 12:34:56.123456" for n in range(7)},
        "ts": "2024-02-29 12:34:56.000001",
        **dict(tm="-00:00:01", tm3="123:45:56.789", tm6="24:00:00.5"),
        **dict(vc="tab\there", js="123", st="x,z", b64=Lit("b'10000000'")),
    },
    {
        "id": 5,
        **dict(dc=Lit("12.5"), dt="2016-12-00", js="null", vc="ok"),
        **{f"dtm{n}": "2016-00-00 00:00:00.5" for n in range(7)},
        "tm6": "-00:00:00.5",
    },
)

#: FLOAT values (inserted as this text): name, text, whether the server's 6-digit text
#: form reads back as the same float32 (else only its 6-digit rounding agrees).
FLOAT_CASES = (
    ("float32 max", "3.4028234663852886e38", False),
    ("float32 lowest", "-3.4028234663852886e38", False),
    ("smallest normal", "1.1754943508222875e-38", False),
    ("smallest subnormal", "1.401298464324817e-45", True),
    ("negative zero", "-0.0", True),
    ("0.1", "0.1", True),
    ("2**24", "16777216", False),
    ("1234567", "1234567", False),
    ("pi", "3.14159265358979", False),
    ("0.000123456", "0.000123456", True),
    ("1e-10", "1e-10", True),
    ("-1.5", "-1.5", True),
    ("100", "100", True),
    ("1e38", "1e38", True),
)
DOUBLE_CASES = (
    "1.7976931348623157e308",
    "-1.7976931348623157e308",
    "2.2250738585072014e-308",
    "5e-324",
    "-0.0",
    "0.1",
    "1e16",
    "1e15",
    "123456789012345678",
    "1.5e-7",
    "0.30000000000000004",
    "100",
    "-1.5",
    "1e-5",
    "0.0001",
    "1e100",
    "123456.789",
)
FLOAT_ROW0 = 100
FLOAT_ROWS = tuple(
    {
        "id": FLOAT_ROW0 + k,
        "f": Lit(FLOAT_CASES[k][1]) if k < len(FLOAT_CASES) else None,
        "d": Lit(d),
    }
    for k, d in enumerate(DOUBLE_CASES)
)
ALL_ROWS = ROWS + FLOAT_ROWS


@pytest.fixture(scope="module")
def table(mariadb_dsn: Dsn) -> Iterator[str]:
    """The all-types table, filled with :data:`ALL_ROWS` (and a procedure ``<t>_p``)."""
    name = f"mw_tc_{secrets.token_hex(3)}"
    conn = pymysql_connect(mariadb_dsn, autocommit=True)
    try:
        with conn.cursor() as cur:
            # Zero dates need a mode without NO_ZERO_DATE / NO_ZERO_IN_DATE / strict.
            cur.execute("SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION', time_zone = '+00:00'")
            cols = ", ".join(f"{c.name} {c.ddl}" for c in COLS)
            cur.execute(f"CREATE TABLE {name} ({cols}) DEFAULT CHARSET=utf8mb4")
            for row in ALL_ROWS:
                sql = [v if isinstance(v, Lit) else "%s" for v in row.values()]
                params = [v for v in row.values() if not isinstance(v, Lit)]
                cur.execute(
                    f"INSERT INTO {name} ({', '.join(row)}) VALUES ({', '.join(sql)})", params
                )
                assert conn.show_warnings() == (), (row["id"], conn.show_warnings())
            cur.execute(
                f"CREATE PROCEDURE {name}_p() "
                f"BEGIN SELECT id, vc FROM {name} WHERE id IN (0, 3) ORDER BY id; END"
            )
        yield name
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP PROCEDURE IF EXISTS {name}_p")
            cur.execute(f"DROP TABLE IF EXISTS {name}")
        conn.close()


@dataclass(frozen=True)
class Reference:
    """What PyMySQL reads from ``SELECT * FROM <t> ORDER BY id``."""

    rows: list[tuple[Any, ...]]
    fields: list[dict[str, object]]


@pytest.fixture(scope="module")
def reference(mariadb_dsn: Dsn, table: str) -> Reference:
    conn = pymysql_connect(mariadb_dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SET time_zone = '+00:00'")
            cur.execute(f"SELECT * FROM {table} ORDER BY id")
            rows = list(cur.fetchall())
            fields = [
                {
                    "name": f.name,
                    "org_name": f.org_name,
                    "table": f.table_name,
                    "org_table": f.org_table,
                    "database": f.db.decode(),
                    "type": FieldType(f.type_code).name.removeprefix("MYSQL_TYPE_"),
                    "length": f.length,
                    "flags": f.flags,
                    "charset": f.charsetnr,
                    "decimals": f.scale,
                    "extended_type": EXTENDED.get(f.name, (None, None))[0],
                    "extended_format": EXTENDED.get(f.name, (None, None))[1],
                }
                for f in cur._result.fields
            ]
    finally:
        conn.close()
    assert [r[0] for r in rows] == [r["id"] for r in ALL_ROWS]
    return Reference(rows, fields)


# ------------------------------------------------------------------------ the reference


def _frac(us: int, fsp: int) -> str:
    return "." + f"{us:06d}"[:fsp] if fsp else ""


def temporal_text(value: object, fsp: int) -> str:
    """MySQL's text form of what PyMySQL made of a DATE/DATETIME/TIMESTAMP/TIME value."""
    if isinstance(value, str):  # zero and partial dates: PyMySQL keeps the text
        return value
    if isinstance(value, datetime):
        v = value
        return (
            f"{v.year:04d}-{v.month:02d}-{v.day:02d} "
            f"{v.hour:02d}:{v.minute:02d}:{v.second:02d}{_frac(v.microsecond, fsp)}"
        )
    if isinstance(value, date):
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    assert isinstance(value, timedelta)
    sign = "-" if value < timedelta(0) else ""
    whole = abs(value)
    hours = whole.days * 24 + whole.seconds // 3600
    minutes, seconds = divmod(whole.seconds % 3600, 60)
    return f"{sign}{hours:02d}:{minutes:02d}:{seconds:02d}{_frac(whole.microseconds, fsp)}"


def ref_value(col: Col, value: object, fmt: str) -> object:
    """The documented value of one PyMySQL value, as json.loads / msgpack.unpackb give it."""
    if value is None:
        return None
    if col.ref in ("int", "float", "str"):
        return value
    if col.ref == "decimal":
        assert isinstance(value, Decimal)
        return format(value, "f")
    if col.ref == "temporal":
        return temporal_text(value, col.fsp)
    if col.ref == "bytes":
        assert isinstance(value, bytes)
        return value if fmt == "msgpack" else base64.b64encode(value).decode()
    if col.ref == "bit":
        assert isinstance(value, bytes)
        return int.from_bytes(value, "big")
    assert col.ref == "json" and isinstance(value, str)
    return value if fmt == "msgpack" else json.loads(value)


def json_value_bytes(col: Col, value: object) -> bytes:
    """The exact JSON text of one value: json.dumps's, a JSON column's own text."""
    if col.ref == "json" and value is not None:
        assert isinstance(value, str)
        return value.encode()
    return json.dumps(ref_value(col, value, "json"), ensure_ascii=False).encode()


def json_row(row: Sequence[object], cols: Sequence[Col] = COLS) -> bytes:
    return b"[" + b",".join(json_value_bytes(c, v) for c, v in zip(cols, row, strict=True)) + b"]"


def msgpack_row(row: Sequence[object], cols: Sequence[Col] = COLS) -> list[object]:
    return [ref_value(c, v, "msgpack") for c, v in zip(cols, row, strict=True)]


def dumps(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def float32(x: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", x))[0])


def same_floats(a: Sequence[object], b: Sequence[object]) -> bool:
    """Equal lists, floats compared bit for bit (0.0 is not -0.0)."""
    return len(a) == len(b) and all(
        struct.pack("<d", x) == struct.pack("<d", y)
        if isinstance(x, float) and isinstance(y, float)
        else type(x) is type(y) and x == y
        for x, y in zip(a, b, strict=True)
    )


# ------------------------------------------------------------------------ running


def on_server(
    dsn: Dsn,
    fn: Callable[[aio.Client], Awaitable[T]],
    *,
    results_charset: str | None = None,
    **keywords: Any,
) -> T:
    """Run ``fn(client)`` on a fresh connection (UTC session time zone)."""

    async def main() -> T:
        client = await aio.connect(dsn_url(dsn), ssl_mode="disabled", **keywords)
        try:
            await client.query("SET time_zone = '+00:00'")
            if results_charset is not None:
                await client.query(f"SET character_set_results = {results_charset}")
            return await fn(client)
        finally:
            await client.close()

    return asyncio.run(main())


async def collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([c async for c in chunks])


async def query_format(
    client: aio.Client,
    fmt: str,
    sql: str,
    params: Sequence[object] | None = None,
    **options: Any,
) -> bytes:
    """The whole document in ``fmt`` (ndjson through ``stream``)."""
    if fmt == "json":
        return await client.query_json(sql, params, **options)
    if fmt == "msgpack":
        return await client.query_msgpack(sql, params, **options)
    return await collect(client.stream(sql, params, format=fmt, **options))


def select_all(table: str, binary: bool, cols: Sequence[str] = NAMES) -> tuple[str, list[int]]:
    where = " WHERE id >= ?" if binary else ""
    return f"SELECT {', '.join(cols)} FROM {table}{where} ORDER BY id", [0] if binary else []


def ndjson_lines(doc: bytes) -> list[bytes]:
    assert doc.endswith(b"\n")
    return doc[:-1].split(b"\n")


# ------------------------------------------------------------------------ (b) values


def test_field_metadata_matches_pymysql(mariadb_dsn: Dsn, table: str, reference: Reference) -> None:
    """json/ndjson/msgpack fields: PyMySQL's column definitions, type names without
    MYSQL_TYPE_, MariaDB's extended metadata for the JSON and POINT columns."""
    sql, _ = select_all(table, False)

    async def go(client: aio.Client) -> tuple[bytes, bytes, bytes]:
        return (
            await client.query_json(sql),
            await query_format(client, "ndjson", sql),
            await client.query_msgpack(sql),
        )

    doc, nd, mp = on_server(mariadb_dsn, go)
    assert json.loads(doc)["fields"] == reference.fields
    assert nd.startswith(b'{"fields":' + dumps(reference.fields) + b"}\n")
    assert msgpack.unpackb(mp)["fields"] == reference.fields
    types = [f["type"] for f in reference.fields]
    assert types == [
        *("LONG", "TINY", "TINY", "SHORT", "SHORT", "INT24", "INT24", "LONG", "LONG"),
        *("LONGLONG", "LONGLONG", "LONG", "LONGLONG", "YEAR", "FLOAT", "DOUBLE"),
        *("NEWDECIMAL", "NEWDECIMAL", "DATE", *["DATETIME"] * 7, "TIMESTAMP"),
        *("TIME", "TIME", "TIME", "STRING", "VAR_STRING", "BLOB", "VAR_STRING", "BLOB"),
        *("STRING", "STRING", "STRING", "VAR_STRING", "BLOB", "BLOB", "BIT", "BIT"),
        *("BLOB", "GEOMETRY"),
    ]


@pytest.mark.parametrize("results_charset", [None, "NULL"], ids=["utf8mb4", "raw"])
def test_text_rows_are_the_documented_values(
    mariadb_dsn: Dsn, table: str, reference: Reference, results_charset: str | None
) -> None:
    """Every value of the all-types table, text protocol, each format: exactly the
    document built from PyMySQL's values.  ``raw`` (character_set_results = NULL)
    sends the latin1 columns as latin1, which the transcoder converts to UTF-8."""
    sql, _ = select_all(table, False)

    async def go(client: aio.Client) -> dict[str, bytes]:
        return {fmt: await query_format(client, fmt, sql) for fmt in FORMATS}

    docs = on_server(mariadb_dsn, go, results_charset=results_charset)
    fields = json.loads(docs["json"])["fields"]
    if results_charset is None:
        assert fields == reference.fields
    else:
        latin1 = [f["name"] for f in fields if f["charset"] == 8]
        assert latin1 == ["l1", "l1t"]  # latin1_swedish_ci: sent as stored
    rows = [json_row(r) for r in reference.rows]
    f = dumps(fields)
    assert docs["json"] == b'{"fields":' + f + b',"rows":[' + b",".join(rows) + b"]," + STATS + b"}"
    assert docs["ndjson"] == (
        b'{"fields":' + f + b"}\n" + b"".join(r + b"\n" for r in rows) + b"{" + STATS + b"}\n"
    )
    expected_mp = {
        "fields": fields,
        "rows": [msgpack_row(r) for r in reference.rows],
        "rows_affected": 0,
        "insert_id": 0,
        "warnings": 0,
    }
    assert docs["msgpack"] == msgpack.packb(expected_mp, use_bin_type=True)
    # And json.loads gives the documented values (floats bit for bit).
    loaded = json.loads(docs["json"])["rows"]
    for got, row in zip(loaded, reference.rows, strict=True):
        assert same_floats(got, [ref_value(c, v, "json") for c, v in zip(COLS, row, strict=True)])
    unpacked = msgpack.unpackb(docs["msgpack"])["rows"]
    for got, row in zip(unpacked, reference.rows, strict=True):
        assert same_floats(got, msgpack_row(row))


def test_reference_spot_checks(reference: Reference) -> None:
    """The reference itself, on values whose documented form is known by heart."""
    pymysql_of = {r[0]: dict(zip(NAMES, r, strict=True)) for r in reference.rows}
    json_of: dict[int, dict[str, Any]] = {
        r[0]: {c.name: ref_value(c, v, "json") for c, v in zip(COLS, r, strict=True)}
        for r in reference.rows
    }
    assert json_of[1]["bi"] == -(2**63) and json_of[2]["biu"] == 2**64 - 1
    assert json_of[2]["dc"] == "9" * 35 + "." + "9" * 30
    assert json_of[3]["dc"] == "0." + "0" * 30
    assert json_of[4]["dc"] == "-0." + "0" * 29 + "1"
    assert json_of[3]["zf"] == 42 and json_of[3]["yr"] == 0
    assert json_of[3]["dt"] == "0000-00-00" and json_of[4]["dt"] == "2016-00-00"
    assert json_of[3]["dtm6"] == "0000-00-00 00:00:00.000000"
    assert json_of[5]["dtm3"] == "2016-00-00 00:00:00.500"
    assert [json_of[4][f"dtm{n}"] for n in (0, 1, 6)] == [
        "2024-02-29 12:34:56",
        "2024-02-29 12:34:56.1",
        "2024-02-29 12:34:56.123456",
    ]
    assert json_of[1]["ts"] == "1970-01-01 00:00:01.000000"
    assert json_of[2]["tm"] == "838:59:59" and json_of[1]["tm6"] == "-838:59:59.999999"
    assert json_of[3]["tm6"] == "-00:00:00.000001" and json_of[4]["tm6"] == "24:00:00.500000"
    assert json_of[5]["tm6"] == "-00:00:00.500000"
    assert json_of[2]["l1"] == "€\x81\x8d\x8f\x90\x9d\xa0éÿabc"
    assert json_of[2]["l1t"] == latin1_text(ALL_BYTES)
    assert json_of[2]["b64"] == 2**64 - 1 and json_of[3]["b64"] == 0x0123456789ABCDEF
    assert json_of[4]["b64"] == 128 and json_of[2]["b1"] == 1
    assert json_of[3]["bn"] == base64.b64encode(b"\x01\x00\x00\x00").decode()
    assert json_of[2]["vb"] == base64.b64encode(ALL_BYTES).decode()
    assert json_of[5]["js"] is None and pymysql_of[5]["js"] == "null"
    assert json_of[2]["js"]["n"] == [1, -0.0025, float("inf"), True, False, None]
    assert json_of[2]["vc"] == SPECIAL and json_of[2]["ch"] == "é😀\"\\'xyzw"


# ------------------------------------------------------------------------ (a) protocols

NO_FLOAT = tuple(n for n in NAMES if n != "f")


@pytest.mark.parametrize("fmt", FORMATS)
def test_text_and_binary_protocol_give_the_same_bytes(
    mariadb_dsn: Dsn, table: str, fmt: str
) -> None:
    """Every column but FLOAT: text and binary protocol give byte-identical documents."""
    text_sql, _ = select_all(table, False, NO_FLOAT)
    binary_sql, params = select_all(table, True, NO_FLOAT)

    async def go(client: aio.Client) -> tuple[bytes, bytes]:
        return (
            await query_format(client, fmt, text_sql),
            await query_format(client, fmt, binary_sql, params),
        )

    text, binary = on_server(mariadb_dsn, go)
    assert binary == text
    if fmt == "msgpack":
        assert list(msgpack.unpackb(text)) == ["fields", "rows", *STAT_KEYS]
    else:
        assert text.endswith(b"{" + STATS + b"}\n" if fmt == "ndjson" else b"]," + STATS + b"}")


def test_select_star_differs_by_protocol_only_in_float(
    mariadb_dsn: Dsn, table: str, reference: Reference
) -> None:
    """``SELECT *`` both ways, as the brief states it: everything but FLOAT is equal
    after parsing (bytes are compared above), FLOAT follows :data:`FLOAT_CASES`."""
    text_sql, _ = select_all(table, False)
    binary_sql, params = select_all(table, True)

    async def go(client: aio.Client) -> list[bytes]:
        return [
            await client.query_json(text_sql),
            await client.query_json(binary_sql, params),
            await client.query_msgpack(text_sql),
            await client.query_msgpack(binary_sql, params),
        ]

    tj, bj, tm, bm = on_server(mariadb_dsn, go)
    fi = NAMES.index("f")
    for text_doc, binary_doc in (
        (json.loads(tj), json.loads(bj)),
        (msgpack.unpackb(tm), msgpack.unpackb(bm)),
    ):
        assert text_doc["fields"] == binary_doc["fields"]
        for t_row, b_row in zip(text_doc["rows"], binary_doc["rows"], strict=True):
            assert same_floats(t_row[:fi] + t_row[fi + 1 :], b_row[:fi] + b_row[fi + 1 :])
    # The FLOAT column, case by case.
    text_f = {r[0]: r[fi] for r in json.loads(tj)["rows"]}
    binary_f = {r[0]: r[fi] for r in json.loads(bj)["rows"]}
    mp_binary_f = {r[0]: r[fi] for r in msgpack.unpackb(bm)["rows"]}
    pymysql_f = {r[0]: r[fi] for r in reference.rows}
    for k, (name, inserted, exact) in enumerate(FLOAT_CASES):
        i = FLOAT_ROW0 + k
        stored = float32(float(inserted)) + 0.0  # what the column holds (-0.0 as 0)
        t, b = text_f[i], binary_f[i]
        assert isinstance(t, float) and isinstance(b, float), name
        # Text rows: the server's text, re-laid out (PyMySQL parses the same text).
        assert struct.pack("<d", t) == struct.pack("<d", pymysql_f[i]), name
        assert t == float(f"{stored:.6g}"), name  # six significant digits
        # Binary rows: the shortest digits that read back as the float32.
        assert float32(b) == stored, name
        assert mp_binary_f[i] == b, name  # msgpack: float 64 of the json text
        if exact:
            assert float32(t) == float32(b), name
        else:
            assert float32(t) != float32(b), name
    # Exact spellings of a few binary-row FLOATs (shortest float32 digits, repr layout).
    shown = {FLOAT_CASES[k][0]: binary_f[FLOAT_ROW0 + k] for k in range(len(FLOAT_CASES))}
    assert repr(shown["float32 max"]) == "3.4028235e+38"
    assert repr(shown["smallest subnormal"]) == "1e-45"
    assert repr(shown["0.1"]) == "0.1"
    assert repr(shown["2**24"]) == "16777216.0"
    assert repr(shown["pi"]) == "3.1415927"
    assert repr(shown["negative zero"]) == "0.0"  # the server stores +0
    assert b",3.4028235e+38," in bj and b",3.40282e+38," in tj


# ------------------------------------------------------------------------ (c) backends


@pytest.mark.parametrize("backend", ["c"], indirect=True)  # it runs both itself
def test_c_and_pure_give_the_same_bytes(
    mariadb_dsn: Dsn, table: str, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    """Every format, both protocols, both charset modes: the C and the pure row
    transcoder give the same bytes."""
    c = mywire._backend.load_c()
    if c is None:
        pytest.skip("the C extension is not built")
    text_sql, _ = select_all(table, False)
    binary_sql, params = select_all(table, True)

    async def go(client: aio.Client) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for fmt in FORMATS:
            out[fmt + " text"] = await query_format(client, fmt, text_sql)
            out[fmt + " binary"] = await query_format(client, fmt, binary_sql, params)
        text = await client.query(text_sql)
        binary = await client.query(binary_sql, params)
        out["psdb text"] = transcode(text.events, "psdb")
        out["psdb binary"] = transcode(binary.events, "psdb")
        options: list[dict[str, Any]] = [{"int64_as_string": True}, {"decimal_as_number": True}]
        for opts in options:
            out[f"json {opts}"] = await client.query_json(text_sql, **opts)
            out[f"msgpack binary {opts}"] = await client.query_msgpack(binary_sql, params, **opts)
        return out

    results: dict[str, dict[str, bytes]] = {}
    for impl in (c, mywire._backend.PURE):
        monkeypatch.setattr(mywire._backend, "IMPL", impl)
        results[impl.__name__] = on_server(mariadb_dsn, go)
        raw = on_server(mariadb_dsn, go, results_charset="NULL")
        results[impl.__name__].update({k + " raw": v for k, v in raw.items()})
    got_c, got_pure = results.values()
    assert got_c.keys() == got_pure.keys()
    for key in got_c:
        assert got_c[key] == got_pure[key], key


# ------------------------------------------------------------------------ (d) psdb


def text_values(payload: bytes, ncols: int) -> list[bytes | None]:
    """Cut a text-protocol row into its values (lenenc strings, 0xFB = NULL)."""
    out: list[bytes | None] = []
    pos = 0
    for _ in range(ncols):
        first = payload[pos]
        if first == 0xFB:
            out.append(None)
            pos += 1
            continue
        if first < 0xFB:
            n, pos = first, pos + 1
        else:
            width = {0xFC: 2, 0xFD: 3, 0xFE: 8}[first]
            n = int.from_bytes(payload[pos + 1 : pos + 1 + width], "little")
            pos += 1 + width
        out.append(payload[pos : pos + n])
        pos += n
    assert pos == len(payload)
    return out


def psdb_row(values: Sequence[bytes | None]) -> dict[str, object]:
    return {
        "lengths": [str(-1 if v is None else len(v)) for v in values],
        "values": base64.b64encode(b"".join(v for v in values if v is not None)).decode(),
    }


def psdb_fields(reference: Reference, names: Sequence[str] = NAMES) -> list[dict[str, object]]:
    """vitess.query.Field in proto3 JSON: keys with default values are left out."""
    out = []
    for f in reference.fields:
        if f["name"] not in names:
            continue
        items = {
            "name": f["name"],
            "type": BY_NAME[str(f["name"])].vitess,
            "table": f["table"],
            "orgTable": f["org_table"],
            "database": f["database"],
            "orgName": f["org_name"],
            "columnLength": f["length"],
            "charset": f["charset"],
            "decimals": f["decimals"],
            "flags": f["flags"],
        }
        out.append({k: v for k, v in items.items() if v})
    return out


def shortest_float32(x: float) -> str:
    """The fewest significant digits that read back as the float32 ``x``, repr's layout."""
    for digits in range(1, 10):
        text = f"{x:.{digits}g}"
        try:
            if float32(float(text)) == x:
                return repr(float(text))
        except OverflowError:  # rounded beyond the float32 range
            continue
    raise AssertionError(x)


def test_psdb_rows_carry_the_text_protocol_bytes(
    mariadb_dsn: Dsn, table: str, reference: Reference
) -> None:
    """psdb over the text protocol: each value's bytes exactly as the row carried them;
    Vitess type names; the fields in proto3 JSON; ``"values":""`` on a row of NULLs."""
    sql, _ = select_all(table, False)

    async def go(client: aio.Client) -> tuple[list[bytes], bytes]:
        r = await client.query(sql)
        ((start, payloads),) = r.resultsets
        assert not start.binary
        return payloads, transcode(r.events, "psdb")

    payloads, doc = on_server(mariadb_dsn, go)
    rows = [psdb_row(text_values(p, len(COLS))) for p in payloads]
    expected = {"result": {"fields": psdb_fields(reference), "rows": rows}}
    assert doc == dumps(expected)
    # Spot checks of the text forms, independent of the payload cutting.
    decoded = json.loads(doc)["result"]["rows"]
    by_id = {}
    for row in decoded:
        lengths = [int(n) for n in row["lengths"]]
        blob = base64.b64decode(row["values"])
        values: list[bytes | None] = []
        pos = 0
        for n in lengths:
            values.append(None if n < 0 else blob[pos : pos + n])
            pos += max(n, 0)
        assert pos == len(blob)
        by_id[int(values[0] or b"-1")] = dict(zip(NAMES, values, strict=True))
    assert by_id[3]["zf"] == b"00000042" and by_id[3]["yr"] == b"0000"
    assert by_id[3]["zbi"] == b"00000000000000000007"
    assert by_id[3]["dtm6"] == b"0000-00-00 00:00:00.000000"
    assert by_id[2]["l1"] == "€\x81\x8d\x8f\x90\x9d\xa0éÿabc".encode()
    assert by_id[2]["b64"] == b"\xff" * 8 and by_id[2]["vb"] == ALL_BYTES
    assert by_id[2]["js"] == JSON_DOC.encode()
    assert by_id[0] == {n: (b"0" if n == "id" else None) for n in NAMES}
    assert by_id[FLOAT_ROW0]["f"] == b"3.40282e38"
    assert by_id[FLOAT_ROW0 + 6]["d"] == b"1e16"
    assert [r["lengths"][0] for r in decoded] == [str(len(str(r["id"]))) for r in ALL_ROWS]


def test_psdb_raw_latin1_is_converted(mariadb_dsn: Dsn, table: str, reference: Reference) -> None:
    """character_set_results = NULL: latin1 columns arrive as latin1 and psdb carries
    their UTF-8; every other value is the row's own bytes."""
    sql, _ = select_all(table, False)

    async def go(client: aio.Client) -> tuple[list[bytes], bytes]:
        r = await client.query(sql)
        ((_, payloads),) = r.resultsets
        return payloads, transcode(r.events, "psdb")

    payloads, doc = on_server(mariadb_dsn, go, results_charset="NULL")
    rows = []
    for p in payloads:
        values = text_values(p, len(COLS))
        rows.append(
            psdb_row(
                [
                    latin1_text(v).encode() if v is not None and c.latin1 else v
                    for c, v in zip(COLS, values, strict=True)
                ]
            )
        )
    assert json.loads(doc)["result"]["rows"] == rows
    assert payloads[2] != b""  # the maxima row holds latin1 bytes 0x80..0xFF
    assert bytes(range(0x80, 0x100)) in payloads[2]


def test_psdb_over_the_binary_protocol(mariadb_dsn: Dsn, table: str, reference: Reference) -> None:
    """psdb from binary rows: the text forms, except where the binary value has no text
    of its own: ZEROFILL/YEAR as canonical digits, FLOAT as its json text, DOUBLE as
    repr."""
    text_sql, _ = select_all(table, False)
    binary_sql, params = select_all(table, True)

    async def go(client: aio.Client) -> tuple[list[bytes], bytes]:
        t = await client.query(text_sql)
        b = await client.query(binary_sql, params)
        ((_, payloads),) = t.resultsets
        start = next(e for e in b.events if isinstance(e, ResultsetStart))
        assert start.binary
        return payloads, transcode(b.events, "psdb")

    payloads, doc = on_server(mariadb_dsn, go)
    rows = []
    for p, ref in zip(payloads, reference.rows, strict=True):
        values = text_values(p, len(COLS))
        for k, (c, v) in enumerate(zip(COLS, values, strict=True)):
            if v is None:
                continue
            if c.zerofill:
                values[k] = str(int(v)).encode()
            elif c.name == "f":
                inserted = FLOAT_CASES[ref[0] - FLOAT_ROW0][1]
                # + 0.0: the server stores -0.0 as 0.
                values[k] = shortest_float32(float32(float(inserted)) + 0.0).encode()
            elif c.name == "d":
                values[k] = repr(ref[k]).encode()
        rows.append(psdb_row(values))
    expected = {"result": {"fields": psdb_fields(reference), "rows": rows}}
    assert doc == dumps(expected)
    decoded = json.loads(doc)["result"]["rows"]
    yr = NAMES.index("yr")
    assert decoded[3]["lengths"][yr] == "1"  # YEAR 0 is "0" here, "0000" in text rows


def test_psdb_row_of_nulls_has_empty_values(mariadb_dsn: Dsn, table: str) -> None:
    cols = [n for n in NAMES if n != "id"]
    sql = f"SELECT {', '.join(cols)} FROM {table} WHERE id = 0"

    async def go(client: aio.Client) -> tuple[bytes, bytes]:
        return (
            transcode((await client.query(sql)).events, "psdb"),
            transcode((await client.query(sql + " AND id >= ?", [0])).events, "psdb"),
        )

    for doc in on_server(mariadb_dsn, go):
        (row,) = json.loads(doc)["result"]["rows"]
        assert row == {"lengths": ["-1"] * len(cols), "values": ""}
        assert doc.endswith(
            b'{"lengths":[' + b",".join([b'"-1"'] * len(cols)) + b'],"values":""}]}}'
        )


# ------------------------------------------------------------------------ (e) errors


def server_error(code: int, sqlstate: str, message: str) -> dict[str, object]:
    return {"kind": "server", "message": message, "code": code, "sqlstate": sqlstate}


def syntax_message(near: str) -> str:
    return (
        "You have an error in your SQL syntax; check the manual that corresponds to your "
        f"MariaDB server version for the right syntax to use near '{near}' at line 1"
    )


ErrorCase = tuple[str, str, "list[object] | None", dict[str, object], str]


def error_cases(dsn: Dsn, table: str) -> list[ErrorCase]:
    """(name, sql, params, error member, vtrpc code)."""
    missing = server_error(1146, "42S02", f"Table '{dsn.database}.mw_no_such_table' doesn't exist")
    dup = server_error(1062, "23000", "Duplicate entry '1' for key 'PRIMARY'")
    syntax = server_error(1064, "42000", syntax_message("SELEC 1"))
    syntax_binary = server_error(1064, "42000", syntax_message("SELEC ?"))
    return [
        ("syntax", "SELEC 1", None, syntax, "INVALID_ARGUMENT"),
        ("syntax, binary", "SELEC ?", [1], syntax_binary, "INVALID_ARGUMENT"),
        ("missing table", "SELECT * FROM mw_no_such_table", None, missing, "NOT_FOUND"),
        (
            "missing table, binary",
            "SELECT * FROM mw_no_such_table WHERE 1 = ?",
            [1],
            missing,
            "NOT_FOUND",
        ),
        ("duplicate", f"INSERT INTO {table} (id) VALUES (1)", None, dup, "ALREADY_EXISTS"),
        ("duplicate, binary", f"INSERT INTO {table} (id) VALUES (?)", [1], dup, "ALREADY_EXISTS"),
    ]


def test_server_errors_end_the_document(mariadb_dsn: Dsn, table: str) -> None:
    """Syntax error, missing table, duplicate key, over both protocols: each format is a
    whole document ending with the error member, and the connection stays usable."""
    cases = error_cases(mariadb_dsn, table)

    async def go(client: aio.Client) -> list[dict[str, bytes]]:
        out = []
        for _, sql, params, _, _ in cases:
            docs = {fmt: await query_format(client, fmt, sql, params) for fmt in FORMATS}
            docs["psdb"] = await collect(client.stream(sql, params, format="psdb"))
            docs["after"] = await client.query_json("SELECT 1 AS a")
            out.append(docs)
        return out

    results = on_server(mariadb_dsn, go)
    for (name, _, _, member, vtrpc), docs in zip(cases, results, strict=True):
        assert docs["json"] == b'{"error":' + dumps(member) + b"}", name
        assert json.loads(docs["json"]) == {"error": member}, name
        assert docs["ndjson"] == b'{"error":' + dumps(member) + b"}\n", name
        assert docs["msgpack"] == msgpack.packb({"error": member}, use_bin_type=True), name
        message = f"{member['message']} (errno {member['code']}) (sqlstate {member['sqlstate']})"
        psdb = {"error": {"message": message, "code": vtrpc}}  # no result: nothing ran
        assert docs["psdb"] == dumps(psdb), name
        assert docs["after"].endswith(b'"rows":[[1]],' + STATS + b"}"), name


MID_SQL = "SELECT seq, IF(seq = {}, (SELECT 1 UNION SELECT 2), seq) AS v FROM seq_1_to_1000"
SUBQUERY = server_error(1242, "21000", "Subquery returns more than 1 row")


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_error_in_the_middle_of_a_resultset(mariadb_dsn: Dsn, binary: bool) -> None:
    """The server sends rows 1..499, then ERR: the rows so far, then the error member."""
    sql, params = (MID_SQL.format("?"), [500]) if binary else (MID_SQL.format(500), None)

    async def go(client: aio.Client) -> dict[str, bytes]:
        docs = {fmt: await query_format(client, fmt, sql, params) for fmt in FORMATS}
        docs["after"] = await client.query_json("SELECT 2 AS b")
        return docs

    docs = on_server(mariadb_dsn, go)
    rows = [f'[{i},"{i}"]'.encode() for i in range(1, 500)]
    doc = docs["json"]
    head = doc[: doc.index(b'"rows":[') + len(b'"rows":[')]
    assert head.startswith(b'{"fields":[{"name":"seq",')
    assert doc == head + b",".join(rows) + b'],"error":' + dumps(SUBQUERY) + b"}"
    assert [f["name"] for f in json.loads(doc)["fields"]] == ["seq", "v"]
    lines = ndjson_lines(docs["ndjson"])
    assert lines[0] == b"{" + head[1 : -len(b',"rows":[')] + b"}"
    assert lines[1:-1] == rows
    assert lines[-1] == b'{"error":' + dumps(SUBQUERY) + b"}"
    mp = msgpack.unpackb(docs["msgpack"])
    assert list(mp) == ["fields", "rows", "error"]
    assert mp["rows"] == [[i, str(i)] for i in range(1, 500)] and mp["error"] == SUBQUERY
    assert docs["after"].endswith(b'"rows":[[2]],' + STATS + b"}")


# ------------------------------------------------------------------------ (f) limits

LIMIT_SQL = "SELECT seq, REPEAT('x', 100) AS v FROM seq_1_to_1000"


def limit_member(kind: str, message: str) -> bytes:
    return dumps(
        {"kind": "limit", "message": message, "code": None, "sqlstate": None, "limit": kind}
    )


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_max_rows(mariadb_dsn: Dsn, binary: bool) -> None:
    sql, params = (LIMIT_SQL + " WHERE seq >= ?", [0]) if binary else (LIMIT_SQL, None)

    async def go(client: aio.Client) -> dict[str, bytes]:
        docs = {fmt: await query_format(client, fmt, sql, params, max_rows=10) for fmt in FORMATS}
        docs["exact"] = await client.query_json(sql, params, max_rows=1000)
        docs["after"] = await client.query_json("SELECT 3 AS c")
        return docs

    docs = on_server(mariadb_dsn, go)
    rows = [b'[%d,"%s"]' % (i, b"x" * 100) for i in range(1, 11)]
    member = limit_member("max_rows", "Row count exceeded 10")
    doc = docs["json"]
    head = doc[: doc.index(b'"rows":[') + len(b'"rows":[')]
    assert doc == head + b",".join(rows) + b'],"error":' + member + b"}"
    lines = ndjson_lines(docs["ndjson"])
    assert lines[1:] == [*rows, b'{"error":' + member + b"}"]
    mp = msgpack.unpackb(docs["msgpack"])
    assert mp["rows"] == [[i, "x" * 100] for i in range(1, 11)]
    assert mp["error"] == json.loads(member)
    # Exactly at the limit: complete.
    assert docs["exact"].endswith(b'"x' + b"x" * 99 + b'"]],' + STATS + b"}")
    assert json.loads(docs["exact"])["rows"][-1][0] == 1000
    assert docs["after"].endswith(b'"rows":[[3]],' + STATS + b"}")


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_max_bytes(mariadb_dsn: Dsn, binary: bool) -> None:
    sql, params = (LIMIT_SQL + " WHERE seq >= ?", [0]) if binary else (LIMIT_SQL, None)
    max_bytes = 5000

    async def go(client: aio.Client) -> dict[str, bytes]:
        docs = {
            fmt: await query_format(client, fmt, sql, params, max_bytes=max_bytes)
            for fmt in FORMATS
        }
        docs["after"] = await client.query_json("SELECT 4 AS d")
        return docs

    docs = on_server(mariadb_dsn, go)
    rows = [b'[%d,"%s"]' % (i, b"x" * 100) for i in range(1, 1001)]
    member = limit_member("max_bytes", f"Response size exceeded {max_bytes} bytes")
    budget = max_bytes - CLOSING_RESERVE

    def fitting(head: int, items: list[bytes], sep: int) -> int:
        """How many items fit: head + items (with separators) <= budget."""
        n, size = 0, head
        while size + len(items[n]) + (sep if n else 0) <= budget:
            size += len(items[n]) + (sep if n else 0)
            n += 1
        return n

    doc = docs["json"]
    head = doc[: doc.index(b'"rows":[') + len(b'"rows":[')]
    n = fitting(len(head), rows, 1)
    assert 20 < n < 40
    assert doc == head + b",".join(rows[:n]) + b'],"error":' + member + b"}"
    assert len(doc) <= max_bytes
    nd = docs["ndjson"]
    header = nd[: nd.index(b"\n") + 1]
    n = fitting(len(header), [r + b"\n" for r in rows], 0)
    assert 20 < n < 40
    assert nd == header + b"".join(r + b"\n" for r in rows[:n]) + b'{"error":' + member + b"}\n"
    assert len(nd) <= max_bytes
    mp = msgpack.unpackb(docs["msgpack"])
    assert mp["error"] == json.loads(member)
    assert 0 < len(mp["rows"]) < 1000
    assert mp["rows"] == [[i, "x" * 100] for i in range(1, len(mp["rows"]) + 1)]
    assert len(docs["msgpack"]) <= max_bytes
    assert docs["after"].endswith(b'"rows":[[4]],' + STATS + b"}")


# ------------------------------------------------------------------------ (g) stream


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_stream_ndjson_lines(mariadb_dsn: Dsn, binary: bool) -> None:
    sql = "SELECT seq, CONCAT('r', seq) AS s FROM seq_1_to_2000"
    params = None
    if binary:
        sql, params = sql + " WHERE seq > ?", [0]

    async def go(client: aio.Client) -> list[bytes]:
        return [c async for c in client.stream(sql, params, format="ndjson")]

    chunks = on_server(mariadb_dsn, go)
    assert all(c.endswith(b"\n") for c in chunks if c)  # chunks hold whole lines
    lines = ndjson_lines(b"".join(chunks))
    header = json.loads(lines[0])
    assert list(header) == ["fields"] and [f["name"] for f in header["fields"]] == ["seq", "s"]
    assert [json.loads(line) for line in lines[1:-1]] == [[i, f"r{i}"] for i in range(1, 2001)]
    assert lines[1:-1] == [b'[%d,"r%d"]' % (i, i) for i in range(1, 2001)]
    assert lines[-1] == b"{" + STATS + b"}"


def test_stream_json_and_msgpack_assemble_to_the_document(mariadb_dsn: Dsn, table: str) -> None:
    sql, _ = select_all(table, False)

    async def go(client: aio.Client) -> tuple[bytes, bytes, bytes, bytes]:
        return (
            await collect(client.stream(sql, format="json")),
            await client.query_json(sql),
            await collect(client.stream(sql, format="msgpack")),
            await client.query_msgpack(sql),
        )

    sj, qj, sm, qm = on_server(mariadb_dsn, go)
    assert sj == qj and sm == qm


# ------------------------------------------------------------------------ (h) multi


def test_multi_statements(mariadb_dsn: Dsn) -> None:
    sql = "SELECT 1 AS a; DO 1; SELECT 'x' AS b"

    async def go(client: aio.Client) -> dict[str, bytes]:
        return {
            "json": await client.query_json(sql),
            "msgpack": await client.query_msgpack(sql),
            "first": await client.query_json(sql, multi=False),
            "ndjson": await collect(client.stream(sql, format="ndjson")),
            "error": await client.query_json("SELECT 1 AS a; SELECT * FROM mw_no_such_table"),
            "error mp": await client.query_msgpack("SELECT 1 AS a; SELECT * FROM mw_no_such_table"),
            "one": await client.query_json("SELECT 5 AS e", multi=True),
            "after": await client.query_json("SELECT 6 AS f"),
        }

    docs = on_server(mariadb_dsn, go, multi_statements=True)
    stats = {"rows_affected": 0, "insert_id": 0, "warnings": 0}
    result = json.loads(docs["json"])
    assert isinstance(result, list) and len(result) == 3
    assert [r["rows"] for r in result] == [[[1]], [], [["x"]]]
    assert result[1] == {"fields": [], "rows": [], **stats}
    assert [f["name"] for f in result[0]["fields"]] == ["a"]
    assert msgpack.unpackb(docs["msgpack"]) == result
    assert docs["json"].startswith(b'[{"fields":[{"name":"a",') and docs["json"].endswith(b"}]")
    multi_member = {
        "kind": "multi",
        "message": "the response holds more than one resultset; use multi=True",
        "code": None,
        "sqlstate": None,
    }
    first = json.loads(docs["first"])
    assert first == {**result[0], "error": multi_member}
    lines = [json.loads(x) for x in ndjson_lines(docs["ndjson"])]
    assert lines == [
        {"fields": result[0]["fields"]},
        [1],
        stats,
        {"fields": []},
        stats,
        {"fields": result[2]["fields"]},
        ["x"],
        stats,
    ]
    one = json.loads(docs["one"])
    assert one == [{"fields": one[0]["fields"], "rows": [[5]], **stats}]
    assert docs["one"].startswith(b"[{") and docs["one"].endswith(b"}]")
    assert docs["after"].endswith(b'"rows":[[6]],' + STATS + b"}")


MULTI_ERROR_SQL = "SELECT 1 AS a; SELECT * FROM mw_no_such_table"


def multi_error_expected(dsn: Dsn, doc: bytes) -> list[dict[str, object]]:
    missing = server_error(1146, "42S02", f"Table '{dsn.database}.mw_no_such_table' doesn't exist")
    fields = json.loads(doc)[0]["fields"]
    first = {"fields": fields, "rows": [[1]], "rows_affected": 0, "insert_id": 0, "warnings": 0}
    return [first, {"error": missing}]


def test_multi_statements_error_after_a_result(mariadb_dsn: Dsn) -> None:
    """The second statement fails: with multi=True a list of the first result and a
    result holding the error, in json and (the same document) msgpack."""

    async def go(client: aio.Client) -> tuple[bytes, bytes, bytes]:
        return (
            await client.query_json(MULTI_ERROR_SQL, multi=True),
            await client.query_msgpack(MULTI_ERROR_SQL, multi=True),
            await client.query_json("SELECT 6 AS f"),
        )

    doc, mp, after = on_server(mariadb_dsn, go, multi_statements=True)
    expected = multi_error_expected(mariadb_dsn, doc)
    assert json.loads(doc) == expected
    assert doc.endswith(b'},{"error":' + dumps(expected[1]["error"]) + b"}]")
    assert after.endswith(b'"rows":[[6]],' + STATS + b"}")
    assert msgpack.unpackb(mp) == expected


def test_multi_none_error_after_a_result_is_a_list(mariadb_dsn: Dsn) -> None:
    """multi=None: a list when the response holds several results; a result followed
    by an error is two (and the document must parse)."""

    async def go(client: aio.Client) -> tuple[bytes, bytes, bytes]:
        return (
            await client.query_json(MULTI_ERROR_SQL, multi=True),
            await client.query_json(MULTI_ERROR_SQL),
            await client.query_msgpack(MULTI_ERROR_SQL),
        )

    multi, doc, mp = on_server(mariadb_dsn, go, multi_statements=True)
    expected = multi_error_expected(mariadb_dsn, multi)
    assert json.loads(doc) == expected
    assert doc == multi
    assert msgpack.unpackb(mp) == expected


def test_call_procedure(mariadb_dsn: Dsn, table: str, reference: Reference) -> None:
    """CALL: the procedure's resultset and its closing OK; a list unless multi=False."""

    async def go(client: aio.Client) -> dict[str, bytes]:
        return {
            "json": await client.query_json(f"CALL {table}_p()"),
            "msgpack": await client.query_msgpack(f"CALL {table}_p()"),
            "first": await client.query_json(f"CALL {table}_p()", multi=False),
            "first mp": await client.query_msgpack(f"CALL {table}_p()", multi=False),
            "after": await client.query_json("SELECT 7 AS g"),
        }

    docs = on_server(mariadb_dsn, go)
    vc = reference.rows[3][NAMES.index("vc")]
    stats = {"rows_affected": 0, "insert_id": 0, "warnings": 0}
    result = json.loads(docs["json"])
    assert [r["rows"] for r in result] == [[[0, None], [3, vc]], []]
    assert result[1] == {"fields": [], "rows": [], **stats}
    assert [f["name"] for f in result[0]["fields"]] == ["id", "vc"]
    assert msgpack.unpackb(docs["msgpack"]) == result
    assert json.loads(docs["first"]) == result[0]
    assert docs["first"].endswith(b'"rows":[[0,null],[3,"\\u0000"]],' + STATS + b"}")
    assert msgpack.unpackb(docs["first mp"]) == result[0]
    assert docs["after"].endswith(b'"rows":[[7]],' + STATS + b"}")


class Number(str):
    """A JSON number's text, as json.loads's parse_float/parse_int hooks see it."""


def numbers(doc: bytes) -> Any:
    return json.loads(doc, parse_float=Number, parse_int=Number)


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_int64_as_string_and_decimal_as_number(
    mariadb_dsn: Dsn, table: str, reference: Reference, binary: bool
) -> None:
    cols = ("id", "i", "bi", "biu", "zbi", "dc", "dc0")
    sql, params = select_all(table, binary, cols)

    async def go(client: aio.Client) -> dict[str, bytes]:
        return {
            "quoted": await client.query_json(sql, params, int64_as_string=True),
            "quoted mp": await client.query_msgpack(sql, params, int64_as_string=True),
            "numbers": await client.query_json(sql, params, decimal_as_number=True),
            "numbers mp": await client.query_msgpack(sql, params, decimal_as_number=True),
        }

    docs = on_server(mariadb_dsn, go)
    idx = [NAMES.index(c) for c in cols]
    ref = [[r[k] for k in idx] for r in reference.rows]

    def text(v: object) -> str | None:
        return None if v is None else format(v, "f") if isinstance(v, Decimal) else str(v)

    quoted = json.loads(docs["quoted"])["rows"]
    assert quoted == [
        [r[0], r[1], text(r[2]), text(r[3]), text(r[4]), text(r[5]), text(r[6])] for r in ref
    ]
    assert msgpack.unpackb(docs["quoted mp"])["rows"] == quoted
    assert b'"-9223372036854775808","0","0"' in docs["quoted"]  # ZEROFILL: canonical digits
    as_numbers = numbers(docs["numbers"])["rows"]
    assert as_numbers == [[text(v) if v is not None else None for v in r] for r in ref]
    assert all(isinstance(v, Number) for r in as_numbers for v in r if v is not None)
    rows_text = docs["numbers"].split(b'"rows":')[1].split(b',"rows_affected":')[0]
    assert b'"' not in rows_text  # no quoted values at all
    mp_rows = msgpack.unpackb(docs["numbers mp"])["rows"]
    assert mp_rows == [
        [*r[:5], None if r[5] is None else float(r[5]), None if r[6] is None else float(r[6])]
        for r in ref
    ]
    assert all(isinstance(r[5], float) for r in mp_rows if r[5] is not None)
