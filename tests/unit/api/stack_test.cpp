// api::Stack without any kernel: creation errors, and two stacks joined by
// a crossed net_ring pair in one process, driven by poll_once() on a virtual
// wire, for the connection callbacks (accepted, readable, writable, peer
// closed, closed with a reason), the [tcp] config reaching the engine, and UDP
// (udp_bind echo, fragments both ways, ECONNREFUSED from port unreachable).
#include <cerrno>
#include <chrono>
#include <deque>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ring.h>
#include <thread>

#include "api/stack.hpp"
#include "eal_env.hpp"
#include "ring_stacks.hpp"

namespace shoal::api {
namespace {

TEST(StackCreate, MissingConfigIsOneLine) {
  std::string error;
  auto s = Stack::create("/nonexistent/shoal.ini", "test", &error);
  EXPECT_EQ(s, nullptr);
  EXPECT_EQ(error, "/nonexistent/shoal.ini: cannot read: No such file or directory");
}

TEST(StackCreate, BadTcpKeyIsOneLine) {
  const std::string path = ::testing::TempDir() + "/shoal_api_bad_tcp.ini";
  std::ofstream(path) << "[eal]\nfile_prefix = x\n[port]\nvdev = net_null0\n[ipv4]\n"
                         "address = 10.0.0.1\nprefix_length = 24\n[tcp]\ncongestion_control = "
                         "bbr\n";
  std::string error;
  EXPECT_EQ(Stack::create(path, "test", &error), nullptr);
  EXPECT_EQ(error, path + ": [tcp] congestion_control: \"bbr\" is not one of newreno, cubic");
  std::ofstream(path) << "[eal]\nfile_prefix = x\n[port]\nvdev = net_null0\n[ipv4]\n"
                         "address = 10.0.0.1\nprefix_length = 24\n[impair]\nloss = 200\n";
  EXPECT_EQ(Stack::create(path, "test", &error), nullptr);
  EXPECT_EQ(error, path + ": [impair] loss: \"200\" is not a percentage from 0 to 100");
}

TEST(StackCreate, NoSuchPortIsOneLine) {
  shoal::test::ensure_eal();
  dpdk::NodeConfig cfg;
  cfg.port.vdev = "net_ring_absent";
  cfg.ipv4.address = *wire::Ipv4Addr::parse("10.0.0.1");
  std::string error;
  EXPECT_EQ(Stack::create(cfg, "test", &error, {.init_eal = false}), nullptr);
  EXPECT_NE(error.find("no ethdev port named \"net_ring_absent\""), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos);
}

// What a Recorder saw. The stack owns (and destroys) the handler, so what
// it records lives here, in the test.
struct Log {
  std::vector<std::string> events;
  std::string data;
  CloseReason reason{};
  bool closed = false;
  int closed_calls = 0; // on_closed
  int destroyed = 0;    // ~Recorder
  bool closed_before_destroyed = false;
  std::string trace() const {
    std::string s;
    for (const auto &e : events)
      s += e + " ";
    return s;
  }
};

// Records every callback into its Log, echoes nothing.
struct Recorder : Handler {
  explicit Recorder(Log &l) : log(l) {}
  ~Recorder() override {
    log.closed_before_destroyed = log.closed_calls == 1;
    log.destroyed++;
    log.events.push_back("destroyed");
  }
  Log &log;
  void on_connected(Connection) override { log.events.push_back("connected"); }
  void on_readable(Connection c) override {
    log.events.push_back("readable");
    c.for_each_readable([&](std::span<const uint8_t> s) { log.data.append(s.begin(), s.end()); });
    c.consume(c.readable());
  }
  void on_writable(Connection) override { log.events.push_back("writable"); }
  void on_peer_closed(Connection) override { log.events.push_back("peer_closed"); }
  void on_closed(Connection, CloseReason r) override {
    log.events.push_back(std::string("closed:") + tcp::to_string(r));
    log.reason = r;
    log.closed = true;
    log.closed_calls++;
  }
};

std::unique_ptr<Handler> record(Log &l) {
  return std::make_unique<Recorder>(l);
}

// Two stacks, a.port tx -> ring ab -> b.port rx and back.
class TwoStacks : public ::testing::Test {
protected:
  void SetUp() override {
    static int seq = 0;
    stacks_.open("api" + std::to_string(seq++), std::chrono::milliseconds(0));
    a_ = stacks_.a.get();
    b_ = stacks_.b.get();
  }
  void TearDown() override { stacks_.close(); }
  // Polls both until `done` or `budget` of real time (the stacks run on the
  // TSC clock) runs out.
  template <typename F>
  bool poll_until(F &&done, std::chrono::milliseconds budget = std::chrono::seconds(3)) {
    const auto deadline = std::chrono::steady_clock::now() + budget;
    while (std::chrono::steady_clock::now() < deadline) {
      a_->poll_once();
      b_->poll_once();
      if (done())
        return true;
    }
    return false;
  }
  // A Log that outlives the stacks (their handlers write to it until the
  // stacks are gone, in TearDown).
  Log &new_log() { return logs_.emplace_back(); }
  std::deque<Log> logs_;
  shoal::test::RingStacks stacks_;
  Stack *a_ = nullptr, *b_ = nullptr;
};

TEST_F(TwoStacks, CallbacksOfAWholeConversation) {
  Log &server = new_log(), &client = new_log();
  Connection accepted;
  ASSERT_TRUE(b_->listen(7000, [&](Connection c) {
    accepted = c;
    return record(server);
  }));
  EXPECT_FALSE(b_->listen(7000, [&](Connection) { return record(server); })) << "port taken";
  const ConnectResult c = a_->connect(b_->address(), 7000, record(client), 0);
  ASSERT_TRUE(c);
  ASSERT_TRUE(poll_until([&] { return accepted && c->state() == State::established; }))
      << client.trace();
  EXPECT_EQ(client.events.front(), "connected");
  EXPECT_EQ(server.events.front(), "connected");
  // Each ring port has a MAC of its own, the one summary() shows.
  EXPECT_NE(a_->mac(), b_->mac());
  EXPECT_NE(a_->summary().find(a_->mac().to_string()), std::string::npos) << a_->summary();
  // Memory accounting follows the connection (refreshed every millisecond).
  ASSERT_TRUE(poll_until([&] { return b_->memory().connections == 1; }));
  const shard::MemoryStats mem = b_->memory();
  EXPECT_GE(mem.connection_bytes, sizeof(tcp::Connection));
  EXPECT_GT(mem.flow_table_bytes, 0u);
  EXPECT_GT(mem.mbufs_total, 0u);
  EXPECT_EQ(mem.total_bytes(), mem.mbuf_bytes + mem.connection_bytes + mem.flow_table_bytes +
                                   mem.time_wait_bytes + mem.other_bytes);

  const std::string msg = "hello over net_ring";
  EXPECT_EQ(c->write({reinterpret_cast<const uint8_t *>(msg.data()), msg.size()}), msg.size());
  ASSERT_TRUE(poll_until([&] { return server.data == msg; }))
      << server.trace() << "\na: " << a_->stats_json() << "\nsend_queued " << c->send_queued();

  c->shutdown_write();
  ASSERT_TRUE(poll_until([&] { return accepted.peer_closed(); })) << server.trace();
  EXPECT_EQ(server.events.back(), "peer_closed") << server.trace();
  accepted.close();
  ASSERT_TRUE(poll_until([&] { return client.closed && server.closed; }))
      << "client: " << client.trace() << "\nserver: " << server.trace();
  EXPECT_EQ(client.reason, CloseReason::normal);
  EXPECT_EQ(server.reason, CloseReason::normal);
  // The client sent the first FIN, so it holds the TIME_WAIT record.
  poll_until([&] { return a_->connections_in(State::time_wait) == 1; });
  EXPECT_EQ(a_->connections_in(State::time_wait), 1u);
  ASSERT_TRUE(poll_until([&] { return a_->memory().time_wait_records == 1; }));
  EXPECT_GT(a_->memory().time_wait_bytes, 0u);
  EXPECT_EQ(a_->memory(0).connections, 0u);
  EXPECT_GE(a_->tcp_stats(0).get(tcp::Counter::segs_out_fin), 1u);
  // The telemetry copy of the counters follows within a millisecond.
  EXPECT_TRUE(poll_until([&] { return b_->tcp_stats(0).get(tcp::Counter::accepted) == 1; }))
      << b_->stats_json();
}

TEST_F(TwoStacks, RefusedAndAbortReachTheHandler) {
  Log &refused = new_log();
  ASSERT_TRUE(a_->connect(b_->address(), 7001, record(refused), 0));
  ASSERT_TRUE(poll_until([&] { return refused.closed; })) << refused.trace();
  EXPECT_EQ(refused.reason, CloseReason::refused) << refused.trace();

  Log &server = new_log(), &client = new_log();
  Connection accepted;
  b_->listen(7002, [&](Connection c) {
    accepted = c;
    return record(server);
  });
  const ConnectResult c = a_->connect(b_->address(), 7002, record(client), 0);
  ASSERT_TRUE(poll_until([&] { return static_cast<bool>(accepted); }));
  close(c.connection(), /*linger_zero=*/true);
  ASSERT_TRUE(poll_until([&] { return server.closed && client.closed; })) << server.trace();
  EXPECT_EQ(client.reason, CloseReason::aborted);
  EXPECT_EQ(server.reason, CloseReason::reset);
}

TEST_F(TwoStacks, PostRunsOnTheShard) {
  int ran_on = -2;
  ASSERT_TRUE(a_->post(0, [&] { ran_on = Stack::current_shard(); }));
  EXPECT_FALSE(a_->post(5, [] {}));
  a_->poll_once();
  EXPECT_EQ(ran_on, 0);
  EXPECT_EQ(Stack::current_shard(), -1);
}

TEST_F(TwoStacks, ConnectNamesWhyItOpenedNothing) {
  Log &r = new_log();
  EXPECT_EQ(a_->connect(b_->address(), 80, record(r), 5).error(), OpenError::no_such_shard);
  EXPECT_EQ(a_->connect(wire::Ipv4Addr{}, 80, record(r), 0).error(), OpenError::bad_address);
  EXPECT_EQ(a_->connect(wire::Ipv4Addr::broadcast(), 80, record(r), 0).error(),
            OpenError::bad_address);
  EXPECT_EQ(a_->connect(b_->address(), 0, record(r), 0).error(), OpenError::bad_address);
  EXPECT_EQ(to_errno(OpenError::bad_address), EINVAL);
  const ConnectResult ok = a_->connect(b_->address(), 80, record(r), 0);
  ASSERT_TRUE(ok.connection());
  EXPECT_EQ(ok.error(), OpenError::none);
  EXPECT_TRUE(ok) << "true when it opened";
  EXPECT_EQ(ok->state(), State::syn_sent);
  EXPECT_EQ(b_->listen(0, [](Connection) -> std::unique_ptr<Handler> { return nullptr; }).error,
            OpenError::bad_address);
}

// Debug builds: a Connection method called while run() runs, from a thread
// that is not the connection's shard, is reported with its name (the
// default handler aborts).
TEST_F(TwoStacks, ConnectionCallsOffTheirShardAreCaught) {
#ifdef NDEBUG
  GTEST_SKIP() << "the check is compiled out of release builds";
#else
  static std::vector<std::string> seen;
  seen.clear();
  tcp::Engine::set_owner_violation_handler([](const char *m) { seen.emplace_back(m); });
  Log &server = new_log(), &client = new_log();
  ASSERT_TRUE(b_->listen(7100, [&](Connection) { return record(server); }));
  const ConnectResult c = a_->connect(b_->address(), 7100, record(client), 0);
  ASSERT_TRUE(c);
  c->writable(); // not running yet: any thread may
  EXPECT_TRUE(seen.empty());
  std::thread loop([this] { a_->run(); });
  std::atomic<bool> looping{false};
  ASSERT_TRUE(a_->post(0, [&] {
    c->writable(); // on its shard: fine
    looping = true;
  }));
  while (!looping.load())
    std::this_thread::yield();
  EXPECT_TRUE(seen.empty()) << seen.front();
  c->set_nodelay(true); // from this thread while the shard runs
  a_->stop();
  loop.join();
  tcp::Engine::set_owner_violation_handler(nullptr);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], "set_nodelay");
#endif
}

class TightStacks : public TwoStacks {
protected:
  void SetUp() override {
    static int seq = 0;
    stacks_.open("tight" + std::to_string(seq++), std::chrono::milliseconds(0),
                 [](dpdk::NodeConfig &c) {
                   c.tcp.ephemeral_port_min = 40000;
                   c.tcp.ephemeral_port_max = 40001; // two ports
                   c.tcp.max_connections = 3;
                 });
    a_ = stacks_.a.get();
    b_ = stacks_.b.get();
  }
};

TEST_F(TightStacks, NoFreePortAndATableFullAreTold) {
  Log *r[4] = {&new_log(), &new_log(), &new_log(), &new_log()};
  ASSERT_TRUE(a_->connect(b_->address(), 80, record(*r[0]), 0));
  ASSERT_TRUE(a_->connect(b_->address(), 80, record(*r[1]), 0));
  const ConnectResult third = a_->connect(b_->address(), 80, record(*r[2]), 0);
  EXPECT_FALSE(third.connection());
  EXPECT_EQ(third.error(), OpenError::no_free_port) << to_string(third.error());
  EXPECT_EQ(to_errno(third.error()), EADDRNOTAVAIL);
  ASSERT_TRUE(a_->connect(b_->address(), 81, record(*r[2]), 0)) << "another remote port";
  const ConnectResult fourth = a_->connect(b_->address(), 82, record(*r[3]), 0);
  EXPECT_EQ(fourth.error(), OpenError::no_memory) << to_string(fourth.error());
  EXPECT_EQ(to_errno(fourth.error()), ENOBUFS);
}

// The stack owns the handlers: on_closed exactly once, then the handler is
// destroyed, whichever way the connection ends.
TEST_F(TwoStacks, HandlersEndOnceAfterANormalClose) {
  Log &server = new_log(), &client = new_log();
  Connection accepted;
  ASSERT_TRUE(b_->listen(7200, [&](Connection c) {
    accepted = c;
    return record(server);
  }));
  const ConnectResult c = a_->connect(b_->address(), 7200, record(client), 0);
  ASSERT_TRUE(c);
  ASSERT_TRUE(poll_until([&] { return accepted && client.events.size() == 1; }));
  c->close();
  ASSERT_TRUE(poll_until([&] { return server.events.back() == "peer_closed"; })) << server.trace();
  EXPECT_EQ(client.destroyed, 0) << "the client waits for the server's FIN";
  EXPECT_EQ(server.destroyed, 0);
  accepted.close();
  ASSERT_TRUE(poll_until([&] { return client.destroyed == 1 && server.destroyed == 1; }))
      << "client: " << client.trace() << "\nserver: " << server.trace();
  for (const Log *l : {&client, &server}) {
    EXPECT_EQ(l->closed_calls, 1) << l->trace();
    EXPECT_EQ(l->reason, CloseReason::normal) << l->trace();
    EXPECT_TRUE(l->closed_before_destroyed) << l->trace();
    EXPECT_EQ(l->events.back(), "destroyed") << l->trace();
  }
  // Nothing more comes (TIME_WAIT on the client runs without a handler).
  poll_until([] { return false; }, std::chrono::milliseconds(20));
  EXPECT_EQ(client.closed_calls, 1);
  EXPECT_EQ(server.closed_calls, 1);
  EXPECT_EQ(client.destroyed, 1);
  EXPECT_EQ(server.destroyed, 1);
}

TEST_F(TwoStacks, HandlersOfRefusedAndFailedConnectsEndOnce) {
  // Refused by RST: on_closed(refused), then destroyed.
  Log &refused = new_log();
  ASSERT_TRUE(a_->connect(b_->address(), 7201, record(refused), 0));
  EXPECT_EQ(refused.destroyed, 0);
  ASSERT_TRUE(poll_until([&] { return refused.destroyed == 1; })) << refused.trace();
  EXPECT_EQ(refused.closed_calls, 1);
  EXPECT_EQ(refused.reason, CloseReason::refused);
  EXPECT_TRUE(refused.closed_before_destroyed);
  EXPECT_EQ(refused.trace(), "closed:refused destroyed ");
  // Nothing opened: destroyed at once, without any callback.
  Log &failed = new_log();
  EXPECT_EQ(a_->connect(b_->address(), 0, record(failed), 0).error(), OpenError::bad_address);
  EXPECT_EQ(failed.destroyed, 1);
  EXPECT_EQ(failed.closed_calls, 0);
  EXPECT_EQ(failed.trace(), "destroyed ");
}

TEST_F(TwoStacks, DestroyingTheStackEndsTheHandlersStillOpen) {
  Log &server = new_log(), &client = new_log(), &syn_sent = new_log();
  ASSERT_TRUE(b_->listen(7202, [&](Connection) { return record(server); }));
  ASSERT_TRUE(a_->connect(b_->address(), 7202, record(client), 0));
  ASSERT_TRUE(poll_until([&] { return client.events.size() == 1 && server.events.size() == 1; }));
  // One more that never gets an answer (b is not polled again).
  ASSERT_TRUE(a_->connect(b_->address(), 7202, record(syn_sent), 0));
  stacks_.close(); // both stacks go, with three connections open
  for (const Log *l : {&client, &server, &syn_sent}) {
    EXPECT_EQ(l->closed_calls, 1) << l->trace();
    EXPECT_EQ(l->reason, CloseReason::stack_destroyed) << l->trace();
    EXPECT_EQ(l->destroyed, 1) << l->trace();
    EXPECT_TRUE(l->closed_before_destroyed) << l->trace();
  }
  EXPECT_EQ(syn_sent.trace(), "closed:stack_destroyed destroyed ");
}

TEST_F(TwoStacks, FactoryReturningNullRefusesWithRst) {
  Log &client = new_log();
  int offered = 0;
  ASSERT_TRUE(b_->listen(7203, [&](Connection) -> std::unique_ptr<Handler> {
    offered++;
    return nullptr;
  }));
  ASSERT_TRUE(a_->connect(b_->address(), 7203, record(client), 0));
  ASSERT_TRUE(poll_until([&] { return client.destroyed == 1; })) << client.trace();
  EXPECT_EQ(offered, 1);
  EXPECT_EQ(client.reason, CloseReason::reset) << client.trace();
  EXPECT_EQ(client.closed_calls, 1);
  EXPECT_TRUE(poll_until([&] { return b_->tcp_stats(0).get(tcp::Counter::accept_refused) == 1; }))
      << b_->stats_json();
}

// A factory that aborts the connection it is offered and still returns a
// handler: the handler ends at once (on_closed(aborted), destroyed).
TEST_F(TwoStacks, FactoryThatAbortsStillEndsItsHandler) {
  Log &server = new_log(), &client = new_log();
  ASSERT_TRUE(b_->listen(7204, [&](Connection c) {
    c.abort();
    return record(server);
  }));
  ASSERT_TRUE(a_->connect(b_->address(), 7204, record(client), 0));
  ASSERT_TRUE(poll_until([&] { return server.destroyed == 1 && client.closed; }))
      << "server: " << server.trace() << "\nclient: " << client.trace();
  EXPECT_EQ(server.trace(), "closed:aborted destroyed ");
  EXPECT_EQ(client.reason, CloseReason::reset);
}

// While run() runs the shard on another thread: connect() from here is
// refused as the wrong thread, listen() from here waits for the shard and
// reports a port that is taken.
TEST_F(TwoStacks, WhileRunningListenTellsWhetherThePortListens) {
  std::thread loop([this] { a_->run(); });
  std::atomic<bool> looping{false};
  ASSERT_TRUE(a_->post(0, [&] { looping = true; }));
  while (!looping.load()) // run() has started: its loop ran the closure
    std::this_thread::yield();
  Log &r = new_log();
  auto factory = [&](Connection) { return record(r); };
  const ListenResult first = a_->listen(9000, factory);
  const ListenResult again = a_->listen(9000, factory);
  const ConnectResult off_loop = a_->connect(b_->address(), 9000, record(r), 0);
  std::atomic<int> from_shard{-1};
  a_->post(0, [&] { from_shard = static_cast<int>(a_->listen(9000, factory).error); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (from_shard.load() < 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  a_->stop();
  loop.join();
  EXPECT_TRUE(first);
  EXPECT_EQ(again.error, OpenError::address_in_use) << to_string(again.error);
  EXPECT_EQ(to_errno(again.error), EADDRINUSE);
  EXPECT_EQ(off_loop.error(), OpenError::wrong_thread);
  EXPECT_EQ(from_shard.load(), static_cast<int>(OpenError::address_in_use));
}

} // namespace
} // namespace shoal::api

namespace shoal::api {
namespace {

// UDP between the two stacks: an echo bound with udp_bind on b, a socket of
// a's shard 0 sending 1, 1472 and 8000 bytes (the last in fragments both
// ways), then a connected socket to a closed port told ECONNREFUSED.
TEST_F(TwoStacks, UdpEchoAndPortUnreachable) {
  ASSERT_TRUE(b_->udp_bind(7, [](UdpSocket &s, const UdpDatagram &d) {
    EXPECT_EQ(s.send_to(d.remote, d.remote_port, d.payload), 0);
  }));
  EXPECT_FALSE(b_->udp_bind(7, [](UdpSocket &, const UdpDatagram &) {})) << "port taken";
  UdpSocket *c = a_->udp_open(0, 0);
  ASSERT_NE(c, nullptr);
  std::vector<std::vector<uint8_t>> got;
  c->on_receive([&](UdpSocket &, const UdpDatagram &d) {
    EXPECT_EQ(d.remote, b_->address());
    EXPECT_EQ(d.remote_port, 7);
    got.emplace_back(d.payload.begin(), d.payload.end());
  });
  for (size_t n : {size_t{1}, size_t{1472}, size_t{8000}}) {
    std::vector<uint8_t> data(n);
    for (size_t i = 0; i < n; i++)
      data[i] = static_cast<uint8_t>(i * 31 + n);
    got.clear();
    ASSERT_EQ(c->send_to(b_->address(), 7, data), 0);
    ASSERT_TRUE(poll_until([&] { return !got.empty(); }))
        << n << " bytes: no echo\na: " << a_->stats_json() << "\nb: " << b_->stats_json();
    EXPECT_EQ(got.front(), data) << n << " bytes";
  }
  EXPECT_EQ(b_->counters(0).udp_datagrams_in.get(), 3u);
  EXPECT_EQ(b_->counters(0).udp_datagrams_out.get(), 3u);
  EXPECT_GE(b_->counters(0).ipv4_reassembled.get(), 1u);
  EXPECT_GE(a_->counters(0).ipv4_reassembled.get(), 1u);

  UdpSocket *r = a_->udp_open(0, 0);
  ASSERT_TRUE(r->connect(b_->address(), 9));
  int error = 0;
  r->on_error([&](UdpSocket &, int e) { error = e; });
  const uint8_t byte = 1;
  ASSERT_EQ(r->send({&byte, 1}), 0);
  ASSERT_TRUE(poll_until([&] { return error != 0; })) << "a: " << a_->stats_json();
  EXPECT_EQ(error, ECONNREFUSED);
  EXPECT_EQ(b_->counters(0).icmp_port_unreachable_out.get(), 1u);
  EXPECT_EQ(a_->counters(0).icmp_errors_reported.get(), 1u);
  r->close();
  c->close();
}

} // namespace
} // namespace shoal::api
