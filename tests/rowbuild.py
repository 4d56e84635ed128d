"""Row builders for tests, written from the protocol description, not from mywire's decoder.

Text rows (COM_QUERY resultsets): each value is a length-encoded string (1 byte below
0xFB; 0xFC + 2 bytes; 0xFD + 3 bytes; 0xFE + 8 bytes, all little-endian), NULL is the
single byte 0xFB.

Binary rows (COM_STMT_EXECUTE resultsets): the header byte 0x00, a NULL bitmap of
``(ncols + 7 + 2) // 8`` bytes where column ``i`` is bit ``i + 2`` (the first two bits
are reserved), then the non-NULL values in column order:

* TINY 1 byte, SHORT/YEAR 2, INT24/LONG 4, LONGLONG 8 (little-endian, two's complement);
* FLOAT 4 bytes and DOUBLE 8 bytes (IEEE 754, little-endian);
* DATE/DATETIME/TIMESTAMP: a length byte 0, 4, 7 or 11, then year (2 bytes), month, day,
  hour, minute, second (1 byte each) and microseconds (4 bytes) as far as the length goes;
* TIME: a length byte 0, 8 or 12, then the sign (1 = negative), days (4 bytes), hours,
  minutes, seconds (1 byte each) and microseconds (4 bytes);
* everything else: a length-encoded string.

:func:`typed_columns` is a hypothesis strategy for random resultsets: columns with, for
each value, the text-row bytes, the binary-row bytes and the Python value each protocol
must decode to (computed here from the drawn value, not by decoding).
"""

from __future__ import annotations

import encodings.cp1252
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from hypothesis import strategies as st

from mywire.events import ColumnDefinition

# Collation ids used by the tests.
BINARY = 63
UTF8MB4 = 45  # utf8mb4_general_ci
UTF8MB3 = 33  # utf8mb3_general_ci
LATIN1 = 8  # latin1_swedish_ci
CP1250 = 26  # cp1250_general_ci
ASCII = 11  # ascii_general_ci

UNSIGNED = 0x20
ENUM_FLAG = 0x100
SET_FLAG = 0x800

NULL = object()  # a binary cell that is NULL (set in the bitmap)


def lenenc_int(n: int) -> bytes:
    if n < 0xFB:
        return bytes([n])
    if n < 1 << 16:
        return b"\xfc" + n.to_bytes(2, "little")
    if n < 1 << 24:
        return b"\xfd" + n.to_bytes(3, "little")
    return b"\xfe" + n.to_bytes(8, "little")


def lenenc(value: bytes) -> bytes:
    return lenenc_int(len(value)) + value


def text_row(values: Sequence[bytes | None]) -> bytes:
    """A text-protocol row: each value length-encoded, None as 0xFB."""
    return b"".join(b"\xfb" if v is None else lenenc(v) for v in values)


def null_bitmap(nulls: Sequence[bool]) -> bytes:
    bits = bytearray((len(nulls) + 9) // 8)
    for i, is_null in enumerate(nulls):
        if is_null:
            bits[(i + 2) // 8] |= 1 << ((i + 2) % 8)
    return bytes(bits)


def binary_row(cells: Sequence[bytes | None]) -> bytes:
    """A binary-protocol row from already-encoded cells; None cells go in the bitmap."""
    return (
        b"\x00"
        + null_bitmap([c is None for c in cells])
        + b"".join(c for c in cells if c is not None)
    )


def b_int(value: int, width: int) -> bytes:
    return (value % (1 << (8 * width))).to_bytes(width, "little")


def b_float(value: float) -> bytes:
    return struct.pack("<f", value)


def b_double(value: float) -> bytes:
    return struct.pack("<d", value)


def b_date(
    y: int = 0,
    mo: int = 0,
    d: int = 0,
    h: int = 0,
    mi: int = 0,
    s: int = 0,
    us: int = 0,
    *,
    length: int | None = None,
) -> bytes:
    """A binary DATE/DATETIME; ``length`` defaults to the shortest MySQL would send."""
    if length is None:
        length = 11 if us else 7 if (h or mi or s) else 4 if (y or mo or d) else 0
    body = struct.pack("<HBBBBBI", y, mo, d, h, mi, s, us)
    return bytes([length]) + body[:length]


def b_time(
    negative: bool = False,
    days: int = 0,
    h: int = 0,
    mi: int = 0,
    s: int = 0,
    us: int = 0,
    *,
    length: int | None = None,
) -> bytes:
    """A binary TIME; ``length`` defaults to the shortest MySQL would send."""
    if length is None:
        length = 12 if us else 8 if (days or h or mi or s or negative) else 0
    body = struct.pack("<BIBBBI", 1 if negative else 0, days, h, mi, s, us)
    return bytes([length]) + body[:length]


def column(
    type: int,
    charset: int = BINARY,
    *,
    name: str = "c",
    flags: int = 0,
    decimals: int = 0,
    extended_type: str | None = None,
) -> ColumnDefinition:
    return ColumnDefinition(
        name=name,
        character_set=charset,
        type=type,
        flags=flags,
        decimals=decimals,
        extended_type=extended_type,
    )


# MySQL's latin1, written out independently of mywire: cp1252 plus the five bytes it
# leaves undefined, which MySQL maps to the C1 controls of the same code.
MYSQL_LATIN1 = "".join(
    chr(i) if ch == "\ufffe" else ch for i, ch in enumerate(encodings.cp1252.decoding_table)
)


def latin1_text(raw: bytes) -> str:
    return "".join(MYSQL_LATIN1[b] for b in raw)


def same(a: object, b: object) -> bool:
    """Equal values of the same type; floats by bits, Decimals by their text."""
    if type(a) is not type(b):
        return False
    if isinstance(a, tuple | list):
        assert isinstance(b, tuple | list)
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        assert isinstance(b, float)
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, Decimal):
        return str(a) == str(b)
    return a == b


# ------------------------------------------------------------------------ hypothesis


@dataclass(frozen=True)
class Cell:
    """One value: its wire bytes and decoded value, per protocol (None: NULL)."""

    text: bytes | None
    text_value: object
    binary: bytes | None
    binary_value: object


def _same(text: bytes, binary: bytes, value: object) -> Cell:
    return Cell(text, value, binary, value)


def _int_cells(width: int, bits: int, signed: bool) -> st.SearchStrategy[Cell]:
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    return st.integers(lo, hi).map(lambda v: _same(str(v).encode(), b_int(v, width), v))


def _float_cell(v: float) -> Cell:
    # Binary: the float32 widened exactly.  Text: the server's short text form (here
    # Python's repr of the float32 value rounded to 6 significant digits), read by float().
    text = f"{v:.6g}"
    return Cell(text.encode(), float(text), b_float(v), v)


def _decimal_text(draw: st.DrawFn) -> str:
    int_part = draw(st.from_regex(r"[0-9]{1,35}", fullmatch=True))
    frac = draw(st.from_regex(r"[0-9]{0,30}", fullmatch=True))
    sign = draw(st.sampled_from(["", "-"]))
    return sign + int_part + ("." + frac if frac else "")


def _frac_text(us: int, decimals: int) -> str:
    if 1 <= decimals <= 6:
        return "." + f"{us:06d}"[:decimals]
    return f".{us:06d}" if us else ""


def _round_us(us: int, decimals: int) -> int:
    """Microseconds a column of ``decimals`` digits can hold (0 and 31: 0 / any)."""
    if decimals == 31:
        return us
    if decimals == 0 or decimals > 6:
        return 0
    step = int(10 ** (6 - decimals))
    return us // step * step


@st.composite
def _datetime_cell(draw: st.DrawFn, decimals: int) -> Cell:
    if draw(st.integers(0, 9)) == 0:
        text = "0000-00-00 00:00:00" + _frac_text(0, decimals)
        return Cell(text.encode(), text, b_date(), text)
    v = draw(st.datetimes(min_value=datetime(1000, 1, 1)))
    v = v.replace(microsecond=_round_us(v.microsecond, decimals))
    text = v.strftime("%Y-%m-%d %H:%M:%S") + _frac_text(v.microsecond, decimals)
    cell = b_date(v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond)
    return Cell(text.encode(), v, cell, v)


@st.composite
def _date_cell(draw: st.DrawFn) -> Cell:
    if draw(st.integers(0, 9)) == 0:
        y, mo, d = draw(st.sampled_from([(0, 0, 0), (2016, 0, 0), (2016, 2, 0), (0, 1, 1)]))
        text = f"{y:04d}-{mo:02d}-{d:02d}"
        return Cell(text.encode(), text, b_date(y, mo, d), text)
    v = draw(st.dates(min_value=date(1000, 1, 1)))
    return Cell(v.isoformat().encode(), v, b_date(v.year, v.month, v.day), v)


@st.composite
def _time_cell(draw: st.DrawFn, decimals: int) -> Cell:
    negative = draw(st.booleans())
    hours = draw(st.integers(0, 838))
    mi = draw(st.integers(0, 59))
    s = draw(st.integers(0, 59))
    us = _round_us(draw(st.integers(0, 999_999)), decimals)
    if hours == 838 and mi == 59 and s == 59:
        us = 0
    magnitude = timedelta(hours=hours, minutes=mi, seconds=s, microseconds=us)
    negative = negative and bool(magnitude)
    text = ("-" if negative else "") + f"{hours:02d}:{mi:02d}:{s:02d}" + _frac_text(us, decimals)
    cell = b_time(negative, hours // 24, hours % 24, mi, s, us)
    value = -magnitude if negative else magnitude
    return Cell(text.encode(), value, cell, value)


@st.composite
def _decimal_cell(draw: st.DrawFn) -> Cell:
    text = _decimal_text(draw)
    return _same(text.encode(), lenenc(text.encode()), Decimal(text))


def _bytes_cell(raw: bytes, value: object) -> Cell:
    return _same(raw, lenenc(raw), value)


_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)


def _int_kind(
    t: int, width: int, bits: int, signed: bool
) -> tuple[Callable[[int], ColumnDefinition], Callable[[int], st.SearchStrategy[Cell]]]:
    flags = 0 if signed else UNSIGNED
    return (lambda d: column(t, flags=flags), lambda d: _int_cells(width, bits, signed))


def _column_kinds() -> list[
    tuple[Callable[[int], ColumnDefinition], Callable[[int], st.SearchStrategy[Cell]]]
]:
    """(column maker taking decimals, cell strategy taking decimals) per column family."""
    ints = [(1, 1, 8), (2, 2, 16), (9, 4, 24), (3, 4, 32), (8, 8, 64), (13, 2, 16)]
    kinds: list[
        tuple[Callable[[int], ColumnDefinition], Callable[[int], st.SearchStrategy[Cell]]]
    ] = []
    for t, width, bits in ints:
        for signed in (True, False):
            if t == 13 and signed:
                continue
            kinds.append(_int_kind(t, width, bits, signed))
    kinds += [
        (
            lambda d: column(4),
            lambda d: st.floats(width=32, allow_nan=False, allow_infinity=False).map(_float_cell),
        ),
        (
            lambda d: column(5),
            lambda d: st.floats(allow_nan=False, allow_infinity=False).map(
                lambda v: _same(repr(v).encode(), b_double(v), v)
            ),
        ),
        (lambda d: column(246, decimals=d), lambda d: _decimal_cell()),
        (lambda d: column(10), lambda d: _date_cell()),
        (lambda d: column(12, decimals=d), lambda d: _datetime_cell(d)),
        (lambda d: column(7, decimals=d), lambda d: _datetime_cell(d)),
        (lambda d: column(11, decimals=d), lambda d: _time_cell(d)),
        (
            lambda d: column(16),
            lambda d: st.integers(0, (1 << 64) - 1).map(
                lambda v: _bytes_cell(v.to_bytes(8, "big"), v)
            ),
        ),
        (
            lambda d: column(253, UTF8MB4),
            lambda d: _TEXT.map(lambda s: _bytes_cell(s.encode(), s)),
        ),
        (
            lambda d: column(254, UTF8MB3, flags=ENUM_FLAG),
            lambda d: _TEXT.map(lambda s: _bytes_cell(s.encode(), s)),
        ),
        (
            lambda d: column(252, LATIN1),
            lambda d: st.binary(max_size=40).map(lambda b: _bytes_cell(b, latin1_text(b))),
        ),
        (
            lambda d: column(253, CP1250),
            lambda d: st.binary(max_size=40).map(
                lambda b: _bytes_cell(b, b.decode("cp1250", "surrogateescape"))
            ),
        ),
        (lambda d: column(252), lambda d: st.binary(max_size=300).map(lambda b: _bytes_cell(b, b))),
        (
            lambda d: column(245),
            lambda d: _TEXT.map(
                lambda s: _bytes_cell(f'{{"k": "{s}"}}'.encode(), f'{{"k": "{s}"}}')
            ),
        ),
        (lambda d: column(255), lambda d: st.binary(max_size=60).map(lambda b: _bytes_cell(b, b))),
        (
            lambda d: column(242, UTF8MB4),
            lambda d: st.binary(max_size=60).map(lambda b: _bytes_cell(b, b)),
        ),
        (lambda d: column(6), lambda d: st.just(Cell(None, None, None, None))),
    ]
    return kinds


_KINDS = _column_kinds()


@dataclass(frozen=True)
class Resultset:
    columns: tuple[ColumnDefinition, ...]
    cells: tuple[tuple[Cell, ...], ...]

    def text_payloads(self) -> list[bytes]:
        return [text_row([c.text for c in row]) for row in self.cells]

    def binary_payloads(self) -> list[bytes]:
        return [binary_row([c.binary for c in row]) for row in self.cells]

    def text_values(self) -> list[tuple[object, ...]]:
        return [tuple(c.text_value for c in row) for row in self.cells]

    def binary_values(self) -> list[tuple[object, ...]]:
        return [tuple(c.binary_value for c in row) for row in self.cells]


_NULL_CELL = Cell(None, None, None, None)


@st.composite
def typed_resultsets(draw: st.DrawFn, *, max_columns: int = 12, max_rows: int = 6) -> Resultset:
    """Random columns of every family and rows of values (some NULL) for them."""
    picks = draw(
        st.lists(
            st.tuples(
                st.sampled_from(range(len(_KINDS))), st.sampled_from([0, 1, 2, 3, 4, 5, 6, 31])
            ),
            max_size=max_columns,
        )
    )
    columns = tuple(_KINDS[k][0](d) for k, d in picks)
    nrows = draw(st.integers(0, max_rows))
    rows = []
    for _ in range(nrows):
        row = []
        for k, d in picks:
            if draw(st.integers(0, 5)) == 0:
                row.append(_NULL_CELL)
            else:
                row.append(draw(_KINDS[k][1](d)))
        rows.append(tuple(row))
    return Resultset(columns, tuple(rows))
