"""C backend vs pure-Python backend on arbitrary input.

Both modules are called directly (``mywire._pycore`` and ``mywire._ccore``): for every
input they must return the same result, or raise the same exception class with the same
message, offset and expected text.  The module runs once, under the ``c`` parameter of
the backend fixture, which skips when the extension is missing (fails under
``MYWIRE_REQUIRE_C=1``) and under ``MYWIRE_PURE=1``.

Example counts follow the hypothesis profile: modest by default, 10,000 with
``HYPOTHESIS_PROFILE=thorough``.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import mywire._backend
from mywire import PacketReader, pack
from mywire._format import compile_format
from mywire._pycore import ScanResult

from helpers import MAX_PACKET, FeedResult, error_key, feed_chunks, header
from strategies import (
    arbitrary_streams,
    format_items,
    formats,
    rough_streams,
    split_points,
)

pytestmark = pytest.mark.parametrize("backend", ["c"], indirect=True)

PY: ModuleType = mywire._backend.PURE


def c_module() -> ModuleType:
    """The C backend module; the pinned ``backend`` fixture skipped the test if absent."""
    c = mywire._backend.load_c()
    assert c is not None
    return c


Outcome = tuple[str, Any]


def outcome(call: Callable[[], Any]) -> Outcome:
    """("ok", result) or ("error", (class, message, offset, expected))."""
    try:
        return "ok", call()
    except ValueError as exc:  # ProtocolError subclasses ValueError; so do argument errors
        offset = getattr(exc, "offset", None)
        return "error", (type(exc), str(exc), offset, getattr(exc, "expected", None))


# ---------------------------------------------------------------------- unpack_from


@st.composite
def damaged(draw: st.DrawFn) -> tuple[str, bytes]:
    """A format with bytes that mostly fit it: packed values, then cut, patched or extended."""
    fmt, values = draw(format_items())
    wire = bytearray(pack(fmt, *values))
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(("cut", "patch", "extend", "prefix")))
        if action == "cut" and wire:
            del wire[draw(st.integers(0, len(wire) - 1)) :]
        elif action == "patch" and wire:
            at = draw(st.integers(0, len(wire) - 1))
            wire[at] = draw(st.sampled_from((0x00, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF, 0x01)))
        elif action == "extend":
            wire += draw(st.binary(max_size=12))
        elif action == "prefix":
            wire[:0] = draw(st.sampled_from((b"\xfe" + b"\xff" * 8, b"\xfc\xff\xff", b"\xfb")))
    return fmt, bytes(wire)


@given(
    st.one_of(damaged(), st.tuples(formats(), st.binary(max_size=64))),
    st.integers(-2, 70),
)
@example(("S", b"\xfe" + b"\xff" * 8 + b"ab"), 0)
@example(("KRL", b"\xfb\xfb\xfb"), 0)
@example(("Z", b""), 0)
@example(("B", b"\x01"), 2)
def test_unpack_from(case: tuple[str, bytes], offset: int) -> None:
    fmt, data = case
    offset = min(offset, len(data) + 1)
    c = c_module()
    expected = outcome(lambda: PY.unpack_from(fmt, data, offset))
    assert outcome(lambda: c.unpack_from(fmt, data, offset)) == expected
    assert outcome(lambda: c.unpack_from(fmt, bytearray(data), offset)) == expected
    assert outcome(lambda: PY.unpack_from(fmt, memoryview(data), offset)) == expected


@given(format_items())
def test_pack(fv: tuple[str, tuple[int | bytes | None, ...]]) -> None:
    fmt, values = fv
    items = compile_format(fmt)
    assert c_module().pack(items, values) == PY.pack(items, values)


@given(st.binary(max_size=600), st.integers(0, 255))
def test_build_packets(data: bytes, seq: int) -> None:
    c = c_module()
    assert c.build_packets(data, seq) == PY.build_packets(data, seq)
    assert c.build_packets(bytearray(data), seq) == PY.build_packets(memoryview(data), seq)


# --------------------------------------------------------------------- scan_packets


def scan_key(r: ScanResult) -> tuple[object, ...]:
    spans = r.spans
    flat = spans.tolist() if isinstance(spans, memoryview) else [x for s in spans for x in s]
    return (
        flat,
        r.end,
        r.seq,
        r.partial,
        r.status,
        r.need,
        error_key(r.error),
        None if r.error is None else getattr(r.error, "actual", None),
    )


@st.composite
def scan_args(draw: st.DrawFn) -> tuple[bytes, int, int, int, int, int, int]:
    buf = draw(arbitrary_streams())
    start = draw(st.integers(0, len(buf)))
    base = draw(st.one_of(st.just(0), st.integers(0, 2**40)))
    seq = draw(st.integers(-1, 255))
    max_payload = draw(
        st.one_of(
            st.sampled_from((0, 1, 10, 50, MAX_PACKET - 1, MAX_PACKET, MAX_PACKET + 10, 1 << 30)),
            st.integers(0, 2**64 - 1),
        )
    )
    # PacketReader only ever passes partial <= max_payload (what scan_packets assumes),
    # and partial is a sum of 0xFFFFFF-byte packets; sometimes use other values too.
    partial = draw(
        st.one_of(
            st.just(0),
            st.integers(0, 3).map(lambda k: k * MAX_PACKET),
            st.integers(0, max_payload),
        ).filter(lambda p: p <= max_payload)
    )
    max_count = draw(st.integers(1, 300))
    return buf, start, base, seq, partial, max_payload, max_count


@given(scan_args(), st.sampled_from((0, 1, 2)), st.booleans())
@example((header(3, 5) + b"abc" + header(1, 9) + b"d", 0, 0, -1, 0, 100, 10), 0, False)
@example((header(MAX_PACKET, 0) + header(5, 1), 4, 0, 1, MAX_PACKET, MAX_PACKET + 4, 5), 0, False)
@example((header(MAX_PACKET, 0), 0, 0, 0, MAX_PACKET, MAX_PACKET * 2, 5), 0, False)
# Rows modes: a 0xFE payload of 8 bytes ends rows under either mode, of 9 bytes only
# under DEPRECATE_EOF; 0xFF always stops; a row starting 0x00 does not.
@example((header(1, 0) + b"\x00" + header(8, 1) + b"\xfe" + bytes(7), 0, 0, 0, 0, 99, 9), 1, True)
@example((header(1, 0) + b"\x00" + header(9, 1) + b"\xfe" + bytes(8), 0, 0, 0, 0, 99, 9), 1, True)
@example((header(1, 0) + b"\x00" + header(9, 1) + b"\xfe" + bytes(8), 0, 0, 0, 0, 99, 9), 2, True)
@example((header(2, 0) + b"\xff\x01", 0, 0, 0, 0, 99, 9), 2, False)
def test_scan_packets(
    args: tuple[bytes, int, int, int, int, int, int], rows: int, flat: bool
) -> None:
    c = c_module()
    assert scan_key(c.scan_packets(*args, rows, flat)) == scan_key(
        PY.scan_packets(*args, rows, flat)
    )


# -------------------------------------------------------------------- PacketReader


def read_with(
    impl: ModuleType,
    stream: bytes,
    cuts: list[int],
    seq: int | None,
    max_payload: int,
    batch: int,
    eof: bool,
) -> FeedResult:
    return feed_chunks(
        stream,
        cuts,
        make=lambda: PacketReader(max_payload=max_payload, seq=seq, impl=impl),
        eof=eof,
        batch=batch,
    )


@given(
    stream=st.one_of(arbitrary_streams(), rough_streams()),
    seq=st.one_of(st.none(), st.integers(0, 255)),
    max_payload=st.one_of(
        st.sampled_from((0, 5, 20, 40, MAX_PACKET, 1 << 30)), st.integers(0, 2**63)
    ),
    batch=st.sampled_from((0, 0, 1, 3, 1024)),
    eof=st.booleans(),
    data=st.data(),
)
def test_packet_reader(
    stream: bytes,
    seq: int | None,
    max_payload: int,
    batch: int,
    eof: bool,
    data: st.DataObject,
) -> None:
    cuts = data.draw(split_points(len(stream)), label="cuts")
    c = c_module()
    got_c = read_with(c, stream, cuts, seq, max_payload, batch, eof)
    got_py = read_with(PY, stream, cuts, seq, max_payload, batch, eof)
    assert got_c.key == got_py.key
    assert got_c.ready_at == got_py.ready_at
