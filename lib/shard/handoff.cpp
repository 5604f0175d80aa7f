#include "shard/handoff.hpp"

#include <new>
#include <stdexcept>
#include <string>

namespace shoal::shard {

namespace {
constexpr std::align_val_t kRingAlign{RTE_CACHE_LINE_SIZE};
}

// The rings live in ordinary (cache-line aligned) heap memory set up with
// rte_ring_init rather than rte_ring_create: they hold only pointers, so they
// need no DMA-able memory, no memzone name (unique names would limit how many
// Handoffs a process may build), and they work before and after the EAL.
Handoff::Handoff(uint16_t n_shards, uint32_t size)
    : n_shards_(n_shards == 0 ? 1 : n_shards), size_(size) {
  constexpr unsigned flags = RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ;
  if (size == 0 || size > RTE_RING_SZ_MASK)
    throw std::invalid_argument("Handoff: ring size " + std::to_string(size) + " outside 1.." +
                                std::to_string(RTE_RING_SZ_MASK));
  const ssize_t bytes = rte_ring_get_memsize_elem(sizeof(void *), rte_align32pow2(size + 1));
  if (bytes < 0)
    throw std::invalid_argument("Handoff: rte_ring_get_memsize_elem failed for size " +
                                std::to_string(size));
  const size_t n = size_t{n_shards_} * n_shards_;
  rings_ = std::make_unique<rte_ring *[]>(n);
  consumers_ = std::make_unique<Consumer[]>(n_shards_);
  for (uint16_t from = 0; from < n_shards_; from++)
    for (uint16_t to = 0; to < n_shards_; to++) {
      if (from == to)
        continue;
      void *mem = ::operator new(static_cast<size_t>(bytes), kRingAlign);
      auto *r = static_cast<rte_ring *>(mem);
      const std::string name = "ho" + std::to_string(from) + "_" + std::to_string(to);
      if (rte_ring_init(r, name.c_str(), size, flags) != 0) {
        ::operator delete(mem, kRingAlign);
        release_rings();
        throw std::invalid_argument("Handoff: rte_ring_init failed for size " +
                                    std::to_string(size));
      }
      rings_[size_t{from} * n_shards_ + to] = r;
    }
}

Handoff::~Handoff() {
  release_rings();
}

void Handoff::release_rings() {
  if (!rings_)
    return;
  for (size_t i = 0; i < size_t{n_shards_} * n_shards_; i++)
    if (rings_[i] != nullptr) {
      // Mbufs still queued belong to nobody else: free them.
      void *m = nullptr;
      while (rte_ring_sc_dequeue(rings_[i], &m) == 0)
        rte_pktmbuf_free(static_cast<rte_mbuf *>(m));
      ::operator delete(static_cast<void *>(rings_[i]), kRingAlign);
      rings_[i] = nullptr;
    }
  rings_.reset();
}

size_t Handoff::drain(uint16_t to, std::span<rte_mbuf *> out) {
  if (to >= n_shards_ || n_shards_ == 1)
    return 0;
  Consumer &c = consumers_[to];
  const uint16_t first = c.next_source;
  c.next_source = static_cast<uint16_t>((first + 1) % n_shards_);
  size_t got = 0;
  for (uint16_t i = 0; i < n_shards_ && got < out.size(); i++) {
    const auto from = static_cast<uint16_t>((first + i) % n_shards_);
    rte_ring *r = ring(from, to);
    if (r == nullptr)
      continue;
    got += rte_ring_sc_dequeue_burst(r, reinterpret_cast<void **>(out.data() + got),
                                     static_cast<unsigned>(out.size() - got), nullptr);
  }
  return got;
}

size_t Handoff::pending(uint16_t to) const {
  size_t n = 0;
  for (uint16_t from = 0; from < n_shards_; from++)
    if (rte_ring *r = ring(from, to); r != nullptr)
      n += rte_ring_count(r);
  return n;
}

} // namespace shoal::shard
