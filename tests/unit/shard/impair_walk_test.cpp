// Shard::poll with the impairment stage on both directions: frames released
// by the rx stage are walked while the replies they cause fill the tx batch
// and flush() runs mid-walk (tx_enqueue at kTxBatch). The tx stage's output
// must not land in the buffer the rx walk is reading: a frame we sent would
// then be "received" (eth_not_for_us) and freed while the NIC still owns it.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ring.h>

#include "dpdk/mempool.hpp"
#include "dpdk/port.hpp"
#include "shard_test_util.hpp"

namespace shoal::shard::test {
namespace {

std::vector<rte_mbuf *> g_sent;
uint16_t keep_sent(void *, rte_mbuf **frames, uint16_t n) {
  g_sent.insert(g_sent.end(), frames, frames + n);
  return n;
}

TEST(ShardImpair, TxFlushDuringImpairedRxWalkLeavesTheWalkAlone) {
  shoal::test::ensure_eal();
  rte_ring *rx = rte_ring_create("impw_rx", 512, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
  rte_ring *tx = rte_ring_create("impw_tx", 512, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
  ASSERT_TRUE(rx != nullptr && tx != nullptr);
  const int id = rte_eth_from_rings("impw", &rx, 1, &tx, 1, 0);
  ASSERT_GE(id, 0);
  char devname[RTE_ETH_NAME_MAX_LEN] = {};
  rte_eth_dev_get_name_by_port(static_cast<uint16_t>(id), devname);
  dpdk::PortConfig cfg;
  cfg.vdev = devname;
  cfg.mbufs = 2047;
  cfg.mbuf_cache = 0;
  cfg.rx_ring_size = cfg.tx_ring_size = 512;
  std::string error;
  dpdk::MempoolPtr pool = dpdk::make_packet_pool("impw_pool", cfg, SOCKET_ID_ANY, &error);
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
    shard.set_tx_burst(&keep_sent, nullptr);
    ImpairParams delay_only;
    delay_only.delay = std::chrono::milliseconds(1);
    shard.set_impairment(delay_only, delay_only);

    auto inject = [&](const Bytes &frame) {
      rte_mbuf *m = rte_pktmbuf_alloc(pool.get());
      std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size())), frame.data(),
                  frame.size());
      ASSERT_EQ(rte_ring_enqueue(rx, m), 0);
    };
    auto ping = [&](uint16_t seq) {
      Bytes f = ping_frame(seq);
      std::copy(port->mac().b.begin(), port->mac().b.end(), f.begin());
      inject(f);
    };
    auto poll_all = [&](Instant now) {
      while (rte_ring_count(rx) != 0)
        shard.poll(now);
      shard.poll(now);
    };
    // t=0: the ARP request (teaches the peer's MAC) and 100 pings, all held.
    inject(ethernet(MacAddr::broadcast(), kPeerMac, wire::kEtherTypeArp,
                    arp(wire::ArpOp::Request, kPeerMac, kPeerIp, MacAddr::zero(), kOurIp)));
    for (uint16_t s = 0; s < 100; s++)
      ping(s);
    poll_all(instant_from_ns(0));
    // t=1 ms: they are released; their 101 replies are held by the tx stage
    // until 2 ms. 100 more pings arrive and are held until 2 ms.
    poll_all(instant_from_ns(1'000'000));
    for (uint16_t s = 100; s < 200; s++)
      ping(s);
    poll_all(instant_from_ns(1'000'000));
    EXPECT_TRUE(g_sent.empty());
    // t=2 ms: the rx walk over 100 pings fills the tx batch; the flush at
    // the 64th reply releases the 101 earlier replies.
    poll_all(instant_from_ns(2'000'000));
    poll_all(instant_from_ns(3'000'000));
    EXPECT_EQ(shard.counters().eth_not_for_us.get(), 0u)
        << "frames we sent were walked as received; counters: " << shard.counters().to_json();
    EXPECT_EQ(shard.counters().icmp_echo_replies_out.get(), 200u) << shard.counters().to_json();
    EXPECT_EQ(g_sent.size(), 201u) << shard.counters().to_json();
    for (rte_mbuf *m : g_sent)
      rte_pktmbuf_free(m);
    g_sent.clear();
  }
  EXPECT_EQ(rte_mempool_avail_count(pool.get()), start_avail) << "mbufs leaked or freed twice";
  pool.reset();
  rte_ring_free(rx);
  rte_ring_free(tx);
}

} // namespace
} // namespace shoal::shard::test
