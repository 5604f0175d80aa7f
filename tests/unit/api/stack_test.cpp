// api::Stack without any kernel: creation errors, and two stacks joined by
// a crossed net_ring pair in one process, driven by poll_once() on a virtual
// wire, for the connection callbacks (accepted, readable, writable, peer
// closed, closed with a reason), the [tcp] config reaching the engine, and UDP
// (udp_bind echo, fragments both ways, ECONNREFUSED from port unreachable).
#include <chrono>
#include <fstream>
#include <cerrno>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <thread>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ring.h>

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
  shoal::test::RingStacks stacks_;
  Stack *a_ = nullptr, *b_ = nullptr;
};

// Records every callback, echoes nothing.
struct Recorder : ConnectionHandler {
  std::vector<std::string> events;
  std::string data;
  CloseReason reason{};
  bool closed = false;
  void on_connected(Connection &) override { events.push_back("connected"); }
  void on_readable(Connection &c) override {
    events.push_back("readable");
    c.for_each_readable([&](std::span<const uint8_t> s) { data.append(s.begin(), s.end()); });
    c.consume(c.readable());
  }
  void on_writable(Connection &) override { events.push_back("writable"); }
  void on_peer_closed(Connection &) override { events.push_back("peer_closed"); }
  void on_closed(Connection &, CloseReason r) override {
    events.push_back(std::string("closed:") + tcp::to_string(r));
    reason = r;
    closed = true;
  }
  std::string trace() const {
    std::string s;
    for (const auto &e : events)
      s += e + " ";
    return s;
  }
};

TEST_F(TwoStacks, CallbacksOfAWholeConversation) {
  Recorder server, client;
  Connection *accepted = nullptr;
  ASSERT_TRUE(b_->listen(7000, [&](Connection &c) {
    accepted = &c;
    return &server;
  }));
  EXPECT_FALSE(b_->listen(7000, [&](Connection &) { return &server; })) << "port taken";
  Connection *c = a_->connect(b_->address(), 7000, &client, 0);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(poll_until([&] { return accepted != nullptr && c->state() == State::established; }))
      << client.trace();
  EXPECT_EQ(client.events.front(), "connected");
  EXPECT_EQ(server.events.front(), "connected");
  // Each ring port has a MAC of its own, the one summary() shows.
  EXPECT_NE(a_->mac(), b_->mac());
  EXPECT_NE(a_->summary().find(a_->mac().to_string()), std::string::npos) << a_->summary();
  // Memory accounting follows the connection (refreshed every millisecond).
  ASSERT_TRUE(poll_until([&] { return b_->memory().connections == 1; }));
  const shard::MemoryStats mem = b_->memory();
  EXPECT_GE(mem.connection_bytes, sizeof(Connection));
  EXPECT_GT(mem.flow_table_bytes, 0u);
  EXPECT_GT(mem.mbufs_total, 0u);
  EXPECT_EQ(mem.total_bytes(), mem.mbuf_bytes + mem.connection_bytes + mem.flow_table_bytes +
                                   mem.time_wait_bytes + mem.other_bytes);

  const std::string msg = "hello over net_ring";
  EXPECT_EQ(c->write({reinterpret_cast<const uint8_t *>(msg.data()), msg.size()}), msg.size());
  ASSERT_TRUE(poll_until([&] { return server.data == msg; }))
      << server.trace() << "\na: " << a_->stats_json() << "\nsend_queued " << c->send_queued();

  c->shutdown_write();
  ASSERT_TRUE(poll_until([&] { return accepted->peer_closed(); })) << server.trace();
  EXPECT_EQ(server.events.back(), "peer_closed") << server.trace();
  accepted->close();
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
  Recorder refused;
  ASSERT_NE(a_->connect(b_->address(), 7001, &refused, 0), nullptr);
  ASSERT_TRUE(poll_until([&] { return refused.closed; })) << refused.trace();
  EXPECT_EQ(refused.reason, CloseReason::refused) << refused.trace();

  Recorder server, client;
  Connection *accepted = nullptr;
  b_->listen(7002, [&](Connection &c) {
    accepted = &c;
    return &server;
  });
  Connection *c = a_->connect(b_->address(), 7002, &client, 0);
  ASSERT_TRUE(poll_until([&] { return accepted != nullptr; }));
  close(*c, /*linger_zero=*/true);
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
  Recorder r;
  EXPECT_EQ(a_->connect(b_->address(), 80, &r, 5).error(), OpenError::no_such_shard);
  EXPECT_EQ(a_->connect(wire::Ipv4Addr{}, 80, &r, 0).error(), OpenError::bad_address);
  EXPECT_EQ(a_->connect(wire::Ipv4Addr::broadcast(), 80, &r, 0).error(), OpenError::bad_address);
  EXPECT_EQ(a_->connect(b_->address(), 0, &r, 0).error(), OpenError::bad_address);
  EXPECT_EQ(to_errno(OpenError::bad_address), EINVAL);
  const ConnectResult ok = a_->connect(b_->address(), 80, &r, 0);
  ASSERT_NE(ok.connection(), nullptr);
  EXPECT_EQ(ok.error(), OpenError::none);
  Connection *as_pointer = ok; // the old spelling still works
  EXPECT_EQ(as_pointer, ok.connection());
  EXPECT_EQ(b_->listen(0, [](Connection &) -> ConnectionHandler * { return nullptr; }).error,
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
  Recorder server, client;
  ASSERT_TRUE(b_->listen(7100, [&](Connection &) { return &server; }));
  Connection *c = a_->connect(b_->address(), 7100, &client, 0);
  ASSERT_NE(c, nullptr);
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
  Recorder r[4];
  ASSERT_NE(a_->connect(b_->address(), 80, &r[0], 0), nullptr);
  ASSERT_NE(a_->connect(b_->address(), 80, &r[1], 0), nullptr);
  const ConnectResult third = a_->connect(b_->address(), 80, &r[2], 0);
  EXPECT_EQ(third.connection(), nullptr);
  EXPECT_EQ(third.error(), OpenError::no_free_port) << to_string(third.error());
  EXPECT_EQ(to_errno(third.error()), EADDRNOTAVAIL);
  ASSERT_NE(a_->connect(b_->address(), 81, &r[2], 0), nullptr) << "another remote port";
  const ConnectResult fourth = a_->connect(b_->address(), 82, &r[3], 0);
  EXPECT_EQ(fourth.error(), OpenError::no_memory) << to_string(fourth.error());
  EXPECT_EQ(to_errno(fourth.error()), ENOBUFS);
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
  Recorder r;
  auto factory = [&](Connection &) -> ConnectionHandler * { return &r; };
  const ListenResult first = a_->listen(9000, factory);
  const ListenResult again = a_->listen(9000, factory);
  const ConnectResult off_loop = a_->connect(b_->address(), 9000, &r, 0);
  std::atomic<int> from_shard{-1};
  a_->post(0, [&] {
    from_shard = static_cast<int>(a_->listen(9000, factory).error);
  });
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
