// The POSIX facade over two api::Stacks joined by a crossed net_ring pair
// (StackDriver): a poller thread runs the shards (poll_once), application
// threads make blocking calls that really sleep until the shard wakes them.
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ring.h>

#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <netinet/in.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "api/stack.hpp"
#include "eal_env.hpp"
#include "ring_stacks.hpp"
#include "posix/socket.hpp"

namespace shoal::posix {
namespace {

namespace ps = shoal::posix;

sockaddr_in sin_of(const char *ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = wire::Ipv4Addr::parse(ip)->to_be();
  return a;
}

class OverStacks : public ::testing::Test {
protected:
  void SetUp() override {
    static int seq = 0;
    stacks_.open("px" + std::to_string(seq++), std::nullopt, tweak_);
    a_ = stacks_.a.get();
    b_ = stacks_.b.get();
    if (a_ == nullptr || b_ == nullptr)
      return;
    da_ = std::make_unique<StackDriver>(*a_);
    db_ = std::make_unique<StackDriver>(*b_);
    poller_ = std::thread([this] {
      while (!stop_.load()) {
        a_->poll_once();
        b_->poll_once();
      }
    });
  }
  void TearDown() override {
    stop_ = true;
    if (poller_.joinable())
      poller_.join();
    da_.reset();
    db_.reset();
    stacks_.close();
  }
  std::function<void(dpdk::NodeConfig &)> tweak_; // stack a's config, before SetUp
  shoal::test::RingStacks stacks_;
  api::Stack *a_ = nullptr, *b_ = nullptr;
  std::unique_ptr<StackDriver> da_, db_;
  std::atomic<bool> stop_{false};
  std::thread poller_;
};

TEST_F(OverStacks, BlockingEchoBetweenApplicationThreads) {
  const int l = ps::socket(*db_, AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(l, 0);
  sockaddr_in any = sin_of("0.0.0.0", 7);
  ASSERT_EQ(ps::bind(l, reinterpret_cast<sockaddr *>(&any), sizeof any), 0);
  ASSERT_EQ(ps::listen(l, 8), 0);
  std::string server_error;
  std::thread server([&] {
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    const int fd = ps::accept(l, reinterpret_cast<sockaddr *>(&peer), &len);
    if (fd < 0) {
      server_error = std::string("accept: ") + std::strerror(errno);
      return;
    }
    if (wire::Ipv4Addr::from_be(peer.sin_addr.s_addr) != *wire::Ipv4Addr::parse("10.0.0.1"))
      server_error = "accept: wrong peer address";
    char buf[64];
    for (;;) {
      const ssize_t n = ps::read(fd, buf, sizeof buf); // sleeps until the shard has data
      if (n <= 0)
        break;
      if (ps::write(fd, buf, static_cast<size_t>(n)) != n)
        server_error = "write failed";
    }
    ps::close(fd);
  });
  const int c = ps::socket(*da_, AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(c, 0);
  sockaddr_in to = sin_of("10.0.0.2", 7);
  ASSERT_EQ(ps::connect(c, reinterpret_cast<sockaddr *>(&to), sizeof to), 0)
      << std::strerror(errno);
  ASSERT_EQ(ps::write(c, "hello over shards", 17), 17);
  std::string echoed;
  char buf[64];
  while (echoed.size() < 17) {
    const ssize_t n = ps::read(c, buf, sizeof buf);
    ASSERT_GT(n, 0) << std::strerror(errno);
    echoed.append(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(echoed, "hello over shards");
  ASSERT_EQ(ps::shutdown(c, SHUT_WR), 0);
  EXPECT_EQ(ps::read(c, buf, sizeof buf), 0); // the server closed after our FIN
  server.join();
  EXPECT_EQ(server_error, "");
  EXPECT_EQ(ps::close(c), 0);
  EXPECT_EQ(ps::close(l), 0);

  // Each stack's stats_json() is its own shard 0, not both stacks' (read
  // from this thread once the poller, the shards' thread, has stopped).
  stop_ = true;
  poller_.join();
  const auto count = [](const std::string &s, const std::string &what) {
    size_t n = 0;
    for (size_t i = s.find(what); i != std::string::npos; i = s.find(what, i + 1))
      ++n;
    return n;
  };
  const std::string ja = a_->stats_json(), jb = b_->stats_json();
  EXPECT_EQ(count(ja, "\"shard0\""), 1u) << ja;
  EXPECT_EQ(count(jb, "\"shard0\""), 1u) << jb;
  EXPECT_NE(ja.find("\"tcp_active_opens\":1,"), std::string::npos) << ja;
  EXPECT_NE(ja.find("\"tcp_passive_opens\":0,"), std::string::npos) << ja;
  EXPECT_NE(jb.find("\"tcp_passive_opens\":1,"), std::string::npos) << jb;
  EXPECT_NE(jb.find("\"tcp_active_opens\":0,"), std::string::npos) << jb;
}

TEST_F(OverStacks, ConnectRefusedAndPollTimeout) {
  const int c = ps::socket(*da_, AF_INET, SOCK_STREAM, 0);
  sockaddr_in to = sin_of("10.0.0.2", 9); // nobody listens
  EXPECT_EQ(ps::connect(c, reinterpret_cast<sockaddr *>(&to), sizeof to), -1);
  EXPECT_EQ(errno, ECONNREFUSED);
  // A real 50 ms poll timeout on a socket that never becomes readable.
  const int l = ps::socket(*db_, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  ASSERT_EQ(ps::listen(l, 1), 0);
  pollfd p{l, POLLIN, 0};
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(ps::poll(&p, 1, 50), 0);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(50));
}

// Stack a with one ephemeral port and room for two connections.
class OverTightStacks : public OverStacks {
protected:
  OverTightStacks() {
    tweak_ = [](dpdk::NodeConfig &c) {
      c.tcp.ephemeral_port_min = c.tcp.ephemeral_port_max = 40000;
      c.tcp.max_connections = 2;
    };
  }
};

TEST_F(OverTightStacks, ConnectSaysWhyItCouldNotStart) {
  for (uint16_t port : {7000, 7001}) {
    const int l = ps::socket(*db_, AF_INET, SOCK_STREAM, 0);
    const sockaddr_in at = sin_of("0.0.0.0", port);
    ASSERT_EQ(ps::bind(l, reinterpret_cast<const sockaddr *>(&at), sizeof at), 0);
    ASSERT_EQ(ps::listen(l, 8), 0);
  }
  auto start = [&](uint16_t port) {
    const int c = ps::socket(*da_, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    const sockaddr_in to = sin_of("10.0.0.2", port);
    const int rc = ps::connect(c, reinterpret_cast<const sockaddr *>(&to), sizeof to);
    return rc == 0 ? 0 : errno;
  };
  EXPECT_EQ(start(7000), EINPROGRESS);
  EXPECT_EQ(start(7000), EADDRNOTAVAIL) << "the one ephemeral port is taken towards 7000";
  EXPECT_EQ(start(7001), EINPROGRESS);
  EXPECT_EQ(start(7002), ENOBUFS) << "the connection table is full";
}

} // namespace
} // namespace shoal::posix
