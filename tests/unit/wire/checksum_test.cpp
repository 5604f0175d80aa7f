// The DPDK-backed checksum wrappers against RFC 1071 computed by hand.
#include <gtest/gtest.h>

#include <random>

#include "wire/checksum.hpp"
#include "wire_test_util.hpp"

namespace shoal::wire {
namespace {

using test::Bytes;
using test::hex;
using test::kHostA;
using test::kHostB;

// The textbook IPv4 header (192.168.0.1 -> 192.168.0.199, UDP, total length
// 0x73) whose checksum is 0xb861.
const Bytes kTextbookIpv4 = hex("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7");

TEST(Checksum, Ipv4HeaderMatchesTheTextbookValue) {
  Bytes h = kTextbookIpv4;
  EXPECT_EQ(ipv4_header_checksum(h), 0) << "a header carrying its checksum sums to zero";
  h[10] = h[11] = 0;
  EXPECT_EQ(ipv4_header_checksum(h), 0xb861);
}

TEST(Checksum, AgreesWithRfc1071OnOddAndEvenLengths) {
  std::mt19937 rng(1071);
  for (size_t len = 0; len < 300; ++len) {
    Bytes b(len);
    for (auto &x : b)
      x = static_cast<uint8_t>(rng());
    ASSERT_EQ(internet_checksum(b), test::reference_checksum(b)) << "len " << len << "\n"
                                                                 << test::dump(b);
  }
  // All ones everywhere: the sum must stay folded.
  Bytes ff(9000, 0xff);
  EXPECT_EQ(internet_checksum(ff), test::reference_checksum(ff));
}

TEST(Checksum, TcpFullChecksumAgreesWithTheReferenceAndVerifies) {
  std::mt19937 rng(793);
  for (size_t len : {20u, 21u, 40u, 41u, 64u, 1460u, 1481u, 9000u}) {
    Bytes seg(len);
    for (auto &x : seg)
      x = static_cast<uint8_t>(rng());
    seg[16] = seg[17] = 0;
    const uint16_t c = tcp_checksum(kHostA, kHostB, seg);
    ASSERT_EQ(c, test::reference_tcp_checksum(kHostA, kHostB, seg)) << "len " << len;
    set_tcp_checksum(seg, c);
    EXPECT_EQ(seg[16], c >> 8);
    EXPECT_EQ(seg[17], c & 0xff);
    EXPECT_TRUE(tcp_checksum_valid(kHostA, kHostB, seg)) << "len " << len;
    // The pseudo-header binds the addresses: the same bytes from elsewhere fail.
    EXPECT_FALSE(tcp_checksum_valid(kHostB, Ipv4Addr::from_octets(198, 18, 0, 3), seg));
    seg[len / 2] ^= 0x01;
    EXPECT_FALSE(tcp_checksum_valid(kHostA, kHostB, seg)) << "len " << len;
  }
}

TEST(Checksum, PseudoHeaderSumIsTheUncomplementedPartialSum) {
  // 198.18.0.1 -> 198.18.0.2, protocol 6, length 40:
  // c612 + 0001 + c612 + 0002 + 0006 + 0028 = 0x18c55 -> 0x8c56 (by hand).
  EXPECT_EQ(tcp_pseudo_header_checksum(kHostA, kHostB, 40), 0x8c56);
  // What a NIC does with it: add the segment's own sum and complement.
  std::mt19937 rng(6);
  Bytes seg(333);
  for (auto &x : seg)
    x = static_cast<uint8_t>(rng());
  seg[16] = seg[17] = 0;
  const uint16_t partial = tcp_pseudo_header_checksum(kHostA, kHostB, 333);
  const uint16_t finished = test::reference_checksum(seg, partial);
  EXPECT_EQ(finished, tcp_checksum(kHostA, kHostB, seg));
}

} // namespace
} // namespace shoal::wire
