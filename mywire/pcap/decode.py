"""Captures to decoded MySQL conversations: segments → connections → records.

Theory of operation
-------------------
:class:`Decoder` reads a capture (:mod:`.capture`), keeps a pair of
:class:`~.tcp.HalfStream` per TCP connection (keyed by its two endpoints; a new SYN on
a finished pair starts a new connection), and decides which connections are MySQL:

* by port: either endpoint uses one of ``ports`` (3306 by default); the endpoint on
  that port is the server;
* by a greeting: a connection on another port whose first bytes are a HandshakeV10;
* by a command (``sniff``, on by default): a connection captured mid-stream whose
  client sends a packet that passes :func:`~.sniff.looks_like_command`.

Other connections are ignored (counted in the summary).  The reassembled bytes of each
MySQL connection go to an :class:`~.observer.Observer` in capture order; its notes come
out as :class:`Record` items with the connection's number (1, 2... in the order the
connections were recognised), the direction and the capture time, framed by an
``open`` and a ``close`` record.  Connections still open when the capture ends are
closed then (``"how": "capture_end"``).

Record kinds (``details`` keys in brackets):

``open`` [client, server, detected_by, from_start]
``handshake`` [server_version, protocol_version, connection_id, auth_plugin,
capabilities, character_set, status_flags]
``ssl_request`` [capabilities], then ``tls``: the rest is encrypted and only counted
``login`` [user, database, auth_plugin, auth_response_bytes, capabilities,
character_set, max_packet_size, attributes]
``auth_switch``, ``auth_more_data``, ``auth_next_factor``, ``auth_data``
``command`` [command, and its arguments: sql, schema, statement_id, params...]
``ok`` [response_to, affected_rows, insert_id, status_flags, warnings, info, elapsed]
``err`` [response_to, code, sqlstate, message, elapsed]: the server's ERR packets
``resultset`` [response_to, fields, rows, rows_affected, insert_id, warnings,
row_count, status_flags, elapsed]: fields and rows as the JSON transcoder writes them
``prepared``, ``statistics``, ``field_list``, ``local_infile``, ``infile_data``,
``progress``, ``packet``, ``eof``
``mid_stream`` [skipped_bytes, assumed_capabilities, compression]: decoding starts at a
recognised command
``gap`` [bytes, reason]: bytes missing from the capture; decoding hunts again
``incomplete`` [response_to or bytes, reason]: the capture ended inside a response
``error`` [error, message]: something that should not happen did (malformed traffic
or a mywire bug); decoding hunts again
``close`` [how, bytes, tls_bytes, retransmitted_bytes, lost_bytes, skipped_bytes]

Only ``error`` is unexpected; ``tls``, ``gap``, ``incomplete`` and ``mid_stream`` say
what a capture could not show, by its nature.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..framing import DEFAULT_MAX_PAYLOAD
from .capture import Capture, Segment
from .observer import C2S, DEFAULT_MAX_ROWS, S2C, Note, Observer
from .sniff import looks_like_greeting, recognise
from .tcp import DEFAULT_MAX_BUFFER, Chunk, End, Gap, HalfStream, Item

__all__ = ["DEFAULT_PORTS", "Decoder", "Record", "decode"]

DEFAULT_PORTS = (3306,)
#: Chunks of a connection on another port examined for a greeting or a command before
#: it is taken for something else.
SNIFF_CHUNKS = 4

Endpoint = tuple[str, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """One decoded event of one connection.  Do not subclass."""

    #: The connection's number in this capture, from 1.
    conn: int
    #: ``"c2s"``, ``"s2c"`` or ``""`` (the connection as a whole).
    direction: str
    #: Capture time, seconds since the epoch.
    ts: float
    kind: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The record as one flat JSON object (what ``mywire decode`` prints)."""
        return {
            "conn": self.conn,
            "dir": self.direction or None,
            "ts": self.ts,
            "kind": self.kind,
            **self.details,
        }


def _clean_details(details: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready details: text that is not UTF-8 (kept with surrogate escapes by the
    parsers) shows its bytes as ``\\xNN``.  The common case, valid text, is one C-speed
    check."""
    try:
        json.dumps(details, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        cleaned: dict[str, Any] = _clean(details)
        return cleaned
    return details


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raw = value.encode("utf-8", "surrogateescape")
            return raw.decode("utf-8", "backslashreplace")
        return value
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _endpoint(ep: Endpoint) -> str:
    host, port = ep
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _Conn:
    """One TCP connection of the capture."""

    def __init__(self, first: Segment, ports: tuple[int, ...], max_buffer: int) -> None:
        src, dst = (first.src, first.sport), (first.dst, first.dport)
        self.streams: dict[Endpoint, HalfStream] = {
            src: HalfStream(max_buffer=max_buffer),
            dst: HalfStream(max_buffer=max_buffer),
        }
        self.client: Endpoint | None = None
        if first.syn:
            self.client = dst if first.has_ack else src
        self.status = "undecided"
        self.detected_by = ""
        if first.dport in ports and first.sport not in ports:
            self.client = self.client or src
            self.status, self.detected_by = "mysql", "port"
        elif first.sport in ports:
            self.client = self.client or (dst if first.dport not in ports else src)
            self.status, self.detected_by = "mysql", "port"
        self.id = 0
        self.observer: Observer | None = None
        self.first_ts = first.ts
        self.ended: dict[str, str] = {}
        self.sniffed = 0

    def direction(self, sender: Endpoint) -> str:
        return C2S if sender == self.client else S2C

    def server(self) -> Endpoint:
        return next(ep for ep in self.streams if ep != self.client)


class Decoder:
    """Decodes the MySQL conversations of a capture file.

    Args:
        path: a pcap or pcapng file.
        ports: server ports that mark a connection as MySQL.
        sniff: also recognise MySQL on other ports by a greeting or a command.
        max_rows: rows kept per resultset in the records (None: all).
        max_buffer: out-of-order bytes kept per direction before a hole is given up on.
        max_payload: largest MySQL payload accepted.
        progress: called now and then with (bytes of the file read, file size).

    Raises:
        CaptureError: not a capture this reader understands (or dpkt is missing).
        OSError: the file cannot be read.

    Iterate to get the records; :meth:`summary` then describes the whole capture.
    Iterating never raises for what the capture holds: problems become ``error``
    records.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        ports: tuple[int, ...] = DEFAULT_PORTS,
        sniff: bool = True,
        max_rows: int | None = DEFAULT_MAX_ROWS,
        max_buffer: int = DEFAULT_MAX_BUFFER,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.capture = Capture(path)
        self.ports = tuple(ports)
        self.sniff = sniff
        self.max_rows = max_rows
        self.max_buffer = max_buffer
        self.max_payload = max_payload
        self.progress = progress
        self._flows: dict[tuple[Endpoint, Endpoint], _Conn] = {}
        self._closed: set[tuple[Endpoint, Endpoint]] = set()
        self._ids = 0
        self._last_ts = 0.0
        self.segments = 0
        self.ignored = 0
        self.errors = 0
        self.records = 0
        self._done = False

    # ------------------------------------------------------------------ public
    def __iter__(self) -> Iterator[Record]:
        if self._done:
            raise RuntimeError("a Decoder can be iterated once")
        self._done = True
        try:
            for seg in self.capture:
                self.segments += 1
                self._last_ts = max(self._last_ts, seg.ts)
                yield from self._segment(seg)
                if self.progress is not None and self.segments % 512 == 0:
                    self.progress(self.capture.position, self.capture.size)
            for conn in sorted(self._flows.values(), key=lambda c: c.id):
                yield from self._close(conn, self._last_ts, capture_end=True)
            self._flows.clear()
            if self.progress is not None:
                self.progress(self.capture.size, self.capture.size)
        finally:
            self.capture.close()

    def summary(self) -> dict[str, Any]:
        """Counts for the whole capture (complete once iteration has finished)."""
        cap = self.capture
        return {
            "capture": cap.path.name,
            "link_type": cap.link_name,
            "frames": cap.frames,
            "tcp_segments": self.segments,
            "other_frames": cap.other_frames,
            "ip_fragments": cap.fragments,
            "bad_frames": cap.bad_frames,
            "truncated_file": cap.truncated,
            "connections": self._ids,
            "ignored_connections": self.ignored,
            "records": self.records,
            "errors": self.errors,
        }

    # --------------------------------------------------------------- segments
    def _segment(self, seg: Segment) -> Iterator[Record]:
        src, dst = (seg.src, seg.sport), (seg.dst, seg.dport)
        key = (src, dst) if src <= dst else (dst, src)
        conn = self._flows.get(key)
        if conn is not None and seg.syn and not seg.has_ack:
            stream = conn.streams.get(src)
            if stream is not None and stream.saw_syn and stream.next_offset == 0:
                pass  # a retransmitted SYN
            else:
                # The pair of endpoints is reused: a new connection starts.
                yield from self._close(conn, seg.ts, capture_end=False)
                self._flows.pop(key, None)
                conn = None
        if conn is None:
            if key in self._closed and not seg.syn:
                return  # the last ACKs of a connection already closed
            self._closed.discard(key)
            conn = _Conn(seg, self.ports, self.max_buffer)
            self._flows[key] = conn
            if conn.status == "undecided" and not self.sniff:
                conn.status = "ignored"
                self.ignored += 1
        if conn.status == "ignored":
            return
        items: list[tuple[Endpoint, Item]] = []
        if seg.has_ack:
            peer = conn.streams[dst]
            items += [(dst, it) for it in peer.acknowledged(seg.ts, seg.ack)]
        stream = conn.streams[src]
        items += [
            (src, it)
            for it in stream.segment(
                seg.ts,
                seg.seq,
                seg.data,
                syn=seg.syn,
                fin=seg.fin,
                rst=seg.rst,
                missing=seg.missing,
            )
        ]
        if conn.status == "mysql" and not conn.id and (seg.syn or seg.data):
            yield from self._open(conn, seg.ts)
        if seg.rst:
            peer = conn.streams[dst]
            items += [(dst, it) for it in peer.flush(seg.ts)]
            peer.ended = True
        for sender, item in items:
            yield from self._item(conn, sender, item)
            if conn.status == "ignored":
                return
        if seg.rst or (conn.streams[src].ended and conn.streams[dst].ended):
            if conn.id:
                yield from self._close(conn, seg.ts, capture_end=False)
            else:
                self._flows.pop(key, None)
                self._closed.add(key)

    def _open(self, conn: _Conn, ts: float) -> Iterator[Record]:
        self._ids += 1
        conn.id = self._ids
        from_start = any(s.saw_syn for s in conn.streams.values())
        conn.observer = Observer(
            from_start=from_start, max_rows=self.max_rows, max_payload=self.max_payload
        )
        assert conn.client is not None
        yield self._record(
            conn,
            Note(
                direction="",
                ts=conn.first_ts,
                kind="open",
                details={
                    "client": _endpoint(conn.client),
                    "server": _endpoint(conn.server()),
                    "detected_by": conn.detected_by,
                    "from_start": from_start,
                },
            ),
        )

    def _sniff(self, conn: _Conn, sender: Endpoint, data: bytes) -> None:
        conn.sniffed += 1
        if looks_like_greeting(data):
            conn.client = next(ep for ep in conn.streams if ep != sender)
            conn.status, conn.detected_by = "mysql", "greeting"
        elif recognise(data) in ("plain", "zlib"):
            conn.client = sender
            conn.status, conn.detected_by = "mysql", "command"
        elif conn.sniffed >= SNIFF_CHUNKS:
            conn.status = "ignored"
            self.ignored += 1
            conn.streams.clear()

    def _item(self, conn: _Conn, sender: Endpoint, item: Item) -> Iterator[Record]:
        if conn.status == "undecided":
            if isinstance(item, Chunk):
                self._sniff(conn, sender, item.data)
            if conn.status != "mysql":
                return
        if not conn.id:
            yield from self._open(conn, item.ts)
        obs = conn.observer
        assert obs is not None
        direction = conn.direction(sender)
        if isinstance(item, Chunk):
            notes = obs.data(direction, item.ts, item.data)
        elif isinstance(item, Gap):
            notes = obs.gap(direction, item.ts, item.size, item.reason)
        else:
            assert isinstance(item, End)
            conn.ended[direction] = item.how
            notes = obs.end(direction, item.ts, item.how)
        for note in notes:
            yield self._record(conn, note)

    def _close(self, conn: _Conn, ts: float, *, capture_end: bool) -> Iterator[Record]:
        key_eps = list(conn.streams)
        if conn.id and conn.observer is not None:
            for sender, stream in list(conn.streams.items()):
                for item in stream.flush(ts):
                    yield from self._item(conn, sender, item)
            obs = conn.observer
            for note in obs.finish(ts, closed=not capture_end):
                yield self._record(conn, note)
            how = {
                d: conn.ended.get(d, "capture_end" if capture_end else "open") for d in (C2S, S2C)
            }
            streams = {conn.direction(ep): s for ep, s in conn.streams.items()}
            yield self._record(
                conn,
                Note(
                    direction="",
                    ts=ts,
                    kind="close",
                    details={
                        "how": how,
                        "bytes": {d: streams[d].delivered for d in (C2S, S2C)},
                        "tls_bytes": dict(obs.tls_bytes),
                        "retransmitted_bytes": {d: streams[d].retransmitted for d in (C2S, S2C)},
                        "lost_bytes": {d: streams[d].lost for d in (C2S, S2C)},
                        "skipped_bytes": dict(obs.skipped),
                    },
                ),
            )
        if len(key_eps) == 2:
            a, b = key_eps
            key = (a, b) if a <= b else (b, a)
            if self._flows.get(key) is conn:
                del self._flows[key]
                if not capture_end:
                    self._closed.add(key)

    def _record(self, conn: _Conn, note: Note) -> Record:
        self.records += 1
        if note.kind == "error":
            self.errors += 1
        return Record(
            conn=conn.id,
            direction=note.direction,
            ts=note.ts,
            kind=note.kind,
            details=_clean_details(dict(note.details)),
        )


def decode(path: str | os.PathLike[str], **options: Any) -> Iterator[Record]:
    """Shorthand: the records of :class:`Decoder` ``(path, **options)``."""
    return iter(Decoder(path, **options))
