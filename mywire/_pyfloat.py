"""Pure-Python twin of csrc/mw_dtoa.c: shortest round-trip text of doubles and float32s.

Doubles are ``repr`` itself.  A float32 gets the fewest significant digits whose decimal
reads back as the same float32, found with exact rational arithmetic: for p = 1, 2, ...
the two p-digit decimals around the value (rounded down and up) are tested against the
float32's rounding interval (half-way to each neighbour, the ends included when the
significand is even, as round-half-even reading does), and the first p with a hit wins;
when both p-digit decimals read back, the one closer to the value (ties: even last
digit), as Schubfach in the C twin chooses.  Both texts are laid out as repr lays out a
float (see :func:`layout`).

Values are converted as ``array`` does ("d" for doubles, "f" for float32s: round to
nearest, out-of-range values to +-inf), by both backends.
"""

from __future__ import annotations

import math
import struct
from array import array
from collections.abc import Iterable
from fractions import Fraction

__all__ = ["format_doubles", "format_floats32", "layout"]


def format_doubles(values: Iterable[float]) -> list[str]:
    """``repr`` of each value as a double."""
    return [repr(v) for v in array("d", values)]


def format_floats32(values: Iterable[float]) -> list[str]:
    """Shortest round-trip text of each value rounded to float32, in repr's layout."""
    return [_shortest32(v) for v in array("f", values)]


def layout(digits: int, exponent: int, negative: bool) -> str:
    """repr's text for ``digits * 10**exponent`` (digits > 0).

    Scientific when the exponent of the first significant digit is below -4 or at least
    16 (``1e+16``, ``1.5e-05``), otherwise fixed with at least one digit after the point.
    """
    while digits % 10 == 0:
        digits //= 10
        exponent += 1
    text = str(digits)
    n = len(text)
    decpt = exponent + n  # value = 0.<text> * 10**decpt
    sign = "-" if negative else ""
    x = decpt - 1
    if x < -4 or x >= 16:
        mantissa = text[0] + ("." + text[1:] if n > 1 else "")
        return f"{sign}{mantissa}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if decpt <= 0:
        return f"{sign}0.{'0' * -decpt}{text}"
    if decpt < n:
        return f"{sign}{text[:decpt]}.{text[decpt:]}"
    return f"{sign}{text}{'0' * (decpt - n)}.0"


def _floor_log10(v: Fraction) -> int:
    k = math.floor(math.log10(v))  # within one of the truth; fixed up exactly below
    while Fraction(10) ** k > v:
        k -= 1
    while Fraction(10) ** (k + 1) <= v:
        k += 1
    return k


def _shortest32(x: float) -> str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    negative = math.copysign(1.0, x) < 0
    if x == 0:
        return "-0.0" if negative else "0.0"
    (bits,) = struct.unpack("<I", struct.pack("<f", abs(x)))
    bexp, frac = bits >> 23, bits & 0x7FFFFF
    c, q = (frac, -149) if bexp == 0 else (frac | 1 << 23, bexp - 150)
    ulp = Fraction(2) ** q
    v = c * ulp
    low = v - (ulp / 4 if frac == 0 and bexp > 1 else ulp / 2)
    high = v + ulp / 2
    inclusive = c % 2 == 0
    top = _floor_log10(v)
    for p in range(1, 10):
        e = top - p + 1
        scale = Fraction(10) ** e
        down = math.floor(v / scale)
        hits = [
            m
            for m in (down, down + 1)
            if (low <= m * scale <= high if inclusive else low < m * scale < high)
        ]
        if hits:
            best = min(hits, key=lambda m: (abs(m * scale - v), m % 2))
            return layout(best, e, negative)
    raise AssertionError(f"no float32 text found for {x!r}")  # 9 digits always suffice
