// Memory per connection: bytes per idle ESTABLISHED connection
// (no data buffered) and per TIME_WAIT record, with N connections held at
// once, N = 100k and 1M by default.
//
// Two engines of the simulator (lib/sim) in this process: A opens N
// connections to B (sim::IdleFleet) and they sit idle; then A closes them
// all first, so A holds N TIME_WAIT records. Two measurements each time:
//   engine  what the engine's pools and tables have allocated
//           (Engine::memory: connection pool, flow table, TIME_WAIT slab and
//           index), divided by N, for B (established) and A (TIME_WAIT);
//   heap    the process heap in use (mallinfo2: arena + mmapped blocks)
//           before and after, divided by 2N endpoints (established): the
//           ground truth, every allocation counted.
// No mbuf is held by an idle connection (the mempool in use returns to its
// start, checked).
//
//   bench_tcp_memory [--counts 100000,1000000] [--json FILE]
// Prints a progress line per wave, a table, and (with --json) the figures,
// with the process's peak resident set once the connections are open. Up to
// 20M connections (each side), if the machine has the memory
// (`--counts 10000000` holds ten million on each engine at once).
#include <malloc.h>
#include <sys/resource.h>

#include <cinttypes>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "eal_env.hpp"
#include "sim/idle_fleet.hpp"
#include "sim/simulation.hpp"
#include "tcp/connection.hpp"

namespace {

using namespace shoal;
using namespace std::chrono_literals;

uint64_t heap_in_use() {
  const struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

constexpr size_t kMaxCount = 20'000'000;
constexpr size_t kBytesNeededPerConnection = 1200;

// MemAvailable from /proc/meminfo, in bytes (0 if unknown).
uint64_t mem_available_bytes() {
  FILE *f = std::fopen("/proc/meminfo", "r");
  if (f == nullptr)
    return 0;
  char line[256];
  uint64_t kb = 0;
  while (std::fgets(line, sizeof line, f) != nullptr)
    if (std::sscanf(line, "MemAvailable: %" SCNu64 " kB", &kb) == 1)
      break;
  std::fclose(f);
  return kb * 1024;
}

// The process's peak resident set so far, in bytes.
uint64_t peak_rss_bytes() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<uint64_t>(ru.ru_maxrss) * 1024;
}

struct Result {
  size_t n = 0;
  double established_engine = 0, established_heap = 0;
  double time_wait_engine = 0;
  double seconds = 0;
  uint64_t peak_rss = 0; // of the process, once the connections were open
};

Result measure(size_t n, rte_mempool *pool) {
  Result r;
  r.n = n;
  const auto t0 = std::chrono::steady_clock::now();
  sim::SimConfig cfg;
  cfg.seed = 1;
  cfg.trace = false;
  cfg.pool_a = pool;
  for (tcp::EngineConfig *e : {&cfg.a, &cfg.b}) {
    e->max_connections = static_cast<uint32_t>(n + 1024);
    e->max_time_wait = static_cast<uint32_t>(n + 1024);
    e->tx_checksum_offload = true; // the memory, not the checksums, is measured here
    e->msl = 600s;                 // the records must outlive the measurement
  }
  const unsigned ports = static_cast<unsigned>(n / 20000 + 1);
  const unsigned mbufs_before = rte_mempool_in_use_count(pool);
  sim::Simulation sim(cfg);
  sim::IdleFleet fleet(sim, 10000, ports);
  const uint64_t heap0 = heap_in_use();
  const tcp::EngineMemory b0 = sim.b().memory(), a0 = sim.a().memory();

  size_t opened = 0;
  const size_t step = n >= 100000 ? n / 10 : n;
  while (opened < n) {
    const size_t k = std::min(step, n - opened);
    const size_t got = fleet.open(k);
    opened += got;
    std::fprintf(stderr, "  n=%zu: %zu established (%.1f s)\n", n, opened,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (got < k) {
      std::fprintf(stderr, "error: only %zu of %zu connections opened (%zu refused starts)\n",
                   opened, n, fleet.refused_starts());
      std::exit(1);
    }
  }
  const uint64_t heap1 = heap_in_use();
  r.peak_rss = peak_rss_bytes();
  std::fprintf(stderr, "  n=%zu: %zu established on each side, process RSS %.2f GiB\n", n, n,
               static_cast<double>(r.peak_rss) / (1 << 30));
  const tcp::EngineMemory b1 = sim.b().memory();
  r.established_engine = static_cast<double>(b1.total_bytes() - b0.total_bytes()) / n;
  r.established_heap = static_cast<double>(heap1 - heap0) / (2.0 * n);
  if (rte_mempool_in_use_count(pool) != mbufs_before) {
    std::fprintf(stderr, "error: idle connections hold %u mbufs\n",
                 rte_mempool_in_use_count(pool) - mbufs_before);
    std::exit(1);
  }

  if (!fleet.close_all() || sim.a().time_wait_count() != n) {
    std::fprintf(stderr, "error: close: %zu/%zu closed, %zu TIME_WAIT records\n", fleet.closed_a(),
                 n, sim.a().time_wait_count());
    std::exit(1);
  }
  // The TIME_WAIT slab and index as allocated, per record. (No heap figure:
  // closing also frees each connection's congestion-control object, so the
  // heap delta of this phase mixes growth and frees.)
  const tcp::EngineMemory a2 = sim.a().memory();
  r.time_wait_engine = static_cast<double>(a2.time_wait_bytes - a0.time_wait_bytes) / n;
  std::fprintf(stderr, "  n=%zu: closed, %zu TIME_WAIT records on A\n", n,
               sim.a().time_wait_count());
  sim.run_until_idle(sim.now() + 60s);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

} // namespace

int main(int argc, char **argv) {
  std::vector<size_t> counts = {100000, 1000000};
  const char *json = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--counts") == 0 && i + 1 < argc) {
      counts.clear();
      for (char *tok = std::strtok(argv[++i], ","); tok; tok = std::strtok(nullptr, ","))
        counts.push_back(std::strtoull(tok, nullptr, 10));
    } else if (std::strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
      json = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--counts N[,N...]] [--json FILE]\n", argv[0]);
      return 2;
    }
  }
  // Both engines live in this process: a count needs about 1.2 KB per
  // connection (two endpoints of ~500 B, their flow-table slots, the
  // fleet's bookkeeping). A count the machine cannot hold is refused here
  // rather than ending in the OOM killer.
  const uint64_t avail = mem_available_bytes();
  for (size_t n : counts) {
    if (n == 0 || n > kMaxCount) {
      std::fprintf(stderr, "error: --counts: each count must be 1..%zu\n", kMaxCount);
      return 2;
    }
    if (avail != 0 && n * kBytesNeededPerConnection > avail) {
      std::fprintf(stderr, "error: --counts %zu needs about %.1f GiB and %.1f GiB are available\n",
                   n, static_cast<double>(n * kBytesNeededPerConnection) / (1 << 30),
                   static_cast<double>(avail) / (1 << 30));
      return 2;
    }
  }
  shoal::test::ensure_eal();
  rte_mempool *pool = shoal::test::make_pktmbuf_pool(32767);
  std::printf("sizeof(Connection) = %zu B\n", sizeof(shoal::tcp::Connection));
  std::printf("%10s  %22s  %12s  %14s\n", "", "idle ESTABLISHED, B/conn", "TIME_WAIT",
              "process peak");
  std::printf("%10s  %10s  %10s  %12s  %14s\n", "count", "engine", "heap", "B/record", "RSS, GiB");
  std::vector<Result> results;
  for (size_t n : counts) {
    results.push_back(measure(n, pool));
    const Result &r = results.back();
    std::printf("%10zu  %10.1f  %10.1f  %12.1f  %14.2f\n", r.n, r.established_engine,
                r.established_heap, r.time_wait_engine,
                static_cast<double>(r.peak_rss) / (1 << 30));
    std::fflush(stdout);
  }
  if (json != nullptr) {
    FILE *f = std::fopen(json, "w");
    if (f == nullptr) {
      std::perror(json);
      return 1;
    }
    std::fprintf(f, "{\"connection_sizeof\": %zu, \"points\": [", sizeof(shoal::tcp::Connection));
    for (size_t i = 0; i < results.size(); ++i)
      std::fprintf(f,
                   "%s{\"count\": %zu, \"established_engine_bytes\": %.1f, "
                   "\"established_heap_bytes\": %.1f, \"time_wait_bytes\": %.1f, "
                   "\"seconds\": %.1f, \"peak_rss_bytes\": %" PRIu64 "}",
                   i ? ", " : "", results[i].n, results[i].established_engine,
                   results[i].established_heap, results[i].time_wait_engine, results[i].seconds,
                   results[i].peak_rss);
    std::fprintf(f, "]}\n");
    std::fclose(f);
  }
  return 0;
}
