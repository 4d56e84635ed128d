"""C backend: adapters over the compiled ``mywire._cwire`` module.

Same four functions, results and exceptions as :mod:`mywire._pycore`.  C does the byte
loops; this module allocates the output arrays, keeps input buffers alive across the call
and turns status codes into the exceptions the pure code raises (through the same
constructors in :mod:`mywire._format` and :mod:`mywire._pycore`).

Importing this module fails with ImportError when the extension is not built, which is
how :mod:`mywire._backend` notices.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from . import _format as F
from ._cfloat import format_doubles, format_floats32
from ._crows import decode_rows
from ._ctranscode import transcode_rows
from ._cwire import ffi, lib
from ._pycore import (
    MAX_PACKET,
    SCAN_ERROR,
    SCAN_NEED_BODY,
    SCAN_NEED_HEADER,
    SCAN_OK,
    SCAN_ROW_STOP,
    ScanResult,
    encoded_size,
    out_of_sync,
    too_large,
)
from .errors import ProtocolError

__all__ = [
    "build_packets",
    "decode_rows",
    "format_doubles",
    "format_floats32",
    "pack",
    "scan_packets",
    "transcode_rows",
    "unpack_from",
]

Value = int | bytes | None

_U64_MAX = (1 << 64) - 1

_STATUS = {
    lib.MW_OK: SCAN_OK,
    lib.MW_NEED_HEADER: SCAN_NEED_HEADER,
    lib.MW_NEED_BODY: SCAN_NEED_BODY,
    lib.MW_ROW_STOP: SCAN_ROW_STOP,
}


@lru_cache(maxsize=512)
def _compiled(items: tuple[tuple[str, int], ...]) -> tuple[Any, Any, int]:
    ops = ffi.new("uint8_t[]", [F.FORMAT_CODES[c][0] for c, _ in items] or [0])
    args = ffi.new("uint32_t[]", [n for _, n in items] or [0])
    return ops, args, len(items)


def _codec_error(status: int, items: tuple[tuple[str, int], ...], err: Any) -> Exception:
    code, n = items[err.item]
    off = err.offset
    if status == lib.MW_E_TRUNCATED:
        return F.truncated(code, n, off, err.a)
    if status == lib.MW_E_TRUNCATED_BODY:
        return F.truncated_body(code, off, err.a, err.b)
    if status == lib.MW_E_NO_NUL:
        return F.no_nul(off, err.a)
    if status == lib.MW_E_BAD_PREFIX:
        return F.bad_prefix(code, off, err.a)
    return RuntimeError(f"mywire C core returned status {status}")  # a bug, never expected


def unpack_from(
    fmt: str, buf: bytes | bytearray | memoryview, offset: int = 0
) -> tuple[tuple[Value, ...], int]:
    items = F.compile_format(fmt)
    data = buf if isinstance(buf, bytes) else bytes(buf)
    if offset < 0 or offset > len(data):
        raise ValueError(f"offset {offset} outside a buffer of {len(data)} bytes")
    ops, args, nitems = _compiled(items)
    out = ffi.new("mw_value[]", max(nitems, 1))
    end = ffi.new("size_t *")
    err = ffi.new("mw_error *")
    status = lib.mw_unpack(ops, args, nitems, data, len(data), offset, out, end, err)
    if status != lib.MW_OK:
        raise _codec_error(status, items, err)
    values: list[Value] = []
    for i in range(nitems):
        v = out[i]
        kind = v.kind
        if kind == 0:
            values.append(v.value)
        elif kind == 1:
            start = v.value
            values.append(data[start : start + v.len])
        elif kind == 2:
            values.append(None)
    return tuple(values), end[0]


def pack(items: tuple[tuple[str, int], ...], values: tuple[Value, ...]) -> bytes:
    size = encoded_size(items, values)
    ops, args, nitems = _compiled(items)
    n = max(nitems, 1)
    ints = ffi.new("uint64_t[]", n)
    lens = ffi.new("uint64_t[]", n)
    nulls = ffi.new("uint8_t[]", n)
    ptrs = ffi.new("uint8_t *[]", n)
    keep = []
    vi = 0
    for i, (code, _) in enumerate(items):
        if code == "x":
            continue
        v = values[vi]
        vi += 1
        if v is None:
            nulls[i] = 1
        elif isinstance(v, int):
            ints[i] = v
        else:
            ref = ffi.from_buffer(v)
            keep.append(ref)
            ptrs[i] = ffi.cast("uint8_t *", ref)
            lens[i] = len(v)
    out = ffi.new("uint8_t[]", max(size, 1))
    written = lib.mw_pack(ops, args, nitems, ints, ptrs, lens, nulls, out, size)
    if written != size:
        raise RuntimeError(f"mywire C core packed {written} bytes, expected {size}")  # a bug
    return ffi.buffer(out, size)[:]  # type: ignore[no-any-return]


def scan_packets(
    buf: bytes,
    start: int,
    base: int,
    seq: int,
    partial: int,
    max_payload: int,
    max_count: int,
    rows: int = 0,
    flat: bool = False,
) -> ScanResult:
    # The C side counts in 64 bits; a larger maximum means "no maximum".
    max_payload = min(max_payload, _U64_MAX)
    spans = ffi.new("uint64_t[]", 2 * max_count)
    res = ffi.new("mw_scan_result *")
    lib.mw_scan_packets(
        buf, len(buf), start, seq, partial, max_payload, rows, spans, max_count, res
    )
    count = res.count
    pairs: list[tuple[int, int]] | memoryview
    if flat:
        # No Python int per row: the span array itself, as uint64s.
        pairs = memoryview(ffi.buffer(spans, 16 * count)).cast("B").cast("Q")
    else:
        ints = ffi.unpack(spans, 2 * count)
        pairs = list(zip(ints[::2], ints[1::2], strict=True))
    status = res.status
    error: ProtocolError | None = None
    if status == lib.MW_E_OUT_OF_SYNC:
        error = out_of_sync(base + res.err.offset, res.err.a, res.err.b)
    elif status == lib.MW_E_TOO_LARGE:
        error = too_large(base + res.err.offset, res.err.a, max_payload)
    elif status not in _STATUS:
        raise RuntimeError(f"mywire C core returned status {status}")  # a bug
    return ScanResult(
        pairs,
        res.end,
        res.seq,
        res.partial,
        SCAN_ERROR if error is not None else _STATUS[status],
        res.need,
        error,
    )


def build_packets(payload: bytes | bytearray | memoryview, seq: int) -> tuple[bytes, int]:
    if len(payload) < MAX_PACKET and isinstance(payload, bytes):
        # One packet: the work is one copy, which bytes concatenation does at memcpy
        # speed; a cffi call would only add its ~0.5 us (bench/RESULTS.md).
        return (len(payload) | seq << 24).to_bytes(4, "little") + payload, (seq + 1) & 0xFF
    src = ffi.from_buffer(payload)
    n = len(src)
    size = n + 4 * (n // MAX_PACKET + 1)
    # A fresh bytes object of >= 2 bytes is never shared (only b"" and 1-byte bytes are
    # cached singletons) and is not hashed yet, so C may fill it before anyone sees it:
    # the same thing PyBytes_FromStringAndSize(NULL, n) callers do, and the only way to
    # hand back ``bytes`` without a second copy of a large payload.
    out = bytes(size)
    nseq = lib.mw_build_packets(src, n, seq, ffi.from_buffer(out), size)
    if nseq < 0:
        raise RuntimeError("mywire C core: framing buffer too small")  # a bug
    return out, nseq
