#pragma once
// A copy of one engine's TCP counters and per-state connection counts that
// the telemetry thread may read: relaxed atomics written by the owning
// shard a few times per millisecond at most (ShardTcp::on_poll), so the
// engine's own counters stay plain integers on the hot path.
#include <array>
#include <atomic>
#include <cstdint>

#include "tcp/counters.hpp"
#include "tcp/state.hpp"

namespace shoal::shard {

struct TcpStats {
  std::array<std::atomic<uint64_t>, tcp::kCounterCount> value{};
  // Connections per state (the netstat | awk table); TIME_WAIT counts the
  // compact records of the TIME_WAIT table.
  std::array<std::atomic<uint64_t>, tcp::kStateCount> in_state{};

  void store(const tcp::Counters &c, uint64_t time_wait_records) {
    for (size_t i = 0; i < tcp::kCounterCount; i++)
      value[i].store(c.value[i], std::memory_order_relaxed);
    for (size_t s = 0; s < static_cast<size_t>(tcp::kStateCount); s++)
      in_state[s].store(c.in_state[s], std::memory_order_relaxed);
    in_state[static_cast<size_t>(tcp::State::time_wait)].store(time_wait_records,
                                                               std::memory_order_relaxed);
  }
  uint64_t get(tcp::Counter c) const {
    return value[static_cast<size_t>(c)].load(std::memory_order_relaxed);
  }
  uint64_t state(tcp::State s) const {
    return in_state[static_cast<size_t>(s)].load(std::memory_order_relaxed);
  }
};

} // namespace shoal::shard
