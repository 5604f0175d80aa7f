// Shard::poll over a real ethdev: a net_ring port whose rx ring the test
// fills and whose tx ring the test drains. ARP and ping are answered within
// one poll; the reply frames carry the port's MAC.
#include <gtest/gtest.h>

#include "ring_port_util.hpp"

namespace shoal::shard::test {
namespace {

TEST(ShardPoll, AnswersArpAndPingOnARingPort) {
  RingPortShard r("poll", 256, 1023);
  ASSERT_EQ(r.open(), "");
  {
    r.inject_arp_request();
    r.inject_ping(9);

    EXPECT_EQ(r.shard->poll(instant_from_ns(1'000'000)), 2u);
    rte_mbuf *out[4] = {};
    const unsigned n = rte_ring_dequeue_burst(r.tx, reinterpret_cast<void **>(out), 4, nullptr);
    ASSERT_EQ(n, 2u) << "counters: " << r.shard->counters().to_json();
    wire::EthernetRepr arp_eth, icmp_eth;
    ASSERT_EQ(wire::parse_ethernet(bytes_of(out[0]), arp_eth), wire::ParseError::ok);
    ASSERT_EQ(wire::parse_ethernet(bytes_of(out[1]), icmp_eth), wire::ParseError::ok);
    EXPECT_EQ(arp_eth.ethertype, wire::kEtherTypeArp);
    EXPECT_EQ(arp_eth.src, r.port->mac());
    EXPECT_EQ(icmp_eth.ethertype, wire::kEtherTypeIpv4);
    EXPECT_EQ(icmp_eth.dst, kPeerMac);
    EXPECT_EQ(r.shard->counters().tx_packets.get(), 2u);
    EXPECT_EQ(r.shard->counters().icmp_echo_replies_out.get(), 1u);
    rte_pktmbuf_free_bulk(out, n);
  }
  r.shard.reset();
  r.port.reset();
  EXPECT_EQ(rte_mempool_avail_count(r.pool.get()), r.start_avail) << "mbufs leaked";
}

} // namespace
} // namespace shoal::shard::test
