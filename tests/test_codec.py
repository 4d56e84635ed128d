"""mywire.codec: exact bytes of every primitive, round trips, errors, Reader and Writer.

Expected bytes and messages are written out by hand from the protocol (little-endian
fixed integers; length-encoded integers: < 0xFB one byte, else 0xFC + 2 bytes, 0xFD + 3,
0xFE + 8; 0xFB is NULL, 0xFF invalid) and from the message templates in
mywire/_format.py, never taken from the code's output.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

import mywire
from mywire import (
    MalformedPacket,
    MywireError,
    ProtocolError,
    Reader,
    TruncatedPacket,
    Writer,
    pack,
    unpack,
    unpack_from,
)
from mywire.codec import check_values

from strategies import Value, format_items, lenenc_ints


def lenenc_by_hand(v: int) -> bytes:
    """The protocol's length-encoded integer, written independently of mywire."""
    if v < 251:
        return bytes([v])
    if v < 2**16:
        return bytes([0xFC, v & 0xFF, v >> 8])
    if v < 2**24:
        return bytes([0xFD, v & 0xFF, (v >> 8) & 0xFF, v >> 16])
    return bytes([0xFE]) + bytes((v >> (8 * i)) & 0xFF for i in range(8))


# ------------------------------------------------------------------------------ pack


@pytest.mark.parametrize(
    ("fmt", "value", "wire"),
    [
        ("B", 0, b"\x00"),
        ("B", 0x7F, b"\x7f"),
        ("B", 0xFF, b"\xff"),
        ("H", 0x0102, b"\x02\x01"),
        ("H", 0xFFFF, b"\xff\xff"),
        ("T", 0x010203, b"\x03\x02\x01"),
        ("T", 0xFFFFFF, b"\xff\xff\xff"),
        ("I", 0x01020304, b"\x04\x03\x02\x01"),
        ("I", 0xFFFFFFFF, b"\xff\xff\xff\xff"),
        ("W", 0x010203040506, b"\x06\x05\x04\x03\x02\x01"),
        ("W", 2**48 - 1, b"\xff" * 6),
        ("Q", 0x0102030405060708, b"\x08\x07\x06\x05\x04\x03\x02\x01"),
        ("Q", 2**64 - 1, b"\xff" * 8),
        ("Q", 1, b"\x01" + b"\x00" * 7),
    ],
)
def test_fixed_ints_are_little_endian(fmt: str, value: int, wire: bytes) -> None:
    assert pack(fmt, value) == wire
    assert unpack(fmt, wire) == (value,)


LENENC_CASES = [
    (0, b"\x00"),
    (1, b"\x01"),
    (250, b"\xfa"),
    (251, b"\xfc\xfb\x00"),
    (252, b"\xfc\xfc\x00"),
    (0x1234, b"\xfc\x34\x12"),
    (0xFFFF, b"\xfc\xff\xff"),
    (0x10000, b"\xfd\x00\x00\x01"),
    (0xABCDEF, b"\xfd\xef\xcd\xab"),
    (0xFFFFFF, b"\xfd\xff\xff\xff"),
    (2**24, b"\xfe" + (2**24).to_bytes(8, "little")),
    (2**24, b"\xfe\x00\x00\x00\x01\x00\x00\x00\x00"),
    (0x0102030405060708, b"\xfe\x08\x07\x06\x05\x04\x03\x02\x01"),
    (2**64 - 1, b"\xfe" + b"\xff" * 8),
]


@pytest.mark.parametrize(("value", "wire"), LENENC_CASES)
def test_lenenc_int(value: int, wire: bytes) -> None:
    assert pack("L", value) == wire
    assert pack("K", value) == wire
    assert unpack("L", wire) == (value,)
    assert unpack("K", wire) == (value,)


def test_lenenc_examples_from_the_brief() -> None:
    assert pack("L", 251) == b"\xfc\xfb\x00"
    assert pack("L", 2**24) == b"\xfe" + (2**24).to_bytes(8, "little")
    assert pack("R", None) == b"\xfb"


def test_lenenc_non_minimal_encodings_decode_to_their_value() -> None:
    # Nothing in the protocol forbids a wider prefix than needed; the value is the value.
    assert unpack("L", b"\xfc\x05\x00") == (5,)
    assert unpack("L", b"\xfd\x05\x00\x00") == (5,)
    assert unpack("L", b"\xfe\x05" + b"\x00" * 7) == (5,)


def test_null_markers() -> None:
    assert pack("K", None) == b"\xfb"
    assert pack("R", None) == b"\xfb"
    assert unpack("K", b"\xfb") == (None,)
    assert unpack("R", b"\xfb") == (None,)
    assert unpack("KRK", b"\xfb\xfb\x07") == (None, None, 7)


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (b"", b"\x00"),
        (b"abc", b"\x03abc"),
        (b"\x00\xff", b"\x02\x00\xff"),
        (b"x" * 250, b"\xfa" + b"x" * 250),
        (b"y" * 251, b"\xfc\xfb\x00" + b"y" * 251),
        (b"z" * 0x10000, b"\xfd\x00\x00\x01" + b"z" * 0x10000),
    ],
)
def test_lenenc_strings(value: bytes, wire: bytes) -> None:
    assert pack("S", value) == wire
    assert pack("R", value) == wire
    assert unpack("S", wire) == (value,)
    assert unpack("R", wire) == (value,)


def test_nul_terminated_rest_fixed_and_filler() -> None:
    assert pack("Z", b"abc") == b"abc\x00"
    assert pack("Z", b"") == b"\x00"
    assert unpack("Z", b"abc\x00") == (b"abc",)
    assert unpack("ZZ", b"\x00b\x00") == (b"", b"b")
    assert pack("E", b"xyz") == b"xyz"
    assert pack("E", b"") == b""
    assert unpack("E", b"") == (b"",)
    assert unpack("BE", b"\x01rest\x00") == (1, b"rest\x00")
    assert pack("3s", b"abc") == b"abc"
    assert pack("0s", b"") == b""
    assert unpack("2s", b"\x00\x01") == (b"\x00\x01",)
    assert pack("3x") == b"\x00\x00\x00"
    assert pack("B2xB", 1, 2) == b"\x01\x00\x00\x02"
    assert unpack("B2xB", b"\x01\xaa\xbb\x02") == (1, 2)
    assert pack("x") == b"\x00"
    assert pack("") == b""
    assert unpack("", b"") == ()


def test_counts_spaces_and_mixed_formats() -> None:
    assert pack("3B", 1, 2, 3) == b"\x01\x02\x03"
    assert pack("B B  H", 1, 2, 3) == b"\x01\x02\x03\x00"
    assert pack("2S", b"a", b"") == b"\x01a\x00"
    assert pack("BZ", 10, b"5.5.5") == b"\x0a5.5.5\x00"
    assert unpack("BZ", b"\x0a5.5.5\x00") == (10, b"5.5.5")
    # An OK packet: header, affected rows, last insert id, status, warnings.
    ok = b"\x00\xfc\x00\x01\x05\x02\x00\x00\x00"
    assert pack("B L L H H", 0, 256, 5, 2, 0) == ok
    assert unpack("B L L H H", ok) == (0, 256, 5, 2, 0)


def test_pack_accepts_bytes_likes_and_returns_bytes() -> None:
    out = pack("S Z 2s E", bytearray(b"ab"), memoryview(b"cd"), bytearray(b"ef"), b"gh")
    assert type(out) is bytes
    assert out == b"\x02abcd\x00efgh"


def test_unpack_from_offsets_and_end() -> None:
    buf = b"junk\x03abc\x07tail"
    assert unpack_from("S B", buf, 4) == ((b"abc", 7), 9)
    assert unpack_from("", buf, 13) == ((), 13)
    assert unpack_from("E", buf, len(buf)) == ((b"",), len(buf))
    assert unpack_from("B", bytearray(b"\x01\x02"), 1) == ((2,), 2)
    assert unpack_from("H", memoryview(b"\x00\x01\x02"), 1) == ((0x0201,), 3)


@pytest.mark.parametrize("offset", [-1, 4, 100])
def test_unpack_from_offset_outside_buffer(offset: int) -> None:
    with pytest.raises(ValueError) as info:
        unpack_from("B", b"abc", offset)
    assert str(info.value) == f"offset {offset} outside a buffer of 3 bytes"


def test_unpack_returns_bytes_for_bytes_likes() -> None:
    values = unpack("S Z E", bytearray(b"\x01a b\x00c"))
    assert values == (b"a", b" b", b"c")
    assert all(type(v) is bytes for v in values)
    values = unpack("S", memoryview(b"\x02hi"))
    assert values == (b"hi",) and type(values[0]) is bytes


# ---------------------------------------------------------------------------- errors


def check_error(
    exc: BaseException, cls: type[ProtocolError], message: str, offset: int, expected: str
) -> None:
    assert type(exc) is cls
    assert str(exc) == message
    assert isinstance(exc, ProtocolError)
    assert exc.offset == offset
    assert exc.expected == expected
    assert isinstance(exc, MywireError) and isinstance(exc, ValueError)
    assert exc.code == 2027  # CR_MALFORMED_PACKET


ERROR_CASES = [
    pytest.param(
        "I",
        b"\x01\x02",
        TruncatedPacket,
        "truncated packet: expected 4-byte integer at offset 0, 2 bytes left",
        0,
        "4-byte integer",
        id="fixed-int",
    ),
    pytest.param(
        "B H",
        b"\x01\x02",
        TruncatedPacket,
        "truncated packet: expected 2-byte integer at offset 1, 1 bytes left",
        1,
        "2-byte integer",
        id="fixed-int-after-field",
    ),
    pytest.param(
        "BBQ",
        b"\x01\x02" + b"\x00" * 7,
        TruncatedPacket,
        "truncated packet: expected 8-byte integer at offset 2, 7 bytes left",
        2,
        "8-byte integer",
        id="8-byte-int",
    ),
    pytest.param(
        "T",
        b"",
        TruncatedPacket,
        "truncated packet: expected 3-byte integer at offset 0, 0 bytes left",
        0,
        "3-byte integer",
        id="empty-buffer",
    ),
    pytest.param(
        "W",
        b"\x00" * 5,
        TruncatedPacket,
        "truncated packet: expected 6-byte integer at offset 0, 5 bytes left",
        0,
        "6-byte integer",
        id="6-byte-int",
    ),
    pytest.param(
        "L",
        b"",
        TruncatedPacket,
        "truncated packet: expected length-encoded integer at offset 0, 0 bytes left",
        0,
        "length-encoded integer",
        id="lenenc-nothing",
    ),
    pytest.param(
        "L",
        b"\xfc\x01",
        TruncatedPacket,
        "truncated packet: expected length-encoded integer at offset 0, 2 bytes left",
        0,
        "length-encoded integer",
        id="lenenc-0xFC-with-1-byte",
    ),
    pytest.param(
        "BK",
        b"\x00\xfd\x01\x02",
        TruncatedPacket,
        "truncated packet: expected length-encoded integer or NULL at offset 1, 3 bytes left",
        1,
        "length-encoded integer or NULL",
        id="lenenc-0xFD-short",
    ),
    pytest.param(
        "L",
        b"\xfe" + b"\x00" * 7,
        TruncatedPacket,
        "truncated packet: expected length-encoded integer at offset 0, 8 bytes left",
        0,
        "length-encoded integer",
        id="lenenc-0xFE-short",
    ),
    pytest.param(
        "S",
        b"\xfc\x00",
        TruncatedPacket,
        "truncated packet: expected length-encoded string at offset 0, 2 bytes left",
        0,
        "length-encoded string",
        id="lenenc-string-prefix-short",
    ),
    pytest.param(
        "L",
        b"\xff",
        MalformedPacket,
        "malformed packet: length-encoded integer at offset 0 starts with invalid prefix 0xFF",
        0,
        "length-encoded integer",
        id="0xFF-L",
    ),
    pytest.param(
        "B K",
        b"\x00\xff\x00\x00",
        MalformedPacket,
        "malformed packet: length-encoded integer or NULL at offset 1 starts with invalid "
        "prefix 0xFF",
        1,
        "length-encoded integer or NULL",
        id="0xFF-K",
    ),
    pytest.param(
        "S",
        b"\xff\x01a",
        MalformedPacket,
        "malformed packet: length-encoded string at offset 0 starts with invalid prefix 0xFF",
        0,
        "length-encoded string",
        id="0xFF-S",
    ),
    pytest.param(
        "R",
        b"\xff",
        MalformedPacket,
        "malformed packet: length-encoded string or NULL at offset 0 starts with invalid "
        "prefix 0xFF",
        0,
        "length-encoded string or NULL",
        id="0xFF-R",
    ),
    pytest.param(
        "L",
        b"\xfb",
        MalformedPacket,
        "malformed packet: length-encoded integer at offset 0 is the NULL marker 0xFB",
        0,
        "length-encoded integer",
        id="0xFB-L",
    ),
    pytest.param(
        "HS",
        b"\x00\x00\xfb",
        MalformedPacket,
        "malformed packet: length-encoded string at offset 2 is the NULL marker 0xFB",
        2,
        "length-encoded string",
        id="0xFB-S",
    ),
    pytest.param(
        "S",
        b"\x05abc",
        TruncatedPacket,
        "truncated packet: length-encoded string at offset 0 declares 5 bytes, "
        "3 left after its length",
        0,
        "length-encoded string",
        id="string-longer-than-buffer",
    ),
    pytest.param(
        "BR",
        b"\x09\xfc\x00\x01" + b"x" * 10,
        TruncatedPacket,
        "truncated packet: length-encoded string or NULL at offset 1 declares 256 bytes, "
        "10 left after its length",
        1,
        "length-encoded string or NULL",
        id="0xFC-string-longer-than-buffer",
    ),
    pytest.param(
        "S",
        b"\xfe" + b"\xff" * 8 + b"xy",
        TruncatedPacket,
        "truncated packet: length-encoded string at offset 0 declares 18446744073709551615 "
        "bytes, 2 left after its length",
        0,
        "length-encoded string",
        id="0xFE-string-2**64-1",
    ),
    pytest.param(
        "S",
        b"\xfe" + b"\xff" * 8,
        TruncatedPacket,
        "truncated packet: length-encoded string at offset 0 declares 18446744073709551615 "
        "bytes, 0 left after its length",
        0,
        "length-encoded string",
        id="0xFE-string-2**64-1-nothing-after",
    ),
    pytest.param(
        "Z",
        b"abc",
        TruncatedPacket,
        "truncated packet: NUL-terminated string at offset 0 has no NUL in the 3 bytes left",
        0,
        "NUL-terminated string",
        id="missing-NUL",
    ),
    pytest.param(
        "Z Z",
        b"a\x00",
        TruncatedPacket,
        "truncated packet: NUL-terminated string at offset 2 has no NUL in the 0 bytes left",
        2,
        "NUL-terminated string",
        id="missing-NUL-at-end",
    ),
    pytest.param(
        "4s",
        b"abc",
        TruncatedPacket,
        "truncated packet: expected 4-byte string at offset 0, 3 bytes left",
        0,
        "4-byte string",
        id="fixed-string",
    ),
    pytest.param(
        "B3x",
        b"\x00\x00\x00",
        TruncatedPacket,
        "truncated packet: expected 3 filler bytes at offset 1, 2 bytes left",
        1,
        "3 filler bytes",
        id="filler",
    ),
    pytest.param(
        "B",
        b"\x01\x02",
        MalformedPacket,
        "malformed packet: 1 unexpected bytes at offset 1 after the last field",
        1,
        "end of packet",
        id="trailing-1",
    ),
    pytest.param(
        "Z",
        b"ab\x00cd\x00",
        MalformedPacket,
        "malformed packet: 3 unexpected bytes at offset 3 after the last field",
        3,
        "end of packet",
        id="trailing-3",
    ),
    pytest.param(
        "",
        b"\x00",
        MalformedPacket,
        "malformed packet: 1 unexpected bytes at offset 0 after the last field",
        0,
        "end of packet",
        id="trailing-empty-format",
    ),
]


@pytest.mark.parametrize(("fmt", "buf", "cls", "message", "offset", "expected"), ERROR_CASES)
def test_unpack_errors(
    fmt: str,
    buf: bytes,
    cls: type[ProtocolError],
    message: str,
    offset: int,
    expected: str,
) -> None:
    with pytest.raises(ProtocolError) as info:
        unpack(fmt, buf)
    check_error(info.value, cls, message, offset, expected)
    # The same bytes as a bytearray and as a memoryview fail the same way.
    for other in (bytearray(buf), memoryview(buf)):
        with pytest.raises(ProtocolError) as again:
            unpack(fmt, other)
        check_error(again.value, cls, message, offset, expected)


def test_unpack_from_errors_count_from_the_buffer_start() -> None:
    with pytest.raises(TruncatedPacket) as info:
        unpack_from("H S", b"garbage\x01\x00\x09ab", 7)
    check_error(
        info.value,
        TruncatedPacket,
        "truncated packet: length-encoded string at offset 9 declares 9 bytes, "
        "2 left after its length",
        9,
        "length-encoded string",
    )
    # unpack_from does not mind bytes after the fields.
    assert unpack_from("B", b"\x01\x02") == ((1,), 1)


def test_errors_are_both_mywire_errors_and_value_errors() -> None:
    for cls in (MalformedPacket, TruncatedPacket, mywire.PacketsOutOfSync, mywire.PacketTooLarge):
        assert issubclass(cls, MywireError)
        assert issubclass(cls, ValueError)
    assert issubclass(TruncatedPacket, MalformedPacket)
    with pytest.raises(ValueError):
        unpack("B", b"")
    with pytest.raises(MywireError):
        unpack("B", b"")


# ---------------------------------------------------------------------- check_values


@pytest.mark.parametrize(
    ("fmt", "values", "message"),
    [
        ("B", (True,), "1-byte integer needs an int, got bool"),
        ("L", (False,), "length-encoded integer needs an int, got bool"),
        ("K", (True,), "length-encoded integer or NULL needs an int, got bool"),
        ("B", (b"\x01",), "1-byte integer needs an int, got bytes"),
        ("I", (1.0,), "4-byte integer needs an int, got float"),
        ("L", (None,), "length-encoded integer needs an int, got NoneType"),
        ("S", (None,), "length-encoded string needs bytes, got NoneType"),
        ("S", ("abc",), "length-encoded string needs bytes, got str"),
        ("Z", (1,), "NUL-terminated string needs bytes, got int"),
        ("E", ("x",), "rest-of-packet string needs bytes, got str"),
        ("3s", ("abc",), "3-byte string needs bytes, got str"),
        ("R", (0,), "length-encoded string or NULL needs bytes, got int"),
    ],
)
def test_check_values_type_errors(fmt: str, values: tuple[object, ...], message: str) -> None:
    with pytest.raises(TypeError) as info:
        check_values(fmt, values)
    assert str(info.value) == message
    with pytest.raises(TypeError) as again:
        pack(fmt, *values)
    assert str(again.value) == message


@pytest.mark.parametrize(
    ("fmt", "values", "message"),
    [
        ("B", (256,), "256 is out of range for a 1-byte integer"),
        ("B", (-1,), "-1 is out of range for a 1-byte integer"),
        ("H", (65536,), "65536 is out of range for a 2-byte integer"),
        ("T", (2**24,), "16777216 is out of range for a 3-byte integer"),
        ("I", (2**32,), "4294967296 is out of range for a 4-byte integer"),
        ("W", (2**48,), "281474976710656 is out of range for a 6-byte integer"),
        ("Q", (2**64,), "18446744073709551616 is out of range for a 8-byte integer"),
        ("L", (2**64,), "18446744073709551616 is out of range for a length-encoded integer"),
        ("K", (-5,), "-5 is out of range for a length-encoded integer or NULL"),
        ("Z", (b"a\x00b",), "a NUL-terminated string cannot contain NUL"),
        ("3s", (b"ab",), "a 3-byte string needs exactly 3 bytes, got 2"),
        ("2s", (b"abc",), "a 2-byte string needs exactly 2 bytes, got 3"),
        ("0s", (b"a",), "a 0-byte string needs exactly 0 bytes, got 1"),
        ("BH", (1,), "format 'BH' takes 2 values, got 1"),
        ("B", (1, 2), "format 'B' takes 1 values, got 2"),
        ("B2xB", (1,), "format 'B2xB' takes 2 values, got 1"),
        ("3x", (0,), "format '3x' takes 0 values, got 1"),
        ("3S", (b"", b""), "format '3S' takes 3 values, got 2"),
    ],
)
def test_check_values_value_errors(fmt: str, values: tuple[object, ...], message: str) -> None:
    with pytest.raises(ValueError) as info:
        check_values(fmt, values)
    assert type(info.value) is ValueError
    assert str(info.value) == message
    with pytest.raises(ValueError) as again:
        pack(fmt, *values)
    assert str(again.value) == message


def test_check_values_normalises_bytes_likes() -> None:
    checked = check_values(
        "S R Z 2s K R E",
        (bytearray(b"a"), memoryview(b"b"), b"c", bytearray(b"de"), None, None, bytearray()),
    )
    assert checked == (b"a", b"b", b"c", b"de", None, None, b"")
    assert all(type(v) is bytes for v in checked if v is not None)
    assert check_values("Q L", (2**64 - 1, 2**64 - 1)) == (2**64 - 1, 2**64 - 1)


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ("A", "bad format 'A': unknown code 'A'"),
        ("b", "bad format 'b': unknown code 'b'"),
        ("B?", "bad format 'B?': unknown code '?'"),
        ("3", "bad format '3': count without a code"),
        ("B12", "bad format 'B12': count without a code"),
        ("3 B", "bad format '3 B': space after a count"),
        ("EB", "bad format 'EB': 'E' must be the last code"),
        ("2E", "bad format '2E': 'E' must be the last code"),
        ("16777217s", "bad format '16777217s': count 16777217 too large"),
        ("99999999B", "bad format '99999999B': count 99999999 too large"),
    ],
)
def test_bad_formats(fmt: str, message: str) -> None:
    for call in (
        lambda: unpack_from(fmt, b"\x00" * 16),
        lambda: unpack(fmt, b"\x00" * 16),
        lambda: pack(fmt),
        lambda: check_values(fmt, ()),
        lambda: Reader(b"\x00" * 16).unpack(fmt),
    ):
        with pytest.raises(ValueError) as info:
            call()
        assert type(info.value) is ValueError
        assert str(info.value) == message


@pytest.mark.parametrize("fmt", ["\u00b2B", "B\u00b9s"])
def test_non_ascii_digits_are_bad_formats(fmt: str) -> None:
    # str.isdigit() is true for superscripts, which int() then refuses: the error must
    # still be the format error, not int()'s "invalid literal" message.
    with pytest.raises(ValueError, match="^bad format "):
        unpack_from(fmt, b"\x00" * 16)


def test_big_fixed_count_is_allowed_up_to_the_limit() -> None:
    assert unpack_from("16777216x", b"\x00" * 16777216) == ((), 16777216)


# ----------------------------------------------------------------------- properties


@given(format_items())
def test_round_trip(fv: tuple[str, tuple[Value, ...]]) -> None:
    fmt, values = fv
    wire = pack(fmt, *values)
    assert unpack(fmt, wire) == values
    tail = b"" if fmt.endswith("E") else b"\xff"  # E would swallow the tail
    assert unpack_from(fmt, b"\xee\xee" + wire + tail, 2) == (values, 2 + len(wire))


@given(lenenc_ints())
def test_lenenc_matches_hand_encoding(v: int) -> None:
    wire = lenenc_by_hand(v)
    assert pack("L", v) == wire
    assert unpack("L", wire) == (v,)
    assert unpack("K", wire) == (v,)
    body = b"q" * (v if v < 300 else 0)
    if v < 300:
        assert pack("S", body) == wire + body
        assert unpack("R", wire + body) == (body,)


@given(st.binary(max_size=20), st.integers(0, 40))
def test_truncating_a_lenenc_string_raises(body: bytes, cut: int) -> None:
    wire = pack("S", body)
    if cut >= len(wire):
        assert unpack("S", wire) == (body,)
        return
    with pytest.raises(TruncatedPacket) as info:
        unpack("S", wire[:cut])
    assert info.value.offset == 0


# ---------------------------------------------------------------------- Reader


def test_reader_reads_every_primitive_with_offsets() -> None:
    buf = (
        b"\x01"  # int1
        + b"\x02\x01"  # int2 0x0102
        + b"\x03\x02\x01"  # int3
        + b"\x04\x03\x02\x01"  # int4
        + b"\x06\x05\x04\x03\x02\x01"  # int6
        + b"\x08\x07\x06\x05\x04\x03\x02\x01"  # int8
        + b"\xfc\xfb\x00"  # lenenc 251
        + b"\xfb"  # lenenc NULL
        + b"\x03abc"  # lenenc string
        + b"\xfb"  # lenenc string NULL
        + b"nul\x00"
        + b"FIX"
        + b"\x00\x00"  # skip 2
        + b"rest"
    )
    r = Reader(buf)
    assert (r.offset, r.remaining, r.at_end()) == (0, len(buf), False)
    steps: list[tuple[Callable[[], object], object, int]] = [
        (r.int1, 1, 1),
        (r.int2, 0x0102, 3),
        (r.int3, 0x010203, 6),
        (r.int4, 0x01020304, 10),
        (r.int6, 0x010203040506, 16),
        (r.int8, 0x0102030405060708, 24),
        (r.lenenc_int, 251, 27),
        (r.lenenc_int_or_null, None, 28),
        (r.lenenc_str, b"abc", 32),
        (r.lenenc_str_or_null, None, 33),
        (r.nul_str, b"nul", 37),
        (lambda: r.fixed(3), b"FIX", 40),
        (lambda: r.fixed(0), b"", 40),
    ]
    for method, value, end in steps:
        assert method() == value
        assert r.offset == end
        assert r.remaining == len(buf) - end
    r.skip(2)
    assert r.offset == 42
    r.skip(0)
    assert r.offset == 42
    assert r.remaining == 4
    with pytest.raises(MalformedPacket) as info:
        r.expect_end()
    check_error(
        info.value,
        MalformedPacket,
        "malformed packet: 4 unexpected bytes at offset 42 after the last field",
        42,
        "end of packet",
    )
    assert r.rest() == b"rest"
    assert (r.offset, r.remaining, r.at_end()) == (46, 0, True)
    r.expect_end()
    assert r.rest() == b""


def test_reader_unpack_and_start_offset() -> None:
    r = Reader(b"\xaa\xbb\x02hi\x07", 2)
    assert r.offset == 2 and r.remaining == 4
    assert r.unpack("S B") == (b"hi", 7)
    assert r.at_end()
    assert Reader(b"ab", 2).at_end()


@pytest.mark.parametrize("offset", [-1, 4])
def test_reader_rejects_offset_outside_buffer(offset: int) -> None:
    with pytest.raises(ValueError) as info:
        Reader(b"abc", offset)
    assert str(info.value) == f"offset {offset} outside a buffer of 3 bytes"


def test_reader_errors_use_absolute_offsets_and_keep_the_cursor() -> None:
    r = Reader(b"\x01\x02\x03", 1)
    with pytest.raises(TruncatedPacket) as info:
        r.int4()
    check_error(
        info.value,
        TruncatedPacket,
        "truncated packet: expected 4-byte integer at offset 1, 2 bytes left",
        1,
        "4-byte integer",
    )
    assert r.offset == 1
    with pytest.raises(TruncatedPacket) as info:
        r.skip(3)
    check_error(
        info.value,
        TruncatedPacket,
        "truncated packet: expected 3 filler bytes at offset 1, 2 bytes left",
        1,
        "3 filler bytes",
    )
    assert r.offset == 1
    assert r.int2() == 0x0302
    with pytest.raises(MalformedPacket) as malformed:
        Reader(b"\x00\xfb").unpack("B L")
    assert malformed.value.offset == 1


def test_reader_copies_mutable_input() -> None:
    buf = bytearray(b"\x03abc")
    r = Reader(buf)
    buf[1:4] = b"XYZ"
    assert r.lenenc_str() == b"abc"


# ---------------------------------------------------------------------- Writer


def test_writer_every_method() -> None:
    w = Writer()
    same = (
        w.int1(1)
        .int2(0x0102)
        .int3(0x010203)
        .int4(0x01020304)
        .int6(0x010203040506)
        .int8(0x0102030405060708)
        .lenenc_int(251)
        .lenenc_int(None)
        .lenenc_str(b"abc")
        .lenenc_str(None)
        .nul_str(b"nul")
        .fixed(b"FIX")
        .fixed(b"")
        .zeros(2)
        .zeros(0)
        .raw(b"rest")
        .pack("B Z", 9, b"")
    )
    assert same is w
    assert w.getvalue() == (
        b"\x01"
        b"\x02\x01"
        b"\x03\x02\x01"
        b"\x04\x03\x02\x01"
        b"\x06\x05\x04\x03\x02\x01"
        b"\x08\x07\x06\x05\x04\x03\x02\x01"
        b"\xfc\xfb\x00"
        b"\xfb"
        b"\x03abc"
        b"\xfb"
        b"nul\x00"
        b"FIX"
        b"\x00\x00"
        b"rest"
        b"\x09\x00"
    )
    assert Writer().getvalue() == b""


def test_writer_raw_copies_and_validates() -> None:
    buf = bytearray(b"abc")
    w = Writer().raw(buf).raw(memoryview(b"d"))
    buf[0:1] = b"X"
    assert w.getvalue() == b"abcd"
    with pytest.raises(ValueError) as info:
        Writer().int1(256)
    assert str(info.value) == "256 is out of range for a 1-byte integer"
    with pytest.raises(ValueError) as info:
        Writer().nul_str(b"a\x00")
    assert str(info.value) == "a NUL-terminated string cannot contain NUL"
    with pytest.raises(TypeError):
        Writer().int2(True)


def test_reader_fixed_and_skip_past_the_end_are_truncated_packets() -> None:
    # A length read off the wire and handed to fixed()/skip() must fail like any other
    # field: TruncatedPacket at the cursor, whatever the size.
    for n in (4, 2**24 + 1, 2**32):
        r = Reader(b"abc")
        with pytest.raises(TruncatedPacket) as info:
            r.fixed(n)
        check_error(
            info.value,
            TruncatedPacket,
            f"truncated packet: expected {n}-byte string at offset 0, 3 bytes left",
            0,
            f"{n}-byte string",
        )
        with pytest.raises(TruncatedPacket) as info:
            r.skip(n)
        check_error(
            info.value,
            TruncatedPacket,
            f"truncated packet: expected {n} filler bytes at offset 0, 3 bytes left",
            0,
            f"{n} filler bytes",
        )
        assert r.offset == 0


def test_reader_and_writer_fields_over_16_mib() -> None:
    # Payloads go up to max_payload (1 GiB by default); Reader.fixed/skip and
    # Writer.fixed/zeros take sizes, not format strings, so they must not inherit the
    # 16 MiB cap on counts in format strings.
    n = 2**24 + 1
    data = bytes(range(256)) * (n // 256) + b"\x07"
    r = Reader(b"\x01" + data + b"\x02")
    assert r.int1() == 1
    assert r.fixed(n) == data
    assert r.int1() == 2
    r = Reader(data + b"\x09")
    r.skip(n)
    assert r.int1() == 9
    assert Writer().fixed(data).getvalue() == data
    assert Writer().zeros(n).getvalue() == bytes(n)
