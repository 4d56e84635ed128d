"""The real, unmodified ``@planetscale/database`` driver (npm, run with node) against
``mywire serve`` on 127.0.0.1, backed by the real MariaDB.

The gateway runs as a subprocess (``python -m mywire.gateway``, what ``mywire serve``
runs); each test runs one scenario of ``tests/gateway_js/driver.mjs`` and checks the
JSON it prints.  node, the npm package (``npm ci`` in ``tests/gateway_js``; done here
when missing and npm is there) and MariaDB are required: without them the tests skip,
and fail under ``CI=true``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers import Dsn, dsn_url, pure_forced, pymysql_connect

JS_DIR = Path(__file__).parent / "gateway_js"
DRIVER = JS_DIR / "driver.mjs"
USER, PASSWORD = "gw_user", "gw-pass@1"

# The gateway subprocess runs on the backend its environment selects; run these once.
pytestmark = [
    pytest.mark.mariadb,
    pytest.mark.parametrize("backend", ["python" if pure_forced() else "c"], indirect=True),
]


def _missing(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def node() -> str:
    """The node binary, with the driver package installed."""
    exe = shutil.which("node")
    if exe is None:
        _missing("node is not installed")
    assert exe is not None
    if not (JS_DIR / "node_modules" / "@planetscale" / "database").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            _missing("@planetscale/database is not installed and npm is missing")
        assert npm is not None
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            _missing(f"npm ci failed: {done.stderr[-2000:]}")
    return exe


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class GatewayProcess:
    """``python -m mywire.gateway`` on a free port; its log lines go to a file."""

    def __init__(self, upstream: str, *extra: str) -> None:
        self.port = free_port()
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"mywire-gw-{self.port}.log"
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mywire.gateway",
                "--upstream",
                upstream,
                "--listen",
                f"127.0.0.1:{self.port}",
                "--user",
                f"{USER}:{PASSWORD}",
                *extra,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited: {self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                time.sleep(0.1)
        raise RuntimeError(f"gateway did not start: {self.log_path.read_text()[-3000:]}")

    def url(self, user: str = USER, password: str = PASSWORD) -> str:
        from urllib.parse import quote

        return f"http://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:{self.port}"

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()

    def log_records(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out


@pytest.fixture(scope="module")
def tables(mariadb_dsn: Dsn) -> Iterator[None]:
    db = pymysql_connect(mariadb_dsn, autocommit=True)
    with db.cursor() as cur:
        for name in ("gw_types", "gw_crud", "gw_tx"):
            cur.execute(f"DROP TABLE IF EXISTS {name}")
        cur.execute(
            """CREATE TABLE gw_types (
                id BIGINT AUTO_INCREMENT PRIMARY KEY,
                i8 TINYINT, u8 TINYINT UNSIGNED, i16 SMALLINT, i24 MEDIUMINT, i32 INT,
                i64 BIGINT, u64 BIGINT UNSIGNED,
                dec1 DECIMAL(20, 4), f32 FLOAT, f64 DOUBLE, bits BIT(12), yr YEAR,
                d DATE, dt DATETIME(3), ts TIMESTAMP(6) NULL, tm TIME,
                ch CHAR(4), vc VARCHAR(32), tx TEXT, bn BINARY(4), vb VARBINARY(8), bl BLOB,
                en ENUM('red', 'green'), st SET('a', 'b', 'c'), js JSON
            ) CHARSET utf8mb4"""
        )
        cur.execute(
            """INSERT INTO gw_types VALUES (
                NULL, -128, 255, -32768, -8388608, -2147483648,
                -9223372036854775808, 18446744073709551615,
                '-12345678.5000', 1.5, 3.141592653589793, b'101000000001', 2024,
                '2024-02-29', '2024-02-29 13:14:15.123', '2024-02-29 13:14:15.654321',
                '-838:59:59',
                'ab', 'héllo ✓', 'long text', x'00ff1020', x'deadbeef', x'00',
                'green', 'a,c', '{"k": [1, 2.5, "ü"], "n": null}'
            )"""
        )
        cur.execute("INSERT INTO gw_types (id) VALUES (NULL)")
        cur.execute("CREATE TABLE gw_crud (id BIGINT AUTO_INCREMENT PRIMARY KEY, v INT, note TEXT)")
        cur.execute("CREATE TABLE gw_tx (id INT AUTO_INCREMENT PRIMARY KEY, v INT) ENGINE=InnoDB")
    try:
        yield
    finally:
        with db.cursor() as cur:
            for name in ("gw_types", "gw_crud", "gw_tx"):
                cur.execute(f"DROP TABLE IF EXISTS {name}")
        db.close()


@pytest.fixture(scope="module")
def gateway(mariadb_dsn: Dsn, tables: None) -> Iterator[GatewayProcess]:
    # ssl_mode=disabled: with "preferred" against a server without TLS, ClientConnection
    # drops the MariaDB extended capabilities (``capabilities &= ~C.CLIENT_SSL`` on an
    # IntFlag clears the upper 32 bits), so JSON columns would come back as BLOB/TEXT.
    upstream = dsn_url(mariadb_dsn, ssl_mode="disabled")
    gw = GatewayProcess(upstream, "--pool-max-size", "8")
    try:
        yield gw
    finally:
        gw.close()


def run_driver(node: str, scenario: str, url: str) -> dict[str, Any]:
    done = subprocess.run(
        [node, str(DRIVER), scenario, url],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=JS_DIR,
    )
    assert done.returncode == 0, f"driver failed: {done.stdout}\n{done.stderr}"
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_all_types_with_the_drivers_casts(node: str, gateway: GatewayProcess) -> None:
    out = run_driver(node, "types", gateway.url())
    assert out["size"] == 2
    types = out["types"]
    assert types == {
        "id": "INT64",
        "i8": "INT8",
        "u8": "UINT8",
        "i16": "INT16",
        "i24": "INT24",
        "i32": "INT32",
        "i64": "INT64",
        "u64": "UINT64",
        "dec1": "DECIMAL",
        "f32": "FLOAT32",
        "f64": "FLOAT64",
        "bits": "BIT",
        "yr": "YEAR",
        "d": "DATE",
        "dt": "DATETIME",
        "ts": "TIMESTAMP",
        "tm": "TIME",
        "ch": "CHAR",
        "vc": "VARCHAR",
        "tx": "TEXT",
        "bn": "BINARY",
        "vb": "VARBINARY",
        "bl": "BLOB",
        "en": "ENUM",
        "st": "SET",
        "js": "JSON",
    }
    row, nulls = out["rows"]
    assert row == {
        "id": "1",
        "i8": -128,
        "u8": 255,
        "i16": -32768,
        "i24": -8388608,
        "i32": -2147483648,
        "i64": "-9223372036854775808",
        "u64": "18446744073709551615",
        "dec1": "-12345678.5000",
        "f32": 1.5,
        "f64": 3.141592653589793,
        "bits": {"hex": "0a01"},
        "yr": 2024,
        "d": "2024-02-29",
        "dt": "2024-02-29 13:14:15.123",
        "ts": "2024-02-29 13:14:15.654321",
        "tm": "-838:59:59",
        "ch": "ab",
        "vc": "héllo ✓",
        "tx": "long text",
        "bn": {"hex": "00ff1020"},
        "vb": {"hex": "deadbeef"},
        "bl": {"hex": "00"},
        "en": "green",
        "st": "a,c",
        "js": {"k": [1, 2.5, "ü"], "n": None},
    }
    assert nulls["id"] == "2"
    assert all(v is None for k, v in nulls.items() if k != "id")


def test_inserts_updates_and_literals(node: str, gateway: GatewayProcess) -> None:
    out = run_driver(node, "crud", gateway.url())
    assert out["insert"]["rowsAffected"] == 1
    first = int(out["insert"]["insertId"])
    assert first >= 1
    assert out["insert2"] == {"rowsAffected": 2, "insertId": str(first + 1)}
    # CLIENT_FOUND_ROWS: an UPDATE that changes nothing still counts the matched row.
    assert out["same"] == {"rowsAffected": 1}
    assert out["update"] == {"rowsAffected": 2}
    # LAST_INSERT_ID() follows the session, whichever pooled connection runs it.
    assert out["lastInsertId"] == {"id": str(first + 1)}
    assert out["row"] == {"id": str(first), "v": 7, "note": 'it\'s a "quote" \\ back\nslash'}
    # The driver sends dates as UTC text; the session runs in UTC.
    assert out["dates"] == {"d": "2024-02-29 13:14:15.123", "b": {"hex": "0001feff"}}
    assert out["noops"] == [0, 0, 0]


def test_transaction_commit_and_rollback(node: str, gateway: GatewayProcess) -> None:
    out = run_driver(node, "transactions", gateway.url())
    before = int(out["before"])
    assert int(out["committed"]) == before + 1  # the transaction saw its own insert
    assert int(out["afterCommit"]) == before + 2
    assert out["rollbackError"] == "boom"
    assert int(out["afterRollback"]) == before + 2
    err = out["sqlErrorInTx"]
    assert err["name"] == "DatabaseError" and err["status"] == 400
    assert "(errno 1054) (sqlstate 42S22)" in err["message"]
    assert int(out["afterSqlError"]) == before + 2


def test_sql_errors_are_database_errors(node: str, gateway: GatewayProcess) -> None:
    out = run_driver(node, "sql_error", gateway.url())
    missing = out["missing"]
    assert missing["isDatabaseError"] and missing["name"] == "DatabaseError"
    assert missing["status"] == 400
    assert missing["message"] == (
        "Table 'test.gw_no_such_table' doesn't exist (errno 1146) (sqlstate 42S02)"
    )
    assert missing["body"]["code"] == "NOT_FOUND"
    assert "(errno 1064) (sqlstate 42000)" in out["syntax"]["message"]
    assert out["syntax"]["body"]["code"] == "INVALID_ARGUMENT"
    assert "(errno 1062) (sqlstate 23000)" in out["duplicate"]["message"]
    assert out["duplicate"]["body"]["code"] == "ALREADY_EXISTS"
    assert out["after"] == [{"ok": 1}]


def test_wrong_credentials_give_401(node: str, gateway: GatewayProcess) -> None:
    out = run_driver(node, "bad_auth", gateway.url())
    err = out["error"]
    assert err["name"] == "DatabaseError" and err["isDatabaseError"]
    assert err["status"] == 401
    assert err["message"] == "invalid auth credentials"
    assert err["body"] == {"code": "UNAUTHENTICATED", "message": "invalid auth credentials"}


def test_fifty_concurrent_executes(node: str, gateway: GatewayProcess) -> None:
    out = run_driver(node, "concurrent", gateway.url())
    assert out["fulfilled"] == 50
    assert out["values"] == list(range(50))


def test_session_state_pins_a_connection(node: str, gateway: GatewayProcess) -> None:
    out = run_driver(node, "session_state", gateway.url())
    assert out["mine"] == {"v": "42"}
    assert out["other"] == {"v": None}


def test_logs_hold_no_credentials_or_sql(gateway: GatewayProcess) -> None:
    text = gateway.log_path.read_text()
    assert PASSWORD not in text
    assert "gw_no_such_table" not in text and "SLEEP" not in text
    requests = [r for r in gateway.log_records() if r.get("event") == "request"]
    assert requests and all("duration_ms" in r and "status" in r for r in requests)
