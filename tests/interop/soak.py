#!/usr/bin/env python3
"""Soak: churn plus checked bulk transfers between shoal and the Linux kernel
through the shard's impairment stage, for a fixed time; then every
connection must drain to CLOSED.

    soak.py <build-dir> [--duration S] [--shards N] [--loss P] [--reorder P]
            [--delay-ms D] [--duplicate P] [--seed N] [--report-every S]

One shoal process (tests/interop/shoal-peer-client --listen 7 --commands, a
TAP in a network namespace of its own, [tcp] msl_s = 1 so TIME_WAIT lasts
2 s) is an echo server and a client at the same time. This kernel has no
sch_netem, so loss, reordering, delay and duplication come from the shard's
[impair] stage, on both directions (defaults: loss 1 %, reorder 5 %, delay
2 ms, duplicate 0.5 %). For the whole duration:

  kernel churn     4 threads: connect to shoal's echo port, send 1..4096
                   random bytes, read them back and compare; then either
                   close at once, or shut down writing first and read to EOF
  kernel bulk      2 threads: 4 MiB random streams through the echo port,
                   sha256 of what came back compared with what was sent
  shoal churn      shoal connects to kernel servers, 2000 bytes each way;
                   every other connection shoal closes first (TIME_WAIT on
                   shoal's side), the others the kernel closes first
  shoal bulk       shoal connects to a kernel server, 4 MiB each way, sha256
                   checked on both ends

Every ~10 s (--report-every) a progress line: connections and bytes
verified, failures, and shoal's memory (/shoal/mem: bytes held, mbufs in
use; the process's RSS). Passes when:
  - no verification failure, no unexpected error, no connection left
    without an outcome;
  - memory is flat: after a warm-up, the maximum of the last third of the
    samples is at most 1.1 x the maximum of the first third plus a small
    constant (for the bytes shoal holds and for the process's RSS);
  - after the traffic stops every connection drains to CLOSED (all
    /shoal/conns states but LISTEN reach 0 once TIME_WAIT expired, no
    connection pool slot or TIME_WAIT record held, the kernel has nothing
    but listeners and TIME-WAIT sockets left) and the mbufs in use come back
    to the idle level measured before the traffic.

The long run is scripts/soak.sh [minutes] (30 by default); the suite runs a
short one (test soak_short). Exit 77 = skipped (not root, no /dev/net/tun),
or 1 when CI=true (checks.skip).
"""
import argparse
import hashlib
import os
import random
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tcp_interop as ti  # noqa: E402
from checks import check  # noqa: E402

MIB = ti.MIB
ECHO_PORT = 7
BULK_PORT, CHURN_SHOAL_FIRST_PORT, CHURN_KERNEL_FIRST_PORT = 9000, 9001, 9002
CHURN_BYTES = 2000
BULK_BYTES = 4 * MIB
MSL_S = 1


class Soak:
    def __init__(self, build, a):
        self.a = a
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.failures = []
        self.nfail = 0
        self.done = {"kernel_churn": 0, "kernel_bulk": 0, "shoal_churn": 0, "shoal_bulk": 0}
        self.verified = 0  # payload bytes compared (both directions)
        # Shoal-initiated connections: id -> (kind, issued at); their sent
        # sha256 waits for the kernel's receive sha256 (either may come first).
        self.outstanding = {}
        self.next_id = 0
        self.shoal_sent = {}   # sha256 -> count, from shoal's result lines
        self.kernel_recv = {}  # sha256 -> count, from the kernel servers
        self.samples = []      # (t, mem dict or None, rss KiB, conns)
        impair = {"loss": a.loss, "reorder": a.reorder, "delay_ms": a.delay_ms,
                  "duplicate": a.duplicate, "seed": a.seed, "direction": "both"}
        self.app = ti.App(build, "soak", "shoal-peer-client",
                          ["--remote", ti.KERNEL_IP, "--listen", str(ECHO_PORT), "--commands",
                           "--timeout", str(int(a.duration) + 900)],
                          shards=a.shards, impair=impair, extra=f"[tcp]\nmsl_s = {MSL_S}\n",
                          commands=True, line_hook=self.on_line)
        self.servers = []

    # --- bookkeeping ---------------------------------------------------------

    def fail(self, what):
        with self.lock:
            self.nfail += 1
            if len(self.failures) < 30:
                self.failures.append(f"{time.time() - self.t0:7.1f}s {what}")

    def match(self, table, other, sha):
        """One sha256 seen on one side: pairs it with the other side's."""
        if other.get(sha, 0) > 0:
            other[sha] -= 1
            if other[sha] == 0:
                del other[sha]
        else:
            table[sha] = table.get(sha, 0) + 1

    def on_line(self, line):
        """shoal-peer-client's stdout: conn= result lines are consumed here."""
        if line.startswith("command error"):
            self.fail(line)
            return True
        if not line.startswith("conn="):
            return False
        r = dict(kv.split("=", 1) for kv in line.split())
        with self.lock:
            kind, _ = self.outstanding.pop(int(r["conn"]), (None, None))
        if kind is None:
            self.fail(f"a result for a connection never opened: {line}")
            return True
        size = BULK_BYTES if kind == "shoal_bulk" else CHURN_BYTES
        server = self.bulk_server if kind == "shoal_bulk" else self.churn_server
        if r["result"] != "normal" or int(r.get("sent", -1)) != size or \
                int(r.get("recv", -1)) != size or r["recv_sha256"] != server.out_sha256:
            self.fail(f"{kind}: {line}")
            return True
        with self.lock:
            self.match(self.shoal_sent, self.kernel_recv, r["sent_sha256"])
            self.done[kind] += 1
            self.verified += 2 * size
        return True

    def on_kernel_result(self, r):
        if r["error"] is not None:
            self.fail(f"kernel server: {r}")
            return
        with self.lock:
            self.match(self.kernel_recv, self.shoal_sent, r["recv_sha256"])

    # --- traffic -------------------------------------------------------------

    def kernel_churn(self, worker):
        rnd = random.Random(1000 + worker)
        n = 0
        while not self.stop.is_set():
            n += 1
            payload = rnd.randbytes(rnd.randint(1, 4096))
            half_close = n % 2 == 0
            try:
                s = socket.create_connection((ti.STACK_IP, ECHO_PORT), timeout=30)
                try:
                    s.sendall(payload)
                    if half_close:
                        s.shutdown(socket.SHUT_WR)
                        got = ti.recv_until_eof(s)
                    else:
                        got = bytearray()
                        while len(got) < len(payload):
                            b = s.recv(65536)
                            if not b:
                                break
                            got += b
                finally:
                    s.close()
            except OSError as e:
                self.fail(f"kernel churn {worker}/{n}: {e!r}")
                continue
            if bytes(got) != payload:
                self.fail(f"kernel churn {worker}/{n}: {len(got)} bytes back of {len(payload)}, "
                          f"{'equal' if bytes(got[:len(payload)]) == payload else 'different'}")
                continue
            with self.lock:
                self.done["kernel_churn"] += 1
                self.verified += 2 * len(payload)

    def kernel_bulk(self, worker):
        n = 0
        while not self.stop.is_set():
            n += 1
            try:
                got, sent, back, _ = ti.echo_stream(BULK_BYTES, seed=worker * 1000003 + n)
            except (OSError, AssertionError) as e:
                self.fail(f"kernel bulk {worker}/{n}: {e!r}")
                continue
            if got != BULK_BYTES or sent != back:
                self.fail(f"kernel bulk {worker}/{n}: {got} bytes back, sha256 {back} != {sent}")
                continue
            with self.lock:
                self.done["kernel_bulk"] += 1
                self.verified += 2 * BULK_BYTES

    def open_from_shoal(self, kind, mode, port, size):
        with self.lock:
            i = self.next_id
            self.next_id += 1
            self.outstanding[i] = (kind, time.time())
        self.app.command(f"connect {i} {i % self.a.shards} {mode} {port} {size} {size}")

    def in_flight(self, kind):
        with self.lock:
            return sum(1 for k, _ in self.outstanding.values() if k == kind)

    def shoal_driver(self):
        """Keeps 8 churn and 2 bulk shoal-initiated connections going."""
        n = 0
        while not self.stop.is_set():
            while self.in_flight("shoal_churn") < 8:
                n += 1
                if n % 2:
                    self.open_from_shoal("shoal_churn", "close", CHURN_SHOAL_FIRST_PORT,
                                         CHURN_BYTES)
                else:
                    self.open_from_shoal("shoal_churn", "wait", CHURN_KERNEL_FIRST_PORT,
                                         CHURN_BYTES)
            while self.in_flight("shoal_bulk") < 2:
                self.open_from_shoal("shoal_bulk", "close", BULK_PORT, BULK_BYTES)
            # A connection without an outcome for long is a failure (and is
            # not waited for again).
            with self.lock:
                stale = [i for i, (_, t) in self.outstanding.items() if time.time() - t > 180]
                for i in stale:
                    del self.outstanding[i]
            for i in stale:
                self.fail(f"shoal connection {i}: no outcome after 180 s")
            time.sleep(0.02)

    # --- observation ---------------------------------------------------------

    def memory(self):
        """/shoal/mem summed over its columns (mempool: the mbufs the shards
        share; shardN: each engine's pools and tables). Every stack serves
        it: a reply without it fails the run (the memory checks rest on it)."""
        v = self.app.telemetry("/shoal/mem").get("/shoal/mem")
        check(isinstance(v, dict) and v, f"no /shoal/mem in the telemetry reply: {v!r}")
        total = {}
        for column in v.values():
            for k, x in column.items():
                total[k] = total.get(k, 0) + x
        return total

    def conns(self):
        return self.app.telemetry("/shoal/conns")["/shoal/conns"]["total"]

    def sample(self):
        mem = self.memory()
        c = self.conns()
        s = (time.time() - self.t0, mem, self.app.rss_kib(), c)
        self.samples.append(s)
        return s

    def progress(self, label):
        t, mem, rss, c = self.sample()
        with self.lock:
            done = dict(self.done)
            verified, nfail = self.verified, self.nfail
        busy = sum(v for k, v in c.items() if k != "LISTEN")
        memtext = (f"held {mem['total_bytes'] / MIB:.2f} MiB, mbufs {mem['mbufs_in_use']}/"
                   f"{mem['mbufs_total']}")
        print(f"[{label} {t:6.0f}s] kernel churn {done['kernel_churn']} bulk "
              f"{done['kernel_bulk']} | shoal churn {done['shoal_churn']} bulk "
              f"{done['shoal_bulk']} | verified {verified / MIB:.1f} MiB | failures {nfail} | "
              f"shoal {memtext}, rss {rss / 1024:.1f} MiB, conns {busy} "
              f"(tw {c.get('TIME_WAIT', 0)})", flush=True)

    # --- the run -------------------------------------------------------------

    def run(self):
        a = self.a
        self.churn_server = None
        self.t0 = time.time()
        self.bulk_server = ti.KernelServer(BULK_PORT, send=BULK_BYTES, expect=None,
                                           on_result=self.on_kernel_result)
        self.churn_server = ti.KernelServer(CHURN_SHOAL_FIRST_PORT, send=CHURN_BYTES, expect=None,
                                            on_result=self.on_kernel_result)
        kernel_first = ti.KernelServer(CHURN_KERNEL_FIRST_PORT, send=CHURN_BYTES,
                                       expect=CHURN_BYTES, close_first=True,
                                       on_result=self.on_kernel_result)
        # Same bytes from both churn servers (Random(port) differs): the
        # result check needs one sha256 per kind.
        kernel_first.out, kernel_first.out_sha256 = self.churn_server.out, \
            self.churn_server.out_sha256
        self.servers = [self.bulk_server, self.churn_server, kernel_first]
        self.app.start()
        time.sleep(2)
        idle = self.memory()
        print(f"soak: {a.duration:.0f} s, {a.shards} shard(s), impair loss {a.loss}% reorder "
              f"{a.reorder}% delay {a.delay_ms} ms duplicate {a.duplicate}% seed {a.seed}; "
              f"idle: {idle}", flush=True)
        self.t0 = time.time()
        threads = [threading.Thread(target=self.kernel_churn, args=(w,), daemon=True)
                   for w in range(4)]
        threads += [threading.Thread(target=self.kernel_bulk, args=(w,), daemon=True)
                    for w in range(2)]
        threads.append(threading.Thread(target=self.shoal_driver, daemon=True))
        for t in threads:
            t.start()
        next_report = a.report_every
        while time.time() - self.t0 < a.duration:
            time.sleep(min(2.0, max(0.1, a.duration - (time.time() - self.t0))))
            if self.app.proc.poll() is not None:
                raise AssertionError(f"shoal exited during the soak\n{self.app.log()}")
            if time.time() - self.t0 >= next_report:
                self.progress("soak")
                next_report += a.report_every
            else:
                self.sample()
        traffic = list(self.samples)

        # Traffic stops: the workers finish what they have under way.
        self.stop.set()
        stopped = time.time()
        for t in threads:
            t.join(90)
        alive = [t.name for t in threads if t.is_alive()]
        if alive:
            self.fail(f"workers still busy 90 s after the stop: {alive}")
        while self.outstanding and time.time() - stopped < 120:
            time.sleep(0.2)
        if self.outstanding:
            self.fail(f"shoal connections without an outcome after the stop: "
                      f"{sorted(self.outstanding)[:20]}")
        self.progress("stop")

        # Drain: every connection to CLOSED once TIME_WAIT (2 s) expired.
        while time.time() - stopped < 2 * MSL_S + 60:
            c = self.conns()
            if all(v == 0 for k, v in c.items() if k != "LISTEN"):
                break
            time.sleep(0.5)
        c = self.conns()
        drained = time.time() - stopped
        left = {k: v for k, v in c.items() if k != "LISTEN" and v}
        print(f"drain: /shoal/conns {c} {drained:.1f} s after the stop", flush=True)
        if left:
            self.fail(f"connections not CLOSED {drained:.0f} s after the traffic stopped: {left}")
        # The kernel's side: nothing but listeners and TIME_WAIT left.
        ss = ti.run("ss", "-Htan").stdout.splitlines()
        busy = [l for l in ss if l.split()[0] not in ("LISTEN", "TIME-WAIT")]
        print(f"kernel sockets: {len(ss)} ({len(busy)} neither LISTEN nor TIME-WAIT)")
        if busy:
            self.fail(f"kernel sockets still open: {busy[:10]}")
        mem = self.memory()
        if mem["connections"] or mem["time_wait_records"]:
            self.fail(f"connection pool slots or TIME_WAIT records held after the drain: {mem}")
        deadline = time.time() + 15
        while mem["mbufs_in_use"] > idle["mbufs_in_use"] + 64 and time.time() < deadline:
            time.sleep(0.5)
            mem = self.memory()
        print(f"mbufs in use: idle {idle['mbufs_in_use']}, after the drain "
              f"{mem['mbufs_in_use']}; bytes held: idle {idle['total_bytes']}, after "
              f"{mem['total_bytes']}", flush=True)
        if mem["mbufs_in_use"] > idle["mbufs_in_use"] + 64:
            self.fail(f"mbufs in use {mem['mbufs_in_use']} after the drain, idle "
                      f"{idle['mbufs_in_use']}")
        with self.lock:
            unmatched = (dict(self.shoal_sent), dict(self.kernel_recv))
        if unmatched[0] or unmatched[1]:
            self.fail(f"sha256 of shoal->kernel streams without a match: shoal sent "
                      f"{list(unmatched[0].items())[:5]}, kernel received "
                      f"{list(unmatched[1].items())[:5]}")

        self.check_flat(traffic)
        stats = self.app.stop()
        totals = {k: sum(stats[s].get(k, 0) for s in stats)
                  for k in ("tcp_retransmits", "impair_lost", "impair_reordered",
                            "impair_duplicated", "tcp_accepted", "tcp_connects_established")}
        print(f"shoal counters: {totals}")
        with self.lock:
            print(f"done: {self.done}, verified {self.verified / MIB:.1f} MiB, "
                  f"failures {self.nfail}")
            if self.nfail:
                raise AssertionError(f"{self.nfail} failure(s):\n  " + "\n  ".join(self.failures))
        check(totals["impair_lost"] > 0 and totals["impair_reordered"] > 0, totals)
        check(all(v > 0 for v in self.done.values()), self.done)

    def check_flat(self, samples):
        """Memory flat: after a warm-up, max(last third) <= 1.1 x max(first
        third) + a constant, for the bytes shoal holds and for its RSS."""
        warm = max(10.0, 0.15 * self.a.duration)
        s = [x for x in samples if x[0] >= warm]
        if len(s) < 6:
            self.fail(f"too few memory samples after the warm-up ({len(s)})")
            return
        k = len(s) // 3
        series = [("RSS", [x[2] * 1024 for x in s], 2 * MIB),
                  ("bytes held (/shoal/mem)", [x[1]["total_bytes"] for x in s], 2 * MIB)]
        for name, v, const in series:
            first, last = max(v[:k]), max(v[-k:])
            limit = first * 1.1 + const
            print(f"memory flat? {name}: max of the first third {first / MIB:.2f} MiB, of the "
                  f"last third {last / MIB:.2f} MiB (limit {limit / MIB:.2f} MiB)", flush=True)
            if last > limit:
                self.fail(f"{name} grew: {first} -> {last} bytes (limit {limit:.0f})")

    def cleanup(self):
        self.stop.set()
        for k in self.servers:
            k.close()
        self.app.cleanup()


def parse(argv):
    p = argparse.ArgumentParser(description="shoal soak against the kernel")
    p.add_argument("build")
    p.add_argument("--duration", type=float, default=60, help="seconds of traffic")
    p.add_argument("--shards", type=int, default=2)
    p.add_argument("--loss", type=float, default=1)
    p.add_argument("--reorder", type=float, default=5)
    p.add_argument("--delay-ms", type=int, default=2)
    p.add_argument("--duplicate", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--report-every", type=float, default=10)
    return p.parse_args(argv)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--inner":
        a = parse(sys.argv[2:])
        soak = Soak(a.build, a)
        try:
            soak.run()
        finally:
            soak.cleanup()
        print("soak: PASS")
        return 0
    a = parse(sys.argv[1:])
    if os.geteuid() != 0:
        return ti.skip("needs root (network namespaces, TAP)")
    if not os.path.exists("/dev/net/tun"):
        return ti.skip("no /dev/net/tun")
    ns = f"shoal-soak-{os.getpid() % 100000}"
    ti.run("ip", "netns", "del", ns, check=False)
    ti.run("ip", "netns", "add", ns)
    try:
        ti.run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        # The kernel clients close first most of the time: their TIME_WAIT
        # sockets must not run the namespace out of ports.
        ti.run("ip", "netns", "exec", ns, "sysctl", "-q", "-w",
               "net.ipv4.ip_local_port_range=1024 65000")
        ti.run("ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.tcp_tw_reuse=1")
        args = [os.path.abspath(a.build), "--duration", str(a.duration), "--shards",
                str(a.shards), "--loss", str(a.loss), "--reorder", str(a.reorder), "--delay-ms",
                str(a.delay_ms), "--duplicate", str(a.duplicate), "--seed", str(a.seed),
                "--report-every", str(a.report_every)]
        try:
            r = subprocess.run(["ip", "netns", "exec", ns, sys.executable,
                                os.path.abspath(__file__), "--inner"] + args,
                               timeout=a.duration + 900)
        except subprocess.TimeoutExpired:
            print(f"soak: did not finish within {a.duration + 900:.0f} s")
            return 1
        return r.returncode
    finally:
        ti.run("ip", "netns", "del", ns, check=False)


if __name__ == "__main__":
    sys.exit(main())
