// The shard's counter listing: the parse-error counters a layer's parser can
// never return are left out of it (until one is counted all the same), and
// the parsers are held to the table that says which those are.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "shard/counters.hpp"
#include "wire/arp.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmp.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace shoal::shard::test {
namespace {

using wire::ParseError;

std::vector<uint8_t> random_bytes(std::mt19937 &rng, size_t max_len) {
  std::vector<uint8_t> b(rng() % (max_len + 1));
  for (auto &x : b)
    x = static_cast<uint8_t>(rng());
  return b;
}

// Random input, and random input behind a plausible first bytes (IPv4
// version/IHL, TCP data offset with options), through every parser: each
// error must be one parse_error_possible allows for its layer.
TEST(ShardCounters, ParsersReturnOnlyTheErrorsTheirLayerLists) {
  std::mt19937 rng(42);
  std::set<std::pair<int, int>> seen;
  auto check = [&](Layer l, ParseError e) {
    if (e == ParseError::ok)
      return;
    seen.insert({static_cast<int>(l), static_cast<int>(e)});
    ASSERT_TRUE(parse_error_possible(l, e))
        << to_string(l) << " returned " << wire::to_string(e) << ", not in its list";
  };
  for (int i = 0; i < 200000; i++) {
    auto b = random_bytes(rng, 80);
    wire::EthernetRepr eth;
    check(Layer::eth, wire::parse_ethernet(b, eth));
    wire::ArpRepr arp;
    if (b.size() >= 8 && i % 2 == 0) { // valid htype/ptype/lengths half the time
      b[0] = 0, b[1] = 1, b[2] = 8, b[3] = 0, b[4] = 6, b[5] = 4;
    }
    check(Layer::arp, wire::parse_arp(b, arp));
    auto ip = random_bytes(rng, 80);
    if (!ip.empty() && i % 2 == 0)
      ip[0] = static_cast<uint8_t>(0x40 | (rng() % 16));
    wire::Ipv4Repr ipr;
    check(Layer::ipv4, wire::parse_ipv4_header(ip, ip.size(), true, ipr));
    wire::IcmpEchoRepr icmp;
    check(Layer::icmp, wire::parse_icmp_echo(random_bytes(rng, 40), i % 2 == 0, icmp));
    auto seg = random_bytes(rng, 80);
    if (seg.size() >= 20 && i % 2 == 0)
      seg[12] = static_cast<uint8_t>((5 + rng() % 11) << 4);
    wire::TcpRepr tcp;
    check(Layer::tcp, wire::parse_tcp(seg, wire::Ipv4Addr{1}, wire::Ipv4Addr{2}, i % 4 == 0, tcp));
  }
  // The random input reached most of each list (not proof of the rest).
  EXPECT_GE(seen.size(), 15u);
}

TEST(ShardCounters, ImpossibleParseErrorsAreListedOnlyOnceCounted) {
  ShardCounters c;
  std::set<std::string> names;
  c.for_each([&](const char *n, uint64_t) { names.insert(n); });
  EXPECT_TRUE(names.contains("tcp_bad_sack_option"));
  EXPECT_TRUE(names.contains("ipv4_bad_checksum"));
  EXPECT_TRUE(names.contains("arp_bad_arp_op"));
  EXPECT_TRUE(names.contains("eth_truncated"));
  EXPECT_FALSE(names.contains("arp_bad_mss_option"));
  EXPECT_FALSE(names.contains("eth_bad_checksum"));
  EXPECT_FALSE(names.contains("icmp_bad_sack_option"));
  // Counted all the same: listed, and in the drops.
  c.count_parse_error(Layer::eth, ParseError::bad_checksum);
  uint64_t shown = 0;
  c.for_each([&](const char *n, uint64_t v) {
    if (std::string(n) == "eth_bad_checksum")
      shown = v;
  });
  EXPECT_EQ(shown, 1u);
  EXPECT_EQ(c.drops(), 1u);
  EXPECT_NE(c.to_json().find("\"eth_bad_checksum\":1"), std::string::npos);
}

} // namespace
} // namespace shoal::shard::test
