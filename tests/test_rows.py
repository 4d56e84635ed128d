"""mywire.rows: text and binary rows to Python values, on both backends.

Rows are built by :mod:`rowbuild` from the protocol description; the expected values are
written out by hand (or, in the property tests, computed from the drawn values).  Every
test runs on both backends (conftest's autouse fixture), so an exact expected error
message here is also a check that both backends raise the same one.
"""

from __future__ import annotations

import math
import struct
from array import array
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgpack  # type: ignore[import-untyped]  # no stubs, no py.typed
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mywire import _rowspec
from mywire.errors import MalformedPacket, TruncatedPacket
from mywire.events import ColumnDefinition
from mywire.rows import decode_rows, row_spans

from rowbuild import (
    ASCII,
    CP1250,
    ENUM_FLAG,
    LATIN1,
    SET_FLAG,
    UNSIGNED,
    UTF8MB4,
    Resultset,
    b_date,
    b_double,
    b_float,
    b_int,
    b_time,
    binary_row,
    column,
    lenenc,
    same,
    text_row,
    typed_resultsets,
)

ZEROFILL = 0x40
U64 = (1 << 64) - 1


def decode(
    columns: tuple[ColumnDefinition, ...], payloads: list[bytes], *, binary: bool
) -> list[tuple[object, ...]]:
    data, spans = row_spans(payloads)
    return decode_rows(columns, data, spans, binary=binary)


def text_value(col: ColumnDefinition, raw: bytes | None) -> object:
    (row,) = decode((col,), [text_row([raw])], binary=False)
    return row[0]


def binary_value(col: ColumnDefinition, cell: bytes | None) -> object:
    (row,) = decode((col,), [binary_row([cell])], binary=True)
    return row[0]


# ------------------------------------------------------------------------ exact values

DEC65 = b"12345678901234567890123456789012345.123456789012345678901234567890"
TEXT_CASES: list[tuple[str, ColumnDefinition, bytes | None, object]] = [
    ("tiny-min", column(1), b"-128", -128),
    ("tiny-max", column(1), b"127", 127),
    ("utiny-max", column(1, flags=UNSIGNED), b"255", 255),
    ("utiny-zero", column(1, flags=UNSIGNED), b"0", 0),
    ("short", column(2), b"-32768", -32768),
    ("int24", column(9), b"8388607", 8388607),
    ("long", column(3), b"-2147483648", -2147483648),
    ("ulonglong-max", column(8, flags=UNSIGNED), b"18446744073709551615", U64),
    ("longlong-min", column(8), b"-9223372036854775808", -(1 << 63)),
    ("longlong-max", column(8), b"9223372036854775807", (1 << 63) - 1),
    ("zerofill", column(8, flags=UNSIGNED | ZEROFILL), b"00000000000000000042", 42),
    ("minus-zero-int", column(3, flags=UNSIGNED), b"-0", 0),
    ("year", column(13, flags=UNSIGNED | ZEROFILL), b"2155", 2155),
    ("float-text", column(4), b"1.1", 1.1),
    ("float-exp", column(4), b"3.40282e38", 3.40282e38),
    ("double", column(5), b"1.7976931348623157e308", 1.7976931348623157e308),
    ("double-denormal", column(5), b"5e-324", 5e-324),
    ("double-neg-zero", column(5), b"-0", -0.0),
    ("double-overflow", column(5), b"1e400", math.inf),
    ("double-underflow", column(5), b"1e-400", 0.0),
    ("double-long", column(5), b"0." + b"0" * 300 + b"1", 1e-301),
    ("double-many-digits", column(5), b"9007199254740993", 9007199254740992.0),
    ("decimal-65-30", column(246, decimals=30), DEC65, Decimal(DEC65.decode())),
    ("decimal-neg", column(246, decimals=2), b"-0.50", Decimal("-0.50")),
    ("old-decimal", column(0), b"12", Decimal("12")),
    ("date", column(10), b"2024-02-29", date(2024, 2, 29)),
    ("zero-date", column(10), b"0000-00-00", "0000-00-00"),
    ("partial-date", column(10), b"2016-00-00", "2016-00-00"),
    ("invalid-date", column(10), b"2023-02-30", "2023-02-30"),
    (
        "datetime",
        column(12, decimals=6),
        b"2024-01-02 03:04:05.123456",
        datetime(2024, 1, 2, 3, 4, 5, 123456),
    ),
    (
        "datetime-3",
        column(12, decimals=3),
        b"2024-01-02 03:04:05.120",
        datetime(2024, 1, 2, 3, 4, 5, 120000),
    ),
    ("zero-datetime", column(12), b"0000-00-00 00:00:00", "0000-00-00 00:00:00"),
    ("datetime-hour-24", column(12), b"2024-01-01 24:00:00", "2024-01-01 24:00:00"),
    ("datetime-leap-second", column(12), b"2024-01-01 23:59:60", "2024-01-01 23:59:60"),
    ("timestamp", column(7), b"2038-01-19 03:14:07", datetime(2038, 1, 19, 3, 14, 7)),
    ("time-min", column(11), b"-838:59:59", -timedelta(hours=838, minutes=59, seconds=59)),
    ("time-max", column(11), b"838:59:59", timedelta(hours=838, minutes=59, seconds=59)),
    ("time-minus-1s", column(11), b"-00:00:01", timedelta(seconds=-1)),
    (
        "time-minus-half-hour",
        column(11, decimals=1),
        b"-00:30:00.5",
        -timedelta(minutes=30, microseconds=500000),
    ),
    (
        "time-mariadb-max",
        column(11, decimals=6),
        b"838:59:59.999999",
        timedelta(hours=838, minutes=59, seconds=59, microseconds=999999),
    ),
    ("time-over", column(11), b"839:00:00", "839:00:00"),
    ("time-bad-minutes", column(11), b"10:60:00", "10:60:00"),
    ("bit-1", column(16), b"\x01", 1),
    ("bit-64", column(16), b"\xff" * 8, U64),
    ("bit-empty", column(16), b"", 0),
    ("json-binary-charset", column(245), '{"a": "é"}'.encode(), '{"a": "é"}'),
    ("json-bad-utf8", column(245), b'"\xff"', '"\udcff"'),
    ("json-mariadb", column(252, UTF8MB4, extended_type="json"), b"[1]", "[1]"),
    ("utf8mb4-emoji", column(253, UTF8MB4), "😀".encode(), "😀"),
    ("utf8-bad", column(253, UTF8MB4), b"a\xff", "a\udcff"),
    ("latin1", column(254, LATIN1), b"\x80\x81\x8d\x8f\x90\x9d\xe9", "€\x81\x8d\x8f\x90\x9dé"),
    ("cp1250", column(253, CP1250), b"\x8a\x81", "Š\udc81"),
    ("ascii", column(253, ASCII), b"a\xff", "a\udcff"),
    ("all-bytes", column(252), bytes(range(256)), bytes(range(256))),
    ("enum", column(254, UTF8MB4, flags=ENUM_FLAG), b"red", "red"),
    ("enum-type", column(247, UTF8MB4), b"red", "red"),
    ("set", column(254, UTF8MB4, flags=SET_FLAG), b"a,b", "a,b"),
    (
        "geometry",
        column(255),
        b"\x00\x00\x00\x00\x01\x01\x00\x00\x00",
        b"\x00\x00\x00\x00\x01\x01\x00\x00\x00",
    ),
    ("medium-blob-binary", column(250), b"\x00blob", b"\x00blob"),
    ("vector", column(242, UTF8MB4), b"\x00\x00\x80?", b"\x00\x00\x80?"),
    ("unknown-type", column(100, UTF8MB4), b"abc", b"abc"),
    ("unknown-collation", column(253, 9999), b"abc", b"abc"),
    ("null-type", column(6), None, None),
    ("long-value", column(253, UTF8MB4), b"x" * 70000, "x" * 70000),
]


@pytest.mark.parametrize(
    ("col", "raw", "expected"), [c[1:] for c in TEXT_CASES], ids=[c[0] for c in TEXT_CASES]
)
def test_text_values(col: ColumnDefinition, raw: bytes | None, expected: object) -> None:
    assert same(text_value(col, raw), expected)
    assert text_value(col, None) is None


BINARY_CASES: list[tuple[str, ColumnDefinition, bytes | None, object]] = [
    ("tiny-min", column(1), b_int(-128, 1), -128),
    ("tiny-max", column(1), b_int(127, 1), 127),
    ("utiny-max", column(1, flags=UNSIGNED), b"\xff", 255),
    ("short-min", column(2), b_int(-32768, 2), -32768),
    ("ushort-max", column(2, flags=UNSIGNED), b"\xff\xff", 65535),
    ("year", column(13, flags=UNSIGNED), b_int(2024, 2), 2024),
    ("int24-neg", column(9), b_int(-8388608, 4), -8388608),
    ("long-min", column(3), b_int(-(1 << 31), 4), -(1 << 31)),
    ("ulong-max", column(3, flags=UNSIGNED), b"\xff" * 4, (1 << 32) - 1),
    ("longlong-min", column(8), b_int(-(1 << 63), 8), -(1 << 63)),
    ("longlong-minus-1", column(8), b"\xff" * 8, -1),
    ("ulonglong-max", column(8, flags=UNSIGNED), b"\xff" * 8, U64),
    ("float-widened", column(4), b_float(1.1), 1.100000023841858),
    ("float-neg-zero", column(4), b_float(-0.0), -0.0),
    ("float-inf", column(4), b_float(math.inf), math.inf),
    ("double", column(5), b_double(2.5e-308), 2.5e-308),
    ("decimal", column(246, decimals=30), lenenc(DEC65), Decimal(DEC65.decode())),
    ("date-0", column(10), b_date(length=0), "0000-00-00"),
    ("date-4", column(10), b_date(2024, 2, 29), date(2024, 2, 29)),
    ("date-7", column(10), b_date(2024, 2, 29, 1, 2, 3, length=7), date(2024, 2, 29)),
    ("date-11", column(10), b_date(2024, 2, 29, 1, 2, 3, 4, length=11), date(2024, 2, 29)),
    ("date-partial", column(10), b_date(2016, 0, 0), "2016-00-00"),
    ("datetime-0", column(12), b_date(length=0), "0000-00-00 00:00:00"),
    ("datetime-0-dec3", column(12, decimals=3), b_date(length=0), "0000-00-00 00:00:00.000"),
    ("datetime-4", column(12), b_date(2024, 1, 2), datetime(2024, 1, 2)),
    ("datetime-7", column(12), b_date(2024, 1, 2, 3, 4, 5), datetime(2024, 1, 2, 3, 4, 5)),
    (
        "datetime-11",
        column(12, decimals=6),
        b_date(2024, 1, 2, 3, 4, 5, 6),
        datetime(2024, 1, 2, 3, 4, 5, 6),
    ),
    (
        "timestamp-11",
        column(7, decimals=31),
        b_date(2024, 1, 2, 3, 4, 5, 600000),
        datetime(2024, 1, 2, 3, 4, 5, 600000),
    ),
    ("datetime-partial", column(12), b_date(2016, 0, 0), "2016-00-00 00:00:00"),
    ("time-0", column(11), b_time(length=0), timedelta(0)),
    (
        "time-min",
        column(11),
        b_time(True, 34, 22, 59, 59),
        -timedelta(hours=838, minutes=59, seconds=59),
    ),
    (
        "time-max",
        column(11),
        b_time(False, 34, 22, 59, 59),
        timedelta(hours=838, minutes=59, seconds=59),
    ),
    ("time-minus-1s", column(11), b_time(True, 0, 0, 0, 1), timedelta(seconds=-1)),
    (
        "time-12",
        column(11, decimals=6),
        b_time(True, 0, 0, 30, 0, 250000),
        -timedelta(minutes=30, microseconds=250000),
    ),
    ("time-over", column(11), b_time(False, 35, 0, 0, 0), "840:00:00"),
    ("bit-1", column(16), lenenc(b"\x01"), 1),
    ("bit-64", column(16), lenenc(b"\x80" + b"\x00" * 7), 1 << 63),
    ("json", column(245), lenenc(b'{"a":1}'), '{"a":1}'),
    ("emoji", column(253, UTF8MB4), lenenc("😀".encode()), "😀"),
    ("latin1", column(253, LATIN1), lenenc(b"\x80\x81"), "€\x81"),
    ("all-bytes", column(254), lenenc(bytes(range(256))), bytes(range(256))),
    ("enum", column(247, UTF8MB4), lenenc(b"red"), "red"),
    ("set", column(248, UTF8MB4), lenenc(b"a,b"), "a,b"),
    ("geometry", column(255), lenenc(b"\x00\x01"), b"\x00\x01"),
    ("vector", column(242), lenenc(b"\x00\x00\x80?"), b"\x00\x00\x80?"),
    ("unknown-type", column(100), lenenc(b"abc"), b"abc"),
    ("null-type", column(6), b"", None),
]


@pytest.mark.parametrize(
    ("col", "cell", "expected"), [c[1:] for c in BINARY_CASES], ids=[c[0] for c in BINARY_CASES]
)
def test_binary_values(col: ColumnDefinition, cell: bytes, expected: object) -> None:
    assert same(binary_value(col, cell), expected)
    assert binary_value(col, None) is None


# Out-of-range months keep the value a str, which shows the text form and so the rule
# for fractional digits: exactly `decimals` digits for 1..6, else none unless non-zero,
# and never fewer digits than the microseconds need.
FRACTION_CASES = [
    (0, 0, ""),
    (0, 500000, ".500000"),
    (3, 0, ".000"),
    (3, 500000, ".500"),
    (3, 123456, ".123456"),
    (1, 100000, ".1"),
    (6, 0, ".000000"),
    (6, 5, ".000005"),
    (31, 0, ""),
    (31, 120000, ".120000"),
    (20, 0, ""),
    (3, 1_000_000, ".1000000"),
]


@pytest.mark.parametrize(("decimals", "us", "frac"), FRACTION_CASES)
def test_binary_fraction_digits(decimals: int, us: int, frac: str) -> None:
    dt = binary_value(column(12, decimals=decimals), b_date(2024, 13, 1, 10, 0, 0, us, length=11))
    assert dt == "2024-13-01 10:00:00" + frac
    t = binary_value(column(11, decimals=decimals), b_time(True, 1, 2, 60, 0, us, length=12))
    assert t == "-26:60:00" + frac


def test_binary_fraction_digits_in_range_values() -> None:
    col = column(12, decimals=2)
    assert binary_value(col, b_date(2024, 1, 1, 0, 0, 0, 120000)) == datetime(
        2024, 1, 1, 0, 0, 0, 120000
    )
    # More digits than the column declares: kept, not truncated.
    assert binary_value(col, b_date(2024, 1, 1, 0, 0, 0, 123456)) == datetime(
        2024, 1, 1, 0, 0, 0, 123456
    )


def test_binary_temporal_extremes_stay_text() -> None:
    assert binary_value(column(10), b_date(65535, 255, 255)) == "65535-255-255"
    assert binary_value(column(11), b_time(True, 0xFFFFFFFF, 23, 59, 59)) == ("-103079215103:59:59")
    assert binary_value(column(12), b_date(0, 1, 1, 0, 0, 0)) == "0000-01-01 00:00:00"
    assert binary_value(column(12), b_date(2024, 1, 1, 24, 0, 0)) == "2024-01-01 24:00:00"


@pytest.mark.parametrize("ncols", [1, 5, 6, 7, 8, 9, 14, 15, 16, 17, 30])
def test_null_bitmap_every_position(ncols: int) -> None:
    columns = tuple(column(1, name=f"c{i}") for i in range(ncols))
    payloads = []
    expected = []
    for null_at in range(ncols):
        cells = [None if i == null_at else bytes([i]) for i in range(ncols)]
        payloads.append(binary_row(cells))
        expected.append(tuple(None if i == null_at else i for i in range(ncols)))
    all_null = binary_row([None] * ncols)
    payloads.append(all_null)
    expected.append((None,) * ncols)
    assert decode(columns, payloads, binary=True) == expected
    # Text rows: NULL in every position as well.
    payloads = [
        text_row([None if i == null_at else str(i).encode() for i in range(ncols)])
        for null_at in range(ncols)
    ]
    assert decode(columns, payloads, binary=False) == expected[:-1]


def test_reserved_and_padding_bitmap_bits_are_ignored() -> None:
    columns = (column(1), column(1))
    row = b"\x00" + bytes([0b11110011]) + b"\x05\x06"  # bits 0,1 and 4..7 set
    assert decode(columns, [row], binary=True) == [(5, 6)]


def test_no_columns_and_no_rows() -> None:
    assert decode((), [b"", b""], binary=False) == [(), ()]
    assert decode((), [b"\x00\x00"], binary=True) == [()]
    assert decode((column(1),), [], binary=True) == []
    assert decode_rows([column(8)], b"\x011", [0, 2], binary=False) == [(1,)]


def test_spans_into_a_larger_buffer_and_array_spans() -> None:
    cols = (column(8), column(253, UTF8MB4))
    data = b"junk" + text_row([b"1", b"a"]) + b"more" + text_row([None, b"b"]) + b"end"
    spans = [4, 4, 12, 3]
    assert decode_rows(cols, data, spans, binary=False) == [(1, "a"), (None, "b")]
    assert decode_rows(cols, memoryview(data), tuple(spans), binary=False) == [
        (1, "a"),
        (None, "b"),
    ]
    assert decode_rows(cols, bytearray(data), array("Q", spans), binary=False) == [
        (1, "a"),
        (None, "b"),
    ]


def test_the_same_row_many_times() -> None:
    # Overlapping spans defeat the C adapter's size estimate: it must continue.
    row = text_row([b"2024-01-02 03:04:05", b"x" * 300])
    cols = (column(12), column(253, UTF8MB4))
    rows = decode_rows(cols, row, [0, len(row)] * 500, binary=False)
    assert rows == [(datetime(2024, 1, 2, 3, 4, 5), "x" * 300)] * 500


def test_c_output_buffer_growth(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if backend != "c":
        pytest.skip("C adapter detail")
    from mywire import _crows

    monkeypatch.setattr(_crows, "_initial_size", lambda *args: 3)
    payloads = [text_row([str(i).encode(), b"y" * (i % 50)]) for i in range(300)]
    cols = (column(3), column(252))
    assert decode(cols, payloads, binary=False) == [(i, b"y" * (i % 50)) for i in range(300)]


def test_c_msgpack_output_equals_packb(backend: str) -> None:
    """The C writer's headers are the ones msgpack.packb picks, value for value."""
    if backend != "c":
        pytest.skip("C writer detail")
    from mywire._cwire import ffi, lib

    ints = [0, 1, 127, 128, 255, 256, 65535, 65536, (1 << 32) - 1, 1 << 32, (1 << 63) - 1]
    negs = [-1, -32, -33, -128, -129, -32768, -32769, -(1 << 31), -(1 << 31) - 1, -(1 << 63)]
    strs = [b"", b"a" * 31, b"a" * 32, b"a" * 255, b"a" * 256, b"a" * 65535, b"a" * 65536]
    values: list[tuple[ColumnDefinition, bytes | None, object]] = []
    values += [(column(8), str(v).encode(), v) for v in ints + negs]
    values += [(column(8, flags=UNSIGNED), str(U64).encode(), U64)]
    values += [(column(5), b"1.5", 1.5), (column(8), None, None)]
    values += [(column(253, UTF8MB4), s, s.decode()) for s in strs]
    values += [(column(252), s, s) for s in strs]
    for count in (1, 15, 16, 17):
        cols = tuple(v[0] for v in values[:count])
        row = text_row([v[1] for v in values[:count]])
        raw = [v[2] for v in values[:count]]
        for nrows in (1, 15, 16):
            spec = _rowspec.spec_for(cols)
            out = ffi.new("uint8_t[]", 1 << 22)
            res = ffi.new("mw_rows_result *")
            from mywire._crows import _compiled

            _, ccols = _compiled(cols)
            spans = ffi.new("uint64_t[]", [0, len(row)] * nrows)
            st_ = lib.mw_decode_rows(
                ccols, len(cols), 0, row, len(row), spans, 0, nrows, out, 1 << 22, res
            )
            assert st_ == lib.MW_OK
            assert spec.kinds
            got = bytes(ffi.buffer(out, res.end)[res.start :])
            assert got == msgpack.packb([raw] * nrows)
    # 70,000 rows: an array32 header.
    cols = (column(1),)
    row = b"\x011"
    spans = ffi.new("uint64_t[]", [0, 2] * 70000)
    out = ffi.new("uint8_t[]", 1 << 20)
    res = ffi.new("mw_rows_result *")
    from mywire._crows import _compiled

    _, ccols = _compiled(cols)
    assert lib.mw_decode_rows(ccols, 1, 0, row, 2, spans, 0, 70000, out, 1 << 20, res) == 0
    assert bytes(ffi.buffer(out, res.end)[res.start :]) == msgpack.packb([[1]] * 70000)


def test_kinds_and_statuses_mirror_the_c_header(backend: str) -> None:
    if backend != "c":
        pytest.skip("C constants")
    from mywire._cwire import lib

    for name in dir(_rowspec):
        if name.startswith("K_"):
            assert getattr(lib, "MW_K_" + name[2:]) == getattr(_rowspec, name), name
        if name.startswith("E_"):
            assert getattr(lib, "MW_E_ROW_" + name[2:]) == getattr(_rowspec, name), name


# ------------------------------------------------------------------------ errors

ErrorCase = tuple[str, tuple[ColumnDefinition, ...], list[bytes], bool, type, str]
C8 = column(8, name="n")
U8 = column(8, name="u", flags=UNSIGNED)
ERROR_CASES: list[ErrorCase] = [
    (
        "text-truncated-body",
        (C8,),
        [b"\x05123"],
        False,
        TruncatedPacket,
        "truncated row 0: column 0 ('n', LONGLONG) at offset 0 declares 5 bytes, "
        "3 left after its length",
    ),
    (
        "text-missing-column",
        (C8, C8),
        [b"\x011"],
        False,
        TruncatedPacket,
        "truncated row 0: column 1 ('n', LONGLONG) needs 1 byte at offset 2, 0 left",
    ),
    (
        "text-truncated-prefix",
        (C8,),
        [b"\xfc\x01"],
        False,
        TruncatedPacket,
        "truncated row 0: column 0 ('n', LONGLONG) needs 3 bytes at offset 0, 2 left",
    ),
    (
        "text-truncated-prefix-fe",
        (C8,),
        [b"\xfe\x01\x00"],
        False,
        TruncatedPacket,
        "truncated row 0: column 0 ('n', LONGLONG) needs 9 bytes at offset 0, 3 left",
    ),
    (
        "text-huge-length",
        (C8,),
        [b"\xfe" + b"\xff" * 8],
        False,
        TruncatedPacket,
        "truncated row 0: column 0 ('n', LONGLONG) at offset 0 declares "
        "18446744073709551615 bytes, 0 left after its length",
    ),
    (
        "text-ff-prefix",
        (C8,),
        [b"\xff"],
        False,
        MalformedPacket,
        "malformed row 0: column 0 ('n', LONGLONG) at offset 0 starts with the invalid prefix 0xFF",
    ),
    (
        "text-trailing",
        (C8,),
        [b"\x011\x00"],
        False,
        MalformedPacket,
        "malformed row 0: 1 unexpected byte at offset 2 after the last column",
    ),
    (
        "text-trailing-2",
        (),
        [b"ab"],
        False,
        MalformedPacket,
        "malformed row 0: 2 unexpected bytes at offset 0 after the last column",
    ),
    (
        "text-int-letter",
        (C8,),
        [b"\x0312a"],
        False,
        MalformedPacket,
        "malformed row 0: column 0 ('n', LONGLONG) at offset 1: b'12a' is not an integer "
        "(optional '-' and ASCII digits)",
    ),
    (
        "text-int-empty",
        (C8,),
        [b"\x00"],
        False,
        MalformedPacket,
        "malformed row 0: column 0 ('n', LONGLONG) at offset 1: b'' is not an integer "
        "(optional '-' and ASCII digits)",
    ),
    (
        "text-int-plus",
        (C8,),
        [b"\x02+1"],
        False,
        MalformedPacket,
        "malformed row 0: column 0 ('n', LONGLONG) at offset 1: b'+1' is not an integer "
        "(optional '-' and ASCII digits)",
    ),
    (
        "text-int-space",
        (C8,),
        [b"\x02 1"],
        False,
        MalformedPacket,
        "malformed row 0: column 0 ('n', LONGLONG) at offset 1: b' 1' is not an integer "
        "(optional '-' and ASCII digits)",
    ),
    (
        "text-int-underscore",
        (C8,),
        [b"\x031_0"],
        False,
        MalformedPacket,
        "malformed row 0: column 0 ('n', LONGLONG) at offset 1: b'1_0' is not an integer "
        "(optional '-' and ASCII digits)",
    ),
    (
        "text-unsigned-over",
        (U8,),
        [lenenc(b"18446744073709551616")],
        False,
        MalformedPacket,
        "malformed row 0: column 0 ('u', LONGLONG) at offset 1: b'18446744073709551616' is "
        "out of range for an unsigned 64-bit integer",
    ),
    (
        "text-unsigned-negative",
        (U8,),
        [b"\x02-1"],
        False,
        MalformedPacket,
        "malformed row 0: column 0 ('u', LONGLONG) at offset 1: b'-1' is out of range for an "
        "unsigned 64-bit integer",
    ),
    (
        "text-signed-over",
        (C8,),
        [lenenc(b"9223372036854775808")],
        False,
        MalformedPacket,
        "malformed row 0: column 0 ('n', LONGLONG) at offset 1: b'9223372036854775808' is "
        "out of range for a signed 64-bit integer",
    ),
    (
        "text-signed-under",
        (C8,),
        [lenenc(b"-9223372036854775809")],
        False,
        MalformedPacket,
        "malformed row 0: column 0 ('n', LONGLONG) at offset 1: b'-9223372036854775809' is "
        "out of range for a signed 64-bit integer",
    ),
    (
        "text-float-inf",
        (column(5, name="d"),),
        [b"\x03inf"],
        False,
        MalformedPacket,
        "malformed row 0: column 0 ('d', DOUBLE) at offset 1: b'inf' is not a decimal "
        "floating-point number of at most 400 characters",
    ),
    (
        "text-float-dot",
        (column(5, name="d"),),
        [b"\x02.5"],
        False,
        MalformedPacket,
        "malformed row 0: column 0 ('d', DOUBLE) at offset 1: b'.5' is not a decimal "
        "floating-point number of at most 400 characters",
    ),
    (
        "text-float-too-long",
        (column(4, name="f"),),
        [lenenc(b"1" * 401)],
        False,
        MalformedPacket,
        "malformed row 0: column 0 ('f', FLOAT) at offset 3: b'" + "1" * 32 + "'... is not a "
        "decimal floating-point number of at most 400 characters",
    ),
    (
        "text-decimal-exp",
        (column(246, name="m"),),
        [b"\x031e5"],
        False,
        MalformedPacket,
        "malformed row 0: column 0 ('m', NEWDECIMAL) at offset 1: b'1e5' is not a decimal number",
    ),
    (
        "text-date",
        (column(10, name="d"),),
        [lenenc(b"2024-1-01")],
        False,
        MalformedPacket,
        "malformed row 0: column 0 ('d', DATE) at offset 1: b'2024-1-01' is not a date "
        "(YYYY-MM-DD)",
    ),
    (
        "text-datetime",
        (column(12, name="t"),),
        [lenenc(b"2024-01-01T00:00:00")],
        False,
        MalformedPacket,
        "malformed row 0: column 0 ('t', DATETIME) at offset 1: b'2024-01-01T00:00:00' is not "
        "a datetime (YYYY-MM-DD hh:mm:ss[.ffffff])",
    ),
    (
        "text-datetime-7-digits",
        (column(12, name="t"),),
        [lenenc(b"2024-01-01 00:00:00.1234567")],
        False,
        MalformedPacket,
        "malformed row 0: column 0 ('t', DATETIME) at offset 1: b'2024-01-01 00:00:00.1234567' "
        "is not a datetime (YYYY-MM-DD hh:mm:ss[.ffffff])",
    ),
    (
        "text-time",
        (column(11, name="t"),),
        [lenenc(b"1:00:00")],
        False,
        MalformedPacket,
        "malformed row 0: column 0 ('t', TIME) at offset 1: b'1:00:00' is not a time "
        "([-]hh:mm:ss[.ffffff])",
    ),
    (
        "text-bit-9",
        (column(16, name="b"),),
        [lenenc(b"\x01" * 9)],
        False,
        MalformedPacket,
        "malformed row 0: column 0 ('b', BIT) at offset 1: b'\\x01\\x01\\x01\\x01\\x01\\x01"
        "\\x01\\x01\\x01' is not a BIT value of at most 8 bytes",
    ),
    (
        "text-second-row",
        (C8,),
        [b"\x011", b"\x01x"],
        False,
        MalformedPacket,
        "malformed row 1: column 0 ('n', LONGLONG) at offset 3: b'x' is not an integer "
        "(optional '-' and ASCII digits)",
    ),
    (
        "binary-empty",
        (C8,),
        [b""],
        True,
        TruncatedPacket,
        "truncated row 0: the binary row header needs 1 byte at offset 0, 0 left",
    ),
    (
        "binary-header",
        (C8,),
        [b"\x01\x00" + b"\x00" * 8],
        True,
        MalformedPacket,
        "malformed row 0: binary row header at offset 0 is 0x01, expected 0x00",
    ),
    (
        "binary-header-ok-packet",
        (C8,),
        [b"\xfe\x00\x00"],
        True,
        MalformedPacket,
        "malformed row 0: binary row header at offset 0 is 0xFE, expected 0x00",
    ),
    (
        "binary-bitmap",
        (C8,) * 7,
        [b"\x00\x00"],
        True,
        TruncatedPacket,
        "truncated row 0: the NULL bitmap needs 2 bytes at offset 1, 1 left",
    ),
    (
        "binary-int",
        (C8,),
        [b"\x00\x00\x01\x02"],
        True,
        TruncatedPacket,
        "truncated row 0: column 0 ('n', LONGLONG) needs 8 bytes at offset 2, 2 left",
    ),
    (
        "binary-float",
        (column(4, name="f"),),
        [b"\x00\x00\x01"],
        True,
        TruncatedPacket,
        "truncated row 0: column 0 ('f', FLOAT) needs 4 bytes at offset 2, 1 left",
    ),
    (
        "binary-date-length",
        (column(10, name="d"),),
        [b"\x00\x00\x05" + b"\x00" * 5],
        True,
        MalformedPacket,
        "malformed row 0: column 0 ('d', DATE) at offset 2 has length 5, expected 0, 4, 7 or 11",
    ),
    (
        "binary-time-length",
        (column(11, name="t"),),
        [b"\x00\x00\x04" + b"\x00" * 4],
        True,
        MalformedPacket,
        "malformed row 0: column 0 ('t', TIME) at offset 2 has length 4, expected 0, 8 or 12",
    ),
    (
        "binary-datetime-body",
        (column(12, name="t"),),
        [b"\x00\x00\x07\x01\x02\x03"],
        True,
        TruncatedPacket,
        "truncated row 0: column 0 ('t', DATETIME) needs 8 bytes at offset 2, 4 left",
    ),
    (
        "binary-time-no-length",
        (column(11, name="t"),),
        [b"\x00\x00"],
        True,
        TruncatedPacket,
        "truncated row 0: column 0 ('t', TIME) needs 1 byte at offset 2, 0 left",
    ),
    (
        "binary-fb",
        (column(253, UTF8MB4, name="s"),),
        [b"\x00\x00\xfb"],
        True,
        MalformedPacket,
        "malformed row 0: column 0 ('s', VAR_STRING) at offset 2 starts with 0xFB, the NULL "
        "marker of text rows",
    ),
    (
        "binary-ff",
        (column(253, UTF8MB4, name="s"),),
        [b"\x00\x00\xff"],
        True,
        MalformedPacket,
        "malformed row 0: column 0 ('s', VAR_STRING) at offset 2 starts with the invalid "
        "prefix 0xFF",
    ),
    (
        "binary-string-body",
        (column(252, name="b"),),
        [b"\x00\x00\x05abc"],
        True,
        TruncatedPacket,
        "truncated row 0: column 0 ('b', BLOB) at offset 2 declares 5 bytes, 3 left after its "
        "length",
    ),
    (
        "binary-trailing",
        (column(1, name="t"),),
        [b"\x00\x00\x01\x02\x03"],
        True,
        MalformedPacket,
        "malformed row 0: 2 unexpected bytes at offset 3 after the last column",
    ),
    (
        "binary-decimal",
        (column(246, name="m"),),
        [b"\x00\x00\x03abc"],
        True,
        MalformedPacket,
        "malformed row 0: column 0 ('m', NEWDECIMAL) at offset 3: b'abc' is not a decimal number",
    ),
    (
        "binary-unknown-type-name",
        (column(99, name="x"),),
        [b"\x00\x00\xff"],
        True,
        MalformedPacket,
        "malformed row 0: column 0 ('x', type 99) at offset 2 starts with the invalid prefix 0xFF",
    ),
    (
        "binary-second-row",
        (C8,),
        [b"\x00\x00" + b"\x00" * 8, b"\x00\x00\x01"],
        True,
        TruncatedPacket,
        "truncated row 1: column 0 ('n', LONGLONG) needs 8 bytes at offset 12, 1 left",
    ),
]


@pytest.mark.parametrize(
    ("columns", "payloads", "binary", "cls", "message"),
    [c[1:] for c in ERROR_CASES],
    ids=[c[0] for c in ERROR_CASES],
)
def test_malformed_rows(
    columns: tuple[ColumnDefinition, ...],
    payloads: list[bytes],
    binary: bool,
    cls: type,
    message: str,
) -> None:
    with pytest.raises(MalformedPacket) as info:
        decode(columns, payloads, binary=binary)
    assert type(info.value) is cls
    assert str(info.value) == message


def test_error_offset_is_in_data() -> None:
    data = b"\x00" * 10 + b"\x01x"
    with pytest.raises(MalformedPacket) as info:
        decode_rows((C8,), data, [10, 2], binary=False)
    assert info.value.offset == 11
    assert "at offset 11" in str(info.value)


@pytest.mark.parametrize(
    ("spans", "message"),
    [
        ([0, 9], "span of row 0 (start 0, length 9) lies outside the 8-byte buffer"),
        ([0, 2, 9, 0], "span of row 1 (start 9, length 0) lies outside the 8-byte buffer"),
        ([0, 2, -1, 2], "span of row 1 (start -1, length 2) lies outside the 8-byte buffer"),
        ([0, 2, 2, -2], "span of row 1 (start 2, length -2) lies outside the 8-byte buffer"),
        ([1 << 64, 0], f"span of row 0 (start {1 << 64}, length 0) lies outside the 8-byte buffer"),
    ],
)
def test_bad_spans(spans: list[int], message: str) -> None:
    # Checked before any row is decoded: row 0 here is malformed too.
    with pytest.raises(ValueError) as info:
        decode_rows((C8,), b"\x01x\x011\x011\x011", spans, binary=False)
    assert type(info.value) is ValueError
    assert str(info.value) == message


def test_odd_spans() -> None:
    with pytest.raises(ValueError, match="pairs"):
        decode_rows((C8,), b"\x011", [0], binary=False)


# ------------------------------------------------------------------------ properties


@given(typed_resultsets())
def test_text_rows_round_trip(rs: Resultset) -> None:
    assert same(decode(rs.columns, rs.text_payloads(), binary=False), rs.text_values())


@given(typed_resultsets())
def test_binary_rows_round_trip(rs: Resultset) -> None:
    assert same(decode(rs.columns, rs.binary_payloads(), binary=True), rs.binary_values())


FLOAT_TEXT = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).flatmap(
        lambda v: st.sampled_from([repr(v), f"{v:.17g}", f"{v:.6g}", f"{v:e}", f"{v:.25e}"])
    ),
    st.from_regex(r"-?[0-9]{1,40}(\.[0-9]{1,40})?([eE][-+]?[0-9]{1,4})?", fullmatch=True),
)


@given(FLOAT_TEXT)
@example("9007199254740993")  # 2^53 + 1: halfway, ties to even
@example("2.2250738585072011e-308")  # the classic strtod troublemaker
@example("0.1e-22")
@example("123456789012345678901234567890e-30")
@example("1" + "0" * 22)
@example("4.9406564584124654e-324")
@example("1.7976931348623158e308")  # rounds to DBL_MAX
@example("1.7976931348623159e308")  # overflows
def test_text_floats_parse_like_python(text: str) -> None:
    assert same(text_value(column(5), text.encode()), float(text))


@given(st.integers(-(1 << 70), 1 << 70), st.booleans())
def test_text_integers_range(value: int, unsigned: bool) -> None:
    col = column(8, flags=UNSIGNED if unsigned else 0)
    lo, hi = (0, U64) if unsigned else (-(1 << 63), (1 << 63) - 1)
    if lo <= value <= hi:
        assert text_value(col, str(value).encode()) == value
    else:
        with pytest.raises(MalformedPacket, match="out of range"):
            text_value(col, str(value).encode())


def _digits(n: int) -> st.SearchStrategy[str]:
    return st.integers(0, 10**n - 1).map(lambda v: f"{v:0{n}d}")


SHAPED_DATETIMES = st.builds(
    lambda y, mo, d, h, mi, s, frac: f"{y}-{mo}-{d} {h}:{mi}:{s}" + frac,
    _digits(4),
    st.sampled_from(["00", "01", "02", "12", "13", "99"]) | _digits(2),
    st.sampled_from(["00", "01", "28", "29", "30", "31", "32"]) | _digits(2),
    st.sampled_from(["00", "23", "24", "25"]) | _digits(2),
    st.sampled_from(["00", "59", "60"]) | _digits(2),
    st.sampled_from(["00", "59", "60"]) | _digits(2),
    st.sampled_from([""]) | st.integers(1, 6).flatmap(_digits).map(lambda f: "." + f),
)
WIDE_DATETIMES = st.builds(
    lambda y, mo, d, h, frac: f"{y:04d}-{mo:02d}-{d:02d} {h:02d}:00:00{frac}",
    st.integers(0, 65535),
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(0, 255),
    st.sampled_from(["", ".5", ".1000000", ".4294967295"]),
)


@given(SHAPED_DATETIMES | WIDE_DATETIMES)
@example("2024-01-01 24:00:00")
@example("2024-02-29 00:00:00.1")
@example("2023-02-29 00:00:00")
def test_fast_temporal_finishers_agree_with_the_exact_ones(text: str) -> None:
    exact = _rowspec.datetime_exact(text)
    assert _rowspec.finish_datetime(text) == exact
    if _rowspec._DATETIME.fullmatch(text):  # text rows only ever carry this shape
        assert _rowspec.finish_datetime_text(text) == exact
    day = text[: text.index(" ")]
    exact_day = _rowspec.date_exact(day)
    assert _rowspec.finish_date(day) == exact_day
    if _rowspec._DATE.fullmatch(day):
        assert _rowspec.finish_date_text(day) == exact_day


def test_spec_is_cached_per_columns() -> None:
    cols = (column(8), column(253, UTF8MB4))
    assert _rowspec.spec_for(cols) is _rowspec.spec_for(tuple(cols))
    spec = _rowspec.spec_for(cols)
    assert spec.kinds == (_rowspec.K_SINT, _rowspec.K_UTF8)
    assert spec.converters == ()


def test_decode_latin1_maps_every_byte() -> None:
    text = _rowspec.decode_latin1(bytes(range(256)))
    assert len(text) == 256
    assert text[0x80] == "€" and text[0x81] == "\x81" and text[0x9D] == "\x9d"
    assert text[0xE9] == "é"


# ------------------------------------------------------------------------ real server

REAL_TABLE = """
CREATE TABLE {name} (
  id INT PRIMARY KEY,
  ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, mi MEDIUMINT, i INT, bi BIGINT,
  bu BIGINT UNSIGNED, y YEAR, f FLOAT, d DOUBLE, m DECIMAL(65,30), dt DATE, dtm DATETIME(6),
  dt0 DATETIME, ts TIMESTAMP(3) NULL, tm TIME, tm6 TIME(6), b1 BIT(1), b64 BIT(64), j JSON,
  s VARCHAR(20) CHARACTER SET utf8mb4, l1 VARCHAR(20) CHARACTER SET latin1,
  vb VARBINARY(300), e ENUM('red','green'), st SET('a','b','c'), g GEOMETRY NULL, bl BLOB
)"""
REAL_ROWS = [
    (
        1,
        -128,
        0,
        -32768,
        -8388608,
        -(1 << 31),
        -(1 << 63),
        0,
        1901,
        1.1,
        -1.5e300,
        "-" + DEC65.decode(),
        "2024-02-29",
        "2024-01-02 03:04:05.123456",
        "2024-01-02 03:04:05",
        "2038-01-19 03:14:07.999",
        "-838:59:59",
        "-00:00:01.500000",
        0,
        0,
        '{"a": [1, "é"]}',
        "😀",
        "€\x81é",
        bytes(range(256)),
        "green",
        "a,c",
        "POINT(1 2)",
        b"\x00\xff",
    ),
    (
        2,
        127,
        255,
        32767,
        8388607,
        (1 << 31) - 1,
        (1 << 63) - 1,
        U64,
        2155,
        3.40282e38,
        1.7976931348623157e308,
        "99.5",
        "9999-12-31",
        "9999-12-31 23:59:59.999999",
        "0000-00-00 00:00:00",
        None,
        "838:59:59",
        "838:59:59.999999",
        1,
        U64,
        "[]",
        "",
        "",
        b"",
        "red",
        "",
        None,
        b"",
    ),
    (
        3,
        0,
        1,
        0,
        0,
        0,
        0,
        1,
        2000,
        -0.0,
        5e-324,
        "0",
        "0000-00-00",
        "2016-00-00 00:00:00",
        "2016-02-00 10:00:00",
        None,
        "00:00:00",
        "-00:30:00",
        1,
        1 << 63,
        "null",
        "x",
        "x",
        b"\x00",
        None,
        None,
        None,
        None,
    ),
    (4, *([None] * 27)),
]


@pytest.mark.mariadb
def test_real_server_rows_match_pymysql(mariadb_dsn: Any, backend: str) -> None:
    """Text rows (COM_QUERY) and binary rows (a prepared statement) from the real server
    decode to PyMySQL's values for the same SELECT, apart from the stated differences."""
    import asyncio
    import secrets

    from mywire import aio
    from mywire.events import ResultsetStart, Rows, StmtExecute, StmtPrepare, StmtPrepared

    from helpers import pymysql_connect

    name = f"mywire_rows_{backend}_{secrets.token_hex(4)}"
    conn = pymysql_connect(mariadb_dsn)
    sql = f"SELECT * FROM {name} ORDER BY id"
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION sql_mode = ''")  # zero and partial dates allowed
            cur.execute(REAL_TABLE.format(name=name))
            marks = ", ".join(["%s"] * 26 + ["ST_GeomFromText(%s)", "%s"])
            cur.executemany(f"INSERT INTO {name} VALUES ({marks})", REAL_ROWS)
            conn.commit()
            cur.execute(sql)
            theirs = list(cur.fetchall())
            cur.execute(f"SELECT l1 FROM {name} ORDER BY id")
            theirs_latin1 = [r[0] for r in cur.fetchall()]

        async def capture() -> tuple[Any, Any, Any]:
            dsn = mariadb_dsn
            url = f"mysql://{dsn.user}@{dsn.host}:{dsn.port}/{dsn.database}"
            async with await aio.connect(url) as client:
                text = await client.query(sql)
                # Raw column charsets: the latin1 column arrives as latin1 bytes.
                await client.query("SET character_set_results = NULL")
                latin1 = await client.query(f"SELECT l1 FROM {name} ORDER BY id")
                await client.query("SET character_set_results = utf8mb4")
                send = client.conn.send
                prepared = await client._command(send(StmtPrepare(sql=sql)))
                (stmt,) = [e for e in prepared.events if isinstance(e, StmtPrepared)]
                binary = await client._command(send(StmtExecute(statement_id=stmt.statement_id)))
                return text, latin1, binary

        responses = asyncio.run(capture())
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {name}")
        conn.close()

    def decoded(response: Any, binary: bool) -> tuple[Any, list[tuple[object, ...]]]:
        """Each Rows chunk decoded straight from the receive buffer and its spans."""
        start = next(e for e in response.events if isinstance(e, ResultsetStart))
        assert start.binary is binary
        rows: list[tuple[object, ...]] = []
        for ev in response.events:
            if isinstance(ev, Rows):
                rows += decode_rows(start.columns, ev.data, ev.spans, binary=binary)
        # The same rows through row_spans() of the materialised payloads.
        ((_, payloads),) = response.resultsets
        assert same(decode_rows(start.columns, *row_spans(payloads), binary=binary), rows)
        return start.columns, rows

    columns, text = decoded(responses[0], False)
    _, binary = decoded(responses[2], True)
    names = [c.name for c in columns]
    for ours_t, ours_b, their in zip(text, binary, theirs, strict=True):
        for k, (t, b, p) in enumerate(zip(ours_t, ours_b, their, strict=True)):
            col = names[k]
            if col in ("b1", "b64") and p is not None:
                p = int.from_bytes(p, "big")  # PyMySQL: BIT as bytes; ours: int
            assert same(t, p), (col, t, p)
            if col == "f" and p is not None:
                # Binary FLOAT is the float32 widened; the text form is float(text).
                p = struct.unpack("<f", struct.pack("<f", p))[0]
            assert same(b, p), (col, b, p)
    # Zero and partial dates stay str (PyMySQL 1.2 does the same; older PyMySQL gave None).
    assert text[2][12] == "0000-00-00" and text[1][14] == "0000-00-00 00:00:00"
    assert text[2][13] == "2016-00-00 00:00:00.000000"
    assert binary[2][13] == "2016-00-00 00:00:00.000000"
    assert text[0][17] == timedelta(seconds=-1, microseconds=-500000)
    assert text[0][22] == "€\x81é"
    latin1_columns, ours_latin1 = decoded(responses[1], False)
    assert latin1_columns[0].character_set == 8  # latin1_swedish_ci: raw latin1 bytes
    assert [r[0] for r in ours_latin1] == theirs_latin1
