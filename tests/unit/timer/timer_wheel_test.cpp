// Timer wheel behaviour on a virtual clock: exact expiry at every level
// boundary, rescheduling and cancelling (also from callbacks), long jumps,
// next_expiry(), armed_count() and the overflow list.
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <random>

#include "timer_test_util.hpp"

namespace shoal::timer::test {
namespace {

constexpr Instant kT0{};

TEST(TimerWheel, TimerIsSmall) {
  // Embedded in every connection and TIME_WAIT record.
  EXPECT_LE(sizeof(Timer), 40u);
  std::cout << "sizeof(Timer) = " << sizeof(Timer) << "\n";
}

TEST(TimerWheel, DefaultsAndHorizonReachPastKeepalive) {
  TimerWheel w;
  EXPECT_EQ(w.tick(), 1ms);
  EXPECT_EQ(w.now(), kT0);
  EXPECT_EQ(w.armed_count(), 0u);
  EXPECT_FALSE(w.next_expiry().has_value());
  // Keepalive: 2 h idle, then 9 probes 75 s apart (Linux defaults).
  EXPECT_GT(w.horizon(), std::chrono::hours{2} + 9 * std::chrono::seconds{75});
}

TEST(TimerWheel, TwoMslFiresAtExactly60000Ticks) {
  TimerWheel w;
  Recorder r(w, 1);
  w.schedule_after(r[0], 60s);
  EXPECT_TRUE(r[0].armed());
  EXPECT_EQ(r[0].expiry(), at_ms(60'000));
  EXPECT_EQ(w.advance(at_ms(59'999)), 0u);
  EXPECT_TRUE(r.log.empty());
  EXPECT_EQ(w.advance(at_ms(60'000)), 1u) << r.trace();
  ASSERT_EQ(r.log.size(), 1u);
  EXPECT_EQ(r.log[0].expiry, at_ms(60'000));
  EXPECT_EQ(r.log[0].now, at_ms(60'000));
  EXPECT_FALSE(r[0].armed());
  EXPECT_EQ(w.armed_count(), 0u);
}

// Delays on both sides of every level boundary (2^8, 2^14, 2^20, 2^26 ticks),
// scheduled from several starting phases, advanced tick-exactly: each timer
// must fire exactly at its tick, never one early.
TEST(TimerWheel, ExactExpiryAtEveryLevelBoundary) {
  std::vector<int64_t> delays;
  for (int bits : {8, 14, 20, 26})
    for (int64_t d = -2; d <= 2; ++d)
      delays.push_back((int64_t{1} << bits) + d);
  delays.insert(delays.end(), {1, 2, 100, 7'875'000, (int64_t{1} << 26) * 3 + 5});
  for (int64_t phase : {0, 1, 255, 256, 16'383, 1'048'575, 12'345'678}) {
    TimerWheel w(1ms, kT0);
    Recorder r(w, delays.size());
    w.advance(at_ms(phase));
    for (size_t i = 0; i < delays.size(); ++i)
      w.schedule(r[i], at_ms(phase + delays[i]));
    EXPECT_EQ(w.armed_count(), delays.size());
    // Jump from one expected expiry to the next: one tick before must fire
    // nothing, the tick itself exactly that timer.
    std::vector<size_t> order(delays.size());
    for (size_t i = 0; i < order.size(); ++i)
      order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return delays[a] < delays[b]; });
    for (size_t i : order) {
      const int64_t due = phase + delays[i];
      r.log.clear();
      w.advance(at_ms(due - 1));
      ASSERT_TRUE(r.log.empty()) << "phase " << phase << " delay " << delays[i] << ": fired early\n"
                                 << r.trace();
      w.advance(at_ms(due));
      ASSERT_EQ(r.log.size(), 1u) << "phase " << phase << " delay " << delays[i] << "\n"
                                  << r.trace();
      EXPECT_EQ(r.log[0].id, i);
      EXPECT_EQ(r.log[0].expiry, at_ms(due));
      EXPECT_EQ(r.log[0].now, at_ms(due));
    }
    EXPECT_EQ(w.armed_count(), 0u);
  }
}

TEST(TimerWheel, WhenIsRoundedUpToTheTickGrid) {
  TimerWheel w(1ms, kT0);
  Recorder r(w, 2);
  w.schedule(r[0], kT0 + 1500us); // due mid-tick: fires at the 2 ms tick
  w.schedule(r[1], kT0 + 2ms);
  EXPECT_EQ(r[0].expiry(), kT0 + 2ms);
  EXPECT_EQ(w.advance(kT0 + 1999us), 0u);
  EXPECT_EQ(w.advance(kT0 + 2ms), 2u);
}

TEST(TimerWheel, GridIsAnchoredAtConstructionAndTickIsConfigurable) {
  const Instant origin = instant_from_ns(123'456'789);
  TimerWheel w(10ms, origin);
  Recorder r(w, 3);
  EXPECT_EQ(w.tick(), 10ms);
  EXPECT_EQ(w.horizon(), 10ms * ((int64_t{1} << 26) - 1));
  w.schedule_after(r[0], 10ms);
  w.schedule_after(r[1], 11ms);
  w.schedule_after(r[2], 3h);
  EXPECT_EQ(r[0].expiry(), origin + 10ms);
  EXPECT_EQ(r[1].expiry(), origin + 20ms);
  EXPECT_EQ(r[2].expiry(), origin + 3h);
  EXPECT_EQ(w.advance(origin + 19ms), 1u);
  EXPECT_EQ(w.advance(origin + 20ms), 1u);
  EXPECT_EQ(w.advance(origin + 3h - 1ns), 0u);
  EXPECT_EQ(w.advance(origin + 3h), 1u);
}

TEST(TimerWheel, OddTickSizes) {
  // A tick that is not a power of two nor a whole number of microseconds.
  TimerWheel w(Duration{999'983}, kT0);
  Recorder r(w, 4);
  const int64_t ticks[] = {1, 300, 20'000, 2'000'000};
  for (size_t i = 0; i < 4; ++i)
    w.schedule(r[i], kT0 + Duration{999'983} * ticks[i]);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(w.advance(kT0 + Duration{999'983} * ticks[i] - 1ns), 0u);
    EXPECT_EQ(w.advance(kT0 + Duration{999'983} * ticks[i]), 1u) << r.trace();
  }
}

TEST(TimerWheel, ScheduledInThePastFiresOnTheNextAdvance) {
  TimerWheel w(1ms, kT0);
  Recorder r(w, 3);
  w.advance(kT0 + 10500us);
  w.schedule(r[0], kT0 + 10500us); // exactly now
  w.schedule(r[1], kT0 + 3ms);     // in the past
  w.schedule(r[2], kT0 - 5h);      // before the wheel existed
  EXPECT_EQ(w.armed_count(), 3u);
  EXPECT_EQ(r[0].expiry(), w.now());
  EXPECT_EQ(w.next_expiry(), w.now());
  // Same `now` again: still fires.
  EXPECT_EQ(w.advance(kT0 + 10500us), 3u) << r.trace();
  EXPECT_EQ(w.armed_count(), 0u);
}

TEST(TimerWheel, RescheduleMovesTheTimer) {
  TimerWheel w(1ms, kT0);
  Recorder r(w, 1);
  w.schedule_after(r[0], 5s);
  w.schedule_after(r[0], 300ms); // earlier
  EXPECT_EQ(w.armed_count(), 1u);
  EXPECT_EQ(w.advance(at_ms(299)), 0u);
  EXPECT_EQ(w.advance(at_ms(300)), 1u);
  w.schedule_after(r[0], 100ms);
  w.schedule_after(r[0], 2h); // later, other level
  EXPECT_EQ(w.advance(at_ms(300 + 100)), 0u);
  EXPECT_EQ(w.advance(at_ms(300) + 2h - 1ms), 0u);
  EXPECT_EQ(w.advance(at_ms(300) + 2h), 1u);
  EXPECT_EQ(w.armed_count(), 0u);
}

TEST(TimerWheel, CancelIsIdempotent) {
  TimerWheel w(1ms, kT0);
  Recorder r(w, 3);
  w.cancel(r[0]); // never armed
  w.schedule_after(r[0], 10ms);
  w.schedule_after(r[1], 10ms);
  w.schedule_after(r[2], 10ms);
  w.cancel(r[1]);
  w.cancel(r[1]);
  EXPECT_FALSE(r[1].armed());
  EXPECT_EQ(w.armed_count(), 2u);
  EXPECT_EQ(w.advance(at_ms(10)), 2u);
  for (const auto &f : r.log)
    EXPECT_NE(f.id, 1u);
}

TEST(TimerWheel, CallbackCancelsAndReschedulesOthersDueInTheSameAdvance) {
  TimerWheel w(1ms, kT0);
  Recorder r(w, 4);
  w.schedule(r[0], at_ms(5));
  w.schedule(r[1], at_ms(5)); // same tick as 0: whichever fires first cancels the other
  w.schedule(r[2], at_ms(7)); // moved later by 0's callback
  w.schedule(r[3], at_ms(9)); // moved earlier (still ahead) by 0's callback
  r.on_fire = [&](size_t id) {
    if (id == 0 || id == 1) {
      w.cancel(r[1 - id]);
      w.schedule(r[2], at_ms(20));
      w.schedule(r[3], at_ms(6));
    }
  };
  EXPECT_EQ(w.advance(at_ms(30)), 3u) << r.trace();
  ASSERT_EQ(r.log.size(), 3u);
  EXPECT_EQ(r.log[1].id, 3u);
  EXPECT_EQ(r.log[1].expiry, at_ms(6));
  EXPECT_EQ(r.log[2].id, 2u);
  EXPECT_EQ(r.log[2].expiry, at_ms(20));
}

TEST(TimerWheel, PeriodicTimerReschedulingItselfDuringALongJump) {
  // Keepalive-like: 75 s interval, rescheduled from its own callback; one
  // jump over 2 hours fires it exactly as often as stepping would.
  TimerWheel w(1ms, kT0);
  Recorder r(w, 1);
  r.on_fire = [&](size_t) { w.schedule_after(r[0], 75s); };
  w.schedule_after(r[0], 75s);
  EXPECT_EQ(w.advance(kT0 + 2h), size_t{7200 / 75}) << r.trace();
  for (size_t i = 0; i < r.log.size(); ++i) {
    EXPECT_EQ(r.log[i].expiry, kT0 + 75s * int64_t(i + 1));
    EXPECT_EQ(r.log[i].now, r.log[i].expiry);
  }
  EXPECT_EQ(r[0].expiry(), kT0 + 75s * int64_t(7200 / 75 + 1));
}

TEST(TimerWheel, ZeroDelayFromACallbackFiresOnTheNextTick) {
  // A callback re-arming itself "now" must not spin inside one tick.
  TimerWheel w(1ms, kT0);
  Recorder r(w, 1);
  r.on_fire = [&](size_t) { w.schedule_after(r[0], 0ms); };
  w.schedule(r[0], at_ms(1));
  EXPECT_EQ(w.advance(at_ms(10)), 10u) << r.trace();
  for (size_t i = 0; i < r.log.size(); ++i)
    EXPECT_EQ(r.log[i].expiry, at_ms(int64_t(i) + 1));
  EXPECT_EQ(r[0].expiry(), at_ms(11));
}

TEST(TimerWheel, CallbackMaySchedulePastTimersDuringTheDueFlush) {
  TimerWheel w(1ms, kT0);
  Recorder r(w, 2);
  w.advance(kT0 + 500us);
  w.schedule(r[0], kT0); // past: due list
  r.on_fire = [&](size_t id) {
    if (id == 0)
      w.schedule(r[1], kT0); // past again, from a callback: next tick (1 ms)
  };
  EXPECT_EQ(w.advance(kT0 + 800us), 1u);
  EXPECT_EQ(r[1].expiry(), at_ms(1));
  EXPECT_EQ(w.advance(at_ms(1)), 1u);
}

TEST(TimerWheel, LongJumpFiresEverythingInOrder) {
  TimerWheel w(1ms, kT0);
  constexpr size_t kN = 5000;
  Recorder r(w, kN);
  std::mt19937_64 rng(7);
  for (size_t i = 0; i < kN; ++i)
    w.schedule(r[i], kT0 + Duration{int64_t(rng() % (uint64_t{10} * 3600 * 1'000'000'000))});
  EXPECT_EQ(w.advance(kT0 + 10h), kN);
  ASSERT_EQ(r.log.size(), kN);
  for (size_t i = 1; i < kN; ++i)
    ASSERT_LE(r.log[i - 1].expiry, r.log[i].expiry) << "out of order at " << i;
  for (const auto &f : r.log)
    ASSERT_EQ(f.now, f.expiry);
  EXPECT_EQ(w.armed_count(), 0u);
  EXPECT_FALSE(w.next_expiry().has_value());
}

TEST(TimerWheel, BeyondTheHorizonParksInOverflowAndStaysExact) {
  TimerWheel w(1ms, kT0);
  Recorder r(w, 3);
  w.schedule_after(r[0], w.horizon() + 1ms);
  w.schedule_after(r[1], 100h);
  w.schedule_after(r[2], 48h + 7ms);
  EXPECT_EQ(r[1].expiry(), kT0 + 100h);
  auto ne = w.next_expiry();
  ASSERT_TRUE(ne.has_value());
  EXPECT_LE(*ne, r[0].expiry());
  EXPECT_EQ(w.advance(r[0].expiry() - 1ms), 0u);
  EXPECT_EQ(w.advance(r[0].expiry()), 1u);
  EXPECT_EQ(w.advance(kT0 + 48h + 6ms), 0u);
  EXPECT_EQ(w.advance(kT0 + 48h + 7ms), 1u);
  EXPECT_EQ(w.advance(kT0 + 100h - 1ns), 0u);
  EXPECT_EQ(w.advance(kT0 + 100h), 1u) << r.trace();
}

// next_expiry() is a lower bound on the earliest expiry, and jumping to it
// repeatedly (what the simulator does) reaches every timer in few steps.
TEST(TimerWheel, NextExpiryDrivesAVirtualClock) {
  TimerWheel w(1ms, kT0);
  constexpr size_t kN = 2000;
  Recorder r(w, kN);
  std::mt19937_64 rng(11);
  for (size_t i = 0; i < kN; ++i)
    w.schedule(r[i], kT0 + Duration{int64_t(rng() % (uint64_t{3} * 3600 * 1'000'000'000))});
  size_t steps = 0;
  while (auto ne = w.next_expiry()) {
    Instant earliest = Instant::max();
    for (size_t i = 0; i < kN; ++i)
      if (r[i].armed())
        earliest = std::min(earliest, r[i].expiry());
    ASSERT_LE(*ne, earliest);
    const size_t before = r.log.size();
    w.advance(*ne);
    // Never overshoot: what fired was due exactly now.
    for (size_t i = before; i < r.log.size(); ++i)
      ASSERT_EQ(r.log[i].expiry, *ne);
    ASSERT_LT(++steps, 4 * kN + 100) << "next_expiry() does not make progress";
  }
  EXPECT_EQ(r.log.size(), kN);
  // Level-0 expiries are exact, so most steps fire something.
  std::cout << kN << " timers reached in " << steps << " next_expiry() steps\n";
}

TEST(TimerWheel, NextExpiryIsExactWithinLevelZero) {
  TimerWheel w(1ms, kT0);
  Recorder r(w, 2);
  w.schedule(r[0], at_ms(200));
  w.schedule(r[1], at_ms(17));
  EXPECT_EQ(w.next_expiry(), at_ms(17));
  w.cancel(r[1]);
  EXPECT_EQ(w.next_expiry(), at_ms(200));
  w.cancel(r[0]);
  EXPECT_FALSE(w.next_expiry().has_value());
}

TEST(TimerWheel, DestroyingTheWheelDisarmsLeftoverTimers) {
  Timer t;
  {
    TimerWheel w(1ms, kT0);
    w.schedule_after(t, 1s);
    EXPECT_TRUE(t.armed());
  }
  EXPECT_FALSE(t.armed());
}

#if !defined(NDEBUG) && GTEST_HAS_DEATH_TEST
TEST(TimerWheelDeathTest, DestroyingAnArmedTimerAsserts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        TimerWheel w(1ms, kT0);
        alignas(Timer) unsigned char storage[sizeof(Timer)];
        auto *t = new (storage) Timer();
        w.schedule_after(*t, 1s);
        t->~Timer();
      },
      "armed");
}
#endif

} // namespace
} // namespace shoal::timer::test
