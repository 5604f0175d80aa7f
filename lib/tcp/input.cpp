// Segment input: RFC 9293 3.10.7 "SEGMENT ARRIVES", step by step.
//
// Each step below is labelled with its number and the RFC's own words so the
// code can be read side by side with RFC 9293 3.10.7.3 (SYN-SENT) and
// 3.10.7.4 (other states), plus RFC 5961 (blind RST/SYN/data injection) and
// RFC 7323 (PAWS, TS.Recent). LISTEN is in listener.cpp, CLOSED in rst.cpp,
// TIME-WAIT records in time_wait.cpp.
//
// The text of a segment (reassembly, delayed ACK) is handled in
// receive.cpp, what an ACK means for RTT, congestion control and loss
// recovery in congestion.cpp. Not here: urgent data (RFC 6093).
#include <algorithm>
#include <utility>

#include <rte_ip.h>

#include "tcp/engine_impl.hpp"

namespace shoal::tcp {

using namespace wire::tcp_flags;

namespace {

// Software TCP checksum over a (possibly multi-segment) datagram.
bool tcp_checksum_ok(PacketBuf m, const wire::Ipv4Repr &ip, uint32_t l4_off, uint32_t l4_len) {
  uint16_t raw = 0;
  if (!m.raw_checksum(l4_off, l4_len, raw))
    return false;
  rte_ipv4_hdr ph{};
  ph.version_ihl = 0x45;
  ph.next_proto_id = IPPROTO_TCP;
  ph.total_length = rte_cpu_to_be_16(static_cast<uint16_t>(20 + l4_len));
  ph.src_addr = ip.src.to_be();
  ph.dst_addr = ip.dst.to_be();
  uint32_t sum = uint32_t{raw} + rte_ipv4_phdr_cksum(&ph, 0);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return sum == 0xffff;
}

void count_in(Engine::Impl &e, const Segment &seg) {
  count(e, Counter::segs_in);
  if (seg.syn())
    count(e, Counter::segs_in_syn);
  if (seg.fin())
    count(e, Counter::segs_in_fin);
  if (seg.rst())
    count(e, Counter::segs_in_rst);
  if (seg.len > 0)
    count(e, Counter::segs_in_data);
}

} // namespace

void Engine::Impl::input(PacketBuf m, const wire::Ipv4Repr &ip, RxChecksum rx, Instant t) {
  Entry guard(*this);
  now = std::max(now, t);

  auto drop = [&](Counter why) {
    count(*this, why);
    m.free();
  };
  if (ip.protocol != wire::kIpProtoTcp || ip.is_fragment())
    return drop(Counter::drop_bad_ip);
  if (!cfg.local_address.is_unspecified() && ip.dst != cfg.local_address)
    return drop(Counter::drop_not_for_us);
  // RFC 1122 4.2.3.10: segments from or to broadcast/multicast are not TCP's.
  if (ip.src.is_unspecified() || ip.src.is_broadcast() || ip.src.is_multicast() ||
      ip.dst.is_broadcast() || ip.dst.is_multicast())
    return drop(Counter::drop_bad_addr);

  const uint32_t l4_off = ip.header_len, l4_len = ip.payload_len;
  if (l4_len < wire::kTcpMinHeaderLen || m.length() < l4_off + l4_len)
    return drop(Counter::drop_malformed);

  if (rx.l4 == ChecksumStatus::bad)
    return drop(Counter::drop_bad_checksum);
  if (rx.l4 != ChecksumStatus::good && !tcp_checksum_ok(m, ip, l4_off, l4_len))
    return drop(Counter::drop_bad_checksum);

  // The header (with options) may straddle segments: read() copies it out
  // only then. The fixed part first, then exactly the data offset's
  // length: reading a fixed 60 bytes would run into the payload, which a
  // chained segment (header mbuf + send-ring piece) keeps in its second
  // mbuf, and copy it out on every segment.
  uint8_t hdr_copy[wire::kTcpMaxHeaderLen];
  const uint8_t *hdr = m.read(l4_off, wire::kTcpMinHeaderLen, hdr_copy);
  if (hdr == nullptr)
    return drop(Counter::drop_malformed);
  // Out-of-range offsets (under 20, past the segment) are left to parse_tcp.
  const uint32_t doff = uint32_t{static_cast<uint8_t>(hdr[wire::tcp_field::kDataOffset] >> 4)} * 4;
  const uint32_t hdr_span = std::clamp<uint32_t>(
      doff, wire::kTcpMinHeaderLen, std::min<uint32_t>(l4_len, wire::kTcpMaxHeaderLen));
  if (hdr_span > wire::kTcpMinHeaderLen)
    hdr = m.read(l4_off, hdr_span, hdr_copy);
  Segment seg;
  if (hdr == nullptr ||
      wire::parse_tcp({hdr, hdr_span}, ip.src, ip.dst, false, seg.h) != wire::ParseError::ok)
    return drop(Counter::drop_malformed);
  if (seg.h.src_port == 0 || seg.h.dst_port == 0)
    return drop(Counter::drop_bad_addr);

  seg.seq = Seq{seg.h.seq};
  seg.ack = Seq{seg.h.ack};
  seg.len = l4_len - seg.h.header_len;
  if (seg.len > 0) {
    m = m.trim_front(l4_off + seg.h.header_len);
    m.trim_back(seg.len); // Ethernet padding, if any
    seg.data = m;
  } else {
    m.free();
  }
  m = nullptr;
  count_in(*this, seg);

  const FourTuple tuple{ip.dst, ip.src, seg.h.dst_port, seg.h.src_port};
#if SHOAL_DROP_TRACE
  // The drop trace names this segment's tuple until input returns.
  struct TupleNote {
    Counters &k;
    const FourTuple *before;
    ~TupleNote() { k.drop_tuple = before; }
  } note{counters, std::exchange(counters.drop_tuple, &tuple)};
#endif
  if (Connection *c = find_connection(tuple))
    return segment_arrives(*c, seg);
  if (TimeWaitRecord *r = time_wait.find(tuple))
    return time_wait_arrives(*r, tuple, seg);
  if (auto it = listeners.find(tuple.local_port); it != listeners.end())
    return listen_arrives(it->second, tuple, seg, nullptr);
  reset_for(tuple, seg);
}

void Engine::Impl::segment_arrives(Connection &c, Segment &seg) {
  if (c.state_ == State::syn_sent)
    syn_sent_arrives(c, seg);
  else
    synchronized_arrives(c, seg);
  // A D-SACK not sent with this segment's ACK is not sent at all (RFC 2883
  // 4: it reports the segment that triggered the ACK).
  dsack.conn = nullptr;
}

// ---- RFC 9293 3.10.7.3: SYN-SENT STATE --------------------------------------

void Engine::Impl::syn_sent_arrives(Connection &c, Segment &seg) {
  // "First, check the ACK bit. If the ACK bit is set:
  //   If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset (unless the RST
  //   bit is set, if so drop the segment and return) <SEQ=SEG.ACK><CTL=RST>
  //   and discard the segment. Return."
  const bool ack_acceptable =
      seg.has_ack() && seq_lt(c.snd_una_, seg.ack) && seq_le(seg.ack, c.snd_max_);
  if (seg.has_ack() && !ack_acceptable) {
    count(*this, Counter::drop_syn_sent_bad_ack);
    if (!seg.rst())
      reset_for(c.tuple_, seg);
    return;
  }
  // "Second, check the RST bit. If the RST bit is set: If the ACK was
  //  acceptable, then signal to the user 'error: connection reset', drop the
  //  segment, enter CLOSED state, delete TCB, and return. Otherwise (no ACK),
  //  drop the segment and return." (RFC 5961 3.2: only with an acceptable ACK.)
  if (seg.rst()) {
    if (ack_acceptable)
      close_connection(c, CloseReason::refused);
    else
      count(*this, Counter::drop_rst_no_conn);
    return;
  }
  // "Third, check the security" — not implemented (no IP security options).

  // "Fourth, check the SYN bit."
  if (!seg.syn()) {
    // "Fifth, if neither of the SYN or RST bits is set, then drop the segment and return."
    count(*this, Counter::drop_syn_sent_no_syn);
    return;
  }
  // "RCV.NXT is set to SEG.SEQ+1, IRS is set to SEG.SEQ."
  c.irs_ = seg.seq;
  c.rcv_nxt_ = seg.seq + 1;
  c.rcv_adv_ = c.rcv_nxt_ + std::min<uint32_t>(c.rcv_buf_, 65535);
  negotiate(c, seg.h.options);
  if (c.ts_ok_)
    c.ts_recent_ = seg.h.options.timestamp->val;
  // RFC 7323 2.2: the window field of a SYN is never scaled.
  c.snd_wnd_ = seg.h.window;
  c.max_snd_wnd_ = std::max(c.max_snd_wnd_, c.snd_wnd_);
  c.snd_wl1_ = seg.seq;
  c.snd_wl2_ = seg.ack;

  if (ack_acceptable) {
    // "SND.UNA should be advanced to equal SEG.ACK ... If SND.UNA > ISS (our
    //  SYN has been ACKed), change the connection state to ESTABLISHED, form
    //  an ACK segment <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and send it."
    c.snd_una_ = seg.ack;
    c.timers_.cancel(wheel, ConnTimer::retransmit);
    note_activity(c);
    set_state(c, State::established);
    count(*this, Counter::connects_established);
    established(c);
    c.ack_pending_ = true;
    if (!c.app_closed_ && c.handler_ != nullptr)
      c.handler_->on_connected(c);
    if (c.dead_)
      return;
    // "If there are other controls or text in the segment, then continue
    //  processing at the sixth step below where the URG bit is checked."
    // The ACK owed (ack_pending_) goes out at the end of that processing, so
    // one segment acknowledges the SYN and the text or FIN with it.
    if (seg.len > 0 || seg.fin()) {
      seg.h.flags = static_cast<uint8_t>(seg.h.flags & ~SYN);
      seg.seq = seg.seq + 1;
      synchronized_arrives(c, seg);
      if (!c.dead_ && c.state_ != State::closed && c.ack_pending_)
        send_ack(c);
      return;
    }
    // "Data or controls that were queued for transmission may be included."
    output(c);
    if (c.ack_pending_)
      send_ack(c);
    return;
  }
  // "Otherwise, enter SYN-RECEIVED, form a SYN,ACK segment
  //  <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> and send it. ... If there are
  //  other controls or text in the segment, queue them for processing after
  //  the ESTABLISHED state has been reached" (simultaneous open). The text
  //  waits as a passive open's SYN text does; a FIN is not queued (the peer
  //  retransmits it).
  queue_syn_text(c, seg);
  set_state(c, State::syn_received);
  c.rtt_timing_ = false; // the handshake's round trip is no longer one exchange
  c.rtx_count_ = 0;
  send_syn(c);
  arm_rtx(c);
}

// ---- RFC 9293 3.10.7.4: SYN-RECEIVED and the synchronized states ------------

// "First, check sequence number": the acceptability test of RFC 9293
// 3.10.7.4, with RFC 7323 5.3's PAWS test ahead of it. One test for
// connections (check_sequence_number) and TIME_WAIT records
// (time_wait.cpp), each passing its receive window [RCV.NXT, RCV.NXT+RCV.WND)
// and, when timestamps are in use, its TS.Recent.
//
// PAWS (RFC 7323 5.3 R1): "If there is a Timestamps option in the arriving
// segment, SEG.TSval < TS.Recent, TS.Recent is valid ..., and if the RST
// bit is not set, then treat the arriving segment as not acceptable." A SYN
// is exempt too: its TSval starts a new clock (a connection answers it with
// a challenge ACK whatever its sequence number, a TIME_WAIT record either
// way with an ACK).
//
// The sequence test, the RFC's four cases:
//   Segment Length  Receive Window  Test
//   0               0               SEG.SEQ = RCV.NXT
//   0               >0              RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND
//   >0              0               not acceptable
//   >0              >0              RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND
//                                or RCV.NXT =< SEG.SEQ+SEG.LEN-1 < RCV.NXT+RCV.WND
// with one allowance, as BSD and Linux make it: a segment without text may
// sit exactly at the right edge (SEG.SEQ = RCV.NXT+RCV.WND). A peer that
// filled our window sends its ACKs with SEQ = its SND.NXT = our right edge;
// while any of that data is still missing here (RCV.NXT below the edge),
// the strict test would refuse every one of those ACKs and so the
// acknowledgments they carry for our own data. A RST gets no allowance:
// RFC 5961 3.2 drops it silently unless it lies inside the window.
Acceptability segment_acceptable(const Segment &seg, Seq rcv_nxt, uint32_t rcv_wnd,
                                 const uint32_t *ts_recent) {
  const auto &ts = seg.h.options.timestamp;
  if (ts_recent != nullptr && ts && !seg.rst() && !seg.syn() && ts_lt(ts->val, *ts_recent))
    return Acceptability::paws;
  const uint32_t len = seg.seg_len();
  bool ok;
  if (len == 0)
    ok = rcv_wnd == 0 ? seg.seq == rcv_nxt
                      : seq_in_window(seg.seq, rcv_nxt, seg.rst() ? rcv_wnd : rcv_wnd + 1);
  else
    ok = rcv_wnd != 0 && (seq_in_window(seg.seq, rcv_nxt, rcv_wnd) ||
                          seq_in_window(seg.seq + (len - 1), rcv_nxt, rcv_wnd));
  return ok ? Acceptability::acceptable : Acceptability::outside_window;
}

Acceptability Engine::Impl::segment_acceptable(const Connection &c, const Segment &seg) const {
  const uint32_t wnd = seq_gt(c.rcv_adv_, c.rcv_nxt_) ? c.rcv_adv_ - c.rcv_nxt_ : 0;
  return tcp::segment_acceptable(seg, c.rcv_nxt_, wnd, c.ts_ok_ ? &c.ts_recent_ : nullptr);
}

// RFC 9293 3.10.7.4 asks for an ACK in reply to every unacceptable segment,
// which lets anyone who knows a 4-tuple make us send one segment for each
// forged one. Like Linux (tcp_oow_rate_limited), those answers are limited
// per connection, and here also by the engine-wide RFC 5961 7 budget. What
// a real peer needs answered is exempt, because a blind attacker cannot hit
// it without guessing RCV.NXT to within a window:
//   - text or a FIN that ends at or just below RCV.NXT (a retransmission
//     whose ACK was lost: the peer's SND.UNA is stuck until we answer),
//   - a zero-window probe (SEG.SEQ = RCV.NXT, RFC 9293 3.8.6.1),
//   - a keepalive probe (SEG.SEQ = RCV.NXT-1, RFC 9293 3.8.4).
bool Engine::Impl::answer_unacceptable(Connection &c, const Segment &seg) {
  bool needed = seg.seq == c.rcv_nxt_ || seg.seq == c.rcv_nxt_ - 1;
  if (!needed && seg.seg_len() > 0) {
    // Old bytes lie within what we could have acknowledged: at most one
    // receive buffer (or an unscaled window) below RCV.NXT.
    const uint32_t span = std::max<uint32_t>(c.rcv_buf_, 65535);
    const Seq end = seg.seq + seg.seg_len();
    needed = seq_le(end, c.rcv_nxt_) && seq_le(c.rcv_nxt_ - span, seg.seq);
  }
  if (!needed) {
    const Duration every = cfg.unacceptable_ack_interval;
    if ((every > Duration::zero() && c.last_unacceptable_ack_ != Connection::kNever &&
         now - c.last_unacceptable_ack_ < every) ||
        !challenge_limit.take(now, cfg.challenge_ack_limit_per_s)) {
      count(*this, Counter::drop_unacceptable_limited);
      return false;
    }
    c.last_unacceptable_ack_ = now;
  }
  // Old text (RFC 2883 4.1.1: a retransmission whose ACK was lost, or a
  // segment the network duplicated; also one PAWS refused) is reported in
  // a D-SACK block: the part below RCV.NXT.
  if (seg.len > 0 && seq_lt(seg.seq, c.rcv_nxt_))
    note_duplicate(c, seg.seq, seq_min(seg.seq + seg.len, c.rcv_nxt_));
  send_ack(c);
  return true;
}

// "If a segment's contents straddle the boundary between old and new, only
//  the new parts are processed" and segments are trimmed to the window.
void Engine::Impl::trim_to_window(Connection &c, Segment &seg) {
  if (seq_lt(seg.seq, c.rcv_nxt_)) {
    uint32_t dup = c.rcv_nxt_ - seg.seq;
    if (seg.len > 0) {
      count(*this, Counter::dup_data_in);
      note_duplicate(c, seg.seq, seg.seq + std::min(dup, seg.len));
    }
    if (dup >= seg.len) {
      // All the text is old; a FIN just past it is old too if dup > len.
      if (dup > seg.len)
        seg.h.flags = static_cast<uint8_t>(seg.h.flags & ~FIN);
      seg.drop_payload();
      seg.seq = c.rcv_nxt_;
    } else {
      seg.data = seg.data.trim_front(dup);
      seg.len -= dup;
      seg.seq = c.rcv_nxt_;
    }
  }
  const uint32_t wnd = seq_gt(c.rcv_adv_, c.rcv_nxt_) ? c.rcv_adv_ - c.rcv_nxt_ : 0;
  const Seq right = c.rcv_nxt_ + wnd;
  if (seq_gt(seg.seq + seg.len, right)) {
    uint32_t keep = seq_lt(seg.seq, right) ? right - seg.seq : 0;
    if (keep == 0)
      seg.drop_payload();
    else {
      seg.data.trim_back(keep);
      seg.len = keep;
    }
    seg.h.flags = static_cast<uint8_t>(seg.h.flags & ~FIN); // the FIN lies beyond the window
  }
}

void Engine::Impl::note_activity(Connection &c) {
  c.last_rcv_ = now;
  if (c.ka_probes_sent_ > 0) {
    // RFC 1122 4.2.3.6: the peer answered a probe; back to idle watching.
    c.ka_probes_sent_ = 0;
    if (c.keepalive_on_)
      c.timers_.schedule(wheel, ConnTimer::keepalive, now + c.ka_idle());
  }
}

void Engine::Impl::update_send_window(Connection &c, const Segment &seg) {
  // "If SND.UNA =< SEG.ACK =< SND.NXT, the send window should be updated.
  //  If (SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK)),
  //  set SND.WND <- SEG.WND, set SND.WL1 <- SEG.SEQ, and set SND.WL2 <- SEG.ACK."
  if (!(seq_le(c.snd_una_, seg.ack) && seq_le(seg.ack, c.snd_max_)))
    return;
  if (seq_lt(c.snd_wl1_, seg.seq) || (c.snd_wl1_ == seg.seq && seq_le(c.snd_wl2_, seg.ack))) {
    c.snd_wnd_ = uint32_t{seg.h.window} << c.snd_wscale_;
    c.max_snd_wnd_ = std::max(c.max_snd_wnd_, c.snd_wnd_);
    c.snd_wl1_ = seg.seq;
    c.snd_wl2_ = seg.ack;
    // The window reopened: stop probing; output() re-arms the persist timer
    // if the new window is still too small to use.
    if (c.snd_wnd_ > 0 && c.timers_.armed(ConnTimer::persist)) {
      c.timers_.cancel(wheel, ConnTimer::persist);
      c.persist_backoff_ = 0;
      // An unacknowledged probe octet is sent again as part of the data.
      if (!c.timers_.armed(ConnTimer::retransmit))
        c.snd_nxt_ = c.snd_una_;
    }
  }
}

// "fifth, check the ACK field" for ESTABLISHED and the states that share its
// processing. Returns through acked_our_fin whether SND.UNA passed our FIN.
void Engine::Impl::process_ack(Connection &c, Segment &seg, bool &acked_our_fin) {
  acked_our_fin = false;
  if (seq_lt(c.snd_una_, seg.ack)) {
    // "If SND.UNA < SEG.ACK =< SND.NXT, then set SND.UNA <- SEG.ACK. Any
    //  segments on the retransmission queue that are thereby entirely
    //  acknowledged are removed."
    const uint32_t acked = seg.ack - c.snd_una_;
    rtt_from_ack(c, seg);
    ack_send_queue(c, seg.ack);
    c.snd_una_ = seg.ack;
    if (seq_lt(c.snd_nxt_, c.snd_una_))
      c.snd_nxt_ = c.snd_una_;
    c.rtx_count_ = 0;
    c.una_since_ = now;
    on_new_ack(c, seg, acked);
    if (c.dead_)
      return;
    // RFC 6298 5.2 / 5.3: all acknowledged -> stop the timer; else restart it.
    if (c.snd_una_ == c.snd_max_)
      c.timers_.cancel(wheel, ConnTimer::retransmit);
    else if (!c.timers_.armed(ConnTimer::persist))
      arm_rtx(c);
    acked_our_fin = c.fin_sent_ && seq_gt(c.snd_una_, c.fin_seq_);
  } else if (seg.ack == c.snd_una_) {
    // RFC 5681 2 DUPLICATE ACKNOWLEDGMENT: (a) data outstanding, (b) no data,
    // (c) SYN and FIN off, (d) SEG.ACK = SND.UNA, (e) the advertised window
    // unchanged. Answers to zero-window probes are not (the window is 0).
    const bool dup = c.snd_una_ != c.snd_max_ && seg.len == 0 && !seg.fin() &&
                     (uint32_t{seg.h.window} << c.snd_wscale_) == c.snd_wnd_ && c.snd_wnd_ != 0 &&
                     !c.timers_.armed(ConnTimer::persist);
    if (dup)
      on_duplicate_ack(c, seg);
    else if (c.sack_ok_ && seg.h.options.sack_count > 0) {
      SackBlock blocks[wire::kTcpMaxSackBlocks];
      const uint32_t n = parse_sack(c, seg, blocks);
      if (cfg.rack)
        c.sack_.rack_on_ack(seg.ack, {blocks, n}, now);
      c.sack_.update(seg.ack, {blocks, n});
      rack_detect_loss(c);
      rack_arm_after_dup_ack(c);
    }
    if (c.dead_)
      return;
  }
  update_send_window(c, seg);
}

void Engine::Impl::established(Connection &c) {
  // RFC 6298 2.2 / 5.7: the handshake's round trip is the first RTT sample
  // when neither SYN nor SYN-ACK was retransmitted (Karn); otherwise the
  // RTO for data starts at 3 s.
  if (c.rtt_timing_)
    rtt_sample_taken(c, now - c.rtt_sent_);
  else if (!c.syn_cookie_) // a cookie handshake was not timed, but nothing was lost
    c.rtt_.on_handshake_retransmitted();
  c.rtt_timing_ = false;
  c.rtx_count_ = 0;
  start_congestion_control(c);
  start_keepalive(c);
  // A close()/shutdown_write() issued before the handshake completed:
  // "queue for processing after entering ESTABLISHED state" (3.10.4).
  if (c.fin_queued_)
    set_state(c, State::fin_wait_1);
}

// RFC 9293 3.10.7.4 for SYN-RECEIVED, ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2,
// CLOSE-WAIT, CLOSING and LAST-ACK: the RFC's steps in its order, one
// function each. A step returns false when it has finished with the segment
// (dropped it, answered it, or ended the connection): the steps after it do
// not run.
void Engine::Impl::synchronized_arrives(Connection &c, Segment &seg) {
  if (!check_sequence_number(c, seg)) // first
    return;
  if (!check_rst(c, seg)) // second
    return;
  // Third, check security: nothing to check (no IP security or compartment
  // options are used).
  if (!check_syn(c, seg)) // fourth
    return;
  Arrival a;
  if (!check_ack(c, seg, a)) // fifth
    return;
  // Sixth, check the URG bit: nothing to do. Urgent data is not supported
  // (RFC 6093 advises against its use); the pointer is ignored.
  if (!process_text(c, seg, a)) // seventh
    return;
  check_fin(c, seg, a); // eighth
  after_arrival(c, a);
}

// "First, check sequence number ... If an incoming segment is not
//  acceptable, an acknowledgment should be sent in reply (unless the RST bit
//  is set, if so drop the segment and return)." PAWS (RFC 7323 5.3) first:
//  "Send an acknowledgment in reply as specified in RFC 793 page 69 and
//  drop the segment."
bool Engine::Impl::check_sequence_number(Connection &c, Segment &seg) {
  // Out of the RFC's order: a SYN (without RST) skips this step for the
  // fourth, whose challenge ACK is rate-limited (RFC 5961 4.2 and 7); an
  // answer from this step would give one ACK per blind out-of-window SYN.
  if (seg.syn() && !seg.rst())
    return true;
  switch (segment_acceptable(c, seg)) {
  case Acceptability::acceptable:
    return true;
  case Acceptability::paws:
    count(*this, Counter::drop_paws);
    answer_unacceptable(c, seg);
    return false;
  case Acceptability::outside_window:
    break;
  }
  if (seg.rst()) {
    count(*this, Counter::drop_rst_out_of_window);
    return false;
  }
  // A retransmission of data we already acknowledged (our ACK was lost)
  // passes RFC 7323 4.3's rule (2) -- SEG.TSval >= TS.Recent (PAWS above)
  // and SEG.SEQ =< Last.ACK.sent -- so its TSval becomes TS.Recent and the
  // ACK below echoes it. Echoing the last in-window segment's TSval instead,
  // from before the peer's timeout, would hand the peer an "RTT" as long as
  // its whole back-off (RFC 7323 4.1: the sample is taken from this ACK,
  // which advances its SND.UNA).
  const auto &ts = seg.h.options.timestamp;
  if (c.ts_ok_ && ts && seq_lt(seg.seq, c.rcv_nxt_) && seq_le(seg.seq, c.last_ack_sent_))
    c.ts_recent_ = ts->val;
  if (answer_unacceptable(c, seg))
    count(*this, Counter::drop_unacceptable);
  return false;
}

// "Second, check the RST bit" (RFC 5961 3.2): "If the RST bit is set and
//  the sequence number exactly matches the next expected sequence number
//  (RCV.NXT), then TCP MUST reset the connection ... Otherwise (the
//  sequence number does not exactly match RCV.NXT but is within the
//  window), TCP MUST send an acknowledgment (challenge ACK)."
bool Engine::Impl::check_rst(Connection &c, const Segment &seg) {
  if (!seg.rst())
    return true;
  if (seg.seq != c.rcv_nxt_) {
    send_challenge_ack(c);
    return false;
  }
  // SYN-RECEIVED from a passive OPEN: "return this connection to LISTEN
  // state" — the half-open entry simply goes away. From an active OPEN
  // (simultaneous open): "the connection was refused". CLOSING, LAST-ACK
  // (TIME-WAIT is a record, time_wait.cpp): "enter the CLOSED state,
  // delete the TCB, and return" — no "connection reset" signal: both FINs
  // were exchanged and the whole stream delivered, so the close is
  // normal (typically the peer's TIME-WAIT ended before our FIN's
  // retransmission got through).
  CloseReason why = CloseReason::reset;
  if (c.state_ == State::syn_received)
    why = CloseReason::refused;
  else if (in_state(c.state_, CLOSING | LAST_ACK))
    why = CloseReason::normal;
  close_connection(c, why);
  return false;
}

// "Fourth, check the SYN bit" (RFC 5961 4.2): "If the SYN bit is set,
//  irrespective of the sequence number, TCP MUST send an ACK (also referred
//  to as challenge ACK) to the remote peer ... and drop." The challenge ACK
//  is rate-limited (RFC 5961 7). A SYN with RST went as a RST in the second
//  step.
bool Engine::Impl::check_syn(Connection &c, const Segment &seg) {
  if (!seg.syn())
    return true;
  // A retransmitted SYN in SYN-RECEIVED means our SYN-ACK was lost: send it
  // again (a challenge ACK would be a bare ACK, which a peer in SYN-SENT
  // drops). One SYN-ACK per event: if the retransmission timer resent it
  // at this very instant, that one already answers this SYN; otherwise this
  // answer takes the timer's place and the timer restarts. Either way a SYN
  // that arrives as the timer fires never produces two identical SYN-ACKs.
  if (c.state_ == State::syn_received && !seg.has_ack() && seg.seq == c.irs_) {
    c.rtt_timing_ = false; // Karn: the handshake's RTT is now ambiguous
    if (c.synack_rtx_at_ == now && c.rtx_count_ > 0) {
      count(*this, Counter::synack_dup_syn_suppressed);
      return false;
    }
    count(*this, Counter::synack_retransmits);
    send_syn(c);
    arm_rtx(c);
    return false;
  }
  send_challenge_ack(c);
  return false;
}

// "Fifth, check the ACK field: if the ACK bit is off, drop the segment and
//  return", then the per-state processing: SYN-RECEIVED
//  (syn_received_ack), the RFC 5961 5.2 range for the others
//  (ack_in_range), ESTABLISHED's processing shared by all (process_ack),
//  and what an ACK of our FIN means in FIN-WAIT-1, CLOSING and LAST-ACK
//  (ack_of_our_fin).
bool Engine::Impl::check_ack(Connection &c, Segment &seg, Arrival &a) {
  if (!seg.has_ack()) {
    count(*this, Counter::drop_no_ack);
    return false;
  }
  // The segment is acceptable: it counts as a sign of life (keepalive).
  note_activity(c);

  if (c.state_ == State::syn_received) {
    if (!syn_received_ack(c, seg, a))
      return false;
  } else if (!ack_in_range(c, seg)) {
    return false;
  }
  // Its ACK is acceptable too: it may update TS.Recent (RFC 7323 4.3: "If
  // SEG.TSval >= TS.Recent and SEG.SEQ =< Last.ACK.sent, then SEG.TSval is
  // copied to TS.Recent"). Not before: a segment dropped for its ACK (one
  // for data never sent, or older than the window, RFC 5961 5.2) must not
  // move TS.Recent, or a forged in-window segment with a far-future TSval
  // would make PAWS drop the peer's own segments (Linux checks the ACK
  // first too).
  const auto &ts = seg.h.options.timestamp;
  if (c.ts_ok_ && ts && seq_le(seg.seq, c.last_ack_sent_))
    c.ts_recent_ = ts->val;
  const uint32_t queued_before = c.sndq_bytes_;
  bool acked_our_fin = false;
  process_ack(c, seg, acked_our_fin);
  a.space_freed = c.sndq_bytes_ < queued_before;
  return ack_of_our_fin(c, acked_our_fin);
}

// "SYN-RECEIVED STATE: If SND.UNA < SEG.ACK =< SND.NXT, then enter
//  ESTABLISHED state and continue processing ... If the segment
//  acknowledgment is not acceptable, form a reset segment
//  <SEQ=SEG.ACK><CTL=RST> and send it."
bool Engine::Impl::syn_received_ack(Connection &c, Segment &seg, Arrival &a) {
  if (!(seq_lt(c.snd_una_, seg.ack) && seq_le(seg.ack, c.snd_max_))) {
    count(*this, Counter::drop_ack_unsent);
    reset_for(c.tuple_, seg);
    return false;
  }
  if (c.passive_) {
    // A full accept queue drops the completing ACK (Linux: ListenOverflows);
    // the entry stays half-open and the SYN-ACK retransmission asks again.
    auto it = listeners.find(c.listener_port_);
    if (it != listeners.end() && it->second.accept_queue_full(cfg.accept_backlog)) {
      count(*this, Counter::accept_queue_drops);
      return false;
    }
  }
  c.snd_una_ = seg.ack;
  c.snd_wnd_ = uint32_t{seg.h.window} << c.snd_wscale_;
  c.max_snd_wnd_ = std::max(c.max_snd_wnd_, c.snd_wnd_);
  c.snd_wl1_ = seg.seq;
  c.snd_wl2_ = seg.ack;
  c.timers_.cancel(wheel, ConnTimer::retransmit);
  set_state(c, State::established);
  established(c);
  // Text that came with the SYN waited for this moment (RFC 9293 3.10.7.2).
  release_syn_text(c);
  a.new_data = c.rcvq_bytes_ > 0;
  if (c.passive_) {
    accept(c);
  } else {
    count(*this, Counter::connects_established);
    if (c.handler_ != nullptr && !c.app_closed_)
      c.handler_->on_connected(c);
  }
  return !c.dead_;
}

// The other synchronized states, RFC 5961 5.2: "(SND.UNA - MAX.SND.WND) =<
// SEG.ACK =< SND.NXT ... All incoming segments whose ACK value doesn't
// satisfy the above condition MUST be discarded and an ACK sent back."
bool Engine::Impl::ack_in_range(Connection &c, const Segment &seg) {
  if (seq_gt(seg.ack, c.snd_max_)) {
    count(*this, Counter::drop_ack_unsent);
    send_challenge_ack(c);
    return false;
  }
  if (seq_lt(seg.ack, c.snd_una_ - c.max_snd_wnd_)) {
    count(*this, Counter::drop_ack_too_old);
    send_challenge_ack(c);
    return false;
  }
  return true;
}

// The fifth step's additions for the states after our FIN.
bool Engine::Impl::ack_of_our_fin(Connection &c, bool acked_our_fin) {
  if (!acked_our_fin)
    return true;
  switch (c.state_) {
  case State::fin_wait_1:
    // "In addition to the processing for the ESTABLISHED state, if the FIN
    //  segment is now acknowledged, then enter FIN-WAIT-2 and continue."
    set_state(c, State::fin_wait_2);
    start_fin_wait2(c);
    return true;
  case State::closing:
    // "if the ACK acknowledges our FIN, then enter the TIME-WAIT state;
    //  otherwise, ignore the segment."
    enter_time_wait(c);
    return false;
  case State::last_ack:
    // "The only thing that can arrive in this state is an acknowledgment of
    //  our FIN. If our FIN is now acknowledged, delete the TCB, enter the
    //  CLOSED state, and return."
    close_connection(c, CloseReason::normal);
    return false;
  default:
    return true;
  }
}

// "Seventh, process the segment text" — trimmed to the window first.
// ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2 take it (receive_text); CLOSE-WAIT,
// CLOSING, LAST-ACK: "This should not occur since a FIN has been received
// from the remote side. Ignore the segment text."
bool Engine::Impl::process_text(Connection &c, Segment &seg, Arrival &a) {
  trim_to_window(c, seg);
  const bool receiving = in_state(c.state_, ESTABLISHED | FIN_WAIT_1 | FIN_WAIT_2);
  if (seg.len > 0) {
    if (!receiving) {
      count(*this, Counter::drop_after_fin);
      seg.drop_payload();
      return true;
    }
    if (c.app_closed_) {
      // RFC 1122 4.2.2.13: data arriving after CLOSE is lost; say so with a
      // RST, in answer to this segment as RFC 9293 3.10.7.1 forms one (and
      // Linux sends it): <SEQ=SEG.ACK><CTL=RST>. SEG.ACK is where the
      // peer's window starts, so the peer takes the RST as exact (RFC 5961
      // 3.2) even while our FIN is unacknowledged, where SND.NXT would
      // draw a challenge ACK. The ACK check let only segments with ACK here.
      count(*this, Counter::rst_data_after_close);
      wire::TcpRepr h;
      h.src_port = c.tuple_.local_port;
      h.dst_port = c.tuple_.remote_port;
      h.seq = seg.ack.v;
      h.flags = RST;
      transmit(c.tuple_, h, nullptr, 0);
      close_connection(c, CloseReason::aborted);
      return false;
    }
    receive_text(c, seg, a.new_data);
  } else if (seg.fin() && seq_gt(seg.seq, c.rcv_nxt_) && receiving) {
    // A FIN alone beyond a hole: out of order, so a duplicate ACK (with
    // SACK blocks) goes out at once (RFC 5681 4.2). Right after the queued
    // text it takes effect when RCV.NXT reaches it, as a FIN that came
    // with the last queued segment does; anywhere else the peer resends it.
    if (c.ooo_ && !c.ooo_->empty() && c.ooo_->last_end() == seg.seq) {
      c.ooo_fin_ = true;
      c.ooo_fin_seq_ = seg.seq;
    }
    c.ack_pending_ = true;
  }
  return true;
}

// "Eighth, check the FIN bit" — only once everything before it has arrived.
void Engine::Impl::check_fin(Connection &c, const Segment &seg, Arrival &a) {
  if (seg.fin() && !c.fin_received_ && seg.seq + seg.len == c.rcv_nxt_) {
    fin_received(c);
    a.got_fin = true;
  }
}

// After the steps: tell the application, then send what it wrote and the
// ACK we owe (one segment when it answered straight away).
void Engine::Impl::after_arrival(Connection &c, const Arrival &a) {
  if (!c.app_closed_ && c.handler_ != nullptr) {
    ConnectionHandler *h = c.handler_;
    if (a.space_freed && c.writable() > 0) {
      h->on_writable(c);
      if (c.dead_)
        return;
    }
    if (a.new_data) {
      h->on_readable(c);
      if (c.dead_)
        return;
    }
    if (a.got_fin && c.handler_ != nullptr) {
      c.handler_->on_peer_closed(c);
      if (c.dead_)
        return;
    }
  }
  if (c.state_ == State::time_wait) {
    send_ack(c);
    enter_time_wait(c);
    return;
  }
  output(c);
  // An ACK still owed after the data we sent: now (out of order, a filled
  // hole, a FIN, every second full segment), or from the delayed-ACK timer.
  if (c.ack_pending_)
    send_ack(c);
  else if (c.rcv_nxt_ != c.last_ack_sent_)
    schedule_delayed_ack(c);
}

void Engine::Impl::fin_received(Connection &c) {
  // "If the FIN bit is set, signal the user 'connection closing' ... advance
  //  RCV.NXT over the FIN, and send an acknowledgment for the FIN."
  c.rcv_nxt_ = c.rcv_nxt_ + 1;
  c.fin_received_ = true;
  c.ack_pending_ = true;
  switch (c.state_) {
  case State::syn_received:
  case State::established:
    // "Enter the CLOSE-WAIT state."
    set_state(c, State::close_wait);
    break;
  case State::fin_wait_1:
    // "If our FIN has been ACKed (perhaps in this segment), then enter
    //  TIME-WAIT ...; otherwise, enter the CLOSING state." (An ACK of our FIN
    //  in this segment already moved us to FIN-WAIT-2 in the fifth step.)
    set_state(c, State::closing);
    break;
  case State::fin_wait_2:
    // "Enter the TIME-WAIT state."
    c.timers_.cancel(wheel, ConnTimer::fin_wait2);
    set_state(c, State::time_wait);
    break;
  default:
    break;
  }
}

} // namespace shoal::tcp
