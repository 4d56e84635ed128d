"""TCP reassembly: one direction of a connection, segments in, ordered bytes out.

Theory of operation
-------------------
A :class:`HalfStream` turns the segments one endpoint sent, in capture order, into the
byte stream the other endpoint read.  Sequence numbers are unwrapped to 64-bit stream
offsets (0 is the first byte after the SYN, or the first byte captured when the SYN was
not).  A segment that starts at the next expected offset is delivered at once, with
any buffered segments it makes contiguous; a segment further on waits in a buffer; a
segment wholly before the next offset is a retransmission and is dropped; one that
overlaps the delivered bytes is trimmed (the bytes first captured win).

Missing bytes never block the stream for good.  A hole is given up on, delivering a
:class:`Gap` and then what follows it, when

* the peer has acknowledged bytes past the hole while data after it waits (the peer
  received them, so they were lost from the capture, not from the network),
* the buffer of waiting segments exceeds ``max_buffer`` bytes, or
* the capture ends (:meth:`HalfStream.flush`).

Bytes a segment declares but the capture cut off (snap length) are a gap at once.  The
output is a list of :class:`Chunk`, :class:`Gap` and :class:`End` items per call; the
caller hands chunks to the protocol layer in the order they come out.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_MAX_BUFFER", "Chunk", "End", "Gap", "HalfStream", "Item"]

#: Out-of-order bytes kept waiting for a hole to fill before the hole is given up on.
#: A TCP window rarely exceeds a few MiB, and a capture that lost a segment should not
#: hold more than that in memory.
DEFAULT_MAX_BUFFER = 8 << 20

_MOD = 1 << 32
_HALF = 1 << 31


@dataclass(frozen=True, slots=True, kw_only=True)
class Chunk:
    """Bytes that continue the stream."""

    ts: float
    #: Stream offset of ``data[0]``.
    offset: int
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Gap:
    """Bytes that are missing from the capture."""

    ts: float
    offset: int
    size: int
    #: ``"acked"`` (the peer acknowledged bytes never captured), ``"buffer"`` (too much
    #: waited behind the hole), ``"snaplen"`` (the capture cut the segment short) or
    #: ``"end"`` (the capture ended with the hole open).
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class End:
    """The sender closed its direction (FIN) or aborted the connection (RST)."""

    ts: float
    how: str  # "fin" or "rst"


Item = Chunk | Gap | End


class HalfStream:
    """Reassembles one direction of a TCP connection.

    Args:
        max_buffer: out-of-order bytes kept before a hole is given up on.
    """

    def __init__(self, *, max_buffer: int = DEFAULT_MAX_BUFFER) -> None:
        self.max_buffer = max_buffer
        #: The stream's start is known (a SYN or a first segment was seen).
        self.started = False
        #: A SYN was seen: offset 0 is the first byte of the connection.
        self.saw_syn = False
        self._next = 0  # stream offset of the next byte to deliver
        self._next_seq = 0  # its sequence number (mod 2**32)
        # offset -> (capture time, bytes, or the size of a hole the snap length cut)
        self._waiting: dict[int, tuple[float, bytes | int]] = {}
        self._buffered = 0
        self._fin_at: int | None = None
        self._fin_ts = 0.0
        #: FIN or RST delivered: nothing more comes.
        self.ended = False
        #: Bytes delivered, retransmitted or overlapping (dropped), and lost (gaps).
        self.delivered = 0
        self.retransmitted = 0
        self.lost = 0

    # ------------------------------------------------------------------ offsets
    def _offset(self, seq: int) -> int:
        diff = (seq - self._next_seq) % _MOD
        if diff >= _HALF:
            diff -= _MOD
        return self._next + diff

    def _advance(self, n: int) -> None:
        self._next += n
        self._next_seq = (self._next_seq + n) % _MOD

    @property
    def next_offset(self) -> int:
        """Stream offset of the next byte to deliver."""
        return self._next

    @property
    def buffered(self) -> int:
        """Out-of-order bytes waiting for a hole to fill."""
        return self._buffered

    # -------------------------------------------------------------------- input
    def segment(
        self,
        ts: float,
        seq: int,
        data: bytes,
        *,
        syn: bool = False,
        fin: bool = False,
        rst: bool = False,
        missing: int = 0,
    ) -> list[Item]:
        """Take one segment this endpoint sent; return what it made deliverable.

        Args:
            ts: capture time.
            seq: its sequence number.
            data: its payload as captured.
            syn, fin, rst: its flags.
            missing: payload bytes the capture cut off after ``data``.
        """
        out: list[Item] = []
        if self.ended:
            self.retransmitted += len(data)
            return out
        if syn:
            if not self.saw_syn:
                self.started = self.saw_syn = True
                self._next, self._next_seq = 0, (seq + 1) % _MOD
            seq = (seq + 1) % _MOD  # the SYN takes one sequence number
        elif not self.started:
            if not data and not missing and not fin:
                # An empty segment (an ACK, a keep-alive probe whose sequence number is
                # one before the next byte) says nothing about where the data starts.
                return out
            self.started = True
            self._next, self._next_seq = 0, seq
        start = self._offset(seq)
        end = start + len(data) + missing
        if data:
            self._put(ts, start, data)
        if missing:
            self._put(ts, start + len(data), missing)
        if fin and (self._fin_at is None or end < self._fin_at):
            self._fin_at, self._fin_ts = end, ts
        self._drain(out)
        if rst and not self.ended:
            # An abort: what waits behind a hole will never be completed.
            self._give_up(ts, "end", out)
            self.ended = True
            out.append(End(ts=ts, how="rst"))
        elif self._buffered > self.max_buffer:
            self._give_up(ts, "buffer", out)
        return out

    def acknowledged(self, ts: float, ack: int) -> list[Item]:
        """The peer acknowledged everything before sequence number ``ack``.

        When data waits behind a hole the peer has acknowledged past, the hole's bytes
        were received but not captured: they are given up on.
        """
        out: list[Item] = []
        if not self.started or self.ended or not self._waiting:
            return out
        acked = self._offset(ack)
        if acked > self._next:
            self._skip_to(ts, min(acked, min(self._waiting)), "acked", out)
            self._drain(out)
        return out

    def flush(self, ts: float) -> list[Item]:
        """The capture ended: deliver what waits, with gaps for the holes."""
        out: list[Item] = []
        if not self.ended:
            self._give_up(ts, "end", out)
        return out

    # ---------------------------------------------------------------- internals
    def _put(self, ts: float, start: int, piece: bytes | int) -> None:
        size = piece if isinstance(piece, int) else len(piece)
        if start + size <= self._next:
            if not isinstance(piece, int):
                self.retransmitted += size
            return
        if start < self._next:
            cut = self._next - start
            if isinstance(piece, int):
                piece -= cut
            else:
                self.retransmitted += cut
                piece = piece[cut:]
            start, size = self._next, size - cut
        old = self._waiting.get(start)
        if old is not None:
            old_size = old[1] if isinstance(old[1], int) else len(old[1])
            # The longer piece wins; at equal length, captured bytes beat a hole.
            if old_size > size or (old_size == size and not isinstance(old[1], int)):
                if not isinstance(piece, int):
                    self.retransmitted += size
                return
            if not isinstance(old[1], int):
                self._buffered -= old_size
                self.retransmitted += old_size
        self._waiting[start] = (ts, piece)
        if not isinstance(piece, int):
            self._buffered += size

    def _drain(self, out: list[Item]) -> None:
        waiting = self._waiting
        while waiting:
            first = self._next if self._next in waiting else min(waiting)
            if first > self._next:
                break
            ts, piece = waiting.pop(first)
            is_hole = isinstance(piece, int)
            size = piece if isinstance(piece, int) else len(piece)
            if not is_hole:
                self._buffered -= size
            cut = self._next - first
            if first + size <= self._next:
                if not is_hole:
                    self.retransmitted += size
                continue
            if isinstance(piece, int):
                out.append(Gap(ts=ts, offset=self._next, size=size - cut, reason="snaplen"))
                self.lost += size - cut
            else:
                self.retransmitted += cut
                out.append(Chunk(ts=ts, offset=self._next, data=piece[cut:] if cut else piece))
                self.delivered += size - cut
            self._advance(size - cut)
        if self._fin_at is not None and self._next >= self._fin_at and not self.ended:
            self.ended = True
            out.append(End(ts=self._fin_ts, how="fin"))

    def _skip_to(self, ts: float, offset: int, reason: str, out: list[Item]) -> None:
        if offset <= self._next:
            return
        size = offset - self._next
        out.append(Gap(ts=ts, offset=self._next, size=size, reason=reason))
        self.lost += size
        self._advance(size)

    def _give_up(self, ts: float, reason: str, out: list[Item]) -> None:
        """Skip every hole before waiting data, delivering all of it (and the FIN)."""
        self._drain(out)
        while self._waiting:
            self._skip_to(ts, min(self._waiting), reason, out)
            self._drain(out)
        if self._fin_at is not None and not self.ended:
            self._skip_to(ts, self._fin_at, reason, out)
            self._drain(out)
