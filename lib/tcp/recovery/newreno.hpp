#pragma once
// NewReno: RFC 5681 window growth with RFC 3465 byte counting, RFC 6582
// recovery (the shared state machine lives in CongestionControl).
#include "tcp/recovery/congestion_control.hpp"

namespace shoal::tcp {

// A CongestionControl running NewReno (no data of its own: see
// CongestionControl).
class NewReno final : public CongestionControl {
public:
  explicit NewReno(const CcConfig &cfg) : CongestionControl(CcAlgorithm::newreno, cfg) {}
  // RFC 3465 2.1 bytes_acked of congestion avoidance (for tests/telemetry).
  uint32_t bytes_acked() const { return reno_bytes_acked_; }
};

} // namespace shoal::tcp
