"""The ``mywire`` command.

``mywire decode [CAPTURE]`` reads a pcap or pcapng capture (the bundled sample of a real
MySQL session by default), finds the MySQL connections in it and prints what went over
the wire, one record per line: connection number, direction, capture time, kind
(handshake, login, command, resultset, ok, err...) and details, with resultset rows in
the JSON transcoder's mapping.  It needs ``dpkt`` (``pip install 'mywire[pcap]'``).

``mywire frames [TRACE]`` replays a recorded conversation (a ``.mwtrace`` file; the bundled
sample from a real MariaDB server by default) through the framer and prints one line per
payload: direction, sequence id, size and what the first bytes say it is.  It is the
smallest end-to-end use of the sans-IO core: bytes in at real ``recv`` boundaries,
payloads out.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from . import __version__, _backend
from .codec import unpack_from
from .constants import Command
from .errors import MywireError
from .framing import PacketReader, Payload
from .trace import CLIENT, SERVER, read_trace

__all__ = ["describe", "main", "text_line"]

SAMPLE = "mariadb-session.mwtrace"
CAPTURE_SAMPLE = "zeek-mysql.pcap"
#: Captures at least this big get a progress bar (when stderr is a terminal).
PROGRESS_MIN_BYTES = 4 << 20


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


# ------------------------------------------------------------------------------ decode

_ARROWS = {"c2s": "→", "s2c": "←", None: "·"}
_TEXT_WIDTH = 100


def _short(value: object, limit: int = _TEXT_WIDTH) -> str:
    s = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    s = " ".join(s.split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _pairs(d: dict[str, Any], skip: tuple[str, ...] = ()) -> str:
    return " ".join(f"{k}={_short(v, 60)}" for k, v in d.items() if k not in skip and v is not None)


def _summary_text(kind: str, d: dict[str, Any]) -> str:
    """What one record says, in a line."""
    if kind == "open":
        how = "from its start" if d["from_start"] else "mid-connection"
        return f"{d['client']} → {d['server']} (by {d['detected_by']}, {how})"
    if kind == "handshake":
        return _pairs(d, ("capabilities", "protocol_version", "status_flags"))
    if kind == "login":
        return _pairs(d, ("capabilities", "attributes", "max_packet_size", "character_set"))
    if kind == "command":
        rest = {k: v for k, v in d.items() if k != "command"}
        if "sql" in rest:
            return f"{d['command']} {_short(rest.pop('sql'))} {_pairs(rest)}".rstrip()
        return f"{d['command']} {_pairs(rest)}".rstrip()
    if kind == "resultset":
        names = ",".join(f["name"] for f in d.get("fields") or [])
        rows = d.get("rows")
        text = f"{len(d.get('fields') or [])} columns ({_short(names, 40)}), {d['row_count']} rows"
        if rows:
            text += " " + _short(rows, 70)
        if "error" in d:
            text += f" error={_short(d['error'], 80)}"
        return text
    if kind == "field_list":
        fields = ", ".join(f"{f['name']} {f['type']}" for f in d["fields"])
        return f"{len(d['fields'])} fields ({_short(fields, 80)})"
    if kind == "prepared":
        cols = ",".join(d["columns"])
        return (
            f"statement_id={d['statement_id']} params={d['params']} "
            f"columns={len(d['columns'])} ({_short(cols, 60)})"
        )
    if kind == "close":
        b = d["bytes"]
        return f"how={_short(d['how'])} bytes c2s={b['c2s']} s2c={b['s2c']}"
    if kind == "mid_stream":
        return _pairs(d, ("assumed_capabilities",)) + " (capabilities assumed)"
    return _pairs(d, ("elapsed",))


def text_line(record: dict[str, Any], start: float) -> str:
    """A decoded record (``Record.to_dict()``) as one line of ``mywire decode --format text``."""
    details = {k: v for k, v in record.items() if k not in ("conn", "dir", "ts", "kind")}
    arrow = _ARROWS.get(record["dir"], "?")
    return (
        f"#{record['conn']:<3} {record['ts'] - start:>10.6f} {arrow} {record['kind']:<14} "
        f"{_summary_text(record['kind'], details)}"
    )


def _progress_bar(size: int, enabled: bool | None) -> tuple[Callable[[int, int], None] | None, Any]:
    """A tqdm bar on stderr for big captures, when stderr is a terminal (or forced)."""
    if enabled is False or (
        enabled is None and (size < PROGRESS_MIN_BYTES or not sys.stderr.isatty())
    ):
        return None, None
    try:
        from tqdm import tqdm  # type: ignore[import-untyped]  # no stubs, no py.typed
    except ImportError:
        return None, None
    bar = tqdm(total=size, unit="B", unit_scale=True, desc="decoding", file=sys.stderr)

    def update(done: int, total: int) -> None:
        bar.update(done - bar.n)

    return update, bar


def _decode(args: argparse.Namespace) -> int:
    from .pcap import Decoder

    if args.capture:
        path = Path(args.capture)
    else:
        path = Path(str(resources.files("mywire") / "samples" / CAPTURE_SAMPLE))
    try:
        size = path.stat().st_size
    except OSError as exc:
        print(f"mywire: error: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    progress, bar = _progress_bar(size, args.progress)
    try:
        decoder = Decoder(
            path,
            ports=tuple(args.port or (3306,)),
            sniff=not args.no_sniff,
            max_rows=None if args.max_rows < 0 else args.max_rows,
            progress=progress,
        )
    except OSError as exc:
        print(f"mywire: error: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    conns = set(args.conn or ())
    records: list[dict[str, Any]] = []
    start: float | None = None
    try:
        for record in decoder:
            if start is None:
                start = record.ts
            if conns and record.conn not in conns:
                continue
            if args.only_errors and record.kind not in ("err", "error"):
                continue
            row = record.to_dict()
            if args.format == "ndjson":
                print(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
            elif args.format == "text":
                print(text_line(row, start))
            else:
                records.append(row)
    finally:
        if bar is not None:
            bar.close()
    summary = {"kind": "summary", **decoder.summary()}
    if args.format == "ndjson":
        print(json.dumps(summary, ensure_ascii=False, separators=(",", ":")))
    elif args.format == "json":
        doc = {"summary": decoder.summary(), "records": records}
        print(json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
    else:
        s = summary
        print(
            f"{s['capture']}: {s['connections']} MySQL connections, {s['records']} records, "
            f"{s['errors']} errors ({s['frames']} frames, {s['link_type']}"
            f"{', file truncated' if s['truncated_file'] else ''}); backend {_backend.BACKEND}"
        )
    return 1 if decoder.errors else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mywire", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"mywire {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    frames = sub.add_parser("frames", help="frame a recorded conversation and list its payloads")
    frames.add_argument("trace", nargs="?", help=f".mwtrace file (default: bundled {SAMPLE})")
    frames.add_argument("--format", choices=("text", "ndjson"), default="text")
    frames.set_defaults(func=_frames)
    decode = sub.add_parser(
        "decode",
        help="decode the MySQL conversations of a pcap/pcapng capture",
        description="Decode the MySQL conversations of a pcap or pcapng capture. Exit "
        "status: 0 when everything decoded, 1 when some traffic could not be decoded "
        "(kind 'error' records), 2 when the file cannot be read.",
    )
    decode.add_argument(
        "capture", nargs="?", help=f"pcap or pcapng file (default: bundled {CAPTURE_SAMPLE})"
    )
    decode.add_argument("--format", choices=("ndjson", "json", "text"), default="ndjson")
    decode.add_argument(
        "--port",
        type=int,
        action="append",
        metavar="N",
        help="server port of MySQL connections (repeatable; default 3306); other ports "
        "are recognised by a greeting or a command unless --no-sniff",
    )
    decode.add_argument(
        "--no-sniff",
        action="store_true",
        help="only decode connections on --port, not ones recognised by their bytes",
    )
    decode.add_argument(
        "--conn", type=int, action="append", metavar="N", help="only connection N (repeatable)"
    )
    decode.add_argument(
        "--only-errors",
        action="store_true",
        help="only server ERR packets (kind err) and what could not be decoded (kind error)",
    )
    decode.add_argument(
        "--max-rows",
        type=int,
        default=1000,
        metavar="N",
        help="rows shown per resultset (default 1000; -1: all); all are counted",
    )
    decode.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: for big captures when stderr is a terminal)",
    )
    decode.set_defaults(func=_decode)
    from .gateway import cli as gateway_cli  # imports neither Starlette nor uvicorn

    serve = sub.add_parser(
        "serve",
        help="run the HTTP gateway (PlanetScale-compatible API and /v1/query; mywire[gateway])",
        description=(gateway_cli.__doc__ or "").splitlines()[0],
    )
    gateway_cli.add_arguments(serve)
    serve.set_defaults(func=gateway_cli.run)
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
