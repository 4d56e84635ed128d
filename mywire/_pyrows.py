"""Pure-Python row decoder: the twin of csrc/mw_rows.c.

Each row is decoded into the raw values :mod:`mywire._rowspec` defines (what the C
decoder writes as msgpack), then :func:`mywire._rowspec.finish_rows` makes them final, so
the two backends share every conversion and every error message.  The structure follows
the C code: spans are checked first, then each row is read field by field with every
read bounds-checked against the row's end, and errors report the same status, column,
offset and numbers the C decoder reports.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from typing import Any

from . import _rowspec as R
from .events import ColumnDefinition

__all__ = ["decode_rows"]

_INT = re.compile(rb"-?[0-9]+")
_FLOAT = re.compile(rb"-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_DECIMAL = re.compile(rb"-?[0-9]+(?:\.[0-9]+)?")
_DATE = re.compile(rb"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(rb"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?")
_TIME = re.compile(rb"-?[0-9]{2,}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?")
_TEXT_GRAMMAR = {R.K_DECIMAL: _DECIMAL, R.K_DATE: _DATE, R.K_DATETIME: _DATETIME, R.K_TIME: _TIME}

_S64 = (-(1 << 63), (1 << 63) - 1)
_U64 = (0, (1 << 64) - 1)

_BIN_INT = {
    (1, True): struct.Struct("<b"),
    (1, False): struct.Struct("<B"),
    (2, True): struct.Struct("<h"),
    (2, False): struct.Struct("<H"),
    (4, True): struct.Struct("<i"),
    (4, False): struct.Struct("<I"),
    (8, True): struct.Struct("<q"),
    (8, False): struct.Struct("<Q"),
}
_F32 = struct.Struct("<f")
_F64 = struct.Struct("<d")
_DATE_PARTS = struct.Struct("<HBB")
_TIME_PARTS = struct.Struct("<BBB")
_U32 = struct.Struct("<I")
_TIME_HEAD = struct.Struct("<BIBBB")


class _RowError(Exception):
    """Internal: a status with its details, turned into the public error by the caller."""

    def __init__(self, status: int, column: int, offset: int, a: int, b: int) -> None:
        super().__init__(status)
        self.args_ = (status, column, offset, a, b)


def _lenenc(buf: bytes, pos: int, end: int, column: int, binary: bool) -> tuple[int, int]:
    """(value start, value length) of the length-encoded string at pos, or -1 for NULL."""
    if pos >= end:
        raise _RowError(R.E_TRUNCATED, column, pos, 0, 1)
    first = buf[pos]
    if first < 0xFB:
        width, n = 1, first
    elif first == 0xFB and not binary:
        return -1, 0
    elif first == 0xFB or first == 0xFF:
        raise _RowError(R.E_BAD_PREFIX, column, pos, first, 0)
    else:
        width = 3 if first == 0xFC else 4 if first == 0xFD else 9
        if end - pos < width:
            raise _RowError(R.E_TRUNCATED, column, pos, end - pos, width)
        n = int.from_bytes(buf[pos + 1 : pos + width], "little")
    left = end - pos - width
    if n > left:
        raise _RowError(R.E_TRUNCATED_BODY, column, pos, n, left)
    return pos + width, n


def _text_value(kind: int, buf: bytes, start: int, n: int, column: int) -> object:
    """The raw value of a length-encoded value's content buf[start:start+n]."""
    v = buf[start : start + n]
    if kind == R.K_UTF8:
        return v.decode("utf-8", "surrogateescape")
    if kind in (R.K_BYTES, R.K_TEXT, R.K_NULL):
        return v
    if kind == R.K_SINT or kind == R.K_UINT:
        if _INT.fullmatch(v) is None:
            raise _RowError(R.E_VALUE, column, start, n, 0)
        # Leading zeros are allowed in any number (ZEROFILL); int() refuses texts of over
        # 4300 digits, so drop them first.  Anything still longer than 20 digits is out
        # of range anyway.
        negative = v[:1] == b"-"
        digits = v[negative:].lstrip(b"0")
        if len(digits) > 20:
            raise _RowError(R.E_RANGE, column, start, n, 0)
        value = -int(digits or b"0") if negative else int(digits or b"0")
        lo, hi = _U64 if kind == R.K_UINT else _S64
        if not lo <= value <= hi:
            raise _RowError(R.E_RANGE, column, start, n, 0)
        return value
    if kind == R.K_FLOAT or kind == R.K_DOUBLE:
        if n > R.MAX_FLOAT_TEXT or _FLOAT.fullmatch(v) is None:
            raise _RowError(R.E_VALUE, column, start, n, 0)
        return float(v)
    if kind == R.K_BIT:
        if n > R.MAX_BIT_BYTES:
            raise _RowError(R.E_VALUE, column, start, n, 0)
        return int.from_bytes(v, "big")
    # DECIMAL, and DATE/DATETIME/TIME in text rows.
    if _TEXT_GRAMMAR[kind].fullmatch(v) is None:
        raise _RowError(R.E_VALUE, column, start, n, 0)
    return v.decode("ascii")


def _text_row(spec: R.RowSpec, buf: bytes, pos: int, end: int) -> list[object]:
    values: list[object] = []
    append = values.append
    for i, kind in enumerate(spec.kinds):
        start, n = _lenenc(buf, pos, end, i, False)
        if start < 0:
            append(None)
            pos += 1
            continue
        append(_text_value(kind, buf, start, n, i))
        pos = start + n
    if pos != end:
        raise _RowError(R.E_TRAILING, R.WHERE_END, pos, end - pos, 0)
    return values


def _temporal(
    kind: int, decimals: int, buf: bytes, pos: int, end: int, column: int
) -> tuple[str, int]:
    """(text form, bytes used) of a binary DATE/DATETIME/TIME at pos."""
    if pos >= end:
        raise _RowError(R.E_TRUNCATED, column, pos, 0, 1)
    length = buf[pos]
    allowed = (0, 8, 12) if kind == R.K_TIME else (0, 4, 7, 11)
    if length not in allowed:
        raise _RowError(R.E_TEMPORAL, column, pos, length, 0)
    if end - pos < 1 + length:
        raise _RowError(R.E_TRUNCATED, column, pos, end - pos, 1 + length)
    p = pos + 1
    if kind == R.K_TIME:
        if length == 0:
            return R.format_time(False, 0, 0, 0, 0, decimals), 1
        sign, days, hour, minute, second = _TIME_HEAD.unpack_from(buf, p)
        us = _U32.unpack_from(buf, p + 8)[0] if length == 12 else 0
        text = R.format_time(sign != 0, days * 24 + hour, minute, second, us, decimals)
        return text, 1 + length
    year = month = day = hour = minute = second = us = 0
    if length >= 4:
        year, month, day = _DATE_PARTS.unpack_from(buf, p)
    if kind == R.K_DATE:
        return R.format_date(year, month, day), 1 + length
    if length >= 7:
        hour, minute, second = _TIME_PARTS.unpack_from(buf, p + 4)
    if length == 11:
        us = _U32.unpack_from(buf, p + 7)[0]
    return R.format_datetime(year, month, day, hour, minute, second, us, decimals), 1 + length


def _binary_header(ncols: int, buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """A binary row's 0x00 header and NULL bitmap at pos: (the bitmap with its two
    reserved bits dropped, the position of the first value)."""
    if pos >= end:
        raise _RowError(R.E_TRUNCATED, R.WHERE_HEADER, pos, 0, 1)
    if buf[pos] != 0:
        raise _RowError(R.E_HEADER, R.WHERE_HEADER, pos, buf[pos], 0)
    pos += 1
    nbitmap = (ncols + 9) // 8
    if end - pos < nbitmap:
        raise _RowError(R.E_TRUNCATED, R.WHERE_BITMAP, pos, end - pos, nbitmap)
    return int.from_bytes(buf[pos : pos + nbitmap], "little") >> 2, pos + nbitmap


def _binary_row(spec: R.RowSpec, buf: bytes, pos: int, end: int) -> list[object]:
    bitmap, pos = _binary_header(len(spec.kinds), buf, pos, end)
    values: list[object] = []
    append = values.append
    for i, kind in enumerate(spec.kinds):
        if bitmap >> i & 1 or kind == R.K_NULL:
            append(None)
            continue
        if kind == R.K_SINT or kind == R.K_UINT:
            width = spec.widths[i]
            if end - pos < width:
                raise _RowError(R.E_TRUNCATED, i, pos, end - pos, width)
            append(_BIN_INT[width, kind == R.K_SINT].unpack_from(buf, pos)[0])
            pos += width
        elif kind == R.K_FLOAT or kind == R.K_DOUBLE:
            fmt = _F32 if kind == R.K_FLOAT else _F64
            if end - pos < fmt.size:
                raise _RowError(R.E_TRUNCATED, i, pos, end - pos, fmt.size)
            append(fmt.unpack_from(buf, pos)[0])
            pos += fmt.size
        elif kind == R.K_DATE or kind == R.K_DATETIME or kind == R.K_TIME:
            text, used = _temporal(kind, spec.decimals[i], buf, pos, end, i)
            append(text)
            pos += used
        else:
            start, n = _lenenc(buf, pos, end, i, True)
            append(_text_value(kind, buf, start, n, i))
            pos = start + n
    if pos != end:
        raise _RowError(R.E_TRAILING, R.WHERE_END, pos, end - pos, 0)
    return values


def decode_raw(
    spec: R.RowSpec, data: bytes | bytearray | memoryview, spans: Sequence[int], binary: bool
) -> list[Any]:
    """Raw rows (before the finishing pass: lists if it converts, else tuples); raises
    the shared row errors."""
    R.check_spans(spec, data, spans)
    buf = data if isinstance(data, bytes) else bytes(data)
    row_fn = _binary_row if binary else _text_row
    rows: list[Any] = []
    append = rows.append
    # Rows stay lists when the finishing pass will convert them in place, else tuples.
    wrap = (lambda row: row) if spec.converters else tuple
    r = 0
    try:
        for r in range(len(spans) // 2):
            start = spans[2 * r]
            append(wrap(row_fn(spec, buf, start, start + spans[2 * r + 1])))
    except _RowError as exc:
        status, column, offset, a, b = exc.args_
        raise R.row_error(spec, buf, status, r, column, offset, a, b) from None
    return rows


def decode_rows(
    columns: tuple[ColumnDefinition, ...],
    data: bytes | bytearray | memoryview,
    spans: Sequence[int],
    *,
    binary: bool,
) -> list[tuple[object, ...]]:
    """See :func:`mywire.rows.decode_rows`."""
    spec = R.spec_for(columns)
    return R.finish_rows(spec, decode_raw(spec, data, spans, binary), binary)
