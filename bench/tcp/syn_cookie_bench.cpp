// SYN cookie cost: making one (a SYN answered while the backlog is full) and
// checking one (the final ACK, or a forged ACK in a flood). Each is two
// SipHash-2-4 calls (mask + mac) plus bit work.
#include <benchmark/benchmark.h>

#include "tcp/syn_cookie.hpp"

namespace {

using namespace shoal;
using namespace shoal::tcp;

FourTuple tuple(uint32_t i) {
  return FourTuple{
      wire::Ipv4Addr::from_octets(10, 0, 0, 1),
      wire::Ipv4Addr::from_octets(198, 18, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)),
      80, static_cast<uint16_t>(1024 + (i & 0x7fff))};
}

CookieOptions with_ts() {
  CookieOptions o;
  o.timestamps = true;
  o.snd_wscale = 7;
  o.sack_permitted = true;
  return o;
}

void BM_SynCookieMake(benchmark::State &state) {
  SynCookies sc(1, std::chrono::seconds(60));
  const CookieOptions o = with_ts();
  const Instant now = instant_from_ns(5'000'000'000);
  uint32_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(sc.make(tuple(i), i * 2654435761u, 3, o, now));
    ++i;
  }
}
BENCHMARK(BM_SynCookieMake);

void BM_SynCookieCheckValid(benchmark::State &state) {
  SynCookies sc(1, std::chrono::seconds(60));
  const CookieOptions o = with_ts();
  const Instant now = instant_from_ns(5'000'000'000);
  constexpr uint32_t kN = 1024;
  uint32_t cookies[kN];
  for (uint32_t i = 0; i < kN; ++i)
    cookies[i] = sc.make(tuple(i), i * 2654435761u, 3, o, now);
  uint32_t i = 0, ok = 0;
  for (auto _ : state) {
    const uint32_t k = i++ & (kN - 1);
    ok += sc.check(tuple(k), k * 2654435761u, cookies[k], o, now).verdict == CookieVerdict::ok;
  }
  if (ok != static_cast<uint32_t>(state.iterations()))
    state.SkipWithError("a valid cookie failed its check");
}
BENCHMARK(BM_SynCookieCheckValid);

void BM_SynCookieCheckForged(benchmark::State &state) {
  SynCookies sc(1, std::chrono::seconds(60));
  const CookieOptions o = with_ts();
  const Instant now = instant_from_ns(5'000'000'000);
  uint32_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(sc.check(tuple(i), i, i * 0x9e3779b9u, o, now));
    ++i;
  }
}
BENCHMARK(BM_SynCookieCheckForged);

} // namespace

BENCHMARK_MAIN();
