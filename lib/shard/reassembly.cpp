// rte_ip_frag_table_del_expired_entries is experimental in DPDK 22.11.
#define ALLOW_EXPERIMENTAL_API 1

#include "shard/reassembly.hpp"

#include <stdexcept>
#include <string>

#include <rte_errno.h>
#include <rte_ip.h>

namespace shoal::shard {

namespace {
// Entries per hash bucket (a power of two); buckets are sized so that
// max_datagrams fit.
constexpr uint32_t kBucketEntries = 8;
} // namespace

Reassembly::Reassembly(uint32_t max_datagrams, Duration timeout, int socket_id) {
  const uint32_t buckets = (max_datagrams + kBucketEntries - 1) / kBucketEntries;
  const auto timeout_ms =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count());
  timeout_ms_ = timeout_ms;
  tbl_ = rte_ip_frag_table_create(buckets, kBucketEntries, max_datagrams, timeout_ms, socket_id);
  if (tbl_ == nullptr)
    throw std::runtime_error("IPv4 reassembly table for " + std::to_string(max_datagrams) +
                             " datagrams: " + rte_strerror(rte_errno));
}

Reassembly::~Reassembly() {
  take_freed();
  rte_ip_frag_table_destroy(tbl_); // frees the fragments still held
}

rte_mbuf *Reassembly::try_add(rte_mbuf *m, uint64_t now_ms, bool *rejected) {
  auto *ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr *, m->l2_len);
  const uint32_t before = death_row_.cnt;
  rte_mbuf *whole = rte_ipv4_frag_reassemble_packet(tbl_, &death_row_, m, now_ms, ip);
  // A fragment the table refused (no room, or its datagram found invalid)
  // is the last one put on the death row.
  *rejected = whole == nullptr && death_row_.cnt > before &&
              death_row_.row[death_row_.cnt - 1] == m;
  return whole;
}

rte_mbuf *Reassembly::add(rte_mbuf *m, Instant now) {
  bool rejected = false;
  rte_mbuf *whole = try_add(m, ms(now), &rejected);
  if (rejected) {
    // Take the fragment back, free the datagrams older than kPressureAge
    // (the table's own expiry with the clock moved forward), try once more.
    death_row_.cnt--;
    const auto pressure_ms = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(kPressureAge).count());
    if (timeout_ms_ > pressure_ms)
      rte_ip_frag_table_del_expired_entries(tbl_, &death_row_,
                                            ms(now) + timeout_ms_ - pressure_ms);
    whole = try_add(m, ms(now), &rejected);
  }
  if (whole == nullptr)
    return nullptr;
  // The library rewrote length, flags and offset and left the checksum 0.
  auto *ip = rte_pktmbuf_mtod_offset(whole, rte_ipv4_hdr *, whole->l2_len);
  ip->hdr_checksum = 0;
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  return whole;
}

void Reassembly::expire(Instant now) {
  rte_ip_frag_table_del_expired_entries(tbl_, &death_row_, ms(now));
}

uint32_t Reassembly::take_freed() {
  const uint32_t n = death_row_.cnt;
  if (n != 0)
    rte_ip_frag_free_death_row(&death_row_, 0);
  return n;
}

} // namespace shoal::shard
