"""mywire.framing: frame_payload and PacketReader.

A physical packet is a 3-byte little-endian length, a sequence id and at most 0xFFFFFF
bytes; a packet of exactly 0xFFFFFF bytes means "continued", so a payload that is a
multiple of 0xFFFFFF ends with an empty packet.  Streams below are built by hand
(helpers.packet / helpers.hand_frame) and every offset in an expected message is counted
by hand in a comment.
"""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mywire import (
    MywireError,
    PacketReader,
    PacketsOutOfSync,
    PacketTooLarge,
    Payload,
    TruncatedPacket,
    frame_payload,
)
from mywire._pycore import ROWS_DEPRECATE_EOF, ROWS_EOF

from helpers import (
    MAX_PACKET,
    FeedResult,
    error_key,
    feed_bytewise,
    feed_chunks,
    feed_three_ways,
    feed_whole,
    hand_frame,
    hand_stream,
    header,
    packet,
    payload_ends,
)
from strategies import payload_sizes, payloads, split_points, streams, streams_with_cuts

M = MAX_PACKET
CHUNK = 64 * 1024


def big(n: int, seed: int = 0) -> bytes:
    """``n`` reproducible pseudo-random bytes (a shifted or mis-joined copy won't match)."""
    return random.Random(seed).randbytes(n)


# --------------------------------------------------------------------- frame_payload


def test_frame_empty_payload() -> None:
    assert frame_payload(b"") == (b"\x00\x00\x00\x00", 1)
    assert frame_payload(b"", 7) == (b"\x00\x00\x00\x07", 8)


def test_frame_small_payloads() -> None:
    assert frame_payload(b"abc") == (b"\x03\x00\x00\x00abc", 1)
    assert frame_payload(b"\x01", 3) == (b"\x01\x00\x00\x03\x01", 4)
    body = bytes(range(256)) * 2  # 512 = 0x000200
    assert frame_payload(body, 9) == (b"\x00\x02\x00\x09" + body, 10)


def test_frame_sequence_wraps() -> None:
    assert frame_payload(b"x", 255) == (b"\x01\x00\x00\xffx", 0)


def test_frame_accepts_bytes_likes() -> None:
    for data in (bytearray(b"abc"), memoryview(b"abc")):
        out, nxt = frame_payload(data, 2)
        assert type(out) is bytes
        assert (out, nxt) == (b"\x03\x00\x00\x02abc", 3)


@pytest.mark.parametrize("seq", [-1, 256, 1000])
def test_frame_rejects_bad_sequence_ids(seq: int) -> None:
    with pytest.raises(ValueError) as info:
        frame_payload(b"", seq)
    assert str(info.value) == f"sequence id {seq} is not in 0..255"


def test_frame_exactly_max_packet_gets_trailing_empty_packet() -> None:
    data = big(M)
    out, nxt = frame_payload(data)
    assert nxt == 2
    assert len(out) == 4 + M + 4
    assert out[:4] == b"\xff\xff\xff\x00"
    assert out[4 : 4 + M] == data
    assert out[4 + M :] == b"\x00\x00\x00\x01"


def test_frame_max_packet_plus_one() -> None:
    data = big(M + 1)
    out, nxt = frame_payload(data, 255)  # the id wraps inside the payload
    assert nxt == 1
    assert len(out) == 4 + M + 4 + 1
    assert out[:4] == b"\xff\xff\xff\xff"
    assert out[4 : 4 + M] == data[:M]
    assert out[4 + M :] == b"\x01\x00\x00\x00" + data[M:]


def test_frame_max_packet_minus_one_is_one_packet() -> None:
    data = big(M - 1)
    out, nxt = frame_payload(bytearray(data), 4)
    assert nxt == 5
    assert out[:4] == b"\xfe\xff\xff\x04"
    assert out[4:] == data


def test_frame_twice_max_packet_is_three_packets() -> None:
    data = big(2 * M)
    out, nxt = frame_payload(data, 10)
    assert nxt == 13
    assert len(out) == 2 * M + 12
    assert out[:4] == b"\xff\xff\xff\x0a"
    assert out[4 : 4 + M] == data[:M]
    assert out[4 + M : 8 + M] == b"\xff\xff\xff\x0b"
    assert out[8 + M : 8 + 2 * M] == data[M:]
    assert out[8 + 2 * M :] == b"\x00\x00\x00\x0c"


@given(payloads(), st.integers(0, 255))
def test_frame_matches_hand_framing(data: bytes, seq: int) -> None:
    assert frame_payload(data, seq) == hand_frame(data, seq)


# -------------------------------------------------------------- reading three ways

THREE_PACKETS = packet(0, b"abc") + packet(1, b"") + packet(2, b"\xfb\x00\xff")


def test_reader_three_ways_simple() -> None:
    got = feed_three_ways(THREE_PACKETS, [2, 5, 9])
    assert got.payloads == [Payload(0, b"abc"), Payload(1, b""), Payload(2, b"\xfb\x00\xff")]
    assert got.error is None
    # Byte by byte, each payload appears exactly when the last byte of its packet
    # arrives: 4+3 = 7, then +4 = 11, then +4+3 = 18.
    assert got.ready_at == [7, 11, 18]


def test_reader_returns_none_until_the_last_byte() -> None:
    reader = PacketReader()
    stream = packet(0, b"hello") + packet(1, b"!")
    for i, b in enumerate(stream):
        reader.feed(bytes([b]))
        got = reader.next_payload()
        if i == 8:  # offsets 0..8 hold the first packet
            assert got == Payload(0, b"hello")
        elif i == 13:
            assert got == Payload(1, b"!")
        else:
            assert got is None
    assert reader.next_payload() is None


def test_reader_sequence_wraps_past_255() -> None:
    bodies = [bytes([i % 256]) * (i % 5) for i in range(300)]
    stream, expected = hand_stream(bodies, 250)
    assert expected[5].seq == 255 and expected[6].seq == 0
    got = feed_three_ways(stream, [1, 100, 101, 102, 1000], make=lambda: PacketReader(seq=250))
    assert got.payloads == expected
    assert got.error is None
    assert got.ready_at == payload_ends(stream)


def test_reader_starting_sequence() -> None:
    stream = packet(5, b"a") + packet(6, b"b")
    got = feed_three_ways(stream, [3], make=lambda: PacketReader(seq=5))
    assert got.payloads == [Payload(5, b"a"), Payload(6, b"b")]
    with pytest.raises(ValueError) as info:
        PacketReader(seq=256)
    assert str(info.value) == "sequence id 256 is not in 0..255"
    with pytest.raises(ValueError) as info:
        PacketReader(max_payload=-1)
    assert str(info.value) == "max_payload must be >= 0"


def test_reader_with_trailing_partial_packet_and_no_eof() -> None:
    stream = THREE_PACKETS + b"\x05\x00\x00\x03ab"
    got = feed_three_ways(stream, [7, 20], eof=False)
    assert got.payloads == [Payload(0, b"abc"), Payload(1, b""), Payload(2, b"\xfb\x00\xff")]
    assert got.error is None


@given(streams_with_cuts())
def test_reader_three_ways_property(case: tuple[bytes, list[Payload], int, list[int]]) -> None:
    stream, expected, first, cuts = case
    got = feed_three_ways(stream, cuts, make=lambda: PacketReader(seq=first))
    assert got.payloads == expected
    assert got.error is None
    assert got.ready_at == payload_ends(stream)


@given(st.lists(payloads(), max_size=10), st.integers(0, 255), st.data())
def test_frame_payload_then_reader_is_identity(
    items: list[bytes], seq: int, data: st.DataObject
) -> None:
    parts = []
    s = seq
    for p in items:
        out, s = frame_payload(p, s)
        parts.append(out)
    stream = b"".join(parts)
    cuts = data.draw(split_points(len(stream)))
    got = feed_chunks(stream, cuts, make=lambda: PacketReader(seq=seq))
    assert [p.data for p in got.payloads] == items
    assert got.error is None
    expected_seqs = []
    s = seq
    for p in items:
        expected_seqs.append(s)
        s = (s + len(p) // M + 1) % 256
    assert [p.seq for p in got.payloads] == expected_seqs


# ----------------------------------------------------------------- sequence errors


def check_out_of_sync(exc: BaseException | None, expected: int, offset: int, actual: int) -> None:
    assert type(exc) is PacketsOutOfSync
    assert str(exc) == (
        f"packets out of sync: expected sequence id {expected} at offset {offset}, got {actual}"
    )
    assert exc.offset == offset
    assert exc.expected == f"sequence id {expected}"
    assert exc.actual == actual
    assert exc.code == 2014  # CR_COMMANDS_OUT_OF_SYNC
    assert isinstance(exc, MywireError) and isinstance(exc, ValueError)


def test_out_of_sync_after_a_good_packet() -> None:
    # packet(0, "abc") covers offsets 0..6; the bad header starts at 7.
    stream = packet(0, b"abc") + packet(3, b"de") + packet(4, b"f")
    got = feed_three_ways(stream, [8])
    assert got.payloads == [Payload(0, b"abc")]
    check_out_of_sync(got.error, 1, 7, 3)
    assert got.ready_at == [7]


def test_out_of_sync_on_the_first_packet() -> None:
    got = feed_three_ways(packet(1, b"x"))
    assert got.payloads == []
    check_out_of_sync(got.error, 0, 0, 1)


def test_out_of_sync_raised_only_after_earlier_payloads() -> None:
    # 4+1 + 4+2 = 11: the third header (id 9 where 2 is due) starts at offset 11.
    stream = packet(0, b"a") + packet(1, b"bc") + packet(9, b"")
    reader = PacketReader()
    reader.feed(stream)
    assert reader.next_payload() == Payload(0, b"a")
    assert reader.next_payload() == Payload(1, b"bc")
    with pytest.raises(PacketsOutOfSync) as info:
        reader.next_payload()
    check_out_of_sync(info.value, 2, 11, 9)
    # read_payloads hands over the good payloads first and raises on the next call.
    batch = PacketReader()
    batch.feed(stream)
    assert batch.read_payloads() == [Payload(0, b"a"), Payload(1, b"bc")]
    with pytest.raises(PacketsOutOfSync) as info2:
        batch.read_payloads()
    check_out_of_sync(info2.value, 2, 11, 9)


def test_out_of_sync_is_checked_on_the_header_alone() -> None:
    reader = PacketReader()
    reader.feed(packet(0, b"ab"))
    reader.feed(b"\x10\x00\x00")
    assert reader.next_payload() == Payload(0, b"ab")
    assert reader.next_payload() is None
    reader.feed(b"\x05")  # completes a header with id 5 at offset 6; no body yet
    with pytest.raises(PacketsOutOfSync) as info:
        reader.next_payload()
    check_out_of_sync(info.value, 1, 6, 5)


def test_errors_are_sticky() -> None:
    reader = PacketReader()
    reader.feed(packet(1, b"x"))
    with pytest.raises(PacketsOutOfSync) as first:
        reader.next_payload()
    reader.feed(packet(0, b"y"))
    for _ in range(3):
        with pytest.raises(PacketsOutOfSync) as again:
            reader.next_payload()
        assert error_key(again.value) == error_key(first.value)
        with pytest.raises(PacketsOutOfSync):
            reader.read_payloads()


def test_seq_none_disables_checks() -> None:
    stream = packet(5, b"a") + packet(9, b"b") + packet(9, b"c") + packet(0, b"")
    expected = [Payload(5, b"a"), Payload(9, b"b"), Payload(9, b"c"), Payload(0, b"")]
    got = feed_three_ways(stream, [6, 7], make=lambda: PacketReader(seq=None))
    assert got.payloads == expected
    assert got.error is None
    for batch in (1, 2, 1024):
        res = feed_whole(stream, make=lambda: PacketReader(seq=None), batch=batch)
        assert res.payloads == expected
        assert res.error is None
    assert PacketReader(seq=None).seq is None


def test_seq_property_tracks_the_next_id() -> None:
    reader = PacketReader(seq=3)
    assert reader.seq == 3
    reader.feed(packet(3, b"a") + packet(4, b"b"))
    assert reader.next_payload() == Payload(3, b"a")
    assert reader.seq == 4
    assert reader.next_payload() == Payload(4, b"b")
    assert reader.seq == 5


# ------------------------------------------------------------------ reset_sequence


def test_reset_sequence_between_commands() -> None:
    reader = PacketReader()
    reader.feed(packet(0, b"handshake"))
    assert reader.next_payload() == Payload(0, b"handshake")
    reader.reset_sequence(2)
    assert reader.seq == 2
    reader.feed(packet(2, b"ok") + packet(1, b"reply"))
    assert reader.next_payload() == Payload(2, b"ok")
    # The next packet is already buffered (and may have been scanned): resetting still
    # applies to it.
    reader.reset_sequence(1)
    assert reader.next_payload() == Payload(1, b"reply")
    reader.reset_sequence()
    assert reader.seq == 0
    reader.feed(packet(0, b"") + packet(7, b"any"))
    assert reader.next_payload() == Payload(0, b"")
    reader.reset_sequence(None)
    assert reader.seq is None
    assert reader.next_payload() == Payload(7, b"any")


def test_reset_sequence_applies_to_already_buffered_packets() -> None:
    reader = PacketReader()
    reader.feed(packet(0, b"a") + packet(0, b"b"))  # two commands' replies, both id 0
    assert reader.next_payload() == Payload(0, b"a")
    reader.reset_sequence(0)
    assert reader.next_payload() == Payload(0, b"b")


def test_reset_sequence_mid_packet_checks_the_buffered_header() -> None:
    # A pipelining peer: the next packet is partly in when the new command's id is set.
    # Its complete header is checked against the new id at once (the error is raised by
    # the next read), an incomplete one when it completes.
    reader = PacketReader()
    reader.feed(b"\x05\x00\x00\x00ab")  # header (id 0) + 2 of 5 body bytes
    assert reader.next_payload() is None
    reader.reset_sequence(1)
    with pytest.raises(PacketsOutOfSync) as info:
        reader.next_payload()
    assert str(info.value) == "packets out of sync: expected sequence id 1 at offset 0, got 0"

    reader = PacketReader(seq=None)
    reader.feed(b"\x05\x00\x00\x00ab")
    assert reader.next_payload() is None
    reader.reset_sequence(0)
    reader.feed(b"cde" + packet(1, b"n"))
    assert reader.next_payload() == Payload(0, b"abcde")
    assert reader.next_payload() == Payload(1, b"n")

    reader = PacketReader()
    reader.feed(b"\x05\x00")  # half a header: checked when it completes
    assert reader.next_payload() is None
    reader.reset_sequence(7)
    reader.feed(b"\x00\x07abcde")
    assert reader.next_payload() == Payload(7, b"abcde")


def test_reset_sequence_refuses_bad_ids() -> None:
    reader = PacketReader()
    reader.feed(packet(0, b"abcde"))
    assert reader.next_payload() == Payload(0, b"abcde")
    with pytest.raises(ValueError) as info:
        reader.reset_sequence(256)
    assert str(info.value) == "sequence id 256 is not in 0..255"
    reader.reset_sequence(200)
    reader.feed(packet(200, b"z"))
    assert reader.next_payload() == Payload(200, b"z")


# ---------------------------------------------------------------------- max_payload


def check_too_large(exc: BaseException | None, offset: int, declared: int, maximum: int) -> None:
    assert type(exc) is PacketTooLarge
    assert str(exc) == (
        f"packet too large: payload at offset {offset} declares {declared} bytes, "
        f"more than the maximum of {maximum}"
    )
    assert exc.offset == offset
    assert exc.expected == f"a payload of at most {maximum} bytes"
    assert exc.code == 2020  # CR_NET_PACKET_TOO_LARGE
    assert isinstance(exc, MywireError) and isinstance(exc, ValueError)


def test_too_large_raised_on_the_header_alone() -> None:
    reader = PacketReader(max_payload=10)
    reader.feed(header(11, 0))  # no body at all
    with pytest.raises(PacketTooLarge) as info:
        reader.next_payload()
    check_too_large(info.value, 0, 11, 10)


def test_too_large_header_fed_byte_by_byte() -> None:
    reader = PacketReader(max_payload=10)
    reader.feed(packet(0, b"0123456789"))  # exactly the maximum is fine
    assert reader.next_payload() == Payload(0, b"0123456789")
    hdr = header(0xABCDEF, 1)
    for b in hdr[:3]:
        reader.feed(bytes([b]))
        assert reader.next_payload() is None
    reader.feed(hdr[3:])
    with pytest.raises(PacketTooLarge) as info:
        reader.next_payload()
    # The first packet took offsets 0..13, so the big header starts at 14.
    check_too_large(info.value, 14, 0xABCDEF, 10)


def test_too_large_three_ways_and_max_zero() -> None:
    stream = packet(0, b"") + packet(1, b"") + packet(2, b"x")
    got = feed_three_ways(stream, [5], make=lambda: PacketReader(max_payload=0))
    assert got.payloads == [Payload(0, b""), Payload(1, b"")]
    check_too_large(got.error, 8, 1, 0)


def test_too_large_counts_continuation_packets() -> None:
    # max = M + 10.  A full packet (M bytes) then a continuation declaring 11 bytes makes
    # the payload M + 11.  The continuation header starts at offset 4 + M.
    maximum = M + 10
    body = bytes(M)
    reader = PacketReader(max_payload=maximum)
    reader.feed(header(M, 0))
    assert reader.next_payload() is None
    reader.feed(body)
    assert reader.next_payload() is None
    reader.feed(header(11, 1))
    with pytest.raises(PacketTooLarge) as info:
        reader.next_payload()
    check_too_large(info.value, 4 + M, M + 11, maximum)


def test_too_large_continuation_in_one_segment() -> None:
    maximum = M + 10
    stream = header(M, 0) + bytes(M) + header(11, 1) + b"partial"
    got = feed_whole(stream, make=lambda: PacketReader(max_payload=maximum), eof=False)
    assert got.payloads == []
    check_too_large(got.error, 4 + M, M + 11, maximum)


def test_continuation_up_to_the_maximum_is_accepted() -> None:
    maximum = M + 10
    reader = PacketReader(max_payload=maximum)
    body = big(M + 10, 7)
    reader.feed(header(M, 0) + body[:M])
    reader.feed(header(10, 1) + body[M:])
    got = reader.next_payload()
    assert got is not None
    assert got.seq == 0
    assert got.data == body


def test_too_large_first_full_packet() -> None:
    reader = PacketReader(max_payload=M - 1)
    reader.feed(header(M, 0) + b"only a little of the body")
    with pytest.raises(PacketTooLarge) as info:
        reader.next_payload()
    check_too_large(info.value, 0, M, M - 1)


def test_max_payload_beyond_64_bits_means_unlimited() -> None:
    # Any non-negative int is accepted by the constructor; both backends must agree.
    got = feed_whole(packet(0, b"abc"), make=lambda: PacketReader(max_payload=2**64))
    assert got.payloads == [Payload(0, b"abc")]


# ------------------------------------------------------------------ end of stream


def check_truncated(exc: BaseException | None, message: str, offset: int, expected: str) -> None:
    assert type(exc) is TruncatedPacket
    assert str(exc) == message
    assert exc.offset == offset
    assert exc.expected == expected


def test_eof_inside_a_body() -> None:
    # First packet: offsets 0..6.  Second header at 7 declares 5 bytes; 2 arrive, so the
    # stream ends at 7 + 4 + 2 = 13.
    stream = packet(0, b"abc") + b"\x05\x00\x00\x01ab"
    got = feed_three_ways(stream, [9])
    assert got.payloads == [Payload(0, b"abc")]
    check_truncated(
        got.error,
        "truncated stream: the stream ended at offset 13 inside the packet that starts at offset 7",
        7,
        "the rest of the packet",
    )


def test_eof_inside_a_header() -> None:
    stream = packet(0, b"abc") + b"\x05\x00"
    got = feed_three_ways(stream, [8])
    assert got.payloads == [Payload(0, b"abc")]
    check_truncated(
        got.error,
        "truncated stream: the stream ended at offset 9 inside the packet that starts at offset 7",
        7,
        "the rest of the packet",
    )


def test_eof_after_a_full_packet_without_continuation() -> None:
    stream = header(M, 0) + bytes(M)
    got = feed_whole(stream)
    assert got.payloads == []
    check_truncated(
        got.error,
        f"truncated stream: the stream ended at offset {M + 4} after a {M}-byte packet; "
        "expected a continuation packet",
        M + 4,
        "a continuation packet",
    )


def test_eof_on_a_boundary_is_clean() -> None:
    reader = PacketReader()
    assert not reader.at_eof
    reader.feed(b"")
    assert reader.at_eof
    assert reader.next_payload() is None
    assert reader.read_payloads() == []

    reader = PacketReader()
    reader.feed(THREE_PACKETS)
    assert not reader.at_eof
    reader.feed(b"")
    assert not reader.at_eof  # payloads still to be returned
    assert reader.next_payload() == Payload(0, b"abc")
    assert not reader.at_eof
    assert reader.next_payload() == Payload(1, b"")
    assert reader.next_payload() == Payload(2, b"\xfb\x00\xff")
    assert reader.next_payload() is None
    assert reader.at_eof
    assert reader.read_payloads() == []


def test_at_eof_true_as_soon_as_the_last_payload_is_returned() -> None:
    # "True once the stream has ended and every payload in it was returned": no extra
    # next_payload() call returning None should be needed.
    reader = PacketReader()
    reader.feed(THREE_PACKETS)
    reader.feed(b"")
    assert len(reader.read_payloads(3)) == 3
    assert reader.at_eof
    reader = PacketReader()
    reader.feed(packet(0, b"only"))
    reader.feed(b"")
    assert reader.next_payload() == Payload(0, b"only")
    assert reader.at_eof


def test_at_eof_false_before_eof_even_when_drained() -> None:
    reader = PacketReader()
    reader.feed(packet(0, b"x"))
    assert reader.next_payload() == Payload(0, b"x")
    assert reader.next_payload() is None
    assert not reader.at_eof
    reader.feed(b"")
    assert reader.at_eof


def test_at_eof_false_when_the_stream_ended_mid_packet() -> None:
    reader = PacketReader()
    reader.feed(b"\x05\x00\x00\x00ab")
    reader.feed(b"")
    with pytest.raises(TruncatedPacket):
        reader.next_payload()
    assert not reader.at_eof


def test_at_eof_false_when_the_stream_ended_after_a_full_packet() -> None:
    reader = PacketReader()
    reader.feed(header(M, 0) + bytes(M))
    reader.feed(b"")
    with pytest.raises(TruncatedPacket):
        reader.next_payload()
    assert not reader.at_eof  # a payload was left unfinished


def test_feed_after_eof_is_refused() -> None:
    reader = PacketReader()
    reader.feed(b"")
    with pytest.raises(ValueError) as info:
        reader.feed(b"x")
    assert str(info.value) == "data fed after the end of the stream"


# ------------------------------------------------------------------- read_payloads


def test_read_payloads_limit() -> None:
    stream, expected = hand_stream([bytes([i]) for i in range(10)])
    reader = PacketReader()
    reader.feed(stream)
    assert reader.read_payloads(3) == expected[:3]
    assert reader.read_payloads(0) == []
    assert reader.next_payload() == expected[3]
    assert reader.read_payloads() == expected[4:]
    assert reader.read_payloads() == []


@given(
    st.one_of(
        streams_with_cuts(max_payloads=12).map(lambda c: (c[0], c[2], c[3])),
        st.tuples(st.binary(max_size=60), st.integers(0, 255), st.just([])),
    ),
    st.integers(1, 5),
    st.booleans(),
)
def test_read_payloads_equals_repeated_next_payload(
    case: tuple[bytes, int, list[int]], limit: int, eof: bool
) -> None:
    stream, first, cuts = case
    one: FeedResult = feed_chunks(stream, cuts, make=lambda: PacketReader(seq=first), eof=eof)
    batched = feed_chunks(stream, cuts, make=lambda: PacketReader(seq=first), eof=eof, batch=limit)
    assert batched.key == one.key
    assert batched.ready_at == one.ready_at


# ---------------------------------------------------------------- non-bytes input


def test_mutating_a_fed_bytearray_does_not_change_payloads() -> None:
    stream = packet(0, b"first") + packet(1, b"second")
    buf = bytearray(stream[:14])  # the first packet and 5 bytes of the second
    reader = PacketReader()
    reader.feed(buf)
    buf[:] = b"\xee" * len(buf)
    view_src = bytearray(stream[14:])
    reader.feed(memoryview(view_src))
    view_src[:] = b"\xdd" * len(view_src)
    assert reader.next_payload() == Payload(0, b"first")
    got = reader.next_payload()
    assert got == Payload(1, b"second")
    assert got is not None and type(got.data) is bytes


def test_mutating_a_bytearray_after_a_partial_packet() -> None:
    stream = packet(0, b"abcdef")
    part = bytearray(stream[:7])  # the header and "abc"
    reader = PacketReader()
    reader.feed(part)
    assert reader.next_payload() is None
    part[4:7] = b"XXX"
    reader.feed(stream[7:])
    assert reader.next_payload() == Payload(0, b"abcdef")


# ------------------------------------------------------------- 16 MiB boundaries

BOUNDARY_SIZES = [M - 1, M, M + 1, 2 * M]


@pytest.mark.parametrize("size", BOUNDARY_SIZES, ids=["M-1", "M", "M+1", "2M"])
@pytest.mark.parametrize("chunked", [False, True], ids=["whole", "64KiB"])
def test_real_size_boundaries(size: int, chunked: bool) -> None:
    data = big(size, size)
    digest = hashlib.sha256(data).digest()
    stream, nxt = hand_frame(data, 0)
    del data  # keep the peak down: the stream and the reader's output are enough
    # A small payload after the big one checks the sequence continues correctly.
    stream += packet(nxt, b"after")
    expected_packets = size // M + 1
    assert nxt == expected_packets
    cuts = list(range(CHUNK, len(stream), CHUNK)) if chunked else []
    got = feed_chunks(stream, cuts)
    assert got.error is None
    assert len(got.payloads) == 2
    first, after = got.payloads
    assert first.seq == 0
    assert len(first.data) == size
    assert hashlib.sha256(first.data).digest() == digest
    assert after == Payload(expected_packets, b"after")


def test_big_payload_through_frame_payload_and_read_payloads() -> None:
    data = big(M + 1, 3)
    stream, _ = frame_payload(data, 0)
    stream += frame_payload(b"tail", 2)[0]
    reader = PacketReader()
    for start in range(0, len(stream), CHUNK):
        reader.feed(stream[start : start + CHUNK])
    reader.feed(b"")
    out = reader.read_payloads()
    assert [p.seq for p in out] == [0, 2]
    assert out[0].data == data and out[1].data == b"tail"
    assert reader.at_eof


def test_out_of_sync_on_a_continuation_packet() -> None:
    # The continuation should carry id 1; it carries 2.  Its header starts at 4 + M.
    stream = header(M, 0) + bytes(M) + packet(2, b"x")
    got = feed_chunks(stream, [4, 4 + M, 6 + M])
    assert got.payloads == []
    check_out_of_sync(got.error, 1, 4 + M, 2)


@settings(max_examples=4, deadline=None)
@given(payload_sizes(big=True), streams(max_payloads=3), st.integers(1, 4))
def test_small_payloads_after_a_big_payload(
    size: int, case: tuple[bytes, list[Payload], int], nchunks: int
) -> None:
    small, expected_small, first = case
    npackets = size // M + 1
    start = (first - npackets) % 256
    data = b"\x5a" * size
    stream = hand_frame(data, start)[0] + small
    step = len(stream) // nchunks + 1
    got = feed_chunks(
        stream, list(range(step, len(stream), step)), make=lambda: PacketReader(seq=start)
    )
    assert got.error is None
    assert got.payloads == [Payload(start, data), *expected_small]


def test_bytewise_driver_sees_payload_only_at_last_byte() -> None:
    # A sanity check of the driver itself on a stream with an empty payload in the middle.
    stream = packet(0, b"") + packet(1, b"ab") + packet(2, b"")
    got = feed_bytewise(stream)
    assert got.ready_at == [4, 10, 14]
    assert got.payloads == [Payload(0, b""), Payload(1, b"ab"), Payload(2, b"")]


# ------------------------------------------------------------------------ read_rows


def test_read_rows_stops_before_the_terminator() -> None:
    # Rows 0x00 "" (first column empty: the byte an OK starts with), "\x01a", then the
    # DEPRECATE_EOF terminator (an OK with header 0xFE, 7 bytes).
    stream = packet(1, b"\x00") + packet(2, b"\x01a") + packet(3, b"\xfe\x00\x00\x02\x00\x00\x00")
    reader = PacketReader(seq=1)
    reader.feed(stream)
    run = reader.read_rows(100, ROWS_DEPRECATE_EOF)
    assert run is not None
    assert run.data is not None and run.nrows == 2
    assert run.spans.tolist() == [4, 1, 9, 2]
    assert reader.read_rows(100, ROWS_DEPRECATE_EOF) is None
    assert reader.next_payload() == Payload(3, b"\xfe\x00\x00\x02\x00\x00\x00")


def test_read_rows_terminator_rules_per_mode() -> None:
    # A 0xFE payload of 9 bytes is a row with classic EOFs (an EOF is shorter than 9
    # bytes) and a terminator under DEPRECATE_EOF (an OK can be longer).
    nine = b"\xfe" + bytes(8)
    for mode, rows in ((ROWS_EOF, 1), (ROWS_DEPRECATE_EOF, 0)):
        reader = PacketReader(seq=0)
        reader.feed(packet(0, nine))
        run = reader.read_rows(10, mode)
        assert (run.nrows if run else 0) == rows


def test_read_rows_leaves_err_and_long_rows_to_next_payload() -> None:
    reader = PacketReader(seq=0)
    reader.feed(packet(0, b"\x01x") + packet(1, b"\xff\x10\x04#HY000no"))
    run = reader.read_rows(10, ROWS_EOF)
    assert run is not None and run.nrows == 1
    assert reader.read_rows(10, ROWS_EOF) is None
    assert reader.next_payload() == Payload(1, b"\xff\x10\x04#HY000no")
    # A row cut by the end of what was fed comes whole from next_payload.
    reader = PacketReader(seq=0)
    reader.feed(packet(0, b"\x03abc")[:5])
    assert reader.read_rows(10, ROWS_EOF) is None
    reader.feed(b"abc")
    assert reader.read_rows(10, ROWS_EOF) is None
    assert reader.next_payload() == Payload(0, b"\x03abc")
