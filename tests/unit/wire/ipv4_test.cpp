// IPv4 header (RFC 791 3.1) against hand-written datagrams.
#include <gtest/gtest.h>

#include "wire/checksum.hpp"
#include "wire/ipv4.hpp"
#include "wire_test_util.hpp"

namespace shoal::wire {
namespace {

using test::Bytes;
using test::hex;

TEST(Ipv4, ParsesTheTextbookHeader) {
  // total length 0x73 = 115: give it exactly 115 bytes.
  Bytes d = hex("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7");
  d.resize(0x73, 0xab);
  Ipv4Repr ip;
  ASSERT_EQ(parse_ipv4(d, true, ip), ParseError::ok);
  EXPECT_EQ(ip.src.to_string(), "192.168.0.1");
  EXPECT_EQ(ip.dst.to_string(), "192.168.0.199");
  EXPECT_EQ(ip.protocol, kIpProtoUdp);
  EXPECT_EQ(ip.ttl, 64);
  EXPECT_EQ(ip.tos, 0);
  EXPECT_EQ(ip.ident, 0);
  EXPECT_TRUE(ip.dont_fragment);
  EXPECT_FALSE(ip.is_fragment());
  EXPECT_EQ(ip.header_len, 20);
  EXPECT_EQ(ip.payload_len, 0x73 - 20);
}

TEST(Ipv4, EmitsByteExact) {
  Ipv4Repr ip;
  ip.src = test::kHostA;
  ip.dst = test::kHostB;
  ip.protocol = kIpProtoTcp;
  ip.ttl = 64;
  ip.tos = 0x10;
  ip.ident = 0x1c46;
  ip.payload_len = 40;
  Bytes out(20, 0xee);
  emit_ipv4(ip, out);
  // 45 10 | len 60 | id 1c46 | DF | ttl 64, tcp | csum | src | dst.
  Bytes expect = hex("4510 003c 1c46 4000 4006 0000 c6120001 c6120002");
  test::fix_checksum_at(expect, 10, 20);
  EXPECT_EQ(out, expect) << "got\n" << test::dump(out) << "\nwant\n" << test::dump(expect);

  emit_ipv4(ip, out, /*compute_checksum=*/false);
  EXPECT_EQ(out[10], 0);
  EXPECT_EQ(out[11], 0);
}

TEST(Ipv4, RoundTripsFlagsFragmentsAndFields) {
  struct Case {
    bool df, mf;
    uint16_t offset;
  } cases[] = {{true, false, 0}, {false, true, 0}, {false, true, 1480}, {false, false, 65528}};
  for (const auto &c : cases) {
    Ipv4Repr ip;
    ip.src = Ipv4Addr::from_octets(10, 0, 0, 1);
    ip.dst = Ipv4Addr::from_octets(10, 0, 0, 2);
    ip.protocol = kIpProtoIcmp;
    ip.ttl = 1;
    ip.tos = 0xb8;
    ip.ident = 0xbeef;
    ip.dont_fragment = c.df;
    ip.more_fragments = c.mf;
    ip.fragment_offset = c.offset;
    ip.payload_len = 100;
    Bytes out(120, 0);
    emit_ipv4(ip, out);
    Ipv4Repr back;
    ASSERT_EQ(parse_ipv4(out, true, back), ParseError::ok) << test::dump(out);
    EXPECT_EQ(back, ip) << "offset " << c.offset;
    EXPECT_EQ(back.is_fragment(), c.mf || c.offset != 0);
  }
}

TEST(Ipv4, SkipsOptionsAndIgnoresEthernetPadding) {
  // IHL 6: one word of options (NOP NOP NOP EOL), total length 28, then 18
  // bytes of Ethernet padding that are not part of the datagram.
  Bytes d = hex("4600 001c 0001 0000 4001 0000 0a000001 0a000002 01010100"
                "0800 0000 0000 0000");
  test::fix_checksum_at(d, 10, 24);
  d.resize(46, 0);
  Ipv4Repr ip;
  ASSERT_EQ(parse_ipv4(d, true, ip), ParseError::ok) << test::dump(d);
  EXPECT_EQ(ip.header_len, 24);
  EXPECT_EQ(ip.payload_len, 4);
  EXPECT_FALSE(ip.dont_fragment);
  EXPECT_EQ(ip.protocol, kIpProtoIcmp);
}

TEST(Ipv4, ChecksumIsSkippedWhenOffloadValidatedIt) {
  Bytes d = hex("4500 0014 0000 4000 4006 dead c6120001 c6120002");
  Ipv4Repr ip;
  EXPECT_EQ(parse_ipv4(d, true, ip), ParseError::bad_checksum);
  EXPECT_EQ(parse_ipv4(d, false, ip), ParseError::ok);
  EXPECT_EQ(ip.payload_len, 0);
}

} // namespace
} // namespace shoal::wire
