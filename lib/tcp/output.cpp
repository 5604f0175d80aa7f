// Building and sending segments. A segment is a fresh header mbuf (IPv4 +
// TCP + options) followed, for data, by indirect mbufs attached to the
// application-written bytes of the send ring: no payload is copied, and a
// retransmission references the same memory again.
#include <algorithm>

#include <rte_ip.h>
#include <rte_tcp.h>

#include "tcp/engine_impl.hpp"

namespace shoal::tcp {

using namespace wire::tcp_flags;

uint32_t Engine::Impl::tsval(uint32_t ts_offset) const {
  // RFC 7323 5.4: a 1 ms timestamp clock, offset per connection.
  return static_cast<uint32_t>(to_ns(now) / 1'000'000) + ts_offset;
}

bool Engine::Impl::transmit(const FourTuple &t, wire::TcpRepr &h, rte_mbuf *payload,
                            uint32_t payload_len) {
  rte_mbuf *m = rte_pktmbuf_alloc(pool);
  if (m == nullptr) {
    if (payload != nullptr)
      rte_pktmbuf_free(payload);
    count(*this, Counter::drop_no_memory);
    return false;
  }
  const auto tcp_len = static_cast<uint16_t>(wire::tcp_header_len(h));
  auto *p = reinterpret_cast<uint8_t *>(rte_pktmbuf_append(m, static_cast<uint16_t>(20 + tcp_len)));
  wire::Ipv4Repr ip;
  ip.src = t.local_addr;
  ip.dst = t.remote_addr;
  ip.protocol = wire::kIpProtoTcp;
  ip.ttl = 64;
  ip.dont_fragment = true;
  ip.payload_len = static_cast<uint16_t>(tcp_len + payload_len);
  wire::emit_ipv4(ip, {p, 20}, !cfg.tx_checksum_offload);
  wire::emit_tcp_header(h, {p + 20, tcp_len});
  if (payload != nullptr && rte_pktmbuf_chain(m, payload) != 0) {
    rte_pktmbuf_free(payload);
    rte_pktmbuf_free(m);
    count(*this, Counter::drop_no_memory);
    return false;
  }
  auto *iph = reinterpret_cast<rte_ipv4_hdr *>(p);
  auto *th = reinterpret_cast<rte_tcp_hdr *>(p + 20);
  if (cfg.tx_checksum_offload) {
    m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM;
    m->l3_len = 20;
    m->l4_len = tcp_len;
    th->cksum = rte_ipv4_phdr_cksum(iph, m->ol_flags);
  } else {
    th->cksum = 0;
    uint16_t raw = 0;
    rte_raw_cksum_mbuf(m, 20, tcp_len + payload_len, &raw);
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
  out.transmit(m);
  return true;
}

uint16_t Engine::Impl::window_field(Connection &c) {
  // Offer the free receive space, but never move the right edge we already
  // advertised to the left (RFC 9293 3.8.6.2.2, RFC 7323 2.4). Rounding up
  // to the scale unit may offer up to 2^wscale - 1 bytes beyond rcv_buf.
  const uint32_t space = c.rcv_buf_ > c.rcvq_bytes_ ? c.rcv_buf_ - c.rcvq_bytes_ : 0;
  const uint32_t cur = seq_gt(c.rcv_adv_, c.rcv_nxt_) ? c.rcv_adv_ - c.rcv_nxt_ : 0;
  const uint32_t wnd = std::max(space, cur);
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
    c.ack_pending_ = false;
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

void Engine::Impl::send_ack(Connection &c) {
  wire::TcpRepr h;
  fill_header(c, h, ACK, c.snd_nxt_);
  transmit(c.tuple_, h, nullptr, 0);
}

void Engine::Impl::send_rst(Connection &c) {
  wire::TcpRepr h;
  fill_header(c, h, RST | ACK, c.snd_nxt_);
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

rte_mbuf *Engine::Impl::payload_refs(Connection &c, Seq seq, uint32_t len) {
  uint32_t off = seq - c.sndq_seq_;
  rte_mbuf *head = nullptr, *tail = nullptr;
  for (rte_mbuf *s = c.sndq_head_; s != nullptr && len > 0; s = s->next) {
    if (off >= s->data_len) {
      off -= s->data_len;
      continue;
    }
    const uint32_t take = std::min<uint32_t>(len, s->data_len - off);
    rte_mbuf *mi = rte_pktmbuf_alloc(pool);
    if (mi == nullptr) {
      if (head != nullptr)
        rte_pktmbuf_free(head);
      return nullptr;
    }
    rte_pktmbuf_attach(mi, s); // refcount on s: freed only when every reference is gone
    mi->data_off = static_cast<uint16_t>(s->data_off + off);
    mi->data_len = static_cast<uint16_t>(take);
    mi->pkt_len = take;
    if (head == nullptr) {
      head = mi;
    } else {
      tail->next = mi;
      head->nb_segs++;
      head->pkt_len += take;
    }
    tail = mi;
    len -= take;
    off = 0;
  }
  return head;
}

void Engine::Impl::send_segment(Connection &c, Seq seq, uint32_t len, bool fin) {
  rte_mbuf *payload = nullptr;
  if (len > 0) {
    payload = payload_refs(c, seq, len);
    if (payload == nullptr) {
      count(*this, Counter::drop_no_memory);
      return;
    }
  }
  wire::TcpRepr h;
  uint8_t flags = ACK;
  if (fin)
    flags |= FIN;
  if (len > 0)
    flags |= PSH;
  fill_header(c, h, flags, seq);
  transmit(c.tuple_, h, payload, len);
}

bool Engine::Impl::output(Connection &c, bool limit_one) {
  if (!in_state(c.state_, ESTABLISHED | CLOSE_WAIT | FIN_WAIT_1 | CLOSING | LAST_ACK))
    return false;
  bool sent = false;
  for (;;) {
    const Seq data_end = c.sndq_seq_ + c.sndq_bytes_;
    const uint32_t avail = seq_lt(c.snd_nxt_, data_end) ? data_end - c.snd_nxt_ : 0;
    const Seq wnd_edge = c.snd_una_ + c.snd_wnd_;
    const uint32_t usable = seq_lt(c.snd_nxt_, wnd_edge) ? wnd_edge - c.snd_nxt_ : 0;
    const uint32_t len = std::min({avail, usable, uint32_t{c.snd_mss_}});
    // The FIN goes right after the last queued byte (it needs no window).
    const bool fin = c.fin_queued_ && c.snd_nxt_ + len == data_end;
    if (len == 0 && !fin)
      break;
    if (seq_lt(c.snd_nxt_, c.snd_max_))
      count(*this, Counter::retransmits);
    send_segment(c, c.snd_nxt_, len, fin);
    if (fin) {
      c.fin_sent_ = true;
      c.fin_seq_ = data_end;
    }
    c.snd_nxt_ = c.snd_nxt_ + len + (fin ? 1 : 0);
    c.snd_max_ = seq_max(c.snd_max_, c.snd_nxt_);
    if (!c.rtx_timer_.armed())
      arm_rtx(c);
    sent = true;
    if (fin || limit_one)
      break;
  }
  return sent;
}

void Engine::Impl::ack_send_queue(Connection &c, Seq ack) {
  const Seq data_end = c.sndq_seq_ + c.sndq_bytes_;
  const Seq upto = seq_min(ack, data_end);
  if (!seq_gt(upto, c.sndq_seq_))
    return;
  uint32_t n = upto - c.sndq_seq_;
  c.sndq_seq_ = upto;
  c.sndq_bytes_ -= n;
  while (n > 0 && c.sndq_head_ != nullptr) {
    rte_mbuf *s = c.sndq_head_;
    if (n >= s->data_len && s != c.sndq_tail_) {
      n -= s->data_len;
      c.sndq_head_ = s->next;
      s->next = nullptr;
      rte_pktmbuf_free_seg(s); // segments in flight still hold a reference
    } else {
      // Partly acknowledged, or the tail (kept: the application may hold a
      // reserve() span into it).
      const uint16_t cut = static_cast<uint16_t>(std::min<uint32_t>(n, s->data_len));
      s->data_off = static_cast<uint16_t>(s->data_off + cut);
      s->data_len = static_cast<uint16_t>(s->data_len - cut);
      n -= cut;
      if (s->data_len == 0 && c.reserved_ == 0 && rte_mbuf_refcnt_read(s) == 1)
        s->data_off = 0; // nothing references it any more: reuse the whole buffer
    }
  }
}

void Engine::Impl::maybe_window_update(Connection &c) {
  // Receiver-side silly window avoidance (RFC 9293 3.8.6.2.2): announce a
  // reopened window once it grew by min(rcv_buf / 2, MSS).
  if (!in_state(c.state_, ESTABLISHED | FIN_WAIT_1 | FIN_WAIT_2) || c.fin_received_)
    return;
  const uint32_t space = c.rcv_buf_ > c.rcvq_bytes_ ? c.rcv_buf_ - c.rcvq_bytes_ : 0;
  const uint32_t cur = seq_gt(c.rcv_adv_, c.rcv_nxt_) ? c.rcv_adv_ - c.rcv_nxt_ : 0;
  if (space > cur && space - cur >= std::min<uint32_t>(c.rcv_buf_ / 2, c.rcv_mss_)) {
    count(*this, Counter::window_updates);
    send_ack(c);
  }
}

} // namespace shoal::tcp
