"""Pure-Python backend: field codec and packet scanner.

This module and :mod:`mywire._ccore` expose the same four functions with the same
results and the same exceptions; :mod:`mywire._backend` picks one.  Everything above them
(the incremental readers in :mod:`mywire.framing`, the Reader/Writer in
:mod:`mywire.codec`) is shared code, so backend parity reduces to these functions.

``scan_packets`` is the hot one: it walks a contiguous buffer of physical packets, checks
each header (sequence id, declared size against the maximum) before looking at the body,
and reports where the complete packets are, so the caller can slice payloads out without
copying anything twice.
"""

from __future__ import annotations

from array import array
from typing import NamedTuple

from . import _format as F
from ._pyfloat import format_doubles, format_floats32
from ._pyrows import decode_rows
from ._pytranscode import transcode_rows
from .errors import PacketsOutOfSync, PacketTooLarge, ProtocolError

__all__ = [
    "ScanResult",
    "decode_rows",
    "encoded_size",
    "format_doubles",
    "format_floats32",
    "pack",
    "scan_packets",
    "transcode_rows",
    "unpack_from",
]

Value = int | bytes | None

MAX_PACKET = 0xFFFFFF
# scan_packets statuses
SCAN_OK = 0  # stopped because max_count packets were found or the buffer ended on a boundary
SCAN_NEED_HEADER = 1  # fewer than 4 bytes of the next header are present
SCAN_NEED_BODY = 2  # the header is complete, the body is not (``need`` = declared length)
SCAN_ERROR = 3  # ``error`` says what
SCAN_ROW_STOP = 4  # rows mode: the next packet is a terminator, an ERR or a long row
ROWS_OFF = 0
ROWS_EOF = 1  # rows end with a classic EOF (0xFE, shorter than 9 bytes)
ROWS_DEPRECATE_EOF = 2  # rows end with an OK whose header is 0xFE (shorter than 16 MiB)


class ScanResult(NamedTuple):
    """What :func:`scan_packets` found.

    ``spans`` holds ``(body_offset, body_length)`` for each complete packet in order;
    ``end`` is the offset after the last complete packet; ``seq`` the next expected
    sequence id; ``partial`` the payload bytes accumulated by an unfinished run of
    0xFFFFFF-byte packets; ``need`` the declared body length on SCAN_NEED_BODY; ``error``
    the exception to raise once the spans before it have been delivered.  With
    ``flat=True`` the spans are one memoryview of native uint64 values
    ``[offset0, length0, offset1, ...]``, which C row decoders read as they are.
    """

    spans: list[tuple[int, int]] | memoryview
    end: int
    seq: int
    partial: int
    status: int
    need: int
    error: ProtocolError | None


def out_of_sync(offset: int, expected: int, actual: int) -> PacketsOutOfSync:
    return PacketsOutOfSync(
        f"packets out of sync: expected sequence id {expected} at offset {offset}, got {actual}",
        offset=offset,
        expected=f"sequence id {expected}",
        actual=actual,
    )


def too_large(offset: int, declared: int, maximum: int) -> PacketTooLarge:
    return PacketTooLarge(
        f"packet too large: payload at offset {offset} declares {declared} bytes, "
        f"more than the maximum of {maximum}",
        offset=offset,
        expected=f"a payload of at most {maximum} bytes",
    )


def scan_packets(
    buf: bytes,
    start: int,
    base: int,
    seq: int,
    partial: int,
    max_payload: int,
    max_count: int,
    rows: int = ROWS_OFF,
    flat: bool = False,
) -> ScanResult:
    """Find complete physical packets in ``buf[start:]``.

    Args:
        buf: the bytes to scan (not modified).
        start: where the next packet header begins.
        base: stream offset of ``buf[0]``, added to offsets in errors.
        seq: expected sequence id of the first packet, or -1 to accept any and continue
            from it.
        partial: payload bytes of the current logical payload already delivered by earlier
            0xFFFFFF-byte packets (counts toward ``max_payload``).
        max_payload: largest logical payload allowed.
        max_count: stop after this many packets.
        flat: return the spans as a flat uint64 memoryview (see :class:`ScanResult`).
        rows: ROWS_EOF or ROWS_DEPRECATE_EOF to stop (SCAN_ROW_STOP) before a packet that
            is not a plain single-packet row: a terminator (never judged by its first
            byte alone: under DEPRECATE_EOF a 0xFE row is a 16 MiB length prefix), an
            ERR, or the first packet of a row of 16 MiB or more.
    """
    spans: list[tuple[int, int]] = []
    end = len(buf)
    pos = start
    status = SCAN_OK
    need = 0
    error: ProtocolError | None = None
    while len(spans) < max_count:
        if end - pos < 4:
            status = SCAN_OK if pos == end else SCAN_NEED_HEADER
            break
        n = buf[pos] | buf[pos + 1] << 8 | buf[pos + 2] << 16
        s = buf[pos + 3]
        if seq >= 0 and s != seq:
            status, error = SCAN_ERROR, out_of_sync(base + pos, seq, s)
            break
        if partial + n > max_payload:
            status, error = SCAN_ERROR, too_large(base + pos, partial + n, max_payload)
            break
        if end - pos - 4 < n:
            status, need = SCAN_NEED_BODY, n
            break
        if rows and partial == 0 and _row_stop(buf, pos + 4, n, rows):
            status = SCAN_ROW_STOP
            break
        spans.append((pos + 4, n))
        if seq >= 0:
            seq = (s + 1) & 0xFF
        partial = partial + n if n == MAX_PACKET else 0
        pos += 4 + n
    if flat:
        return ScanResult(
            memoryview(array("Q", [x for span in spans for x in span])),
            pos,
            seq,
            partial,
            status,
            need,
            error,
        )
    return ScanResult(spans, pos, seq, partial, status, need, error)


def _row_stop(buf: bytes, body: int, n: int, rows: int) -> bool:
    if n == MAX_PACKET:
        return True
    if n == 0:
        return False
    head = buf[body]
    if head == 0xFF:
        return True
    if head == 0xFE:
        return n < 9 if rows == ROWS_EOF else n < MAX_PACKET
    return False


def unpack_from(
    fmt: str, buf: bytes | bytearray | memoryview, offset: int = 0
) -> tuple[tuple[Value, ...], int]:
    """Parse the fields ``fmt`` describes starting at ``offset``; return values and end offset."""
    items = F.compile_format(fmt)
    data = buf if isinstance(buf, bytes) else bytes(buf)
    end = len(data)
    if offset < 0 or offset > end:
        raise ValueError(f"offset {offset} outside a buffer of {end} bytes")
    pos = offset
    out: list[Value] = []
    for code, n in items:
        left = end - pos
        if code in "BHTIWQ":
            width = F.FORMAT_CODES[code][1]
            if left < width:
                raise F.truncated(code, n, pos, left)
            out.append(int.from_bytes(data[pos : pos + width], "little"))
            pos += width
        elif code in "LKSR":
            if left < 1:
                raise F.truncated(code, n, pos, left)
            first = data[pos]
            if first < 0xFB:
                value, width = first, 1
            elif first == 0xFB:
                if code in "KR":
                    out.append(None)
                    pos += 1
                    continue
                raise F.bad_prefix(code, pos, first)
            elif first == 0xFF:
                raise F.bad_prefix(code, pos, first)
            else:
                width = {0xFC: 3, 0xFD: 4, 0xFE: 9}[first]
                if left < width:
                    raise F.truncated(code, n, pos, left)
                value = int.from_bytes(data[pos + 1 : pos + width], "little")
            if code in "LK":
                out.append(value)
                pos += width
            else:
                if left - width < value:
                    raise F.truncated_body(code, pos, value, left - width)
                out.append(data[pos + width : pos + width + value])
                pos += width + value
        elif code == "Z":
            nul = data.find(b"\0", pos)
            if nul < 0:
                raise F.no_nul(pos, left)
            out.append(data[pos:nul])
            pos = nul + 1
        elif code == "E":
            out.append(data[pos:])
            pos = end
        else:  # "s" or "x"
            if left < n:
                raise F.truncated(code, n, pos, left)
            if code == "s":
                out.append(data[pos : pos + n])
            pos += n
    return tuple(out), pos


def lenenc_size(value: int) -> int:
    if value < 0xFB:
        return 1
    if value < 1 << 16:
        return 3
    if value < 1 << 24:
        return 4
    return 9


def encoded_size(items: tuple[tuple[str, int], ...], values: tuple[Value, ...]) -> int:
    """Bytes that ``pack`` will produce for already-validated values."""
    size = 0
    vi = 0
    for code, n in items:
        if code == "x":
            size += n
            continue
        v = values[vi]
        vi += 1
        if code in "BHTIWQ":
            size += F.FORMAT_CODES[code][1]
        elif v is None:
            size += 1
        elif code in "LK":
            assert isinstance(v, int)
            size += lenenc_size(v)
        elif code in "SR":
            assert isinstance(v, bytes)
            size += lenenc_size(len(v)) + len(v)
        elif code == "Z":
            assert isinstance(v, bytes)
            size += len(v) + 1
        else:  # E, s
            assert isinstance(v, bytes)
            size += len(v)
    return size


def _lenenc(value: int) -> bytes:
    if value < 0xFB:
        return bytes((value,))
    if value < 1 << 16:
        return b"\xfc" + value.to_bytes(2, "little")
    if value < 1 << 24:
        return b"\xfd" + value.to_bytes(3, "little")
    return b"\xfe" + value.to_bytes(8, "little")


def pack(items: tuple[tuple[str, int], ...], values: tuple[Value, ...]) -> bytes:
    """Encode values already checked by :func:`mywire.codec.check_values`."""
    parts: list[bytes] = []
    vi = 0
    for code, n in items:
        if code == "x":
            parts.append(bytes(n))
            continue
        v = values[vi]
        vi += 1
        if code in "BHTIWQ":
            assert isinstance(v, int)
            parts.append(v.to_bytes(F.FORMAT_CODES[code][1], "little"))
        elif v is None:
            parts.append(b"\xfb")
        elif code in "LK":
            assert isinstance(v, int)
            parts.append(_lenenc(v))
        elif code in "SR":
            assert isinstance(v, bytes)
            parts.append(_lenenc(len(v)))
            parts.append(v)
        elif code == "Z":
            assert isinstance(v, bytes)
            parts.append(v)
            parts.append(b"\0")
        else:
            assert isinstance(v, bytes)
            parts.append(v)
    return b"".join(parts)


def build_packets(payload: bytes | bytearray | memoryview, seq: int) -> tuple[bytes, int]:
    """Split a payload into physical packets; return the bytes and the next sequence id.

    Each packet carries at most 0xFFFFFF bytes.  A payload whose length is a non-zero
    multiple of 0xFFFFFF gets a trailing empty packet, because a full packet always tells
    the peer that another one follows; an empty payload is one empty packet.
    """
    view = memoryview(payload).cast("B")
    total = len(view)
    if total < MAX_PACKET:
        return (total | seq << 24).to_bytes(4, "little") + view, (seq + 1) & 0xFF
    parts: list[bytes | memoryview] = []
    pos = 0
    while True:
        n = min(total - pos, MAX_PACKET)
        parts.append(bytes((n & 0xFF, n >> 8 & 0xFF, n >> 16, seq)))
        parts.append(view[pos : pos + n])
        seq = (seq + 1) & 0xFF
        pos += n
        if n < MAX_PACKET:
            break
    return b"".join(parts), seq
