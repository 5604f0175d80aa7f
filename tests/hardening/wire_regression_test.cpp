// Regressions found by the fuzz targets (tests/fuzz), replayed on every
// build. A test that pins a bug not yet fixed in lib/ is DISABLED_ (run it
// with --gtest_also_run_disabled_tests) and names the input that found it.
#include <gtest/gtest.h>

#include <optional>

#include "wire/addr.hpp"

namespace shoal::wire {
namespace {

// fuzz_wire, input "03.5.0.6" (crash-755bcf21...): Ipv4Addr::parse takes
// octets with leading zeros as decimal, so "010.0.0.1" is 10.0.0.1 here but
// 8.0.0.1 for inet_aton(3) (octal), and inet_pton(3) rejects it. A config
// file written for one reading silently means another address: reject
// leading zeros as inet_pton does ("0" alone stays valid).
TEST(WireRegression, Ipv4TextRejectsLeadingZeros) {
  EXPECT_EQ(Ipv4Addr::parse("010.0.0.1"), std::nullopt);
  EXPECT_EQ(Ipv4Addr::parse("03.5.0.6"), std::nullopt);
  EXPECT_EQ(Ipv4Addr::parse("0.0.0.0"), Ipv4Addr::any());
}

// The round trip the fuzz target checks, on the addresses the stack uses.
TEST(WireRegression, Ipv4TextRoundTrip) {
  for (const char *text : {"0.0.0.0", "198.18.0.1", "255.255.255.255", "10.0.0.1"}) {
    const auto a = Ipv4Addr::parse(text);
    ASSERT_TRUE(a.has_value()) << text;
    EXPECT_EQ(a->to_string(), text);
  }
  for (const char *bad : {"", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1.2.3.4 ", "+1.2.3.4", "1..2.3"})
    EXPECT_EQ(Ipv4Addr::parse(bad), std::nullopt) << "'" << bad << "'";
}

} // namespace
} // namespace shoal::wire
