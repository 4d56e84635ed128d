"""Row transcoding, C vs pure Python, on random columns, values and arbitrary bytes.

Both row writers are called directly (``mywire._pytranscode`` and ``mywire._ctranscode``)
for every format and option set: for every input they must return the same bytes and row
count, or raise the same exception class with the same message and offset.  Inputs are
valid resultsets of every column family (``rowbuild.typed_resultsets``), the same with a
byte flipped, cut or appended, arbitrary bytes, rows of grammar-shaped text, text columns
holding arbitrary UTF-8-ish bytes and JSON-ish text, and budgets that cut the output
anywhere.  The module runs once, under the ``c`` parameter of the backend fixture.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import mywire._backend
from mywire import _pytranscode
from mywire import _tcspec as T
from mywire.events import ColumnDefinition
from mywire.rows import row_spans

from rowbuild import Resultset, column, lenenc, text_row, typed_resultsets

pytestmark = pytest.mark.parametrize("backend", ["c"], indirect=True)

TYPES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 20, 242, 243, 245]
TYPES += [246, 247, 248, 249, 250, 251, 252, 253, 254, 255, 99]
# binary, utf8mb4, utf8mb3, latin1 x2, latin2 (a Python codec), unknown id
CHARSETS = [63, 45, 33, 8, 5, 9, 9999]

columns_st = st.lists(
    st.builds(
        lambda t, cs, unsigned, d, fmt: column(
            t, cs, flags=0x20 if unsigned else 0, decimals=d, extended_type=fmt
        ),
        st.sampled_from(TYPES),
        st.sampled_from(CHARSETS),
        st.booleans(),
        st.sampled_from([0, 1, 2, 3, 6, 7, 31, 255]),
        st.sampled_from([None, None, "json"]),
    ),
    max_size=8,
).map(tuple)

options_st = st.tuples(st.booleans(), st.booleans())
formats_st = st.sampled_from(sorted(T.FORMATS.values()))

GRAMMAR_TEXT = st.text(alphabet="0123456789-+.:eE x", max_size=30).map(str.encode)
JSONISH = st.text(alphabet='{}[]",:0123456789.eE-+ tfnrulasx\\\n\u00e9', max_size=24).map(
    str.encode
)
UTF8ISH = st.one_of(
    st.text(max_size=12).map(str.encode),
    st.binary(max_size=12),
    st.sampled_from([b"\xed\xa0\x80", b"\xc0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82", b"\xff"]),
)
cell_st = st.one_of(
    st.none(),
    GRAMMAR_TEXT,
    st.binary(max_size=12),
    JSONISH,
    UTF8ISH,
    st.sampled_from([b"-0", b"00", b"1e5", b"1e309", b"-1e400", b"0.000", b"007"]),
)


def c_transcode() -> Callable[..., Any]:
    c = mywire._backend.load_c()
    assert c is not None
    return c.transcode_rows  # type: ignore[no-any-return]


Outcome = tuple[str, Any]


def outcome(call: Callable[[], Any]) -> Outcome:
    try:
        return "ok", call()
    except ValueError as exc:  # MalformedPacket is a ValueError; so are span errors
        return "error", (type(exc), str(exc), getattr(exc, "offset", None))


def check(
    columns: tuple[ColumnDefinition, ...],
    payloads: list[bytes],
    binary: bool,
    fmt: int,
    options: tuple[bool, bool],
    first: int = 0,
    budget: int = 1 << 62,
    sep: bool = False,
) -> None:
    tspec = T.tspec_for(columns, *options)
    data, spans = row_spans(payloads)
    n = len(payloads)
    first = min(first, n)
    kw: dict[str, Any] = {"binary": binary, "fmt": fmt, "sep": sep, "budget": budget}
    c = outcome(lambda: c_transcode()(tspec, data, spans, first, n - first, **kw))
    py = outcome(lambda: _pytranscode.transcode_rows(tspec, data, spans, first, n - first, **kw))
    assert c == py


@given(columns_st, st.lists(st.binary(max_size=40), max_size=4), st.booleans(), formats_st)
def test_arbitrary_bytes(
    columns: tuple[ColumnDefinition, ...], payloads: list[bytes], binary: bool, fmt: int
) -> None:
    check(columns, payloads, binary, fmt, (False, False))


@given(columns_st, st.data(), formats_st, options_st)
def test_grammar_shaped_text_rows(
    columns: tuple[ColumnDefinition, ...],
    data: st.DataObject,
    fmt: int,
    options: tuple[bool, bool],
) -> None:
    rows = data.draw(
        st.lists(st.lists(cell_st, min_size=len(columns), max_size=len(columns)), max_size=4)
    )
    check(columns, [text_row(r) for r in rows], False, fmt, options)


@given(columns_st, st.data(), formats_st, options_st)
def test_grammar_shaped_binary_rows(
    columns: tuple[ColumnDefinition, ...],
    data: st.DataObject,
    fmt: int,
    options: tuple[bool, bool],
) -> None:
    n = (len(columns) + 9) // 8
    rows = []
    for _ in range(data.draw(st.integers(0, 3))):
        body = b"".join(
            lenenc(c) if data.draw(st.booleans()) else c
            for c in data.draw(st.lists(st.one_of(cell_st.filter(bool), st.binary(max_size=8))))
            if c is not None
        )
        rows.append(b"\x00" + data.draw(st.binary(min_size=n, max_size=n)) + body)
    check(columns, rows, True, fmt, options)


@given(typed_resultsets(max_columns=10, max_rows=4), st.booleans(), formats_st, options_st)
def test_valid_resultsets(
    rs: Resultset, binary: bool, fmt: int, options: tuple[bool, bool]
) -> None:
    payloads = rs.binary_payloads() if binary else rs.text_payloads()
    check(rs.columns, payloads, binary, fmt, options)


@given(
    typed_resultsets(max_columns=6, max_rows=5),
    st.booleans(),
    formats_st,
    st.integers(0, 5),
    st.integers(0, 400),
    st.booleans(),
)
def test_first_budget_and_separator(
    rs: Resultset, binary: bool, fmt: int, first: int, budget: int, sep: bool
) -> None:
    payloads = rs.binary_payloads() if binary else rs.text_payloads()
    check(rs.columns, payloads, binary, fmt, (False, False), first=first, budget=budget, sep=sep)


def _mutate(payload: bytes, how: int, at: int, byte: int) -> bytes:
    if not payload:
        return bytes([byte])
    at %= len(payload)
    if how == 0:
        return payload[:at] + bytes([byte]) + payload[at + 1 :]
    if how == 1:
        return payload[:at]
    if how == 2:
        return payload + bytes([byte])
    return payload[:at] + bytes([byte]) + payload[at:]


@given(
    typed_resultsets(max_columns=8, max_rows=3),
    st.booleans(),
    formats_st,
    st.integers(0, 3),
    st.integers(0, 1000),
    st.integers(0, 255),
)
def test_mutated_valid_rows(
    rs: Resultset, binary: bool, fmt: int, how: int, at: int, byte: int
) -> None:
    payloads = rs.binary_payloads() if binary else rs.text_payloads()
    if payloads:
        k = at % len(payloads)
        payloads[k] = _mutate(payloads[k], how, at, byte)
    check(rs.columns, payloads, binary, fmt, (False, False))


def test_spans_outside_the_buffer_agree() -> None:
    tspec = T.tspec_for((column(3),))
    kw: dict[str, Any] = {"binary": False, "fmt": T.F_JSON, "sep": False, "budget": 100}

    def both(spans: list[int]) -> tuple[Outcome, Outcome]:
        count = len(spans) // 2
        c = outcome(lambda: c_transcode()(tspec, b"\x011", spans, 0, count, **kw))
        py = outcome(lambda: _pytranscode.transcode_rows(tspec, b"\x011", spans, 0, count, **kw))
        return c, py

    for spans in ([0, 5], [3, 1], [0, 1, 9, 1]):
        c, py = both(spans)
        assert c == py and c[0] == "error"
