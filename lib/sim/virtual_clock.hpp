#pragma once
// The simulator's clock: an Instant that only moves when the simulation says
// so. Engines never read it themselves; the simulation passes now() into every
// Engine::input/advance call, which is what makes a run a pure function of its
// seed.
#include "common/time.hpp"

namespace shoal::sim {

class VirtualClock {
public:
  explicit VirtualClock(Instant start = Instant{}) : start_(start), now_(start) {}

  Instant now() const { return now_; }
  Instant start() const { return start_; }
  Duration elapsed() const { return now_ - start_; }

  // Time never runs backwards: a target in the past is ignored.
  void advance_to(Instant t) {
    if (t > now_)
      now_ = t;
  }
  void advance_by(Duration d) { advance_to(now_ + d); }

private:
  Instant start_;
  Instant now_;
};

} // namespace shoal::sim
