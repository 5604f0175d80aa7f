#!/bin/sh
# Runs one packetdrill script against shoal (one script per process).
#   run_packetdrill.sh <path to libshoal_packetdrill.so> <script.pkt> [packetdrill options]
# packetdrill itself is not part of shoal: build it yourself and put it on
# PATH, or point SHOAL_PACKETDRILL at the binary. Without it: skipped (77).
so="$(realpath "$1")"
script="$(realpath "$2")"
shift 2
pd="${SHOAL_PACKETDRILL:-$(command -v packetdrill 2>/dev/null)}"
if [ -z "$pd" ] || [ ! -x "$pd" ]; then
  echo "packetdrill not found (install it or set SHOAL_PACKETDRILL): skipped"
  exit 77
fi
# The adapter's engine must own packetdrill's local address.
local_ip="${SHOAL_PACKETDRILL_LOCAL_IP:-192.168.0.1}"
cd "${TMPDIR:-/tmp}" || exit 1
exec "$pd" --so_filename="$so" --local_ip="$local_ip" --so_flags="local_ip=$local_ip" "$@" "$script"
