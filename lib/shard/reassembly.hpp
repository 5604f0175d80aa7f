#pragma once
// IPv4 reassembly for one shard (RFC 791 3.2, RFC 1122 3.3.2), on DPDK's
// rte_ip_frag table: bounded in datagrams (each up to
// RTE_LIBRTE_IP_FRAG_MAX_FRAG fragments) and in time (a datagram not
// complete within the timeout is freed). When the table is full, the
// datagrams older than kPressureAge are freed to make room (as Linux frees
// its oldest queues above ipfrag_high_thresh), so a flood of fragments that
// never complete cannot shut out datagrams whose fragments arrive together. Fragments of one datagram are
// chained into one mbuf chain whose first segment keeps the Ethernet and
// IPv4 headers of the first fragment.
#include <cstdint>

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
  // Fragments the table gave up since the last call (expired, evicted, a
  // bucket full, invalid, overlapping): frees them and returns how many.
  uint32_t take_freed();

private:
  static uint64_t ms(Instant t) { return static_cast<uint64_t>(to_ns(t) / 1'000'000); }
  rte_mbuf *try_add(rte_mbuf *m, uint64_t now_ms, bool *rejected);
  rte_ip_frag_tbl *tbl_ = nullptr;
  uint64_t timeout_ms_ = 0;
  rte_ip_frag_death_row death_row_{};
};

} // namespace shoal::shard
