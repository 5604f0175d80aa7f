// TCP header and options (RFC 9293 3.1, RFC 7323, RFC 2018) against
// hand-written segments, and emit/parse round trips over every option set.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "wire/checksum.hpp"
#include "wire/tcp.hpp"
#include "wire_test_util.hpp"

namespace shoal::wire {
namespace {

using test::Bytes;
using test::hex;
using test::kHostA;
using test::kHostB;

// A Linux-style SYN, 198.18.0.1:40000 -> 198.18.0.2:80, seq 0x01020304,
// window 64240, options "mss 1460,sackOK,TS val 43981 ecr 0,nop,wscale 7".
// Checksum 0x7483 computed by hand over the pseudo-header.
const Bytes kSyn = hex("9c40 0050 01020304 00000000 a0 02 faf0 7483 0000"
                       "02 04 05b4"
                       "04 02 08 0a 0000abcd 00000000"
                       "01 03 03 07");

// The reply direction's data segment: ACK|PSH, window 501, "hello", with
// NOP NOP TS (val 43982 ecr 43981) and NOP NOP SACK of three blocks
// [100,200) [300,400) [500,600). Checksum 0xcca0 by hand.
const Bytes kDataWithSack = hex("0050 9c40 a0b0c0d0 01020305 f0 18 01f5 cca0 0000"
                                "01 01 08 0a 0000abce 0000abcd"
                                "01 01 05 1a 00000064 000000c8 0000012c 00000190"
                                "000001f4 00000258"
                                "68656c6c6f");

std::string describe(const TcpOptions &o) {
  std::ostringstream s;
  s << "{";
  if (o.mss)
    s << " mss=" << *o.mss;
  if (o.window_scale)
    s << " ws=" << int{*o.window_scale};
  if (o.sack_permitted)
    s << " sackOK";
  if (o.timestamp)
    s << " ts=" << o.timestamp->val << "/" << o.timestamp->ecr;
  for (size_t i = 0; i < o.sack_count; ++i)
    s << " sack[" << o.sack[i].left << "," << o.sack[i].right << ")";
  s << " }";
  return s.str();
}

TEST(Tcp, ParsesAHandWrittenLinuxSyn) {
  TcpRepr t;
  ASSERT_EQ(parse_tcp(kSyn, kHostA, kHostB, true, t), ParseError::ok);
  EXPECT_EQ(t.src_port, 40000);
  EXPECT_EQ(t.dst_port, 80);
  EXPECT_EQ(t.seq, 0x01020304u);
  EXPECT_EQ(t.ack, 0u);
  EXPECT_EQ(t.flags, tcp_flags::SYN);
  EXPECT_TRUE(t.has(tcp_flags::SYN));
  EXPECT_FALSE(t.has(tcp_flags::ACK));
  EXPECT_EQ(t.window, 64240);
  EXPECT_EQ(t.header_len, 40);
  EXPECT_EQ(t.options.mss, 1460);
  EXPECT_TRUE(t.options.sack_permitted);
  ASSERT_TRUE(t.options.timestamp.has_value());
  EXPECT_EQ(t.options.timestamp->val, 0xabcdu);
  EXPECT_EQ(t.options.timestamp->ecr, 0u);
  EXPECT_EQ(t.options.window_scale, 7);
  EXPECT_EQ(t.options.sack_count, 0);
  EXPECT_TRUE(tcp_payload(kSyn, t).empty());
  // Swapping src and dst would not change the sum (ones-complement addition
  // commutes); a segment claimed by another host must fail.
  EXPECT_EQ(parse_tcp(kSyn, kHostA, Ipv4Addr::from_octets(198, 18, 0, 3), true, t),
            ParseError::bad_checksum);
}

TEST(Tcp, EmitsTheLinuxSynByteExact) {
  TcpRepr t;
  t.src_port = 40000;
  t.dst_port = 80;
  t.seq = 0x01020304;
  t.flags = tcp_flags::SYN;
  t.window = 64240;
  t.options.mss = 1460;
  t.options.sack_permitted = true;
  t.options.timestamp = TcpTimestamp{0xabcd, 0};
  t.options.window_scale = 7;
  ASSERT_EQ(tcp_header_len(t), 40u);
  Bytes out(40, 0xee);
  ASSERT_EQ(emit_tcp_header(t, out), 40u);
  EXPECT_EQ(out[16], 0);
  EXPECT_EQ(out[17], 0);
  set_tcp_checksum(out, tcp_checksum(kHostA, kHostB, out));
  EXPECT_EQ(out, kSyn) << "got\n" << test::dump(out) << "\nwant\n" << test::dump(kSyn);
}

TEST(Tcp, ParsesAndEmitsADataSegmentWithSackBlocks) {
  TcpRepr t;
  ASSERT_EQ(parse_tcp(kDataWithSack, kHostB, kHostA, true, t), ParseError::ok);
  EXPECT_EQ(t.header_len, 60);
  EXPECT_EQ(t.flags, tcp_flags::ACK | tcp_flags::PSH);
  EXPECT_EQ(t.window, 501);
  EXPECT_EQ(t.ack, 0x01020305u);
  ASSERT_EQ(t.options.sack_count, 3) << describe(t.options);
  EXPECT_EQ(t.options.sack[0], (SackBlock{100, 200}));
  EXPECT_EQ(t.options.sack[1], (SackBlock{300, 400}));
  EXPECT_EQ(t.options.sack[2], (SackBlock{500, 600}));
  EXPECT_EQ(t.options.timestamp, (TcpTimestamp{0xabce, 0xabcd}));
  const auto payload = tcp_payload(kDataWithSack, t);
  EXPECT_EQ(std::string(payload.begin(), payload.end()), "hello");

  Bytes out(65);
  ASSERT_EQ(emit_tcp_header(t, out), 60u);
  std::copy(payload.begin(), payload.end(), out.begin() + 60);
  set_tcp_checksum(out, tcp_checksum(kHostB, kHostA, out));
  EXPECT_EQ(out, kDataWithSack) << "got\n"
                                << test::dump(out) << "\nwant\n"
                                << test::dump(kDataWithSack);
}

TEST(Tcp, BareHeaderHasNoOptions) {
  TcpRepr t;
  t.src_port = 1;
  t.dst_port = 2;
  t.seq = 0xffffffff;
  t.ack = 0x80000000;
  t.flags = tcp_flags::RST | tcp_flags::ACK;
  t.urgent = 0x1234;
  Bytes out(20, 0xee);
  ASSERT_EQ(emit_tcp_header(t, out), 20u);
  EXPECT_EQ(out, hex("0001 0002 ffffffff 80000000 50 14 0000 0000 1234")) << test::dump(out);
}

// Every subset of {MSS, window scale, SACK-permitted, timestamp} with every
// SACK block count 0..4: emit, check the layout, parse back.
TEST(Tcp, RoundTripsEveryOptionCombination) {
  int combos = 0;
  for (unsigned mask = 0; mask < 16; ++mask) {
    for (uint8_t sacks = 0; sacks <= kTcpMaxSackBlocks; ++sacks) {
      TcpRepr t;
      t.src_port = 443;
      t.dst_port = 51234;
      t.seq = 0xdeadbeef;
      t.ack = 0x12345678;
      t.flags = tcp_flags::ACK | (mask & 1 ? tcp_flags::SYN : 0);
      t.window = 0xffff;
      if (mask & 1)
        t.options.mss = 8960;
      if (mask & 2)
        t.options.window_scale = 14;
      if (mask & 4)
        t.options.sack_permitted = true;
      if (mask & 8)
        t.options.timestamp = TcpTimestamp{0xfffffff0u, 0x00000010u};
      t.options.sack_count = sacks;
      for (uint8_t i = 0; i < sacks; ++i)
        t.options.sack[i] = SackBlock{0xfffff000u + i * 0x1000u, 0xfffff800u + i * 0x1000u};

      const size_t hl = tcp_header_len(t);
      const size_t kept = tcp_emitted_sack_blocks(t.options);
      SCOPED_TRACE("options " + describe(t.options) + " header_len " + std::to_string(hl));
      ASSERT_EQ(hl % 4, 0u);
      ASSERT_LE(hl, kTcpMaxHeaderLen);
      ASSERT_LE(kept, sacks);
      // As many blocks as fit: one more would overflow the 40 bytes.
      if (kept < sacks) {
        EXPECT_GT(hl + 8 + (kept == 0 ? 4 : 0), kTcpMaxHeaderLen);
      }

      Bytes seg(hl + 3, 0xee);
      seg[hl] = 'a';
      seg[hl + 1] = 'b';
      seg[hl + 2] = 'c';
      ASSERT_EQ(emit_tcp_header(t, seg), hl);
      set_tcp_checksum(seg, tcp_checksum(kHostA, kHostB, seg));
      TcpRepr back;
      ASSERT_EQ(parse_tcp(seg, kHostA, kHostB, true, back), ParseError::ok) << test::dump(seg);
      TcpOptions want = t.options;
      want.sack_count = static_cast<uint8_t>(kept);
      EXPECT_EQ(back.options, want) << "parsed " << describe(back.options) << "\n"
                                    << test::dump(seg);
      EXPECT_EQ(back.header_len, hl);
      EXPECT_EQ(back.src_port, t.src_port);
      EXPECT_EQ(back.dst_port, t.dst_port);
      EXPECT_EQ(back.seq, t.seq);
      EXPECT_EQ(back.ack, t.ack);
      EXPECT_EQ(back.flags, t.flags);
      EXPECT_EQ(back.window, t.window);
      EXPECT_EQ(tcp_payload(seg, back).size(), 3u);
      ++combos;
    }
  }
  EXPECT_EQ(combos, 80);
}

TEST(Tcp, KeepsAsManySackBlocksAsLinuxDoes) {
  TcpOptions o;
  o.sack_count = 4;
  EXPECT_EQ(tcp_emitted_sack_blocks(o), 4u); // 4 + 32 = 36 <= 40
  o.timestamp = TcpTimestamp{1, 2};
  EXPECT_EQ(tcp_emitted_sack_blocks(o), 3u); // 12 + 4 + 24 = 40
  o.window_scale = 7;
  o.mss = 1460;
  EXPECT_EQ(tcp_emitted_sack_blocks(o), 2u); // 20 + 4 + 16 = 40
  o.sack_count = 9;                          // out-of-range count is clamped, not trusted
  o.timestamp.reset();
  o.window_scale.reset();
  o.mss.reset();
  EXPECT_EQ(tcp_emitted_sack_blocks(o), 4u);
}

TEST(Tcp, AcceptsOptionsLaidOutOtherwise) {
  // Unknown kind 30 (MPTCP, len 4) skipped; MSS unaligned after a NOP;
  // timestamp without NOPs; EOL ends the list, the garbage after it ignored.
  Bytes seg = hex("1f90 d431 00000001 00000000 b0 02 ffff 0000 0000"
                  "1e 04 0000 01 02 04 0218 08 0a 00000007 00000000"
                  "00 ff ff ff ff");
  test::fix_tcp_checksum(seg, kHostA, kHostB);
  TcpRepr t;
  ASSERT_EQ(parse_tcp(seg, kHostA, kHostB, true, t), ParseError::ok) << test::dump(seg);
  EXPECT_EQ(t.header_len, 44);
  EXPECT_EQ(t.options.mss, 536);
  EXPECT_EQ(t.options.timestamp, (TcpTimestamp{7, 0}));
  EXPECT_FALSE(t.options.window_scale.has_value());
  EXPECT_FALSE(t.options.sack_permitted);
}

TEST(Tcp, WindowScaleIsReportedRawForTheCallerToClamp) {
  Bytes seg = hex("0001 0002 00000000 00000000 60 02 0400 0000 0000 03 03 1e 00");
  test::fix_tcp_checksum(seg, kHostA, kHostB);
  TcpRepr t;
  ASSERT_EQ(parse_tcp(seg, kHostA, kHostB, true, t), ParseError::ok);
  EXPECT_EQ(t.options.window_scale, 30);
}

TEST(Tcp, ChecksumIsSkippedWhenOffloadValidatedIt) {
  Bytes seg = kSyn;
  seg[17] ^= 0xff;
  TcpRepr t;
  EXPECT_EQ(parse_tcp(seg, kHostA, kHostB, true, t), ParseError::bad_checksum);
  EXPECT_EQ(parse_tcp(seg, kHostA, kHostB, false, t), ParseError::ok);
  EXPECT_EQ(t.options.mss, 1460);
}

} // namespace
} // namespace shoal::wire
