#pragma once
// The raw checksum of a byte range across an mbuf chain, which DPDK gets
// wrong; the chain trimming helpers are in tcp/recovery/mbuf_chain.hpp.
#include <cstdint>

#include <rte_mbuf.h>

#include "tcp/recovery/mbuf_chain.hpp"
#include "wire/checksum.hpp"

namespace shoal::tcp {

// The raw (non-complemented, memory-order) Internet checksum of bytes
// [off, off + len) of a chain, as rte_raw_cksum_mbuf() means to compute it.
// DPDK 22.11's version truncates its 32-bit partial sum to 16 bits before
// byte-swapping a piece that starts at an odd offset, so any chain with an
// odd-length piece in the middle sums wrong; wire::ChecksumAccumulator folds
// first. False if the range runs past the chain.
inline bool mbuf_raw_checksum(const rte_mbuf *m, uint32_t off, uint32_t len, uint16_t &out) {
  if (uint64_t{off} + len > m->pkt_len)
    return false;
  wire::ChecksumAccumulator acc;
  for (const rte_mbuf *s = m; s != nullptr && len > 0; s = s->next) {
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
    return false; // pkt_len claimed more than the segments hold
  out = acc.raw();
  return true;
}

} // namespace shoal::tcp
