"""Record the bundled sample conversation from a real MariaDB server.

Runs PyMySQL through a recording TCP proxy in front of the server named by
MYWIRE_TEST_DSN (default mysql://root@127.0.0.1:3306/test) and writes
mywire/samples/mariadb-session.mwtrace.  Re-run it to refresh the sample:

    python tools/record_sample.py
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

import pymysql

from mywire.trace import CLIENT, MAGIC, SERVER, write_record

OUT = Path(__file__).resolve().parent.parent / "mywire" / "samples" / "mariadb-session.mwtrace"

STATEMENTS = [
    "SELECT VERSION() LIKE '%MariaDB%' AS is_mariadb",
    "CREATE TEMPORARY TABLE t (id INT PRIMARY KEY, name VARCHAR(20), price DECIMAL(8,2), "
    "born DATE, seen DATETIME(3), note TEXT, raw VARBINARY(8))",
    "INSERT INTO t VALUES (1, 'ada', 12.50, '1815-12-10', '2024-05-01 10:11:12.345', '', x'00ff'),"
    " (2, 'grace', NULL, '1906-12-09', NULL, 'ünïcode', NULL), (3, '', 0.00, '0000-00-00', "
    "'2024-01-01 00:00:00', NULL, x'')",
    "SELECT * FROM t ORDER BY id",
    "SELECT seq, seq * seq AS sq FROM seq_1_to_300",
    "SELECT REPEAT('x', 70000) AS big",
    "SELECT * FROM no_such_table",
    "UPDATE t SET price = price + 1 WHERE id < 3",
]


def main() -> None:
    dsn = urlparse(os.environ.get("MYWIRE_TEST_DSN", "mysql://root@127.0.0.1:3306/test"))
    upstream = (dsn.hostname or "127.0.0.1", dsn.port or 3306)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    lock = threading.Lock()
    out = OUT.open("wb")
    out.write(MAGIC)

    def pump(src: socket.socket, dst: socket.socket, direction: int) -> None:
        while data := src.recv(65536):
            with lock:
                write_record(out, direction, data)
            dst.sendall(data)
        dst.shutdown(socket.SHUT_WR)

    def serve() -> None:
        client, _ = listener.accept()
        server = socket.create_connection(upstream)
        threads = [
            threading.Thread(target=pump, args=(client, server, CLIENT)),
            threading.Thread(target=pump, args=(server, client, SERVER)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    proxy = threading.Thread(target=serve)
    proxy.start()
    conn = pymysql.connect(
        host="127.0.0.1",
        port=port,
        user=dsn.username or "root",
        password=dsn.password or "",
        database=(dsn.path or "/test").lstrip("/") or None,
    )
    with conn.cursor() as cur:
        for sql in STATEMENTS:
            try:
                cur.execute(sql)
                cur.fetchall()
            except pymysql.MySQLError as exc:
                print(f"server error (expected in the sample): {exc}")
    conn.close()
    proxy.join()
    out.close()
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
