// Addresses and the ParseError table.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <unordered_set>

#include "wire/addr.hpp"
#include "wire/parse_error.hpp"
#include "wire_test_util.hpp"

namespace shoal::wire {
namespace {

TEST(Ipv4Addr, ParsesDottedQuadAndPrintsItBack) {
  const auto a = Ipv4Addr::parse("198.18.0.1");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->v, 0xc6120001u);
  EXPECT_EQ(a->to_string(), "198.18.0.1");
  EXPECT_EQ(*a, Ipv4Addr::from_octets(198, 18, 0, 1));
  EXPECT_EQ(Ipv4Addr::parse("0.0.0.0")->v, 0u);
  EXPECT_EQ(Ipv4Addr::parse("255.255.255.255")->v, 0xffffffffu);
  EXPECT_EQ(Ipv4Addr::parse("010.0.0.1"), std::nullopt); // leading zeros rejected, as inet_pton
}

TEST(Ipv4Addr, RejectsAnythingButFourDecimalOctets) {
  for (const char *bad :
       {"", "1", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1..2.3", "1.2.3.4 ", " 1.2.3.4", "a.b.c.d",
        "1.2.3.-4", "1.2.3.0004", "1.2.3.4.", "+1.2.3.4", "1.2.3.99999999999"})
    EXPECT_FALSE(Ipv4Addr::parse(bad).has_value()) << '"' << bad << '"';
}

TEST(Ipv4Addr, OrdersAsNumbersAndConvertsByteOrder) {
  EXPECT_LT(*Ipv4Addr::parse("10.0.0.2"), *Ipv4Addr::parse("10.0.0.10"));
  EXPECT_LT(*Ipv4Addr::parse("9.255.255.255"), *Ipv4Addr::parse("10.0.0.0"));
  const Ipv4Addr a = Ipv4Addr::from_octets(10, 1, 2, 3);
  uint8_t b[4];
  a.to_bytes(b);
  EXPECT_EQ(b[0], 10);
  EXPECT_EQ(b[3], 3);
  EXPECT_EQ(Ipv4Addr::from_bytes(b), a);
  EXPECT_EQ(Ipv4Addr::from_be(a.to_be()), a);
  EXPECT_TRUE(Ipv4Addr::from_octets(224, 0, 0, 1).is_multicast());
  EXPECT_FALSE(Ipv4Addr::from_octets(223, 255, 255, 255).is_multicast());
  EXPECT_TRUE(Ipv4Addr::from_octets(127, 0, 0, 1).is_loopback());
  EXPECT_TRUE(Ipv4Addr::broadcast().is_broadcast());
  EXPECT_TRUE(Ipv4Addr::any().is_unspecified());
  std::set<Ipv4Addr> ordered{a, Ipv4Addr::any()};
  EXPECT_EQ(*ordered.begin(), Ipv4Addr::any());
  std::unordered_set<Ipv4Addr> hashed{a, a};
  EXPECT_EQ(hashed.size(), 1u);
}

TEST(MacAddr, PrintsParsesAndClassifies) {
  const MacAddr m{{0x02, 0x00, 0x5e, 0x0a, 0xbc, 0xff}};
  EXPECT_EQ(m.to_string(), "02:00:5e:0a:bc:ff");
  EXPECT_EQ(MacAddr::parse("02:00:5E:0a:bc:FF"), m);
  EXPECT_EQ(MacAddr::parse("02-00-5e-0a-bc-ff"), m);
  for (const char *bad : {"", "02:00:5e:0a:bc", "02:00:5e:0a:bc:ff:00", "02:00-5e:0a:bc:ff",
                          "0g:00:5e:0a:bc:ff", "02:00:5e:0a:bc:f"})
    EXPECT_FALSE(MacAddr::parse(bad).has_value()) << '"' << bad << '"';
  EXPECT_TRUE(MacAddr::broadcast().is_broadcast());
  EXPECT_TRUE(MacAddr::broadcast().is_multicast());
  EXPECT_FALSE(m.is_broadcast());
  EXPECT_FALSE(m.is_multicast());
  EXPECT_TRUE((MacAddr{{0x01, 0x00, 0x5e, 0, 0, 1}}.is_multicast()));
  EXPECT_TRUE(MacAddr::zero().is_zero());
  std::unordered_set<MacAddr> hashed{m, m, MacAddr::broadcast()};
  EXPECT_EQ(hashed.size(), 2u);
}

TEST(ParseError, EveryReasonHasItsOwnName) {
  std::set<std::string> names;
  for (size_t i = 0; i < kParseErrorCount; ++i) {
    const std::string name = to_string(static_cast<ParseError>(i));
    EXPECT_NE(name, "unknown") << i;
    names.insert(name);
  }
  EXPECT_EQ(names.size(), kParseErrorCount);
  EXPECT_STREQ(to_string(ParseError::ok), "ok");
  EXPECT_STREQ(to_string(ParseError::bad_checksum), "bad_checksum");
  EXPECT_STREQ(to_string(static_cast<ParseError>(kParseErrorCount)), "unknown");
  EXPECT_EQ(static_cast<size_t>(ParseError::ok), 0u);
}

} // namespace
} // namespace shoal::wire
