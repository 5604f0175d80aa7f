// Loss-recovery building blocks, per-operation cost:
//   BM_ReassemblyInOrder/<n>: n segments inserted at RCV.NXT and popped one
//     by one (the engine's path when a hole has just been filled).
//   BM_ReassemblyReversed/<n>: n segments inserted last-first (worst case for
//     the sorted array: every insert at the front), then popped in one go.
//   BM_ReassemblyShuffled/<n>: n segments in random order, popped as ready.
//   BM_CcOnAck/<algo>: one ACK of one SMSS through ack_received(), in
//     congestion avoidance (the steady-state per-ACK cost).
//   BM_SackUpdate: a 3-block SACK update plus pipe() and next_seg() on a
//     scoreboard holding 16 ranges.
// Times are per segment / per ACK. mbufs are allocated outside the timed
// region where possible; the Reassembly ones include rte_pktmbuf_free.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "eal_env.hpp"
#include "tcp/packet_buf_impl.hpp"
#include "tcp/recovery/congestion_control.hpp"
#include "tcp/recovery/reassembly.hpp"
#include "tcp/recovery/sack_scoreboard.hpp"

namespace {

using namespace shoal;
using namespace shoal::tcp;
using namespace std::chrono_literals;

constexpr uint32_t kSeg = 1448;

rte_mempool *pool() {
  static rte_mempool *p = shoal::test::make_pktmbuf_pool(8192);
  return p;
}

void alloc_segments(std::vector<rte_mbuf *> &v) {
  if (rte_pktmbuf_alloc_bulk(pool(), v.data(), static_cast<unsigned>(v.size())) != 0)
    std::abort();
  for (rte_mbuf *m : v)
    rte_pktmbuf_append(m, kSeg);
}

void free_all(PacketBuf *bufs, size_t n) {
  for (size_t i = 0; i < n; ++i)
    bufs[i].free();
}

void run_reassembly(benchmark::State &state, int mode) {
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<rte_mbuf *> mbufs(n);
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  if (mode == 1)
    std::reverse(order.begin(), order.end());
  std::mt19937 rng(1);
  if (mode == 2)
    std::shuffle(order.begin(), order.end(), rng);
  ReassemblyBudget budget;
  ReassemblyQueue q(budget, ReassemblyLimits{1u << 30, 1u << 20});
  PacketBuf out[32];
  uint32_t base = 0xFFFF0000u;
  for (auto _ : state) {
    state.PauseTiming();
    alloc_segments(mbufs);
    state.ResumeTiming();
    Seq rcv_nxt{base};
    for (size_t i : order) {
      q.insert(rcv_nxt, Seq{base} + static_cast<uint32_t>(i * kSeg), mbufs[i], kSeg);
      if (mode != 1) {
        size_t k;
        while ((k = q.pop(rcv_nxt, out)) > 0)
          free_all(out, k);
      }
    }
    size_t k;
    while ((k = q.pop(rcv_nxt, out)) > 0)
      free_all(out, k);
    if (!q.empty())
      state.SkipWithError("queue not drained");
    base += static_cast<uint32_t>(n * kSeg);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
}

void BM_ReassemblyInOrder(benchmark::State &s) {
  run_reassembly(s, 0);
}
void BM_ReassemblyReversed(benchmark::State &s) {
  run_reassembly(s, 1);
}
void BM_ReassemblyShuffled(benchmark::State &s) {
  run_reassembly(s, 2);
}
BENCHMARK(BM_ReassemblyInOrder)->Arg(64)->Arg(1024);
BENCHMARK(BM_ReassemblyReversed)->Arg(64)->Arg(1024);
BENCHMARK(BM_ReassemblyShuffled)->Arg(64)->Arg(1024);

void BM_CcOnAck(benchmark::State &state, const char *algo) {
  CcConfig cfg;
  cfg.smss = kSeg;
  cfg.initial_ssthresh = 100 * kSeg; // straight into congestion avoidance
  cfg.initial_window = 100 * kSeg;
  auto cc = make_congestion_control(algo, cfg);
  Seq una{1};
  Instant now{};
  for (auto _ : state) {
    una += kSeg;
    now += 10us;
    const CcAction a = cc->ack_received({una, una + cc->cwnd(), kSeg, cc->cwnd(), 1ms, now});
    benchmark::DoNotOptimize(a);
    if (cc->cwnd() > 100000 * kSeg) { // keep the window in a realistic range
      state.PauseTiming();
      cc = make_congestion_control(algo, cfg);
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_CcOnAck, newreno, "newreno");
BENCHMARK_CAPTURE(BM_CcOnAck, cubic, "cubic");

void BM_SackUpdate(benchmark::State &state) {
  SackScoreboard sb(kSeg);
  sb.reset(Seq{0});
  sb.set_high_data(Seq{0} + 64 * kSeg);
  for (uint32_t i = 0; i < 16; ++i) {
    SackBlock b[] = {{Seq{(2 * i + 1) * kSeg}, Seq{(2 * i + 2) * kSeg}}};
    sb.update(Seq{0}, b);
  }
  const SackBlock blocks[] = {{Seq{33 * kSeg}, Seq{34 * kSeg}},
                              {Seq{31 * kSeg}, Seq{32 * kSeg}},
                              {Seq{29 * kSeg}, Seq{30 * kSeg}}};
  for (auto _ : state) {
    auto u = sb.update(Seq{0}, blocks);
    benchmark::DoNotOptimize(u);
    benchmark::DoNotOptimize(sb.pipe());
    benchmark::DoNotOptimize(sb.next_seg(kSeg));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SackUpdate);

} // namespace

BENCHMARK_MAIN();
