#pragma once
// FlowTable: shard-local map from a 4-tuple to a small value stored in the
// slot with its tuple (the engine's connections use the smaller ConnTable,
// conn_table.hpp, which shares flow_hash). Open addressing with linear probing and
// backward-shift deletion (no tombstones), so lookups stay short at any size;
// it grows by doubling at 50% load, which keeps 1M entries in about 48 MB.
//
// The hash is keyed with the engine's secret so that a remote peer cannot aim
// many tuples at one probe chain. No locks: one shard, one table.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tcp/engine.hpp"

namespace shoal::tcp {

inline uint64_t flow_hash(const FourTuple &t, uint64_t key) {
  // Two rounds of a 64-bit multiply-xorshift mixer over the packed tuple.
  uint64_t a = (uint64_t{t.local_addr.v} << 32 | t.remote_addr.v) ^ key;
  uint64_t b = (uint64_t{t.local_port} << 16 | t.remote_port) ^ (key * 0x9e3779b97f4a7c15ull);
  uint64_t h = a * 0x9e3779b97f4a7c15ull;
  h ^= h >> 29;
  h += b;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 32;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 29;
  return h;
}

template <class V> class FlowTable {
public:
  explicit FlowTable(uint64_t hash_key, size_t initial_capacity = 1024) : key_(hash_key) {
    size_t cap = 16;
    while (cap < initial_capacity)
      cap <<= 1;
    slots_.resize(cap);
    mask_ = cap - 1;
  }

  size_t size() const { return size_; }
  size_t capacity() const { return slots_.size(); }
  size_t memory_bytes() const { return slots_.capacity() * sizeof(Slot); }

  V *find(const FourTuple &t) {
    for (size_t i = home(t);; i = (i + 1) & mask_) {
      Slot &s = slots_[i];
      if (s.empty())
        return nullptr;
      if (s.key == t)
        return &s.value;
    }
  }
  const V *find(const FourTuple &t) const { return const_cast<FlowTable *>(this)->find(t); }
  bool contains(const FourTuple &t) const { return find(t) != nullptr; }

  // False (and no change) if the tuple is already present. A tuple with
  // local_port 0 cannot be stored (port 0 marks an empty slot; the input
  // path drops port 0 before it gets here).
  bool insert(const FourTuple &t, V value) {
    if (t.local_port == 0)
      return false;
    if ((size_ + 1) * 2 > slots_.size())
      grow();
    for (size_t i = home(t);; i = (i + 1) & mask_) {
      Slot &s = slots_[i];
      if (s.empty()) {
        s.key = t;
        s.value = value;
        ++size_;
        return true;
      }
      if (s.key == t)
        return false;
    }
  }

  bool erase(const FourTuple &t) {
    size_t i = home(t);
    for (;; i = (i + 1) & mask_) {
      if (slots_[i].empty())
        return false;
      if (slots_[i].key == t)
        break;
    }
    // Backward-shift deletion: pull later members of the probe run into the
    // hole when their home position allows it.
    size_t hole = i;
    for (size_t j = (hole + 1) & mask_; !slots_[j].empty(); j = (j + 1) & mask_) {
      size_t h = home(slots_[j].key);
      // Move j into the hole unless its home lies cyclically in (hole, j].
      bool home_after_hole = ((j - h) & mask_) < ((j - hole) & mask_);
      if (!home_after_hole) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole] = Slot{};
    --size_;
    return true;
  }

  template <class F> void for_each(F &&f) {
    for (Slot &s : slots_)
      if (!s.empty())
        f(s.key, s.value);
  }

  void clear() {
    for (Slot &s : slots_)
      s = Slot{};
    size_ = 0;
  }

private:
  struct Slot {
    FourTuple key{};
    V value{};
    bool empty() const { return key.local_port == 0; }
  };

  size_t home(const FourTuple &t) const { return flow_hash(t, key_) & mask_; }

  void grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.resize(old.size() * 2);
    mask_ = slots_.size() - 1;
    size_ = 0;
    for (Slot &s : old)
      if (!s.empty())
        insert(s.key, s.value);
  }

  uint64_t key_;
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

} // namespace shoal::tcp
