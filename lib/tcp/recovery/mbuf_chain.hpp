#pragma once
// Trimming a multi-segment mbuf chain at either end while keeping
// pkt_len/nb_segs right and freeing the segments that become empty (each
// exactly once). Shared by the reassembly queue and the engine's receive and
// send paths.
#include <cstdint>

#include <rte_mbuf.h>

namespace shoal::tcp {

// Removes the first n bytes (n <= pkt_len). Returns the new head: segments
// emptied at the front are freed; the head keeps at least one segment
// (possibly of length 0) so the caller still owns something to free.
inline rte_mbuf *mbuf_trim_front(rte_mbuf *m, uint32_t n) {
  uint32_t pkt_len = m->pkt_len;
  uint16_t nb_segs = m->nb_segs;
  while (n > 0 && m->next != nullptr && n >= m->data_len) {
    rte_mbuf *next = m->next;
    n -= m->data_len;
    pkt_len -= m->data_len;
    --nb_segs;
    m->next = nullptr;
    rte_pktmbuf_free_seg(m);
    m = next;
  }
  uint16_t cut = static_cast<uint16_t>(n < m->data_len ? n : m->data_len);
  m->data_off = static_cast<uint16_t>(m->data_off + cut);
  m->data_len = static_cast<uint16_t>(m->data_len - cut);
  m->pkt_len = pkt_len - cut;
  m->nb_segs = nb_segs;
  return m;
}

// Keeps only the first `keep` bytes (keep <= pkt_len); frees the segments
// past them.
inline void mbuf_trim_back(rte_mbuf *m, uint32_t keep) {
  if (keep >= m->pkt_len)
    return;
  m->pkt_len = keep;
  uint16_t segs = 1;
  rte_mbuf *s = m;
  while (keep > s->data_len && s->next != nullptr) {
    keep -= s->data_len;
    s = s->next;
    ++segs;
  }
  s->data_len = static_cast<uint16_t>(keep);
  rte_mbuf *rest = s->next;
  s->next = nullptr;
  m->nb_segs = segs;
  while (rest != nullptr) {
    rte_mbuf *next = rest->next;
    rest->next = nullptr;
    rte_pktmbuf_free_seg(rest);
    rest = next;
  }
}

} // namespace shoal::tcp
