#pragma once
// A copy of one engine's TCP counters and per-state connection counts that
// the telemetry thread may read: relaxed atomics written by the owning
// shard a few times per millisecond at most (ShardTcp::on_poll), so the
// engine's own counters stay plain integers on the hot path.
#include <array>
#include <atomic>
#include <cstdint>

#include "tcp/counters.hpp"
#include "tcp/engine.hpp"
#include "tcp/state.hpp"

namespace shoal::shard {

// Memory a stack holds (Stack::memory, telemetry /shoal/mem): the packet
// mempool (shared by the shards) and each engine's pools and tables.
struct MemoryStats {
  uint64_t mbufs_in_use = 0;
  uint64_t mbufs_total = 0;
  uint64_t mbuf_bytes = 0; // mbufs in use x element size
  uint64_t connections = 0;
  uint64_t connection_bytes = 0;
  uint64_t flow_table_bytes = 0;
  uint64_t time_wait_records = 0;
  uint64_t time_wait_bytes = 0;
  uint64_t other_bytes = 0;
  // What the stack holds beyond its fixed set-up: mbufs in use plus the
  // engines' pools and tables.
  uint64_t total_bytes() const {
    return mbuf_bytes + connection_bytes + flow_table_bytes + time_wait_bytes + other_bytes;
  }
  MemoryStats &operator+=(const MemoryStats &o) {
    mbufs_in_use += o.mbufs_in_use;
    mbufs_total += o.mbufs_total;
    mbuf_bytes += o.mbuf_bytes;
    connections += o.connections;
    connection_bytes += o.connection_bytes;
    flow_table_bytes += o.flow_table_bytes;
    time_wait_records += o.time_wait_records;
    time_wait_bytes += o.time_wait_bytes;
    other_bytes += o.other_bytes;
    return *this;
  }
};

struct TcpStats {
  std::array<std::atomic<uint64_t>, tcp::kCounterCount> value{};
  // Connections per state (the netstat | awk table); TIME_WAIT counts the
  // compact records of the TIME_WAIT table.
  std::array<std::atomic<uint64_t>, tcp::kStateCount> in_state{};

  // The engine's memory (tcp::EngineMemory), as of the last store.
  std::atomic<uint64_t> connections{0}, connection_bytes{0}, flow_table_bytes{0},
      time_wait_records{0}, time_wait_bytes{0}, other_bytes{0};

  void store_memory(const tcp::EngineMemory &m) {
    connections.store(m.connections, std::memory_order_relaxed);
    connection_bytes.store(m.connection_bytes, std::memory_order_relaxed);
    flow_table_bytes.store(m.flow_table_bytes, std::memory_order_relaxed);
    time_wait_records.store(m.time_wait_records, std::memory_order_relaxed);
    time_wait_bytes.store(m.time_wait_bytes, std::memory_order_relaxed);
    other_bytes.store(m.other_bytes, std::memory_order_relaxed);
  }
  // The engine part of MemoryStats (no mbufs).
  MemoryStats memory() const {
    MemoryStats r;
    r.connections = connections.load(std::memory_order_relaxed);
    r.connection_bytes = connection_bytes.load(std::memory_order_relaxed);
    r.flow_table_bytes = flow_table_bytes.load(std::memory_order_relaxed);
    r.time_wait_records = time_wait_records.load(std::memory_order_relaxed);
    r.time_wait_bytes = time_wait_bytes.load(std::memory_order_relaxed);
    r.other_bytes = other_bytes.load(std::memory_order_relaxed);
    return r;
  }

  void store(const tcp::Counters &c) {
    for (size_t i = 0; i < tcp::kCounterCount; i++)
      value[i].store(c.value[i], std::memory_order_relaxed);
    for (size_t s = 0; s < static_cast<size_t>(tcp::kStateCount); s++)
      in_state[s].store(c.in_state[s], std::memory_order_relaxed);
  }
  uint64_t get(tcp::Counter c) const {
    return value[static_cast<size_t>(c)].load(std::memory_order_relaxed);
  }
  uint64_t state(tcp::State s) const {
    return in_state[static_cast<size_t>(s)].load(std::memory_order_relaxed);
  }
};

} // namespace shoal::shard
