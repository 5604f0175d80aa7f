#pragma once
// Helpers for the timer wheel tests: timers that record when they fired.
#include <cstdint>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "timer/timer_wheel.hpp"

namespace shoal::timer::test {

inline int64_t ms_of(Instant t) {
  return to_ns(t) / 1'000'000;
}
inline Instant at_ms(int64_t ms) {
  return instant_from_ns(ms * 1'000'000);
}

struct Firing {
  size_t id;
  Instant expiry; // Timer::expiry() seen from inside the callback
  Instant now;    // TimerWheel::now() seen from inside the callback
};

// A fixed set of timers; each firing is appended to `log`, then `on_fire`
// (if set) runs, so tests can act from inside callbacks.
class Recorder {
public:
  explicit Recorder(TimerWheel &wheel, size_t n) : wheel_(wheel), slots_(n) {
    for (size_t i = 0; i < n; ++i) {
      slots_[i].owner = this;
      slots_[i].id = i;
      slots_[i].timer.set_callback(&Recorder::fired, &slots_[i]);
    }
  }
  ~Recorder() {
    for (auto &s : slots_)
      wheel_.cancel(s.timer);
  }
  Timer &operator[](size_t i) { return slots_[i].timer; }
  size_t size() const { return slots_.size(); }

  std::vector<Firing> log;
  std::function<void(size_t id)> on_fire;

  std::string trace() const {
    std::ostringstream os;
    for (const auto &f : log)
      os << "  timer " << f.id << " expiry " << to_ns(f.expiry) << " ns, now " << to_ns(f.now)
         << " ns\n";
    return os.str();
  }

private:
  struct Slot {
    Timer timer;
    Recorder *owner = nullptr;
    size_t id = 0;
  };
  static void fired(void *ctx, Timer &self) {
    auto *slot = static_cast<Slot *>(ctx);
    Recorder &r = *slot->owner;
    r.log.push_back({slot->id, self.expiry(), r.wheel_.now()});
    if (r.on_fire)
      r.on_fire(slot->id);
  }

  TimerWheel &wheel_;
  std::vector<Slot> slots_;
};

} // namespace shoal::timer::test
