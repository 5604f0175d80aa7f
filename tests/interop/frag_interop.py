#!/usr/bin/env python3
"""IPv4 fragments between the Linux kernel and shoal-node over a TAP.

    frag_interop.py <shoal-node> <frag_ping|frag_ping_software>

The kernel's `ping -s 4000` leaves in three fragments; shoal reassembles
the request and answers with the same 4000 bytes, which it cuts into
fragments itself (the TAP's MTU is 1500); the kernel reassembles the reply.
Then a flood of first fragments with random IDs that never complete: every
one is counted, shoal holds at most its table's bound of them, and big
pings still get through. Two fragments of one echo request that overlap by
8 bytes: the datagram is discarded (RFC 5722's rule, as Linux does for
IPv4), counted, never answered. frag_ping_software runs with checksum
offload off.
"""
import os
import random
import re
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kernel_peer as kp  # noqa: E402
from checks import check, skip  # noqa: E402

FLOOD = 2000
TABLE_BOUND = 256  # [ipv4] reassembly_max_datagrams, the default


def big_ping(node, count, size=4000):
    before = node.counters()
    # -w: wait up to 60 s for all the replies (-W waits only two RTTs after
    # the last request once one reply came, too short on a loaded machine).
    r = node.ns_run("ping", "-c", str(count), "-i", "0.1", "-w", "60", "-s", str(size), kp.STACK_IP,
                    check=False, timeout=120)
    m = re.search(r"(\d+) received", r.stdout)
    got = int(m.group(1)) if m else 0
    if got < count:
        c = node.counters()
        moved = {k: c[k] - before[k] for k in c if c[k] != before[k]}
        nstat = node.ns_run("nstat", "-az", check=False).stdout
        nstat = "\n".join(l for l in nstat.splitlines() if "Reasm" in l or "Frag" in l)
        raise AssertionError(f"ping -s {size}: {got}/{count} replies\n{r.stdout}{r.stderr}\n"
                             f"shoal counters that moved: {moved}\nkernel: {nstat}\n{node.log()}")
    print(f"ping -s {size}: {got}/{count} replies")


def flood_sender(count, seed):
    """Runs inside the namespace: `count` first fragments (MF set, offset 0)
    with random IDs, from the kernel's address to shoal's, never completed."""
    rnd = random.Random(seed)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    payload = bytes([8, 0, 0, 0]) + bytes(60)  # the start of an echo request
    for i in range(count):
        if i % 50 == 49:
            time.sleep(0.005)  # paced: the TAP's queue (1000 frames) must not overflow
        ident = rnd.randrange(1, 65536)
        # version/IHL, TOS, total length, ID, flags (MF) + offset 0, TTL,
        # protocol ICMP, checksum (the kernel fills it in), src, dst.
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x2000, 64, 1, 0,
                          socket.inet_aton(kp.KERNEL_IP), socket.inet_aton(kp.STACK_IP))
        s.sendto(hdr + payload, (kp.STACK_IP, 0))
    s.close()


def overlap_sender():
    """Runs inside the namespace: an echo request in two fragments whose
    byte ranges overlap ([0, 64) and [56, 120))."""
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    body = bytes([8, 0, 0, 0, 0x12, 0x34, 0, 1]) + bytes(range(112))
    for off, more, piece in ((0, True, body[:64]), (56, False, body[56:])):
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(piece), 0x7777,
                          (0x2000 if more else 0) | off // 8, 64, 1, 0,
                          socket.inet_aton(kp.KERNEL_IP), socket.inet_aton(kp.STACK_IP))
        s.sendto(hdr + piece, (kp.STACK_IP, 0))
    s.close()


def test_overlap(node):
    before = node.counters()
    node.ns_run(sys.executable, os.path.abspath(__file__), "--overlap", "1", timeout=60)
    deadline = time.time() + 10
    while time.time() < deadline:
        c = node.counters()
        if c["ipv4_fragments"] - before["ipv4_fragments"] >= 2:
            break
        time.sleep(0.2)
    d = {k: c[k] - before[k] for k in c}
    print(f"overlapping fragments: {d['ipv4_fragments']} in, {d['ipv4_reassembly_overlaps']} "
          f"datagram discarded, {d['ipv4_reassembled']} reassembled")
    check(d["ipv4_fragments"] == 2 and d["ipv4_reassembly_overlaps"] == 1 and
          d["ipv4_reassembled"] == 0 and d["icmp_echo_requests_in"] == 0,
          f"overlap counters: { {k: v for k, v in d.items() if v} }")


def test_frag(node):
    kp.ping(node, 3)  # ARP resolved both ways
    before = node.counters()
    big_ping(node, 10)
    big_ping(node, 5, size=1600)
    c = node.counters()
    d = {k: c[k] - before[k] for k in c}
    # (On a loaded machine ping may send a few more requests than -c while
    # it waits for late replies: every one is counted here.)
    check(d["ipv4_reassembled"] >= 15 and d["ipv4_reassembled"] == d["icmp_echo_requests_in"] and
          d["ipv4_fragments"] >= 10 * 3 + 5 * 2, f"reassembly counters: {d}")
    check(d["ipv4_fragments_out"] == d["ipv4_fragments"] and d["ipv4_reassembly_drops"] == 0 and
          d["tx_oversize_drops"] == 0, f"fragmentation counters: {d}")
    print(f"counters: {d['ipv4_fragments']} fragments in, {d['ipv4_reassembled']} datagrams "
          f"reassembled, {d['ipv4_fragments_out']} fragments out")

    before = node.counters()
    r = node.ns_run(sys.executable, os.path.abspath(__file__), "--flood", str(FLOOD), timeout=120)
    # Until the count stops moving (the TAP may drop some of the flood when
    # the machine is loaded: the check is on what reached shoal).
    last, deadline = -1, time.time() + 20
    while time.time() < deadline:
        c = node.counters()
        if c["ipv4_fragments"] == last:
            break
        last = c["ipv4_fragments"]
        time.sleep(0.5)
    d = {k: c[k] - before[k] for k in c}
    seen = d["ipv4_fragments"]
    check(seen >= 2 * TABLE_BOUND, f"only {seen} of {FLOOD} flood fragments reached shoal\n"
          f"{r.stdout}{r.stderr}")
    held = seen - d["ipv4_reassembly_drops"]
    check(0 <= held <= TABLE_BOUND, f"{held} flood fragments held, bound {TABLE_BOUND}: {d}")
    print(f"flood: {seen} never-completed fragments reached shoal, {d['ipv4_reassembly_drops']} "
          f"freed and counted, {held} held (bound {TABLE_BOUND})")
    time.sleep(0.1)
    before = node.counters()
    try:
        big_ping(node, 5)  # the full table makes room for datagrams that arrive whole
    finally:
        c = node.counters()
        print("after the flood:", {k: c[k] - before[k] for k in c if c[k] != before[k]})
    test_overlap(node)


TESTS = {"frag_ping": (test_frag, True), "frag_ping_software": (test_frag, False)}


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--flood":
        flood_sender(int(sys.argv[2]), seed=7)
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "--overlap":
        overlap_sender()
        return 0
    if len(sys.argv) != 3 or sys.argv[2] not in TESTS:
        print(f"usage: {sys.argv[0]} <shoal-node> <{'|'.join(TESTS)}>", file=sys.stderr)
        return 2
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun"):
        return skip("needs root and /dev/net/tun")
    app, name = os.path.abspath(sys.argv[1]), sys.argv[2]
    fn, offload = TESTS[name]
    node = kp.Node(app, name, checksum_offload=offload)
    try:
        node.start()
        fn(node)
        node.stop()
    finally:
        node.cleanup()
    print(f"{name}: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
