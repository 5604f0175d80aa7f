// Shard::transmit_ipv4 (the TCP engine's way out): next-hop choice, ARP
// resolution with a bounded queue and a timeout, tx batching and a NIC that
// does not take everything.
#include <vector>

#include <gtest/gtest.h>

#include "shard_test_util.hpp"

namespace shoal::shard::test {
namespace {

Instant at_ms(int64_t ms) {
  return instant_from_ns(ms * 1'000'000);
}

// An IPv4 datagram as the TCP engine hands it over: data at the IPv4 header,
// headroom in front.
rte_mbuf *datagram(ShardHarness &h, Ipv4Addr dst) {
  const Bytes d = ipv4(ip_header(kOurIp, dst, wire::kIpProtoTcp),
                       tcp_segment(kOurIp, dst, wire::tcp_flags::SYN));
  return h.mbuf(d);
}

wire::ArpRepr sent_arp(const rte_mbuf *m) {
  wire::ArpRepr a;
  EXPECT_EQ(wire::parse_arp(bytes_of(m).subspan(14), a), wire::ParseError::ok);
  return a;
}

void learn(ShardHarness &h, const MacAddr &mac, Ipv4Addr ip, Instant now) {
  rte_mbuf *m = h.mbuf(ethernet(kOurMac, mac, wire::kEtherTypeArp,
                                arp(wire::ArpOp::Reply, mac, ip, kOurMac, kOurIp)));
  h.shard().process_rx({&m, 1}, now);
}

TEST(ShardTransmit, OnLinkDestinationIsResolvedDirectly) {
  ShardHarness h;
  h.shard().advance(at_ms(0));
  h.shard().transmit_ipv4(datagram(h, kPeerIp));
  h.shard().flush();
  ASSERT_EQ(h.tx.frames.size(), 1u) << h.trace();
  EXPECT_EQ(sent_arp(h.tx.frames[0]).target_ip, kPeerIp);
}

TEST(ShardTransmit, OffLinkDestinationGoesThroughTheGateway) {
  ShardHarness h;
  h.shard().advance(at_ms(0));
  h.shard().transmit_ipv4(datagram(h, kFarIp));
  h.shard().flush();
  ASSERT_EQ(h.tx.frames.size(), 1u) << h.trace();
  EXPECT_EQ(sent_arp(h.tx.frames[0]).target_ip, kGateway) << h.trace();
  h.tx.clear();
  // Once the gateway answers, the datagram leaves with the gateway's MAC
  // and its own (far) IPv4 destination.
  learn(h, kOtherMac, kGateway, at_ms(5));
  h.shard().flush();
  ASSERT_EQ(h.tx.frames.size(), 1u) << h.trace();
  const auto f = bytes_of(h.tx.frames[0]);
  wire::EthernetRepr eth;
  ASSERT_EQ(wire::parse_ethernet(f, eth), wire::ParseError::ok);
  EXPECT_EQ(eth.dst, kOtherMac);
  EXPECT_EQ(eth.src, kOurMac);
  wire::Ipv4Repr ip;
  ASSERT_EQ(wire::parse_ipv4(f.subspan(14), true, ip), wire::ParseError::ok);
  EXPECT_EQ(ip.dst, kFarIp);
}

TEST(ShardTransmit, NoGatewayMeansNoRoute) {
  ShardParams p = ShardHarness::default_params();
  p.gateway.reset();
  ShardHarness h(p);
  h.shard().transmit_ipv4(datagram(h, kFarIp));
  h.shard().flush();
  EXPECT_TRUE(h.tx.frames.empty()) << h.trace();
  EXPECT_EQ(h.shard().counters().ipv4_no_route.get(), 1u);
}

TEST(ShardTransmit, PendingQueueOverflowIsCounted) {
  ShardHarness h; // pending_per_address = 4
  for (int i = 0; i < 6; i++)
    h.shard().transmit_ipv4(datagram(h, kPeerIp));
  h.shard().flush();
  EXPECT_EQ(h.shard().counters().arp_pending_full_drops.get(), 2u) << h.trace();
  EXPECT_EQ(h.shard().counters().arp_requests_out.get(), 1u) << "one request per address";
  EXPECT_EQ(h.shard().arp_cache().held_packets(), 4u);
}

TEST(ShardTransmit, UnansweredArpRetriesThenDropsTheHeldPackets) {
  ShardHarness h; // request_interval 1 s, 3 requests
  h.shard().advance(at_ms(0));
  h.shard().transmit_ipv4(datagram(h, kPeerIp));
  h.shard().transmit_ipv4(datagram(h, kPeerIp));
  for (int64_t t = 0; t <= 4000; t += 5)
    h.shard().poll(at_ms(t)); // no rx queues: timers and flush only
  EXPECT_EQ(h.shard().counters().arp_requests_out.get(), 3u) << h.trace();
  EXPECT_EQ(h.shard().counters().arp_timeout_drops.get(), 2u) << h.trace();
  EXPECT_EQ(h.shard().arp_cache().size(), 0u);
}

TEST(ShardTransmit, ResolvedFramesCarryOffloadLengths) {
  ShardHarness h;
  learn(h, kPeerMac, kPeerIp, at_ms(0));
  rte_mbuf *m = datagram(h, kPeerIp);
  m->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM;
  m->l3_len = 20;
  h.shard().transmit_ipv4(m);
  h.shard().flush();
  ASSERT_EQ(h.tx.frames.size(), 1u) << h.trace();
  EXPECT_EQ(h.tx.frames[0]->l2_len, 14u);
}

TEST(ShardTransmit, WhatTheNicDoesNotTakeIsFreedAndCounted) {
  ShardHarness h;
  learn(h, kPeerMac, kPeerIp, at_ms(0));
  h.tx.accept = 3;
  for (int i = 0; i < 5; i++)
    h.shard().transmit_ipv4(datagram(h, kPeerIp));
  EXPECT_EQ(h.shard().tx_pending(), 5u) << "frames wait for the flush";
  h.shard().flush();
  EXPECT_EQ(h.tx.frames.size(), 3u);
  EXPECT_EQ(h.shard().counters().tx_packets.get(), 3u);
  EXPECT_EQ(h.shard().counters().tx_full_drops.get(), 2u) << h.trace();
  EXPECT_EQ(h.shard().counters().tx_bytes.get(), 3u * rte_pktmbuf_pkt_len(h.tx.frames[0]));
}

TEST(ShardTransmit, AFullBatchFlushesEarly) {
  ShardHarness h;
  learn(h, kPeerMac, kPeerIp, at_ms(0));
  for (unsigned i = 0; i < Shard::kTxBatch + 1; i++)
    h.shard().transmit_ipv4(datagram(h, kPeerIp));
  EXPECT_EQ(h.tx.frames.size(), Shard::kTxBatch);
  EXPECT_EQ(h.shard().tx_pending(), 1u);
  h.shard().flush();
  EXPECT_EQ(h.tx.frames.size(), Shard::kTxBatch + 1u);
}

TEST(ShardTransmit, NoHeadroomIsACountedDrop) {
  ShardHarness h;
  learn(h, kPeerMac, kPeerIp, at_ms(0));
  rte_mbuf *m = datagram(h, kPeerIp);
  // Move the data to the very start of the buffer: no room for Ethernet.
  const uint16_t len = rte_pktmbuf_data_len(m);
  uint8_t *data = rte_pktmbuf_mtod(m, uint8_t *);
  std::memmove(static_cast<uint8_t *>(m->buf_addr), data, len);
  m->data_off = 0;
  h.shard().transmit_ipv4(m);
  EXPECT_EQ(h.shard().counters().tx_no_headroom_drops.get(), 1u) << h.trace();
}

} // namespace
} // namespace shoal::shard::test
