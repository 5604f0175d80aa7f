// CUBIC congestion control, RFC 9438.
#include "tcp/recovery/cubic.hpp"

#include <algorithm>
#include <cmath>

namespace shoal::tcp {

double CongestionControl::cubic_w_cubic(double t) const {
  const double d = t - cubic_.k;
  return Cubic::kC * d * d * d + cubic_.w_max;
}

void CongestionControl::cubic_set_cwnd_segments(double w) {
  const double bytes = std::min(w * smss_, static_cast<double>(kMaxCwnd));
  cwnd_ = static_cast<uint32_t>(bytes);
  cubic_.cwnd_carry = bytes - cwnd_;
}

void CongestionControl::cubic_start_epoch(Instant now) {
  // RFC 9438 4.2: t_epoch is when the current congestion-avoidance stage
  // began, cwnd_epoch the cwnd then; K = cubic_root((W_max - cwnd_epoch) / C).
  // (cbrt of a negative value is fine: the curve then starts in its convex
  // part and still passes through cwnd_epoch at t = 0.)
  cubic_.t_epoch_ns = to_ns(now);
  cubic_epoch_started_ = true;
  const double cwnd_epoch = static_cast<double>(cwnd_) / smss_;
  if (cubic_w_max_from_epoch_) {
    // 4.8: first stage after a timeout (or with no congestion event yet):
    // K = 0 and W_max = cwnd at the start of this stage.
    cubic_.w_max = cwnd_epoch;
    cubic_.k = 0;
    cubic_w_max_from_epoch_ = false;
  } else {
    cubic_.k = std::cbrt((cubic_.w_max - cwnd_epoch) / Cubic::kC);
  }
  // 4.3: W_est starts at cwnd_epoch.
  cubic_.w_est = cwnd_epoch;
  cubic_.cwnd_carry = 0;
}

void CongestionControl::cubic_on_ack(uint32_t acked_bytes, Duration rtt, Instant now) {
  if (in_slow_start()) {
    slow_start(acked_bytes);
    return;
  }
  if (!cubic_epoch_started_)
    cubic_start_epoch(now);
  const double smss = smss_;
  const double cwnd = (cwnd_ + cubic_.cwnd_carry) / smss;
  const double segments_acked = acked_bytes / smss;
  const double t = std::chrono::duration<double>(now - instant_from_ns(cubic_.t_epoch_ns)).count();

  // 4.3 Reno-friendly region: W_est += alpha_cubic * segments_acked / cwnd,
  // with alpha_cubic = 1 once W_est has reached cwnd_prior (Reno's AIMD(1, 0.5)).
  const double alpha = cubic_.w_est >= cubic_.cwnd_prior ? 1.0 : Cubic::kAlpha;
  cubic_.w_est += alpha * segments_acked / cwnd;

  if (cubic_w_cubic(t) < cubic_.w_est) {
    // "cwnd SHOULD be set to W_est at each reception of a new ACK" (never
    // shrinking the window on an ACK).
    if (cubic_.w_est > cwnd)
      cubic_set_cwnd_segments(cubic_.w_est);
    return;
  }
  // 4.4 concave / 4.5 convex: target = W_cubic(t + RTT), bounded to
  // [cwnd, 1.5 * cwnd]; cwnd += (target - cwnd) / cwnd per acknowledged segment.
  const double rtt_s = std::chrono::duration<double>(rtt).count();
  const double target = std::clamp(cubic_w_cubic(t + rtt_s), cwnd, 1.5 * cwnd);
  cubic_set_cwnd_segments(cwnd + (target - cwnd) / cwnd * segments_acked);
}

uint32_t CongestionControl::cubic_multiplicative_decrease() {
  const double cwnd = static_cast<double>(cwnd_) / smss_;
  // 4.7 fast convergence: a flow whose W_max keeps falling releases bandwidth
  // by remembering a smaller W_max.
  if (cubic_fast_convergence_ && cwnd < cubic_.w_max)
    cubic_.w_max = cwnd * (1.0 + Cubic::kBeta) / 2.0;
  else
    cubic_.w_max = cwnd;
  cubic_.cwnd_prior = cwnd;
  // 4.6: ssthresh = cwnd * beta_cubic, at least 2 segments (the base class
  // floors it); the epoch restarts when congestion avoidance resumes.
  cubic_epoch_started_ = false;
  cubic_.cwnd_carry = 0;
  return static_cast<uint32_t>(cwnd_ * Cubic::kBeta);
}

uint32_t CongestionControl::cubic_on_enter_recovery() {
  cubic_w_max_from_epoch_ = false;
  return cubic_multiplicative_decrease();
}

uint32_t CongestionControl::cubic_on_retransmit_timeout(bool fresh_loss) {
  // 4.8: cwnd goes to 1 SMSS as in Reno (done by the base class), ssthresh is
  // set with beta_cubic as in 4.6, and the next congestion-avoidance stage
  // starts with K = 0, W_max = cwnd_epoch.
  uint32_t ssthresh = ssthresh_;
  if (fresh_loss)
    ssthresh = cubic_multiplicative_decrease();
  cubic_epoch_started_ = false;
  cubic_w_max_from_epoch_ = true;
  return ssthresh;
}

} // namespace shoal::tcp
