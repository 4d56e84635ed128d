"""Row decoding, C vs pure Python, on random columns and arbitrary bytes.

Both decoders are called directly (``mywire._pyrows`` and ``mywire._crows``): for every
input they must return the same values (same types; floats compared by bits), or raise
the same exception class with the same message and offset.  Inputs are arbitrary bytes,
valid rows with a byte flipped, cut or appended, and rows of length-encoded values drawn
from the characters the text grammars care about (digits, signs, '.', ':', 'e', ...).
The module runs once, under the ``c`` parameter of the backend fixture (skipped when the
extension is missing, failing under ``MYWIRE_REQUIRE_C=1``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import mywire._backend
from mywire import _pyrows
from mywire.events import ColumnDefinition
from mywire.rows import row_spans

from rowbuild import Resultset, column, lenenc, same, text_row, typed_resultsets

pytestmark = pytest.mark.parametrize("backend", ["c"], indirect=True)

TYPES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 20, 242, 243, 245]
TYPES += [246, 247, 248, 249, 250, 251, 252, 253, 254, 255, 99]
CHARSETS = [63, 45, 33, 8, 26, 11, 95, 9999]

columns_st = st.lists(
    st.builds(
        lambda t, cs, unsigned, d, json: column(
            t, cs, flags=0x20 if unsigned else 0, decimals=d, extended_type=json
        ),
        st.sampled_from(TYPES),
        st.sampled_from(CHARSETS),
        st.booleans(),
        st.sampled_from([0, 1, 2, 3, 6, 7, 31, 255]),
        st.sampled_from([None, None, "json"]),
    ),
    max_size=10,
).map(tuple)

GRAMMAR_TEXT = st.text(alphabet="0123456789-+.:eE x", max_size=30).map(str.encode)
cell_st = st.one_of(
    st.none(), GRAMMAR_TEXT, st.binary(max_size=12), st.sampled_from([b"-0", b"00", b"1e5"])
)


def c_decode() -> Callable[..., Any]:
    c = mywire._backend.load_c()
    assert c is not None
    return c.decode_rows  # type: ignore[no-any-return]


Outcome = tuple[str, Any]


def outcome(call: Callable[[], Any]) -> Outcome:
    try:
        return "ok", call()
    except ValueError as exc:  # MalformedPacket is a ValueError; so are span errors
        return "error", (type(exc), str(exc), getattr(exc, "offset", None))


def check(columns: tuple[ColumnDefinition, ...], payloads: list[bytes], binary: bool) -> None:
    data, spans = row_spans(payloads)
    c = outcome(lambda: c_decode()(columns, data, spans, binary=binary))
    py = outcome(lambda: _pyrows.decode_rows(columns, data, spans, binary=binary))
    if c[0] == "ok" and py[0] == "ok":
        assert same(c[1], py[1]), (c, py)
    else:
        assert c == py


@given(columns_st, st.lists(st.binary(max_size=40), max_size=4), st.booleans())
def test_arbitrary_bytes(
    columns: tuple[ColumnDefinition, ...], payloads: list[bytes], binary: bool
) -> None:
    check(columns, payloads, binary)


@given(columns_st, st.data())
def test_grammar_shaped_text_rows(
    columns: tuple[ColumnDefinition, ...], data: st.DataObject
) -> None:
    rows = data.draw(
        st.lists(st.lists(cell_st, min_size=len(columns), max_size=len(columns)), max_size=4)
    )
    check(columns, [text_row(r) for r in rows], False)


@given(columns_st, st.data())
def test_grammar_shaped_binary_rows(
    columns: tuple[ColumnDefinition, ...], data: st.DataObject
) -> None:
    # Header, a random bitmap, then length-encoded grammar-shaped text and raw bytes.
    n = (len(columns) + 9) // 8
    rows = []
    for _ in range(data.draw(st.integers(0, 3))):
        body = b"".join(
            lenenc(c) if data.draw(st.booleans()) else c
            for c in data.draw(
                st.lists(st.one_of(GRAMMAR_TEXT, st.binary(max_size=12)), max_size=len(columns))
            )
        )
        rows.append(b"\x00" + data.draw(st.binary(min_size=n, max_size=n)) + body)
    check(columns, rows, True)


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
    st.integers(0, 3),
    st.integers(0, 1000),
    st.integers(0, 255),
)
def test_mutated_valid_rows(rs: Resultset, binary: bool, how: int, at: int, byte: int) -> None:
    payloads = rs.binary_payloads() if binary else rs.text_payloads()
    if payloads:
        k = at % len(payloads)
        payloads[k] = _mutate(payloads[k], how, at, byte)
    check(rs.columns, payloads, binary)
