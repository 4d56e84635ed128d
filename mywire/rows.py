"""Rows to Python values: text-protocol and binary-protocol rows, C and pure.

Status: SPECIFICATION (the resultset issue fills this module in).

Input
-----
``decode_rows(columns, data, spans, *, binary)``: ``data`` is a buffer holding row
payloads (typically the receive buffer itself), ``spans`` a flat sequence
``[start0, len0, start1, len1, ...]`` locating each row payload inside ``data`` (what
``scan_packets`` reports), so no Python object per row exists before decoding.  Every
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
                                            -838:59:59..838:59:59
BIT                                         int (big-endian bytes)
JSON (245, or MariaDB extended type json)   str (UTF-8 whatever the column's charset)
text types, ENUM, SET with a text charset   str, decoded with the charset's codec
                                            (utf8/utf8mb4: UTF-8; latin1: MySQL's cp1252
                                            variant); bytes that do not decode are kept
                                            with ``surrogateescape``
binary charset (63): BINARY VARBINARY BLOB  bytes
GEOMETRY, VECTOR, unknown type codes        bytes
=========================================  ============================================

C path
------
One cffi call decodes many rows: C writes a msgpack document (an array of rows, each an
array of values, with the smallest headers ``msgpack.packb`` would use) and one
``msgpack.unpackb(..., use_list=False, unicode_errors="surrogateescape")`` call builds
the tuples.  Values msgpack has no type for travel as their text form (DECIMAL, DATE,
DATETIME, TIME) or as bin (text in non-UTF-8 charsets) and a per-column finishing pass
turns them into the types above; resultsets without such columns need no pass.

Errors
------
A row that does not parse raises :class:`~mywire.errors.MalformedPacket` (or
:class:`~mywire.errors.TruncatedPacket`) naming the column and the byte offset in
``data``; both backends raise the same class and message.
"""

from __future__ import annotations
