#pragma once
// Handing a packet to the shard that owns its flow.
//
// Where the device cannot steer by the symmetric Toeplitz hash (TAP: the
// kernel picks the queue by its own flow hash; see flow_steering.hpp), a
// packet may arrive on a shard that does not own its flow. That shard must not
// process it (the owner's connection state is the owner's alone); it passes
// the mbuf to the owner through a ring, and the owner drains its rings at the
// top of each poll-loop iteration as if the packets had arrived on its queue.
//
// One single-producer/single-consumer rte_ring per ordered (from, to) pair, so
// neither side ever contends with a third shard and the ring needs no
// compare-and-swap: send(from, ...) may be called only on shard `from`'s lcore,
// drain(to, ...) only on shard `to`'s. Lock-free, no allocation per packet.
// Order is preserved per source (a ring is FIFO), which is all TCP needs: the
// packets of one flow that arrive on the same wrong queue stay in order.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include <rte_mbuf.h>
#include <rte_ring.h>

namespace shoal::shard {

class Handoff {
public:
  // n_shards >= 1; each ring holds `size` mbufs (exactly: RING_F_EXACT_SZ).
  // Throws std::invalid_argument when size is 0 or beyond RTE_RING_SZ_MASK.
  Handoff(uint16_t n_shards, uint32_t size);
  // Frees any mbufs still queued.
  ~Handoff();
  Handoff(const Handoff &) = delete;
  Handoff &operator=(const Handoff &) = delete;

  uint16_t n_shards() const { return n_shards_; }
  uint32_t ring_size() const { return size_; }

  // Queues m for shard `to`. false when that ring is full (or from == to, or
  // either is out of range): the caller still owns m, frees it and counts
  // the drop.
  bool send(uint16_t from, uint16_t to, rte_mbuf *m) {
    rte_ring *r = ring(from, to);
    return r != nullptr && rte_ring_sp_enqueue(r, m) == 0;
  }
  // As many of m[0..n) as fit, in order; returns how many were queued. The
  // caller owns (frees and counts) m[ret..n).
  unsigned send_burst(uint16_t from, uint16_t to, rte_mbuf *const *m, unsigned n) {
    rte_ring *r = ring(from, to);
    return r == nullptr
               ? 0
               : rte_ring_sp_enqueue_burst(r, reinterpret_cast<void *const *>(m), n, nullptr);
  }

  // Moves up to out.size() mbufs queued for `to` into out, taking from every
  // source; the source that goes first rotates from call to call, so one busy
  // source cannot starve the others. Returns how many were written.
  size_t drain(uint16_t to, std::span<rte_mbuf *> out);

  // Mbufs waiting for `to` (approximate while producers run).
  size_t pending(uint16_t to) const;

private:
  void release_rings();
  rte_ring *ring(uint16_t from, uint16_t to) const {
    if (from >= n_shards_ || to >= n_shards_)
      return nullptr;
    return rings_[size_t{from} * n_shards_ + to]; // nullptr on the diagonal
  }

  // Per destination, touched only by that destination's lcore.
  struct alignas(RTE_CACHE_LINE_SIZE) Consumer {
    uint16_t next_source = 0;
  };

  uint16_t n_shards_;
  uint32_t size_;
  std::unique_ptr<rte_ring *[]> rings_;   // [from * n + to]
  std::unique_ptr<Consumer[]> consumers_; // [to]
};

} // namespace shoal::shard
