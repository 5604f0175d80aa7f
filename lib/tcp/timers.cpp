// Connection timers on the shard's wheel: retransmission (SYN, SYN-ACK,
// data, FIN), keepalive (RFC 1122 4.2.3.6) and the FIN_WAIT_2 timeout.
// TIME_WAIT expiry lives in time_wait_table.cpp.
#include <algorithm>

#include "tcp/engine_impl.hpp"

namespace shoal::tcp {

void Engine::Impl::rtx_fired(void *ctx, timer::Timer &) {
  auto *c = static_cast<Connection *>(ctx);
  Impl &e = *c->eng_;
  e.now = e.wheel.now(); // the timer's own expiry: exact on the virtual clock
  e.on_retransmit_timeout(*c);
}

void Engine::Impl::keepalive_fired(void *ctx, timer::Timer &) {
  auto *c = static_cast<Connection *>(ctx);
  Impl &e = *c->eng_;
  e.now = e.wheel.now();
  e.on_keepalive_timeout(*c);
}

void Engine::Impl::fin_wait2_fired(void *ctx, timer::Timer &) {
  auto *c = static_cast<Connection *>(ctx);
  Impl &e = *c->eng_;
  e.now = e.wheel.now();
  e.on_fin_wait2_timeout(*c);
}

void Engine::Impl::arm_rtx(Connection &c) {
  wheel.schedule(c.rtx_timer_, now + c.rto_);
}

void Engine::Impl::on_retransmit_timeout(Connection &c) {
  switch (c.state_) {
  case State::syn_sent:
    // SYN back-off: initial_rto, doubling (1, 2, 4, 8, 16 s); after the last
    // retry the connect fails with timed_out.
    if (c.rtx_count_ >= cfg.syn_retries) {
      close_connection(c, CloseReason::timed_out);
      return;
    }
    ++c.rtx_count_;
    c.rto_ *= 2;
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
    ++c.rtx_count_;
    c.rto_ *= 2;
    count(*this, Counter::retransmits);
    count(*this, Counter::synack_retransmits);
    send_syn(c);
    arm_rtx(c);
    return;
  default:
    break;
  }
  if (c.snd_una_ == c.snd_max_)
    return; // nothing outstanding
  if (c.rtx_count_ >= cfg.data_retries) {
    close_connection(c, CloseReason::timed_out);
    return;
  }
  ++c.rtx_count_;
  c.rto_ = std::min<Duration>(c.rto_ * 2, cfg.max_rto);
  // Go back to the oldest unacknowledged byte (RFC 9293 3.8.1) and send one
  // segment; the ACK that answers it clocks out the rest.
  c.snd_nxt_ = c.snd_una_;
  output(c, true);
  arm_rtx(c);
}

void Engine::Impl::start_keepalive(Connection &c) {
  if (c.keepalive_on_ && in_state(c.state_, ESTABLISHED | CLOSE_WAIT | FIN_WAIT_2))
    wheel.schedule(c.keepalive_timer_, c.last_rcv_ + c.ka_idle_);
  else
    wheel.cancel(c.keepalive_timer_);
}

void Engine::Impl::on_keepalive_timeout(Connection &c) {
  if (!c.keepalive_on_ || !in_state(c.state_, ESTABLISHED | CLOSE_WAIT | FIN_WAIT_2))
    return;
  if (c.ka_probes_sent_ == 0 && now < c.last_rcv_ + c.ka_idle_) {
    // Traffic since the timer was set: keep watching from the last segment.
    wheel.schedule(c.keepalive_timer_, c.last_rcv_ + c.ka_idle_);
    return;
  }
  if (c.snd_una_ != c.snd_max_ || c.snd_nxt_ != c.sndq_seq_ + c.sndq_bytes_) {
    // Data in flight or queued: the retransmission timer watches the peer.
    c.ka_probes_sent_ = 0;
    wheel.schedule(c.keepalive_timer_, now + c.ka_idle_);
    return;
  }
  if (c.ka_probes_sent_ >= c.ka_probes_) {
    // "the connection is considered broken" after the last unanswered probe.
    count(*this, Counter::keepalive_timeouts);
    send_rst(c);
    close_connection(c, CloseReason::timed_out);
    return;
  }
  send_keepalive_probe(c);
  ++c.ka_probes_sent_;
  wheel.schedule(c.keepalive_timer_, now + c.ka_interval_);
}

void Engine::Impl::start_fin_wait2(Connection &c) {
  // Only for connections the application has closed: after shutdown_write()
  // the application still reads, and the peer decides when to finish.
  if (c.app_closed_ && c.state_ == State::fin_wait_2)
    wheel.schedule(c.fin_wait2_timer_, now + cfg.fin_wait2_timeout);
}

void Engine::Impl::on_fin_wait2_timeout(Connection &c) {
  if (c.state_ != State::fin_wait_2)
    return;
  count(*this, Counter::fin_wait2_timeouts);
  close_connection(c, CloseReason::timed_out);
}

} // namespace shoal::tcp
