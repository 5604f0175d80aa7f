// Shard::poll with the impairment stage on both directions: frames released
// by the rx stage are walked while the replies they cause fill the tx batch
// and flush() runs mid-walk (tx_enqueue at kTxBatch). The tx stage's output
// must not land in the buffer the rx walk is reading: a frame we sent would
// then be "received" (eth_not_for_us) and freed while the NIC still owns it.
#include <vector>

#include <gtest/gtest.h>

#include "ring_port_util.hpp"

namespace shoal::shard::test {
namespace {

std::vector<rte_mbuf *> g_sent;
uint16_t keep_sent(void *, rte_mbuf **frames, uint16_t n) {
  g_sent.insert(g_sent.end(), frames, frames + n);
  return n;
}

TEST(ShardImpair, TxFlushDuringImpairedRxWalkLeavesTheWalkAlone) {
  RingPortShard r("impw", 512, 2047);
  ASSERT_EQ(r.open(), "");
  {
    Shard &shard = *r.shard;
    shard.set_tx_burst(&keep_sent, nullptr);
    ImpairParams delay_only;
    delay_only.delay = std::chrono::milliseconds(1);
    shard.set_impairment(delay_only, delay_only);

    auto poll_all = [&](Instant now) {
      while (rte_ring_count(r.rx) != 0)
        shard.poll(now);
      shard.poll(now);
    };
    // t=0: the ARP request (teaches the peer's MAC) and 100 pings, all held.
    r.inject_arp_request();
    for (uint16_t s = 0; s < 100; s++)
      r.inject_ping(s);
    poll_all(instant_from_ns(0));
    // t=1 ms: they are released; their 101 replies are held by the tx stage
    // until 2 ms. 100 more pings arrive and are held until 2 ms.
    poll_all(instant_from_ns(1'000'000));
    for (uint16_t s = 100; s < 200; s++)
      r.inject_ping(s);
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
  r.shard.reset();
  r.port.reset();
  EXPECT_EQ(rte_mempool_avail_count(r.pool.get()), r.start_avail) << "mbufs leaked or freed twice";
}

} // namespace
} // namespace shoal::shard::test
