#!/usr/bin/env bash
# Instructions executed inside mw_transcode_rows for 20,000 mixed rows, per protocol and
# format (see bench/callgrind_transcode.py).  TREE (default: this checkout) is a checkout
# whose C core is built in place (setup.py build_ext --inplace), so two versions can be
# compared with the same driver and Python.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tree="${1:-$root}"
py="${PYTHON:-$root/.venv/bin/python}"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf '%-7s %-8s %14s  %s\n' protocol format instructions output
for p in text binary; do
  for f in json ndjson msgpack psdb; do
    (cd "$tree" && PYTHONPATH="$tree" valgrind --tool=callgrind \
      --toggle-collect=mw_transcode_rows --callgrind-out-file="$out/cg.$p.$f" \
      "$py" "$root/bench/callgrind_transcode.py" "$p" "$f" >"$out/$p.$f.txt" 2>/dev/null)
    n=$(callgrind_annotate "$out/cg.$p.$f" 2>/dev/null | awk '/PROGRAM TOTALS/ {print $1}')
    printf '%-7s %-8s %14s  %s\n' "$p" "$f" "$n" "$(cut -d' ' -f4- "$out/$p.$f.txt")"
  done
done
