#pragma once
// IPv4 reassembly for one shard (RFC 791 3.2, RFC 1122 3.3.2), on DPDK's
// rte_ip_frag table: bounded in datagrams (each up to
// RTE_LIBRTE_IP_FRAG_MAX_FRAG fragments) and in time (a datagram not
// complete within the timeout is freed). When the table is full, the
// datagrams older than kPressureAge are freed to make room (as Linux frees
// its oldest queues above ipfrag_high_thresh), so a flood of fragments that
// never complete cannot shut out datagrams whose fragments arrive together.
// Fragments of one datagram are chained into one mbuf chain whose first
// segment keeps the Ethernet and IPv4 headers of the first fragment.
//
// Overlaps: the byte ranges of each datagram's fragments are kept beside the
// table. A fragment that overlaps one already held, other than an exact
// duplicate, discards the whole datagram, as RFC 5722 requires for IPv6 and
// Linux does for IPv4 since 4.19: the fragment is freed, the datagram is
// marked so that its later fragments are freed as they come, and what the
// table holds of it never completes and leaves at its timeout. An exact
// duplicate (same offset and length) is freed and the datagram kept.
#include <array>
#include <cstdint>
#include <unordered_map>
#include <utility>

#include <rte_ip_frag.h>
#include <rte_mbuf.h>

#include "common/time.hpp"

namespace shoal::shard {

class Reassembly {
public:
  static constexpr Duration kPressureAge = std::chrono::milliseconds(10);

  // Throws std::runtime_error when the table cannot be allocated.
  Reassembly(uint32_t max_datagrams, Duration timeout, int socket_id);
  ~Reassembly();
  Reassembly(const Reassembly &) = delete;
  Reassembly &operator=(const Reassembly &) = delete;

  // `m` is a fragment: data offset at the Ethernet header, l2_len and
  // l3_len set, no trailing padding. Returns the whole datagram once its
  // last fragment arrived (the chain, with the IPv4 header's length, flags
  // and offset rewritten and its checksum recomputed), else nullptr: the
  // fragment is held, or freed (see take_freed()).
  rte_mbuf *add(rte_mbuf *m, Instant now);
  // Frees datagrams older than the timeout.
  void expire(Instant now);
  // Fragments given up since the last call (expired, evicted, a bucket
  // full, invalid, overlapping, duplicate): frees them and returns how many.
  uint32_t take_freed();
  // Datagrams discarded for an overlap, and exact duplicates freed, since
  // the last call.
  uint32_t take_overlaps() { return std::exchange(overlaps_, 0); }
  uint32_t take_duplicates() { return std::exchange(duplicates_, 0); }
  // Datagrams whose byte ranges are tracked (bounded by twice the table).
  size_t tracked() const { return ranges_.size(); }

private:
  static uint64_t ms(Instant t) { return static_cast<uint64_t>(to_ns(t) / 1'000'000); }
  rte_mbuf *try_add(rte_mbuf *m, uint64_t now_ms, bool *rejected);

  // One datagram (RFC 791: source, destination, protocol, identification).
  struct Key {
    uint32_t src, dst;
    uint16_t id;
    uint8_t proto;
    bool operator==(const Key &) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key &k) const {
      return std::hash<uint64_t>()((uint64_t{k.src} << 32 | k.dst) ^
                                   (uint64_t{k.id} << 8 | k.proto) * 0x9e3779b97f4a7c15ull);
    }
  };
  struct Ranges {
    uint64_t first_ms = 0; // when its first fragment arrived
    bool discarded = false;
    uint8_t n = 0;
    std::array<uint32_t, RTE_LIBRTE_IP_FRAG_MAX_FRAG> begin{}, end{};
  };
  enum class Verdict { take, duplicate, overlap, discarded };
  // Records [begin, end) for `k` unless it overlaps (or the datagram was
  // discarded already); `*added` tells whether a range was recorded.
  Verdict check(const Key &k, uint32_t begin, uint32_t end, uint64_t now_ms, bool *added);
  void forget_older_than(uint64_t ms);
  void free_now(rte_mbuf *m);

  rte_ip_frag_tbl *tbl_ = nullptr;
  uint64_t timeout_ms_ = 0;
  size_t max_tracked_ = 0;
  rte_ip_frag_death_row death_row_{};
  std::unordered_map<Key, Ranges, KeyHash> ranges_;
  uint32_t freed_here_ = 0, overlaps_ = 0, duplicates_ = 0;
};

} // namespace shoal::shard
