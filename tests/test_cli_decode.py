"""``mywire decode``: output formats, filters, exit status, the bundled sample.

Values (versions, users, error codes, frame times, TCP payload sizes) were read with
TShark 4.0.17 from the same captures (``-T fields -e frame.time_relative -e tcp.len
-e mysql.version -e mysql.user -e mysql.error_code ...``) and are written literally.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import dpkt  # type: ignore[import-untyped]  # no stubs, no py.typed
import pytest

from mywire import _backend
from mywire.cli import main

CAPTURES = Path(__file__).parent / "captures" / "public"
DENY = str(CAPTURES / "arkime__mysql-deny.pcap")
AUTH = str(CAPTURES / "zeek__mysql__auth.pcap")
PG_PORT = str(CAPTURES / "zeek__postgresql__mysql-on-port-5432.pcap")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    code = main(["decode", *argv])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def ndjson(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines]


def test_bundled_sample_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, err = run(capsys)
    assert (code, err) == (0, "")
    rows = ndjson(lines)
    assert rows[0] == {
        "conn": 1,
        "dir": None,
        "ts": 1216281025.136169,
        "kind": "open",
        "client": "192.168.0.254:56162",
        "server": "192.168.0.254:3306",
        "detected_by": "port",
        "from_start": True,
    }
    assert rows[1]["server_version"] == "5.0.54"
    assert rows[2]["user"] == "tfoerste"
    assert rows[-1] == {
        "kind": "summary",
        "capture": "zeek-mysql.pcap",
        "link_type": "ethernet",
        "frames": 57,
        "tcp_segments": 57,
        "other_frames": 0,
        "ip_fragments": 0,
        "bad_frames": 0,
        "truncated_file": False,
        "connections": 1,
        "ignored_connections": 0,
        "records": 38,
        "errors": 0,
    }
    assert len(rows) == 39


def test_bundled_sample_is_the_zeek_capture() -> None:
    sample = Path(__file__).parent.parent / "mywire" / "samples"
    assert (sample / "zeek-mysql.pcap").read_bytes() == (
        CAPTURES / "zeek__mysql__mysql.pcap"
    ).read_bytes()
    assert "BSD-style" in (sample / "zeek-mysql.pcap.md").read_text()


def test_text_format(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = run(capsys, DENY, "--format", "text")
    assert code == 0
    assert lines == [
        "#1     0.000000 · open           192.168.1.3:42418 → 192.168.1.3:3306 "
        "(by port, from its start)",
        "#1     0.000228 ← handshake      server_version=5.5.35-0FUNntu0.12.04.2 "
        "connection_id=12116 auth_plugin=mysql_native_password character_set=8",
        "#1     0.002717 → login          user=user0 auth_plugin=mysql_native_password "
        "auth_response_bytes=0",
        "#1     0.002835 ← err            response_to=login code=1045 sqlstate=28000 "
        "message=Access denied for user 'user0'@'host123.local' (using passw…",
        '#1     0.002853 · close          how={"c2s": "fin", "s2c": "fin"} bytes c2s=65 s2c=175',
        "arkime__mysql-deny.pcap: 1 MySQL connections, 5 records, 0 errors (10 frames, "
        f"ethernet); backend {_backend.BACKEND}",
    ]


def test_json_format(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = run(capsys, DENY, "--format", "json")
    assert code == 0 and len(lines) == 1
    doc = json.loads(lines[0])
    assert sorted(doc) == ["records", "summary"]
    assert [r["kind"] for r in doc["records"]] == ["open", "handshake", "login", "err", "close"]
    assert doc["records"][3]["code"] == 1045
    assert doc["summary"]["capture"] == "arkime__mysql-deny.pcap"


def test_only_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = run(capsys, AUTH, "--only-errors")
    rows = ndjson(lines)
    assert code == 0
    assert [(r["conn"], r["kind"], r["code"]) for r in rows[:-1]] == [
        (1, "err", 1130),
        (2, "err", 1130),
        (3, "err", 1130),
    ] + [(n, "err", 1045) for n in range(4, 13)]
    assert rows[-1]["kind"] == "summary"


def test_one_connection(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = run(capsys, AUTH, "--conn", "13", "--format", "text")
    assert code == 0
    assert [line.split()[3] for line in lines[:-1]] == [
        "open",
        "handshake",
        "login",
        "ok",
        "command",
        "resultset",
        "command",
        "close",
    ]
    assert all(line.startswith("#13 ") for line in lines[:-1])


@pytest.mark.parametrize(
    ("argv", "detected"),
    [
        (["--port", "5432"], ["port"]),
        ([], ["greeting"]),
        (["--no-sniff"], []),
        (["--port", "3306", "--port", "5432", "--no-sniff"], ["port"]),
    ],
)
def test_ports_and_sniffing(
    capsys: pytest.CaptureFixture[str], argv: list[str], detected: list[str]
) -> None:
    code, lines, _ = run(capsys, PG_PORT, *argv)
    rows = ndjson(lines)
    assert code == 0
    assert [r["detected_by"] for r in rows if r["kind"] == "open"] == detected


def test_max_rows(capsys: pytest.CaptureFixture[str]) -> None:
    name = str(CAPTURES / "deepflow__partial-packet-compressed.pcap")
    code, lines, _ = run(capsys, name, "--max-rows", "1")
    (first, _) = [r for r in ndjson(lines) if r["kind"] == "resultset"]
    assert code == 0
    assert (len(first["rows"]), first["row_count"], first["rows_truncated"]) == (1, 1992, True)


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, lines, err = run(capsys, str(tmp_path / "nope.pcap"))
    assert (code, lines) == (2, [])
    assert err.startswith("mywire: error: cannot read ")
    assert err.endswith("nope.pcap: No such file or directory\n")


def test_not_a_capture(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    code, lines, err = run(capsys, str(path))
    assert (code, lines) == (2, [])
    assert err.startswith("mywire: error: notes.txt: not a pcap or pcapng file (")


def test_undecodable_traffic_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # A connection to port 3306, captured from its SYN, whose server greets with
    # protocol version 11: MySQL by its port, refused by the greeting parser.
    path = tmp_path / "bad.pcap"
    client, server = b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02"
    segments = [
        (client, server, 40000, 3306, 100, 0, dpkt.tcp.TH_SYN, b""),
        (server, client, 3306, 40000, 500, 101, dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK, b""),
        (server, client, 3306, 40000, 501, 101, dpkt.tcp.TH_ACK, b"\x02\x00\x00\x00\x0b!"),
    ]
    with open(path, "wb") as f:
        w = dpkt.pcap.Writer(f)
        for i, (src, dst, sport, dport, seq, ack, flags, data) in enumerate(segments):
            tcp = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags, data=data)
            ip = dpkt.ip.IP(src=src, dst=dst, p=6, data=tcp)
            frame = dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6, data=ip)
            w.writepkt(bytes(frame), ts=5.0 + i)
    code, lines, _ = run(capsys, str(path))
    rows = ndjson(lines)
    assert code == 1
    assert [r["kind"] for r in rows] == ["open", "error", "close", "summary"]
    assert (rows[1]["dir"], rows[1]["error"], rows[1]["message"]) == (
        "s2c",
        "MalformedPacket",
        "malformed packet: protocol version 11 at offset 0",
    )
    assert rows[-1]["errors"] == 1


def test_progress_bar_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, DENY, "--progress")
    assert code == 0
    assert "decoding" in err and "100%" in err
    code, _, err = run(capsys, DENY)
    assert (code, err) == (0, "")  # small file, and stderr is not a terminal here


def test_frames_still_works(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frames"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("← seq=0        100 B  handshake")
    assert out[-1].startswith("mariadb-session.mwtrace: ")


def test_as_a_module_on_a_fresh_install() -> None:
    # What the README's first command does: the bundled capture, no server.
    proc = subprocess.run(
        [sys.executable, "-m", "mywire.cli", "decode", "--format", "text"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[5] == (
        "#1     0.001051 ← resultset      1 columns (@@version_comment), 1 rows "
        '[["Gentoo Linux mysql-5.0.54"]]'
    )
    assert lines[-1].startswith("zeek-mysql.pcap: 1 MySQL connections, 38 records, 0 errors")
