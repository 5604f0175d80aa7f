// Shard::poll over a real ethdev: a net_ring port whose rx ring the test
// fills and whose tx ring the test drains. ARP and ping are answered within
// one poll; the reply frames carry the port's MAC.
#include <string>

#include <gtest/gtest.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ring.h>

#include "dpdk/mempool.hpp"
#include "dpdk/port.hpp"
#include "shard_test_util.hpp"

namespace shoal::shard::test {
namespace {

TEST(ShardPoll, AnswersArpAndPingOnARingPort) {
  shoal::test::ensure_eal();
  rte_ring *rx = rte_ring_create("poll_rx", 256, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
  rte_ring *tx = rte_ring_create("poll_tx", 256, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
  ASSERT_TRUE(rx != nullptr && tx != nullptr);
  const int id = rte_eth_from_rings("poll", &rx, 1, &tx, 1, 0);
  ASSERT_GE(id, 0);
  char devname[RTE_ETH_NAME_MAX_LEN] = {};
  rte_eth_dev_get_name_by_port(static_cast<uint16_t>(id), devname);

  dpdk::PortConfig cfg;
  cfg.vdev = devname;
  cfg.mbufs = 1023;
  cfg.mbuf_cache = 0;
  cfg.rx_ring_size = cfg.tx_ring_size = 256;
  std::string error;
  dpdk::MempoolPtr pool = dpdk::make_packet_pool("poll_pool", cfg, SOCKET_ID_ANY, &error);
  ASSERT_TRUE(pool) << error;
  const unsigned start_avail = rte_mempool_avail_count(pool.get());
  {
    std::unique_ptr<dpdk::Port> port =
        dpdk::Port::open(static_cast<uint16_t>(id), cfg, pool.get(), &error);
    ASSERT_TRUE(port) << error;
    ShardParams p = ShardHarness::default_params();
    p.mac = port->mac();
    p.offloads = port->offloads();
    Shard shard(p, pool.get());
    shard.add_rx_queue(port->id(), 0);
    shard.set_tx_queue(port->id(), 0);

    auto inject = [&](const Bytes &frame) {
      rte_mbuf *m = rte_pktmbuf_alloc(pool.get());
      std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size())), frame.data(),
                  frame.size());
      ASSERT_EQ(rte_ring_enqueue(rx, m), 0);
    };
    inject(ethernet(MacAddr::broadcast(), kPeerMac, wire::kEtherTypeArp,
                    arp(wire::ArpOp::Request, kPeerMac, kPeerIp, MacAddr::zero(), kOurIp)));
    Bytes ping = ping_frame(9);
    std::copy(port->mac().b.begin(), port->mac().b.end(), ping.begin()); // to the port's MAC
    inject(ping);

    EXPECT_EQ(shard.poll(instant_from_ns(1'000'000)), 2u);
    rte_mbuf *out[4] = {};
    const unsigned n = rte_ring_dequeue_burst(tx, reinterpret_cast<void **>(out), 4, nullptr);
    ASSERT_EQ(n, 2u) << "counters: " << shard.counters().to_json();
    wire::EthernetRepr arp_eth, icmp_eth;
    ASSERT_EQ(wire::parse_ethernet(bytes_of(out[0]), arp_eth), wire::ParseError::ok);
    ASSERT_EQ(wire::parse_ethernet(bytes_of(out[1]), icmp_eth), wire::ParseError::ok);
    EXPECT_EQ(arp_eth.ethertype, wire::kEtherTypeArp);
    EXPECT_EQ(arp_eth.src, port->mac());
    EXPECT_EQ(icmp_eth.ethertype, wire::kEtherTypeIpv4);
    EXPECT_EQ(icmp_eth.dst, kPeerMac);
    EXPECT_EQ(shard.counters().tx_packets.get(), 2u);
    EXPECT_EQ(shard.counters().icmp_echo_replies_out.get(), 1u);
    rte_pktmbuf_free_bulk(out, n);
  }
  EXPECT_EQ(rte_mempool_avail_count(pool.get()), start_avail) << "mbufs leaked";
  pool.reset();
  rte_ring_free(rx);
  rte_ring_free(tx);
}

} // namespace
} // namespace shoal::shard::test
