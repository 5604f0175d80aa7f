// RFC 6298 RTO estimator: first-sample rules, the smoothing equations, the
// clock-granularity term, min/max clamps, exponential back-off and its reset,
// Karn's rule, RFC 7323 timestamp samples (Appendix G gains), RFC 6298 5.7.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "tcp/recovery/rto.hpp"

namespace shoal::tcp {
namespace {

using namespace std::chrono_literals;
using Src = RttSampleSource;

TEST(Rto, InitialIsOneSecondWithoutSample) {
  RtoEstimator r;
  EXPECT_EQ(r.rto(), 1s); // RFC 6298 2.1
  EXPECT_FALSE(r.has_sample());
  EXPECT_EQ(r.backoff_count(), 0u);
}

TEST(Rto, FirstSampleSetsSrttAndHalfRttvar) {
  RtoEstimator r;
  EXPECT_EQ(r.on_rtt_sample(100ms, Src::kTimedSegment), RttSampleResult::accepted);
  EXPECT_EQ(r.srtt(), 100ms);  // RFC 6298 2.2: SRTT <- R
  EXPECT_EQ(r.rttvar(), 50ms); // RTTVAR <- R/2
  EXPECT_EQ(r.rto(), 300ms);   // SRTT + max(G, 4*RTTVAR)
}

TEST(Rto, SubsequentSamplesUseAlphaEighthBetaQuarter) {
  RtoEstimator r;
  r.on_rtt_sample(100ms, Src::kTimedSegment);
  r.on_rtt_sample(200ms, Src::kTimedSegment);
  // RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5 ms (old SRTT used)
  // SRTT = 7/8 * 100 + 1/8 * 200 = 112.5 ms
  EXPECT_EQ(r.rttvar(), 62500us);
  EXPECT_EQ(r.srtt(), 112500us);
  EXPECT_EQ(r.rto(), 112500us + 4 * 62500us);
  r.on_rtt_sample(112500us, Src::kTimedSegment);
  EXPECT_EQ(r.rttvar(), Duration{62500000 * 3 / 4});
  EXPECT_EQ(r.srtt(), 112500us);
}

TEST(Rto, GranularityTermWhenVarianceIsTiny) {
  RtoConfig cfg;
  cfg.min_rto = Duration::zero();
  cfg.clock_granularity = 10ms;
  RtoEstimator r(cfg);
  r.on_rtt_sample(Duration::zero(), Src::kTimedSegment);
  EXPECT_EQ(r.rto(), 10ms); // 0 + max(G, 0)
  r.on_rtt_sample(Duration::zero(), Src::kTimedSegment);
  EXPECT_EQ(r.rto(), 10ms);
  RtoEstimator r2(cfg);
  r2.on_rtt_sample(4ms, Src::kTimedSegment); // 4*RTTVAR = 8 ms < G
  EXPECT_EQ(r2.rto(), 14ms);
}

TEST(Rto, MinimumClamp) {
  RtoEstimator r; // min 200 ms
  r.on_rtt_sample(1ms, Src::kTimedSegment);
  EXPECT_EQ(r.rto(), 200ms);
  RtoConfig cfg;
  cfg.min_rto = 1s; // RFC 6298 2.4 literal
  RtoEstimator strict(cfg);
  strict.on_rtt_sample(100ms, Src::kTimedSegment);
  EXPECT_EQ(strict.rto(), 1s);
}

TEST(Rto, MaximumClamp) {
  RtoEstimator r;
  r.on_rtt_sample(50s, Src::kTimedSegment); // 50 + 4*25 = 150 s
  EXPECT_EQ(r.rto(), 60s);
}

TEST(Rto, ExponentialBackoffDoublesAndCaps) {
  RtoEstimator r;
  Duration expect = 1s;
  for (int i = 1; i <= 10; ++i) {
    r.on_retransmit_timeout();
    expect = std::min<Duration>(expect * 2, 60s);
    EXPECT_EQ(r.rto(), expect) << "after timeout " << i;
    EXPECT_EQ(r.backoff_count(), static_cast<uint32_t>(i));
  }
  EXPECT_EQ(r.rto(), 60s);
}

TEST(Rto, NewSampleCollapsesBackoff) {
  RtoEstimator r;
  r.on_rtt_sample(100ms, Src::kTimedSegment);
  r.on_retransmit_timeout();
  r.on_retransmit_timeout();
  EXPECT_EQ(r.rto(), 1200ms);
  r.on_rtt_sample(100ms, Src::kTimedSegment);
  // RTTVAR = 3/4*50 + 0 = 37.5; SRTT = 100; RTO = 100 + 150
  EXPECT_EQ(r.rto(), 250ms);
  EXPECT_EQ(r.backoff_count(), 0u);
}

TEST(Rto, KarnIgnoresRetransmittedSegmentsAndKeepsBackoff) {
  RtoEstimator r;
  r.on_rtt_sample(100ms, Src::kTimedSegment);
  r.on_retransmit_timeout();
  EXPECT_EQ(r.on_rtt_sample(5s, Src::kRetransmittedSegment), RttSampleResult::karn_ignored);
  EXPECT_EQ(r.srtt(), 100ms);
  EXPECT_EQ(r.rto(), 600ms); // still backed off
  EXPECT_EQ(r.backoff_count(), 1u);
  // Without any prior sample, too.
  RtoEstimator fresh;
  EXPECT_EQ(fresh.on_rtt_sample(5s, Src::kRetransmittedSegment), RttSampleResult::karn_ignored);
  EXPECT_FALSE(fresh.has_sample());
  EXPECT_EQ(fresh.rto(), 1s);
}

TEST(Rto, TimestampSamplesAreTakenAfterRetransmission) {
  RtoEstimator r;
  r.on_retransmit_timeout();
  EXPECT_EQ(r.on_rtt_sample(80ms, Src::kTimestamp), RttSampleResult::accepted);
  EXPECT_EQ(r.srtt(), 80ms);
  EXPECT_EQ(r.rto(), 240ms);
  EXPECT_EQ(r.backoff_count(), 0u);
}

TEST(Rto, TimestampSamplesUseAppendixGGains) {
  RtoEstimator r;
  r.on_rtt_sample(100ms, Src::kTimestamp, 4); // first sample: plain 2.2 rules
  EXPECT_EQ(r.srtt(), 100ms);
  EXPECT_EQ(r.rttvar(), 50ms);
  r.on_rtt_sample(260ms, Src::kTimestamp, 4);
  // beta' = 1/16: RTTVAR = 15/16*50 + 1/16*160 = 56.875 ms
  // alpha' = 1/32: SRTT = 31/32*100 + 1/32*260 = 105 ms
  EXPECT_EQ(r.rttvar(), 56875us);
  EXPECT_EQ(r.srtt(), 105ms);
  // expected_samples is ignored for classic samples.
  RtoEstimator c;
  c.on_rtt_sample(100ms, Src::kTimedSegment, 4);
  c.on_rtt_sample(260ms, Src::kTimedSegment, 4);
  EXPECT_EQ(c.srtt(), 120ms);
}

TEST(Rto, ExpectedSamplesFormula) {
  // RFC 7323 Appendix G: ceil(FlightSize / (2 * SMSS)), at least 1.
  EXPECT_EQ(RtoEstimator::expected_samples(0, 1460), 1u);
  EXPECT_EQ(RtoEstimator::expected_samples(1, 1460), 1u);
  EXPECT_EQ(RtoEstimator::expected_samples(2920, 1460), 1u);
  EXPECT_EQ(RtoEstimator::expected_samples(2921, 1460), 2u);
  EXPECT_EQ(RtoEstimator::expected_samples(14600, 1460), 5u);
  EXPECT_EQ(RtoEstimator::expected_samples(UINT32_MAX, 1), 65536u); // bounded
  EXPECT_EQ(RtoEstimator::expected_samples(1000, 0), 1u);
}

TEST(Rto, NegativeSampleRejected) {
  RtoEstimator r;
  EXPECT_EQ(r.on_rtt_sample(-1ms, Src::kTimestamp), RttSampleResult::negative);
  EXPECT_FALSE(r.has_sample());
  EXPECT_STREQ(to_string(RttSampleResult::negative), "negative");
}

TEST(Rto, HandshakeRetransmitFallsBackToThreeSeconds) {
  RtoEstimator r;
  r.on_retransmit_timeout(); // SYN timed out
  r.on_handshake_retransmitted();
  EXPECT_EQ(r.rto(), 3s); // RFC 6298 5.7
  EXPECT_EQ(r.backoff_count(), 0u);
  RtoEstimator s;
  s.on_rtt_sample(100ms, Src::kTimestamp);
  s.on_handshake_retransmitted(); // a valid sample wins
  EXPECT_EQ(s.rto(), 300ms);
}

TEST(Rto, ResetForgetsEverything) {
  RtoEstimator r;
  r.on_rtt_sample(100ms, Src::kTimedSegment);
  r.on_retransmit_timeout();
  r.reset();
  EXPECT_FALSE(r.has_sample());
  EXPECT_EQ(r.rto(), 1s);
  EXPECT_EQ(r.backoff_count(), 0u);
}

// Against a floating-point model of RFC 6298 2.3 over a random walk: the
// integer-nanosecond arithmetic must stay within a microsecond.
TEST(Rto, MatchesFloatingPointModel) {
  RtoConfig cfg;
  cfg.min_rto = Duration::zero();
  cfg.max_rto = 3600s;
  RtoEstimator r(cfg);
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<int64_t> rtt_us(100, 500'000);
  double srtt = 0, rttvar = 0;
  for (int i = 0; i < 10'000; ++i) {
    const int64_t us = rtt_us(rng);
    const double rr = static_cast<double>(us) * 1000;
    r.on_rtt_sample(std::chrono::microseconds(us), Src::kTimedSegment);
    if (i == 0) {
      srtt = rr;
      rttvar = rr / 2;
    } else {
      rttvar = 0.75 * rttvar + 0.25 * std::fabs(srtt - rr);
      srtt = 0.875 * srtt + 0.125 * rr;
    }
    ASSERT_NEAR(static_cast<double>(r.srtt().count()), srtt, 1000.0) << "sample " << i;
    ASSERT_NEAR(static_cast<double>(r.rttvar().count()), rttvar, 1000.0) << "sample " << i;
    const double rto = srtt + std::max(1e6, 4 * rttvar);
    ASSERT_NEAR(static_cast<double>(r.rto().count()), rto, 5000.0) << "sample " << i;
  }
}

} // namespace
} // namespace shoal::tcp
