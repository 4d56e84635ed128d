"""Pure-Python row transcoder: the twin of csrc/mw_transcode.c (rules: :mod:`mywire._tcspec`).

Theory of operation
-------------------
:func:`transcode_rows` works on *chunks* of rows (at most :data:`CHUNK` at a time) and
turns each chunk column by column rather than value by value, because in Python the
per-value interpreter overhead, not the work, is the cost.  A chunk goes through:

1. **Structure** (text rows, fast path): every row's read position advances one column
   at a time for all rows together: one ``itemgetter`` call reads the column's length
   bytes of all rows, a ``translate`` turns them into steps (0xFB, NULL, takes one byte),
   one comprehension slices the values.  Only a column holding a long value (0xFC..0xFE
   prefix) in this chunk takes a Python loop over its rows.  The pass ends by checking
   that every row's position landed exactly on its end.
2. **Columns**: each column's non-NULL values are checked and converted in batches, on
   the values joined with ``\\n`` where a check needs the text (no valid value contains
   one; the count of newlines is checked): numbers by ``map(int)`` / ``map(float)`` plus
   character-class counts for what those accept beyond the grammar, fixed-layout
   temporals by strided slices, everything else by the grammar's regex; text by
   ``map(bytes.decode)``; JSON escaping by :func:`json.encoder.encode_basestring` (what
   ``json.dumps(..., ensure_ascii=False)`` calls, so escaping is identical by
   construction).  The result is one *cell* per value: a JSON fragment (json, ndjson),
   a Python value (msgpack) or the text-form bytes (psdb).
3. **Rows**: json/ndjson/psdb join each row's cells with ``,`` and the rows with the
   format's glue (``],[`` for json), in one pass, so verbatim JSON documents and
   DECIMAL-as-number text need no placeholders; per-row sizes are computed only when
   the chunk does not fit the budget.  msgpack packs each row with
   ``msgpack.Packer.pack`` (byte-identical to ``packb`` by construction).

Anything unexpected in steps 1 and 2 (a malformed value, a 0xFF prefix, an integer that
``int()`` refuses) raises the internal ``_Fallback``, and the chunk is redone by the
**exact path**: the row decoder's loop (:mod:`mywire._pyrows`, same order of reads and
checks) extended with the transcoder's checks (E_UTF8, E_JSON, E_NONFINITE), which stops
at the first bad value with the status, column, offset and numbers the C twin reports.
The rows before it are then converted as in step 2.  Binary rows always take the exact
path for their structure (every binary value needs a per-value unpack anyway); their
columns are still converted in batches.

A row's errors are found before its size is compared with the budget: a call raises for
row r only when every row before r fits, and stops (without raising) at the first row
that does not fit.
"""

from __future__ import annotations

import binascii
import json
import math
import re
import struct
import sys
from array import array
from collections import deque
from collections.abc import Callable, Sequence
from functools import partial
from itertools import accumulate, compress, repeat
from json.encoder import encode_basestring
from operator import add, is_not, itemgetter
from typing import Any

import msgpack  # type: ignore[import-untyped]  # no stubs, no py.typed

from . import _rowspec as R
from . import _tcspec as T
from ._pyfloat import format_floats32
from ._pyrows import _binary_header, _lenenc, _RowError, _temporal

__all__ = ["transcode_rows"]

#: Rows converted per batch: large enough that per-batch costs vanish, small enough that
#: a budget cut wastes little work and a chunk's intermediate lists stay small.
CHUNK = 2048

# ------------------------------------------------------------------------ grammars
#
# Batch grammars match a column's non-NULL values joined with b"\n"; the exact path uses
# the single-value ones (the row decoder's, written the same way).

_INT1 = rb"-?[0-9]+"
_FLOAT1 = rb"-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?"
_DECIMAL1 = rb"-?[0-9]+(?:\.[0-9]+)?"
_DATE1 = rb"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_DATETIME1 = rb"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
_TIME1 = rb"-?[0-9]{2,}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"


def _many(one: bytes) -> re.Pattern[bytes]:
    return re.compile(one + rb"(?:\n" + one + rb")*")


_INT = re.compile(_INT1)
_FLOAT = re.compile(_FLOAT1)
_GRAMMAR1 = {
    R.K_DECIMAL: re.compile(_DECIMAL1),
    R.K_DATE: re.compile(_DATE1),
    R.K_DATETIME: re.compile(_DATETIME1),
    R.K_TIME: re.compile(_TIME1),
}
_INTS = _many(_INT1)
_GRAMMARS = {
    R.K_DECIMAL: _many(_DECIMAL1),
    R.K_DATE: _many(_DATE1),
    R.K_DATETIME: _many(_DATETIME1),
    R.K_TIME: _many(_TIME1),
}
# DECIMAL as a JSON number: leading zeros of the integer part dropped, one digit kept.
_LEADING_ZEROS = re.compile(r"^(-?)0+(?=[0-9])", re.MULTILINE)

_U64 = (1 << 64) - 1
_S64_MIN = -(1 << 63)
_S64_MAX = (1 << 63) - 1

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
_U32 = struct.Struct("<I")
_DATE_PARTS = struct.Struct("<HBB")
_TIME_PARTS = struct.Struct("<BBB")
_TIME_HEAD = struct.Struct("<BIBBB")

# Length bytes of text rows (below 0xFB, or 0xFB for NULL): the bytes the value takes
# with its prefix, and the non-NULL mask.
_STEP = bytes(1 if i >= 0xFB else i + 1 for i in range(256))
_NOT_NULL = bytes(0 if i == 0xFB else 1 for i in range(256))
_b64 = partial(binascii.b2a_base64, newline=False)
_isfinite = math.isfinite
_from_big = partial(int.from_bytes, byteorder="big")

_Column = tuple[list[Any], bytes | None]  # values, and the non-NULL mask (None: no NULLs)

_JSON_NULL = "null"
_PSDB_NULL_LENGTH = '"-1"'


class _Fallback(Exception):
    """Internal: the fast path met something it does not handle; redo the chunk exactly."""


# ------------------------------------------------------------------------ JSON documents


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


# parse_int/parse_float = len: the numbers' text is grammar-checked by the scanner either
# way, and int() refuses more than sys.int_max_str_digits digits, which JSON allows.
_json_decode = json.JSONDecoder(
    parse_int=len, parse_float=len, parse_constant=_reject_constant
).decode
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def _json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects (exact for JSON texts; for other text
    at least as deep as any valid prefix, which is all the caller needs)."""
    brackets = _NOT_BRACKETS.sub("", _JSON_STRING.sub("", text))
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0)


def _json_valid(text: str) -> bool:
    """Whether ``text`` is a JSON text (RFC 8259) nested at most MAX_JSON_DEPTH deep."""
    cap = T.MAX_JSON_DEPTH
    if text.count("[") + text.count("{") > cap and _json_depth(text) > cap:
        return False
    try:
        _json_decode(text)
    except ValueError:  # JSONDecodeError, or NaN/Infinity from _reject_constant
        return False
    except RecursionError:
        # The scanner recurses once per level, counted against the interpreter's
        # limit, so a deep caller stack could fail a document the cap allows.
        return _json_valid_iterative(text)
    return True


_JSON_TOKEN = re.compile(
    r"""[ \t\n\r]*(?:
        (?P<s>"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*")
      | (?P<v>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?|true|false|null)
      | (?P<p>[\[\]{}:,])
    )""",
    re.VERBOSE,
)
_JSON_TRAILING_SPACE = re.compile(r"[ \t\n\r]*\Z")


def _json_valid_iterative(text: str) -> bool:
    """RFC 8259 check with an explicit stack (no recursion); depth is checked already."""
    stack: list[str] = []  # "[" or "{" per open container
    expect = "value"  # value | value_or_close | key | key_or_close | colon | comma_or_close
    pos = 0
    n = len(text)
    while True:
        if expect == "end":
            return _JSON_TRAILING_SPACE.match(text, pos) is not None
        m = _JSON_TOKEN.match(text, pos)
        if m is None or pos >= n:
            return False
        pos = m.end()
        if expect in ("value", "value_or_close"):
            if m["p"] == "]" and expect == "value_or_close":
                stack.pop()
            elif m["p"] in ("[", "{"):
                stack.append(m["p"])
                expect = "value_or_close" if m["p"] == "[" else "key_or_close"
                continue
            elif m["p"] is not None:
                return False
        elif expect in ("key", "key_or_close"):
            if m["s"] is not None:
                expect = "colon"
                continue
            if not (m["p"] == "}" and expect == "key_or_close"):
                return False
            stack.pop()
        elif expect == "colon":
            if m["p"] != ":":
                return False
            expect = "value"
            continue
        else:  # comma_or_close
            close = "]" if stack[-1] == "[" else "}"
            if m["p"] == ",":
                expect = "value" if close == "]" else "key"
                continue
            if m["p"] != close:
                return False
            stack.pop()
        # A value (scalar or closed container) is complete.
        expect = "comma_or_close" if stack else "end"


# ------------------------------------------------------------------------ float32 text


def _f32_text(x: float) -> str:
    """Shortest text that reads back as the float32 ``x`` (finite), in repr's layout.

    For p = 1, 2, ... the correctly rounded p-digit decimal ``'%.*g'`` is read as a
    double and compared with the float32's rounding interval, whose ends (midpoints to
    the neighbours) are exact doubles.  Reading a decimal as a double is monotonic, so a
    double strictly inside (or outside) the interval means the decimal is too; a double
    exactly on an end is undecided and goes to the exact rational search, as do powers
    of two, whose interval is lopsided (the other p-digit neighbour may then be the only
    hit).  The nearest p-digit decimal is the one the exact search prefers when both hit
    (closest; ties to even, as '%g' rounds), and <= 9 digits are exactly repr's digits of
    the double they denote (DBL_DIG is 15), so repr lays them out.
    """
    if x == 0.0:
        return repr(x)
    a = abs(x)
    (bits,) = _U32.unpack(_F32.pack(a))
    if bits & 0x7FFFFF == 0:
        return format_floats32([x])[0]
    below = _F32.unpack(_U32.pack(bits - 1))[0]
    low = (a + below) / 2
    high = (
        a + (a - below) / 2 if bits == 0x7F7FFFFF else (a + _F32.unpack(_U32.pack(bits + 1))[0]) / 2
    )
    sign = "-" if x < 0 else ""
    for p in range(1, 10):
        d = float(f"{a:.{p}g}")
        if low < d < high:
            return sign + repr(d)
        if d == low or d == high:
            break
    return format_floats32([x])[0]


# ------------------------------------------------------------------------ exact path


def _int_value(v: bytes, unsigned: bool) -> int | None:
    """The value of checked integer text, or None when outside the 64-bit range (the C
    reader's rule: any number of leading zeros; '-0' is 0 even for unsigned)."""
    negative = v[:1] == b"-"
    digits = v[negative:].lstrip(b"0")
    if len(digits) > 20:
        return None
    mag = int(digits) if digits else 0
    if unsigned:
        return None if (negative and mag) or mag > _U64 else mag
    value = -mag if negative else mag
    return value if _S64_MIN <= value <= _S64_MAX else None


def _check_text(
    kind: int, codec: str | None, v: bytes, start: int, column: int, as_float: bool = False
) -> None:
    """Raise the _RowError of a length-encoded value's content ``v`` (at ``start``)."""
    n = len(v)
    if kind == R.K_UTF8 or kind == T.K_JSON:
        try:
            text = v.decode()
        except UnicodeDecodeError:
            raise _RowError(T.E_UTF8, column, start, n, 0) from None
        if kind == T.K_JSON and not _json_valid(text):
            raise _RowError(T.E_JSON, column, start, n, 0)
    elif kind == R.K_TEXT:
        assert codec is not None
        try:
            v.decode(codec)
        except UnicodeDecodeError:
            raise _RowError(T.E_UTF8, column, start, n, 0) from None
    elif kind == R.K_SINT or kind == R.K_UINT:
        if _INT.fullmatch(v) is None:
            raise _RowError(R.E_VALUE, column, start, n, 0)
        if _int_value(v, kind == R.K_UINT) is None:
            raise _RowError(R.E_RANGE, column, start, n, 0)
    elif kind == R.K_FLOAT or kind == R.K_DOUBLE:
        if n > R.MAX_FLOAT_TEXT or _FLOAT.fullmatch(v) is None:
            raise _RowError(R.E_VALUE, column, start, n, 0)
        if not _isfinite(float(v)):
            raise _RowError(T.E_NONFINITE, column, start, n, 0)
    elif kind == R.K_BIT:
        if n > R.MAX_BIT_BYTES:
            raise _RowError(R.E_VALUE, column, start, n, 0)
    elif kind in _GRAMMAR1:
        if _GRAMMAR1[kind].fullmatch(v) is None:
            raise _RowError(R.E_VALUE, column, start, n, 0)
        # DECIMAL written as a msgpack float: beyond the double range (or longer than any
        # DECIMAL) it has no float 64.
        if as_float and (n > R.MAX_FLOAT_TEXT or not _isfinite(float(v))):
            raise _RowError(T.E_NONFINITE, column, start, n, 0)
    # K_BYTES, K_LATIN1, K_NULL: any bytes.


def _text_row(spec: _Spec, buf: bytes, pos: int, end: int) -> list[object]:
    values: list[object] = []
    append = values.append
    for i, (kind, codec) in enumerate(zip(spec.kinds, spec.codecs, strict=True)):
        start, n = _lenenc(buf, pos, end, i, False)
        if start < 0:
            append(None)
            pos += 1
            continue
        v = buf[start : start + n]
        _check_text(kind, codec, v, start, i, spec.as_float[i])
        append(v)
        pos = start + n
    if pos != end:
        raise _RowError(R.E_TRAILING, R.WHERE_END, pos, end - pos, 0)
    return values


def _binary_row(spec: _Spec, buf: bytes, pos: int, end: int) -> list[object]:
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
            value = fmt.unpack_from(buf, pos)[0]
            if not _isfinite(value):
                raise _RowError(T.E_NONFINITE, i, pos, fmt.size, 0)
            append(value)
            pos += fmt.size
        elif kind == R.K_DATE or kind == R.K_DATETIME or kind == R.K_TIME:
            text, used = _temporal(kind, spec.decimals[i], buf, pos, end, i)
            append(text)
            pos += used
        else:
            start, n = _lenenc(buf, pos, end, i, True)
            v = buf[start : start + n]
            _check_text(kind, spec.codecs[i], v, start, i, spec.as_float[i])
            append(v)
            pos = start + n
    if pos != end:
        raise _RowError(R.E_TRAILING, R.WHERE_END, pos, end - pos, 0)
    return values


def _exact(
    spec: _Spec, buf: bytes, sp: list[int], binary: bool
) -> tuple[list[_Column], int, _RowError | None]:
    """Raw columns of the chunk's rows before the first bad one, how many rows that is,
    and the bad row's error (None when every row is good)."""
    row_fn = _binary_row if binary else _text_row
    rows: list[list[object]] = []
    error: _RowError | None = None
    for k in range(0, len(sp), 2):
        start = sp[k]
        try:
            rows.append(row_fn(spec, buf, start, start + sp[k + 1]))
        except _RowError as exc:
            error = exc
            break
    if rows:
        columns = [_with_mask(list(c)) for c in zip(*rows, strict=True)]
    else:
        columns = [([], None) for _ in spec.kinds]
    return columns, len(rows), error


# ------------------------------------------------------------------------ fast structure


def _long_column(buf: bytes, pos: list[int]) -> tuple[list[int], list[int], bytes | None]:
    """(starts, ends, mask) of one column whose length prefixes include 0xFC..0xFE."""
    starts: list[int] = []
    ends: list[int] = []
    mask = bytearray(b"\x01" * len(pos))
    for k, p in enumerate(pos):
        first = buf[p]
        if first < 0xFB:
            s = p + 1
            e = s + first
        elif first == 0xFB:
            s = e = p + 1
            mask[k] = 0
        elif first == 0xFF:
            raise _Fallback
        else:
            width = 3 if first == 0xFC else 4 if first == 0xFD else 9
            s = p + width
            e = s + int.from_bytes(buf[p + 1 : s], "little")
        starts.append(s)
        ends.append(e)
    return starts, ends, (bytes(mask) if 0 in mask else None)


def _text_columns(ncols: int, buf: bytes, sp: list[int]) -> list[_Column]:
    """The chunk's text-row values column by column (b"" at NULLs), or _Fallback."""
    pos = sp[0::2]
    ends = list(map(add, pos, sp[1::2]))
    single = len(pos) == 1  # itemgetter of one item returns the item, not a tuple
    columns: list[_Column] = []
    try:
        for _ in range(ncols):
            got = itemgetter(*pos)(buf)
            prefixes = bytes([got] if single else got)
            top = max(prefixes)
            mask: bytes | None = None
            if top <= 0xFB:
                nxt = list(map(add, pos, prefixes.translate(_STEP)))
                values = [buf[a + 1 : b] for a, b in zip(pos, nxt, strict=True)]
                if top == 0xFB:
                    mask = prefixes.translate(_NOT_NULL)
            else:
                starts, nxt, mask = _long_column(buf, pos)
                values = [buf[a:b] for a, b in zip(starts, nxt, strict=True)]
            columns.append((values, mask))
            pos = nxt
    except IndexError:  # a position past the buffer: the exact path says where
        raise _Fallback from None
    if pos != ends:
        raise _Fallback
    return columns


def _bytes_at(buf: bytes, positions: list[int]) -> bytes:
    """The byte at each position (IndexError past the buffer)."""
    got = itemgetter(*positions)(buf)
    return bytes([got] if len(positions) == 1 else got)


def _scatter(full: list[Any], mask: bytes | None, values: list[Any]) -> list[Any]:
    """``full`` with its masked-in items replaced by ``values`` (in place)."""
    if mask is None:
        return values
    deque(map(full.__setitem__, compress(range(len(full)), mask), values), maxlen=0)
    return full


# Binary temporal bodies by length: their fields, and the text the row decoder makes.
_TEMPORAL_FIELDS = {
    4: struct.Struct("<HBB"),
    7: struct.Struct("<HBBBBB"),
    11: struct.Struct("<HBBBBBI"),
    8: struct.Struct("<BIBBB"),
    12: struct.Struct("<BIBBBI"),
}
_TEMPORAL_LENGTHS = {R.K_DATE: b"\x00\x04\x07\x0b", R.K_DATETIME: b"\x00\x04\x07\x0b"}
_TEMPORAL_LENGTHS[R.K_TIME] = b"\x00\x08\x0c"


def _temporal_text(kind: int, decimals: int, fields: tuple[int, ...]) -> str:
    if kind == R.K_TIME:
        sign, days, hour, minute, second, us = (*fields, 0, 0, 0, 0, 0, 0)[:6]
        return R.format_time(sign != 0, days * 24 + hour, minute, second, us, decimals)
    year, month, day, hour, minute, second, us = (*fields, 0, 0, 0, 0, 0, 0, 0)[:7]
    if kind == R.K_DATE:
        return R.format_date(year, month, day)
    return R.format_datetime(year, month, day, hour, minute, second, us, decimals)


def _binary_temporals(
    kind: int, decimals: int, buf: bytes, ppos: list[int]
) -> tuple[list[str], list[int]]:
    """(text, bytes used) of the binary temporals at ppos, batched by body length."""
    lengths = _bytes_at(buf, ppos)
    if lengths.translate(None, _TEMPORAL_LENGTHS[kind]):
        raise _Fallback
    texts: list[str] = [""] * len(ppos)
    for length in set(lengths):
        mask = None if lengths.count(length) == len(ppos) else lengths.translate(_IS[length])
        where = ppos if mask is None else list(compress(ppos, mask))
        if length == 0:
            group = [_temporal_text(kind, decimals, ())] * len(where)
        else:
            body = b"".join([buf[p + 1 : p + 1 + length] for p in where])
            fields = _TEMPORAL_FIELDS[length].iter_unpack(body)  # struct.error if short
            group = [_temporal_text(kind, decimals, f) for f in fields]
        texts = _scatter(texts, mask, group)
    return texts, list(map(add, ppos, lengths.translate(_STEP)))


# Per byte value v: 1 where the byte is v (for translate).
_IS = [bytes(int(i == v) for i in range(256)) for v in range(256)]
# Per bit b of a NULL-bitmap byte: 1 where the bit is clear (the value is present).
_BIT_CLEAR = [bytes(0 if i >> bit & 1 else 1 for i in range(256)) for bit in range(8)]
_ARRAY_CODES = {
    (1, True): "b",
    (1, False): "B",
    (2, True): "h",
    (2, False): "H",
    (4, True): "i",
    (4, False): "I",
    (8, True): "q",
    (8, False): "Q",
    (4, None): "f",
    (8, None): "d",
}


def _fixed(code: str, width: int, buf: bytes, ppos: list[int]) -> list[Any]:
    """The little-endian numbers of ``width`` bytes at ppos."""
    body = b"".join([buf[p : p + width] for p in ppos])
    if len(body) != width * len(ppos):
        raise _Fallback  # past the buffer
    values = array(code)
    if values.itemsize != width:
        return [
            struct.unpack("<" + code, body[k : k + width])[0] for k in range(0, len(body), width)
        ]
    values.frombytes(body)
    if sys.byteorder != "little":
        values.byteswap()
    return values.tolist()


def _binary_columns(spec: _Spec, buf: bytes, sp: list[int]) -> list[_Column]:
    """The chunk's binary-row values column by column (None at NULLs), or _Fallback."""
    nrows = len(sp) // 2
    pos = sp[0::2]
    ends = list(map(add, pos, sp[1::2]))
    columns: list[_Column] = []
    try:
        if _bytes_at(buf, pos).count(0) != nrows:
            raise _Fallback  # a header that is not 0x00
        nbitmap = (len(spec.kinds) + 9) // 8
        bitmap = [_bytes_at(buf, [p + 1 + k for p in pos]) for k in range(nbitmap)]
        pos = [p + 1 + nbitmap for p in pos]
        for i, kind in enumerate(spec.kinds):
            if kind == R.K_NULL:
                columns.append(([None] * nrows, bytes(nrows)))
                continue
            present = bitmap[(i + 2) // 8].translate(_BIT_CLEAR[(i + 2) % 8])
            mask = None if present.count(1) == nrows else present
            ppos = pos if mask is None else list(compress(pos, mask))
            if not ppos:
                columns.append(([None] * nrows, mask))
                continue
            values: list[Any]
            if kind == R.K_SINT or kind == R.K_UINT or kind == R.K_FLOAT or kind == R.K_DOUBLE:
                width = spec.widths[i] or (4 if kind == R.K_FLOAT else 8)
                signed = None if kind in (R.K_FLOAT, R.K_DOUBLE) else kind == R.K_SINT
                values = _fixed(_ARRAY_CODES[width, signed], width, buf, ppos)
                nxt = [p + width for p in ppos]
            elif kind == R.K_DATE or kind == R.K_DATETIME or kind == R.K_TIME:
                values, nxt = _binary_temporals(kind, spec.decimals[i], buf, ppos)
            else:
                prefixes = _bytes_at(buf, ppos)
                if max(prefixes) < 0xFB:
                    nxt = list(map(add, ppos, prefixes.translate(_STEP)))
                    values = [buf[a + 1 : b] for a, b in zip(ppos, nxt, strict=True)]
                else:
                    starts, nxt, nulls = _long_column(buf, ppos)
                    if nulls is not None:
                        raise _Fallback  # 0xFB: not a NULL in binary rows
                    values = [buf[a:b] for a, b in zip(starts, nxt, strict=True)]
            columns.append((_scatter([None] * nrows, mask, values), mask))
            pos = _scatter(pos, mask, nxt)
    except (IndexError, struct.error):  # past the buffer: the exact path says where
        raise _Fallback from None
    if pos != ends:
        raise _Fallback
    return columns


def _with_mask(values: list[Any]) -> _Column:
    """A column with None at NULLs as (values, mask)."""
    if None not in values:
        return values, None
    return values, bytes(map(is_not, values, repeat(None)))


# ------------------------------------------------------------------------ column cells
#
# A converter takes a column's non-NULL raw values (text rows: the bytes as sent; binary
# rows: int, float or temporal str for the fixed kinds, bytes otherwise) and returns one
# cell per value for the format; anything it cannot handle raises _Fallback (on values
# the exact path has checked it never does).


class _Ctx:
    """What a converter needs to know about its column."""

    __slots__ = ("binary", "codec", "fmt", "kind", "opt")

    def __init__(self, kind: int, opt: int, codec: str | None, fmt: int, binary: bool) -> None:
        self.kind = kind
        self.opt = opt
        self.codec = codec
        self.fmt = fmt
        self.binary = binary


def _quoted(texts: list[str]) -> list[str]:
    """JSON strings of texts that need no escaping (checked ASCII, no quote or newline)."""
    return ('"' + '"\n"'.join(texts) + '"').split("\n")


def _matches(many: re.Pattern[bytes], nn: list[bytes], joined: bytes) -> bool:
    """Whether every value (joined with b"\\n") matches; a value holding a b"\\n" of its
    own would be read as two, so the count is checked first."""
    return joined.count(b"\n") == len(nn) - 1 and many.fullmatch(joined) is not None


def _split_ascii(joined: bytes) -> list[str]:
    return joined.decode("ascii").split("\n")


def _ints(nn: list[Any], c: _Ctx) -> list[Any]:
    unsigned = c.kind == R.K_UINT
    if c.binary:
        ints: list[int] = nn
        texts = list(map(str, ints))
    else:
        joined = b"\n".join(nn)
        try:
            ints = list(map(int, nn))
        except ValueError:  # not an integer, or more digits than int() takes
            ints = []
        texts = list(map(str, ints))
        # Text equal to what str() writes back is canonical, hence in the grammar; int()
        # also takes "+1", " 1", "1_0", which the grammar check of the rest refuses.
        if not ints or "\n".join(texts).encode() != joined:
            if not _matches(_INTS, nn, joined):
                raise _Fallback
            if not ints:
                maybe = [_int_value(v, unsigned) for v in nn]
                if None in maybe:
                    raise _Fallback
                ints = maybe  # type: ignore[assignment]  # no None left
                texts = list(map(str, ints))
        lo, hi = (0, _U64) if unsigned else (_S64_MIN, _S64_MAX)
        if min(ints) < lo or max(ints) > hi:
            raise _Fallback
        if c.fmt == T.F_PSDB:
            return nn
    if c.fmt == T.F_PSDB:
        return "\n".join(texts).encode().split(b"\n")
    if c.opt & T.OPT_QUOTE:
        return _quoted(texts) if c.fmt != T.F_MSGPACK else texts
    return texts if c.fmt != T.F_MSGPACK else ints


# Float text by character class: digits as "0", "E" as "e", anything foreign as "x".
_FLOAT_CLASSES = bytes(
    b"0"[0] if 0x30 <= i <= 0x39 else b"e"[0] if i in b"eE" else i if i in b".+-\n" else b"x"[0]
    for i in range(256)
)


def _float_texts_ok(nn: list[bytes], joined: bytes) -> bool:
    """Whether texts that float() accepted all match the FLOAT/DOUBLE grammar.

    Among texts without a newline of their own, of digits and ".eE+-", float() takes
    what the grammar takes plus a leading "+" and a point without a digit on either
    side; underscores, whitespace, "inf" and "nan" have foreign characters.
    """
    if max(map(len, nn)) > R.MAX_FLOAT_TEXT or joined.count(b"\n") != len(nn) - 1:
        return False
    classes = joined.translate(_FLOAT_CLASSES)
    return (
        b"x" not in classes
        and classes.count(b"0.0") == classes.count(b".")
        and classes.count(b"e+") == classes.count(b"+")
    )


def _floats(nn: list[Any], c: _Ctx) -> list[Any]:
    if c.binary:
        floats: list[float] = nn
        if not all(map(_isfinite, floats)):
            raise _Fallback
        if c.kind == R.K_FLOAT:
            texts = list(map(_f32_text, floats))
            if c.fmt == T.F_MSGPACK:
                return list(map(float, texts))
        elif c.fmt == T.F_MSGPACK:
            return floats
        else:
            texts = list(map(repr, floats))
        if c.fmt == T.F_PSDB:
            return "\n".join(texts).encode().split(b"\n")
        return texts
    try:
        floats = list(map(float, nn))
    except ValueError:
        raise _Fallback from None
    if not _float_texts_ok(nn, b"\n".join(nn)) or not all(map(_isfinite, floats)):
        raise _Fallback
    if c.fmt == T.F_PSDB:
        return nn
    if c.fmt == T.F_MSGPACK:
        return floats
    # repr(float(text)) is the re-laid-out text: <= 15 significant digits in the normal
    # range are exactly the shortest round-trip digits of the value (DBL_DIG is 15), and
    # everything else is written as repr writes the parsed value anyway.
    return list(map(repr, floats))


# Temporal text of one length: the non-digit characters and where they are (the rest
# must be digits).  Other lengths (three-digit or negative hours) go to the regex.
_LAYOUTS: dict[tuple[int, int], tuple[tuple[int, bytes], ...]] = {}
for _length in range(19, 27):
    _frac = ((19, b"."),) if _length > 19 else ()
    _LAYOUTS[R.K_DATETIME, _length] = (
        (4, b"-"), (7, b"-"), (10, b" "), (13, b":"), (16, b":"), *_frac
    )  # fmt: skip
for _length in range(8, 16):
    _LAYOUTS[R.K_TIME, _length] = ((2, b":"), (5, b":"), *(((8, b"."),) if _length > 8 else ()))
_LAYOUTS[R.K_DATE, 10] = ((4, b"-"), (7, b"-"))
del _LAYOUTS[R.K_DATETIME, 20], _LAYOUTS[R.K_TIME, 9]  # a point and no digit after it
_DIGITS = b"0123456789"


def _layout_ok(kind: int, nn: list[bytes], joined: bytes) -> bool:
    """Whether temporal texts all have one length and its layout (else: ask the regex)."""
    length = len(nn[0])
    layout = _LAYOUTS.get((kind, length))
    if layout is None or min(map(len, nn)) != length or max(map(len, nn)) != length:
        return False
    n = len(nn)
    for at, char in layout:
        if joined[at :: length + 1] != char * n:
            return False
    skeleton = b"".join(char for _, char in layout)
    return joined.translate(None, _DIGITS) == b"\n".join([skeleton] * n)


def _decimal_texts_ok(nn: list[bytes], joined: bytes) -> bool:
    """Whether texts all match -?[0-9]+(.[0-9]+)? (else: ask the regex)."""
    if joined.count(b"\n") != len(nn) - 1 or joined.translate(None, b"0123456789.-\n"):
        return False
    # "-" only first; a digit first (after the sign), last, and on both sides of a point.
    if joined.count(b"-") != joined.count(b"\n-") + (joined[:1] == b"-"):
        return False
    if joined[:1] in (b".", b"\n") or not joined[-1:].isdigit():
        return False
    if any(bad in joined for bad in (b"-\n", b"-.", b".\n", b"\n.", b"\n\n")):
        return False
    return b".." not in joined.translate(None, b"0123456789-")  # one point per value


def _checked_text(nn: list[Any], c: _Ctx) -> list[Any]:
    """DECIMAL, and DATE/DATETIME/TIME of text rows."""
    joined = b"\n".join(nn)
    if c.kind == R.K_DECIMAL:
        fast = _decimal_texts_ok(nn, joined)
    else:
        fast = _layout_ok(c.kind, nn, joined)
    if not fast and not _matches(_GRAMMARS[c.kind], nn, joined):
        raise _Fallback
    if c.fmt == T.F_PSDB:
        return nn
    texts = _split_ascii(joined)
    if c.kind == R.K_DECIMAL and c.opt & T.OPT_NUMBER:
        if c.fmt == T.F_MSGPACK:
            values = list(map(float, texts))
            if not all(map(_isfinite, values)) or any(len(t) > R.MAX_FLOAT_TEXT for t in texts):
                raise _Fallback  # the exact path reports E_NONFINITE
            return values
        return _LEADING_ZEROS.sub(r"\1", "\n".join(texts)).split("\n")
    return texts if c.fmt == T.F_MSGPACK else _quoted(texts)


def _binary_temporal(nn: list[Any], c: _Ctx) -> list[Any]:
    if c.fmt == T.F_PSDB:
        return "\n".join(nn).encode().split(b"\n")
    return nn if c.fmt == T.F_MSGPACK else _quoted(nn)


def _strings(texts: list[str], raw: list[Any], c: _Ctx, same_bytes: bool) -> list[Any]:
    if c.fmt == T.F_PSDB:
        return raw if same_bytes else list(map(str.encode, texts))
    if c.fmt == T.F_MSGPACK:
        return texts
    return list(map(encode_basestring, texts))


def _utf8(nn: list[Any], c: _Ctx) -> list[Any]:
    try:
        texts = list(map(bytes.decode, nn))
    except UnicodeDecodeError:
        raise _Fallback from None
    return _strings(texts, nn, c, True)


def _latin1(nn: list[Any], c: _Ctx) -> list[Any]:
    # One decode of all the values, then slices: MySQL latin1 maps byte i to char i.
    whole = R.decode_latin1(b"".join(nn))
    ends = list(accumulate(map(len, nn)))
    texts = list(map(whole.__getitem__, map(slice, [0, *ends[:-1]], ends)))
    return _strings(texts, nn, c, False)


def _codec_text(nn: list[Any], c: _Ctx) -> list[Any]:
    codec = c.codec
    assert codec is not None
    try:
        texts = [v.decode(codec) for v in nn]
    except UnicodeDecodeError:
        raise _Fallback from None
    return _strings(texts, nn, c, False)


def _json_docs(nn: list[Any], c: _Ctx) -> list[Any]:
    try:
        texts = list(map(bytes.decode, nn))
    except UnicodeDecodeError:
        raise _Fallback from None
    if not all(map(_json_valid, texts)):
        raise _Fallback
    if c.fmt == T.F_PSDB:
        return nn
    if c.fmt == T.F_NDJSON:  # CR/LF can only be whitespace here: one row per line
        return [t.replace("\n", " ").replace("\r", " ") for t in texts]
    return texts  # json: the document verbatim; msgpack: the same text as str


def _bytes(nn: list[Any], c: _Ctx) -> list[Any]:
    if c.fmt != T.F_JSON and c.fmt != T.F_NDJSON:
        return nn
    return _quoted(_split_ascii(b"\n".join(map(_b64, nn))))


def _bits(nn: list[Any], c: _Ctx) -> list[Any]:
    if max(map(len, nn)) > R.MAX_BIT_BYTES:
        raise _Fallback
    if c.fmt == T.F_PSDB:
        return nn
    ints = list(map(_from_big, nn))
    return ints if c.fmt == T.F_MSGPACK else list(map(str, ints))


_CONVERTERS: dict[int, Callable[[list[Any], _Ctx], list[Any]]] = {
    R.K_BYTES: _bytes,
    R.K_UTF8: _utf8,
    R.K_TEXT: _codec_text,
    R.K_SINT: _ints,
    R.K_UINT: _ints,
    R.K_FLOAT: _floats,
    R.K_DOUBLE: _floats,
    R.K_DECIMAL: _checked_text,
    R.K_DATE: _checked_text,
    R.K_DATETIME: _checked_text,
    R.K_TIME: _checked_text,
    R.K_BIT: _bits,
    R.K_NULL: _bytes,  # text rows; binary rows have no values
    T.K_LATIN1: _latin1,
    T.K_JSON: _json_docs,
}


# ------------------------------------------------------------------------ rows


class _Spec:
    """Per call: the column facts and converters (TSpec plus the row decoder's spec)."""

    __slots__ = ("as_float", "codecs", "converters", "ctxs", "decimals", "kinds", "widths")

    def __init__(self, tspec: T.TSpec, fmt: int, binary: bool) -> None:
        self.kinds = tspec.kinds
        self.codecs = tspec.codecs
        self.widths = tspec.rows.widths
        self.decimals = tspec.rows.decimals
        # DECIMAL columns written as msgpack floats (checked for the double range)
        self.as_float = [
            k == R.K_DECIMAL and bool(o & T.OPT_NUMBER) and fmt == T.F_MSGPACK
            for k, o in zip(tspec.kinds, tspec.opts, strict=True)
        ]
        self.ctxs = [
            _Ctx(k, o, c, fmt, binary)
            for k, o, c in zip(tspec.kinds, tspec.opts, tspec.codecs, strict=True)
        ]
        self.converters = [
            _binary_temporal
            if binary and k in (R.K_DATE, R.K_DATETIME, R.K_TIME)
            else _CONVERTERS[k]
            for k in tspec.kinds
        ]


def _cells(spec: _Spec, columns: list[_Column], nrows: int, fmt: int) -> list[list[Any]]:
    """Each column's cells, with the format's NULL cell at NULLs.

    For psdb each column gives two: the text-form bytes (b"" at NULLs) and the quoted
    length (``"-1"`` at NULLs).
    """
    out: list[list[Any]] = []
    for (values, mask), convert, ctx in zip(columns, spec.converters, spec.ctxs, strict=True):
        nn = values if mask is None else list(compress(values, mask))
        cells = convert(nn, ctx) if nn else []
        if fmt == T.F_PSDB:
            lengths = list(map('"%d"'.__mod__, map(len, cells)))
            out.append(_expand(cells, mask, nrows, b""))
            out.append(_expand(lengths, mask, nrows, _PSDB_NULL_LENGTH))
        else:
            out.append(_expand(cells, mask, nrows, None if fmt == T.F_MSGPACK else _JSON_NULL))
    return out


def _expand(cells: list[Any], mask: bytes | None, nrows: int, null: object) -> list[Any]:
    if mask is None:
        return cells
    full = [null] * nrows
    deque(map(full.__setitem__, compress(range(nrows), mask), cells), maxlen=0)
    return full


def _bodies(cells: list[list[Any]], nrows: int, ncols: int, fmt: int) -> list[str]:
    """Each row's JSON text without its head and tail (json, ndjson, psdb)."""
    if fmt != T.F_PSDB:
        return list(map(",".join, zip(*cells, strict=True))) if ncols else [""] * nrows
    if not ncols:
        return ['],"values":"'] * nrows
    lengths = map(",".join, zip(*cells[1::2], strict=True))
    b64s = _split_ascii(b"\n".join(map(_b64, map(b"".join, zip(*cells[0::2], strict=True)))))
    return list(map('],"values":"'.join, zip(lengths, b64s, strict=True)))


# Per format: a row's text before and after its body, and the separator between rows.
_FRAMES = {
    T.F_JSON: ("[", "]", ","),
    T.F_NDJSON: ("[", "]\n", ""),
    T.F_PSDB: ('{"lengths":[', '"}', ","),
}


def _fit(sizes: list[int], room: int) -> int:
    """How many leading rows of these byte sizes fit in room."""
    total = 0
    for k, size in enumerate(sizes):
        total += size
        if total > room:
            return k
    return len(sizes)


def _render(
    cells: list[list[Any]], nrows: int, ncols: int, fmt: int, sep: bool, room: int
) -> tuple[bytes, int]:
    """The output of the leading rows that fit in room bytes, and how many rows."""
    if fmt == T.F_MSGPACK:
        pack = msgpack.Packer(use_bin_type=True).pack
        rows = list(map(pack, zip(*cells, strict=True))) if ncols else [b"\x90"] * nrows
        k = _fit(list(map(len, rows)), room)
        return b"".join(rows[:k]), k
    if not nrows:
        return b"", 0
    # One join for all the rows: the glue is a row's tail, the separator, the next head.
    head, tail, between = _FRAMES[fmt]
    lead = between if sep else ""
    bodies = _bodies(cells, nrows, ncols, fmt)
    out = (lead + head + (tail + between + head).join(bodies) + tail).encode()
    if len(out) <= room:
        return out, nrows
    frame = len(head) + len(tail) + len(between)
    sizes = [len(b.encode()) + frame for b in bodies]
    if not sep:
        sizes[0] -= len(between)
    k = _fit(sizes, room)
    if not k:
        return b"", 0
    return (lead + head + (tail + between + head).join(bodies[:k]) + tail).encode(), k


# ------------------------------------------------------------------------ entry point


def transcode_rows(
    tspec: T.TSpec,
    data: bytes | bytearray | memoryview,
    spans: Sequence[int],
    first: int,
    count: int,
    *,
    binary: bool,
    fmt: int,
    sep: bool,
    budget: int,
) -> tuple[bytes, int]:
    """Transcode rows ``first..first+count-1`` (row r is ``data[spans[2r]:][:spans[2r+1]]``).

    Args:
        tspec: the resultset's columns (:func:`mywire._tcspec.tspec_for`).
        data, spans: the row payloads, as the framer delivers them.
        binary: binary-protocol rows (COM_STMT_EXECUTE) rather than text rows.
        fmt: F_JSON, F_NDJSON, F_MSGPACK or F_PSDB.
        sep: whether the first row written gets a "," before it (json and psdb).
        budget: the most output bytes to write; no row is written in part.

    Returns:
        The rows' output concatenated, and the number of rows written (fewer than
        ``count`` only when the next row would not fit in the budget).

    Raises:
        ValueError: a span outside ``data`` (as :func:`mywire._rowspec.check_spans`), or
            rows outside the spans, or an unknown format.
        MalformedPacket: a row that does not decode or transcode
            (:func:`mywire._tcspec.row_error`; TruncatedPacket for short rows).
        Any other exception is a bug.
    """
    if fmt not in (T.F_JSON, T.F_NDJSON, T.F_MSGPACK, T.F_PSDB):
        raise ValueError(f"unknown transcoder format {fmt}")
    nspans = len(spans) // 2
    if nspans:
        # check_spans' test, in C-level passes; it runs itself only to raise its error.
        starts, lengths = spans[0 : 2 * nspans : 2], spans[1 : 2 * nspans : 2]
        if (
            min(starts) < 0
            or min(lengths) < 0
            or max(map(add, starts, lengths)) > memoryview(data).nbytes
        ):
            R.check_spans(tspec.rows, data, spans)
    if first < 0 or count < 0 or first + count > nspans:
        raise ValueError(f"rows {first}..{first + count - 1} outside the {nspans} row spans")
    buf = data if isinstance(data, bytes) else bytes(data)
    spec = _Spec(tspec, fmt, binary)
    ncols = len(spec.kinds)
    parts: list[bytes] = []
    size = 0
    written = 0
    r = first
    stop = first + count
    while r < stop:
        n = min(stop - r, CHUNK)
        if written and budget - size < n * (size // written):
            # Near the budget: a smaller chunk wastes less work past the cut.
            n = max(1, min(n, (budget - size) // max(size // written, 1) + 1))
        sp = list(spans[2 * r : 2 * (r + n)])
        error: _RowError | None = None
        try:
            if not ncols:
                if binary or any(sp[1::2]):
                    raise _Fallback  # rows with no columns: the exact path checks them
                columns = []
            elif binary:
                columns = _binary_columns(spec, buf, sp)
            else:
                columns = _text_columns(ncols, buf, sp)
            cells = _cells(spec, columns, n, fmt)
            good = n
        except _Fallback:
            columns, good, error = _exact(spec, buf, sp, binary)
            try:
                cells = _cells(spec, columns, good, fmt)
            except _Fallback:
                raise RuntimeError("mywire transcoder: checked values failed to convert") from None
        out, k = _render(cells, good, ncols, fmt, sep or written > 0, budget - size)
        parts.append(out)
        size += len(out)
        written += k
        if k < good:
            break
        if error is not None:
            status, column, offset, a, b = error.args_
            raise T.row_error(tspec, buf, status, r + good, column, offset, a, b)
        r += n
    return b"".join(parts), written
