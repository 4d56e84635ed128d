"""Transcoder benchmarks: resultset rows in memory to json/ndjson/msgpack/psdb, C vs pure.

Run (see bench/README.md):

    pytest bench/bench_transcode.py --benchmark-only --benchmark-columns=median,iqr,rounds \
        --benchmark-group-by=group

No sockets: the rows of the mixed workload (``workloads.py``: INT, BIGINT UNSIGNED,
utf8mb4 VARCHAR with non-ASCII text, DECIMAL(12,2), DOUBLE, DATETIME(6), DATE, a nullable
INT, VARBINARY, JSON), generated in Python and encoded as MariaDB sends them in the text
and the binary protocol, are cut into chunks of 1,024 rows (as the connection hands them
over) and transcoded with ``mywire.transcode.transcode(events, format)``.

Each group (protocol x format) holds the C and the pure backend (switched through
``mywire._backend.IMPL``) and, for text rows to json and msgpack, the pure-Python peer
baseline: PyMySQL's own row parser (``MysqlPacket`` + ``MySQLResult._read_row_from_packet``
with its converters, as in ``bench_rows.py``) followed by ``json.dumps`` /
``msgpack.packb`` with what a gateway must add (bytes as base64 in JSON, DECIMAL as its
text, temporal values in MySQL's text form).

``extra_info["correct"]``: the backend's output equals the other backend's byte for byte,
and (json, msgpack) its rows normalise to the generated values; for the baseline, its rows
normalise to the generated values.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import msgpack  # type: ignore[import-untyped]  # no stubs, no py.typed
import pytest
from pymysql import converters
from pymysql.connections import TEXT_TYPES, MySQLResult
from pymysql.protocol import MysqlPacket

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads  # noqa: E402
from workloads import MIXED_COLUMNS, MIXED_KINDS  # noqa: E402

from mywire import _backend  # noqa: E402
from mywire.events import Event, ResultsetEnd, ResultsetStart, Rows  # noqa: E402
from mywire.transcode import transcode  # noqa: E402

NROWS = 20_000
CHUNK = 1024  # rows per Rows event, as ClientConnection batches them
FORMATS = ("json", "ndjson", "msgpack", "psdb")
PROTOCOLS = ("text", "binary")

C = _backend.load_c()
PURE = _backend.PURE


def _backends() -> list[Any]:
    params = [
        pytest.param(C, id="c")
        if C is not None
        else pytest.param(None, id="c", marks=pytest.mark.skip(reason="C extension not built"))
    ]
    if hasattr(PURE, "transcode_rows"):
        params.append(pytest.param(PURE, id="python"))
    else:
        reason = "the pure backend has no transcode_rows yet"
        params.append(pytest.param(None, id="python", marks=pytest.mark.skip(reason=reason)))
    return params


VALUES = workloads.mixed_rows(NROWS)
PAYLOADS = {
    "text": [workloads.text_row(r) for r in VALUES],
    "binary": [workloads.binary_row(r) for r in VALUES],
}
EXPECTED = workloads.normalise(VALUES, "python", MIXED_KINDS)


def _events(protocol: str) -> list[Event]:
    payloads = PAYLOADS[protocol]
    events: list[Event] = [ResultsetStart(columns=MIXED_COLUMNS, binary=protocol == "binary")]
    for i in range(0, len(payloads), CHUNK):
        events.append(Rows.of(payloads[i : i + CHUNK]))
    events.append(ResultsetEnd())
    return events


EVENTS = {p: _events(p) for p in PROTOCOLS}


def _group(protocol: str, fmt: str) -> str:
    return f"{NROWS:,} mixed rows x 10 columns, {protocol} rows -> {fmt}"


@cache
def _output(impl: ModuleType, protocol: str, fmt: str) -> bytes:
    saved = _backend.IMPL
    _backend.IMPL = impl
    try:
        return transcode(EVENTS[protocol], fmt)
    finally:
        _backend.IMPL = saved


def _other(impl: ModuleType) -> ModuleType | None:
    other = PURE if impl is C else C
    if other is None or not hasattr(other, "transcode_rows"):
        return None
    return other


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("impl", _backends())
def test_transcode(
    benchmark: Any, impl: ModuleType, protocol: str, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    benchmark.group = _group(protocol, fmt)
    benchmark.extra_info["lib"] = f"mywire ({'c' if impl is C else 'python'})"
    monkeypatch.setattr(_backend, "IMPL", impl)
    out = benchmark.pedantic(
        transcode, args=(EVENTS[protocol], fmt), rounds=5, warmup_rounds=1, iterations=1
    )
    correct = True
    other = _other(impl)
    if other is not None:
        correct = out == _output(other, protocol, fmt)
    if fmt in ("json", "msgpack"):
        correct = correct and workloads.normalise(out, fmt, MIXED_KINDS) == EXPECTED
    benchmark.extra_info["output_bytes"] = len(out)
    benchmark.extra_info["compared_with_other_backend"] = other is not None
    benchmark.extra_info["correct"] = correct


# --------------------------------------------------------------------------------------
# The pure-Python peer: PyMySQL's row parser, then json.dumps / msgpack.packb
# --------------------------------------------------------------------------------------


def _pymysql_converters() -> list[tuple[str | None, Callable[[Any], Any] | None]]:
    """What MySQLResult._get_descriptions computes for these columns (use_unicode)."""
    out: list[tuple[str | None, Callable[[Any], Any] | None]] = []
    for col in MIXED_COLUMNS:
        if col.type in TEXT_TYPES:
            encoding: str | None = None if col.character_set == workloads.BINARY else "utf8"
        else:
            encoding = "ascii"
        converter = converters.decoders.get(col.type)
        if converter is converters.through:
            converter = None
        out.append((encoding, converter))
    return out


def _json_default(v: object) -> object:
    if isinstance(v, (bytes, bytearray)):
        return base64.b64encode(v).decode("ascii")
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, datetime):
        return v.isoformat(" ")
    if isinstance(v, date):
        return v.isoformat()
    raise TypeError(f"cannot serialise {type(v).__name__}")


def _msgpack_default(v: object) -> object:
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, (datetime, date)):
        return v.isoformat(" ") if isinstance(v, datetime) else v.isoformat()
    raise TypeError(f"cannot serialise {type(v).__name__}")


def _pymysql_to(fmt: str, payloads: list[bytes]) -> bytes:
    result = MySQLResult.__new__(MySQLResult)
    result.unbuffered_active = False  # read by MySQLResult.__del__
    result.converters = _pymysql_converters()
    read = MySQLResult._read_row_from_packet
    rows = [read(result, MysqlPacket(p, "utf8")) for p in payloads]
    fields = [c.name for c in MIXED_COLUMNS]
    if fmt == "json":
        doc = {"fields": fields, "rows": rows}
        text = json.dumps(doc, default=_json_default, ensure_ascii=False, separators=(",", ":"))
        return text.encode()
    packed: bytes = msgpack.packb(
        {"fields": fields, "rows": rows}, default=_msgpack_default, use_bin_type=True
    )
    return packed


@pytest.mark.parametrize("fmt", ["json", "msgpack"])
def test_pymysql_baseline(benchmark: Any, fmt: str) -> None:
    benchmark.group = _group("text", fmt)
    encoder = "json.dumps" if fmt == "json" else f"msgpack.packb {metadata.version('msgpack')}"
    benchmark.extra_info["lib"] = f"PyMySQL {metadata.version('PyMySQL')} + {encoder}"
    out = benchmark.pedantic(
        _pymysql_to, args=(fmt, PAYLOADS["text"]), rounds=5, warmup_rounds=1, iterations=1
    )
    benchmark.extra_info["output_bytes"] = len(out)
    benchmark.extra_info["correct"] = workloads.normalise(out, fmt, MIXED_KINDS) == EXPECTED
