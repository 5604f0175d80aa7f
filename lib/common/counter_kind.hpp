#pragma once
// What a counter counts. Every counter table (the shard's, lib/shard/counters.hpp,
// and each TCP engine's, lib/tcp/counters.hpp) is one X-macro with the same
// layout, X(name, kind, description), and kind is one of these:
//
//   volume  packets or bytes moved (the traffic itself)
//   event   something that happened: a protocol message sent or received, a
//           timer firing, a state change, a resource running short
//   drop    a frame, packet or segment freed without being handled (or one
//           to send, not sent); the counter's name says why. Every frame
//           the shard drops is counted by exactly one of its drop counters,
//           so they add up to all of them (ShardCounters::drops).
//
// The kind decides what code does with a counter (drop totals, the drop
// trace hook), and shoal-stat --describe and /shoal/describe show it.
//
// SHOAL_DROP_TRACE: 1 when the drop trace hook (tcp::Engine::set_drop_hook)
// is compiled in, i.e. in builds without NDEBUG; release builds leave it out,
// so a drop costs only its counter there.
#include <cstdint>

namespace shoal {

#ifdef NDEBUG
#define SHOAL_DROP_TRACE 0
#else
#define SHOAL_DROP_TRACE 1
#endif

// clang-format off
#define SHOAL_COUNTER_KINDS(X)                                                                     \
  X(volume, "packets or bytes moved")                                                              \
  X(event,  "something that happened (message sent or received, timer, state change, shortage)")   \
  X(drop,   "a frame, packet or segment freed without being handled; the name says why")
// clang-format on

enum class CounterKind : uint8_t {
#define SHOAL_X(name, desc) name,
  SHOAL_COUNTER_KINDS(SHOAL_X)
#undef SHOAL_X
};

constexpr const char *to_string(CounterKind k) {
  switch (k) {
#define SHOAL_X(name, desc)                                                                        \
  case CounterKind::name:                                                                          \
    return #name;
    SHOAL_COUNTER_KINDS(SHOAL_X)
#undef SHOAL_X
  }
  return "unknown";
}

// What the kind means, in one line.
constexpr const char *describe(CounterKind k) {
  switch (k) {
#define SHOAL_X(name, desc)                                                                        \
  case CounterKind::name:                                                                          \
    return desc;
    SHOAL_COUNTER_KINDS(SHOAL_X)
#undef SHOAL_X
  }
  return "unknown";
}

// One counter as its table declares it.
struct CounterInfo {
  const char *name;
  CounterKind kind;
  const char *description;
};

} // namespace shoal
