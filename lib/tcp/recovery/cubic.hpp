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
#include <optional>

#include "tcp/recovery/congestion_control.hpp"

namespace shoal::tcp {

class Cubic final : public CongestionControl {
public:
  static constexpr double kC = 0.4;    // RFC 9438 5.1
  static constexpr double kBeta = 0.7; // RFC 9438 4.6 beta_cubic
  // RFC 9438 4.3: alpha_cubic = 3 * (1 - beta) / (1 + beta).
  static constexpr double kAlpha = 3.0 * (1.0 - kBeta) / (1.0 + kBeta);

  explicit Cubic(const CcConfig &cfg, bool fast_convergence = true)
      : CongestionControl(cfg), fast_convergence_(fast_convergence) {}
  std::string_view name() const override { return "cubic"; }

  // In segments / seconds, for tests and telemetry.
  double w_max() const { return w_max_; }
  double k() const { return k_; }
  double w_est() const { return w_est_; }
  double cwnd_prior() const { return cwnd_prior_; }
  bool epoch_started() const { return t_epoch_.has_value(); }
  // W_cubic(t) of RFC 9438 4.2 (segments), t in seconds since the epoch.
  double w_cubic(double t) const;

protected:
  void on_ack(uint32_t acked_bytes, Duration rtt, Instant now, uint32_t in_flight) override;
  uint32_t on_enter_recovery(uint32_t flight_size, Instant now) override;
  uint32_t on_retransmit_timeout(uint32_t flight_size, Instant now, bool fresh_loss) override;

private:
  uint32_t multiplicative_decrease();
  void start_epoch(Instant now);
  void set_cwnd_segments(double w);

  bool fast_convergence_;
  // No congestion event yet, or the last one was a timeout: the next
  // congestion-avoidance stage starts with W_max = cwnd_epoch, K = 0 (4.8).
  bool w_max_from_epoch_ = true;
  std::optional<Instant> t_epoch_;
  double w_max_ = 0;
  double k_ = 0;
  double cwnd_epoch_ = 0;
  double w_est_ = 0;
  double cwnd_prior_ = 0;
  double cwnd_carry_ = 0; // bytes < 1 not yet added to cwnd_
};

} // namespace shoal::tcp
