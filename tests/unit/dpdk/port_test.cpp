// dpdk::Port on a real ethdev without any kernel: a net_ring port made from
// two rte_rings (rx fed by the test, tx read by the test): opening, closing,
// errors, and frames moved through the port's rx and tx queues.
#include <string>

#include <gtest/gtest.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "dpdk/mempool.hpp"
#include "dpdk/port.hpp"
#include "eal_env.hpp"

namespace shoal::dpdk {
namespace {

class PortTest : public ::testing::Test {
protected:
  void SetUp() override {
    shoal::test::ensure_eal();
    static int seq = 0;
    name_ = "net_ring_pt" + std::to_string(seq++);
    rx_ = rte_ring_create((name_ + "r").c_str(), 256, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    tx_ = rte_ring_create((name_ + "t").c_str(), 256, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    ASSERT_NE(rx_, nullptr);
    ASSERT_NE(tx_, nullptr);
    const int id = rte_eth_from_rings(name_.c_str(), &rx_, 1, &tx_, 1, 0);
    ASSERT_GE(id, 0);
    // The ring PMD picks the ethdev name itself (it prefixes the driver's).
    char devname[RTE_ETH_NAME_MAX_LEN] = {};
    ASSERT_EQ(rte_eth_dev_get_name_by_port(static_cast<uint16_t>(id), devname), 0);
    cfg_.vdev = devname;
    cfg_.mbufs = 1023;
    cfg_.mbuf_cache = 0;
    cfg_.rx_ring_size = 256;
    cfg_.tx_ring_size = 256;
    cfg_.link_wait_ms = 1000;
  }
  void TearDown() override {
    rte_ring_free(rx_);
    rte_ring_free(tx_);
  }

  std::string name_;
  rte_ring *rx_ = nullptr, *tx_ = nullptr;
  PortConfig cfg_;
};

TEST_F(PortTest, FindsOpensAndClosesTheConfiguredPort) {
  std::string error;
  uint16_t id = 0;
  ASSERT_TRUE(Port::find(cfg_, &id, &error)) << error;
  MempoolPtr pool = make_packet_pool(name_ + "p", cfg_, SOCKET_ID_ANY, &error);
  ASSERT_TRUE(pool) << error;
  {
    std::unique_ptr<Port> port = Port::open(id, cfg_, pool.get(), &error);
    ASSERT_TRUE(port) << error;
    EXPECT_EQ(port->id(), id);
    EXPECT_TRUE(port->link_up());
    EXPECT_EQ(port->rx_queues(), 1);
    // net_ring offers no checksum offload: everything stays in software.
    EXPECT_EQ(port->offloads().to_string(), "rx=none tx=none");
    EXPECT_FALSE(port->mac().is_zero());
    const std::string s = port->summary();
    EXPECT_NE(s.find("driver net_ring"), std::string::npos) << s;
    EXPECT_NE(s.find("link up"), std::string::npos) << s;
    EXPECT_NE(s.find(port->mac().to_string()), std::string::npos) << s;
  }
  // Closed: the port is gone.
  EXPECT_FALSE(Port::find(cfg_, &id, &error));
  EXPECT_NE(error.find(cfg_.vdev), std::string::npos) << error;
}

// Frames through the opened port's queue 0 both ways: what the test puts on
// the rx ring comes out of rte_eth_rx_burst, what rte_eth_tx_burst sends
// lands on the tx ring, bytes and order unchanged.
TEST_F(PortTest, MovesFramesThroughRxAndTxQueues) {
  std::string error;
  uint16_t id = 0;
  ASSERT_TRUE(Port::find(cfg_, &id, &error)) << error;
  MempoolPtr pool = make_packet_pool(name_ + "p", cfg_, SOCKET_ID_ANY, &error);
  ASSERT_TRUE(pool) << error;
  const unsigned pool_start = rte_mempool_avail_count(pool.get());
  constexpr uint16_t kFrames = 8;
  auto frame = [&](uint16_t i) {
    rte_mbuf *m = rte_pktmbuf_alloc(pool.get());
    EXPECT_NE(m, nullptr);
    const uint16_t len = static_cast<uint16_t>(60 + 100 * i);
    auto *p = reinterpret_cast<uint8_t *>(rte_pktmbuf_append(m, len));
    EXPECT_NE(p, nullptr);
    for (uint16_t k = 0; k < len; ++k)
      p[k] = static_cast<uint8_t>(i * 31 + k);
    return m;
  };
  auto check_frame = [](const rte_mbuf *m, uint16_t i) {
    ASSERT_EQ(m->pkt_len, 60u + 100u * i) << "frame " << i;
    const auto *p = rte_pktmbuf_mtod(m, const uint8_t *);
    for (uint16_t k = 0; k < m->data_len; ++k)
      ASSERT_EQ(p[k], static_cast<uint8_t>(i * 31 + k)) << "frame " << i << " byte " << k;
  };
  {
    std::unique_ptr<Port> port = Port::open(id, cfg_, pool.get(), &error);
    ASSERT_TRUE(port) << error;

    // rx: the "wire" (the rx ring) -> the port's rx queue 0.
    rte_mbuf *in[kFrames];
    for (uint16_t i = 0; i < kFrames; ++i)
      in[i] = frame(i);
    ASSERT_EQ(rte_ring_enqueue_burst(rx_, reinterpret_cast<void **>(in), kFrames, nullptr),
              kFrames);
    rte_mbuf *got[2 * kFrames] = {};
    const uint16_t n = rte_eth_rx_burst(port->id(), 0, got, 2 * kFrames);
    ASSERT_EQ(n, kFrames);
    for (uint16_t i = 0; i < n; ++i)
      check_frame(got[i], i);
    EXPECT_EQ(rte_eth_rx_burst(port->id(), 0, got + n, kFrames), 0u);

    // tx: what was received goes back out of tx queue 0 onto the tx ring.
    ASSERT_EQ(rte_eth_tx_burst(port->id(), 0, got, n), n);
    rte_mbuf *out[2 * kFrames] = {};
    ASSERT_EQ(rte_ring_dequeue_burst(tx_, reinterpret_cast<void **>(out), 2 * kFrames, nullptr),
              kFrames);
    for (uint16_t i = 0; i < kFrames; ++i) {
      check_frame(out[i], i);
      rte_pktmbuf_free(out[i]);
    }
    rte_eth_stats st{};
    ASSERT_EQ(rte_eth_stats_get(port->id(), &st), 0);
    EXPECT_EQ(st.ipackets, kFrames);
    EXPECT_EQ(st.opackets, kFrames);
  }
  EXPECT_EQ(rte_mempool_avail_count(pool.get()), pool_start) << "mbufs not returned";
}

TEST_F(PortTest, TooManyQueuesIsOneClearError) {
  std::string error;
  uint16_t id = 0;
  ASSERT_TRUE(Port::find(cfg_, &id, &error)) << error;
  MempoolPtr pool = make_packet_pool(name_ + "p", cfg_, SOCKET_ID_ANY, &error);
  ASSERT_TRUE(pool) << error;
  cfg_.rx_queues = 4;
  EXPECT_FALSE(Port::open(id, cfg_, pool.get(), &error));
  EXPECT_NE(error.find("rx/tx queues asked"), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos);
}

TEST(Offloads, DescribesWhatWasEnabled) {
  Offloads o;
  o.rx_ipv4_cksum = o.rx_tcp_cksum = true;
  o.tx_tcp_cksum = true;
  EXPECT_EQ(o.to_string(), "rx=ipv4,tcp tx=tcp");
}

} // namespace
} // namespace shoal::dpdk
