// Flow table lookups at growing sizes: the cost of classifying a segment to
// its connection should stay flat from 1k to 1M connections.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "tcp/flow_table.hpp"

namespace {

using shoal::tcp::FlowTable;
using shoal::tcp::FourTuple;
using shoal::wire::Ipv4Addr;

FourTuple tuple(uint32_t i) {
  return FourTuple{Ipv4Addr{0x0a000001}, Ipv4Addr{0xc6120000u + (i >> 14)},
                   static_cast<uint16_t>(1024 + (i & 0x3fff)), 80};
}

void BM_FlowTableHit(benchmark::State &state) {
  const auto n = static_cast<uint32_t>(state.range(0));
  FlowTable<uint32_t> t(0x1234);
  for (uint32_t i = 0; i < n; ++i)
    t.insert(tuple(i), i);
  uint32_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(t.find(tuple(i)));
    i = (i + 7919) % n;
  }
}
BENCHMARK(BM_FlowTableHit)->Arg(1 << 10)->Arg(1 << 16)->Arg(1 << 20);

void BM_FlowTableInsertErase(benchmark::State &state) {
  FlowTable<uint32_t> t(0x1234);
  for (uint32_t i = 0; i < 65536; ++i)
    t.insert(tuple(i), i);
  uint32_t i = 65536;
  for (auto _ : state) {
    t.insert(tuple(i), i);
    t.erase(tuple(i - 65536));
    ++i;
  }
}
BENCHMARK(BM_FlowTableInsertErase);

} // namespace

BENCHMARK_MAIN();
