// NewReno window growth and reduction (RFC 5681 3.1, RFC 3465 2.1).
#include "tcp/recovery/newreno.hpp"

#include <algorithm>

namespace shoal::tcp {

void CongestionControl::reno_on_ack(uint32_t acked_bytes) {
  if (in_slow_start()) {
    slow_start(acked_bytes);
    return;
  }
  // RFC 3465 2.1 / RFC 5681 3.1 (appropriate byte counting in congestion
  // avoidance): count acknowledged bytes; each time a full cwnd's worth has
  // been acknowledged, take it off and open the window by one SMSS.
  reno_bytes_acked_ += acked_bytes;
  if (reno_bytes_acked_ >= cwnd_) {
    reno_bytes_acked_ -= cwnd_;
    grow_cwnd(smss_);
  }
}

uint32_t CongestionControl::reno_on_enter_recovery(uint32_t flight_size) {
  // RFC 5681 3.2 step 2, equation (4): ssthresh = max (FlightSize / 2, 2*SMSS).
  reno_bytes_acked_ = 0;
  return std::max(flight_size / 2, 2 * uint32_t{smss_});
}

uint32_t CongestionControl::reno_on_retransmit_timeout(uint32_t flight_size, bool fresh_loss) {
  // RFC 5681 3.1 equation (4) on a timeout; held for a repeated one.
  reno_bytes_acked_ = 0;
  return fresh_loss ? std::max(flight_size / 2, 2 * uint32_t{smss_}) : ssthresh_;
}

} // namespace shoal::tcp
