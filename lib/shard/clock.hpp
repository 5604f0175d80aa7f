#pragma once
// The shard's real clock: the TSC, read once per poll-loop iteration and
// passed down as `now` (the protocol never reads a clock itself).
#include <cstdint>

#include <rte_cycles.h>

#include "common/time.hpp"

namespace shoal::shard {

class TscClock {
public:
  TscClock() : hz_(rte_get_tsc_hz()) {}
  Instant now() const { return from_cycles(rte_get_tsc_cycles()); }
  // Whole seconds and the remainder separately, so cycles * 1e9 cannot
  // overflow 64 bits.
  Instant from_cycles(uint64_t c) const {
    const uint64_t sec = c / hz_, rem = c % hz_;
    return instant_from_ns(
        static_cast<int64_t>(sec * 1'000'000'000ull + rem * 1'000'000'000ull / hz_));
  }
  uint64_t hz() const { return hz_; }

private:
  uint64_t hz_;
};

} // namespace shoal::shard
