// Tail loss probe sweep: many seeded request/response runs between two
// engines in which exactly one datagram is lost -- the last segment of the
// response. Each seed runs twice, with EngineConfig::tail_loss_probe on and
// off. The time to recover (from the loss to the client holding the whole
// response) is summed up as median and p99 for both; with the probe the
// median must be under half the RTO and close to where the probe is due
// (2*SRTT, plus the delayed-ACK allowance with one segment in flight, after
// the last ACK), and every run must deliver the response byte for byte and
// end with both connections closed normally and every mbuf back.
//
//   SHOAL_SEED=12          run only that seed (both ways) and print its traces
//   SHOAL_SWEEP_RUNS=5000  fewer (or more) seeds (default 1000)
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <rte_mempool.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include "eal_env.hpp"
#include "sim/recording_app.hpp"
#include "sim/simulation.hpp"
#include "tcp/connection.hpp"
#include "tcp/counters.hpp"
#include "tcp/inspect.hpp"

namespace shoal::sim {
namespace {

using namespace std::chrono_literals;
using tcp::Counter;

constexpr unsigned kPoolMbufs = 1024;

struct Scenario {
  Duration delay;       // one way, both links
  size_t reply_len;     // 1 to 8 segments
  Duration delayed_ack; // both engines: 0 (every segment ACKed at once) or 40 ms
  bool sack, timestamps;
  std::string cc;

  static Scenario from_seed(uint64_t seed) {
    std::mt19937_64 rng(derive_seed(seed, 300));
    Scenario s;
    s.delay = Duration{static_cast<int64_t>(500'000 + rng() % 9'500'000)}; // 0.5-10 ms
    s.reply_len = 1 + rng() % (8 * 1400);
    s.delayed_ack = rng() % 2 == 0 ? Duration::zero() : Duration{40ms};
    s.sack = rng() % 2 == 0;
    s.timestamps = rng() % 2 == 0;
    s.cc = rng() % 2 == 0 ? "newreno" : "cubic";
    return s;
  }
};

struct RunResult {
  uint64_t seed = 0;
  std::string failure;
  Duration recovery{};    // loss -> whole response at the client
  Duration expected{};    // where the probe's repair is due (see run_seed)
  Duration rto{}, srtt{}; // the server's, when the segment was lost
  uint64_t probes = 0, tlp_recoveries = 0, rtx_timeouts = 0;
};

std::string payload(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i)
    s[i] = static_cast<char>('A' + (i * 7 + i / 13) % 26);
  return s;
}

RunResult run_seed(uint64_t seed, bool tlp, rte_mempool *pool, std::string *trace_out) {
  RunResult res;
  res.seed = seed;
  const Scenario sc = Scenario::from_seed(seed);
  const unsigned pool_start = rte_mempool_avail_count(pool);
  std::string fail;
  auto check = [&fail](bool ok, const std::string &what) {
    if (!ok)
      fail += (fail.empty() ? "" : "; ") + what;
  };
  {
    SimConfig cfg;
    cfg.seed = seed;
    cfg.pool_a = pool;
    cfg.trace = trace_out != nullptr;
    for (tcp::EngineConfig *e : {&cfg.a, &cfg.b}) {
      e->msl = 1s;
      e->max_connections = 4;
      e->tail_loss_probe = tlp;
      e->delayed_ack = sc.delayed_ack;
      // The probe is told the peers' actual delayed ACK (the default
      // allows RFC 8985's worst case, 200 ms, about the RTO here).
      e->tlp_peer_delayed_ack = sc.delayed_ack;
      e->sack = sc.sack;
      e->timestamps = sc.timestamps;
      e->congestion_control = sc.cc;
    }
    for (LinkConfig *l : {&cfg.a_to_b, &cfg.b_to_a})
      l->delay = sc.delay;
    Simulation sim(cfg);
    auto clock = [&sim] { return sim.now(); };
    const std::string request = payload(100);
    const std::string reply = payload(sc.reply_len);
    AppScript cs, ss;
    cs.send_on_connect = request;
    cs.close_after_receiving = reply.size();
    ss.reply_on_receive = reply;
    ss.reply_after_bytes = request.size();
    RecordingServer server(clock, ss, "B");
    RecordingApp client(clock, cs, "A");
    sim.b().listen(80, server.factory());

    // The one loss: the response's last segment (the one ending where the
    // response ends), first transmission only.
    bool dropped = false;
    Instant dropped_at{};
    uint32_t last_ack_flight = 0; // bytes outstanding at the server when its last ACK came
    uint32_t flight_at_drop = 0, mss = 0;
    sim.link_b_to_a().set_drop_filter([&](const LinkPacket &p) {
      if (dropped || server.apps().empty() || p.segment.payload_len() == 0)
        return false;
      const tcp::Connection *c = server.apps().front().connection();
      if (c == nullptr ||
          p.segment.tcp.seq + p.segment.payload_len() != c->inspect().iss().v + 1 + reply.size())
        return false;
      dropped = true;
      dropped_at = p.now;
      mss = c->snd_mss();
      flight_at_drop = static_cast<uint32_t>(p.segment.tcp.seq + p.segment.payload_len() -
                                             c->inspect().snd_una().v);
      res.rto = c->inspect().rto();
      res.srtt = c->inspect().srtt();
      return true;
    });
    // The ACKs the server receives after the loss (they restart the probe
    // timer with the flight they leave).
    Instant last_ack_at{};
    sim.link_a_to_b().set_drop_filter([&](const LinkPacket &p) {
      if (dropped && client.received.size() < reply.size() && !server.apps().empty() &&
          server.apps().front().connection() != nullptr) {
        const tcp::Connection *c = server.apps().front().connection();
        last_ack_at = p.now + sc.delay; // when it reaches the server
        last_ack_flight = c->inspect().snd_max().v - p.segment.tcp.ack;
      }
      return false;
    });

    client.attach(sim.a().connect(sim.address_b(), 80, &client));
    check(client.connection() != nullptr, "connect() failed");
    sim.run_until([&] { return client.received.size() >= reply.size(); }, sim.start() + 60s);
    check(dropped, "the last segment was never seen");
    res.recovery = sim.now() - dropped_at;
    // With the probe: it leaves PTO after the timer's last restart (the
    // last ACK to reach the server, else the loss itself) and takes one
    // link delay to arrive.
    const bool acked_after = last_ack_at > dropped_at;
    const Instant restart = acked_after ? last_ack_at : dropped_at;
    const uint32_t flight = acked_after ? last_ack_flight : flight_at_drop;
    const Duration pto = 2 * res.srtt + (flight <= mss + 1u ? sc.delayed_ack : Duration::zero());
    res.expected = (restart - dropped_at) + std::min(pto, res.rto) + sc.delay;

    check(sim.run_until_idle(sim.now() + 600s), "not idle after 600 s");
    sim.b().unlisten(80);
    check(client.received == reply, "client got " + std::to_string(client.received.size()) +
                                        " bytes, wrong or incomplete reply");
    check(client.closed == tcp::CloseReason::normal, "client did not close normally");
    check(server.apps().size() == 1 && server.apps().front().received == request,
          "server did not get the request");
    check(server.apps().size() == 1 && server.apps().front().closed == tcp::CloseReason::normal,
          "server did not close normally");
    for (const tcp::Engine *e : {&sim.a(), &sim.b()}) {
      res.probes += e->counters().get(Counter::tlp_probes_sent);
      res.tlp_recoveries += e->counters().get(Counter::tlp_recoveries);
      res.rtx_timeouts += e->counters().get(Counter::rtx_timeouts);
    }
    if (tlp) {
      check(res.probes >= 1, "no probe");
      check(res.tlp_recoveries == 1, "tlp_recoveries " + std::to_string(res.tlp_recoveries));
      check(res.rtx_timeouts == 0, "an RTO fired");
    } else {
      check(res.probes == 0, "a probe with the option off");
      check(res.rtx_timeouts >= 1, "recovered without the RTO");
    }
    if (trace_out != nullptr)
      *trace_out = sim.trace_text();
  }
  check(rte_mempool_avail_count(pool) == pool_start, "mbuf leak");
  res.failure = fail;
  return res;
}

uint64_t env_u64(const char *name, uint64_t dflt) {
  const char *v = std::getenv(name);
  return v != nullptr ? std::strtoull(v, nullptr, 10) : dflt;
}

double ms(Duration d) {
  return static_cast<double>(d.count()) / 1e6;
}

// The q-quantile (nearest rank) of the values.
double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  return v[i];
}

TEST(TailLossProbeSweep, LastSegmentOfAResponseLost) {
  test::ensure_eal();
  if (const char *one = std::getenv("SHOAL_SEED")) {
    const uint64_t seed = std::strtoull(one, nullptr, 10);
    rte_mempool *pool = test::make_pktmbuf_pool(kPoolMbufs);
    for (bool tlp : {true, false}) {
      std::string trace;
      const RunResult r = run_seed(seed, tlp, pool, &trace);
      std::printf("seed %llu, tail loss probe %s: recovery %.3f ms (expected %.3f), RTO %.3f, "
                  "SRTT %.3f\n%s",
                  static_cast<unsigned long long>(seed), tlp ? "on" : "off", ms(r.recovery),
                  ms(r.expected), ms(r.rto), ms(r.srtt), trace.c_str());
      EXPECT_TRUE(r.failure.empty()) << "seed " << seed << ": " << r.failure;
    }
    rte_mempool_free(pool);
    return;
  }
  const uint64_t runs = env_u64("SHOAL_SWEEP_RUNS", 1000);
  tbb::enumerable_thread_specific<rte_mempool *> pools(
      [] { return test::make_pktmbuf_pool(kPoolMbufs); });
  std::vector<RunResult> on(runs), off(runs);
  tbb::parallel_for(uint64_t{0}, runs, [&](uint64_t i) {
    on[i] = run_seed(i + 1, true, pools.local(), nullptr);
    off[i] = run_seed(i + 1, false, pools.local(), nullptr);
  });
  std::vector<double> rec_on, rec_off, on_over_rto, on_over_expected, srtt;
  size_t failed = 0;
  for (const auto *set : {&on, &off})
    for (const RunResult &r : *set)
      if (!r.failure.empty() && failed++ < 10)
        ADD_FAILURE() << "seed " << r.seed << " (tail loss probe " << (set == &on ? "on" : "off")
                      << "): " << r.failure << "\n  rerun alone: SHOAL_SEED=" << r.seed;
  for (uint64_t i = 0; i < runs; ++i) {
    rec_on.push_back(ms(on[i].recovery));
    rec_off.push_back(ms(off[i].recovery));
    on_over_rto.push_back(ms(on[i].recovery) / ms(on[i].rto));
    on_over_expected.push_back(ms(on[i].recovery) / ms(on[i].expected));
    srtt.push_back(ms(on[i].srtt));
  }
  const double med_on = quantile(rec_on, 0.5), p99_on = quantile(rec_on, 0.99);
  const double med_off = quantile(rec_off, 0.5), p99_off = quantile(rec_off, 0.99);
  std::printf("tail loss probe sweep: %llu seeds, the last segment of each response lost, %zu "
              "failed\n",
              static_cast<unsigned long long>(runs), failed);
  std::printf("  time to recover, probe on:  median %.1f ms, p99 %.1f ms\n", med_on, p99_on);
  std::printf("  time to recover, probe off: median %.1f ms, p99 %.1f ms\n", med_off, p99_off);
  std::printf("  probe on: median SRTT %.1f ms; median recovery / RTO %.2f; recovery / (probe "
              "due + one link delay): median %.2f, p1 %.2f, p99 %.2f\n",
              quantile(srtt, 0.5), quantile(on_over_rto, 0.5), quantile(on_over_expected, 0.5),
              quantile(on_over_expected, 0.01), quantile(on_over_expected, 0.99));
  // Seeds without delayed ACKs: the probe is due 2*SRTT after the timer's
  // last restart, with nothing added.
  std::vector<double> no_delack_over_srtt;
  for (uint64_t i = 0; i < runs; ++i)
    if (Scenario::from_seed(i + 1).delayed_ack == Duration::zero())
      no_delack_over_srtt.push_back(ms(on[i].recovery) / ms(on[i].srtt));
  if (!no_delack_over_srtt.empty())
    std::printf("  probe on, no delayed ACK (%zu seeds): recovery / SRTT median %.2f (2 for the "
                "PTO, 0.5 for the probe's way, 1 when the ACKs before restarted the timer)\n",
                no_delack_over_srtt.size(), quantile(no_delack_over_srtt, 0.5));
  EXPECT_EQ(failed, 0u);
  EXPECT_LT(quantile(on_over_rto, 0.5), 0.5) << "the probe should beat the RTO by half";
  EXPECT_GT(quantile(on_over_expected, 0.5), 0.9) << "recovered before the probe was due?";
  EXPECT_LT(quantile(on_over_expected, 0.5), 1.1) << "the probe went late";
  EXPECT_LT(med_on, med_off / 2);
  for (rte_mempool *p : pools)
    rte_mempool_free(p);
}

} // namespace
} // namespace shoal::sim
