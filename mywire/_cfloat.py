"""C adapter for shortest float text: ``mw_format_doubles`` / ``mw_format_floats32``.

Same functions and results as :mod:`mywire._pyfloat`.  Values are converted with ``array``
(as the pure twin does), handed to C in chunks, and the texts C writes back to back are
cut at the end offsets it reports.

Importing this module fails with ImportError when the extension is not built.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from typing import Any

from ._cwire import ffi, lib

__all__ = ["format_doubles", "format_floats32"]

_CHUNK = 1 << 16  # values per C call: 2 MiB of output at most
_TEXT_MAX = 32  # bytes one value can take (mw_dtoa.c)


def _run(fn: Callable[..., int], ctype: str, arr: array[Any]) -> list[str]:
    result: list[str] = []
    for start in range(0, len(arr), _CHUNK):
        part = arr[start : start + _CHUNK]
        n = len(part)
        cap = _TEXT_MAX * n
        out = ffi.new("uint8_t[]", cap)
        ends = ffi.new("uint32_t[]", n)
        total = fn(ffi.from_buffer(ctype, part), n, out, cap, ends)
        if total < 0:
            raise RuntimeError("mywire C core: float text buffer too small")  # a bug
        text = ffi.buffer(out, total)[:].decode("ascii")
        pos = 0
        for end in ffi.unpack(ends, n):
            result.append(text[pos:end])
            pos = end
    return result


def format_doubles(values: Iterable[float]) -> list[str]:
    return _run(lib.mw_format_doubles, "double[]", array("d", values))


def format_floats32(values: Iterable[float]) -> list[str]:
    return _run(lib.mw_format_floats32, "float[]", array("f", values))
