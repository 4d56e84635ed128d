"""Shortest round-trip text of floats, for the JSON transcoder.

:func:`format_doubles` gives exactly ``repr`` of each double; :func:`format_floats32`
gives, for each value rounded to float32 (a binary-protocol FLOAT), the fewest
significant digits that read back as the same float32 (closest to the value when
several do), in repr's layout (``1.1``, ``3.4028235e+38``, ``1e-45``).  Both run on the
selected backend (:mod:`mywire._backend`): C (``csrc/mw_dtoa.c``, Schubfach) or the pure
twin (:mod:`mywire._pyfloat`).
"""

from __future__ import annotations

from collections.abc import Iterable

from . import _backend

__all__ = ["format_doubles", "format_floats32"]


def format_doubles(values: Iterable[float]) -> list[str]:
    """``repr(float(v))`` for each value (converted as ``array("d", values)`` does)."""
    result: list[str] = _backend.IMPL.format_doubles(values)
    return result


def format_floats32(values: Iterable[float]) -> list[str]:
    """Shortest float32 round-trip text of each value (``array("f", values)`` rounding)."""
    result: list[str] = _backend.IMPL.format_floats32(values)
    return result
