// The counter tables' descriptions and kinds: every counter /shoal/stats
// shows is in the catalog that /shoal/describe and shoal-stat --describe
// publish, with a kind and a description, under a name no other counter has.
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "shard/counter_catalog.hpp"

namespace shoal::shard::test {
namespace {

// RTE_TEL_MAX_STRING_LEN and RTE_TEL_MAX_DICT_ENTRIES in DPDK 22.11: a longer
// description or a longer list would be cut short by /shoal/describe.
constexpr size_t kTelemetryStringMax = 128;
constexpr size_t kTelemetryDictMax = 256;

bool valid(CounterKind k) {
  return std::strcmp(to_string(k), "unknown") != 0;
}

TEST(CounterCatalog, EveryCounterHasAKindAndADescription) {
  const auto catalog = counter_catalog();
  ASSERT_FALSE(catalog.empty());
  EXPECT_LE(catalog.size(), kTelemetryDictMax);
  for (const auto &c : catalog) {
    EXPECT_FALSE(c.name.empty());
    EXPECT_TRUE(valid(c.kind)) << c.name;
    EXPECT_FALSE(c.description.empty()) << c.name;
    EXPECT_LT(c.description.size(), kTelemetryStringMax) << c.name;
  }
}

TEST(CounterCatalog, NamesAreUniqueAcrossTheTables) {
  std::set<std::string> published;
  for (const auto &c : counter_catalog())
    EXPECT_TRUE(published.insert(c.name).second) << "duplicate " << c.name;
  // The tables' own names too: one name means one counter, whichever table.
  std::set<std::string> own;
  for (const CounterInfo &c : kShardCounterInfo)
    EXPECT_TRUE(own.insert(c.name).second) << "duplicate " << c.name;
  for (const CounterInfo &c : tcp::kCounterInfo)
    EXPECT_TRUE(own.insert(c.name).second) << "duplicate " << c.name;
}

// The catalog lists what /shoal/stats shows, in its order: the shard's
// counters (for_each), then the engine's with "tcp_" in front.
TEST(CounterCatalog, ListsEveryCounterStatsShows) {
  std::vector<std::string> shown;
  ShardCounters{}.for_each([&](const char *n, uint64_t) { shown.emplace_back(n); });
  for (size_t i = 0; i < tcp::kCounterCount; i++)
    shown.push_back(std::string("tcp_") + tcp::counter_name(static_cast<tcp::Counter>(i)));
  std::vector<std::string> listed;
  for (const auto &c : counter_catalog())
    listed.push_back(c.name);
  EXPECT_EQ(listed, shown);
}

// drops() adds the counters of kind drop (and the parse errors), no others.
TEST(CounterCatalog, DropsAddTheDropKind) {
  ShardCounters c;
  uint64_t expected = 0;
  uint64_t n = 1;
#define SHOAL_X(name, kind, desc)                                                                  \
  c.name.add(n);                                                                                   \
  if (CounterKind::kind == CounterKind::drop)                                                      \
    expected += n;                                                                                 \
  n *= 2;
  SHOAL_SHARD_COUNTERS(SHOAL_X)
#undef SHOAL_X
  EXPECT_EQ(c.drops(), expected);
  EXPECT_NE(expected, 0u);
  c.count_parse_error(Layer::tcp, wire::ParseError::bad_checksum);
  EXPECT_EQ(c.drops(), expected + 1);
}

TEST(CounterCatalog, TcpKindsFollowTheTable) {
  EXPECT_EQ(tcp::counter_kind(tcp::Counter::drop_paws), CounterKind::drop);
  EXPECT_EQ(tcp::counter_kind(tcp::Counter::syn_backlog_drops), CounterKind::drop);
  EXPECT_EQ(tcp::counter_kind(tcp::Counter::segs_in), CounterKind::volume);
  EXPECT_EQ(tcp::counter_kind(tcp::Counter::retransmits), CounterKind::event);
  EXPECT_STREQ(tcp::counter_description(tcp::Counter::drop_paws),
               tcp::kCounterInfo[static_cast<size_t>(tcp::Counter::drop_paws)].description);
}

} // namespace
} // namespace shoal::shard::test
