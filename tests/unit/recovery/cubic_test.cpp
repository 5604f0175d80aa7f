// CUBIC (RFC 9438): multiplicative decrease (4.6), fast convergence (4.7),
// the cubic curve through W_max at t = K (4.2, 4.4, 4.5), the Reno-friendly
// region (4.3), timeouts (4.8), slow start (4.10).
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "tcp/recovery/cubic.hpp"

namespace shoal::tcp {
namespace {

using namespace std::chrono_literals;
constexpr uint32_t kMss = 1000;

CcConfig cfg(uint32_t iw_segments, uint32_t ssthresh_segments = 0) {
  CcConfig c;
  c.smss = kMss;
  c.sack = true; // cwnd = ssthresh at recovery entry, no inflation
  c.initial_window = iw_segments * kMss;
  c.initial_ssthresh = ssthresh_segments * kMss;
  return c;
}

// Drives a Cubic sender on a virtual clock: one window of ACKs per RTT.
struct Driver {
  explicit Driver(CcConfig c, bool fc = true) : cc(c, fc) {}
  Cubic cc;
  Seq una{1}, nxt{1};
  Instant now{};

  void loss() {
    nxt = una + cc.cwnd();
    const DupAckSample d{una, nxt, cc.cwnd(), now, true};
    ASSERT_TRUE(cc.dup_ack_received(d).entered_recovery);
    // Recovery ends with a full ACK; nothing in flight beyond it except a
    // window's worth, so cwnd = ssthresh.
    const uint32_t flight = seq_distance(una, nxt);
    una = nxt;
    nxt = una + cc.ssthresh();
    ASSERT_TRUE(cc.ack_received({una, nxt, flight, cc.ssthresh(), rtt, now}).exited_recovery);
  }
  // One RTT: acknowledge the current window in segments of SMSS.
  void round() {
    const uint32_t segs = cc.cwnd() / kMss;
    for (uint32_t i = 0; i < segs; ++i) {
      una += kMss;
      nxt = una + cc.cwnd();
      cc.ack_received({una, nxt, kMss, cc.cwnd(), rtt, now});
    }
    now += rtt;
  }
  double w() const { return static_cast<double>(cc.cwnd()) / kMss; }
  Duration rtt = 100ms;
};

TEST(Cubic, Constants) {
  EXPECT_DOUBLE_EQ(Cubic::kC, 0.4);
  EXPECT_DOUBLE_EQ(Cubic::kBeta, 0.7);
  EXPECT_NEAR(Cubic::kAlpha, 0.5294, 1e-4); // 3 * 0.3 / 1.7
}

TEST(Cubic, SlowStartLikeReno) {
  Cubic c(cfg(10));
  c.ack_received({Seq{1001}, Seq{20001}, 1000, 19000, 10ms, Instant{}});
  EXPECT_EQ(c.cwnd(), 11 * kMss);
  c.ack_received({Seq{6001}, Seq{20001}, 5000, 14000, 10ms, Instant{}});
  EXPECT_EQ(c.cwnd(), 13 * kMss); // L = 2 SMSS
}

TEST(Cubic, MultiplicativeDecreaseAndK) {
  Driver d(cfg(100, 100));
  d.loss();
  EXPECT_EQ(d.cc.ssthresh(), 70 * kMss); // cwnd * beta_cubic
  EXPECT_EQ(d.cc.cwnd(), 70 * kMss);
  EXPECT_DOUBLE_EQ(d.cc.w_max(), 100.0);
  EXPECT_DOUBLE_EQ(d.cc.cwnd_prior(), 100.0);
  d.round(); // the first ACK in congestion avoidance starts the epoch
  ASSERT_TRUE(d.cc.epoch_started());
  // K = cbrt((W_max - cwnd_epoch) / C) = cbrt(30 / 0.4)
  EXPECT_NEAR(d.cc.k(), std::cbrt(75.0), 1e-9);
  EXPECT_NEAR(d.cc.w_cubic(0), 70.0, 1e-9);
  EXPECT_NEAR(d.cc.w_cubic(d.cc.k()), 100.0, 1e-9);
}

TEST(Cubic, FastConvergence) {
  Driver d(cfg(100, 100));
  d.loss();  // W_max = 100, cwnd 70
  d.round(); // new data acknowledged beyond "recover": the next loss is a new event
  const double w = d.w();
  ASSERT_LT(w, 100.0);
  d.loss(); // cwnd < W_max: W_max = cwnd * (1 + 0.7) / 2
  EXPECT_NEAR(d.cc.w_max(), w * 1.7 / 2, 1e-9);
  EXPECT_EQ(d.cc.ssthresh(), static_cast<uint32_t>(w * kMss * 0.7));
  Driver n(cfg(100, 100), /*fast_convergence=*/false);
  n.loss();
  n.round();
  const double wn = n.w();
  n.loss();
  EXPECT_NEAR(n.cc.w_max(), wn, 1e-9);
}

TEST(Cubic, CurveReachesWmaxAroundKThenProbesBeyond) {
  Driver d(cfg(100, 100));
  d.loss();
  std::ostringstream trace;
  double prev = d.w();
  double k = 0;
  bool passed = false;
  for (int r = 0; r < 80; ++r) {
    d.round();
    k = d.cc.k();
    const double t = std::chrono::duration<double>(d.now - Instant{}).count();
    trace << "t=" << t << " cwnd=" << d.w() << " W_cubic=" << d.cc.w_cubic(t)
          << " W_est=" << d.cc.w_est() << "\n";
    // Never more than 1.5x per RTT, never shrinking on ACKs.
    ASSERT_LE(d.w(), prev * 1.5 + 1e-9) << trace.str();
    ASSERT_GE(d.w(), prev) << trace.str();
    prev = d.w();
    if (!passed && t >= k) {
      passed = true;
      // Concave approach: close to W_max at t = K (within one RTT's growth).
      EXPECT_NEAR(d.w(), 100.0, 3.0) << trace.str();
    }
  }
  ASSERT_TRUE(passed);
  // 8 s in: well beyond K (about 4.2 s), convex growth past W_max.
  EXPECT_GT(d.w(), 110.0) << trace.str();
  // And tracks W_cubic(t) (targets one RTT ahead, so within a few segments).
  const double t = std::chrono::duration<double>(d.now - Instant{}).count();
  EXPECT_NEAR(d.w(), d.cc.w_cubic(t), 0.1 * d.w()) << trace.str();
}

TEST(Cubic, RenoFriendlyRegionAtShortRtt) {
  Driver d(cfg(10, 10));
  d.rtt = 1ms;
  d.loss(); // W_max 10, cwnd 7, K ~ 1.96 s
  for (int r = 0; r < 200; ++r)
    d.round();
  const double t = std::chrono::duration<double>(d.now - Instant{}).count();
  // 0.2 s into the epoch the cubic curve is still below 7 segments, while
  // Reno would have added ~1 SMSS per RTT (alpha becomes 1 once W_est >=
  // cwnd_prior): cwnd follows W_est.
  EXPECT_LT(d.cc.w_cubic(t), 8.0);
  EXPECT_GT(d.w(), 150.0);
  EXPECT_NEAR(d.w(), d.cc.w_est(), 1.0);
}

TEST(Cubic, RenoFriendlyAlphaBeforeCwndPrior) {
  Driver d(cfg(100, 100));
  d.rtt = 1ms;
  d.loss(); // cwnd 70, cwnd_prior 100
  const double w0 = d.w();
  d.round(); // 70 segments acked: W_est += 0.529 * 70 / ~70
  EXPECT_NEAR(d.cc.w_est() - w0, Cubic::kAlpha, 0.02);
}

TEST(Cubic, TimeoutResetsToOneSegmentAndStartsFreshEpoch) {
  Driver d(cfg(100, 100));
  d.loss();
  for (int r = 0; r < 5; ++r)
    d.round();
  const double before = d.w();
  d.cc.retransmit_timeout(d.nxt, d.cc.cwnd(), d.now);
  EXPECT_EQ(d.cc.cwnd(), kMss);
  EXPECT_EQ(d.cc.ssthresh(), static_cast<uint32_t>(before * kMss * Cubic::kBeta));
  EXPECT_FALSE(d.cc.epoch_started());
  // Slow start back to ssthresh, then the first congestion-avoidance stage
  // starts with K = 0 and W_max = cwnd_epoch (4.8).
  while (d.cc.in_slow_start())
    d.round();
  d.round();
  ASSERT_TRUE(d.cc.epoch_started());
  EXPECT_DOUBLE_EQ(d.cc.k(), 0.0);
  EXPECT_GE(d.cc.w_max(), d.cc.ssthresh() / double{kMss});
}

TEST(Cubic, TimeoutRepeatedHoldsSsthresh) {
  Driver d(cfg(100, 100));
  d.cc.retransmit_timeout(Seq{100001}, 100 * kMss, Instant{});
  EXPECT_EQ(d.cc.ssthresh(), 70 * kMss);
  d.cc.retransmit_timeout(Seq{100001}, 100 * kMss, Instant{});
  EXPECT_EQ(d.cc.ssthresh(), 70 * kMss);
  EXPECT_EQ(d.cc.cwnd(), kMss);
}

TEST(Cubic, NoCongestionEventYetStartsAtCwnd) {
  // Slow start ends at ssthresh without any loss: W_max = cwnd_epoch, K = 0.
  Driver d(cfg(20, 20));
  d.round();
  EXPECT_DOUBLE_EQ(d.cc.k(), 0.0);
  EXPECT_DOUBLE_EQ(d.cc.w_max(), 20.0);
  EXPECT_GE(d.w(), 20.0);
}

} // namespace
} // namespace shoal::tcp
