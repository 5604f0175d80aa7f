#include "shard/arp_cache.hpp"

#include <stdexcept>

#include <rte_errno.h>
#include <rte_hash_crc.h>

namespace shoal::shard {

ArpCache::ArpCache(const ArpCacheConfig &cfg, const std::string &name) : cfg_(cfg) {
  if (cfg_.pending_per_address == 0)
    cfg_.pending_per_address = 1;
  rte_hash_parameters p{};
  p.name = name.c_str();
  p.entries = cfg_.max_entries;
  p.key_len = sizeof(uint32_t);
  p.hash_func = rte_hash_crc;
  p.socket_id = SOCKET_ID_ANY;
  // Without the extendable table a full bucket could refuse a key while
  // other slots are free; with it, max_entries is exactly the capacity.
  p.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
  hash_ = rte_hash_create(&p);
  if (hash_ == nullptr)
    throw std::runtime_error("ARP cache " + name + ": rte_hash_create: " + rte_strerror(rte_errno));
  const size_t slots = static_cast<size_t>(rte_hash_max_key_id(hash_)) + 1;
  entries_.resize(slots);
  pending_.resize(slots * cfg_.pending_per_address, nullptr);
  doomed_.resize(slots);
}

ArpCache::~ArpCache() {
  const void *key;
  void *data;
  uint32_t next = 0;
  int32_t pos;
  while ((pos = rte_hash_iterate(hash_, &key, &data, &next)) >= 0) {
    Entry &e = entries_[static_cast<size_t>(pos)];
    rte_mbuf **held = pending(static_cast<size_t>(pos));
    for (uint32_t i = 0; i < e.pending_count; i++)
      rte_pktmbuf_free(held[i]);
    e.pending_count = 0;
  }
  rte_hash_free(hash_);
}

ArpCache::Hold ArpCache::hold(wire::Ipv4Addr ip, rte_mbuf *m, Instant now) {
  int32_t pos = rte_hash_lookup(hash_, &ip.v);
  bool first = false;
  if (pos < 0) {
    pos = rte_hash_add_key(hash_, &ip.v);
    if (pos < 0)
      return Hold::table_full;
    entries_[static_cast<size_t>(pos)] = Entry{ip, {}, false, now, 0, 0};
    first = true;
  }
  Entry &e = entries_[static_cast<size_t>(pos)];
  if (e.resolved) {
    // Expired (lookup() said no): resolve it again, like a new entry.
    e.resolved = false;
    e.requests_sent = 0;
    e.deadline = now;
    first = true;
  }
  if (e.pending_count >= cfg_.pending_per_address)
    return Hold::queue_full;
  pending(static_cast<size_t>(pos))[e.pending_count++] = m;
  return first ? Hold::queued_first : Hold::queued;
}

void ArpCache::request_sent(wire::Ipv4Addr ip, Instant now) {
  const int32_t pos = rte_hash_lookup(hash_, &ip.v);
  if (pos < 0)
    return;
  Entry &e = entries_[static_cast<size_t>(pos)];
  if (e.resolved)
    return;
  e.requests_sent++;
  e.deadline = now + cfg_.request_interval;
}

size_t ArpCache::held_packets() const {
  size_t n = 0;
  const void *key;
  void *data;
  uint32_t next = 0;
  int32_t pos;
  while ((pos = rte_hash_iterate(hash_, &key, &data, &next)) >= 0)
    n += entries_[static_cast<size_t>(pos)].pending_count;
  return n;
}

} // namespace shoal::shard
