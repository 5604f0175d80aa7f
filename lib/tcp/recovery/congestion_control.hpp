#pragma once
// Congestion control: one small interface with event hooks, algorithms
// plugged in behind it (the shape of Linux's tcp_congestion_ops and smoltcp's
// congestion::Controller).
//
// Read first: RFC 5681 (slow start, congestion avoidance, fast retransmit and
// fast recovery), RFC 6582 (NewReno: the recovery point "recover" and partial
// ACKs), RFC 6675 (SACK-based loss recovery; the scoreboard is
// sack_scoreboard.hpp), RFC 3465 (byte counting), RFC 6928 (initial window),
// RFC 9438 (CUBIC).
//
// Who does what. The engine classifies each arriving ACK (new data acked, or
// a duplicate ACK per RFC 5681 2 / RFC 6675 2) and calls ack_received() or
// dup_ack_received(); it calls retransmit_timeout() when the RTO fires. This
// base class runs the loss-recovery state machine that every algorithm shares
// (dupack counting, entry into fast recovery guarded by "recover", cwnd
// inflation and partial-ACK deflation without SACK, the exit rule) and
// returns what the sender must do (CcAction). The algorithm only decides how
// the window grows (on_ack) and how far it is cut (on_enter_recovery,
// on_retransmit_timeout).
//
// Two recovery flavours, chosen per connection by CcConfig::sack:
//  - no SACK: RFC 5681 3.2 + RFC 6582 NewReno. cwnd is inflated by one SMSS per
//    further dupack, deflated on partial ACKs; every partial ACK asks for a
//    retransmission of the first unacknowledged segment.
//  - SACK: RFC 6675. cwnd = ssthresh during recovery, no inflation; what to send
//    is decided by the engine from SackScoreboard::pipe() and next_seg()
//    ("while cwnd - pipe >= 1 SMSS"). Recovery can also start before DupThresh
//    dupacks when the scoreboard says IsLost(HighACK + 1) (RFC 6675 5 step 1).
//
// Byte units throughout. Not here (the engine's): limited transmit (RFC 3042),
// restart after idle (RFC 5681 4.1), the cwnd-limited test (RFC 7661).
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "common/time.hpp"
#include "tcp/seq.hpp"

namespace shoal::tcp {

// RFC 6928 2: IW = min (10*MSS, max (2*MSS, 14600)).
constexpr uint32_t rfc6928_initial_window(uint32_t smss) {
  const uint32_t ten = 10 * smss;
  const uint32_t floor = 2 * smss > 14600 ? 2 * smss : 14600;
  return ten < floor ? ten : floor;
}

struct CcConfig {
  uint32_t smss = 1460;
  bool sack = false;             // RFC 6675 recovery instead of RFC 6582 inflation
  uint32_t dup_thresh = 3;       // RFC 5681 3.2 / RFC 6675 DupThresh
  uint32_t initial_window = 0;   // bytes; 0 = rfc6928_initial_window(smss)
  uint32_t initial_ssthresh = 0; // bytes; 0 = "arbitrarily high" (RFC 5681 3.1)
};

// A cumulative ACK that acknowledged new data (SEG.ACK > SND.UNA).
struct AckSample {
  Seq ack;              // SEG.ACK, the new SND.UNA
  Seq snd_nxt;          // one past the highest sequence number sent so far
  uint32_t acked_bytes; // SEG.ACK - old SND.UNA
  uint32_t in_flight;   // FlightSize after this ACK: SND.NXT - SEG.ACK
  Duration rtt;         // the current RTT estimate (SRTT); zero if none yet
  Instant now;
};

// A duplicate ACK (the engine applies the definition of RFC 5681 2 / RFC 6675 2).
struct DupAckSample {
  Seq ack;              // SEG.ACK (== SND.UNA)
  Seq snd_nxt;          // one past the highest sequence number sent so far
  uint32_t flight_size; // SND.NXT - SND.UNA
  Instant now;
  // SACK only: SackScoreboard::is_lost(SND.UNA) -- RFC 6675 5 step 1 lets
  // recovery begin before DupThresh dupacks when the scoreboard shows loss.
  bool snd_una_lost = false;
};

// What the sender must do after an event.
struct CcAction {
  // Retransmit the segment starting at SND.UNA now: fast retransmit (RFC 5681
  // 3.2 step 2) or a NewReno partial ACK (RFC 6582 3.2 step 5).
  bool retransmit_snd_una = false;
  // RFC 6582 3.2 step 5: reset the retransmission timer on the first partial ACK.
  bool restart_rtx_timer = false;
  bool entered_recovery = false;
  bool exited_recovery = false;
};

// The algorithms. The state of each lives inside CongestionControl (no
// virtual dispatch, no heap object): a connection embeds one (memory
// per connection).
enum class CcAlgorithm : uint8_t { newreno, cubic };

// NewReno and Cubic (newreno.hpp, cubic.hpp) are views of this class that add
// no data: they construct it with their algorithm and expose its state.
class CongestionControl {
public:
  CongestionControl(CcAlgorithm algorithm, const CcConfig &cfg);

  CcAlgorithm algorithm() const { return algorithm_; }
  std::string_view name() const;

  // --- events, called by the engine ---
  CcAction ack_received(const AckSample &a);
  CcAction dup_ack_received(const DupAckSample &d);
  // The retransmission timer expired. flight_size = SND.NXT - SND.UNA before
  // any go-back-N rewind; snd_nxt likewise (it becomes "recover", RFC 6582 3.2 step 4).
  void retransmit_timeout(Seq snd_nxt, uint32_t flight_size, Instant now);
  // RFC 8985 7.4.2: a tail loss probe's retransmission repaired the loss of
  // one segment (the ACK that covers it came for the probe). The response
  // of a fast recovery that began and ended with that ACK: ssthresh as on
  // entering recovery (from flight_size, FlightSize before the ACK), cwnd =
  // ssthresh.
  void loss_repaired_by_probe(uint32_t flight_size, Instant now);
  // RACK (RFC 8985 6.2) found the segment at SND.UNA lost: enter fast
  // recovery as DupThresh duplicate ACKs would (same "recover" guard and
  // congestion response), unless already in it.
  CcAction loss_detected(const DupAckSample &d);
  // RFC 6582 3.2: "recover" starts at the ISS. Without this call the first
  // entry into fast recovery is unconditional (same effect).
  void set_initial_recover(Seq iss);

  // --- state ---
  uint32_t cwnd() const { return cwnd_; }
  uint32_t ssthresh() const { return ssthresh_; }
  uint32_t smss() const { return smss_; }
  bool in_recovery() const { return in_recovery_; }
  bool in_slow_start() const { return cwnd_ < ssthresh_; }
  // One past the highest sequence number sent when recovery (or the last
  // RTO) began (RFC 6582's "recover" + 1): an ACK >= recover() ends recovery;
  // without SACK, a new recovery needs dupacks with ACK > recover() (RFC 6582
  // 3.2 step 2); with SACK, ACK >= recover() (RFC 6675 5.1).
  Seq recover() const { return recover_; }
  uint32_t dup_acks() const { return dup_acks_; }
  // smss, sack and dup_thresh as in effect (initial_window/initial_ssthresh
  // are not kept: they only seed cwnd and ssthresh).
  CcConfig config() const;

  // Largest window we ever hold: 2^30, the RFC 7323 2.3 window limit.
  static constexpr uint32_t kMaxCwnd = 1u << 30;
  // Kept in 16 and 8 bits: larger values are clamped (no link has a larger
  // SMSS than an IPv4 packet; DupThresh is 3).
  static constexpr uint32_t kMaxSmss = UINT16_MAX;
  static constexpr uint32_t kMaxDupThresh = UINT8_MAX;

protected:
  // --- algorithm hooks (switch on algorithm_; newreno.cpp, cubic.cpp) ---
  // New data was acknowledged outside recovery: grow cwnd_.
  void on_ack(uint32_t acked_bytes, Duration rtt, Instant now, uint32_t in_flight);
  // Loss detected by dupacks/SACK: return the new ssthresh (the caller
  // floors it at 2 SMSS and sets cwnd from it).
  uint32_t on_enter_recovery(uint32_t flight_size, Instant now);
  CcAction enter_fast_recovery(const DupAckSample &d);
  // RTO: return the new ssthresh. `fresh_loss` is false for a repeated
  // timeout of the same data or a timeout during fast recovery, where the
  // window was already cut for this loss: ssthresh is then held (RFC 5681 4.3
  // note on repeated timeouts; Linux tcp_enter_loss does the same during
  // recovery). The caller then sets cwnd = 1 SMSS (RFC 5681 3.1 LW).
  uint32_t on_retransmit_timeout(uint32_t flight_size, Instant now, bool fresh_loss);

  void reno_on_ack(uint32_t acked_bytes);
  uint32_t reno_on_enter_recovery(uint32_t flight_size);
  uint32_t reno_on_retransmit_timeout(uint32_t flight_size, bool fresh_loss);

  void cubic_on_ack(uint32_t acked_bytes, Duration rtt, Instant now);
  uint32_t cubic_on_enter_recovery();
  uint32_t cubic_on_retransmit_timeout(bool fresh_loss);
  uint32_t cubic_multiplicative_decrease();
  void cubic_start_epoch(Instant now);
  void cubic_set_cwnd_segments(double w);
  double cubic_w_cubic(double t) const;

  // RFC 3465 2.2 slow start with byte counting: cwnd += min(N, L*SMSS), L = 2,
  // and L = 1 in the slow start that follows an RTO (RFC 3465 2.3).
  void slow_start(uint32_t acked_bytes);
  void grow_cwnd(uint32_t bytes);

  // RFC 9438 state, in segments and seconds (cubic.hpp). Plain values so
  // that it can share storage with NewReno's.
  struct CubicState {
    int64_t t_epoch_ns; // valid when epoch_started_
    double w_max;
    double k;
    double w_est;
    double cwnd_prior;
    double cwnd_carry; // bytes < 1 not yet added to cwnd_
  };

  uint32_t cwnd_;
  uint32_t ssthresh_;
  Seq recover_{};
  uint32_t dup_acks_ = 0;
  uint16_t smss_;
  uint8_t dup_thresh_;
  CcAlgorithm algorithm_;
  bool sack_ : 1; // RFC 6675 recovery instead of RFC 6582 inflation
  bool recover_valid_ : 1 = false;
  bool in_recovery_ : 1 = false;
  bool partial_ack_seen_ : 1 = false;
  bool slow_start_after_rto_ : 1 = false;
  // A retransmission timeout since the last ACK of new data (a repeated
  // timeout holds ssthresh).
  bool rto_since_ack_ : 1 = false;
  // CUBIC only.
  bool cubic_fast_convergence_ : 1 = true;
  // No congestion event yet, or the last one was a timeout: the next
  // congestion-avoidance stage starts with W_max = cwnd_epoch, K = 0 (4.8).
  bool cubic_w_max_from_epoch_ : 1 = true;
  bool cubic_epoch_started_ : 1 = false;
  union {
    uint32_t reno_bytes_acked_; // RFC 3465 2.1 bytes_acked
    CubicState cubic_;
  };
};

// The algorithm called `name` ("newreno" (or "reno"), "cubic"); nothing for
// an unknown name.
std::optional<CcAlgorithm> congestion_control_algorithm(std::string_view name);
// The algorithm's name: "newreno" or "cubic".
std::string_view congestion_control_name(CcAlgorithm);
// A heap object (tests, benchmarks); nullptr for an unknown name.
std::unique_ptr<CongestionControl> make_congestion_control(std::string_view name,
                                                           const CcConfig &cfg);
std::span<const std::string_view> congestion_control_names();

} // namespace shoal::tcp
