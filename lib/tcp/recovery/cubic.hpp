#pragma once
// CUBIC, RFC 9438. Window growth in congestion avoidance follows
// W_cubic(t) = C * (t - K)^3 + W_max (4.2), bounded below by the Reno-friendly
// estimate W_est (4.3); multiplicative decrease by beta_cubic = 0.7 (4.6)
// with fast convergence (4.7); timeouts as in 4.8. Slow start is RFC 5681's
// (4.10; HyStart++ is not implemented). Fast recovery is the shared state
// machine of CongestionControl (RFC 9438 4.6 keeps RFC 5681/6582/6675).
//
// The RFC works in segments and seconds; cwnd_ stays in bytes and the
// sub-byte remainder of each increment is carried in cwnd_carry_.
#include "tcp/recovery/congestion_control.hpp"

namespace shoal::tcp {

// A CongestionControl running CUBIC (no data of its own: the state is
// CongestionControl::CubicState).
class Cubic final : public CongestionControl {
public:
  static constexpr double kC = 0.4;    // RFC 9438 5.1
  static constexpr double kBeta = 0.7; // RFC 9438 4.6 beta_cubic
  // RFC 9438 4.3: alpha_cubic = 3 * (1 - beta) / (1 + beta).
  static constexpr double kAlpha = 3.0 * (1.0 - kBeta) / (1.0 + kBeta);

  explicit Cubic(const CcConfig &cfg, bool fast_convergence = true)
      : CongestionControl(CcAlgorithm::cubic, cfg) {
    cubic_fast_convergence_ = fast_convergence;
  }

  // In segments / seconds, for tests and telemetry.
  double w_max() const { return cubic_.w_max; }
  double k() const { return cubic_.k; }
  double w_est() const { return cubic_.w_est; }
  double cwnd_prior() const { return cubic_.cwnd_prior; }
  bool epoch_started() const { return cubic_epoch_started_; }
  // W_cubic(t) of RFC 9438 4.2 (segments), t in seconds since the epoch.
  double w_cubic(double t) const { return cubic_w_cubic(t); }
};

} // namespace shoal::tcp
