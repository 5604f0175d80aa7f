#!/usr/bin/env python3
"""Kernel-peer tests: shoal-node on a TAP in a network namespace of its own,
with the Linux kernel on the other side of the TAP as the peer.

    kernel_peer.py <path/to/shoal-node> <test>

Tests:
  ping_arp            ping -c 20 -i 0.05 gets 20 replies; arping resolves the
                      stack's MAC, which must equal the DPDK port's MAC.
  malformed           a burst of malformed frames from an AF_PACKET socket on
                      the kernel side, each kind counted under its reason
                      (read over the telemetry socket), then ping still works.
  malformed_software  the same with checksum offload off (software checksums).
  bad_config          (no root needed) a bad config: one stderr line, exit 1.

Every test ends with SIGTERM: shoal-node must exit 0, print its counters as
JSON, and leave no TAP and no /var/run/dpdk/<prefix>; the namespace is then
deleted. Everything is cleaned up even on failure. Exit 77 = skipped (not
root, or no /dev/net/tun), or 1 when CI=true (checks.skip).
"""
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

from checks import check, skip

STACK_IP = "198.18.0.2"
KERNEL_IP = "198.18.0.1"
COPIES = 5  # frames of each malformed kind
# Kinds an AF_PACKET socket may refuse to send: a frame shorter than an
# Ethernet header is below the device's hard header length (EINVAL). Every
# other kind must be sent in full and counted.
MAY_BE_REFUSED = {"truncated ethernet"}


# --- frames ---------------------------------------------------------------

def inet_checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip_bytes(a: str) -> bytes:
    return socket.inet_aton(a)


def mac_bytes(m: str) -> bytes:
    return bytes(int(x, 16) for x in m.split(":"))


def ipv4(src, dst, proto, payload, *, ihl=5, version=4, total_len=None, flags_frag=0,
         checksum=None):
    header_len = ihl * 4 if 5 <= ihl <= 15 else 20
    tl = header_len + len(payload) if total_len is None else total_len
    h = struct.pack("!BBHHHBBH4s4s", (version << 4) | ihl, 0, tl, 0x4242, flags_frag, 64,
                    proto, 0, ip_bytes(src), ip_bytes(dst))
    h += b"\0" * (header_len - 20)
    c = inet_checksum(h) if checksum is None else checksum
    h = h[:10] + struct.pack("!H", c) + h[12:]
    return h + payload


def icmp_echo(ident, seq, data=b"shoal", *, bad_checksum=False):
    m = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + data
    c = inet_checksum(m) ^ (0x5555 if bad_checksum else 0)
    return m[:2] + struct.pack("!H", c) + m[4:]


def tcp_syn(src, dst, *, data_offset=5, bad_checksum=False):
    seg = struct.pack("!HHIIBBHHH", 40000, 80, 1000, 0, data_offset << 4, 0x02, 65535, 0, 0)
    pseudo = ip_bytes(src) + ip_bytes(dst) + struct.pack("!BBH", 0, 6, len(seg))
    c = inet_checksum(pseudo + seg) ^ (0x0101 if bad_checksum else 0)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def udp_datagram(src, dst, sport, dport, data, *, bad_checksum=False):
    u = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    pseudo = ip_bytes(src) + ip_bytes(dst) + struct.pack("!BBH", 0, 17, len(u))
    c = (inet_checksum(pseudo + u) or 0xFFFF) ^ (0x0101 if bad_checksum else 0)
    return u[:6] + struct.pack("!H", c) + u[8:]


def icmp_error(type_, code, quote, rest=0):
    """An ICMP error message quoting `quote` (the offending datagram's start)."""
    m = struct.pack("!BBHI", type_, code, 0, rest) + quote
    return m[:2] + struct.pack("!H", inet_checksum(m)) + m[4:]


def ethernet(dst_mac, src_mac, ethertype, payload):
    return mac_bytes(dst_mac) + mac_bytes(src_mac) + struct.pack("!H", ethertype) + payload


def malformed_kinds(stack_mac, kernel_mac):
    """(name, frame, counter expected to rise by one per frame)."""
    def ip_frame(payload):
        return ethernet(stack_mac, kernel_mac, 0x0800, payload)

    ping = ipv4(KERNEL_IP, STACK_IP, 1, icmp_echo(0x99, 1))
    arp_req = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac_bytes(kernel_mac),
                          ip_bytes(KERNEL_IP), b"\0" * 6, ip_bytes(STACK_IP))
    return [
        # The kernel refuses to send a frame shorter than the Ethernet header
        # (AF_PACKET checks dev->min_header_len): tried, skipped if refused.
        ("truncated ethernet", mac_bytes(stack_mac) + mac_bytes(kernel_mac)[:4], "eth_truncated"),
        ("truncated ipv4", ip_frame(ping[:10]), "ipv4_truncated"),
        ("bad ipv4 checksum", ip_frame(ipv4(KERNEL_IP, STACK_IP, 1, icmp_echo(0x99, 2),
                                            checksum=0x1234)), "ipv4_bad_checksum"),
        ("bad ihl", ip_frame(ipv4(KERNEL_IP, STACK_IP, 1, icmp_echo(0x99, 3), ihl=4)),
         "ipv4_bad_ihl"),
        ("total length beyond frame",
         ip_frame(ipv4(KERNEL_IP, STACK_IP, 1, icmp_echo(0x99, 4), total_len=1400)),
         "ipv4_bad_total_length"),
        ("bad version", ip_frame(ipv4(KERNEL_IP, STACK_IP, 1, icmp_echo(0x99, 5), version=6)),
         "ipv4_bad_version"),
        ("bad icmp checksum",
         ip_frame(ipv4(KERNEL_IP, STACK_IP, 1, icmp_echo(0x99, 8, bad_checksum=True))),
         "icmp_bad_checksum"),
        ("bad tcp data offset",
         ip_frame(ipv4(KERNEL_IP, STACK_IP, 6, tcp_syn(KERNEL_IP, STACK_IP, data_offset=3))),
         "tcp_bad_data_offset"),
        ("bad tcp checksum",
         ip_frame(ipv4(KERNEL_IP, STACK_IP, 6, tcp_syn(KERNEL_IP, STACK_IP, bad_checksum=True))),
         "tcp_bad_checksum"),
        ("valid tcp syn, no listener",
         ip_frame(ipv4(KERNEL_IP, STACK_IP, 6, tcp_syn(KERNEL_IP, STACK_IP))), "tcp_no_listener"),
        ("ipv4 for another address",
         ip_frame(ipv4(KERNEL_IP, "198.18.0.99", 1, icmp_echo(0x99, 9))), "ipv4_not_for_us"),
        ("udp length field 0", ip_frame(ipv4(KERNEL_IP, STACK_IP, 17, b"\0" * 12)),
         "udp_bad_length"),
        ("bad udp checksum",
         ip_frame(ipv4(KERNEL_IP, STACK_IP, 17,
                       udp_datagram(KERNEL_IP, STACK_IP, 5000, 53, b"shoal", bad_checksum=True))),
         "udp_bad_checksum"),
        ("icmp error with a truncated quote",
         ip_frame(ipv4(KERNEL_IP, STACK_IP, 1, icmp_error(3, 3, b"\x45" + b"\0" * 9))),
         "icmp_truncated"),
        # A "fragmentation needed" quoting a TCP segment shoal never sent
        # (shoal-node has no TCP): counted, nothing else happens.
        ("icmp error about no tcp of ours",
         ip_frame(ipv4(KERNEL_IP, STACK_IP, 1,
                       icmp_error(3, 4, ipv4(STACK_IP, KERNEL_IP, 6,
                                             tcp_syn(STACK_IP, KERNEL_IP))[:28], rest=1000))),
         "icmp_errors_unmatched"),

        ("arp bad hardware type",
         ethernet("ff:ff:ff:ff:ff:ff", kernel_mac, 0x0806, b"\x00\x06" + arp_req[2:]),
         "arp_bad_hardware_type"),
        ("truncated arp", ethernet("ff:ff:ff:ff:ff:ff", kernel_mac, 0x0806, arp_req[:20]),
         "arp_truncated"),
        ("ipv6", ethernet(stack_mac, kernel_mac, 0x86DD, b"\x60" + b"\0" * 39), "eth_ipv6"),
    ]


# --- environment ------------------------------------------------------------

def run(*cmd, check=True, timeout=30):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} -> {r.returncode}\n{r.stdout}{r.stderr}")
    return r


class Node:
    """shoal-node in its own netns, with unique TAP name and file prefix."""

    def __init__(self, app, test, checksum_offload=True):
        tag = f"{os.getpid() % 100000}"
        self.app = app
        self.ns = f"shoal-it-{test}-{tag}"
        self.tap = f"sit{tag}{'s' if not checksum_offload else ''}"[:15]
        self.prefix = f"shoal-it-{test}-{tag}"
        self.runtime_dir = f"/var/run/dpdk/{self.prefix}"
        self.tmp = tempfile.mkdtemp(prefix="shoal-interop-")
        self.config = os.path.join(self.tmp, "node.ini")
        self.stderr_path = os.path.join(self.tmp, "stderr.log")
        self.proc = None
        self.ready = None
        self.stdout_lines = []
        with open(self.config, "w") as f:
            f.write(f"""[eal]
lcores = 0
memory_mb = 128
no_huge = true
file_prefix = {self.prefix}
log_level = pmd.net.tap:critical
[port]
vdev = net_tap0,iface={self.tap}
mbufs = 4095
mbuf_cache = 64
rx_ring_size = 512
tx_ring_size = 512
checksum_offload = {'true' if checksum_offload else 'false'}
[ipv4]
address = {STACK_IP}
prefix_length = 24
[host]
address = {KERNEL_IP}
prefix_length = 24
disable_ipv6 = true
[shard]
# The test machine is small and shared: rest after an empty poll.
idle_sleep_us = 50
status_interval_s = 0
""")

    def ns_run(self, *cmd, check=True, timeout=30):
        return run("ip", "netns", "exec", self.ns, *cmd, check=check, timeout=timeout)

    def start(self):
        run("ip", "netns", "del", self.ns, check=False)
        run("ip", "netns", "add", self.ns)
        self.ns_run("ip", "link", "set", "lo", "up")
        self.stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, self.app, self.config],
                                     stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        ready = threading.Event()

        def reader():
            for line in self.proc.stdout:
                self.stdout_lines.append(line.rstrip("\n"))
                if "ready" in line and self.ready is None:
                    self.ready = line
                    ready.set()
            ready.set()

        self.reader = threading.Thread(target=reader, daemon=True)
        self.reader.start()
        if not ready.wait(30) or self.ready is None:
            raise AssertionError("shoal-node did not say ready\n" + self.log())
        m = re.search(r"mac=([0-9a-f:]{17})", self.ready)
        check(m, f"no mac= in ready line: {self.ready}")
        self.mac = m.group(1)
        print(f"node: {self.ready.strip()}")

    def log(self):
        out = "\n".join(self.stdout_lines)
        try:
            err = open(self.stderr_path).read()
        except OSError:
            err = ""
        return f"--- shoal-node stdout\n{out}\n--- shoal-node stderr\n{err}"

    def kernel_mac(self):
        # /sys shows the namespace of the reader: read it from inside.
        return self.ns_run("cat", f"/sys/class/net/{self.tap}/address").stdout.strip()

    def telemetry(self, cmd="/shoal/stats"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            s.settimeout(5)
            s.connect(os.path.join(self.runtime_dir, "dpdk_telemetry.v2"))
            json.loads(s.recv(65536))  # greeting: version, pid, max_output_len
            s.send(cmd.encode())
            return json.loads(s.recv(1 << 20))
        finally:
            s.close()

    def counters(self):
        return self.telemetry()["/shoal/stats"]["shard0"]

    def stop(self):
        """SIGTERM; returns the exit JSON. Asserts a clean exit."""
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=20)
        self.reader.join(5)
        check(rc == 0, f"shoal-node exited {rc}\n{self.log()}")
        stats = [l for l in self.stdout_lines if l.startswith("{")]
        check(len(stats) == 1, "expected one JSON line at exit\n" + self.log())
        exit_stats = json.loads(stats[0])["shoal_stats"]["shard0"]
        r = self.ns_run("ip", "link", "show", self.tap, check=False)
        check(r.returncode != 0, f"TAP {self.tap} still there after exit")
        check(not os.path.exists(self.runtime_dir), f"{self.runtime_dir} left behind")
        return exit_stats

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        run("ip", "netns", "del", self.ns, check=False)
        shutil.rmtree(self.runtime_dir, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)
        gone = self.ns not in run("ip", "netns", "list").stdout.split()
        check(gone, f"namespace {self.ns} still there")


def ping(node, count=20):
    r = node.ns_run("ping", "-c", str(count), "-i", "0.05", "-W", "1", STACK_IP, check=False,
                    timeout=60)
    m = re.search(r"(\d+) received", r.stdout)
    got = int(m.group(1)) if m else 0
    check(got == count, f"ping: {got}/{count} replies\n{r.stdout}{r.stderr}\n{node.log()}")
    print(f"ping: {got}/{count} replies")


# --- tests --------------------------------------------------------------------

def test_ping_arp(node):
    ping(node, 20)
    r = node.ns_run("arping", "-c", "3", "-w", "5", "-I", node.tap, STACK_IP, check=False)
    macs = {m.lower() for m in re.findall(r"\[([0-9A-Fa-f:]{17})\]", r.stdout)}
    check(r.returncode == 0 and macs, f"arping got no reply\n{r.stdout}{r.stderr}")
    check(macs == {node.mac}, f"arping resolved {macs}, the DPDK port's MAC is {node.mac}")
    print(f"arping: {STACK_IP} is at {node.mac} (the port's MAC)")
    c = node.counters()
    check(c["icmp_echo_requests_in"] >= 20 and c["icmp_echo_replies_out"] >= 20, c)
    check(c["arp_replies_out"] >= 3, c)
    telemetry_like_the_stock_client(node)


def telemetry_like_the_stock_client(node):
    """The steps DPDK's usertools/dpdk-telemetry.py takes: a greeting read with
    a 1024-byte buffer, "/" for the command list, then each command read with
    the max_output_len the greeting announced."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.settimeout(5)
        s.connect(os.path.join(node.runtime_dir, "dpdk_telemetry.v2"))
        greeting = json.loads(s.recv(1024).decode())
        max_len = greeting["max_output_len"]
        s.send(b"/")
        cmds = json.loads(s.recv(max_len).decode())["/"]
        check("/shoal/stats" in cmds, cmds)
        s.send(b"/shoal/stats")
        raw = s.recv(max_len)
        check(len(raw) < max_len, f"/shoal/stats reply {len(raw)} bytes >= {max_len}")
        all_shards = json.loads(raw.decode())["/shoal/stats"]
        s.send(b"/shoal/stats,0")
        one = json.loads(s.recv(max_len).decode())["/shoal/stats"]
        check(set(one) == set(all_shards["shard0"]), "per-shard reply differs")
        s.send(b"/help,/shoal/stats")
        help_text = json.loads(s.recv(max_len).decode())["/help"]
        print(f"telemetry: /shoal/stats {len(raw)} bytes, {len(one)} counters; help: {help_text}")
    finally:
        s.close()


def send_frames(node, frames):
    """Sends frames from an AF_PACKET socket on the kernel side of the TAP
    (inside the namespace); returns how many of each the kernel accepted."""
    payload = json.dumps([f.hex() for f in frames])
    r = subprocess.run(["ip", "netns", "exec", node.ns, sys.executable, os.path.abspath(__file__),
                        "--send", node.tap], input=payload, capture_output=True, text=True,
                       timeout=30)
    check(r.returncode == 0, f"sender failed: {r.stdout}{r.stderr}")
    return json.loads(r.stdout)


def sender_main(iface):
    frames = [bytes.fromhex(h) for h in json.load(sys.stdin)]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    sent = []
    for f in frames:
        try:
            s.send(f)
            sent.append(True)
        except OSError:
            sent.append(False)
    print(json.dumps(sent))


def test_malformed(node):
    ping(node, 3)  # ARP resolved both ways, the path works
    kinds = malformed_kinds(node.mac, node.kernel_mac())
    before = node.counters()
    frames = [frame for _, frame, _ in kinds for _ in range(COPIES)]
    accepted = send_frames(node, frames)
    expected = {}
    skipped = []
    failures = []
    for i, (name, _, counter) in enumerate(kinds):
        n = sum(accepted[i * COPIES:(i + 1) * COPIES])
        if n < COPIES and name not in MAY_BE_REFUSED:
            failures.append(f"the kernel sent {n} of {COPIES} frames of kind {name!r}")
        if n == 0:
            skipped.append(name)
            continue
        expected[counter] = expected.get(counter, 0) + n
    total = sum(expected.values())
    # Wait until the stack has seen them all.
    deadline = time.time() + 10
    while True:
        after = node.counters()
        if after["rx_packets"] - before["rx_packets"] >= total or time.time() > deadline:
            break
        time.sleep(0.1)
    for counter, n in sorted(expected.items()):
        delta = after[counter] - before[counter]
        mark = "ok" if delta == n else "WRONG"
        print(f"  {counter:28s} +{delta} (sent {n}) {mark}")
        if delta != n:
            failures.append(f"{counter}: +{delta}, expected +{n}")
    others = {k: after[k] - before[k] for k in after
              if k not in expected and after[k] != before[k]}
    print(f"  other counters that moved: {others}")
    not_drops = {"rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "alloc_failures",
                 "arp_requests_in", "arp_replies_in", "arp_requests_out", "arp_replies_out",
                 "icmp_echo_requests_in", "icmp_echo_replies_out",
                 # a received ICMP error's tally by type (what became of it is
                 # the row's own counter)
                 "icmp_dest_unreachable_in"}
    stray = {k: v for k, v in others.items() if k not in not_drops}
    if stray:
        failures.append(f"drop counters that should not have moved: {stray}")
    for name in skipped:
        print(f"  skipped: {name} (the kernel refused to send it)")
    check(not failures, "miscounted:\n  " + "\n  ".join(failures) + "\n" + node.log())
    ping(node, 5)  # still answering


TESTS = {
    "ping_arp": (test_ping_arp, True),
    "malformed": (test_malformed, True),
    "malformed_software": (test_malformed, False),
}


def bad_config(app):
    """No root needed: a bad config is one line on stderr and exit 1, with
    nothing started and nothing left behind."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bad.ini")
        with open(path, "w") as f:
            f.write("[eal]\nfile_prefix = x\n[port]\nvdev = net_tap0,iface=t0\n"
                    "[ipv4]\naddress = 1.2.3\nprefix_length = 24\n")
        r = subprocess.run([app, path], capture_output=True, text=True, timeout=30)
        want = f'{path}: [ipv4] address: "1.2.3" is not an IPv4 address\n'
        check(r.returncode == 1, f"exit {r.returncode}, expected 1\n{r.stderr}")
        check(r.stderr == want, f"stderr was {r.stderr!r}, expected {want!r}")
        check(r.stdout == "", r.stdout)
        r = subprocess.run([app, os.path.join(tmp, "absent.ini")], capture_output=True,
                           text=True, timeout=30)
        check(r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr)
        r = subprocess.run([app], capture_output=True, text=True, timeout=30)
        check(r.returncode == 2 and "usage" in r.stderr, r.stderr)
    print("bad_config: PASS")
    return 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--send":
        sender_main(sys.argv[2])
        return 0
    if len(sys.argv) == 3 and sys.argv[2] == "bad_config":
        return bad_config(os.path.abspath(sys.argv[1]))
    if len(sys.argv) != 3 or sys.argv[2] not in TESTS:
        print(f"usage: {sys.argv[0]} <shoal-node> <{'|'.join(TESTS)}>", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        return skip("needs root (network namespaces, TAP)")
    if not os.path.exists("/dev/net/tun"):
        return skip("no /dev/net/tun")
    app, name = os.path.abspath(sys.argv[1]), sys.argv[2]
    fn, offload = TESTS[name]
    node = Node(app, name, checksum_offload=offload)
    try:
        node.start()
        fn(node)
        exit_stats = node.stop()
        check(exit_stats["rx_packets"] > 0, exit_stats)
        print(f"exit: 0, stats JSON with {len(exit_stats)} counters, TAP and runtime dir gone")
    finally:
        node.cleanup()
    print(f"{name}: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
