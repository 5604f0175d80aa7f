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

namespace shoal::tcp {
// Puts a chosen hash into a TimeWaitTable (a friend of it).
struct TimeWaitTableTest {
  static void set_hash(TimeWaitTable &tw, uint64_t (*h)(const FourTuple &)) { tw.test_hash_ = h; }
};
} // namespace shoal::tcp

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

// The index against a model, under random inserts, finds, erases and
// expiries: with the keyed hash, with every key on one home slot (probe runs
// far past the 255 a slot's distance field holds), and with four homes.
void index_against_model(uint64_t (*hash)(const FourTuple &), unsigned keys, unsigned ops,
                         unsigned seed) {
  Instant t0 = instant_from_ns(0);
  timer::TimerWheel wheel(std::chrono::milliseconds(1), t0);
  unsigned expired = 0;
  TimeWaitTable tw(
      wheel, std::chrono::seconds(60), 1u << 20, 7,
      [](void *ctx, TimeWaitRecord &) { ++*static_cast<unsigned *>(ctx); }, &expired);
  if (hash != nullptr)
    TimeWaitTableTest::set_hash(tw, hash);
  const auto tuple = [](unsigned k) {
    return FourTuple{kLocal, kRemote, static_cast<uint16_t>(1 + k % 60000),
                     static_cast<uint16_t>(1 + k / 60000)};
  };
  std::mt19937 rng(seed);
  std::unordered_set<unsigned> model;
  for (unsigned op = 0; op < ops; ++op) {
    const unsigned k = rng() % keys;
    const FourTuple t = tuple(k);
    switch (rng() % 3) {
    case 0: { // insert
      TimeWaitRecord *r = tw.insert(t, wheel.now());
      ASSERT_EQ(r != nullptr, !model.contains(k)) << "insert " << k << " op " << op;
      model.insert(k);
      break;
    }
    case 1: { // erase
      TimeWaitRecord *r = tw.find(t);
      ASSERT_EQ(r != nullptr, model.contains(k)) << "find before erase " << k << " op " << op;
      if (r != nullptr) {
        tw.erase(*r);
        model.erase(k);
      }
      break;
    }
    default: { // find
      const TimeWaitRecord *r = tw.find(t);
      ASSERT_EQ(r != nullptr, model.contains(k)) << "find " << k << " op " << op;
      if (r != nullptr) {
        ASSERT_EQ(r->tuple, t);
      }
    }
    }
    ASSERT_EQ(tw.size(), model.size());
  }
  for (unsigned k = 0; k < keys; ++k)
    ASSERT_EQ(tw.find(tuple(k)) != nullptr, model.contains(k)) << "final find " << k;
  // Everything expires through erase as well.
  wheel.advance(t0 + std::chrono::seconds(61));
  EXPECT_EQ(expired, model.size());
  EXPECT_EQ(tw.size(), 0u);
  for (unsigned k = 0; k < keys; ++k)
    ASSERT_EQ(tw.find(tuple(k)), nullptr);
}

TEST(TimeWaitTable, IndexMatchesAModelWithTheKeyedHash) {
  index_against_model(nullptr, 50000, 200000, 1);
}

TEST(TimeWaitTable, IndexMatchesAModelWhenEveryKeyCollides) {
  // One home slot: runs of up to 700 members, distances saturate at 255.
  index_against_model([](const FourTuple &) -> uint64_t { return 0; }, 700, 6000, 2);
}

TEST(TimeWaitTable, IndexMatchesAModelWithFourHomes) {
  index_against_model([](const FourTuple &t) -> uint64_t { return uint64_t{t.local_port} % 4 * 977; },
                      2000, 20000, 3);
}

} // namespace
} // namespace shoal::tcp::test
