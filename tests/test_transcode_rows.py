"""transcode_rows: text and binary rows to json, ndjson, msgpack and psdb rows, both backends.

Rows are built by :mod:`rowbuild`.  Expected outputs never come from the transcoder: they
are ``json.dumps(..., ensure_ascii=False, separators=(",", ":"))``, ``msgpack.packb(...,
use_bin_type=True)`` and ``base64.b64encode`` of Python values written out here, or
literal text where JSON has to carry text verbatim (a JSON document, a DECIMAL as a
number).  Decoder-status errors are compared with what :func:`mywire.rows.decode_rows`
raises on the same rows (the spec says they are the decoder's errors).
"""

from __future__ import annotations

import base64
import json
import math
import re
import struct
import sys
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

import msgpack  # type: ignore[import-untyped]  # no stubs, no py.typed
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import mywire._backend
from mywire import _tcspec as T
from mywire._pyfloat import format_floats32
from mywire.errors import MalformedPacket, TruncatedPacket
from mywire.events import ColumnDefinition
from mywire.rows import decode_rows, row_spans

from rowbuild import (
    CP1250,
    ENUM_FLAG,
    LATIN1,
    UNSIGNED,
    UTF8MB4,
    b_date,
    b_double,
    b_float,
    b_int,
    b_time,
    binary_row,
    column,
    lenenc,
    text_row,
)
from test_rows import ERROR_CASES

ZEROFILL = 0x40
U64 = (1 << 64) - 1
BIG = 1 << 62
FORMATS = ("json", "ndjson", "msgpack", "psdb")


# ------------------------------------------------------------------------ expectations


@dataclass(frozen=True)
class Raw:
    """JSON text that the output carries verbatim (json.dumps cannot write it)."""

    text: str


@dataclass(frozen=True)
class Exp:
    """One non-NULL value as each format must write it."""

    json: object  # a value for json.dumps, or Raw
    msgpack: object  # a value for msgpack.packb
    psdb: bytes  # the text form


def _frag(e: Exp | None) -> str:
    if e is None:
        return "null"
    if isinstance(e.json, Raw):
        return e.json.text
    return json.dumps(e.json, ensure_ascii=False, separators=(",", ":"))


def expected(fmt: str, rows: Sequence[Sequence[Exp | None]], sep: bool = False) -> bytes:
    """The output of ``rows`` in ``fmt``, from the expectations alone."""
    if fmt == "msgpack":
        return b"".join(
            msgpack.packb([None if e is None else e.msgpack for e in row], use_bin_type=True)
            for row in rows
        )
    if fmt == "psdb":
        texts = [
            json.dumps(
                {
                    "lengths": ["-1" if e is None else str(len(e.psdb)) for e in row],
                    "values": base64.b64encode(
                        b"".join(e.psdb for e in row if e is not None)
                    ).decode(),
                },
                separators=(",", ":"),
            )
            for row in rows
        ]
    else:
        texts = ["[" + ",".join(_frag(e) for e in row) + "]" for row in rows]
    if fmt == "ndjson":
        return "".join(t + "\n" for t in texts).encode()
    return (("," if sep and texts else "") + ",".join(texts)).encode()


def transcode(
    columns: Sequence[ColumnDefinition],
    payloads: Sequence[bytes],
    fmt: str,
    *,
    binary: bool = False,
    first: int = 0,
    count: int | None = None,
    sep: bool = False,
    budget: int = BIG,
    int64_as_string: bool = False,
    decimal_as_number: bool = False,
) -> tuple[bytes, int]:
    data, spans = row_spans(payloads)
    tspec = T.tspec_for(tuple(columns), int64_as_string, decimal_as_number)
    out: tuple[bytes, int] = mywire._backend.IMPL.transcode_rows(
        tspec,
        data,
        spans,
        first,
        len(payloads) - first if count is None else count,
        binary=binary,
        fmt=T.FORMATS[fmt],
        sep=sep,
        budget=budget,
    )
    return out


def s(text: str, raw: bytes | None = None) -> Exp:
    """A string value whose text form is its UTF-8 bytes (or ``raw``)."""
    return Exp(text, text, text.encode() if raw is None else raw)


def n(value: int | float, raw: bytes) -> Exp:
    """A number written as JSON writes the Python value."""
    return Exp(value, value, raw)


def b(value: bytes) -> Exp:
    return Exp(base64.b64encode(value).decode(), value, value)


# ------------------------------------------------------------------------ every kind


DOC = '{"a": [1, 2.5e3, "\\u00e9", null, true], "b": {}}'
TEXT_CASES: list[tuple[str, ColumnDefinition, bytes, Exp]] = [
    ("tiny-min", column(1), b"-128", n(-128, b"-128")),
    ("utiny-max", column(1, flags=UNSIGNED), b"255", n(255, b"255")),
    ("short", column(2), b"-32768", n(-32768, b"-32768")),
    ("int24", column(9), b"8388607", n(8388607, b"8388607")),
    ("long", column(3), b"-2147483648", n(-2147483648, b"-2147483648")),
    (
        "longlong-min",
        column(8),
        b"-9223372036854775808",
        n(-(1 << 63), b"-9223372036854775808"),
    ),
    (
        "ulonglong-max",
        column(8, flags=UNSIGNED),
        b"18446744073709551615",
        n(U64, b"18446744073709551615"),
    ),
    ("zerofill", column(3, flags=UNSIGNED | ZEROFILL), b"00042", n(42, b"00042")),
    (
        "zerofill-64",
        column(8, flags=UNSIGNED | ZEROFILL),
        b"00000000000000000042",
        n(42, b"00000000000000000042"),
    ),
    ("zerofill-zero", column(3, flags=ZEROFILL), b"0000", n(0, b"0000")),
    ("minus-zero", column(3), b"-0", n(0, b"-0")),
    ("minus-zero-unsigned", column(3, flags=UNSIGNED), b"-0", n(0, b"-0")),
    ("year", column(13, flags=UNSIGNED | ZEROFILL), b"2155", n(2155, b"2155")),
    ("float", column(4), b"1.1", n(1.1, b"1.1")),
    ("float-exp", column(4), b"3.40282e38", n(3.40282e38, b"3.40282e38")),
    ("double-1e16", column(5), b"1e16", n(1e16, b"1e16")),
    ("double-1e15", column(5), b"1e15", n(1e15, b"1e15")),
    ("double-1e-5", column(5), b"0.00001", n(1e-5, b"0.00001")),
    ("double-1e-4", column(5), b"1E-4", n(0.0001, b"1E-4")),
    ("double-integral", column(5), b"100", n(100.0, b"100")),
    ("double-trailing-zeros", column(5), b"1.500", n(1.5, b"1.500")),
    ("double-minus-zero", column(5), b"-0", n(-0.0, b"-0")),
    ("double-zero-exp", column(5), b"0e500", n(0.0, b"0e500")),
    ("double-17-digits", column(5), b"0.30000000000000004", n(0.1 + 0.2, b"0.30000000000000004")),
    ("double-17-not-shortest", column(5), b"0.30000000000000001", n(0.3, b"0.30000000000000001")),
    ("double-denormal", column(5), b"5e-324", n(5e-324, b"5e-324")),
    (
        "double-max",
        column(5),
        b"1.7976931348623157e308",
        n(1.7976931348623157e308, b"1.7976931348623157e308"),
    ),
    ("double-underflow", column(5), b"-1e-400", n(-0.0, b"-1e-400")),
    ("double-long", column(5), b"0." + b"0" * 300 + b"1", n(1e-301, b"0." + b"0" * 300 + b"1")),
    ("decimal", column(246, decimals=2), b"-012.50", s("-012.50")),
    (
        "decimal-65",
        column(246, decimals=30),
        b"9" * 35 + b"." + b"1" * 30,
        s("9" * 35 + "." + "1" * 30),
    ),
    ("old-decimal", column(0), b"12", s("12")),
    ("date", column(10), b"2024-02-29", s("2024-02-29")),
    ("zero-date", column(10), b"0000-00-00", s("0000-00-00")),
    (
        "datetime",
        column(12, decimals=6),
        b"2024-01-02 03:04:05.123456",
        s("2024-01-02 03:04:05.123456"),
    ),
    ("timestamp", column(7), b"2038-01-19 03:14:07", s("2038-01-19 03:14:07")),
    ("time-min", column(11), b"-838:59:59", s("-838:59:59")),
    ("time-frac", column(11, decimals=1), b"-00:30:00.5", s("-00:30:00.5")),
    ("utf8", column(253, UTF8MB4), "zürich 東京 😀".encode(), s("zürich 東京 😀")),
    ("utf8-empty", column(253, UTF8MB4), b"", s("")),
    (
        "utf8-escapes",
        column(253, UTF8MB4),
        b'a"b\\c/\x00\x1f\x7f\n\t\x08\x0c\r\xe2\x80\xa8',
        s('a"b\\c/\x00\x1f\x7f\n\t\x08\x0c\r\u2028'),
    ),
    ("enum", column(254, UTF8MB4, flags=ENUM_FLAG), b"red", s("red")),
    ("latin1", column(254, LATIN1), b"\x80\x81\xff", s("€\x81ÿ")),
    ("latin1-holes", column(253, LATIN1), b"\x8d\x8f\x90\x9d\xe9", s("\x8d\x8f\x90\x9dé")),
    ("cp1250", column(253, CP1250), b"\x8a\xe8", s("Šč")),
    ("json", column(245), DOC.encode(), Exp(Raw(DOC), DOC, DOC.encode())),
    ("json-scalar", column(245), b"1e400", Exp(Raw("1e400"), "1e400", b"1e400")),
    (
        "json-mariadb",
        column(252, UTF8MB4, extended_type="json"),
        b' [1, "\\ud800"]\t',
        Exp(Raw(' [1, "\\ud800"]\t'), ' [1, "\\ud800"]\t', b' [1, "\\ud800"]\t'),
    ),
    ("bytes", column(252), bytes(range(256)), b(bytes(range(256)))),
    ("bytes-empty", column(252), b"", b(b"")),
    ("geometry", column(255), b"\x00\x00\x00\x00\x01\x01", b(b"\x00\x00\x00\x00\x01\x01")),
    ("vector", column(242, UTF8MB4), b"\x00\x00\x80?", b(b"\x00\x00\x80?")),
    ("unknown-type", column(100, UTF8MB4), b"abc", b(b"abc")),
    ("null-type-text", column(6), b"ab", b(b"ab")),
    ("bit", column(16), b"\x01\x00", n(256, b"\x01\x00")),
    ("bit-64", column(16), b"\xff" * 8, n(U64, b"\xff" * 8)),
    ("bit-empty", column(16), b"", n(0, b"")),
    ("long-value", column(253, UTF8MB4), b"x" * 70000, s("x" * 70000)),
    ("medium-value", column(252), b"y" * 300, b(b"y" * 300)),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("col", "raw", "exp"), [c[1:] for c in TEXT_CASES], ids=[c[0] for c in TEXT_CASES]
)
def test_text_values(fmt: str, col: ColumnDefinition, raw: bytes, exp: Exp) -> None:
    # The value, a NULL of the same column, and the value again after the NULL.
    payloads = [text_row([raw]), text_row([None]), text_row([raw])]
    assert transcode([col], payloads, fmt) == (expected(fmt, [[exp], [None], [exp]]), 3)
    # Between two other columns, so that its neighbours' offsets depend on its length.
    cols = [column(3), col, column(253, UTF8MB4)]
    row = text_row([b"7", raw, b"z"])
    assert transcode(cols, [row], fmt) == (expected(fmt, [[n(7, b"7"), exp, s("z")]]), 1)


BINARY_CASES: list[tuple[str, ColumnDefinition, bytes, Exp]] = [
    ("tiny-min", column(1), b_int(-128, 1), n(-128, b"-128")),
    ("utiny-max", column(1, flags=UNSIGNED), b"\xff", n(255, b"255")),
    ("short-min", column(2), b_int(-32768, 2), n(-32768, b"-32768")),
    ("ushort-max", column(2, flags=UNSIGNED), b"\xff\xff", n(65535, b"65535")),
    ("year", column(13, flags=UNSIGNED | ZEROFILL), b_int(2024, 2), n(2024, b"2024")),
    ("int24", column(9), b_int(-8388608, 4), n(-8388608, b"-8388608")),
    ("long-min", column(3), b_int(-(1 << 31), 4), n(-(1 << 31), b"-2147483648")),
    ("ulong-max", column(3, flags=UNSIGNED), b"\xff" * 4, n((1 << 32) - 1, b"4294967295")),
    ("longlong-min", column(8), b_int(-(1 << 63), 8), n(-(1 << 63), b"-9223372036854775808")),
    ("longlong-zero", column(8, flags=ZEROFILL), b_int(0, 8), n(0, b"0")),
    ("ulonglong-max", column(8, flags=UNSIGNED), b"\xff" * 8, n(U64, b"18446744073709551615")),
    ("float-1.1", column(4), b_float(1.1), n(1.1, b"1.1")),
    ("float-0.1", column(4), b_float(0.1), n(0.1, b"0.1")),
    ("float-minus-zero", column(4), b_float(-0.0), n(-0.0, b"-0.0")),
    ("float-zero", column(4), b_float(0.0), n(0.0, b"0.0")),
    ("float-max", column(4), b_float(3.4028234663852886e38), n(3.4028235e38, b"3.4028235e+38")),
    ("float-min-subnormal", column(4), b_float(1e-45), n(1e-45, b"1e-45")),
    ("float-min-normal", column(4), b_float(2.0**-126), n(1.1754944e-38, b"1.1754944e-38")),
    ("float-2-24", column(4), b_float(16777216.0), n(16777216.0, b"16777216.0")),
    ("float-1e16", column(4), b_float(1e16), n(1e16, b"1e+16")),
    ("float-1e-5", column(4), b_float(1e-5), n(1e-5, b"1e-05")),
    ("float-third", column(4), b_float(1 / 3), n(0.33333334, b"0.33333334")),
    ("double-0.1", column(5), b_double(0.1), n(0.1, b"0.1")),
    ("double-sum", column(5), b_double(0.1 + 0.2), n(0.1 + 0.2, b"0.30000000000000004")),
    ("double-1e16", column(5), b_double(1e16), n(1e16, b"1e+16")),
    ("double-1e15", column(5), b_double(1e15), n(1e15, b"1000000000000000.0")),
    ("double-denormal", column(5), b_double(5e-324), n(5e-324, b"5e-324")),
    ("double-minus-zero", column(5), b_double(-0.0), n(-0.0, b"-0.0")),
    (
        "double-max",
        column(5),
        b_double(1.7976931348623157e308),
        n(1.7976931348623157e308, b"1.7976931348623157e+308"),
    ),
    ("decimal", column(246, decimals=2), lenenc(b"-012.50"), s("-012.50")),
    ("date", column(10), b_date(2024, 2, 29), s("2024-02-29")),
    ("date-0", column(10), b_date(length=0), s("0000-00-00")),
    ("date-11", column(10), b_date(2024, 2, 29, 1, 2, 3, 4, length=11), s("2024-02-29")),
    ("datetime-0", column(12), b_date(length=0), s("0000-00-00 00:00:00")),
    ("datetime-0-dec3", column(12, decimals=3), b_date(length=0), s("0000-00-00 00:00:00.000")),
    ("datetime-7", column(12), b_date(2024, 1, 2, 3, 4, 5), s("2024-01-02 03:04:05")),
    (
        "datetime-us-dec3",
        column(12, decimals=3),
        b_date(2024, 1, 2, 3, 4, 5, 120000),
        s("2024-01-02 03:04:05.120"),
    ),
    ("timestamp-us", column(7), b_date(2038, 1, 19, 3, 14, 7, 5), s("2038-01-19 03:14:07.000005")),
    ("time-0", column(11), b_time(length=0), s("00:00:00")),
    ("time-neg", column(11), b_time(True, 34, 22, 59, 59), s("-838:59:59")),
    ("time-us", column(11, decimals=6), b_time(False, 0, 1, 2, 3, 4), s("01:02:03.000004")),
    ("utf8", column(253, UTF8MB4), lenenc("zürich 😀".encode()), s("zürich 😀")),
    ("latin1", column(254, LATIN1), lenenc(b"\x80\x81\xff"), s("€\x81ÿ")),
    ("json", column(245), lenenc(DOC.encode()), Exp(Raw(DOC), DOC, DOC.encode())),
    ("bytes", column(252), lenenc(bytes(range(256))), b(bytes(range(256)))),
    ("bit", column(16), lenenc(b"\x80"), n(128, b"\x80")),
    ("long-value", column(251, UTF8MB4), lenenc(b"x" * 70000), s("x" * 70000)),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("col", "cell", "exp"), [c[1:] for c in BINARY_CASES], ids=[c[0] for c in BINARY_CASES]
)
def test_binary_values(fmt: str, col: ColumnDefinition, cell: bytes, exp: Exp) -> None:
    payloads = [binary_row([cell]), binary_row([None]), binary_row([cell])]
    out = transcode([col], payloads, fmt, binary=True)
    assert out == (expected(fmt, [[exp], [None], [exp]]), 3)
    cols = [column(3), col, column(253, UTF8MB4)]
    row = binary_row([b_int(7, 4), cell, lenenc(b"z")])
    assert transcode(cols, [row], fmt, binary=True) == (
        expected(fmt, [[n(7, b"7"), exp, s("z")]]),
        1,
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_binary_null_type_has_no_bytes(fmt: str) -> None:
    # The NULL type carries nothing in binary rows, whatever its bitmap bit says.
    cols = [column(6), column(1), column(6)]
    row = b"\x00\x00" + b_int(5, 1)
    assert transcode(cols, [row], fmt, binary=True) == (
        expected(fmt, [[None, n(5, b"5"), None]]),
        1,
    )


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("fmt", FORMATS)
def test_no_columns(fmt: str, binary: bool) -> None:
    row = b"\x00\x00" if binary else b""
    assert transcode([], [row, row], fmt, binary=binary) == (expected(fmt, [[], []]), 2)


# ------------------------------------------------------------------------ options

C_LONGLONG = column(8, name="id")
C_ULONGLONG = column(8, name="u", flags=UNSIGNED)
C_INT = column(3, name="n")
C_DECIMAL = column(246, name="d", decimals=2)


@pytest.mark.parametrize("fmt", FORMATS)
def test_int64_as_string(fmt: str) -> None:
    cols = [C_LONGLONG, C_ULONGLONG, C_INT]
    rows = [[b"-9223372036854775808", b"18446744073709551615", b"5"], [b"007", b"-0", b"-5"]]
    exps = [
        [
            Exp("-9223372036854775808", "-9223372036854775808", b"-9223372036854775808"),
            Exp("18446744073709551615", "18446744073709551615", b"18446744073709551615"),
            n(5, b"5"),
        ],
        [Exp("7", "7", b"007"), Exp("0", "0", b"-0"), n(-5, b"-5")],
    ]
    payloads = [text_row(r) for r in rows]
    out = transcode(cols, payloads, fmt, int64_as_string=True)
    assert out == (expected(fmt, exps), 2)
    cells = [
        [b_int(-(1 << 63), 8), b"\xff" * 8, b_int(5, 4)],
        [b_int(7, 8), b_int(0, 8), b_int(-5, 4)],
    ]
    bin_exps = [exps[0], [Exp("7", "7", b"7"), Exp("0", "0", b"0"), n(-5, b"-5")]]
    out = transcode(cols, [binary_row(c) for c in cells], fmt, binary=True, int64_as_string=True)
    assert out == (expected(fmt, bin_exps), 2)


DECIMAL_NUMBERS = [
    (b"-012.50", "-12.50", -12.5),
    (b"000", "0", 0.0),
    (b"-0", "-0", -0.0),
    (b"0.5", "0.5", 0.5),
    (b"-00.5", "-0.5", -0.5),
    (b"100", "100", 100.0),
    (
        b"12345678901234567890123456789012345.5",
        "12345678901234567890123456789012345.5",
        1.2345678901234568e34,
    ),
]


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("fmt", FORMATS)
def test_decimal_as_number(fmt: str, binary: bool) -> None:
    exps = [[Exp(Raw(j), m, raw), None] for raw, j, m in DECIMAL_NUMBERS]
    if binary:
        payloads = [binary_row([lenenc(raw), None]) for raw, _, _ in DECIMAL_NUMBERS]
    else:
        payloads = [text_row([raw, None]) for raw, _, _ in DECIMAL_NUMBERS]
    out = transcode([C_DECIMAL, C_DECIMAL], payloads, fmt, binary=binary, decimal_as_number=True)
    assert out == (expected(fmt, exps), len(exps))


# ------------------------------------------------------------------------ rows and calls

MIXED = [column(3, name="id"), column(253, UTF8MB4, name="name"), column(5, name="x")]
MIXED_ROWS: list[list[bytes | None]] = [
    [b"1", b"abc", b"1.5"],
    [b"2", None, b"-2e-7"],
    [b"3", "é".encode(), None],
]
MIXED_EXP: list[list[Exp | None]] = [
    [n(1, b"1"), s("abc"), n(1.5, b"1.5")],
    [n(2, b"2"), None, n(-2e-7, b"-2e-7")],
    [n(3, b"3"), s("é"), None],
]


def mixed_payloads() -> list[bytes]:
    return [text_row(r) for r in MIXED_ROWS]


def test_row_shapes_literal() -> None:
    # The shapes written out once by hand (the other tests build them from the values).
    payloads = mixed_payloads()
    assert transcode(MIXED, payloads, "json") == (
        '[1,"abc",1.5],[2,null,-2e-07],[3,"é",null]'.encode(),
        3,
    )
    assert transcode(MIXED, payloads, "json", sep=True)[0] == (
        ',[1,"abc",1.5],[2,null,-2e-07],[3,"é",null]'.encode()
    )
    assert transcode(MIXED, payloads, "ndjson")[0] == (
        '[1,"abc",1.5]\n[2,null,-2e-07]\n[3,"é",null]\n'.encode()
    )
    assert transcode(MIXED, payloads, "msgpack")[0] == (
        b"\x93\x01\xa3abc\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00"
        b"\x93\x02\xc0\xcb" + struct.pack(">d", -2e-7) + b"\x93\x03\xa2\xc3\xa9\xc0"
    )
    assert transcode(MIXED, payloads, "psdb")[0] == (
        b'{"lengths":["1","3","3"],"values":"MWFiYzEuNQ=="},'
        b'{"lengths":["1","-1","5"],"values":"Mi0yZS03"},'
        b'{"lengths":["1","2","-1"],"values":"M8Op"}'
    )


@pytest.mark.parametrize("sep", [False, True])
@pytest.mark.parametrize("fmt", FORMATS)
def test_multi_row(fmt: str, sep: bool) -> None:
    out = transcode(MIXED, mixed_payloads(), fmt, sep=sep)
    assert out == (expected(fmt, MIXED_EXP, sep=sep and fmt in ("json", "psdb")), 3)


@pytest.mark.parametrize("fmt", FORMATS)
def test_sub_ranges(fmt: str) -> None:
    payloads = mixed_payloads()
    for first in range(4):
        for count in range(4 - first):
            for sep in (False, True):
                want = expected(
                    fmt, MIXED_EXP[first : first + count], sep=sep and fmt in ("json", "psdb")
                )
                got = transcode(MIXED, payloads, fmt, first=first, count=count, sep=sep)
                assert got == (want, count)


@pytest.mark.parametrize("sep", [False, True])
@pytest.mark.parametrize("fmt", FORMATS)
def test_budget(fmt: str, sep: bool) -> None:
    payloads = mixed_payloads()
    with_sep = sep and fmt in ("json", "psdb")
    for k in range(4):
        size = len(expected(fmt, MIXED_EXP[:k], sep=with_sep))
        # Exactly fitting k rows writes k rows; one byte less writes k - 1.
        assert transcode(MIXED, payloads, fmt, sep=sep, budget=size) == (
            expected(fmt, MIXED_EXP[:k], sep=with_sep),
            k,
        )
        if k:
            fewer = expected(fmt, MIXED_EXP[: k - 1], sep=with_sep)
            assert transcode(MIXED, payloads, fmt, sep=sep, budget=size - 1) == (fewer, k - 1)
    assert transcode(MIXED, payloads, fmt, sep=sep, budget=0) == (b"", 0)


@pytest.mark.parametrize("fmt", FORMATS)
def test_many_rows(fmt: str) -> None:
    # More rows than one batch, a NULL column, a long value in one row only, a budget cut
    # deep inside, and a first row that is not 0.
    cols = [column(8, name="i"), column(253, UTF8MB4, name="t"), column(3, name="m")]
    rows = []
    exps: list[list[Exp | None]] = []
    for i in range(5000):
        t = "v" * (300 if i == 4321 else i % 7)
        rows.append(text_row([str(i).encode(), t.encode(), None if i % 3 else b"0%d" % i]))
        exps.append([n(i, str(i).encode()), s(t), None if i % 3 else n(i, b"0%d" % i)])
    out = transcode(cols, rows, fmt, first=10, sep=True)
    with_sep = fmt in ("json", "psdb")
    assert out == (expected(fmt, exps[10:], sep=with_sep), 4990)
    budget = len(expected(fmt, exps[10:4400], sep=with_sep)) + 3
    assert transcode(cols, rows, fmt, first=10, sep=True, budget=budget) == (
        expected(fmt, exps[10:4400], sep=with_sep),
        4390,
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_many_binary_rows(fmt: str) -> None:
    # Binary rows in bulk: NULLs in every column somewhere, temporals of every length in
    # one column, a NULL-type column, a long string in one row.
    cols = [
        column(8, name="i"),
        column(12, name="dt", decimals=3),
        column(11, name="t"),
        column(10, name="d"),
        column(6, name="z"),
        column(5, name="x"),
        column(253, UTF8MB4, name="s"),
        column(2, name="h", flags=UNSIGNED),
    ]
    datetimes = [
        (b_date(length=0), "0000-00-00 00:00:00.000"),
        (b_date(2024, 1, 2), "2024-01-02 00:00:00.000"),
        (b_date(2024, 1, 2, 3, 4, 5), "2024-01-02 03:04:05.000"),
        (b_date(2024, 1, 2, 3, 4, 5, 120000), "2024-01-02 03:04:05.120"),
        (b_date(2024, 1, 2, 3, 4, 5, 123456), "2024-01-02 03:04:05.123456"),
    ]
    times = [
        (b_time(length=0), "00:00:00"),
        (b_time(True, 1, 2, 3, 4), "-26:03:04"),
        (b_time(False, 0, 1, 2, 3, 4), "01:02:03.000004"),
    ]
    dates = [(b_date(length=0), "0000-00-00"), (b_date(2024, 2, 29), "2024-02-29")]
    dates.append((b_date(2024, 2, 29, 1, 2, 3, 4, length=11), "2024-02-29"))
    rows: list[bytes] = []
    exps: list[list[Exp | None]] = []
    for k in range(3000):
        dt, dt_text = datetimes[k % 5]
        t, t_text = times[k % 3]
        d, d_text = dates[k % 3]
        text = "é" * (200 if k == 2999 else k % 4)
        cells: list[bytes | None] = [
            b_int(k - 1500, 8),
            dt,
            t,
            d,
            b"",
            b_double(k / 7),
            lenenc(text.encode()),
            b_int(k, 2),
        ]
        row_exp: list[Exp | None] = [
            n(k - 1500, str(k - 1500).encode()),
            s(dt_text),
            s(t_text),
            s(d_text),
            None,
            n(k / 7, repr(k / 7).encode()),
            s(text),
            n(k, str(k).encode()),
        ]
        for c in range(8):
            if (k + c) % 11 == 0:
                cells[c] = None
                row_exp[c] = None
        rows.append(binary_row(cells))
        exps.append(row_exp)
    assert transcode(cols, rows, fmt, binary=True) == (expected(fmt, exps), 3000)


def test_bytearray_and_memoryview_input() -> None:
    data, spans = row_spans(mixed_payloads())
    tspec = T.tspec_for(tuple(MIXED))
    want = expected("json", MIXED_EXP)
    for buf in (bytearray(data), memoryview(data)):
        got = mywire._backend.IMPL.transcode_rows(
            tspec, buf, spans, 0, 3, binary=False, fmt=T.F_JSON, sep=False, budget=BIG
        )
        assert got == (want, 3)


# ------------------------------------------------------------------------ errors

S = column(253, UTF8MB4, name="s")


def transcode_error(
    columns: Sequence[ColumnDefinition],
    payloads: Sequence[bytes],
    fmt: str = "json",
    **kw: object,
) -> MalformedPacket:
    with pytest.raises(MalformedPacket) as info:
        transcode(columns, payloads, fmt, **kw)  # type: ignore[arg-type]
    return info.value


BAD_UTF8 = [
    ("overlong", b"\xc0\x80", "b'\\xc0\\x80'"),
    ("surrogate", b"\xed\xa0\x80", "b'\\xed\\xa0\\x80'"),
    ("truncated", b"a\xe2\x82", "b'a\\xe2\\x82'"),
    ("lone-continuation", b"\x80", "b'\\x80'"),
    ("beyond-u10ffff", b"\xf4\x90\x80\x80", "b'\\xf4\\x90\\x80\\x80'"),
    ("ff", b"\xff", "b'\\xff'"),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("raw", "shown"), [c[1:] for c in BAD_UTF8], ids=[c[0] for c in BAD_UTF8])
def test_invalid_utf8(fmt: str, raw: bytes, shown: str) -> None:
    # Row 1 starts at 8; its second value's content at 8 + 3 + 1 = 12.
    payloads = [text_row([b"ok", b"fine"]), text_row([b"ok", raw]), text_row([b"x", b"\xff"])]
    exc = transcode_error([S, S], payloads, fmt)
    assert type(exc) is MalformedPacket
    assert str(exc) == (
        f"invalid value in row 1: column 1 ('s', VAR_STRING) at offset 12: {shown} "
        "is not valid UTF-8 text"
    )
    assert exc.offset == 12
    assert exc.expected == "valid UTF-8 text"
    # Binary rows: header and bitmap (2 bytes), "ok" (3), then the value's content.
    cells = [binary_row([lenenc(b"ok"), lenenc(b"fine")]), binary_row([lenenc(b"ok"), lenenc(raw)])]
    exc = transcode_error([S, S], cells, fmt, binary=True)
    assert str(exc).startswith("invalid value in row 1: column 1 ('s', VAR_STRING) at offset 16: ")


def test_invalid_text_in_codec() -> None:
    # cp1250 leaves 0x81 undefined: strict decoding refuses it.
    exc = transcode_error([column(253, CP1250, name="c")], [text_row([b"a\x81"])])
    assert str(exc) == (
        "invalid value in row 0: column 0 ('c', VAR_STRING) at offset 1: b'a\\x81' "
        "is not valid cp1250 text"
    )


JSON_COLUMN = column(245, name="j")
VALID_JSON = [
    "0",
    "-0",
    "-1.5e-7",
    "1E+2",
    "1e400",
    "123456789012345678901234567890" * 200,
    '"\\ud800"',
    '"\\/\\b\\f\\n\\r\\t\\"\\\\\\u00E9"',
    "[]",
    "{}",
    " [1, 2] ",
    '\t{"a":{"b":[null,true,false]}}\r\n',
    '{"a":1,"a":2}',
    '"[[[[[[[[[[' + "[" * 600 + '"',
    '"é"',
    "[" * 512 + "]" * 512,
    '{"a":' * 512 + "1" + "}" * 512,
    "[" * 300 + '{"k":' * 211 + "[]" + "}" * 211 + "]" * 300,
]
INVALID_JSON = [
    "",
    " ",
    "NaN",
    "Infinity",
    "-Infinity",
    "[NaN]",
    "01",
    "-01",
    "1.",
    ".5",
    "+1",
    "1e",
    "0x10",
    "-",
    "[-]",
    "1_0",
    "[1,]",
    '{"a":1,}',
    "{a:1}",
    "'a'",
    '"\x01"',
    '"\\x"',
    '"\\u12"',
    '"abc',
    "[1,2",
    "[1] x",
    "[1][2]",
    "1 2",
    "tru",
    "True",
    "\ufeff[]",
    "\u00a0[]",
    "\x0c[]",
    "[" * 513 + "]" * 513,
    '{"a":' * 513 + "1" + "}" * 513,
    "[" * 300 + '{"k":' * 212 + "[]" + "}" * 212 + "]" * 300,
    "[" * 600,
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_valid_json(fmt: str) -> None:
    docs = VALID_JSON
    payloads = [text_row([d.encode()]) for d in docs]
    # NDJSON keeps a row per line: CR and LF, which can only be whitespace between tokens
    # in a JSON text, become spaces there.
    line = str.maketrans("\r\n", "  ") if fmt == "ndjson" else {}
    exps: list[list[Exp | None]] = [[Exp(Raw(d.translate(line)), d, d.encode())] for d in docs]
    assert transcode([JSON_COLUMN], payloads, fmt) == (expected(fmt, exps), len(docs))


@pytest.mark.parametrize("doc", INVALID_JSON, ids=range(len(INVALID_JSON)))
def test_invalid_json(doc: str) -> None:
    raw = doc.encode()
    exc = transcode_error([C_INT, JSON_COLUMN], [text_row([b"1", b"[]"]), text_row([b"1", raw])])
    offset = 5 + 2 + (1 if len(raw) < 251 else 3)
    shown = repr(raw[:32]) + ("..." if len(raw) > 32 else "")
    assert str(exc) == (
        f"invalid value in row 1: column 1 ('j', JSON) at offset {offset}: {shown} "
        "is not a JSON document nested at most 512 deep"
    )
    assert exc.expected == "a JSON document nested at most 512 deep"


@pytest.mark.parametrize("backend", ["python"], indirect=True)
def test_iterative_json_check() -> None:
    # The pure transcoder's stand-in for json's scanner when the interpreter's recursion
    # limit is too close (it does not look at depth; the caller did).
    from mywire._pytranscode import _json_valid_iterative

    for doc in VALID_JSON:
        assert _json_valid_iterative(doc), doc
    for doc in INVALID_JSON:
        too_deep = doc.count("[") + doc.count("{") > 512 and doc[-1] in "]}"
        assert _json_valid_iterative(doc) is too_deep, doc


@pytest.mark.parametrize("backend", ["python"], indirect=True)
def test_json_check_on_a_deep_stack() -> None:
    # Called with little recursion left, the scanner's recursion fails (on Pythons that
    # count C recursion against the limit); the answer must not change.
    from mywire._pytranscode import _json_valid

    def deep(k: int, doc: str) -> bool:
        return deep(k - 1, doc) if k else _json_valid(doc)

    room = sys.getrecursionlimit() - 200
    assert deep(room, "[" * 512 + "]" * 512)
    assert not deep(room, "[" * 512 + "1,]" + "]" * 511)


def test_json_checks_utf8_first() -> None:
    exc = transcode_error([JSON_COLUMN], [text_row([b'["\xff"'])])
    assert str(exc).endswith("is not valid UTF-8 text")


def test_nonfinite_text() -> None:
    exc = transcode_error([C_INT, column(5, name="x")], [text_row([b"1", b"1e309"])])
    assert str(exc) == (
        "invalid value in row 0: column 1 ('x', DOUBLE) at offset 3: b'1e309' "
        "is not a finite number"
    )
    assert exc.offset == 3
    exc = transcode_error([column(4, name="f")], [text_row([b"-" + b"9" * 310])])
    assert str(exc).startswith("invalid value in row 0: column 0 ('f', FLOAT) at offset 3: ")


@pytest.mark.parametrize(
    ("col", "cell", "size"),
    [
        (column(4, name="x"), b_float(math.inf), 4),
        (column(4, name="x"), b_float(-math.inf), 4),
        (column(4, name="x"), b"\x00\x00\xc0\x7f", 4),
        (column(5, name="x"), b_double(math.inf), 8),
        (column(5, name="x"), b_double(math.nan), 8),
        (column(5, name="x"), b"\x01\x00\x00\x00\x00\x00\xf0\xff", 8),
    ],
)
@pytest.mark.parametrize("fmt", FORMATS)
def test_nonfinite_binary(fmt: str, col: ColumnDefinition, cell: bytes, size: int) -> None:
    # Header and bitmap (2 bytes), then the INT's 4 bytes: the float starts at offset 6.
    exc = transcode_error([C_INT, col], [binary_row([b_int(1, 4), cell])], fmt, binary=True)
    kind = "FLOAT" if size == 4 else "DOUBLE"
    assert str(exc) == (
        f"invalid value in row 0: column 1 ('x', {kind}) at offset 6: {cell!r} "
        "is not a finite number"
    )


def test_grammar_before_transcoder_checks() -> None:
    # A bad integer in column 0 is reported before bad UTF-8 in column 1, and bad UTF-8
    # in column 0 before a truncated column 1.
    exc = transcode_error([C_INT, S], [text_row([b"x", b"\xff"])])
    assert "is not an integer" in str(exc)
    exc = transcode_error([S, S], [text_row([b"\xff"]) + b"\x05ab"])
    assert "is not valid UTF-8 text" in str(exc)


def test_error_row_is_absolute_and_after_budget() -> None:
    payloads = [text_row([b"1"]), text_row([b"2"]), text_row([b"x"]), text_row([b"4"])]
    exc = transcode_error([C_INT], payloads, first=1)
    assert str(exc) == (
        "malformed row 2: column 0 ('n', LONG) at offset 5: b'x' is not an integer "
        "(optional '-' and ASCII digits)"
    )
    # The rows before the bad one do not fit: the call stops there without an error.
    assert transcode([C_INT], payloads, "json", first=1, budget=2) == (b"", 0)
    assert transcode([C_INT], payloads, "json", first=0, budget=5) == (b"[1]", 1)
    # They fit exactly: the bad row is reached, and its errors are found before its size
    # is compared with the budget.
    exc = transcode_error([C_INT], payloads, first=1, budget=3)
    assert "malformed row 2" in str(exc)
    exc = transcode_error([C_INT], payloads, first=1, budget=4, sep=True)
    assert "malformed row 2" in str(exc)


def test_error_deep_in_a_batch() -> None:
    payloads = [text_row([b"%d" % i, b"a"]) for i in range(3000)]
    payloads[2500] = text_row([b"1", b"\xc3"])
    exc = transcode_error([C_INT, S], payloads, "msgpack")
    start = sum(map(len, payloads[:2500]))
    assert str(exc) == (
        f"invalid value in row 2500: column 1 ('s', VAR_STRING) at offset {start + 3}: "
        "b'\\xc3' is not valid UTF-8 text"
    )


@pytest.mark.parametrize(
    ("columns", "payloads", "binary", "cls", "message"),
    [c[1:] for c in ERROR_CASES],
    ids=[c[0] for c in ERROR_CASES],
)
def test_decoder_errors(
    columns: tuple[ColumnDefinition, ...],
    payloads: list[bytes],
    binary: bool,
    cls: type,
    message: str,
) -> None:
    # The row decoder's own error cases give the row decoder's errors, in every format.
    for fmt in FORMATS:
        exc = transcode_error(columns, payloads, fmt, binary=binary)
        assert type(exc) is cls
        assert str(exc) == message


@pytest.mark.parametrize(
    ("spans", "message"),
    [
        ([0, 9], "span of row 0 (start 0, length 9) lies outside the 8-byte buffer"),
        ([0, 2, 9, 0], "span of row 1 (start 9, length 0) lies outside the 8-byte buffer"),
        ([0, 2, -1, 2], "span of row 1 (start -1, length 2) lies outside the 8-byte buffer"),
        ([0, 2, 2, -2], "span of row 1 (start 2, length -2) lies outside the 8-byte buffer"),
        ([1 << 64, 0], f"span of row 0 (start {1 << 64}, length 0) lies outside the 8-byte buffer"),
        ([0, 2, 2, 2, 4, 5], "span of row 2 (start 4, length 5) lies outside the 8-byte buffer"),
    ],
)
def test_bad_spans(spans: list[int], message: str) -> None:
    # Every span is checked before any row, also those outside first..first+count-1
    # (row 0 here is malformed too).
    with pytest.raises(ValueError) as info:
        mywire._backend.IMPL.transcode_rows(
            T.tspec_for((C_INT,)), b"\x01x\x011\x011\x011", spans, 0, 1,
            binary=False, fmt=T.F_JSON, sep=False, budget=BIG,
        )  # fmt: skip
    assert type(info.value) is ValueError
    assert str(info.value) == message


def test_spans_as_uint64_memoryview() -> None:
    # What the packet scanner hands out with flat=True.
    data, spans = row_spans(mixed_payloads())
    flat = memoryview(array("Q", spans))
    got = mywire._backend.IMPL.transcode_rows(
        T.tspec_for(tuple(MIXED)), data, flat, 1, 2,
        binary=False, fmt=T.F_JSON, sep=False, budget=BIG,
    )  # fmt: skip
    assert got == (expected("json", MIXED_EXP[1:]), 2)


# ------------------------------------------------------------------------ properties

# Kinds whose only checks are the row decoder's (no UTF-8, JSON or finiteness checks).
_PLAIN_COLUMNS = [
    column(1, name="a"),
    column(8, name="b", flags=UNSIGNED),
    column(246, name="c"),
    column(10, name="d"),
    column(12, name="e"),
    column(11, name="f"),
    column(16, name="g"),
    column(252, name="h"),
    column(254, LATIN1, name="i"),
]


@st.composite
def _corrupted(draw: st.DrawFn) -> tuple[list[ColumnDefinition], list[bytes], bool]:
    """Columns, and rows that are arbitrary bytes or arbitrary values in row framing."""
    cols = draw(st.lists(st.sampled_from(_PLAIN_COLUMNS), min_size=1, max_size=4))
    binary = draw(st.booleans())
    if draw(st.booleans()):
        return cols, draw(st.lists(st.binary(max_size=24), min_size=1, max_size=4)), binary
    value = st.one_of(st.none(), st.binary(max_size=12))
    rows = draw(st.lists(st.lists(value, min_size=len(cols), max_size=len(cols)), max_size=4))
    if binary:
        return cols, [binary_row([None if v is None else lenenc(v) for v in r]) for r in rows], True
    return cols, [text_row(r) for r in rows], False


@given(_corrupted())
def test_errors_are_the_decoders(case: tuple[list[ColumnDefinition], list[bytes], bool]) -> None:
    cols, payloads, binary = case
    data, spans = row_spans(payloads)
    try:
        decode_rows(tuple(cols), data, spans, binary=binary)
    except MalformedPacket as exc:
        want: MalformedPacket | None = exc
    else:
        want = None
    for fmt in FORMATS:
        if want is None:
            assert transcode(cols, payloads, fmt, binary=binary)[1] == len(payloads)
        else:
            got = transcode_error(cols, payloads, fmt, binary=binary)
            assert (type(got), str(got), got.offset) == (type(want), str(want), want.offset)


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
@example('\x00\x1f\x7f"\\\u2028\ud7ff\ue000\U0010ffff')
def test_strings_escape_as_json_dumps(text: str) -> None:
    raw = text.encode()
    rows = [text_row([raw]), text_row([raw + b"!"])]
    for fmt in FORMATS:
        assert transcode([S], rows, fmt) == (expected(fmt, [[s(text)], [s(text + "!")]]), 2)


def layout(text: str) -> str:
    """The spec's float layout, written from the _tcspec docstring."""
    m = re.fullmatch(r"(-?)([0-9]+)(?:\.([0-9]+))?(?:[eE]([-+]?[0-9]+))?", text)
    assert m is not None
    sign, int_part, frac, exp = m[1], m[2], m[3] or "", int(m[4] or 0)
    all_digits = int_part + frac
    digits = all_digits.lstrip("0")
    if not digits:
        return sign + "0.0"
    # value = 0.<all_digits> * 10**(len(int_part) + exp); the first significant digit:
    first = len(int_part) + exp - (len(all_digits) - len(digits)) - 1
    digits = digits.rstrip("0")
    if len(digits) > 15 or not -307 <= first <= 307:
        return repr(float(text))
    if first < -4 or first >= 16:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if first < 0 else '+'}{abs(first):02d}"
    if first < 0:
        return f"{sign}0.{'0' * (-first - 1)}{digits}"
    whole = digits[: first + 1].ljust(first + 1, "0")
    return f"{sign}{whole}.{digits[first + 1 :] or '0'}"


@st.composite
def _float_texts(draw: st.DrawFn) -> str:
    sign = draw(st.sampled_from(["", "-"]))
    int_part = draw(st.from_regex(r"[0-9]{1,20}", fullmatch=True))
    frac = draw(st.from_regex(r"(\.[0-9]{1,20})?", fullmatch=True))
    exp = draw(st.one_of(st.just(""), st.integers(-340, 340).map(lambda e: f"e{e:+d}")))
    return sign + int_part + frac + exp


@given(_float_texts())
@example("1e16")
@example("1e15")
@example("9.99999999999999e307")
@example("1e-307")
@example("1.5e-308")
@example("0.000123456789012345")
@example("1234567890123456")
def test_text_float_layout(text: str) -> None:
    value = float(text)
    col = column(5, name="x")
    if math.isinf(value):
        exc = transcode_error([col], [text_row([text.encode()])])
        assert str(exc).endswith("is not a finite number")
        return
    out, _ = transcode([col], [text_row([text.encode()])], "json")
    assert out == f"[{layout(text)}]".encode()
    # The claim the pure transcoder rests on: the layout is repr of the parsed value.
    assert layout(text) == repr(value)


@given(st.text(alphabet="0123456789.eE+-\n _x", max_size=12))
@example("1.")
@example(".5")
@example("+1")
@example("1\n")
@example("1e5")
@example("1_0")
@example("-.5e3")
@example("")
def test_float_grammar(text: str) -> None:
    # Whatever the path taken, a text is accepted exactly when it matches the grammar.
    raw = text.encode()
    good = re.fullmatch(rb"-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?", raw) is not None
    rows = [text_row([b"1.5"]), text_row([raw]), text_row([b"2"])]
    for kind in (4, 5):
        if good and math.isfinite(float(raw)):
            out, _ = transcode([column(kind)], rows, "json")
            assert out == f"[1.5],[{float(raw)!r}],[2.0]".encode()
        else:
            exc = transcode_error([column(kind, name="x")], rows)
            assert str(exc).startswith("malformed row 1" if not good else "invalid value in row 1")


@given(st.text(alphabet="0123456789-+ _\n", max_size=24))
@example("007")
@example("-0")
@example("+1")
@example("1 ")
@example("1_0")
@example("0" * 5000 + "1")
@example("18446744073709551616")
@example("-9223372036854775809")
def test_int_grammar(text: str) -> None:
    raw = text.encode()
    good = re.fullmatch(rb"-?[0-9]+", raw) is not None
    for col, lo, hi in ((column(8, name="i"), -(1 << 63), (1 << 63) - 1), (C_ULONGLONG, 0, U64)):
        rows = [text_row([b"5"]), text_row([raw])]
        if not good:
            exc = transcode_error([col], rows)
            assert "is not an integer" in str(exc)
            continue
        negative = raw.startswith(b"-")
        value = int(raw.lstrip(b"-").lstrip(b"0") or b"0") * (-1 if negative else 1)
        if lo <= value <= hi:
            assert transcode([col], rows, "json") == (f"[5],[{value}]".encode(), 2)
            assert transcode([col], rows, "psdb")[0].endswith(base64.b64encode(raw) + b'"}')
        else:
            exc = transcode_error([col], rows)
            assert "is out of range for" in str(exc)


@given(st.floats(allow_nan=False, allow_infinity=False))
@example(0.1 + 0.2)
@example(5e-324)
def test_binary_doubles_are_repr(value: float) -> None:
    col = column(5)
    for fmt in FORMATS:
        want = expected(fmt, [[n(value, repr(value).encode())]])
        assert transcode([col], [binary_row([b_double(value)])], fmt, binary=True) == (want, 1)


@given(st.floats(width=32, allow_nan=False, allow_infinity=False))
@example(2.0**-149)
@example(2.0**-126)
@example(2.0**127)
@example(3.4028234663852886e38)
@example(1.1754942106924411e-38)
@example(8388608.0)
@example(9.313225746154785e-10)
def test_binary_floats_are_shortest(value: float) -> None:
    (text,) = format_floats32([value])  # the reference search (exact rationals)
    col = column(4)
    for fmt in FORMATS:
        want = expected(fmt, [[Exp(Raw(text), float(text), text.encode())]])
        assert transcode([col], [binary_row([b_float(value)])], fmt, binary=True) == (want, 1)


@given(st.binary(max_size=40))
def test_latin1_is_mysql_cp1252(raw: bytes) -> None:
    table = bytes(range(256)).decode("cp1252", "replace")
    text = "".join(
        chr(i) if ch == "\ufffd" else ch
        for i, ch in (zip(raw, (table[c] for c in raw), strict=True))
    )
    col = column(253, LATIN1)
    for fmt in FORMATS:
        assert transcode([col], [text_row([raw])], fmt) == (expected(fmt, [[s(text)]]), 1)


def test_truncated_is_truncated_packet() -> None:
    exc = transcode_error([S], [b"\x05ab"])
    assert type(exc) is TruncatedPacket


TEXT_GRAMMARS = {
    "DECIMAL": (246, rb"-?[0-9]+(?:\.[0-9]+)?"),
    "DATE": (10, rb"[0-9]{4}-[0-9]{2}-[0-9]{2}"),
    "DATETIME": (12, rb"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"),
    "TIME": (11, rb"-?[0-9]{2,}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"),
}


@st.composite
def _near_grammar(draw: st.DrawFn, pattern: bytes) -> bytes:
    """Text of the grammar, sometimes with one character replaced, inserted or removed."""
    text = bytearray(draw(st.from_regex(pattern, fullmatch=True)))
    if text and draw(st.booleans()):
        at = draw(st.integers(0, len(text) - 1))
        char = draw(st.sampled_from(b"0123456789-:. \n+eE"))
        how = draw(st.sampled_from(["replace", "insert", "delete"]))
        if how == "replace":
            text[at] = char
        elif how == "insert":
            text.insert(at, char)
        else:
            del text[at]
    return bytes(text)


@pytest.mark.parametrize("name", sorted(TEXT_GRAMMARS))
@given(data=st.data())
def test_checked_text_grammars(name: str, data: st.DataObject) -> None:
    # A column of such texts is accepted exactly when every text matches the grammar
    # (the batch checks and the regex agree), and the first bad one is reported.
    type_, pattern = TEXT_GRAMMARS[name]
    shape = data.draw(_near_grammar(pattern))
    texts = data.draw(st.lists(st.one_of(st.just(shape), _near_grammar(pattern)), max_size=4))
    texts.insert(data.draw(st.integers(0, len(texts))), shape)
    col = column(type_, name="t")
    rows = [text_row([t]) for t in texts]
    bad = [k for k, t in enumerate(texts) if re.fullmatch(pattern, t) is None]
    if not bad:
        exps: list[list[Exp | None]] = [[s(t.decode())] for t in texts]
        assert transcode([col], rows, "json") == (expected("json", exps), len(texts))
    else:
        exc = transcode_error([col], rows, "msgpack")
        assert str(exc).startswith(f"malformed row {bad[0]}: column 0 ('t', ")
