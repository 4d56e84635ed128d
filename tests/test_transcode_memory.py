"""Streaming a resultset of about 1 GB keeps memory flat.

A child process (so its peak RSS is its own) streams ``SELECT seq, REPEAT('x', 1000)``
over a million rows through ``Client.stream(format="ndjson")``, drops every chunk after
counting its lines and bytes, and prints the counts and its peak RSS (VmHWM).  The row decoder
and transcoder work on one received chunk at a time, so the peak must stay far below
the resultset's size.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from helpers import Dsn, dsn_url

pytestmark = [pytest.mark.mariadb, pytest.mark.slow]

ROWS = 1_000_000
WIDTH = 1000
PEAK_LIMIT = 100 * 1024 * 1024  # bytes
TIME_LIMIT = 60.0  # seconds, per backend

CHILD = """
import asyncio, json, resource, sys
import mywire._backend
from mywire import aio

def peak_kib():
    # VmHWM, not ru_maxrss: after fork and exec ru_maxrss keeps the parent's (pytest's)
    # high-water mark, VmHWM belongs to this process image.
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

async def main():
    client = await aio.connect(sys.argv[1], ssl_mode="disabled")
    lines = size = chunks = 0
    last = b""
    sql = f"SELECT seq, REPEAT('x', {sys.argv[3]}) AS v FROM seq_1_to_{sys.argv[2]}"
    async for chunk in client.stream(sql, format="ndjson"):
        lines += chunk.count(b"\\n")
        size += len(chunk)
        chunks += 1
        last = (last + chunk)[-2000:]
    await client.close()
    print(json.dumps({
        "backend": mywire._backend.IMPL.__name__,
        "lines": lines,
        "bytes": size,
        "chunks": chunks,
        "tail": last.decode(),
        "maxrss_kib": peak_kib(),
    }))

asyncio.run(main())
"""


def test_streaming_a_gigabyte_keeps_peak_rss_under_100_mb(mariadb_dsn: Dsn, backend: str) -> None:
    env = dict(os.environ)
    if backend == "python":
        env["MYWIRE_PURE"] = "1"
    else:
        env.pop("MYWIRE_PURE", None)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, dsn_url(mariadb_dsn), str(ROWS), str(WIDTH)],
        capture_output=True,
        text=True,
        env=env,
        timeout=2 * TIME_LIMIT,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    print({k: v for k, v in got.items() if k != "tail"}, f"{elapsed:.1f} s")
    assert got["backend"] == ("mywire._pycore" if backend == "python" else "mywire._ccore")
    # Header line, one line per row ([n,"xxx..."] and a newline), trailer line.
    assert got["lines"] == ROWS + 2
    trailer = '{"rows_affected":0,"insert_id":0,"warnings":0}\n'
    digits = sum(len(str(i)) for i in range(1, ROWS + 1))
    header = got["bytes"] - digits - ROWS * (WIDTH + len('[,""]\n')) - len(trailer)
    assert 100 < header < 600, header  # {"fields":[two fields]} and a newline
    last_rows = "".join(f'[{i},"{"x" * WIDTH}"]\n' for i in (ROWS - 1, ROWS))
    assert got["tail"] == (last_rows + trailer)[-2000:]
    assert got["maxrss_kib"] * 1024 < PEAK_LIMIT, got
    assert elapsed < TIME_LIMIT, f"took {elapsed:.1f} s"
