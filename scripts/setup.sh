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
      clang libclang-rt-14-dev bison flex ccache wrk apache2-utils)

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
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

build() { # build DIR [meson options...]
  local dir=$1
  shift
  if [[ ! -f $dir/build.ninja ]]; then
    echo "==> meson setup $dir $*"
    meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; exit 1; }
    rm -f "$dir.setup.log"
  fi
  echo "==> building $dir"
  ninja -C "$dir"
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
  install_missing
  build build
  # The unit and simulation suites again under ASan + UBSan.
  build build-san -Dsanitize=true -Dbenchmarks=false -Dinterop=false
  # The libFuzzer targets (clang, ASan + UBSan, coverage on lib/ too).
  CXX=clang++ build build-fuzz -Dfuzz=true -Dtests=false -Dbenchmarks=false -Dsanitize=true \
    -Dcpp_args=-fsanitize=fuzzer-no-link
  rc=0
  echo "==> test suite (build/)"
  meson test -C build --print-errorlogs --num-processes 2 || rc=1
  echo "==> unit + simulation suites under AddressSanitizer + UBSan (build-san/)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    meson test -C build-san --print-errorlogs --num-processes 2 --suite unit --suite sim || rc=1
  echo "==> fuzz targets, ${SHOAL_FUZZ_SECONDS:-45} s each (build-fuzz/)"
  SHOAL_FUZZ_SECONDS=${SHOAL_FUZZ_SECONDS:-45} SHOAL_FUZZ_ARTIFACTS=$ROOT/build-fuzz/fuzz-artifacts \
    meson test -C build-fuzz --print-errorlogs --suite fuzz || rc=1
  # The summary is printed last, and on stdout only once everything else
  # is done; if the summarizer itself fails without its line, say so in
  # CI's form.
  summary=$(python3 scripts/test_summary.py build/meson-logs/testlog.json \
    build-san/meson-logs/testlog.json build-fuzz/meson-logs/testlog.json 2>&1) || rc=1
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
