// IPv4 reassembly in the shard (rte_ip_frag) and fragmentation of what it
// sends: a ping too large for one frame arrives in fragments, out of order,
// is answered with the same data in fragments; a lone fragment is held, then
// freed and counted when its time runs out; a flood of fragments that never
// complete holds at most the table's bound of datagrams; a fragment that
// overlaps another discards its whole datagram, an exact duplicate does
// not; fragments that arrive on two shards are reassembled by one.
#include <algorithm>
#include <map>
#include <vector>

#include <gtest/gtest.h>

#include "shard/handoff.hpp"
#include "shard_test_util.hpp"
#include "wire/bytes.hpp"
#include "wire/checksum.hpp"

namespace shoal::shard::test {
namespace {

using wire::ParseError;

constexpr Instant kT0 = instant_from_ns(1'000'000'000);

Bytes pattern(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; i++)
    b[i] = static_cast<uint8_t>(i * 7 + 3);
  return b;
}

// The frames of `payload` (an IPv4 payload of protocol `proto`) cut into
// fragments of at most `piece` bytes (a multiple of 8), in order.
std::vector<Bytes> fragments(uint8_t proto, uint16_t ident, const Bytes &payload, size_t piece) {
  std::vector<Bytes> out;
  for (size_t off = 0; off < payload.size(); off += piece) {
    const size_t n = std::min(piece, payload.size() - off);
    wire::Ipv4Repr r = ip_header(kPeerIp, kOurIp, proto);
    r.ident = ident;
    r.dont_fragment = false;
    r.more_fragments = off + n < payload.size();
    r.fragment_offset = static_cast<uint16_t>(off);
    out.push_back(ethernet(kOurMac, kPeerMac, wire::kEtherTypeIpv4,
                           ipv4(r, Bytes(payload.begin() + static_cast<long>(off),
                                         payload.begin() + static_cast<long>(off + n)))));
  }
  return out;
}

void resolve_peer(ShardHarness &h) {
  h.rx(ethernet(MacAddr::broadcast(), kPeerMac, wire::kEtherTypeArp,
                arp(wire::ArpOp::Request, kPeerMac, kPeerIp, MacAddr::zero(), kOurIp)));
  h.tx.clear();
}

// Puts the sent fragments back together (by offset); checks each header.
Bytes reassemble_sent(ShardHarness &h, uint16_t mtu) {
  std::map<uint16_t, Bytes> pieces;
  bool saw_last = false;
  for (rte_mbuf *m : h.tx.frames) {
    Bytes frame(rte_pktmbuf_pkt_len(m));
    rte_pktmbuf_read(m, 0, static_cast<uint32_t>(frame.size()), frame.data());
    EXPECT_LE(frame.size() - 14, mtu) << "a fragment larger than the MTU";
    wire::Ipv4Repr ip;
    EXPECT_EQ(wire::parse_ipv4({frame.data() + 14, frame.size() - 14}, true, ip), ParseError::ok);
    EXPECT_EQ(ip.src, kOurIp);
    EXPECT_EQ(ip.dst, kPeerIp);
    EXPECT_FALSE(ip.dont_fragment);
    if (!ip.more_fragments)
      saw_last = true;
    const uint8_t *p = frame.data() + 14 + ip.header_len;
    pieces[ip.fragment_offset] = Bytes(p, p + ip.payload_len);
  }
  EXPECT_TRUE(saw_last) << "no last fragment";
  Bytes whole;
  for (auto &[off, b] : pieces) {
    EXPECT_EQ(off, whole.size()) << "a gap or an overlap in the sent fragments";
    whole.insert(whole.end(), b.begin(), b.end());
  }
  return whole;
}

TEST(ShardReassembly, LargePingInFragmentsOutOfOrderIsAnsweredInFragments) {
  ShardHarness h;
  resolve_peer(h);
  const Bytes data = pattern(3000);
  const Bytes request = icmp_echo(wire::kIcmpEchoRequest, 0x42, 9, data);
  std::vector<Bytes> frags = fragments(wire::kIpProtoIcmp, 0x5151, request, 1480);
  ASSERT_EQ(frags.size(), 3u);
  h.rx(frags[2]);
  h.rx(frags[0]);
  EXPECT_TRUE(h.tx.frames.empty()) << "answered before the datagram was whole\n" << h.trace();
  h.rx(frags[1]);
  EXPECT_EQ(h.shard().counters().ipv4_fragments.get(), 3u);
  EXPECT_EQ(h.shard().counters().ipv4_reassembled.get(), 1u) << h.trace();
  EXPECT_EQ(h.shard().counters().icmp_echo_replies_out.get(), 1u) << h.trace();
  EXPECT_EQ(h.shard().counters().drops(), 0u) << h.trace();
  ASSERT_EQ(h.tx.frames.size(), 3u) << h.trace();
  EXPECT_EQ(h.shard().counters().ipv4_fragments_out.get(), 3u);
  const Bytes reply = reassemble_sent(h, 1500);
  ASSERT_EQ(reply.size(), request.size());
  EXPECT_EQ(wire::internet_checksum(reply), 0) << "bad ICMP checksum over the whole reply";
  wire::IcmpEchoRepr echo;
  ASSERT_EQ(wire::parse_icmp_echo(reply, true, echo), ParseError::ok);
  EXPECT_EQ(echo.type, wire::kIcmpEchoReply);
  EXPECT_EQ(echo.ident, 0x42);
  EXPECT_EQ(echo.seq, 9);
  EXPECT_TRUE(std::equal(echo.payload.begin(), echo.payload.end(), data.begin(), data.end()));
}

TEST(ShardReassembly, AReplyThatFitsOneBufferButNotTheMtuLeavesInFragments) {
  ShardHarness h;
  resolve_peer(h);
  const Bytes request = icmp_echo(wire::kIcmpEchoRequest, 1, 2, pattern(1600));
  for (const Bytes &f : fragments(wire::kIpProtoIcmp, 7, request, 1024))
    h.rx(f);
  ASSERT_EQ(h.shard().counters().ipv4_reassembled.get(), 1u) << h.trace();
  ASSERT_EQ(h.tx.frames.size(), 2u) << h.trace();
  const Bytes reply = reassemble_sent(h, 1500);
  ASSERT_EQ(reply.size(), request.size());
  EXPECT_EQ(reply[0], wire::kIcmpEchoReply);
  EXPECT_TRUE(std::equal(reply.begin() + 8, reply.end(), request.begin() + 8, request.end()));
  EXPECT_EQ(h.shard().counters().tx_oversize_drops.get(), 0u);
}

TEST(ShardReassembly, ALoneFragmentIsHeldUntilItsTimeRunsOut) {
  ShardParams p = ShardHarness::default_params();
  p.reassembly_timeout = std::chrono::seconds(2);
  ShardHarness h(p);
  resolve_peer(h);
  const Bytes request = icmp_echo(wire::kIcmpEchoRequest, 1, 1, pattern(2000));
  const std::vector<Bytes> frags = fragments(wire::kIpProtoIcmp, 99, request, 1480);
  h.rx(frags[0], kT0);
  EXPECT_EQ(h.shard().counters().drops(), 0u) << h.trace();
  h.shard().advance(kT0 + std::chrono::seconds(1));
  EXPECT_EQ(h.shard().counters().ipv4_reassembly_drops.get(), 0u) << "freed before its time";
  h.shard().advance(kT0 + std::chrono::seconds(3));
  EXPECT_EQ(h.shard().counters().ipv4_reassembly_drops.get(), 1u) << h.trace();
  // The rest arriving late starts a new datagram, which never completes.
  h.rx(frags[1], kT0 + std::chrono::seconds(3));
  EXPECT_EQ(h.shard().counters().ipv4_reassembled.get(), 0u);
  EXPECT_TRUE(h.tx.frames.empty()) << h.trace();
}

TEST(ShardReassembly, OffMeansFragmentsAreDroppedAndCounted) {
  ShardParams p = ShardHarness::default_params();
  p.reassembly_max_datagrams = 0;
  ShardHarness h(p);
  for (const Bytes &f :
       fragments(wire::kIpProtoIcmp, 3, icmp_echo(wire::kIcmpEchoRequest, 1, 1, pattern(2000)),
                 1480))
    h.rx(f);
  EXPECT_EQ(h.shard().counters().ipv4_reassembly_drops.get(), 2u) << h.trace();
  EXPECT_EQ(h.shard().counters().drops(), 2u);
  EXPECT_TRUE(h.tx.frames.empty());
}

TEST(ShardReassembly, AnOverlappingFragmentDiscardsTheWholeDatagram) {
  ShardParams p = ShardHarness::default_params();
  p.reassembly_timeout = std::chrono::seconds(2);
  ShardHarness h(p);
  resolve_peer(h);
  const Bytes request = icmp_echo(wire::kIcmpEchoRequest, 1, 1, pattern(4000));
  const std::vector<Bytes> frags = fragments(wire::kIpProtoIcmp, 0x0bad, request, 1480);
  ASSERT_EQ(frags.size(), 3u);
  // The middle fragment again, its offset moved back by 8 bytes over the
  // first one's end: bytes the first fragment already gave.
  wire::Ipv4Repr r = ip_header(kPeerIp, kOurIp, wire::kIpProtoIcmp);
  r.ident = 0x0bad;
  r.dont_fragment = false;
  r.more_fragments = true;
  r.fragment_offset = 1472;
  const Bytes shifted =
      ethernet(kOurMac, kPeerMac, wire::kEtherTypeIpv4,
               ipv4(r, Bytes(request.begin() + 1472, request.begin() + 1472 + 1480)));
  h.rx(frags[0], kT0);
  h.rx(shifted, kT0);
  EXPECT_EQ(h.shard().counters().ipv4_reassembly_overlaps.get(), 1u) << h.trace();
  // The rest, even the true middle fragment, completes nothing.
  h.rx(frags[1], kT0);
  h.rx(frags[2], kT0);
  EXPECT_EQ(h.shard().counters().ipv4_reassembled.get(), 0u) << h.trace();
  EXPECT_TRUE(h.tx.frames.empty()) << "a datagram built from overlapping fragments was answered";
  EXPECT_EQ(h.shard().counters().ipv4_reassembly_drops.get(), 3u) << h.trace();
  // What the table held of it leaves at its timeout.
  h.shard().advance(kT0 + std::chrono::seconds(3));
  EXPECT_EQ(h.shard().counters().ipv4_reassembly_drops.get(), 4u) << h.trace();
  // The same identification later is a new datagram.
  for (const Bytes &f : frags)
    h.rx(f, kT0 + std::chrono::seconds(3));
  EXPECT_EQ(h.shard().counters().ipv4_reassembled.get(), 1u) << h.trace();
  EXPECT_EQ(h.shard().counters().icmp_echo_replies_out.get(), 1u);
}

TEST(ShardReassembly, AnExactDuplicateFragmentIsFreedAndTheDatagramKept) {
  ShardHarness h;
  resolve_peer(h);
  const Bytes request = icmp_echo(wire::kIcmpEchoRequest, 3, 4, pattern(4000));
  const std::vector<Bytes> frags = fragments(wire::kIpProtoIcmp, 0x0d0d, request, 1480);
  h.rx(frags[0]);
  h.rx(frags[0]); // a duplicate first fragment would make the table drop the datagram
  h.rx(frags[1]);
  h.rx(frags[1]);
  h.rx(frags[2]);
  EXPECT_EQ(h.shard().counters().ipv4_fragment_duplicates.get(), 2u) << h.trace();
  EXPECT_EQ(h.shard().counters().ipv4_reassembly_overlaps.get(), 0u);
  EXPECT_EQ(h.shard().counters().ipv4_reassembled.get(), 1u) << h.trace();
  EXPECT_EQ(h.shard().counters().icmp_echo_replies_out.get(), 1u) << h.trace();
  EXPECT_EQ(h.shard().counters().ipv4_reassembly_drops.get(), 2u);
}

// Two shards, 0 and 1; every datagram's fragments belong to shard 1. The
// fragments arrive alternately on both; shard 0 hands its own over.
TEST(ShardReassembly, FragmentsArrivingOnTwoShardsAreReassembledByTheOwner) {
  ShardParams p0 = ShardHarness::default_params(), p1 = p0;
  p0.id = 0;
  p1.id = 1;
  ShardHarness h0(p0), h1(p1);
  Handoff rings(2, 64);
  struct Ctx {
    Handoff *rings;
    unsigned self;
  } c0{&rings, 0}, c1{&rings, 1};
  const auto owner = [](void *, wire::Ipv4Addr, wire::Ipv4Addr) -> unsigned { return 1; };
  const auto hand = [](void *ctx, unsigned to, rte_mbuf *m) {
    const auto *c = static_cast<const Ctx *>(ctx);
    return c->rings->send(static_cast<uint16_t>(c->self), static_cast<uint16_t>(to), m);
  };
  h0.shard().set_fragment_steering(owner, hand, &c0);
  h1.shard().set_fragment_steering(owner, hand, &c1);
  resolve_peer(h1);
  const Bytes request = icmp_echo(wire::kIcmpEchoRequest, 7, 8, pattern(6000));
  const std::vector<Bytes> frags = fragments(wire::kIpProtoIcmp, 0x2222, request, 1480);
  ASSERT_EQ(frags.size(), 5u);
  for (size_t i = 0; i < frags.size(); i++) {
    (i % 2 == 0 ? h0 : h1).rx(frags[i]);
    std::array<rte_mbuf *, 8> in{};
    const size_t n = rings.drain(1, in);
    for (size_t k = 0; k < n; k++) {
      ASSERT_TRUE(Shard::is_handed_fragment(in[k]));
      h1.shard().fragment_handed_in(in[k], kT0);
    }
    h1.shard().flush();
  }
  EXPECT_EQ(h0.shard().counters().ipv4_fragments_handed_over.get(), 3u) << h0.trace();
  EXPECT_EQ(h0.shard().counters().ipv4_reassembled.get(), 0u);
  EXPECT_EQ(h1.shard().counters().ipv4_fragments_handed_in.get(), 3u) << h1.trace();
  EXPECT_EQ(h1.shard().counters().ipv4_reassembled.get(), 1u) << h1.trace();
  EXPECT_EQ(h1.shard().counters().icmp_echo_replies_out.get(), 1u) << h1.trace();
  EXPECT_EQ(h0.shard().counters().drops() + h1.shard().counters().drops(), 0u);
  const Bytes reply = reassemble_sent(h1, 1500);
  ASSERT_EQ(reply.size(), request.size());
  EXPECT_TRUE(std::equal(reply.begin() + 8, reply.end(), request.begin() + 8, request.end()));
  EXPECT_TRUE(h0.tx.frames.empty());
}

TEST(ShardReassembly, AFloodOfIncompleteDatagramsHoldsAtMostTheBound) {
  ShardParams p = ShardHarness::default_params();
  p.reassembly_max_datagrams = 256;
  ShardHarness h(p);
  const unsigned start = rte_mempool_avail_count(h.pool());
  const Bytes first = icmp_echo(wire::kIcmpEchoRequest, 1, 1, pattern(400));
  constexpr unsigned kFlood = 2000;
  for (unsigned i = 0; i < kFlood; i++)
    h.rx(fragments(wire::kIpProtoIcmp, static_cast<uint16_t>(i), first, 200)[0]);
  const unsigned held = start - rte_mempool_avail_count(h.pool());
  EXPECT_LE(held, 256u) << "more fragments held than the table's bound";
  EXPECT_EQ(h.shard().counters().ipv4_fragments.get(), kFlood);
  EXPECT_EQ(h.shard().counters().ipv4_reassembly_drops.get() + held, kFlood) << h.trace();
  EXPECT_TRUE(h.tx.frames.empty());
  // A datagram whose fragments arrive together still gets through the full
  // table: the flood's entries older than kPressureAge make room.
  resolve_peer(h);
  const Bytes request = icmp_echo(wire::kIcmpEchoRequest, 5, 6, pattern(2500));
  for (int k = 1; k <= 10; k++)
    for (const Bytes &f : fragments(wire::kIpProtoIcmp, static_cast<uint16_t>(60000 + k), request, 1480))
      h.rx(f, kT0 + 2 * k * Reassembly::kPressureAge);
  EXPECT_EQ(h.shard().counters().ipv4_reassembled.get(), 10u) << h.trace();
  EXPECT_EQ(h.shard().counters().icmp_echo_replies_out.get(), 10u) << h.trace();
}

} // namespace
} // namespace shoal::shard::test
