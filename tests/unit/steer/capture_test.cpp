// pcapng capture: frames recorded on a net_ring port are read back by tshark
// with the right count, direction, lengths; limits end the capture; the
// caller's mbufs are never kept or changed.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_ring.h>

#include "dpdk/capture.hpp"
#include "eal_env.hpp"

namespace shoal::dpdk {
namespace {

// Runs a command, returns its stdout.
std::string run(const std::string &cmd) {
  std::string out;
  FILE *p = popen(cmd.c_str(), "r");
  if (p == nullptr)
    return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0)
    out.append(buf, n);
  pclose(p);
  return out;
}

std::vector<std::string> lines(const std::string &s) {
  std::vector<std::string> v;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t nl = s.find('\n', pos);
    if (nl == std::string::npos)
      nl = s.size();
    v.push_back(s.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return v;
}

// tshark -T fields output, one line per frame.
std::vector<std::string> tshark_fields(const std::string &path, const std::string &fields) {
  return lines(run("tshark -r '" + path + "' -T fields -E separator=, " + fields + " 2>/dev/null"));
}

class CaptureTest : public ::testing::Test {
protected:
  void SetUp() override {
    shoal::test::ensure_eal();
    static int seq = 0;
    const std::string name = "cap" + std::to_string(seq++);
    ring_ = rte_ring_create((name + "r").c_str(), 64, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    ASSERT_NE(ring_, nullptr);
    const int id = rte_eth_from_rings(name.c_str(), &ring_, 1, &ring_, 1, 0);
    ASSERT_GE(id, 0);
    port_ = static_cast<uint16_t>(id);
    pool_ = shoal::test::make_pktmbuf_pool(255);
    dir_ = std::filesystem::temp_directory_path() /
           ("shoal-capture-test-" + std::to_string(getpid()) + "-" + name);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    rte_eth_dev_close(port_);
    rte_ring_free(ring_);
    rte_mempool_free(pool_);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // An Ethernet + IPv4 + TCP frame of `len` bytes from 198.18.0.1:sport to
  // 198.18.0.2:80, correct IPv4 header checksum.
  rte_mbuf *frame(uint16_t sport, uint16_t len = 60) {
    rte_mbuf *m = rte_pktmbuf_alloc(pool_);
    EXPECT_NE(m, nullptr);
    auto *p = reinterpret_cast<uint8_t *>(rte_pktmbuf_append(m, len));
    EXPECT_NE(p, nullptr);
    std::memset(p, 0, len);
    const uint8_t dst[6] = {0x02, 0, 0, 0, 0, 2}, src[6] = {0x02, 0, 0, 0, 0, 1};
    std::memcpy(p, dst, 6);
    std::memcpy(p + 6, src, 6);
    p[12] = 0x08;
    auto *ip = reinterpret_cast<rte_ipv4_hdr *>(p + 14);
    ip->version_ihl = 0x45;
    ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(len - 14));
    ip->time_to_live = 64;
    ip->next_proto_id = IPPROTO_TCP;
    ip->src_addr = rte_cpu_to_be_32(0xc6120001);
    ip->dst_addr = rte_cpu_to_be_32(0xc6120002);
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    uint8_t *tcp = p + 34;
    tcp[0] = static_cast<uint8_t>(sport >> 8);
    tcp[1] = static_cast<uint8_t>(sport);
    tcp[3] = 80;
    tcp[12] = 0x50; // data offset 5 words
    tcp[13] = 0x02; // SYN
    return m;
  }

  std::string path(const char *name) const { return (dir_ / name).string(); }

  rte_ring *ring_ = nullptr;
  uint16_t port_ = 0;
  rte_mempool *pool_ = nullptr;
  std::filesystem::path dir_;
};

TEST_F(CaptureTest, TsharkReadsEveryFrameWithItsDirection) {
  Capture cap;
  std::string error;
  const std::string file = path("both.pcapng");
  ASSERT_TRUE(cap.open(file, port_, {}, &error)) << error;
  EXPECT_TRUE(cap.active());

  std::vector<rte_mbuf *> rx, tx;
  for (uint16_t i = 0; i < 40; i++)
    rx.push_back(frame(static_cast<uint16_t>(1000 + i)));
  for (uint16_t i = 0; i < 7; i++)
    tx.push_back(frame(static_cast<uint16_t>(2000 + i)));
  EXPECT_EQ(cap.record(port_, 0, rx.data(), static_cast<uint16_t>(rx.size()), CaptureDirection::in),
            40);
  EXPECT_EQ(
      cap.record(port_, 0, tx.data(), static_cast<uint16_t>(tx.size()), CaptureDirection::out), 7);
  EXPECT_EQ(cap.stats().captured, 47u);
  EXPECT_EQ(cap.stats().dropped, 0u);

  // The caller's mbufs were only read: still one reference, same bytes, and
  // nothing of the test's pool is held by the capture.
  for (rte_mbuf *m : rx)
    EXPECT_EQ(rte_mbuf_refcnt_read(m), 1);
  EXPECT_EQ(rte_mempool_avail_count(pool_), 255u - 47u);
  rte_pktmbuf_free_bulk(rx.data(), static_cast<unsigned>(rx.size()));
  rte_pktmbuf_free_bulk(tx.data(), static_cast<unsigned>(tx.size()));
  EXPECT_EQ(rte_mempool_avail_count(pool_), 255u);

  cap.close();
  EXPECT_FALSE(cap.is_open());
  cap.close(); // idempotent

  const auto frames = tshark_fields(file, "-e tcp.srcport -e frame.packet_flags_direction");
  ASSERT_EQ(frames.size(), 47u) << run("tshark -r '" + file + "' 2>&1 | head -20");
  size_t in = 0, out = 0;
  for (size_t i = 0; i < frames.size(); i++) {
    const std::string want_port = std::to_string(i < 40 ? 1000 + i : 2000 + (i - 40));
    EXPECT_EQ(frames[i].substr(0, frames[i].find(',')), want_port) << "frame " << i;
    const std::string d = frames[i].substr(frames[i].find(',') + 1);
    // tshark prints the EPB direction flag as 1 (inbound) / 2 (outbound),
    // or as 0x01 / 0x02 in some versions.
    if (d == "1" || d == "0x01" || d == "0x00000001")
      in++;
    else if (d == "2" || d == "0x02" || d == "0x00000002")
      out++;
  }
  EXPECT_EQ(in, 40u) << frames.front();
  EXPECT_EQ(out, 7u) << frames.back();
}

TEST_F(CaptureTest, PacketLimitEndsTheCaptureAndSnaplenCutsFrames) {
  Capture cap;
  std::string error;
  const std::string file = path("limit.pcapng");
  CaptureLimits limits;
  limits.max_packets = 20;
  limits.snaplen = 100;
  ASSERT_TRUE(cap.open(file, port_, limits, &error)) << error;
  std::vector<rte_mbuf *> burst;
  for (uint16_t i = 0; i < 50; i++)
    burst.push_back(frame(static_cast<uint16_t>(3000 + i), 1000));
  EXPECT_EQ(cap.record(port_, 1, burst.data(), 15, CaptureDirection::in), 15);
  EXPECT_EQ(cap.record(port_, 1, burst.data() + 15, 35, CaptureDirection::in), 5);
  EXPECT_EQ(cap.stats().captured, 20u);
  EXPECT_FALSE(cap.is_open()) << "the limit closes the file";
  EXPECT_FALSE(cap.active());
  EXPECT_EQ(cap.record(port_, 1, burst.data(), 1, CaptureDirection::in), 0);
  EXPECT_EQ(cap.stats().captured, 20u);
  rte_pktmbuf_free_bulk(burst.data(), static_cast<unsigned>(burst.size()));

  const auto frames = tshark_fields(file, "-e frame.len -e frame.cap_len");
  ASSERT_EQ(frames.size(), 20u) << run("tshark -r '" + file + "' 2>&1 | head -30");
  for (const auto &f : frames)
    EXPECT_EQ(f, "1000,100");
}

// The capture's clock (TSC) is not the test's, so the checks rest on what
// the steady clock brackets: the capture starts inside open() and records
// inside record(). A record that ends before `window` has passed since open()
// began must be kept; one that starts `window` after open() returned must be
// refused. When the box stalls so long that the first bracket exceeds the
// window, the answer is undetermined and the attempt is repeated with a
// window four times longer.
TEST_F(CaptureTest, DurationLimitEndsTheCapture) {
  using Clock = std::chrono::steady_clock;
  rte_mbuf *m = frame(4000);
  bool determined = false;
  for (auto window = std::chrono::milliseconds(50);
       !determined && window <= std::chrono::milliseconds(3200); window *= 4) {
    Capture cap;
    std::string error;
    CaptureLimits limits;
    limits.max_duration = window;
    const auto before_open = Clock::now();
    ASSERT_TRUE(cap.open(path("time.pcapng"), port_, limits, &error)) << error;
    const auto after_open = Clock::now();
    const int first = cap.record(port_, 0, &m, 1, CaptureDirection::out);
    if (Clock::now() - before_open >= window)
      continue; // stalled: the first record may legitimately be refused
    determined = true;
    EXPECT_EQ(first, 1);
    std::this_thread::sleep_until(after_open + window + std::chrono::milliseconds(1));
    EXPECT_EQ(cap.record(port_, 0, &m, 1, CaptureDirection::out), 0);
    EXPECT_FALSE(cap.is_open());
    EXPECT_EQ(cap.stats().captured, 1u);
  }
  EXPECT_TRUE(determined) << "every attempt stalled past its window";
  rte_pktmbuf_free(m);
}

TEST_F(CaptureTest, OpenFailsWithAReason) {
  Capture cap;
  std::string error;
  EXPECT_FALSE(cap.open(path("x.pcapng"), RTE_MAX_ETHPORTS - 1, {}, &error));
  EXPECT_NE(error.find("does not exist"), std::string::npos) << error;
  EXPECT_FALSE(cap.open(path("no/such/dir/x.pcapng"), port_, {}, &error));
  EXPECT_NE(error.find("No such file"), std::string::npos) << error;
  CaptureLimits tiny;
  tiny.pool_size = 4;
  EXPECT_FALSE(cap.open(path("x.pcapng"), port_, tiny, &error));
  EXPECT_FALSE(cap.is_open());
  rte_mbuf *m = frame(1);
  EXPECT_EQ(cap.record(port_, 0, &m, 1, CaptureDirection::in), 0) << "not open: nothing recorded";
  rte_pktmbuf_free(m);
}

// Reopening starts a new file with fresh stats.
TEST_F(CaptureTest, ReopenStartsAFreshFile) {
  Capture cap;
  std::string error;
  rte_mbuf *m = frame(5000);
  ASSERT_TRUE(cap.open(path("a.pcapng"), port_, {}, &error)) << error;
  cap.record(port_, 0, &m, 1, CaptureDirection::in);
  ASSERT_TRUE(cap.open(path("b.pcapng"), port_, {}, &error)) << error;
  EXPECT_EQ(cap.stats().captured, 0u);
  cap.record(port_, 0, &m, 1, CaptureDirection::in);
  cap.record(port_, 0, &m, 1, CaptureDirection::in);
  cap.close();
  rte_pktmbuf_free(m);
  EXPECT_EQ(tshark_fields(path("a.pcapng"), "-e frame.number").size(), 1u);
  EXPECT_EQ(tshark_fields(path("b.pcapng"), "-e frame.number").size(), 2u);
}

} // namespace
} // namespace shoal::dpdk
