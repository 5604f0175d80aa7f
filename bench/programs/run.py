#!/usr/bin/env python3
"""The bypass benchmark: unmodified servers and clients over shoal against
the same binaries on the kernel, in one run, on the same two cores.

    scripts/bench.sh programs [--reps N] [--duration S] [--out DIR]
    bench/programs/run.py --build DIR [--reps N] [--duration S] [--out DIR]

Pairs: nginx <- wrk, redis-server <- redis-benchmark. Each pair runs
  kernel  both programs plain, over 127.0.0.1 in a fresh network namespace
  shoal   both programs under shoal-run in inline mode, joined by net_memif
          (shared memory, no kernel in the path), each process with its own
          address (198.18.0.2 server, 198.18.0.3 client)
with the server pinned to CPU 1 and the client to CPU 0 (a process's
threads, shoal's helper included, share its core). Cases: 64 B and 16 KiB
bodies (an nginx file; a redis value SET first, then GETs measured), keep-alive (wrk -c50; redis-benchmark
-c50 -k 1) and a new connection per request (wrk with "Connection: close";
redis-benchmark -k 0). Each case N repetitions (min/median/max of
requests/s and of p99 latency). Writes DIR/programs.json and
DIR/programs.png and prints a table with the ratios shoal/kernel.
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

CLIENT_CPU = os.environ.get("CLIENT_CPU", "0")
SERVER_CPU = os.environ.get("SERVER_CPU", "1")
SERVER_IP, CLIENT_IP = "198.18.0.2", "198.18.0.3"


def sh(*cmd, timeout=120):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


class Namespace:
    def __init__(self, tag):
        self.name = f"shoal-progbench-{tag}-{os.getpid()}"
        sh("ip", "netns", "del", self.name)
        sh("ip", "netns", "add", self.name)
        sh("ip", "netns", "exec", self.name, "ip", "link", "set", "lo", "up")

    def argv(self, *cmd):
        return ["ip", "netns", "exec", self.name, *cmd]

    def close(self):
        sh("ip", "netns", "del", self.name)


def memif_config(tmp, role, address, tag):
    path = os.path.join(tmp, f"{role}.ini")
    with open(path, "w") as f:
        f.write(f"""[eal]
lcores = 0
memory_mb = 256
no_huge = true
file_prefix = shoal-progbench-{role}-{tag}
log_level = pmd.net.memif:error
[port]
vdev = net_memif0,role={role},socket={tmp}/memif.sock
# The server starts without a peer; the client waits for the link.
link_wait_ms = {0 if role == "server" else 3000}
mbufs = 16383
mbuf_cache = 256
[ipv4]
address = {address}
prefix_length = 24
[shard]
status_interval_s = 0
[preload]
mode = inline
spin_us = 50
helper_sleep_us = 100
""")
    return path


def nginx_files(tmp):
    root = os.path.join(tmp, "html")
    os.makedirs(os.path.join(tmp, "temp"), exist_ok=True)
    os.makedirs(root, exist_ok=True)
    for name, size in (("64", 64), ("16k", 16384)):
        with open(os.path.join(root, name), "wb") as f:
            f.write(b"s" * size)
    conf = os.path.join(tmp, "nginx.conf")
    t = os.path.join(tmp, "temp")
    with open(conf, "w") as f:
        f.write(f"""daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 65536;
error_log {tmp}/nginx-error.log error;
pid {tmp}/nginx.pid;
events {{ worker_connections 16384; }}
http {{
  access_log off;
  sendfile on;
  open_file_cache max=16 inactive=600s;
  open_file_cache_valid 600s;
  keepalive_timeout 65;
  keepalive_requests 10000000;
  client_body_temp_path {t}; proxy_temp_path {t}; fastcgi_temp_path {t};
  uwsgi_temp_path {t}; scgi_temp_path {t};
  server {{ listen 8080; root {root}; }}
}}
""")
    return conf


def parse_wrk(out):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    errors = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, float(m.group(1)) * scale, (errors.group(1) if errors else ""), (
        int(non2xx.group(1)) if non2xx else 0)


def parse_redis(out):
    # --csv: "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",
    #        "p95_latency_ms","p99_latency_ms","max_latency_ms"
    for line in out.splitlines():
        if line.startswith('"GET"'):
            cells = [c.strip('"') for c in line.split(",")]
            return float(cells[1]), float(cells[6])
    raise ValueError(f"no result in redis-benchmark output:\n{out}")


def run_case(stack, pair, body, keepalive, duration, tmp, run_tag):
    """One repetition: server up, client for `duration`, server down."""
    ns = Namespace(run_tag)
    server = None
    try:
        server_pre, client_pre, host = [], [], "127.0.0.1"
        if stack == "shoal":
            srv_ini = memif_config(tmp, "server", SERVER_IP, run_tag)
            cli_ini = memif_config(tmp, "client", CLIENT_IP, run_tag)
            server_pre, client_pre, host = [SHOAL_RUN, srv_ini], [SHOAL_RUN, cli_ini], SERVER_IP
        if pair == "nginx":
            conf = nginx_files(tmp)
            srv_cmd = [NGINX, "-p", tmp, "-c", conf]
            port = 8080
        else:
            srv_cmd = [REDIS_SERVER, "--port", "6379", "--bind", "0.0.0.0", "--save", "",
                       "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no",
                       "--maxclients", "10000"]
            port = 6379
        log = open(os.path.join(tmp, f"server-{run_tag}.log"), "w")
        server = subprocess.Popen(ns.argv("taskset", "-c", SERVER_CPU, *server_pre, *srv_cmd),
                                  stdout=log, stderr=subprocess.STDOUT)
        # Started and listening: shoal's ready line, then time for the
        # program's own start-up (a SYN that comes before listen() is
        # answered with RST, as by any stack).
        deadline = time.time() + 20
        while stack == "shoal" and "shoal-preload: ready" not in open(log.name).read():
            if server.poll() is not None or time.time() > deadline:
                break
            time.sleep(0.05)
        time.sleep(1.0)
        if server.poll() is not None:
            raise RuntimeError(f"{pair} on {stack} exited:\n" + open(log.name).read())
        if pair == "nginx":
            path = "/64" if body == 64 else "/16k"
            cmd = ["wrk", "-t1", "-c50", f"-d{duration}s", "--latency"]
            if not keepalive:
                cmd += ["-H", "Connection: close"]
            cmd.append(f"http://{host}:{port}{path}")
        else:
            # A value of the body's size first, then GETs of it.
            n = 200000 if keepalive else 20000
            # SET first (the values GET returns are then `body` bytes); GET is measured.
            cmd = ["redis-benchmark", "-h", host, "-p", str(port), "-c", "50", "-n", str(n),
                   "-d", str(body), "-k", "1" if keepalive else "0", "-t", "set,get",
                   "-r", "1000", "--csv"]
        r = subprocess.run(ns.argv("taskset", "-c", CLIENT_CPU, *client_pre, *cmd),
                           capture_output=True, text=True, timeout=duration * 6 + 120)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} on {stack}: exit {r.returncode}\n"
                               f"{r.stdout}{r.stderr}")
        if pair == "nginx":
            rps, p99, errors, non2xx = parse_wrk(r.stdout)
            ok = non2xx == 0 and (errors == "" or not keepalive)
            return {"rps": rps, "p99_ms": p99, "errors": errors, "non2xx": non2xx, "ok": ok}
        rps, p99 = parse_redis(r.stdout)
        return {"rps": rps, "p99_ms": p99, "ok": "rror" not in r.stdout + r.stderr}
    finally:
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        ns.close()


def summary(values):
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def plot(results, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib missing: no PNG)")
        return
    cases = sorted({(r["pair"], r["body"], r["keepalive"]) for r in results})
    labels = [f"{p}\n{'16 KiB' if b > 64 else '64 B'}\n{'keep-alive' if k else 'new conn'}"
              for p, b, k in cases]
    fig, ax = plt.subplots(figsize=(11, 5))
    width = 0.38
    for i, stack in enumerate(("kernel", "shoal")):
        med, lo, hi = [], [], []
        for c in cases:
            r = next((x for x in results if (x["pair"], x["body"], x["keepalive"]) == c
                      and x["stack"] == stack), None)
            s = r["rps"] if r else {"median": 0, "min": 0, "max": 0}
            med.append(s["median"])
            lo.append(s["median"] - s["min"])
            hi.append(s["max"] - s["median"])
        xs = [k + (i - 0.5) * width for k in range(len(cases))]
        ax.bar(xs, med, width, yerr=[lo, hi], capsize=3, label=stack)
    ax.set_xticks(range(len(cases)))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel("requests/s (median, min-max)")
    ax.set_title("Unmodified programs: shoal (inline, net_memif) vs the kernel (loopback)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    global SHOAL_RUN, NGINX, REDIS_SERVER
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--out", default="bench-results")
    ap.add_argument("--only", default="nginx redis")
    args = ap.parse_args()
    SHOAL_RUN = os.path.join(os.path.abspath(args.build), "apps", "shoal-run")
    NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
    REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
    for tool in (SHOAL_RUN, NGINX, REDIS_SERVER, shutil.which("wrk"),
                 shutil.which("redis-benchmark")):
        if tool is None or not os.path.exists(tool):
            print(f"bench programs: missing {tool} (scripts/setup.sh installs the programs)",
                  file=sys.stderr)
            return 2
    os.makedirs(args.out, exist_ok=True)
    results = []
    pairs = args.only.split()
    cases = [(p, b, k) for p in pairs for b in (64, 16384) for k in (True, False)]
    total = len(cases) * 2 * args.reps
    done = 0
    for pair, body, keepalive in cases:
        for stack in ("kernel", "shoal"):
            reps = []
            for rep in range(args.reps):
                tmp = tempfile.mkdtemp(prefix="shoal-progbench-")
                try:
                    reps.append(run_case(stack, pair, body, keepalive, args.duration, tmp,
                                         f"{stack[0]}{done}"))
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
                done += 1
                print(f"[{done}/{total}] {pair} {body} B "
                      f"{'keep-alive' if keepalive else 'new conn'} {stack}: "
                      f"{reps[-1]['rps']:,.0f} req/s, p99 {reps[-1]['p99_ms']:.2f} ms"
                      f"{'' if reps[-1]['ok'] else ' (ERRORS)'}", flush=True)
            results.append({"pair": pair, "body": body, "keepalive": keepalive, "stack": stack,
                            "rps": summary([r["rps"] for r in reps]),
                            "p99_ms": summary([r["p99_ms"] for r in reps]),
                            "ok": all(r["ok"] for r in reps), "reps": reps})
    rows = []
    print(f"\n{'case':36} {'kernel req/s':>14} {'shoal req/s':>14} {'ratio':>7} "
          f"{'p99 kernel':>11} {'p99 shoal':>10}")
    for pair, body, keepalive in cases:
        k = next(r for r in results if (r["pair"], r["body"], r["keepalive"], r["stack"]) ==
                 (pair, body, keepalive, "kernel"))
        s = next(r for r in results if (r["pair"], r["body"], r["keepalive"], r["stack"]) ==
                 (pair, body, keepalive, "shoal"))
        ratio = s["rps"]["median"] / k["rps"]["median"]
        name = f"{pair} {'16 KiB' if body > 64 else '64 B'} " \
               f"{'keep-alive' if keepalive else 'new conn/request'}"
        rows.append({"case": name, "ratio_median": ratio})
        print(f"{name:36} {k['rps']['median']:>14,.0f} {s['rps']['median']:>14,.0f} "
              f"{ratio:>6.2f}x {k['p99_ms']['median']:>9.2f}ms {s['p99_ms']['median']:>8.2f}ms")
    out = {"cpus": {"client": CLIENT_CPU, "server": SERVER_CPU}, "reps": args.reps,
           "duration_s": args.duration, "results": results, "ratios": rows,
           "command": "scripts/bench.sh programs " + " ".join(sys.argv[1:])}
    with open(os.path.join(args.out, "programs.json"), "w") as f:
        json.dump(out, f, indent=1)
    plot(results, os.path.join(args.out, "programs.png"))
    print(f"\nwrote {args.out}/programs.json and {args.out}/programs.png")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
