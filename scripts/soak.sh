#!/usr/bin/env bash
# The long soak: shoal against the Linux kernel for N minutes
# (default 30) of connection churn and sha256-checked bulk transfers, both
# directions, through the shard's impairment stage (loss 1 %, reorder 5 %,
# delay 2 ms, duplicate 0.5 %: this kernel has no sch_netem). A progress line
# every 10 s; at the end: zero verification failures, memory flat, every
# connection drained to CLOSED. Needs root (network namespace, TAP).
#
#   scripts/soak.sh [minutes] [soak.py options, e.g. --shards 1 --loss 5]
#
# BUILD=<dir> picks the build directory (default: build, configured and
# built here when missing). The suite runs a 60 s version (test soak_short).
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-30}
shift || true
if ! [[ $minutes =~ ^[0-9]+$ ]] || ((minutes < 1)); then
  echo "usage: $0 [minutes] [soak.py options]" >&2
  exit 2
fi
build=${BUILD:-build}
if [[ ! -f $build/build.ninja ]]; then
  meson setup "$build" >/dev/null
fi
ninja -C "$build" tests/interop/shoal-peer-client >/dev/null
exec python3 tests/interop/soak.py "$build" --duration $((minutes * 60)) "$@"
