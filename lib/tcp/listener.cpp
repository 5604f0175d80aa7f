// The LISTEN state (RFC 9293 3.10.7.2) and what defends it against SYN
// floods (RFC 4987):
//   - the SYN backlog: at most EngineConfig::syn_backlog half-open
//     (SYN_RECEIVED) entries per listener;
//   - SYN cookies (syn_cookie.hpp) once the backlog or the connection pool
//     is full: a stateless SYN-ACK, and a connection built only when the
//     final ACK returns a valid cookie — nothing is allocated per SYN;
//   - the consumed-cookie record (cookie_replay.hpp): a replayed cookie ACK
//     cannot rebuild a connection that has closed;
//   - the accept queue: completed handshakes waiting while the application
//     has paused accepting, bounded by EngineConfig::accept_backlog.
//
// What "accepted" means with the HandlerFactory model: the factory call is
// the accept(2). Normally it runs the moment the handshake completes, so
// nothing waits. An application that is saturated calls pause_accept()
// (possibly from inside the factory, returning nullptr): from then on
// completed connections wait in the accept queue until resume_accept(). A
// full accept queue drops SYNs and completing ACKs (accept_queue_drops), as
// Linux does; the peer's retransmissions bring them back once there is room.
#include "tcp/engine_impl.hpp"

namespace shoal::tcp {

using namespace wire::tcp_flags;
using Mode = EngineConfig::SynCookieMode;

// RFC 9293 3.10.7.2 LISTEN STATE, its four steps in order.
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
  // Except the third segment of a cookie handshake (RFC 4987 3.6): while
  // cookies may be outstanding, SEG.ACK - 1 is checked as one first.
  if (seg.has_ack()) {
    if (!seg.syn() && cookies_recently_sent(l) && cookie_ack_arrives(l, t, seg))
      return;
    reset_for(t, seg);
    return;
  }
  // "Third, check for a SYN."
  if (seg.syn()) {
    listen_syn_arrives(l, t, seg, iss_floor);
    return;
  }
  // "Fourth, other data or control: This should not be reached. Drop the
  //  segment and return."
  count(*this, Counter::drop_listen_bad_flags);
}

// The third step: a half-open entry in the SYN backlog, or a SYN cookie
// (RFC 4987 3.6) when the backlog (syn_cookies = when_full) or the
// connection pool is full, or always (syn_cookies = always). Every SYN not
// answered is counted once, by its cause.
void Engine::Impl::listen_syn_arrives(Listener &l, const FourTuple &t, Segment &seg,
                                      const Seq *iss_floor) {
  count(*this, Counter::syns_received);
  if (l.accept_queue_full(cfg.accept_backlog)) {
    // Linux drops SYNs while the accept queue is full (ListenOverflows):
    // completing more handshakes would only have them wait or be dropped.
    count(*this, Counter::accept_queue_drops);
    return;
  }
  const bool backlog_full = l.half_open >= cfg.syn_backlog;
  const bool cookie =
      cfg.syn_cookies == Mode::always || (cfg.syn_cookies == Mode::when_full && backlog_full);
  bool pool_full = false;
  if (!cookie) {
    if (backlog_full) {
      count(*this, Counter::syn_backlog_drops);
      return;
    }
    if (syn_backlog_entry(l, t, seg, iss_floor))
      return;
    // The connection pool is exhausted: memory pressure, the same answer
    // as a full backlog, if cookies may be sent at all.
    if (cfg.syn_cookies == Mode::off) {
      count(*this, Counter::drop_no_memory);
      return;
    }
    pool_full = true;
  }
  if (iss_floor != nullptr) {
    // RFC 6191 reuse of a TIME-WAIT tuple needs an ISS above the old
    // incarnation's sequence space, which a cookie cannot promise.
    count(*this, Counter::syn_time_wait_cookie_drops);
    return;
  }
  if (pool_full)
    count(*this, Counter::syn_cookies_pool_full);
  send_cookie_syn_ack(l, t, seg);
}

bool Engine::Impl::syn_backlog_entry(Listener &l, const FourTuple &t, Segment &seg,
                                     const Seq *iss_floor) {
  Connection *c = new_connection(t);
  if (c == nullptr)
    return false; // the caller counts the SYN
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
  // Nothing offered yet: the SYN-ACK's window sets the right edge (send_syn),
  // which only ever moves right from here (RFC 9293 3.8.6.2.2). Left at its
  // default, the edge would be wherever sequence number 0 falls.
  c->rcv_adv_ = c->rcv_nxt_;
  Seq iss{secret.isn(t, now)};
  if (iss_floor != nullptr && seq_lt(iss, *iss_floor))
    iss = *iss_floor; // RFC 6191: stay above the TIME_WAIT incarnation's sequence space
  c->iss_ = iss;
  c->snd_una_ = iss;
  c->snd_nxt_ = iss + 1;
  c->snd_max_ = c->snd_nxt_;
  c->sndq_seq_ = iss + 1;
  c->rcv_mss_ = announced_mss(l.options.max_segment);
  negotiate(*c, seg.h.options);
  if (c->ts_ok_)
    c->ts_recent_ = seg.h.options.timestamp->val;
  c->snd_wnd_ = seg.h.window; // RFC 7323 2.2: never scaled in a SYN
  c->max_snd_wnd_ = c->snd_wnd_;
  c->snd_wl1_ = seg.seq;
  c->snd_wl2_ = iss;
  // LISTEN -> SYN-RECEIVED for the new TCB (the listener itself stays).
  set_state(*c, State::syn_received, State::listen);
  count(*this, Counter::passive_opens);
  queue_syn_text(*c, seg);
  c->rtt_timing_ = true; // the SYN-ACK's round trip is the first RTT sample
  c->rtt_sent_ = now;
  send_syn(*c);
  arm_rtx(*c);
  return true;
}

// ---- SYN cookies (RFC 4987 3.6) ---------------------------------------------

bool Engine::Impl::cookies_recently_sent(const Listener &l) const {
  return l.last_cookie_sent && now - *l.last_cookie_sent < 2 * cookies.rotation();
}

void Engine::Impl::send_cookie_syn_ack(Listener &l, const FourTuple &t, const Segment &seg) {
  const wire::TcpOptions &peer = seg.h.options;
  // What the half-open entry would have negotiated, squeezed into the cookie.
  // Window scale and SACK-permitted can only travel in the TSval: without
  // timestamps they are not offered (the connection runs without them).
  CookieOptions opts;
  opts.timestamps = cfg.timestamps && peer.timestamp.has_value();
  if (opts.timestamps) {
    if (cfg.window_scaling && peer.window_scale)
      opts.snd_wscale = std::min<uint8_t>(*peer.window_scale, 14); // RFC 7323 2.3
    opts.sack_permitted = cfg.sack && peer.sack_permitted;
  }
  const uint8_t mss_index = SynCookies::mss_index(peer.mss);
  const uint32_t cookie = cookies.make(t, seg.seq.v, mss_index, opts, now);

  // <SEQ=cookie><ACK=SEG.SEQ+1><CTL=SYN,ACK>; text in the SYN is not
  // acknowledged (there is nowhere to keep it): the peer sends it again.
  wire::TcpRepr h;
  h.src_port = t.local_port;
  h.dst_port = t.remote_port;
  h.seq = cookie;
  h.ack = (seg.seq + 1).v;
  h.flags = SYN | ACK;
  h.window = static_cast<uint16_t>(std::min<uint32_t>(cfg.rcv_buf, 65535)); // RFC 7323 2.2
  h.options.mss = announced_mss(l.options.max_segment);
  if (opts.timestamps) {
    h.options.timestamp = wire::TcpTimestamp{
        SynCookies::encode_tsval(tsval(secret.ts_offset(t)), opts), peer.timestamp->val};
    if (opts.snd_wscale)
      h.options.window_scale = our_window_scale();
    h.options.sack_permitted = opts.sack_permitted;
  }
  l.last_cookie_sent = now;
  count(*this, Counter::syn_cookies_sent);
  transmit(t, h, nullptr, 0);
}

bool Engine::Impl::cookie_ack_arrives(Listener &l, const FourTuple &t, Segment &seg) {
  const uint32_t client_isn = (seg.seq - 1).v;
  const uint32_t cookie = (seg.ack - 1).v;
  CookieOptions opts;
  const auto &ts = seg.h.options.timestamp;
  if (cfg.timestamps && ts)
    opts = CookieOptions::from_ts_bits(ts->ecr & CookieOptions::kTsMask);
  const CookieCheck r = cookies.check(t, client_isn, cookie, opts, now);
  switch (r.verdict) {
  case CookieVerdict::ok:
    break;
  case CookieVerdict::stale:
    count(*this, Counter::syn_cookies_rejected_stale);
    return false;
  case CookieVerdict::bad_mss_index:
    count(*this, Counter::syn_cookies_rejected_bad_mss_index);
    return false;
  case CookieVerdict::bad_hash:
    count(*this, Counter::syn_cookies_rejected_bad_hash);
    return false;
  }
  if (consumed_cookies.contains(t, cookie, now)) {
    // This cookie already built a connection, which has since ended (a live
    // one or its TIME_WAIT record would have taken the segment).
    count(*this, Counter::syn_cookies_rejected_replay);
    return false;
  }
  if (l.accept_queue_full(cfg.accept_backlog)) {
    count(*this, Counter::accept_queue_drops);
    return true; // dropped: the peer retransmits, the cookie stays valid
  }
  Connection *c = new_connection(t);
  if (c == nullptr) {
    count(*this, Counter::drop_no_memory);
    return true;
  }
  if (consumed_cookies.insert(t, cookie, now))
    count(*this, Counter::syn_cookie_replay_evictions);
  count(*this, Counter::syn_cookies_validated);

  // The TCB the SYN would have created, from the cookie and the ACK.
  c->passive_ = true;
  c->syn_cookie_ = true;
  c->listener_port_ = l.port;
  c->irs_ = Seq{client_isn};
  c->rcv_nxt_ = seg.seq;
  c->iss_ = Seq{cookie};
  c->snd_una_ = c->iss_;
  c->snd_nxt_ = c->iss_ + 1;
  c->snd_max_ = c->snd_nxt_;
  c->sndq_seq_ = c->iss_ + 1;
  wire::TcpOptions peer;
  peer.mss = r.mss;
  if (opts.timestamps) {
    peer.timestamp = ts;
    peer.window_scale = opts.snd_wscale;
    peer.sack_permitted = opts.sack_permitted;
  }
  c->rcv_mss_ = announced_mss(l.options.max_segment);
  negotiate(*c, peer);
  if (c->ts_ok_)
    c->ts_recent_ = ts->val;
  // Our SYN-ACK acknowledged RCV.NXT and offered an unscaled window.
  c->last_ack_sent_ = c->rcv_nxt_;
  c->rcv_adv_ = c->rcv_nxt_ + std::min<uint32_t>(c->rcv_buf_, 65535);
  set_state(*c, State::syn_received, State::listen); // the listener stays in LISTEN
  // The ACK (and any text it carries) now takes the SYN-RECEIVED path to
  // ESTABLISHED and accept(), as segment_arrives would take it.
  segment_arrives(*c, seg);
  return true;
}

// ---- accepting ----------------------------------------------------------------

void Engine::Impl::accept_queue_push(Listener &l, Connection &c, bool front) {
  c.in_accept_queue_ = true;
  if (front) {
    c.accept_prev_ = nullptr;
    c.accept_next_ = l.accept_head;
    (l.accept_head ? l.accept_head->accept_prev_ : l.accept_tail) = &c;
    l.accept_head = &c;
  } else {
    c.accept_next_ = nullptr;
    c.accept_prev_ = l.accept_tail;
    (l.accept_tail ? l.accept_tail->accept_next_ : l.accept_head) = &c;
    l.accept_tail = &c;
  }
  l.accept_len++;
}

void Engine::Impl::accept_queue_remove(Connection &c) {
  if (!c.in_accept_queue_)
    return;
  auto it = listeners.find(c.listener_port_);
  if (it != listeners.end()) {
    Listener &l = it->second;
    (c.accept_prev_ ? c.accept_prev_->accept_next_ : l.accept_head) = c.accept_next_;
    (c.accept_next_ ? c.accept_next_->accept_prev_ : l.accept_tail) = c.accept_prev_;
    l.accept_len--;
  }
  c.accept_next_ = c.accept_prev_ = nullptr;
  c.in_accept_queue_ = false;
}

void Engine::Impl::accept(Connection &c) {
  auto it = listeners.find(c.listener_port_);
  if (c.half_open_) {
    if (it != listeners.end())
      it->second.half_open--;
    c.half_open_ = false;
  }
  if (it != listeners.end() && it->second.paused) {
    if (it->second.accept_len < cfg.accept_backlog) {
      accept_queue_push(it->second, c, false);
      return;
    }
    count(*this, Counter::accept_queue_drops);
    send_rst(c);
    close_connection(c, CloseReason::aborted);
    return;
  }
  offer_to_factory(c);
}

bool Engine::Impl::offer_to_factory(Connection &c) {
  const uint16_t port = c.listener_port_;
  ConnectionHandler *h = nullptr;
  if (auto it = listeners.find(port); it != listeners.end() && it->second.factory)
    h = it->second.factory(c);
  if (c.dead_)
    return true;
  if (h == nullptr) {
    // The factory may have paused accepting (and even unlistened): look again.
    auto it = listeners.find(port);
    if (it != listeners.end() && it->second.paused && it->second.accept_len < cfg.accept_backlog) {
      accept_queue_push(it->second, c, true);
      return false;
    }
    count(*this, Counter::accept_refused);
    send_rst(c);
    close_connection(c, CloseReason::aborted);
    return true;
  }
  c.handler_ = h;
  count(*this, Counter::accepted);
  h->on_connected(c);
  return true;
}

void Engine::Impl::pause_accept(uint16_t port) {
  if (auto it = listeners.find(port); it != listeners.end())
    it->second.paused = true;
}

void Engine::Impl::resume_accept(uint16_t port) {
  Entry guard(*this);
  auto it = listeners.find(port);
  if (it == listeners.end())
    return;
  it->second.paused = false;
  for (;;) {
    it = listeners.find(port); // a factory may unlisten
    if (it == listeners.end() || it->second.paused || it->second.accept_head == nullptr)
      break;
    Connection &c = *it->second.accept_head;
    accept_queue_remove(c);
    if (!offer_to_factory(c))
      break; // back in the queue: the application paused again
    if (c.dead_)
      continue;
    // What arrived while the connection waited, in the order it happened.
    if (c.readable() > 0 && c.handler_ != nullptr && !c.app_closed_)
      c.handler_->on_readable(c);
    if (!c.dead_ && c.fin_received_ && c.handler_ != nullptr && !c.app_closed_)
      c.handler_->on_peer_closed(c);
    if (c.dead_)
      continue;
    output(c);
    if (c.ack_pending_)
      send_ack(c);
  }
}

} // namespace shoal::tcp
