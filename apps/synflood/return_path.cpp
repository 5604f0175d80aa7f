#include "synflood/return_path.hpp"

#include <cstring>

#include "wire/bytes.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"

namespace shoal::synflood {

unsigned ReturnPath::drain(unsigned max) {
  constexpr unsigned kBurst = 64;
  unsigned total = 0;
  while (total < max) {
    rte_mbuf *in[kBurst], *pass[kBurst], *drop[kBurst];
    const unsigned n =
        rte_ring_sc_dequeue_burst(from_, reinterpret_cast<void **>(in), kBurst, nullptr);
    if (n == 0)
      break;
    unsigned np = 0, nd = 0;
    for (unsigned i = 0; i < n; ++i) {
      const uint8_t *f = rte_pktmbuf_mtod(in[i], const uint8_t *);
      const uint32_t len = rte_pktmbuf_data_len(in[i]);
      bool for_client = true; // ARP, and anything we do not understand: let the stack judge
      if (len >= wire::kEthernetHeaderLen + 20 &&
          wire::load_be16(f + wire::ethernet_field::kEtherType) == wire::kEtherTypeIpv4) {
        uint32_t dst_be;
        std::memcpy(&dst_be, f + wire::kEthernetHeaderLen + wire::ipv4_field::kDst, 4);
        for_client = dst_be == client_be_;
      }
      (for_client ? pass[np++] : drop[nd++]) = in[i];
    }
    if (np > 0) {
      const unsigned k =
          rte_ring_sp_enqueue_burst(to_, reinterpret_cast<void *const *>(pass), np, nullptr);
      passed_ += k;
      for (unsigned i = k; i < np; ++i)
        drop[nd++] = pass[i];
    }
    rte_pktmbuf_free_bulk(drop, nd);
    dropped_ += nd;
    total += n;
    if (n < kBurst)
      break;
  }
  return total;
}

} // namespace shoal::synflood
