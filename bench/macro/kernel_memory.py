#!/usr/bin/env python3
"""Kernel memory per idle established connection and per TIME_WAIT record
(the kernel baseline for shoal's <= 512 B and <= 64 B targets).

Called by `scripts/bench.sh memory` with namespace NS. The descriptor limit
may not be raisable (no CAP_SYS_RESOURCE in a container: RLIMIT_NOFILE
stays at its hard limit), so the N connections are split over as many
kernel_bench server + hold pairs as needed, each holding at most
--per-process connections (server PORT+i, one pair per port):

  1. snapshot /proc/slabinfo and /proc/meminfo               (before)
  2. `kernel_bench hold` opens COUNT idle connections (no data buffered)
  3. snapshot                                                  (established)
  4. "close": the client closes all first; wait until the namespace's
     /proc/net/sockstat shows the TIME_WAIT records and the server's sockets gone
  5. snapshot                                                  (time_wait)

Slab caches are global, so other activity on the machine is noise: every
cache that moved is listed, and the bytes are active objects x object size
(what the allocator hands out, the analogue of shoal's pool bytes in use).
Both ends of each connection are kernel sockets here: bytes per established
connection are reported per endpoint (delta / 2N); a TIME_WAIT record exists
on the closing side only (delta / N).
"""
import argparse
import json
import os
import subprocess
import sys
import time


def slabs():
    out = {}
    with open("/proc/slabinfo") as f:
        for line in f:
            if line.startswith(("slabinfo", "#")):
                continue
            parts = line.split()
            name, active, _num, objsize = parts[0], int(parts[1]), int(parts[2]), int(parts[3])
            out[name] = active * objsize
    return out


def meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            out[k] = int(v.split()[0]) * 1024
    return out


def snapshot():
    return {"slab": slabs(), "meminfo": meminfo(), "t": time.time()}


def sockstat(ns):
    text = subprocess.run(["ip", "netns", "exec", ns, "cat", "/proc/net/sockstat"],
                          capture_output=True, text=True, check=True).stdout
    for line in text.splitlines():
        if line.startswith("TCP:"):
            f = line.split()[1:]
            return {f[i]: int(f[i + 1]) for i in range(0, len(f), 2)}
    return {}


def delta(a, b):
    """Per-cache byte deltas b - a, largest first (moves over 64 KiB only)."""
    d = {}
    for k in set(a["slab"]) | set(b["slab"]):
        v = b["slab"].get(k, 0) - a["slab"].get(k, 0)
        if abs(v) >= 64 * 1024:
            d[k] = v
    total = sum(d.values())
    mem = {k: b["meminfo"][k] - a["meminfo"][k] for k in ("Slab", "SUnreclaim", "MemAvailable")}
    return dict(sorted(d.items(), key=lambda kv: -abs(kv[1]))), total, mem


# The caches a kernel socket really occupies (the rest of a slab delta on a
# shared machine is other activity: proc inodes, buffer heads, kmalloc).
SOCKET_CACHES = ("TCP", "sock_inode_cache", "filp", "dentry", "eventpoll_epi", "eventpoll_pwq",
                 "tcp_bind_bucket", "tcp_bind2_bucket", "skbuff_head_cache")
TIME_WAIT_CACHES = ("tw_sock_TCP", "tcp_bind_bucket", "tcp_bind2_bucket")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ns", required=True)
    ap.add_argument("--kb", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--server-cpu", type=int, default=1)
    ap.add_argument("--per-process", type=int, default=0,
                    help="connections per process (default: descriptor limit - 1000)")
    ap.add_argument("--cpu", type=int, default=0)
    ap.add_argument("--json", required=True)
    a = ap.parse_args()

    import resource
    per = a.per_process or max(1000, resource.getrlimit(resource.RLIMIT_NOFILE)[1] - 1000)
    pairs = (a.count + per - 1) // per
    servers = []
    for i in range(pairs):
        ready = f"/tmp/shoal-mem-{os.getpid()}-{i}.ready"
        servers.append((subprocess.Popen(
            ["ip", "netns", "exec", a.ns, a.kb, "server", "--port", str(a.port + i), "--quiet",
             "--cpu", str(a.server_cpu), "--ready-file", ready],
            stdout=subprocess.DEVNULL), ready))
    for _, ready in servers:
        for _ in range(100):
            if os.path.exists(ready):
                break
            time.sleep(0.05)
        os.unlink(ready)
    print(f"  {pairs} server+hold pairs of <= {per} connections each")
    base_tw = sockstat(a.ns).get("tw", 0)
    time.sleep(0.5)
    before = snapshot()
    holds = []
    left = a.count
    for i in range(pairs):
        k = min(per, left)
        left -= k
        holds.append(subprocess.Popen(
            ["ip", "netns", "exec", a.ns, a.kb, "hold", "--port", str(a.port + i), "--count",
             str(k), "--cpu", str(a.cpu)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True))
    n = 0
    for h in holds:
        got = json.loads(h.stdout.readline())
        n += got["established"]
        if got["failed"]:
            print(f"  hold: {got}", file=sys.stderr)
    if n == 0:
        for h in holds:
            h.kill()
        return 1
    time.sleep(1.0)  # let the server accept the tail of the backlog
    st_est = sockstat(a.ns)
    established = snapshot()

    for h in holds:
        h.stdin.write("close\n")
        h.stdin.flush()
    for h in holds:
        json.loads(h.stdout.readline())
    deadline = time.time() + 30
    st_tw = sockstat(a.ns)
    while time.time() < deadline:
        st_tw = sockstat(a.ns)
        # the closer's records are there, the passive side's sockets are gone
        if st_tw.get("tw", 0) - base_tw >= n and st_tw.get("inuse", 0) <= pairs + 2:
            break
        time.sleep(0.2)
    time_wait = snapshot()
    for h in holds:
        h.stdin.close()
        h.wait()
    for srv, _ in servers:
        srv.terminate()
        srv.wait()

    d_est, t_est, m_est = delta(before, established)
    d_tw, t_tw, m_tw = delta(before, time_wait)
    tw_n = max(st_tw.get("tw", 0) - base_tw, 1)
    results = [
        {"what": "idle established connection (per endpoint)", "count": n,
         "bytes_per": t_est / (2 * n), "basis": "slab active bytes / 2N",
         "tcp_sock_bytes_per": d_est.get("TCP", 0) / (2 * n),
         "socket_caches_bytes_per": sum(d_est.get(c, 0) for c in SOCKET_CACHES) / (2 * n),
         "meminfo_slab_per": m_est["Slab"] / (2 * n),
         "divisor": 2 * n, "sockstat": st_est, "caches": d_est},
        {"what": "TIME_WAIT record", "count": tw_n,
         "bytes_per": t_tw / tw_n, "basis": "slab active bytes / TIME_WAIT records",
         "tw_sock_bytes_per": d_tw.get("tw_sock_TCP", 0) / tw_n,
         "time_wait_caches_bytes_per": sum(d_tw.get(c, 0) for c in TIME_WAIT_CACHES) / tw_n,
         "meminfo_slab_per": m_tw["Slab"] / tw_n,
         "divisor": tw_n, "sockstat": st_tw, "caches": d_tw},
    ]
    for r in results:
        print(f"  {r['what']}: {r['bytes_per']:.0f} B each at {r['count']} "
              f"({r['basis']}; /proc/meminfo Slab: {r['meminfo_slab_per']:.0f} B)")
        specific = r.get("socket_caches_bytes_per", r.get("time_wait_caches_bytes_per"))
        print(f"    in the socket's own caches: {specific:.0f} B")
        print("    caches: " + ", ".join(f"{k} {v / r['divisor']:+.0f}" for k, v in
                                        list(r["caches"].items())[:8]))
    with open(a.json, "w") as f:
        json.dump({"results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
