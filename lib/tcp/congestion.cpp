// What an ACK means for the sender beyond SND.UNA: RTT samples (RFC 6298,
// RFC 7323 4), congestion control through the recovery/congestion_control
// interface (RFC 5681, RFC 6582 NewReno, RFC 9438 CUBIC), fast retransmit,
// and SACK-based loss recovery with the RFC 6675 scoreboard.
//
// The loss-recovery state machine lives in CongestionControl; this file
// classifies ACKs, feeds the scoreboard, and sends what the answers ask for.
#include <algorithm>

#include "tcp/engine_impl.hpp"

namespace shoal::tcp {

void Engine::Impl::start_congestion_control(Connection &c) {
  c.snd_sml_ = c.snd_una_; // no partial segment sent yet (Minshall's Nagle, output.cpp)
  CcConfig cc;
  cc.smss = c.snd_mss_;
  cc.sack = c.sack_ok_;
  if (cfg.initial_window_segments != 0)
    cc.initial_window = cfg.initial_window_segments * uint32_t{c.snd_mss_};
  CcAlgorithm algo = CcAlgorithm::newreno; // also for an unknown configured name
  if (c.cc_choice_ != 0)
    algo = static_cast<CcAlgorithm>(c.cc_choice_ - 1);
  else if (std::optional<CcAlgorithm> a = congestion_control_algorithm(cfg.congestion_control))
    algo = *a;
  c.cc_ = CongestionControl(algo, cc);
  c.cc_started_ = true;
  c.cc_choice_ = static_cast<uint8_t>(static_cast<uint8_t>(algo) + 1);
  // RFC 6582 3.2: "recover" starts at the initial send sequence number.
  c.cc_.set_initial_recover(c.iss_);
  c.sack_.set_smss(c.snd_mss_);
  c.sack_.reset(c.snd_una_);
  c.sack_.set_high_data(c.snd_max_);
}

void Engine::Impl::rtt_sample_taken(Connection &c, Duration r, RttSampleSource src,
                                    uint32_t expected_samples) {
  if (c.rtt_.on_rtt_sample(r, src, expected_samples) == RttSampleResult::accepted)
    count(*this, Counter::rtt_samples);
}

void Engine::Impl::rtt_from_ack(Connection &c, const Segment &seg) {
  // RFC 7323 4.1 (RTTM): an ACK that advances SND.UNA echoes in TSecr the
  // TSval of the segment that caused it; unambiguous even after a
  // retransmission. Gains scaled per RFC 7323 Appendix G.
  const auto &ts = seg.h.options.timestamp;
  if (c.ts_ok_ && ts && ts->ecr != 0) {
    const auto ms = static_cast<int32_t>(tsval(c.ts_offset_) - ts->ecr);
    if (ms >= 0)
      rtt_sample_taken(c, std::chrono::milliseconds(ms), RttSampleSource::kTimestamp,
                       RtoEstimator::expected_samples(c.snd_max_ - c.snd_una_, c.snd_mss_));
    c.rtt_timing_ = false;
    return;
  }
  // RFC 6298 3: one timed segment per round trip, never a retransmitted one
  // (sent() stops the timing on a retransmission: Karn's rule).
  if (c.rtt_timing_ && seq_gt(seg.ack, c.rtt_seq_)) {
    rtt_sample_taken(c, now - c.rtt_sent_);
    c.rtt_timing_ = false;
  }
}

uint32_t Engine::Impl::parse_sack(const Connection &c, const Segment &seg,
                                  std::span<SackBlock> out) const {
  if (!c.sack_ok_)
    return 0;
  const auto &o = seg.h.options;
  uint32_t n = 0;
  for (uint8_t i = 0; i < o.sack_count && n < out.size(); ++i)
    out[n++] = SackBlock{Seq{o.sack[i].left}, Seq{o.sack[i].right}};
  return n;
}

void Engine::Impl::on_new_ack(Connection &c, const Segment &seg, uint32_t acked) {
  if (c.sack_ok_) {
    SackBlock blocks[wire::kTcpMaxSackBlocks];
    const uint32_t n = parse_sack(c, seg, blocks);
    if (cfg.rack)
      c.sack_.rack_on_ack(seg.ack, {blocks, n}, now);
    const SackUpdate u = c.sack_.update(seg.ack, {blocks, n});
    count(*this, Counter::sack_blocks_in, u.count(SackBlockVerdict::accepted));
  }
  if (!c.cc_started_)
    return;
  AckSample a;
  a.ack = seg.ack;
  a.snd_nxt = c.snd_max_;
  a.acked_bytes = acked;
  a.in_flight = c.snd_max_ - c.snd_una_;
  a.rtt = c.rtt_.srtt();
  a.now = now;
  apply(c, c.cc_.ack_received(a));
  if (c.tlp_probing_ && !c.dead_)
    probe_acked(c, seg, c.snd_max_ - c.snd_una_ + acked);
  rack_detect_loss(c);
}

void Engine::Impl::rack_detect_loss(Connection &c) {
  // RFC 8985 6.2 step 5 after each ACK (and when the reordering timer
  // fires): segments old enough are marked lost in the scoreboard, where
  // NextSeg() rule 1 and SetPipe() see them. If SND.UNA's segment is among
  // them and no recovery runs, start one (RFC 8985 6.2 step 5 / RFC 6675 5:
  // the loss was detected, whatever the duplicate ACK count).
  if (!cfg.rack || !c.sack_ok_ || !c.cc_started_ || c.dead_ || c.snd_una_ == c.snd_max_)
    return;
  if (!c.sack_.rack_detect(now))
    return;
  count(*this, Counter::rack_marks);
  if (c.cc_.in_recovery() || !c.sack_.is_lost(c.snd_una_))
    return;
  DupAckSample d;
  d.ack = c.snd_una_;
  d.snd_nxt = c.snd_max_;
  d.flight_size = c.snd_max_ - c.snd_una_;
  d.now = now;
  d.snd_una_lost = true;
  const CcAction act = c.cc_.loss_detected(d);
  if (act.entered_recovery)
    count(*this, Counter::rack_recoveries);
  apply(c, act);
}

std::optional<Instant> Engine::Impl::rack_deadline(const Connection &c) const {
  if (!cfg.rack || !c.sack_ok_ || !c.cc_started_ || c.snd_una_ == c.snd_max_)
    return std::nullopt;
  std::optional<Instant> at = c.sack_.rack_timer_at();
  if (!at)
    return std::nullopt;
  // At least one tick of the timer wheel from now.
  return std::max(*at, now + rto_cfg.clock_granularity);
}

void Engine::Impl::on_rack_timeout(Connection &c) {
  // RFC 8985 6.3: the reordering timer fired; mark what is old enough now,
  // repair it, and let the RTO (or a probe) watch again.
  c.rack_timer_armed_ = false;
  if (c.snd_una_ == c.snd_max_)
    return;
  count(*this, Counter::rack_timeouts);
  rack_detect_loss(c);
  if (c.dead_)
    return;
  output(c);
  if (c.dead_ || c.timers_.armed(ConnTimer::persist) || c.snd_una_ == c.snd_max_)
    return;
  if (c.timers_.armed(ConnTimer::retransmit))
    return; // a retransmission armed it again
  // The RTO keeps running from when the oldest data began waiting.
  if (!rearm_rto_from_una(c)) {
    on_retransmit_timeout(c);
    return;
  }
  const std::optional<Instant> r = rack_deadline(c);
  if (r && *r < c.timers_.due(ConnTimer::retransmit)) {
    c.rack_timer_armed_ = true;
    c.timers_.schedule(wheel, ConnTimer::retransmit, *r);
  }
}

void Engine::Impl::probe_acked(Connection &c, const Segment &seg, uint32_t flight_before) {
  // RFC 8985 7.4: the probe's episode ends with the ACK that covers it.
  if (seq_lt(seg.ack, c.tlp_end_seq_))
    return;
  c.tlp_probing_ = false;
  if (c.tlp_saw_recovery_) {
    // The ACKs the probe drew (SACK or duplicate ACKs) found the loss, and
    // fast recovery repaired it and made the congestion response.
    count(*this, Counter::tlp_recoveries);
    return;
  }
  if (!c.tlp_retrans_)
    return; // new data probed and acknowledged with the rest: nothing was lost
  // The probe resent the last segment. Was it the one that arrived? An ACK
  // echoing a TSval older than the probe's was sent for the original
  // (RFC 7323 4.3), and a D-SACK of the probe's range says both arrived
  // (RFC 2883): the probe was not needed. Otherwise the original was lost
  // and the probe repaired it (without timestamps or D-SACK this is
  // assumed).
  bool original_arrived = false;
  const auto &ts = seg.h.options.timestamp;
  if (c.ts_ok_ && ts && ts->ecr != 0) {
    // The probe's TSval, as tsval() computed it when the probe went.
    const uint32_t probe_ts = static_cast<uint32_t>(to_ns(c.tlp_sent_) / 1'000'000) + c.ts_offset_;
    original_arrived = static_cast<int32_t>(ts->ecr - probe_ts) < 0;
  }
  SackBlock blocks[wire::kTcpMaxSackBlocks];
  if (parse_sack(c, seg, blocks) > 0) {
    const SackBlock &d = blocks[0];
    const Seq text_end =
        c.fin_sent_ && seq_gt(c.tlp_end_seq_, c.fin_seq_) ? c.fin_seq_ : c.tlp_end_seq_;
    if (seq_le(d.end, seg.ack) && seq_lt(d.start, d.end) && seq_gt(d.end, text_end - c.snd_mss_) &&
        seq_le(d.end, text_end))
      original_arrived = true;
  }
  if (original_arrived)
    return;
  // One segment lost and repaired by the probe: the congestion response of
  // a fast recovery that began and ended with this ACK (RFC 8985 7.4.2).
  count(*this, Counter::tlp_recoveries);
  c.cc_.loss_repaired_by_probe(flight_before, now);
}

void Engine::Impl::on_duplicate_ack(Connection &c, const Segment &seg) {
  count(*this, Counter::dup_acks_in);
  if (c.sack_ok_) {
    SackBlock blocks[wire::kTcpMaxSackBlocks];
    const uint32_t n = parse_sack(c, seg, blocks);
    if (cfg.rack)
      c.sack_.rack_on_ack(seg.ack, {blocks, n}, now);
    const SackUpdate u = c.sack_.update(seg.ack, {blocks, n});
    count(*this, Counter::sack_blocks_in, u.count(SackBlockVerdict::accepted));
  }
  if (!c.cc_started_)
    return;
  DupAckSample d;
  d.ack = seg.ack;
  d.snd_nxt = c.snd_max_;
  d.flight_size = c.snd_max_ - c.snd_una_;
  d.now = now;
  d.snd_una_lost = c.sack_ok_ && c.sack_.is_lost(c.snd_una_);
  apply(c, c.cc_.dup_ack_received(d));
  rack_detect_loss(c);
  rack_arm_after_dup_ack(c);
}

void Engine::Impl::rack_arm_after_dup_ack(Connection &c) {
  // Duplicate ACKs leave the RTO alone; a reordering timer due earlier than
  // the retransmission timer's deadline takes its place (the RTO comes back
  // when it fires).
  if (c.dead_ || c.timers_.armed(ConnTimer::persist))
    return;
  const std::optional<Instant> r = rack_deadline(c);
  if (!r || (c.timers_.armed(ConnTimer::retransmit) && c.timers_.due(ConnTimer::retransmit) <= *r))
    return;
  c.tlp_pto_armed_ = false;
  c.rack_timer_armed_ = true;
  c.timers_.schedule(wheel, ConnTimer::retransmit, *r);
}

void Engine::Impl::apply(Connection &c, const CcAction &act) {
  if (act.entered_recovery) {
    count(*this, Counter::fast_recoveries);
    if (c.tlp_probing_)
      c.tlp_saw_recovery_ = true;
    // Duplicate ACKs leave the timer alone: a probe timeout armed before
    // gives way to the RTO it stood in for.
    if (c.tlp_pto_armed_ && c.timers_.armed(ConnTimer::retransmit) && !rearm_rto_from_una(c))
      c.timers_.schedule(wheel, ConnTimer::retransmit, now); // overdue: at the next tick
  }
  if (act.retransmit_snd_una)
    retransmit_snd_una(c);
  if (act.restart_rtx_timer && c.snd_una_ != c.snd_max_)
    arm_rtx(c);
}

void Engine::Impl::retransmit_snd_una(Connection &c) {
  // RFC 5681 3.2 step 2 / RFC 6582 3.2 step 5: "retransmit the first
  // unacknowledged segment" -- whatever the windows say.
  const Seq data_end = c.sndq_seq_ + c.sndq_bytes_;
  const uint32_t len =
      seq_lt(c.snd_una_, data_end) ? std::min<uint32_t>(data_end - c.snd_una_, c.snd_mss_) : 0;
  const bool fin = c.fin_sent_ && c.snd_una_ + len == c.fin_seq_;
  if ((len == 0 && !fin) || !seq_lt(c.snd_una_, c.snd_max_))
    return;
  if (!send_segment(c, c.snd_una_, len, fin))
    return;
  count(*this, Counter::fast_retransmits);
  sent(c, c.snd_una_, len, fin);
  c.sack_.on_retransmit(c.snd_una_, len + (fin ? 1 : 0));
}

bool Engine::Impl::sack_recovery_output(Connection &c) {
  // RFC 6675 5 (C): "If cwnd - pipe >= 1 SMSS, the sender SHOULD transmit
  // one or more segments": NextSeg() picks a hole to repair (rules 1, 3) or
  // new data (rule 2), until the window is used.
  bool any = false;
  const Seq data_end = c.sndq_seq_ + c.sndq_bytes_;
  for (int guard = 0; guard < 4096; ++guard) {
    const uint32_t pipe = c.sack_.pipe();
    if (uint64_t{pipe} + c.snd_mss_ > c.cc_.cwnd())
      break;
    uint32_t new_allowed = 0;
    if (c.snd_nxt_ == c.snd_max_ && seq_lt(c.snd_max_, data_end)) {
      const Seq wnd_edge = c.snd_una_ + c.snd_wnd_;
      const uint32_t usable = seq_lt(c.snd_max_, wnd_edge) ? wnd_edge - c.snd_max_ : 0;
      new_allowed = std::min<uint32_t>(data_end - c.snd_max_, usable);
    }
    const NextSegment ns = c.sack_.next_seg(new_allowed);
    if (ns.kind == NextSegment::Kind::kNone)
      break;
    Seq seq = ns.seq;
    uint32_t len = ns.len;
    bool fin = false;
    if (ns.kind == NextSegment::Kind::kRetransmit) {
      // The hole may reach the FIN's sequence number.
      if (!seq_lt(seq, data_end)) {
        len = 0;
        fin = c.fin_sent_;
      } else {
        const uint32_t data_len = std::min<uint32_t>(len, data_end - seq);
        fin = c.fin_sent_ && data_len < len && seq + data_len == c.fin_seq_;
        len = data_len;
      }
      if (len == 0 && !fin)
        break;
      if (!send_segment(c, seq, len, fin))
        break;
      count(*this, Counter::sack_retransmits);
      sent(c, seq, len, fin);
      c.sack_.on_retransmit(seq, len + (fin ? 1 : 0));
    } else {
      len = std::min<uint32_t>(len, c.snd_mss_);
      fin = c.fin_queued_ && !c.fin_sent_ && seq + len == data_end;
      if (!send_segment(c, seq, len, fin))
        break;
      sent(c, seq, len, fin);
    }
    any = true;
  }
  return any;
}

} // namespace shoal::tcp
