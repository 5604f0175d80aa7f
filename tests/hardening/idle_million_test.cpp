// 1M concurrent idle connections (exhaustion): B's connection
// table is sized for exactly that many; one more client is turned away and
// counted; the fleet closes (A holds 1M
// TIME_WAIT records, then they expire); afterwards a new connection works,
// nothing is left and every mbuf is back in the pool.
//
// Under the sanitizers (build-san) the fleet is 100k: ASan's shadow and
// redzones make 1M connections take minutes and gigabytes there.
#include "sim_fixture.hpp"

#include <chrono>
#include <cstdio>

#include "sim/idle_fleet.hpp"
#include "tcp/connection.hpp"
#include "tcp/counters.hpp"

namespace shoal::sim {
namespace {

using namespace std::chrono_literals;
using tcp::Counter;

#if defined(__SANITIZE_ADDRESS__)
constexpr size_t kFleet = 100000;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr size_t kFleet = 100000;
#else
constexpr size_t kFleet = 1000000;
#endif
#else
constexpr size_t kFleet = 1000000;
#endif

struct OneClient : tcp::ConnectionHandler {
  bool connected = false, closed = false;
  tcp::CloseReason reason{};
  void on_connected(tcp::Connection &) override { connected = true; }
  void on_closed(tcp::Connection &, tcp::CloseReason r) override {
    closed = true;
    reason = r;
  }
};

struct Echo : tcp::ConnectionHandler {
  void on_peer_closed(tcp::Connection &c) override { c.close(); }
};

class IdleMillion : public testing::SimTest {};

TEST_F(IdleMillion, TableFullDropsCountsAndRecovers) {
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  SimConfig c = config();
  c.trace = false;
  for (tcp::EngineConfig *e : {&c.a, &c.b}) {
    e->tx_checksum_offload = true;
    e->msl = 30s;
    e->max_time_wait = static_cast<uint32_t>(kFleet + 16);
  }
  c.a.max_connections = static_cast<uint32_t>(kFleet + 16);
  c.b.max_connections = static_cast<uint32_t>(kFleet); // exactly full at kFleet
  auto &sim = make_sim(c);
  const unsigned mbufs_at_start = rte_mempool_in_use_count(pool_);

  IdleFleet fleet(sim, 20000, static_cast<unsigned>(kFleet / 20000 + 1));
  for (size_t done = 0; done < kFleet;) {
    const size_t k = std::min<size_t>(kFleet / 4, kFleet - done);
    const size_t got = fleet.open(k);
    done += got;
    std::fprintf(stderr, "[idle_million] %zu/%zu established (%.1f s)\n", done, kFleet, elapsed());
    ASSERT_EQ(got, k) << "refused starts " << fleet.refused_starts() << "\n"
                      << sim.b().counters().to_string();
  }
  EXPECT_EQ(sim.b().connections_in_use(), kFleet);
  EXPECT_EQ(sim.a().connection_count(), kFleet);
  EXPECT_EQ(rte_mempool_in_use_count(pool_), mbufs_at_start) << "idle connections hold mbufs";
  EXPECT_EQ(sim.b().armed_timer_count(), 0u) << "idle connections arm no timer";

  // One more client: B's table is full. Its SYN is answered with a cookie,
  // but the final ACK finds no slot either: dropped and counted, never a
  // crash; the client's handshake does not complete on B.
  const Counter dropped[] = {Counter::drop_no_memory, Counter::syn_backlog_drops,
                             Counter::accept_queue_drops};
  auto drops = [&] {
    uint64_t n = 0;
    for (Counter k : dropped)
      n += sim.b().counters().get(k);
    return n;
  };
  const uint64_t drops_before = drops();
  Echo echo;
  ASSERT_TRUE(sim.b().listen(80, [&](tcp::Connection &) { return &echo; }));
  OneClient late;
  tcp::Connection *late_conn = sim.a().connect(sim.address_b(), 80, &late);
  ASSERT_NE(late_conn, nullptr);
  sim.run_for(2s);
  EXPECT_GT(drops(), drops_before) << sim.b().counters().to_string();
  EXPECT_EQ(sim.b().connections_in_use(), kFleet);

  // The pressure ends: the fleet closes (A first: 1M TIME_WAIT records).
  ASSERT_TRUE(fleet.close_all()) << "closed " << fleet.closed_a() << "/" << fleet.closed_b();
  std::fprintf(stderr, "[idle_million] closed, %zu TIME_WAIT records (%.1f s)\n",
               sim.a().time_wait_count(), elapsed());
  EXPECT_EQ(fleet.abnormal_closes(), 0u);
  EXPECT_GE(sim.a().time_wait_count(), kFleet);
  // B kept nothing for the late client (A may believe it is connected: it
  // got the cookie SYN-ACK, and its final ACK found the table full).
  EXPECT_EQ(sim.b().connection_count(), 0u);

  // The late client gets in now: with a cookie its next segment (data)
  // carries the same valid cookie and B builds the connection; without
  // one, its SYN retransmission is answered.
  if (late.connected) {
    const uint8_t hello[] = {'h', 'i'};
    ASSERT_EQ(late_conn->write({hello, sizeof hello}), sizeof hello);
  }
  ASSERT_TRUE(sim.run_until([&] { return sim.b().connection_count() == 1; }, sim.now() + 60s))
      << sim.b().counters().to_string();
  EXPECT_TRUE(late.connected);
  EXPECT_FALSE(late.closed);
  OneClient again;
  tcp::Connection *again_conn = sim.a().connect(sim.address_b(), 80, &again);
  ASSERT_NE(again_conn, nullptr);
  ASSERT_TRUE(sim.run_until([&] { return again.connected; }, sim.now() + 10s))
      << sim.b().counters().to_string();
  EXPECT_EQ(sim.b().connection_count(), 2u);
  late_conn->close();
  again_conn->close();
  ASSERT_TRUE(sim.run_until_idle(sim.now() + 600s));
  std::fprintf(stderr, "[idle_million] drained (%.1f s)\n", elapsed());
  for (tcp::Engine *e : {&sim.a(), &sim.b()}) {
    EXPECT_EQ(e->connection_count(), 0u);
    EXPECT_EQ(e->time_wait_count(), 0u);
    EXPECT_EQ(e->armed_timer_count(), 0u);
  }
  EXPECT_EQ(rte_mempool_in_use_count(pool_), mbufs_at_start);
  sim.b().unlisten(80);
}

} // namespace
} // namespace shoal::sim
