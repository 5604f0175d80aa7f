#!/bin/sh
# Runs one packetdrill script against shoal (one script per process).
#   run_packetdrill.sh <path to libshoal_packetdrill.so> <script.pkt> [packetdrill options]
# packetdrill itself is not part of shoal. The binary used, first found:
#   $SHOAL_PACKETDRILL; the one meson built into the build directory
#   ($SHOAL_PACKETDRILL_BUILT, from the shared/packetdrill sources next to the
#   checkout); packetdrill on PATH.
# None found: skipped (exit 77), or a failure when CI=true.
# $SHOAL_PACKETDRILL_SO_FLAGS: more adapter so_flags (e.g. quickack_segments=0).
so="$(realpath "$1")"
script="$(realpath "$2")"
shift 2
pd="${SHOAL_PACKETDRILL:-}"
if [ -z "$pd" ] && [ -n "${SHOAL_PACKETDRILL_BUILT:-}" ] && [ -x "$SHOAL_PACKETDRILL_BUILT" ]; then
  pd="$SHOAL_PACKETDRILL_BUILT"
fi
[ -n "$pd" ] || pd="$(command -v packetdrill 2>/dev/null)"
if [ -z "$pd" ] || [ ! -x "$pd" ]; then
  why="packetdrill not found"
  [ -n "${SHOAL_PACKETDRILL_MISSING:-}" ] && why="$why (no $SHOAL_PACKETDRILL_MISSING to build it from)"
  if [ "${CI:-}" = "true" ]; then
    echo "FAIL: $why; CI=true requires the packetdrill tests to run" >&2
    exit 1
  fi
  echo "$why (set SHOAL_PACKETDRILL or put packetdrill on PATH): skipped"
  exit 77
fi
# The adapter's engine must own packetdrill's local address.
local_ip="${SHOAL_PACKETDRILL_LOCAL_IP:-192.168.0.1}"
cd "${TMPDIR:-/tmp}" || exit 1
# Not exec'd: whatever way packetdrill ends (a failed script, a signal), the
# EAL runtime directory of its process id is removed afterwards.
"$pd" --so_filename="$so" --local_ip="$local_ip" --so_flags="local_ip=$local_ip ${SHOAL_PACKETDRILL_SO_FLAGS:-}" "$@" "$script" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null' INT TERM
wait "$pid"
rc=$?
if [ "$rc" -gt 128 ]; then
  wait "$pid" 2>/dev/null
fi
rm -rf "/var/run/dpdk/shoal-pd-$pid"
exit "$rc"
