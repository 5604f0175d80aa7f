#pragma once
// TimeWaitTable: the TIME_WAIT state (RFC 9293 3.6) kept as compact records
// instead of full connections, so a busy server can hold hundreds of
// thousands of them (DESIGN.md "Connections and memory").
//
// Every record lives exactly 2*MSL after its last (re)start. Because the
// duration is the same for all records, keeping them in a list in start
// order keeps them sorted by expiry: a restart moves a record to the tail,
// and one timer on the wheel fires at the head's expiry.
#include <cstdint>
#include <vector>

#include "common/time.hpp"
#include "tcp/engine.hpp"
#include "tcp/flow_table.hpp"
#include "tcp/seq.hpp"
#include "timer/timer_wheel.hpp"

namespace shoal::tcp {

struct TimeWaitRecord {
  FourTuple tuple;     // 12
  uint32_t snd_nxt;    // our next sequence number (past our FIN)
  uint32_t rcv_nxt;    // past the peer's FIN
  uint32_t ts_recent;  // last TSval seen from the peer (valid when has_ts)
  uint32_t ts_offset;  // our TSval clock offset, to keep TSvals monotonic
  int64_t expiry_ns;   // 2MSL deadline on the shard clock
  uint32_t prev, next; // expiry-ordered list (kNil-terminated)
  uint16_t window;     // raw window field for our ACKs
  uint8_t has_ts;      // timestamps were in use (RFC 6191 uses them)
  uint8_t rcv_wscale;  // our window shift, for the acceptability test
  uint8_t in_use;
};
static_assert(sizeof(TimeWaitRecord) <= 64, "TIME_WAIT records must stay compact");

class TimeWaitTable {
public:
  static constexpr uint32_t kNil = 0xffffffffu;
  using ExpireFn = void (*)(void *ctx, TimeWaitRecord &);

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

  size_t size() const { return index_.size(); }
  // Record slab plus index, as allocated.
  size_t memory_bytes() const {
    return records_.capacity() * sizeof(TimeWaitRecord) + index_.memory_bytes();
  }
  Duration lifetime() const { return lifetime_; }
  // Drops every record without callbacks (engine teardown).
  void clear();

private:
  static void timer_fired(void *ctx, timer::Timer &);
  uint32_t id_of(const TimeWaitRecord &r) const {
    return static_cast<uint32_t>(&r - records_.data());
  }
  void link_tail(uint32_t id);
  void unlink(uint32_t id);
  void rearm();

  timer::TimerWheel &wheel_;
  Duration lifetime_;
  uint32_t capacity_;
  ExpireFn on_expire_;
  void *ctx_;
  std::vector<TimeWaitRecord> records_; // slab; grows up to capacity
  uint32_t free_ = kNil;                // free list through .next
  uint32_t head_ = kNil, tail_ = kNil;  // expiry order
  FlowTable<uint32_t> index_;
  timer::Timer timer_;
};

} // namespace shoal::tcp
