// Ethernet II header and ARP (RFC 826) against hand-written frames.
#include <gtest/gtest.h>

#include "wire/arp.hpp"
#include "wire/ethernet.hpp"
#include "wire_test_util.hpp"

namespace shoal::wire {
namespace {

using test::Bytes;
using test::hex;

const MacAddr kMacA{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
const MacAddr kMacB{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};

// Who has 198.18.0.2? Tell 198.18.0.1 — a broadcast ARP request, written from
// the RFC 826 layout: htype 1, ptype 0x0800, hlen 6, plen 4, op 1.
const Bytes kArpRequestFrame = hex("ffffffffffff 020000000001 0806"
                                   "0001 0800 06 04 0001"
                                   "020000000001 c6120001"
                                   "000000000000 c6120002");

TEST(Ethernet, ParsesAHandWrittenHeader) {
  EthernetRepr eth;
  ASSERT_EQ(parse_ethernet(kArpRequestFrame, eth), ParseError::ok);
  EXPECT_TRUE(eth.dst.is_broadcast());
  EXPECT_EQ(eth.src, kMacA);
  EXPECT_EQ(eth.ethertype, kEtherTypeArp);
}

TEST(Ethernet, EmitsByteExactAndRoundTrips) {
  const EthernetRepr eth{kMacB, kMacA, kEtherTypeIpv4};
  Bytes out(kEthernetHeaderLen, 0xee);
  emit_ethernet(eth, out);
  EXPECT_EQ(out, hex("020000000002 020000000001 0800")) << test::dump(out);
  EthernetRepr back;
  ASSERT_EQ(parse_ethernet(out, back), ParseError::ok);
  EXPECT_EQ(back, eth);
  const EthernetRepr v6{MacAddr::broadcast(), kMacB, kEtherTypeIpv6};
  emit_ethernet(v6, out);
  ASSERT_EQ(parse_ethernet(out, back), ParseError::ok);
  EXPECT_EQ(back, v6);
}

TEST(Arp, ParsesTheHandWrittenRequest) {
  ArpRepr arp;
  const auto payload = std::span<const uint8_t>(kArpRequestFrame).subspan(kEthernetHeaderLen);
  ASSERT_EQ(parse_arp(payload, arp), ParseError::ok);
  EXPECT_EQ(arp.op, ArpOp::Request);
  EXPECT_EQ(arp.sender_mac, kMacA);
  EXPECT_EQ(arp.sender_ip, test::kHostA);
  EXPECT_TRUE(arp.target_mac.is_zero());
  EXPECT_EQ(arp.target_ip, test::kHostB);
}

TEST(Arp, EmitsTheReplyByteExact) {
  const ArpRepr reply{ArpOp::Reply, kMacB, test::kHostB, kMacA, test::kHostA};
  Bytes out(kArpLen, 0xee);
  emit_arp(reply, out);
  EXPECT_EQ(out, hex("0001 0800 06 04 0002"
                     "020000000002 c6120002"
                     "020000000001 c6120001"))
      << test::dump(out);
}

TEST(Arp, RoundTripsBothOpsAndAcceptsEthernetPadding) {
  for (ArpOp op : {ArpOp::Request, ArpOp::Reply}) {
    const ArpRepr a{op, kMacA, Ipv4Addr::from_octets(10, 0, 0, 1), MacAddr::broadcast(),
                    Ipv4Addr::from_octets(10, 255, 0, 9)};
    Bytes out(46, 0); // minimum Ethernet payload: 18 bytes of padding after ARP
    emit_arp(a, out);
    ArpRepr back;
    ASSERT_EQ(parse_arp(out, back), ParseError::ok);
    EXPECT_EQ(back, a);
  }
}

} // namespace
} // namespace shoal::wire
