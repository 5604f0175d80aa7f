#pragma once
// One direction of a simulated wire between two engines.
//
// A datagram handed to send() is copied into a fresh, single-segment mbuf from
// the receiver's pool, as a NIC would DMA it, and the sender's mbuf is freed
// at once (that is the "tx completion": it may reference the sender's send
// ring, so the link never writes into it). Then the impairments decide its
// fate: loss, a drop filter set by the test, a full queue behind a bandwidth
// limit, delay + jitter, reordering (extra delay), duplication (a second
// copy), corruption (one flipped bit in the copy). Every random decision comes
// from one std::mt19937_64 seeded by the caller, drawn in a fixed order per
// datagram, so a run is a pure function of its seed.
//
// The link owns the copies until pop_due() hands them over; whatever is still
// in flight when the link is destroyed is freed.
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>

#include <rte_mbuf.h>

#include "common/time.hpp"
#include "sim/parsed_segment.hpp"
#include "sim/trace.hpp"

namespace shoal::sim {

struct LinkConfig {
  Duration delay = 1ms;   // one-way propagation delay
  Duration jitter = 0ns;  // extra delay, uniform in [0, jitter]
  double loss = 0.0;      // probability a datagram is dropped
  double duplicate = 0.0; // probability a second copy is delivered too
  double reorder = 0.0;   // probability a datagram is held back by reorder_delay
  Duration reorder_delay = 5ms;
  double corrupt = 0.0;       // probability one random bit of the delivered copy flips
  uint64_t bandwidth_bps = 0; // serialisation rate; 0 = infinitely fast
  size_t queue_limit = 0;     // datagrams waiting for serialisation before tail drop; 0 = unbounded
  // Deliver each datagram as an mbuf chain, as net_ring passes a sender's
  // zero-copy chains through: the first 50 bytes (IPv4 + part of the TCP
  // header: options straddle) in one mbuf, then pieces of this many bytes.
  // 0: one contiguous mbuf (a NIC's receive buffer).
  uint16_t chain_piece = 0;
};

// Per-link counters, one table.
// clang-format off
#define SHOAL_SIM_LINK_COUNTERS(X)                                              \
  X(sent)        /* datagrams handed to send() */                               \
  X(delivered)   /* copies handed to the receiver (duplicates included) */      \
  X(lost)        /* random loss */                                              \
  X(filtered)    /* dropped by the drop filter */                               \
  X(queue_full)  /* tail-dropped behind the bandwidth limit */                  \
  X(no_mbuf)     /* receiver's pool empty */                                    \
  X(duplicated)  /* extra copies made */                                        \
  X(corrupted)   /* copies with a flipped bit */                                \
  X(reordered)   /* datagrams held back by reorder_delay */                     \
  X(malformed)   /* datagrams the SENDER emitted that fail parsing/checksums */
// clang-format on

struct LinkStats {
#define SHOAL_SIM_X_FIELD(name) uint64_t name = 0;
  SHOAL_SIM_LINK_COUNTERS(SHOAL_SIM_X_FIELD)
#undef SHOAL_SIM_X_FIELD
  // "sent=10 delivered=9 lost=1 ..." (all counters, table order).
  std::string to_string() const;
};

// What a drop filter sees of a datagram about to cross the link.
struct LinkPacket {
  uint64_t index; // 0-based count of datagrams sent on this link
  Instant now;
  const ParsedSegment &segment; // parsed with lib/wire (check segment.ok())
};
// Returns true to drop the datagram (counted as `filtered`).
using DropFilter = std::function<bool(const LinkPacket &)>;

class Link {
public:
  // rx_pool: where the receiver's copies come from (nullptr: the sender's
  // mbuf's own pool). trace may be nullptr.
  Link(const LinkConfig &config, uint64_t seed, rte_mempool *rx_pool, Trace *trace = nullptr,
       Direction dir = Direction::a_to_b);
  ~Link();
  Link(const Link &) = delete;
  Link &operator=(const Link &) = delete;

  // Takes ownership of `m` (data at the IPv4 header, any number of segments).
  // Completes TX checksum offload (RTE_MBUF_F_TX_IP_CKSUM / TX_TCP_CKSUM) as a
  // NIC would.
  void send(rte_mbuf *m, Instant now);

  // Arrival time of the next copy in flight; nullopt when none.
  std::optional<Instant> next_delivery() const;
  // The earliest copy that has arrived by `now` (ties: in the order sent), or
  // nullptr. Ownership passes to the caller.
  rte_mbuf *pop_due(Instant now);
  size_t in_flight() const { return in_flight_.size(); }

  // The impairments may be changed between sends.
  LinkConfig &config() { return config_; }
  const LinkConfig &config() const { return config_; }
  void set_drop_filter(DropFilter f) { filter_ = std::move(f); }
  void clear_drop_filter() { filter_ = nullptr; }

  const LinkStats &stats() const { return stats_; }
  Direction direction() const { return dir_; }

private:
  // A copy of the sender's datagram in one mbuf from rx_pool (or m's pool).
  rte_mbuf *copy_for_receiver(const rte_mbuf *m) const;
  rte_mbuf *as_chain(rte_mbuf *c) const;
  void schedule(rte_mbuf *copy, Instant arrives);
  double uniform(); // [0, 1), from rng_ only
  Duration uniform_duration(Duration max);

  LinkConfig config_;
  std::mt19937_64 rng_;
  rte_mempool *rx_pool_;
  Trace *trace_;
  Direction dir_;
  DropFilter filter_;
  LinkStats stats_;
  uint64_t next_index_ = 0;
  uint64_t next_order_ = 0; // FIFO tie-break among equal arrival times
  Instant busy_until_{};    // when the serialiser finishes its current queue
  std::map<std::pair<Instant, uint64_t>, rte_mbuf *> in_flight_;
  std::deque<Instant> tx_done_; // serialisation end times of queued datagrams (bandwidth limit)
};

// Ready-made drop filters for the common scripted faults.
namespace drop {
// The datagram with this link index (0-based).
DropFilter nth(uint64_t index);
// The first `count` datagrams for which `pred` holds.
DropFilter first(std::function<bool(const ParsedSegment &)> pred, unsigned count = 1);
// The first `count` well-formed segments whose flags are exactly `flags`,
// PSH ignored (drop::first_flags(SYN | ACK) drops the first SYN-ACK;
// drop::first_flags(FIN | ACK, 2) the first FIN and its retransmission).
DropFilter first_flags(uint8_t flags, unsigned count = 1);
// Every datagram (a dead peer, a cut cable).
DropFilter all();
} // namespace drop

} // namespace shoal::sim
