#pragma once
// ConnTable: the shard's flow table of connections, 4-tuple -> Connection,
// in 8 bytes a slot (memory per connection counts): the low 32 bits of
// the keyed flow hash and the connection's ConnectionPool index. The tuple
// is not stored again: a slot whose hash matches is confirmed against the
// connection's own tuple, which the caller reads next anyway (a lookup
// touches one more cache line only on a 32-bit hash collision, about one
// probe in 2^(32 - log2 capacity)).
//
// Open addressing with linear probing and backward-shift deletion (no
// tombstones), keyed with flow_hash (flow_hash.hpp) so that a remote peer
// cannot aim tuples at one probe chain; grows by doubling at 75% load
// (a successful lookup probes about 2.5 slots on average, 8 slots to a cache
// line). At 1M connections: 2^21 slots, 16 MB, against 48 MB for the
// table of 24-byte slots (tuple + pointer) at 50% load it replaced.
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "tcp/flow_hash.hpp"
#include "tcp/pool.hpp"

namespace shoal::tcp {

// Pool: at(uint32_t) -> pointer to an object with tuple() (ConnectionPool;
// benchmarks use a stand-in).
template <class Pool> class BasicConnTable {
public:
  using Object = std::remove_pointer_t<decltype(std::declval<Pool &>().at(0))>;

  BasicConnTable(uint64_t hash_key, Pool &pool, size_t initial_capacity = 1024)
      : key_(hash_key), pool_(pool) {
    size_t cap = 16;
    while (cap < initial_capacity)
      cap <<= 1;
    slots_.resize(cap);
    mask_ = cap - 1;
  }

  size_t size() const { return size_; }
  size_t capacity() const { return slots_.size(); }
  size_t memory_bytes() const { return slots_.capacity() * sizeof(Slot); }

  Object *find(const FourTuple &t) const {
    const uint32_t h = hash(t);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot s = slots_[i];
      if (s.empty())
        return nullptr;
      if (s.hash == h) {
        Object *c = pool_.at(s.index);
        if (c->tuple() == t)
          return c;
      }
    }
  }
  bool contains(const FourTuple &t) const { return find(t) != nullptr; }

  // The connection at pool `index`, whose tuple() is `t`. False (and no
  // change) if the tuple is already present.
  bool insert(const FourTuple &t, uint32_t index) {
    if (find(t) != nullptr)
      return false;
    if ((size_ + 1) * kMaxLoadDen > slots_.size() * kMaxLoadNum)
      grow();
    place(Slot{hash(t), index});
    ++size_;
    return true;
  }

  bool erase(const FourTuple &t) {
    const uint32_t h = hash(t);
    size_t i = h & mask_;
    for (;; i = (i + 1) & mask_) {
      const Slot s = slots_[i];
      if (s.empty())
        return false;
      if (s.hash == h && pool_.at(s.index)->tuple() == t)
        break;
    }
    // Backward-shift deletion: pull later members of the probe run into the
    // hole when their home position allows it.
    size_t hole = i;
    for (size_t j = (hole + 1) & mask_; !slots_[j].empty(); j = (j + 1) & mask_) {
      const size_t home = slots_[j].hash & mask_;
      // Move j into the hole unless its home lies cyclically in (hole, j].
      const bool home_after_hole = ((j - home) & mask_) < ((j - hole) & mask_);
      if (!home_after_hole) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole] = Slot{};
    --size_;
    return true;
  }

  // f(Object *) for every connection in the table.
  template <class F> void for_each(F &&f) {
    for (const Slot &s : slots_)
      if (!s.empty())
        f(pool_.at(s.index));
  }

  void clear() {
    for (Slot &s : slots_)
      s = Slot{};
    size_ = 0;
  }

private:
  static constexpr uint32_t kEmpty = UINT32_MAX;
  static constexpr size_t kMaxLoadNum = 3, kMaxLoadDen = 4;
  struct Slot {
    uint32_t hash = 0;
    uint32_t index = kEmpty; // ConnectionPool index
    bool empty() const { return index == kEmpty; }
  };
  static_assert(sizeof(Slot) == 8);

  uint32_t hash(const FourTuple &t) const { return static_cast<uint32_t>(flow_hash(t, key_)); }

  void place(Slot s) {
    size_t i = s.hash & mask_;
    while (!slots_[i].empty())
      i = (i + 1) & mask_;
    slots_[i] = s;
  }

  void grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.resize(old.size() * 2);
    mask_ = slots_.size() - 1;
    for (const Slot &s : old)
      if (!s.empty())
        place(s);
  }

  uint64_t key_;
  Pool &pool_;
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

using ConnTable = BasicConnTable<ConnectionPool>;

} // namespace shoal::tcp
