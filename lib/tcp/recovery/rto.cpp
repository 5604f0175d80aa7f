// RFC 6298 RTO estimator; see rto.hpp for the choices made.
#include "tcp/recovery/rto.hpp"

#include <algorithm>

namespace shoal::tcp {

namespace {
// RFC 6298 2: alpha = 1/8, beta = 1/4, K = 4 (kept as integer divisors so
// the arithmetic on nanoseconds is exact up to one truncation per update).
constexpr int64_t kAlphaDivisor = 8;
constexpr int64_t kBetaDivisor = 4;
constexpr int64_t kK = 4;
// Bound on Appendix G's divisor: keeps (8n) * SRTT far from int64 overflow
// (SRTT <= 60 s = 6e10 ns; 8 * 65536 * 6e10 < 2^63).
constexpr uint32_t kMaxExpectedSamples = 65536;
// RFC 6298 5.7.
constexpr Duration kHandshakeFallbackRto = std::chrono::seconds(3);
constexpr uint32_t kMaxBackoff = (1u << 30) - 1;
} // namespace

const char *to_string(RttSampleResult r) {
  switch (r) {
#define SHOAL_X(name, desc)                                                                        \
  case RttSampleResult::name:                                                                      \
    return #name;
    SHOAL_RTT_SAMPLE_RESULTS(SHOAL_X)
#undef SHOAL_X
  }
  return "?";
}

namespace {
constexpr RtoConfig kDefaultRtoConfig{};
} // namespace

RtoEstimator::RtoEstimator() : RtoEstimator(kDefaultRtoConfig) {}

RtoEstimator::RtoEstimator(const RtoConfig &cfg) : cfg_(&cfg) {
  reset();
}

Duration RtoEstimator::rto() const {
  // RFC 6298 5.5: RTO <- RTO * 2 per expiry; 2.5: a maximum may be placed on
  // RTO. Stops doubling once at the maximum, so at most ~log2(max/min) steps.
  Duration rto = base_rto();
  const Duration max = cfg_->max_rto;
  for (uint32_t i = 0; i < backoff_ && rto < max; ++i)
    rto = rto >= max / 2 ? max : std::min(rto * 2, max);
  return rto;
}

void RtoEstimator::reset() {
  srtt_ = Duration{};
  rttvar_ = Duration{};
  has_sample_ = false;
  handshake_fallback_ = false;
  backoff_ = 0;
}

Duration RtoEstimator::base_rto() const {
  // RFC 6298 2.2/2.3: RTO <- SRTT + max (G, K*RTTVAR).
  if (has_sample_)
    return clamp(srtt_ + std::max(cfg_->clock_granularity, kK * rttvar_));
  // RFC 6298 2.1: until a measurement is made, RTO = 1 s (configurable);
  // 5.7: 3 s once the handshake needed a retransmission.
  return clamp(handshake_fallback_ ? kHandshakeFallbackRto : cfg_->initial_rto);
}

Duration RtoEstimator::clamp(Duration d) const {
  // RFC 6298 2.4 (lower bound) and 2.5 (upper bound). max wins if a
  // configuration ever gets them crossed.
  return std::min(std::max(d, cfg_->min_rto), cfg_->max_rto);
}

void RtoEstimator::recompute() {
  backoff_ = 0; // base_rto() follows SRTT and RTTVAR
}

RttSampleResult RtoEstimator::on_rtt_sample(Duration r, RttSampleSource source,
                                            uint32_t expected_samples) {
  if (r < Duration::zero())
    return RttSampleResult::negative;
  // RFC 6298 3 (Karn): RTT samples MUST NOT be made using segments that were
  // retransmitted, unless timestamps disambiguate them (RFC 7323 4.1).
  if (source == RttSampleSource::kRetransmittedSegment)
    return RttSampleResult::karn_ignored;

  if (!has_sample_) {
    // RFC 6298 2.2: first measurement R: SRTT <- R, RTTVAR <- R/2.
    srtt_ = r;
    rttvar_ = r / 2;
    has_sample_ = true;
  } else {
    int64_t n = 1;
    if (source == RttSampleSource::kTimestamp)
      n = std::clamp<uint32_t>(expected_samples, 1, kMaxExpectedSamples);
    // RFC 6298 2.3, with RFC 7323 Appendix G's alpha/n and beta/n:
    //   RTTVAR <- (1 - beta') * RTTVAR + beta' * |SRTT - R'|
    //   SRTT   <- (1 - alpha') * SRTT + alpha' * R'
    // RTTVAR is updated first, with the old SRTT.
    const int64_t err = (srtt_ > r ? srtt_ - r : r - srtt_).count();
    const int64_t beta_d = kBetaDivisor * n;
    const int64_t alpha_d = kAlphaDivisor * n;
    rttvar_ = Duration{((beta_d - 1) * rttvar_.count() + err) / beta_d};
    srtt_ = Duration{((alpha_d - 1) * srtt_.count() + r.count()) / alpha_d};
  }
  recompute();
  return RttSampleResult::accepted;
}

void RtoEstimator::on_retransmit_timeout() {
  // RFC 6298 5.5: back off the timer; 2.5: a maximum may be placed on RTO.
  // rto() applies the doubling; the count saturates instead of wrapping.
  if (backoff_ != kMaxBackoff)
    ++backoff_;
}

void RtoEstimator::on_handshake_retransmitted() {
  if (has_sample_ || base_rto() >= kHandshakeFallbackRto)
    return;
  handshake_fallback_ = true;
  backoff_ = 0;
}

uint32_t RtoEstimator::expected_samples(uint32_t flight_size, uint32_t smss) {
  if (smss == 0)
    return 1;
  const uint64_t per = 2ull * smss;
  const uint64_t n = (uint64_t{flight_size} + per - 1) / per;
  return static_cast<uint32_t>(std::clamp<uint64_t>(n, 1, kMaxExpectedSamples));
}

} // namespace shoal::tcp
