#!/usr/bin/env bash
# The smoke version of the macro benchmark: every workload on the
# kernel for a small --count, so the harness cannot rot. A few seconds.
# Runs in a private network namespace when it can (root: unshare --net), so
# its TIME_WAIT records and ports never touch the rest of the machine.
#
#   bench/macro/smoke.sh path/to/kernel_bench path/to/report.py
set -euo pipefail
KB=$1
REPORT=$2

if [[ -z ${SHOAL_SMOKE_IN_NS:-} ]] && unshare --net true 2>/dev/null; then
  exec unshare --net env SHOAL_SMOKE_IN_NS=1 bash "$0" "$@"
fi
if [[ -n ${SHOAL_SMOKE_IN_NS:-} ]]; then
  ip link set lo up
  echo "smoke: private network namespace"
fi

tmp=$(mktemp -d)
server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# point NAME "server options" "client options" "check options"
point() {
  local name=$1 sopts=$2 copts=$3 check=$4
  rm -f "$tmp/ready"
  # shellcheck disable=SC2086
  "$KB" server --port 0 --ready-file "$tmp/ready" --quiet --json "$tmp/$name.server.json" $sopts &
  server_pid=$!
  for _ in $(seq 100); do
    [[ -f $tmp/ready ]] && break
    sleep 0.05
  done
  [[ -f $tmp/ready ]] || { echo "smoke: $name: server did not start" >&2; exit 1; }
  local port
  port=$(cat "$tmp/ready")
  # shellcheck disable=SC2086
  timeout 30 "$KB" client --port "$port" --quiet --json "$tmp/$name.client.json" $copts
  kill -TERM "$server_pid"
  wait "$server_pid"
  server_pid=
  # shellcheck disable=SC2086
  python3 "$REPORT" check "$tmp/$name.client.json" $check
  python3 "$REPORT" check "$tmp/$name.server.json"
}

point churn-client-closes "" "--workload churn --closer client --concurrency 8 --count 300" \
  "--expect-completed 300"
point churn-server-closes "--close-first" "--workload churn --closer server --concurrency 8 --count 300" \
  "--expect-completed 300"
point rr "" "--workload rr --concurrency 4 --count 4000" "--expect-transactions 4000"
point rr-sizes "--request 100 --response 5000" \
  "--workload rr --concurrency 2 --count 500 --request 100 --response 5000" \
  "--expect-transactions 500"
point bulk-download "--mode source" "--workload bulk --count 67108864 --duration 10" \
  "--expect-bytes 67108864"
point bulk-upload "--mode sink" "--workload bulk --direction upload --count 67108864 --duration 10" \
  "--expect-bytes 67108864"
echo "smoke: all workloads ran cleanly"
