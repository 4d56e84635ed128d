"""The ``mywire`` command.

``mywire frames [TRACE]`` replays a recorded conversation (a ``.mwtrace`` file; the bundled
sample from a real MariaDB server by default) through the framer and prints one line per
payload: direction, sequence id, size and what the first bytes say it is.  It is the
smallest end-to-end use of the sans-IO core: bytes in at real ``recv`` boundaries,
payloads out.  ``mywire decode`` on pcap files replaces it once the capture reader lands.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from . import __version__, _backend
from .codec import unpack_from
from .constants import Command
from .errors import MywireError
from .framing import PacketReader, Payload
from .trace import CLIENT, SERVER, read_trace

__all__ = ["describe", "main"]

SAMPLE = "mariadb-session.mwtrace"


def _text(b: bytes, limit: int = 60) -> str:
    s = b.decode("utf-8", "replace")
    return s if len(s) <= limit else s[: limit - 1] + "…"


def describe(direction: int, payload: Payload, first: bool) -> dict[str, Any]:
    """Say what a payload is from its first bytes, without a state machine.

    Args:
        direction: CLIENT or SERVER.
        payload: the payload.
        first: True for the first payload in this direction.
    """
    data = payload.data
    info: dict[str, Any] = {"kind": "data"}
    if not data:
        return {"kind": "empty"}
    head = data[0]
    try:
        if direction == SERVER:
            if first and head == 10:
                (_, version, conn_id), _ = unpack_from("BZI", data)
                assert isinstance(version, bytes)
                return {"kind": "handshake", "server_version": _text(version), "conn_id": conn_id}
            if head == 0xFF:
                (_, code, rest), _ = unpack_from("BHE", data)
                assert isinstance(rest, bytes)
                state, msg = (rest[1:6], rest[6:]) if rest[:1] == b"#" else (b"", rest)
                return {
                    "kind": "err",
                    "code": code,
                    "sqlstate": state.decode(),
                    "message": _text(msg),
                }
            if head == 0x00 and len(data) >= 7:
                (_, affected, insert_id, status, warnings), _ = unpack_from("BLLHH", data)
                return {
                    "kind": "ok",
                    "affected_rows": affected,
                    "insert_id": insert_id,
                    "status": status,
                    "warnings": warnings,
                }
            if head == 0xFE and len(data) < 9:
                return {"kind": "eof"}
            return info
        if payload.seq == 0:
            try:
                name = Command(head).name
            except ValueError:
                name = f"COM_0x{head:02x}"
            out: dict[str, Any] = {"kind": "command", "command": name}
            if head in (Command.COM_QUERY, Command.COM_INIT_DB, Command.COM_STMT_PREPARE):
                out["text"] = _text(data[1:])
            return out
        if first and payload.seq == 1 and len(data) >= 32:
            (_, _, _, user), _ = unpack_from("IIB23xZ", data)
            assert isinstance(user, bytes)
            return {"kind": "handshake_response", "user": _text(user)}
    except MywireError as exc:
        return {"kind": "malformed", "error": str(exc)}
    return info


def replay(path: Path) -> Iterator[dict[str, Any]]:
    """Yield one dict per payload of a trace, in the order the bytes were recorded."""
    readers = {CLIENT: PacketReader(seq=None), SERVER: PacketReader(seq=None)}
    seen = {CLIENT: False, SERVER: False}
    for record in read_trace(path):
        reader = readers[record.direction]
        reader.feed(record.data)
        while (payload := reader.next_payload()) is not None:
            row = {
                "dir": "c2s" if record.direction == CLIENT else "s2c",
                "seq": payload.seq,
                "len": len(payload.data),
            }
            row.update(describe(record.direction, payload, not seen[record.direction]))
            seen[record.direction] = True
            yield row
    for direction, reader in readers.items():
        reader.feed(b"")
        if reader.next_payload() is not None:  # pragma: no cover - feed(b"") adds no bytes
            raise AssertionError("payload after end of stream")
        del direction


def _frames(args: argparse.Namespace) -> int:
    if args.trace:
        path = Path(args.trace)
    else:
        path = Path(str(resources.files("mywire") / "samples" / SAMPLE))
    counts = {"c2s": 0, "s2c": 0}
    sizes = {"c2s": 0, "s2c": 0}
    for row in replay(path):
        counts[row["dir"]] += 1
        sizes[row["dir"]] += row["len"]
        if args.format == "ndjson":
            print(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
        else:
            rest = " ".join(
                f"{k}={v}" for k, v in row.items() if k not in ("dir", "seq", "len", "kind")
            )
            arrow = "→" if row["dir"] == "c2s" else "←"
            print(f"{arrow} seq={row['seq']:<3} {row['len']:>8} B  {row['kind']:<18} {rest}")
    summary = {
        "kind": "summary",
        "trace": path.name,
        "backend": _backend.BACKEND,
        "payloads": counts,
        "payload_bytes": sizes,
    }
    if args.format == "ndjson":
        print(json.dumps(summary, separators=(",", ":")))
    else:
        print(
            f"{path.name}: {counts['c2s']} client payloads ({sizes['c2s']} B), "
            f"{counts['s2c']} server payloads ({sizes['s2c']} B); backend {_backend.BACKEND}"
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mywire", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"mywire {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    frames = sub.add_parser("frames", help="frame a recorded conversation and list its payloads")
    frames.add_argument("trace", nargs="?", help=f".mwtrace file (default: bundled {SAMPLE})")
    frames.add_argument("--format", choices=("text", "ndjson"), default="text")
    frames.set_defaults(func=_frames)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except MywireError as exc:
        print(f"mywire: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `mywire frames | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
