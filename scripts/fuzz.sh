#!/bin/sh
# Long fuzzing runs (README "Fuzzing"):
#   scripts/fuzz.sh <fuzz_wire|fuzz_shard|fuzz_conn> [seconds] [libFuzzer args...]
# Builds build-fuzz (clang 14, libFuzzer + ASan + UBSan, coverage on lib/)
# if needed, then fuzzes a working corpus in build-fuzz/fuzz-corpus/<target>,
# seeded from the committed tests/fuzz/corpus/<target> (which is never
# written to). seconds: default 3600; 0 = until stopped. Crashes land in
# build-fuzz/fuzz-artifacts/<target>-crash-*: replay one with
#   build-fuzz/tests/fuzz/<target> <file>
# and turn it into a regression test (tests/hardening/wire_regression_test.cpp
# or a corpus entry). Uses both cores (-fork=2) unless SHOAL_FUZZ_JOBS says otherwise.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
target=${1:?usage: scripts/fuzz.sh <fuzz_wire|fuzz_shard|fuzz_conn> [seconds] [libFuzzer args...]}
seconds=${2:-3600}
[ $# -ge 2 ] && shift 2 || shift $#
build=${SHOAL_FUZZ_BUILD:-$root/build-fuzz}
jobs=${SHOAL_FUZZ_JOBS:-2}

if [ ! -f "$build/build.ninja" ]; then
  CXX=clang++ meson setup "$build" "$root" -Dfuzz=true -Dtests=false -Dbenchmarks=false \
    -Dsanitize=true -Dcpp_args=-fsanitize=fuzzer-no-link
fi
ninja -C "$build" "tests/fuzz/$target"

corpus="$build/fuzz-corpus/$target"
artifacts="$build/fuzz-artifacts"
mkdir -p "$corpus" "$artifacts"
# Seeds go in once; what the run learns stays in the working corpus.
cp -rn "$root/tests/fuzz/corpus/$target/." "$corpus/" 2>/dev/null || true

set -- -max_total_time="$seconds" -timeout=10 -error_exitcode=1 -timeout_exitcode=1 -rss_limit_mb=4096 -print_final_stats=1 \
  -artifact_prefix="$artifacts/$target-" "$@"
if [ "$jobs" -gt 1 ]; then
  set -- -fork="$jobs" -ignore_crashes=0 "$@"
fi
echo "fuzz.sh: $target for ${seconds}s, corpus $corpus ($(ls "$corpus" | wc -l) inputs)"
exec "$build/tests/fuzz/$target" "$@" "$corpus"
