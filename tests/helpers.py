"""Test drivers: feed a stream to a reader three ways, hand-written framing, a raw MariaDB peer.

Everything here that builds or checks protocol bytes is written from the protocol
description, independently of mywire, so the tests compare mywire against it:

* :func:`packet`, :func:`hand_frame` and :func:`walk_packets` build and walk physical
  packets (3-byte little-endian length, 1-byte sequence id, at most 0xFFFFFF bytes, a
  trailing empty packet after a payload that is a multiple of 0xFFFFFF);
* :func:`frame` and :func:`inflate_frames` build and walk compressed frames (3-byte
  compressed length, 1-byte sequence id, 3-byte uncompressed length, 0 meaning raw).

:func:`feed_whole`, :func:`feed_bytewise` and :func:`feed_chunks` drive a reader and
return what came out (payloads, the stream offset at which each became available, the
error if any); :func:`feed_three_ways` runs all three and asserts they agree.

:class:`RawMariaDB` talks to a real server over a plain socket using only mywire's
``PacketReader``/``CompressedPacketReader``, ``frame_payload``, ``compress_frames``,
``pack`` and ``unpack``.
"""

from __future__ import annotations

import functools
import os
import random
import socket
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import mywire.samples
from mywire import (
    CompressedPacketReader,
    PacketReader,
    Payload,
    ProtocolError,
    Reader,
    UnsupportedFeature,
    compress_frames,
    frame_payload,
    pack,
    unpack,
)
from mywire._state import State
from mywire.auth import ServerAuth, mysql_scramble
from mywire.connection import ClientConnection, ServerConnection
from mywire.events import (
    AuthMoreData,
    AuthResponse,
    AuthSwitchRequest,
    ConnectionClosed,
    Event,
    Handshake,
    HandshakeResponse,
    NeedData,
    Ok,
    Query,
    Rows,
    SSLRequest,
)
from mywire.trace import CLIENT as CLIENT_TO_SERVER
from mywire.trace import SERVER as SERVER_TO_CLIENT
from mywire.trace import read_trace

MAX_PACKET = 0xFFFFFF
DEFAULT_DSN = "mysql://root@127.0.0.1:3306/test"


def pure_forced() -> bool:
    """Same rule as mywire._backend: any value but "" and "0" forces pure Python."""
    return os.environ.get("MYWIRE_PURE", "") not in ("", "0")


def c_required() -> bool:
    return os.environ.get("MYWIRE_REQUIRE_C") == "1"


# ------------------------------------------------------------------------------------
# Hand-written framing (the reference the library is compared against)
# ------------------------------------------------------------------------------------


def header(length: int, seq: int) -> bytes:
    """A physical packet header: 3-byte little-endian length, then the sequence id."""
    assert 0 <= length <= MAX_PACKET and 0 <= seq <= 255
    return bytes((length & 0xFF, (length >> 8) & 0xFF, (length >> 16) & 0xFF, seq))


def packet(seq: int, body: bytes) -> bytes:
    """One physical packet carrying ``body``."""
    return header(len(body), seq) + body


def hand_frame(payload: bytes, seq: int = 0) -> tuple[bytes, int]:
    """Split a payload into physical packets; return the bytes and the next sequence id."""
    out = bytearray()
    pos = 0
    while True:
        chunk = payload[pos : pos + MAX_PACKET]
        out += packet(seq, chunk)
        seq = (seq + 1) % 256
        pos += len(chunk)
        if len(chunk) < MAX_PACKET:
            return bytes(out), seq


def hand_stream(payloads: Iterable[bytes], seq: int = 0) -> tuple[bytes, list[Payload]]:
    """Frame payloads one after another; return the stream and the expected Payloads."""
    parts: list[bytes] = []
    expected: list[Payload] = []
    for p in payloads:
        expected.append(Payload(seq, p))
        data, seq = hand_frame(p, seq)
        parts.append(data)
    return b"".join(parts), expected


def payload_ends(stream: bytes) -> list[int]:
    """Stream offsets just past the last packet of each payload in a well-formed stream."""
    ends: list[int] = []
    pos = 0
    while pos < len(stream):
        n = int.from_bytes(stream[pos : pos + 3], "little")
        pos += 4 + n
        if n < MAX_PACKET:
            ends.append(pos)
    return ends


def walk_packets(stream: bytes | bytearray) -> list[tuple[int, int]]:
    """``(length, seq)`` of every physical packet; the stream must end on a boundary."""
    out: list[tuple[int, int]] = []
    pos = 0
    while pos < len(stream):
        assert len(stream) - pos >= 4, f"partial header at offset {pos}"
        n = int.from_bytes(stream[pos : pos + 3], "little")
        out.append((n, stream[pos + 3]))
        pos += 4 + n
    assert pos == len(stream), f"last packet overruns the stream by {pos - len(stream)} bytes"
    return out


def frame(seq: int, body: bytes, ulen: int) -> bytes:
    """One compressed frame: compressed length, sequence id, uncompressed length, body."""
    return len(body).to_bytes(3, "little") + bytes((seq,)) + ulen.to_bytes(3, "little") + body


def raw_frame(seq: int, data: bytes) -> bytes:
    """A compressed-protocol frame carrying ``data`` uncompressed (uncompressed length 0)."""
    return frame(seq, data, 0)


def zlib_frame(seq: int, data: bytes) -> bytes:
    """A compressed-protocol frame carrying ``data`` deflated with zlib."""
    return frame(seq, zlib.compress(data), len(data))


@dataclass(frozen=True)
class FrameInfo:
    clen: int
    seq: int
    ulen: int


def inflate_frames(data: bytes | bytearray) -> tuple[list[FrameInfo], bytes]:
    """Walk zlib compressed frames; return their headers and the inflated packet stream."""
    frames: list[FrameInfo] = []
    out: list[bytes] = []
    pos = 0
    while pos < len(data):
        assert len(data) - pos >= 7, f"partial frame header at offset {pos}"
        clen = int.from_bytes(data[pos : pos + 3], "little")
        seq = data[pos + 3]
        ulen = int.from_bytes(data[pos + 4 : pos + 7], "little")
        body = bytes(data[pos + 7 : pos + 7 + clen])
        assert len(body) == clen, f"frame at offset {pos} overruns the data"
        inflated = zlib.decompress(body) if ulen else body
        assert not ulen or len(inflated) == ulen
        frames.append(FrameInfo(clen, seq, ulen))
        out.append(inflated)
        pos += 7 + clen
    return frames, b"".join(out)


# ------------------------------------------------------------------------------------
# Feeding drivers
# ------------------------------------------------------------------------------------


class PayloadSource(Protocol):
    """What the drivers need: PacketReader and CompressedPacketReader both fit."""

    def feed(self, data: bytes | bytearray | memoryview) -> None: ...

    def next_payload(self) -> Payload | None: ...


ErrorKey = tuple[type[BaseException], str, int, str]


def error_key(exc: BaseException | None) -> ErrorKey | None:
    """What two errors must share to count as the same: class, message, offset, expected."""
    if exc is None:
        return None
    assert isinstance(exc, ProtocolError)
    return (type(exc), str(exc), exc.offset, exc.expected)


@dataclass
class FeedResult:
    """What a reader produced: payloads, bytes fed when each came out, and the error."""

    payloads: list[Payload] = field(default_factory=list)
    ready_at: list[int] = field(default_factory=list)
    error: ProtocolError | None = None

    @property
    def key(self) -> tuple[list[Payload], ErrorKey | None]:
        return self.payloads, error_key(self.error)


def _drain(reader: PayloadSource, fed: int, result: FeedResult, batch: int) -> bool:
    """Take every payload that is ready; return False once the reader raised."""
    while True:
        try:
            if batch and isinstance(reader, PacketReader):
                got = reader.read_payloads(batch)
                assert len(got) <= batch
            else:
                one = reader.next_payload()
                got = [] if one is None else [one]
        except ProtocolError as exc:
            result.error = exc
            # Errors are sticky: the reader raises the same error again, however asked.
            for _ in range(2):
                try:
                    reader.next_payload()
                except ProtocolError as again:
                    assert again is exc or error_key(again) == error_key(exc)
                else:
                    raise AssertionError("error was not sticky") from exc
            return False
        if not got:
            return True
        for p in got:
            assert type(p.data) is bytes, f"payload data is {type(p.data).__name__}"
            result.payloads.append(p)
            result.ready_at.append(fed)


def feed_chunks(
    stream: bytes,
    cuts: Sequence[int],
    *,
    make: Callable[[], PayloadSource] = PacketReader,
    eof: bool = True,
    batch: int = 0,
) -> FeedResult:
    """Feed ``stream`` split at the offsets ``cuts`` (sorted), draining after every piece.

    ``eof`` feeds ``b""`` at the end; ``batch`` > 0 reads with ``read_payloads(batch)``
    instead of ``next_payload()`` (PacketReader only).
    """
    reader = make()
    result = FeedResult()
    bounds = [0, *cuts, len(stream)]
    for start, stop in pairwise(bounds):
        if start == stop:
            continue
        reader.feed(stream[start:stop])
        if not _drain(reader, stop, result, batch):
            return result
    if eof:
        reader.feed(b"")
        _drain(reader, len(stream), result, batch)
    return result


def feed_whole(
    stream: bytes,
    *,
    make: Callable[[], PayloadSource] = PacketReader,
    eof: bool = True,
    batch: int = 0,
) -> FeedResult:
    """Feed ``stream`` in one piece."""
    return feed_chunks(stream, [], make=make, eof=eof, batch=batch)


def feed_bytewise(
    stream: bytes,
    *,
    make: Callable[[], PayloadSource] = PacketReader,
    eof: bool = True,
    batch: int = 0,
) -> FeedResult:
    """Feed ``stream`` one byte at a time."""
    return feed_chunks(stream, range(1, len(stream)), make=make, eof=eof, batch=batch)


def feed_three_ways(
    stream: bytes,
    cuts: Sequence[int] = (),
    *,
    make: Callable[[], PayloadSource] = PacketReader,
    eof: bool = True,
) -> FeedResult:
    """Feed whole, byte by byte and split at ``cuts``; assert they agree; return bytewise.

    The byte-by-byte result is returned because its ``ready_at`` tells exactly which byte
    completed each payload.
    """
    whole = feed_whole(stream, make=make, eof=eof)
    bytewise = feed_bytewise(stream, make=make, eof=eof)
    chunked = feed_chunks(stream, cuts, make=make, eof=eof)
    assert bytewise.key == whole.key
    assert chunked.key == whole.key
    return bytewise


# ------------------------------------------------------------------------------------
# A raw-socket MariaDB client (real-peer tests)
# ------------------------------------------------------------------------------------

CLIENT_LONG_PASSWORD = 0x1
CLIENT_CONNECT_WITH_DB = 0x8
CLIENT_COMPRESS = 0x20
CLIENT_PROTOCOL_41 = 0x200
CLIENT_TRANSACTIONS = 0x2000
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_PLUGIN_AUTH = 0x80000
BASE_CAPABILITIES = (
    CLIENT_PROTOCOL_41
    | CLIENT_SECURE_CONNECTION
    | CLIENT_PLUGIN_AUTH
    | CLIENT_LONG_PASSWORD
    | CLIENT_TRANSACTIONS
    | CLIENT_CONNECT_WITH_DB
)
COM_QUERY = 0x03
UTF8MB4_GENERAL_CI = 45


@dataclass(frozen=True)
class Dsn:
    host: str
    port: int
    user: str
    password: str
    database: str


def parse_dsn(dsn: str) -> Dsn:
    """``mysql://user[:password]@host[:port]/database``."""
    parts = urlsplit(dsn)
    if parts.scheme not in ("mysql", "mariadb"):
        raise ValueError(f"unsupported DSN scheme in {dsn!r}")
    return Dsn(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=unquote(parts.username or "root"),
        password=unquote(parts.password or ""),
        database=unquote(parts.path.lstrip("/")),
    )


class ServerError(Exception):
    """The server answered with an ERR packet."""

    def __init__(self, payload: bytes) -> None:
        code, marker, state, message = unpack("x H 1s 5s E", payload)
        assert marker == b"#"
        super().__init__(f"server error {code!r} ({state!r}): {message!r}")
        self.code = code


def as_int(v: object) -> int:
    assert isinstance(v, int)
    return v


def as_bytes(v: object) -> bytes:
    assert isinstance(v, bytes)
    return v


@dataclass(frozen=True)
class HandshakeV10:
    protocol_version: int
    server_version: bytes
    connection_id: int
    auth_plugin_data: bytes
    capabilities: int
    charset: int
    status: int
    auth_plugin_name: bytes
    mariadb_capabilities: int


def parse_handshake(payload: bytes) -> HandshakeV10:
    """Parse HandshakeV10 (MariaDB keeps extended capabilities in the last 4 reserved bytes)."""
    r = Reader(payload)
    proto, version, conn_id, auth1, caps_lo, charset, status, caps_hi, auth_len = r.unpack(
        "B Z I 8s x H B H H B"
    )
    caps = as_int(caps_lo) | as_int(caps_hi) << 16
    r.skip(6)
    mariadb_caps = r.int4()
    auth2 = b""
    if caps & CLIENT_SECURE_CONNECTION:
        auth2 = r.fixed(max(13, as_int(auth_len) - 8))
        assert auth2.endswith(b"\0"), auth2
        auth2 = auth2[:-1]
    plugin = r.nul_str() if caps & CLIENT_PLUGIN_AUTH else b""
    r.expect_end()
    return HandshakeV10(
        protocol_version=as_int(proto),
        server_version=as_bytes(version),
        connection_id=as_int(conn_id),
        auth_plugin_data=as_bytes(auth1) + auth2,
        capabilities=caps,
        charset=as_int(charset),
        status=as_int(status),
        auth_plugin_name=plugin,
        mariadb_capabilities=mariadb_caps,
    )


def handshake_response(caps: int, user: str, database: str, plugin: bytes) -> bytes:
    """HandshakeResponse41 with an empty auth response (a 1-byte length of 0)."""
    return pack(
        "I I B 23x Z B Z Z",
        caps,
        1 << 30,  # max packet size the client accepts
        UTF8MB4_GENERAL_CI,
        user.encode(),
        0,
        database.encode(),
        plugin,
    )


def is_eof(data: bytes) -> bool:
    return data[:1] == b"\xfe" and len(data) < 9


@dataclass
class ResultSet:
    column_count: int
    columns: list[Payload]
    rows: list[Payload]
    eof: Payload


class RawMariaDB:
    """A minimal client: handshake, then text-protocol queries, over a plain socket.

    ``received`` holds every byte read from the socket since the last command was sent
    (compressed frames when compression is on), for the tests to walk independently.
    """

    def __init__(
        self,
        dsn: Dsn,
        *,
        compress: bool = False,
        timeout: float = 30.0,
        client_plugin: bytes = b"mysql_native_password",
    ) -> None:
        self.compress = compress
        self.client_plugin = client_plugin
        self.switched_to: bytes | None = None
        self.switch_data = b""
        self.received = bytearray()
        self.sock = socket.create_connection((dsn.host, dsn.port), timeout=timeout)
        try:
            self._handshake(dsn)
        except BaseException:
            self.sock.close()
            raise

    def __enter__(self) -> RawMariaDB:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    # -- I/O
    def _fill(self) -> None:
        data = self.sock.recv(1 << 18)
        self.received += data
        self.reader.feed(data)
        if not data:
            # The stream ended: a truncated packet raises here, a clean end does not.
            self.reader.next_payload()
            raise ConnectionError("server closed the connection")

    def read_payload(self) -> Payload:
        while True:
            p = self.reader.next_payload()
            if p is not None:
                return p
            self._fill()

    def read_payloads(self, limit: int = 1024) -> list[Payload]:
        """A batch of payloads (``PacketReader.read_payloads``; one at a time when compressed)."""
        reader = self.reader
        while True:
            if isinstance(reader, PacketReader):
                got = reader.read_payloads(limit)
            else:
                one = reader.next_payload()
                got = [] if one is None else [one]
            if got:
                return got
            self._fill()

    def send_command(self, payload: bytes) -> None:
        """Send a command (sequence id 0; compressed frame 0) and expect replies from 1."""
        packets, _ = frame_payload(payload, 0)
        self.reader.reset_sequence(1)
        if self.compress:
            packets, _ = compress_frames(packets, 0)
        self.received.clear()
        self.sock.sendall(packets)

    # -- handshake
    def _handshake(self, dsn: Dsn) -> None:
        self.reader: PacketReader | CompressedPacketReader = PacketReader(seq=0)
        first = self.read_payload()
        assert first.seq == 0
        self.handshake_payload = first.data
        self.handshake = parse_handshake(first.data)
        wanted = BASE_CAPABILITIES | (CLIENT_COMPRESS if self.compress else 0)
        # Bit 0 is CLIENT_LONG_PASSWORD to a client but CLIENT_MYSQL to MariaDB, which
        # clears it in its own flags to say "MariaDB"; a client may send it regardless.
        missing = wanted & ~self.handshake.capabilities & ~CLIENT_LONG_PASSWORD
        assert not missing, f"server lacks capabilities {missing:#x}"
        self.capabilities = wanted
        response = handshake_response(wanted, dsn.user, dsn.database, self.client_plugin)
        assert self.reader.seq == 1
        self.sock.sendall(frame_payload(response, 1)[0])
        self.reader.reset_sequence(2)
        reply = self.read_payload()
        if reply.data[:1] == b"\xfe":
            # AuthSwitchRequest: plugin name, plugin data.  An empty password answers
            # with an empty auth response whatever the plugin.
            plugin, data = unpack("xZE", reply.data)
            self.switched_to = as_bytes(plugin)
            self.switch_data = as_bytes(data)
            self.sock.sendall(frame_payload(b"", (reply.seq + 1) % 256)[0])
            self.reader.reset_sequence((reply.seq + 2) % 256)
            reply = self.read_payload()
        if reply.data[:1] == b"\xff":
            raise ServerError(reply.data)
        assert reply.data[:1] == b"\x00", reply
        self.auth_ok = reply
        if self.compress:
            self.reader = CompressedPacketReader(algorithm="zlib", seq=None)

    # -- queries
    def query(self, sql: str, *, batched: bool = False) -> ResultSet:
        """COM_QUERY; read column count, column definitions, EOF, rows, EOF."""
        self.send_command(bytes((COM_QUERY,)) + sql.encode())
        first = self.read_payload()
        if first.data[:1] == b"\xff":
            raise ServerError(first.data)
        (count,) = unpack("L", first.data)
        ncols = as_int(count)
        columns = [self.read_payload() for _ in range(ncols)]
        assert is_eof(self.read_payload().data)
        rows: list[Payload] = []
        while True:
            batch = self.read_payloads() if batched else [self.read_payload()]
            for i, p in enumerate(batch):
                if is_eof(p.data):
                    assert i == len(batch) - 1, "payloads after the final EOF"
                    return ResultSet(ncols, columns, rows, p)
                if p.data[:1] == b"\xff":
                    raise ServerError(p.data)
                rows.append(p)


# ------------------------------------------------------------------------------------
# The bundled recording of a real MariaDB session, as payloads
# ------------------------------------------------------------------------------------

SAMPLE_TRACE = Path(mywire.samples.__file__).parent / "mariadb-session.mwtrace"


@dataclass(frozen=True)
class TracePayload:
    """One payload of the recording: who sent it, its sequence id and its bytes."""

    from_server: bool
    seq: int
    data: bytes


@functools.cache
def trace_payloads() -> tuple[TracePayload, ...]:
    """Every payload of ``mywire/samples/mariadb-session.mwtrace``, in recorded order.

    The recording (PyMySQL 1.2.4 against MariaDB 10.11.19, a proxy writing each recv())
    is read with ``mywire.trace.read_trace`` and one ``PacketReader(seq=None)`` per
    direction, so sequence ids are reported, not checked.
    """
    readers = {CLIENT_TO_SERVER: PacketReader(seq=None), SERVER_TO_CLIENT: PacketReader(seq=None)}
    out: list[TracePayload] = []
    for record in read_trace(SAMPLE_TRACE):
        reader = readers[record.direction]
        reader.feed(record.data)
        while (p := reader.next_payload()) is not None:
            out.append(TracePayload(record.direction == SERVER_TO_CLIENT, p.seq, p.data))
    return tuple(out)


# ------------------------------------------------------------------------------------
# Parser drivers: truncated and arbitrary input
# ------------------------------------------------------------------------------------


def parse_or_error(parse: Callable[[bytes], object], data: bytes) -> object:
    """Run ``parse(data)``; return the event, or the ProtocolError / UnsupportedFeature it
    raised.  Any other exception propagates (it is a bug).  A ProtocolError must carry
    an offset inside ``data`` (0 ≤ offset ≤ len(data)) and a non-empty ``expected``."""
    try:
        return parse(data)
    except ProtocolError as exc:
        assert 0 <= exc.offset <= len(data), (exc.offset, len(data), str(exc))
        assert exc.expected, str(exc)
        return exc
    except UnsupportedFeature as exc:
        return exc


def check_prefixes(
    parse: Callable[[bytes], object], payload: bytes, *, strict: bool = True
) -> list[object]:
    """Parse every strict prefix of a valid ``payload``; return what each gave.

    ``strict``: every prefix must raise (the packet has no optional trailing part), else
    a prefix may also parse (trailing fields that are optional, or string<EOF>).
    """
    out = []
    for n in range(len(payload)):
        got = parse_or_error(parse, payload[:n])
        if strict:
            assert isinstance(got, (ProtocolError, UnsupportedFeature)), (n, got)
        out.append(got)
    return out


# ------------------------------------------------------------------------------------
# A client and a server connection wired together in memory
# ------------------------------------------------------------------------------------

DELIVERIES = ("whole", "bytewise", "chunks")
ER_ACCESS_DENIED_ERROR = 1045


class ConnectionPair:
    """A ``ClientConnection`` wired to a ``ServerConnection`` without sockets.

    :meth:`to_server` / :meth:`to_client` hand the bytes one side's method returned to
    the other side's ``receive_data`` and collect the events its ``next_event`` gives
    until NEED_DATA.  ``delivery`` says how the bytes arrive: ``"whole"`` (one call),
    ``"bytewise"`` (one byte per call, events drained after each byte) or ``"chunks"``
    (random pieces from ``random.Random(seed)``; the seed is printed so a failure can be
    replayed).  Consecutive ``Rows`` events are merged, since how rows are batched
    depends on how the bytes arrived.
    """

    def __init__(
        self,
        client: ClientConnection,
        server: ServerConnection,
        *,
        delivery: str = "whole",
        seed: int | None = None,
    ) -> None:
        if delivery not in DELIVERIES:
            raise ValueError(f"unknown delivery {delivery!r}")
        self.client = client
        self.server = server
        self.delivery = delivery
        self.seed = random.randrange(2**32) if seed is None else seed
        if delivery == "chunks":
            print(f"ConnectionPair chunk seed: {self.seed}")
        self._rand = random.Random(self.seed)
        self.wire_to_server = bytearray()
        self.wire_to_client = bytearray()

    def _pieces(self, data: bytes) -> list[bytes]:
        if self.delivery == "whole" or not data:
            return [data]
        if self.delivery == "bytewise":
            return [data[i : i + 1] for i in range(len(data))]
        cuts = sorted(self._rand.sample(range(1, len(data)), min(len(data) - 1, 8)))
        return [data[a:b] for a, b in pairwise([0, *cuts, len(data)])]

    def _deliver(self, conn: ClientConnection | ServerConnection, data: bytes) -> list[Event]:
        out: list[Event] = []
        for piece in self._pieces(data):
            conn.receive_data(piece)
            while not isinstance(ev := conn.next_event(), NeedData):
                if out and isinstance(ev, Rows) and isinstance(out[-1], Rows):
                    out[-1] = Rows.of(out[-1].rows + ev.rows)
                else:
                    out.append(ev)
                if isinstance(ev, ConnectionClosed):  # it is reported again on every call
                    return out
        return out

    def to_server(self, data: bytes) -> list[Event]:
        """Deliver client bytes to the server; return the server's events."""
        self.wire_to_server += data
        return self._deliver(self.server, data)

    def to_client(self, data: bytes) -> list[Event]:
        """Deliver server bytes to the client; return the client's events."""
        self.wire_to_client += data
        return self._deliver(self.client, data)

    def authenticate(
        self,
        plugin: ServerAuth,
        *,
        greet_with: str | None = None,
        server_version: str = "8.0.36-mywire",
    ) -> list[Event]:
        """Greeting, response and the plugin's exchange, as ``mywire.auth`` describes it.

        ``greet_with`` names the plugin the greeting announces (default: ``plugin``'s);
        when it differs, the server sends an AuthSwitchRequest to ``plugin`` with
        ``plugin``'s scramble.  Returns the client's events (the last is Ok or Err).
        """
        name = greet_with or plugin.name
        scramble = plugin.scramble() if name == plugin.name else mysql_scramble(20)
        client_events = self.to_client(
            self.server.greet(
                auth_plugin_name=name, scramble=scramble, server_version=server_version
            )
        )
        assert [type(e) for e in client_events] == [Handshake]
        if self.client.wants_tls:  # no real TLS here: both sides just switch over
            assert [type(e) for e in self.to_server(self.client.ssl_request())] == [SSLRequest]
            self.client.tls_started()
            self.server.tls_started()
        (response,) = self.to_server(self.client.handshake_response())
        assert isinstance(response, HandshakeResponse)
        data = response.auth_response
        if name != plugin.name:
            client_events += self.to_client(self.server.auth_switch(plugin.name, plugin.scramble()))
            (reply,) = self.to_server(self.client.auth_reply())
            assert isinstance(reply, AuthResponse)
            data = reply.data
        while True:
            step = plugin.step(data)
            if step.kind == "more":
                client_events += self.to_client(self.server.auth_more_data(step.data))
                (reply,) = self.to_server(self.client.auth_reply())
                assert isinstance(reply, AuthResponse)
                data = reply.data
                continue
            if step.kind == "ok":
                if step.data:
                    client_events += self.to_client(self.server.auth_more_data(step.data))
                    assert self.client.auth_reply() == b""
                client_events += self.to_client(self.server.ok())
            else:
                client_events += self.to_client(
                    self.server.err(ER_ACCESS_DENIED_ERROR, step.message, "28000")
                )
            return client_events


# ------------------------------------------------------------------ a blocking client


class BlockingClient:
    """A ClientConnection over a plain blocking socket (with a timeout), for tests
    against the real server at the packet level.

    Args:
        dsn: where to connect.
        login: authenticate at once (else call :meth:`login`).
        client_args: passed to :class:`~mywire.connection.ClientConnection`.
    """

    def __init__(self, dsn: Dsn, *, login: bool = True, **client_args: Any) -> None:
        self.sock = socket.create_connection((dsn.host, dsn.port), timeout=10.0)
        self.conn = ClientConnection(
            user=dsn.user, password=dsn.password, database=dsn.database or None, **client_args
        )
        if login:
            try:
                self.login()
            except BaseException:
                self.sock.close()
                raise

    def close(self) -> None:
        self.sock.close()

    def event(self) -> Event:
        closed = False
        while isinstance(ev := self.conn.next_event(), NeedData):
            if closed:
                raise ConnectionError("the server closed the connection mid-response")
            data = self.sock.recv(65536)
            closed = not data
            self.conn.receive_data(data)  # b"": the connection reports ConnectionClosed
        return ev

    def login(self) -> Ok:
        assert isinstance(self.event(), Handshake)
        self.sock.sendall(self.conn.handshake_response())
        while True:
            ev = self.event()
            if isinstance(ev, Ok):
                return ev
            assert isinstance(ev, (AuthSwitchRequest, AuthMoreData)), ev
            if reply := self.conn.auth_reply():
                self.sock.sendall(reply)

    def command(self, cmd: Any) -> list[Event]:
        """Send a command; return its events until the connection is idle again (runs
        of Rows merged into one)."""
        self.sock.sendall(self.conn.send(cmd))
        events: list[Event] = []
        while True:
            ev = self.event()
            if events and isinstance(ev, Rows) and isinstance(events[-1], Rows):
                events[-1] = Rows.of(events[-1].rows + ev.rows)
            else:
                events.append(ev)
            if self.conn.state is State.READY:
                return events

    def query(self, sql: str) -> list[Event]:
        return self.command(Query(sql=sql))


def dsn_url(dsn: Dsn, user: str | None = None, password: str | None = None, **query: str) -> str:
    """A ``mysql://`` URL for ``dsn`` (another account with ``user``/``password``)."""
    auth = dsn.user if user is None else user
    secret = (dsn.password if user is None else "") if password is None else password
    if secret:
        auth += ":" + secret
    q = "&".join(f"{k}={v}" for k, v in query.items())
    return f"mysql://{auth}@{dsn.host}:{dsn.port}/{dsn.database}" + (f"?{q}" if q else "")


def pymysql_connect(
    dsn: Dsn, user: str | None = None, password: str | None = None, **kw: Any
) -> Any:
    """PyMySQL connected to ``dsn`` (the reference peer in comparisons)."""
    import pymysql

    return pymysql.connect(
        host=dsn.host,
        port=dsn.port,
        user=dsn.user if user is None else user,
        password=(dsn.password if user is None else "") if password is None else password,
        database=dsn.database,
        **kw,
    )
