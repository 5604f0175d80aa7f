#!/usr/bin/env bash
# scripts/demo.sh <config.ini>
#
# Runs shoal-httpd in a network namespace of its own ("shoal-demo"), where
# the TAP's kernel side is the client, and prints the exact curl (and ping)
# command to reach it. Ctrl-C stops the server (it prints its counters) and
# the namespace is removed. Nothing outside the namespace is touched: no host
# interface, address or route.
#
# SHOAL_BUILD=<dir> picks the build directory (default: build).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
NS=shoal-demo

config=${1:-configs/default.ini}
app=${SHOAL_BUILD:-$ROOT/build}/apps/shoal-httpd
[[ -f $config ]] || { echo "demo: no such config: $config" >&2; exit 2; }
[[ -x $app ]] || { echo "demo: $app not built (scripts/setup.sh run builds it)" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "demo: needs root (network namespaces, TAP)" >&2; exit 2; }

# The stack's address, for the hint line: [ipv4] address.
addr=$(awk -F'=' '
  /^[[:space:]]*\[/ { sec = $0; gsub(/[][[:space:]]/, "", sec); next }
  sec == "ipv4" && $1 ~ /^[[:space:]]*address[[:space:]]*$/ {
    v = $2; sub(/#.*/, "", v); gsub(/[[:space:]]/, "", v); print v; exit }' "$config")

# The TAP's kernel name: iface= in [port] vdev.
iface=$(awk '/^[[:space:]]*vdev[[:space:]]*=/ && match($0, /iface=[^,[:space:]#]+/) {
  print substr($0, RSTART + 6, RLENGTH - 6); exit }' "$config")

node_pid=
cleanup() {
  if [[ -n $node_pid ]] && kill -0 "$node_pid" 2>/dev/null; then
    kill -TERM "$node_pid" 2>/dev/null || true
    wait "$node_pid" 2>/dev/null || true
  fi
  ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT
# Ctrl-C / kill: pass it on to the node, which then exits cleanly.
forward() { [[ -n $node_pid ]] && kill -"$1" "$node_pid" 2>/dev/null || true; }
trap 'forward INT' INT
trap 'forward TERM' TERM

# A stale namespace from an earlier run that was killed hard.
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up

echo "==> starting shoal-httpd in network namespace $NS ($config)"
echo "==> once it says ready, in another terminal:"
echo "      ip netns exec $NS curl -v http://${addr:-<[ipv4] address>}/"
echo "      ip netns exec $NS curl -s http://${addr:-<[ipv4] address>}/bytes/100000 | wc -c"
echo "      ip netns exec $NS ping ${addr:-<[ipv4] address>}"
[[ -n $iface ]] && echo "      ip netns exec $NS arping -I $iface ${addr:-<[ipv4] address>}"
echo "==> Ctrl-C stops it"
ip netns exec "$NS" "$app" "$config" &
node_pid=$!
# `wait` returns early when a trapped signal arrives; wait again until the
# node has really exited.
rc=0
while kill -0 "$node_pid" 2>/dev/null; do
  wait "$node_pid" && rc=0 || rc=$?
done
node_pid=
exit "$rc"
