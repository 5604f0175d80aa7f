#!/usr/bin/env python3
"""The SYN-flood comparison's report (scripts/synflood.sh).

    synflood_report.py DIR [--no-plots]

Reads DIR/kernel.json, DIR/shoal_kernel_rate.json and DIR/shoal.json
(apps/shoal-synflood's JSON; any may be missing), DIR/kernel_memory.json (the kernel's TCP slabs and socket
memory over time) and DIR/kernel_nstat.json; writes DIR/summary.json, prints
a plain table and the acceptance verdict for shoal, and draws
success_rate.png, handshake_p99.png, memory.png and timeline.png
(python3-matplotlib).

Memory "after the backlog is full" is the first per-second sample at least
2 s into the flood; "flat" compares the last flood sample with it.
"""
import json
import os
import sys

MIB = 1024.0 * 1024.0
# (name, file): the kernel; shoal under the kernel run's flood rate; shoal
# under the fastest flood on a flow-controlled wire (the acceptance run);
# the same on a plain FIFO wire (the server's capacity).
RUNS = (("kernel", "kernel.json"), ("shoal@kernel-rate", "shoal_kernel_rate.json"),
        ("shoal", "shoal.json"), ("shoal-fifo", "shoal_fifo.json"))
SETTLE_S = 2.0  # into the flood: the backlog is long full at any rate here


def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def kernel_memory_series(run, samples):
    """[(t, bytes)] of the kernel's TCP memory on the run's clock."""
    if not run or not samples:
        return []
    t0 = run.get("start_unix", 0)
    out = []
    for s in samples:
        b = s["request_sock_bytes"] + s["sock_bytes"] + s["tw_bytes"] + s["buffer_bytes"]
        out.append((s["unix"] - t0, b))
    return [(t, b) for t, b in out if -1 <= t <= run["baseline_s"] + run["flood_s"] + 1]


def shoal_memory_series(run):
    return [(s["t"], s["server"]["total_bytes"]) for s in run["series"] if "server" in s]


def flat(series, flood_start, flood_end):
    """(bytes after the backlog filled, last bytes in the flood, max in between)."""
    inside = [(t, b) for t, b in series if flood_start + SETTLE_S <= t <= flood_end + 0.5]
    if not inside:
        return None
    return inside[0][1], inside[-1][1], max(b for _, b in inside)


def summarize(name, run, mem_series):
    b, f = run["phases"]["baseline"], run["phases"]["flood"]
    s = {
        "target": name,
        "flood_pps_mean": run["flood"]["pps_mean"],
        "flood_pps_max": run["flood"]["pps_max"],
        "flood_sent": run["flood"]["sent"],
        "baseline": {k: b[k] for k in ("attempts", "successes", "failures", "unfinished", "success_pct")},
        "flood": {k: f[k] for k in ("attempts", "successes", "failures", "unfinished", "success_pct")},
    }
    s["baseline"]["hs_p50_us"] = b["handshake_us"]["p50"]
    s["baseline"]["hs_p99_us"] = b["handshake_us"]["p99"]
    s["flood"]["hs_p50_us"] = f["handshake_us"]["p50"]
    s["flood"]["hs_p99_us"] = f["handshake_us"]["p99"]
    s["flood"]["failure"] = f["failure"]
    base_p99 = b["handshake_us"]["p99"]
    s["p99_ratio"] = f["handshake_us"]["p99"] / base_p99 if base_p99 > 0 else None
    fs = run["baseline_s"]
    m = flat(mem_series, fs, fs + run["flood_s"])
    if m:
        s["memory"] = {"after_full_bytes": m[0], "last_bytes": m[1], "max_bytes": m[2],
                       "growth_pct": 100.0 * (m[1] - m[0]) / m[0] if m[0] else 0.0}
    if name != "kernel":
        last = [x["server"] for x in run["series"] if "server" in x]
        if last:
            srv = last[-1]
            s["server_counters"] = {k: srv[k] for k in (
                "syns_received", "cookies_sent", "cookies_validated", "cookies_rejected",
                "backlog_drops", "accept_queue_drops", "accepted", "tx_full_drops")}
            eng = [(x["t"], x["server"]["engine_bytes"]) for x in run["series"] if "server" in x]
            e = flat(eng, fs, fs + run["flood_s"])
            if e:
                s["memory"]["engine_after_full_bytes"] = e[0]
                s["memory"]["engine_last_bytes"] = e[1]
            s["memory"]["mbufs_in_use_max"] = max(
                x["server"]["mbufs_in_use"] for x in run["series"] if x["flood"])
            s["memory"]["mbufs_bound"] = mbuf_bound(run["config"])
        s["client"] = run.get("client", {})
    return s


def mbuf_bound(config):
    """The server's mbufs a flood can hold at once, whatever its length: its
    SYN-ACKs waiting in the ring to the client, its tx backlog (the stack
    keeps 2048 frames the wire refused) and tx batch (64), and the send queues
    of the legitimate connections in flight."""
    return config["ring_size"] + 2048 + 64 + 4 * config["legit_concurrency"]


def memory_flat(m):
    """Engine memory (connection pool, flow table, TIME_WAIT, cookie record)
    flat within 1 % + 16 KiB (legit connections come and go), and the mbufs
    in use bounded by what the queues can hold (mbuf_bound)."""
    return (m["engine_last_bytes"] <= m["engine_after_full_bytes"] * 1.01 + 16384
            and m["mbufs_in_use_max"] <= m["mbufs_bound"])


def verdict(s):
    """The issue's acceptance for shoal: 100 % legit, p99 within 2x, memory flat."""
    checks = []
    f = s["flood"]
    checks.append(("100% of legitimate handshakes under the flood",
                   f["failures"] == 0 and f["successes"] > 0,
                   "%d/%d" % (f["successes"], f["successes"] + f["failures"])))
    r = s.get("p99_ratio")
    checks.append(("p99 handshake within 2x of no-flood p99", r is not None and r <= 2.0,
                   "%.1f -> %.1f us (%.2fx)" % (s["baseline"]["hs_p99_us"], f["hs_p99_us"], r or 0)))
    m = s.get("memory")
    if m and "engine_after_full_bytes" in m:
        checks.append(("server memory flat once the backlog is full", memory_flat(m),
                       "engine %d -> %d bytes; mbufs in use <= %d (bound %d); total %.2f -> %.2f MiB"
                       % (m["engine_after_full_bytes"], m["engine_last_bytes"],
                          m["mbufs_in_use_max"], m["mbufs_bound"],
                          m["after_full_bytes"] / MIB, m["last_bytes"] / MIB)))
    return checks


def table(summaries):
    head = "%-17s %-9s %11s %13s %8s %10s %10s %7s %14s" % (
        "target", "phase", "flood Mpps", "legit ok/all", "ok %", "hs p50 us", "hs p99 us",
        "p99 x", "memory MiB")
    lines = [head, "-" * len(head)]
    for s in summaries:
        for phase in ("baseline", "flood"):
            p = s[phase]
            decided = p["successes"] + p["failures"]
            if phase == "flood":
                rate = "%.3f/%.3f" % (s["flood_pps_mean"] / 1e6, s["flood_pps_max"] / 1e6)
                ratio = "%.2f" % s["p99_ratio"] if s.get("p99_ratio") else "-"
                m = s.get("memory")
                mem = "%.2f->%.2f" % (m["after_full_bytes"] / MIB, m["last_bytes"] / MIB) if m else "-"
            else:
                rate, ratio, mem = "-", "", ""
            lines.append("%-17s %-9s %11s %13s %8.2f %10.1f %10.1f %7s %14s" % (
                s["target"], phase, rate, "%d/%d" % (p["successes"], decided), p["success_pct"],
                p["hs_p50_us"], p["hs_p99_us"], ratio, mem))
    lines.append("(flood Mpps: mean/max of the per-second rate the wire took; memory: server "
                 "memory %g s into the flood -> at its end; kernel: TCP slabs + socket buffers)"
                 % SETTLE_S)
    return "\n".join(lines)


def plots(out, runs, summaries, mem):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("synflood_report: python3-matplotlib not installed: no plots", file=sys.stderr)
        return
    names = [s["target"] for s in summaries]
    colors = {"baseline": "#4c72b0", "flood": "#dd8452"}
    x = range(len(names))

    def bars(key, ylabel, title, fname, log=False):
        fig, ax = plt.subplots(figsize=(6, 4))
        for i, phase in enumerate(("baseline", "flood")):
            vals = [s[phase][key] for s in summaries]
            pos = [k + (i - 0.5) * 0.38 for k in x]
            ax.bar(pos, vals, 0.38, label="no flood" if phase == "baseline" else "flood",
                   color=colors[phase])
            for p, v in zip(pos, vals):
                ax.text(p, v, ("%.1f" % v), ha="center", va="bottom", fontsize=8)
        ax.set_xticks(list(x))
        ax.set_xticklabels(names)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        if log:
            ax.set_yscale("log")
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(out, fname), dpi=110)
        plt.close(fig)

    bars("success_pct", "legitimate transactions succeeded (%)", "Legitimate success rate",
         "success_rate.png")
    bars("hs_p99_us", "p99 handshake latency (us, log)", "Handshake p99 (connect -> ESTABLISHED)",
         "handshake_p99.png", log=True)

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, series in mem.items():
        if series:
            ax.plot([t for t, _ in series], [b / MIB for _, b in series], label=name, marker=".")
            fs = runs[name]["baseline_s"]
            ax.axvline(fs, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("seconds (flood starts at the dotted line)")
    ax.set_ylabel("server memory (MiB)")
    ax.set_title("Server memory over time\n(shoal: mbufs in use + engine; kernel: TCP slabs + buffers)",
                 fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "memory.png"), dpi=110)
    plt.close(fig)

    fig, (a1, a2) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    for name, run in runs.items():
        ser = run["series"]
        a1.plot([s["t"] for s in ser], [s["flood_pps"] / 1e6 for s in ser], label=name, marker=".")
        pts = [(s["t"], s["hs_p99_us"]) for s in ser if s["handshakes"] > 0]
        a2.plot([t for t, _ in pts], [v for _, v in pts], label=name, marker=".")
    a1.set_ylabel("flood (Mpps taken by the wire)")
    a2.set_ylabel("handshake p99 per second (us, log)")
    a2.set_yscale("log")
    a2.set_xlabel("seconds")
    a1.legend()
    a2.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "timeline.png"), dpi=110)
    plt.close(fig)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    out = args[0]
    runs = {}
    for name, fname in RUNS:
        r = load(os.path.join(out, fname))
        if r:
            runs[name] = r
    if not runs:
        print("synflood_report: no shoal.json or kernel.json in " + out, file=sys.stderr)
        return 1
    kmem = load(os.path.join(out, "kernel_memory.json"), [])
    mem = {}
    for name, run in runs.items():
        mem[name] = (kernel_memory_series(run, kmem) if name == "kernel"
                     else shoal_memory_series(run))
    summaries = [summarize(n, runs[n], mem.get(n, [])) for n in runs]
    nstat = load(os.path.join(out, "kernel_nstat.json"), {})
    if "kernel" in runs and nstat:
        counters = {}
        for ns in nstat.values():
            if isinstance(ns, dict):
                counters.update(ns)
        keep = ("TcpExtSyncookiesSent", "TcpExtSyncookiesRecv", "TcpExtSyncookiesFailed",
                "TcpExtListenOverflows", "TcpExtListenDrops", "TcpExtTCPReqQFullDoCookies",
                "TcpExtTCPReqQFullDrop", "TcpPassiveOpens")
        for s in summaries:
            if s["target"] == "kernel":
                s["kernel_counters"] = {k: counters.get(k, 0) for k in keep}
    result = {"targets": summaries}
    for s in summaries:
        if s["target"] != "kernel":
            s["acceptance"] = [{"check": c, "ok": ok, "value": v} for c, ok, v in verdict(s)]
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(table(summaries))
    for s in summaries:
        if "server_counters" in s:
            print(s["target"] + " server: " + ", ".join("%s %d" % kv for kv in s["server_counters"].items()))
        if "kernel_counters" in s:
            print("kernel: " + ", ".join("%s %d" % kv for kv in s["kernel_counters"].items()))
    for s in summaries:
        for c in s.get("acceptance", []):
            print("%-4s %-17s %s: %s" % ("ok" if c["ok"] else "FAIL", s["target"], c["check"],
                                         c["value"]))
    if "--no-plots" not in sys.argv:
        plots(out, runs, summaries, mem)
        print("plots: " + ", ".join(os.path.join(out, p) for p in (
            "success_rate.png", "handshake_p99.png", "memory.png", "timeline.png")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
