"""C row decoder adapter: one cffi call for many rows, one ``msgpack.unpackb`` to objects.

The compact column array (kind, binary width, decimals per column) is built once per
columns tuple and cached.  ``mw_decode_rows`` writes every row into one msgpack array in
an output buffer sized from the spans' extent (an upper bound unless spans overlap); if
the buffer fills up anyway, C reports how many rows it finished and the loop unpacks
those and continues with the rest (doubling the buffer when not even one row fit).
:func:`mywire._rowspec.finish_rows` then does what msgpack cannot (Decimal, dates,
non-UTF-8 text), the same pass the pure decoder runs, and errors are built by the same
:func:`mywire._rowspec.row_error`.

Importing this module fails with ImportError when the extension is not built.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import msgpack  # type: ignore[import-untyped]  # no stubs, no py.typed

from . import _rowspec as R
from ._cwire import ffi, lib
from .events import ColumnDefinition

__all__ = ["decode_rows"]

# Output buffers are written by C before anything reads them: skip zero-filling them.
_ALLOC = ffi.new_allocator(should_clear_after_alloc=False)
_U64_FORMATS = frozenset({"Q", "=Q", "<Q"} if sys.byteorder == "little" else {"Q", "=Q", ">Q"})


@lru_cache(maxsize=256)
def _compiled(columns: tuple[ColumnDefinition, ...]) -> tuple[R.RowSpec, Any]:
    spec = R.spec_for(columns)
    cols = ffi.new("mw_column[]", max(len(columns), 1))
    for i, (kind, width, decimals) in enumerate(
        zip(spec.kinds, spec.widths, spec.decimals, strict=True)
    ):
        cols[i].kind = kind
        cols[i].width = width
        cols[i].decimals = decimals
    return spec, cols


def _c_spans(spec: R.RowSpec, data: Any, spans: Sequence[int]) -> Any:
    # uint64 buffers (the reader's memoryview, array('Q')) go to C without a copy.
    if isinstance(spans, memoryview) and spans.format in _U64_FORMATS and spans.c_contiguous:
        return ffi.from_buffer("uint64_t[]", spans)
    if isinstance(spans, array) and spans.typecode == "Q":
        return ffi.from_buffer("uint64_t[]", spans)
    try:
        return ffi.new("uint64_t[]", spans if isinstance(spans, list | tuple) else list(spans))
    except OverflowError:
        # A negative or >= 2**64 span: report it exactly as the pure decoder does.
        R.check_spans(spec, data, spans)
        raise


def _initial_size(spec: R.RowSpec, spans: Sequence[int], nrows: int, total: int) -> int:
    extent = spans[-2] + spans[-1] - spans[0]
    if not 0 <= extent <= total:
        extent = total
    return extent + nrows * spec.extra_per_row + 16


def decode_rows(
    columns: tuple[ColumnDefinition, ...],
    data: bytes | bytearray | memoryview,
    spans: Sequence[int],
    *,
    binary: bool,
) -> list[tuple[object, ...]]:
    """See :func:`mywire.rows.decode_rows`."""
    spec, cols = _compiled(columns)
    nrows = len(spans) // 2
    src = ffi.from_buffer(data)
    total = len(src)
    cspans = _c_spans(spec, data, spans)
    if nrows == 0:
        return []
    size = _initial_size(spec, spans, nrows, total)
    out = _ALLOC("uint8_t[]", size)
    res = ffi.new("mw_rows_result *")
    ncols = len(columns)
    rows: list[Any] | None = None
    mutable = bool(spec.converters)  # finish_rows converts list rows in place
    first = 0
    while True:
        status = lib.mw_decode_rows(
            cols, ncols, binary, src, total, cspans, first, nrows, out, size, res
        )
        if status == lib.MW_OK or status == lib.MW_ROWS_FULL:
            done = res.rows
            if done:
                chunk = msgpack.unpackb(
                    memoryview(ffi.buffer(out, res.end))[res.start :],
                    use_list=mutable,
                    unicode_errors="surrogateescape",
                )
                if rows is None:
                    rows = list(chunk)
                else:
                    rows.extend(chunk)
                first += done
            if status == lib.MW_OK:
                break
            if not done:
                size *= 2
                out = _ALLOC("uint8_t[]", size)
            continue
        if status == lib.MW_E_ARGUMENT:
            raise ValueError(f"row {res.row}: a value of 4 GiB or more cannot be decoded")
        raise R.row_error(spec, data, status, res.row, res.column, res.offset, res.a, res.b)
    assert rows is not None
    return R.finish_rows(spec, rows, binary)
