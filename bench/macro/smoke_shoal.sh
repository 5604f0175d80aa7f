#!/usr/bin/env bash
# The smoke version of the macro benchmark's shoal column:
# apps/shoal-churn ring (client stack and server stack in one process on
# lcores 0 and 1, joined by a net_ring memory wire) runs every workload of
# scripts/bench.sh for a small --count, and report.py checks both JSONs, so
# the shoal half of the benchmark cannot rot either. A few seconds.
# The request/response points check every response byte against the
# pattern; the large responses cross the memory wire as TSO datagrams of up
# to 64 KiB (and, with --no-tso, as MSS-sized ones).
#
#   bench/macro/smoke_shoal.sh path/to/shoal-churn path/to/report.py
# Exit 77 (skip) when not root (the EAL).
set -euo pipefail
CHURN=$1
REPORT=$2
if [[ $(id -u) != 0 ]]; then
  echo "smoke_shoal: skipped (needs root for the EAL)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# point NAME "shoal-churn ring options" "check options"
point() {
  local name=$1 opts=$2 check=$3
  echo "smoke_shoal: $name: shoal-churn ring $opts"
  # shellcheck disable=SC2086
  timeout 60 "$CHURN" ring --lcores 0,1 --duration 20 --quiet --json "$tmp/$name.client.json" \
    --server-json "$tmp/$name.server.json" $opts
  # shellcheck disable=SC2086
  python3 "$REPORT" check "$tmp/$name.client.json" $check
  python3 "$REPORT" check "$tmp/$name.server.json"
}

point churn-client-closes "--workload churn --closer client --concurrency 8 --count 3000" \
  "--expect-completed 3000"
point churn-server-closes "--workload churn --closer server --close-first --concurrency 8 --count 3000" \
  "--expect-completed 3000"
point rr "--workload rr --concurrency 4 --count 20000" "--expect-transactions 20000"
point rr-sizes "--workload rr --concurrency 2 --count 2000 --request 100 --response 5000" \
  "--expect-transactions 2000"
point rr-large "--workload rr --concurrency 2 --count 200 --request 70000 --response 200000" \
  "--expect-transactions 200"
point rr-large-no-tso "--no-tso --workload rr --concurrency 2 --count 200 --request 70000 --response 200000" \
  "--expect-transactions 200"
point bulk-download "--workload bulk --direction download --mode source --count 268435456" \
  "--expect-bytes 268435456"
point bulk-upload "--workload bulk --direction upload --mode sink --count 268435456" \
  "--expect-bytes 268435456"
echo "smoke_shoal: all workloads ran cleanly"
