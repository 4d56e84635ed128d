"""Limits under hostile input: each case fails with its exact mywire error, in bounded memory.

Every test runs on both backends (the autouse ``backend`` fixture) and measures the
Python heap with :mod:`tracemalloc` around the hostile call only: big inputs are built
before tracing starts, so the peak is what mywire allocated.  A declared length is never
trusted: lengths up to 2**64-1 in length-encoded integers and strings, packet headers
beyond ``max_payload``, endless 0xFFFFFF-byte continuations, column counts in the
millions (beyond ``max_columns``) and compressed frames that declare or inflate to
more than allowed.
"""

from __future__ import annotations

import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

import mywire._backend
from mywire import CompressedPacketReader, PacketReader, unpack
from mywire import _tcspec as T
from mywire.codec import Reader
from mywire.connection import DEFAULT_MAX_COLUMNS, ClientConnection, ServerConnection
from mywire.errors import LimitExceeded, MalformedPacket, PacketTooLarge, TruncatedPacket
from mywire.events import NEED_DATA, ColumnDefinition, ResultsetEnd, ResultsetStart, Rows
from mywire.framing import frame_payload
from mywire.packets import resultset as prs
from mywire.rows import decode_rows
from mywire.transcode import Transcoder

from helpers import MAX_PACKET, header

MB = 1 << 20
HUGE = b"\xfe" + b"\xff" * 8  # length-encoded 2**64 - 1
U64_MAX = 2**64 - 1
COLUMN = ColumnDefinition(name="c", character_set=63, type=253, flags=0, decimals=0)


@contextmanager
def peak_below(limit: int) -> Iterator[None]:
    """Fail when the traced Python heap peaks above ``limit`` bytes inside the block."""
    tracemalloc.start()
    try:
        yield
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < limit, f"peak {peak} bytes, limit {limit}"


def raises_exact(
    cls: type[Exception], message: str, call: Callable[[], object], limit: int = MB
) -> None:
    with peak_below(limit), pytest.raises(cls) as info:
        call()
    assert type(info.value) is cls
    assert str(info.value) == message


# ------------------------------------------------------- length-encoded 2**64 - 1


def test_lenenc_int_max_is_a_value_not_an_allocation() -> None:
    with peak_below(MB):
        assert unpack("L", HUGE) == (U64_MAX,)


def test_lenenc_string_declaring_2_64_minus_1_bytes() -> None:
    raises_exact(
        TruncatedPacket,
        "truncated packet: length-encoded string at offset 0 declares "
        "18446744073709551615 bytes, 2 left after its length",
        lambda: unpack("S", HUGE + b"ab"),
    )


def test_reader_lenenc_str_declaring_2_64_minus_1_bytes() -> None:
    raises_exact(
        TruncatedPacket,
        "truncated packet: length-encoded string at offset 0 declares "
        "18446744073709551615 bytes, 0 left after its length",
        lambda: Reader(HUGE).lenenc_str(),
    )


@pytest.mark.parametrize(
    ("binary", "row", "at", "left"), [(False, HUGE + b"x", 0, 1), (True, b"\x00\x00" + HUGE, 2, 0)]
)
def test_row_value_declaring_2_64_minus_1_bytes(
    binary: bool, row: bytes, at: int, left: int
) -> None:
    raises_exact(
        TruncatedPacket,
        f"truncated row 0: column 0 ('c', VAR_STRING) at offset {at} declares "
        f"18446744073709551615 bytes, {left} left after its length",
        lambda: decode_rows((COLUMN,), row, [0, len(row)], binary=binary),
    )


@pytest.mark.parametrize("fmt", sorted(T.FORMATS))
@pytest.mark.parametrize("binary", [False, True])
def test_transcode_value_declaring_2_64_minus_1_bytes(fmt: str, binary: bool) -> None:
    row = b"\x00\x00" + HUGE if binary else HUGE + b"x"
    message = (
        f"truncated row 0: column 0 ('c', VAR_STRING) at offset {2 if binary else 0} "
        f"declares 18446744073709551615 bytes, {0 if binary else 1} left after its length"
    )
    tspec = T.tspec_for((COLUMN,))
    raises_exact(
        TruncatedPacket,
        message,
        lambda: mywire._backend.IMPL.transcode_rows(
            tspec,
            row,
            [0, len(row)],
            0,
            1,
            binary=binary,
            fmt=T.FORMATS[fmt],
            sep=False,
            budget=1 << 62,
        ),
    )
    # Through the Transcoder the error ends the document instead of raising.
    tc = Transcoder(fmt)
    with peak_below(MB):
        out = tc.feed(ResultsetStart(columns=(COLUMN,), binary=binary))
        out += tc.feed(Rows(data=row, spans=(0, len(row))))
        out += tc.feed(ResultsetEnd(status_flags=2))
        out += tc.finish()
    assert tc.stopped == "error"
    assert isinstance(tc.error, TruncatedPacket) and str(tc.error) == message


# ------------------------------------------------------------------ packet headers


def test_header_beyond_max_payload_fails_before_its_body() -> None:
    reader = PacketReader(max_payload=1000)
    reader.feed(header(MAX_PACKET, 0))  # the header only: nothing of the body is here
    raises_exact(
        PacketTooLarge,
        "packet too large: payload at offset 0 declares 16777215 bytes, "
        "more than the maximum of 1000",
        reader.next_payload,
    )
    assert reader.buffered == 4


def test_header_of_1001_bytes_against_max_payload_1000() -> None:
    reader = PacketReader(max_payload=1000)
    reader.feed(header(1001, 0) + b"x")
    raises_exact(
        PacketTooLarge,
        "packet too large: payload at offset 0 declares 1001 bytes, more than the maximum of 1000",
        reader.next_payload,
    )


def test_endless_continuation_packets_are_bounded_by_max_payload() -> None:
    # 0xFFFFFF-byte packets that never end the payload: the one body object is fed again
    # and again (a reader keeps references, not copies), so what the heap holds is the
    # reader's own bookkeeping; the packet that would pass max_payload is refused at its
    # header.  With the default 1 GiB limit that is the 65th packet.
    body = bytes(MAX_PACKET)
    reader = PacketReader()
    with peak_below(MB), pytest.raises(PacketTooLarge) as info:
        for seq in range(70):
            reader.feed(header(MAX_PACKET, seq & 0xFF))
            reader.feed(body)
            assert reader.next_payload() is None
    assert seq == 64
    assert str(info.value) == (
        "packet too large: payload at offset 1073742016 declares 1090518975 bytes, "
        "more than the maximum of 1073741824"
    )


def test_continuation_beyond_a_small_max_payload() -> None:
    body = bytes(MAX_PACKET)
    reader = PacketReader(max_payload=2 * MAX_PACKET)
    with peak_below(MB), pytest.raises(PacketTooLarge) as info:
        for seq in range(5):
            reader.feed(header(MAX_PACKET, seq))
            reader.feed(body)
            assert reader.next_payload() is None
    assert seq == 2
    assert str(info.value) == (
        "packet too large: payload at offset 33554438 declares 50331645 bytes, "
        "more than the maximum of 33554430"
    )


# ------------------------------------------------------------------ column counts


def connected_client() -> tuple[ClientConnection, int]:
    """A client after login with COM_QUERY sent; returns it and the next sequence id."""
    server, client = ServerConnection(), ClientConnection(user="u")
    client.receive_data(server.greet(scramble=b"a" * 20))
    client.next_event()
    server.receive_data(client.handshake_response())
    server.next_event()
    client.receive_data(server.ok())
    client.next_event()
    client.query("SELECT 1")
    return client, 1


@pytest.mark.parametrize("count", [DEFAULT_MAX_COLUMNS + 1, 10_000_000, U64_MAX])
def test_column_count_in_the_millions_is_refused_on_the_count(count: int) -> None:
    client, seq = connected_client()
    data, _ = frame_payload(prs.build_column_count(count, client.capabilities), seq)
    client.receive_data(data)
    raises_exact(
        LimitExceeded,
        f"too many columns: the column count at offset 0 declares {count} columns, "
        "more than the maximum of 1048576",
        client.next_event,
    )


def test_max_columns_is_the_callers_choice() -> None:
    client, seq = connected_client()
    client.max_columns = 2
    data, _ = frame_payload(prs.build_column_count(3, client.capabilities), seq)
    client.receive_data(data)
    with pytest.raises(LimitExceeded) as info:
        client.next_event()
    assert str(info.value) == (
        "too many columns: the column count at offset 0 declares 3 columns, "
        "more than the maximum of 2"
    )
    assert (info.value.offset, info.value.expected) == (0, "at most 2 columns (max_columns)")
    assert info.value.code == 2027


@pytest.mark.parametrize("garbage", [0, 100])
def test_column_count_at_the_limit_allocates_nothing_up_front(garbage: int) -> None:
    # Nothing is allocated for the declared count.  "Definitions" that arrive are held as
    # payloads (bounded by what was sent) and parsed only once all are here, so garbage
    # ones fail no earlier than the end of the stream.
    client, seq = connected_client()
    data, seq = frame_payload(prs.build_column_count(DEFAULT_MAX_COLUMNS, client.capabilities), seq)
    for _ in range(garbage):
        more, seq = frame_payload(b"\x03def", seq)
        data += more
    client.receive_data(data)
    with peak_below(MB):
        assert client.next_event() is NEED_DATA
    client.receive_data(b"")
    raises_exact(
        TruncatedPacket,
        "truncated stream: the connection closed in the middle of a response",
        client.next_event,
    )


def test_trickled_column_definitions_cost_linear_work() -> None:
    client, seq = connected_client()
    data, seq = frame_payload(prs.build_column_count(DEFAULT_MAX_COLUMNS, client.capabilities), seq)
    client.receive_data(data)
    client.next_event()
    coldef = prs.build_column_definition(COLUMN, client.capabilities)
    taken = 0
    original = client._next_payload

    def counting() -> object:
        nonlocal taken
        taken += 1
        return original()

    client._next_payload = counting  # type: ignore[method-assign,assignment]
    n = 200
    for _ in range(n):
        more, seq = frame_payload(coldef, seq)
        client.receive_data(more)
        assert client.next_event() is NEED_DATA
    assert taken <= 4 * n, f"{taken} payloads taken for {n} definitions"


# -------------------------------------------------------------- decompression bombs


def compressed_frame(body: bytes, ulen: int, seq: int = 0) -> bytes:
    return len(body).to_bytes(3, "little") + bytes((seq,)) + ulen.to_bytes(3, "little") + body


def zeros_deflated(n_mb: int) -> bytes:
    co = zlib.compressobj(9)
    return b"".join(co.compress(bytes(MB)) for _ in range(n_mb)) + co.flush()


def test_compressed_frame_declaring_more_than_max_payload_fails_on_its_header() -> None:
    reader = CompressedPacketReader(max_payload=1000)
    reader.feed(compressed_frame(b"", MAX_PACKET)[:7])  # the header only
    raises_exact(
        PacketTooLarge,
        "packet too large: payload at offset 0 declares 16777215 bytes, "
        "more than the maximum of 1000",
        reader.next_payload,
    )


@pytest.mark.parametrize("ulen", [100, MB])
def test_zlib_data_inflating_beyond_its_declared_length(ulen: int) -> None:
    bomb = zeros_deflated(64)  # 64 MiB of zeros in about 64 KiB
    reader = CompressedPacketReader(max_payload=MB)
    reader.feed(compressed_frame(bomb, ulen))
    # zlib stops one byte past the declared length: memory follows the declaration
    # (itself bounded by max_payload), not the bomb.
    raises_exact(
        MalformedPacket,
        f"malformed compressed frame at offset 0: inflates to more than the declared {ulen} bytes",
        reader.next_payload,
        limit=3 * MB,
    )
