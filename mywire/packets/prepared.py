"""Prepared statements: the COM_STMT_PREPARE OK and COM_STMT_EXECUTE's parameter block.

COM_STMT_PREPARE OK (MySQL page_protocol_com_stmt_prepare.html; MariaDB "COM_STMT_PREPARE")
    0x00, statement id (4), number of columns (2), number of parameters (2), a filler
    byte (0), warning count (2), and -- MySQL 8.0.3+ with
    CLIENT_OPTIONAL_RESULTSET_METADATA -- one ``metadata_follows`` byte
    (``Protocol_classic::store_ps_status`` in sql/protocol_classic.cc writes 13 bytes
    then, 12 otherwise; libmysqlclient's ``cli_read_prepare_result`` reads the byte
    after the warnings when the capability is negotiated).  The
    parameter definitions and then the column definitions follow, each block ended by an
    EOF unless CLIENT_DEPRECATE_EOF (PROTOCOL_NOTES #25); their layout is
    :mod:`mywire.packets.resultset`'s ColumnDefinition41.

COM_STMT_EXECUTE parameter block (MySQL page_protocol_com_stmt_execute.html; MariaDB
"COM_STMT_EXECUTE")
    What follows the command byte, statement id, flags and iteration count is kept as
    bytes in :class:`~mywire.events.StmtExecute` ``.params``; :func:`encode_params` and
    :func:`decode_params` produce and read it.  For ``n`` > 0 parameters:

    * the NULL bitmap, ``(n + 7) // 8`` bytes, bit ``i % 8`` of byte ``i // 8`` set for a
      NULL parameter -- no offset, unlike the 2-bit offset of binary resultset rows
      (PROTOCOL_NOTES #24);
    * the new-params-bound flag: 1 when the types follow, 0 to reuse the types of the
      previous execute of the statement;
    * with the flag, ``n`` 2-byte types: the MYSQL_TYPE_* byte, then a flag byte whose
      0x80 means unsigned (so ``0x8008`` read little-endian is BIGINT UNSIGNED);
    * the non-NULL values in the binary protocol: integers little-endian in 1 (TINY),
      2 (SHORT, YEAR), 4 (LONG, INT24) or 8 (LONGLONG) bytes; FLOAT and DOUBLE as IEEE
      754; DATE/DATETIME/TIMESTAMP as a length byte (0, 4, 7 or 11) then year (2), month,
      day, hour, minute, second, microseconds (4); TIME as a length byte (0, 8 or 12) then
      a sign byte, days (4), hours, minutes, seconds, microseconds (4); everything else
      (strings, blobs, DECIMAL as text, JSON, BIT, GEOMETRY) length-encoded.

    With ``n`` = 0 the block is empty.  MariaDB 10.2+ accepts statement id 0xFFFFFFFF,
    "the statement prepared last", so PREPARE and EXECUTE can be pipelined
    (PROTOCOL_NOTES #27); :mod:`mywire.packets.command` passes it through unchanged.
    MySQL 8.0.23+ with CLIENT_QUERY_ATTRIBUTES adds a parameter count and a name per type
    to this block; that form is not handled here.

Long data (COM_STMT_SEND_LONG_DATA)
    A client may stream a parameter's value in COM_STMT_SEND_LONG_DATA packets before
    the execute.  Such a parameter keeps its type in the block, but its NULL bit is clear
    and *no value* is written for it: the server uses the accumulated data.  Pass its
    index in ``long_data`` to both functions; :func:`decode_params` then returns
    :data:`LONG_DATA` in its place.

Python values (both directions): None is NULL; bool is TINY; int is the smallest of
TINY, SHORT, LONG, LONGLONG that holds it (LONGLONG UNSIGNED for 2**63..2**64-1);
float is DOUBLE; :class:`~decimal.Decimal` is NEWDECIMAL sent as plain-notation text
(``format(d, "f")``: ``Decimal("1E+2")`` goes as ``100``, never with an exponent); str is
VAR_STRING (UTF-8); bytes-likes are BLOB; date is DATE; datetime is DATETIME with the
shortest length that keeps the value (4 at midnight, 7 without microseconds, else 11;
never 0, which means 0000-00-00 00:00:00); time and timedelta are TIME (0, 8 or 12 bytes,
range -838:59:59 .. 838:59:59).  NaN and infinities (float or Decimal) are refused:
MySQL stores neither.  Decoding TIME always gives a timedelta (TIME is a duration:
PyMySQL and MySQL Connector/Python do the same), so a ``time`` comes back as the
timedelta since midnight; a DATE sent with a time part (length 7 or 11) reads as its
date, as the servers store it; DECIMAL text may use any form the servers parse
(``-1.5e3``, ``.5``) but nothing else.  Zero and partial dates
(``0000-00-00``, ``2016-00-00``) have no Python form and decode to their text, never to
None (PROTOCOL_NOTES #15).  Unknown types decode as length-encoded bytes (#23).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import struct
from collections.abc import Collection, Sequence
from decimal import Decimal, InvalidOperation
from typing import Final, NamedTuple, TypeAlias

from ..codec import Reader, Writer
from ..constants import FieldType as T
from ..errors import MalformedPacket
from ._text import as_int, dec

__all__ = [
    "LONG_DATA",
    "UNSIGNED",
    "LongData",
    "ParamValue",
    "PrepareOk",
    "build_prepare_ok",
    "decode_params",
    "encode_params",
    "infer_type",
    "parse_prepare_ok",
]

#: The unsigned flag of a 2-byte parameter type (0x80 in its high byte).
UNSIGNED: Final = 0x8000
_MAX_PARAMS = 0xFFFF  # the prepare OK's parameter count is 2 bytes


class LongData:
    """Sentinel type: the parameter's value was sent with COM_STMT_SEND_LONG_DATA."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "LONG_DATA"


LONG_DATA: Final = LongData()

ParamValue: TypeAlias = (
    None
    | int
    | float
    | Decimal
    | str
    | bytes
    | dt.date
    | dt.datetime
    | dt.time
    | dt.timedelta
    | LongData
)


# ------------------------------------------------------------------------ prepare OK


class PrepareOk(NamedTuple):
    """The first packet of a COM_STMT_PREPARE response.

    ``metadata_follows`` is None when the packet has no metadata-follows byte (12 bytes:
    the definitions always follow), else what the byte says.
    """

    statement_id: int
    num_columns: int
    num_params: int
    warnings: int = 0
    metadata_follows: bool | None = None


def parse_prepare_ok(payload: bytes) -> PrepareOk:
    """Parse a COM_STMT_PREPARE OK packet.

    Raises:
        MalformedPacket: a header other than 0x00, a metadata-follows byte other than 0
            or 1, or bytes after it.
        TruncatedPacket: fewer than 12 bytes.
    """
    if payload[:1] not in (b"", b"\x00"):
        raise MalformedPacket(
            f"malformed packet: header 0x{payload[0]:02x} at offset 0",
            offset=0,
            expected="COM_STMT_PREPARE OK header 0x00",
        )
    r = Reader(payload)
    _, sid, ncols, nparams, warnings = r.unpack("BIHHxH")
    follows = None
    if not r.at_end():
        at = r.offset
        flag = r.int1()
        if flag > 1:
            raise MalformedPacket(
                f"malformed packet: metadata-follows byte {flag} at offset {at}",
                offset=at,
                expected="metadata-follows byte 0 or 1",
            )
        follows = flag == 1
        r.expect_end()
    return PrepareOk(as_int(sid), as_int(ncols), as_int(nparams), as_int(warnings), follows)


def build_prepare_ok(ok: PrepareOk) -> bytes:
    """Build a COM_STMT_PREPARE OK packet (server role); the metadata-follows byte is
    written unless ``metadata_follows`` is None.

    Raises:
        ValueError: a field out of range.
    """
    w = Writer().pack("BIHHxH", 0, ok.statement_id, ok.num_columns, ok.num_params, ok.warnings)
    if ok.metadata_follows is not None:
        w.int1(1 if ok.metadata_follows else 0)
    return w.getvalue()


# ------------------------------------------------------------------------- type tables

_INT_WIDTH: dict[int, int] = {
    T.MYSQL_TYPE_TINY: 1,
    T.MYSQL_TYPE_SHORT: 2,
    T.MYSQL_TYPE_YEAR: 2,
    T.MYSQL_TYPE_LONG: 4,
    T.MYSQL_TYPE_INT24: 4,
    T.MYSQL_TYPE_LONGLONG: 8,
}
_TEMPORAL = frozenset((T.MYSQL_TYPE_DATE, T.MYSQL_TYPE_DATETIME, T.MYSQL_TYPE_TIMESTAMP))
_DECIMALS = frozenset((T.MYSQL_TYPE_DECIMAL, T.MYSQL_TYPE_NEWDECIMAL))
_TEXT = frozenset(
    (
        T.MYSQL_TYPE_STRING,
        T.MYSQL_TYPE_VAR_STRING,
        T.MYSQL_TYPE_VARCHAR,
        T.MYSQL_TYPE_ENUM,
        T.MYSQL_TYPE_SET,
        T.MYSQL_TYPE_JSON,
    )
)
_BINARY = frozenset(
    (
        T.MYSQL_TYPE_TINY_BLOB,
        T.MYSQL_TYPE_MEDIUM_BLOB,
        T.MYSQL_TYPE_LONG_BLOB,
        T.MYSQL_TYPE_BLOB,
        T.MYSQL_TYPE_GEOMETRY,
        T.MYSQL_TYPE_BIT,
    )
)
_DECIMAL_TEXT = re.compile(rb"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_US = dt.timedelta(microseconds=1)
#: TIME's range is -838:59:59 .. 838:59:59 (MySQL and MariaDB reference manuals).
_TIME_MAX_US = ((838 * 60 + 59) * 60 + 59) * 1_000_000
_BYTES_LIKE = (bytes, bytearray, memoryview)


def infer_type(value: object) -> int:
    """The 2-byte parameter type :func:`encode_params` sends for ``value``.

    Raises:
        TypeError: a Python type with no mapping.
        ValueError: an int outside -2**63 .. 2**64-1.
    """
    if value is None:
        return T.MYSQL_TYPE_NULL
    if isinstance(value, bool):
        return T.MYSQL_TYPE_TINY
    if isinstance(value, int):
        if -(1 << 7) <= value < 1 << 7:
            return T.MYSQL_TYPE_TINY
        if -(1 << 15) <= value < 1 << 15:
            return T.MYSQL_TYPE_SHORT
        if -(1 << 31) <= value < 1 << 31:
            return T.MYSQL_TYPE_LONG
        if -(1 << 63) <= value < 1 << 63:
            return T.MYSQL_TYPE_LONGLONG
        if 0 <= value < 1 << 64:
            return T.MYSQL_TYPE_LONGLONG | UNSIGNED
        raise ValueError(f"{value} is out of range for a parameter (-2**63 .. 2**64-1)")
    if isinstance(value, float):
        return T.MYSQL_TYPE_DOUBLE
    if isinstance(value, Decimal):
        return T.MYSQL_TYPE_NEWDECIMAL
    if isinstance(value, str):
        return T.MYSQL_TYPE_VAR_STRING
    if isinstance(value, _BYTES_LIKE):
        return T.MYSQL_TYPE_BLOB
    if isinstance(value, dt.datetime):  # before date: datetime is a date subclass
        return T.MYSQL_TYPE_DATETIME
    if isinstance(value, dt.date):
        return T.MYSQL_TYPE_DATE
    if isinstance(value, (dt.time, dt.timedelta)):
        return T.MYSQL_TYPE_TIME
    raise TypeError(f"cannot send a {type(value).__name__} as a statement parameter")


# ---------------------------------------------------------------------------- encoding


def _type_name(t: int) -> str:
    base = t & 0xFF
    try:
        name = T(base).name
    except ValueError:
        name = f"type {base}"
    return name + (" UNSIGNED" if t & UNSIGNED else "")


def _write_int(w: Writer, t: int, value: object) -> None:
    if not isinstance(value, int):
        raise TypeError(f"{_type_name(t)} needs an int, got {type(value).__name__}")
    width = _INT_WIDTH[t & 0xFF]
    unsigned = bool(t & UNSIGNED)
    lo, hi = (0, 1 << (8 * width)) if unsigned else (-(1 << (8 * width - 1)), 1 << (8 * width - 1))
    if not lo <= value < hi:
        raise ValueError(f"{value} is out of range for {_type_name(t)}")
    w.raw(int(value).to_bytes(width, "little", signed=not unsigned))


def _write_float(w: Writer, t: int, value: object) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{_type_name(t)} needs a float, got {type(value).__name__}")
    f = float(value)
    if not math.isfinite(f):
        raise ValueError(f"MySQL has no {f} in FLOAT/DOUBLE")
    try:
        w.raw(struct.pack("<f" if t & 0xFF == T.MYSQL_TYPE_FLOAT else "<d", f))
    except OverflowError as exc:
        raise ValueError(f"{f} is out of range for {_type_name(t)}") from exc


def _decimal_text(value: object) -> bytes:
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise TypeError(f"DECIMAL needs a Decimal or an int, got {type(value).__name__}")
    d = Decimal(value)
    if not d.is_finite():
        raise ValueError(f"MySQL DECIMAL has no {d}")
    # "f" never uses an exponent: Decimal("1E+2") -> "100", Decimal("1E-30") -> "0.00...1".
    return format(d, "f").encode("ascii")


def _time_us(value: dt.time | dt.timedelta) -> int:
    if isinstance(value, dt.time):
        if value.tzinfo is not None:
            raise ValueError("TIME cannot carry a time zone")
        return (
            (value.hour * 60 + value.minute) * 60 + value.second
        ) * 1_000_000 + value.microsecond
    return value // _US


def _write_time(w: Writer, value: object) -> None:
    if not isinstance(value, (dt.time, dt.timedelta)):
        raise TypeError(f"TIME needs a time or timedelta, got {type(value).__name__}")
    total = _time_us(value)
    if abs(total) > _TIME_MAX_US:
        raise ValueError(f"{value!r} is outside TIME's range -838:59:59 .. 838:59:59")
    if total == 0:
        w.int1(0)
        return
    secs, us = divmod(abs(total), 1_000_000)
    days, secs = divmod(secs, 86_400)
    hours, secs = divmod(secs, 3_600)
    minutes, seconds = divmod(secs, 60)
    if us:
        w.pack("BBIBBBI", 12, int(total < 0), days, hours, minutes, seconds, us)
    else:
        w.pack("BBIBBB", 8, int(total < 0), days, hours, minutes, seconds)


def _write_temporal(w: Writer, t: int, value: object) -> None:
    if not isinstance(value, dt.date):
        raise TypeError(f"{_type_name(t)} needs a date or datetime, got {type(value).__name__}")
    ymd = (value.year, value.month, value.day)
    if not isinstance(value, dt.datetime) or t & 0xFF == T.MYSQL_TYPE_DATE:
        w.pack("BHBB", 4, *ymd)
        return
    if value.tzinfo is not None:
        raise ValueError("DATETIME cannot carry a time zone: convert to a naive datetime first")
    hms = (value.hour, value.minute, value.second)
    if value.microsecond:
        w.pack("BHBBBBBI", 11, *ymd, *hms, value.microsecond)
    elif any(hms):
        w.pack("BHBBBBB", 7, *ymd, *hms)
    else:
        w.pack("BHBB", 4, *ymd)


def _write_value(w: Writer, t: int, value: object) -> None:
    base = t & 0xFF
    if base in _INT_WIDTH:
        _write_int(w, t, value)
    elif base in (T.MYSQL_TYPE_FLOAT, T.MYSQL_TYPE_DOUBLE):
        _write_float(w, t, value)
    elif base in _DECIMALS:
        w.pack("S", _decimal_text(value))
    elif base in _TEMPORAL:
        _write_temporal(w, t, value)
    elif base == T.MYSQL_TYPE_TIME:
        _write_time(w, value)
    elif base in _TEXT or base in _BINARY:
        if isinstance(value, str):
            w.pack("S", value.encode("utf-8"))
        elif isinstance(value, _BYTES_LIKE):
            w.pack("S", bytes(value))
        else:
            raise TypeError(f"{_type_name(t)} needs str or bytes, got {type(value).__name__}")
    elif base == T.MYSQL_TYPE_NULL:
        raise TypeError(f"a MYSQL_TYPE_NULL parameter must be None, got {type(value).__name__}")
    else:
        raise ValueError(f"cannot encode a parameter of {_type_name(t)}")


def encode_params(
    values: Sequence[object],
    *,
    types: Sequence[int | None] | None = None,
    send_types: bool = True,
    long_data: Collection[int] = (),
) -> bytes:
    """The COM_STMT_EXECUTE parameter block for ``values`` (bytes after the iteration
    count, for :attr:`StmtExecute.params <mywire.events.StmtExecute.params>`).

    Args:
        values: one Python value per placeholder (see the module docstring).
        types: per parameter, the 2-byte type to send instead of :func:`infer_type`'s
            (None entries are inferred); values are encoded for that type.  With
            ``send_types=False`` they must be the types of the statement's previous
            execute, which the server reuses.
        send_types: set the new-params-bound flag and write the types.
        long_data: indexes of parameters sent with COM_STMT_SEND_LONG_DATA: their type
            is kept, their value is not written (and their NULL bit stays clear).

    Raises:
        TypeError: a value of a type with no mapping, or that its explicit type cannot
            take.
        ValueError: a value out of range (ints, TIME beyond ±838:59:59, NaN/infinite
            floats and Decimals, tz-aware datetimes and times), ``types`` of the wrong
            length or with entries outside 0..0xFFFF, more than 65535 values.
    """
    n = len(values)
    if types is not None and len(types) != n:
        raise ValueError(f"{len(types)} types for {n} values")
    if n > _MAX_PARAMS:
        raise ValueError(f"{n} parameters: a statement has at most {_MAX_PARAMS}")
    for i in long_data:
        if not 0 <= i < n:
            raise ValueError(f"long_data index {i} is not a parameter (0..{n - 1})")
    if n == 0:
        return b""
    resolved: list[int] = []
    for i, v in enumerate(values):
        t = types[i] if types is not None else None
        if t is None:
            t = infer_type(v)
        elif isinstance(t, bool) or not isinstance(t, int) or not 0 <= t <= 0xFFFF:
            raise ValueError(f"parameter type {t!r} is not a 2-byte type code")
        resolved.append(t)
    bitmap = bytearray((n + 7) // 8)
    body = Writer()
    for i, (t, v) in enumerate(zip(resolved, values, strict=True)):
        if i in long_data:
            continue
        if v is None:
            bitmap[i // 8] |= 1 << (i % 8)
            continue
        _write_value(body, t, v)
    w = Writer().raw(bitmap).int1(1 if send_types else 0)
    if send_types:
        w.pack(f"{n}H", *resolved)
    return w.raw(body.getvalue()).getvalue()


# ---------------------------------------------------------------------------- decoding


def _bad(at: int, message: str, expected: str) -> MalformedPacket:
    return MalformedPacket(
        f"malformed packet: {message} at offset {at}", offset=at, expected=expected
    )


def _read_temporal(r: Reader, base: int) -> ParamValue:
    at = r.offset
    n = r.int1()
    if n not in (0, 4, 7, 11):
        raise _bad(at, f"{_type_name(base)} length {n}", "a date/time length of 0, 4, 7 or 11")
    y = mo = d = h = mi = s = us = 0
    if n >= 4:
        y, mo, d = (as_int(v) for v in r.unpack("HBB"))
    if n >= 7:
        h, mi, s = (as_int(v) for v in r.unpack("BBB"))
    if n == 11:
        us = r.int4()
    if base == T.MYSQL_TYPE_DATE:
        try:
            return dt.date(y, mo, d)
        except ValueError:  # zero or partial date: keep its text (PROTOCOL_NOTES #15)
            return f"{y:04d}-{mo:02d}-{d:02d}"
    try:
        return dt.datetime(y, mo, d, h, mi, s, us)
    except ValueError:
        text = f"{y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d}"
        return text + (f".{us:06d}" if n == 11 else "")


def _read_time(r: Reader) -> dt.timedelta:
    at = r.offset
    n = r.int1()
    if n not in (0, 8, 12):
        raise _bad(at, f"TIME length {n}", "a TIME length of 0, 8 or 12")
    if n == 0:
        return dt.timedelta(0)
    neg, days, h, m, s = (as_int(v) for v in r.unpack("BIBBB"))
    us = r.int4() if n == 12 else 0
    total = (((days * 24 + h) * 60 + m) * 60 + s) * 1_000_000 + us
    if total > dt.timedelta.max // _US:
        raise _bad(at, f"TIME of {days} days", "a TIME value Python can hold")
    # The servers read any non-zero sign byte as negative.
    return dt.timedelta(microseconds=-total if neg else total)


def _read_value(r: Reader, t: int) -> ParamValue:
    base = t & 0xFF
    if base in _INT_WIDTH:
        raw = r.fixed(_INT_WIDTH[base])
        return int.from_bytes(raw, "little", signed=not t & UNSIGNED)
    if base == T.MYSQL_TYPE_DOUBLE:
        return float(struct.unpack("<d", r.fixed(8))[0])
    if base == T.MYSQL_TYPE_FLOAT:
        return float(struct.unpack("<f", r.fixed(4))[0])
    if base in _TEMPORAL:
        return _read_temporal(r, base)
    if base == T.MYSQL_TYPE_TIME:
        return _read_time(r)
    at = r.offset
    data = r.lenenc_str()
    if base in _DECIMALS:
        if _DECIMAL_TEXT.fullmatch(data) is None:
            raise _bad(at, f"DECIMAL text {data[:40]!r}", "a decimal number in text")
        try:
            return Decimal(data.decode("ascii"))
        except InvalidOperation as exc:  # pragma: no cover - the pattern admits only numbers
            raise _bad(at, "DECIMAL text", "a decimal number in text") from exc
    if base in _TEXT:
        return dec(data)
    return data  # blobs, BIT, GEOMETRY, and unknown types (PROTOCOL_NOTES #23)


def decode_params(
    block: bytes,
    num_params: int,
    *,
    types: Sequence[int] | None = None,
    long_data: Collection[int] = (),
) -> tuple[tuple[ParamValue, ...], tuple[int, ...]]:
    """Decode a COM_STMT_EXECUTE parameter block (server role).

    Args:
        block: :attr:`StmtExecute.params <mywire.events.StmtExecute.params>`.
        num_params: the statement's parameter count (from its prepare OK).
        types: the types of the previous execute, used when the new-params-bound flag
            is 0.
        long_data: indexes of parameters whose value came with COM_STMT_SEND_LONG_DATA;
            they read as :data:`LONG_DATA`.

    Returns:
        The values (None for NULL; see the module docstring for the rest) and the
        2-byte types that apply (to pass as ``types`` to the next execute).

    Raises:
        MalformedPacket, TruncatedPacket: the bytes do not match (a flag other than 0/1,
            the flag 0 with no ``types``, a bad date/time length, DECIMAL text that is
            not a number, values missing or left over).
        ValueError: ``num_params`` outside 0..65535 or ``types`` of the wrong length.
    """
    if not 0 <= num_params <= _MAX_PARAMS:
        raise ValueError(f"num_params {num_params} is outside 0..{_MAX_PARAMS}")
    if types is not None and len(types) != num_params:
        raise ValueError(f"{len(types)} types for {num_params} parameters")
    r = Reader(block)
    if num_params == 0:
        r.expect_end()
        return (), ()
    bitmap = r.fixed((num_params + 7) // 8)
    at = r.offset
    flag = r.int1()
    if flag == 1:
        got = tuple(as_int(v) for v in r.unpack(f"{num_params}H"))
    elif flag == 0:
        if types is None:
            raise _bad(
                at,
                "new-params-bound flag 0 with no types from a previous execute",
                "new-params-bound flag 1 (types) on a statement's first execute",
            )
        got = tuple(types)
    else:
        raise _bad(at, f"new-params-bound flag {flag}", "new-params-bound flag 0 or 1")
    values: list[ParamValue] = []
    for i, t in enumerate(got):
        if i in long_data:
            values.append(LONG_DATA)
        elif bitmap[i // 8] >> (i % 8) & 1 or t & 0xFF == T.MYSQL_TYPE_NULL:
            values.append(None)
        else:
            values.append(_read_value(r, t))
    r.expect_end()
    return tuple(values), got
