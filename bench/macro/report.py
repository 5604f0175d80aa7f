#!/usr/bin/env python3
"""Macro-benchmark report (scripts/bench.sh).

    report.py aggregate OUT     raw runs in OUT/raw/<stack>/<point>/rep<k>.client.json
                                -> OUT/<stack>.json, OUT/results.json, a plain
                                table on stdout, OUT/*.png (python3-matplotlib)
    report.py check FILE [--expect-completed N] [--expect-transactions N]
                         [--expect-bytes N]
                                one kernel_bench (or shoal-churn) JSON is well
                                formed and clean (the smoke test)

Stacks (the issue's three ways; a column appears once its raw runs exist):
    shoal-ring  (a) shoal client and server in one process over a ring device
    kernel      (b) the same workload logic on Linux sockets over 127.0.0.1
    shoal-tap   (c) a shoal server on a TAP device, kernel client
Ratios are shoal / kernel of the median of the repetitions, per point.
"""
import json
import os
import platform
import statistics
import subprocess
import sys
import time

STACKS = [
    ("shoal-ring", "(a) shoal<->shoal, ring device"),
    ("kernel", "(b) kernel, 127.0.0.1"),
    ("shoal-tap", "(c) shoal server on TAP, kernel client"),
]

# The targets for one core pair: a ratio shoal / kernel in the same run (of
# the medians; for bulk, shoal's slowest repetition against the kernel's
# fastest, so that every repetition counts) and, where given, a rate.
TARGETS = [
    # (predicate on a point, minimum ratio, minimum median rate, text)
    (lambda p: p["workload"] == "churn" and p["concurrency"] >= 64, 40.0, 1e6, "churn >= 1M/s and 40x"),
    (lambda p: p["workload"] == "rr" and p["concurrency"] == 64, 20.0, 3e6, "rr 64 conns >= 3M/s and 20x"),
    (lambda p: p["workload"] == "bulk", 2.0, 0.0, "bulk >= 2x in every repetition"),
]


def load(path):
    with open(path) as f:
        return json.load(f)


# ---------------------------------------------------------------- check


def check(argv):
    path = argv[0]
    expect = {}
    i = 1
    while i < len(argv):
        key = argv[i].removeprefix("--expect-")
        expect[key] = int(argv[i + 1])
        i += 2
    try:
        r = load(path)
    except (OSError, ValueError) as e:
        print(f"check: {path}: not JSON: {e}", file=sys.stderr)
        return 1
    problems = []
    if r.get("role") == "server":
        # A server's resets at the end of a bulk download are the client
        # closing with unread data; only malformed requests are failures.
        if r["errors"].get("bad_request", 0):
            problems.append(f"bad_request {r['errors']['bad_request']}")
        if r["accepted"] != r["closed"]:
            problems.append(f"accepted {r['accepted']} != closed {r['closed']}")
    else:
        for key in ("workload", "rate", "rate_unit", "elapsed_s", "errors",
                    "connect_latency_ns", "transaction_latency_ns"):
            if key not in r:
                problems.append(f"missing {key}")
        if not problems:
            if r["errors"]["total"]:
                problems.append("errors " + json.dumps(
                    {k: v for k, v in r["errors"].items() if v}))
            if not r["rate"] > 0:
                problems.append(f"rate {r['rate']}")
            for key, n in expect.items():
                got = r.get(key)
                if got is None or got < n:
                    problems.append(f"{key} {got} < expected {n}")
            if r["workload"] != "bulk" and r["transaction_latency_ns"]["count"] != r["transactions"]:
                problems.append("latency samples != transactions")
    if problems:
        print(f"check: {path}: FAIL: " + "; ".join(problems), file=sys.stderr)
        print(json.dumps({k: v for k, v in r.items() if not k.endswith("_ns")}), file=sys.stderr)
        return 1
    if r.get("role") == "server":
        print(f"check: {path}: server ok, accepted {r['accepted']}, requests {r['requests']}")
    else:
        print(f"check: {path}: ok, {r['workload']} {r['rate']:.0f} {r['rate_unit']}, "
              f"p50 {fmt_ns(pct(r, '50'))} p99 {fmt_ns(pct(r, '99'))}")
    return 0


# ---------------------------------------------------------------- aggregate


def pct(run, p, which="transaction_latency_ns"):
    return run[which]["percentiles"][p]


def fmt_ns(ns):
    if ns is None:
        return "-"
    if ns < 1e3:
        return f"{ns:.0f}ns"
    if ns < 1e6:
        return f"{ns / 1e3:.0f}us" if ns >= 1e4 else f"{ns / 1e3:.1f}us"
    if ns < 1e9:
        return f"{ns / 1e6:.1f}ms"
    return f"{ns / 1e9:.2f}s"


def fmt_rate(v, unit):
    if v is None:
        return "-"
    if unit == "MiB/s":
        return f"{v:.0f}"
    if v >= 1e6:
        return f"{v / 1e6:.2f}M"
    if v >= 1e3:
        return f"{v / 1e3:.1f}k"
    return f"{v:.0f}"


def point_key(p):
    order = {"churn": 0, "rr": 1, "bulk": 2}
    return (order.get(p["workload"], 9), p.get("closer") or "", p.get("direction") or "",
            p["concurrency"])


def point_title(p):
    if p["workload"] == "churn":
        return f"churn, {p['closer']} closes"
    if p["workload"] == "rr":
        return "persistent RR"
    return f"bulk {p.get('direction', 'download')}"


def summarize_point(name, runs):
    """min/median/max of the headline rate over repetitions, plus the
    latency percentiles of the repetition with the median rate."""
    runs = sorted(runs, key=lambda r: r["rate"])
    med_run = runs[len(runs) // 2]
    rates = [r["rate"] for r in runs]
    first = runs[0]
    p = {
        "point": name,
        "workload": first["workload"],
        "closer": first.get("closer"),
        "direction": first.get("direction"),
        "concurrency": first["concurrency"],
        "request_size": first["request_size"],
        "response_size": first["response_size"],
        "rate_unit": first["rate_unit"],
        "repetitions": len(runs),
        "rate": {"min": min(rates), "median": statistics.median(rates), "max": max(rates),
                 "all": rates},
        "errors": sum(r["errors"]["total"] for r in runs),
        "errors_by_kind": {},
        "transaction_latency_ns": {k: med_run["transaction_latency_ns"]["percentiles"][k]
                                   for k in ("50", "90", "99", "99.9")},
        "connect_latency_ns": {k: med_run["connect_latency_ns"]["percentiles"][k]
                               for k in ("50", "90", "99", "99.9")},
        # for the CDF plots: the median repetition's histograms
        "transaction_cdf": med_run["transaction_latency_ns"]["cdf"],
        "connect_cdf": med_run["connect_latency_ns"]["cdf"],
    }
    for r in runs:
        for k, v in r["errors"].items():
            if k != "total" and v:
                p["errors_by_kind"][k] = p["errors_by_kind"].get(k, 0) + v
    return p


def collect(out):
    """{stack: {point: summary}} from OUT/raw."""
    stacks = {}
    raw = os.path.join(out, "raw")
    if not os.path.isdir(raw):
        return stacks
    for stack in sorted(os.listdir(raw)):
        sdir = os.path.join(raw, stack)
        for point in sorted(os.listdir(sdir)):
            pdir = os.path.join(sdir, point)
            runs = []
            for f in sorted(os.listdir(pdir)):
                if f.endswith(".client.json"):
                    try:
                        runs.append(load(os.path.join(pdir, f)))
                    except (OSError, ValueError) as e:
                        print(f"report: skipping {pdir}/{f}: {e}", file=sys.stderr)
            if runs:
                stacks.setdefault(stack, {})[point] = summarize_point(point, runs)
    return stacks


def machine():
    m = {"kernel": platform.release(), "machine": platform.machine(), "cpus": os.cpu_count(),
         "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    m["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        m["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                     text=True, check=True,
                                     cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return m


def ratios(stacks):
    """shoal / kernel per point, for each shoal stack present."""
    out = {}
    kernel = stacks.get("kernel", {})
    for stack, _ in STACKS:
        if stack == "kernel" or stack not in stacks:
            continue
        for name, p in stacks[stack].items():
            k = kernel.get(name)
            if not k or not k["rate"]["median"]:
                continue
            r = p["rate"]["median"] / k["rate"]["median"]
            entry = {"ratio": r}
            # The targets are for (a), shoal against the kernel with
            # no kernel in shoal's path; (c) is for reference.
            for pred, minimum, rate, text in TARGETS if stack == "shoal-ring" else []:
                if pred(p):
                    judged = r
                    if p["workload"] == "bulk" and k["rate"]["max"]:
                        judged = p["rate"]["min"] / k["rate"]["max"]
                    entry["target"] = text
                    entry["met"] = judged >= minimum and p["rate"]["median"] >= rate
            out.setdefault(stack, {})[name] = entry
    return out


def table(stacks, rat):
    points = {}
    for s in stacks.values():
        for name, p in s.items():
            points.setdefault(name, p)
    names = sorted(points, key=lambda n: point_key(points[n]))
    present = [s for s, _ in STACKS if s in stacks]
    lines = []
    head = f"{'workload':<24}{'conc':>5}  {'unit':<7}"
    for s in present:
        head += f"{s + ' min/med/max':>26}  {'p50/p99':>15}"
        if s != "kernel":
            head += f"{'ratio':>8}"
    head += "  target"
    lines.append(head)
    lines.append("-" * len(head))
    for n in names:
        p = points[n]
        row = f"{point_title(p):<24}{p['concurrency']:>5}  {p['rate_unit']:<7}"
        target = ""
        for s in present:
            q = stacks[s].get(n)
            if q is None:
                row += f"{'(not run)':>26}  {'':>15}"
                if s != "kernel":
                    row += f"{'':>8}"
                continue
            u = q["rate_unit"]
            r = q["rate"]
            rates = " / ".join(fmt_rate(r[k], u) for k in ("min", "median", "max"))
            row += f"{rates:>26}"
            lat = ("-" if q["workload"] == "bulk" else
                   fmt_ns(q["transaction_latency_ns"]["50"]) + "/" +
                   fmt_ns(q["transaction_latency_ns"]["99"]))
            row += f"  {lat:>15}"
            if s != "kernel":
                e = rat.get(s, {}).get(n)
                ratio_text = f"{e['ratio']:.1f}x" if e else "-"
                row += f"{ratio_text:>8}"
                if e and "target" in e:
                    target = e["target"] + (" met" if e["met"] else " MISSED")
            if q["errors"]:
                row += f"  [errors {q['errors']}: {q['errors_by_kind']}]"
        if not target:
            for pred, _, _, text in TARGETS:
                if pred(p):
                    target = text
        row += "  " + target
        lines.append(row)
    return "\n".join(lines)


def plots(out, stacks):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("report: python3-matplotlib not installed: no plots", file=sys.stderr)
        return []
    made = []
    colors = {"shoal-ring": "tab:blue", "kernel": "tab:red", "shoal-tap": "tab:green"}
    labels = dict(STACKS)

    # Rate against concurrency: one panel per workload family.
    families = [("churn", "client", "connections/s"), ("churn", "server", "connections/s"),
                ("rr", None, "requests/s")]
    fig, axes = plt.subplots(1, len(families), figsize=(15, 4.5))
    for ax, (wl, closer, unit) in zip(axes, families):
        for stack, _ in STACKS:
            pts = sorted((p for p in stacks.get(stack, {}).values()
                          if p["workload"] == wl and (closer is None or p["closer"] == closer)),
                         key=lambda p: p["concurrency"])
            if not pts:
                continue
            x = [p["concurrency"] for p in pts]
            med = [p["rate"]["median"] for p in pts]
            lo = [m - p["rate"]["min"] for m, p in zip(med, pts)]
            hi = [p["rate"]["max"] - m for m, p in zip(med, pts)]
            ax.errorbar(x, med, yerr=[lo, hi], marker="o", capsize=4, color=colors[stack],
                        label=labels[stack])
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("concurrency (connections in flight)")
        ax.set_ylabel(unit)
        ax.set_title(f"{wl}" + (f", {closer} closes first" if closer else ", persistent"))
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle("rate against concurrency (median of repetitions, bars: min..max)")
    fig.tight_layout()
    path = os.path.join(out, "rate_vs_concurrency.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    made.append(path)

    # Latency CDFs: transaction latency for every churn and rr point, and
    # connect latency for churn, of the median repetition.
    def cdf_panel(ax, stack_points, which, title):
        for stack, p in stack_points:
            for conc_p in p:
                cdf = conc_p[which]
                if not cdf:
                    continue
                xs = [v / 1e3 for v, _ in cdf]
                ys = [f for _, f in cdf]
                style = {1: ":", 8: "--", 64: "-"}.get(conc_p["concurrency"], "-.")
                ax.plot(xs, ys, style, color=colors[stack], drawstyle="steps-post",
                        label=f"{stack} c={conc_p['concurrency']}")
        ax.set_xscale("log")
        ax.set_xlabel("latency (us)")
        ax.set_ylabel("fraction <= x")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)

    panels = [
        ("churn", "client", "transaction_cdf", "churn, client closes: whole transaction"),
        ("churn", "server", "transaction_cdf", "churn, server closes: whole transaction"),
        ("churn", "client", "connect_cdf", "churn, client closes: connect"),
        ("rr", None, "transaction_cdf", "persistent RR: request -> response"),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    for ax, (wl, closer, which, title) in zip(axes.flat, panels):
        sp = []
        for stack, _ in STACKS:
            pts = sorted((p for p in stacks.get(stack, {}).values()
                          if p["workload"] == wl and (closer is None or p["closer"] == closer)),
                         key=lambda p: p["concurrency"])
            if pts:
                sp.append((stack, pts))
        cdf_panel(ax, sp, which, title)
    fig.suptitle("latency CDFs (median repetition of each point)")
    fig.tight_layout()
    path = os.path.join(out, "latency_cdf.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    made.append(path)
    return made


def aggregate(out):
    stacks = collect(out)
    if not stacks:
        print(f"report: no raw runs under {out}/raw", file=sys.stderr)
        return 1
    rat = ratios(stacks)
    mach = machine()
    for stack, points in stacks.items():
        with open(os.path.join(out, f"{stack}.json"), "w") as f:
            json.dump({"stack": stack, "description": dict(STACKS).get(stack, stack),
                       "machine": mach, "points": points}, f, indent=1)
    results = {"machine": mach, "stacks": {s: dict(STACKS).get(s, s) for s in stacks},
               "points": {s: {n: {k: v for k, v in p.items() if not k.endswith("_cdf")}
                              for n, p in pts.items()} for s, pts in stacks.items()},
               "ratios": rat}
    mem = os.path.join(out, "memory-kernel.json")
    if os.path.exists(mem):
        results["memory"] = {"kernel": load(mem)}
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    print()
    print(f"machine: {mach.get('cpu', '?')}, {mach['cpus']} CPUs, Linux {mach['kernel']}, "
          f"commit {mach.get('commit', '?')}, {mach['date']}")
    print("client on core 0, server on core 1; rate = median of repetitions (min / median / max);")
    print("latency = whole transaction for churn (connect included), one request for rr.")
    for s, d in STACKS:
        print(f"  {s:<11} {d}" + ("" if s in stacks else "   -- not run"))
    print()
    print(table(stacks, rat))
    if "memory" in results:
        m = results["memory"]["kernel"]
        print()
        for row in m.get("results", []):
            own = row.get("socket_caches_bytes_per", row.get("time_wait_caches_bytes_per"))
            print(f"kernel memory: {row['what']} at {row['count']}: {own:.0f} B in its own "
                  f"slab caches, {row['bytes_per']:.0f} B all slab ({row['basis']})")
    made = plots(out, stacks)
    print()
    print(f"results: {out}/results.json " + " ".join(f"{out}/{s}.json" for s in stacks))
    for p in made:
        print(f"plot:    {p}")
    return 0


def main(argv):
    if len(argv) >= 2 and argv[0] == "aggregate":
        return aggregate(argv[1])
    if len(argv) >= 2 and argv[0] == "check":
        return check(argv[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
