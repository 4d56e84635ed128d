"""Load test: ``mywire serve`` against a baseline gateway built the usual way.

    .venv/bin/python bench/gateway_load.py [--dsn mysql://root@127.0.0.1:3306/test]
        [--duration 5] [--concurrency 16] [--rounds 3] [--workloads one_row,rows_10k]

Both gateways serve the same psdb Execute API on 127.0.0.1, each in its own process
(uvicorn, one worker), in front of the same MariaDB:

* **mywire**: ``python -m mywire.gateway`` (what ``mywire serve`` runs): resultset bytes
  transcoded straight to the psdb document in C, streamed.
* **baseline**: Starlette + asyncmy (pool) + orjson, the way such a gateway is usually
  written: the driver decodes each value to a Python object, the gateway turns each back
  into its text bytes, base64-encodes the row and ``orjson.dumps`` the whole document.

A third process generates the load: ``--concurrency`` workers (httpx, keep-alive) send
``Execute`` requests back to back for ``--duration`` seconds after a warm-up, and record
each request's latency.  Before the load, one response of each workload is fetched from
both gateways and their decoded rows compared (``correct``).  The table printed at the
end has requests/s, p50 and p99 latency, errors and response size per workload and
gateway.  Everything (gateways, load, MariaDB) shares this machine's cores, so compare
the two columns of one run rather than absolute numbers across machines.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
USER, PASSWORD = "bench", "bench-pw"
EXECUTE = "/psdb.v1alpha1.Database/Execute"
TABLE = "bench_gw"
WORKLOADS = {
    "one_row": f"SELECT * FROM {TABLE} WHERE id = 4242",
    "rows_10k": f"SELECT * FROM {TABLE}",
}


# ---------------------------------------------------------------------- the baseline


_INTS = {1: "INT8", 2: "INT16", 9: "INT24", 3: "INT32", 8: "INT64"}
_FIXED = {
    13: "YEAR",
    0: "DECIMAL",
    246: "DECIMAL",
    4: "FLOAT32",
    5: "FLOAT64",
    7: "TIMESTAMP",
    10: "DATE",
    11: "TIME",
    12: "DATETIME",
    16: "BIT",
    245: "JSON",
    255: "GEOMETRY",
    6: "NULL_TYPE",
}
_TEXT = {
    249: ("TEXT", "BLOB"),
    250: ("TEXT", "BLOB"),
    251: ("TEXT", "BLOB"),
    252: ("TEXT", "BLOB"),
    15: ("VARCHAR", "VARBINARY"),
    253: ("VARCHAR", "VARBINARY"),
    254: ("CHAR", "BINARY"),
}


def _vitess_type(type_code: int, flags: int) -> str:
    if type_code in _INTS:
        name = _INTS[type_code]
        return "U" + name if flags & 32 else name
    if type_code in _FIXED:
        return _FIXED[type_code]
    if type_code in _TEXT:
        text, binary = _TEXT[type_code]
        if flags & 128:
            return binary
        if type_code == 254 and flags & 256:
            return "ENUM"
        if type_code == 254 and flags & 2048:
            return "SET"
        return text
    return "VARBINARY"


def _text(value: Any) -> bytes:
    """A Python value back to MySQL's text-protocol bytes."""
    import datetime
    import decimal

    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bool):
        return b"1" if value else b"0"
    if isinstance(value, (int, decimal.Decimal)):
        return str(value).encode()
    if isinstance(value, float):
        text = repr(value)  # MySQL writes integral doubles without ".0"
        return (text[:-2] if text.endswith(".0") else text).encode()
    if isinstance(value, datetime.timedelta):
        seconds = int(value.total_seconds())
        sign = "-" if seconds < 0 else ""
        seconds = abs(seconds)
        return f"{sign}{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}".encode()
    return str(value).encode()  # date, datetime


def baseline_app(dsn: str) -> Any:
    """Starlette + asyncmy + orjson: the psdb Execute endpoint, the usual way."""
    import contextlib
    from urllib.parse import unquote, urlparse

    import asyncmy  # type: ignore[import-not-found, unused-ignore]
    import orjson
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    u = urlparse(dsn)
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        state["pool"] = await asyncmy.create_pool(
            host=u.hostname or "127.0.0.1",
            port=u.port or 3306,
            user=unquote(u.username or "root"),
            password=unquote(u.password or ""),
            db=u.path.lstrip("/") or None,
            minsize=1,
            maxsize=10,
            autocommit=True,
            charset="utf8mb4",
        )
        yield
        state["pool"].close()
        await state["pool"].wait_closed()

    async def execute(request: Request) -> Response:
        if request.headers.get("authorization") != expected:
            body = {"code": "unauthenticated", "message": "invalid auth credentials"}
            return Response(orjson.dumps(body), 401, media_type="application/json")
        req = orjson.loads(await request.body())
        started = time.perf_counter()
        async with state["pool"].acquire() as conn:
            async with conn.cursor() as cur:
                try:
                    await cur.execute(req["query"])
                except Exception as exc:  # a SQL error: 200 with error, as psdb does
                    code, message = (exc.args + (0, ""))[:2]
                    error = {"message": f"{message} (errno {code})", "code": "UNKNOWN"}
                    return Response(orjson.dumps({"error": error}), media_type="application/json")
                data = await cur.fetchall()
                result_meta = cur._result
        result: dict[str, Any] = {}
        if result_meta.fields:
            fields = []
            for f in result_meta.fields:
                field = {
                    "name": f.name,
                    "type": _vitess_type(f.type_code, f.flags),
                    "table": f.table_name,
                    "orgTable": f.org_table,
                    "orgName": f.org_name,
                    "columnLength": f.length,
                    "charset": f.charsetnr,
                    "decimals": f.scale,
                    "flags": f.flags,
                }
                fields.append({k: v for k, v in field.items() if v})
            rows = []
            for row in data:
                lengths = []
                values = []
                for value in row:
                    if value is None:
                        lengths.append("-1")
                    else:
                        raw = _text(value)
                        lengths.append(str(len(raw)))
                        values.append(raw)
                rows.append(
                    {"lengths": lengths, "values": base64.b64encode(b"".join(values)).decode()}
                )
            result["fields"] = fields
            result["rows"] = rows
        if result_meta.affected_rows and not result_meta.fields:
            result["rowsAffected"] = str(result_meta.affected_rows)
        if result_meta.insert_id:
            result["insertId"] = str(result_meta.insert_id)
        doc = {"session": {}, "result": result, "timing": time.perf_counter() - started}
        return Response(orjson.dumps(doc), media_type="application/json")

    return Starlette(routes=[Route(EXECUTE, execute, methods=["POST"])], lifespan=lifespan)


# ---------------------------------------------------------------------- the load


async def _load(url: str, sql: str, duration: float, concurrency: int) -> dict[str, Any]:
    import httpx

    body = json.dumps({"query": sql, "session": None}).encode()
    headers = {"content-type": "application/json"}
    latencies: list[float] = []
    errors = 0
    size = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=url, auth=(USER, PASSWORD), limits=limits, timeout=60
    ) as client:

        async def worker(until: float, record: bool) -> None:
            nonlocal errors, size
            while time.perf_counter() < until:
                t0 = time.perf_counter()
                try:
                    r = await client.post(EXECUTE, content=body, headers=headers)
                except httpx.HTTPError:  # counted, not fatal: the run goes on
                    if record:
                        errors += 1
                    continue
                elapsed = time.perf_counter() - t0
                if not record:
                    continue
                if r.status_code != 200 or b'"error"' in r.content[-300:]:
                    errors += 1
                latencies.append(elapsed)
                size = len(r.content)

        warm = time.perf_counter() + min(1.0, duration / 5)
        await asyncio.gather(*[worker(warm, False) for _ in range(concurrency)])
        start = time.perf_counter()
        await asyncio.gather(*[worker(start + duration, True) for _ in range(concurrency)])
        wall = time.perf_counter() - start
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / wall,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "errors": errors,
        "bytes": size,
    }


def _load_process(url: str, sql: str, duration: float, concurrency: int) -> dict[str, Any]:
    """One load run in its own process (the load generator must not share the event
    loop, or the interpreter, with anything it measures)."""
    args = ["--load", url, "--sql", sql, "--duration", str(duration)]
    args += ["--concurrency", str(concurrency)]
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"load run failed: {done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _decoded_rows(doc: dict[str, Any]) -> list[list[bytes | None]]:
    out = []
    for row in doc["result"].get("rows", []):
        data = base64.b64decode(row.get("values", ""))
        pos = 0
        values: list[bytes | None] = []
        for n in map(int, row["lengths"]):
            values.append(None if n < 0 else data[pos : pos + n])
            pos += max(n, 0)
        out.append(values)
    return out


def _fetch(url: str, sql: str) -> dict[str, Any]:
    import httpx

    r = httpx.post(url + EXECUTE, json={"query": sql, "session": None}, auth=(USER, PASSWORD))
    r.raise_for_status()
    doc: dict[str, Any] = r.json()
    return doc


# ---------------------------------------------------------------------- orchestration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


def _prepare_table(dsn: str) -> None:
    from mywire import aio

    async def go() -> None:
        db = await aio.connect(dsn)
        try:
            await db.query(f"DROP TABLE IF EXISTS {TABLE}")
            await db.query(
                f"CREATE TABLE {TABLE} (id INT PRIMARY KEY, name VARCHAR(64), "
                "price DECIMAL(10, 2), qty BIGINT, ratio DOUBLE, created DATETIME, "
                "note TEXT NULL) DEFAULT CHARSET=utf8mb4"
            )
            await db.query(
                f"INSERT INTO {TABLE} SELECT seq, CONCAT('item ', seq, ' ✓'), seq * 1.25, "
                "seq * 1000003, seq / 8, '2024-01-01 00:00:00' + INTERVAL seq MINUTE, "
                "IF(seq % 3 = 0, NULL, REPEAT('n', seq % 40)) FROM seq_1_to_10000"
            )
        finally:
            await db.close()

    asyncio.run(go())


def _versions() -> str:
    from importlib.metadata import version

    import mywire

    names = ("starlette", "uvicorn", "httpx", "asyncmy", "orjson")
    parts = [f"mywire {mywire.__version__} (backend {mywire.backend})"]
    parts += [f"{n} {version(n)}" for n in names]
    parts.append(f"Python {platform.python_version()} on {platform.machine()}")
    parts.append(f"{os.cpu_count()} CPUs")
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dsn", default=os.environ.get("MYWIRE_TEST_DSN", "mysql://root@127.0.0.1:3306/test")
    )
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs; medians shown")
    parser.add_argument("--serve-baseline", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--load", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--sql", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.serve_baseline:
        import uvicorn

        uvicorn.run(
            baseline_app(args.dsn), host="127.0.0.1", port=args.serve_baseline, log_level="warning"
        )
        return 0
    if args.load:
        result = asyncio.run(_load(args.load, args.sql, args.duration, args.concurrency))
        print(json.dumps(result))
        return 0

    dsn = args.dsn
    upstream = dsn + ("&" if "?" in dsn else "?") + "ssl_mode=disabled"
    _prepare_table(upstream)
    ports = {"mywire": _free_port(), "baseline": _free_port()}
    procs = {
        "mywire": subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mywire.gateway",
                "--upstream",
                upstream,
                "--listen",
                f"127.0.0.1:{ports['mywire']}",
                "--user",
                f"{USER}:{PASSWORD}",
                "--log-level",
                "warning",
                "--max-rows",
                "0",
            ],
            cwd=ROOT,
        ),
        "baseline": subprocess.Popen(
            [sys.executable, __file__, "--dsn", dsn, "--serve-baseline", str(ports["baseline"])],
            cwd=ROOT,
        ),
    }
    try:
        for name, proc in procs.items():
            _wait(ports[name], proc)
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        print(f"# gateway load: {_versions()}")
        print(
            f"# {args.concurrency} concurrent clients, {args.rounds} alternating rounds of "
            f"{args.duration:g} s per cell; medians of the rounds\n"
        )
        print("| workload | gateway | correct | requests/s | p50 ms | p99 ms | errors | bytes |")
        print("|---|---|---|---:|---:|---:|---:|---:|")
        for workload in args.workloads.split(","):
            sql = WORKLOADS[workload]
            reference = _decoded_rows(_fetch(urls["mywire"], sql))
            correct = {
                name: _decoded_rows(_fetch(url, sql)) == reference and bool(reference)
                for name, url in urls.items()
            }
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name in urls}
            for _ in range(args.rounds):  # alternate, so both see the same machine
                for name, url in urls.items():
                    runs[name].append(_load_process(url, sql, args.duration, args.concurrency))
            for name in urls:
                r = {k: statistics.median(x[k] for x in runs[name]) for k in runs[name][0]}
                print(
                    f"| {workload} | {name} | {'yes' if correct[name] else 'NO'} "
                    f"| {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} "
                    f"| {sum(x['errors'] for x in runs[name])} | {r['bytes']:.0f} |",
                    flush=True,
                )
    finally:
        for proc in procs.values():
            proc.terminate()
            proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
