// The POSIX facade's UDP sockets and its PollingDriver, over two api::Stacks
// joined by a crossed net_ring pair: datagrams both ways (whole, truncated,
// peeked), a connected socket refused by the other stack's port
// unreachable, a blocking receive woken by a datagram, poll() and epoll
// waking on a datagram and on an ICMP error; and TCP through a
// PollingDriver whose helper thread alone polls its stack.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "api/stack.hpp"
#include "eal_env.hpp"
#include "posix/socket.hpp"
#include "posix/socket_impl.hpp"
#include "posix/udp.hpp"
#include "ring_stacks.hpp"

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

const sockaddr *sa(const sockaddr_in &a) {
  return reinterpret_cast<const sockaddr *>(&a);
}

// Stack a on a StackDriver or a PollingDriver, stack b on a StackDriver;
// a poller thread runs b (and a, unless a's driver polls it).
class UdpOverStacks : public ::testing::Test {
protected:
  void open(bool polling_a) {
    static int seq = 0;
    stacks_.open("pu" + std::to_string(seq++));
    a_ = stacks_.a.get();
    b_ = stacks_.b.get();
    ASSERT_NE(a_, nullptr);
    ASSERT_NE(b_, nullptr);
    if (polling_a) {
      auto p = std::make_unique<PollingDriver>(*a_, PollingDriver::Options{});
      p->start_helper();
      da_ = std::move(p);
    } else {
      da_ = std::make_unique<StackDriver>(*a_);
    }
    db_ = std::make_unique<StackDriver>(*b_);
    poller_ = std::thread([this, polling_a] {
      while (!stop_.load()) {
        if (!polling_a)
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
  shoal::test::RingStacks stacks_;
  api::Stack *a_ = nullptr, *b_ = nullptr;
  std::unique_ptr<Driver> da_, db_;
  std::atomic<bool> stop_{false};
  std::thread poller_;
};

TEST_F(UdpOverStacks, DatagramsBothWaysWholeTruncatedAndPeeked) {
  open(false);
  const int srv = ps::udp_socket(*db_, 0);
  ASSERT_GE(srv, 0);
  const sockaddr_in any = sin_of("0.0.0.0", 5353);
  ASSERT_EQ(ps::udp_bind(srv, sa(any), sizeof any), 0);
  EXPECT_EQ(ps::udp_bind(srv, sa(any), sizeof any), -1); // bound already
  EXPECT_EQ(errno, EINVAL);
  const int cli = ps::udp_socket(*da_, 0);
  ASSERT_GE(cli, 0);
  const sockaddr_in to = sin_of("10.0.0.2", 5353);
  for (size_t n : {size_t{1}, size_t{1000}, size_t{3000}}) { // 3000: fragmented
    std::vector<uint8_t> out(n), back(65536);
    for (size_t k = 0; k < n; k++)
      out[k] = static_cast<uint8_t>(k * 7 + n);
    ASSERT_EQ(ps::udp_sendto(cli, out.data(), n, 0, sa(to), sizeof to), static_cast<ssize_t>(n));
    sockaddr_in from{};
    socklen_t fl = sizeof from;
    // Blocking receive on the server's side (its shard wakes it).
    const ssize_t got = ps::udp_recvfrom(srv, back.data(), back.size(), 0,
                                         reinterpret_cast<sockaddr *>(&from), &fl);
    ASSERT_EQ(got, static_cast<ssize_t>(n));
    EXPECT_EQ(std::memcmp(back.data(), out.data(), n), 0);
    EXPECT_EQ(wire::Ipv4Addr::from_be(from.sin_addr.s_addr), *wire::Ipv4Addr::parse("10.0.0.1"));
    ASSERT_EQ(ps::udp_sendto(srv, back.data(), n, 0, reinterpret_cast<sockaddr *>(&from), fl),
              static_cast<ssize_t>(n));
    std::vector<uint8_t> echo(n);
    ASSERT_EQ(ps::udp_recvfrom(cli, echo.data(), n, 0, nullptr, nullptr), static_cast<ssize_t>(n));
    EXPECT_EQ(echo, out);
  }
  // Peek, then a short read (truncated; MSG_TRUNC gives the full length).
  ASSERT_EQ(ps::udp_sendto(cli, "0123456789", 10, 0, sa(to), sizeof to), 10);
  char small[4];
  for (int i = 0; i < 500; i++) {
    uint64_t in, out;
    if ((detail::lookup(srv)->readiness(&in, &out) & POLLIN) != 0)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  int avail = 0;
  ASSERT_EQ(ps::udp_ioctl(srv, FIONREAD, &avail), 0);
  EXPECT_EQ(avail, 10);
  EXPECT_EQ(ps::udp_recvfrom(srv, small, sizeof small, MSG_PEEK, nullptr, nullptr), 4);
  EXPECT_EQ(ps::udp_recvfrom(srv, small, sizeof small, MSG_TRUNC, nullptr, nullptr), 10);
  EXPECT_EQ(std::memcmp(small, "0123", 4), 0);
  EXPECT_EQ(ps::udp_recvfrom(srv, small, sizeof small, MSG_DONTWAIT, nullptr, nullptr), -1);
  EXPECT_EQ(errno, EAGAIN);
  int type = 0;
  socklen_t tl = sizeof type;
  ASSERT_EQ(ps::udp_getsockopt(srv, SOL_SOCKET, SO_TYPE, &type, &tl), 0);
  EXPECT_EQ(type, SOCK_DGRAM);
  EXPECT_EQ(ps::close(cli), 0);
  EXPECT_EQ(ps::close(srv), 0);
  // The port is free again once closed.
  const int again = ps::udp_socket(*db_, 0);
  EXPECT_EQ(ps::udp_bind(again, sa(any), sizeof any), 0);
  ps::close(again);
}

TEST_F(UdpOverStacks, ConnectedSocketIsRefusedByAClosedPort) {
  open(false);
  const int c = ps::udp_socket(*da_, 0);
  ASSERT_GE(c, 0);
  const sockaddr_in to = sin_of("10.0.0.2", 9);
  ASSERT_EQ(ps::udp_connect(c, sa(to), sizeof to), 0);
  sockaddr_in peer{};
  socklen_t pl = sizeof peer;
  ASSERT_EQ(ps::udp_getpeername(c, reinterpret_cast<sockaddr *>(&peer), &pl), 0);
  EXPECT_EQ(ntohs(peer.sin_port), 9);
  ASSERT_EQ(ps::udp_sendto(c, "x", 1, 0, nullptr, 0), 1);
  char b;
  EXPECT_EQ(ps::udp_recvfrom(c, &b, 1, 0, nullptr, nullptr), -1); // woken by the error
  EXPECT_EQ(errno, ECONNREFUSED);
  EXPECT_EQ(ps::udp_sendto(c, "x", 1, 0, nullptr, 0), 1); // reported once
  ps::close(c);
  const int u = ps::udp_socket(*da_, 0);
  EXPECT_EQ(ps::udp_sendto(u, "x", 1, 0, nullptr, 0), -1);
  EXPECT_EQ(errno, EDESTADDRREQ);
  ps::close(u);
}

TEST_F(UdpOverStacks, PollAndEpollWakeOnADatagramAndOnAnError) {
  open(false);
  const int srv = ps::udp_socket(*db_, 0);
  ASSERT_GE(srv, 0);
  const sockaddr_in any = sin_of("0.0.0.0", 7070);
  ASSERT_EQ(ps::udp_bind(srv, sa(any), sizeof any), 0);
  const int cli = ps::udp_socket(*da_, 0);
  ASSERT_GE(cli, 0);

  // Nothing queued: writable, not readable.
  pollfd p{srv, POLLIN | POLLOUT, 0};
  ASSERT_EQ(ps::poll(&p, 1, 0), 1);
  EXPECT_EQ(p.revents, POLLOUT);
  p.events = POLLIN;
  EXPECT_EQ(ps::poll(&p, 1, 0), 0);
  const int ep = ps::epoll_create1(0);
  ASSERT_GE(ep, 0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 77;
  ASSERT_EQ(ps::epoll_ctl(ep, EPOLL_CTL_ADD, srv, &ev), 0);
  epoll_event out[2];
  EXPECT_EQ(ps::epoll_wait(ep, out, 2, 0), 0);

  // A datagram wakes a blocked poll() and a blocked epoll_wait().
  std::thread sender([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const sockaddr_in to = sin_of("10.0.0.2", 7070);
    ps::udp_sendto(cli, "ping", 4, 0, sa(to), sizeof to);
  });
  p.revents = 0;
  EXPECT_EQ(ps::poll(&p, 1, 5000), 1);
  EXPECT_EQ(p.revents, POLLIN);
  sender.join();
  ASSERT_EQ(ps::epoll_wait(ep, out, 2, 5000), 1);
  EXPECT_EQ(out[0].events, static_cast<uint32_t>(EPOLLIN));
  EXPECT_EQ(out[0].data.u64, 77u);
  char b[8];
  ASSERT_EQ(ps::udp_recvfrom(srv, b, sizeof b, 0, nullptr, nullptr), 4);
  EXPECT_EQ(ps::epoll_wait(ep, out, 2, 0), 0) << "level-triggered: nothing left to read";

  // An ICMP port unreachable on a connected socket: POLLERR.
  const int c = ps::udp_socket(*da_, 0);
  const sockaddr_in closed = sin_of("10.0.0.2", 9);
  ASSERT_EQ(ps::udp_connect(c, sa(closed), sizeof closed), 0);
  ASSERT_EQ(ps::udp_sendto(c, "x", 1, 0, nullptr, 0), 1);
  pollfd pe{c, POLLIN, 0};
  ASSERT_EQ(ps::poll(&pe, 1, 5000), 1);
  EXPECT_NE(pe.revents & POLLERR, 0);
  int err = 0;
  socklen_t el = sizeof err;
  ASSERT_EQ(ps::udp_getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el), 0);
  EXPECT_EQ(err, ECONNREFUSED);

  // A closed socket leaves the epoll set.
  ps::close(srv);
  EXPECT_EQ(ps::epoll_wait(ep, out, 2, 0), 0);
  ps::close(ep);
  ps::close(c);
  ps::close(cli);
}

TEST_F(UdpOverStacks, PollingDriverCarriesTcpAndUdpWithItsHelperAlone) {
  open(true);
  // b listens (StackDriver), a connects through its PollingDriver: every
  // frame of a's stack is received by a's helper thread or a's own waits.
  const int l = ps::socket(*db_, AF_INET, SOCK_STREAM, 0);
  const sockaddr_in any = sin_of("0.0.0.0", 7);
  ASSERT_EQ(ps::bind(l, sa(any), sizeof any), 0);
  ASSERT_EQ(ps::listen(l, 4), 0);
  std::thread server([&] {
    const int fd = ps::accept(l, nullptr, nullptr);
    char buf[256];
    for (;;) {
      const ssize_t n = ps::read(fd, buf, sizeof buf);
      if (n <= 0)
        break;
      ps::write(fd, buf, static_cast<size_t>(n));
    }
    ps::close(fd);
  });
  const int c = ps::socket(*da_, AF_INET, SOCK_STREAM, 0);
  const sockaddr_in to = sin_of("10.0.0.2", 7);
  ASSERT_EQ(ps::connect(c, sa(to), sizeof to), 0) << std::strerror(errno);
  for (int round = 0; round < 20; round++) {
    const std::string msg = "round " + std::to_string(round);
    ASSERT_EQ(ps::write(c, msg.data(), msg.size()), static_cast<ssize_t>(msg.size()));
    std::string got;
    char buf[64];
    while (got.size() < msg.size()) {
      const ssize_t n = ps::read(c, buf, sizeof buf);
      ASSERT_GT(n, 0);
      got.append(buf, static_cast<size_t>(n));
    }
    EXPECT_EQ(got, msg);
  }
  ps::close(c);
  server.join();
  ps::close(l);
  // UDP through the polling driver too.
  const int srv = ps::udp_socket(*db_, 0);
  const sockaddr_in u_any = sin_of("0.0.0.0", 6000);
  ASSERT_EQ(ps::udp_bind(srv, sa(u_any), sizeof u_any), 0);
  const int u = ps::udp_socket(*da_, 0);
  const sockaddr_in u_to = sin_of("10.0.0.2", 6000);
  ASSERT_EQ(ps::udp_sendto(u, "ping", 4, 0, sa(u_to), sizeof u_to), 4);
  char b[8];
  sockaddr_in from{};
  socklen_t fl = sizeof from;
  ASSERT_EQ(ps::udp_recvfrom(srv, b, sizeof b, 0, reinterpret_cast<sockaddr *>(&from), &fl), 4);
  ASSERT_EQ(ps::udp_sendto(srv, "pong", 4, 0, reinterpret_cast<sockaddr *>(&from), fl), 4);
  ASSERT_EQ(ps::udp_recvfrom(u, b, sizeof b, 0, nullptr, nullptr), 4); // a's wait polls a
  EXPECT_EQ(std::memcmp(b, "pong", 4), 0);
  ps::close(u);
  ps::close(srv);
}

} // namespace
} // namespace shoal::posix
