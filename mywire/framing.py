"""Packet framing: payloads to packets and back, incrementally, plain and compressed.

Theory of operation
-------------------
A MySQL payload travels as physical packets: a 3-byte little-endian length, a 1-byte
sequence id, then at most 0xFFFFFF bytes.  A packet of exactly 0xFFFFFF bytes means
"continued in the next packet"; a payload that is an exact multiple of it ends with an
empty packet.  Sequence ids count up per packet and wrap at 255.

:class:`PacketReader` is sans-IO: :meth:`~PacketReader.feed` takes bytes as they come off
a socket or a capture (``b""`` marks the end of the stream) and
:meth:`~PacketReader.next_payload` returns a whole :class:`Payload` or None when more
bytes are needed.  It never copies a payload more than once:

* fed ``bytes`` objects are kept as they are (segments), not appended to a buffer;
* the backend's ``scan_packets`` walks one segment and reports where complete packets
  lie; a single-packet payload is sliced out of its segment (the one copy);
* a packet that straddles segments, or a payload of several packets, is kept as views
  into the segments and joined once when complete.

Every header is checked before its body is waited for: a wrong sequence id raises
:class:`~mywire.errors.PacketsOutOfSync` and a declared size beyond ``max_payload``
raises :class:`~mywire.errors.PacketTooLarge` before anything is buffered for it.  Errors
are sticky: once a reader has raised, it raises the same error again.

The compressed protocol (:class:`CompressedPacketReader`, :func:`compress_frames`) wraps a
packet stream in frames with their own 7-byte header and sequence counter; the frame
layer is the same code on both backends (zlib and zstd are C libraries already), and the
packet stream inside is framed by a :class:`PacketReader`.
"""

from __future__ import annotations

import zlib
from collections import deque
from types import ModuleType
from typing import NamedTuple

from . import _backend
from ._pycore import MAX_PACKET, SCAN_NEED_BODY, SCAN_NEED_HEADER, ScanResult, out_of_sync
from .errors import MalformedPacket, ProtocolError, TruncatedPacket, UnsupportedFeature

__all__ = [
    "DEFAULT_MAX_PAYLOAD",
    "MAX_PACKET",
    "CompressedPacketReader",
    "Payload",
    "PacketReader",
    "RowRun",
    "compress_frames",
    "frame_payload",
]

# The server's own ceiling for max_allowed_packet is 1 GiB; a peer that declares more is
# broken or hostile, so that is the default.  Gateways should lower it to what they serve.
DEFAULT_MAX_PAYLOAD = 1 << 30

# Packets scanned per backend call.  One cffi call costs about as much as slicing out
# a few payloads, so a batch makes the call cheap per packet; unused spans are dropped.
SCAN_AHEAD = 256

Buffer = bytes | bytearray | memoryview


class Payload(NamedTuple):
    """One logical payload: the sequence id of its first packet and its bytes."""

    seq: int
    data: bytes


class RowRun(NamedTuple):
    """A run of complete single-packet rows, without a Python object per row.

    ``spans`` is a flat uint64 memoryview ``[offset0, length0, offset1, ...]`` locating
    each row payload inside ``data`` (the fed bytes themselves, not a copy).
    """

    data: bytes
    spans: memoryview
    nrows: int


# NamedTuple's generated __new__ is Python code; tuple.__new__ builds the same object in
# half the time, which matters once per row.
_new_payload = tuple.__new__


def frame_payload(payload: Buffer, seq: int = 0) -> tuple[bytes, int]:
    """Split ``payload`` into packets starting at sequence id ``seq``.

    Returns:
        The packet bytes and the sequence id the next packet must carry.

    Raises:
        ValueError: ``seq`` is not in 0..255.
    """
    if not 0 <= seq <= 255:
        raise ValueError(f"sequence id {seq} is not in 0..255")
    return _backend.IMPL.build_packets(payload, seq)  # type: ignore[no-any-return]


def _check_seq(seq: int | None) -> None:
    if seq is not None and not 0 <= seq <= 255:
        raise ValueError(f"sequence id {seq} is not in 0..255")


def _as_bytes(data: Buffer) -> bytes:
    # Segments are kept by reference, so they must be immutable.
    return data if type(data) is bytes else bytes(data)


class PacketReader:
    """Incremental packet reader.

    Args:
        max_payload: largest logical payload accepted (default 1 GiB); a header that
            would exceed it raises :class:`~mywire.errors.PacketTooLarge` at once.
        seq: sequence id expected on the first packet, or None to skip sequence checks
            (the packet stream inside compressed frames, captures joined mid-stream).
        impl: backend module; defaults to the one :mod:`mywire._backend` selected.
    """

    def __init__(
        self,
        *,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        seq: int | None = 0,
        impl: ModuleType | None = None,
    ) -> None:
        if max_payload < 0:
            raise ValueError("max_payload must be >= 0")
        if seq is not None and not 0 <= seq <= 255:
            raise ValueError(f"sequence id {seq} is not in 0..255")
        self._impl = impl or _backend.IMPL
        self._max = max_payload
        self._check = seq is not None
        self._seq = -1 if seq is None else seq
        self._segs: deque[bytes] = deque()
        self._pos = 0  # read offset in _segs[0]
        self._base = 0  # stream offset of _segs[0][0]
        self._fed = 0  # stream offset just past the last fed byte
        self._partial = 0  # payload bytes in earlier 0xFFFFFF packets of this payload
        self._pieces: list[memoryview | bytes] = []  # those packets' bodies
        self._first_seq = 0
        # A packet whose bytes span segments: header bytes so far, then body pieces.
        self._hdr: bytearray | None = None
        self._hdr_off = 0
        self._body_left = 0
        self._body_len = 0
        self._body: list[memoryview] = []
        self._ready: deque[Payload] = deque()
        self._scan: ScanResult | None = None  # packets scanned ahead, delivered from _si
        self._si = 0
        self._error: ProtocolError | None = None
        self._eof = False

    # ------------------------------------------------------------------ input
    def feed(self, data: Buffer) -> None:
        """Add bytes from the peer; ``b""`` means the stream ended.

        Non-``bytes`` input (bytearray, memoryview) is copied once so the caller may
        reuse its buffer.
        """
        if not len(data):
            self._eof = True
            return
        if self._eof:
            raise ValueError("data fed after the end of the stream")
        seg = _as_bytes(data)
        self._segs.append(seg)
        self._fed += len(seg)

    @property
    def seq(self) -> int | None:
        """Sequence id the next packet must carry (None when not checked)."""
        return self._seq if self._check else None

    def reset_sequence(self, seq: int | None = 0) -> None:
        """Expect ``seq`` on the next packet (a new command starts), or stop checking.

        A packet already partly buffered (the peer pipelines) is checked against the new
        id: its header now if it is complete, else when it completes.

        Raises:
            ValueError: a payload of several packets is half read, so its next packet's
                id is fixed already.
        """
        if self._pieces or self._ready:
            raise ValueError("cannot reset the sequence id in the middle of a payload")
        if seq is not None and not 0 <= seq <= 255:
            raise ValueError(f"sequence id {seq} is not in 0..255")
        self._scan = None  # spans scanned ahead were checked against the old id
        self._check = seq is not None
        self._seq = -1 if seq is None else seq
        hdr = self._hdr
        if seq is not None and hdr is not None and len(hdr) == 4:
            if hdr[3] != seq:
                self._error = out_of_sync(self._hdr_off, seq, hdr[3])
            else:
                self._seq = (seq + 1) & 0xFF

    def take_unread(self) -> bytes:
        """Remove and return every fed byte not yet returned in a payload.

        For a protocol switch (TLS after an SSLRequest): the bytes after the last payload
        belong to the next layer.  The reader is empty afterwards.

        Raises:
            ValueError: a payload of several packets is half read.
        """
        if self._pieces:
            raise ValueError("cannot take unread bytes in the middle of a payload")
        parts: list[bytes | memoryview] = []
        if self._hdr is not None:
            parts.append(bytes(self._hdr))
            parts.extend(self._body)
        if self._segs:
            parts.append(memoryview(self._segs[0])[self._pos :])
            parts.extend(list(self._segs)[1:])
        data = b"".join(parts)
        self._base = self._fed
        self._segs.clear()
        self._pos = 0
        self._hdr = None
        self._body = []
        self._body_len = self._body_left = 0
        self._scan = None
        return data

    @property
    def buffered(self) -> int:
        """Bytes fed but not yet returned in a payload."""
        held = sum(len(s) for s in self._segs) - self._pos
        if self._hdr is not None:
            held += len(self._hdr) + self._body_len - self._body_left
        return held + sum(len(p) for p in self._pieces)

    @property
    def at_eof(self) -> bool:
        """True once the stream has ended and every payload in it was returned."""
        return self._eof and not self._ready and self._error is None and self.buffered == 0

    # ----------------------------------------------------------------- output
    def next_payload(self) -> Payload | None:
        """Return the next complete payload, or None if more bytes are needed.

        Raises:
            PacketsOutOfSync: a packet carries the wrong sequence id.
            PacketTooLarge: a payload declares more than ``max_payload`` bytes.
            TruncatedPacket: the stream ended inside a packet or a payload.
        Any other exception is a bug.
        """
        ready = self._ready
        while not ready:
            if not self._step():
                return None
        return ready.popleft()

    def read_payloads(self, limit: int = 1024) -> list[Payload]:
        """Return up to ``limit`` complete payloads at once.

        Errors are raised only when no payload precedes them in this call, so the
        payloads before a bad packet are never lost.
        """
        out: list[Payload] = []
        ready = self._ready
        while len(out) < limit:
            if ready:
                out.append(ready.popleft())
                continue
            scan = self._scan
            if scan is not None and not self._pieces and self._si < len(scan.spans):
                # Fast path for runs of single-packet payloads (rows): slice them out of
                # the segment in a tight loop, then update the state once.
                seg = self._segs[0]
                spans = scan.spans
                assert isinstance(spans, list)
                first = i = self._si
                stop = min(len(spans), i + limit - len(out))
                while i < stop:
                    off, n = spans[i]
                    if n == MAX_PACKET:
                        break
                    out.append(_new_payload(Payload, (seg[off - 1], seg[off : off + n])))
                    i += 1
                if i > first:
                    off, n = spans[i - 1]
                    self._si = i
                    self._pos = off + n
                    if self._check:
                        self._seq = (seg[off - 1] + 1) & 0xFF
                    continue
            try:
                if not self._step():
                    break
            except ProtocolError:
                if out:
                    break
                raise
        return out

    def read_rows(self, limit: int, mode: int) -> RowRun | None:
        """Take a run of up to ``limit`` complete single-packet rows at the current position.

        Args:
            mode: ROWS_EOF or ROWS_DEPRECATE_EOF (``mywire._pycore``): how the resultset
                ends, so the scan stops before the terminator.

        Returns:
            A :class:`RowRun`, or None when the next payload is not a plain row (a
            terminator, an ERR, a row of 16 MiB or more, a row cut by the end of a fed
            chunk) or nothing is buffered: then :meth:`next_payload` returns it whole.
        """
        if self._ready or self._pieces or self._hdr is not None or self._error is not None:
            return None
        if self._scan is not None:
            if self._si < len(self._scan.spans):
                return None  # payloads scanned ahead are handed out by next_payload
            self._scan = None
        if not self._segs:
            return None
        seg = self._segs[0]
        r = self._impl.scan_packets(
            seg, self._pos, self._base, self._seq, 0, self._max, limit, mode, True
        )
        spans = r.spans
        assert isinstance(spans, memoryview)
        count = len(spans) // 2
        if not count:
            return None
        self._pos = r.end
        if self._check:
            self._seq = r.seq
        if r.end == len(seg):
            self._pop_segment()
        return RowRun(seg, spans, count)

    # --------------------------------------------------------------- internals
    def _step(self) -> bool:
        """Do one unit of work; return False when nothing can happen without more bytes.

        The backend scans up to SCAN_AHEAD packets per call; the spans it finds are a
        cache delivered one by one, and the status it ended with (an error, a packet cut
        by the end of the segment) takes effect only once they are all delivered.  So a
        sequence error in packets nobody has asked for yet is not raised early, and
        :meth:`reset_sequence` just drops the cache.
        """
        if self._error is not None:
            raise self._error
        scan = self._scan
        if scan is not None:
            spans = scan.spans
            assert isinstance(spans, list)  # scanned without flat=True
            i = self._si
            if i < len(spans):
                seg = self._segs[0]
                off, n = spans[i]
                self._si = i + 1
                self._pos = off + n
                seq = seg[off - 1]
                if self._check:
                    self._seq = (seq + 1) & 0xFF
                if n < MAX_PACKET and not self._pieces:
                    self._ready.append(Payload(seq, seg[off : off + n]))
                    return True
                self._take_packet([memoryview(seg)[off : off + n]], n, seq)
                self._partial = self._partial + n if n == MAX_PACKET else 0
                return True
            self._scan = None
            if scan.error is not None:
                self._error = scan.error
                raise scan.error
            seg = self._segs[0]
            if scan.status in (SCAN_NEED_HEADER, SCAN_NEED_BODY):
                self._start_straddle(seg, scan.end)
                self._pop_segment()
            elif scan.end == len(seg):
                self._pop_segment()
            return True
        if self._hdr is not None:
            if self._advance_straddle():
                return True
        elif self._segs:
            self._scan = self._impl.scan_packets(
                self._segs[0],
                self._pos,
                self._base,
                self._seq,
                self._partial,
                self._max,
                SCAN_AHEAD,
            )
            self._si = 0
            return True
        if self._eof:
            self._check_clean_end()
        return False

    def _check_clean_end(self) -> None:
        if self._hdr is not None:
            self._error = TruncatedPacket(
                f"truncated stream: the stream ended at offset {self._fed} inside the packet "
                f"that starts at offset {self._hdr_off}",
                offset=self._hdr_off,
                expected="the rest of the packet",
            )
        elif self._pieces:
            self._error = TruncatedPacket(
                f"truncated stream: the stream ended at offset {self._fed} after a "
                f"{MAX_PACKET}-byte packet; expected a continuation packet",
                offset=self._fed,
                expected="a continuation packet",
            )
        if self._error is not None:
            raise self._error

    def _pop_segment(self) -> None:
        self._base += len(self._segs.popleft())
        self._pos = 0

    def _take_packet(self, body: list[memoryview], n: int, seq: int) -> None:
        if not self._pieces and n < MAX_PACKET:
            data = bytes(body[0]) if len(body) == 1 else b"".join(body)
            self._ready.append(Payload(seq, data))
            return
        if not self._pieces:
            self._first_seq = seq
        self._pieces.extend(body)
        if n < MAX_PACKET:
            self._ready.append(Payload(self._first_seq, b"".join(self._pieces)))
            self._pieces = []

    def _start_straddle(self, seg: bytes, start: int) -> None:
        self._hdr_off = self._base + start
        tail = memoryview(seg)[start:]
        self._hdr = bytearray(tail[:4])
        self._body = []
        self._body_len = self._body_left = 0
        if len(self._hdr) == 4:
            # scan_packets already checked this header (it reported SCAN_NEED_BODY).
            self._begin_body(int.from_bytes(self._hdr[:3], "little"))
            self._body.append(tail[4:])
            self._body_left -= len(tail) - 4

    def _begin_body(self, n: int) -> None:
        self._body_len = self._body_left = n
        assert self._hdr is not None
        if self._check:
            self._seq = (self._hdr[3] + 1) & 0xFF

    def _advance_straddle(self) -> bool:
        hdr = self._hdr
        assert hdr is not None
        progressed = False
        while len(hdr) < 4 and self._segs:
            seg = self._segs[0]
            take = min(4 - len(hdr), len(seg) - self._pos)
            hdr += seg[self._pos : self._pos + take]
            self._pos += take
            progressed = True
            if self._pos == len(seg):
                self._pop_segment()
            if len(hdr) == 4:
                r = self._impl.scan_packets(
                    bytes(hdr), 0, self._hdr_off, self._seq, self._partial, self._max, 1
                )
                if r.error is not None:
                    self._error = r.error
                    return True
                self._begin_body(r.need if r.status == SCAN_NEED_BODY else 0)
        if len(hdr) < 4:
            return progressed
        while self._body_left and self._segs:
            seg = self._segs[0]
            take = min(self._body_left, len(seg) - self._pos)
            self._body.append(memoryview(seg)[self._pos : self._pos + take])
            self._pos += take
            self._body_left -= take
            progressed = True
            if self._pos == len(seg):
                self._pop_segment()
        if self._body_left:
            return progressed
        n = self._body_len
        body, seq = self._body, hdr[3]
        self._hdr, self._body = None, []
        self._take_packet(body or [memoryview(b"")], n, seq)
        self._partial = self._partial + n if n == MAX_PACKET else 0
        return True


# ---------------------------------------------------------------------------------------
# Compressed protocol
# ---------------------------------------------------------------------------------------

COMPRESSED_HEADER = 7
# MySQL and MariaDB send frames shorter than this uncompressed (net_serv.cc MIN_COMPRESS_LENGTH).
MIN_COMPRESS_LENGTH = 50


def _zstd() -> ModuleType:
    try:
        import zstandard
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise UnsupportedFeature(
            "zstd protocol compression needs the 'zstandard' package (pip install mywire[zstd])"
        ) from exc
    return zstandard


class CompressedPacketReader:
    """Reads the compressed protocol: frames → inflated packet stream → payloads.

    Args:
        algorithm: ``"zlib"`` (CLIENT_COMPRESS) or ``"zstd"`` (CLIENT_ZSTD_COMPRESSION_ALGORITHM).
        max_payload: as for :class:`PacketReader`; also bounds one frame's inflated size.
        seq: compressed sequence id expected on the first frame, or None not to check.
            The packets inside carry their own ids, which servers and clients do not
            check in compressed mode (mysql-server net_serv.cc), so neither does this.

    Errors in frames carry offsets into the compressed stream; errors in the packets
    inside carry offsets into the inflated stream.
    """

    def __init__(
        self,
        *,
        algorithm: str = "zlib",
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        seq: int | None = 0,
        impl: ModuleType | None = None,
    ) -> None:
        if algorithm not in ("zlib", "zstd"):
            raise ValueError(f"unknown compression algorithm {algorithm!r}")
        _check_seq(seq)
        if algorithm == "zstd":
            self._zstd = _zstd().ZstdDecompressor()
        self._algorithm = algorithm
        self._max = max_payload
        self._check = seq is not None
        self._seq = seq or 0
        self._buf = bytearray()
        self._pos = 0
        self._base = 0
        self._eof = False
        self._error: ProtocolError | None = None
        self.packets = PacketReader(max_payload=max_payload, seq=None, impl=impl)

    def feed(self, data: Buffer) -> None:
        """Add compressed bytes; ``b""`` ends the stream."""
        if not len(data):
            self._eof = True
        elif self._eof:
            raise ValueError("data fed after the end of the stream")
        else:
            self._buf += data

    @property
    def seq(self) -> int:
        """The compressed sequence id the next frame carries (tracked even unchecked)."""
        return self._seq

    def reset_sequence(self, seq: int | None = 0) -> None:
        """Expect compressed sequence id ``seq`` on the next frame (or stop checking)."""
        _check_seq(seq)
        self._check = seq is not None
        self._seq = seq or 0

    def next_payload(self) -> Payload | None:
        """Return the next complete payload, or None if more bytes are needed.

        Raises:
            PacketsOutOfSync, PacketTooLarge, MalformedPacket, TruncatedPacket.
        """
        while True:
            payload = self.packets.next_payload()
            if payload is not None:
                return payload
            if self._error is not None:
                raise self._error
            try:
                inflated = self._next_frame()
            except ProtocolError as exc:
                self._error = exc
                raise
            if inflated is None:
                if self._eof:
                    self.packets.feed(b"")
                    return self.packets.next_payload()
                return None
            if inflated:  # an empty frame carries nothing (and b"" would mean EOF)
                self.packets.feed(inflated)

    def _next_frame(self) -> bytes | None:
        buf, pos = self._buf, self._pos
        left = len(buf) - pos
        offset = self._base + pos
        if left < COMPRESSED_HEADER:
            if self._eof and left:
                raise TruncatedPacket(
                    f"truncated stream: the stream ended at offset {offset + left} inside "
                    f"the compressed frame header at offset {offset}",
                    offset=offset,
                    expected="a 7-byte compressed frame header",
                )
            return None
        clen = int.from_bytes(buf[pos : pos + 3], "little")
        cseq = buf[pos + 3]
        ulen = int.from_bytes(buf[pos + 4 : pos + 7], "little")
        if self._check and cseq != self._seq:
            from ._pycore import out_of_sync

            raise out_of_sync(offset, self._seq, cseq)
        if ulen > self._max or (ulen == 0 and clen > self._max):
            from ._pycore import too_large

            raise too_large(offset, max(ulen, clen), self._max)
        if left - COMPRESSED_HEADER < clen:
            if self._eof:
                raise TruncatedPacket(
                    f"truncated stream: the stream ended at offset {offset + left} inside "
                    f"the compressed frame that starts at offset {offset}",
                    offset=offset,
                    expected="the rest of the compressed frame",
                )
            return None
        body = bytes(buf[pos + COMPRESSED_HEADER : pos + COMPRESSED_HEADER + clen])
        self._pos = pos + COMPRESSED_HEADER + clen
        if self._pos > 1 << 20 and self._pos * 2 > len(buf):
            # Compact now and then: amortised O(n), as wsproto's Buffer does.
            del self._buf[: self._pos]
            self._base += self._pos
            self._pos = 0
        self._seq = (cseq + 1) & 0xFF
        if ulen == 0:
            return body
        return self._inflate(body, ulen, offset)

    def _inflate(self, body: bytes, ulen: int, offset: int) -> bytes:
        def bad(detail: str) -> MalformedPacket:
            return MalformedPacket(
                f"malformed compressed frame at offset {offset}: {detail}",
                offset=offset,
                expected=f"{self._algorithm} data inflating to {ulen} bytes",
            )

        if self._algorithm == "zlib":
            d = zlib.decompressobj()
            try:
                out = d.decompress(body, ulen + 1)
            except zlib.error as exc:
                raise bad(f"invalid zlib data ({exc})") from None
            if not d.eof or d.unconsumed_tail or d.unused_data:
                if len(out) > ulen:
                    raise bad(f"inflates to more than the declared {ulen} bytes")
                raise bad("the zlib stream does not end where the frame does")
        else:
            # Never let the zstd frame header decide the allocation: read at most one byte
            # more than the MySQL frame declares through a bounded stream reader.
            try:
                with self._zstd.stream_reader(body) as stream:
                    out = stream.read(ulen + 1)
            except Exception as exc:  # zstandard.ZstdError is not importable by name here
                raise bad(f"invalid zstd data ({exc})") from None
            if len(out) > ulen:
                raise bad(f"inflates to more than the declared {ulen} bytes")
            if len(out) == ulen:
                # The bounded read stops at the declared size; a second, now bounded,
                # pass tells whether bytes follow the zstd frame inside ours.
                rest = self._zstd.decompressobj()
                try:
                    rest.decompress(body)
                except Exception as exc:
                    raise bad(f"invalid zstd data ({exc})") from None
                if not rest.eof or rest.unused_data:
                    raise bad("the zstd frame does not end where the frame does")
        if len(out) != ulen:
            raise bad(f"inflates to {len(out)} bytes, not the declared {ulen}")
        return out


def compress_frames(
    data: Buffer,
    seq: int = 0,
    *,
    algorithm: str = "zlib",
    level: int | None = None,
    min_length: int = MIN_COMPRESS_LENGTH,
) -> tuple[bytes, int]:
    """Wrap a packet stream (the output of :func:`frame_payload`) in compressed frames.

    Pieces shorter than ``min_length``, or that do not shrink, go raw (uncompressed
    length 0), as the servers do.

    Returns:
        The frame bytes and the next compressed sequence id.
    """
    if not 0 <= seq <= 255:
        raise ValueError(f"sequence id {seq} is not in 0..255")
    if algorithm == "zlib":
        zlevel = -1 if level is None else level

        def squeeze(b: bytes) -> bytes:
            return zlib.compress(b, zlevel)

    elif algorithm == "zstd":
        cctx = _zstd().ZstdCompressor(level=3 if level is None else level)

        def squeeze(b: bytes) -> bytes:
            return cctx.compress(b)  # type: ignore[no-any-return]

    else:
        raise ValueError(f"unknown compression algorithm {algorithm!r}")
    view = memoryview(data).cast("B")
    parts: list[bytes] = []
    pos = 0
    while True:
        chunk = bytes(view[pos : pos + MAX_PACKET])
        pos += len(chunk)
        packed = squeeze(chunk) if len(chunk) >= min_length else chunk
        if len(packed) >= len(chunk) or len(packed) > MAX_PACKET:
            packed, ulen = chunk, 0
        else:
            ulen = len(chunk)
        parts.append(len(packed).to_bytes(3, "little") + bytes((seq,)) + ulen.to_bytes(3, "little"))
        parts.append(packed)
        seq = (seq + 1) & 0xFF
        if pos >= len(view):
            break
    return b"".join(parts), seq
