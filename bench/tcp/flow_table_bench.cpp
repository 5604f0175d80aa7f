// Flow table lookups at growing sizes: the cost of classifying a segment to
// its connection should stay flat from 1k to 1M connections.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "tcp/conn_table.hpp"

namespace {

using shoal::tcp::FourTuple;
using shoal::wire::Ipv4Addr;

FourTuple tuple(uint32_t i) {
  return FourTuple{Ipv4Addr{0x0a000001}, Ipv4Addr{0xc6120000u + (i >> 14)},
                   static_cast<uint16_t>(1024 + (i & 0x3fff)), 80};
}

// The engine's connection lookup (ConnTable: 8-byte slots of hash + pool
// index, tuple confirmed in the connection, 75% load), each followed by the
// read of the connection the caller does next. Stand-in connections of the real size
// (sizeof(Connection)). Each lookup waits for the previous one's connection (latency, not
// throughput: the engine does a segment's work before it classifies the next).
struct FakeConnection {
  FourTuple t;
  unsigned char rest[sizeof(shoal::tcp::Connection) - sizeof(FourTuple)]; // zero
  const FourTuple &tuple() const { return t; }
};
struct FakePool {
  std::vector<FakeConnection> v;
  FakeConnection *at(uint32_t i) { return &v[i]; }
};

void BM_EngineLookupConnTable(benchmark::State &state) {
  const auto n = static_cast<uint32_t>(state.range(0));
  FakePool pool;
  pool.v.resize(n);
  shoal::tcp::BasicConnTable<FakePool> t(0x1234, pool);
  for (uint32_t i = 0; i < n; ++i) {
    pool.v[i].t = tuple(i);
    t.insert(tuple(i), i);
  }
  uint32_t i = 0;
  for (auto _ : state) {
    FakeConnection *c = t.find(tuple(i));
    // The next segment is classified once this one's connection has been
    // read (a dependency through its data, as in the engine's input loop).
    i = (i + 7919 + c->rest[0]) % n;
  }
}
BENCHMARK(BM_EngineLookupConnTable)
    ->Arg(1 << 10)
    ->Arg(1 << 16)
    ->Arg(98000)
    ->Arg(1 << 18)
    ->Arg(1 << 20);

// A connection arriving and one leaving, at 64k connections (insert with
// its lookup, backward-shift erase).
void BM_ConnTableInsertErase(benchmark::State &state) {
  constexpr uint32_t kLive = 65536, kTotal = 2 * kLive;
  FakePool pool;
  pool.v.resize(kTotal);
  for (uint32_t i = 0; i < kTotal; ++i)
    pool.v[i].t = tuple(i);
  shoal::tcp::BasicConnTable<FakePool> t(0x1234, pool);
  for (uint32_t i = 0; i < kLive; ++i)
    t.insert(tuple(i), i);
  uint32_t i = kLive;
  for (auto _ : state) {
    t.insert(tuple(i % kTotal), i % kTotal);
    t.erase(tuple((i - kLive) % kTotal));
    ++i;
  }
}
BENCHMARK(BM_ConnTableInsertErase);

} // namespace

BENCHMARK_MAIN();
