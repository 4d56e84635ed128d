"""Peer comparison: the same resultset, over a real socket, through every Python driver.

A mywire TestServer (in a separate process, so it does not share the GIL with the
drivers) answers ``SELECT rows`` with the 100,000-row, 10-column text resultset of
``bench_rows.py``; each driver connects with mysql_native_password, runs the query and
fetches every row, ``--rounds`` times.  Every driver reads the same bytes and must return
the same Python values (checked: the ``correct`` column).

    .venv/bin/python bench/peers.py [--rows N] [--rounds R] [--json PATH]

Drivers that are not installed (or whose C extension does not load) are listed as
skipped.  mywire's pure backend runs in a subprocess with MYWIRE_PURE=1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_rows  # noqa: E402

USER, PASSWORD = "bench", "bench-pw"
SQL = "SELECT rows"


def _serve(port: int, nrows: int, ready: Any) -> None:
    from mywire.constants import Capability
    from mywire.packets.resultset import build_column_definition
    from mywire.testing import TestServer

    bench_rows.NROWS = nrows
    payloads, _ = bench_rows._generate()
    columns = [
        build_column_definition(c, Capability.CLIENT_PROTOCOL_41) for c in bench_rows.COLUMNS
    ]

    def handler(sql: str) -> Any:
        if sql.strip().upper() == SQL.upper():
            return columns, payloads
        from mywire.events import Ok

        return Ok()

    async def main() -> None:
        server = TestServer(
            {USER: PASSWORD}, handler=handler, port=port, default_plugin="mysql_native_password"
        )
        async with server:
            ready.set()
            await asyncio.Event().wait()

    asyncio.run(main())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fetch_pymysql(port: int) -> list[tuple[object, ...]]:
    import pymysql

    conn = pymysql.connect(host="127.0.0.1", port=port, user=USER, password=PASSWORD)
    try:
        with conn.cursor() as cur:
            cur.execute(SQL)
            return list(cur.fetchall())
    finally:
        conn.close()


def _fetch_mysqlclient(port: int) -> list[tuple[object, ...]]:
    import MySQLdb

    conn = MySQLdb.connect(host="127.0.0.1", port=port, user=USER, passwd=PASSWORD)
    try:
        cur = conn.cursor()
        cur.execute(SQL)
        return list(cur.fetchall())
    finally:
        conn.close()


def _fetch_connector(port: int, pure: bool) -> list[tuple[object, ...]]:
    import mysql.connector

    conn = mysql.connector.connect(
        host="127.0.0.1", port=port, user=USER, password=PASSWORD, use_pure=pure
    )
    try:
        cur = conn.cursor()
        cur.execute(SQL)
        return list(cur.fetchall())
    finally:
        conn.close()


def _fetch_asyncmy(port: int) -> list[tuple[object, ...]]:
    import asyncmy

    async def go() -> list[tuple[object, ...]]:
        conn = await asyncmy.connect(host="127.0.0.1", port=port, user=USER, password=PASSWORD)
        try:
            async with conn.cursor() as cur:
                await cur.execute(SQL)
                return list(await cur.fetchall())
        finally:
            conn.close()

    return asyncio.run(go())


def _fetch_mywire(port: int) -> list[tuple[object, ...]]:
    from mywire import aio

    async def go() -> list[tuple[object, ...]]:
        async with await aio.connect(
            host="127.0.0.1", port=port, user=USER, password=PASSWORD, ssl_mode="disabled"
        ) as client:
            return (await client.query(SQL)).rows()

    return asyncio.run(go())


def _time(
    fetch: Callable[[int], list[tuple[object, ...]]],
    port: int,
    rounds: int,
    expected: list[tuple[object, ...]],
) -> dict[str, Any]:
    times = []
    correct = True
    for _ in range(rounds):
        t0 = time.perf_counter()
        rows = fetch(port)
        times.append(time.perf_counter() - t0)
        correct = correct and [tuple(r) for r in rows] == expected
    return {"median_ms": statistics.median(times) * 1000, "correct": correct}


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


DRIVERS: list[tuple[str, str, Callable[[int], list[tuple[object, ...]]]]] = [
    ("mywire (C)", "mywire", _fetch_mywire),
    ("PyMySQL", "PyMySQL", _fetch_pymysql),
    ("mysqlclient", "mysqlclient", _fetch_mysqlclient),
    (
        "mysql-connector-python (C ext)",
        "mysql-connector-python",
        lambda p: _fetch_connector(p, False),
    ),
    (
        "mysql-connector-python (pure)",
        "mysql-connector-python",
        lambda p: _fetch_connector(p, True),
    ),
    ("asyncmy", "asyncmy", _fetch_asyncmy),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--only", help="run one driver by label (used for the pure subprocess)")
    ap.add_argument("--port", type=int)
    args = ap.parse_args()
    bench_rows.NROWS = args.rows
    _, expected = bench_rows._generate()

    if args.only:
        fetch = {label: f for label, _, f in DRIVERS}[args.only]
        print(json.dumps(_time(fetch, args.port, args.rounds, expected)))
        return 0

    port = _free_port()
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=_serve, args=(port, args.rows, ready), daemon=True)
    server.start()
    if not ready.wait(60):
        raise SystemExit("the test server did not start")
    results: list[dict[str, Any]] = []
    try:
        for label, dist, fetch in DRIVERS:
            row: dict[str, Any] = {"driver": label, "version": _version(dist)}
            try:
                row.update(_time(fetch, port, args.rounds, expected))
            except Exception as exc:  # a driver that is missing or cannot load
                row["skipped"] = f"{type(exc).__name__}: {exc}"[:120]
            results.append(row)
        env = dict(os.environ, MYWIRE_PURE="1")
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--only",
                "mywire (C)",
                "--port",
                str(port),
                "--rows",
                str(args.rows),
                "--rounds",
                str(args.rounds),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        pure = {"driver": "mywire (pure)", "version": _version("mywire")}
        pure.update(json.loads(out.stdout.strip().splitlines()[-1]))
        results.insert(1, pure)
    finally:
        server.terminate()

    base = results[0].get("median_ms")
    print(f"{args.rows:,} rows x 10 columns, {args.rounds} rounds, Python {sys.version.split()[0]}")
    print("| driver | version | median (ms) | vs mywire (C) | correct |")
    print("|---|---|---:|---:|---|")
    for r in results:
        if "skipped" in r:
            print(f"| {r['driver']} | {r['version']} | skipped: {r['skipped']} | | |")
            continue
        ratio = r["median_ms"] / base if base else float("nan")
        cells = [r["driver"], r["version"], f"{r['median_ms']:.0f}", f"{ratio:.2f}×"]
        print("| " + " | ".join([*cells, str(r["correct"])]) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
