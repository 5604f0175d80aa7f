// NewReno window growth and reduction (RFC 5681 3.1, RFC 3465 2.1).
#include "tcp/recovery/newreno.hpp"

#include <algorithm>

namespace shoal::tcp {

void NewReno::on_ack(uint32_t acked_bytes, Duration, Instant, uint32_t) {
  if (in_slow_start()) {
    slow_start(acked_bytes);
    return;
  }
  // RFC 3465 2.1 / RFC 5681 3.1 (appropriate byte counting in congestion
  // avoidance): count acknowledged bytes; each time a full cwnd's worth has
  // been acknowledged, take it off and open the window by one SMSS.
  bytes_acked_ += acked_bytes;
  if (bytes_acked_ >= cwnd_) {
    bytes_acked_ -= cwnd_;
    grow_cwnd(cfg_.smss);
  }
}

uint32_t NewReno::on_enter_recovery(uint32_t flight_size, Instant) {
  // RFC 5681 3.2 step 2, equation (4): ssthresh = max (FlightSize / 2, 2*SMSS).
  bytes_acked_ = 0;
  return std::max(flight_size / 2, 2 * cfg_.smss);
}

uint32_t NewReno::on_retransmit_timeout(uint32_t flight_size, Instant, bool fresh_loss) {
  // RFC 5681 3.1 equation (4) on a timeout; held for a repeated one.
  bytes_acked_ = 0;
  return fresh_loss ? std::max(flight_size / 2, 2 * cfg_.smss) : ssthresh_;
}

} // namespace shoal::tcp
