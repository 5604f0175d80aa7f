#pragma once
// TimeWaitTable: the TIME_WAIT state (RFC 9293 3.6) kept as compact records
// instead of full connections, so a busy server can hold hundreds of
// thousands of them (DESIGN.md "Connections and memory").
//
// Every record lives exactly 2*MSL after its last (re)start. Because the
// duration is the same for all records, keeping them in a list in start
// order keeps them sorted by expiry: a restart moves a record to the tail,
// and one timer on the wheel fires at the head's expiry.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/time.hpp"
#include "tcp/engine.hpp"
#include "tcp/flow_hash.hpp"
#include "tcp/seq.hpp"
#include "timer/timer_wheel.hpp"

namespace shoal::tcp {

struct TimeWaitRecord {
  FourTuple tuple;     // 12
  uint32_t snd_nxt;    // our next sequence number (past our FIN)
  uint32_t rcv_nxt;    // past the peer's FIN
  uint32_t ts_recent;  // last TSval seen from the peer (valid when has_ts)
  uint32_t ts_offset;  // our TSval clock offset, to keep TSvals monotonic
  uint32_t prev;       // expiry-ordered list (kNil-terminated)
  int64_t expiry_ns;   // 2MSL deadline on the shard clock
  uint32_t next;       // expiry list; the free list when unused
  uint16_t window;     // raw window field for our ACKs
  uint8_t has_ts;      // timestamps were in use (RFC 6191 uses them)
  uint8_t rcv_wscale;  // our window shift, for the acceptability test
};
static_assert(sizeof(TimeWaitRecord) <= 48, "TIME_WAIT records must stay compact");

class TimeWaitTable {
public:
  static constexpr uint32_t kNil = 0xffffffffu;
  using ExpireFn = void (*)(void *ctx, TimeWaitRecord &);

  // At most this many records (a slot holds a 24-bit id; 0xffffff is the
  // empty slot's): a larger capacity is held to it.
  static constexpr uint32_t kMaxRecords = (1u << 24) - 1;
  // on_expire is called for each record just before it is removed.
  TimeWaitTable(timer::TimerWheel &wheel, Duration lifetime, uint32_t capacity, uint64_t hash_key,
                ExpireFn on_expire, void *ctx);
  ~TimeWaitTable();
  TimeWaitTable(const TimeWaitTable &) = delete;
  TimeWaitTable &operator=(const TimeWaitTable &) = delete;

  // nullptr when the table is full (or the tuple is already present).
  TimeWaitRecord *insert(const FourTuple &, Instant now);
  TimeWaitRecord *find(const FourTuple &);
  const TimeWaitRecord *find(const FourTuple &) const;
  void erase(TimeWaitRecord &);
  // Restarts the 2MSL timer (RFC 9293 3.10.7.4: a retransmitted FIN).
  void restart(TimeWaitRecord &, Instant now);

  size_t size() const { return size_; }
  Duration lifetime() const { return lifetime_; }
  // Drops every record without callbacks (engine teardown).
  void clear();
  // Record chunks plus index, as allocated.
  size_t memory_bytes() const {
    return chunks_.size() * kChunk * sizeof(TimeWaitRecord) + slots_.capacity() * sizeof(uint32_t);
  }

private:
  // Records live in fixed chunks (they never move, and a table of N records
  // holds at most one partly used chunk), found by id = chunk << 10 | slot.
  static constexpr uint32_t kChunkBits = 10, kChunk = 1u << kChunkBits;
  TimeWaitRecord &rec(uint32_t id) { return chunks_[id >> kChunkBits][id & (kChunk - 1)]; }
  const TimeWaitRecord &rec(uint32_t id) const {
    return chunks_[id >> kChunkBits][id & (kChunk - 1)];
  }

  // The index: open addressing (linear probing, backward-shift deletion).
  // A slot is 4 bytes: the record id (24 bits) and the member's distance
  // from its home slot (8 bits, saturated at 255). The tuple is read from
  // the record, and only for members whose distance says they share the
  // key's home; deletion finds homes from distances without rehashing.
  static constexpr uint32_t kEmpty = 0xffffffffu;
  static constexpr size_t kDistSaturated = 255;
  static uint32_t make_slot(uint32_t id, size_t dist) {
    return id << 8 | static_cast<uint32_t>(std::min(dist, kDistSaturated));
  }
  static uint32_t slot_id(uint32_t s) { return s >> 8; }
  static size_t slot_dist(uint32_t s) { return s & 0xffu; }
  size_t home(const FourTuple &t) const {
    return (test_hash_ != nullptr ? test_hash_(t) : flow_hash(t, key_)) & mask_;
  }
  // Tests only (TimeWaitTableTest): a hash that makes collisions on purpose.
  friend struct TimeWaitTableTest;
  uint64_t (*test_hash_)(const FourTuple &) = nullptr;
  size_t slot_of(const FourTuple &t) const; // the slot holding t's id, or kNoSlot
  void place(uint32_t id, size_t home);     // into the first free slot from home
  void index_insert(uint32_t id);
  void index_erase(size_t slot);
  static constexpr size_t kNoSlot = ~size_t{0};

  static void timer_fired(void *ctx, timer::Timer &);
  void link_tail(uint32_t id);
  void unlink(uint32_t id);
  void rearm();

  timer::TimerWheel &wheel_;
  Duration lifetime_;
  uint32_t capacity_;
  ExpireFn on_expire_;
  void *ctx_;
  std::vector<std::unique_ptr<TimeWaitRecord[]>> chunks_;
  uint32_t issued_ = 0;                // ids handed out at least once
  uint32_t free_ = kNil;               // free list through .next
  uint32_t head_ = kNil, tail_ = kNil; // expiry order
  uint64_t key_;
  std::vector<uint32_t> slots_; // kNil = empty
  size_t mask_ = 0;
  size_t size_ = 0;
  timer::Timer timer_;
};

} // namespace shoal::tcp
