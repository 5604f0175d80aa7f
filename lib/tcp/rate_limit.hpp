#pragma once
// PerSecondLimit: at most `limit` events in each one-second window of the
// shard clock. Bounds what the engine sends in answer to segments it did not
// ask for — RSTs for closed ports (RFC 9293 3.10.7.1) and RFC 5961 challenge
// ACKs (section 7: "limit the number of challenge ACKs sent in a given
// interval") — so a flood of ACKs or RSTs cannot turn the shard into an
// amplifier or eat its transmit budget.
#include <cstdint>

#include "common/time.hpp"

namespace shoal::tcp {

struct PerSecondLimit {
  int64_t window_start_ns = 0;
  uint32_t used = 0;

  // Takes one event from the current window's budget; false if none is left.
  bool take(Instant now, uint32_t limit) {
    const int64_t t = to_ns(now);
    if (t - window_start_ns >= 1'000'000'000 || t < window_start_ns) {
      window_start_ns = t;
      used = 0;
    }
    if (used >= limit)
      return false;
    ++used;
    return true;
  }
};

} // namespace shoal::tcp
