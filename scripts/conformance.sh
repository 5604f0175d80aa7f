#!/usr/bin/env bash
# scripts/conformance.sh — public packetdrill corpora against shoal.
#
#   scripts/conformance.sh [--update] [--gate] [--jobs N] [--timeout S]
#                          [--corpora DIR] [corpus] [pattern]
#
# corpus: google | freebsd | ligurio | all (default) | gate (the scripts the
# CI gate runs); pattern: a substring of "<corpus>/<path>", or a glob.
# Builds shoal (BUILD=<dir>, default build) and packetdrill (into
# <build>/conformance/, from the packetdrill sources kept beside the source
# tree) when needed, then runs every script through shoal's packetdrill
# adapter, 2 at a time, 60 s at most each, and writes pass / fail
# (packetdrill's error) / skip (the missing feature) per script into
# <build>/conformance/results.json.
#
#   --update   record the verdicts in tests/conformance/expected.json and
#              regenerate docs/conformance.md and README.md's summary table
#   --gate     compare with tests/conformance/expected.json (as CI does)
#
# --corpora DIR or SHOAL_CONFORMANCE_DIR points at another copy of the
# corpora. Rules that rewrite or skip scripts: tests/conformance/rules.py.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${BUILD:-$ROOT/build}
if [[ ! -f $BUILD/build.ninja ]]; then
  meson setup "$BUILD" >/dev/null
fi
ninja -C "$BUILD" lib/posix/libshoal_packetdrill.so lib/posix/libshoal_packetdrill_impl.so >/dev/null
exec python3 "$ROOT/tests/conformance/conformance.py" --build "$BUILD" "$@"
