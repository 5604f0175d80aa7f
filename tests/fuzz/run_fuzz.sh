#!/bin/sh
# Runs one libFuzzer target for a bounded time over a temporary copy of its
# committed corpus (CI must never grow tests/fuzz/corpus). Used by the meson
# tests of suite 'fuzz':  run_fuzz.sh <target binary> <corpus dir>
# SHOAL_FUZZ_SECONDS (default 60) bounds the run. A crash leaves its input in
# $SHOAL_FUZZ_ARTIFACTS (default: the current directory) and fails the test.
set -eu
exe=$1
corpus=$2
seconds=${SHOAL_FUZZ_SECONDS:-60}
# A fixed seed makes the suite's run repeatable (SHOAL_FUZZ_SEED=0: random).
seed=${SHOAL_FUZZ_SEED:-1}
artifacts=${SHOAL_FUZZ_ARTIFACTS:-$PWD}
work=$(mktemp -d "${TMPDIR:-/tmp}/shoal-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
mkdir -p "$work/corpus" "$artifacts"
if [ -d "$corpus" ]; then
  cp -r "$corpus/." "$work/corpus/"
fi
echo "fuzz: $(basename "$exe") for ${seconds}s over $(ls "$work/corpus" | wc -l) seed inputs"
exec_status=0
"$exe" -seed="$seed" -max_total_time="$seconds" -timeout=10 -error_exitcode=1 -timeout_exitcode=1 -rss_limit_mb=4096 -print_final_stats=1 \
  -artifact_prefix="$artifacts/$(basename "$exe")-" "$work/corpus" || exec_status=$?
exit $exec_status
