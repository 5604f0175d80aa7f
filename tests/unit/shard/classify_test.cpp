// The classify path with hand-built frames and no port: ARP answered and
// learnt, ping answered, every malformed frame counted under its reason with
// nothing sent and no mbuf leaked, the checksum offload flags honoured.
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "shard_test_util.hpp"
#include "wire/bytes.hpp"

namespace shoal::shard::test {
namespace {

using wire::ParseError;

uint64_t counter(const Shard &s, const std::string &name) {
  uint64_t value = UINT64_MAX;
  s.counters().for_each([&](const char *n, uint64_t v) {
    if (name == n)
      value = v;
  });
  EXPECT_NE(value, UINT64_MAX) << "no counter named " << name;
  return value;
}

TEST(ShardArp, AnswersRequestForOurAddressAndLearnsTheSender) {
  ShardHarness h;
  h.rx(ethernet(MacAddr::broadcast(), kPeerMac, wire::kEtherTypeArp,
                arp(wire::ArpOp::Request, kPeerMac, kPeerIp, MacAddr::zero(), kOurIp)));
  ASSERT_EQ(h.tx.frames.size(), 1u) << h.trace();
  const auto f = bytes_of(h.tx.frames[0]);
  wire::EthernetRepr eth;
  ASSERT_EQ(wire::parse_ethernet(f, eth), ParseError::ok);
  EXPECT_EQ(eth.dst, kPeerMac);
  EXPECT_EQ(eth.src, kOurMac);
  EXPECT_EQ(eth.ethertype, wire::kEtherTypeArp);
  wire::ArpRepr a;
  ASSERT_EQ(wire::parse_arp(f.subspan(14), a), ParseError::ok);
  EXPECT_EQ(a.op, wire::ArpOp::Reply);
  EXPECT_EQ(a.sender_mac, kOurMac);
  EXPECT_EQ(a.sender_ip, kOurIp);
  EXPECT_EQ(a.target_mac, kPeerMac);
  EXPECT_EQ(a.target_ip, kPeerIp);
  EXPECT_EQ(f.size(), 42u);
  EXPECT_EQ(h.shard().counters().arp_requests_in.get(), 1u);
  EXPECT_EQ(h.shard().counters().arp_replies_out.get(), 1u);
  const MacAddr *learnt = h.shard().arp_cache().lookup(kPeerIp, h.shard().now());
  ASSERT_NE(learnt, nullptr);
  EXPECT_EQ(*learnt, kPeerMac);
}

TEST(ShardArp, RequestForAnotherTargetIsNotAnsweredNorLearnt) {
  ShardHarness h;
  h.rx(ethernet(MacAddr::broadcast(), kPeerMac, wire::kEtherTypeArp,
                arp(wire::ArpOp::Request, kPeerMac, kPeerIp, MacAddr::zero(),
                    Ipv4Addr::from_octets(198, 18, 0, 77))));
  EXPECT_TRUE(h.tx.frames.empty()) << h.trace();
  EXPECT_EQ(h.shard().counters().arp_not_for_us.get(), 1u);
  EXPECT_EQ(h.shard().arp_cache().size(), 0u);
}

TEST(ShardArp, GratuitousArpUpdatesOnlyAKnownEntry) {
  ShardHarness h;
  auto gratuitous = [&](const MacAddr &mac, Ipv4Addr ip) {
    h.rx(ethernet(MacAddr::broadcast(), mac, wire::kEtherTypeArp,
                  arp(wire::ArpOp::Request, mac, ip, MacAddr::zero(), ip)));
  };
  gratuitous(kOtherMac, kPeerIp);
  EXPECT_EQ(h.shard().arp_cache().size(), 0u) << "gratuitous ARP created an entry";
  // Learn the peer through a request to us, then move it to another MAC.
  h.rx(ethernet(MacAddr::broadcast(), kPeerMac, wire::kEtherTypeArp,
                arp(wire::ArpOp::Request, kPeerMac, kPeerIp, MacAddr::zero(), kOurIp)));
  gratuitous(kOtherMac, kPeerIp);
  const MacAddr *mac = h.shard().arp_cache().lookup(kPeerIp, h.shard().now());
  ASSERT_NE(mac, nullptr);
  EXPECT_EQ(*mac, kOtherMac);
}

TEST(ShardArp, ClaimOfOurAddressIsCountedNotLearnt) {
  ShardHarness h;
  h.rx(ethernet(MacAddr::broadcast(), kOtherMac, wire::kEtherTypeArp,
                arp(wire::ArpOp::Reply, kOtherMac, kOurIp, MacAddr::broadcast(), kOurIp)));
  EXPECT_EQ(h.shard().counters().arp_address_conflict.get(), 1u) << h.trace();
  EXPECT_EQ(h.shard().arp_cache().size(), 0u);
  EXPECT_TRUE(h.tx.frames.empty());
}

TEST(ShardIcmp, EchoRequestGetsAReplyWithTheSameData) {
  ShardHarness h;
  // The peer resolved us first (as a kernel does), so we know its MAC.
  h.rx(ethernet(MacAddr::broadcast(), kPeerMac, wire::kEtherTypeArp,
                arp(wire::ArpOp::Request, kPeerMac, kPeerIp, MacAddr::zero(), kOurIp)));
  h.tx.clear();
  h.rx(ping_frame(7));
  ASSERT_EQ(h.tx.frames.size(), 1u) << h.trace();
  const auto f = bytes_of(h.tx.frames[0]);
  wire::EthernetRepr eth;
  ASSERT_EQ(wire::parse_ethernet(f, eth), ParseError::ok);
  EXPECT_EQ(eth.dst, kPeerMac);
  EXPECT_EQ(eth.src, kOurMac);
  wire::Ipv4Repr ip;
  ASSERT_EQ(wire::parse_ipv4(f.subspan(14), true, ip), ParseError::ok) << h.trace();
  EXPECT_EQ(ip.src, kOurIp);
  EXPECT_EQ(ip.dst, kPeerIp);
  EXPECT_EQ(ip.protocol, wire::kIpProtoIcmp);
  wire::IcmpEchoRepr echo;
  ASSERT_EQ(wire::parse_icmp_echo(f.subspan(14 + ip.header_len, ip.payload_len), true, echo),
            ParseError::ok)
      << h.trace();
  EXPECT_EQ(echo.type, wire::kIcmpEchoReply);
  EXPECT_EQ(echo.ident, 0x77);
  EXPECT_EQ(echo.seq, 7);
  EXPECT_EQ(std::string(echo.payload.begin(), echo.payload.end()), "shoal");
  EXPECT_EQ(h.shard().counters().icmp_echo_requests_in.get(), 1u);
  EXPECT_EQ(h.shard().counters().icmp_echo_replies_out.get(), 1u);
  EXPECT_EQ(h.tx.frames[0]->ol_flags, 0u) << "software checksums expected without offload";
}

TEST(ShardIcmp, ReplyToAnUnknownPeerWaitsForArp) {
  ShardHarness h;
  h.rx(ping_frame(1));
  // Not resolved yet: an ARP request goes out, the reply waits.
  ASSERT_EQ(h.tx.frames.size(), 1u) << h.trace();
  wire::ArpRepr req;
  ASSERT_EQ(wire::parse_arp(bytes_of(h.tx.frames[0]).subspan(14), req), ParseError::ok);
  EXPECT_EQ(req.op, wire::ArpOp::Request);
  EXPECT_EQ(req.target_ip, kPeerIp);
  EXPECT_EQ(req.sender_ip, kOurIp);
  EXPECT_EQ(h.shard().arp_cache().held_packets(), 1u);
  h.tx.clear();
  // The peer answers: the held echo reply leaves.
  h.rx(ethernet(kOurMac, kPeerMac, wire::kEtherTypeArp,
                arp(wire::ArpOp::Reply, kPeerMac, kPeerIp, kOurMac, kOurIp)));
  ASSERT_EQ(h.tx.frames.size(), 1u) << h.trace();
  wire::EthernetRepr eth;
  ASSERT_EQ(wire::parse_ethernet(bytes_of(h.tx.frames[0]), eth), ParseError::ok);
  EXPECT_EQ(eth.dst, kPeerMac);
  EXPECT_EQ(eth.ethertype, wire::kEtherTypeIpv4);
}

// --- malformed and unwanted frames -----------------------------------------

struct DropCase {
  std::string name;
  Bytes frame;
  std::string counter; // expected to rise by exactly one
};

Bytes with_byte(Bytes b, size_t off, uint8_t v) {
  b[off] = v;
  return b;
}

// Rewrites the IPv4 header checksum of an Ethernet frame after an edit.
Bytes fix_ip_checksum(Bytes f) {
  const size_t ihl = (f[14] & 0x0f) * 4u;
  if (ihl < 20 || 14 + ihl > f.size())
    return f; // a header the parser must refuse before it looks at the sum
  f[24] = f[25] = 0;
  const uint16_t c = wire::ipv4_header_checksum({f.data() + 14, ihl});
  wire::store_be16(f.data() + 24, c);
  return f;
}

std::vector<DropCase> drop_cases() {
  const Bytes ping = ping_frame();
  const auto icmp_frame = [](const Bytes &msg) {
    return ethernet(kOurMac, kPeerMac, wire::kEtherTypeIpv4,
                    ipv4(ip_header(kPeerIp, kOurIp, wire::kIpProtoIcmp), msg));
  };
  const auto l4_frame = [](uint8_t proto, const Bytes &payload) {
    return ethernet(kOurMac, kPeerMac, wire::kEtherTypeIpv4,
                    ipv4(ip_header(kPeerIp, kOurIp, proto), payload));
  };
  const Bytes syn = tcp_segment(kPeerIp, kOurIp, wire::tcp_flags::SYN);
  std::vector<DropCase> v;
  // Ethernet
  v.push_back({"eth truncated", Bytes(ping.begin(), ping.begin() + 10), "eth_truncated"});
  v.push_back(
      {"ipv6", ethernet(kOurMac, kPeerMac, wire::kEtherTypeIpv6, Bytes(40, 0)), "eth_ipv6"});
  v.push_back({"vlan tagged", ethernet(kOurMac, kPeerMac, 0x8100, Bytes(46, 0)), "eth_other"});
  v.push_back(
      {"unicast for another mac",
       ethernet(kOtherMac, kPeerMac, wire::kEtherTypeIpv4, Bytes(ping.begin() + 14, ping.end())),
       "eth_not_for_us"});
  // ARP
  const Bytes arp_req = arp(wire::ArpOp::Request, kPeerMac, kPeerIp, MacAddr::zero(), kOurIp);
  v.push_back({"arp truncated",
               ethernet(MacAddr::broadcast(), kPeerMac, wire::kEtherTypeArp,
                        Bytes(arp_req.begin(), arp_req.begin() + 20)),
               "arp_truncated"});
  v.push_back(
      {"arp hardware type",
       ethernet(MacAddr::broadcast(), kPeerMac, wire::kEtherTypeArp, with_byte(arp_req, 1, 6)),
       "arp_bad_hardware_type"});
  v.push_back(
      {"arp protocol type",
       ethernet(MacAddr::broadcast(), kPeerMac, wire::kEtherTypeArp, with_byte(arp_req, 2, 0x86)),
       "arp_bad_protocol_type"});
  v.push_back(
      {"arp address length",
       ethernet(MacAddr::broadcast(), kPeerMac, wire::kEtherTypeArp, with_byte(arp_req, 4, 8)),
       "arp_bad_address_length"});
  v.push_back(
      {"arp op",
       ethernet(MacAddr::broadcast(), kPeerMac, wire::kEtherTypeArp, with_byte(arp_req, 7, 9)),
       "arp_bad_arp_op"});
  v.push_back(
      {"arp multicast sender",
       ethernet(MacAddr::broadcast(), kPeerMac, wire::kEtherTypeArp,
                arp(wire::ArpOp::Request, MacAddr::broadcast(), kPeerIp, MacAddr::zero(), kOurIp)),
       "arp_bad_sender"});
  // IPv4
  v.push_back({"ipv4 truncated", Bytes(ping.begin(), ping.begin() + 14 + 10), "ipv4_truncated"});
  v.push_back({"ipv4 version 6", fix_ip_checksum(with_byte(ping, 14, 0x65)), "ipv4_bad_version"});
  v.push_back({"ipv4 ihl 4", fix_ip_checksum(with_byte(ping, 14, 0x44)), "ipv4_bad_ihl"});
  v.push_back({"ipv4 ihl beyond frame", with_byte(ping, 14, 0x4f), "ipv4_bad_ihl"});
  v.push_back({"ipv4 total length beyond frame", fix_ip_checksum(with_byte(ping, 16, 0x05)),
               "ipv4_bad_total_length"});
  v.push_back({"ipv4 total length below header",
               fix_ip_checksum(with_byte(with_byte(ping, 16, 0), 17, 12)),
               "ipv4_bad_total_length"});
  v.push_back({"ipv4 bad checksum", with_byte(ping, 24, ping[24] ^ 0xff), "ipv4_bad_checksum"});
  // (Fragments are held for reassembly, not dropped: reassembly_test.cpp.)
  v.push_back(
      {"ipv4 for another address",
       ethernet(kOurMac, kPeerMac, wire::kEtherTypeIpv4,
                ipv4(ip_header(kPeerIp, Ipv4Addr::from_octets(198, 18, 0, 3), wire::kIpProtoIcmp),
                     icmp_echo(wire::kIcmpEchoRequest, 1, 1, {}))),
       "ipv4_not_for_us"});
  v.push_back({"ipv4 broadcast",
               ethernet(MacAddr::broadcast(), kPeerMac, wire::kEtherTypeIpv4,
                        ipv4(ip_header(kPeerIp, Ipv4Addr::broadcast(), wire::kIpProtoIcmp),
                             icmp_echo(wire::kIcmpEchoRequest, 1, 1, {}))),
               "ipv4_not_for_us"});
  v.push_back({"ipv4 loopback source", ping_frame(1, Ipv4Addr::from_octets(127, 0, 0, 1)),
               "ipv4_martian_source"});
  // ICMP
  Bytes bad_icmp = ping;
  bad_icmp[14 + 20 + 2] ^= 0x55;
  v.push_back({"icmp bad checksum", bad_icmp, "icmp_bad_checksum"});
  v.push_back({"icmp truncated", icmp_frame({8, 0, 0xf7}), "icmp_truncated"});
  Bytes unreachable = {3, 1, 0, 0, 0, 0, 0, 0};
  wire::store_be16(unreachable.data() + 2, wire::internet_checksum(unreachable));
  // An error message must quote at least an IPv4 header and 8 bytes.
  v.push_back({"icmp destination unreachable without its quote", icmp_frame(unreachable),
               "icmp_truncated"});
  v.push_back({"icmp echo reply", icmp_frame(icmp_echo(wire::kIcmpEchoReply, 1, 1, {})),
               "icmp_echo_replies_in"});
  // TCP (no engine attached)
  v.push_back({"tcp valid syn", l4_frame(wire::kIpProtoTcp, syn), "tcp_no_listener"});
  Bytes bad_tcp_sum = syn;
  bad_tcp_sum[16] ^= 0x01;
  v.push_back({"tcp bad checksum", l4_frame(wire::kIpProtoTcp, bad_tcp_sum), "tcp_bad_checksum"});
  Bytes small_doff = syn;
  small_doff[12] = 0x30;
  v.push_back(
      {"tcp data offset 3", l4_frame(wire::kIpProtoTcp, small_doff), "tcp_bad_data_offset"});
  Bytes big_doff = syn;
  big_doff[12] = 0xf0;
  v.push_back({"tcp data offset beyond segment", l4_frame(wire::kIpProtoTcp, big_doff),
               "tcp_bad_data_offset"});
  v.push_back({"tcp truncated", l4_frame(wire::kIpProtoTcp, Bytes(syn.begin(), syn.begin() + 12)),
               "tcp_truncated"});
  // Other protocols
  // UDP: a length field of 0 (below the header's 8 bytes; udp_test.cpp has the rest).
  v.push_back({"udp length 0", l4_frame(wire::kIpProtoUdp, Bytes(12, 0)), "udp_bad_length"});
  v.push_back({"gre", l4_frame(47, Bytes(8, 0)), "proto_unhandled"});
  return v;
}

TEST(ShardClassify, EachMalformedFrameIsCountedUnderItsReason) {
  for (const DropCase &c : drop_cases()) {
    SCOPED_TRACE(c.name);
    ShardHarness h; // fresh shard and pool: counters from zero, leak check per case
    h.rx(c.frame);
    EXPECT_EQ(counter(h.shard(), c.counter), 1u)
        << c.name << ": expected " << c.counter << " = 1\n"
        << "frame: " << hex_dump(c.frame.data(), c.frame.size()) << "\n"
        << h.trace();
    EXPECT_EQ(h.shard().counters().drops(), 1u) << "exactly one drop expected\n" << h.trace();
#if SHOAL_DROP_TRACE
    // The drop trace names the same reason, once.
    EXPECT_EQ(h.drops, std::vector<std::string>{c.counter}) << h.trace();
#endif
    EXPECT_TRUE(h.tx.frames.empty()) << h.trace();
    EXPECT_EQ(h.shard().counters().rx_packets.get(), 1u);
    EXPECT_EQ(h.shard().counters().rx_bytes.get(), c.frame.size());
  }
}

TEST(ShardClassify, ABurstOfMixedFramesLeaksNothing) {
  ShardHarness h;
  std::vector<rte_mbuf *> burst;
  for (const DropCase &c : drop_cases())
    burst.push_back(h.mbuf(c.frame));
  burst.push_back(h.mbuf(ping_frame(3)));
  h.shard().process_rx(burst, instant_from_ns(5));
  h.shard().flush();
  EXPECT_EQ(h.shard().counters().rx_packets.get(), burst.size());
  EXPECT_EQ(h.shard().counters().icmp_echo_requests_in.get(), 1u) << h.trace();
  // The harness checks the pool on destruction (the echo reply sits in the
  // ARP cache's queue; the ARP request went out).
}

// --- checksum offload flags -----------------------------------------------

ShardParams rx_offload_params() {
  ShardParams p = ShardHarness::default_params();
  p.offloads.rx_ipv4_cksum = true;
  p.offloads.rx_tcp_cksum = true;
  return p;
}

TEST(ShardOffload, NicGoodSkipsTheSoftwareChecksum) {
  ShardHarness h(rx_offload_params());
  Bytes f = ping_frame();
  f[24] ^= 0xff; // wrong, but the NIC vouched for it
  h.rx(f, instant_from_ns(1), RTE_MBUF_F_RX_IP_CKSUM_GOOD);
  EXPECT_EQ(h.shard().counters().icmp_echo_requests_in.get(), 1u) << h.trace();
}

TEST(ShardOffload, NicBadOnAValidHeaderIsACountedDrop) {
  ShardHarness h(rx_offload_params());
  h.rx(ping_frame(), instant_from_ns(1), RTE_MBUF_F_RX_IP_CKSUM_BAD);
  EXPECT_EQ(h.shard().counters().ipv4_checksum_offload_bad.get(), 1u) << h.trace();
  EXPECT_EQ(h.shard().counters().icmp_echo_requests_in.get(), 0u);
}

TEST(ShardOffload, NicBadIsReportedWithTheSoftwareReason) {
  ShardHarness h(rx_offload_params());
  h.rx(with_byte(ping_frame(), 24, 0), instant_from_ns(1), RTE_MBUF_F_RX_IP_CKSUM_BAD);
  EXPECT_EQ(counter(h.shard(), "ipv4_bad_checksum"), 1u) << h.trace();
}

TEST(ShardOffload, FlagsAreIgnoredWhenTheOffloadIsOff) {
  ShardHarness h; // no offloads enabled
  Bytes f = ping_frame();
  f[24] ^= 0xff;
  h.rx(f, instant_from_ns(1), RTE_MBUF_F_RX_IP_CKSUM_GOOD);
  EXPECT_EQ(counter(h.shard(), "ipv4_bad_checksum"), 1u) << h.trace();
}

TEST(ShardOffload, TcpNicFlags) {
  ShardHarness h(rx_offload_params());
  Bytes syn = tcp_segment(kPeerIp, kOurIp, wire::tcp_flags::SYN);
  syn[16] ^= 1;
  const Bytes f = ethernet(kOurMac, kPeerMac, wire::kEtherTypeIpv4,
                           ipv4(ip_header(kPeerIp, kOurIp, wire::kIpProtoTcp), syn));
  h.rx(f, instant_from_ns(1), RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD);
  EXPECT_EQ(h.shard().counters().tcp_no_listener.get(), 1u) << h.trace();
  h.rx(f, instant_from_ns(2), RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_BAD);
  EXPECT_EQ(counter(h.shard(), "tcp_bad_checksum"), 1u) << h.trace();
}

TEST(ShardOffload, EchoReplyUsesTxIpChecksumOffload) {
  ShardParams p = ShardHarness::default_params();
  p.offloads.tx_ipv4_cksum = true;
  ShardHarness h(p);
  h.rx(ethernet(MacAddr::broadcast(), kPeerMac, wire::kEtherTypeArp,
                arp(wire::ArpOp::Request, kPeerMac, kPeerIp, MacAddr::zero(), kOurIp)));
  h.tx.clear();
  h.rx(ping_frame());
  ASSERT_EQ(h.tx.frames.size(), 1u) << h.trace();
  const rte_mbuf *m = h.tx.frames[0];
  EXPECT_EQ(m->ol_flags & (RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM),
            RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM);
  EXPECT_EQ(m->l2_len, 14u);
  EXPECT_EQ(m->l3_len, 20u);
  EXPECT_EQ(wire::load_be16(rte_pktmbuf_mtod(m, const uint8_t *) + 24), 0u)
      << "IPv4 checksum left for the NIC must be 0";
}

// --- the IPv4 protocol hook --------------------------------------------------

TEST(ShardHook, RegisteredHandlerGetsTheDatagramTrimmed) {
  ShardHarness h;
  struct Seen {
    int calls = 0;
    uint32_t len = 0;
    uint8_t first = 0;
    wire::Ipv4Repr ip;
  } seen;
  h.shard().set_ipv4_handler(
      wire::kIpProtoTcp,
      [](void *ctx, rte_mbuf *m, const wire::Ipv4Repr &ip, Instant) {
        auto *s = static_cast<Seen *>(ctx);
        s->calls++;
        s->len = rte_pktmbuf_pkt_len(m);
        s->first = *rte_pktmbuf_mtod(m, uint8_t *);
        s->ip = ip;
        rte_pktmbuf_free(m);
      },
      &seen);
  Bytes f = ethernet(kOurMac, kPeerMac, wire::kEtherTypeIpv4,
                     ipv4(ip_header(kPeerIp, kOurIp, wire::kIpProtoTcp),
                          tcp_segment(kPeerIp, kOurIp, wire::tcp_flags::SYN)));
  const size_t datagram = f.size() - 14;
  f.resize(f.size() + 6, 0); // Ethernet padding
  h.rx(f);
  ASSERT_EQ(seen.calls, 1) << h.trace();
  EXPECT_EQ(seen.len, datagram);
  EXPECT_EQ(seen.first, 0x45);
  EXPECT_EQ(seen.ip.src, kPeerIp);
  EXPECT_EQ(h.shard().counters().tcp_no_listener.get(), 0u);
  // Unregistered again: back to the default path.
  h.shard().set_ipv4_handler(wire::kIpProtoTcp, nullptr, nullptr);
  h.rx(f);
  EXPECT_EQ(seen.calls, 1);
  EXPECT_EQ(h.shard().counters().tcp_no_listener.get(), 1u);
}

TEST(ShardHook, PollHookRunsOncePerPollBeforeTheFlush) {
  ShardHarness h;
  struct Seen {
    ShardHarness *h;
    std::vector<int64_t> at;
    std::vector<uint16_t> pending;
  } seen{&h, {}, {}};
  h.shard().set_poll_hook(
      [](void *ctx, Instant now) {
        auto *s = static_cast<Seen *>(ctx);
        s->at.push_back(to_ns(now));
        s->pending.push_back(s->h->shard().tx_pending());
      },
      &seen);
  // An ARP request queued during the iteration is still pending in the hook.
  h.shard().transmit_ipv4(h.mbuf(ipv4(ip_header(kOurIp, kPeerIp, wire::kIpProtoUdp), Bytes(8, 0))));
  h.shard().poll(instant_from_ns(10));
  h.shard().poll(instant_from_ns(20));
  EXPECT_EQ(seen.at, (std::vector<int64_t>{10, 20}));
  EXPECT_EQ(seen.pending, (std::vector<uint16_t>{1, 0}));
  h.shard().set_poll_hook(nullptr, nullptr);
  h.shard().poll(instant_from_ns(30));
  EXPECT_EQ(seen.at.size(), 2u);
}

} // namespace
} // namespace shoal::shard::test
