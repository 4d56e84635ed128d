"""One transcoder run on the mixed workload, for instruction counts under callgrind.

Wall-clock times on the shared machines move with whatever else runs; instruction counts
do not.  This driver builds the mixed workload's rows in Python (``workloads.py``, the
same rows as ``bench_transcode.py``), encodes them as MariaDB sends them in the text or
the binary protocol, cuts them into chunks of 1,024 rows as the connection does, and
transcodes them once with the C backend.  Under callgrind, count only what runs inside
the C entry point:

    valgrind --tool=callgrind --toggle-collect=mw_transcode_rows \\
        --callgrind-out-file=/tmp/cg.out .venv/bin/python bench/callgrind_transcode.py text json
    callgrind_annotate /tmp/cg.out | grep 'PROGRAM TOTALS'

``bench/callgrind_transcode.sh [TREE]`` does this for both protocols and every format
(TREE: another checkout with its C core built in place, to compare two versions).  The
line printed is the output's length and SHA-256, so two versions can also be checked to
write identical bytes.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads  # noqa: E402

from mywire import _backend  # noqa: E402
from mywire.events import Event, ResultsetEnd, ResultsetStart, Rows  # noqa: E402
from mywire.transcode import transcode  # noqa: E402


def main(argv: list[str]) -> int:
    protocol, fmt = argv[0], argv[1]
    nrows = int(argv[2]) if len(argv) > 2 else 20_000
    c = _backend.load_c()
    if c is None:
        print("the C core is not built", file=sys.stderr)
        return 1
    _backend.IMPL = c
    encode = workloads.text_row if protocol == "text" else workloads.binary_row
    payloads = [encode(r) for r in workloads.mixed_rows(nrows)]
    events: list[Event] = [
        ResultsetStart(columns=workloads.MIXED_COLUMNS, binary=protocol == "binary")
    ]
    events += [Rows.of(payloads[i : i + 1024]) for i in range(0, nrows, 1024)]
    events.append(ResultsetEnd())
    out = transcode(events, fmt)
    print(protocol, fmt, nrows, len(out), hashlib.sha256(out).hexdigest())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
