#!/usr/bin/env bash
# scripts/bench.sh — the one macro-benchmark command.
#
#   scripts/bench.sh [--quick] [--reps N] [--duration S] [--out DIR]
#                    [--only "kernel shoal-ring shoal-tap"] [--points REGEX]
#                    [--no-hugepages]
#   scripts/bench.sh memory [--count N]... [--out DIR]
#   scripts/bench.sh programs [--reps N] [--duration S] [--out DIR] [--only "nginx redis"]
#
# Measures every workload three ways in one run, on the same two cores
# (client on core 0, server on core 1), 3 repetitions each (min/median/max):
#   (a) shoal-ring  shoal client and shoal server in one process, two lcores,
#                   joined by a ring device: no kernel in the path
#   (b) kernel      the same workload logic (bench/macro/workload.cpp) on Linux
#                   sockets (epoll, non-blocking) over 127.0.0.1
#   (c) shoal-tap   a shoal server on a TAP device, the kernel client
# Workloads (64 B request, 64 B response): churn (connect, request, response,
# close) with the client closing first and with the server closing first, at
# concurrency 1, 8, 64 and 1,024; persistent request/response with 1, 8, 64
# connections; one bulk stream (MiB/s).
#
# Output: DIR/results.json (+ DIR/<stack>.json, raw runs in DIR/raw/), a
# plain table with the ratios shoal/kernel on stdout, DIR/rate_vs_concurrency.png
# and DIR/latency_cdf.png. A column appears as soon as its stack's binaries
# exist; until then it reads "not run".
#
# Every run gets a fresh network namespace (lo up, ports 1024-65535,
# tcp_tw_reuse=1, somaxconn 65535): TIME_WAIT records of one run cannot stall
# the next (with the client closing first the kernel
# otherwise runs out of ephemeral ports at ~14k/s), and nothing touches the
# root namespace.
#
# Full run: 12 points x 3 reps x 5 s per stack (~4 min per stack). --quick: 2 s
# per point. `memory`: bytes per idle established connection and per TIME_WAIT
# record (--count N to choose; default the kernel at 100k, shoal at 100k and
# 1M): the kernel's from slab deltas while holding N connections, shoal's
# from bench_tcp_memory.
#
# shoal-ring runs on 2 MiB hugepages (EAL --in-memory), as a deployment of
# a DPDK stack does: the run reserves HUGEPAGES pages (default 256) if fewer
# are reserved and puts the old count back at the end; if the kernel cannot
# give them, or with --no-hugepages, it runs on 4 KiB pages (--no-huge) and
# says so.
#
# `programs`: Debian's nginx <- wrk and redis-server <- redis-benchmark,
# unmodified, over shoal (shoal-run, inline mode, two processes joined by
# net_memif) against the same binaries on kernel loopback
# (bench/programs/run.py; DIR/programs.json and DIR/programs.png).
#
# Environment: BUILD=<dir> (default build; configured with -Dbenchmarks=true
# if missing), CLIENT_CPU=0, SERVER_CPU=1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${BUILD:-$ROOT/build}
CLIENT_CPU=${CLIENT_CPU:-0}
SERVER_CPU=${SERVER_CPU:-1}
KB=$BUILD/bench/macro/kernel_bench
REPORT=$ROOT/bench/macro/report.py
# Debian's python3 (where python3-matplotlib installs), not a pyenv/venv one.
PY=python3
[[ -x /usr/bin/python3 ]] && PY=/usr/bin/python3
TAG=shoalb$$

mode=run
reps=3
duration=5
out=$ROOT/bench-results
only="shoal-ring kernel shoal-tap"
points_re=.
mem_counts=()
hugepages=1
if [[ ${1:-} == memory ]]; then
  mode=memory
  shift
fi
if [[ ${1:-} == programs ]]; then
  shift
  [[ $(id -u) -eq 0 ]] || { echo "bench: needs root (network namespaces)" >&2; exit 2; }
  echo "==> ninja -C $BUILD apps/shoal-run lib/preload/libshoal_preload.so"
  ninja -C "$BUILD" -j2 apps/shoal-run lib/preload/libshoal_preload.so >/dev/null
  exec "$PY" "$ROOT/bench/programs/run.py" --build "$BUILD" --out "$out" "$@"
fi
while (($#)); do
  case $1 in
  --quick) duration=2 ;;
  --reps) reps=$2; shift ;;
  --duration) duration=$2; shift ;;
  --out) out=$2; shift ;;
  --only) only=$2; shift ;;
  --points) points_re=$2; shift ;;
  --no-hugepages) hugepages=0 ;;
  --count) mem_counts+=("$2"); shift ;;
  -h | --help) sed -n '2,44p' "$0"; exit 0 ;;
  *) echo "bench: unknown option $1 (--help)" >&2; exit 2 ;;
  esac
  shift
done

[[ $(id -u) -eq 0 ]] || { echo "bench: needs root (network namespaces, TAP)" >&2; exit 2; }

# ---------------------------------------------------------------- build

build() {
  if [[ ! -f $BUILD/build.ninja ]]; then
    echo "==> meson setup $BUILD -Dbenchmarks=true"
    meson setup "$BUILD" -Dbenchmarks=true >/dev/null
  fi
  local targets=(bench/macro/kernel_bench)
  # shoal's side, when it exists in this tree (built if it builds).
  [[ -f $ROOT/apps/shoal-churn.cpp ]] && targets+=(apps/shoal-churn)
  [[ -f $ROOT/apps/shoal-echo.cpp ]] && targets+=(apps/shoal-echo)
  echo "==> ninja -C $BUILD ${targets[*]}"
  ninja -C "$BUILD" -j2 bench/macro/kernel_bench >/dev/null
  for t in "${targets[@]:1}"; do
    ninja -C "$BUILD" -j2 "$t" >/dev/null 2>&1 || echo "    ($t does not build yet: its column is skipped)"
  done
}

# ---------------------------------------------------------------- namespaces

namespaces=()
pids=()
cleanup() {
  local p ns
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  if [[ -n ${huge_restore:-} ]]; then echo "$huge_restore" >/proc/sys/vm/nr_hugepages 2>/dev/null || true; fi
  rm -rf "${tmp:-}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
tmp=$(mktemp -d)

ns_seq=0
# ns_new: a fresh namespace tuned for churn; prints its name.
ns_new() {
  local ns=$TAG-$((ns_seq++))
  ip netns add "$ns"
  namespaces+=("$ns")
  ip -n "$ns" link set lo up
  ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" \
    net.ipv4.tcp_tw_reuse=1 net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535 \
    net.ipv4.tcp_max_tw_buckets=4000000
  echo "$ns"
}
ns_del() {
  ip netns del "$1" 2>/dev/null || true
  local keep=() n
  for n in "${namespaces[@]}"; do [[ $n == "$1" ]] || keep+=("$n"); done
  namespaces=("${keep[@]}")
}

wait_file() { # wait_file PATH SECONDS
  local i
  for ((i = 0; i < $2 * 20; i++)); do
    [[ -s $1 ]] && return 0
    sleep 0.05
  done
  return 1
}

stop_pid() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local keep=() p
  for p in "${pids[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  pids=("${keep[@]}")
}

summary() { # one line from a client JSON
  "$PY" -c 'import json,sys; r=json.load(open(sys.argv[1]))
e=r["errors"]["total"]; p=r["transaction_latency_ns"]["percentiles"]
lat="" if r["workload"]=="bulk" else "  p50 %.0fus p99 %.0fus" % (p["50"]/1e3, p["99"]/1e3)
print("%.0f %s%s%s" % (r["rate"], r["rate_unit"], lat, "  errors %d" % e if e else ""))' "$1"
}

# ---------------------------------------------------------------- workloads

# name | client options | server options (kernel_bench / shoal server)
# Churn spreads over 16 server ports (both stacks alike): one server port's
# 64,512 ephemeral ports would be in TIME_WAIT (the client's, or the
# server's) within a fraction of a second, and reuse of a TIME_WAIT tuple
# needs it to be 1 s old (Linux tcp_tw_reuse=1, shoal's time_wait_reuse):
# 16 ports bound churn at about 1M connections/s, 4 ports bounded it at
# 258k/s.
POINTS=(
  "churn-client-c1|--workload churn --closer client --concurrency 1 --ports 16|--ports 16"
  "churn-client-c8|--workload churn --closer client --concurrency 8 --ports 16|--ports 16"
  "churn-client-c64|--workload churn --closer client --concurrency 64 --ports 16|--ports 16"
  "churn-server-c1|--workload churn --closer server --concurrency 1 --ports 16|--close-first --ports 16"
  "churn-server-c8|--workload churn --closer server --concurrency 8 --ports 16|--close-first --ports 16"
  "churn-server-c64|--workload churn --closer server --concurrency 64 --ports 16|--close-first --ports 16"
  "churn-client-c1024|--workload churn --closer client --concurrency 1024 --ports 16|--ports 16"
  "churn-server-c1024|--workload churn --closer server --concurrency 1024 --ports 16|--close-first --ports 16"
  "rr-c1|--workload rr --concurrency 1|"
  "rr-c8|--workload rr --concurrency 8|"
  "rr-c64|--workload rr --concurrency 64|"
  "bulk|--workload bulk --direction download|--mode source"
)

# (b) kernel: kernel_bench server on SERVER_CPU, client on CLIENT_CPU, 127.0.0.1.
run_kernel() { # run_kernel NAME REP "client opts" "server opts"
  local name=$1 rep=$2 copts=$3 sopts=$4 dir=$out/raw/kernel/$1
  mkdir -p "$dir"
  local ns
  ns=$(ns_new)
  rm -f "$tmp/ready"
  # shellcheck disable=SC2086
  ip netns exec "$ns" "$KB" server --port 5201 --cpu "$SERVER_CPU" --ready-file "$tmp/ready" \
    --json "$dir/rep$rep.server.json" $sopts 2>"$dir/rep$rep.server.log" &
  local spid=$!
  pids+=("$spid")
  wait_file "$tmp/ready" 5 || { echo "bench: kernel server did not start" >&2; exit 1; }
  # shellcheck disable=SC2086
  ip netns exec "$ns" "$KB" client --port 5201 --cpu "$CLIENT_CPU" --duration "$duration" \
    --label kernel --json "$dir/rep$rep.client.json" $copts 2>"$dir/rep$rep.client.log"
  stop_pid "$spid"
  ns_del "$ns"
  printf '  %-11s %-17s rep %d/%d  %s\n' kernel "$name" "$rep" "$reps" "$(summary "$dir/rep$rep.client.json")"
}

# ---- (a) shoal-ring: apps/shoal-churn ring --------------------------------
# `shoal-churn ring --lcores CLIENT_CPU,SERVER_CPU <the client options of
# kernel_bench> [--close-first | --mode source] --duration S --json F`:
# client stack and server stack in one process, joined by a crossed net_ring
# pair, writing the JSON of ClientRun::to_json() (bench/macro/workload.hpp)
# — the same schema, so report.py needs nothing more. Returns 1 (column
# skipped) when the binary does not exist.
run_shoal_ring() { # run_shoal_ring NAME REP "client opts" "server opts"
  local exe=$BUILD/apps/shoal-churn
  [[ -x $exe ]] || return 1
  local name=$1 rep=$2 copts=$3 sopts=$4 dir=$out/raw/shoal-ring/$1
  mkdir -p "$dir"
  local ns
  ns=$(ns_new) # no kernel traffic, but keeps its EAL files and sockets private
  # shellcheck disable=SC2086
  ip netns exec "$ns" "$exe" ring --lcores "$CLIENT_CPU,$SERVER_CPU" --duration "$duration" \
    $ring_huge --label shoal-ring --json "$dir/rep$rep.client.json" $copts $sopts \
    2>"$dir/rep$rep.client.log" || { ns_del "$ns"; return 1; }
  ns_del "$ns"
  printf '  %-11s %-17s rep %d/%d  %s\n' shoal-ring "$name" "$rep" "$reps" "$(summary "$dir/rep$rep.client.json")"
}

# ---- (c) shoal-tap: a shoal server on a TAP, kernel_bench client ----------
# The server is `shoal-churn server <config> <server opts>` once it exists;
# until then shoal-echo serves the points an echo server can (64 B request
# == 64 B response, client closes or persistent). The TAP and its kernel
# side (198.18.0.1/24, [host] in the config) live in the run's namespace.
tap_config() { # a copy of configs/default.ini with the server's lcore and a private prefix
  sed -e "s/^lcores = .*/lcores = $SERVER_CPU/" \
    -e "s/^file_prefix = .*/file_prefix = $TAG-tap/" \
    -e "s/^status_interval_s = .*/status_interval_s = 0/" \
    "$ROOT/configs/default.ini" >"$tmp/tap.ini"
  echo "$tmp/tap.ini"
}
run_shoal_tap() { # run_shoal_tap NAME REP "client opts" "server opts"
  local name=$1 rep=$2 copts=$3 sopts=$4 dir=$out/raw/shoal-tap/$1
  local server=() cfg
  cfg=$(tap_config)
  if [[ -x $BUILD/apps/shoal-churn ]]; then
    # shellcheck disable=SC2206
    server=("$BUILD/apps/shoal-churn" server "$cfg" --port 7 $sopts)
  elif [[ -x $BUILD/apps/shoal-echo && -z $sopts ]]; then
    server=("$BUILD/apps/shoal-echo" "$cfg" 7)
  else
    return 1
  fi
  mkdir -p "$dir"
  local ns
  ns=$(ns_new)
  ip netns exec "$ns" "${server[@]}" >"$dir/rep$rep.server.json" 2>"$dir/rep$rep.server.log" &
  local spid=$!
  pids+=("$spid")
  # ready: the stack answers on 198.18.0.2:7 (the TAP exists once the port is up)
  local ok=
  for _ in $(seq 100); do
    if ip netns exec "$ns" bash -c 'exec 3<>/dev/tcp/198.18.0.2/7' 2>/dev/null; then
      ok=1
      break
    fi
    kill -0 "$spid" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z $ok ]]; then
    echo "  shoal-tap   $name: server not reachable (see $dir/rep$rep.server.log)"
    stop_pid "$spid"
    ns_del "$ns"
    return 1
  fi
  # shellcheck disable=SC2086
  ip netns exec "$ns" "$KB" client --addr 198.18.0.2 --port 7 --cpu "$CLIENT_CPU" \
    --duration "$duration" --label shoal-tap --json "$dir/rep$rep.client.json" $copts \
    2>"$dir/rep$rep.client.log" || true
  stop_pid "$spid"
  ns_del "$ns"
  [[ -s $dir/rep$rep.client.json ]] || return 1
  printf '  %-11s %-17s rep %d/%d  %s\n' shoal-tap "$name" "$rep" "$reps" "$(summary "$dir/rep$rep.client.json")"
}

run_all() {
  rm -rf "$out/raw"
  mkdir -p "$out/raw"
  local started=$SECONDS point name copts sopts rep stack
  ring_huge=
  if [[ " $only " == *" shoal-ring "* ]] && ((hugepages)); then
    local want=${HUGEPAGES:-256} have
    have=$(cat /proc/sys/vm/nr_hugepages)
    if ((have < want)); then
      huge_restore=$have
      echo "$want" >/proc/sys/vm/nr_hugepages 2>/dev/null || true
    fi
    if (($(awk '/HugePages_Free/ {print $2}' /proc/meminfo) >= want / 2)); then
      ring_huge=--hugepages
      echo "==> shoal-ring on 2 MiB hugepages ($(awk '/HugePages_Free/ {print $2}' /proc/meminfo) free)"
    else
      echo "==> shoal-ring on 4 KiB pages: the kernel did not give $want hugepages"
    fi
  fi
  echo "==> ${#POINTS[@]} points (matching '$points_re') x $reps reps x ${duration}s, stacks: $only (client core $CLIENT_CPU, server core $SERVER_CPU)"
  for point in "${POINTS[@]}"; do
    IFS='|' read -r name copts sopts <<<"$point"
    [[ $name =~ $points_re ]] || continue
    for ((rep = 1; rep <= reps; rep++)); do
      # Interleaved per repetition so that drift of the machine hits all
      # stacks alike: the ratios compare runs minutes, not quarters of an hour, apart.
      for stack in $only; do
        case $stack in
        kernel) run_kernel "$name" "$rep" "$copts" "$sopts" ;;
        shoal-ring) run_shoal_ring "$name" "$rep" "$copts" "$sopts" || true ;;
        shoal-tap) run_shoal_tap "$name" "$rep" "$copts" "$sopts" || true ;;
        esac
      done
    done
  done
  echo "==> runs took $((SECONDS - started)) s"
  "$PY" "$REPORT" aggregate "$out"
}

# ---------------------------------------------------------------- memory

# Bytes per idle established connection and per TIME_WAIT record, kernel:
# slab deltas (/proc/slabinfo, /proc/meminfo) while holding N connections in
# a private namespace. Both ends are kernel sockets here, so an established
# connection's figure is the delta divided by 2N (one endpoint, as shoal
# counts its own side); TIME_WAIT is the closer's record only (delta / N,
# measured once the passive side is gone).
run_memory() {
  # Default: the kernel at 100k (2 x 100k sockets, ~0.8 GB of slab), shoal
  # at 100k and 1M.
  local kernel_counts=("${mem_counts[@]}") shoal_counts=("${mem_counts[@]}")
  ((${#mem_counts[@]})) || { kernel_counts=(100000); shoal_counts=(100000 1000000); }
  mkdir -p "$out"
  local n ns rows=()
  for n in "${kernel_counts[@]}"; do
    ns=$(ns_new)
    echo "==> memory: $n idle connections (namespace $ns)"
    "$PY" "$ROOT/bench/macro/kernel_memory.py" --ns "$ns" --kb "$KB" --count "$n" \
      --port 6000 --cpu "$CLIENT_CPU" --server-cpu "$SERVER_CPU" --json "$tmp/mem-$n.json"
    rows+=("$tmp/mem-$n.json")
    ns_del "$ns"
  done
  "$PY" - "$out/memory-kernel.json" "${rows[@]}" <<'EOF'
import json, sys
rows = []
for p in sys.argv[2:]:
    rows += json.load(open(p))["results"]
json.dump({"stack": "kernel", "results": rows}, open(sys.argv[1], "w"), indent=1)
print(f"==> {sys.argv[1]}")
EOF
  # shoal: two engines of the simulator in one process, N idle connections
  # between them, then A closes all (N TIME_WAIT records) — pools and
  # tables as allocated, and the process heap (bench/tcp/memory_bench.cpp).
  local counts
  counts=$(IFS=,; echo "${shoal_counts[*]}")
  echo "==> memory: shoal, $counts idle connections"
  "$BUILD/bench/tcp/bench_tcp_memory" --counts "$counts" --json "$out/memory-shoal.json"
  "$PY" - "$out/memory-kernel.json" "$out/memory-shoal.json" <<'EOF'
import json, sys
kernel = json.load(open(sys.argv[1]))["results"]
shoal = json.load(open(sys.argv[2]))["points"]
# The kernel's own socket caches (TCP, sock_inode_cache, dentry ... and
# tw_sock_TCP); the all-slab deltas are in memory-kernel.json.
est = {r["count"]: r["socket_caches_bytes_per"] for r in kernel if r["what"].startswith("idle")}
tw = [r["time_wait_caches_bytes_per"] for r in kernel if r["what"].startswith("TIME_WAIT")]
print("bytes per idle ESTABLISHED connection (one endpoint) and per TIME_WAIT record")
print(f"{'count':>9}  {'kernel':>8} {'shoal':>8}  {'kernel TW':>9} {'shoal TW':>8}")
for i, row in enumerate(shoal):
    k = est.get(row["count"])
    kt = tw[i] if i < len(tw) else None
    f = lambda v: f"{v:8.0f}" if v else f"{'-':>8}"
    print(f"{row['count']:>9}  {f(k)} {row['established_heap_bytes']:8.0f}  "
          f"{f(kt):>9} {row['time_wait_bytes']:8.0f}")
EOF
}

build
if [[ $mode == memory ]]; then
  run_memory
else
  run_all
fi
