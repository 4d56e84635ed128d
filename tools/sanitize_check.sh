#!/usr/bin/env bash
# Build the C core with AddressSanitizer + UndefinedBehaviorSanitizer in a throw-away copy
# of the tree and run the parser, framing, row and transcoder tests (C-vs-pure differential
# included) against it.
# Any out-of-bounds read, overflow or UB in csrc/ aborts the run.  Used by .ci/run; by
# hand: tools/sanitize_check.sh [extra pytest args, e.g. -x or a HYPOTHESIS_PROFILE env].
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py="${PYTHON:-$root/.venv/bin/python}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$root" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) \
  | tar -xf - -C "$tmp"
cd "$tmp"
# setup.py runs without build isolation here: make sure the venv's setuptools reads
# pyproject.toml as the build does (PEP 639 license field: setuptools 77+).
"$py" -m pip install -q "setuptools>=77" "cffi>=1.17"
MYWIRE_SANITIZE=1 "$py" setup.py -q build_ext --inplace >/dev/null 2>build.log \
  || { cat build.log; exit 1; }
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
export PYTHONPATH="$tmp" MYWIRE_REQUIRE_C=1 HYPOTHESIS_PROFILE="${HYPOTHESIS_PROFILE:-sanitize}"
"$py" -c "import mywire._ccore as c, sys; sys.exit(not c.__file__.startswith('$tmp'))" \
  || { echo "the sanitized build is not the one imported" >&2; exit 1; }
tests=(tests/test_differential.py tests/test_codec.py tests/test_framing.py tests/test_compression.py)
for t in tests/test_rows_differential.py tests/test_rows.py tests/test_fmtfloat.py \
         tests/test_transcode_differential.py tests/test_transcode_rows.py tests/test_transcode_document.py \
         tests/test_hostile_inputs.py tests/test_fuzz_targets.py; do [ -f "$t" ] && tests+=("$t"); done
"$py" -m pytest -q -p no:cacheprovider -m "not mariadb" "${tests[@]}" "$@"
