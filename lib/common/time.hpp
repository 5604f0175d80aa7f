#pragma once
// Time on a shard's clock. The protocol core never reads a clock itself: the
// shard passes "now" in (the real TSC-based clock on DPDK, a virtual clock in
// lib/sim), which is what makes whole conversations deterministic.
#include <chrono>
#include <cstdint>

namespace shoal {

using Duration = std::chrono::nanoseconds;

// The clock of one shard. It has no now(): callers supply the current time.
struct ShardClock {
  using duration = Duration;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<ShardClock, duration>;
  static constexpr bool is_steady = true;
};

using Instant = ShardClock::time_point;

constexpr Instant instant_from_ns(int64_t ns) { return Instant{Duration{ns}}; }
constexpr int64_t to_ns(Instant t) { return t.time_since_epoch().count(); }

using namespace std::chrono_literals;

} // namespace shoal
