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
  max_tracked_ = size_t{max_datagrams} * 2;
  ranges_.reserve(max_tracked_);
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

void Reassembly::free_now(rte_mbuf *m) {
  rte_pktmbuf_free(m);
  freed_here_++;
}

Reassembly::Verdict Reassembly::check(const Key &k, uint32_t begin, uint32_t end, uint64_t now_ms,
                                      bool *added) {
  *added = false;
  auto it = ranges_.find(k);
  if (it == ranges_.end()) {
    if (ranges_.size() >= max_tracked_)
      forget_older_than(now_ms > timeout_ms_ ? now_ms - timeout_ms_ : 0);
    if (ranges_.size() >= max_tracked_)
      return Verdict::take; // untracked: the table's own checks still apply
    it = ranges_.emplace(k, Ranges{}).first;
    it->second.first_ms = now_ms;
  }
  Ranges &r = it->second;
  if (r.discarded)
    return Verdict::discarded;
  for (uint8_t i = 0; i < r.n; i++) {
    if (r.begin[i] == begin && r.end[i] == end)
      return Verdict::duplicate;
    if (begin < r.end[i] && r.begin[i] < end) {
      r.discarded = true;
      return Verdict::overlap;
    }
  }
  if (r.n < r.begin.size()) { // beyond: the table refuses the datagram itself
    r.begin[r.n] = begin;
    r.end[r.n] = end;
    r.n++;
    *added = true;
  }
  return Verdict::take;
}

void Reassembly::forget_older_than(uint64_t ms) {
  for (auto it = ranges_.begin(); it != ranges_.end();)
    it = it->second.first_ms <= ms ? ranges_.erase(it) : std::next(it);
}

rte_mbuf *Reassembly::add(rte_mbuf *m, Instant now) {
  const auto *ip = rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr *, m->l2_len);
  const Key key{ip->src_addr, ip->dst_addr, ip->packet_id, ip->next_proto_id};
  const uint32_t begin =
      uint32_t{static_cast<uint16_t>(rte_be_to_cpu_16(ip->fragment_offset) &
                                     RTE_IPV4_HDR_OFFSET_MASK)} *
      RTE_IPV4_HDR_OFFSET_UNITS;
  const uint32_t end = begin + rte_be_to_cpu_16(ip->total_length) - m->l3_len;
  bool added = false;
  switch (check(key, begin, end, ms(now), &added)) {
  case Verdict::take:
    break;
  case Verdict::duplicate:
    duplicates_++;
    free_now(m);
    return nullptr;
  case Verdict::overlap:
    overlaps_++;
    free_now(m);
    return nullptr;
  case Verdict::discarded:
    free_now(m);
    return nullptr;
  }
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
    forget_older_than(ms(now) > pressure_ms ? ms(now) - pressure_ms : 0);
    whole = try_add(m, ms(now), &rejected);
  }
  if (whole == nullptr) {
    if (rejected && added) { // not held after all: its range goes too
      auto it = ranges_.find(key);
      if (it != ranges_.end() && --it->second.n == 0)
        ranges_.erase(it);
    }
    return nullptr;
  }
  ranges_.erase(key);
  // The library rewrote length, flags and offset and left the checksum 0.
  auto *hdr = rte_pktmbuf_mtod_offset(whole, rte_ipv4_hdr *, whole->l2_len);
  hdr->hdr_checksum = 0;
  hdr->hdr_checksum = rte_ipv4_cksum(hdr);
  return whole;
}

void Reassembly::expire(Instant now) {
  rte_ip_frag_table_del_expired_entries(tbl_, &death_row_, ms(now));
  if (ms(now) >= timeout_ms_)
    forget_older_than(ms(now) - timeout_ms_);
}

uint32_t Reassembly::take_freed() {
  const uint32_t n = death_row_.cnt + std::exchange(freed_here_, 0);
  if (death_row_.cnt != 0)
    rte_ip_frag_free_death_row(&death_row_, 0);
  return n;
}

} // namespace shoal::shard
