// TscClock: the fixed-point cycles -> nanoseconds conversion agrees with the
// exact quotient (to within 1 ns per second) at common TSC rates, and is
// monotonic.
#include <gtest/gtest.h>

#include "shard/clock.hpp"

namespace shoal::shard::test {
namespace {

int64_t exact_ns(uint64_t cycles, uint64_t hz) {
  __extension__ typedef unsigned __int128 u128;
  return static_cast<int64_t>(u128{cycles} * 1'000'000'000u / hz);
}

TEST(TscClock, MatchesTheExactQuotient) {
  for (uint64_t hz :
       {1'000'000ull, 1'999'999'999ull, 2'445'000'000ull, 3'000'000'007ull, 4'000'000'000ull}) {
    const TscClock clock(hz);
    for (uint64_t seconds : {0ull, 1ull, 60ull, 86'400ull, 30ull * 86'400}) {
      for (uint64_t extra : {uint64_t{0}, uint64_t{1}, hz / 3, hz - 1}) {
        const uint64_t c = seconds * hz + extra;
        const int64_t got = to_ns(clock.from_cycles(c));
        const int64_t want = exact_ns(c, hz);
        // Never ahead; behind by at most 1 ns per second plus rounding.
        EXPECT_LE(got, want) << "hz " << hz << " cycles " << c;
        EXPECT_GE(got, want - static_cast<int64_t>(seconds) - 2) << "hz " << hz << " cycles " << c;
      }
    }
  }
}

TEST(TscClock, Monotonic) {
  const TscClock clock(2'445'000'000ull);
  int64_t last = -1;
  for (uint64_t c = 1'000'000'000'000ull; c < 1'000'000'000'000ull + 100'000; c += 7) {
    const int64_t ns = to_ns(clock.from_cycles(c));
    ASSERT_GE(ns, last);
    last = ns;
  }
}

} // namespace
} // namespace shoal::shard::test
