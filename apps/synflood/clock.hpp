#pragma once
// shoal-synflood's clock: the TSC in nanoseconds, as the stacks' own clock.
// clock_gettime (even through the vDSO) was 15 % of the generator thread's
// time in the main loop here; rdtsc is a few cycles. Both lcores read the
// same invariant TSC, so times taken on either compare.
#include <rte_cycles.h>

#include "common/time.hpp"

namespace shoal::synflood {

inline Instant tsc_now() {
  static const double ns_per_cycle = 1e9 / double(rte_get_tsc_hz());
  return instant_from_ns(int64_t(double(rte_get_tsc_cycles()) * ns_per_cycle));
}

} // namespace shoal::synflood
