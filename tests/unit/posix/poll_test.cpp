// poll and epoll readiness over the facade's sockets, and an application
// thread blocked in read() while another thread drives the engine.
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "posix_fixture.hpp"

namespace shoal::posix::testing {
namespace {

using Poll = PosixSimTest;

TEST_F(Poll, ListenerReadableWhenConnectionWaits) {
  const int l = ps::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in any = sin_of(wire::Ipv4Addr::any(), 80);
  ASSERT_EQ(ps::bind(l, reinterpret_cast<sockaddr *>(&any), sizeof any), 0);
  ASSERT_EQ(ps::listen(l, 8), 0);
  pollfd p{l, POLLIN, 0};
  EXPECT_EQ(ps::poll(&p, 1, 0), 0);
  EXPECT_EQ(p.revents, 0);
  PeerApp app;
  ASSERT_NE(sim().b().connect(sim::kAddressA, 80, &app), nullptr);
  ASSERT_EQ(ps::poll(&p, 1, 2000), 1); // pumps the simulation
  EXPECT_EQ(p.revents, POLLIN);        // only what was asked for (and errors)
  EXPECT_GE(ps::accept(l, nullptr, nullptr), 0);
  EXPECT_EQ(ps::poll(&p, 1, 0), 0);
  // Unknown descriptors are POLLNVAL, negative ones ignored.
  pollfd q[2] = {{-1, POLLIN, 0}, {987654, POLLIN, 0}};
  EXPECT_EQ(ps::poll(q, 2, 0), 1);
  EXPECT_EQ(q[0].revents, 0);
  EXPECT_EQ(q[1].revents, POLLNVAL);
}

TEST_F(Poll, PollTimesOutOnTheDriversClock) {
  const int fd = connected_socket();
  pollfd p{fd, POLLIN, 0};
  const Instant before = sim().now();
  EXPECT_EQ(ps::poll(&p, 1, 300), 0);
  EXPECT_GE(sim().now() - before, 300ms);
  sim().after(100ms, [&] { peer().send("x"); });
  EXPECT_EQ(ps::poll(&p, 1, 1000), 1);
  EXPECT_TRUE(p.revents & POLLIN);
}

TEST_F(Poll, EpollReportsReadableWritableAndHangup) {
  const int fd = connected_socket();
  const int ep = ps::epoll_create1(EPOLL_CLOEXEC);
  ASSERT_GE(ep, 0);
  EXPECT_TRUE(ps::is_epoll(ep));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 42;
  ASSERT_EQ(ps::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
  EXPECT_EQ(ps::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), -1);
  EXPECT_EQ(errno, EEXIST);
  epoll_event out[4];
  EXPECT_EQ(ps::epoll_wait(ep, out, 4, 0), 0);
  peer().send("data");
  ASSERT_EQ(ps::epoll_wait(ep, out, 4, 1000), 1);
  EXPECT_EQ(out[0].data.u64, 42u);
  EXPECT_TRUE(out[0].events & EPOLLIN);
  EXPECT_EQ(ps::epoll_wait(ep, out, 4, 0), 1); // level-triggered: still readable
  char buf[8];
  ASSERT_EQ(ps::read(fd, buf, sizeof buf), 4);
  EXPECT_EQ(ps::epoll_wait(ep, out, 4, 0), 0);
  ev.events = EPOLLIN | EPOLLOUT | EPOLLONESHOT;
  ASSERT_EQ(ps::epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev), 0);
  ASSERT_EQ(ps::epoll_wait(ep, out, 4, 0), 1);
  EXPECT_EQ(out[0].events, static_cast<uint32_t>(EPOLLOUT));
  EXPECT_EQ(ps::epoll_wait(ep, out, 4, 0), 0); // one-shot: disarmed
  ev.events = EPOLLIN | EPOLLRDHUP;
  ASSERT_EQ(ps::epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev), 0);
  peer().conn->abort();
  ASSERT_EQ(ps::epoll_wait(ep, out, 4, 1000), 1);
  EXPECT_TRUE(out[0].events & EPOLLERR);
  EXPECT_TRUE(out[0].events & EPOLLHUP);
  EXPECT_TRUE(out[0].events & EPOLLRDHUP);
  ASSERT_EQ(ps::epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr), 0);
  EXPECT_EQ(ps::epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(ps::epoll_wait(ep, out, 0, 0), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(ps::close(ep), 0);
}

TEST_F(Poll, ClosedSocketLeavesEpollSet) {
  const int fd = connected_socket();
  const int ep = ps::epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLOUT;
  ASSERT_EQ(ps::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
  epoll_event out[2];
  EXPECT_EQ(ps::epoll_wait(ep, out, 2, 0), 1);
  ASSERT_EQ(ps::close(fd), 0);
  EXPECT_EQ(ps::epoll_wait(ep, out, 2, 0), 0);
}

// The application thread sleeps in read(); the test thread is the driving
// thread and runs the simulation under the engine mutex.
TEST_F(Poll, ApplicationThreadBlocksWhileDriverDelivers) {
  const int fd = connected_socket();
  std::atomic<bool> done{false};
  ssize_t got = 0;
  int err = 0;
  char buf[32] = {};
  std::atomic<pid_t> app_tid{0};
  std::thread app([&] {
    app_tid = static_cast<pid_t>(::syscall(SYS_gettid));
    got = ps::read(fd, buf, sizeof buf);
    err = errno;
    if (got > 0) {
      EXPECT_EQ(ps::write(fd, "pong", 4), 4); // from a non-driving thread too
    }
    done = true;
  });
  // Nothing moves the simulation until the app thread is seen asleep in the
  // kernel in a futex wait (its condition variable), with read() not
  // returned: it blocked rather than spun or returned early. The state comes
  // from /proc/self/task/<tid>/syscall (the syscall a blocked thread is in).
  auto asleep_in_futex = [&app_tid] {
    std::ifstream f("/proc/self/task/" + std::to_string(app_tid.load()) + "/syscall");
    long nr = -1;
    return app_tid.load() != 0 && (f >> nr) && nr == SYS_futex;
  };
  // Generous: on a loaded machine the thread may take long to get there.
  const auto asleep_by = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!asleep_in_futex() && std::chrono::steady_clock::now() < asleep_by)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_TRUE(asleep_in_futex()) << "the application thread never slept in read()";
  EXPECT_FALSE(done.load());
  sim().after(50ms, [&] { peer().send("ping"); });
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!(done.load() && peer().received == "pong") &&
         std::chrono::steady_clock::now() < give_up) {
    {
      std::lock_guard g(driver_->engine_mutex());
      if (auto t = sim().next_event())
        sim().step(*t);
    }
    std::this_thread::yield();
  }
  app.join();
  EXPECT_EQ(got, 4) << std::strerror(err);
  EXPECT_EQ(std::string(buf, 4), "ping");
  EXPECT_EQ(peer().received, "pong");
}

TEST_F(Poll, ApplicationThreadBlocksInAcceptAndConnect) {
  const int l = ps::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in any = sin_of(wire::Ipv4Addr::any(), 90);
  ASSERT_EQ(ps::bind(l, reinterpret_cast<sockaddr *>(&any), sizeof any), 0);
  ASSERT_EQ(ps::listen(l, 8), 0);
  peer_listen(91);
  std::atomic<int> accepted{-2}, connected{-2};
  std::thread acceptor([&] { accepted = ps::accept(l, nullptr, nullptr); });
  std::thread connector([&] {
    const int fd = ps::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in to = sin_of(sim::kAddressB, 91);
    connected = ps::connect(fd, reinterpret_cast<sockaddr *>(&to), sizeof to);
  });
  PeerApp app;
  {
    std::lock_guard g(driver_->engine_mutex());
    ASSERT_NE(sim().b().connect(sim::kAddressA, 90, &app), nullptr);
  }
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((accepted.load() == -2 || connected.load() == -2) &&
         std::chrono::steady_clock::now() < give_up) {
    {
      std::lock_guard g(driver_->engine_mutex());
      if (auto t = sim().next_event())
        sim().step(*t);
    }
    std::this_thread::yield();
  }
  acceptor.join();
  connector.join();
  EXPECT_GE(accepted.load(), 0);
  EXPECT_EQ(connected.load(), 0);
}

} // namespace
} // namespace shoal::posix::testing
