// The wheel against a reference model (a std::multimap ordered by expiry) over
// a virtual clock: thousands of random schedules, reschedules, cancels and
// advances, with callbacks that themselves schedule and cancel. On any
// mismatch the test prints the last operations.
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <random>

#include "timer_test_util.hpp"

namespace shoal::timer::test {
namespace {

class ModelRun {
public:
  ModelRun(uint64_t seed, Duration tick, size_t n_timers)
      : rng_(seed), tick_(tick), origin_(instant_from_ns(int64_t(seed % 1000) * 1'000'003)),
        wheel_(tick, origin_), timers_(wheel_, n_timers), model_at_(n_timers, kNotArmed) {
    timers_.on_fire = [this](size_t id) { on_fire(id); };
    // Start with tick 0 processed, so the wheel is in its steady state.
    wheel_.advance(origin_);
  }

  void run(size_t n_ops) {
    for (size_t op = 0; op < n_ops && !::testing::Test::HasFatalFailure(); ++op) {
      const unsigned pick = unsigned(rng_() % 100);
      if (pick < 45) {
        const size_t id = rng_() % timers_.size();
        do_schedule(id, now() + random_delay(), "schedule");
      } else if (pick < 60) {
        do_cancel(rng_() % timers_.size(), "cancel");
      } else if (pick < 95) {
        do_advance(now() + random_step());
      } else if (pick < 97) {
        do_advance(now() + Duration{int64_t(rng_() % (uint64_t{30} * 3600 * 1'000'000'000))});
      } else {
        // What the simulator does: jump to the next expiry.
        check_next_expiry();
        if (auto ne = wheel_.next_expiry())
          do_advance(*ne);
      }
      check_next_expiry();
    }
    // Drain: everything armed must fire, in order, at its exact time.
    while (auto ne = wheel_.next_expiry()) {
      do_advance(*ne);
      if (::testing::Test::HasFatalFailure())
        return;
    }
    ASSERT_TRUE(by_expiry_.empty()) << trace();
    ASSERT_EQ(wheel_.armed_count(), 0u);
  }

  size_t fired() const { return fired_; }

private:
  static constexpr int64_t kNotArmed = INT64_MIN;

  Instant now() const { return wheel_.now(); }
  Instant grid_ceil(Instant t) const {
    const int64_t off = (t - origin_).count();
    const int64_t k = off <= 0 ? 0 : (off + tick_.count() - 1) / tick_.count();
    return origin_ + tick_ * k;
  }
  Instant grid_floor(Instant t) const {
    return origin_ + tick_ * ((t - origin_).count() / tick_.count());
  }

  Duration random_delay() {
    const unsigned kind = unsigned(rng_() % 10);
    const int64_t t = tick_.count();
    switch (kind) {
    case 0: // exactly on a level boundary, +-2 ticks
      return tick_ * ((int64_t{1} << (8 + 6 * (rng_() % 4))) + int64_t(rng_() % 5) - 2);
    case 1: // in the past
      return -Duration{int64_t(rng_() % uint64_t(300 * t))};
    case 2: // beyond the horizon
      return tick_ * (int64_t{1} << 26) + Duration{int64_t(rng_() % (uint64_t{50} << 26) * t)};
    case 3:
    case 4: // within level 0
      return Duration{int64_t(rng_() % uint64_t(300 * t))};
    case 5:
    case 6: // seconds
      return Duration{int64_t(rng_() % uint64_t(20'000 * t))};
    default: // up to keepalive
      return Duration{int64_t(rng_() % uint64_t(8'000'000 * t))};
    }
  }
  Duration random_step() {
    const int64_t t = tick_.count();
    switch (rng_() % 4) {
    case 0:
      return Duration{int64_t(rng_() % uint64_t(t))}; // within a tick
    case 1:
      return Duration{int64_t(rng_() % uint64_t(400 * t))};
    case 2:
      return Duration{int64_t(rng_() % uint64_t(30'000 * t))};
    default:
      return Duration{int64_t(rng_() % uint64_t(5'000'000 * t))};
    }
  }

  // What the wheel promises for `when`, given whether we are in a callback.
  Instant expected_expiry(Instant when) const {
    if (when <= now())
      return in_callback_ ? grid_floor(now()) + tick_ : now();
    return grid_ceil(when);
  }

  void model_remove(size_t id) {
    if (model_at_[id] == kNotArmed)
      return;
    auto range = by_expiry_.equal_range(model_at_[id]);
    for (auto it = range.first; it != range.second; ++it)
      if (it->second == id) {
        by_expiry_.erase(it);
        break;
      }
    model_at_[id] = kNotArmed;
  }

  void do_schedule(size_t id, Instant when, const char *what) {
    const Instant want = expected_expiry(when);
    note(std::string(what) + " timer " + std::to_string(id) + " when " +
         std::to_string(to_ns(when)) + " (now " + std::to_string(to_ns(now())) + ") -> expiry " +
         std::to_string(to_ns(want)));
    wheel_.schedule(timers_[id], when);
    model_remove(id);
    model_at_[id] = to_ns(want);
    by_expiry_.emplace(to_ns(want), id);
    ASSERT_EQ(timers_[id].expiry(), want) << trace();
    ASSERT_TRUE(timers_[id].armed());
    ASSERT_EQ(wheel_.armed_count(), by_expiry_.size()) << trace();
  }

  void do_cancel(size_t id, const char *what) {
    note(std::string(what) + " timer " + std::to_string(id));
    wheel_.cancel(timers_[id]);
    model_remove(id);
    ASSERT_FALSE(timers_[id].armed());
    ASSERT_EQ(wheel_.armed_count(), by_expiry_.size()) << trace();
  }

  void do_advance(Instant to) {
    note("advance to " + std::to_string(to_ns(to)));
    const Instant before = now();
    last_fired_expiry_ = INT64_MIN;
    const size_t log_before = timers_.log.size();
    const size_t n = wheel_.advance(to);
    ASSERT_EQ(n, timers_.log.size() - log_before) << trace();
    // Nothing due may be left behind.
    if (!by_expiry_.empty()) {
      ASSERT_GT(by_expiry_.begin()->first, to_ns(std::max(to, before))) << trace();
    }
    ASSERT_EQ(now(), std::max(to, before)) << trace();
  }

  void on_fire(size_t id) {
    ++fired_;
    const Firing &f = timers_.log.back();
    const int64_t at = to_ns(f.expiry);
    note("  fired timer " + std::to_string(id) + " expiry " + std::to_string(at));
    // It was armed in the model, at that expiry, and nothing armed was earlier.
    ASSERT_EQ(model_at_[id], at) << "fired timer not armed at that expiry in the model\n"
                                 << trace();
    ASSERT_FALSE(by_expiry_.empty());
    ASSERT_EQ(by_expiry_.begin()->first, at) << "an earlier timer is still armed\n" << trace();
    ASSERT_GE(at, last_fired_expiry_) << "fired out of order\n" << trace();
    last_fired_expiry_ = at;
    ASSERT_FALSE(timers_[id].armed()) << "still armed inside its callback";
    model_remove(id);
    // Inside a callback, now() is the timer's expiry.
    ASSERT_EQ(f.now, f.expiry) << trace();

    // Act from inside the callback.
    in_callback_ = true;
    const unsigned acts = unsigned(rng_() % 3);
    for (unsigned a = 0; a < acts; ++a) {
      switch (rng_() % 4) {
      case 0:
        do_schedule(id, now() + random_delay(), "cb: reschedule self");
        break;
      case 1:
        do_schedule(rng_() % timers_.size(), now() + random_delay(), "cb: schedule");
        break;
      case 2: {
        // Prefer cancelling one that is due in this same advance.
        size_t victim = rng_() % timers_.size();
        if (!by_expiry_.empty() && rng_() % 2 == 0)
          victim = by_expiry_.begin()->second;
        do_cancel(victim, "cb: cancel");
        break;
      }
      default:
        do_schedule(rng_() % timers_.size(), now() - Duration{int64_t(rng_() % 5'000'000)},
                    "cb: schedule in the past");
        break;
      }
    }
    in_callback_ = false;
  }

  void check_next_expiry() {
    const auto ne = wheel_.next_expiry();
    if (by_expiry_.empty()) {
      ASSERT_FALSE(ne.has_value()) << trace();
      return;
    }
    ASSERT_TRUE(ne.has_value()) << trace();
    ASSERT_LE(to_ns(*ne), by_expiry_.begin()->first) << "next_expiry() later than the earliest\n"
                                                     << trace();
  }

  void note(std::string s) {
    history_.push_back(std::move(s));
    if (history_.size() > 40)
      history_.pop_front();
  }
  std::string trace() const {
    std::string out = "last operations (origin " + std::to_string(to_ns(origin_)) + "):\n";
    for (const auto &h : history_)
      out += "  " + h + "\n";
    return out;
  }

  std::mt19937_64 rng_;
  Duration tick_;
  Instant origin_;
  TimerWheel wheel_;
  Recorder timers_;
  std::vector<int64_t> model_at_;
  std::multimap<int64_t, size_t> by_expiry_;
  std::deque<std::string> history_;
  bool in_callback_ = false;
  int64_t last_fired_expiry_ = INT64_MIN;
  size_t fired_ = 0;
};

TEST(TimerWheelModel, RandomOperationsMatchAMultimap) {
  size_t total_fired = 0;
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    ModelRun run(seed, 1ms, 300);
    run.run(4000);
    if (HasFatalFailure())
      return;
    total_fired += run.fired();
  }
  EXPECT_GT(total_fired, 10'000u);
}

TEST(TimerWheelModel, RandomOperationsWithOtherTicks) {
  for (int64_t tick_ns : {1'000, 999'983, 10'000'000}) {
    SCOPED_TRACE("tick " + std::to_string(tick_ns) + " ns");
    ModelRun run(uint64_t(tick_ns), Duration{tick_ns}, 200);
    run.run(3000);
    if (HasFatalFailure())
      return;
  }
}

// The same timers, advanced tick by tick and in a few long jumps, fire the
// same timers at the same expiries in the same order.
TEST(TimerWheelModel, SteppingAndJumpingAgree) {
  auto record = [](bool step) {
    TimerWheel w(1ms, Instant{});
    Recorder r(w, 400);
    std::mt19937_64 rng(99);
    for (size_t i = 0; i < r.size(); ++i)
      w.schedule(r[i], at_ms(int64_t(rng() % 40'000)));
    // Periodic re-arm with a per-timer interval.
    r.on_fire = [&](size_t id) {
      if (id % 3 == 0)
        w.schedule_after(r[id], std::chrono::milliseconds{int64_t(id % 97 + 1) * 13});
    };
    if (step) {
      for (int64_t ms = 0; ms <= 60'000; ++ms)
        w.advance(at_ms(ms));
    } else {
      for (int64_t ms : {1, 300, 17'000, 60'000})
        w.advance(at_ms(ms));
    }
    std::vector<std::pair<int64_t, size_t>> out;
    for (const auto &f : r.log)
      out.emplace_back(to_ns(f.expiry), f.id);
    return out;
  };
  const auto stepped = record(true);
  const auto jumped = record(false);
  EXPECT_GT(stepped.size(), 400u);
  ASSERT_EQ(stepped.size(), jumped.size());
  for (size_t i = 0; i < stepped.size(); ++i)
    ASSERT_EQ(stepped[i], jumped[i]) << "firing " << i;
}

} // namespace
} // namespace shoal::timer::test
