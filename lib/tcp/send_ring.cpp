// The send ring: committed application bytes from sequence number sndq_seq_
// on, in direct mbufs linked through ->next (the application writes into the
// tail's tailroom). Segments reference these bytes through indirect mbufs
// (rte_pktmbuf_attach), so neither a first transmission nor a retransmission
// copies payload; a ring mbuf goes back to the pool when it is acknowledged
// and the last segment referencing it has left the NIC.
//
// Finding the mbuf that holds a sequence number starts at a cursor (the ring
// mbuf where the previous segment ended and its first sequence number), not
// at the head: sending a window of N segments touches each ring mbuf a
// bounded number of times instead of walking O(N) mbufs per segment.
#include <algorithm>
#include <cstring>

#include "tcp/engine_impl.hpp"

namespace shoal::tcp {

Engine::Impl::RingPos Engine::Impl::locate(const Connection &c, Seq seq) {
  RingPos r{c.sndq_head_, c.sndq_seq_, 0};
  if (c.snd_cur_ != nullptr && seq_ge(seq, c.snd_cur_seq_)) {
    r.s = c.snd_cur_;
    r.s_seq = c.snd_cur_seq_;
  }
  r.off = seq - r.s_seq;
  while (r.s != nullptr && r.off >= r.s->data_len) {
    r.off -= r.s->data_len;
    r.s_seq += r.s->data_len;
    r.s = r.s->next;
  }
  return r;
}

template <class Piece> bool Engine::Impl::walk_ring(Connection &c, Seq seq, uint32_t len, Piece &&piece) {
  auto [s, s_seq, off] = locate(c, seq);
  while (s != nullptr && len > 0) {
    const uint32_t take = std::min<uint32_t>(len, s->data_len - off);
    if (!piece(s, off, take))
      return false;
    len -= take;
    off = 0;
    // The next segment starts where this one ends: remember the ring mbuf.
    c.snd_cur_ = s;
    c.snd_cur_seq_ = s_seq;
    if (len > 0) {
      s_seq += s->data_len;
      s = s->next;
    }
  }
  return len == 0; // the ring holds fewer bytes than asked: a bug upstream
}

bool Engine::Impl::copy_from_ring(Connection &c, Seq seq, uint32_t len, uint8_t *dst) {
  return walk_ring(c, seq, len, [&](const rte_mbuf *s, uint32_t off, uint32_t take) {
    std::memcpy(dst, rte_pktmbuf_mtod_offset(s, const uint8_t *, off), take);
    dst += take;
    return true;
  });
}

rte_mbuf *Engine::Impl::payload_refs(Connection &c, Seq seq, uint32_t len) {
  rte_mbuf *head = nullptr, *tail = nullptr;
  const bool whole = walk_ring(c, seq, len, [&](rte_mbuf *s, uint32_t off, uint32_t take) {
    // A reference on s: freed only when every reference is gone.
    rte_mbuf *mi = PacketBuf(s).reference(pool, off, take).mbuf();
    if (mi == nullptr)
      return false;
    if (head == nullptr) {
      head = mi;
    } else {
      tail->next = mi;
      head->nb_segs++;
      head->pkt_len += take;
    }
    tail = mi;
    return true;
  });
  if (!whole && head != nullptr) {
    rte_pktmbuf_free(head);
    return nullptr;
  }
  return head;
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
    // The head changes (freed or trimmed): a cursor on it is no longer valid.
    if (c.snd_cur_ == s)
      c.snd_cur_ = nullptr;
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

} // namespace shoal::tcp
