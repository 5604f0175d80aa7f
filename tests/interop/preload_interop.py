#!/usr/bin/env python3
"""Debian's unmodified programs over shoal (libshoal_preload.so via shoal-run).

    preload_interop.py <shoal-run> <test> [probe]

Each test starts the program with `shoal-run <config> <program>` in a
network namespace of its own (a TAP; the kernel side is 198.18.0.1, the
program is 198.18.0.2) and drives it with the stock clients from the
kernel side:

  nginx      curl fetches 10 MiB (sha256 equal), wrk -c100 keep-alive (no
             socket error, every status 200), ab -n 10000 -c 50 without
             keep-alive (0 failed), h2load --h1 -m 4 (all succeeded)
  redis      redis-benchmark -t set,get,incr,lpush,lpop -n 100000 -P 16
             (no error), a 1 MiB value SET and read back identical
  memcached  10,000 keys with values up to 100 KiB, set and read back
  clients    wrk and redis-benchmark over shoal against nginx and
             redis-server on the kernel side
  udp        a UDP echo server and a UDP client (python) over shoal against
             the kernel: 1, 1472 and 8000 B datagrams, ECONNREFUSED
  dns        getaddrinfo() (getent, python) over shoal resolves a name from a
             DNS server on the kernel side
  semantics  preload_probe over shoal: errno on misuse, kernel sockets
             untouched, mixed poll/select/epoll, exact EPOLLET, dup, fork
             (semantics_dedicated: the same with [preload] mode = dedicated)

The program must exit cleanly on SIGTERM, and its TAP and EAL runtime
directory must be gone afterwards.
"""
import hashlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, skip  # noqa: E402

STACK_IP = "198.18.0.2"
KERNEL_IP = "198.18.0.1"


def run(*cmd, check_rc=True, timeout=60):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check_rc and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} -> {r.returncode}\n{r.stdout}{r.stderr}")
    return r


class Program:
    """One program under shoal-run in its own namespace."""

    def __init__(self, shoal_run, test, mode="inline"):
        tag = f"{os.getpid() % 100000}"
        self.shoal_run = shoal_run
        self.ns = f"shoal-pre-{test}-{tag}"[:40]
        self.tap = f"spl{tag}"[:15]
        self.prefix = f"shoal-pre-{test}-{tag}"[:40]
        self.runtime_dir = f"/var/run/dpdk/{self.prefix}"
        self.tmp = tempfile.mkdtemp(prefix="shoal-preload-")
        self.config = os.path.join(self.tmp, "preload.ini")
        self.proc = None
        self.log_path = os.path.join(self.tmp, "program.log")
        with open(self.config, "w") as f:
            f.write(f"""[eal]
lcores = 0
memory_mb = 256
no_huge = true
file_prefix = {self.prefix}
log_level = pmd.net.tap:critical
[port]
vdev = net_tap0,iface={self.tap}
mbufs = 16383
mbuf_cache = 256
[ipv4]
address = {STACK_IP}
prefix_length = 24
[host]
address = {KERNEL_IP}
prefix_length = 24
disable_ipv6 = true
[shard]
status_interval_s = 0
[preload]
mode = {mode}
spin_us = 50
helper_sleep_us = 100
""")
        run("ip", "netns", "del", self.ns, check_rc=False)
        run("ip", "netns", "add", self.ns)
        self.ns_run("ip", "link", "set", "lo", "up")

    def ns_run(self, *cmd, check_rc=True, timeout=60):
        return run("ip", "netns", "exec", self.ns, *cmd, check_rc=check_rc, timeout=timeout)

    def ns_popen(self, *cmd, **kw):
        return subprocess.Popen(["ip", "netns", "exec", self.ns, *cmd], **kw)

    def start(self, *argv, ready_port=None):
        self.log = open(self.log_path, "w")
        self.proc = self.ns_popen(self.shoal_run, self.config, *argv, stdout=self.log,
                                  stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{argv[0]} exited {self.proc.returncode}\n{self.text()}")
            if "shoal-preload: ready" in self.text() and (
                    ready_port is None or self.port_open(ready_port)):
                print(f"{os.path.basename(argv[0])}: " +
                      next(l for l in self.text().splitlines() if "ready" in l))
                return
            time.sleep(0.2)
        raise AssertionError(f"{argv[0]} did not get ready\n{self.text()}")

    def port_open(self, port):
        r = self.ns_run(sys.executable, "-c",
                        f"import socket; socket.create_connection(('{STACK_IP}', {port}), 1)",
                        check_rc=False, timeout=10)
        return r.returncode == 0

    def text(self):
        try:
            return open(self.log_path).read()
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=20)
        check(rc == 0, f"exit status {rc} after SIGTERM\n{self.text()}")
        r = self.ns_run("ip", "link", "show", self.tap, check_rc=False)
        check(r.returncode != 0, f"TAP {self.tap} still there after exit")
        check(not os.path.exists(self.runtime_dir), f"{self.runtime_dir} left behind")
        check("Segmentation" not in self.text() and "abort" not in self.text().lower(),
              self.text())

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        run("ip", "netns", "del", self.ns, check_rc=False)
        shutil.rmtree(self.runtime_dir, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)


def field(text, pattern, what):
    m = re.search(pattern, text)
    check(m, f"no {what} in:\n{text}")
    return m.group(1)


def nginx_conf(tmp, listen):
    root = os.path.join(tmp, "html")
    os.makedirs(root, exist_ok=True)
    os.makedirs(os.path.join(tmp, "temp"), exist_ok=True)
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("<html>shoal</html>\n")
    big = os.path.join(root, "big.bin")
    with open(big, "wb") as f:
        f.write(random.Random(5).randbytes(10 << 20))
    conf = os.path.join(tmp, f"nginx-{listen.replace(':', '_')}.conf")
    t = os.path.join(tmp, "temp")
    with open(conf, "w") as f:
        f.write(f"""daemon off;
master_process off;
worker_processes 1;
error_log {tmp}/nginx-error.log warn;
pid {tmp}/nginx-{listen.replace(':', '_')}.pid;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  keepalive_timeout 65;
  keepalive_requests 1000000;
  client_body_temp_path {t}; proxy_temp_path {t}; fastcgi_temp_path {t};
  uwsgi_temp_path {t}; scgi_temp_path {t};
  server {{ listen {listen}; root {root}; }}
}}
""")
    return conf, big


def http_clients(p, host, port):
    """curl, wrk, ab and h2load from the kernel side against host:port."""
    url = f"http://{host}:{port}"
    out = os.path.join(p.tmp, "big.out")
    r = p.ns_run("curl", "-sS", "-m", "60", "-o", out, "-w", "%{http_code}", f"{url}/big.bin")
    check(r.stdout == "200", f"curl status {r.stdout}")
    want = hashlib.sha256(open(os.path.join(p.tmp, "html", "big.bin"), "rb").read()).hexdigest()
    got = hashlib.sha256(open(out, "rb").read()).hexdigest()
    check(got == want, f"curl 10 MiB: sha256 {got} != {want}")
    print("curl 10 MiB: sha256 equal")

    r = p.ns_run("wrk", "-t1", "-c100", "-d10s", f"{url}/index.html", timeout=60)
    print(r.stdout.strip().splitlines()[-2])
    check("Socket errors" not in r.stdout, f"wrk socket errors:\n{r.stdout}")
    check("Non-2xx" not in r.stdout, f"wrk non-2xx responses:\n{r.stdout}")
    n = int(field(r.stdout, r"(\d+) requests in", "request count"))
    check(n > 1000, f"wrk: only {n} requests in 10 s")

    r = p.ns_run("ab", "-q", "-n", "10000", "-c", "50", f"{url}/index.html", timeout=120)
    failed = int(field(r.stdout, r"Failed requests:\s+(\d+)", "failed count"))
    complete = int(field(r.stdout, r"Complete requests:\s+(\d+)", "complete count"))
    rate = field(r.stdout, r"Requests per second:\s+([\d.]+)", "rate")
    print(f"ab -n 10000 -c 50: {complete} complete, {failed} failed, {rate} req/s")
    check(complete == 10000 and failed == 0, r.stdout)
    check("Non-2xx" not in r.stdout, r.stdout)

    r = p.ns_run("h2load", "--h1", "-n", "20000", "-c", "10", "-m", "4", f"{url}/index.html",
                 timeout=120)
    line = field(r.stdout, r"(requests: .*)", "requests line")
    print(f"h2load --h1 -m 4: {line}")
    check(re.search(r"20000 succeeded, 0 failed, 0 errored, 0 timeout", line), r.stdout)


def test_nginx(shoal_run, probe):
    p = Program(shoal_run, "nginx")
    try:
        conf, _ = nginx_conf(p.tmp, "80")
        p.start("/usr/sbin/nginx", "-p", p.tmp, "-c", conf, ready_port=80)
        http_clients(p, STACK_IP, 80)
        p.stop()
    finally:
        p.cleanup()


def redis_checks(p, host, port, under=()):
    r = p.ns_run(*under, "redis-benchmark", "-h", host, "-p", str(port), "-t",
                 "set,get,incr,lpush,lpop", "-n", "100000", "-P", "16", "-q", timeout=180)
    text = r.stdout.replace("\r", "\n")
    rates = re.findall(r"^(\w+): ([\d.]+) requests per second", text, re.M)
    print("redis-benchmark -P 16:", ", ".join(f"{k} {float(v):,.0f}/s" for k, v in rates))
    check({k for k, _ in rates} == {"SET", "GET", "INCR", "LPUSH", "LPOP"}, text + r.stderr)
    check("rror" not in text + r.stderr, text + r.stderr)


def redis_big_value(p, host, port):
    # The value goes through RESP from a client inside the namespace.
    script = f"""
import socket, sys, random
v = random.Random(9).randbytes(1 << 20)
c = socket.create_connection(('{host}', {port}), 10)
def cmd(*a):
    out = b'*%d\\r\\n' % len(a)
    for x in a:
        x = x if isinstance(x, bytes) else x.encode()
        out += b'$%d\\r\\n' % len(x) + x + b'\\r\\n'
    c.sendall(out)
f = c.makefile('rb')
cmd('SET', 'big', v)
assert f.readline() == b'+OK\\r\\n'
cmd('GET', 'big')
n = int(f.readline()[1:])
got = f.read(n + 2)[:-2]
sys.exit(0 if got == v else 1)
"""
    r = p.ns_run(sys.executable, "-c", script, check_rc=False, timeout=60)
    check(r.returncode == 0, f"1 MiB value not read back identical\n{r.stdout}{r.stderr}")
    r = p.ns_run("redis-cli", "-h", host, "-p", str(port), "SET", "k", "v-from-redis-cli")
    r = p.ns_run("redis-cli", "-h", host, "-p", str(port), "GET", "k")
    check(r.stdout.strip() == "v-from-redis-cli", r.stdout)
    print("redis: a 1 MiB value and a redis-cli SET read back identical")


def test_redis(shoal_run, probe):
    p = Program(shoal_run, "redis")
    try:
        p.start("/usr/bin/redis-server", "--port", "6379", "--bind", "0.0.0.0", "--save", "",
                "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no",
                "--logfile", os.path.join(p.tmp, "redis.log"), ready_port=6379)
        redis_checks(p, STACK_IP, 6379)
        redis_big_value(p, STACK_IP, 6379)
        p.stop()
    finally:
        p.cleanup()


MEMCACHED_CLIENT = r"""
import random, socket, sys
rng = random.Random(3)
c = socket.create_connection((sys.argv[1], 11211), 10)
f = c.makefile('rwb')
sizes = [1, 100, 1000, 10000, 100 * 1024]
vals = {}
for i in range(10000):
    v = rng.randbytes(rng.choice(sizes))
    vals[i] = v
    f.write(b'set k%d 0 0 %d\r\n' % (i, len(v)) + v + b'\r\n')
    if i % 50 == 49:
        f.flush()
        for _ in range(50):
            assert f.readline() == b'STORED\r\n'
f.flush()
bad = 0
for base in range(0, 10000, 100):
    f.write(b'get ' + b' '.join(b'k%d' % i for i in range(base, base + 100)) + b'\r\n')
    f.flush()
    for i in range(base, base + 100):
        h = f.readline().split()
        if h[:2] != [b'VALUE', b'k%d' % i]:
            bad += 1
            continue
        d = f.read(int(h[3]) + 2)[:-2]
        bad += d != vals[i]
    assert f.readline() == b'END\r\n'
print('memcached: 10000 keys, %d MiB, %d differ' % (sum(map(len, vals.values())) >> 20, bad))
sys.exit(1 if bad else 0)
"""


def test_memcached(shoal_run, probe):
    p = Program(shoal_run, "memcached")
    try:
        p.start("/usr/bin/memcached", "-u", "root", "-l", "0.0.0.0", "-p", "11211", "-U", "0",
                "-m", "1024", "-I", "2m", "-t", "2", ready_port=11211)
        r = p.ns_run(sys.executable, "-c", MEMCACHED_CLIENT, STACK_IP, check_rc=False,
                     timeout=180)
        print(r.stdout.strip())
        check(r.returncode == 0, f"memcached values differ\n{r.stdout}{r.stderr}")
        p.stop()
    finally:
        p.cleanup()


def test_clients(shoal_run, probe):
    """wrk and redis-benchmark over shoal; nginx and redis-server on the kernel."""
    p = Program(shoal_run, "clients")
    servers = []
    try:
        conf, _ = nginx_conf(p.tmp, "8080")
        servers.append(p.ns_popen("/usr/sbin/nginx", "-p", p.tmp, "-c", conf,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        servers.append(p.ns_popen("/usr/bin/redis-server", "--port", "6380", "--bind", "0.0.0.0",
                                  "--save", "", "--appendonly", "no", "--protected-mode", "no",
                                  "--daemonize", "no", stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL))
        time.sleep(1)
        for s in servers:
            check(s.poll() is None, "a kernel-side server did not start")
        r = p.ns_run(shoal_run, p.config, "wrk", "-t1", "-c100", "-d10s",
                     f"http://{KERNEL_IP}:8080/index.html", timeout=60)
        check("shoal-preload: ready" in r.stderr + r.stdout, f"wrk did not run over shoal\n{r.stderr}")
        print("wrk over shoal:", r.stdout.strip().splitlines()[-2])
        check("Socket errors" not in r.stdout and "Non-2xx" not in r.stdout, r.stdout)
        n = int(field(r.stdout, r"(\d+) requests in", "request count"))
        check(n > 1000, f"wrk over shoal: only {n} requests")
        redis_checks(p, KERNEL_IP, 6380, under=(shoal_run, p.config))
        check(not os.path.exists(p.runtime_dir), f"{p.runtime_dir} left behind")
    finally:
        for s in servers:
            s.terminate()
            try:
                s.wait(10)
            except subprocess.TimeoutExpired:
                s.kill()
        p.cleanup()


def test_semantics(shoal_run, probe, mode="inline"):
    p = Program(shoal_run, "semantics", mode)
    echo = None
    try:
        # A kernel echo server in the namespace for the probe to talk to.
        echo = p.ns_popen(sys.executable, "-c", """
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', 7001)); s.listen(64)
def serve(c):
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
""")
        time.sleep(0.5)
        r = p.ns_run(shoal_run, p.config, probe, KERNEL_IP, "7001", check_rc=False, timeout=120)
        print(r.stdout.strip())
        check(r.returncode == 0, f"preload_probe failed ({r.returncode})\n{r.stdout}\n{r.stderr}")
        check("shoal-preload: ready" in r.stderr, "the probe did not run over shoal\n" + r.stderr)
        check(not os.path.exists(p.runtime_dir), f"{p.runtime_dir} left behind")
        # Start-up failure: one clear line, non-zero, before the program runs.
        bad = os.path.join(p.tmp, "bad.ini")
        with open(bad, "w") as f:
            f.write("[eal]\nlcores = 0\n[nonsense]\n")
        r = p.ns_run(shoal_run, bad, "/bin/echo", "the program ran", check_rc=False)
        check(r.returncode != 0 and "the program ran" not in r.stdout, r.stdout + r.stderr)
        check(r.stderr.count("\n") == 1 and "shoal-preload:" in r.stderr, r.stderr)
        print("bad config:", r.stderr.strip())
    finally:
        if echo is not None:
            echo.kill()
            echo.wait()
        p.cleanup()


UDP_ECHO = r"""
import signal, socket, sys
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', int(sys.argv[1])))
print('bound', flush=True)
while True:
    d, a = s.recvfrom(65535)
    s.sendto(d, a)
"""

UDP_CLIENT = r"""
import os, socket, sys
host, port, closed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.settimeout(5)
for n in (1, 1472, 8000):
    d = os.urandom(n)
    c.sendto(d, (host, port))
    r, a = c.recvfrom(65535)
    assert r == d and a == (host, port), (n, len(r), a)
    print(f"{n} B echoed identical", flush=True)
c2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c2.settimeout(5)
c2.connect((host, closed))
c2.send(b"x")
try:
    c2.recv(10)
    sys.exit("a closed port answered")
except ConnectionRefusedError:
    print("closed port: ECONNREFUSED", flush=True)
"""


def test_udp(shoal_run, probe):
    """A UDP echo server over shoal for a kernel client, and a UDP client
    over shoal for a kernel echo server: 1, 1472 and 8000 B (fragmented both
    ways) back identical; a connected socket to a closed port gets
    ECONNREFUSED (shoal's port unreachable, then the kernel's)."""
    p = Program(shoal_run, "udp")
    echo = None
    try:
        p.start(sys.executable, "-c", UDP_ECHO, "5353")
        deadline = time.time() + 10
        while "bound" not in p.text() and time.time() < deadline:
            time.sleep(0.1)
        r = p.ns_run(sys.executable, "-c", UDP_CLIENT, STACK_IP, "5353", "5999",
                     check_rc=False, timeout=60)
        print("kernel client -> shoal:", r.stdout.strip().replace("\n", "; "))
        check(r.returncode == 0, f"kernel client against shoal\n{r.stdout}{r.stderr}")
        p.stop()
        echo = p.ns_popen(sys.executable, "-c", UDP_ECHO, "6000", stdout=subprocess.PIPE,
                          text=True)
        check(echo.stdout.readline().strip() == "bound", "kernel echo did not start")
        r = p.ns_run(shoal_run, p.config, sys.executable, "-c", UDP_CLIENT, KERNEL_IP, "6000",
                     "6999", check_rc=False, timeout=60)
        print("shoal client -> kernel:", r.stdout.strip().replace("\n", "; "))
        check(r.returncode == 0 and "shoal-preload: ready" in r.stderr,
              f"shoal client against the kernel\n{r.stdout}{r.stderr}")
    finally:
        if echo is not None:
            echo.kill()
            echo.wait()
        p.cleanup()


DNS_SERVER = r"""
import socket, struct, sys
# A minimal DNS responder: test.shoal. A 198.18.0.77; nothing else exists.
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', 53))
print('bound', flush=True)
while True:
    q, a = s.recvfrom(4096)
    ident, flags, qd = struct.unpack('!HHH', q[:6])
    i = 12
    labels = []
    while q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode())
        i += 1 + q[i]
    qtype, qclass = struct.unpack('!HH', q[i + 1:i + 5])
    question = q[12:i + 5]
    name = '.'.join(labels).lower()
    known = name == 'test.shoal'
    answers = b''
    if known and qtype == 1:
        answers = b'\xc0\x0c' + struct.pack('!HHIH', 1, 1, 60, 4) + socket.inet_aton('198.18.0.77')
    rcode = 0 if known else 3
    head = struct.pack('!HHHHHH', ident, 0x8180 | rcode, 1, 1 if answers else 0, 0, 0)
    s.sendto(head + question + answers, a)
    print(f'answered {name} type {qtype} from {a[0]}', flush=True)
"""


def test_dns(shoal_run, probe):
    """getaddrinfo() in an unmodified program over shoal resolves a name
    served by a DNS server on the kernel side, over UDP through shoal."""
    p = Program(shoal_run, "dns")
    server = None
    resolv_dir = f"/etc/netns/{p.ns}"
    try:
        # `ip netns exec` shows this file as /etc/resolv.conf in the namespace.
        os.makedirs(resolv_dir, exist_ok=True)
        with open(os.path.join(resolv_dir, "resolv.conf"), "w") as f:
            f.write(f"nameserver {KERNEL_IP}\noptions timeout:2 attempts:2\n")
        server = p.ns_popen(sys.executable, "-c", DNS_SERVER, stdout=subprocess.PIPE, text=True)
        check(server.stdout.readline().strip() == "bound", "DNS server did not start")
        r = p.ns_run(shoal_run, p.config, "getent", "ahostsv4", "test.shoal", check_rc=False,
                     timeout=60)
        print("getent ahostsv4 test.shoal over shoal:", r.stdout.strip().splitlines()[:1])
        check("shoal-preload: ready" in r.stderr, "getent did not run over shoal\n" + r.stderr)
        check(r.returncode == 0 and "198.18.0.77" in r.stdout,
              f"name not resolved ({r.returncode})\n{r.stdout}{r.stderr}")
        r = p.ns_run(shoal_run, p.config, sys.executable, "-c",
                     "import socket; print(socket.getaddrinfo('test.shoal', 80, socket.AF_INET)[0][4][0])",
                     check_rc=False, timeout=60)
        check(r.returncode == 0 and r.stdout.strip() == "198.18.0.77",
              f"python getaddrinfo over shoal\n{r.stdout}{r.stderr}")
        r = p.ns_run(shoal_run, p.config, "getent", "ahostsv4", "nowhere.shoal", check_rc=False,
                     timeout=60)
        check(r.returncode == 2, f"an unknown name must not resolve ({r.returncode})\n{r.stdout}")
        print("python getaddrinfo: 198.18.0.77; nowhere.shoal: not found")
    finally:
        if server is not None:
            server.kill()
            server.wait()
        shutil.rmtree(resolv_dir, ignore_errors=True)
        p.cleanup()


TESTS = {"nginx": test_nginx, "redis": test_redis, "memcached": test_memcached,
         "clients": test_clients, "semantics": test_semantics, "udp": test_udp,
         "dns": test_dns,
         "semantics_dedicated": lambda run, probe: test_semantics(run, probe, "dedicated")}
TOOLS = {"nginx": ["/usr/sbin/nginx", "curl", "wrk", "ab", "h2load"],
         "redis": ["/usr/bin/redis-server", "redis-benchmark", "redis-cli"],
         "memcached": ["/usr/bin/memcached"],
         "clients": ["/usr/sbin/nginx", "/usr/bin/redis-server", "redis-benchmark", "wrk"],
         "semantics": [], "semantics_dedicated": [], "udp": [],
         "dns": ["getent"]}


def main():
    if len(sys.argv) < 3 or sys.argv[2] not in TESTS:
        print(f"usage: {sys.argv[0]} <shoal-run> <{'|'.join(TESTS)}> [preload_probe]",
              file=sys.stderr)
        return 2
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun"):
        return skip("needs root and /dev/net/tun")
    name = sys.argv[2]
    for tool in TOOLS[name]:
        if shutil.which(tool) is None:
            return skip(f"{tool} is not installed (scripts/setup.sh installs it)")
    probe = os.path.abspath(sys.argv[3]) if len(sys.argv) > 3 else None
    TESTS[name](os.path.abspath(sys.argv[1]), probe)
    print(f"preload_{name}: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
