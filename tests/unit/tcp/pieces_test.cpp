// The small building blocks: sequence arithmetic, the flow table, the
// TIME_WAIT record and table.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tcp/conn_table.hpp"
#include "tcp/seq.hpp"
#include "tcp/time_wait.hpp"
#include "tcp_harness.hpp"

namespace shoal::tcp::test {
namespace {

TEST(Seq, WrapSafeComparison) {
  Seq a{0xfffffff0u}, b{0x10u};
  EXPECT_TRUE(seq_lt(a, b));
  EXPECT_TRUE(seq_gt(b, a));
  EXPECT_EQ(b - a, 0x20);
  EXPECT_EQ(a + 0x20u, b);
  EXPECT_TRUE(seq_in_window(Seq{0x5u}, a, 0x20));
  EXPECT_FALSE(seq_in_window(b, a, 0x20));
  EXPECT_EQ(seq_max(a, b), b);
  EXPECT_TRUE(seq_le(a, a));
  EXPECT_TRUE(ts_lt(0xffffffffu, 1u));
}

// ConnTable over a stand-in pool: object k carries tuple key(k).
struct TuplePool {
  struct Object {
    FourTuple t;
    const FourTuple &tuple() const { return t; }
  };
  std::vector<Object> v;
  Object *at(uint32_t i) { return &v[i]; }
};

TEST(ConnTable, MatchesAReferenceMapUnderChurn) {
  auto key = [](uint64_t k) {
    return FourTuple{wire::Ipv4Addr{static_cast<uint32_t>(k * 7)}, kRemote,
                     static_cast<uint16_t>(1 + k), 80};
  };
  TuplePool pool;
  for (uint32_t k = 0; k < 5000; ++k)
    pool.v.push_back({key(k)});
  BasicConnTable<TuplePool> t(12345, pool, 16);
  std::unordered_set<uint64_t> ref;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200000; ++i) {
    uint64_t k = rng() % 5000;
    if (rng() % 3 == 0) {
      EXPECT_EQ(t.erase(key(k)), ref.erase(k) == 1);
    } else {
      bool fresh = ref.insert(k).second;
      EXPECT_EQ(t.insert(key(k), static_cast<uint32_t>(k)), fresh);
    }
  }
  EXPECT_EQ(t.size(), ref.size());
  for (uint64_t k = 0; k < 5000; ++k) {
    TuplePool::Object *got = t.find(key(k));
    if (ref.count(k) == 0) {
      EXPECT_EQ(got, nullptr);
      continue;
    }
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(got, pool.at(static_cast<uint32_t>(k)));
  }
}

TEST(ConnTable, HoldsAMillionEntries) {
  auto key = [](uint32_t i) {
    return FourTuple{kLocal, wire::Ipv4Addr{i}, 80, static_cast<uint16_t>(1 + i % 60000)};
  };
  TuplePool pool;
  pool.v.reserve(1'000'000);
  for (uint32_t i = 0; i < 1'000'000; ++i)
    pool.v.push_back({key(i)});
  BasicConnTable<TuplePool> t(99, pool);
  for (uint32_t i = 0; i < 1'000'000; ++i)
    ASSERT_TRUE(t.insert(key(i), i));
  EXPECT_EQ(t.size(), 1'000'000u);
  for (uint32_t i = 0; i < 1'000'000; i += 997)
    ASSERT_EQ(t.find(key(i)), pool.at(i));
}

TEST(TimeWait, RecordIsCompact) {
  std::printf("sizeof(TimeWaitRecord) = %zu bytes\n", sizeof(TimeWaitRecord));
  RecordProperty("time_wait_record_bytes", static_cast<int>(sizeof(TimeWaitRecord)));
  EXPECT_LE(sizeof(TimeWaitRecord), 48u);
}

TEST(TimeWait, TableExpiresInOrderAndRestartMovesToTail) {
  Instant t0 = instant_from_ns(0);
  timer::TimerWheel wheel(std::chrono::milliseconds(1), t0);
  std::vector<uint16_t> expired;
  TimeWaitTable tw(
      wheel, std::chrono::seconds(60), 4, 1,
      [](void *ctx, TimeWaitRecord &r) {
        static_cast<std::vector<uint16_t> *>(ctx)->push_back(r.tuple.local_port);
      },
      &expired);
  for (uint16_t p = 1; p <= 4; ++p) {
    wheel.advance(t0 + std::chrono::seconds(p));
    ASSERT_NE(tw.insert(FourTuple{kLocal, kRemote, p, 9}, wheel.now()), nullptr);
  }
  EXPECT_EQ(tw.insert(FourTuple{kLocal, kRemote, 5, 9}, wheel.now()), nullptr) << "capacity";
  tw.restart(*tw.find(FourTuple{kLocal, kRemote, 1, 9}), wheel.now()); // now expires at 64 s
  wheel.advance(t0 + std::chrono::seconds(62));
  EXPECT_EQ(expired, (std::vector<uint16_t>{2}));
  wheel.advance(t0 + std::chrono::seconds(63));
  EXPECT_EQ(expired, (std::vector<uint16_t>{2, 3}));
  wheel.advance(t0 + std::chrono::seconds(64));
  EXPECT_EQ(expired, (std::vector<uint16_t>{2, 3, 4, 1}));
  EXPECT_EQ(tw.size(), 0u);
  EXPECT_EQ(wheel.armed_count(), 0u);
}

} // namespace
} // namespace shoal::tcp::test
