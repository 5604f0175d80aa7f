#pragma once
// The neighbour table of one shard (RFC 826 "Address Resolution Protocol";
// behaviour modelled on RFC 1122 2.3.2.2 and Linux): IPv4 next hop -> MAC,
// with the packets waiting for a next hop that is still being resolved.
//
// - Resolved entries live for `entry_lifetime` after the last time they were
//   learnt or refreshed, then are removed (the next packet asks again).
// - An unresolved ("incomplete") entry holds at most `pending_per_address`
//   packets (RFC 1122 2.3.2.2: "SHOULD save at least one"), re-sends its
//   request every `request_interval`, and after `request_retries` requests
//   drops what it holds and is removed.
// - The table has a fixed capacity (rte_hash with an extendable bucket table
//   so every slot can be used); nothing is allocated after construction.
//
// The cache never sends or frees on its own: it hands packets and request
// targets back through the callbacks of learn() and advance().
#include <cstdint>
#include <string>
#include <vector>

#include <rte_hash.h>
#include <rte_mbuf.h>

#include "common/time.hpp"
#include "wire/addr.hpp"

namespace shoal::shard {

struct ArpCacheConfig {
  uint32_t max_entries = 1024;
  Duration entry_lifetime = std::chrono::seconds(60);
  uint32_t pending_per_address = 16;
  Duration request_interval = std::chrono::seconds(1);
  uint32_t request_retries = 3;
};

class ArpCache {
public:
  // `name` must be unique in the process (it names the rte_hash).
  // Throws std::runtime_error when the hash table cannot be created.
  ArpCache(const ArpCacheConfig &, const std::string &name);
  ~ArpCache(); // frees every held packet
  ArpCache(const ArpCache &) = delete;
  ArpCache &operator=(const ArpCache &) = delete;

  // The MAC of a resolved, unexpired entry; nullptr otherwise.
  const wire::MacAddr *lookup(wire::Ipv4Addr ip, Instant now) const {
    const int32_t pos = rte_hash_lookup(hash_, &ip.v);
    if (pos < 0)
      return nullptr;
    const Entry &e = entries_[static_cast<size_t>(pos)];
    return e.resolved && now < e.deadline ? &e.mac : nullptr;
  }

  enum class Hold : uint8_t {
    queued_first, // new incomplete entry: the caller sends the first request now
    queued,       // a request is already outstanding
    queue_full,   // caller drops the packet (counted)
    table_full,   // caller drops the packet (counted)
  };
  // Keeps `m` until `ip` resolves. On queue_full/table_full the packet stays
  // the caller's. A resolved entry that expired becomes incomplete again.
  Hold hold(wire::Ipv4Addr ip, rte_mbuf *m, Instant now);

  enum class Learn : uint8_t { created, updated, ignored, table_full };
  // RFC 826 "merge": an existing entry takes the new MAC and a fresh
  // lifetime; an absent one is created only when `create` (we are the
  // target). Packets held for `ip` go to release(rte_mbuf *) in arrival order.
  template <typename Release>
  Learn learn(wire::Ipv4Addr ip, const wire::MacAddr &mac, Instant now, bool create,
              Release &&release) {
    int32_t pos = rte_hash_lookup(hash_, &ip.v);
    Learn result = Learn::updated;
    if (pos < 0) {
      if (!create)
        return Learn::ignored;
      pos = rte_hash_add_key(hash_, &ip.v);
      if (pos < 0)
        return Learn::table_full;
      entries_[static_cast<size_t>(pos)] = Entry{ip, {}, false, now, 0, 0};
      result = Learn::created;
    }
    Entry &e = entries_[static_cast<size_t>(pos)];
    e.mac = mac;
    e.resolved = true;
    e.deadline = now + cfg_.entry_lifetime;
    e.requests_sent = 0;
    rte_mbuf **held = pending(static_cast<size_t>(pos));
    const uint32_t n = e.pending_count;
    e.pending_count = 0;
    for (uint32_t i = 0; i < n; i++)
      release(held[i]);
    return result;
  }

  // Timers. Removes expired resolved entries; for incomplete ones whose
  // retry time has come, either calls send_request(Ipv4Addr) again or, after
  // request_retries requests, gives each held packet to drop(rte_mbuf *) and
  // removes the entry.
  template <typename SendRequest, typename Drop>
  void advance(Instant now, SendRequest &&send_request, Drop &&drop) {
    const void *key;
    void *data;
    uint32_t next = 0;
    int32_t pos;
    // Deleting during rte_hash_iterate is not allowed: collect, then delete.
    uint32_t n_doomed = 0;
    while ((pos = rte_hash_iterate(hash_, &key, &data, &next)) >= 0) {
      Entry &e = entries_[static_cast<size_t>(pos)];
      if (now < e.deadline)
        continue;
      if (e.resolved) {
        doomed_[n_doomed++] = e.ip;
        continue;
      }
      if (e.requests_sent >= cfg_.request_retries) {
        rte_mbuf **held = pending(static_cast<size_t>(pos));
        for (uint32_t i = 0; i < e.pending_count; i++)
          drop(held[i]);
        e.pending_count = 0;
        doomed_[n_doomed++] = e.ip;
        continue;
      }
      e.requests_sent++;
      e.deadline = now + cfg_.request_interval;
      send_request(e.ip);
    }
    for (uint32_t i = 0; i < n_doomed; i++)
      rte_hash_del_key(hash_, &doomed_[i].v);
  }

  // Called by the owner right after hold() returned queued_first and the
  // first request went out: counts it and arms the retry timer.
  void request_sent(wire::Ipv4Addr ip, Instant now);

  size_t size() const { return static_cast<size_t>(rte_hash_count(hash_)); }
  // Packets currently held, all entries together.
  size_t held_packets() const;
  const ArpCacheConfig &config() const { return cfg_; }

private:
  struct Entry {
    wire::Ipv4Addr ip;
    wire::MacAddr mac;
    bool resolved = false;
    Instant deadline{};         // resolved: expiry; incomplete: next retry
    uint32_t requests_sent = 0; // incomplete only
    uint32_t pending_count = 0; // incomplete only
  };
  rte_mbuf **pending(size_t pos) { return &pending_[pos * cfg_.pending_per_address]; }

  ArpCacheConfig cfg_;
  rte_hash *hash_ = nullptr;
  std::vector<Entry> entries_;         // indexed by rte_hash key position
  std::vector<rte_mbuf *> pending_;    // pending_per_address slots per entry
  std::vector<wire::Ipv4Addr> doomed_; // scratch for advance()
};

} // namespace shoal::shard
