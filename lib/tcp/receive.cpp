// Receiving text: RFC 9293 3.10.7.4 "seventh, process the segment text" for
// ESTABLISHED, FIN-WAIT-1 and FIN-WAIT-2, and what the receive side owes the
// peer in return (window, ACK timing, SACK blocks).
//
// - In-order payload stays in the mbufs it arrived in and joins the receive
//   queue; out-of-order payload waits in the reassembly queue
//   (recovery/reassembly.hpp: trims overlaps, bounded per connection and per
//   shard) until RCV.NXT reaches it.
// - Memory: every held mbuf costs its truesize (buffer + header), whatever
//   payload it carries. The offered window is the smaller of the byte space
//   (RCV.BUFF - queued) and what the remaining memory budget (2 x RCV.BUFF,
//   as Linux doubles SO_RCVBUF for overhead) holds in full-sized segments; a
//   segment that would take the memory over the budget is dropped, so a peer
//   sending tiny segments cannot pin down the mempool.
// - ACKs (RFC 5681 4.2, RFC 9293 3.8.6.3): at once for out-of-order or
//   duplicate data and for a segment that fills a hole, for every second
//   full-sized segment and for the first EngineConfig::quickack_segments
//   data segments of a connection (quick ACK at the start, as Linux);
//   otherwise after at most EngineConfig::delayed_ack.
//   SACK blocks (RFC 2018 4) go with every ACK while data is out of order;
//   bytes that arrive a second time are reported once, at once, in a D-SACK
//   block ahead of them (RFC 2883).
#include <algorithm>
#include <cstring>

#include "tcp/engine_impl.hpp"

namespace shoal::tcp {

using namespace wire::tcp_flags;

namespace {

uint32_t truesize(const rte_mbuf *s) {
  return static_cast<uint32_t>(sizeof(rte_mbuf)) + s->buf_len;
}

} // namespace

uint32_t Engine::Impl::ooo_memory(const Connection &c) const {
  // Estimated from the queue's segment count (one mbuf per segment for
  // everything but jumbo frames).
  return c.ooo_ ? static_cast<uint32_t>(c.ooo_->segments()) * mbuf_truesize : 0;
}

uint32_t Engine::Impl::rcv_space(const Connection &c) const {
  const uint32_t by_bytes = c.rcv_buf_ > c.rcvq_bytes_ ? c.rcv_buf_ - c.rcvq_bytes_ : 0;
  const uint64_t budget = uint64_t{2} * c.rcv_buf_;
  const uint64_t used = uint64_t{c.rcv_mem_} + ooo_memory(c);
  if (used >= budget)
    return 0;
  const uint64_t by_memory = (budget - used) / mbuf_truesize * c.rcv_mss_;
  return static_cast<uint32_t>(std::min<uint64_t>(by_bytes, by_memory));
}

uint32_t Engine::Impl::rcv_window_visible(const Connection &c, uint32_t space) const {
  const uint64_t unit = uint64_t{1} << c.rcv_wscale_;
  const uint64_t rounded = (uint64_t{space} + unit - 1) / unit * unit;
  return static_cast<uint32_t>(std::min<uint64_t>(rounded, uint64_t{65535} << c.rcv_wscale_));
}

void Engine::Impl::append_in_order(Connection &c, PacketBuf chain) {
  // The mbufs themselves join the receive queue, one link per segment.
  for (rte_mbuf *s = chain.mbuf(); s != nullptr;) {
    rte_mbuf *next = s->next;
    s->next = nullptr;
    if (s->data_len == 0) {
      rte_pktmbuf_free_seg(s);
    } else {
      s->nb_segs = 1;
      s->pkt_len = s->data_len;
      if (c.rcvq_tail_ != nullptr)
        c.rcvq_tail_->next = s;
      else
        c.rcvq_head_ = s;
      c.rcvq_tail_ = s;
      c.rcvq_bytes_ += s->data_len;
      c.rcv_mem_ += truesize(s);
    }
    s = next;
  }
}

bool Engine::Impl::coalesce_in_order(Connection &c, Segment &seg) {
  rte_mbuf *tail = c.rcvq_tail_;
  if (tail == nullptr || seg.len == 0 || !RTE_MBUF_DIRECT(tail) ||
      rte_mbuf_refcnt_read(tail) != 1 || rte_pktmbuf_tailroom(tail) < seg.len)
    return false;
  auto *dst = rte_pktmbuf_mtod_offset(tail, uint8_t *, tail->data_len);
  // rte_pktmbuf_read copies a multi-segment payload into dst itself and
  // returns a pointer into a single-segment one.
  const void *src = seg.data.read(0, seg.len, dst);
  if (src == nullptr)
    return false;
  if (src != dst)
    std::memcpy(dst, src, seg.len);
  tail->data_len = static_cast<uint16_t>(tail->data_len + seg.len);
  tail->pkt_len = tail->data_len;
  c.rcvq_bytes_ += seg.len;
  seg.data.free();
  seg.data = {};
  return true;
}

// "Seventh, process the segment text" for ESTABLISHED/FIN-WAIT-1/2: within
// the memory bounds (make_receive_room), out of order to the reassembly
// queue (queue_out_of_order), in order to the receive queue
// (receive_in_order).
void Engine::Impl::receive_text(Connection &c, Segment &seg, bool &new_data) {
  if (!make_receive_room(c, seg))
    return;
  if (seg.seq != c.rcv_nxt_) {
    queue_out_of_order(c, seg);
    return;
  }
  receive_in_order(c, seg);
  new_data = true;
}

// Memory first. False: the segment's text was dropped (an ACK is owed).
bool Engine::Impl::make_receive_room(Connection &c, Segment &seg) {
  // Out-of-order data beyond the budget is dropped (the peer
  // will retransmit it). The segment at RCV.NXT is always taken: it is the
  // only one that lets the application read and free memory, and refusing
  // it when tiny out-of-order segments fill the budget deadlocks the
  // connection. Room is made by pruning the out-of-order queue from its far
  // end (Linux's tcp_prune_ofo_queue), and a small segment is copied into
  // the tailroom of the last queued mbuf (Linux's tcp_try_coalesce), so what
  // the in-order queue holds stays bounded by the window.
  const uint64_t budget = uint64_t{2} * c.rcv_buf_;
  uint64_t held = uint64_t{c.rcv_mem_} + ooo_memory(c);
  const uint64_t cost = uint64_t{seg.data.mbuf()->nb_segs} * mbuf_truesize;
  if (held > 0 && held + cost > budget) {
    if (seg.seq != c.rcv_nxt_) {
      count(*this, Counter::drop_rcv_memory);
      seg.drop_payload();
      seg.h.flags = static_cast<uint8_t>(seg.h.flags & ~FIN);
      c.ack_pending_ = true; // tell the peer where we are (and the window)
      return false;
    }
    while (held + cost > budget && c.ooo_ && !c.ooo_->empty()) {
      c.ooo_->drop_last();
      count(*this, Counter::ooo_pruned);
      held = uint64_t{c.rcv_mem_} + ooo_memory(c);
    }
    // A FIN beyond the hole went with the last segment (nothing follows a FIN).
    if (c.ooo_fin_ && (!c.ooo_ || c.ooo_->empty() || c.ooo_->last_end() != c.ooo_fin_seq_))
      c.ooo_fin_ = false;
    if (held + cost > budget && coalesce_in_order(c, seg)) {
      count(*this, Counter::rcv_coalesced);
    } else if (held + cost > budget) {
      count(*this, Counter::rcv_memory_overcommit);
    }
  }
  return true;
}

// Out of order (RFC 1122 4.2.2.20 (g): queue it). The duplicate ACK goes
// out at once, with SACK blocks (RFC 5681 4.2, RFC 2018 4).
void Engine::Impl::queue_out_of_order(Connection &c, Segment &seg) {
  if (!c.ooo_)
    c.ooo_ = std::make_unique<ReassemblyQueue>(
        reassembly_budget, ReassemblyLimits{c.rcv_buf_, cfg.reassembly_max_segments});
  const Seq end = seg.seq + seg.len;
  const bool fin = seg.fin();
  SackBlock dup;
  if (c.ooo_->queued_part(seg.seq, end, dup))
    note_duplicate(c, dup.start, dup.end);
  const ReassemblyResult r = c.ooo_->insert(c.rcv_nxt_, seg.seq, seg.data, seg.len);
  seg.data = {};
  seg.len = 0;
  seg.h.flags = static_cast<uint8_t>(seg.h.flags & ~FIN);
  switch (r) {
  case ReassemblyResult::queued:
    count(*this, Counter::ooo_segments);
    break;
  case ReassemblyResult::duplicate:
    count(*this, Counter::ooo_duplicates);
    break;
  case ReassemblyResult::over_connection_cap:
    count(*this, Counter::drop_reassembly_conn_cap);
    break;
  case ReassemblyResult::over_shard_budget:
    count(*this, Counter::drop_reassembly_shard_cap);
    break;
  default:
    count(*this, Counter::drop_malformed);
    break;
  }
  // A FIN beyond the hole takes effect when RCV.NXT reaches it.
  if (fin && (r == ReassemblyResult::queued || r == ReassemblyResult::duplicate)) {
    c.ooo_fin_ = true;
    c.ooo_fin_seq_ = end;
  }
  c.ack_pending_ = true;
}

// The segment at RCV.NXT: its mbufs join the receive queue, then whatever
// the reassembly queue releases behind it; the ACK owed now or later.
void Engine::Impl::receive_in_order(Connection &c, Segment &seg) {
  const uint32_t len = seg.len;
  const bool own_fin = seg.fin();
  c.rcv_seg_max_ = static_cast<uint16_t>(std::max<uint32_t>(c.rcv_seg_max_, std::min(len, 65535u)));
  // Quick ACK at the start (as Linux's quick-ACK mode): the first
  // quickack_segments data segments are ACKed at once, so the peer's
  // congestion window opens without waiting for the delayed ACK and the
  // first exchanges of a request/response protocol see no delayed-ACK
  // stall. Counted without per-connection state: while what arrived before
  // this segment is less than quickack_segments segments of the largest
  // size the peer has sent (exactly the first quickack_segments when its
  // segments are all one size; the count restarts every 4 GiB, a harmless
  // extra run of quick ACKs). The ACK still rides on data the application
  // answers with from its callback (input.cpp).
  const uint32_t received_before = static_cast<uint32_t>(c.rcv_nxt_ - (c.irs_ + 1));
  const bool quick = uint64_t{received_before} < uint64_t{cfg.quickack_segments} * c.rcv_seg_max_;
  if (c.ooo_) {
    SackBlock dup; // bytes this segment shares with out-of-order data (RFC 2883)
    if (c.ooo_->queued_part(seg.seq, seg.seq + len, dup))
      note_duplicate(c, dup.start, dup.end);
  }
  append_in_order(c, seg.data);
  seg.data = {};
  c.rcv_nxt_ = c.rcv_nxt_ + len;
  count(*this, Counter::bytes_in, len);
  c.rcv_unacked_ += len;
  // RFC 5681 4.2: "an immediate ACK SHOULD be generated when a segment
  // arrives that fills in all or part of a gap in the sequence space."
  const bool filled_hole = c.ooo_ && !c.ooo_->empty();
  if (filled_hole)
    take_reassembled(c);
  // Where the segment's own FIN stands now, or one queued beyond the hole.
  const bool fin_here = (own_fin && !filled_hole) || (c.ooo_fin_ && c.ooo_fin_seq_ == c.rcv_nxt_);
  seg.seq = c.rcv_nxt_;
  seg.len = 0;
  seg.h.flags = static_cast<uint8_t>(fin_here ? (seg.h.flags | FIN) : (seg.h.flags & ~FIN));
  if (fin_here)
    c.ooo_fin_ = false;

  // Every second full-sized segment is ACKed at once (RFC 5681 4.2); the
  // full size is the peer's segment size as seen so far, at most our MSS
  // less the timestamp option.
  const uint32_t eff_mss = c.rcv_mss_ - (c.ts_ok_ ? wire::kTcpTimestampOptionSpace : 0);
  const uint32_t full = std::max<uint32_t>(std::min<uint32_t>(c.rcv_seg_max_, eff_mss), 1);
  // (With ack_every_second_segment, any second one: data left unACKed by
  // the segment before this one.)
  const bool second = cfg.ack_every_second_segment ? c.rcv_unacked_ > len : c.rcv_unacked_ >= 2 * full;
  if (filled_hole || quick || cfg.delayed_ack == Duration::zero() || second)
    c.ack_pending_ = true;
}

// What a non-empty reassembly queue releases once RCV.NXT has moved.
void Engine::Impl::take_reassembled(Connection &c) {
  PacketBuf popped[32];
  for (;;) {
    const Seq before = c.rcv_nxt_;
    const size_t n = c.ooo_->pop(c.rcv_nxt_, popped);
    for (size_t i = 0; i < n; ++i)
      append_in_order(c, popped[i]);
    count(*this, Counter::bytes_in, c.rcv_nxt_ - before);
    if (n < std::size(popped))
      break;
  }
  if (c.ooo_->empty())
    c.ooo_.reset(); // allocated again by the next out-of-order segment
}

void Engine::Impl::queue_syn_text(Connection &c, Segment &seg) {
  if (seg.len == 0)
    return;
  if (!c.ooo_)
    c.ooo_ = std::make_unique<ReassemblyQueue>(reassembly_budget,
                                               ReassemblyLimits{c.rcv_buf_, cfg.reassembly_max_segments});
  const uint32_t len = std::min(seg.len, c.rcv_buf_);
  if (c.ooo_->insert(c.rcv_nxt_, c.rcv_nxt_, seg.data, len) == ReassemblyResult::queued)
    count(*this, Counter::syn_data_bytes, len);
  seg.data = {};
  seg.len = 0;
}

void Engine::Impl::release_syn_text(Connection &c) {
  if (!c.ooo_ || c.ooo_->empty())
    return;
  take_reassembled(c);
  // Acknowledged as in-order text is: at once while quick ACKs last
  // (quickack_segments), else by the delayed ACK the caller schedules.
  if (c.rcvq_bytes_ > 0) {
    c.rcv_seg_max_ = static_cast<uint16_t>(std::min<uint32_t>(std::max<uint32_t>(c.rcv_seg_max_, c.rcvq_bytes_), 65535));
    c.rcv_unacked_ += c.rcvq_bytes_;
    if (cfg.quickack_segments > 0 || cfg.delayed_ack == Duration::zero())
      c.ack_pending_ = true;
  }
}

void Engine::Impl::note_duplicate(Connection &c, Seq start, Seq end) {
  if (!c.sack_ok_ || !seq_lt(start, end) || dsack.conn == &c)
    return;
  dsack = PendingDsack{&c, start, end};
  c.ack_pending_ = true;
}

void Engine::Impl::sack_option(Connection &c, wire::TcpOptions &o) {
  if (!c.sack_ok_)
    return;
  size_t n = 0;
  if (dsack.conn == &c) {
    // RFC 2883 4: "the first SACK block ... MUST specify the contiguous
    // sequence space of the duplicate segment that triggered the ACK"; it
    // is reported once. The SACK blocks that follow are those RFC 2018
    // asks for, the one holding the duplicate (if queued) first.
    o.sack[n++] = wire::SackBlock{dsack.start.v, dsack.end.v};
    dsack.conn = nullptr;
    count(*this, Counter::acks_out_dsack);
  }
  if (c.ooo_ && !c.ooo_->empty()) {
    SackBlock blocks[ReassemblyQueue::kMaxSackBlocks];
    const size_t k = c.ooo_->sack_blocks(std::span(blocks).first(std::size(blocks) - n));
    for (size_t i = 0; i < k; ++i)
      o.sack[n++] = wire::SackBlock{blocks[i].start.v, blocks[i].end.v};
  }
  o.sack_count = static_cast<uint8_t>(n);
  if (n > 0)
    count(*this, Counter::acks_out_sack);
}

} // namespace shoal::tcp
