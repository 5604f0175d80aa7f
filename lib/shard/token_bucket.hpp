#pragma once
// shoal::shard::TokenBucket — at most `burst` events at once and `rate` per
// second on average, on the shard clock. Bounds the ICMP errors a shard
// sends (RFC 1122 3.2.2: a host SHOULD limit the rate of ICMP error
// messages; RFC 1812 4.3.2.8 names the token bucket), so a flood of
// datagrams to closed ports cannot turn it into an amplifier.
#include <algorithm>
#include <cstdint>

#include "common/time.hpp"

namespace shoal::shard {

class TokenBucket {
public:
  // rate 0: nothing is ever allowed.
  TokenBucket(uint32_t rate_per_second, uint32_t burst)
      : rate_(rate_per_second), burst_(burst), tokens_nano_(uint64_t{burst} * kNano) {}

  // Takes one token; false (nothing taken) when the bucket is empty.
  bool take(Instant now) {
    refill(now);
    if (tokens_nano_ < kNano)
      return false;
    tokens_nano_ -= kNano;
    return true;
  }
  // Whole tokens left at `now`.
  uint32_t available(Instant now) {
    refill(now);
    return static_cast<uint32_t>(tokens_nano_ / kNano);
  }

private:
  // A token is kNano units; rate_ tokens per second add rate_ units per
  // nanosecond, so no fraction of a token is lost between calls.
  static constexpr uint64_t kNano = 1'000'000'000;
  void refill(Instant now) {
    const int64_t t = to_ns(now);
    if (!started_ || t < last_ns_) { // first call, or a clock that went back
      started_ = true;
      last_ns_ = t;
      return;
    }
    const uint64_t cap = uint64_t{burst_} * kNano;
    const auto elapsed = static_cast<uint64_t>(t - last_ns_);
    last_ns_ = t;
    // Beyond the time to fill the bucket from empty, more adds nothing.
    const uint64_t add = rate_ == 0 ? 0 : std::min(elapsed, cap / rate_ + 1) * rate_;
    tokens_nano_ = std::min(cap, tokens_nano_ + add);
  }

  uint32_t rate_, burst_;
  uint64_t tokens_nano_;
  int64_t last_ns_ = 0;
  bool started_ = false;
};

} // namespace shoal::shard
