"""C row transcoder adapter: one ``mw_transcode_rows`` call for a whole chunk of rows.

The compact column array (kind, binary width, decimals, option bits) is built once per
:class:`~mywire._tcspec.TSpec` and cached.  The output buffer is sized from the rows'
extent; when it fills up, C reports the rows it finished, the loop keeps them and goes on
with a larger buffer.  Resultsets with a column in a charset only Python's codecs know
go to the pure transcoder (same output, slower).  Errors are built by the shared
:func:`mywire._tcspec.row_error`.

Importing this module fails with ImportError when the extension is not built.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from . import _tcspec as T
from ._crows import _c_spans
from ._cwire import ffi, lib

__all__ = ["transcode_rows"]

_ALLOC = ffi.new_allocator(should_clear_after_alloc=False)
# One output buffer per thread, reused across calls (the output is copied out as bytes):
# a fresh buffer per call costs a page fault per 4 KiB written.  Kept up to this size.
_KEEP = 8 << 20
_local = threading.local()


def _buffer(size: int) -> Any:
    buf = getattr(_local, "buf", None)
    if buf is not None and len(buf) >= size:
        return buf
    buf = _ALLOC("uint8_t[]", size)
    if size <= _KEEP:
        _local.buf = buf
    return buf


# Output bytes a row may need beyond its wire bytes: separators, brackets, quotes,
# escapes of short values, formatted numbers and temporals.
_PER_ROW = 8
_PER_COLUMN = 40


@lru_cache(maxsize=256)
def _compiled(tspec: T.TSpec) -> Any:
    cols = ffi.new("mw_column[]", max(len(tspec.kinds), 1))
    rows = tspec.rows
    for i, kind in enumerate(tspec.kinds):
        cols[i].kind = kind
        cols[i].width = rows.widths[i]
        cols[i].decimals = rows.decimals[i]
        cols[i].opts = tspec.opts[i]
    return cols


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
    """See :mod:`mywire._tcspec` (``transcode_rows``)."""
    if tspec.needs_python:
        from . import _pytranscode

        return _pytranscode.transcode_rows(
            tspec, data, spans, first, count, binary=binary, fmt=fmt, sep=sep, budget=budget
        )
    nspans = len(spans) // 2
    if not 0 <= first <= nspans or not 0 <= count <= nspans - first:
        raise ValueError(f"rows {first}..{first + count} are outside the {nspans} spans")
    cols = _compiled(tspec)
    src = ffi.from_buffer(data)
    total = len(src)
    cspans = _c_spans(tspec.rows, data, spans)
    ncols = len(tspec.kinds)
    if count:
        last = 2 * (first + count - 1)
        lo, hi = spans[2 * first], spans[last] + spans[last + 1]
        extent = hi - lo if 0 <= hi - lo <= total else total
    else:
        extent = 0
    size = extent + extent // 2 + count * (_PER_ROW + _PER_COLUMN * ncols) + 64
    budget = min(budget, (1 << 64) - 1)
    res = ffi.new("mw_rows_result *")
    pieces: list[bytes] = []
    done = 0
    while True:
        out = _buffer(size)
        size = len(out)
        status = lib.mw_transcode_rows(
            cols,
            ncols,
            binary,
            fmt,
            sep or done > 0,
            src,
            total,
            cspans,
            nspans,
            first + done,
            count - done,
            budget,
            out,
            size,
            res,
        )
        if status == lib.MW_OK or status == lib.MW_ROWS_FULL or status == lib.MW_ROWS_BUDGET:
            if res.rows:
                pieces.append(ffi.buffer(out, res.end)[:])
                done += res.rows
                budget -= res.end
            if status != lib.MW_ROWS_FULL:
                break
            if not res.rows:
                size *= 2
            continue
        if status == lib.MW_E_ARGUMENT:
            raise ValueError(f"row {res.row}: a value of 4 GiB or more cannot be written")
        raise T.row_error(tspec, data, status, res.row, res.column, res.offset, res.a, res.b)
    if len(pieces) == 1:
        return pieces[0], done
    return b"".join(pieces), done
