// CUBIC congestion control, RFC 9438.
#include "tcp/recovery/cubic.hpp"

#include <algorithm>
#include <cmath>

namespace shoal::tcp {

double Cubic::w_cubic(double t) const {
  const double d = t - k_;
  return kC * d * d * d + w_max_;
}

void Cubic::set_cwnd_segments(double w) {
  const double bytes = std::min(w * cfg_.smss, static_cast<double>(kMaxCwnd));
  cwnd_ = static_cast<uint32_t>(bytes);
  cwnd_carry_ = bytes - cwnd_;
}

void Cubic::start_epoch(Instant now) {
  // RFC 9438 4.2: t_epoch is when the current congestion-avoidance stage
  // began, cwnd_epoch the cwnd then; K = cubic_root((W_max - cwnd_epoch) / C).
  // (cbrt of a negative value is fine: the curve then starts in its convex
  // part and still passes through cwnd_epoch at t = 0.)
  t_epoch_ = now;
  cwnd_epoch_ = static_cast<double>(cwnd_) / cfg_.smss;
  if (w_max_from_epoch_) {
    // 4.8: first stage after a timeout (or with no congestion event yet):
    // K = 0 and W_max = cwnd at the start of this stage.
    w_max_ = cwnd_epoch_;
    k_ = 0;
    w_max_from_epoch_ = false;
  } else {
    k_ = std::cbrt((w_max_ - cwnd_epoch_) / kC);
  }
  // 4.3: W_est starts at cwnd_epoch.
  w_est_ = cwnd_epoch_;
  cwnd_carry_ = 0;
}

void Cubic::on_ack(uint32_t acked_bytes, Duration rtt, Instant now, uint32_t) {
  if (in_slow_start()) {
    slow_start(acked_bytes);
    return;
  }
  if (!t_epoch_)
    start_epoch(now);
  const double smss = cfg_.smss;
  const double cwnd = (cwnd_ + cwnd_carry_) / smss;
  const double segments_acked = acked_bytes / smss;
  const double t = std::chrono::duration<double>(now - *t_epoch_).count();

  // 4.3 Reno-friendly region: W_est += alpha_cubic * segments_acked / cwnd,
  // with alpha_cubic = 1 once W_est has reached cwnd_prior (Reno's AIMD(1, 0.5)).
  const double alpha = w_est_ >= cwnd_prior_ ? 1.0 : kAlpha;
  w_est_ += alpha * segments_acked / cwnd;

  if (w_cubic(t) < w_est_) {
    // "cwnd SHOULD be set to W_est at each reception of a new ACK" (never
    // shrinking the window on an ACK).
    if (w_est_ > cwnd)
      set_cwnd_segments(w_est_);
    return;
  }
  // 4.4 concave / 4.5 convex: target = W_cubic(t + RTT), bounded to
  // [cwnd, 1.5 * cwnd]; cwnd += (target - cwnd) / cwnd per acknowledged segment.
  const double rtt_s = std::chrono::duration<double>(rtt).count();
  const double target = std::clamp(w_cubic(t + rtt_s), cwnd, 1.5 * cwnd);
  set_cwnd_segments(cwnd + (target - cwnd) / cwnd * segments_acked);
}

uint32_t Cubic::multiplicative_decrease() {
  const double cwnd = static_cast<double>(cwnd_) / cfg_.smss;
  // 4.7 fast convergence: a flow whose W_max keeps falling releases bandwidth
  // by remembering a smaller W_max.
  if (fast_convergence_ && cwnd < w_max_)
    w_max_ = cwnd * (1.0 + kBeta) / 2.0;
  else
    w_max_ = cwnd;
  cwnd_prior_ = cwnd;
  // 4.6: ssthresh = cwnd * beta_cubic, at least 2 segments (the base class
  // floors it); the epoch restarts when congestion avoidance resumes.
  t_epoch_.reset();
  cwnd_carry_ = 0;
  return static_cast<uint32_t>(cwnd_ * kBeta);
}

uint32_t Cubic::on_enter_recovery(uint32_t, Instant) {
  w_max_from_epoch_ = false;
  return multiplicative_decrease();
}

uint32_t Cubic::on_retransmit_timeout(uint32_t, Instant, bool fresh_loss) {
  // 4.8: cwnd goes to 1 SMSS as in Reno (done by the base class), ssthresh is
  // set with beta_cubic as in 4.6, and the next congestion-avoidance stage
  // starts with K = 0, W_max = cwnd_epoch.
  uint32_t ssthresh = ssthresh_;
  if (fresh_loss)
    ssthresh = multiplicative_decrease();
  t_epoch_.reset();
  w_max_from_epoch_ = true;
  return ssthresh;
}

} // namespace shoal::tcp
