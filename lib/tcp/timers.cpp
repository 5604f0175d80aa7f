// Connection timers on the shard's wheel: retransmission (SYN, SYN-ACK,
// data, FIN; RFC 6298), delayed ACK (RFC 5681 4.2), persist (RFC 9293
// 3.8.6.1; also TCP_CORK's ceiling), keepalive (RFC 1122 4.2.3.6), the
// FIN_WAIT_2 timeout and the user timeout (RFC 5482 semantics). TIME_WAIT
// expiry lives in time_wait_table.cpp.
#include <algorithm>

#include "tcp/engine_impl.hpp"

namespace shoal::tcp {

void Engine::Impl::timers_fired(void *ctx, timer::Timer &) {
  auto *c = static_cast<Connection *>(ctx);
  Impl &e = *c->eng_;
  e.now = e.wheel.now(); // the timer's own expiry: exact on the virtual clock
  // Each kind at most once per firing: a handler that re-arms its own kind
  // for "now" runs again at the next tick, never in a loop here.
  for (size_t i = 0; i < kConnTimerCount; ++i) {
    const std::optional<ConnTimer> due = c->timers_.take_due(e.wheel, e.now);
    if (!due)
      return;
    switch (*due) {
    case ConnTimer::retransmit:
      if (c->lingering_) {
        // A finished connection whose last unread byte was consumed (connection.cpp).
        e.end_lingering(*c, CloseReason::normal);
        return;
      }
      if (c->rack_timer_armed_)
        e.on_rack_timeout(*c);
      else if (c->tlp_pto_armed_ && c->tlp_restart_)
        e.restart_probe_timer(*c); // due again later, or now: the next round takes it
      else if (c->tlp_pto_armed_)
        e.on_probe_timeout(*c);
      else
        e.on_retransmit_timeout(*c);
      break;
    case ConnTimer::delayed_ack:
      e.on_delayed_ack_timeout(*c);
      break;
    case ConnTimer::persist:
      e.on_persist_timeout(*c);
      break;
    case ConnTimer::keepalive:
      e.on_keepalive_timeout(*c);
      break;
    case ConnTimer::fin_wait2:
      e.on_fin_wait2_timeout(*c);
      break;
    }
  }
  c->timers_.rearm(e.wheel);
}

Instant Engine::Impl::clamp_to_user_timeout(const Connection &c, Instant at) const {
  if (c.user_timeout() <= Duration::zero())
    return at;
  return std::min(at, c.una_since_ + c.user_timeout());
}

bool Engine::Impl::user_timeout_expired(Connection &c) {
  if (c.user_timeout() <= Duration::zero() || now - c.una_since_ < c.user_timeout())
    return false;
  // RFC 5482 / RFC 9293 3.8.3: data unacknowledged for longer than the user
  // timeout aborts the connection (a RST tells the peer, as for keepalive).
  count(*this, Counter::user_timeouts);
  send_rst(c);
  close_connection(c, CloseReason::timed_out);
  return true;
}

void Engine::Impl::arm_rtx(Connection &c) {
  c.tlp_pto_armed_ = false;
  c.tlp_restart_ = false;
  c.rack_timer_armed_ = false;
  if (in_state(c.state_, SYN_SENT | SYN_RECEIVED)) {
    c.timers_.schedule(wheel, ConnTimer::retransmit, now + handshake_rto(c));
    return;
  }
  // RFC 6298 5.1 / 5.3: the current RTO (back-off included), or a probe
  // timeout before it.
  const Instant rto_at = clamp_to_user_timeout(c, now + c.rtt_.rto());
  // RFC 8985 6.3: the reordering timer, when RACK waits for a segment to
  // become old enough to be lost and that comes before the RTO.
  if (const std::optional<Instant> r = rack_deadline(c); r && *r < rto_at) {
    c.rack_timer_armed_ = true;
    c.timers_.schedule(wheel, ConnTimer::retransmit, *r);
    return;
  }
  if (const std::optional<Instant> pto = probe_deadline(c, rto_at)) {
    c.tlp_pto_armed_ = true;
    c.timers_.schedule(wheel, ConnTimer::retransmit, *pto);
    return;
  }
  c.timers_.schedule(wheel, ConnTimer::retransmit, rto_at);
}

bool Engine::Impl::probe_allowed(const Connection &c) const {
  return cfg.tail_loss_probe && c.cc_started_ && !c.cc_.in_recovery() && !c.tlp_probing_ &&
         c.rtt_.has_sample() && c.rtt_.backoff_count() == 0 && c.rtx_count_ == 0 &&
         c.snd_una_ != c.snd_max_ && c.snd_nxt_ == c.snd_max_ &&
         !c.timers_.armed(ConnTimer::persist) &&
         in_state(c.state_, ESTABLISHED | CLOSE_WAIT | FIN_WAIT_1 | CLOSING | LAST_ACK);
}

std::optional<Instant> Engine::Impl::probe_deadline(const Connection &c, Instant rto_at) const {
  // RFC 8985 7.2: a probe timeout replaces the RTO while data is
  // outstanding, the connection is in neither fast recovery nor the RTO's
  // go-back-N (SND.NXT back below SND.MAX, or a backed-off timer), no probe
  // is outstanding already, and an RTT sample exists (without one, the RTO).
  // The RFC also leaves probing to RACK once ranges are SACKed; without
  // RACK, a SACKed range beyond the tail gets a probe too (it is at most
  // one segment, and it is the ACK it draws that shows the hole).
  if (!probe_allowed(c))
    return std::nullopt;
  // PTO = 2*SRTT; with one segment in flight the peer may hold its ACK for
  // its delayed-ACK time (RFC 8985 7.2's WCDelAckT, tlp_peer_delayed_ack).
  // Never later than the RTO would fire; at least two ticks of the timer
  // wheel.
  Duration pto = 2 * c.rtt_.srtt();
  if (static_cast<uint32_t>(c.snd_max_ - c.snd_una_) <= c.snd_mss_ + 1u)
    pto += cfg.tlp_peer_delayed_ack;
  pto = std::max(pto, 2 * rto_cfg.clock_granularity);
  // The RTO would fire `rto_at` from now on, or earlier: RFC 6298 5.1 / 5.3
  // started it when the oldest outstanding data began waiting (new data
  // sent meanwhile restarts the probe timer, not the RTO).
  const Instant cap = std::min(rto_at, clamp_to_user_timeout(c, c.una_since_ + c.rtt_.rto()));
  if (cap <= now)
    return std::nullopt; // the RTO is due: no probe in its place
  return std::min(now + pto, cap);
}

void Engine::Impl::restart_probe_timer(Connection &c) {
  // The probe timer armed before new data went: arm it as sent() would
  // have after the last of that data (its time is the RACK log's), with the
  // state then, which no ACK has changed since (an ACK arms it afresh).
  c.tlp_restart_ = false;
  const std::optional<Instant> last = c.sack_.rack_last_sent();
  const Instant fired = now;
  if (last && *last <= fired)
    now = *last;
  arm_rtx(c);
  now = fired;
}

bool Engine::Impl::rearm_rto_from_una(Connection &c) {
  // RFC 6298 5.1 / 5.3 started the RTO when the oldest outstanding data
  // began waiting (sent from idle, or SND.UNA last advanced).
  c.tlp_pto_armed_ = false;
  c.rack_timer_armed_ = false;
  const Instant rto_at = clamp_to_user_timeout(c, c.una_since_ + c.rtt_.rto());
  if (rto_at <= now)
    return false;
  c.timers_.schedule(wheel, ConnTimer::retransmit, rto_at);
  return true;
}

void Engine::Impl::on_probe_timeout(Connection &c) {
  // RFC 8985 7.3: the probe timer fired. Send one segment: new data if any
  // waits and the peer's window takes a segment of it (the congestion window
  // is not checked), else the highest-sequence segment again. Then the RTO
  // watches (at most one probe per episode).
  c.tlp_pto_armed_ = false;
  if (c.snd_una_ == c.snd_max_)
    return;
  if (!probe_allowed(c)) {
    // No longer a time to probe (defensive: what changes this re-arms the
    // timer): the RTO it stood in for watches again.
    if (!rearm_rto_from_una(c))
      on_retransmit_timeout(c);
    return;
  }
  if (user_timeout_expired(c))
    return;
  send_probe(c);
  if (c.dead_)
    return;
  if (!c.timers_.armed(ConnTimer::persist))
    arm_rtx(c);
}

void Engine::Impl::schedule_delayed_ack(Connection &c) {
  if (!c.timers_.armed(ConnTimer::delayed_ack))
    c.timers_.schedule(wheel, ConnTimer::delayed_ack, now + cfg.delayed_ack);
}

void Engine::Impl::on_delayed_ack_timeout(Connection &c) {
  if (c.dead_ || !in_state(c.state_, SYNCHRONIZED))
    return;
  if (c.rcv_nxt_ == c.last_ack_sent_ && !c.ack_pending_)
    return;
  count(*this, Counter::delayed_acks);
  send_ack(c);
}

void Engine::Impl::arm_persist(Connection &c) {
  // RFC 9293 3.8.6.1 / RFC 1122 4.2.2.17: probe a zero window; the interval
  // starts at the RTO and doubles per unanswered probe up to max_rto.
  if (c.persist_backoff_ == 0 && c.snd_una_ == c.snd_max_)
    c.una_since_ = now; // the user timeout counts from the first wait
  Duration d = c.rtt_.rto();
  for (int i = 0; i < c.persist_backoff_ && d < cfg.max_rto; ++i)
    d *= 2;
  d = std::min(d, cfg.max_rto);
  c.timers_.schedule(wheel, ConnTimer::persist, clamp_to_user_timeout(c, now + d));
}

void Engine::Impl::on_persist_timeout(Connection &c) {
  if (c.dead_ || !in_state(c.state_, ESTABLISHED | CLOSE_WAIT | FIN_WAIT_1 | CLOSING | LAST_ACK))
    return;
  const Seq data_end = c.sndq_seq_ + c.sndq_bytes_;
  if (!seq_lt(c.snd_una_, data_end))
    return; // nothing waits any more
  if (user_timeout_expired(c))
    return;
  const Seq wnd_edge = c.snd_una_ + c.snd_wnd_;
  const uint32_t usable = seq_lt(c.snd_nxt_, wnd_edge) ? wnd_edge - c.snd_nxt_ : 0;
  const uint32_t avail = seq_lt(c.snd_nxt_, data_end) ? data_end - c.snd_nxt_ : 0;
  if (usable > 0 && avail > 0) {
    // A window too small for SWS avoidance to use: RFC 9293 3.8.6.2.1's
    // override timeout sends what fits. Also TCP_CORK's ceiling: the
    // partial segment it held goes (output.cpp armed the timer for it).
    const uint32_t len = std::min({usable, avail, uint32_t{c.snd_mss_}});
    if (send_segment(c, c.snd_nxt_, len, false))
      sent(c, c.snd_nxt_, len, false);
    else
      arm_persist(c);
    return;
  }
  // Zero window: "the sending TCP must regularly transmit at least one octet
  // of new data (if available) ... even if the send window is zero" (RFC
  // 9293 3.8.6.1). The probe is the octet at SND.UNA; the ACK that rejects
  // it carries the current window. As long as the peer answers, the
  // connection stays (RFC 1122 4.2.2.17); only the user timeout ends it.
  count(*this, Counter::persist_probes);
  if (send_segment(c, c.snd_una_, 1, false)) {
    c.snd_nxt_ = c.snd_una_;
    sent(c, c.snd_una_, 1, false);
    // The persist timer, not the RTO, watches the probe.
    c.timers_.cancel(wheel, ConnTimer::retransmit);
  }
  ++c.persist_backoff_;
  arm_persist(c);
}

void Engine::Impl::on_retransmit_timeout(Connection &c) {
  switch (c.state_) {
  case State::syn_sent:
    // SYN back-off: initial_rto, doubling (1, 2, 4, 8, 16 s); after the last
    // retry the connect fails with timed_out.
    if (c.rtx_count_ >= cfg.syn_retries) {
      close_connection(c, unreachable_syns.contains(c.pool_index_) ? CloseReason::unreachable
                                                                   : CloseReason::timed_out);
      return;
    }
    ++c.rtx_count_;        // doubles the handshake RTO
    c.rtt_timing_ = false; // Karn: no RTT sample from a retransmitted SYN
    count(*this, Counter::retransmits);
    count(*this, Counter::syn_retransmits);
    send_syn(c);
    arm_rtx(c);
    return;
  case State::syn_received:
    if (c.rtx_count_ >= cfg.synack_retries) {
      // A half-open entry expires quietly (no application knows it yet); a
      // simultaneous open reports the timeout.
      if (c.passive_)
        count(*this, Counter::half_open_expired);
      close_connection(c, CloseReason::timed_out);
      return;
    }
    ++c.rtx_count_; // doubles the handshake RTO
    c.rtt_timing_ = false;
    count(*this, Counter::retransmits);
    count(*this, Counter::synack_retransmits);
    c.synack_rtx_at_ = now;
    send_syn(c);
    arm_rtx(c);
    return;
  default:
    break;
  }
  if (c.snd_una_ == c.snd_max_)
    return; // nothing outstanding
  if (user_timeout_expired(c))
    return;
  if (c.rtx_count_ >= cfg.data_retries) {
    close_connection(c, CloseReason::timed_out);
    return;
  }
  ++c.rtx_count_;
  count(*this, Counter::rtx_timeouts);
  c.tlp_probing_ = false; // the probe, if any, did not repair the loss in time
  // RFC 6298 5.5: back off the timer (the estimator caps it at max_rto).
  c.rtt_.on_retransmit_timeout();
  c.rtt_timing_ = false;
  // RFC 5681 3.1: ssthresh from the flight size, cwnd = 1 SMSS; RFC 6582
  // 3.2 step 4 / RFC 6675 5.1: record "recover", forget SACK state.
  if (c.cc_started_)
    c.cc_.retransmit_timeout(c.snd_max_, c.snd_max_ - c.snd_una_, now);
  c.sack_.on_retransmit_timeout();
  // Go back N (RFC 9293 3.8.1, RFC 5681 3.1): resend from the oldest
  // unacknowledged byte; the congestion window (now one segment) paces the
  // rest as ACKs return, so nothing is released in a burst.
  c.snd_nxt_ = c.snd_una_;
  output(c);
  if (c.dead_)
    return;
  if (!c.timers_.armed(ConnTimer::persist))
    arm_rtx(c);
}

void Engine::Impl::start_keepalive(Connection &c) {
  if (c.keepalive_on_ && in_state(c.state_, ESTABLISHED | CLOSE_WAIT | FIN_WAIT_2))
    c.timers_.schedule(wheel, ConnTimer::keepalive, c.last_rcv_ + c.ka_idle());
  else
    c.timers_.cancel(wheel, ConnTimer::keepalive);
}

void Engine::Impl::on_keepalive_timeout(Connection &c) {
  if (!c.keepalive_on_ || !in_state(c.state_, ESTABLISHED | CLOSE_WAIT | FIN_WAIT_2))
    return;
  if (c.ka_probes_sent_ == 0 && now < c.last_rcv_ + c.ka_idle()) {
    // Traffic since the timer was set: keep watching from the last segment.
    c.timers_.schedule(wheel, ConnTimer::keepalive, c.last_rcv_ + c.ka_idle());
    return;
  }
  if (c.snd_una_ != c.snd_max_ || c.snd_nxt_ != c.sndq_seq_ + c.sndq_bytes_) {
    // Data in flight or queued: the retransmission timer watches the peer.
    c.ka_probes_sent_ = 0;
    c.timers_.schedule(wheel, ConnTimer::keepalive, now + c.ka_idle());
    return;
  }
  if (c.ka_probes_sent_ >= c.timeouts().keepalive_probes) {
    // "the connection is considered broken" after the last unanswered probe.
    count(*this, Counter::keepalive_timeouts);
    send_rst(c);
    close_connection(c, CloseReason::timed_out);
    return;
  }
  send_keepalive_probe(c);
  ++c.ka_probes_sent_;
  c.timers_.schedule(wheel, ConnTimer::keepalive, now + c.ka_interval());
}

void Engine::Impl::start_fin_wait2(Connection &c) {
  // Only for connections the application has closed: after shutdown_write()
  // the application still reads, and the peer decides when to finish.
  if (c.app_closed_ && c.state_ == State::fin_wait_2)
    c.timers_.schedule(wheel, ConnTimer::fin_wait2, now + cfg.fin_wait2_timeout);
}

void Engine::Impl::on_fin_wait2_timeout(Connection &c) {
  if (c.state_ != State::fin_wait_2)
    return;
  count(*this, Counter::fin_wait2_timeouts);
  close_connection(c, CloseReason::timed_out);
}

} // namespace shoal::tcp
