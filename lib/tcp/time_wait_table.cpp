#include "tcp/time_wait.hpp"

namespace shoal::tcp {

TimeWaitTable::TimeWaitTable(timer::TimerWheel &wheel, Duration lifetime, uint32_t capacity,
                             uint64_t hash_key, ExpireFn on_expire, void *ctx)
    : wheel_(wheel), lifetime_(lifetime), capacity_(capacity), on_expire_(on_expire), ctx_(ctx),
      index_(hash_key ^ 0x7177u, 64), timer_(&TimeWaitTable::timer_fired, this) {}

TimeWaitTable::~TimeWaitTable() {
  wheel_.cancel(timer_);
}

TimeWaitRecord *TimeWaitTable::insert(const FourTuple &t, Instant now) {
  if (index_.contains(t))
    return nullptr;
  uint32_t id;
  if (free_ != kNil) {
    id = free_;
    free_ = records_[id].next;
  } else {
    if (records_.size() >= capacity_)
      return nullptr;
    // Growing the slab moves records: callers never keep a record pointer
    // across an insert.
    records_.emplace_back();
    id = static_cast<uint32_t>(records_.size() - 1);
  }
  TimeWaitRecord &r = records_[id];
  r = TimeWaitRecord{};
  r.tuple = t;
  r.in_use = 1;
  r.expiry_ns = to_ns(now + lifetime_);
  index_.insert(t, id);
  link_tail(id);
  rearm();
  return &r;
}

TimeWaitRecord *TimeWaitTable::find(const FourTuple &t) {
  uint32_t *id = index_.find(t);
  return id ? &records_[*id] : nullptr;
}

const TimeWaitRecord *TimeWaitTable::find(const FourTuple &t) const {
  const uint32_t *id = index_.find(t);
  return id ? &records_[*id] : nullptr;
}

void TimeWaitTable::erase(TimeWaitRecord &r) {
  uint32_t id = id_of(r);
  index_.erase(r.tuple);
  unlink(id);
  r.in_use = 0;
  r.next = free_;
  free_ = id;
  rearm();
}

void TimeWaitTable::restart(TimeWaitRecord &r, Instant now) {
  uint32_t id = id_of(r);
  unlink(id);
  r.expiry_ns = to_ns(now + lifetime_);
  link_tail(id);
  rearm();
}

void TimeWaitTable::clear() {
  wheel_.cancel(timer_);
  records_.clear();
  index_.clear();
  free_ = head_ = tail_ = kNil;
}

void TimeWaitTable::link_tail(uint32_t id) {
  TimeWaitRecord &r = records_[id];
  r.prev = tail_;
  r.next = kNil;
  if (tail_ != kNil)
    records_[tail_].next = id;
  else
    head_ = id;
  tail_ = id;
}

void TimeWaitTable::unlink(uint32_t id) {
  TimeWaitRecord &r = records_[id];
  if (r.prev != kNil)
    records_[r.prev].next = r.next;
  else
    head_ = r.next;
  if (r.next != kNil)
    records_[r.next].prev = r.prev;
  else
    tail_ = r.prev;
  r.prev = r.next = kNil;
}

void TimeWaitTable::rearm() {
  if (head_ == kNil)
    wheel_.cancel(timer_);
  else
    wheel_.schedule(timer_, instant_from_ns(records_[head_].expiry_ns));
}

void TimeWaitTable::timer_fired(void *ctx, timer::Timer &) {
  auto *self = static_cast<TimeWaitTable *>(ctx);
  int64_t now = to_ns(self->wheel_.now());
  while (self->head_ != kNil && self->records_[self->head_].expiry_ns <= now) {
    TimeWaitRecord &r = self->records_[self->head_];
    self->on_expire_(self->ctx_, r);
    self->erase(r);
  }
  self->rearm();
}

} // namespace shoal::tcp
