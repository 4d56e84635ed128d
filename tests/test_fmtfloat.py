"""Shortest round-trip float text (mywire._fmtfloat) on both backends.

Doubles must equal ``repr``.  Float32 texts must read back as the same float32 and be
no longer than the pure twin's, and C must equal the pure twin.  Reading a decimal back
as a float32 is done exactly here (:func:`f32_exact`): ``struct.pack("<f", float(s))``
rounds twice (decimal to double to float32) and gets e.g. ``7.038531e-26`` wrong.
"""

from __future__ import annotations

import math
import random
import struct
from array import array
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

import mywire._backend
from mywire import _pyfloat
from mywire._fmtfloat import format_doubles, format_floats32

F32_MAX = 3.4028234663852886e38


def f32_exact(text: str) -> float:
    """The float32 nearest to a decimal text (ties to even), rounded once, exactly."""
    if text in ("inf", "-inf"):
        return float(text)
    v = Fraction(text)
    negative = v < 0 or text.startswith("-")
    v = abs(v)
    if v == 0:
        return -0.0 if negative else 0.0
    e = v.numerator.bit_length() - v.denominator.bit_length()
    while Fraction(2) ** e > v:
        e -= 1
    while Fraction(2) ** (e + 1) <= v:
        e += 1
    q = max(e, -126) - 23
    m = v / Fraction(2) ** q
    down = math.floor(m)
    rest = m - down
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and down % 2 == 1):
        down += 1
    x = math.ldexp(down, q)
    if x > F32_MAX:
        x = math.inf
    return -x if negative else x


def f32(x: float) -> float:
    return array("f", [x])[0]


def significant_digits(text: str) -> int:
    mantissa = text.lstrip("-").split("e")[0].replace(".", "")
    return len(mantissa.strip("0"))


def same_float(a: float, b: float) -> bool:
    return struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b))


DOUBLES = [
    (0.0, "0.0"),
    (-0.0, "-0.0"),
    (5e-324, "5e-324"),
    (2.0**-1074, "5e-324"),
    (2.2250738585072014e-308, "2.2250738585072014e-308"),
    (1.7976931348623157e308, "1.7976931348623157e+308"),
    (0.1, "0.1"),
    (0.3, "0.3"),
    (1 / 3, "0.3333333333333333"),
    (1e15, "1000000000000000.0"),
    (1e16, "1e+16"),
    (123456789012345678.0, "1.2345678901234568e+17"),
    (9007199254740993.0, "9007199254740992.0"),
    (1e22, "1e+22"),
    (1e23, "1e+23"),
    (1.0, "1.0"),
    (-1.5, "-1.5"),
    (0.0001, "0.0001"),
    (1e-5, "1e-05"),
    (1.5e-5, "1.5e-05"),
    (123456789012345.0, "123456789012345.0"),
    (9999999999999998.0, "9999999999999998.0"),
    (2.0**-1022, "2.2250738585072014e-308"),
    (math.nan, "nan"),
    (-math.nan, "nan"),
    (math.inf, "inf"),
    (-math.inf, "-inf"),
]

FLOATS32 = [
    (f32_exact("1.1"), "1.1"),
    (f32_exact("0.1"), "0.1"),
    (16777216.0, "16777216.0"),
    (f32_exact("3.4028235e38"), "3.4028235e+38"),
    (f32_exact("1.17549435e-38"), "1.1754944e-38"),
    (2.0**-149, "1e-45"),
    (f32_exact("7.038531e-26"), "7.038531e-26"),
    (f32(7.038531e-26), "7.0385313e-26"),  # the double 7.038531e-26 rounds to another float32
    (3 * 2.0**-149, "4e-45"),
    (f32(1 / 3), "0.33333334"),
    (1e10, "10000000000.0"),
    (f32(123456.789), "123456.79"),
    (2.0**127, "1.7014118e+38"),
    (0.0, "0.0"),
    (-0.0, "-0.0"),
    (1e300, "inf"),  # out of float32 range: inf, as array("f") converts
    (-1e300, "-inf"),
    (math.nan, "nan"),
    (math.inf, "inf"),
    (-math.inf, "-inf"),
]


@pytest.mark.parametrize(("value", "text"), DOUBLES, ids=[t for _, t in DOUBLES])
def test_double_edge_cases(value: float, text: str) -> None:
    assert format_doubles([value]) == [text]
    assert text == repr(value)


@pytest.mark.parametrize(("value", "text"), FLOATS32, ids=[t for _, t in FLOATS32])
def test_float32_edge_cases(value: float, text: str) -> None:
    assert format_floats32([value]) == [text]


def test_powers_of_two_and_ten() -> None:
    values = [2.0**e for e in range(-1074, 1024)]
    values += [float(f"1e{e}") for e in range(-323, 309)]
    values += [math.nextafter(v, math.inf) for v in values] + [-v for v in values]
    assert format_doubles(values) == [repr(v) for v in values]


def test_float32_powers_of_two_and_ten() -> None:
    values = [2.0**e for e in range(-149, 128)]
    values += [f32_exact(f"1e{e}") for e in range(-45, 39)]
    values = [v for v in values if 0 < v <= F32_MAX]
    texts = format_floats32(values)
    assert texts == _pyfloat.format_floats32(values)
    for v, t in zip(values, texts, strict=True):
        assert f32_exact(t) == v


def test_batches() -> None:
    assert format_doubles([]) == []
    assert format_floats32([]) == []
    rng = random.Random(7)
    values = [rng.uniform(-1e6, 1e6) for _ in range(70_000)]  # more than one C chunk
    assert format_doubles(values) == [repr(v) for v in values]
    assert format_doubles(range(3)) == ["0.0", "1.0", "2.0"]
    assert format_floats32(x / 4 for x in range(5)) == ["0.0", "0.25", "0.5", "0.75", "1.0"]


def test_double_random_bit_patterns() -> None:
    # The 1,000,000+ pattern sweep ran by hand (see the report); this keeps a slice of it.
    rng = random.Random(20201)
    n = 20_000
    values = list(struct.unpack(f"<{n}d", rng.randbytes(8 * n)))
    assert format_doubles(values) == [repr(v) for v in values]


def test_float32_random_bit_patterns_match_pure(backend: str) -> None:
    rng = random.Random(1998)
    n = 1_000
    values = list(array("f", rng.randbytes(4 * n)))
    texts = format_floats32(values)
    assert texts == _pyfloat.format_floats32(values)
    for v, t in zip(values, texts, strict=True):
        assert t == "nan" if math.isnan(v) else same_float(f32_exact(t), v)


@given(st.floats())
def test_double_is_repr(x: float) -> None:
    assert format_doubles([x]) == [repr(x)]


@given(st.floats(width=32))
def test_float32_round_trips_and_is_shortest(x: float) -> None:
    (text,) = format_floats32([x])
    (pure,) = _pyfloat.format_floats32([x])
    if math.isnan(x):
        assert text == "nan"
        return
    assert same_float(f32_exact(text), x)
    assert significant_digits(text) <= significant_digits(pure)


@given(st.lists(st.floats(width=32), max_size=20))
def test_float32_c_equals_pure(xs: list[float]) -> None:
    c = mywire._backend.load_c()
    if c is None:
        pytest.skip("the C extension is not built")
    assert c.format_floats32(xs) == _pyfloat.format_floats32(xs)


@given(st.lists(st.floats(), max_size=20))
def test_double_c_equals_pure(xs: list[float]) -> None:
    c = mywire._backend.load_c()
    if c is None:
        pytest.skip("the C extension is not built")
    assert c.format_doubles(xs) == _pyfloat.format_doubles(xs)


def test_c_reports_a_short_buffer() -> None:
    c = mywire._backend.load_c()
    if c is None:
        pytest.skip("the C extension is not built")
    from mywire._cwire import ffi, lib

    values = ffi.new("double[]", [1.5, 0.25])
    out = ffi.new("uint8_t[]", 8)
    ends = ffi.new("uint32_t[]", 2)
    assert lib.mw_format_doubles(values, 1, out, 3, ends) == 3  # "1.5" fits exactly
    assert lib.mw_format_doubles(values, 2, out, 6, ends) == -1  # "0.25" does not
    assert lib.mw_format_doubles(values, 2, out, 7, ends) == 7
    assert list(ends) == [3, 7]
    assert ffi.buffer(out, 7)[:] == b"1.50.25"
    floats = ffi.new("float[]", [0.1])
    assert lib.mw_format_floats32(floats, 1, out, 2, ends) == -1
    assert lib.mw_format_floats32(floats, 1, out, 3, ends) == 3
    assert ffi.buffer(out, 3)[:] == b"0.1"
