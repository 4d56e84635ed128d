"""Row decoding benchmarks: 100,000 text rows x 10 mixed columns, C vs pure vs PyMySQL.

Run (see bench/README.md):

    pytest bench/bench_rows.py --benchmark-only --benchmark-columns=median,iqr,ops \
        --benchmark-group-by=group

The columns: INT, BIGINT, two DOUBLEs, two short utf8mb4 VARCHARs, a DATETIME, a
DECIMAL(10,2), a nullable INT (NULL in half the rows) and a TINYINT UNSIGNED.  All three
contenders decode the same row payloads (already split into packets) to the same Python
values; ``extra_info["correct"]`` records whether each one's output equals the values the
rows were generated from.

The PyMySQL contender is its own per-row code path: ``MysqlPacket`` over each payload and
``MySQLResult._read_row_from_packet`` with the ``(encoding, converter)`` list that
``MySQLResult._get_descriptions`` builds for these column types (its EOF check per packet
and the socket reads are left out, which only flatters it).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from importlib import metadata
from types import ModuleType
from typing import Any

import msgpack  # type: ignore[import-untyped]  # no stubs, no py.typed
import pytest
from pymysql import converters
from pymysql.connections import TEXT_TYPES, MySQLResult
from pymysql.protocol import MysqlPacket

from mywire import _backend, _pycore
from mywire.events import ColumnDefinition
from mywire.rows import decode_rows, row_spans

C = _backend.load_c()
BACKENDS = [pytest.param(_pycore, id="python")]
BACKENDS.append(
    pytest.param(C, id="c") if C else pytest.param(None, id="c", marks=pytest.mark.skip)
)

NROWS = 100_000
GROUP = f"{NROWS:,} text rows x 10 columns"
UTF8MB4, BINARY, UNSIGNED = 45, 63, 0x20

COLUMNS = (
    ColumnDefinition(name="id", character_set=BINARY, type=3),
    ColumnDefinition(name="big", character_set=BINARY, type=8),
    ColumnDefinition(name="x", character_set=BINARY, type=5),
    ColumnDefinition(name="y", character_set=BINARY, type=5),
    ColumnDefinition(name="name", character_set=UTF8MB4, type=253),
    ColumnDefinition(name="city", character_set=UTF8MB4, type=253),
    ColumnDefinition(name="created", character_set=BINARY, type=12),
    ColumnDefinition(name="price", character_set=BINARY, type=246, decimals=2),
    ColumnDefinition(name="maybe", character_set=BINARY, type=3),
    ColumnDefinition(name="flag", character_set=BINARY, type=1, flags=UNSIGNED),
)


def _generate() -> tuple[list[bytes], list[tuple[object, ...]]]:
    rng = random.Random(0)
    words = ["alpha", "beta", "gamma", "delta", "zürich", "東京", "oslo", "lima"]
    payloads: list[bytes] = []
    expected: list[tuple[object, ...]] = []
    for i in range(NROWS):
        x = rng.uniform(-1e6, 1e6)
        y = rng.random()
        created = datetime(2020, 1, 1) + (datetime(2025, 1, 1) - datetime(2020, 1, 1)) * y
        created = created.replace(microsecond=0)
        price = Decimal(rng.randrange(-(10**8), 10**8)) / 100
        maybe = None if i % 2 else rng.randrange(1 << 31)
        values = (
            i,
            rng.randrange(-(1 << 63), 1 << 63),
            x,
            y,
            rng.choice(words),
            rng.choice(words) + str(i % 97),
            created,
            price,
            maybe,
            rng.randrange(256),
        )
        texts = [
            str(i),
            str(values[1]),
            repr(x),
            repr(y),
            values[4],
            values[5],
            created.strftime("%Y-%m-%d %H:%M:%S"),
            f"{price:.2f}",
            None if maybe is None else str(maybe),
            str(values[9]),
        ]
        row = bytearray()
        for t in texts:
            if t is None:
                row += b"\xfb"
            else:
                b = t.encode()
                row += bytes([len(b)]) + b  # every value here is < 251 bytes
        payloads.append(bytes(row))
        expected.append(values)
    return payloads, expected


PAYLOADS, EXPECTED = _generate()
DATA, SPANS = row_spans(PAYLOADS)


def _pymysql_converters() -> list[tuple[str | None, Callable[[Any], Any] | None]]:
    """What MySQLResult._get_descriptions computes for these columns (use_unicode)."""
    out: list[tuple[str | None, Callable[[Any], Any] | None]] = []
    for col in COLUMNS:
        if col.type in TEXT_TYPES:
            encoding: str | None = None if col.character_set == BINARY else "utf8"
        else:
            encoding = "ascii"
        converter = converters.decoders.get(col.type)
        if converter is converters.through:
            converter = None
        out.append((encoding, converter))
    return out


def _pymysql_rows(payloads: list[bytes]) -> list[tuple[object, ...]]:
    result = MySQLResult.__new__(MySQLResult)
    result.unbuffered_active = False  # read by MySQLResult.__del__
    result.converters = _pymysql_converters()
    read = MySQLResult._read_row_from_packet
    return [read(result, MysqlPacket(p, "utf8")) for p in payloads]


@pytest.mark.parametrize("impl", BACKENDS)
def test_decode_text_rows(
    benchmark: Any, impl: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    benchmark.group = GROUP
    monkeypatch.setattr(_backend, "IMPL", impl)
    benchmark.extra_info["lib"] = f"mywire ({'c' if impl is C else 'python'})"
    benchmark.extra_info["msgpack"] = msgpack.version
    rows = benchmark.pedantic(
        decode_rows,
        args=(COLUMNS, DATA, SPANS),
        kwargs={"binary": False},
        rounds=5,
        warmup_rounds=1,
    )
    benchmark.extra_info["correct"] = rows == EXPECTED


def test_pymysql_rows(benchmark: Any) -> None:
    benchmark.group = GROUP
    benchmark.extra_info["lib"] = f"PyMySQL {metadata.version('PyMySQL')}"
    rows = benchmark.pedantic(_pymysql_rows, args=(PAYLOADS,), rounds=5, warmup_rounds=1)
    benchmark.extra_info["correct"] = rows == EXPECTED
