"""The ``.mwtrace`` format: a recorded MySQL conversation, both directions, in order.

A tiny container until the pcap reader lands: the magic ``MWTRACE1`` followed by records
of ``direction (1 byte: 0 client→server, 1 server→client) | length (4 bytes LE) | bytes``.
Each record is what one ``recv`` returned on the recording proxy, so the records cut the
stream at real TCP read boundaries, which is exactly what the framer must cope with.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

from .errors import MalformedPacket, TruncatedPacket

__all__ = ["CLIENT", "MAGIC", "SERVER", "TraceRecord", "read_trace", "write_record"]

MAGIC = b"MWTRACE1"
CLIENT = 0  # client → server
SERVER = 1  # server → client
# A record is one recv(); nothing legitimate is bigger than this.
MAX_RECORD = 1 << 26


class TraceRecord(NamedTuple):
    direction: int
    offset: int
    data: bytes


def write_record(out: BinaryIO, direction: int, data: bytes) -> None:
    out.write(bytes((direction,)) + len(data).to_bytes(4, "little") + data)


def read_trace(path: str | Path) -> Iterator[TraceRecord]:
    """Yield the records of a trace file.

    Raises:
        MalformedPacket: not a trace file, or a record header is invalid.
        TruncatedPacket: the file ends inside a record.
    """
    data = Path(path).read_bytes()
    if not data.startswith(MAGIC):
        raise MalformedPacket(
            f"not a mywire trace: {str(path)!r} does not start with {MAGIC!r}",
            offset=0,
            expected="the MWTRACE1 magic",
        )
    pos = len(MAGIC)
    while pos < len(data):
        if len(data) - pos < 5:
            raise TruncatedPacket(
                f"truncated trace: record header at offset {pos}",
                offset=pos,
                expected="a 5-byte record header",
            )
        direction = data[pos]
        n = int.from_bytes(data[pos + 1 : pos + 5], "little")
        if direction not in (CLIENT, SERVER) or n > MAX_RECORD:
            raise MalformedPacket(
                f"malformed trace: record at offset {pos} has direction {direction}, length {n}",
                offset=pos,
                expected="direction 0 or 1 and a sane length",
            )
        if len(data) - pos - 5 < n:
            raise TruncatedPacket(
                f"truncated trace: record at offset {pos} declares {n} bytes",
                offset=pos,
                expected=f"{n} record bytes",
            )
        yield TraceRecord(direction, pos, data[pos + 5 : pos + 5 + n])
        pos += 5 + n
