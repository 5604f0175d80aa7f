#pragma once
// ConnectionPool: shard-local storage for Connection objects, bounded by
// EngineConfig::max_connections. Storage grows in chunks as needed and is
// then recycled through a free list, so steady-state churn allocates nothing.
#include <cstdint>
#include <memory>
#include <new>
#include <vector>

#include "tcp/connection.hpp"

namespace shoal::tcp {

class ConnectionPool {
public:
  explicit ConnectionPool(uint32_t capacity) : capacity_(capacity) {}
  ~ConnectionPool() = default; // every connection must have been released
  ConnectionPool(const ConnectionPool &) = delete;
  ConnectionPool &operator=(const ConnectionPool &) = delete;

  // A default-constructed Connection and its index (stable for its
  // lifetime: the flow table stores it instead of an 8-byte pointer), or
  // nullptr at capacity.
  Connection *acquire(uint32_t &index) {
    static_assert(sizeof(Slot) == sizeof(Connection));
    if (free_ == kNone) {
      if (allocated_ >= capacity_)
        return nullptr;
      uint32_t n = capacity_ - allocated_ < kChunk ? capacity_ - allocated_ : kChunk;
      chunks_.push_back(std::make_unique<Slot[]>(n));
      Slot *chunk = chunks_.back().get();
      const uint32_t base = allocated_;
      for (uint32_t i = n; i-- > 0;) {
        chunk[i].next = free_;
        free_ = base + i;
      }
      allocated_ += n;
    }
    index = free_;
    Slot &s = slot(index);
    free_ = s.next;
    ++live_;
    return new (s.bytes) Connection();
  }

  // `index` is the one acquire() gave for c.
  void release(Connection *c, uint32_t index) {
    c->~Connection();
    Slot &s = slot(index);
    s.next = free_;
    free_ = index;
    --live_;
  }

  Connection *at(uint32_t index) {
    return std::launder(reinterpret_cast<Connection *>(slot(index).bytes));
  }

  uint32_t live() const { return live_; }
  uint32_t capacity() const { return capacity_; }
  // Storage allocated so far (chunks are never returned before teardown).
  size_t memory_bytes() const {
    return size_t{allocated_} * sizeof(Slot) + chunks_.capacity() * sizeof(chunks_[0]);
  }

private:
  static constexpr uint32_t kChunk = 256;
  static constexpr uint32_t kNone = UINT32_MAX;
  union Slot {
    Slot() : next(kNone) {}
    uint32_t next; // free list: index of the next free slot
    alignas(Connection) unsigned char bytes[sizeof(Connection)];
  };
  Slot &slot(uint32_t index) { return chunks_[index / kChunk][index % kChunk]; }
  uint32_t capacity_;
  uint32_t allocated_ = 0;
  uint32_t live_ = 0;
  uint32_t free_ = kNone;
  std::vector<std::unique_ptr<Slot[]>> chunks_;
};

} // namespace shoal::tcp
