#pragma once
// Retransmission timeout estimator: RFC 6298 ("Computing TCP's Retransmission
// Timer"), with Karn's rule (RFC 6298 3) and RTT samples from the timestamp
// option (RFC 7323 4).
//
// Timestamp samples: every ACK that carries a valid TSecr yields a sample,
// including ACKs of retransmitted data (RFC 7323 4.1: the echoed timestamp
// identifies the transmission, so Karn's ambiguity does not arise). Taking one
// sample per ACK instead of one per RTT would make SRTT/RTTVAR forget their
// history W/2 times faster, so those samples use the gains of RFC 7323
// Appendix G: alpha' = alpha / ExpectedSamples, beta' = beta / ExpectedSamples
// with ExpectedSamples = ceil(FlightSize / (2 * SMSS)) (delayed ACKs: one ACK
// per two segments). The caller computes it with expected_samples(). Samples
// timed the classic way (one segment per RTT) use alpha and beta unchanged.
//
// The estimator never reads a clock: the caller measures the sample.
#include <cstdint>

#include "common/time.hpp"

namespace shoal::tcp {

struct RtoConfig {
  Duration initial_rto = std::chrono::seconds(1); // RFC 6298 2.1
  // RFC 6298 2.4 says 1 s; 200 ms is the Linux floor (TCP_RTO_MIN), which
  // serves data-centre RTTs better and is what the brief asks for.
  Duration min_rto = std::chrono::milliseconds(200);
  Duration max_rto = std::chrono::seconds(60);               // RFC 6298 2.5: at least 60 s
  Duration clock_granularity = std::chrono::milliseconds(1); // G, the shard's timer tick
};

// Where an RTT sample comes from; decides whether Karn's rule applies.
enum class RttSampleSource : uint8_t {
  kTimedSegment,         // ACK of a segment timed by the sender, never retransmitted
  kRetransmittedSegment, // ACK of a segment that was retransmitted: ambiguous (Karn)
  kTimestamp,            // RFC 7323 TSecr echo: unambiguous even after retransmission
};

#define SHOAL_RTT_SAMPLE_RESULTS(X)                                                                \
  X(accepted, "sample taken into SRTT/RTTVAR; back-off cleared")                                   \
  X(karn_ignored, "sample of a retransmitted segment ignored (Karn's rule, RFC 6298 3)")           \
  X(negative, "negative RTT (clock or echo bug) rejected")

enum class RttSampleResult : uint8_t {
#define SHOAL_X(name, desc) name,
  SHOAL_RTT_SAMPLE_RESULTS(SHOAL_X)
#undef SHOAL_X
};
const char *to_string(RttSampleResult r);

class RtoEstimator {
public:
  // The configuration is not copied (it is the same for every connection of
  // an engine): `cfg` must outlive the estimator. The default one is
  // RtoConfig{}.
  RtoEstimator();
  explicit RtoEstimator(const RtoConfig &cfg);
  explicit RtoEstimator(const RtoConfig &&) = delete; // would dangle

  // RFC 6298 2.2 / 2.3 with one measurement R. For kTimestamp samples,
  // `expected_samples` (>= 1) divides the gains (RFC 7323 Appendix G); it is
  // ignored for the other sources. An accepted sample also clears the
  // exponential back-off (RFC 6298 5.7 note / Karn: the backed-off RTO is
  // kept until a valid sample arrives).
  RttSampleResult on_rtt_sample(Duration r, RttSampleSource source, uint32_t expected_samples = 1);

  // RFC 6298 5.5: the retransmission timer expired; RTO = min(2 * RTO, max).
  void on_retransmit_timeout();

  // RFC 6298 5.7: the SYN (or SYN-ACK) was retransmitted and no sample was
  // taken during the handshake, so use RTO = 3 s once data transfer starts
  // (unless the samples so far say otherwise).
  void on_handshake_retransmitted();

  // The timeout to arm now, back-off included, clamped to [min_rto, max_rto].
  Duration rto() const;
  Duration srtt() const { return srtt_; }
  Duration rttvar() const { return rttvar_; }
  bool has_sample() const { return has_sample_; }
  // Consecutive timeouts since the last accepted sample (0 = not backed off).
  uint32_t backoff_count() const { return backoff_; }
  const RtoConfig &config() const { return *cfg_; }

  // Forget all samples (a new connection in a recycled entry).
  void reset();

  // RFC 7323 Appendix G: ExpectedSamples = ceil(FlightSize / (2 * SMSS)), at least 1.
  static uint32_t expected_samples(uint32_t flight_size, uint32_t smss);

private:
  Duration clamp(Duration d) const;
  void recompute();

  // SRTT + max(G, K*RTTVAR) once there is a sample, else the initial RTO
  // (or RFC 6298 5.7's 3 s), clamped; before back-off.
  Duration base_rto() const;

  // 32 bytes: one per connection. Neither the base RTO nor rto()
  // (the base doubled backoff_ times, RFC 6298 5.5, capped at max_rto) is
  // stored: both follow from these.
  const RtoConfig *cfg_;
  Duration srtt_{};
  Duration rttvar_{};
  uint32_t backoff_ : 30 = 0; // saturates
  uint32_t has_sample_ : 1 = 0;
  uint32_t handshake_fallback_ : 1 = 0; // on_handshake_retransmitted() raised the base to 3 s
};

} // namespace shoal::tcp
