#!/usr/bin/env python3
"""SYN flood against an in-process shoal server, short.

    synflood_test.py SHOAL_SYNFLOOD [--baseline S] [--flood S]

Runs `shoal-synflood ring --queue-limit 8` on lcores 0 and 1: legitimate
clients alone for --baseline seconds (default 5), then under the fastest SYN
flood the generator reaches for --flood seconds (default 15), the wire
flow-controlled (flood frames offered only while fewer than 8 wait in the
server's rx ring; see scripts/synflood.sh). Passes when, in the flood phase:
  - every legitimate attempt that was decided succeeded (100 %), and at
    least one succeeded in each phase;
  - the server sent SYN cookies and validated some (the legitimate clients'
    handshakes went through cookies), and its SYN backlog was full;
  - the server's memory stayed flat once the backlog was full: engine bytes
    (connection pool, flow table, TIME_WAIT, cookie record) of the last
    sample within 1 % + 16 KiB of the sample 2 s into the flood, and the
    mbufs in use never above what the queues can hold (ring + tx backlog +
    tx batch + legitimate send queues: see scripts/synflood_report.py);
These are behaviour, independent of how fast the machine is. Rates, the
handshake latency under the flood against the no-flood one, and SYN
retransmissions depend on what else the machine runs; they are printed in
the summary line here, and judged by scripts/synflood.sh and its report.
Exit 0 pass, 1 fail (the reasons and the per-second lines on stderr),
77 skip (not root; under CI=true a failure instead).
"""
import json
import os
import subprocess
import sys
import tempfile

from checks import skip


def mbuf_bound(config):
    # As scripts/synflood_report.py: ring to the client + the stack's tx
    # backlog (2048) + tx batch (64) + legitimate connections' send queues.
    return config["ring_size"] + 2048 + 64 + 4 * config["legit_concurrency"]


def check(run):
    """The list of failed criteria (empty: pass), and a one-line summary."""
    bad = []
    b, f = run["phases"]["baseline"], run["phases"]["flood"]
    if run.get("interrupted"):
        bad.append("the run was interrupted")
    if b["successes"] == 0 or b["failures"] != 0:
        bad.append("baseline: %d ok, %d failed %s" % (b["successes"], b["failures"], b["failure"]))
    if f["successes"] == 0 or f["failures"] != 0:
        bad.append("flood: %d ok, %d failed %s (100%% required)"
                   % (f["successes"], f["failures"], f["failure"]))
    series = [s for s in run["series"] if "server" in s]
    flood = [s for s in series if s["flood"]]
    if not flood:
        return bad + ["no server samples during the flood"], ""
    last = series[-1]["server"]
    if last["cookies_sent"] == 0 or last["cookies_validated"] == 0:
        bad.append("cookies sent %d, validated %d (both must be > 0)"
                   % (last["cookies_sent"], last["cookies_validated"]))
    backlog = run["config"]["backlog"]
    if max(s["server"]["syn_received"] for s in flood) < backlog:
        bad.append("the SYN backlog (%d) never filled" % backlog)
    start = run["baseline_s"] + 2.0
    settled = [s for s in flood if s["t"] >= start]
    if len(settled) < 2:
        bad.append("fewer than 2 samples after the backlog filled")
    else:
        e0, e1 = settled[0]["server"]["engine_bytes"], settled[-1]["server"]["engine_bytes"]
        if e1 > e0 * 1.01 + 16384:
            bad.append("engine memory grew: %d -> %d bytes" % (e0, e1))
        mb = max(s["server"]["mbufs_in_use"] for s in flood)
        if mb > mbuf_bound(run["config"]):
            bad.append("mbufs in use %d > bound %d" % (mb, mbuf_bound(run["config"])))
    # Reported, not judged (see the module's doc).
    p0, p1 = b["handshake_us"]["p99"], f["handshake_us"]["p99"]
    summary = ("flood %.3f Mpps (max %.3f); legit baseline %d/%d, flood %d/%d; hs p99 %.1f -> "
               "%.1f us; cookies sent %d validated %d; engine %d -> %d bytes; "
               "client SYN retransmits %d" % (
                   run["flood"]["pps_mean"] / 1e6, run["flood"]["pps_max"] / 1e6,
                   b["successes"], b["successes"] + b["failures"], f["successes"],
                   f["successes"] + f["failures"], p0, p1, last["cookies_sent"],
                   last["cookies_validated"],
                   settled[0]["server"]["engine_bytes"] if settled else 0,
                   settled[-1]["server"]["engine_bytes"] if settled else 0,
                   run.get("client", {}).get("syn_retransmits", -1)))
    return bad, summary


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    exe = args[0]
    baseline, flood = 5, 15
    if "--baseline" in args:
        baseline = float(args[args.index("--baseline") + 1])
    if "--flood" in args:
        flood = float(args[args.index("--flood") + 1])
    if os.geteuid() != 0:
        return skip("synflood_test: needs root for the EAL", sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "run.json")
        cmd = ["taskset", "-c", "0,1", exe, "ring", "--lcores", "0,1", "--backlog", "128",
               "--queue-limit", "8",
               "--baseline", str(baseline), "--duration", str(baseline + flood),
               "--flood-rate", "0", "--legit-rate", "200", "--legit-timeout-ms", "3000",
               "--label", "synflood_test", "--json", out]
        print("synflood_test: " + " ".join(cmd), file=sys.stderr, flush=True)
        try:
            proc = subprocess.run(cmd, timeout=baseline + flood + 40)
        except subprocess.TimeoutExpired:
            print("synflood_test: FAIL: shoal-synflood did not finish in time", file=sys.stderr)
            return 1
        if proc.returncode != 0:
            print("synflood_test: FAIL: shoal-synflood exited %d" % proc.returncode,
                  file=sys.stderr)
            return 1
        with open(out) as f:
            run = json.load(f)
    bad, summary = check(run)
    print("synflood_test: " + summary, file=sys.stderr)
    for reason in bad:
        print("synflood_test: FAIL: " + reason, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
