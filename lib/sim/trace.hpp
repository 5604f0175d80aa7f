#pragma once
// The segment trace of a simulation: every datagram put on a link, when, in
// which direction and what the link did with it (delivered, lost, duplicated,
// corrupted ...), plus free-text notes. Formatted like tcpdump so a failing
// test can print the conversation that led to it:
//
//   1.000000 A>B 198.18.0.1:40000 > 198.18.0.2:80 [S] seq 123 win 65535 <mss 1460,...> len 0
//   1.001000 B>A 198.18.0.2:80 > 198.18.0.1:40000 [S.] seq 9 ack 124 win 65535 <...> len 0 (lost)
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/time.hpp"
#include "sim/parsed_segment.hpp"

namespace shoal::sim {

enum class Direction : uint8_t { a_to_b = 0, b_to_a = 1 };

// The primary fate of a datagram on a link, one table for names and counters.
// clang-format off
#define SHOAL_SIM_FATES(X)                                                     \
  X(delivered)   /* reached the far end (possibly late, twice or corrupted) */ \
  X(lost)        /* random loss (LinkConfig::loss) */                          \
  X(filtered)    /* dropped by the test's drop filter */                       \
  X(queue_full)  /* tail drop: the bandwidth-limited queue was full */         \
  X(no_mbuf)     /* no mbuf for the receiver's copy (pool exhausted) */
// clang-format on

enum class Fate : uint8_t {
#define SHOAL_SIM_X_ENUM(name) name,
  SHOAL_SIM_FATES(SHOAL_SIM_X_ENUM)
#undef SHOAL_SIM_X_ENUM
};
constexpr size_t kFateCount = 0
#define SHOAL_SIM_X_COUNT(name) +1
    SHOAL_SIM_FATES(SHOAL_SIM_X_COUNT)
#undef SHOAL_SIM_X_COUNT
    ;
const char *to_string(Fate);

struct TraceEntry {
  enum class Kind : uint8_t { segment, note };
  Kind kind = Kind::segment;
  Instant at{}; // when it was sent (segment) or taken (note)
  Direction dir = Direction::a_to_b;
  Fate fate = Fate::delivered;
  bool duplicated = false;    // a second copy was delivered too
  bool corrupted = false;     // one bit of the delivered copy was flipped
  bool reordered = false;     // held back by LinkConfig::reorder_delay
  bool overtakes = false;     // arrives before a datagram sent earlier on the same link
  uint32_t corrupt_bit = 0;   // which bit (from the start of the IPv4 header)
  Instant arrives{};          // when the (first) copy reaches the far end, if delivered
  std::vector<uint8_t> bytes; // the datagram as sent (checksum offload completed)
  std::string note;           // Kind::note: the text
};

class Trace {
public:
  // Times print relative to `epoch`; names label the two ends ("A>B").
  explicit Trace(Instant epoch = Instant{}, std::array<std::string, 2> names = {"A", "B"});

  // Records a datagram; the returned entry stays valid until the next add.
  TraceEntry &add_segment(Instant at, Direction dir, std::span<const uint8_t> bytes);
  void note(Instant at, std::string text);

  const std::vector<TraceEntry> &entries() const { return entries_; }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  void clear() { entries_.clear(); }

  // A disabled trace records nothing (long runs that only want counters).
  void set_enabled(bool on) { enabled_ = on; }
  bool enabled() const { return enabled_; }

  Instant epoch() const { return epoch_; }
  const std::string &name(Direction from) const { return names_[static_cast<size_t>(from)]; }
  const std::string &peer_name(Direction from) const {
    return names_[1 - static_cast<size_t>(from)];
  }

  // "12.345678" seconds since the epoch, microsecond precision.
  std::string format_time(Instant t) const;
  // One line per entry, each ending in '\n'.
  std::string format() const;
  std::string format(const TraceEntry &) const;

private:
  Instant epoch_;
  std::array<std::string, 2> names_;
  std::vector<TraceEntry> entries_;
  bool enabled_ = true;
  TraceEntry scratch_; // returned by add_segment when disabled
};

} // namespace shoal::sim
