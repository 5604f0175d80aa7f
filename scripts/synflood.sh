#!/usr/bin/env bash
# scripts/synflood.sh — the SYN-flood comparison: shoal and
# the Linux kernel under the same flood, in one run.
#
#   scripts/synflood.sh [--quick] [--out DIR] [--only "shoal kernel"]
#                       [--baseline S] [--flood S] [--rate PPS] [--legit-rate R]
#                       [--backlog N]
#
# Four runs, each --baseline seconds of legitimate clients alone, then
# --flood seconds of the same clients under a SYN flood from random sources
# of 198.18.128.0/17:
#   kernel  apps/shoal-synflood port: the Linux kernel of a network namespace
#           (net.ipv4.tcp_syncookies=1, somaxconn = tcp_max_syn_backlog =
#           --backlog, bench/macro/kernel_bench server on core 1, the veth's
#           receive processing steered to core 1 by RPS) behind a veth whose
#           other end is driven by DPDK's net_af_packet; generator + shoal
#           clients on core 0. The kernel's SYN-ACKs to the spoofed sources
#           are routed into a sink namespace (forwarding off), not back to
#           the generator. Flood at --rate (0, the default: as fast as the
#           generator and af_packet go; the rate reached is reported).
#   shoal@kernel-rate  apps/shoal-synflood ring at the mean rate the kernel
#           run reached: a shoal server (SYN backlog and accept queue --backlog,
#           SYN cookies when full) in-process behind a ring device on core 1;
#           generator + shoal clients on core 0. The same flood, side by side.
#   shoal   the same at --rate (0: as fast as the generator goes in-process),
#           the wire flow-controlled (--queue-limit 8: flood frames are
#           offered only while fewer than 8 wait in the server's rx ring, as
#           a link with PAUSE frames and a shallow buffer; the legitimate
#           frames are never held): the server runs flat out on the flood
#           while a legitimate SYN waits behind at most 8 flood SYNs. The
#           acceptance run (100 % legitimate handshakes, p99 within 2x of the
#           no-flood p99, memory flat).
#   shoal-fifo  the same without flow control: the flood fills the server's
#           1024-frame rx ring whenever it outruns the server, so a legitimate
#           SYN waits behind up to 1024 flood SYNs (ring / server rate). The
#           rate the wire takes is then the server's SYN capacity.
# The legitimate clients (shoal stacks, the same in both runs) connect, send
# 64 bytes, read the 256-byte response and close, --legit-rate per second.
#
# Output in DIR (default bench-results/synflood): kernel.json,
# shoal_kernel_rate.json, shoal.json, shoal_fifo.json (shoal-synflood's JSON), kernel_memory.json (the kernel's TCP slabs and
# socket memory sampled twice a second; the whole box's, nothing else runs
# TCP meanwhile), kernel_nstat.json (the namespace's TCP counters), then
# scripts/synflood_report.py: summary.json, a plain table on stdout and
# success_rate.png, handshake_p99.png, memory.png, timeline.png.
#
# Full run ~3 minutes (10 s + 30 s per run); --quick ~35 s (2 s + 4 s).
# Root only (namespaces, veth). Every namespace is removed on exit.
# Environment: BUILD=<dir> (default build), GEN_CPU=0, SERVER_CPU=1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${BUILD:-$ROOT/build}
GEN_CPU=${GEN_CPU:-0}
SERVER_CPU=${SERVER_CPU:-1}
PY=python3
[[ -x /usr/bin/python3 ]] && PY=/usr/bin/python3
TAG=sf$$

out=$ROOT/bench-results/synflood
only="shoal kernel"
baseline=10
flood=30
rate=0
legit_rate=1000
backlog=128
while (($#)); do
  case $1 in
  --quick) baseline=2; flood=4 ;;
  --out) out=$2; shift ;;
  --only) only=$2; shift ;;
  --baseline) baseline=$2; shift ;;
  --flood) flood=$2; shift ;;
  --rate) rate=$2; shift ;;
  --legit-rate) legit_rate=$2; shift ;;
  --backlog) backlog=$2; shift ;;
  -h | --help) sed -n '2,40p' "$0"; exit 0 ;;
  *) echo "synflood: unknown option $1 (--help)" >&2; exit 2 ;;
  esac
  shift
done
[[ $(id -u) -eq 0 ]] || { echo "synflood: needs root (network namespaces, veth)" >&2; exit 2; }
duration=$((baseline + flood))

# ---------------------------------------------------------------- build
if [[ ! -f $BUILD/build.ninja ]]; then
  echo "==> meson setup $BUILD"
  meson setup "$BUILD" >/dev/null
fi
echo "==> ninja -C $BUILD apps/shoal-synflood bench/macro/kernel_bench"
ninja -C "$BUILD" -j2 apps/shoal-synflood bench/macro/kernel_bench >/dev/null
SF=$BUILD/apps/shoal-synflood
KB=$BUILD/bench/macro/kernel_bench

# ---------------------------------------------------------------- clean-up
namespaces=()
pids=()
tmp=$(mktemp -d)
cleanup() {
  local p ns
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$out"
rm -f "$out"/{shoal,shoal_fifo,shoal_kernel_rate,kernel,kernel_memory,kernel_nstat,summary}.json "$out"/*.png

common=(--baseline "$baseline" --duration "$duration"
  --legit-rate "$legit_rate" --request 64 --response 256 --legit-timeout-ms 3000 --quiet)

# ---------------------------------------------------------------- kernel
# Samples the kernel's TCP memory (slab objects in use x size, socket buffer
# pages of the victim namespace) twice a second until killed.
sample_kernel_memory() {
  local ns=$1 pages
  while :; do
    pages=$(ip netns exec "$ns" awk '/^TCP:/ {for (i = 2; i < NF; i++) if ($i == "mem") print $(i + 1)}' /proc/net/sockstat)
    awk -v unix="$(date +%s.%N)" -v pages="${pages:-0}" '
      $1 == "request_sock_TCP" { req = $2 * $4; reqn = $2 }
      $1 == "TCP" { sk = $2 * $4; skn = $2 }
      $1 == "tw_sock_TCP" { tw = $2 * $4 }
      END { printf "{\"unix\":%.3f,\"request_sock_bytes\":%d,\"request_socks\":%d,\"sock_bytes\":%d,\"socks\":%d,\"tw_bytes\":%d,\"buffer_bytes\":%d}\n", unix, req, reqn, sk, skn, tw, pages * 4096 }' /proc/slabinfo
    sleep 0.5
  done
}

if [[ " $only " == *" kernel "* ]]; then
  dpdk_ns=$TAG-dpdk victim=$TAG-victim sink=$TAG-sink
  for ns in "$dpdk_ns" "$victim" "$sink"; do
    ip netns add "$ns"
    namespaces+=("$ns")
    ip -n "$ns" link set lo up
  done
  # DPDK side <-> victim: the flood and the legitimate clients.
  ip link add "${TAG}a" netns "$dpdk_ns" type veth peer name "${TAG}b" netns "$victim"
  # victim <-> sink: where the SYN-ACKs to spoofed sources go.
  ip link add "${TAG}s" netns "$victim" type veth peer name "${TAG}t" netns "$sink"
  ip netns exec "$dpdk_ns" sysctl -qw "net.ipv6.conf.${TAG}a.disable_ipv6=1"
  ip -n "$dpdk_ns" link set "${TAG}a" up
  ip netns exec "$victim" sysctl -qw net.ipv4.tcp_syncookies=1 \
    net.core.somaxconn="$backlog" net.ipv4.tcp_max_syn_backlog="$backlog" \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
    "net.ipv6.conf.${TAG}b.disable_ipv6=1" "net.ipv6.conf.${TAG}s.disable_ipv6=1"
  ip netns exec "$victim" sysctl -qw "net.ipv4.conf.${TAG}b.rp_filter=0" "net.ipv4.conf.${TAG}s.rp_filter=0"
  ip -n "$victim" addr add 198.18.0.2/24 dev "${TAG}b"
  ip -n "$victim" addr add 198.18.1.1/30 dev "${TAG}s"
  # The kernel leaves checksums to a veth's "offload" (CHECKSUM_PARTIAL):
  # af_packet would hand DPDK segments with no TCP checksum.
  ip netns exec "$victim" ethtool -K "${TAG}b" tx off >/dev/null
  ip -n "$victim" link set "${TAG}b" up
  ip -n "$victim" link set "${TAG}s" up
  ip -n "$victim" route add 198.18.128.0/17 via 198.18.1.2
  # The veth's receive work (the whole TCP input of the flood) on the
  # server's core, as the shoal server's; not on the generator's.
  printf '%x' $((1 << SERVER_CPU)) |
    ip netns exec "$victim" tee "/sys/class/net/${TAG}b/queues/rx-0/rps_cpus" >/dev/null
  ip netns exec "$sink" sysctl -qw net.ipv4.ip_forward=0 "net.ipv6.conf.${TAG}t.disable_ipv6=1"
  ip -n "$sink" addr add 198.18.1.2/30 dev "${TAG}t"
  ip -n "$sink" link set "${TAG}t" up
  mac=$(ip netns exec "$victim" cat "/sys/class/net/${TAG}b/address")

  ready=$tmp/kb.ready
  ip netns exec "$victim" "$KB" server --addr 198.18.0.2 --port 5201 --mode echo \
    --request 64 --response 256 --cpu "$SERVER_CPU" --ready-file "$ready" --quiet \
    >"$tmp/kb.json" 2>"$tmp/kb.err" &
  pids+=($!)
  for _ in $(seq 100); do [[ -f $ready ]] && break; sleep 0.05; done
  [[ -f $ready ]] || { echo "synflood: kernel_bench server did not start:" >&2; cat "$tmp/kb.err" >&2; exit 1; }
  ip netns exec "$victim" nstat -n # reset the namespace's counter history

  echo "==> kernel: Linux in namespace $victim (syncookies=1, backlog $backlog, server on core" \
    "$SERVER_CPU), generator + clients on core $GEN_CPU over af_packet"
  sample_kernel_memory "$victim" >"$tmp/kmem.jsonl" &
  sampler=$!
  pids+=("$sampler")
  ip netns exec "$dpdk_ns" taskset -c "$GEN_CPU" "$SF" port \
    --vdev "net_af_packet0,iface=${TAG}a,framecnt=4096,qpairs=1" --lcore "$GEN_CPU" \
    --local 198.18.0.1/24 --target 198.18.0.2:5201 --target-mac "$mac" \
    "${common[@]}" --flood-rate "$rate" --label kernel --json "$out/kernel.json"
  kill -TERM "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  ip netns exec "$victim" nstat -az -j >"$out/kernel_nstat.json" 2>/dev/null || echo '{}' >"$out/kernel_nstat.json"
  "$PY" -c 'import json,sys; print(json.dumps([json.loads(l) for l in open(sys.argv[1]) if l.strip()]))' \
    "$tmp/kmem.jsonl" >"$out/kernel_memory.json"
fi

# ---------------------------------------------------------------- shoal
shoal_run() { # LABEL RATE JSON [extra options]
  local label=$1 r=$2 json=$3
  shift 3
  echo "==> $label: in-process shoal server on core $SERVER_CPU, generator + clients on core" \
    "$GEN_CPU, flood rate ${r/#0/max} $* (${baseline} s without, ${flood} s with the flood)"
  taskset -c "$GEN_CPU,$SERVER_CPU" "$SF" ring --lcores "$GEN_CPU,$SERVER_CPU" \
    --backlog "$backlog" "${common[@]}" --flood-rate "$r" --label "$label" --json "$json" "$@"
}
if [[ " $only " == *" shoal "* ]]; then
  if [[ -f $out/kernel.json && $rate == 0 ]]; then
    krate=$("$PY" -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["flood"]["pps_mean"]))' "$out/kernel.json")
    if ((krate > 0)); then
      shoal_run shoal@kernel-rate "$krate" "$out/shoal_kernel_rate.json"
    fi
  fi
  shoal_run shoal "$rate" "$out/shoal.json" --queue-limit 8
  shoal_run shoal-fifo "$rate" "$out/shoal_fifo.json"
fi

# ---------------------------------------------------------------- report
"$PY" "$ROOT/scripts/synflood_report.py" "$out"
