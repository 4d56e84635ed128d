"""Row decoding shared by both backends: column kinds, the finishing pass, error texts.

Theory of operation
-------------------
A resultset's columns are reduced once (:func:`spec_for`, cached per columns tuple) to a
:class:`RowSpec`: one *kind* per column, computed from its type, UNSIGNED flag, charset
and MariaDB extended type, plus the binary width of integer columns and the column's
``decimals``.  The kind says how a value is read and what *raw* value it becomes:

============  ==================================================  ======================
kind          columns                                             raw value
============  ==================================================  ======================
K_BYTES       binary charset, GEOMETRY, VECTOR, unknown codes      bytes
K_UTF8        text in utf8/utf8mb3/utf8mb4, JSON (any charset)     str (surrogateescape)
K_TEXT        text in any other charset with a Python codec        bytes (decoded later)
K_SINT/K_UINT TINY SHORT INT24 LONG LONGLONG YEAR                  int
K_FLOAT       FLOAT                                                float
K_DOUBLE      DOUBLE                                               float
K_DECIMAL     DECIMAL NEWDECIMAL                                   str (validated)
K_DATE        DATE                                                 str, MySQL's text form
K_DATETIME    DATETIME TIMESTAMP                                   str, MySQL's text form
K_TIME        TIME                                                 str, MySQL's text form
K_BIT         BIT                                                  int (big-endian)
K_NULL        the NULL type (6)                                    None (binary rows)
============  ==================================================  ======================

Raw values are exactly what msgpack can carry, so the C decoder writes them as one
msgpack document and the pure decoder builds the same values directly.  Both then run
:func:`finish_rows`, which converts the columns whose raw value is not final (DECIMAL →
``Decimal``, DATE/DATETIME/TIME → ``date``/``datetime``/``timedelta`` or the text kept as
``str``, K_TEXT bytes → ``str`` through the charset's codec).  Because that pass and every
error constructor live here, the two backends cannot disagree on them.

Decisions (the README's type table states them for users)
    * Binary temporal values are formatted to MySQL's text form: ``YYYY-MM-DD``,
      ``YYYY-MM-DD hh:mm:ss`` and ``[-]hh:mm:ss`` (at least two hour digits; hours =
      days*24 + hours, the sign applies to the whole value).  Fractional seconds: a
      column with ``decimals`` 1..6 gets exactly that many digits (zeros included); a
      column with any other ``decimals`` (0, 0x1f = not fixed, or an illegal value) gets
      none when the microseconds are 0 and six digits otherwise.  Digits are never
      dropped: microseconds that need more digits than the column declares are written
      with six (and a microsecond field above 999999 is written whole, which the
      finishing pass then keeps as ``str``).  Length 0 is the zero value
      (``0000-00-00``, ``0000-00-00 00:00:00``, ``00:00:00``).  A DATE column reads the
      date part of a 7- or 11-byte value and ignores the time part, as libmysqlclient
      does.
    * Zero, partial and out-of-range temporal values stay ``str``: a DATE/DATETIME whose
      fields :mod:`datetime` rejects, a TIME whose minutes or seconds exceed 59 or whose
      whole seconds exceed 838:59:59 (MariaDB's TIME(6) reaches 838:59:59.999999, which
      is accepted).
    * FLOAT: binary rows widen the float32 exactly (1.1 arrives as 1.100000023841858);
      text rows parse the server's text like ``float()`` does ("1.1" gives 1.1).
    * Text-row numbers are checked, not trusted: integers are ``-?[0-9]+`` within the
      signed or (UNSIGNED flag) unsigned 64-bit range; floats are
      ``-?[0-9]+(.[0-9]+)?([eE][-+]?[0-9]+)?`` of at most 400 characters (DOUBLE(255,30)
      is 257); decimals are ``-?[0-9]+(.[0-9]+)?``; DATE ``YYYY-MM-DD``, DATETIME
      ``YYYY-MM-DD hh:mm:ss[.f{1,6}]``, TIME ``[-]h{2,}:mm:ss[.f{1,6}]`` (digits only
      checked for shape; ranges decide between a ``datetime`` value and ``str``).
    * BIT values longer than 8 bytes are malformed (BIT(M) has M <= 64).
    * The NULL type (6) carries no bytes in binary rows (libmysqlclient and Connector/C
      give it pack length 0); in text rows its value is a length-encoded string (always
      0xFB from real servers) read as bytes.
    * The NULL bitmap's two reserved bits and its padding bits are ignored.
    * MySQL's ``latin1`` is cp1252 with 0x81, 0x8D, 0x8F, 0x90 and 0x9D mapped to
      U+0081.. (Python's cp1252 rejects them); other charsets use Python's codec with
      ``surrogateescape``, so undecodable bytes survive a round trip.
"""

from __future__ import annotations

import codecs
import encodings.cp1252
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from operator import methodcaller
from typing import Any

from .constants.charset import COLLATIONS
from .constants.column_flag import ColumnFlag
from .constants.field_type import FieldType
from .errors import MalformedPacket, TruncatedPacket
from .events import ColumnDefinition

__all__ = [
    "RowSpec",
    "check_spans",
    "decode_latin1",
    "finish_rows",
    "format_date",
    "format_datetime",
    "format_time",
    "row_error",
    "spec_for",
]

# Column kinds: mirrored by the MW_K_* enum in csrc/mywire_api.h (checked by _crows).
K_BYTES = 1
K_UTF8 = 2
K_TEXT = 3
K_SINT = 4
K_UINT = 5
K_FLOAT = 6
K_DOUBLE = 7
K_DECIMAL = 8
K_DATE = 9
K_DATETIME = 10
K_TIME = 11
K_BIT = 12
K_NULL = 13

# Row statuses: mirrored by the MW_ROWS_FULL / MW_E_ROW_* enum in csrc/mywire_api.h.
E_TRUNCATED = 21  # a = bytes left from offset, b = bytes needed from offset
E_TRUNCATED_BODY = 22  # a = declared length, b = bytes left after the length prefix
E_BAD_PREFIX = 23  # a = the prefix byte (0xFF; 0xFB in binary rows)
E_HEADER = 24  # a = the binary row's first byte
E_TRAILING = 25  # a = bytes left after the last column
E_TEMPORAL = 26  # a = the length byte
E_VALUE = 27  # text at offset (a bytes) does not fit the column's grammar
E_RANGE = 28  # integer text at offset (a bytes) outside the 64-bit range
E_SPAN = 29  # row span (offset, a) outside the b-byte buffer

# ``column`` values that are not a column index.
WHERE_HEADER = -1
WHERE_BITMAP = -2
WHERE_END = -3

# The longest FLOAT/DOUBLE text accepted (C parses it from a stack buffer of this size).
MAX_FLOAT_TEXT = 400
# The longest BIT value (BIT(64)).
MAX_BIT_BYTES = 8

_TEXT_TYPES = frozenset(
    {
        FieldType.MYSQL_TYPE_VARCHAR,
        FieldType.MYSQL_TYPE_ENUM,
        FieldType.MYSQL_TYPE_SET,
        FieldType.MYSQL_TYPE_TINY_BLOB,
        FieldType.MYSQL_TYPE_MEDIUM_BLOB,
        FieldType.MYSQL_TYPE_LONG_BLOB,
        FieldType.MYSQL_TYPE_BLOB,
        FieldType.MYSQL_TYPE_VAR_STRING,
        FieldType.MYSQL_TYPE_STRING,
    }
)
# Integer types and their width in binary rows (YEAR: 2 bytes, PROTOCOL_NOTES #19).
_INT_WIDTHS: dict[int, int] = {
    FieldType.MYSQL_TYPE_TINY: 1,
    FieldType.MYSQL_TYPE_SHORT: 2,
    FieldType.MYSQL_TYPE_YEAR: 2,
    FieldType.MYSQL_TYPE_INT24: 4,
    FieldType.MYSQL_TYPE_LONG: 4,
    FieldType.MYSQL_TYPE_LONGLONG: 8,
}
_FIXED_KINDS: dict[int, int] = {
    FieldType.MYSQL_TYPE_DECIMAL: K_DECIMAL,
    FieldType.MYSQL_TYPE_NEWDECIMAL: K_DECIMAL,
    FieldType.MYSQL_TYPE_FLOAT: K_FLOAT,
    FieldType.MYSQL_TYPE_DOUBLE: K_DOUBLE,
    FieldType.MYSQL_TYPE_NULL: K_NULL,
    FieldType.MYSQL_TYPE_DATE: K_DATE,
    FieldType.MYSQL_TYPE_DATETIME: K_DATETIME,
    FieldType.MYSQL_TYPE_TIMESTAMP: K_DATETIME,
    FieldType.MYSQL_TYPE_TIME: K_TIME,
    FieldType.MYSQL_TYPE_BIT: K_BIT,
    FieldType.MYSQL_TYPE_JSON: K_UTF8,
}

# Worst-case msgpack bytes a value adds beyond its wire bytes (sizes the C output buffer;
# an underestimate only costs another C call).  Binary temporals are the widest: a 1-byte
# zero DATETIME becomes 27 bytes, a 12-byte TIME up to 36.
_EXTRA = {K_DATE: 40, K_DATETIME: 40, K_TIME: 40, K_FLOAT: 8, K_DOUBLE: 8}
_EXTRA_DEFAULT = 8


# ------------------------------------------------------------------------ charsets


def _mysql_latin1_table() -> str:
    table = encodings.cp1252.decoding_table
    return "".join(chr(i) if ch == "\ufffe" else ch for i, ch in enumerate(table))


_LATIN1_TABLE = _mysql_latin1_table()


def decode_latin1(value: bytes) -> str:
    """Decode MySQL's ``latin1``: cp1252 whose five undefined bytes map to U+0081...

    Every byte maps to a character, so this never fails.
    """
    return codecs.charmap_decode(value, "strict", _LATIN1_TABLE)[0]


def _codec_kind(charset: int) -> tuple[int, Callable[[bytes], str] | None]:
    found = COLLATIONS.get(charset)
    if found is None or found.codec is None:
        return K_BYTES, None
    if found.charset in ("utf8", "utf8mb3", "utf8mb4"):
        return K_UTF8, None
    if found.charset == "latin1":
        return K_TEXT, decode_latin1
    decoder: Callable[[bytes], str] = methodcaller("decode", found.codec, "surrogateescape")
    return K_TEXT, decoder


# ------------------------------------------------------------------------ the spec


@dataclass(frozen=True, slots=True, eq=False)
class RowSpec:
    """What both decoders need to know about a resultset's columns (see module doc)."""

    columns: tuple[ColumnDefinition, ...]
    kinds: tuple[int, ...]
    #: Bytes of an integer column in binary rows, 0 for other kinds.
    widths: tuple[int, ...]
    #: The column's ``decimals`` clamped to a byte (fractional digits of temporals).
    decimals: tuple[int, ...]
    #: (column index, non-None raw value -> final value) for the columns the finishing
    #: pass changes, for binary rows.
    converters: tuple[tuple[int, Callable[[Any], object]], ...]
    #: The same for text rows, whose temporal text the decoder has already checked.
    text_converters: tuple[tuple[int, Callable[[Any], object]], ...]
    #: Upper bound of msgpack bytes a row adds beyond its wire bytes.
    extra_per_row: int


def column_kind(column: ColumnDefinition) -> tuple[int, Callable[[bytes], str] | None]:
    """The kind of one column and, for K_TEXT, the decoder of its charset."""
    t = column.type
    if t in _INT_WIDTHS:
        return (K_UINT if column.flags & ColumnFlag.UNSIGNED_FLAG else K_SINT), None
    if t in _FIXED_KINDS:
        return _FIXED_KINDS[t], None
    if t in _TEXT_TYPES:
        if column.extended_type == "json":
            return K_UTF8, None
        return _codec_kind(column.character_set)
    return K_BYTES, None


@lru_cache(maxsize=256)
def spec_for(columns: tuple[ColumnDefinition, ...]) -> RowSpec:
    """Compute (once per columns tuple) the :class:`RowSpec` of a resultset."""
    kinds: list[int] = []
    converters: list[tuple[int, Callable[[Any], object]]] = []
    text_converters: list[tuple[int, Callable[[Any], object]]] = []
    extra = 5
    for i, column in enumerate(columns):
        kind, decoder = column_kind(column)
        kinds.append(kind)
        extra += _EXTRA.get(kind, _EXTRA_DEFAULT)
        finish = _FINISHERS.get(kind)
        if kind == K_TEXT:
            assert decoder is not None
            converters.append((i, decoder))
            text_converters.append((i, decoder))
        elif finish is not None:
            converters.append((i, finish))
            text_converters.append((i, _TEXT_FINISHERS.get(kind, finish)))
    return RowSpec(
        columns=columns,
        kinds=tuple(kinds),
        widths=tuple(
            _INT_WIDTHS.get(c.type, 0) if k in (K_SINT, K_UINT) else 0
            for c, k in zip(columns, kinds, strict=True)
        ),
        decimals=tuple(min(max(c.decimals, 0), 255) for c in columns),
        converters=tuple(converters),
        text_converters=tuple(text_converters),
        extra_per_row=extra,
    )


# ------------------------------------------------------------------------ binary temporals


def _frac(us: int, decimals: int) -> str:
    if us >= 1_000_000:
        return f".{us}"
    if 1 <= decimals <= 6:
        digits = f"{us:06d}"
        if us % 10 ** (6 - decimals) == 0:
            return "." + digits[:decimals]
        return "." + digits
    return f".{us:06d}" if us else ""


def format_date(year: int, month: int, day: int) -> str:
    """MySQL's text form of a binary DATE (the C formatter's twin)."""
    return f"{year:04d}-{month:02d}-{day:02d}"


def format_datetime(
    year: int,
    month: int,
    day: int,
    hour: int,
    minute: int,
    second: int,
    us: int,
    decimals: int,
) -> str:
    """MySQL's text form of a binary DATETIME/TIMESTAMP."""
    return f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d}" + _frac(
        us, decimals
    )


def format_time(
    negative: bool, hours: int, minute: int, second: int, us: int, decimals: int
) -> str:
    """MySQL's text form of a binary TIME (``hours`` = days*24 + hours)."""
    sign = "-" if negative else ""
    return f"{sign}{hours:02d}:{minute:02d}:{second:02d}" + _frac(us, decimals)


# ------------------------------------------------------------------------ finishing pass
#
# The finishers take a non-None raw value.  DATE and DATETIME first try the C-speed
# ``fromisoformat``, but only on text of exactly MySQL's shape (4-digit year, 2-digit
# fields, at most 6 fractional digits, hour not 24): on anything else ``fromisoformat``
# accepts more than we do (other ISO 8601 forms, longer fractions it truncates, and on
# newer Pythons hour 24).  When it raises, or the shape is different, the exact path
# (regex, then the constructor) decides between a value and the text.

_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?"
)
_TIME = re.compile(r"(-?)([0-9]{2,}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?")
_TIME_MAX_SECONDS = 838 * 3600 + 59 * 60 + 59
_date_fromiso = date.fromisoformat
_datetime_fromiso = datetime.fromisoformat


def _micro(frac: str | None) -> int:
    return int(frac.ljust(6, "0")) if frac else 0


def finish_date(text: str) -> date | str:
    """DATE text → ``date``; zero, partial or invalid dates stay ``str``."""
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        try:
            return _date_fromiso(text)
        except ValueError:
            pass
    return date_exact(text)


def date_exact(text: str) -> date | str:
    """The reference DATE finisher (regex and constructor); the fast paths must agree."""
    m = _DATE.fullmatch(text)
    if m is None:
        return text
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return text


def finish_datetime(text: str) -> datetime | str:
    """DATETIME/TIMESTAMP text → ``datetime``; zero/partial/invalid values stay ``str``."""
    n = len(text)
    if (
        19 <= n <= 26
        and text[4] == "-"
        and text[7] == "-"
        and text[10] == " "
        and text[13] == ":"
        and text[16] == ":"
        and (n == 19 or text[19] == ".")
        and text[11:13] != "24"
    ):
        try:
            return _datetime_fromiso(text)
        except ValueError:
            pass
    return datetime_exact(text)


def datetime_exact(text: str) -> datetime | str:
    """The reference DATETIME finisher (regex and constructor); the fast paths agree."""
    m = _DATETIME.fullmatch(text)
    if m is None:
        return text
    y, mo, d, h, mi, s, frac = m.groups()
    try:
        return datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), _micro(frac))
    except ValueError:
        return text


def finish_date_text(text: str) -> date | str:
    """:func:`finish_date` for text the decoder checked to be exactly ``YYYY-MM-DD``."""
    try:
        return _date_fromiso(text)
    except ValueError:
        return text


def finish_datetime_text(text: str) -> datetime | str:
    """:func:`finish_datetime` for text the decoder checked to be exactly MySQL's shape
    (so only hour 24, which newer Pythons' ``fromisoformat`` accepts, needs a look)."""
    if text[11:13] != "24":
        try:
            return _datetime_fromiso(text)
        except ValueError:
            pass
    return datetime_exact(text)


def finish_time(text: str) -> timedelta | str:
    """TIME text → ``timedelta`` (sign on the whole value); out of range stays ``str``."""
    m = _TIME.fullmatch(text)
    if m is None:
        return text
    sign, h, mi, s, frac = m.groups()
    minutes, seconds = int(mi), int(s)
    if minutes > 59 or seconds > 59:
        return text
    total = int(h) * 3600 + minutes * 60 + seconds
    if total > _TIME_MAX_SECONDS:
        return text
    value = timedelta(seconds=total, microseconds=_micro(frac) if frac else 0)
    return -value if sign else value


_FINISHERS: dict[int, Callable[[Any], object]] = {
    K_DECIMAL: Decimal,  # the text was checked by the decoder: Decimal() cannot fail
    K_DATE: finish_date,
    K_DATETIME: finish_datetime,
    K_TIME: finish_time,
}


_TEXT_FINISHERS: dict[int, Callable[[Any], object]] = {
    K_DATE: finish_date_text,
    K_DATETIME: finish_datetime_text,
}


def finish_rows(spec: RowSpec, rows: list[Any], binary: bool) -> list[tuple[object, ...]]:
    """Turn raw rows into final rows (both backends call this on their raw output).

    ``rows`` holds tuples when the spec has no converters (returned as they are), else
    lists, which are converted in place column by column and then made tuples: fewer
    temporary objects than transposing (which costs more in GC than it saves).
    """
    if not spec.converters:
        return rows
    for i, fn in spec.converters if binary else spec.text_converters:
        for row in rows:
            v = row[i]
            if v is not None:
                row[i] = fn(v)
    return list(map(tuple, rows))


# ------------------------------------------------------------------------ errors


def _type_name(t: int) -> str:
    try:
        return FieldType(t).name.removeprefix("MYSQL_TYPE_")
    except ValueError:
        return f"type {t}"


def _where(spec: RowSpec, column: int) -> str:
    if column == WHERE_HEADER:
        return "the binary row header"
    if column == WHERE_BITMAP:
        return "the NULL bitmap"
    c = spec.columns[column]
    return f"column {column} ({c.name!r}, {_type_name(c.type)})"


_GRAMMAR = {
    K_SINT: "an integer (optional '-' and ASCII digits)",
    K_UINT: "an integer (optional '-' and ASCII digits)",
    K_FLOAT: f"a decimal floating-point number of at most {MAX_FLOAT_TEXT} characters",
    K_DOUBLE: f"a decimal floating-point number of at most {MAX_FLOAT_TEXT} characters",
    K_DECIMAL: "a decimal number",
    K_DATE: "a date (YYYY-MM-DD)",
    K_DATETIME: "a datetime (YYYY-MM-DD hh:mm:ss[.ffffff])",
    K_TIME: "a time ([-]hh:mm:ss[.ffffff])",
    K_BIT: f"a BIT value of at most {MAX_BIT_BYTES} bytes",
}


def _n(count: int, unit: str = "byte") -> str:
    return f"{count} {unit}" + ("" if count == 1 else "s")


def _show(data: bytes | bytearray | memoryview, offset: int, length: int) -> str:
    shown = bytes(data[offset : offset + min(length, 32)])
    return repr(shown) + ("..." if length > 32 else "")


def row_error(
    spec: RowSpec,
    data: bytes | bytearray | memoryview,
    status: int,
    row: int,
    column: int,
    offset: int,
    a: int,
    b: int,
) -> Exception:
    """The exception for a row status (one constructor for both backends).

    ``column`` is a column index or one of the WHERE_* values; ``offset`` counts from the
    start of ``data``; ``a`` and ``b`` mean what the E_* constants say.
    """
    if status == E_SPAN:
        return ValueError(
            f"span of row {row} (start {offset}, length {a}) lies outside the {b}-byte buffer"
        )
    where = _where(spec, column) if column >= WHERE_BITMAP else ""
    if status == E_TRUNCATED:
        return TruncatedPacket(
            f"truncated row {row}: {where} needs {_n(b)} at offset {offset}, {a} left",
            offset=offset,
            expected=f"{_n(b)} for {where}",
        )
    if status == E_TRUNCATED_BODY:
        return TruncatedPacket(
            f"truncated row {row}: {where} at offset {offset} declares {_n(a)}, "
            f"{b} left after its length",
            offset=offset,
            expected=f"{_n(a)} for {where}",
        )
    if status == E_BAD_PREFIX:
        reason = "0xFB, the NULL marker of text rows" if a == 0xFB else "the invalid prefix 0xFF"
        return MalformedPacket(
            f"malformed row {row}: {where} at offset {offset} starts with {reason}",
            offset=offset,
            expected=f"a length-encoded string for {where}",
        )
    if status == E_HEADER:
        return MalformedPacket(
            f"malformed row {row}: binary row header at offset {offset} is 0x{a:02X}, "
            "expected 0x00",
            offset=offset,
            expected="the binary row header 0x00",
        )
    if status == E_TRAILING:
        return MalformedPacket(
            f"malformed row {row}: {_n(a, 'unexpected byte')} at offset {offset} "
            "after the last column",
            offset=offset,
            expected="end of row",
        )
    if status == E_TEMPORAL:
        allowed = "0, 8 or 12" if spec.kinds[column] == K_TIME else "0, 4, 7 or 11"
        return MalformedPacket(
            f"malformed row {row}: {where} at offset {offset} has length {a}, expected {allowed}",
            offset=offset,
            expected=f"a length of {allowed}",
        )
    if status == E_VALUE:
        grammar = _GRAMMAR[spec.kinds[column]]
        return MalformedPacket(
            f"malformed row {row}: {where} at offset {offset}: {_show(data, offset, a)} "
            f"is not {grammar}",
            offset=offset,
            expected=grammar,
        )
    if status == E_RANGE:
        signed = "an unsigned" if spec.kinds[column] == K_UINT else "a signed"
        return MalformedPacket(
            f"malformed row {row}: {where} at offset {offset}: {_show(data, offset, a)} "
            f"is out of range for {signed} 64-bit integer",
            offset=offset,
            expected=f"{signed} 64-bit integer",
        )
    return RuntimeError(f"mywire row decoder returned status {status}")  # a bug


def check_spans(spec: RowSpec, data: bytes | bytearray | memoryview, spans: Sequence[int]) -> None:
    """Raise the E_SPAN error for the first span outside ``data`` (both backends)."""
    n = memoryview(data).nbytes
    for r in range(len(spans) // 2):
        start, length = spans[2 * r], spans[2 * r + 1]
        if start < 0 or length < 0 or start > n or length > n - start:
            raise row_error(spec, data, E_SPAN, r, WHERE_END, start, length, n)
