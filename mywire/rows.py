"""Rows to Python values: text-protocol and binary-protocol rows, C and pure.

Status: implemented (C: ``csrc/mw_rows.c`` via :mod:`mywire._crows`; pure:
:mod:`mywire._pyrows`; shared kinds, finishing pass and error texts:
:mod:`mywire._rowspec`, whose docstring lists every decision in detail).

Input
-----
``decode_rows(columns, data, spans, *, binary)``: ``data`` is a buffer holding row
payloads (typically the receive buffer itself), ``spans`` a flat sequence
``[start0, len0, start1, len1, ...]`` locating each row payload inside ``data`` (what
``scan_packets`` reports, flattened), so no Python object per row exists before
decoding.  :func:`row_spans` builds ``data`` and ``spans`` from a list of payloads.  Every
row is decoded against ``columns`` (:class:`~mywire.events.ColumnDefinition`).  Output:
a list of tuples, one per row.

Type mapping (identical on both backends; the README documents it)
-------------------------------------------------------------------
=========================================  ============================================
column                                     Python value
=========================================  ============================================
NULL (0xFB in text rows, bitmap in binary)  None
TINY SHORT INT24 LONG LONGLONG YEAR         int (UNSIGNED flag respected; full 64 bits)
FLOAT                                       float: binary rows widen the float32 exactly;
                                            text rows are ``float(text)`` (the server's
                                            text form has ~6 digits: a documented
                                            difference between the protocols)
DOUBLE                                      float
DECIMAL NEWDECIMAL                          decimal.Decimal (exact, from the text form)
DATE                                        datetime.date; zero or partial dates
                                            (``0000-00-00``, ``2016-00-00``) stay ``str``
                                            in MySQL's text form, never None
DATETIME TIMESTAMP                          datetime.datetime (fractional digits as the
                                            column declares); zero/partial: ``str``
TIME                                        datetime.timedelta, sign applied to the whole
                                            value (``-00:00:01`` is -1 s); range
                                            -838:59:59..838:59:59 (MariaDB's .999999
                                            included); beyond it: ``str``
BIT                                         int (big-endian bytes, at most 8)
JSON (245, or MariaDB extended type json)   str (UTF-8 whatever the column's charset)
text types, ENUM, SET with a text charset   str, decoded with the charset's codec
                                            (utf8/utf8mb4: UTF-8; latin1: MySQL's cp1252
                                            variant); bytes that do not decode are kept
                                            with ``surrogateescape``
binary charset (63): BINARY VARBINARY BLOB  bytes
GEOMETRY, VECTOR, unknown type codes        bytes
the NULL type (6)                           None (no bytes in binary rows)
=========================================  ============================================

Text forms (what binary temporals are formatted to, and what text rows must match):
``YYYY-MM-DD``, ``YYYY-MM-DD hh:mm:ss[.f]``, ``[-]hh:mm:ss[.f]`` (at least two hour
digits).  Fractional digits in binary rows: exactly ``decimals`` digits when the column
declares 1..6; none for any other ``decimals`` (0, 0x1f) unless the microseconds are
non-zero, then six; digits are never dropped to honour ``decimals``.  Text rows are
checked: integers ``-?[0-9]+`` in the signed/unsigned 64-bit range, floats
``-?[0-9]+(.[0-9]+)?([eE][-+]?[0-9]+)?`` (at most 400 characters, rounded exactly as
``float()`` rounds), decimals ``-?[0-9]+(.[0-9]+)?``, temporals the forms above.

C path
------
One cffi call decodes many rows: C writes a msgpack document (an array of rows, each an
array of values, with the smallest headers ``msgpack.packb`` would use) and one
``msgpack.unpackb(..., use_list=False, unicode_errors="surrogateescape")`` call builds
the tuples.  Values msgpack has no type for travel as their text form (DECIMAL, DATE,
DATETIME, TIME) or as bin (text in non-UTF-8 charsets) and a per-column finishing pass
turns them into the types above; resultsets without such columns need no pass (with
them, the rows are unpacked as lists, converted in place and made tuples).  The pure
decoder builds the same raw values and runs the same finishing pass.

Errors
------
A row that does not parse raises :class:`~mywire.errors.MalformedPacket` (or
:class:`~mywire.errors.TruncatedPacket`) naming the row, the column and the byte offset
in ``data``; both backends raise the same class and message.  A span outside ``data``
raises ``ValueError`` before any row is decoded.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import _backend
from .events import ColumnDefinition

__all__ = ["decode_rows", "row_spans"]


def decode_rows(
    columns: Sequence[ColumnDefinition],
    data: bytes | bytearray | memoryview,
    spans: Sequence[int],
    *,
    binary: bool,
) -> list[tuple[object, ...]]:
    """Decode row payloads to tuples of Python values (see the module docstring).

    Args:
        columns: the resultset's column definitions (a tuple is cached; pass the same
            tuple for every batch of one resultset).
        data: the buffer holding the row payloads; kept alive and unchanged by the caller
            for the duration of the call.
        spans: ``[start0, len0, start1, len1, ...]`` of the row payloads in ``data``
            (a list or tuple, or without a copy a uint64 ``memoryview`` such as
            ``Rows.spans``, or an ``array('Q')``).
        binary: the rows are binary-protocol rows (COM_STMT_EXECUTE), else text rows.

    Returns:
        One tuple per row, in order.

    Raises:
        MalformedPacket: a row does not parse (TruncatedPacket when it ends early); the
            message names the row, the column and the offset in ``data``.
        ValueError: ``spans`` has an odd length or a span lies outside ``data``.

    Any other exception is a bug.
    """
    if len(spans) % 2:
        raise ValueError(f"spans must hold (start, length) pairs, got {len(spans)} numbers")
    cols = columns if isinstance(columns, tuple) else tuple(columns)
    return _backend.IMPL.decode_rows(cols, data, spans, binary=binary)  # type: ignore[no-any-return]


def row_spans(payloads: Sequence[bytes | bytearray | memoryview]) -> tuple[bytes, list[int]]:
    """Join row payloads into one buffer and the spans that locate them in it.

    ``decode_rows(columns, *row_spans(payloads), binary=...)`` decodes a list of payloads
    (e.g. ``Rows.rows``) in one call.
    """
    spans: list[int] = []
    pos = 0
    for payload in payloads:
        n = memoryview(payload).nbytes
        spans.append(pos)
        spans.append(n)
        pos += n
    return b"".join(payloads), spans
