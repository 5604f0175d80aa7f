// UDP in the shard: the checksum (wire/udp), the socket table (bind,
// connect, receive callback and queue), send (with fragmentation), ICMP port
// unreachable for closed ports (its quote, the cases where none is sent, the
// token bucket) and the matching of received ICMP errors to sockets.
#include <cerrno>
#include <map>
#include <vector>

#include <gtest/gtest.h>

#include "shard/token_bucket.hpp"
#include "shard/udp.hpp"
#include "shard_test_util.hpp"
#include "wire/bytes.hpp"
#include "wire/checksum.hpp"
#include "wire/udp.hpp"

namespace shoal::shard::test {
namespace {

using wire::ParseError;

constexpr Instant kT0 = instant_from_ns(1'000'000'000);
constexpr uint16_t kPeerPort = 40000;

Bytes pattern(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; i++)
    b[i] = static_cast<uint8_t>(i * 13 + 5);
  return b;
}

// A UDP datagram (header + data) with its checksum (or `checksum` as given).
Bytes udp_datagram(Ipv4Addr src, Ipv4Addr dst, uint16_t sport, uint16_t dport, const Bytes &data,
                   std::optional<uint16_t> checksum = std::nullopt) {
  Bytes d(wire::kUdpHeaderLen);
  wire::UdpRepr u;
  u.src_port = sport;
  u.dst_port = dport;
  u.length = static_cast<uint16_t>(wire::kUdpHeaderLen + data.size());
  wire::emit_udp_header(u, d);
  d.insert(d.end(), data.begin(), data.end());
  const std::span<const uint8_t> whole(d);
  const uint16_t c = checksum ? *checksum : wire::udp_checksum(src, dst, {&whole, 1});
  wire::store_be16(d.data() + wire::udp_field::kChecksum, c);
  return d;
}

Bytes udp_frame(uint16_t dport, const Bytes &data, uint16_t sport = kPeerPort,
                std::optional<uint16_t> checksum = std::nullopt, const MacAddr &dst_mac = kOurMac) {
  return ethernet(dst_mac, kPeerMac, wire::kEtherTypeIpv4,
                  ipv4(ip_header(kPeerIp, kOurIp, wire::kIpProtoUdp),
                       udp_datagram(kPeerIp, kOurIp, sport, dport, data, checksum)));
}

void resolve_peer(ShardHarness &h) {
  h.rx(ethernet(MacAddr::broadcast(), kPeerMac, wire::kEtherTypeArp,
                arp(wire::ArpOp::Request, kPeerMac, kPeerIp, MacAddr::zero(), kOurIp)));
  h.tx.clear();
}

Bytes frame_bytes(const rte_mbuf *m) {
  Bytes f(rte_pktmbuf_pkt_len(m));
  const void *p = rte_pktmbuf_read(m, 0, static_cast<uint32_t>(f.size()), f.data());
  if (p != f.data())
    std::memcpy(f.data(), p, f.size());
  return f;
}

// The IPv4 datagrams sent, each put back together from its fragments.
std::vector<Bytes> sent_datagrams(ShardHarness &h) {
  std::vector<Bytes> out;
  std::map<uint16_t, std::map<uint16_t, Bytes>> partial; // ident -> offset -> payload
  for (const rte_mbuf *m : h.tx.frames) {
    const Bytes f = frame_bytes(m);
    EXPECT_LE(f.size() - 14, 1500u) << "a frame beyond the MTU";
    wire::Ipv4Repr ip;
    const bool ip_sum_offloaded = (m->ol_flags & RTE_MBUF_F_TX_IP_CKSUM) != 0;
    EXPECT_EQ(wire::parse_ipv4({f.data() + 14, f.size() - 14}, !ip_sum_offloaded, ip),
              ParseError::ok);
    const Bytes hdr(f.begin() + 14, f.begin() + 14 + ip.header_len);
    const Bytes payload(f.begin() + 14 + ip.header_len,
                        f.begin() + 14 + ip.header_len + ip.payload_len);
    if (!ip.is_fragment()) {
      Bytes d = hdr;
      d.insert(d.end(), payload.begin(), payload.end());
      out.push_back(d);
      continue;
    }
    partial[ip.ident][ip.fragment_offset] = payload;
    if (!ip.more_fragments) {
      Bytes d = hdr; // the last fragment's header: only addresses and protocol are used
      for (auto &[off, piece] : partial[ip.ident]) {
        EXPECT_EQ(off, d.size() - hdr.size()) << "a gap in the fragments";
        d.insert(d.end(), piece.begin(), piece.end());
      }
      out.push_back(d);
      partial.erase(ip.ident);
    }
  }
  return out;
}

// --- wire ----------------------------------------------------------------------------

TEST(UdpWire, ChecksumOfAKnownDatagram) {
  // 198.18.0.1:40000 -> 198.18.0.2:7, "hi": computed by hand over the
  // pseudo-header (c612 0001 c612 0002 0011 000a) and the datagram
  // (9c40 0007 000a 0000 6869).
  const Bytes d = udp_datagram(kPeerIp, kOurIp, 40000, 7, {'h', 'i'});
  EXPECT_EQ(wire::load_be16(d.data() + 6), 0x6f01);
  const std::span<const uint8_t> whole(d);
  EXPECT_TRUE(wire::udp_checksum_valid(kPeerIp, kOurIp, {&whole, 1}));
  Bytes bad = d;
  bad[9] ^= 1;
  const std::span<const uint8_t> b(bad);
  EXPECT_FALSE(wire::udp_checksum_valid(kPeerIp, kOurIp, {&b, 1}));
}

TEST(UdpWire, ChecksumInPiecesAtOddOffsetsEqualsTheWhole) {
  Bytes d = udp_datagram(kPeerIp, kOurIp, 1, 2, pattern(1001), 0);
  const std::span<const uint8_t> whole(d);
  const uint16_t expect = wire::udp_checksum(kPeerIp, kOurIp, {&whole, 1});
  const std::span<const uint8_t> pieces[] = {whole.subspan(0, 3), whole.subspan(3, 500),
                                             whole.subspan(503, 1), whole.subspan(504)};
  EXPECT_EQ(wire::udp_checksum(kPeerIp, kOurIp, pieces), expect);
}

TEST(UdpWire, AComputedZeroIsSentAsAllOnes) {
  // Data chosen so that the sum is 0xffff: the checksum would be 0.
  Bytes d = udp_datagram(kPeerIp, kOurIp, 1, 2, {0, 0}, 0);
  const std::span<const uint8_t> whole(d);
  const uint16_t c = wire::udp_checksum(kPeerIp, kOurIp, {&whole, 1});
  // Put the complement of the current sum into the data word: the total
  // becomes 0xffff.
  wire::store_be16(d.data() + 8, c == 0xffff ? 0 : c);
  const std::span<const uint8_t> again(d);
  EXPECT_EQ(wire::udp_checksum(kPeerIp, kOurIp, {&again, 1}), 0xffff);
  wire::store_be16(d.data() + 6, 0xffff);
  EXPECT_TRUE(wire::udp_checksum_valid(kPeerIp, kOurIp, {&again, 1}));
}

TEST(UdpWire, LengthFieldMustMatchTheIpPayload) {
  const Bytes d = udp_datagram(kPeerIp, kOurIp, 1, 2, pattern(10));
  wire::UdpRepr u;
  EXPECT_EQ(wire::parse_udp_header(d, d.size(), u), ParseError::ok);
  EXPECT_EQ(u.length, 18);
  EXPECT_EQ(wire::parse_udp_header(d, d.size() + 2, u), ParseError::bad_total_length);
  EXPECT_EQ(wire::parse_udp_header({d.data(), 7}, d.size(), u), ParseError::truncated);
}

TEST(UdpWire, IcmpErrorRoundTripAndRejects) {
  const Bytes quote = ipv4(ip_header(kOurIp, kPeerIp, wire::kIpProtoUdp),
                           udp_datagram(kOurIp, kPeerIp, 5000, 6000, pattern(4)));
  const Bytes q(quote.begin(), quote.begin() + 28); // header + 8 bytes
  Bytes msg(8 + q.size());
  EXPECT_EQ(wire::emit_icmp_error(wire::kIcmpDestUnreachable, 3, q, msg), msg.size());
  wire::IcmpErrorRepr e;
  ASSERT_EQ(wire::parse_icmp_error(msg, true, e), ParseError::ok);
  EXPECT_EQ(e.type, wire::kIcmpDestUnreachable);
  EXPECT_EQ(e.code, 3);
  EXPECT_EQ(e.quoted_src, kOurIp);
  EXPECT_EQ(e.quoted_dst, kPeerIp);
  EXPECT_EQ(e.quoted_protocol, wire::kIpProtoUdp);
  ASSERT_EQ(e.quoted_payload.size(), 8u);
  EXPECT_EQ(wire::load_be16(e.quoted_payload.data()), 5000);
  Bytes bad = msg;
  bad[20] ^= 1;
  EXPECT_EQ(wire::parse_icmp_error(bad, true, e), ParseError::bad_checksum);
  EXPECT_EQ(wire::parse_icmp_error({msg.data(), msg.size() - 1}, false, e), ParseError::truncated);
  Bytes echo = icmp_echo(wire::kIcmpEchoRequest, 1, 1, Bytes(28, 0));
  EXPECT_EQ(wire::parse_icmp_error(echo, true, e), ParseError::bad_icmp_type);
  Bytes not_ipv4 = msg;
  not_ipv4[8] = 0x65; // the quoted header's version 6
  EXPECT_EQ(wire::parse_icmp_error(not_ipv4, false, e), ParseError::bad_icmp_type);
  Bytes long_ihl = msg;
  long_ihl[8] = 0x46; // IHL 24 bytes: the 8 bytes after it are not all there
  EXPECT_EQ(wire::parse_icmp_error(long_ihl, false, e), ParseError::truncated);
}

TEST(UdpTokenBucket, BurstThenRate) {
  TokenBucket b(10, 3); // 10 per second, 3 at once
  EXPECT_TRUE(b.take(kT0));
  EXPECT_TRUE(b.take(kT0));
  EXPECT_TRUE(b.take(kT0));
  EXPECT_FALSE(b.take(kT0));
  EXPECT_FALSE(b.take(kT0 + std::chrono::milliseconds(99)));
  EXPECT_TRUE(b.take(kT0 + std::chrono::milliseconds(100)));
  EXPECT_FALSE(b.take(kT0 + std::chrono::milliseconds(150)));
  EXPECT_EQ(b.available(kT0 + std::chrono::seconds(100)), 3u) << "never beyond the burst";
  TokenBucket none(0, 0);
  EXPECT_FALSE(none.take(kT0));
}

// --- receive ---------------------------------------------------------------------------

TEST(UdpShard, ADatagramReachesTheBoundSocket) {
  ShardHarness h;
  UdpSocket *s = h.shard().udp().open(7);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(h.shard().udp().open(7), nullptr) << "a port bound twice";
  std::vector<std::pair<UdpDatagram, Bytes>> got;
  s->on_receive([&](UdpSocket &, const UdpDatagram &d) {
    got.push_back({d, Bytes(d.payload.begin(), d.payload.end())});
  });
  h.rx(udp_frame(7, {'h', 'e', 'l', 'l', 'o'}));
  h.rx(udp_frame(7, {}, 40001, 0)); // empty, and no checksum sent: accepted
  ASSERT_EQ(got.size(), 2u) << h.trace();
  EXPECT_EQ(got[0].first.remote, kPeerIp);
  EXPECT_EQ(got[0].first.remote_port, kPeerPort);
  EXPECT_EQ(got[0].first.local_port, 7);
  EXPECT_EQ(got[0].second, (Bytes{'h', 'e', 'l', 'l', 'o'}));
  EXPECT_EQ(got[1].first.remote_port, 40001);
  EXPECT_TRUE(got[1].second.empty());
  EXPECT_EQ(h.shard().counters().udp_datagrams_in.get(), 2u);
  EXPECT_EQ(h.shard().counters().drops(), 0u) << h.trace();
}

TEST(UdpShard, BadChecksumAndBadLengthAreCountedDrops) {
  ShardHarness h;
  UdpSocket *s = h.shard().udp().open(7);
  int calls = 0;
  s->on_receive([&](UdpSocket &, const UdpDatagram &) { calls++; });
  Bytes f = udp_frame(7, pattern(20));
  f[14 + 20 + 8] ^= 0x40;
  h.rx(f);
  EXPECT_EQ(h.shard().counters().udp_bad_checksum.get(), 1u) << h.trace();
  Bytes g = udp_frame(7, pattern(20));
  wire::store_be16(g.data() + 14 + 20 + 4, 27); // length field one short
  h.rx(g);
  EXPECT_EQ(h.shard().counters().udp_bad_length.get(), 1u) << h.trace();
  EXPECT_EQ(calls, 0);
  EXPECT_TRUE(h.tx.frames.empty()) << "no ICMP error for a damaged datagram\n" << h.trace();
}

TEST(UdpShard, NicVerdictIsUsedOnlyWithTheOffloadOn) {
  ShardParams p = ShardHarness::default_params();
  p.offloads.rx_udp_cksum = true;
  ShardHarness h(p);
  UdpSocket *s = h.shard().udp().open(7);
  int calls = 0;
  s->on_receive([&](UdpSocket &, const UdpDatagram &) { calls++; });
  Bytes f = udp_frame(7, pattern(20));
  f[14 + 20 + 8] ^= 0x40; // wrong, but the NIC vouched for it
  h.rx(f, kT0, RTE_MBUF_F_RX_L4_CKSUM_GOOD);
  EXPECT_EQ(calls, 1) << h.trace();

  ShardHarness off; // offload off: the flag is ignored
  UdpSocket *t = off.shard().udp().open(7);
  t->on_receive([&](UdpSocket &, const UdpDatagram &) { calls++; });
  off.rx(f, kT0, RTE_MBUF_F_RX_L4_CKSUM_GOOD);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(off.shard().counters().udp_bad_checksum.get(), 1u) << off.trace();
}

TEST(UdpShard, AReassembledDatagramArrivesWhole) {
  ShardHarness h;
  UdpSocket *s = h.shard().udp().open(9000);
  Bytes got;
  s->on_receive(
      [&](UdpSocket &, const UdpDatagram &d) { got.assign(d.payload.begin(), d.payload.end()); });
  const Bytes data = pattern(8000);
  const Bytes d = udp_datagram(kPeerIp, kOurIp, kPeerPort, 9000, data);
  for (size_t off = 0; off < d.size(); off += 1480) {
    const size_t n = std::min<size_t>(1480, d.size() - off);
    wire::Ipv4Repr r = ip_header(kPeerIp, kOurIp, wire::kIpProtoUdp);
    r.ident = 77;
    r.dont_fragment = false;
    r.more_fragments = off + n < d.size();
    r.fragment_offset = static_cast<uint16_t>(off);
    h.rx(ethernet(kOurMac, kPeerMac, wire::kEtherTypeIpv4,
                  ipv4(r, Bytes(d.begin() + static_cast<long>(off),
                                d.begin() + static_cast<long>(off + n)))));
  }
  EXPECT_EQ(h.shard().counters().ipv4_reassembled.get(), 1u) << h.trace();
  EXPECT_EQ(got, data) << h.trace();
}

TEST(UdpShard, WithoutACallbackDatagramsQueueUpToTheBound) {
  ShardParams p = ShardHarness::default_params();
  p.udp.receive_queue = 2;
  ShardHarness h(p);
  UdpSocket *s = h.shard().udp().open(53);
  h.rx(udp_frame(53, {1, 2, 3}));
  h.rx(udp_frame(53, {4, 5, 6, 7}, 40002));
  h.rx(udp_frame(53, {8}));
  EXPECT_EQ(s->queued(), 2u);
  EXPECT_EQ(h.shard().counters().udp_receive_queue_drops.get(), 1u) << h.trace();
  uint8_t buf[2];
  Ipv4Addr from;
  uint16_t from_port = 0;
  EXPECT_EQ(s->receive(buf, &from, &from_port), 3) << "the full length, truncated copy";
  EXPECT_EQ(buf[0], 1);
  EXPECT_EQ(buf[1], 2);
  EXPECT_EQ(from, kPeerIp);
  EXPECT_EQ(from_port, kPeerPort);
  uint8_t big[16];
  EXPECT_EQ(s->receive(big, &from, &from_port), 4);
  EXPECT_EQ(big[3], 7);
  EXPECT_EQ(from_port, 40002);
  EXPECT_EQ(s->receive(big, nullptr, nullptr), -1);
  h.rx(udp_frame(53, {9})); // left queued: the socket's close frees it (leak check)
  s->close();
}

TEST(UdpShard, AConnectedSocketTakesOnlyItsRemote) {
  UdpPorts ports; // as in a stack: the socket's own port is in the set
  ShardHarness h;
  h.shard().udp().set_ports(&ports);
  resolve_peer(h);
  UdpSocket *s = h.shard().udp().open(5000);
  ASSERT_TRUE(s->connect(kPeerIp, 6000));
  int calls = 0;
  s->on_receive([&](UdpSocket &, const UdpDatagram &) { calls++; });
  h.rx(udp_frame(5000, {1}, 6000));
  h.rx(udp_frame(5000, {1}, 6001));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(h.shard().counters().udp_no_port.get(), 1u) << h.trace();
  EXPECT_EQ(h.shard().counters().icmp_port_unreachable_out.get(), 1u) << h.trace();
  EXPECT_FALSE(s->connect(Ipv4Addr::broadcast(), 1));
  s->close();
}

// --- port unreachable --------------------------------------------------------------------

TEST(UdpShard, AClosedPortIsAnsweredWithPortUnreachableQuotingTheDatagram) {
  ShardHarness h;
  resolve_peer(h);
  const Bytes f = udp_frame(9999, pattern(100));
  h.rx(f);
  EXPECT_EQ(h.shard().counters().udp_no_port.get(), 1u);
  EXPECT_EQ(h.shard().counters().icmp_port_unreachable_out.get(), 1u);
  ASSERT_EQ(h.tx.frames.size(), 1u) << h.trace();
  const Bytes r = frame_bytes(h.tx.frames[0]);
  wire::EthernetRepr eth;
  ASSERT_EQ(wire::parse_ethernet(r, eth), ParseError::ok);
  EXPECT_EQ(eth.dst, kPeerMac);
  wire::Ipv4Repr ip;
  ASSERT_EQ(wire::parse_ipv4({r.data() + 14, r.size() - 14}, true, ip), ParseError::ok);
  EXPECT_EQ(ip.src, kOurIp);
  EXPECT_EQ(ip.dst, kPeerIp);
  EXPECT_EQ(ip.protocol, wire::kIpProtoIcmp);
  const std::span<const uint8_t> icmp(r.data() + 14 + 20, ip.payload_len);
  ASSERT_EQ(icmp.size(), 8u + 20 + 8) << "header + quoted IPv4 header + 8 bytes";
  EXPECT_EQ(icmp[0], wire::kIcmpDestUnreachable);
  EXPECT_EQ(icmp[1], wire::kIcmpPortUnreachable);
  EXPECT_EQ(wire::internet_checksum(icmp), 0);
  EXPECT_TRUE(std::equal(icmp.begin() + 8, icmp.end(), f.begin() + 14)) << "the quote";
}

TEST(UdpShard, NoPortUnreachableForALinkBroadcast) {
  // (Link-layer multicast frames do not get this far: eth_not_for_us.)
  ShardHarness h;
  resolve_peer(h);
  h.rx(udp_frame(9999, {1}, kPeerPort, std::nullopt, MacAddr::broadcast()));
  EXPECT_EQ(h.shard().counters().udp_no_port.get(), 1u) << h.trace();
  EXPECT_EQ(h.shard().counters().icmp_port_unreachable_out.get(), 0u);
  EXPECT_TRUE(h.tx.frames.empty()) << h.trace();
}

TEST(UdpShard, APortOpenOnAnotherShardIsNotAnsweredWithPortUnreachable) {
  auto ports = std::make_unique<UdpPorts>();
  ShardHarness a, b;
  a.shard().udp().set_ports(ports.get());
  b.shard().udp().set_ports(ports.get());
  resolve_peer(b);
  UdpSocket *s = a.shard().udp().open(5000);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(b.shard().udp().open(0)->local_port(), 32768);
  b.rx(udp_frame(5000, {1}));
  EXPECT_EQ(b.shard().counters().udp_other_shard.get(), 1u) << b.trace();
  EXPECT_TRUE(b.tx.frames.empty()) << b.trace();
  s->close();
  b.rx(udp_frame(5000, {1}));
  EXPECT_EQ(b.shard().counters().udp_no_port.get(), 1u) << "closed everywhere now\n" << b.trace();
  EXPECT_EQ(b.shard().counters().icmp_port_unreachable_out.get(), 1u);
  // An ephemeral port is never one open on another shard.
  UdpSocket *t = a.shard().udp().open(32769);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(b.shard().udp().open(0)->local_port(), 32770);
}

TEST(UdpShard, PortUnreachableIsRateLimited) {
  ShardParams p = ShardHarness::default_params();
  p.icmp_error_rate = 2;
  p.icmp_error_burst = 3;
  ShardHarness h(p);
  resolve_peer(h);
  for (int i = 0; i < 10; i++)
    h.rx(udp_frame(9999, {1}), kT0);
  EXPECT_EQ(h.shard().counters().udp_no_port.get(), 10u);
  EXPECT_EQ(h.shard().counters().icmp_port_unreachable_out.get(), 3u) << h.trace();
  EXPECT_EQ(h.shard().counters().icmp_errors_rate_limited.get(), 7u);
  EXPECT_EQ(h.tx.frames.size(), 3u);
  h.rx(udp_frame(9999, {1}), kT0 + std::chrono::milliseconds(499));
  EXPECT_EQ(h.shard().counters().icmp_port_unreachable_out.get(), 3u);
  h.rx(udp_frame(9999, {1}), kT0 + std::chrono::milliseconds(500));
  EXPECT_EQ(h.shard().counters().icmp_port_unreachable_out.get(), 4u) << "refilled at 2/s";
}

TEST(UdpShard, NoIcmpErrorAboutAnIcmpError) {
  ShardHarness h;
  resolve_peer(h);
  // Straight through send_icmp_error: an offending ICMP error is refused.
  Bytes quote = ipv4(ip_header(kOurIp, kPeerIp, wire::kIpProtoUdp), Bytes(8, 0));
  Bytes msg(8 + quote.size());
  wire::emit_icmp_error(wire::kIcmpDestUnreachable, 3, quote, msg);
  const Bytes d = ipv4(ip_header(kPeerIp, kOurIp, wire::kIpProtoIcmp), msg);
  rte_mbuf *m = h.mbuf(d);
  wire::Ipv4Repr ip;
  ASSERT_EQ(wire::parse_ipv4(d, true, ip), ParseError::ok);
  EXPECT_FALSE(h.shard().send_icmp_error(m, ip, wire::kIcmpDestUnreachable, 2, false));
  // An echo request is not an error: that one would be answered.
  const Bytes e = ipv4(ip_header(kPeerIp, kOurIp, wire::kIpProtoIcmp),
                       icmp_echo(wire::kIcmpEchoRequest, 1, 1, {}));
  rte_mbuf *n = h.mbuf(e);
  ASSERT_EQ(wire::parse_ipv4(e, true, ip), ParseError::ok);
  EXPECT_TRUE(h.shard().send_icmp_error(n, ip, wire::kIcmpDestUnreachable, 2, false));
  rte_pktmbuf_free(m);
  rte_pktmbuf_free(n);
}

// --- received ICMP errors -------------------------------------------------------------------

// An ICMP error from the peer quoting a UDP datagram we sent from
// `sport` to the peer's `dport`.
Bytes icmp_error_frame(uint8_t type, uint8_t code, uint16_t sport, uint16_t dport) {
  const Bytes quote = ipv4(ip_header(kOurIp, kPeerIp, wire::kIpProtoUdp),
                           udp_datagram(kOurIp, kPeerIp, sport, dport, {}));
  Bytes msg(8 + quote.size());
  wire::emit_icmp_error(type, code, quote, msg);
  return ethernet(kOurMac, kPeerMac, wire::kEtherTypeIpv4,
                  ipv4(ip_header(kPeerIp, kOurIp, wire::kIpProtoIcmp), msg));
}

TEST(UdpIcmpErrors, PortUnreachableReachesTheConnectedSocketAsEconnrefused) {
  ShardHarness h;
  UdpSocket *s = h.shard().udp().open(5000);
  s->connect(kPeerIp, 6000);
  std::vector<int> errors;
  s->on_error([&](UdpSocket &, int e) { errors.push_back(e); });
  h.rx(icmp_error_frame(wire::kIcmpDestUnreachable, wire::kIcmpPortUnreachable, 5000, 6000));
  ASSERT_EQ(errors, std::vector<int>{ECONNREFUSED}) << h.trace();
  EXPECT_EQ(h.shard().counters().icmp_dest_unreachable_in.get(), 1u);
  EXPECT_EQ(h.shard().counters().icmp_errors_reported.get(), 1u);
  EXPECT_EQ(s->take_error(), 0) << "handed to the callback, not also kept";

  UdpSocket *t = h.shard().udp().open(5001); // no callback: kept for take_error()
  t->connect(kPeerIp, 6000);
  h.rx(icmp_error_frame(wire::kIcmpDestUnreachable, wire::kIcmpPortUnreachable, 5001, 6000));
  EXPECT_EQ(t->take_error(), ECONNREFUSED);
  EXPECT_EQ(t->take_error(), 0);
  EXPECT_EQ(h.shard().counters().drops(), 0u) << h.trace();
}

TEST(UdpIcmpErrors, OthersAreCountedNotReported) {
  ShardHarness h;
  UdpSocket *unconnected = h.shard().udp().open(5000);
  UdpSocket *connected = h.shard().udp().open(5001);
  connected->connect(kPeerIp, 6000);
  int reported = 0;
  for (UdpSocket *s : {unconnected, connected})
    s->on_error([&](UdpSocket &, int) { reported++; });
  const auto &c = h.shard().counters();
  h.rx(icmp_error_frame(wire::kIcmpDestUnreachable, wire::kIcmpPortUnreachable, 5000, 6000));
  EXPECT_EQ(c.icmp_errors_unreported.get(), 1u) << "unconnected: counted\n" << h.trace();
  h.rx(icmp_error_frame(wire::kIcmpDestUnreachable, wire::kIcmpPortUnreachable, 5002, 6000));
  EXPECT_EQ(c.icmp_errors_unmatched.get(), 1u) << "no socket\n" << h.trace();
  h.rx(icmp_error_frame(wire::kIcmpDestUnreachable, wire::kIcmpPortUnreachable, 5001, 6001));
  EXPECT_EQ(c.icmp_errors_unmatched.get(), 2u) << "another remote\n" << h.trace();
  h.rx(icmp_error_frame(wire::kIcmpTimeExceeded, 0, 5001, 6000));
  EXPECT_EQ(c.icmp_time_exceeded_in.get(), 1u);
  EXPECT_EQ(c.icmp_errors_unreported.get(), 2u) << "time exceeded is transient\n" << h.trace();
  h.rx(icmp_error_frame(wire::kIcmpDestUnreachable, wire::kIcmpProtocolUnreachable, 5001, 6000));
  EXPECT_EQ(c.icmp_protocol_unreachable_in.get(), 1u);
  EXPECT_EQ(c.icmp_dest_unreachable_in.get(), 4u);
  EXPECT_EQ(reported, 1) << "protocol unreachable is a hard error";
  EXPECT_EQ(connected->take_error(), 0);
  EXPECT_TRUE(h.tx.frames.empty()) << "no answer to an ICMP error\n" << h.trace();
  EXPECT_EQ(icmp_error_errno(wire::kIcmpDestUnreachable, wire::kIcmpFragmentationNeeded), 0);
  EXPECT_EQ(icmp_error_errno(wire::kIcmpDestUnreachable, wire::kIcmpHostUnreachable), 0);
  EXPECT_EQ(icmp_error_errno(wire::kIcmpDestUnreachable, 13), EHOSTUNREACH);
}

TEST(UdpIcmpErrors, ACallbackMayCloseItsSocket) {
  ShardHarness h;
  UdpSocket *s = h.shard().udp().open(5000);
  s->connect(kPeerIp, 6000);
  s->on_error([](UdpSocket &self, int) { self.close(); });
  h.rx(icmp_error_frame(wire::kIcmpDestUnreachable, wire::kIcmpPortUnreachable, 5000, 6000));
  EXPECT_EQ(h.shard().udp().find(5000), nullptr);
  UdpSocket *t = h.shard().udp().open(7);
  t->on_receive([](UdpSocket &self, const UdpDatagram &) { self.close(); });
  h.rx(udp_frame(7, {1}));
  EXPECT_EQ(h.shard().udp().socket_count(), 0u);
}

// --- send ---------------------------------------------------------------------------------------

TEST(UdpSend, ADatagramLeavesWithAValidChecksum) {
  ShardHarness h;
  resolve_peer(h);
  UdpSocket *s = h.shard().udp().open(0);
  ASSERT_NE(s, nullptr);
  EXPECT_GE(s->local_port(), 32768);
  const Bytes data = pattern(333);
  EXPECT_EQ(s->send_to(kPeerIp, 7, data), 0);
  EXPECT_EQ(s->send(data), EDESTADDRREQ);
  EXPECT_EQ(s->send_to(kPeerIp, 0, data), EINVAL);
  EXPECT_EQ(s->send_to(Ipv4Addr::broadcast(), 7, data), EINVAL);
  EXPECT_EQ(s->send_to(kPeerIp, 7, Bytes(wire::kUdpMaxPayload + 1)), EMSGSIZE);
  h.shard().flush();
  const std::vector<Bytes> out = sent_datagrams(h);
  ASSERT_EQ(out.size(), 1u) << h.trace();
  const Bytes &d = out[0];
  const std::span<const uint8_t> udp(d.data() + 20, d.size() - 20);
  EXPECT_TRUE(wire::udp_checksum_valid(kOurIp, kPeerIp, {&udp, 1}));
  EXPECT_NE(wire::load_be16(udp.data() + 6), 0) << "the checksum is always sent";
  wire::UdpRepr u;
  ASSERT_EQ(wire::parse_udp_header(udp, udp.size(), u), ParseError::ok);
  EXPECT_EQ(u.src_port, s->local_port());
  EXPECT_EQ(u.dst_port, 7);
  EXPECT_TRUE(std::equal(udp.begin() + 8, udp.end(), data.begin(), data.end()));
  EXPECT_EQ(h.shard().counters().udp_datagrams_out.get(), 1u);
  EXPECT_EQ(h.shard().counters().udp_send_failures.get(), 3u) << "port 0, broadcast, size";
}

TEST(UdpSend, ADatagramBeyondTheMtuLeavesInFragments) {
  ShardParams p = ShardHarness::default_params();
  p.mtu = 1500;
  ShardHarness h(p);
  resolve_peer(h);
  UdpSocket *s = h.shard().udp().open(7);
  ASSERT_TRUE(s->connect(kPeerIp, kPeerPort));
  const Bytes data = pattern(8000); // more than one pool buffer: sent from a chain
  EXPECT_EQ(s->send(data), 0);
  h.shard().flush();
  EXPECT_EQ(h.tx.frames.size(), 6u) << h.trace();
  EXPECT_EQ(h.shard().counters().ipv4_fragments_out.get(), 6u);
  const std::vector<Bytes> out = sent_datagrams(h);
  ASSERT_EQ(out.size(), 1u);
  const std::span<const uint8_t> udp(out[0].data() + 20, out[0].size() - 20);
  ASSERT_EQ(udp.size(), 8000u + 8);
  EXPECT_TRUE(wire::udp_checksum_valid(kOurIp, kPeerIp, {&udp, 1}));
  EXPECT_TRUE(std::equal(udp.begin() + 8, udp.end(), data.begin(), data.end()));
}

TEST(UdpSend, TheChecksumIsLeftToTheNicOnlyForADatagramThatLeavesWhole) {
  ShardParams p = ShardHarness::default_params();
  p.mtu = 1500;
  p.offloads.tx_ipv4_cksum = true;
  p.offloads.tx_udp_cksum = true;
  ShardHarness h(p);
  resolve_peer(h);
  UdpSocket *s = h.shard().udp().open(7);
  const Bytes data = pattern(1000);
  EXPECT_EQ(s->send_to(kPeerIp, kPeerPort, data), 0);
  h.shard().flush();
  ASSERT_EQ(h.tx.frames.size(), 1u) << h.trace();
  const rte_mbuf *m = h.tx.frames[0];
  EXPECT_NE(m->ol_flags & RTE_MBUF_F_TX_UDP_CKSUM, 0u);
  EXPECT_NE(m->ol_flags & RTE_MBUF_F_TX_IP_CKSUM, 0u);
  EXPECT_EQ(m->l2_len, 14u);
  EXPECT_EQ(m->l3_len, 20u);
  EXPECT_EQ(m->l4_len, 8u);
  // What the NIC does: the complemented sum over the datagram, whose
  // checksum field holds the pseudo-header sum.
  Bytes f = frame_bytes(m);
  const std::span<uint8_t> udp(f.data() + 34, f.size() - 34);
  const uint16_t nic = wire::internet_checksum(udp);
  wire::store_be16(udp.data() + 6, nic);
  const std::span<const uint8_t> done(udp);
  EXPECT_TRUE(wire::udp_checksum_valid(kOurIp, kPeerIp, {&done, 1}))
      << "the field did not hold the pseudo-header sum";

  h.tx.clear();
  EXPECT_EQ(s->send_to(kPeerIp, kPeerPort, pattern(3000)), 0);
  h.shard().flush();
  ASSERT_EQ(h.tx.frames.size(), 3u) << h.trace();
  for (const rte_mbuf *frag : h.tx.frames)
    EXPECT_EQ(frag->ol_flags & RTE_MBUF_F_TX_L4_MASK, 0u) << "a fragment asks for a UDP checksum";
  const std::vector<Bytes> out = sent_datagrams(h);
  ASSERT_EQ(out.size(), 1u);
  const std::span<const uint8_t> whole(out[0].data() + 20, out[0].size() - 20);
  EXPECT_TRUE(wire::udp_checksum_valid(kOurIp, kPeerIp, {&whole, 1}));
}

TEST(UdpSend, FromAReservedBufferWithoutACopy) {
  ShardParams p = ShardHarness::default_params();
  p.mtu = 1500;
  ShardHarness h(p);
  resolve_peer(h);
  UdpSocket *s = h.shard().udp().open(0);
  ASSERT_NE(s, nullptr);
  const unsigned free_before = rte_mempool_avail_count(h.pool());
  ASSERT_GE(s->max_reserve(), 1472u) << "a full frame's payload fits one buffer";
  EXPECT_FALSE(s->reserve(s->max_reserve() + 1)) << "more than one buffer's room";
  {
    UdpSendBuffer unsent = s->reserve(100);
    ASSERT_TRUE(unsent);
    EXPECT_EQ(rte_mempool_avail_count(h.pool()), free_before - 1);
  }
  EXPECT_EQ(rte_mempool_avail_count(h.pool()), free_before) << "an unsent buffer was not freed";

  UdpSendBuffer b = s->reserve(1200);
  ASSERT_TRUE(b);
  ASSERT_EQ(b.data().size(), 1200u);
  const Bytes data = pattern(1000);
  std::copy(data.begin(), data.end(), b.data().begin());
  const uint8_t *where = b.data().data();
  EXPECT_EQ(s->send_reserved_to(b, 1000, kPeerIp, 7), 0);
  EXPECT_FALSE(b) << "consumed by the send";
  h.shard().flush();
  ASSERT_EQ(h.tx.frames.size(), 1u) << h.trace();
  EXPECT_EQ(rte_pktmbuf_mtod_offset(h.tx.frames[0], const uint8_t *, 14 + 28), where)
      << "the payload was copied, not sent where the application wrote it";
  const std::vector<Bytes> out = sent_datagrams(h);
  ASSERT_EQ(out.size(), 1u);
  const std::span<const uint8_t> udp(out[0].data() + 20, out[0].size() - 20);
  ASSERT_EQ(udp.size(), 1008u);
  EXPECT_TRUE(wire::udp_checksum_valid(kOurIp, kPeerIp, {&udp, 1}));
  EXPECT_TRUE(std::equal(udp.begin() + 8, udp.end(), data.begin(), data.end()));

  // The errors of send(), and the buffer freed with them.
  UdpSendBuffer c = s->reserve(10);
  EXPECT_EQ(s->send_reserved(c, 10), EDESTADDRREQ);
  c = s->reserve(10);
  EXPECT_EQ(s->send_reserved_to(c, 11, kPeerIp, 7), EINVAL) << "longer than reserved";
  c = s->reserve(10);
  EXPECT_EQ(s->send_reserved_to(c, 10, Ipv4Addr::broadcast(), 7), EINVAL);
  EXPECT_EQ(s->send_reserved_to(c, 0, kPeerIp, 7), EINVAL) << "an empty buffer";
  ASSERT_TRUE(s->connect(kPeerIp, kPeerPort));
  c = s->reserve(8);
  std::memcpy(c.data().data(), "reserved", 8);
  EXPECT_EQ(s->send_reserved(c, 8), 0);
  h.shard().flush();
  EXPECT_EQ(h.shard().counters().udp_datagrams_out.get(), 2u);
}

TEST(UdpSend, AnEchoFromTheCallback) {
  ShardHarness h;
  resolve_peer(h);
  UdpSocket *s = h.shard().udp().open(7);
  s->on_receive([](UdpSocket &self, const UdpDatagram &d) {
    EXPECT_EQ(self.send_to(d.remote, d.remote_port, d.payload), 0);
  });
  h.rx(udp_frame(7, {'p', 'i', 'n', 'g'}));
  const std::vector<Bytes> out = sent_datagrams(h);
  ASSERT_EQ(out.size(), 1u) << h.trace();
  EXPECT_EQ(Bytes(out[0].begin() + 28, out[0].end()), (Bytes{'p', 'i', 'n', 'g'}));
  EXPECT_EQ(wire::load_be16(out[0].data() + 22), kPeerPort);
}

} // namespace
} // namespace shoal::shard::test
