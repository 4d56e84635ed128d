"""Cut the fuzz seed corpus from the packet captures (generated at run time, not committed).

Usage: ``python fuzz/make_corpus.py OUTDIR [CAPTURE_DIR ...]`` (default capture directory:
tests/captures/public).  Writes ``OUTDIR/<target>/<sha1>`` files, each already prefixed
with the control bytes its target expects (fuzz/targets.py ``SEED_PREFIX``):

* per-direction streams (TCP reassembled with mywire.pcap, the first 64 KiB): server to
  client for ``client`` and ``framing``, client to server for ``server`` and ``framing``;
* single payloads (the streams split with a PacketReader that does not check sequence
  ids): the greeting and client hello for ``handshake``, OK/ERR/EOF for ``generic``,
  column definitions for ``coldef``, commands for ``command``;
* resultsets found in the server stream (a column count, that many definitions, rows up
  to the terminator) for the row and transcoder targets.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from mywire.errors import MywireError
from mywire.events import ColumnDefinition
from mywire.framing import PacketReader
from mywire.packets import resultset as prs
from mywire.pcap import Capture, Chunk, HalfStream
from mywire.pcap.tcp import Item

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: fuzz/ is sys.path[0], not the root
    sys.path.insert(0, str(ROOT))

from fuzz.targets import CAPABILITIES, SEED_PREFIX, TARGETS, rows_seed  # noqa: E402

STREAM_LIMIT = 64 * 1024
PER_TARGET = 400
TRANSCODE = [t for t in TARGETS if t.startswith("transcode_")]

Endpoint = tuple[str, int]


def streams(path: Path) -> list[tuple[bytes, bytes]]:
    """(client→server, server→client) bytes of each TCP connection in a capture."""
    halves: dict[tuple[Endpoint, Endpoint], HalfStream] = {}
    data: dict[tuple[Endpoint, Endpoint], bytearray] = {}
    with Capture(path) as cap:
        for seg in cap:
            key = ((seg.src, seg.sport), (seg.dst, seg.dport))
            half = halves.setdefault(key, HalfStream())
            buf = data.setdefault(key, bytearray())
            items = half.segment(seg.ts, seg.seq, seg.data, syn=seg.syn, fin=seg.fin, rst=seg.rst)
            _collect(items, buf)
    for key, half in halves.items():
        _collect(half.flush(0.0), data[key])
    out = []
    for (src, dst), buf in data.items():
        if src[1] > dst[1]:  # the server is the lower port (3306, 5432...)
            back = data.get((dst, src), bytearray())
            out.append((bytes(buf[:STREAM_LIMIT]), bytes(back[:STREAM_LIMIT])))
    return out


def _collect(items: list[Item], buf: bytearray) -> None:
    for item in items:
        if isinstance(item, Chunk) and len(buf) < STREAM_LIMIT:
            buf += item.data


def payloads(stream: bytes) -> list[bytes]:
    reader = PacketReader(seq=None)
    reader.feed(stream)
    out = []
    try:
        while (p := reader.next_payload()) is not None:
            out.append(p.data)
    except MywireError:
        pass
    return out


def resultsets(server: list[bytes]) -> list[tuple[tuple[ColumnDefinition, ...], list[bytes]]]:
    """Resultsets found in a server's payloads (under the usual 4.1 capabilities)."""
    found = []
    caps = CAPABILITIES[1]
    i = 0
    while i < len(server):
        p = server[i]
        i += 1
        if not p or p[0] in (0x00, 0xFB, 0xFE, 0xFF) or len(p) > 9:
            continue
        try:
            n, _ = prs.parse_column_count(p, caps)
            if not 0 < n <= 16 or i + n > len(server):
                continue
            cols = tuple(prs.parse_column_definition(d, caps) for d in server[i : i + n])
        except MywireError:
            continue
        i += n
        if i < len(server) and server[i][:1] == b"\xfe" and len(server[i]) < 9:
            i += 1  # the EOF after the definitions (no DEPRECATE_EOF)
        rows: list[bytes] = []
        while i < len(server) and server[i][:1] not in (b"\xfe", b"\xff") and len(rows) < 32:
            rows.append(server[i])
            i += 1
        found.append((cols, rows))
    return found


class Corpus:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.counts: dict[str, int] = dict.fromkeys(TARGETS, 0)
        for t in TARGETS:
            (out / t).mkdir(parents=True, exist_ok=True)

    def add(self, target: str, seed: bytes) -> None:
        if self.counts[target] >= PER_TARGET or not seed:
            return
        name = self.out / target / hashlib.sha1(seed).hexdigest()
        if not name.exists():
            name.write_bytes(seed)
            self.counts[target] += 1


def build(out: Path, capture_dirs: list[Path]) -> dict[str, int]:
    corpus = Corpus(out)
    files = sorted(f for d in capture_dirs for f in d.iterdir() if f.suffix in (".pcap", ".pcapng"))
    for f in files:
        try:
            conns = streams(f)
        except MywireError as exc:
            print(f"{f.name}: skipped ({exc})", file=sys.stderr)
            continue
        for up, down in conns:
            for stream, target in ((down, "client"), (up, "server")):
                corpus.add(target, SEED_PREFIX[target] + stream)
                corpus.add("framing", SEED_PREFIX["framing"] + stream)
            server, client = payloads(down), payloads(up)
            for k, p in enumerate(server):
                if k == 0:
                    corpus.add("handshake", SEED_PREFIX["handshake"] + p)
                if p[:1] in (b"\x00", b"\xff", b"\xfe"):
                    which = {0x00: 0, 0xFF: 1, 0xFE: 2}[p[0]]
                    corpus.add("generic", bytes((which, 0)) + p)
                elif len(p) > 9:
                    corpus.add("coldef", SEED_PREFIX["coldef"] + p)
            for k, p in enumerate(client):
                if k == 0:
                    corpus.add("handshake", b"\x01" + p)
                else:
                    corpus.add("command", SEED_PREFIX["command"] + p)
            for cols, rows in resultsets(server):
                binary = bool(rows) and all(r[:1] == b"\x00" for r in rows)
                corpus.add("text_rows", rows_seed(cols, rows))
                corpus.add("binary_rows", rows_seed(cols, rows, 1))
                for t in TRANSCODE:
                    corpus.add(t, rows_seed(cols, rows, int(binary)))
    return corpus.counts


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    dirs = [Path(a) for a in argv[1:]] or [ROOT / "tests" / "captures" / "public"]
    counts = build(Path(argv[0]), dirs)
    print(" ".join(f"{t}={n}" for t, n in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
