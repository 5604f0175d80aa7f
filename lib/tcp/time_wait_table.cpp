#include "tcp/time_wait.hpp"

#include <algorithm>

namespace shoal::tcp {

TimeWaitTable::TimeWaitTable(timer::TimerWheel &wheel, Duration lifetime, uint32_t capacity,
                             uint64_t hash_key, ExpireFn on_expire, void *ctx)
    : wheel_(wheel), lifetime_(lifetime), capacity_(std::min(capacity, kMaxRecords)), on_expire_(on_expire), ctx_(ctx),
      key_(hash_key ^ 0x7177u), slots_(64, kEmpty), mask_(63),
      timer_(&TimeWaitTable::timer_fired, this) {}

TimeWaitTable::~TimeWaitTable() {
  wheel_.cancel(timer_);
}

size_t TimeWaitTable::slot_of(const FourTuple &t) const {
  // A member k slots past t's home belongs to t's home only if its stored
  // distance is k: only those records are read (a cache miss each).
  size_t k = 0;
  for (size_t i = home(t);; i = (i + 1) & mask_, ++k) {
    const uint32_t s = slots_[i];
    if (s == kEmpty)
      return kNoSlot;
    if (slot_dist(s) == std::min<size_t>(k, kDistSaturated) && rec(slot_id(s)).tuple == t)
      return i;
  }
}

void TimeWaitTable::place(uint32_t id, size_t h) {
  size_t i = h, k = 0;
  while (slots_[i] != kEmpty) {
    i = (i + 1) & mask_;
    ++k;
  }
  slots_[i] = make_slot(id, k);
}

void TimeWaitTable::index_insert(uint32_t id) {
  if ((size_ + 1) * 2 > slots_.size()) {
    // Grow at 50% load: short probe runs, and 4 bytes a slot keeps the
    // index at 8-16 bytes per record.
    std::vector<uint32_t> old(slots_.size() * 2, kEmpty);
    old.swap(slots_);
    mask_ = slots_.size() - 1;
    for (uint32_t o : old)
      if (o != kEmpty)
        place(slot_id(o), home(rec(slot_id(o)).tuple));
  }
  place(id, home(rec(id).tuple));
  ++size_;
}

void TimeWaitTable::index_erase(size_t hole) {
  // Backward-shift deletion: pull later members of the probe run into the
  // hole when their home position allows it. A member's home is its slot
  // minus its stored distance; only a saturated distance reads the record.
  for (size_t j = (hole + 1) & mask_; slots_[j] != kEmpty; j = (j + 1) & mask_) {
    const uint32_t s = slots_[j];
    size_t d = slot_dist(s);
    if (d == kDistSaturated)
      d = (j - home(rec(slot_id(s)).tuple)) & mask_;
    const size_t gap = (j - hole) & mask_;
    if (d >= gap) { // its home is at or before the hole: move it back
      slots_[hole] = make_slot(slot_id(s), d - gap);
      hole = j;
    }
  }
  slots_[hole] = kEmpty;
  --size_;
}

TimeWaitRecord *TimeWaitTable::insert(const FourTuple &t, Instant now) {
  if (t.local_port == 0 || slot_of(t) != kNoSlot)
    return nullptr;
  uint32_t id;
  if (free_ != kNil) {
    id = free_;
    free_ = rec(id).next;
  } else {
    if (issued_ >= capacity_)
      return nullptr;
    if ((issued_ >> kChunkBits) == chunks_.size())
      chunks_.push_back(std::make_unique<TimeWaitRecord[]>(kChunk));
    id = issued_++;
  }
  TimeWaitRecord &r = rec(id);
  r = TimeWaitRecord{};
  r.tuple = t;
  r.expiry_ns = to_ns(now + lifetime_);
  index_insert(id);
  link_tail(id);
  rearm();
  return &r;
}

TimeWaitRecord *TimeWaitTable::find(const FourTuple &t) {
  const size_t i = slot_of(t);
  return i == kNoSlot ? nullptr : &rec(slot_id(slots_[i]));
}

const TimeWaitRecord *TimeWaitTable::find(const FourTuple &t) const {
  const size_t i = slot_of(t);
  return i == kNoSlot ? nullptr : &rec(slot_id(slots_[i]));
}

void TimeWaitTable::erase(TimeWaitRecord &r) {
  const size_t i = slot_of(r.tuple);
  if (i == kNoSlot)
    return;
  const uint32_t id = slot_id(slots_[i]);
  index_erase(i);
  unlink(id);
  r.next = free_;
  free_ = id;
  rearm();
}

void TimeWaitTable::restart(TimeWaitRecord &r, Instant now) {
  const size_t i = slot_of(r.tuple);
  if (i == kNoSlot)
    return;
  const uint32_t id = slot_id(slots_[i]);
  unlink(id);
  r.expiry_ns = to_ns(now + lifetime_);
  link_tail(id);
  rearm();
}

void TimeWaitTable::clear() {
  wheel_.cancel(timer_);
  chunks_.clear();
  slots_.assign(64, kEmpty);
  mask_ = 63;
  size_ = 0;
  issued_ = 0;
  free_ = head_ = tail_ = kNil;
}

void TimeWaitTable::link_tail(uint32_t id) {
  TimeWaitRecord &r = rec(id);
  r.prev = tail_;
  r.next = kNil;
  if (tail_ != kNil)
    rec(tail_).next = id;
  else
    head_ = id;
  tail_ = id;
}

void TimeWaitTable::unlink(uint32_t id) {
  TimeWaitRecord &r = rec(id);
  if (r.prev != kNil)
    rec(r.prev).next = r.next;
  else
    head_ = r.next;
  if (r.next != kNil)
    rec(r.next).prev = r.prev;
  else
    tail_ = r.prev;
  r.prev = r.next = kNil;
}

void TimeWaitTable::rearm() {
  if (head_ == kNil)
    wheel_.cancel(timer_);
  else
    wheel_.schedule(timer_, instant_from_ns(rec(head_).expiry_ns));
}

void TimeWaitTable::timer_fired(void *ctx, timer::Timer &) {
  auto *self = static_cast<TimeWaitTable *>(ctx);
  const int64_t now = to_ns(self->wheel_.now());
  while (self->head_ != kNil && self->rec(self->head_).expiry_ns <= now) {
    TimeWaitRecord &r = self->rec(self->head_);
    self->on_expire_(self->ctx_, r);
    self->erase(r);
  }
  self->rearm();
}

} // namespace shoal::tcp
