"""Framing against a real MariaDB server over a raw socket.

Only mywire's PacketReader / CompressedPacketReader, frame_payload, compress_frames, pack
and unpack are used (helpers.RawMariaDB).  The raw bytes received are also walked by the
hand-written helpers to count physical packets and compressed frames independently.

Row sizes: ``SELECT REPEAT('a', N)`` returns one text-protocol row holding one
length-encoded string; for N < 2**24 that is 0xFD, 3 length bytes, then N bytes, so the
row payload is N + 4 bytes.  N = 0xFFFFFF - 4 makes it exactly 0xFFFFFF (one full packet
and a trailing empty one); N = 0xFFFFFF - 3 makes it 0xFFFFFF + 1 (a full packet and a
1-byte one).  Both stay under the server's default max_allowed_packet of 16 MiB, which
is not changed.

Without CLIENT_DEPRECATE_EOF the response is: column count, one column definition, EOF,
the row, EOF; the packets carry ids 1, 2, 3, ... after the command's id 0.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mywire import CompressedPacketReader, PacketReader, Payload, unpack

from helpers import (
    CLIENT_COMPRESS,
    CLIENT_PLUGIN_AUTH,
    CLIENT_PROTOCOL_41,
    CLIENT_SECURE_CONNECTION,
    MAX_PACKET,
    Dsn,
    PayloadSource,
    RawMariaDB,
    as_bytes,
    feed_three_ways,
    inflate_frames,
    is_eof,
    walk_packets,
)

pytestmark = pytest.mark.mariadb

COMPRESS = pytest.mark.parametrize("compress", [False, True], ids=["plain", "compressed"])


def test_handshake(mariadb_dsn: Dsn) -> None:
    with RawMariaDB(mariadb_dsn) as conn:
        hs = conn.handshake
        assert hs.protocol_version == 10
        assert hs.server_version[:1].isdigit(), hs.server_version
        assert b"\0" not in hs.server_version
        assert hs.connection_id > 0
        assert len(hs.auth_plugin_data) == 20
        assert b"\0" not in hs.auth_plugin_data
        for flag in (CLIENT_PROTOCOL_41, CLIENT_SECURE_CONNECTION, CLIENT_PLUGIN_AUTH):
            assert hs.capabilities & flag
        assert hs.charset > 0
        assert hs.auth_plugin_name
        # Payload layout: version byte, the version string and its NUL, then 4 bytes of
        # connection id, 8 of auth data, a filler byte ...
        raw = conn.handshake_payload
        assert raw[0] == 10
        end = raw.index(b"\0", 1)
        assert raw[1:end] == hs.server_version
        assert int.from_bytes(raw[end + 1 : end + 5], "little") == hs.connection_id
        assert raw[end + 5 : end + 13] == hs.auth_plugin_data[:8]
        assert raw[end + 13] == 0
        # The OK after authentication: 0x00, affected rows 0, insert id 0, status, warnings.
        ok = conn.auth_ok
        assert ok.seq in (2, 4)  # 4 after an AuthSwitchRequest round
        header_byte, affected, insert_id, status, warnings = unpack("B L L H H", ok.data[:7])
        assert (header_byte, affected, insert_id) == (0, 0, 0)
        assert isinstance(status, int) and status & 0x0002  # SERVER_STATUS_AUTOCOMMIT
        assert warnings == 0


def test_auth_switch_request(mariadb_dsn: Dsn) -> None:
    # Naming a plugin the account does not use makes the server send an
    # AuthSwitchRequest (0xFE, plugin name, new auth data) at id 2; the empty answer goes
    # at id 3 and the OK comes at id 4.  No server state changes.
    with RawMariaDB(mariadb_dsn, client_plugin=b"no_such_plugin_here") as conn:
        assert conn.switched_to == conn.handshake.auth_plugin_name
        if conn.switched_to == b"mysql_native_password":
            assert len(conn.switch_data) == 21 and conn.switch_data.endswith(b"\0")
        assert conn.auth_ok.seq == 4
        assert [r.data for r in conn.query("SELECT 2").rows] == [b"\x012"]


def test_connection_id_matches_the_handshake(mariadb_dsn: Dsn) -> None:
    with RawMariaDB(mariadb_dsn) as conn:
        rs = conn.query("SELECT CONNECTION_ID()")
        assert rs.column_count == 1
        assert len(rs.rows) == 1
        (value,) = unpack("S", rs.rows[0].data)
        assert int(as_bytes(value)) == conn.handshake.connection_id
        # Response ids: count 1, column 2, EOF 3, row 4, EOF 5.
        assert rs.rows[0].seq == 4
        assert rs.eof.seq == 5
        assert walk_packets(conn.received)[0] == (1, 1)


def physical_packets(conn: RawMariaDB) -> list[tuple[int, int]]:
    """(length, id) of every packet of the last response, from the raw bytes received."""
    if not conn.compress:
        return walk_packets(conn.received)
    frames, inflated = inflate_frames(conn.received)
    # The command went out in compressed frame 0; the reply's frames count from 1.
    assert [f.seq for f in frames] == [(1 + i) % 256 for i in range(len(frames))]
    return walk_packets(inflated)


@COMPRESS
@pytest.mark.parametrize(
    ("n", "tail"),
    [(MAX_PACKET - 4, 0), (MAX_PACKET - 3, 1)],
    ids=["row-0xFFFFFF", "row-0x1000000"],
)
def test_row_at_the_16mib_boundary(mariadb_dsn: Dsn, compress: bool, n: int, tail: int) -> None:
    with RawMariaDB(mariadb_dsn, compress=compress) as conn:
        if compress:
            assert conn.capabilities & CLIENT_COMPRESS
        rs = conn.query(f"SELECT REPEAT('a', {n}) AS r")
        assert rs.column_count == 1
        assert len(rs.rows) == 1
        row = rs.rows[0]
        assert row.seq == 4
        assert len(row.data) == MAX_PACKET + tail
        assert row.data[:4] == b"\xfd" + n.to_bytes(3, "little")
        assert row.data[4:] == b"a" * n
        assert unpack("S", row.data) == (b"a" * n,)
        # The row took two physical packets: a full one and one of `tail` bytes (the
        # trailing empty packet when the row is exactly 0xFFFFFF bytes).
        packets = physical_packets(conn)
        assert [seq for _, seq in packets] == [1, 2, 3, 4, 5, 6]
        assert packets[0] == (1, 1)
        assert packets[2] == (5, 3)
        assert packets[3] == (MAX_PACKET, 4)
        assert packets[4] == (tail, 5)
        assert packets[5] == (5, 6)
        assert rs.eof.seq == 6
        # The connection is still in step: another command works.
        again = conn.query("SELECT 1")
        assert [r.data for r in again.rows] == [b"\x011"]


@COMPRESS
def test_many_small_rows_with_read_payloads(mariadb_dsn: Dsn, compress: bool) -> None:
    with RawMariaDB(mariadb_dsn, compress=compress) as conn:
        rs = conn.query("SELECT seq FROM seq_1_to_5000", batched=True)
        values = [unpack("S", r.data)[0] for r in rs.rows]
        assert values == [str(i).encode() for i in range(1, 5001)]
        # Ids: count 1, column 2, EOF 3, rows from 4, wrapping past 255.
        assert [r.seq for r in rs.rows] == [(4 + i) % 256 for i in range(5000)]
        assert rs.eof.seq == (4 + 5000) % 256
        packets = physical_packets(conn)
        assert len(packets) == 3 + 5000 + 1
        assert all(n < 9 for n, _ in packets[3:])


@COMPRESS
def test_payloads_equal_across_feeding_styles(mariadb_dsn: Dsn, compress: bool) -> None:
    # The bytes the server sent, replayed through fresh readers three ways.
    with RawMariaDB(mariadb_dsn, compress=compress) as conn:
        rs = conn.query("SELECT seq, REPEAT('x', seq) FROM seq_1_to_300")
        raw = bytes(conn.received)
    make: Callable[[], PayloadSource] = (
        (lambda: CompressedPacketReader(seq=1)) if compress else (lambda: PacketReader(seq=1))
    )
    got = feed_three_ways(raw, [1, 2, 3, 4, 5, 8, 1000], make=make)
    assert got.error is None
    assert got.payloads[4:-1] == rs.rows
    assert is_eof(got.payloads[-1].data)
    assert got.payloads[-1] == rs.eof
    assert rs.rows[299].data == b"\x03300" + b"\xfc\x2c\x01" + b"x" * 300
    # Two columns: count 1, columns 2 and 3, EOF 4, rows from 5.
    assert Payload((5 + 299) % 256, rs.rows[299].data) == rs.rows[299]
