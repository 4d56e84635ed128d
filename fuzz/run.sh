#!/usr/bin/env bash
# Run the differential fuzz targets against the ASan/UBSan build of the C core.
#   fuzz/run.sh SECONDS [TARGET ...]      (default: every target in fuzz/targets.py)
# As tools/sanitize_check.sh does: copy the tree to a scratch directory, build the C core
# there with MYWIRE_SANITIZE=1, LD_PRELOAD libasan/libubsan, and check that the sanitized
# build is the one imported.  The seed corpus is cut from tests/captures/public at run
# time (fuzz/make_corpus.py).  Each target runs SECONDS under atheris (installed with pip
# when missing) with fuzz/mysql.dict; FUZZ_JOBS targets run at once (default 1).  Crash
# inputs and logs of failing targets are copied to fuzz/artifacts/ (FUZZ_ARTIFACTS); a
# table with executions, exec/s and libFuzzer's coverage is printed at the end.  Exit
# status 1 when any target found something.  FUZZ_SANITIZE=0: a plain build instead.
#
# Coverage under gcc's sanitizers: libasan/libubsan define the __sanitizer_cov_* entry
# points as weak no-op stubs and must be preloaded, so they would shadow atheris's
# libFuzzer and it would see no Python coverage at all.  fuzz/covshim.c, built here and
# preloaded before libasan (verify_asan_link_order=0), forwards those calls to atheris.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py="${PYTHON:-$root/.venv/bin/python}"
secs="${1:?usage: fuzz/run.sh SECONDS [TARGET ...]}"
shift
artifacts="${FUZZ_ARTIFACTS:-$root/fuzz/artifacts}"
jobs="${FUZZ_JOBS:-1}"
sanitize="${FUZZ_SANITIZE:-1}"
"$py" -c "import atheris" 2>/dev/null || "$py" -m pip install -q atheris
tmp=$(mktemp -d)
[ -n "${FUZZ_KEEP:-}" ] || trap 'rm -rf "$tmp"' EXIT
(cd "$root" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) \
  | tar -xf - -C "$tmp"
cd "$tmp"
"$py" -m pip install -q "setuptools>=77" "cffi>=1.17"
# build_ffi.py tests MYWIRE_SANITIZE for being set at all, so unset it for a plain build.
if [ "$sanitize" = 1 ]; then export MYWIRE_SANITIZE=1; else unset MYWIRE_SANITIZE; fi
"$py" setup.py -q build_ext --inplace >/dev/null 2>build.log || { cat build.log; exit 1; }
"$py" fuzz/make_corpus.py "$tmp/corpus" >/dev/null
if [ "$sanitize" = 1 ]; then
  gcc -shared -fPIC -O2 -o "$tmp/covshim.so" fuzz/covshim.c -ldl
  ATHERIS_CORE=$("$py" -c "import atheris, glob, os
print(glob.glob(os.path.join(os.path.dirname(atheris.__file__), 'core_with_libfuzzer*.so'))[0])")
  export ATHERIS_CORE
  export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:verify_asan_link_order=0
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  export LD_PRELOAD="$tmp/covshim.so $(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
fi
export PYTHONPATH="$tmp" MYWIRE_REQUIRE_C=1
"$py" -c "import mywire._ccore as c, sys; sys.exit(not c.__file__.startswith('$tmp'))" \
  || { echo "the build made here is not the one imported" >&2; exit 1; }
if [ $# -eq 0 ]; then
  mapfile -t targets < <("$py" -c "from fuzz.targets import TARGETS; print('\n'.join(TARGETS))")
else
  targets=("$@")
fi
mkdir -p "$tmp/out"
run_one() {
  mkdir -p "$tmp/out/$1"
  "$py" fuzz/fuzz.py "$1" "$tmp/corpus/$1" -dict=fuzz/mysql.dict -max_total_time="$secs" \
    -timeout=25 -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$tmp/out/$1/" \
    >"$tmp/out/$1.log" 2>&1
}
pids=()
for t in "${targets[@]}"; do
  run_one "$t" &
  pids+=("$!")
  if [ "${#pids[@]}" -ge "$jobs" ]; then
    wait "${pids[0]}" || true
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || true; done
status=0
printf '%-18s %9s %7s %6s %6s %7s  %s\n' target execs exec/s cov ft corpus result
for t in "${targets[@]}"; do
  log="$tmp/out/$t.log"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  result=ok
  if compgen -G "$tmp/out/$t/*" >/dev/null || ! grep -q '^Done ' "$log"; then
    result=FINDING
    status=1
    mkdir -p "$artifacts/$t"
    cp "$tmp/out/$t/"* "$artifacts/$t/" 2>/dev/null || true
    cp "$log" "$artifacts/$t.log"
  fi
  printf '%-18s %9s %7s %6s %6s %7s  %s\n' "$t" "${execs:-?}" "${eps:-?}" "${cov:-?}" \
    "${ft:-?}" "${corp:-?}" "$result"
done
[ "$status" -eq 0 ] || echo "findings: logs and inputs in $artifacts" >&2
exit "$status"
