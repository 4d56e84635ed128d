"""Transcoder core shared by both backends: column kinds, row output rules, error texts.

Theory of operation
-------------------
The transcoder turns resultset rows, as they came off the wire, into output bytes in one
of four formats without building a Python object per value.  Work is split in two:

* **Rows** (this module's rules, implemented twice: ``csrc/mw_transcode.c`` and
  :mod:`mywire._pytranscode`): ``transcode_rows`` turns a run of row payloads into the
  concatenated output of those rows.  This is the hot path; the C version does it in
  one call per run of many rows.
* **Documents** (:mod:`mywire.transcode`, pure Python, shared): field metadata, the
  document's opening and closing, separators between results, errors and limits.

A resultset's columns are reduced once (:func:`tspec_for`) to a :class:`TSpec`: per
column a *kind* (the row decoder's kinds of :mod:`mywire._rowspec`, plus K_LATIN1 and
K_JSON) and option bits.

Value rules (row output), per kind and format
---------------------------------------------
``json``/``ndjson`` write JSON text, ``msgpack`` writes msgpack with ``msgpack.packb``'s
smallest headers (``use_bin_type=True``, floats as float 64), ``psdb`` writes each
value's *text form* (the bytes a text-protocol row carries).

=========== ================================= ================= =========================
kind        json / ndjson                     msgpack           psdb text form
=========== ================================= ================= =========================
NULL        ``null``                          nil               length ``"-1"``, no bytes
SINT, UINT  digits, canonical (``-?[1-9][0-9]*`` int            text rows: the bytes as
            or ``0``: ZEROFILL's leading                        sent; binary: canonical
            zeros and ``-0`` dropped);                          digits
            OPT_QUOTE: the same in quotes     OPT_QUOTE: str
FLOAT       text rows: the number re-laid     text: float 64    text rows: as sent;
            out in ``repr``'s layout (below); of the text;      binary: the json text
            binary: the shortest digits that  binary: float 64
            read back as the float32, in      of the json text
            repr's layout
DOUBLE      text rows: re-laid out (below);   float 64          text rows: as sent;
            binary: ``repr``                                    binary: ``repr``
DECIMAL     ``"text"`` (checked as the row    str               as sent
            decoder checks it); OPT_NUMBER:   OPT_NUMBER: float
            the text unquoted with leading    64 of the text
            zeros of the integer part
            dropped (``-012.50`` →
            ``-12.50``; one digit kept)
DATE,       ``"text"``: text rows checked     str               text rows: as sent;
DATETIME,   and copied, binary rows                             binary: the text
TIME        formatted as mywire._rowspec
            documents
UTF8        ``"escaped"`` (checked UTF-8)     str               as sent (checked UTF-8)
LATIN1      MySQL latin1 → UTF-8, escaped     str (converted)   converted to UTF-8
TEXT        other charsets with a Python codec: decoded strictly; C hands such
            resultsets to the pure path (same output, slower)
JSON        the document itself, verbatim     str (checked)     as sent (checked)
            (checked UTF-8, then checked
            JSON text of nesting <= 512)
BYTES       ``"base64"`` (standard, padded)   bin               as sent
BIT         unsigned big-endian number        int               as sent
K_NULL      ``null`` (binary rows); text      nil / bin         -1 / as sent
            rows: like BYTES
=========== ================================= ================= =========================

Strings are escaped exactly as ``json.dumps(..., ensure_ascii=False)`` escapes them:
``"`` and ``\\`` with a backslash; ``\\b \\f \\n \\r \\t``; other bytes below 0x20 as
``\\u00XX`` (lowercase hex); everything else (DEL, non-ASCII) as is.

Float layout ("re-laid out"): the text's significant digits are kept when there are at
most 15 of them and the first digit's decimal exponent lies in -307..307 (then they are
exactly the shortest round-trip digits of the value the text denotes); the digits are
written in ``repr``'s layout: scientific when that exponent is < -4 or >= 16
(``1e+20``, ``1.5e-07``), else fixed with at least one digit after the point (``100.0``,
``0.001``).  All-zero digits give ``0.0`` or ``-0.0``.  Any other text is parsed
(rounded as ``float()`` rounds) and written as ``repr`` writes it.  Non-finite values
(binary rows, or text beyond the double range) are an error (E_NONFINITE): JSON has no
spelling for them, and every format behaves the same.

Rows
----
* json: ``[v,v,...]``; rows after the first are preceded by ``,`` (``sep``: whether the
  call's first row gets one too).
* ndjson: ``[v,v,...]\\n``; no separators.
* msgpack: one array per row; no separators (the document writes the count).
* psdb: ``{"lengths":["L",...],"values":"B"}`` with ``,`` separators as json; ``L`` is
  the byte length of the text form, ``-1`` for NULL; ``B`` the base64 of the text forms
  of the non-NULL values joined; ``"values":""`` is always present.

A call transcodes rows ``first..first+count-1`` and stops early, without writing a
partial row, before the first row that would make the output exceed ``budget`` bytes.

Errors
------
Rows are checked exactly as the row decoder checks them (same statuses, same messages,
:func:`mywire._rowspec.row_error`), plus E_UTF8 (text that is not valid in its
charset), E_JSON (a JSON column that is not JSON) and E_NONFINITE, built by
:func:`row_error`.  Errors report the offset of the value's first byte (its content,
after the length prefix).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import lru_cache

from . import _rowspec as R
from .constants.charset import COLLATIONS
from .constants.column_flag import ColumnFlag
from .constants.field_type import FieldType
from .errors import MalformedPacket
from .events import ColumnDefinition

__all__ = [
    "E_JSON",
    "E_NONFINITE",
    "E_UTF8",
    "FORMATS",
    "K_JSON",
    "K_LATIN1",
    "OPT_NUMBER",
    "OPT_QUOTE",
    "TSpec",
    "row_error",
    "tspec_for",
    "vitess_type",
]

# Transcoder-only kinds (mirrored by MW_K_LATIN1 / MW_K_JSON in csrc/mywire_api.h).
K_LATIN1 = 14
K_JSON = 15

# Option bits of a column (mw_column.opts).
OPT_QUOTE = 1  # integer columns: write the digits as a string
OPT_NUMBER = 2  # DECIMAL columns: write a number instead of a string

# Formats (mirrored by MW_FMT_* in csrc/mywire_api.h).
F_JSON = 1
F_NDJSON = 2
F_MSGPACK = 3
F_PSDB = 4
FORMATS = {"json": F_JSON, "ndjson": F_NDJSON, "msgpack": F_MSGPACK, "psdb": F_PSDB}

# Statuses beyond the row decoder's (mirrored by MW_E_ROW_UTF8.. in csrc/mywire_api.h).
E_UTF8 = 30  # offset: the value's content; a: its length
E_JSON = 31  # offset: the value's content; a: its length
E_NONFINITE = 32  # offset: the value (binary: its 4/8 bytes; text: its content); a: length

#: Deepest nesting of arrays and objects accepted in a JSON column.
MAX_JSON_DEPTH = 512

_INT_TYPES = frozenset(
    {
        FieldType.MYSQL_TYPE_TINY,
        FieldType.MYSQL_TYPE_SHORT,
        FieldType.MYSQL_TYPE_INT24,
        FieldType.MYSQL_TYPE_LONG,
        FieldType.MYSQL_TYPE_LONGLONG,
        FieldType.MYSQL_TYPE_YEAR,
    }
)


@dataclass(frozen=True, slots=True, eq=False)
class TSpec:
    """What both transcoders need to know about a resultset's columns."""

    columns: tuple[ColumnDefinition, ...]
    #: The row decoder's spec of the same columns (widths, decimals, error texts).
    rows: R.RowSpec
    kinds: tuple[int, ...]
    opts: tuple[int, ...]
    #: For K_TEXT columns: the Python codec name; None elsewhere.
    codecs: tuple[str | None, ...]
    #: Some column needs a Python codec (the C transcoder hands these to pure).
    needs_python: bool


@lru_cache(maxsize=256)
def tspec_for(
    columns: tuple[ColumnDefinition, ...],
    int64_as_string: bool = False,
    decimal_as_number: bool = False,
) -> TSpec:
    """The :class:`TSpec` of ``columns`` under the given options (cached).

    ``int64_as_string`` quotes LONGLONG columns (signed and unsigned: JavaScript numbers
    are exact only up to 2**53); ``decimal_as_number`` writes DECIMAL as numbers.
    """
    spec = R.spec_for(columns)
    kinds: list[int] = []
    opts: list[int] = []
    codecs: list[str | None] = []
    for column, kind in zip(columns, spec.kinds, strict=True):
        codec: str | None = None
        if column.type == FieldType.MYSQL_TYPE_JSON or (
            kind == R.K_UTF8 and is_mariadb_json(column)
        ):
            kind = K_JSON
        elif kind == R.K_TEXT:
            found = COLLATIONS[column.character_set]
            if found.charset == "latin1":
                kind = K_LATIN1
            else:
                codec = found.codec
        opt = 0
        if int64_as_string and column.type == FieldType.MYSQL_TYPE_LONGLONG:
            opt |= OPT_QUOTE
        if decimal_as_number and kind == R.K_DECIMAL:
            opt |= OPT_NUMBER
        kinds.append(kind)
        opts.append(opt)
        codecs.append(codec)
    return TSpec(
        columns=columns,
        rows=spec,
        kinds=tuple(kinds),
        opts=tuple(opts),
        codecs=tuple(codecs),
        needs_python=any(c is not None for c in codecs),
    )


def latin1_to_utf8_table() -> list[bytes]:
    """UTF-8 bytes of each MySQL latin1 byte (cp1252 with its five holes as C1 controls)."""
    return [R.decode_latin1(bytes([i])).encode() for i in range(256)]


def b64(data: bytes) -> bytes:
    """Standard padded base64 (the JSON and psdb binary encoding)."""
    return base64.b64encode(data)


# ------------------------------------------------------------------------ errors


def row_error(
    tspec: TSpec,
    data: bytes | bytearray | memoryview,
    status: int,
    row: int,
    column: int,
    offset: int,
    a: int,
    b: int,
) -> Exception:
    """The exception for a transcoder status (one constructor for both backends).

    The exception keeps the status and its numbers as ``row_details`` so that a caller
    that transcoded a slice of a resultset can restate it with the resultset's row index.
    """
    exc = _row_error(tspec, data, status, row, column, offset, a, b)
    exc.row_details = (status, row, column, offset, a, b)  # type: ignore[attr-defined]
    return exc


def _row_error(
    tspec: TSpec,
    data: bytes | bytearray | memoryview,
    status: int,
    row: int,
    column: int,
    offset: int,
    a: int,
    b: int,
) -> Exception:
    if status not in (E_UTF8, E_JSON, E_NONFINITE):
        return R.row_error(tspec.rows, data, status, row, column, offset, a, b)
    c = tspec.columns[column]
    where = f"column {column} ({c.name!r}, {_type_name(c.type)})"
    if status == E_UTF8:
        charset = tspec.codecs[column] or ("latin1" if tspec.kinds[column] == K_LATIN1 else "UTF-8")
        expected = f"valid {charset} text"
    elif status == E_JSON:
        expected = f"a JSON document nested at most {MAX_JSON_DEPTH} deep"
    else:
        expected = "a finite number"
    return MalformedPacket(
        f"invalid value in row {row}: {where} at offset {offset}: "
        f"{_show(data, offset, a)} is not {expected}",
        offset=offset,
        expected=expected,
    )


def _type_name(t: int) -> str:
    try:
        return FieldType(t).name.removeprefix("MYSQL_TYPE_")
    except ValueError:
        return f"type {t}"


def _show(data: bytes | bytearray | memoryview, offset: int, length: int) -> str:
    shown = bytes(data[offset : offset + min(length, 32)])
    return repr(shown) + ("..." if length > 32 else "")


# ------------------------------------------------------------------------ Vitess types

_VITESS_FIXED: dict[int, str] = {
    FieldType.MYSQL_TYPE_DECIMAL: "DECIMAL",
    FieldType.MYSQL_TYPE_NEWDECIMAL: "DECIMAL",
    FieldType.MYSQL_TYPE_FLOAT: "FLOAT32",
    FieldType.MYSQL_TYPE_DOUBLE: "FLOAT64",
    FieldType.MYSQL_TYPE_NULL: "NULL_TYPE",
    FieldType.MYSQL_TYPE_TIMESTAMP: "TIMESTAMP",
    FieldType.MYSQL_TYPE_TIMESTAMP2: "TIMESTAMP",
    FieldType.MYSQL_TYPE_YEAR: "YEAR",
    FieldType.MYSQL_TYPE_DATE: "DATE",
    FieldType.MYSQL_TYPE_NEWDATE: "DATE",
    FieldType.MYSQL_TYPE_TIME: "TIME",
    FieldType.MYSQL_TYPE_TIME2: "TIME",
    FieldType.MYSQL_TYPE_DATETIME: "DATETIME",
    FieldType.MYSQL_TYPE_DATETIME2: "DATETIME",
    FieldType.MYSQL_TYPE_BIT: "BIT",
    FieldType.MYSQL_TYPE_JSON: "JSON",
    FieldType.MYSQL_TYPE_ENUM: "ENUM",
    FieldType.MYSQL_TYPE_SET: "SET",
    FieldType.MYSQL_TYPE_GEOMETRY: "GEOMETRY",
    FieldType.MYSQL_TYPE_VECTOR: "VECTOR",
}
_VITESS_INTS: dict[int, tuple[str, str]] = {
    FieldType.MYSQL_TYPE_TINY: ("INT8", "UINT8"),
    FieldType.MYSQL_TYPE_SHORT: ("INT16", "UINT16"),
    FieldType.MYSQL_TYPE_INT24: ("INT24", "UINT24"),
    FieldType.MYSQL_TYPE_LONG: ("INT32", "UINT32"),
    FieldType.MYSQL_TYPE_LONGLONG: ("INT64", "UINT64"),
}
_VITESS_TEXT: dict[int, tuple[str, str]] = {
    FieldType.MYSQL_TYPE_TINY_BLOB: ("TEXT", "BLOB"),
    FieldType.MYSQL_TYPE_MEDIUM_BLOB: ("TEXT", "BLOB"),
    FieldType.MYSQL_TYPE_LONG_BLOB: ("TEXT", "BLOB"),
    FieldType.MYSQL_TYPE_BLOB: ("TEXT", "BLOB"),
    FieldType.MYSQL_TYPE_VAR_STRING: ("VARCHAR", "VARBINARY"),
    FieldType.MYSQL_TYPE_VARCHAR: ("VARCHAR", "VARBINARY"),
    FieldType.MYSQL_TYPE_STRING: ("CHAR", "BINARY"),
}


def vitess_type(column: ColumnDefinition, *, mariadb_json: bool = True) -> str:
    """The Vitess type name of a column (``sqltypes.MySQLToType`` and ``modifyType``).

    With ``mariadb_json``, a MariaDB text column whose extended metadata says ``json`` is
    reported as JSON, so the serverless driver parses it as it does MySQL's JSON.
    Unknown type codes are reported as VARBINARY (Vitess refuses them; a gateway must
    answer something, and the bytes are passed through).
    """
    t = column.type
    flags = column.flags
    if t in _VITESS_INTS:
        signed, unsigned = _VITESS_INTS[t]
        return unsigned if flags & ColumnFlag.UNSIGNED_FLAG else signed
    if t in _VITESS_FIXED:
        return _VITESS_FIXED[t]
    if t in _VITESS_TEXT:
        if mariadb_json and is_mariadb_json(column):
            return "JSON"
        text, binary = _VITESS_TEXT[t]
        if flags & ColumnFlag.BINARY_FLAG:
            return binary
        if t == FieldType.MYSQL_TYPE_STRING:
            if flags & ColumnFlag.ENUM_FLAG:
                return "ENUM"
            if flags & ColumnFlag.SET_FLAG:
                return "SET"
        return text
    return "VARBINARY"


def is_mariadb_json(column: ColumnDefinition) -> bool:
    """A MariaDB text column that its extended metadata marks as JSON (format "json")."""
    return column.extended_format == "json" or column.extended_type == "json"


def is_int_column(column: ColumnDefinition) -> bool:
    return column.type in _INT_TYPES


def field_type_name(t: int) -> str:
    """The MySQL type name the json/ndjson/msgpack field metadata carries."""
    return _type_name(t)
