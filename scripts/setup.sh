#!/usr/bin/env bash
# shoal set-up: installs what is missing (Debian 12, root), configures and
# builds, then either runs the main job or the whole test suite.
#
#   scripts/setup.sh run   [config.ini]   the main job (default: configs/default.ini)
#   scripts/setup.sh test                 the whole test suite, ending with "N passed, N failed"
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

PKGS=(build-essential g++ meson ninja-build pkg-config python3
      libdpdk-dev dpdk libtbb-dev libgtest-dev libgmock-dev libbenchmark-dev libsodium-dev
      iproute2 iputils-ping iputils-arping tcpdump tshark curl python3-matplotlib
      clang libclang-rt-14-dev bison flex ccache ethtool wrk apache2-utils
      nginx redis-server redis-tools memcached nghttp2-client)

install_missing() {
  local missing=()
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "==> installing: ${missing[*]}"
    if [[ $(id -u) -ne 0 ]]; then
      echo "error: packages missing and not root: ${missing[*]}" >&2
      exit 1
    fi
    apt-get update -qq
    # The test programs (nginx, redis-server, memcached) are packaged as
    # services: keep their installation from starting daemons on this host
    # (the tests start their own, in namespaces), as Debian's policy-rc.d
    # convention allows; one already in place is left alone.
    local policy=/usr/sbin/policy-rc.d own_policy=0
    if [[ ! -e $policy ]]; then
      printf '#!/bin/sh\n# shoal set-up: no service starts while packages install\nexit 101\n' >"$policy"
      chmod 755 "$policy"
      own_policy=1
    fi
    local rc=0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" || rc=$?
    ((own_policy)) && rm -f "$policy"
    ((rc == 0)) || exit "$rc"
  fi
}

# The options a configured build directory has that differ from DIR's
# intended ones (-Dname=value ...), and a different C++ compiler than
# $CXX (or the default c++) would give; empty when it matches.
config_mismatch() { # config_mismatch DIR [meson options...]
  local dir=$1
  shift
  local want_cxx=${CXX:-c++}
  python3 - "$dir" "$want_cxx" "$@" <<'PY'
import json, os, subprocess, sys
d, cxx, opts = sys.argv[1], sys.argv[2], sys.argv[3:]
def introspect(what):
    return json.loads(subprocess.run(["meson", "introspect", what, d], check=True,
                                     capture_output=True, text=True).stdout)
have = {o["name"]: o["value"] for o in introspect("--buildoptions")}
diffs = []
for o in opts:
    k, _, v = o[2:].partition("=")
    cur = have.get(k)
    if isinstance(cur, bool):
        cur = "true" if cur else "false"
    elif isinstance(cur, list):
        cur = " ".join(cur)
    else:
        cur = str(cur)
    if cur != v:
        diffs.append(f"{k}={cur!r} (wanted {v!r})")
# The compiler the directory was configured with: the last line meson logged
# for it, "C++ compiler for the host machine: c++ (gcc 12.2.0 ...)".
comp = None
try:
    with open(os.path.join(d, "meson-logs", "meson-log.txt"), errors="replace") as f:
        for line in f:
            if line.startswith("C++ compiler for the host machine:"):
                comp = line.split("(", 1)[1].split()[0] if "(" in line else None
except OSError:
    pass
want_id = "clang" if "clang" in os.path.basename(cxx) else "gcc"
if comp != want_id:
    diffs.append(f"compiler {comp!r} (wanted {want_id!r})")
print("; ".join(diffs))
PY
}

build() { # build DIR [meson options...]: every option the directory depends on
  local dir=$1
  shift
  if [[ -f $dir/build.ninja ]]; then
    # A directory configured earlier with other options (say -Dinterop=false)
    # would build and test something else without a word: start it afresh
    # (the compiler cache keeps that cheap).
    local diff
    diff=$(config_mismatch "$dir" "$@") || diff="cannot introspect"
    if [[ -n $diff ]]; then
      echo "==> $dir was configured differently ($diff): setting it up again"
      rm -rf "$dir"
    fi
  fi
  if [[ ! -f $dir/build.ninja ]]; then
    echo "==> meson setup $dir $*"
    meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; exit 1; }
    rm -f "$dir.setup.log"
  fi
  echo "==> building $dir"
  ninja -C "$dir"
}

# Runs `meson test -C DIR ARGS...` after writing the registered tests for the
# same suites (`meson test --list`) next to its log, for test_summary.py.
run_tests() { # run_tests DIR [meson test options...]
  local dir=$1
  shift
  local -a suites=()
  local a prev=
  for a in "$@"; do
    [[ $prev == --suite ]] && suites+=(--suite "$a")
    prev=$a
  done
  mkdir -p "$dir/meson-logs"
  meson test -C "$dir" --list --no-rebuild "${suites[@]}" 2>/dev/null \
    >"$dir/meson-logs/registered-tests.txt" ||
    echo "setup: cannot list the tests of $dir" >&2
  meson test -C "$dir" "$@"
}

mode=${1:-}
shift || true

# CI reads the last line of `test`: it must be "N passed, N failed" even when
# an install or build step stops the script before any test runs.
summary_printed=0
closing_line() {
  local status=$?
  if [[ $mode == test && $summary_printed -eq 0 ]]; then
    echo "setup: stopped before the test summary (exit status $status)"
    echo "0 passed, 1 failed"
  fi
}
trap closing_line EXIT
case $mode in
run)
  install_missing
  build build
  exec "$ROOT/scripts/demo.sh" "${1:-configs/default.ini}"
  ;;
test)
  # Test logs older than this are left over from an earlier run
  # (test_summary.py counts them as failures).
  SHOAL_TEST_START=$(date +%s)
  export SHOAL_TEST_START
  install_missing
  main_opts=(-Dsanitize=false -Dfuzz=false -Dtests=true -Dbenchmarks=true -Dinterop=true
             -Dcpp_args=)
  build build "${main_opts[@]}"
  # The unit and simulation suites again under ASan + UBSan.
  build build-san -Dsanitize=true -Dfuzz=false -Dtests=true -Dbenchmarks=false -Dinterop=false \
    -Dcpp_args=
  # A user's release build (-O3, NDEBUG) must compile warning-free too: the
  # libraries, apps and benchmarks (the tests are built and run above).
  build build-rel -Dbuildtype=release -Dsanitize=false -Dfuzz=false -Dtests=false \
    -Dbenchmarks=true -Dinterop=false -Dcpp_args=
  # The libFuzzer targets (clang, ASan + UBSan, coverage on lib/ too).
  CXX=clang++ build build-fuzz -Dfuzz=true -Dtests=false -Dbenchmarks=false -Dsanitize=true \
    -Dcpp_args=-fsanitize=fuzzer-no-link
  rc=0
  echo "==> test suite (build/)"
  run_tests build --print-errorlogs --num-processes 2 || rc=1
  echo "==> unit + simulation suites under AddressSanitizer + UBSan (build-san/)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_tests build-san --print-errorlogs --num-processes 2 --suite unit --suite sim || rc=1
  echo "==> fuzz targets, ${SHOAL_FUZZ_SECONDS:-45} s each, and the regression inputs (build-fuzz/)"
  SHOAL_FUZZ_SECONDS=${SHOAL_FUZZ_SECONDS:-45} SHOAL_FUZZ_ARTIFACTS=$ROOT/build-fuzz/fuzz-artifacts \
    run_tests build-fuzz --print-errorlogs --suite fuzz || rc=1
  # The summary is printed last, and on stdout only once everything else
  # is done; if the summarizer itself fails without its line, say so in
  # CI's form. Each log is checked against the tests its directory
  # registers for the suites run, and against this run's start.
  summary=$(python3 scripts/test_summary.py \
    build/meson-logs/testlog.json=build/meson-logs/registered-tests.txt \
    build-san/meson-logs/testlog.json=build-san/meson-logs/registered-tests.txt \
    build-fuzz/meson-logs/testlog.json=build-fuzz/meson-logs/registered-tests.txt 2>&1) || rc=1
  summary_printed=1
  if [[ $(tail -n 1 <<<"$summary") =~ ^[0-9]+\ passed,\ [0-9]+\ failed$ ]]; then
    echo "$summary"
  else
    echo "$summary"
    echo "setup: the test summary could not be computed"
    echo "0 passed, 1 failed"
    rc=1
  fi
  exit $rc
  ;;
*)
  echo "usage: $0 run [config.ini] | test" >&2
  exit 2
  ;;
esac
