#!/usr/bin/env python3
"""UDP between the Linux kernel and shoal-echo over a TAP.

    udp_interop.py <shoal-echo> <udp_echo|udp_echo_software|udp_echo_two_shards>

shoal-echo runs on a TAP in a network namespace of its own (kernel_peer.Node);
a kernel UDP socket inside the namespace sends datagrams of 1, 1472 and 8000
bytes to its port 7 and must get each back identical (1472 fills one
1500-byte frame; 8000 leaves the kernel in fragments, is reassembled by
shoal, and comes back in fragments shoal cut itself). Then a connected
kernel UDP socket sends to a closed port and must get ECONNREFUSED (shoal's
ICMP port unreachable). shoal's counters (telemetry) must show the
datagrams. udp_echo_software runs with checksum offload off.
udp_echo_two_shards runs shoal-echo on lcores 0,1 with a 2-queue TAP: the
kernel spreads the datagrams of 16 sockets over both queues, and each shard
must echo what it receives (udp_bind opens the port on every shard). Then
8000-byte datagrams from 16 sockets: their fragments are reassembled by the
shard that owns the addresses (a fragment that arrives on the other queue
is handed over), and every one comes back.
"""
import errno
import json
import os
import re
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kernel_peer as kp  # noqa: E402
from checks import check, skip  # noqa: E402

ECHO_PORT = 7
CLOSED_PORT = 9
SIZES = (1, 1472, 8000)
TRIES = 3  # a datagram may be lost on a loaded machine: sent again, at most this often
SPREAD = 16  # sockets whose datagrams the kernel spreads over a 2-queue TAP


def spread_client(size=0):
    """Runs inside the namespace: one datagram from each of SPREAD sockets
    (as many source ports), padded to `size` bytes; prints how many came
    back identical."""
    good = 0
    for k in range(SPREAD):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2)
        data = f"datagram {k} of {SPREAD}".encode()
        data += bytes((i * 5 + k) & 0xFF for i in range(max(0, size - len(data))))
        for _ in range(TRIES):
            s.sendto(data, (kp.STACK_IP, ECHO_PORT))
            try:
                if s.recvfrom(65535)[0] == data:
                    good += 1
                break
            except socket.timeout:
                continue
        s.close()
    print(json.dumps({"good": good}))
    return 0


def client():
    """Runs inside the namespace; prints one JSON line with what happened."""
    out = {"echo": {}, "refused": None}
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    for size in SIZES:
        data = bytes((i * 7 + size) & 0xFF for i in range(size))
        result = "timeout"
        for _ in range(TRIES):
            s.sendto(data, (kp.STACK_IP, ECHO_PORT))
            try:
                got, addr = s.recvfrom(65535)
            except socket.timeout:
                continue
            if addr != (kp.STACK_IP, ECHO_PORT):
                result = f"reply from {addr}"
            elif got != data:
                result = f"different bytes: {len(got)} back for {size}"
            else:
                result = "identical"
            break
        out["echo"][str(size)] = result
    s.close()

    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.settimeout(2)
    c.connect((kp.STACK_IP, CLOSED_PORT))
    for _ in range(TRIES):
        try:
            c.send(b"anyone there?")
            c.recv(100)
            out["refused"] = "an answer from a closed port"
            break
        except ConnectionRefusedError as e:
            out["refused"] = errno.errorcode.get(e.errno, str(e.errno))
            break
        except socket.timeout:
            out["refused"] = "timeout"
    c.close()
    print(json.dumps(out))
    return 0


def all_shards(node):
    """The counters summed over the shards."""
    total = {}
    for counters in node.telemetry()["/shoal/stats"].values():
        for k, v in counters.items():
            total[k] = total.get(k, 0) + v
    return total


def test_two_shards(node):
    test_udp(node, True, counters=lambda: all_shards(node))
    before = node.telemetry()["/shoal/stats"]
    r = node.ns_run(sys.executable, os.path.abspath(__file__), "--spread", timeout=120)
    good = json.loads(r.stdout.strip().splitlines()[-1])["good"]
    after = node.telemetry()["/shoal/stats"]
    per_shard = {sh: after[sh]["udp_datagrams_in"] - before[sh]["udp_datagrams_in"]
                 for sh in after}
    print(f"{good}/{SPREAD} sockets got their datagram back; received per shard: {per_shard}")
    check(good == SPREAD, f"{good}/{SPREAD} echoes\n{node.log()}")
    check(len(per_shard) == 2 and all(n > 0 for n in per_shard.values()),
          f"the kernel did not use both queues, or a shard did not echo: {per_shard}")
    before = all_shards(node)
    r = node.ns_run(sys.executable, os.path.abspath(__file__), "--spread", "8000", timeout=120)
    good = json.loads(r.stdout.strip().splitlines()[-1])["good"]
    c = all_shards(node)
    d = {k: c[k] - before[k] for k in c}
    print(f"8000 B: {good}/{SPREAD} back; fragments {d['ipv4_fragments']}, handed to the other "
          f"shard {d['ipv4_fragments_handed_over']}, reassembled {d['ipv4_reassembled']}")
    check(good == SPREAD, f"{good}/{SPREAD} 8000-byte echoes\n{d}\n{node.log()}")
    check(d["ipv4_fragments_handed_over"] == d["ipv4_fragments_handed_in"] and
          d["ipv4_fragment_handoff_full_drops"] == 0 and d["ipv4_reassembly_overlaps"] == 0,
          f"fragment handoff counters: {d}")


def test_udp(node, offload, counters=None):
    # With offload on, the port's tx UDP checksum offload is what the kernel
    # checks on the datagrams that leave whole.
    m = re.search(r"offloads (rx=\S+ tx=\S+)", node.log())
    print(f"port offloads: {m.group(1) if m else '?'}")
    if offload:
        check(m and "udp" in m.group(1).split("tx=")[1], f"no tx UDP checksum offload\n{node.log()}")
    counters = counters or node.counters
    kp.ping(node, 3)  # ARP resolved both ways
    before = counters()
    r = node.ns_run(sys.executable, os.path.abspath(__file__), "--client", timeout=60)
    result = json.loads(r.stdout.strip().splitlines()[-1])
    c = counters()
    d = {k: c[k] - before[k] for k in c}
    moved = {k: v for k, v in d.items() if v}
    print(f"client: {result}")
    print(f"shoal counters that moved: {moved}")
    for size in SIZES:
        check(result["echo"][str(size)] == "identical",
              f"{size}-byte datagram: {result['echo'][str(size)]}\n{moved}\n{node.log()}")
    check(result["refused"] == "ECONNREFUSED",
          f"connected socket to a closed port: {result['refused']}\n{moved}\n{node.log()}")
    # Each datagram echoed once (a retry would count twice: at least).
    check(d["udp_datagrams_in"] >= len(SIZES) and d["udp_datagrams_out"] >= len(SIZES), moved)
    check(d["ipv4_reassembled"] >= 1 and d["ipv4_fragments_out"] >= 6, moved)  # 8000 B: 6 fragments
    check(d["udp_no_port"] >= 1 and d["icmp_port_unreachable_out"] >= 1, moved)
    check(d["udp_bad_checksum"] == 0 and d["udp_bad_length"] == 0 and
          d["tx_oversize_drops"] == 0, moved)
    kernel = node.ns_run("nstat", "-az", "UdpInErrors", "UdpInCsumErrors", check=False).stdout
    print(kernel.strip())
    for line in kernel.splitlines():
        f = line.split()
        if len(f) >= 2 and f[0] in ("UdpInErrors", "UdpInCsumErrors"):
            check(f[1] == "0", f"kernel: {line}")


TESTS = {"udp_echo": True, "udp_echo_software": False, "udp_echo_two_shards": True}


def two_shard_config(node):
    """Node's config on lcores 0,1 with one rx and tx queue per shard."""
    with open(node.config) as f:
        text = f.read()
    text = text.replace("lcores = 0\n", "lcores = 0,1\n", 1)
    text = text.replace("[port]\n", "[port]\nrx_queues = 2\ntx_queues = 2\n", 1)
    with open(node.config, "w") as f:
        f.write(text)


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--client":
        return client()
    if len(sys.argv) in (2, 3) and sys.argv[1] == "--spread":
        return spread_client(int(sys.argv[2]) if len(sys.argv) == 3 else 0)
    if len(sys.argv) != 3 or sys.argv[2] not in TESTS:
        print(f"usage: {sys.argv[0]} <shoal-echo> <{'|'.join(TESTS)}>", file=sys.stderr)
        return 2
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun"):
        return skip("needs root and /dev/net/tun")
    app, name = os.path.abspath(sys.argv[1]), sys.argv[2]
    node = kp.Node(app, name, checksum_offload=TESTS[name])
    if name == "udp_echo_two_shards":
        two_shard_config(node)
    try:
        node.start()
        if name == "udp_echo_two_shards":
            test_two_shards(node)
        else:
            test_udp(node, TESTS[name])
        exit_stats = node.stop()  # shard 0's
        if name != "udp_echo_two_shards":
            check(exit_stats["udp_datagrams_in"] >= len(SIZES), f"exit stats: {exit_stats}")
    finally:
        node.cleanup()
    print(f"{name}: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
