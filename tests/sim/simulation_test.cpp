// The two-engine simulation itself: the event loop's clock semantics and
// determinism (same seed, same trace, byte for byte).
#include "sim_fixture.hpp"

#include <string>

#include "sim/recording_app.hpp"
#include "tcp/connection.hpp"

namespace shoal::sim {
namespace {

using testing::SimTest;

class SimulationTest : public SimTest {
protected:
  // One request/reply/close conversation over impaired links; returns the trace.
  std::string converse(uint64_t seed) {
    auto c = config();
    c.seed = seed;
    for (LinkConfig *l : {&c.a_to_b, &c.b_to_a}) {
      l->loss = 0.2;
      l->duplicate = 0.1;
      l->reorder = 0.1;
      l->corrupt = 0.02;
      l->jitter = 3ms;
    }
    Simulation sim(c);
    auto clock = [&sim] { return sim.now(); };
    AppScript cs, ss;
    cs.send_on_connect = std::string(4000, 'q');
    cs.close_after_receiving = 3000;
    ss.reply_on_receive = std::string(3000, 'r');
    ss.reply_after_bytes = 4000;
    RecordingServer server(clock, ss);
    RecordingApp client(clock, cs, "client");
    sim.b().listen(80, server.factory());
    client.attach(sim.a().connect(sim.address_b(), 80, &client));
    EXPECT_TRUE(sim.run_until_idle(sim.now() + 3600s));
    EXPECT_EQ(client.received.size(), 3000u) << sim.trace_text();
    return sim.trace_text() + client.summary();
  }
};

TEST_F(SimulationTest, SameSeedSameTraceByteForByte) {
  const std::string a = converse(42);
  EXPECT_EQ(a, converse(42));
  EXPECT_NE(a, converse(43));
  // The impairments were really exercised.
  EXPECT_NE(a.find("(lost)"), std::string::npos) << a;
}

TEST_F(SimulationTest, AnEmptySimulationIsIdle) {
  auto &sim = make_sim();
  EXPECT_EQ(sim.next_event(), std::nullopt);
  EXPECT_FALSE(sim.step(sim.now() + 1h));
  EXPECT_TRUE(sim.run_until_idle(sim.now() + 1s));
  EXPECT_EQ(sim.now(), sim.start()) << "idle: the clock does not move";
  sim.run_until(sim.start() + 5s);
  EXPECT_EQ(sim.now(), sim.start() + 5s);
  EXPECT_TRUE(sim.trace().empty());
}

TEST_F(SimulationTest, RunUntilStopsAtTheEventThatSatisfiesThePredicate) {
  auto c = config();
  c.a_to_b.delay = c.b_to_a.delay = 5ms;
  auto &sim = make_sim(c);
  auto clock = [&sim] { return sim.now(); };
  RecordingServer server(clock);
  RecordingApp client(clock, AppScript{}, "client");
  sim.b().listen(80, server.factory());
  client.attach(sim.a().connect(sim.address_b(), 80, &client));
  // SYN at 0, SYN-ACK arrives at 10 ms: the client is connected then, not later.
  ASSERT_TRUE(sim.run_until([&] { return client.connected; }, sim.now() + 1s));
  EXPECT_EQ(sim.now(), sim.start() + 10ms);
  EXPECT_EQ(client.connected_at, sim.start() + 10ms);
  // A predicate that never holds: the clock ends at the deadline.
  EXPECT_FALSE(sim.run_until([] { return false; }, sim.start() + 2s));
  EXPECT_EQ(sim.now(), sim.start() + 2s);
  // Keepalive keeps a timer armed forever: never idle.
  client.connection()->set_keepalive(true, 10s, 1s, 100);
  EXPECT_FALSE(sim.run_until_idle(sim.start() + 120s));
  EXPECT_EQ(sim.now(), sim.start() + 120s);
  EXPECT_FALSE(client.closed.has_value());
  EXPECT_GT(sim.events(), 10u);
  EXPECT_EQ(sim.stalled_timers(), 0u);
}

TEST_F(SimulationTest, NotesAppearInTheTraceAndPcapngIsWritten) {
  auto &sim = make_sim();
  sim.note("A: connect()");
  RecordingApp client([&sim] { return sim.now(); }, AppScript{}, "client");
  client.attach(sim.a().connect(sim.address_b(), 81, &client));
  ASSERT_TRUE(sim.run_until_idle(sim.now() + 10s));
  const std::string text = sim.trace_text();
  EXPECT_EQ(text.rfind("0.000000 -- A: connect()\n0.000000 A>B 198.18.0.1:", 0), 0u) << text;
  EXPECT_NE(text.find("B>A 198.18.0.2:81 > 198.18.0.1:"), std::string::npos) << text;
  EXPECT_EQ(client.closed, tcp::CloseReason::refused);
  const auto bytes = encode_pcapng(sim.trace());
  EXPECT_GT(bytes.size(), 100u);
}

} // namespace
} // namespace shoal::sim
