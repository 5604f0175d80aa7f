// Exhaustion in the simulator: the stack under resource pressure drops and
// counts, recovers when the pressure ends, never deadlocks, and every mbuf
// returns to its mempool once everything is closed.
//
//   TinyMempool         B's mbufs taken away mid-transfer (allocation
//                       failures: link no_mbuf, engine drop_no_memory), then
//                       given back: the transfer completes, intact.
//   FullConnectionTable B at max_connections: further SYNs are dropped and
//                       counted (drop_no_memory), the client retransmits
//                       its SYN and gets in once a slot frees; its data
//                       then goes through both ways and it closes normally.
//   SlowReader          a small receive buffer read slowly: the window
//                       closes (persist probes), no accepted byte is lost,
//                       the window reopens, the stream completes.
#include "sim_fixture.hpp"

#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "sim/bulk_app.hpp"
#include "tcp/connection.hpp"
#include "tcp/counters.hpp"
#include "tcp/inspect.hpp"

namespace shoal::sim {
namespace {

using tcp::CloseReason;
using tcp::Counter;

BulkScript script(uint64_t send, uint64_t expect, uint64_t send_key, uint64_t expect_key,
                  BulkScript::Ending ending) {
  BulkScript s;
  s.send_bytes = send;
  s.expect_bytes = expect;
  s.send_pattern = StreamPattern(send_key);
  s.expect_pattern = StreamPattern(expect_key);
  s.ending = ending;
  return s;
}

std::string counters_of(Simulation &sim) {
  return "A:\n" + sim.a().counters().to_string() + "B:\n" + sim.b().counters().to_string() +
         "links: A>B " + sim.link_a_to_b().stats().to_string() + "\n       B>A " +
         sim.link_b_to_a().stats().to_string() + "\n";
}

class ExhaustionTest : public testing::SimTest {
protected:
  void TearDown() override {
    apps_.clear();
    servers_.clear();
    SimTest::TearDown();
  }
  // Everything closed: no connection, record, timer, datagram or event left.
  void expect_all_closed(Simulation &sim) {
    for (tcp::Engine *e : {&sim.a(), &sim.b()}) {
      EXPECT_EQ(e->connection_count(), 0u);
      EXPECT_EQ(e->time_wait_count(), 0u);
      EXPECT_EQ(e->armed_timer_count(), 0u);
    }
    EXPECT_EQ(sim.link_a_to_b().in_flight() + sim.link_b_to_a().in_flight(), 0u);
  }
  SimConfig quiet() {
    SimConfig c = config();
    c.trace = false;
    for (tcp::EngineConfig *e : {&c.a, &c.b}) {
      e->msl = 1s;
      e->tx_checksum_offload = true;
    }
    return c;
  }
  std::deque<BulkApp> apps_;
  std::deque<BulkServer> servers_;
};

TEST_F(ExhaustionTest, TinyMempoolDropsCountsAndRecovers) {
  // B gets its own small pool; the link copies A's datagrams into it (as a
  // NIC fills rx descriptors), so when it is empty B sees nothing arrive.
  rte_mempool *small = test::make_pktmbuf_pool(256);
  const unsigned small_start = rte_mempool_avail_count(small);
  {
    SimConfig c = quiet();
    c.pool_b = small;
    auto &sim = make_sim(c);
    constexpr uint64_t kBytes = 512 * 1024;
    auto &server = servers_.emplace_back(
        sim, script(64 * 1024, kBytes, 0xB, 0xA, BulkScript::Ending::close_when_done), "B");
    auto &client = apps_.emplace_back(
        sim, script(kBytes, 64 * 1024, 0xA, 0xB, BulkScript::Ending::half_close), "A");
    ASSERT_TRUE(sim.b().listen(80, server.factory()));
    client.attach(sim.a().connect(sim.address_b(), 80, &client));
    ASSERT_TRUE(sim.run_until([&] { return client.bytes_received() > 0; }, sim.now() + 10s));

    // Pressure: take every free mbuf of B's pool for 3 s of virtual time.
    std::vector<rte_mbuf *> hog;
    while (rte_mbuf *m = rte_pktmbuf_alloc(small))
      hog.push_back(m);
    ASSERT_EQ(rte_mempool_avail_count(small), 0u);
    const uint64_t rx_before = server.first() ? server.first()->bytes_received() : 0;
    // Mbufs B frees meanwhile (data its application read) are taken too:
    // otherwise a sender that repairs the drops quickly (RACK) gets through
    // as fast as B frees them and the pressure does not last.
    for (const auto until = sim.now() + 3s; sim.now() < until;) {
      sim.run_for(1ms);
      while (rte_mbuf *m = rte_pktmbuf_alloc(small))
        hog.push_back(m);
    }
    const uint64_t no_mbuf = sim.link_a_to_b().stats().no_mbuf;
    const uint64_t engine_drops = sim.b().counters().get(Counter::drop_no_memory);
    EXPECT_GT(no_mbuf + engine_drops, 0u) << counters_of(sim);
    const tcp::FourTuple b_view{sim.address_b(), sim.address_a(), 80,
                                client.connection()->tuple().local_port};
    EXPECT_EQ(sim.b().state_of(b_view), tcp::State::established)
        << "pressure must not kill the connection";
    const uint64_t rx_during = server.first()->bytes_received() - rx_before;

    // Pressure ends: the transfer resumes (retransmission) and completes.
    for (rte_mbuf *m : hog)
      rte_pktmbuf_free(m);
    ASSERT_TRUE(sim.run_until_idle(sim.now() + 600s)) << client.summary() << counters_of(sim);
    ASSERT_NE(server.first(), nullptr);
    EXPECT_TRUE(client.stream_complete()) << client.summary();
    EXPECT_TRUE(server.first()->stream_complete()) << server.first()->summary();
    EXPECT_EQ(client.closed(), CloseReason::normal);
    EXPECT_EQ(server.first()->closed(), CloseReason::normal);
    EXPECT_GT(sim.a().counters().get(Counter::retransmits), 0u);
    EXPECT_LT(rx_during, kBytes) << "B kept receiving with an empty pool?";
    sim.b().unlisten(80);
    expect_all_closed(sim);
    apps_.clear();
    servers_.clear();
    sim_.reset();
  }
  EXPECT_EQ(rte_mempool_avail_count(small), small_start) << "B's pool did not refill";
  expect_pool_restored();
  rte_mempool_free(small);
}

TEST_F(ExhaustionTest, FullConnectionTableDropsSynsAndRecovers) {
  constexpr unsigned kMax = 8;
  constexpr uint64_t kLateBytes = 4096;
  SimConfig c = quiet();
  c.b.max_connections = kMax;
  c.b.syn_cookies = tcp::EngineConfig::SynCookieMode::off; // plain drops, no cookies
  auto &sim = make_sim(c);
  // The first kMax connections only hold their slots; the one accepted after
  // the table was full exchanges kLateBytes each way and closes by itself.
  auto &server =
      servers_.emplace_back(sim, script(0, 0, 0xB, 0xA, BulkScript::Ending::stay_open), "B");
  auto &late_server = servers_.emplace_back(
      sim, script(kLateBytes, kLateBytes, 0xD, 0xC, BulkScript::Ending::half_close), "B-late");
  tcp::HandlerFactory holders = server.factory(), late_factory = late_server.factory();
  ASSERT_TRUE(sim.b().listen(80, [&](tcp::Connection &conn) {
    return server.apps().size() < kMax ? holders(conn) : late_factory(conn);
  }));
  for (unsigned i = 0; i < kMax; ++i) {
    auto &app = apps_.emplace_back(sim, script(0, 0, 0xA, 0xB, BulkScript::Ending::stay_open),
                                   "A" + std::to_string(i));
    app.attach(sim.a().connect(sim.address_b(), 80, &app));
  }
  ASSERT_TRUE(sim.run_until([&] { return server.apps().size() == kMax; }, sim.now() + 10s))
      << counters_of(sim);
  EXPECT_EQ(sim.b().connections_in_use(), kMax);

  // Table full: the next client's SYNs are dropped and counted.
  const uint64_t drops_before = sim.b().counters().get(Counter::drop_no_memory) +
                                sim.b().counters().get(Counter::syn_backlog_drops);
  auto &late = apps_.emplace_back(
      sim, script(kLateBytes, kLateBytes, 0xC, 0xD, BulkScript::Ending::half_close), "late");
  late.attach(sim.a().connect(sim.address_b(), 80, &late));
  ASSERT_NE(late.connection(), nullptr);
  sim.run_for(4s); // SYN + retransmissions at 1 s and 3 s
  EXPECT_FALSE(late.connected());
  EXPECT_EQ(server.apps().size(), kMax);
  EXPECT_TRUE(late_server.apps().empty());
  const uint64_t drops = sim.b().counters().get(Counter::drop_no_memory) +
                         sim.b().counters().get(Counter::syn_backlog_drops) - drops_before;
  EXPECT_GE(drops, 2u) << counters_of(sim);
  EXPECT_EQ(sim.b().connections_in_use(), kMax);

  // One connection closes: the next SYN retransmission gets the slot.
  apps_.front().close();
  server.apps().front().close();
  ASSERT_TRUE(sim.run_until([&] { return late.connected(); }, sim.now() + 30s)) << counters_of(sim);
  // The late client is served like any other: its data goes through both
  // ways, intact, and both ends close normally.
  ASSERT_TRUE(sim.run_until([&] { return late.closed().has_value(); }, sim.now() + 60s))
      << late.summary() << "\n" << counters_of(sim);
  ASSERT_EQ(late_server.apps().size(), 1u);
  BulkApp &late_peer = late_server.apps().front();
  ASSERT_TRUE(sim.run_until([&] { return late_peer.closed().has_value(); }, sim.now() + 60s))
      << late_peer.summary();
  EXPECT_EQ(late.bytes_sent(), kLateBytes);
  EXPECT_EQ(late_peer.bytes_sent(), kLateBytes);
  EXPECT_TRUE(late.stream_complete()) << late.summary();
  EXPECT_TRUE(late_peer.stream_complete()) << late_peer.summary();
  EXPECT_EQ(late.closed(), CloseReason::normal) << late.summary();
  EXPECT_EQ(late_peer.closed(), CloseReason::normal) << late_peer.summary();
  // Everyone else closes.
  for (auto &a : apps_)
    if (a.connection() != nullptr)
      a.close();
  for (auto &b : server.apps())
    if (b.connection() != nullptr)
      b.close();
  ASSERT_TRUE(sim.run_until_idle(sim.now() + 600s)) << counters_of(sim);
  for (auto &a : apps_)
    EXPECT_EQ(a.closed(), CloseReason::normal) << a.summary();
  for (auto &b : server.apps())
    EXPECT_EQ(b.closed(), CloseReason::normal) << b.summary();
  sim.b().unlisten(80);
  expect_all_closed(sim);
  EXPECT_EQ(sim.b().connections_in_use(), 0u);
  apps_.clear();
  servers_.clear();
  sim_.reset();
  expect_pool_restored();
}

TEST_F(ExhaustionTest, SlowReaderClosesTheWindowWithoutLosingData) {
  SimConfig c = quiet();
  c.b.rcv_buf = 16 * 1024;
  auto &sim = make_sim(c);
  constexpr uint64_t kBytes = 128 * 1024;
  BulkScript slow = script(0, kBytes, 0xB, 0xA, BulkScript::Ending::close_when_done);
  // 8 KiB every 500 ms against a much faster sender: between two reads the
  // window stays shut longer than the persist timer (RTO >= 200 ms).
  slow.read_interval = 500ms;
  slow.read_chunk = 8192;
  auto &server = servers_.emplace_back(sim, slow, "B");
  auto &client =
      apps_.emplace_back(sim, script(kBytes, 0, 0xA, 0xB, BulkScript::Ending::half_close), "A");
  ASSERT_TRUE(sim.b().listen(80, server.factory()));
  client.attach(sim.a().connect(sim.address_b(), 80, &client));

  // While the reader lags, the window must close: B never holds more than
  // its buffer, and A probes the zero window instead of sending into it.
  uint32_t max_buffered = 0;
  bool saw_zero_window = false;
  while (!client.closed() && sim.now() - sim.start() < 60s) {
    if (!sim.step(sim.now() + 1s))
      break;
    if (BulkApp *b = server.first(); b != nullptr && b->connection() != nullptr) {
      const tcp::Connection &conn = *b->connection();
      max_buffered = std::max<uint32_t>(max_buffered, static_cast<uint32_t>(conn.readable()) +
                                                          conn.inspect().ooo_bytes());
      saw_zero_window |= conn.inspect().rcv_wnd() == 0;
    }
  }
  ASSERT_TRUE(sim.run_until_idle(sim.now() + 600s)) << client.summary() << counters_of(sim);
  ASSERT_NE(server.first(), nullptr);
  EXPECT_TRUE(saw_zero_window) << counters_of(sim);
  EXPECT_LE(max_buffered, c.b.rcv_buf);
  EXPECT_GT(sim.a().counters().get(Counter::persist_probes), 0u) << counters_of(sim);
  // No accepted byte dropped: everything B accepted reached the reader,
  // in order, exactly once.
  EXPECT_TRUE(server.first()->stream_complete()) << server.first()->summary();
  EXPECT_EQ(sim.b().counters().get(Counter::bytes_in), kBytes);
  EXPECT_EQ(sim.b().counters().get(Counter::drop_rcv_memory), 0u) << counters_of(sim);
  EXPECT_GE(server.first()->reads(), kBytes / 8192);
  EXPECT_EQ(client.closed(), CloseReason::normal);
  EXPECT_EQ(server.first()->closed(), CloseReason::normal);
  sim.b().unlisten(80);
  expect_all_closed(sim);
  apps_.clear();
  servers_.clear();
  sim_.reset();
  expect_pool_restored();
}

} // namespace
} // namespace shoal::sim
