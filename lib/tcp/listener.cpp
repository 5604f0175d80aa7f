// The LISTEN state (RFC 9293 3.10.7.2): the SYN backlog of half-open
// connections and handing completed handshakes to the application.
#include "tcp/engine_impl.hpp"

namespace shoal::tcp {

void Engine::Impl::listen_arrives(Listener &l, const FourTuple &t, Segment &seg,
                                  const Seq *iss_floor) {
  // "First, check for a RST: An incoming RST segment could not be valid since
  //  it could not have been sent in response to anything sent by this
  //  incarnation of the connection. An incoming RST should be ignored."
  if (seg.rst()) {
    count(*this, Counter::drop_rst_no_conn);
    return;
  }
  // "Second, check for an ACK: Any acknowledgment is bad if it arrives on a
  //  connection still in the LISTEN state. An acceptable reset segment should
  //  be formed for any arriving ACK-bearing segment: <SEQ=SEG.ACK><CTL=RST>."
  // (When SYN cookies arrive, this is where a returning cookie is checked.)
  if (seg.has_ack()) {
    reset_for(t, seg);
    return;
  }
  // "Fifth, if neither of the SYN or RST bits is set, then drop the segment."
  if (!seg.syn()) {
    count(*this, Counter::drop_listen_bad_flags);
    return;
  }
  // "Third, check for a SYN."
  if (l.half_open >= cfg.syn_backlog) {
    // Backlog full. SYN cookies plug in here: answer with a stateless
    // SYN-ACK instead of dropping.
    count(*this, Counter::drop_syn_backlog_full);
    return;
  }
  Connection *c = new_connection(t);
  if (c == nullptr)
    return;
  c->passive_ = true;
  c->half_open_ = true;
  c->listener_port_ = l.port;
  l.half_open++;
  // "Set RCV.NXT to SEG.SEQ+1, IRS is set to SEG.SEQ, and any other control
  //  or text should be queued for processing later. ISS should be selected
  //  and a SYN segment sent of the form <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>.
  //  SND.NXT is set to ISS+1 and SND.UNA to ISS."
  // Text in the SYN is kept in the reassembly queue (not acknowledged by
  // the SYN-ACK) and delivered once the handshake completes.
  c->irs_ = seg.seq;
  c->rcv_nxt_ = seg.seq + 1;
  Seq iss{secret.isn(t, now)};
  if (iss_floor != nullptr && seq_lt(iss, *iss_floor))
    iss = *iss_floor; // RFC 6191: stay above the TIME_WAIT incarnation's sequence space
  c->iss_ = iss;
  c->snd_una_ = iss;
  c->snd_nxt_ = iss + 1;
  c->snd_max_ = c->snd_nxt_;
  c->sndq_seq_ = iss + 1;
  negotiate(*c, seg.h.options);
  if (c->ts_ok_)
    c->ts_recent_ = seg.h.options.timestamp->val;
  c->snd_wnd_ = seg.h.window; // RFC 7323 2.2: never scaled in a SYN
  c->max_snd_wnd_ = c->snd_wnd_;
  c->snd_wl1_ = seg.seq;
  c->snd_wl2_ = iss;
  // LISTEN -> SYN-RECEIVED for the new TCB (the listener itself stays).
  c->state_ = State::syn_received;
  counters.transitions[static_cast<int>(State::listen)][static_cast<int>(State::syn_received)]++;
  counters.in_state[static_cast<int>(State::syn_received)]++;
  count(*this, Counter::passive_opens);
  queue_syn_text(*c, seg);
  c->rtt_timing_ = true; // the SYN-ACK's round trip is the first RTT sample
  c->rtt_sent_ = now;
  send_syn(*c);
  arm_rtx(*c);
}

void Engine::Impl::accept(Connection &c) {
  auto it = listeners.find(c.listener_port_);
  if (c.half_open_) {
    if (it != listeners.end())
      it->second.half_open--;
    c.half_open_ = false;
  }
  ConnectionHandler *h = nullptr;
  if (it != listeners.end() && it->second.factory)
    h = it->second.factory(c);
  if (c.dead_)
    return;
  if (h == nullptr) {
    count(*this, Counter::accept_refused);
    send_rst(c);
    close_connection(c, CloseReason::aborted);
    return;
  }
  c.handler_ = h;
  count(*this, Counter::accepted);
  h->on_connected(c);
}

} // namespace shoal::tcp
