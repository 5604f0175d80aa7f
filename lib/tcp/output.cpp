// Building and sending segments. A segment is a fresh header mbuf (IPv4 +
// TCP + options) followed, for data, by indirect mbufs attached to the
// application-written bytes of the send ring: no payload is copied, and a
// retransmission references the same memory again.
#include <algorithm>

#include <rte_ip.h>
#include <rte_tcp.h>

#include "tcp/engine_impl.hpp"
#include "tcp/mbuf_util.hpp"

namespace shoal::tcp {

using namespace wire::tcp_flags;

uint32_t Engine::Impl::tsval(uint32_t ts_offset) const {
  // RFC 7323 5.4: a 1 ms timestamp clock, offset per connection.
  return static_cast<uint32_t>(to_ns(now) / 1'000'000) + ts_offset;
}

bool Engine::Impl::transmit(const FourTuple &t, wire::TcpRepr &h, rte_mbuf *payload,
                            uint32_t payload_len, uint16_t tso_segsz, Connection *copy_from,
                            Seq copy_seq) {
  rte_mbuf *m = rte_pktmbuf_alloc(pool);
  if (m == nullptr) {
    if (payload != nullptr)
      rte_pktmbuf_free(payload);
    count(*this, Counter::drop_no_memory);
    return false;
  }
  const auto tcp_len = static_cast<uint16_t>(wire::tcp_header_len(h));
  // Warm the next header mbuf for the next segment (often a burst of them:
  // ACKs, SYN-ACKs under a flood).
  prefetch_next_alloc(pool, 20 + wire::kTcpMaxHeaderLen);
  auto *p = reinterpret_cast<uint8_t *>(rte_pktmbuf_append(m, static_cast<uint16_t>(20 + tcp_len)));
  wire::Ipv4Repr ip;
  ip.src = t.local_addr;
  ip.dst = t.remote_addr;
  ip.protocol = wire::kIpProtoTcp;
  ip.ttl = 64;
  ip.dont_fragment = true;
  ip.payload_len = static_cast<uint16_t>(tcp_len + payload_len);
  // Offloaded (TSO included): both checksum fields stay zero for the port.
  const bool offload = cfg.tx_checksum_offload || tso_segsz != 0;
  wire::emit_ipv4(ip, {p, 20}, !offload);
  wire::emit_tcp_header(h, {p + 20, tcp_len});
  if (copy_from != nullptr) {
    // send_segment checked that it fits (copy_payload_max is held to the
    // buffer); a short ring would be a bug upstream.
    auto *d =
        reinterpret_cast<uint8_t *>(rte_pktmbuf_append(m, static_cast<uint16_t>(payload_len)));
    if (d == nullptr || !copy_from_ring(*copy_from, copy_seq, payload_len, d)) {
      rte_pktmbuf_free(m);
      count(*this, Counter::drop_no_memory);
      return false;
    }
  }
  if (payload != nullptr && rte_pktmbuf_chain(m, payload) != 0) {
    rte_pktmbuf_free(payload);
    rte_pktmbuf_free(m);
    count(*this, Counter::drop_no_memory);
    return false;
  }
  TxOffload request;
  if (offload) {
    // tso_segsz != 0: the port also cuts the payload into tso_segsz pieces
    // and fixes lengths, sequence numbers and checksums.
    request = {TxOffload::Checksum::l4, tso_segsz};
    if (tso_segsz != 0)
      count(*this, Counter::tso_sends);
  } else {
    auto *iph = reinterpret_cast<rte_ipv4_hdr *>(p);
    auto *th = reinterpret_cast<rte_tcp_hdr *>(p + 20);
    uint16_t raw = 0;
    PacketBuf(m).raw_checksum(20, tcp_len + payload_len, raw); // the chain was just built: in range
    uint32_t sum = uint32_t{raw} + rte_ipv4_phdr_cksum(iph, 0);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    th->cksum = static_cast<uint16_t>(~sum);
  }
  count(*this, Counter::segs_out);
  if (h.has(SYN))
    count(*this, Counter::segs_out_syn);
  if (h.has(FIN))
    count(*this, Counter::segs_out_fin);
  if (h.has(RST))
    count(*this, Counter::segs_out_rst);
  if (payload_len > 0) {
    count(*this, Counter::segs_out_data);
    count(*this, Counter::bytes_out, payload_len);
  }
  out.transmit(m, request);
  return true;
}

uint16_t Engine::Impl::window_field(Connection &c) {
  // Offer the free receive space, but never move the right edge we already
  // advertised to the left (RFC 9293 3.8.6.2.2, RFC 7323 2.4), and move it
  // right only by a worthwhile amount: receiver-side silly window avoidance
  // (RFC 9293 3.8.6.2.2) offers more only when the increase reaches
  // min(RCV.BUFF / 2, Eff.snd.MSS) (EngineConfig::rcv_window_hold_back
  // chooses BSD's rule instead). Rounding up to the scale unit may offer
  // up to 2^wscale - 1 bytes beyond the space.
  const uint32_t space = rcv_space(c);
  const uint32_t cur = seq_gt(c.rcv_adv_, c.rcv_nxt_) ? c.rcv_adv_ - c.rcv_nxt_ : 0;
  uint32_t wnd = cur;
  if (!cfg.rcv_window_hold_back) {
    if (space >= std::min<uint32_t>(c.rcv_buf_ / 4, c.rcv_mss_))
      wnd = std::max(space, cur);
  } else if (space > cur && space - cur >= std::min<uint32_t>(c.rcv_buf_ / 2, c.rcv_mss_)) {
    wnd = space;
  }
  const uint32_t unit = 1u << c.rcv_wscale_;
  const uint32_t field = std::min<uint32_t>((wnd + unit - 1) >> c.rcv_wscale_, 65535);
  const Seq edge = c.rcv_nxt_ + (field << c.rcv_wscale_);
  if (seq_gt(edge, c.rcv_adv_))
    c.rcv_adv_ = edge;
  return static_cast<uint16_t>(field);
}

void Engine::Impl::fill_header(Connection &c, wire::TcpRepr &h, uint8_t flags, Seq seq) {
  h.src_port = c.tuple_.local_port;
  h.dst_port = c.tuple_.remote_port;
  h.seq = seq.v;
  h.flags = flags;
  if ((flags & ACK) != 0) {
    h.ack = c.rcv_nxt_.v;
    c.last_ack_sent_ = c.rcv_nxt_;
    // Any segment carrying the ACK settles what the delayed ACK owed.
    c.ack_pending_ = false;
    c.rcv_unacked_ = 0;
    c.timers_.cancel(wheel, ConnTimer::delayed_ack);
    sack_option(c, h.options);
  }
  h.window = window_field(c);
  if (c.ts_ok_)
    h.options.timestamp = wire::TcpTimestamp{tsval(c.ts_offset_), c.ts_recent_};
}

void Engine::Impl::send_syn(Connection &c) {
  wire::TcpRepr h;
  h.src_port = c.tuple_.local_port;
  h.dst_port = c.tuple_.remote_port;
  h.seq = c.iss_.v;
  h.flags = SYN;
  if (c.state_ == State::syn_received) {
    // <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>
    h.flags |= ACK;
    h.ack = c.rcv_nxt_.v;
    c.last_ack_sent_ = c.rcv_nxt_;
    c.ack_pending_ = false;
  }
  // RFC 7323 2.2: "The window field in a segment where the SYN bit is set
  // (i.e., a <SYN> or <SYN,ACK>) MUST NOT be scaled."
  const uint32_t wnd = std::min<uint32_t>(c.rcv_buf_, 65535);
  h.window = static_cast<uint16_t>(wnd);
  if (c.state_ == State::syn_received && seq_lt(c.rcv_adv_, c.rcv_nxt_ + wnd))
    c.rcv_adv_ = c.rcv_nxt_ + wnd;
  syn_options(c, h.options);
  transmit(c.tuple_, h, nullptr, 0);
}

Seq Engine::Impl::control_seq(const Connection &c) const {
  // RFC 9293's SND.NXT never moves back; ours does after a retransmission
  // timeout (go-back-N from SND.UNA), and SND.MAX is the RFC's SND.NXT. A
  // segment without text sent with SEQ = SND.UNA would fall below the
  // peer's RCV.NXT whenever the peer has more than we know of (its ACKs were
  // lost): "not acceptable", its ACK field ignored -- and if the peer is in
  // the same position, neither SND.UNA ever moves again. So pure ACKs and
  // RSTs carry SND.MAX (BSD's tcp_output does the same), clamped to the
  // right edge of the peer's window as last offered, so that a peer whose
  // window closed on a probe octet still finds SEQ = RCV.NXT (Linux's
  // tcp_acceptable_seq).
  const Seq edge = c.snd_una_ + c.snd_wnd_;
  return seq_gt(c.snd_max_, edge) && seq_ge(edge, c.snd_una_) ? edge : c.snd_max_;
}

void Engine::Impl::send_ack(Connection &c) {
  wire::TcpRepr h;
  fill_header(c, h, ACK, control_seq(c));
  transmit(c.tuple_, h, nullptr, 0);
}

void Engine::Impl::send_rst(Connection &c) {
  wire::TcpRepr h;
  fill_header(c, h, RST | ACK, control_seq(c));
  h.window = 0;
  transmit(c.tuple_, h, nullptr, 0);
}

void Engine::Impl::send_keepalive_probe(Connection &c) {
  // RFC 1122 4.2.3.6: "sending a segment with SEG.SEQ = SND.NXT-1 ... with
  // or without one garbage octet" — here no data and SND.UNA - 1 (= SND.NXT - 1
  // since nothing is outstanding), which the peer must answer with an ACK.
  wire::TcpRepr h;
  fill_header(c, h, ACK, c.snd_una_ - 1);
  count(*this, Counter::keepalive_probes);
  transmit(c.tuple_, h, nullptr, 0);
}

uint32_t Engine::Impl::max_segment_payload(const Connection &c) const {
  if (!cfg.tso || !cfg.tx_checksum_offload || c.snd_mss_ == 0)
    return c.snd_mss_;
  // A whole number of MSS-sized pieces, so only the last one is short.
  const uint32_t n = std::max<uint32_t>(cfg.tso_max_payload / c.snd_mss_, 1);
  return n * c.snd_mss_;
}

bool Engine::Impl::send_segment(Connection &c, Seq seq, uint32_t len, bool fin) {
  rte_mbuf *payload = nullptr;
  const bool copy = len > 0 && len <= cfg.copy_payload_max;
  if (len > 0 && !copy) {
    payload = payload_refs(c, seq, len);
    if (payload == nullptr) {
      count(*this, Counter::drop_no_memory);
      return false;
    }
  }
  wire::TcpRepr h;
  uint8_t flags = ACK;
  if (fin)
    flags |= FIN;
  if (len > 0 && push_flag(c, seq, len))
    flags |= PSH;
  fill_header(c, h, flags, seq);
  // snd_mss_ already leaves room for the timestamp option that every segment
  // carries (RFC 6691: MSS counts no options). SACK blocks would push a full
  // segment past the MTU, so a segment whose payload cannot shrink (it is
  // already accounted in the send ring) goes without them: SACK information
  // is advisory (RFC 2018 4) and the next pure ACK repeats it.
  if (len > 0 && h.options.sack_count > 0) {
    const size_t base = wire::kTcpMinHeaderLen + (c.ts_ok_ ? wire::kTcpTimestampOptionSpace : 0);
    const size_t extra = wire::tcp_header_len(h) - base;
    const uint32_t per_segment = len > c.snd_mss_ ? c.snd_mss_ : len;
    if (per_segment + extra > c.snd_mss_) {
      h.options.sack_count = 0;
      count(*this, Counter::sack_blocks_omitted);
    }
  }
  const uint16_t tso = len > c.snd_mss_ ? c.snd_mss_ : 0;
  return transmit(c.tuple_, h, payload, len, tso, copy ? &c : nullptr, seq);
}

bool Engine::Impl::push_flag(const Connection &c, Seq seq, uint32_t len) const {
  // PSH (RFC 9293 3.9.1 SEND, RFC 1122 4.2.2.2) marks the end of what the
  // application wrote, as Linux sets it: on the segment that empties the
  // send queue (the writes coalesced before output ran count as one), not
  // on the full segments before it. The same rule holds for a
  // retransmission: a segment ending where the queued data ends resends the
  // end of the data, which left with PSH (when it went, it emptied the
  // queue, and the queue's end only moves on); one ending earlier does not.
  // An end that more writes have since moved past loses its PSH on a
  // retransmission (the receiver delivers on the later one).
  return seq + len == c.sndq_seq_ + c.sndq_bytes_;
}

void Engine::Impl::sent(Connection &c, Seq seq, uint32_t len, bool fin) {
  const Seq end = seq + len + (fin ? 1 : 0);
  const bool retransmission = seq_lt(seq, c.snd_max_);
  if (retransmission) {
    count(*this, Counter::retransmits);
    // Karn (RFC 6298 3): a retransmitted segment's ACK is ambiguous.
    if (c.rtt_timing_ && seq_le(seq, c.rtt_seq_))
      c.rtt_timing_ = false;
  } else if (!c.rtt_timing_ && !c.ts_ok_ && len > 0) {
    // Time one segment per round trip (RFC 6298 3) when timestamps do not
    // give a sample per ACK.
    c.rtt_timing_ = true;
    c.rtt_seq_ = seq;
    c.rtt_sent_ = now;
  }
  if (c.snd_una_ == c.snd_max_)
    c.una_since_ = now; // data starts waiting for an acknowledgment
  if (fin) {
    c.fin_sent_ = true;
    c.fin_seq_ = seq + len;
  }
  // Minshall's Nagle (as Linux's tcp_minshall_update): remember where the
  // last partial segment of new data ends.
  if (!retransmission && len > 0 && len < c.snd_mss_)
    c.snd_sml_ = seq + len;
  if (seq_gt(end, c.snd_nxt_))
    c.snd_nxt_ = end;
  c.snd_max_ = seq_max(c.snd_max_, c.snd_nxt_);
  const bool rack_logged = cfg.rack && c.sack_ok_ && !retransmission;
  if (cfg.rack && c.sack_ok_)
    c.sack_.rack_on_send(c.snd_max_, now); // RFC 8985 6.1: the transmit time
  c.sack_.set_high_data(c.snd_max_);
  if (!c.timers_.armed(ConnTimer::retransmit)) {
    c.timers_.cancel(wheel, ConnTimer::persist);
    arm_rtx(c);
  } else if (c.tlp_pto_armed_ && !retransmission) {
    // RFC 8985 7.2: new data restarts the probe timer (from its last
    // segment). When the restart can only move the deadline later (more
    // than one segment was already in flight, so the armed timeout has no
    // delayed-ACK allowance to lose) and the RACK log holds the segment's
    // time, the restart is lazy: the timer fires at its earlier deadline
    // and is armed again from the log's time then (timers.cpp), so a run of
    // segments costs no timer work per segment. Otherwise it is armed again
    // now.
    if (rack_logged && static_cast<uint32_t>(seq - c.snd_una_) > c.snd_mss_ + 1u)
      c.tlp_restart_ = true;
    else
      arm_rtx(c);
  }
}

bool Engine::Impl::send_probe(Connection &c) {
  // One probe segment, new data (retrans false) or sent before: the RTO,
  // not a new probe timeout, follows it (tlp_probing_ before sent()).
  auto probe = [&](Seq seq, uint32_t len, bool fin, bool retrans) {
    c.tlp_probing_ = true;
    if (!send_segment(c, seq, len, fin)) {
      c.tlp_probing_ = false;
      return false;
    }
    count(*this, Counter::tlp_probes_sent);
    if (!retrans)
      count(*this, Counter::tlp_probes_new_data);
    c.tlp_retrans_ = retrans;
    c.tlp_saw_recovery_ = false;
    if (c.ts_ok_)
      c.tlp_sent_ = now;
    // A resent segment is not recorded as the scoreboard's HighRxt: a
    // recovery that follows must still repair the holes below it.
    sent(c, seq, len, fin);
    c.tlp_end_seq_ = c.snd_max_;
    return true;
  };
  const Seq data_end = c.sndq_seq_ + c.sndq_bytes_;
  const Seq wnd_edge = c.snd_una_ + c.snd_wnd_;
  if (c.snd_nxt_ == c.snd_max_ && seq_lt(c.snd_max_, data_end)) {
    // A previously unsent segment, if the peer's window takes all of it.
    const uint32_t len = std::min<uint32_t>(data_end - c.snd_max_, c.snd_mss_);
    const uint32_t usable = seq_lt(c.snd_max_, wnd_edge) ? wnd_edge - c.snd_max_ : 0;
    if (usable >= len) {
      const Seq seq = c.snd_max_;
      return probe(seq, len, c.fin_queued_ && !c.fin_sent_ && seq + len == data_end, false);
    }
  }
  // The highest-sequence segment sent: the last SMSS of data below SND.MAX,
  // with the FIN if it was sent.
  const Seq text_end = c.fin_sent_ ? c.fin_seq_ : c.snd_max_;
  const uint32_t len =
      seq_lt(c.snd_una_, text_end) ? std::min<uint32_t>(text_end - c.snd_una_, c.snd_mss_) : 0;
  if (len == 0 && !c.fin_sent_)
    return false;
  return probe(text_end - len, len, c.fin_sent_, true);
}

bool Engine::Impl::partial_in_flight(const Connection &c) const {
  return seq_gt(c.snd_sml_, c.snd_una_) && seq_le(c.snd_sml_, c.snd_max_);
}

bool Engine::Impl::output(Connection &c, bool push) {
  if (!in_state(c.state_, ESTABLISHED | CLOSE_WAIT | FIN_WAIT_1 | CLOSING | LAST_ACK))
    return false;
  bool any = false;
  // RFC 6675 5 (C): in SACK recovery the scoreboard picks what goes out.
  if (c.cc_started_ && c.cc_.in_recovery() && c.sack_ok_)
    return sack_recovery_output(c);
  const uint32_t max_len = max_segment_payload(c);
  bool corked = false; // a partial segment held by TCP_CORK (not by the window)
  for (;;) {
    const Seq data_end = c.sndq_seq_ + c.sndq_bytes_;
    const uint32_t avail = seq_lt(c.snd_nxt_, data_end) ? data_end - c.snd_nxt_ : 0;
    const Seq wnd_edge = c.snd_una_ + c.snd_wnd_;
    const uint32_t usable = seq_lt(c.snd_nxt_, wnd_edge) ? wnd_edge - c.snd_nxt_ : 0;
    // Congestion window (RFC 5681 3.1): at most cwnd bytes beyond SND.UNA.
    // After a timeout SND.NXT went back to SND.UNA, so this also paces the
    // go-back-N retransmission instead of releasing the window at once.
    const uint32_t flight = c.snd_nxt_ - c.snd_una_;
    const uint32_t cwnd = c.cc_started_ ? c.cc_.cwnd() : UINT32_MAX;
    const uint32_t cwnd_room = cwnd > flight ? cwnd - flight : 0;
    const uint32_t len = std::min({avail, usable, cwnd_room, max_len});
    // The FIN goes right after the last queued byte (it needs no window).
    const bool fin = c.fin_queued_ && c.snd_nxt_ + len == data_end &&
                     (!c.fin_sent_ || seq_le(c.snd_nxt_ + len, c.fin_seq_));
    if (len == 0 && !fin)
      break;
    const bool new_data = seq_ge(c.snd_nxt_, c.snd_max_);
    if (new_data && len < c.snd_mss_ && !fin) {
      if (len == avail) {
        // The tail of the queue, less than a segment. Judged on everything
        // queued when output runs (writes of one callback or poll iteration
        // are coalesced before it does), as Linux's tcp_nagle_test:
        //  - TCP_CORK holds it, TCP_NODELAY or not, until uncorked or
        //    cork_timeout after it was first held;
        //  - Nagle (RFC 896, RFC 9293 3.8.6.2.1) in Minshall's variant holds
        //    it only while an earlier partial segment is unacknowledged,
        //    unless TCP_NODELAY. (The classic rule, "while any data is
        //    unacknowledged", would hold the tail of every response longer
        //    than a segment until the peer's delayed ACK.)
        if (!push && c.cork_) {
          corked = true;
          break;
        }
        if (!push && !c.nodelay_ && partial_in_flight(c))
          break; // its ACK will come (the retransmission timer watches it)
      } else if (len < usable || len < c.max_snd_wnd_ / 2) {
        // Sender SWS avoidance (RFC 9293 3.8.6.2.1): less than a full
        // segment that is not all we have, limited by the congestion window
        // (an ACK will come) or by a window under half the largest offered
        // (the persist timer overrides, below).
        break;
      }
    }
    if (!send_segment(c, c.snd_nxt_, len, fin))
      break;
    sent(c, c.snd_nxt_, len, fin);
    any = true;
    if (fin)
      break;
  }
  // Data waits and nothing is outstanding to bring an ACK: the window (zero
  // or too small to use) holds it back, and the persist timer probes it
  // (RFC 9293 3.8.6.1) and overrides SWS avoidance; or TCP_CORK holds it,
  // and the same timer sends it cork_timeout later (Linux's zero-window
  // probe timer does so too).
  const Seq data_end = c.sndq_seq_ + c.sndq_bytes_;
  if (!any && seq_lt(c.snd_nxt_, data_end) && !c.timers_.armed(ConnTimer::retransmit) &&
      !c.timers_.armed(ConnTimer::persist)) {
    if (corked)
      c.timers_.schedule(wheel, ConnTimer::persist, now + cfg.cork_timeout);
    else
      arm_persist(c);
  }
  return any;
}

void Engine::Impl::output_soon(Connection &c) {
  if (!cfg.autocork) {
    output(c);
    return;
  }
  if (!c.output_pending_) {
    c.output_pending_ = true;
    pending_output.push_back(&c);
  }
}

void Engine::Impl::flush_output() {
  // Every listed connection has output_pending_ set (reap() unlists those
  // that closed meanwhile); output() itself never lists one.
  for (size_t i = 0; i < pending_output.size(); ++i) {
    Connection &c = *pending_output[i];
    if (!c.output_pending_)
      continue;
    c.output_pending_ = false;
    if (!c.dead_)
      output(c);
  }
  pending_output.clear();
}

void Engine::Impl::maybe_window_update(Connection &c) {
  // Receiver-side silly window avoidance (RFC 9293 3.8.6.2.2): after the
  // application consumed data, announce the reopened window once it grew by
  // min(RCV.BUFF / 2, MSS), and only when what the peer may still send has
  // fallen to half the largest window it can be shown or below (else the
  // next ACK carries it anyway, as Linux's tcp_cleanup_rbuf decides). Both
  // are measured as the peer sees them: without window scaling a 256 KiB
  // buffer still shows as 65535, and an ACK that shows no more than the
  // last one is a duplicate ACK to the peer (RFC 5681 2).
  if (!in_state(c.state_, ESTABLISHED | FIN_WAIT_1 | FIN_WAIT_2) || c.fin_received_)
    return;
  const uint32_t space = rcv_window_visible(c, rcv_space(c));
  const uint32_t largest = rcv_window_visible(c, c.rcv_buf_);
  const uint32_t cur = seq_gt(c.rcv_adv_, c.rcv_nxt_) ? c.rcv_adv_ - c.rcv_nxt_ : 0;
  if (space > cur && space - cur >= std::min<uint32_t>(c.rcv_buf_ / 2, c.rcv_mss_) &&
      cur <= largest / 2) {
    count(*this, Counter::window_updates);
    send_ack(c);
  }
}

} // namespace shoal::tcp
