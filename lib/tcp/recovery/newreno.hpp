#pragma once
// NewReno: RFC 5681 window growth with RFC 3465 byte counting, RFC 6582
// recovery (the shared state machine lives in CongestionControl).
#include "tcp/recovery/congestion_control.hpp"

namespace shoal::tcp {

class NewReno final : public CongestionControl {
public:
  explicit NewReno(const CcConfig &cfg) : CongestionControl(cfg) {}
  std::string_view name() const override { return "newreno"; }
  // RFC 3465 2.1 bytes_acked of congestion avoidance (for tests/telemetry).
  uint32_t bytes_acked() const { return bytes_acked_; }

protected:
  void on_ack(uint32_t acked_bytes, Duration rtt, Instant now, uint32_t in_flight) override;
  uint32_t on_enter_recovery(uint32_t flight_size, Instant now) override;
  uint32_t on_retransmit_timeout(uint32_t flight_size, Instant now, bool fresh_loss) override;

private:
  uint32_t bytes_acked_ = 0;
};

} // namespace shoal::tcp
