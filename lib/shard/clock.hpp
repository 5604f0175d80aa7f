#pragma once
// The shard's real clock: the TSC, read once per poll-loop iteration and
// passed down as `now` (the protocol never reads a clock itself).
#include <cstdint>

#include <rte_cycles.h>

#include "common/time.hpp"

namespace shoal::shard {

class TscClock {
public:
  TscClock() : TscClock(rte_get_tsc_hz()) {}
  explicit TscClock(uint64_t hz)
      : hz_(hz), mult_(static_cast<uint64_t>((u128{kNsPerS} << kShift) / hz)) {}
  Instant now() const { return from_cycles(rte_get_tsc_cycles()); }
  // ns = cycles * floor(1e9 * 2^32 / hz) / 2^32: one multiply instead of
  // the two 64-bit divisions of cycles / hz (this runs on every poll). The
  // product is 128 bits wide, so nothing overflows; the multiplier's
  // relative error is below hz / (1e9 * 2^32), under 1 ns per second of
  // TSC time at any clock rate up to 4 GHz.
  Instant from_cycles(uint64_t c) const {
    return instant_from_ns(static_cast<int64_t>((u128{c} * mult_) >> kShift));
  }
  uint64_t hz() const { return hz_; }

private:
  __extension__ typedef unsigned __int128 u128;
  static constexpr uint64_t kNsPerS = 1'000'000'000;
  static constexpr unsigned kShift = 32;
  uint64_t hz_;
  uint64_t mult_;
};

} // namespace shoal::shard
