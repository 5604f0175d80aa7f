// ICMP echo (RFC 792) against hand-written messages.
#include <gtest/gtest.h>

#include <string_view>

#include "wire/icmp.hpp"
#include "wire_test_util.hpp"

namespace shoal::wire {
namespace {

using test::Bytes;
using test::hex;

// Echo request, ident 0x1234, seq 1, payload "abcdefgh"; checksum 0x5435
// computed by hand (RFC 1071).
const Bytes kEchoRequest = hex("08 00 5435 1234 0001 6162636465666768");

TEST(IcmpEcho, ParsesTheHandWrittenRequest) {
  IcmpEchoRepr e;
  ASSERT_EQ(parse_icmp_echo(kEchoRequest, true, e), ParseError::ok);
  EXPECT_EQ(e.type, kIcmpEchoRequest);
  EXPECT_EQ(e.code, 0);
  EXPECT_EQ(e.ident, 0x1234);
  EXPECT_EQ(e.seq, 1);
  EXPECT_EQ(std::string_view(reinterpret_cast<const char *>(e.payload.data()), e.payload.size()),
            "abcdefgh");
  EXPECT_EQ(e.payload.data(), kEchoRequest.data() + 8) << "payload is a view, not a copy";
}

TEST(IcmpEcho, EmitsByteExact) {
  const Bytes payload = hex("6162636465666768");
  const IcmpEchoRepr e{kIcmpEchoRequest, 0, 0x1234, 1, payload};
  Bytes out(16, 0xee);
  emit_icmp_echo(e, out);
  EXPECT_EQ(out, kEchoRequest) << test::dump(out);
}

TEST(IcmpEcho, TurnsARequestIntoAReplyInPlace) {
  Bytes msg = kEchoRequest;
  IcmpEchoRepr e;
  ASSERT_EQ(parse_icmp_echo(msg, true, e), ParseError::ok);
  e.type = kIcmpEchoReply;
  emit_icmp_echo(e, msg); // payload already sits at msg[8..]
  // Type 0 lowers the word 0x0800 by 0x0800: checksum rises by 0x0800.
  EXPECT_EQ(msg, hex("00 00 5c35 1234 0001 6162636465666768")) << test::dump(msg);
  IcmpEchoRepr back;
  ASSERT_EQ(parse_icmp_echo(msg, true, back), ParseError::ok);
  EXPECT_EQ(back.type, kIcmpEchoReply);
}

TEST(IcmpEcho, RoundTripsOddAndEmptyPayloads) {
  for (size_t len : {0u, 1u, 7u, 56u, 1472u}) {
    Bytes payload(len);
    for (size_t i = 0; i < len; ++i)
      payload[i] = static_cast<uint8_t>(i * 7 + 3);
    const IcmpEchoRepr e{kIcmpEchoReply, 0, 0xffff, static_cast<uint16_t>(len), payload};
    Bytes out(kIcmpEchoHeaderLen + len);
    emit_icmp_echo(e, out);
    IcmpEchoRepr back;
    ASSERT_EQ(parse_icmp_echo(out, true, back), ParseError::ok) << "len " << len;
    EXPECT_EQ(back.type, e.type);
    EXPECT_EQ(back.ident, e.ident);
    EXPECT_EQ(back.seq, e.seq);
    EXPECT_TRUE(
        std::equal(back.payload.begin(), back.payload.end(), payload.begin(), payload.end()));
  }
}

} // namespace
} // namespace shoal::wire
