"""Workloads shared by the transcoder benchmarks (``transcode_peers.py``, ``bench_transcode.py``).

Two kinds of data live here:

* :data:`WORKLOADS`: tables in a real MariaDB (database ``test``, names ``bench_*``),
  created and filled server-side with ``INSERT ... SELECT ... FROM seq_1_to_N`` (MariaDB's
  SEQUENCE engine), so every value is a deterministic function of the row number.  Each
  workload knows its SQL for the text protocol (COM_QUERY) and the binary protocol (a
  statement with one ``?`` bound to 0), and the *kind* of each selected column, which
  the correctness check of ``transcode_peers.py`` uses to normalise values.
* :func:`mixed_rows` and friends: the mixed workload's shape generated in Python (no
  server), as text-protocol and binary-protocol row payloads with their column
  definitions, for the in-memory transcoder benchmark.  The row encoders are written from
  the protocol description (as ``tests/rowbuild.py`` is), not from mywire's decoder.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import msgpack  # type: ignore[import-untyped]  # no stubs, no py.typed

from mywire.events import ColumnDefinition

__all__ = [
    "MIXED_COLUMNS",
    "MIXED_KINDS",
    "WORKLOADS",
    "Workload",
    "binary_row",
    "compare",
    "definitions_hash",
    "mixed_rows",
    "normalise",
    "text_row",
]

# Value kinds of the correctness check (what a JSON/msgpack value must denote).
#   int, uint: integers; str: text; decimal: DECIMAL text; double: float64; float: float32
#   (compared after rounding to float32: the documented FLOAT difference); datetime, date:
#   MySQL's text form; bytes: binary data (base64 in JSON); json: a JSON document.
KINDS = ("int", "uint", "str", "decimal", "double", "float", "datetime", "date", "bytes", "json")


@dataclass(frozen=True)
class Workload:
    """One benchmark table: its definition, how it is filled, and what is selected.

    ``columns`` is the column list of CREATE TABLE after ``id INT NOT NULL PRIMARY KEY``;
    ``fill`` the SELECT list that computes those columns from ``seq`` (the row number);
    ``select`` the columns the benchmark reads, and ``kinds`` their value kinds.
    """

    name: str
    title: str
    rows: int
    quick_rows: int
    columns: str
    fill: str
    select: str
    kinds: tuple[str, ...]

    def table(self, nrows: int) -> str:
        return f"bench_{self.name}_{nrows}"

    def create_sql(self, nrows: int) -> list[str]:
        """Statements that (re)create and fill the table with ``nrows`` rows."""
        t = self.table(nrows)
        return [
            f"DROP TABLE IF EXISTS {t}",
            f"CREATE TABLE {t} (id INT NOT NULL PRIMARY KEY, {self.columns}) "
            f"ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci "
            f"COMMENT='mywire bench {self.version}'",
            f"INSERT INTO {t} SELECT seq, {self.fill} FROM seq_1_to_{nrows}",
        ]

    def text_sql(self, nrows: int) -> str:
        return f"SELECT {self.select} FROM {self.table(nrows)} ORDER BY id"

    def binary_sql(self, nrows: int) -> str:
        """One parameter, bound to 0 by every client (all rows match)."""
        return f"SELECT {self.select} FROM {self.table(nrows)} WHERE id > ? ORDER BY id"

    @property
    def version(self) -> str:
        """A hash of the definition: a changed definition recreates the table."""
        text = "\0".join((self.columns, self.fill))
        return hashlib.sha256(text.encode()).hexdigest()[:12]


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload(
            name="mixed",
            title="rows x 10 mixed columns",
            rows=100_000,
            quick_rows=10_000,
            columns=(
                "u BIGINT UNSIGNED NOT NULL, name VARCHAR(64) NOT NULL, "
                "price DECIMAL(12,2) NOT NULL, x DOUBLE NOT NULL, ts DATETIME(6) NOT NULL, "
                "d DATE NOT NULL, maybe INT NULL, bin VARBINARY(32) NOT NULL, doc JSON NOT NULL"
            ),
            fill=(
                "CAST(CONV(LEFT(SHA2(seq, 256), 16), 16, 10) AS UNSIGNED), "
                "CONCAT(ELT(1 + seq % 8, 'alpha', 'zürich', '東京', 'naïve café', 'plain', "
                r"'emoji 😀', 'quote \" and \\ back', 'tab\there'), '-', seq), "
                "CAST((seq * 7919 % 10000000) / 100 - CAST(50000 AS SIGNED) AS DECIMAL(12,2)), "
                "SIN(seq) * POW(10, CAST(seq % 7 AS SIGNED) - 3), "
                "TIMESTAMP('2020-01-01') + INTERVAL seq * 7919 SECOND "
                "+ INTERVAL (seq * 37 % 999999 + 1) MICROSECOND, "
                "DATE('2000-01-01') + INTERVAL seq % 10000 DAY, "
                "IF(seq % 3 = 0, NULL, CAST(seq * 21023 AS SIGNED) - 1000000000), "
                "LEFT(UNHEX(SHA2(seq, 256)), seq % 33), "
                "JSON_OBJECT('id', seq, 'tag', ELT(1 + seq % 3, 'a', 'b', 'ü\"'), "
                "'vals', JSON_ARRAY(seq % 7, 1.5, NULL), 'ok', seq % 2 = 0)"
            ),
            select="id, u, name, price, x, ts, d, maybe, bin, doc",
            kinds=(
                "int",
                "uint",
                "str",
                "decimal",
                "double",
                "datetime",
                "date",
                "int",
                "bytes",
                "json",
            ),
        ),
        Workload(
            name="int",
            title="rows x 1 INT",
            rows=1_000_000,
            quick_rows=100_000,
            columns="v INT NOT NULL",
            fill="CAST(seq * 2654435761 % 4294967296 AS SIGNED) - 2147483648",
            select="v",
            kinds=("int",),
        ),
        Workload(
            name="blob",
            title="rows x 64 KiB BLOB",
            rows=2_000,
            quick_rows=200,
            columns="b MEDIUMBLOB NOT NULL",
            fill="REPEAT(UNHEX(SHA2(seq, 256)), 2048)",
            select="b",
            kinds=("bytes",),
        ),
        Workload(
            name="varchar",
            title="rows x 4 VARCHAR",
            rows=200_000,
            quick_rows=20_000,
            columns=(
                "a VARCHAR(32) NOT NULL, b VARCHAR(64) NOT NULL, c VARCHAR(128) NOT NULL, "
                "d VARCHAR(255) NOT NULL"
            ),
            fill=(
                "CONCAT('user', seq), MD5(seq), "
                "CONCAT(ELT(1 + seq % 5, 'Main St', 'Bahnhofstraße', '東京都', "
                "'Rue de l''Église', 'Calle 5'), ' ', seq), "
                "REPEAT(ELT(1 + seq % 3, 'lorem ', 'ipsum ', 'dolor '), 1 + seq % 12)"
            ),
            select="a, b, c, d",
            kinds=("str", "str", "str", "str"),
        ),
    )
}


def definitions_hash() -> str:
    """A hash of every workload's definition (names the recording cache)."""
    return hashlib.sha256("".join(w.version for w in WORKLOADS.values()).encode()).hexdigest()[:12]


# --------------------------------------------------------------------------------------
# Correctness: outputs normalised to comparable values
# --------------------------------------------------------------------------------------


def _f32(v: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", v))[0])


def _norm_value(v: object, kind: str, fmt: str) -> object:
    if v is None:
        return None
    if kind == "bytes":
        if fmt == "json" and isinstance(v, str):
            return base64.b64decode(v, validate=True)
        return bytes(v) if isinstance(v, (bytes, bytearray, memoryview)) else v
    if kind == "json":
        if isinstance(v, (bytes, bytearray)):
            v = v.decode()
        return json.loads(v) if isinstance(v, str) else v
    if kind == "decimal":
        return Decimal(v) if isinstance(v, str) else v
    if kind == "datetime":
        return datetime.fromisoformat(v) if isinstance(v, str) else v
    if kind == "date":
        return date.fromisoformat(v) if isinstance(v, str) else v
    if kind == "float":
        return _f32(v) if isinstance(v, float) else ("not a float", v)
    if kind == "double":
        return v if isinstance(v, float) else ("not a float", v)
    if kind in ("int", "uint"):
        return v if isinstance(v, int) and not isinstance(v, bool) else ("not an int", v)
    return v if isinstance(v, str) else ("not a str", v)


def normalise(output: object, fmt: str, kinds: Sequence[str]) -> list[tuple[object, ...]]:
    """Rows of an output as comparable values.

    ``fmt`` is "json" (a JSON document with a ``rows`` member), "msgpack" (the same map)
    or "python" (rows of Python values).  Per kind: binary data to bytes (base64 decoded
    in JSON), DECIMAL text to Decimal, DATETIME/DATE text to datetime/date, JSON
    documents parsed (text, or embedded), FLOAT rounded to float32 (the documented
    difference between the protocols); integers, doubles and text must already be int,
    float and str, and are compared exactly.
    """
    if fmt == "json":
        assert isinstance(output, bytes)
        rows = json.loads(output)["rows"]
    elif fmt == "msgpack":
        rows = msgpack.unpackb(output, raw=False)["rows"]
    else:
        rows = output
    return [tuple(_norm_value(v, k, fmt) for v, k in zip(row, kinds, strict=True)) for row in rows]


def compare(got: list[tuple[object, ...]], want: list[tuple[object, ...]]) -> str | None:
    """None when equal, else where they first differ."""
    if got == want:
        return None
    if len(got) != len(want):
        return f"{len(got)} rows, expected {len(want)}"
    for i, (a, b) in enumerate(zip(got, want, strict=True)):
        if a != b:
            for j, (x, y) in enumerate(zip(a, b, strict=False)):
                if x != y or type(x) is not type(y):
                    return f"row {i} column {j}: {x!r:.80} != {y!r:.80}"
            return f"row {i}: {a!r:.120} != {b!r:.120}"
    return "rows differ"


# --------------------------------------------------------------------------------------
# The mixed workload in memory (no server): column definitions and row payloads
# --------------------------------------------------------------------------------------

UTF8MB4, BINARY = 45, 63
_UNSIGNED, _NOT_NULL, _BINARY_FLAG, _BLOB_FLAG = 0x20, 0x01, 0x80, 0x10

#: What MariaDB 10.11 sends for the mixed table's columns (a client that negotiated
#: MARIADB_CLIENT_EXTENDED_METADATA sees the JSON column's extended type "json").
MIXED_COLUMNS = (
    ColumnDefinition(name="id", character_set=BINARY, type=3, flags=_NOT_NULL, column_length=11),
    ColumnDefinition(
        name="u", character_set=BINARY, type=8, flags=_NOT_NULL | _UNSIGNED, column_length=20
    ),
    ColumnDefinition(name="name", character_set=UTF8MB4, type=253, column_length=256),
    ColumnDefinition(name="price", character_set=BINARY, type=246, decimals=2, column_length=14),
    ColumnDefinition(name="x", character_set=BINARY, type=5, decimals=31, column_length=22),
    ColumnDefinition(name="ts", character_set=BINARY, type=12, decimals=6, column_length=26),
    ColumnDefinition(name="d", character_set=BINARY, type=10, column_length=10),
    ColumnDefinition(name="maybe", character_set=BINARY, type=3, column_length=11),
    ColumnDefinition(
        name="bin", character_set=BINARY, type=253, flags=_BINARY_FLAG, column_length=32
    ),
    ColumnDefinition(
        name="doc",
        character_set=UTF8MB4,
        type=252,
        flags=_BLOB_FLAG,
        column_length=4294967295,
        extended_type="json",
    ),
)
MIXED_KINDS = WORKLOADS["mixed"].kinds

MixedRow = tuple[int, int, str, Decimal, float, datetime, date, int | None, bytes, str]


def mixed_rows(n: int, seed: int = 0) -> list[MixedRow]:
    """``n`` rows of the mixed workload's shape (random, reproducible)."""
    rng = random.Random(seed)
    words = ["alpha", "zürich", "東京", "naïve café", "plain", "emoji 😀", 'q"b\\s', "t\tab"]
    base = datetime(2020, 1, 1)
    out: list[MixedRow] = []
    for i in range(1, n + 1):
        ts = base + timedelta(seconds=rng.randrange(10**9), microseconds=rng.randrange(1, 10**6))
        tag = rng.choice(["a", "b", 'ü\\"'])
        ok = "true" if i % 2 else "false"
        doc = f'{{"id": {i}, "tag": "{tag}", "vals": [{i % 7}, 1.5, null], "ok": {ok}}}'

        out.append(
            (
                i,
                rng.randrange(1 << 64),
                f"{rng.choice(words)}-{i}",
                Decimal(rng.randrange(-(10**9), 10**9)) / 100,
                rng.uniform(-1.0, 1.0) * 10.0 ** rng.randrange(-3, 4),
                ts,
                date(2000, 1, 1) + timedelta(days=rng.randrange(10_000)),
                None if i % 3 == 0 else rng.randrange(-(1 << 31), 1 << 31),
                rng.randbytes(rng.randrange(33)),
                doc,
            )
        )
    return out


def _lenenc(value: bytes) -> bytes:
    n = len(value)
    if n < 0xFB:
        return bytes([n]) + value
    if n < 1 << 16:
        return b"\xfc" + n.to_bytes(2, "little") + value
    if n < 1 << 24:
        return b"\xfd" + n.to_bytes(3, "little") + value
    return b"\xfe" + n.to_bytes(8, "little") + value


def text_row(row: MixedRow) -> bytes:
    """The text-protocol payload MariaDB sends for a mixed row."""
    i, u, name, price, x, ts, d, maybe, binv, doc = row
    cells = [
        str(i).encode(),
        str(u).encode(),
        name.encode(),
        f"{price:.2f}".encode(),
        repr(x).encode(),
        ts.strftime("%Y-%m-%d %H:%M:%S.%f").encode(),
        d.isoformat().encode(),
        None if maybe is None else str(maybe).encode(),
        binv,
        doc.encode(),
    ]
    return b"".join(b"\xfb" if c is None else _lenenc(c) for c in cells)


def binary_row(row: MixedRow) -> bytes:
    """The binary-protocol payload (COM_STMT_EXECUTE) MariaDB sends for a mixed row."""
    i, u, name, price, x, ts, d, maybe, binv, doc = row
    bitmap = bytearray((len(row) + 9) // 8)
    if maybe is None:
        bitmap[(7 + 2) // 8] |= 1 << ((7 + 2) % 8)
    cells = [
        struct.pack("<i", i),
        struct.pack("<Q", u),
        _lenenc(name.encode()),
        _lenenc(f"{price:.2f}".encode()),
        struct.pack("<d", x),
        b"\x0b"
        + struct.pack(
            "<HBBBBBI", ts.year, ts.month, ts.day, ts.hour, ts.minute, ts.second, ts.microsecond
        ),
        b"\x04" + struct.pack("<HBB", d.year, d.month, d.day),
        b"" if maybe is None else struct.pack("<i", maybe),
        _lenenc(binv),
        _lenenc(doc.encode()),
    ]
    return b"\x00" + bytes(bitmap) + b"".join(cells)
