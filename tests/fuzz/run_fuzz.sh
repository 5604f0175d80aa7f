#!/bin/sh
# Runs the libFuzzer targets for the meson tests of suite 'fuzz'.
#
#   run_fuzz.sh <target binary> <corpus dir>
#     fuzzes for a bounded time over a temporary copy of the target's
#     committed corpus (CI must never grow tests/fuzz/corpus).
#     SHOAL_FUZZ_SECONDS (default 60) bounds the run. A crash leaves its input
#     in $SHOAL_FUZZ_ARTIFACTS (default: the current directory) and fails the
#     test.
#
#   run_fuzz.sh --replay <regressions dir> <target binary>...
#     runs every file of the directory once through the target its name
#     starts with (<target>-<what it found>), and fails if any input fails,
#     if a file names no target given, or if the directory holds no file.
set -eu

if [ "${1:-}" = --replay ]; then
  dir=$2
  shift 2
  n=0
  failed=0
  for f in "$dir"/*; do
    [ -f "$f" ] || continue
    n=$((n + 1))
    name=$(basename "$f")
    exe=
    for t in "$@"; do
      case $name in "$(basename "$t")"-*) exe=$t ;; esac
    done
    if [ -z "$exe" ]; then
      echo "replay: $name: no target named by its prefix among: $*"
      failed=$((failed + 1))
      continue
    fi
    # Given files (not directories), libFuzzer runs each input once.
    if "$exe" -timeout=30 -error_exitcode=1 -timeout_exitcode=1 -rss_limit_mb=4096 "$f"; then
      echo "replay: $name through $(basename "$exe"): ok"
    else
      echo "replay: $name through $(basename "$exe"): FAILED"
      failed=$((failed + 1))
    fi
  done
  echo "replay: $n input(s), $failed failed"
  [ "$n" -gt 0 ] && [ "$failed" -eq 0 ]
  exit $?
fi

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
