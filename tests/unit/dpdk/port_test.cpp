// dpdk::Port on a real ethdev without any kernel: a net_ring port made from
// two rte_rings (rx fed by the test, tx read by the test).
#include <string>

#include <gtest/gtest.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
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
