#pragma once
// PacketBuf's operations over rte_mbuf (declared in tcp/packet_buf.hpp).
// Included by .cpp files only (the core's, and drivers' that use the
// operations), so that the public headers need no DPDK header. All inline:
// a PacketBuf operation compiles to what the mbuf code would.
#include <cstdint>
#include <cstring>

#include <rte_mbuf.h>

#include "tcp/packet_buf.hpp"
#include "wire/checksum.hpp"

namespace shoal::tcp {

inline PacketBuf PacketBuf::alloc(rte_mempool *pool) {
  return PacketBuf(rte_pktmbuf_alloc(pool));
}

inline void PacketBuf::free() {
  rte_pktmbuf_free(m_);
}

inline void PacketBuf::free_piece() {
  rte_pktmbuf_free_seg(m_);
}

inline uint32_t PacketBuf::length() const {
  return m_->pkt_len;
}

inline uint32_t PacketBuf::piece_length() const {
  return m_->data_len;
}

inline const uint8_t *PacketBuf::data() const {
  return rte_pktmbuf_mtod(m_, const uint8_t *);
}

inline uint8_t *PacketBuf::data() {
  return rte_pktmbuf_mtod(m_, uint8_t *);
}

inline std::span<const uint8_t> PacketBuf::piece() const {
  return {data(), m_->data_len};
}

inline PacketBuf PacketBuf::next() const {
  return PacketBuf(m_->next);
}

inline uint8_t *PacketBuf::append(uint32_t n) {
  return reinterpret_cast<uint8_t *>(rte_pktmbuf_append(m_, static_cast<uint16_t>(n)));
}

inline PacketBuf PacketBuf::trim_front(uint32_t n) {
  rte_mbuf *m = m_;
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
  return PacketBuf(m);
}

inline void PacketBuf::trim_back(uint32_t keep) {
  rte_mbuf *m = m_;
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

inline bool PacketBuf::chain(PacketBuf tail) {
  return rte_pktmbuf_chain(m_, tail.m_) == 0;
}

inline const uint8_t *PacketBuf::read(uint32_t off, uint32_t len, void *buf) const {
  return static_cast<const uint8_t *>(rte_pktmbuf_read(m_, off, len, buf));
}

// DPDK 22.11's rte_raw_cksum_mbuf() truncates its 32-bit partial sum to 16
// bits before byte-swapping a piece that starts at an odd offset, so any
// chain with an odd-length piece in the middle sums wrong;
// wire::ChecksumAccumulator folds first.
inline bool PacketBuf::raw_checksum(uint32_t off, uint32_t len, uint16_t &out) const {
  if (uint64_t{off} + len > m_->pkt_len)
    return false;
  wire::ChecksumAccumulator acc;
  for (const rte_mbuf *s = m_; s != nullptr && len > 0; s = s->next) {
    if (off >= s->data_len) {
      off -= s->data_len;
      continue;
    }
    const uint32_t take = s->data_len - off < len ? s->data_len - off : len;
    acc.add({rte_pktmbuf_mtod_offset(s, const uint8_t *, off), take});
    len -= take;
    off = 0;
  }
  if (len != 0)
    return false; // pkt_len claimed more than the pieces hold
  out = acc.raw();
  return true;
}

inline PacketBuf PacketBuf::reference(rte_mempool *pool, uint32_t off, uint32_t n) const {
  rte_mbuf *mi = rte_pktmbuf_alloc(pool);
  if (mi == nullptr)
    return {};
  rte_pktmbuf_attach(mi, m_); // a reference on this piece: freed only when every one is gone
  mi->data_off = static_cast<uint16_t>(mi->data_off + off);
  mi->data_len = static_cast<uint16_t>(n);
  mi->pkt_len = n;
  return PacketBuf(mi);
}

} // namespace shoal::tcp
