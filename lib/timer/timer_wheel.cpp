// Hierarchical timing wheel: see timer_wheel.hpp for the shape and contract.
//
// Placement follows the classic cascading wheel: with `next_` the next tick
// to process, a timer due at tick e goes to the lowest level whose span holds
// the delay d = e - next_:
//   d < 2^8  -> level 0, slot e mod 256
//   d < 2^14 -> level 1, slot (e >> 8) mod 64     (cascaded at tick (e >> 8) << 8)
//   d < 2^20 -> level 2, slot (e >> 14) mod 64    (cascaded at tick (e >> 14) << 14)
//   d < 2^26 -> level 3, slot (e >> 20) mod 64    (cascaded at tick (e >> 20) << 20)
//   else     -> overflow list                    (re-examined at multiples of 2^26)
// Invariants, with done = next_ - 1 (the last tick processed):
//   level 0 holds ticks in [next_, next_ + 255], one tick per slot;
//   level L >= 1 holds blocks B = e >> shift(L) in [(done >> shift) + 1,
//   (done >> shift) + 64], one block per slot.
// So every slot maps to exactly one pending tick (level 0) or block (upper
// levels), which is what lets next_event_tick() skip empty stretches with a
// bit scan, and lets a cascaded timer land on its exact tick.
#include "timer/timer_wheel.hpp"

#include <bit>

namespace shoal::timer {

namespace {
// Inverse of an odd number modulo 2^64 by Newton's iteration: each step
// doubles the number of correct low bits (d * d == 1 mod 8 to start with).
constexpr uint64_t inverse_mod_2_64(uint64_t d) {
  uint64_t x = d;
  for (int i = 0; i < 5; ++i)
    x *= 2 - d * x;
  return x;
}
} // namespace

TimerWheel::TimerWheel(Duration tick, Instant now) : tick_(tick), origin_(now), now_(now) {
  assert(tick.count() > 0 && "timer wheel tick must be positive");
  const auto t = static_cast<uint64_t>(tick.count());
  tick_shift_ = static_cast<unsigned>(std::countr_zero(t));
  tick_odd_inverse_ = inverse_mod_2_64(t >> tick_shift_);
}

TimerWheel::~TimerWheel() {
  for (Timer *&head : heads_) {
    while (Timer *t = head) {
      head = t->next_;
      t->next_ = nullptr;
      t->pprev_ = nullptr;
    }
  }
  armed_ = 0;
}

int64_t TimerWheel::tick_ceil(Instant when) const {
  const int64_t off = (when - origin_).count();
  if (off <= 0)
    return 0;
  const auto u = static_cast<uint64_t>(off);
  const auto d = static_cast<uint64_t>(tick_.count());
  // The default tick gets a division by a constant (a multiply).
  const uint64_t q = d == 1'000'000 ? u / 1'000'000 : u / d;
  return static_cast<int64_t>(q + (q * d != u ? 1 : 0));
}

int64_t TimerWheel::tick_of_grid(Instant on_grid) const {
  // Exact division: offset is a multiple of the tick.
  const auto off = static_cast<uint64_t>((on_grid - origin_).count());
  return static_cast<int64_t>((off >> tick_shift_) * tick_odd_inverse_);
}

void TimerWheel::push(unsigned head, Timer &t) {
  Timer *first = heads_[head];
  t.next_ = first;
  if (first != nullptr)
    first->pprev_ = &t.next_;
  heads_[head] = &t;
  t.pprev_ = &heads_[head];
  if (head < kWheelSlots)
    occupied_[head / 64] |= uint64_t{1} << (head % 64);
  ++armed_;
}

void TimerWheel::place(Timer &t, int64_t e) {
  assert(e >= next_);
  const auto delta = static_cast<uint64_t>(e - next_);
  unsigned head;
  if (delta < (uint64_t{1} << shift_of(1))) {
    head = static_cast<unsigned>(e) & (kLevel0Slots - 1);
  } else if (delta < (uint64_t{1} << shift_of(2))) {
    head = first_slot_of(1) + (static_cast<unsigned>(e >> shift_of(1)) & (kLevelSlots - 1));
  } else if (delta < (uint64_t{1} << shift_of(3))) {
    head = first_slot_of(2) + (static_cast<unsigned>(e >> shift_of(2)) & (kLevelSlots - 1));
  } else if (delta < (uint64_t{1} << kSpanBits)) {
    head = first_slot_of(3) + (static_cast<unsigned>(e >> shift_of(3)) & (kLevelSlots - 1));
  } else {
    head = kOverflow;
  }
  push(head, t);
}

void TimerWheel::schedule(Timer &t, Instant when) {
  if (t.armed())
    unlink(t);
  if (when <= now_) {
    if (!in_advance_) {
      // Already due: the next advance() fires it, whatever its argument.
      t.expiry_ = now_;
      push(kDue, t);
      return;
    }
    // From a callback, "now" is the tick being processed; the earliest tick
    // still to come is the next one (firing it in this same tick could loop
    // forever on a timer that keeps rescheduling itself with no delay).
    t.expiry_ = grid(next_);
    place(t, next_);
    return;
  }
  int64_t e = tick_ceil(when);
  if (e < next_) // only when `when` precedes the grid origin
    e = next_;
  t.expiry_ = grid(e);
  place(t, e);
}

int64_t TimerWheel::next_event_tick() const {
  int64_t best = -1;
  auto consider = [&best](int64_t k) {
    if (best < 0 || k < best)
      best = k;
  };
  // Level 0: the slot of tick next_ + i is (next_ + i) mod 256; scan the 256
  // bits cyclically from next_ mod 256.
  const unsigned start = static_cast<unsigned>(next_) & (kLevel0Slots - 1);
  const unsigned w0 = start / 64;
  const unsigned b0 = start % 64;
  for (unsigned i = 0; i <= kLevel0Slots / 64; ++i) {
    const unsigned w = (w0 + i) % (kLevel0Slots / 64);
    uint64_t bits = occupied_[w];
    if (i == 0)
      bits &= ~uint64_t{0} << b0;
    else if (i == kLevel0Slots / 64)
      bits &= b0 == 0 ? 0 : ~uint64_t{0} >> (64 - b0);
    if (bits != 0) {
      const unsigned slot = w * 64 + static_cast<unsigned>(std::countr_zero(bits));
      consider(next_ + ((slot - start) & (kLevel0Slots - 1)));
      break;
    }
  }
  // Upper levels: the pending block B of each slot lies in
  // [(done >> shift) + 1, (done >> shift) + 64]; the slot is cascaded at B << shift.
  const int64_t done = next_ - 1;
  for (unsigned level = 1; level < kLevels; ++level) {
    const uint64_t word = occupied_[first_slot_of(level) / 64];
    if (word == 0)
      continue;
    const int64_t base = (done >> shift_of(level)) + 1;
    const int rot = static_cast<int>(base & (kLevelSlots - 1));
    const auto k = std::countr_zero(std::rotr(word, rot));
    consider((base + k) << shift_of(level));
  }
  if (heads_[kOverflow] != nullptr) {
    const int64_t span = int64_t{1} << kSpanBits;
    consider((next_ + span - 1) / span * span);
  }
  return best;
}

std::optional<Instant> TimerWheel::next_expiry() const {
  if (armed_ == 0)
    return std::nullopt;
  if (heads_[kDue] != nullptr)
    return now_;
  const int64_t k = next_event_tick();
  if (k < 0) // only the list being fired (called from a callback): due now
    return now_;
  return grid(k);
}

size_t TimerWheel::fire_list(unsigned head) {
  // Detach the whole list first: callbacks may arm timers into this very
  // slot (a delay of exactly 256 ticks maps back to it).
  Timer *first = heads_[head];
  heads_[head] = nullptr;
  if (head < kWheelSlots)
    occupied_[head / 64] &= ~(uint64_t{1} << (head % 64));
  heads_[kFiring] = first;
  first->pprev_ = &heads_[kFiring];
  size_t fired = 0;
  while (Timer *t = heads_[kFiring]) {
    unlink(*t); // disarmed before its callback, which may re-arm it
    ++fired;
    if (t->cb_ != nullptr)
      t->cb_(t->ctx_, *t);
  }
  return fired;
}

void TimerWheel::cascade(unsigned level, int64_t t) {
  const unsigned head =
      first_slot_of(level) + (static_cast<unsigned>(t >> shift_of(level)) & (kLevelSlots - 1));
  Timer *first = heads_[head];
  if (first == nullptr)
    return;
  heads_[head] = nullptr;
  occupied_[head / 64] &= ~(uint64_t{1} << (head % 64));
  heads_[kFiring] = first;
  first->pprev_ = &heads_[kFiring];
  while (Timer *x = heads_[kFiring]) {
    if (x->next_ != nullptr)
      __builtin_prefetch(x->next_, 1);
    unlink(*x);
    place(*x, tick_of_grid(x->expiry_));
  }
}

void TimerWheel::reexamine_overflow() {
  Timer *first = heads_[kOverflow];
  if (first == nullptr)
    return;
  heads_[kOverflow] = nullptr;
  heads_[kFiring] = first;
  first->pprev_ = &heads_[kFiring];
  while (Timer *x = heads_[kFiring]) {
    unlink(*x);
    place(*x, tick_of_grid(x->expiry_));
  }
}

size_t TimerWheel::advance(Instant now) {
  assert(!in_advance_ && "advance() called from a timer callback");
  in_advance_ = true;
  size_t fired = 0;
  // Timers scheduled at or before now() since the last advance: their
  // expiry is the old now(), earlier than any tick still to come.
  if (heads_[kDue] != nullptr)
    fired += fire_list(kDue);

  const int64_t last = now < origin_ ? -1 : (now - origin_) / tick_;
  for (;;) {
    const int64_t t = next_event_tick();
    if (t < 0 || t > last)
      break;
    // Move timers down first (placing them relative to tick t, so the ones
    // due at t land in level 0 slot t), highest level first.
    next_ = t;
    if ((t & ((int64_t{1} << kSpanBits) - 1)) == 0)
      reexamine_overflow();
    for (unsigned level = kLevels - 1; level >= 1; --level) {
      if ((t & ((int64_t{1} << shift_of(level)) - 1)) == 0)
        cascade(level, t);
    }
    now_ = grid(t);
    next_ = t + 1;
    const unsigned slot = static_cast<unsigned>(t) & (kLevel0Slots - 1);
    if (heads_[slot] != nullptr)
      fired += fire_list(slot);
  }
  if (last >= next_)
    next_ = last + 1;
  if (now > now_)
    now_ = now;
  in_advance_ = false;
  return fired;
}

} // namespace shoal::timer
