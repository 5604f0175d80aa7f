#pragma once
// Prefetching the engine's next header mbuf (private to lib/tcp; the
// operations on packet buffers are PacketBuf's, tcp/packet_buf.hpp).
#include <cstdint>

#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

namespace shoal::tcp {

// Warms the mbuf that the next rte_pktmbuf_alloc() on this lcore will hand
// out (the top of the lcore's mempool cache): its two header lines, and
// the data lines a header segment fills (`bytes` from the headroom, with
// the Ethernet header prepended in front). Only a hint: nothing is taken or
// changed. Why: mbufs come back through the cache cold (freed on another
// lcore, or long unused), and the first stores into them stall until their
// lines arrive; checksumming those fresh stores stalls again. Issued one
// segment ahead, the lines arrive while the current one is processed.
// Fetches the cache line of `p` with the intent to write (owned, not
// shared: the stores that follow need no second trip). rte_prefetch0_write
// is experimental in DPDK 22.11 and, built for the -march DPDK asks for,
// __builtin_prefetch would emit a plain read prefetch; x86 CPUs without
// PREFETCHW execute its encoding as a no-op. An asm statement, so that the
// compiler cannot drop it as having no effect.
inline void prefetch_for_write(const void *p) {
#if defined(__x86_64__)
  asm volatile("prefetchw %0" : : "m"(*static_cast<const volatile char *>(p)));
#else
  __builtin_prefetch(p, 1, 3);
#endif
}

inline void prefetch_next_alloc(rte_mempool *pool, uint32_t bytes) {
  rte_mempool_cache *cache = rte_mempool_default_cache(pool, rte_lcore_id());
  if (cache == nullptr || cache->len == 0)
    return; // the next get refills from the pool's ring: nothing to point at
  const auto *m = static_cast<const uint8_t *>(cache->objs[cache->len - 1]);
  prefetch_for_write(m);
  prefetch_for_write(m + RTE_CACHE_LINE_SIZE);
  // A pktmbuf pool's buffer follows the header and the private area.
  const uint8_t *data = m + sizeof(rte_mbuf) + rte_pktmbuf_priv_size(pool) + RTE_PKTMBUF_HEADROOM;
  const auto first = reinterpret_cast<uintptr_t>(data - 14) & ~uintptr_t{RTE_CACHE_LINE_SIZE - 1};
  const auto last = reinterpret_cast<uintptr_t>(data + bytes - 1);
  for (uintptr_t line = first; line <= last; line += RTE_CACHE_LINE_SIZE)
    prefetch_for_write(reinterpret_cast<const void *>(line));
}

} // namespace shoal::tcp
