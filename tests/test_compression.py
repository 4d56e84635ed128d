"""The compressed protocol: compress_frames and CompressedPacketReader.

A frame is a 7-byte header (3-byte compressed length, 1-byte sequence id, 3-byte
uncompressed length, 0 meaning "sent raw") and a body; the bodies, inflated and joined,
are an ordinary packet stream whose packets may cross frame boundaries.  Frames are built
by hand here (helpers.frame / raw_frame / zlib_frame).
"""

from __future__ import annotations

import importlib.util
import sys
import tracemalloc
import zlib
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mywire import (
    CompressedPacketReader,
    MalformedPacket,
    MywireError,
    PacketsOutOfSync,
    PacketTooLarge,
    Payload,
    TruncatedPacket,
    UnsupportedFeature,
    compress_frames,
    frame_payload,
)

from helpers import (
    MAX_PACKET,
    error_key,
    feed_chunks,
    feed_three_ways,
    feed_whole,
    frame,
    hand_stream,
    inflate_frames,
    packet,
    raw_frame,
    zlib_frame,
)
from strategies import payloads, split_points

HAVE_ZSTD = importlib.util.find_spec("zstandard") is not None
ALGORITHMS = [
    "zlib",
    pytest.param("zstd", marks=pytest.mark.skipif(not HAVE_ZSTD, reason="zstandard not installed")),
]


def zlib_reader(**kw: object) -> CompressedPacketReader:
    return CompressedPacketReader(algorithm="zlib", **kw)  # type: ignore[arg-type]


# ------------------------------------------------------------------ compress_frames


def test_short_data_goes_raw() -> None:
    data = packet(0, b"\x03")  # 5 bytes, under the 50-byte minimum
    assert compress_frames(data) == (b"\x05\x00\x00\x00\x00\x00\x00" + data, 1)
    assert compress_frames(data, 255) == (b"\x05\x00\x00\xff\x00\x00\x00" + data, 0)
    forty_nine = b"a" * 49
    assert compress_frames(forty_nine, 3) == (b"\x31\x00\x00\x03\x00\x00\x00" + forty_nine, 4)


def test_compressible_data_is_deflated() -> None:
    data = b"a" * 50
    out, nxt = compress_frames(data, 2)
    assert nxt == 3
    clen = int.from_bytes(out[:3], "little")
    assert out[3] == 2
    assert int.from_bytes(out[4:7], "little") == 50
    assert clen == len(out) - 7 < 50
    assert zlib.decompress(out[7:]) == data


def test_incompressible_data_goes_raw() -> None:
    data = bytes((i * 97 + 13) % 256 for i in range(60)) + zlib.compress(b"x" * 40)
    out, nxt = compress_frames(data)
    assert nxt == 1
    assert out == len(data).to_bytes(3, "little") + b"\x00\x00\x00\x00" + data


def test_min_length_parameter() -> None:
    data = b"b" * 30
    out, _ = compress_frames(data, min_length=10)
    assert int.from_bytes(out[4:7], "little") == 30
    assert zlib.decompress(out[7:]) == data
    out, _ = compress_frames(b"c" * 100, min_length=101)
    assert out == b"\x64\x00\x00\x00\x00\x00\x00" + b"c" * 100


def test_data_over_max_packet_is_split_into_frames() -> None:
    data = b"z" * MAX_PACKET + b"y" * 10
    out, nxt = compress_frames(data, 7)
    assert nxt == 9
    frames, inflated = inflate_frames(out)
    assert [(f.seq, f.ulen) for f in frames] == [(7, MAX_PACKET), (8, 0)]
    assert frames[1].clen == 10
    assert inflated == data


def test_compress_frames_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError) as info:
        compress_frames(b"", 256)
    assert str(info.value) == "sequence id 256 is not in 0..255"
    with pytest.raises(ValueError) as info:
        compress_frames(b"abc", algorithm="lz4")
    assert str(info.value) == "unknown compression algorithm 'lz4'"
    with pytest.raises(ValueError) as info:
        CompressedPacketReader(algorithm="lz4")
    assert str(info.value) == "unknown compression algorithm 'lz4'"


@pytest.mark.parametrize("seq", [-1, 256])
def test_compressed_sequence_id_range_is_checked(seq: int) -> None:
    # As for PacketReader, frame_payload and compress_frames.
    with pytest.raises(ValueError) as info:
        CompressedPacketReader(seq=seq)
    assert str(info.value) == f"sequence id {seq} is not in 0..255"
    reader = CompressedPacketReader()
    with pytest.raises(ValueError) as info:
        reader.reset_sequence(seq)
    assert str(info.value) == f"sequence id {seq} is not in 0..255"


def test_zstd_without_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "zstandard", None)  # makes the import fail
    with pytest.raises(UnsupportedFeature) as info:
        CompressedPacketReader(algorithm="zstd")
    assert "zstandard" in str(info.value)
    with pytest.raises(UnsupportedFeature):
        compress_frames(b"x" * 100, algorithm="zstd")
    assert isinstance(info.value, MywireError)


# ------------------------------------------------------------------------ reading


def test_raw_frame() -> None:
    stream = packet(0, b"abc") + packet(1, b"")
    got = feed_three_ways(raw_frame(0, stream), [3, 8], make=zlib_reader)
    assert got.payloads == [Payload(0, b"abc"), Payload(1, b"")]
    assert got.error is None


def test_frame_holding_several_packets() -> None:
    stream = packet(0, b"a" * 60) + packet(1, b"b" * 70) + packet(2, b"")
    data = zlib_frame(0, stream)
    assert len(data) < len(stream)
    got = feed_three_ways(data, [10], make=zlib_reader)
    assert got.payloads == [Payload(0, b"a" * 60), Payload(1, b"b" * 70), Payload(2, b"")]
    assert got.error is None


def test_packet_split_across_frames() -> None:
    stream = packet(0, b"x" * 100) + packet(1, b"tail")
    # Frames: the header and 30 body bytes deflated, 50 more raw, the rest deflated.
    data = zlib_frame(0, stream[:34]) + raw_frame(1, stream[34:84]) + zlib_frame(2, stream[84:])
    got = feed_three_ways(data, [7, 20, 40], make=zlib_reader)
    assert got.payloads == [Payload(0, b"x" * 100), Payload(1, b"tail")]
    assert got.error is None
    # The payload becomes available only with the last frame.
    assert got.ready_at == [len(data), len(data)]


def test_header_split_across_frames() -> None:
    stream = packet(0, b"hello")
    data = raw_frame(0, stream[:2]) + raw_frame(1, stream[2:])
    got = feed_three_ways(data, make=zlib_reader)
    assert got.payloads == [Payload(0, b"hello")]


def test_empty_raw_frame_is_ignored() -> None:
    # A frame with no bytes (what compress_frames(b"") itself produces) carries an empty
    # slice of the packet stream; it must not end that stream.
    data = raw_frame(0, b"") + raw_frame(1, packet(0, b"after"))
    got = feed_whole(data, make=zlib_reader)
    assert got.error is None
    assert got.payloads == [Payload(0, b"after")]


def test_round_trip_of_an_empty_stream() -> None:
    data, nxt = compress_frames(b"")
    assert (data, nxt) == (b"\x00" * 7, 1)
    got = feed_whole(data, make=zlib_reader)
    assert got.error is None
    assert got.payloads == []


def test_next_payload_after_a_clean_end_keeps_returning_none() -> None:
    reader = zlib_reader()
    reader.feed(raw_frame(0, packet(0, b"x")))
    reader.feed(b"")
    assert reader.next_payload() == Payload(0, b"x")
    for _ in range(3):
        assert reader.next_payload() is None


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@given(items=st.lists(payloads(), max_size=8), data=st.data())
def test_round_trip(algorithm: str, items: list[bytes], data: st.DataObject) -> None:
    first = data.draw(st.integers(0, 255), label="packet seq")
    stream, expected = hand_stream(items, first)
    # compress_frames makes one frame per 0xFFFFFF bytes; cut the stream into several
    # calls too, so packets straddle frames.
    pieces = data.draw(split_points(len(stream), max_cuts=4), label="frame cuts")
    bounds = [0, *pieces, len(stream)]
    cseq = data.draw(st.integers(0, 255), label="frame seq")
    level = data.draw(st.sampled_from([None, 1, 9]), label="level")
    min_length = data.draw(st.sampled_from([0, 1, 50, 1000]), label="min_length")
    frames = []
    s = cseq
    for a, b in pairwise(bounds):
        out, s = compress_frames(
            stream[a:b], s, algorithm=algorithm, level=level, min_length=min_length
        )
        frames.append(out)
    wire = b"".join(frames)
    cuts = data.draw(split_points(len(wire)), label="feed cuts")
    got = feed_three_ways(
        wire, cuts, make=lambda: CompressedPacketReader(algorithm=algorithm, seq=cseq)
    )
    assert got.error is None
    assert got.payloads == expected


@pytest.mark.skipif(not HAVE_ZSTD, reason="zstandard not installed")
def test_zstd_frame() -> None:
    import zstandard

    stream = packet(0, b"q" * 200)
    body = zstandard.ZstdCompressor().compress(stream)
    data = frame(0, body, len(stream))
    got = feed_three_ways(data, make=lambda: CompressedPacketReader(algorithm="zstd"))
    assert got.payloads == [Payload(0, b"q" * 200)]


# ------------------------------------------------------------------------- errors


def test_compressed_sequence_mismatch() -> None:
    first = raw_frame(0, packet(0, b"ok"))  # 7 + 6 = 13 bytes, so frame 2 starts at 13
    data = first + raw_frame(2, packet(1, b"never"))
    got = feed_three_ways(data, [15], make=zlib_reader)
    assert got.payloads == [Payload(0, b"ok")]
    exc = got.error
    assert type(exc) is PacketsOutOfSync
    assert str(exc) == "packets out of sync: expected sequence id 1 at offset 13, got 2"
    assert exc.offset == 13
    assert exc.expected == "sequence id 1"
    assert exc.actual == 2


def test_compressed_sequence_start_and_unchecked() -> None:
    data = raw_frame(5, packet(0, b"a")) + raw_frame(9, packet(1, b"b"))
    got = feed_whole(data, make=lambda: zlib_reader(seq=None))
    assert got.payloads == [Payload(0, b"a"), Payload(1, b"b")]
    got = feed_whole(data, make=lambda: zlib_reader(seq=5))
    assert got.payloads == [Payload(0, b"a")]
    assert got.error is not None and got.error.offset == 12
    reader = zlib_reader(seq=5)
    reader.feed(data[:12])
    assert reader.next_payload() == Payload(0, b"a")
    reader.reset_sequence(9)
    reader.feed(data[12:])
    assert reader.next_payload() == Payload(1, b"b")


def test_inner_packets_are_not_sequence_checked() -> None:
    # Servers and clients do not check packet ids inside compressed frames.
    data = raw_frame(0, packet(7, b"a") + packet(3, b"b"))
    got = feed_whole(data, make=zlib_reader)
    assert got.payloads == [Payload(7, b"a"), Payload(3, b"b")]


def check_malformed(exc: BaseException | None, message: str, offset: int, expected: str) -> None:
    assert type(exc) is MalformedPacket
    assert str(exc) == message
    assert exc.offset == offset
    assert exc.expected == expected


def test_inflates_to_fewer_bytes_than_declared() -> None:
    body = b"m" * 99
    data = raw_frame(0, packet(0, b"ok")) + frame(1, zlib.compress(body), 100)
    got = feed_three_ways(data, make=zlib_reader)
    assert got.payloads == [Payload(0, b"ok")]
    check_malformed(
        got.error,
        "malformed compressed frame at offset 13: inflates to 99 bytes, not the declared 100",
        13,
        "zlib data inflating to 100 bytes",
    )


def test_inflates_to_more_bytes_than_declared() -> None:
    data = frame(0, zlib.compress(b"m" * 200), 98)
    got = feed_three_ways(data, make=zlib_reader)
    check_malformed(
        got.error,
        "malformed compressed frame at offset 0: inflates to more than the declared 98 bytes",
        0,
        "zlib data inflating to 98 bytes",
    )
    # One byte over is still an exact count.
    got = feed_three_ways(frame(0, zlib.compress(b"m" * 99), 98), make=zlib_reader)
    check_malformed(
        got.error,
        "malformed compressed frame at offset 0: inflates to 99 bytes, not the declared 98",
        0,
        "zlib data inflating to 98 bytes",
    )


def test_garbage_zlib_data() -> None:
    data = frame(0, b"this is not zlib data", 100)
    got = feed_three_ways(data, make=zlib_reader)
    exc = got.error
    assert type(exc) is MalformedPacket
    assert str(exc).startswith("malformed compressed frame at offset 0: invalid zlib data (")
    assert exc.offset == 0
    assert exc.expected == "zlib data inflating to 100 bytes"


def test_zlib_stream_not_ending_with_the_frame() -> None:
    body = b"k" * 80
    for bad in (zlib.compress(body) + b"junk", zlib.compress(body)[:-4]):
        got = feed_whole(frame(0, bad, 80), make=zlib_reader)
        check_malformed(
            got.error,
            "malformed compressed frame at offset 0: the zlib stream does not end where "
            "the frame does",
            0,
            "zlib data inflating to 80 bytes",
        )


@pytest.mark.skipif(not HAVE_ZSTD, reason="zstandard not installed")
def test_garbage_zstd_data() -> None:
    got = feed_whole(
        frame(0, b"not zstd either", 100),
        make=lambda: CompressedPacketReader(algorithm="zstd"),
    )
    exc = got.error
    assert type(exc) is MalformedPacket
    assert str(exc).startswith("malformed compressed frame at offset 0: invalid zstd data (")
    assert exc.expected == "zstd data inflating to 100 bytes"


@pytest.mark.skipif(not HAVE_ZSTD, reason="zstandard not installed")
def test_zstd_data_not_ending_with_the_frame() -> None:
    # As for zlib: bytes after the compressed data inside the frame make it malformed.
    import zstandard

    stream = packet(0, b"q" * 200)  # 204 bytes
    body = zstandard.ZstdCompressor().compress(stream)
    for bad in (body + b"junk", body + body):
        got = feed_whole(
            frame(0, bad, len(stream)), make=lambda: CompressedPacketReader(algorithm="zstd")
        )
        exc = got.error
        assert type(exc) is MalformedPacket, got
        assert str(exc).startswith("malformed compressed frame at offset 0: ")
        assert exc.offset == 0
        assert exc.expected == "zstd data inflating to 204 bytes"
        assert got.payloads == []


@pytest.mark.skipif(not HAVE_ZSTD, reason="zstandard not installed")
def test_zstd_frame_is_not_inflated_beyond_its_declared_size() -> None:
    # "max_payload ... also bounds one frame's inflated size".  A zstd frame that records
    # its content size (8 MiB of zeros, 300-odd bytes compressed) in a frame declaring 100
    # bytes must be rejected without inflating 8 MiB.
    import zstandard

    body = zstandard.ZstdCompressor(write_content_size=True).compress(bytes(8 << 20))
    data = frame(0, body, 100)
    reader = CompressedPacketReader(algorithm="zstd", max_payload=1000)
    reader.feed(data)
    tracemalloc.start()
    try:
        with pytest.raises(MalformedPacket) as info:
            reader.next_payload()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.offset == 0
    assert peak < 1 << 20, f"inflated {peak} bytes for a frame declaring 100"


def test_frame_declaring_more_than_max_payload() -> None:
    data = frame(0, b"\x78\x9c", 101)  # only the header matters
    got = feed_whole(data[:7], make=lambda: zlib_reader(max_payload=100), eof=False)
    exc = got.error
    assert type(exc) is PacketTooLarge
    assert str(exc) == (
        "packet too large: payload at offset 0 declares 101 bytes, more than the maximum of 100"
    )
    assert exc.offset == 0
    raw = raw_frame(0, b"r" * 101)
    got = feed_whole(raw[:7], make=lambda: zlib_reader(max_payload=100), eof=False)
    assert error_key(got.error) == (
        PacketTooLarge,
        "packet too large: payload at offset 0 declares 101 bytes, more than the maximum of 100",
        0,
        "a payload of at most 100 bytes",
    )


def test_truncated_frame_header_at_eof() -> None:
    data = raw_frame(0, packet(0, b"ok")) + b"\x05\x00\x00"  # second header at 13, 3 bytes
    got = feed_three_ways(data, make=zlib_reader)
    assert got.payloads == [Payload(0, b"ok")]
    exc = got.error
    assert type(exc) is TruncatedPacket
    assert str(exc) == (
        "truncated stream: the stream ended at offset 16 inside the compressed frame header "
        "at offset 13"
    )
    assert exc.offset == 13
    assert exc.expected == "a 7-byte compressed frame header"


def test_truncated_frame_body_at_eof() -> None:
    data = raw_frame(0, packet(0, b"ok")) + raw_frame(1, packet(1, b"long body"))[:-3]
    # Second frame: header at 13, 7 + 13 bytes long, 3 missing: the stream ends at 30.
    got = feed_three_ways(data, [14], make=zlib_reader)
    assert got.payloads == [Payload(0, b"ok")]
    exc = got.error
    assert type(exc) is TruncatedPacket
    assert str(exc) == (
        "truncated stream: the stream ended at offset 30 inside the compressed frame that "
        "starts at offset 13"
    )
    assert exc.offset == 13
    assert exc.expected == "the rest of the compressed frame"


def test_truncated_packet_inside_complete_frames() -> None:
    # Inner errors carry offsets in the inflated stream: packet(0, "ab") is 6 bytes, then
    # a header declaring 9 bytes with only 2 of them: the stream ends at 6 + 4 + 2 = 12.
    data = zlib_frame(0, packet(0, b"ab") + b"\x09\x00\x00\x01xy" + b"\x00" * 0)
    got = feed_three_ways(data, make=zlib_reader)
    assert got.payloads == [Payload(0, b"ab")]
    exc = got.error
    assert type(exc) is TruncatedPacket
    assert str(exc) == (
        "truncated stream: the stream ended at offset 12 inside the packet that starts at offset 6"
    )
    assert exc.offset == 6


def test_big_payload_through_compressed_frames() -> None:
    data = bytes(range(256)) * (MAX_PACKET // 256 + 2)  # a little over 0xFFFFFF
    stream, nxt = frame_payload(data, 0)
    stream += frame_payload(b"end", nxt)[0]
    wire, _ = compress_frames(stream, 0)
    frames, inflated = inflate_frames(wire)
    assert inflated == stream
    assert len(frames) == 2
    got = feed_chunks(wire, list(range(1 << 16, len(wire), 1 << 16)), make=zlib_reader)
    assert got.error is None
    assert [p.seq for p in got.payloads] == [0, 2]
    assert got.payloads[0].data == data
    assert got.payloads[1].data == b"end"
