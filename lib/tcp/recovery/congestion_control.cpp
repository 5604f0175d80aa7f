// The loss-recovery state machine shared by every congestion control
// algorithm: RFC 5681 3.2, RFC 6582 3.2, RFC 6675 5.
#include "tcp/recovery/congestion_control.hpp"

#include <algorithm>
#include <array>

#include "tcp/recovery/cubic.hpp"
#include "tcp/recovery/newreno.hpp"

namespace shoal::tcp {

static_assert(sizeof(CongestionControl) <= 72, "embedded in every Connection (bytes per idle connection)");
static_assert(sizeof(NewReno) == sizeof(CongestionControl) &&
                  sizeof(Cubic) == sizeof(CongestionControl),
              "the algorithm classes are views that add no data");

CongestionControl::CongestionControl(CcAlgorithm algorithm, const CcConfig &cfg)
    // RFC 9293 3.7.1 default send MSS when none is given; never divide by zero.
    : smss_(static_cast<uint16_t>(cfg.smss == 0 ? 536 : std::min(cfg.smss, kMaxSmss))),
      dup_thresh_(
          static_cast<uint8_t>(cfg.dup_thresh == 0 ? 3 : std::min(cfg.dup_thresh, kMaxDupThresh))),
      algorithm_(algorithm), sack_(cfg.sack) {
  cwnd_ = cfg.initial_window != 0 ? cfg.initial_window : rfc6928_initial_window(smss_);
  cwnd_ = std::min(cwnd_, kMaxCwnd);
  // RFC 5681 3.1: the initial ssthresh SHOULD be set arbitrarily high.
  ssthresh_ = cfg.initial_ssthresh != 0 ? cfg.initial_ssthresh : UINT32_MAX;
  if (algorithm_ == CcAlgorithm::cubic)
    cubic_ = CubicState{0, 0, 0, 0, 0, 0};
  else
    reno_bytes_acked_ = 0;
}

std::string_view congestion_control_name(CcAlgorithm a) {
  return a == CcAlgorithm::cubic ? "cubic" : "newreno";
}

std::string_view CongestionControl::name() const {
  return congestion_control_name(algorithm_);
}

CcConfig CongestionControl::config() const {
  CcConfig c;
  c.smss = smss_;
  c.sack = sack_;
  c.dup_thresh = dup_thresh_;
  return c;
}

void CongestionControl::on_ack(uint32_t acked_bytes, Duration rtt, Instant now, uint32_t) {
  if (algorithm_ == CcAlgorithm::cubic)
    cubic_on_ack(acked_bytes, rtt, now);
  else
    reno_on_ack(acked_bytes);
}

uint32_t CongestionControl::on_enter_recovery(uint32_t flight_size, Instant) {
  return algorithm_ == CcAlgorithm::cubic ? cubic_on_enter_recovery()
                                          : reno_on_enter_recovery(flight_size);
}

uint32_t CongestionControl::on_retransmit_timeout(uint32_t flight_size, Instant, bool fresh_loss) {
  return algorithm_ == CcAlgorithm::cubic ? cubic_on_retransmit_timeout(fresh_loss)
                                          : reno_on_retransmit_timeout(flight_size, fresh_loss);
}

void CongestionControl::set_initial_recover(Seq iss) {
  recover_ = iss;
  recover_valid_ = true;
}

void CongestionControl::grow_cwnd(uint32_t bytes) {
  cwnd_ = static_cast<uint32_t>(std::min<uint64_t>(uint64_t{cwnd_} + bytes, kMaxCwnd));
}

void CongestionControl::slow_start(uint32_t acked_bytes) {
  const uint32_t limit = slow_start_after_rto_ ? uint32_t{smss_} : 2 * uint32_t{smss_};
  grow_cwnd(std::min(acked_bytes, limit));
  if (!in_slow_start())
    slow_start_after_rto_ = false;
}

CcAction CongestionControl::ack_received(const AckSample &a) {
  CcAction act;
  rto_since_ack_ = false;
  if (in_recovery_) {
    if (seq_ge(a.ack, recover_)) {
      // RFC 6582 3.2 step 5, full acknowledgment (all data up to and including
      // "recover", the highest sequence number sent at entry): leave recovery
      // with cwnd = min (ssthresh, max (FlightSize, SMSS) + SMSS), option (1),
      // which avoids a burst when little is in flight. Same exit for RFC 6675
      // ("a cumulative ACK for a sequence number greater than RecoveryPoint").
      in_recovery_ = false;
      dup_acks_ = 0;
      cwnd_ = std::min(ssthresh_, std::max(a.in_flight, uint32_t{smss_}) + uint32_t{smss_});
      act.exited_recovery = true;
      return act;
    }
    // Partial acknowledgment.
    if (!sack_) {
      // RFC 6582 3.2 step 5: retransmit the first unacknowledged segment;
      // deflate cwnd by the amount of new data acknowledged, and add back one
      // SMSS if that amount was at least SMSS. (The floor of one SMSS is ours:
      // never let the window close below one segment.)
      act.retransmit_snd_una = true;
      cwnd_ = cwnd_ > a.acked_bytes ? cwnd_ - a.acked_bytes : 0;
      if (a.acked_bytes >= uint32_t{smss_})
        grow_cwnd(uint32_t{smss_});
      cwnd_ = std::max(cwnd_, uint32_t{smss_});
      if (!partial_ack_seen_) {
        act.restart_rtx_timer = true;
        partial_ack_seen_ = true;
      }
    }
    // With SACK (RFC 6675 5 step 5 onwards) the scoreboard and pipe drive
    // what is sent; cwnd stays at ssthresh until recovery ends.
    return act;
  }
  // RFC 5681 3.2 step 6 (an ACK of new data outside recovery) resets the
  // dupack count; the algorithm grows the window.
  dup_acks_ = 0;
  on_ack(a.acked_bytes, a.rtt, a.now, a.in_flight);
  return act;
}

CcAction CongestionControl::dup_ack_received(const DupAckSample &d) {
  CcAction act;
  if (in_recovery_) {
    // RFC 5681 3.2 step 4 / RFC 6582 3.2 step 3: each further dupack means
    // one more segment has left the network: inflate cwnd by SMSS. With SACK
    // the pipe estimate accounts for it instead (RFC 6675 5 step 5).
    if (!sack_)
      grow_cwnd(uint32_t{smss_});
    return act;
  }
  ++dup_acks_;
  const bool lost = dup_acks_ >= dup_thresh_ || (sack_ && d.snd_una_lost);
  if (!lost)
    return act; // RFC 5681 3.2 step 1 (limited transmit, RFC 3042, is the engine's)
  return enter_fast_recovery(d);
}

CcAction CongestionControl::loss_detected(const DupAckSample &d) {
  if (in_recovery_)
    return {};
  return enter_fast_recovery(d);
}

CcAction CongestionControl::enter_fast_recovery(const DupAckSample &d) {
  CcAction act;
  // RFC 6582 3.2 step 2: enter only if the cumulative ACK covers more than
  // "recover" (the highest sequence number sent, recover_ - 1); otherwise
  // these dupacks may come from retransmissions after a timeout or an
  // earlier recovery, and ssthresh is not reduced again. RFC 6675 guards only
  // after a timeout (5.1: not "until HighACK >= RecoveryPoint", i.e. ACK >=
  // recover_), and its DupAck definition already excludes ACKs that SACK
  // nothing new; after a normal recovery ends (ACK >= recover_) a new loss may
  // start a new one at once.
  if (recover_valid_ && !(sack_ ? seq_ge(d.ack, recover_) : seq_gt(d.ack - 1, recover_ - 1)))
    return act;
  // RFC 5681 3.2 step 2: ssthresh = max (FlightSize / 2, 2*SMSS) for Reno,
  // beta_cubic * cwnd for CUBIC.
  ssthresh_ = std::max(on_enter_recovery(d.flight_size, d.now), 2 * uint32_t{smss_});
  recover_ = d.snd_nxt;
  recover_valid_ = true;
  in_recovery_ = true;
  partial_ack_seen_ = false;
  slow_start_after_rto_ = false;
  // RFC 5681 3.2 step 3: cwnd = ssthresh + 3*SMSS ("inflating" for the
  // segments that have left the network). RFC 6675 5 step 4.2: cwnd = ssthresh.
  if (sack_)
    cwnd_ = ssthresh_;
  else
    cwnd_ = static_cast<uint32_t>(std::min<uint64_t>(
        uint64_t{ssthresh_} + uint64_t{dup_thresh_} * uint32_t{smss_}, kMaxCwnd));
  act.retransmit_snd_una = true;
  act.entered_recovery = true;
  return act;
}

void CongestionControl::retransmit_timeout(Seq snd_nxt, uint32_t flight_size, Instant now) {
  const bool fresh_loss = !in_recovery_ && !rto_since_ack_;
  ssthresh_ = std::max(on_retransmit_timeout(flight_size, now, fresh_loss), 2 * uint32_t{smss_});
  // RFC 5681 3.1: cwnd = LW, the loss window, one SMSS.
  cwnd_ = uint32_t{smss_};
  // RFC 6582 3.2 step 4 / RFC 6675 5.1: after a timeout, record the highest
  // sequence number sent in "recover" and leave fast recovery.
  recover_ = snd_nxt;
  recover_valid_ = true;
  in_recovery_ = false;
  dup_acks_ = 0;
  rto_since_ack_ = true;
  slow_start_after_rto_ = true;
}

void CongestionControl::loss_repaired_by_probe(uint32_t flight_size, Instant now) {
  ssthresh_ = std::max(on_enter_recovery(flight_size, now), 2 * uint32_t{smss_});
  cwnd_ = ssthresh_;
  dup_acks_ = 0;
  slow_start_after_rto_ = false;
}

namespace {
constexpr std::array<std::string_view, 2> kNames = {"newreno", "cubic"};
}

std::span<const std::string_view> congestion_control_names() {
  return kNames;
}

std::optional<CcAlgorithm> congestion_control_algorithm(std::string_view name) {
  if (name == "newreno" || name == "reno")
    return CcAlgorithm::newreno;
  if (name == "cubic")
    return CcAlgorithm::cubic;
  return std::nullopt;
}

std::unique_ptr<CongestionControl> make_congestion_control(std::string_view name,
                                                           const CcConfig &cfg) {
  const std::optional<CcAlgorithm> a = congestion_control_algorithm(name);
  if (!a)
    return nullptr;
  return std::make_unique<CongestionControl>(*a, cfg);
}

} // namespace shoal::tcp
