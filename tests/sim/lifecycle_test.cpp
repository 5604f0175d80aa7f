// Two engines over the simulated wire: the connection lifecycle end to end,
// with forced losses of each handshake and each closing segment (each must
// recover by retransmission), simultaneous open and close, TIME_WAIT for
// exactly 2MSL on the side that closed first, keepalive against a live and a
// dead peer, and a refused connect.
#include "sim_fixture.hpp"

#include <functional>
#include <string>
#include <vector>

#include "sim/recording_app.hpp"
#include "tcp/connection.hpp"
#include "tcp/inspect.hpp"
#include "wire/tcp.hpp"

namespace shoal::sim {
namespace {

using namespace wire::tcp_flags;
using tcp::CloseReason;
using tcp::State;

class LifecycleTest : public testing::SimTest {
protected:
  // Starts a listener on B:80 (server_script) and a connect from A (client_script).
  // before_connect runs first (e.g. to set drop filters before the SYN goes out).
  Simulation &start(const SimConfig &c, AppScript client_script, AppScript server_script,
                    const std::function<void(Simulation &)> &before_connect = nullptr) {
    auto &sim = make_sim(c);
    if (before_connect)
      before_connect(sim);
    auto clock = [&sim] { return sim.now(); };
    server_.emplace(clock, std::move(server_script), "B");
    client_.emplace(clock, std::move(client_script), "A");
    EXPECT_TRUE(sim.b().listen(80, server_->factory()));
    client_->attach(sim.a().connect(sim.address_b(), 80, &*client_));
    EXPECT_NE(client_->connection(), nullptr);
    return sim;
  }
  RecordingApp &client() { return *client_; }
  RecordingApp &server() {
    if (server_->apps().empty())
      ADD_FAILURE() << "the server accepted nothing";
    return server_->apps().at(0);
  }
  bool server_has_app() const { return server_ && !server_->apps().empty(); }

  // Nothing left anywhere: no connection, TIME_WAIT record, timer or packet.
  void expect_clean() {
    auto &sim = *sim_;
    for (auto *e : {&sim.a(), &sim.b()}) {
      const char *name = e == &sim.a() ? "A" : "B";
      EXPECT_EQ(e->connection_count(), 0u) << name;
      EXPECT_EQ(e->time_wait_count(), 0u) << name;
      EXPECT_EQ(e->armed_timer_count(), 0u) << name;
    }
    EXPECT_EQ(sim.link_a_to_b().in_flight() + sim.link_b_to_a().in_flight(), 0u);
    EXPECT_EQ(sim.link_a_to_b().stats().malformed + sim.link_b_to_a().stats().malformed, 0u)
        << "an engine emitted a malformed datagram";
  }

  // The datagrams the link dropped through its filter, as trace lines.
  std::vector<const TraceEntry *> filtered() const {
    std::vector<const TraceEntry *> v;
    for (const auto &e : sim_->trace().entries())
      if (e.kind == TraceEntry::Kind::segment && e.fate == Fate::filtered)
        v.push_back(&e);
    return v;
  }
  static uint8_t flags_of(const TraceEntry &e) {
    const ParsedSegment p = parse_segment(e.bytes);
    return p.ok() ? static_cast<uint8_t>(p.tcp.flags & ~PSH) : 0;
  }
  unsigned count_sent(Direction d, uint8_t flags) const {
    unsigned n = 0;
    for (const auto &e : sim_->trace().entries())
      if (e.kind == TraceEntry::Kind::segment && e.dir == d && flags_of(e) == flags)
        ++n;
    return n;
  }

  std::string outcome() {
    std::string s = client_ ? client_->summary() : std::string("no client");
    if (server_)
      for (const auto &a : server_->apps())
        s += "\n" + a.summary();
    return s;
  }

  std::optional<RecordingServer> server_;
  std::optional<RecordingApp> client_;
};

TEST_F(LifecycleTest, HandshakeExchangeAndGracefulClose) {
  AppScript cs, ss;
  cs.send_on_connect = "ping";
  cs.close_after_receiving = 4;
  ss.reply_on_receive = "pong";
  auto &sim = start(config(), cs, ss);
  ASSERT_TRUE(sim.run_until([&] { return client().closed.has_value(); }, sim.now() + 10s))
      << outcome();
  EXPECT_EQ(client().received, "pong");
  EXPECT_EQ(server().received, "ping");
  EXPECT_EQ(client().closed, CloseReason::normal);
  ASSERT_TRUE(sim.run_until([&] { return server().closed.has_value(); }, sim.now() + 10s));
  EXPECT_EQ(server().closed, CloseReason::normal);
  // The client closed first: TIME_WAIT there only.
  EXPECT_EQ(sim.a().time_wait_count(), 1u);
  EXPECT_EQ(sim.b().time_wait_count(), 0u);
  EXPECT_TRUE(sim.run_until_idle(sim.now() + 600s));
  expect_clean();
  EXPECT_EQ(sim.stalled_timers(), 0u);
}

// ---- loss of each handshake segment -----------------------------------------
// The server sends "hello" and closes first; the client closes when it sees
// the FIN. The client sends nothing itself, so the handshake's third segment
// is a pure ACK and its loss must be repaired by the SYN-ACK retransmission.
struct HandshakeLoss {
  const char *name;
  Direction on;
  uint8_t flags; // the first segment with exactly these flags is dropped
};

class HandshakeLossTest : public LifecycleTest,
                          public ::testing::WithParamInterface<HandshakeLoss> {};

TEST_P(HandshakeLossTest, RecoversByRetransmission) {
  const HandshakeLoss &loss = GetParam();
  AppScript cs, ss;
  ss.send_on_connect = "hello";
  ss.close_after_send = true;
  auto &sim = start(config(), cs, ss, [&](Simulation &s) {
    Link &link = loss.on == Direction::a_to_b ? s.link_a_to_b() : s.link_b_to_a();
    link.set_drop_filter(drop::first_flags(loss.flags));
  });

  ASSERT_TRUE(sim.run_until([&] { return client().closed && server_has_app() && server().closed; },
                            sim.now() + 30s))
      << outcome();
  const auto dropped = filtered();
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(flags_of(*dropped[0]), loss.flags);
  // Sent again: by its own retransmission timer, or in answer to the
  // other side's (both may fire in the same instant).
  EXPECT_GE(count_sent(loss.on, loss.flags), 2u) << "sent again";
  // The repair waits for a retransmission timeout (initial RTO 1 s).
  EXPECT_GE(server().connected_at, sim.start() + 1s) << outcome();
  EXPECT_LE(server().connected_at, sim.start() + 1s + 10ms) << outcome();
  EXPECT_EQ(client().received, "hello");
  EXPECT_EQ(client().closed, CloseReason::normal);
  EXPECT_EQ(server().closed, CloseReason::normal);
  EXPECT_EQ(sim.a().time_wait_count(), 0u);
  EXPECT_EQ(sim.b().time_wait_count(), 1u) << "the server closed first";
  EXPECT_TRUE(sim.run_until_idle(sim.now() + 600s));
  expect_clean();
}

INSTANTIATE_TEST_SUITE_P(EachSegment, HandshakeLossTest,
                         ::testing::Values(HandshakeLoss{"syn", Direction::a_to_b, SYN},
                                           HandshakeLoss{"syn_ack", Direction::b_to_a, SYN | ACK},
                                           HandshakeLoss{"ack", Direction::a_to_b, ACK}),
                         [](const auto &info) { return std::string(info.param.name); });

// ---- loss of each closing segment -------------------------------------------
// A closes right after connecting; B closes 200 ms after it saw A's FIN, so
// the close takes four segments: A FIN, B ACK, B FIN, A ACK.
struct CloseLoss {
  const char *name;
  Direction on;
  uint64_t index; // datagram index on that link
  uint8_t flags;  // what that datagram must be
  // The retransmission that repairs it: `rtx_flags` sent twice on `rtx_on`
  // (0: the loss is repaired by a later segment, no retransmission needed).
  Direction rtx_on;
  uint8_t rtx_flags;
};

class CloseLossTest : public LifecycleTest, public ::testing::WithParamInterface<CloseLoss> {};

TEST_P(CloseLossTest, RecoversByRetransmission) {
  const CloseLoss &loss = GetParam();
  AppScript cs, ss;
  cs.close_after_send = true; // nothing to send: close() as soon as connected
  ss.close_on_peer_close = false;
  // A->B: 0 SYN, 1 ACK, 2 FIN, 3 ACK.  B->A: 0 SYN-ACK, 1 ACK, 2 FIN.
  auto &sim = start(config(), cs, ss, [&](Simulation &s) {
    Link &link = loss.on == Direction::a_to_b ? s.link_a_to_b() : s.link_b_to_a();
    link.set_drop_filter(drop::nth(loss.index));
  });

  ASSERT_TRUE(
      sim.run_until([&] { return server_has_app() && server().peer_closed; }, sim.now() + 30s))
      << outcome();
  sim.run_for(200ms);
  server().close();
  ASSERT_TRUE(sim.run_until([&] { return client().closed && server().closed; }, sim.now() + 60s))
      << outcome();

  const auto dropped = filtered();
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(flags_of(*dropped[0]), loss.flags) << "dropped the wrong segment";
  if (loss.rtx_flags != 0) {
    EXPECT_EQ(count_sent(loss.rtx_on, loss.rtx_flags), 2u) << "repaired by one retransmission";
  }
  EXPECT_EQ(client().closed, CloseReason::normal) << outcome();
  EXPECT_EQ(server().closed, CloseReason::normal) << outcome();
  EXPECT_EQ(sim.a().time_wait_count(), 1u) << "A closed first";
  EXPECT_EQ(sim.b().time_wait_count(), 0u);
  EXPECT_TRUE(sim.run_until_idle(sim.now() + 600s));
  expect_clean();
}

INSTANTIATE_TEST_SUITE_P(
    EachSegment, CloseLossTest,
    ::testing::Values(
        CloseLoss{"first_fin", Direction::a_to_b, 2, FIN | ACK, Direction::a_to_b, FIN | ACK},
        // B's own FIN acknowledges A's FIN as well.
        CloseLoss{"ack_of_first_fin", Direction::b_to_a, 1, ACK, Direction::b_to_a, 0},
        CloseLoss{"second_fin", Direction::b_to_a, 2, FIN | ACK, Direction::b_to_a, FIN | ACK},
        // B retransmits its FIN from LAST_ACK; A re-ACKs it from TIME_WAIT.
        CloseLoss{"last_ack", Direction::a_to_b, 3, ACK, Direction::b_to_a, FIN | ACK}),
    [](const auto &info) { return std::string(info.param.name); });

// ---- simultaneous open and close --------------------------------------------

TEST_F(LifecycleTest, SimultaneousOpen) {
  auto &sim = make_sim();
  auto clock = [&sim] { return sim.now(); };
  AppScript script;
  script.close_on_peer_close = true;
  RecordingApp a(clock, script, "A"), b(clock, script, "B");
  // Both ends connect to each other's fixed port at the same instant: the
  // SYNs cross (SYN_SENT -> SYN_RECEIVED on both, RFC 9293 3.5 figure 8).
  a.attach(sim.a().connect(sim.address_b(), 5000, &a, 6000));
  b.attach(sim.b().connect(sim.address_a(), 6000, &b, 5000));
  ASSERT_NE(a.connection(), nullptr);
  ASSERT_NE(b.connection(), nullptr);
  sim.run_until(sim.now() + 1500us); // SYNs arrived (delay 1 ms), SYN-ACKs in flight
  EXPECT_EQ(a.connection()->state(), State::syn_received);
  EXPECT_EQ(b.connection()->state(), State::syn_received);
  ASSERT_TRUE(sim.run_until([&] { return a.connected && b.connected; }, sim.now() + 5s));
  EXPECT_LT(a.connected_at, sim.start() + 10ms) << "no retransmission needed";
  EXPECT_EQ(count_sent(Direction::a_to_b, SYN), 1u);
  EXPECT_EQ(count_sent(Direction::b_to_a, SYN), 1u);
  EXPECT_EQ(count_sent(Direction::a_to_b, SYN | ACK), 1u);
  EXPECT_EQ(count_sent(Direction::b_to_a, SYN | ACK), 1u);

  a.close();
  ASSERT_TRUE(sim.run_until([&] { return a.closed && b.closed; }, sim.now() + 10s));
  EXPECT_EQ(a.closed, CloseReason::normal);
  EXPECT_EQ(b.closed, CloseReason::normal);
  EXPECT_TRUE(sim.run_until_idle(sim.now() + 600s));
  expect_clean();
}

TEST_F(LifecycleTest, SimultaneousCloseGoesThroughClosingOnBothSides) {
  AppScript cs, ss;
  cs.close_on_peer_close = false;
  ss.close_on_peer_close = false;
  auto c = config();
  c.a.msl = c.b.msl = 5s;
  auto &sim = start(c, cs, ss);
  ASSERT_TRUE(
      sim.run_until([&] { return client().connected && server_has_app(); }, sim.now() + 5s));
  sim.run_for(100ms);
  // Both close at the same instant: the FINs cross.
  client().close();
  server().close();
  sim.run_for(1500us); // each FIN arrived (1 ms), the ACKs are in flight
  ASSERT_NE(client().connection(), nullptr);
  ASSERT_NE(server().connection(), nullptr);
  EXPECT_EQ(client().connection()->state(), State::closing);
  EXPECT_EQ(server().connection()->state(), State::closing);
  ASSERT_TRUE(sim.run_until([&] { return client().closed && server().closed; }, sim.now() + 5s));
  EXPECT_EQ(client().closed, CloseReason::normal);
  EXPECT_EQ(server().closed, CloseReason::normal);
  // Both closed "first": both hold TIME_WAIT, for 2MSL.
  EXPECT_EQ(sim.a().time_wait_count(), 1u);
  EXPECT_EQ(sim.b().time_wait_count(), 1u);
  EXPECT_TRUE(sim.run_until_idle(sim.now() + 11s));
  expect_clean();
}

// ---- TIME_WAIT ------------------------------------------------------------

TEST_F(LifecycleTest, TimeWaitOnlyOnTheActiveCloserAndExactlyTwoMsl) {
  AppScript cs, ss;
  cs.send_on_connect = "bye";
  cs.close_after_send = true;
  auto c = config();
  c.a.msl = c.b.msl = 7s;
  auto &sim = start(c, cs, ss);
  ASSERT_TRUE(sim.run_until([&] { return client().closed && server_has_app() && server().closed; },
                            sim.now() + 10s));
  // A entered TIME_WAIT when B's FIN arrived; that is when on_closed(normal) came.
  const Instant entered = client().closed_at;
  EXPECT_EQ(sim.a().time_wait_count(), 1u);
  EXPECT_EQ(sim.b().time_wait_count(), 0u) << "the passive closer goes LAST_ACK -> CLOSED";
  EXPECT_EQ(sim.a().connection_count(), 0u) << "TIME_WAIT is a compact record, not a connection";
  sim.run_until(entered + 14s - 1ns);
  EXPECT_EQ(sim.a().time_wait_count(), 1u) << "gone before 2MSL";
  sim.run_until(entered + 14s);
  EXPECT_EQ(sim.a().time_wait_count(), 0u) << "still there at 2MSL";
  EXPECT_TRUE(sim.run_until_idle(sim.now() + 1s));
  expect_clean();
}

// ---- keepalive --------------------------------------------------------------

TEST_F(LifecycleTest, KeepaliveAgainstALivePeerKeepsTheConnection) {
  AppScript cs, ss;
  auto &sim = start(config(), cs, ss);
  ASSERT_TRUE(
      sim.run_until([&] { return client().connected && server_has_app(); }, sim.now() + 5s));
  client().connection()->set_keepalive(true, 10s, 2s, 3);
  const Instant armed = sim.now();
  sim.run_until(armed + 65s);
  ASSERT_FALSE(client().closed.has_value()) << outcome();
  EXPECT_EQ(client().connection()->state(), State::established);
  // Probes: no data, seq = snd_una - 1 (RFC 1122 4.2.3.6), one per idle period.
  const uint32_t probe_seq = client().connection()->inspect().snd_una().v - 1;
  std::vector<Instant> probes;
  for (const auto &e : sim.trace().entries()) {
    const ParsedSegment p = parse_segment(e.bytes);
    if (e.kind == TraceEntry::Kind::segment && e.dir == Direction::a_to_b && p.ok() &&
        p.tcp.seq == probe_seq && p.payload_len() == 0 && p.tcp.flags == ACK)
      probes.push_back(e.at);
  }
  ASSERT_GE(probes.size(), 5u) << outcome();
  ASSERT_LE(probes.size(), 7u) << outcome();
  for (size_t i = 1; i < probes.size(); ++i) {
    EXPECT_GE(probes[i] - probes[i - 1], 10s);
    EXPECT_LE(probes[i] - probes[i - 1], 10s + 10ms) << "each answer restarts the idle time";
  }
  EXPECT_EQ(client().connection()->inspect().keepalive_probes_sent(), 0) << "answered";
  client().close();
  ASSERT_TRUE(sim.run_until([&] { return client().closed && server().closed; }, sim.now() + 5s));
  EXPECT_TRUE(sim.run_until_idle(sim.now() + 600s));
  expect_clean();
}

TEST_F(LifecycleTest, KeepaliveAgainstADeadPeerTimesOut) {
  AppScript cs, ss;
  auto &sim = start(config(), cs, ss);
  ASSERT_TRUE(
      sim.run_until([&] { return client().connected && server_has_app(); }, sim.now() + 5s));
  // The last segment A received was the SYN-ACK: that is when its idle time starts.
  const Instant last_heard = client().connected_at;
  client().connection()->set_keepalive(true, 10s, 2s, 3);
  sim.link_a_to_b().set_drop_filter(drop::all());
  sim.link_b_to_a().set_drop_filter(drop::all());
  ASSERT_TRUE(sim.run_until([&] { return client().closed.has_value(); }, sim.now() + 60s))
      << outcome();
  EXPECT_EQ(client().closed, CloseReason::timed_out);
  // Probes at idle, idle + interval, idle + 2 intervals; give up one
  // interval after the last: idle + probes * interval.
  EXPECT_GE(client().closed_at, last_heard + 16s) << outcome();
  EXPECT_LE(client().closed_at, last_heard + 16s + 10ms) << outcome();
  unsigned probes = 0;
  for (const auto &e : sim.trace().entries())
    if (e.kind == TraceEntry::Kind::segment && e.dir == Direction::a_to_b && e.at > last_heard &&
        flags_of(e) == ACK)
      ++probes;
  EXPECT_EQ(probes, 3u);
  // B never hears of it: its connection stays until the engine is destroyed
  // (no keepalive there), which must free it without leaking.
  EXPECT_EQ(server().closed, std::nullopt);
}

// ---- refused ----------------------------------------------------------------

TEST_F(LifecycleTest, ConnectToAClosedPortIsRefused) {
  auto &sim = make_sim();
  RecordingApp app([&sim] { return sim.now(); }, AppScript{}, "A");
  app.attach(sim.a().connect(sim.address_b(), 81, &app));
  ASSERT_NE(app.connection(), nullptr);
  ASSERT_TRUE(sim.run_until([&] { return app.closed.has_value(); }, sim.now() + 5s));
  EXPECT_EQ(app.closed, CloseReason::refused);
  EXPECT_EQ(app.closed_at, sim.start() + 2ms) << "one round trip";
  EXPECT_FALSE(app.connected);
  EXPECT_EQ(count_sent(Direction::b_to_a, RST | ACK), 1u);
  EXPECT_TRUE(sim.run_until_idle(sim.now() + 1s));
  expect_clean();
}

} // namespace
} // namespace shoal::sim
