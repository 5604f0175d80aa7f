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

class CongestionControl {
public:
  explicit CongestionControl(const CcConfig &cfg);
  virtual ~CongestionControl() = default;
  CongestionControl(const CongestionControl &) = delete;
  CongestionControl &operator=(const CongestionControl &) = delete;

  virtual std::string_view name() const = 0;

  // --- events, called by the engine ---
  CcAction ack_received(const AckSample &a);
  CcAction dup_ack_received(const DupAckSample &d);
  // The retransmission timer expired. flight_size = SND.NXT - SND.UNA before
  // any go-back-N rewind; snd_nxt likewise (it becomes "recover", RFC 6582 3.2 step 4).
  void retransmit_timeout(Seq snd_nxt, uint32_t flight_size, Instant now);
  // RFC 6582 3.2: "recover" starts at the ISS. Without this call the first
  // entry into fast recovery is unconditional (same effect).
  void set_initial_recover(Seq iss);

  // --- state ---
  uint32_t cwnd() const { return cwnd_; }
  uint32_t ssthresh() const { return ssthresh_; }
  uint32_t smss() const { return cfg_.smss; }
  bool in_recovery() const { return in_recovery_; }
  bool in_slow_start() const { return cwnd_ < ssthresh_; }
  // One past the highest sequence number sent when recovery (or the last
  // RTO) began (RFC 6582's "recover" + 1): an ACK >= recover() ends recovery;
  // without SACK, a new recovery needs dupacks with ACK > recover() (RFC 6582
  // 3.2 step 2); with SACK, ACK >= recover() (RFC 6675 5.1).
  Seq recover() const { return recover_; }
  uint32_t dup_acks() const { return dup_acks_; }
  const CcConfig &config() const { return cfg_; }

  // Largest window we ever hold: 2^30, the RFC 7323 2.3 window limit.
  static constexpr uint32_t kMaxCwnd = 1u << 30;

protected:
  // --- algorithm hooks ---
  // New data was acknowledged outside recovery: grow cwnd_.
  virtual void on_ack(uint32_t acked_bytes, Duration rtt, Instant now, uint32_t in_flight) = 0;
  // Loss detected by dupacks/SACK: return the new ssthresh (the base class
  // floors it at 2 SMSS and sets cwnd from it).
  virtual uint32_t on_enter_recovery(uint32_t flight_size, Instant now) = 0;
  // Recovery ended with a full ACK; cwnd_ has already been set.
  virtual void on_exit_recovery(Instant /*now*/) {}
  // RTO: return the new ssthresh. `fresh_loss` is false for a repeated
  // timeout of the same data or a timeout during fast recovery, where the
  // window was already cut for this loss: ssthresh is then held (RFC 5681 4.3
  // note on repeated timeouts; Linux tcp_enter_loss does the same during
  // recovery). The base class then sets cwnd = 1 SMSS (RFC 5681 3.1 LW).
  virtual uint32_t on_retransmit_timeout(uint32_t flight_size, Instant now, bool fresh_loss) = 0;

  // RFC 3465 2.2 slow start with byte counting: cwnd += min(N, L*SMSS), L = 2,
  // and L = 1 in the slow start that follows an RTO (RFC 3465 2.3).
  void slow_start(uint32_t acked_bytes);
  void grow_cwnd(uint32_t bytes);

  CcConfig cfg_;
  uint32_t cwnd_;
  uint32_t ssthresh_;

private:
  Seq recover_{};
  uint32_t dup_acks_ = 0;
  uint32_t consecutive_rtos_ = 0;
  bool recover_valid_ = false;
  bool in_recovery_ = false;
  bool partial_ack_seen_ = false;
  bool slow_start_after_rto_ = false;
};

// "newreno" or "cubic"; nullptr for an unknown name.
// Heap bytes of the largest algorithm object (memory accounting).
size_t congestion_control_max_bytes();
std::unique_ptr<CongestionControl> make_congestion_control(std::string_view name,
                                                           const CcConfig &cfg);
std::span<const std::string_view> congestion_control_names();

} // namespace shoal::tcp
