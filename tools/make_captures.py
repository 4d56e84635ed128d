"""Record MySQL conversations with the real MariaDB into pcap files, with expected results.

Usage::

    python tools/make_captures.py OUTDIR [--only NAME ...] [--list]

Each scenario runs a real client library against the server at ``MYWIRE_TEST_DSN``
(default ``mysql://root@127.0.0.1:3306/test``) while ``tcpdump`` records the loopback
interface, and writes ``NAME.pcap`` and ``NAME.expected.json``: for each statement, what
the library returned, in the JSON transcoder's value mapping (the table in the README),
so a test can compare it with what ``mywire decode`` reads from the capture.  PyMySQL
speaks the text protocol; MySQL Connector/Python (pure Python, ``use_pure=True``) the
binary protocol, compression, COM_STMT_SEND_LONG_DATA/RESET/CLOSE, COM_CHANGE_USER and
COM_RESET_CONNECTION.  Nothing is committed: the tests run this into a temporary
directory (the big captures are tens of MiB).

Needs root (packet capture), ``tcpdump`` (Debian package ``tcpdump``), PyMySQL and
mysql-connector-python (the ``dev`` extra).

``NAME.expected.json``::

    {"scenario": NAME, "results": [R, ...]}

with ``R`` one of ``{"statement": S, "fields": [names], "rows": [[v, ...], ...]}`` (a
resultset), ``{"statement": S, "affected_rows": N}`` (an OK) or ``{"statement": S,
"error": CODE}`` (an ERR), in the order the server answered.  A login that fails is
``{"statement": "login", "error": CODE}``.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import decimal
import io
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pymysql

__all__ = ["SCENARIOS", "Recorder", "main", "record"]

DEFAULT_DSN = "mysql://root@127.0.0.1:3306/test"

# MySQL type codes needed to map values (FieldType in mywire.constants).
_T_FLOAT, _T_BIT = 4, 16
_TEMPORAL = {7: "datetime", 10: "date", 11: "time", 12: "datetime", 13: "year", 14: "date"}

Result = dict[str, Any]
Fields = list[tuple[str, int, int]]  # (name, type, decimals)


# ------------------------------------------------------------------- value mapping


def _float32_text(value: float) -> float:
    """The shortest decimal that reads back as the same float32 (how the transcoder
    writes binary FLOAT values)."""
    packed = struct.pack("<f", value)
    for digits in range(1, 10):
        text = f"{value:.{digits}g}"
        if struct.pack("<f", float(text)) == packed:
            return float(text)
    return value


def _fraction(us: int, decimals: int) -> str:
    if not 0 < decimals <= 6:
        return ""
    return "." + f"{us:06d}"[:decimals]


def to_json(value: Any, ftype: int, decimals: int, *, binary: bool) -> Any:
    """A value a client library returned, as the JSON transcoder writes it."""
    if value is None:
        return None
    if ftype == _T_BIT:
        if isinstance(value, (bytes, bytearray)):
            return int.from_bytes(value, "big")
        return int(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        return _float32_text(value) if binary and ftype == _T_FLOAT else value
    if isinstance(value, int):
        return value
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S") + _fraction(value.microsecond, decimals)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        us = abs(value) // dt.timedelta(microseconds=1)
        secs, frac = divmod(us, 1_000_000)
        sign = "-" if value < dt.timedelta(0) else ""
        text = f"{sign}{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"
        return text + _fraction(frac, decimals)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, set):
        raise TypeError("SET values come back as Python sets: order lost; not supported")
    return value


def rows_json(rows: Sequence[Sequence[Any]], fields: Fields, *, binary: bool) -> list[list[Any]]:
    return [
        [to_json(v, t, d, binary=binary) for v, (_, t, d) in zip(row, fields, strict=True)]
        for row in rows
    ]


# ----------------------------------------------------------------------- recording


def parse_dsn(dsn: str) -> dict[str, Any]:
    u = urlsplit(dsn)
    return {
        "host": u.hostname or "127.0.0.1",
        "port": u.port or 3306,
        "user": unquote(u.username or "root"),
        "password": unquote(u.password or ""),
        "database": u.path.lstrip("/") or "test",
    }


class Recorder:
    """A scenario's client side: runs statements with the libraries and keeps what they
    returned."""

    def __init__(self, dsn: dict[str, Any]) -> None:
        self.dsn = dsn
        self.results: list[Result] = []

    def pymysql(self, **options: Any) -> Any:
        args = {k: self.dsn[k] for k in ("host", "port", "user", "password", "database")}
        args.update(options)
        return pymysql.connect(autocommit=True, **args)

    def connector(self, **options: Any) -> Any:
        import mysql.connector

        args = {k: self.dsn[k] for k in ("host", "port", "user", "password", "database")}
        args.update(use_pure=True, autocommit=True, ssl_disabled=True)
        args.update(options)
        return mysql.connector.connect(**args)

    def text(self, conn: Any, sql: str) -> Fields | None:
        """Run ``sql`` with PyMySQL and keep each result (several with multi-statements)."""
        cur = conn.cursor()
        try:
            cur.execute(sql)
        except pymysql.err.MySQLError as exc:
            self.results.append({"statement": sql, "error": exc.args[0]})
            return None
        fields: Fields | None = None
        while True:
            result = cur._result  # the library's own column metadata (types, decimals)
            if result is not None and getattr(result, "fields", None):
                fields = [(f.name, f.type_code, f.scale) for f in result.fields]
                self.results.append(
                    {
                        "statement": sql,
                        "fields": [f[0] for f in fields],
                        "rows": rows_json(cur.fetchall(), fields, binary=False),
                    }
                )
            else:
                self.results.append({"statement": sql, "affected_rows": cur.rowcount})
            if not cur.nextset():
                break
        cur.close()
        return fields

    def binary(self, conn: Any, sql: str, params: Sequence[Any], fields: Fields) -> None:
        """Run ``sql`` as a prepared statement with MySQL Connector/Python."""
        cur = conn.cursor(prepared=True)
        cur.execute(sql, tuple(params))
        rows = cur.fetchall()
        self.results.append(
            {
                "statement": sql,
                "fields": [f[0] for f in fields],
                "rows": rows_json(rows, fields, binary=True),
            }
        )
        cur.close()


def _every_type(r: Recorder) -> None:
    conn = r.pymysql()
    setup = [
        "DROP TABLE IF EXISTS mw_types",
        "CREATE TABLE mw_types (id INT PRIMARY KEY, ti TINYINT, tu TINYINT UNSIGNED, "
        "si SMALLINT, mi MEDIUMINT, bi BIGINT, bu BIGINT UNSIGNED, fl FLOAT, db DOUBLE, "
        "de DECIMAL(12,2), yr YEAR, da DATE, tm TIME(3), dt DATETIME(6), ts TIMESTAMP NULL, "
        "ch CHAR(3), vc VARCHAR(20), tx TEXT, bn BINARY(2), vb VARBINARY(8), bl BLOB, "
        "en ENUM('a','b'), bt BIT(12), js JSON, ge POINT)",
        "INSERT INTO mw_types VALUES "
        "(1, -128, 255, -32768, -8388608, -9223372036854775808, 18446744073709551615, "
        "1.1, 2.5e-300, -12.50, 2024, '2024-02-29', '-838:59:59.000', "
        "'2024-05-01 10:11:12.123456', '2024-05-01 10:11:12', 'abc', 'ünïcode ☃', "
        "'text\\nline', x'00ff', x'', x'deadbeef', 'b', b'101010101010', '{\"k\": [1, 2]}', "
        "POINT(1, 2)),"
        "(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
        "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),"
        "(3, 127, 0, 32767, 8388607, 9223372036854775807, 0, -3.5, 1e300, 9999999999.99, "
        "1901, '1000-01-01', '12:00:00.5', '9999-12-31 23:59:59.999999', NULL, '', '', '', "
        "x'0000', x'00', x'', 'a', b'0', '[]', NULL)",
    ]
    for sql in setup:
        r.text(conn, sql)
    select = "SELECT * FROM mw_types ORDER BY id"
    fields = r.text(conn, select)
    assert fields is not None
    conn.close()
    # Connector/Python's pure binary-row parser reads YEAR (a 2-byte integer there) as
    # a length-prefixed string and loses its place; leave YEAR out of the binary query.
    binary_fields = [f for f in fields if f[0] != "yr"]
    columns = ", ".join(f[0] for f in binary_fields)
    cnx = r.connector()
    r.binary(cnx, f"SELECT {columns} FROM mw_types WHERE id > ? ORDER BY id", [0], binary_fields)
    cnx.close()
    # It also applies the sign of a negative binary TIME to the days alone (-838:59:59
    # comes back as -34 days + 22:59:59): take TIME from PyMySQL's text result instead.
    text_rows, binary_rows = r.results[-2]["rows"], r.results[-1]["rows"]
    tm_text = [f[0] for f in fields].index("tm")
    tm_binary = [f[0] for f in binary_fields].index("tm")
    for text_row, binary_row in zip(text_rows, binary_rows, strict=True):
        binary_row[tm_binary] = text_row[tm_text]


def _errors_and_results(r: Recorder) -> None:
    conn = r.pymysql(client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS)
    for sql in [
        "DROP PROCEDURE IF EXISTS mw_proc",
        "CREATE PROCEDURE mw_proc() BEGIN SELECT 1 AS one; SELECT 'two' AS two, 2 AS n; END",
        "SELECT 1 AS a; SELECT 'b' AS b; DO 3",
        "CALL mw_proc()",
        "SELECT * FROM mw_no_such_table",
        "SELEKT 1",
        "DROP TABLE IF EXISTS mw_dup",
        "CREATE TABLE mw_dup (id INT PRIMARY KEY)",
        "INSERT INTO mw_dup VALUES (1), (2)",
        "INSERT INTO mw_dup VALUES (1)",
        "SELECT seq, seq * seq AS sq FROM seq_1_to_3000",
        "SELECT REPEAT('x', 200000) AS big",
    ]:
        r.text(conn, sql)
    conn.close()


def _failed_logins(r: Recorder) -> None:
    for options in ({"password": "definitely-wrong"}, {"database": "mw_no_such_db"}):
        try:
            r.pymysql(**options).close()
        except pymysql.err.MySQLError as exc:
            r.results.append({"statement": "login", "error": exc.args[0]})


def _compression(r: Recorder) -> None:
    cnx = r.connector(compress=True)
    cur = cnx.cursor()
    for sql in ["SELECT seq, REPEAT('ab', seq) AS s FROM seq_1_to_200", "SELECT 1 AS one"]:
        cur.execute(sql)
        rows = cur.fetchall()
        names = [d[0] for d in cur.description]
        fields = [(n, d[1], 0) for n, d in zip(names, cur.description, strict=True)]
        r.results.append(
            {"statement": sql, "fields": names, "rows": rows_json(rows, fields, binary=False)}
        )
    cur.close()
    cnx.close()


def _prepared_lifecycle(r: Recorder) -> None:
    cnx = r.connector()
    cnx.cmd_query("DROP TABLE IF EXISTS mw_long")
    cnx.cmd_query("CREATE TABLE mw_long (id INT, body LONGBLOB)")
    r.results += [
        {"statement": "DROP TABLE IF EXISTS mw_long", "affected_rows": 0},
        {"statement": "CREATE TABLE mw_long (id INT, body LONGBLOB)", "affected_rows": 0},
    ]
    insert = "INSERT INTO mw_long VALUES (?, ?)"
    stmt = cnx.cmd_stmt_prepare(insert.encode())
    sid = stmt["statement_id"]
    cnx.cmd_stmt_send_long_data(sid, 1, io.BytesIO(b"long " * 20000))
    cnx.cmd_stmt_execute(sid, (7, b""), stmt["parameters"])
    r.results.append({"statement": insert, "affected_rows": 1})
    cnx.cmd_stmt_reset(sid)
    r.results.append({"statement": "COM_STMT_RESET", "affected_rows": 0})
    cnx.cmd_stmt_close(sid)
    cur = cnx.cursor(prepared=True)
    cur.execute("SELECT id, LENGTH(body) AS n FROM mw_long WHERE id = ?", (7,))
    r.results.append(
        {
            "statement": "SELECT id, LENGTH(body) AS n FROM mw_long WHERE id = ?",
            "fields": ["id", "n"],
            "rows": [list(row) for row in cur.fetchall()],
        }
    )
    cur.close()
    cnx.close()


def _change_user_and_reset(r: Recorder) -> None:
    cnx = r.connector()
    cnx.cmd_change_user(username=r.dsn["user"], password=r.dsn["password"], database="test")
    r.results.append({"statement": "COM_CHANGE_USER", "affected_rows": 0})
    cnx.cmd_reset_connection()
    r.results.append({"statement": "COM_RESET_CONNECTION", "affected_rows": 0})
    cnx.close()


def _big_rows(r: Recorder) -> None:
    conn = r.pymysql()
    cur = conn.cursor()
    cur.execute("SELECT @@global.max_allowed_packet")
    (old,) = cur.fetchone()
    cur.execute("SET GLOBAL max_allowed_packet = 64 * 1024 * 1024")
    conn.close()
    try:
        conn = r.pymysql(max_allowed_packet=64 * 1024 * 1024)
        cur = conn.cursor()
        # A row payload of exactly 0xFFFFFF bytes: a 4-byte length prefix (0xFD + 3
        # bytes) and 0xFFFFFB bytes of data, so an empty packet follows it.
        for n in (0xFFFFFB, 20_000_000):
            sql = f"SELECT REPEAT('y', {n}) AS big"
            cur.execute(sql)
            (value,) = cur.fetchone()
            r.results.append({"statement": sql, "length": len(value)})
        # A query of more than 16 MiB: the client splits it into packets.
        sql = "SELECT LENGTH('" + "q" * 17_000_000 + "') AS n"
        cur.execute(sql)
        r.results.append({"statement_prefix": "SELECT LENGTH('qqqq", "rows": [[17_000_000]]})
        conn.close()
    finally:
        conn = r.pymysql()
        conn.cursor().execute(f"SET GLOBAL max_allowed_packet = {int(old)}")
        conn.close()


SCENARIOS: dict[str, Callable[[Recorder], None]] = {
    "mariadb-every-type": _every_type,
    "mariadb-errors-and-results": _errors_and_results,
    "mariadb-failed-logins": _failed_logins,
    "mariadb-compression": _compression,
    "mariadb-prepared-lifecycle": _prepared_lifecycle,
    "mariadb-change-user-reset": _change_user_and_reset,
    "mariadb-big-rows": _big_rows,
}


class Forwarder:
    """A TCP forwarder on 127.0.0.1 (an ephemeral port) to the server: the capture
    filters on its port, so it holds this scenario's connections and nobody else's
    (other test runs may talk to the same server meanwhile)."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            t = threading.Thread(target=self._serve, args=(client,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, client: socket.socket) -> None:
        with client, socket.create_connection(self.upstream) as server:
            back = threading.Thread(target=self._pump, args=(server, client))
            back.start()
            self._pump(client, server)
            back.join()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(1 << 20):
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        self.listener.close()
        for t in self._threads:
            t.join(timeout=10)


def record(name: str, outdir: Path, dsn: str = DEFAULT_DSN) -> tuple[Path, Path]:
    """Run scenario ``name`` under tcpdump; write NAME.pcap and NAME.expected.json.

    The client talks to the server through a :class:`Forwarder`, whose port (in
    ``"port"`` of the expected file) is the server port in the capture.

    Raises:
        RuntimeError: tcpdump is missing or did not start.
    """
    tcpdump = shutil.which("tcpdump")
    if tcpdump is None:
        raise RuntimeError("tcpdump is not installed (apt-get install -y tcpdump)")
    target = parse_dsn(dsn)
    outdir.mkdir(parents=True, exist_ok=True)
    pcap = outdir / f"{name}.pcap"
    forwarder = Forwarder(target["host"], target["port"])
    proc = subprocess.Popen(
        [tcpdump, "-i", "lo", "-w", str(pcap), "-U", "--immediate-mode", "-s", "0"]
        + ["-B", str(256 * 1024)]  # KiB of kernel buffer: big rows come fast on lo
        + ["tcp", "port", str(forwarder.port)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline().decode(errors="replace")
        if "listening" not in line:
            raise RuntimeError(f"tcpdump did not start: {line.strip()}")
        recorder = Recorder({**target, "host": "127.0.0.1", "port": forwarder.port})
        SCENARIOS[name](recorder)
        forwarder.close()
        time.sleep(0.2)  # let the last FIN/ACKs reach the capture
    finally:
        forwarder.close()
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    dropped = re.search(rb"(\d+) packets? dropped by kernel", err or b"")
    if dropped is None or int(dropped.group(1)):
        raise RuntimeError(f"tcpdump lost packets: {(err or b'').decode(errors='replace')}")
    expected = outdir / f"{name}.expected.json"
    doc = {"scenario": name, "port": forwarder.port, "results": recorder.results}
    expected.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
    return pcap, expected


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", nargs="?", type=Path, default=Path("captures"))
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS), metavar="NAME")
    parser.add_argument("--list", action="store_true", help="list the scenarios")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(SCENARIOS))
        return 0
    dsn = os.environ.get("MYWIRE_TEST_DSN", DEFAULT_DSN)
    for name in args.only or SCENARIOS:
        pcap, _ = record(name, args.outdir, dsn)
        print(f"{pcap} ({pcap.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
