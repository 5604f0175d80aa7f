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

  // A default-constructed Connection, or nullptr at capacity.
  Connection *acquire() {
    if (free_ == nullptr) {
      if (allocated_ >= capacity_)
        return nullptr;
      uint32_t n = capacity_ - allocated_ < kChunk ? capacity_ - allocated_ : kChunk;
      chunks_.push_back(std::make_unique<Slot[]>(n));
      Slot *chunk = chunks_.back().get();
      for (uint32_t i = n; i-- > 0;) {
        chunk[i].next = free_;
        free_ = &chunk[i];
      }
      allocated_ += n;
    }
    Slot *s = free_;
    free_ = s->next;
    ++live_;
    return new (s->bytes) Connection();
  }

  void release(Connection *c) {
    c->~Connection();
    Slot *s = reinterpret_cast<Slot *>(c);
    s->next = free_;
    free_ = s;
    --live_;
  }

  uint32_t live() const { return live_; }
  uint32_t capacity() const { return capacity_; }
  // Storage allocated so far (chunks are never returned before teardown).
  size_t memory_bytes() const { return size_t{allocated_} * sizeof(Slot); }

private:
  static constexpr uint32_t kChunk = 256;
  union Slot {
    Slot() : next(nullptr) {}
    Slot *next;
    alignas(Connection) unsigned char bytes[sizeof(Connection)];
  };
  uint32_t capacity_;
  uint32_t allocated_ = 0;
  uint32_t live_ = 0;
  Slot *free_ = nullptr;
  std::vector<std::unique_ptr<Slot[]>> chunks_;
};

} // namespace shoal::tcp
