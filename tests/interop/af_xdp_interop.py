#!/usr/bin/env python3
"""The TCP kernel-peer checks over AF_XDP instead of a TAP.

    af_xdp_interop.py <build-dir> <test>

In a network namespace of its own the test makes a veth pair: shoal drives
one end through DPDK's net_af_xdp (an XDP program hands the end's frames to
an AF_XDP socket), the kernel's TCP owns the other end and its address. The
kernel's side has its transmit checksum offload turned off (ethtool -K ...
tx off): a veth leaves TCP checksums to an offload that never happens once
the frame is in an AF_XDP ring. DPDK 22.11's af_xdp PMD offers no offloads
and no multi-segment transmit: shoal sums every checksum in software and
puts each segment in one buffer (the port summary says "single-buffer").

Tests (each the tcp_interop.py test of the same name, on this wire):
  echo_16mib        16 MiB each way through shoal-echo, sha256 both ways
  echo_200_conns    200 concurrent kernel connections, each echoed in full
  client_transfer   shoal connects: 16 MiB each way with sha256, shoal closes
                    first; again with the kernel closing first
  client_refused    connect to a closed kernel port -> "refused"
  client_abort      shoal aborts: the kernel sees ECONNRESET
"""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tcp_interop as ti  # noqa: E402
from checks import check, skip  # noqa: E402

VETH_SHOAL = "xa0"
VETH_KERNEL = "xk0"


class AfXdpApp(ti.App):
    """ti.App whose port is net_af_xdp on the veth end VETH_SHOAL (no [host]
    section: the test configures the kernel's end itself)."""

    def __init__(self, build, test, app, args=(), shards=1, impair=None, extra="",
                 commands=False, line_hook=None, memory_mb=256, mbufs=16383):
        super().__init__(build, test, app, args=args, shards=shards, impair=impair, extra=extra,
                         commands=commands, line_hook=line_hook, memory_mb=memory_mb,
                         mbufs=mbufs)
        with open(self.config, "w") as f:
            f.write(f"""[eal]
lcores = 0
memory_mb = {memory_mb}
no_huge = true
file_prefix = {self.prefix}
[port]
vdev = net_af_xdp0,iface={VETH_SHOAL},start_queue=0,queue_count=1
mbufs = {mbufs}
[ipv4]
address = {ti.STACK_IP}
prefix_length = 24
[shard]
idle_sleep_us = 20
status_interval_s = 2
{extra}
""")

    def start(self, wait_ready=True):
        super().start(wait_ready)
        if wait_ready:
            err = open(self.stderr_path).read()
            check("single-buffer" in err and "net_af_xdp" in err,
                     f"the port summary does not show a single-buffer af_xdp port:\n{err}")
        return self


def setup_veth():
    ti.run("ip", "link", "add", VETH_SHOAL, "type", "veth", "peer", "name", VETH_KERNEL)
    ti.run("ip", "addr", "add", f"{ti.KERNEL_IP}/24", "dev", VETH_KERNEL)
    for dev in (VETH_SHOAL, VETH_KERNEL):
        ti.run("ip", "link", "set", dev, "up")
    # The kernel's segments must carry real checksums (see the docstring).
    ti.run("ethtool", "-K", VETH_KERNEL, "tx", "off")
    ti.run("sysctl", "-qw", f"net.ipv6.conf.{VETH_KERNEL}.disable_ipv6=1", check=False)
    ti.run("sysctl", "-qw", f"net.ipv6.conf.{VETH_SHOAL}.disable_ipv6=1", check=False)
    # libxdp pins its program under bpffs when one is mounted.
    if not os.path.ismount("/sys/fs/bpf"):
        ti.run("mount", "-t", "bpf", "bpf", "/sys/fs/bpf", check=False)


def test_echo_16mib(build):
    app = ti.App(build, "x16", "shoal-echo").start()
    try:
        n, sent, got, dt = ti.echo_stream(16 * ti.MIB)
        check(n == 16 * ti.MIB and sent == got,
              f"{n} bytes back, sha256 {got} != {sent}\n{app.log()}")
        print(f"16 MiB each way through shoal-echo in {dt:.2f} s, sha256 {got}")
        stats = app.stop()
        print(f"shoal retransmits {stats['shard0']['tcp_retransmits']}")
    finally:
        app.cleanup()


TESTS = {
    "echo_16mib": test_echo_16mib,
    "echo_200_conns": ti.test_echo_200_conns,
    "client_transfer": ti.test_client_transfer,
    "client_refused": ti.test_client_refused,
    "client_abort": ti.test_client_abort,
}


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--inner":
        ti.App = AfXdpApp
        setup_veth()
        TESTS[sys.argv[3]](sys.argv[2])
        print(f"{sys.argv[3]} over AF_XDP: PASS")
        return 0
    if len(sys.argv) != 3 or sys.argv[2] not in TESTS:
        print(f"usage: {sys.argv[0]} <build-dir> <{'|'.join(TESTS)}>", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        return skip("needs root (network namespaces, veth, XDP)")
    if shutil.which("ethtool") is None:
        return skip("needs ethtool")
    build, name = os.path.abspath(sys.argv[1]), sys.argv[2]
    ns = f"shoal-xdp-{name}-{os.getpid() % 100000}"
    ti.run("ip", "netns", "del", ns, check=False)
    ti.run("ip", "netns", "add", ns)
    try:
        ti.run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, os.path.abspath(__file__),
                            "--inner", build, name], timeout=600)
        return r.returncode
    finally:
        # The veth pair lives in the namespace and goes with it.
        ti.run("ip", "netns", "del", ns, check=False)


if __name__ == "__main__":
    sys.exit(main())
