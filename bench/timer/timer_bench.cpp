// Timer wheel micro-benchmarks: the cost of one timer must not depend on how
// many other timers the shard holds (1k ... 10M already armed).
//
//   BM_ScheduleCancel/<bg>: arm then disarm one timer; random delays from 1 ms
//     to keepalive (2 h + 9 x 75 s), so every level is hit. The background
//     timers are spread over the same range, so every slot list is populated.
//   BM_Reschedule/<bg>: move an armed timer to a new random delay (the RTO and
//     keepalive re-arm on every ACK).
//   BM_Expiry/<bg>: arm 4096 timers with delays of 1..2048 ms (levels 0 and 1,
//     so half of them are cascaded once), then advance 1 ms at a time, as the
//     shard loop does, until all fired; time per fired timer. The background
//     timers sit 6..18 h ahead so that the clock of the run never reaches them
//     (counter bg_fired must stay 0).
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <vector>

#include "timer/timer_wheel.hpp"

namespace {

using shoal::Duration;
using shoal::Instant;
using shoal::timer::Timer;
using shoal::timer::TimerWheel;
using namespace std::chrono_literals;

constexpr Duration kKeepalive = 2h + 9 * 75s;
size_t g_bg_fired = 0;
size_t g_fired = 0;

void count_bg(void *, Timer &) {
  ++g_bg_fired;
}
void count_fire(void *, Timer &) {
  ++g_fired;
}

// One wheel holding `n` background timers, built once per size and reused by
// every benchmark run of that size (building 10M takes a while).
struct Background {
  enum class Spread { kAllLevels, kFarAhead };

  Background(size_t n, Spread spread) : timers(n) {
    std::mt19937_64 rng(n);
    const int64_t lo = spread == Spread::kAllLevels ? 1'000'000 : int64_t{6} * 3600 * 1'000'000'000;
    const int64_t hi =
        spread == Spread::kAllLevels ? kKeepalive.count() : int64_t{18} * 3600 * 1'000'000'000;
    for (Timer &t : timers) {
      t.set_callback(&count_bg, nullptr);
      wheel.schedule(t, wheel.now() + Duration{lo + int64_t(rng() % uint64_t(hi - lo))});
    }
  }
  ~Background() {
    for (Timer &t : timers)
      wheel.cancel(t);
  }

  TimerWheel wheel{1ms, Instant{}};
  std::vector<Timer> timers;
};

Background &background(size_t n, Background::Spread spread) {
  static std::unique_ptr<Background> cached;
  static size_t cached_n = 0;
  static Background::Spread cached_spread{};
  if (!cached || cached_n != n || cached_spread != spread) {
    cached.reset();
    cached = std::make_unique<Background>(n, spread);
    cached_n = n;
    cached_spread = spread;
  }
  return *cached;
}

constexpr size_t kBatch = 4096;

std::vector<Duration> random_delays(size_t n, int64_t lo_ns, int64_t hi_ns, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Duration> d(n);
  for (auto &x : d)
    x = Duration{lo_ns + int64_t(rng() % uint64_t(hi_ns - lo_ns))};
  return d;
}

void BM_ScheduleCancel(benchmark::State &state) {
  Background &bg = background(size_t(state.range(0)), Background::Spread::kAllLevels);
  TimerWheel &w = bg.wheel;
  std::vector<Timer> mine(kBatch);
  const auto delays = random_delays(kBatch, 1'000'000, kKeepalive.count(), 1);
  size_t i = 0;
  for (auto _ : state) {
    w.schedule_after(mine[i], delays[i]);
    w.cancel(mine[i]);
    i = (i + 1) % kBatch;
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
  state.counters["armed"] = double(w.armed_count());
}

void BM_Reschedule(benchmark::State &state) {
  Background &bg = background(size_t(state.range(0)), Background::Spread::kAllLevels);
  TimerWheel &w = bg.wheel;
  std::vector<Timer> mine(kBatch);
  const auto delays = random_delays(kBatch * 2, 1'000'000, kKeepalive.count(), 2);
  for (size_t i = 0; i < kBatch; ++i)
    w.schedule_after(mine[i], delays[i]);
  size_t i = 0, j = 0;
  for (auto _ : state) {
    w.schedule_after(mine[i], delays[j]);
    i = (i + 1) % kBatch;
    j = (j + 1) % (kBatch * 2);
  }
  for (Timer &t : mine)
    w.cancel(t);
  state.SetItemsProcessed(int64_t(state.iterations()));
}

void BM_Expiry(benchmark::State &state) {
  Background &bg = background(size_t(state.range(0)), Background::Spread::kFarAhead);
  TimerWheel &w = bg.wheel;
  std::vector<Timer> mine(kBatch);
  for (Timer &t : mine)
    t.set_callback(&count_fire, nullptr);
  const auto delays = random_delays(kBatch, 1'000'000, 2'048'000'000, 3);
  g_fired = 0;
  g_bg_fired = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < kBatch; ++i)
      w.schedule_after(mine[i], delays[i]);
    const Instant start = w.now();
    for (int ms = 1; ms <= 2048; ++ms)
      w.advance(start + std::chrono::milliseconds{ms});
  }
  if (g_fired != size_t(state.iterations()) * kBatch)
    state.SkipWithError("not every timer fired");
  state.SetItemsProcessed(int64_t(state.iterations() * kBatch));
  state.counters["bg_fired"] = double(g_bg_fired);
  state.counters["wheel_hours"] = double(w.now().time_since_epoch().count()) / 3.6e12;
}

void sizes(benchmark::internal::Benchmark *b) {
  for (int64_t n : {1'000, 100'000, 1'000'000, 10'000'000})
    b->Arg(n);
}

BENCHMARK(BM_ScheduleCancel)->Apply(sizes);
BENCHMARK(BM_Reschedule)->Apply(sizes);
BENCHMARK(BM_Expiry)->Apply(sizes);

} // namespace

BENCHMARK_MAIN();
