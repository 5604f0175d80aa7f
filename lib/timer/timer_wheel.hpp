#pragma once
// One hierarchical timing wheel per shard (Varghese & Lauck, "Hashed and
// Hierarchical Timing Wheels", SOSP 1987, scheme 7). Every connection timer of
// the shard lives here: RTO, delayed ACK, persist, keepalive, 2MSL, SYN-ACK
// retransmit, FIN_WAIT_2, linger.
//
// Shape (tick = 1 ms by default):
//   level 0: 256 slots of 1 tick          -> delays below 256 ticks
//   level 1:  64 slots of 2^8 ticks       -> below 2^14 ticks (16.4 s)
//   level 2:  64 slots of 2^14 ticks      -> below 2^20 ticks (17.5 min)
//   level 3:  64 slots of 2^20 ticks      -> below 2^26 ticks (18.6 h)
// which reaches past the longest TCP timer (keepalive: 2 h idle + 9 x 75 s).
// Anything further waits in an overflow list that is re-examined each time
// the top level wraps; it still fires at its exact tick (nothing is clamped).
//
// Schedule, cancel and reschedule are O(1): a timer is a node of an intrusive
// doubly linked list (Linux hlist style: `next` plus a pointer to whatever
// points at us), and one bit per slot says which slots are non-empty. Expiry
// is O(1) per timer: a timer is moved down at most three times (each move
// keeps its exact expiry tick) and then fired from a level-0 slot.
//
// Time is quantised to a grid anchored at the wheel's construction instant:
// tick k is the instant origin + k * tick. A timer due at `when` fires on the
// first grid instant >= `when` (never early, at most one tick late), and that
// rounded instant is what Timer::expiry() reports.
#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "common/time.hpp"

namespace shoal::timer {

class TimerWheel;

// Intrusive timer: embedded in its owner (a connection, a TIME_WAIT record
// ...). No allocation per timer, ever. 40 bytes on LP64.
class Timer {
public:
  using Callback = void (*)(void *ctx, Timer &self);

  Timer() = default;
  Timer(Callback cb, void *ctx) : cb_(cb), ctx_(ctx) {}
  // Destroying an armed timer is a bug (the wheel would keep a dangling
  // pointer): owners must cancel first.
  ~Timer() { assert(!armed() && "destroying an armed timer: cancel it first"); }
  Timer(const Timer &) = delete;
  Timer &operator=(const Timer &) = delete;
  Timer(Timer &&) = delete;
  Timer &operator=(Timer &&) = delete;

  void set_callback(Callback cb, void *ctx) {
    cb_ = cb;
    ctx_ = ctx;
  }
  bool armed() const { return pprev_ != nullptr; }
  // The instant the timer fires at (the requested `when` rounded up to the
  // wheel's tick grid). Valid while armed.
  Instant expiry() const { return expiry_; }

private:
  friend class TimerWheel;
  Timer *next_ = nullptr;   // next timer in the same slot list
  Timer **pprev_ = nullptr; // the pointer that points at us; null <=> not armed
  Instant expiry_{};
  Callback cb_ = nullptr;
  void *ctx_ = nullptr;
};

class TimerWheel {
public:
  static constexpr unsigned kLevel0Bits = 8; // 256 slots of one tick
  static constexpr unsigned kLevelBits = 6;  // 64 slots per upper level
  static constexpr unsigned kLevels = 4;
  // Ticks covered by the whole wheel: 2^26.
  static constexpr unsigned kSpanBits = kLevel0Bits + kLevelBits * (kLevels - 1);

  explicit TimerWheel(Duration tick = std::chrono::milliseconds{1}, Instant now = Instant{});
  // Armed timers left in the wheel are disarmed (not fired).
  ~TimerWheel();
  TimerWheel(const TimerWheel &) = delete;
  TimerWheel &operator=(const TimerWheel &) = delete;

  // Arms `t` to fire at `when`; if already armed, reschedules it (O(1)).
  // Outside a callback, `when` <= now() fires on the next advance(), whatever
  // its argument, with expiry() == now(). From inside a callback, a `when`
  // at or before the tick being processed fires on the following tick.
  void schedule(Timer &t, Instant when);
  // Same, relative to now().
  void schedule_after(Timer &t, Duration delay) { schedule(t, now_ + delay); }
  // Disarms `t`; no-op if not armed. O(1). May be called from any callback.
  void cancel(Timer &t) {
    if (t.armed())
      unlink(t);
  }

  // Fires every timer whose expiry <= now, in non-decreasing expiry order
  // (ties in any order); returns how many fired. A callback may schedule or
  // cancel any timer, including itself and ones due in this same advance.
  // While a timer's callback runs, now() is that timer's expiry, so a long
  // jump fires exactly what tick-by-tick advancing would have fired.
  size_t advance(Instant now);

  Instant now() const { return now_; }
  size_t armed_count() const { return armed_; }
  // Earliest instant at which some armed timer may fire: a lower bound, never
  // later than the true earliest expiry, and advance(*next_expiry()) always
  // makes progress (fires something or moves a timer closer to level 0).
  // nullopt when nothing is armed.
  std::optional<Instant> next_expiry() const;
  Duration tick() const { return tick_; }
  // Longest delay the wheel proper holds; longer ones park in the overflow
  // list (still exact, re-examined once per 2^26 ticks).
  Duration horizon() const { return tick_ * ((int64_t{1} << kSpanBits) - 1); }

private:
  static constexpr unsigned kLevel0Slots = 1u << kLevel0Bits;
  static constexpr unsigned kLevelSlots = 1u << kLevelBits;
  static constexpr unsigned kWheelSlots = kLevel0Slots + kLevelSlots * (kLevels - 1); // 448
  // List heads: the wheel slots, then the "due" list (scheduled in the past,
  // fired first by the next advance), then the overflow list, then the list
  // being fired right now.
  static constexpr unsigned kDue = kWheelSlots;
  static constexpr unsigned kOverflow = kWheelSlots + 1;
  static constexpr unsigned kFiring = kWheelSlots + 2;
  static constexpr unsigned kHeads = kWheelSlots + 3;

  static constexpr unsigned shift_of(unsigned level) {
    return level == 0 ? 0 : kLevel0Bits + kLevelBits * (level - 1);
  }
  static constexpr unsigned first_slot_of(unsigned level) {
    return level == 0 ? 0 : kLevel0Slots + kLevelSlots * (level - 1);
  }

  void unlink(Timer &t) {
    Timer *next = t.next_;
    *t.pprev_ = next;
    if (next != nullptr) {
      next->pprev_ = t.pprev_;
    } else {
      // t was the last node; if it was also the first, the slot is now empty.
      const auto head = reinterpret_cast<uintptr_t>(t.pprev_);
      const auto base = reinterpret_cast<uintptr_t>(heads_.data());
      const uintptr_t index = (head - base) / sizeof(Timer *);
      if (head >= base && index < kWheelSlots)
        occupied_[index / 64] &= ~(uint64_t{1} << (index % 64));
    }
    t.next_ = nullptr;
    t.pprev_ = nullptr;
    --armed_;
  }
  void push(unsigned head, Timer &t);
  // Puts an armed-to-be timer with expiry tick `e` (>= next_) in its slot.
  void place(Timer &t, int64_t e);
  // Grid <-> tick conversions.
  int64_t tick_ceil(Instant when) const;
  int64_t tick_of_grid(Instant on_grid) const;
  Instant grid(int64_t k) const { return origin_ + tick_ * k; }
  // First tick >= next_ at which the wheel has work (fire or cascade), or -1.
  int64_t next_event_tick() const;
  void cascade(unsigned level, int64_t t);
  void reexamine_overflow();
  size_t fire_list(unsigned head);

  Duration tick_;
  Instant origin_;
  Instant now_;
  int64_t next_ = 0; // next tick to process; ticks < next_ are done
  size_t armed_ = 0;
  bool in_advance_ = false;
  // Exact division of on-grid offsets by the tick: offset = (odd << shift),
  // so offset / tick == (offset >> tick_shift_) * tick_odd_inverse_ mod 2^64.
  unsigned tick_shift_ = 0;
  uint64_t tick_odd_inverse_ = 1;
  std::array<uint64_t, kWheelSlots / 64> occupied_{};
  std::array<Timer *, kHeads> heads_{};
};

} // namespace shoal::timer
