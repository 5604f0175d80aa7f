// The POSIX facade against a simulated peer: connect/accept, blocking and
// non-blocking connect, data in both directions, half close, resets,
// SO_LINGER 0, errno on misuse.
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstring>

#include "posix_fixture.hpp"
#include "tcp/inspect.hpp"

namespace shoal::posix::testing {
namespace {

using Socket = PosixSimTest;

TEST_F(Socket, AcceptFillsPeerAddress) {
  const int l = ps::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(l, 0);
  sockaddr_in any = sin_of(wire::Ipv4Addr::any(), 8080);
  ASSERT_EQ(ps::bind(l, reinterpret_cast<sockaddr *>(&any), sizeof any), 0);
  ASSERT_EQ(ps::listen(l, 16), 0);
  PeerApp app;
  tcp::Connection *c = sim().b().connect(sim::kAddressA, 8080, &app, 41000);
  ASSERT_NE(c, nullptr);
  sockaddr_in peer{};
  socklen_t len = sizeof peer;
  const int fd = ps::accept(l, reinterpret_cast<sockaddr *>(&peer), &len); // pumps the simulation
  ASSERT_GE(fd, 0) << std::strerror(errno);
  EXPECT_EQ(len, sizeof peer);
  EXPECT_EQ(peer.sin_family, AF_INET);
  EXPECT_EQ(wire::Ipv4Addr::from_be(peer.sin_addr.s_addr), sim::kAddressB);
  EXPECT_EQ(ntohs(peer.sin_port), 41000);
  sockaddr_in self{};
  len = sizeof self;
  ASSERT_EQ(ps::getsockname(fd, reinterpret_cast<sockaddr *>(&self), &len), 0);
  EXPECT_EQ(wire::Ipv4Addr::from_be(self.sin_addr.s_addr), sim::kAddressA);
  EXPECT_EQ(ntohs(self.sin_port), 8080);
  EXPECT_TRUE(run_until([&] { return app.connected; }));
  // Nothing else waiting: a non-blocking accept says so.
  ASSERT_EQ(ps::fcntl(l, F_SETFL, O_NONBLOCK), 0);
  EXPECT_EQ(ps::fcntl(l, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
  EXPECT_EQ(ps::accept(l, nullptr, nullptr), -1);
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_EQ(ps::close(fd), 0);
  EXPECT_EQ(ps::close(l), 0);
  EXPECT_TRUE(run_until([&] { return app.peer_closed; }));
}

TEST_F(Socket, BlockingConnectAndNames) {
  const int fd = connected_socket(80);
  sockaddr_in peer{};
  socklen_t len = sizeof peer;
  ASSERT_EQ(ps::getpeername(fd, reinterpret_cast<sockaddr *>(&peer), &len), 0);
  EXPECT_EQ(wire::Ipv4Addr::from_be(peer.sin_addr.s_addr), sim::kAddressB);
  EXPECT_EQ(ntohs(peer.sin_port), 80);
  ASSERT_NE(conn_of(fd), nullptr);
  EXPECT_EQ(conn_of(fd)->state(), tcp::State::established);
  int err = -1;
  socklen_t el = sizeof err;
  ASSERT_EQ(ps::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el), 0);
  EXPECT_EQ(err, 0);
  sockaddr_in to = sin_of(sim::kAddressB, 80);
  EXPECT_EQ(ps::connect(fd, reinterpret_cast<sockaddr *>(&to), sizeof to), -1);
  EXPECT_EQ(errno, EISCONN);
}

TEST_F(Socket, BlockingConnectRefused) {
  const int fd = ps::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in to = sin_of(sim::kAddressB, 81); // nobody listens
  EXPECT_EQ(ps::connect(fd, reinterpret_cast<sockaddr *>(&to), sizeof to), -1);
  EXPECT_EQ(errno, ECONNREFUSED);
}

TEST_F(Socket, NonBlockingConnectInProgressThenSoError) {
  peer_listen(80);
  const int fd = ps::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in to = sin_of(sim::kAddressB, 80);
  ASSERT_EQ(ps::connect(fd, reinterpret_cast<sockaddr *>(&to), sizeof to), -1);
  EXPECT_EQ(errno, EINPROGRESS);
  EXPECT_EQ(ps::connect(fd, reinterpret_cast<sockaddr *>(&to), sizeof to), -1);
  EXPECT_EQ(errno, EALREADY);
  char b;
  EXPECT_EQ(ps::write(fd, "x", 1), -1);
  EXPECT_EQ(errno, EAGAIN); // not connected yet
  pollfd p{fd, POLLOUT, 0};
  ASSERT_EQ(ps::poll(&p, 1, 1000), 1); // pumps until the handshake is done
  EXPECT_TRUE(p.revents & POLLOUT);
  EXPECT_FALSE(p.revents & POLLERR);
  int err = -1;
  socklen_t el = sizeof err;
  ASSERT_EQ(ps::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el), 0);
  EXPECT_EQ(err, 0);
  EXPECT_EQ(ps::read(fd, &b, 1), -1);
  EXPECT_EQ(errno, EAGAIN);
}

TEST_F(Socket, NonBlockingConnectRefusedReportsSoError) {
  const int fd = ps::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in to = sin_of(sim::kAddressB, 81);
  ASSERT_EQ(ps::connect(fd, reinterpret_cast<sockaddr *>(&to), sizeof to), -1);
  EXPECT_EQ(errno, EINPROGRESS);
  pollfd p{fd, POLLOUT, 0};
  ASSERT_EQ(ps::poll(&p, 1, 1000), 1);
  EXPECT_TRUE(p.revents & POLLERR);
  EXPECT_TRUE(p.revents & POLLHUP);
  int err = 0;
  socklen_t el = sizeof err;
  ASSERT_EQ(ps::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el), 0);
  EXPECT_EQ(err, ECONNREFUSED);
  ASSERT_EQ(ps::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el), 0);
  EXPECT_EQ(err, 0); // reported once
}

TEST_F(Socket, ReadWriteRoundTripPeekAndFionread) {
  const int fd = connected_socket();
  ASSERT_EQ(ps::write(fd, "hello ", 6), 6);
  const char *parts[] = {"vectored ", "world"};
  iovec wv[2] = {{const_cast<char *>(parts[0]), 9}, {const_cast<char *>(parts[1]), 5}};
  ASSERT_EQ(ps::writev(fd, wv, 2), 14);
  ASSERT_EQ(ps::send(fd, "!", 1, MSG_NOSIGNAL), 1);
  EXPECT_TRUE(run_until([&] { return peer().received.size() == 21; }));
  EXPECT_EQ(peer().received, "hello vectored world!");

  peer().send("0123456789");
  EXPECT_TRUE(run_until([&] {
    int n = 0;
    return ps::ioctl(fd, FIONREAD, &n) == 0 && n == 10;
  }));
  int inq = 0;
  ASSERT_EQ(ps::ioctl(fd, SIOCINQ, &inq), 0);
  EXPECT_EQ(inq, 10);
  char buf[16] = {};
  ASSERT_EQ(ps::recv(fd, buf, 4, MSG_PEEK), 4);
  EXPECT_EQ(std::string(buf, 4), "0123");
  ASSERT_EQ(ps::read(fd, buf, 3), 3); // the peek consumed nothing
  EXPECT_EQ(std::string(buf, 3), "012");
  char a[2], b[3];
  iovec rv[2] = {{a, sizeof a}, {b, sizeof b}};
  ASSERT_EQ(ps::readv(fd, rv, 2), 5);
  EXPECT_EQ(std::string(a, 2) + std::string(b, 3), "34567");
  ASSERT_EQ(ps::recv(fd, buf, sizeof buf, MSG_DONTWAIT), 2);
  EXPECT_EQ(std::string(buf, 2), "89");
  EXPECT_EQ(ps::recv(fd, buf, sizeof buf, MSG_DONTWAIT), -1);
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_EQ(ps::ioctl(fd, FIONREAD, &inq), 0);
  EXPECT_EQ(inq, 0);
}

TEST_F(Socket, BlockingReadWaitsForData) {
  const int fd = connected_socket();
  sim().after(200ms, [&] { peer().send("late"); });
  char buf[8];
  const Instant before = sim().now();
  ASSERT_EQ(ps::read(fd, buf, sizeof buf), 4); // pumps the simulation until it arrives
  EXPECT_EQ(std::string(buf, 4), "late");
  EXPECT_GE(sim().now() - before, 200ms);
}

TEST_F(Socket, PeerFinReadsZeroAfterData) {
  const int fd = connected_socket();
  peer().send("bye");
  peer().conn->shutdown_write();
  char buf[8];
  ASSERT_EQ(ps::read(fd, buf, sizeof buf), 3);
  EXPECT_EQ(ps::read(fd, buf, sizeof buf), 0);
  EXPECT_EQ(ps::read(fd, buf, sizeof buf), 0);
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  EXPECT_EQ(ps::poll(&p, 1, 0), 1);
  EXPECT_TRUE(p.revents & POLLRDHUP);
  // Half close: we can still send.
  ASSERT_EQ(ps::write(fd, "more", 4), 4);
  EXPECT_TRUE(run_until([&] { return peer().received == "more"; }));
  ASSERT_EQ(ps::close(fd), 0);
  EXPECT_TRUE(run_until([&] { return peer().closed.has_value(); }));
  EXPECT_EQ(*peer().closed, tcp::CloseReason::normal);
}

TEST_F(Socket, ShutdownWriteSendsFinThenEpipe) {
  const int fd = connected_socket();
  ASSERT_EQ(ps::shutdown(fd, SHUT_WR), 0);
  EXPECT_TRUE(run_until([&] { return peer().peer_closed; }));
  EXPECT_EQ(ps::write(fd, "x", 1), -1);
  EXPECT_EQ(errno, EPIPE);
  peer().send("still");
  char buf[8];
  ASSERT_EQ(ps::read(fd, buf, sizeof buf), 5); // the read side stays open
  EXPECT_EQ(std::string(buf, 5), "still");
  ASSERT_EQ(ps::shutdown(fd, SHUT_RD), 0);
  EXPECT_EQ(ps::read(fd, buf, sizeof buf), 0);
  EXPECT_EQ(ps::shutdown(fd, 7), -1);
  EXPECT_EQ(errno, EINVAL);
}

TEST_F(Socket, PeerResetGivesEconnresetThenEpipe) {
  const int fd = connected_socket();
  peer().conn->abort();
  char buf[4];
  EXPECT_EQ(ps::read(fd, buf, sizeof buf), -1); // pumps until the RST lands
  EXPECT_EQ(errno, ECONNRESET);
  EXPECT_EQ(ps::write(fd, "x", 1), -1);
  EXPECT_EQ(errno, EPIPE);
  pollfd p{fd, POLLIN | POLLOUT, 0};
  EXPECT_EQ(ps::poll(&p, 1, 0), 1);
  EXPECT_TRUE(p.revents & POLLHUP);
}

TEST_F(Socket, ResetSeenByWriteFirst) {
  const int fd = connected_socket();
  peer().conn->abort();
  EXPECT_TRUE(run_until([&] { return conn_of(fd) == nullptr; }));
  EXPECT_EQ(ps::write(fd, "x", 1), -1);
  EXPECT_EQ(errno, ECONNRESET);
  EXPECT_EQ(ps::write(fd, "x", 1), -1);
  EXPECT_EQ(errno, EPIPE);
}

TEST_F(Socket, LingerZeroCloseSendsRst) {
  const int fd = connected_socket();
  linger l{1, 0};
  ASSERT_EQ(ps::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
  linger got{};
  socklen_t len = sizeof got;
  ASSERT_EQ(ps::getsockopt(fd, SOL_SOCKET, SO_LINGER, &got, &len), 0);
  EXPECT_EQ(got.l_onoff, 1);
  EXPECT_EQ(got.l_linger, 0);
  ASSERT_EQ(ps::close(fd), 0);
  EXPECT_TRUE(run_until([&] { return peer().closed.has_value(); }));
  EXPECT_EQ(*peer().closed, tcp::CloseReason::reset);
  EXPECT_EQ(sim().a().time_wait_count(), 0u);
}

TEST_F(Socket, GracefulCloseSendsFin) {
  const int fd = connected_socket();
  ASSERT_EQ(ps::close(fd), 0);
  EXPECT_TRUE(run_until([&] { return peer().peer_closed; }));
  EXPECT_FALSE(peer().closed.has_value());
  peer().conn->close();
  EXPECT_TRUE(run_until([&] { return peer().closed.has_value(); }));
  EXPECT_EQ(*peer().closed, tcp::CloseReason::normal);
  EXPECT_EQ(ps::close(fd), -1);
  EXPECT_EQ(errno, EBADF);
}

TEST_F(Socket, AddressInUse) {
  const int a = ps::socket(AF_INET, SOCK_STREAM, 0);
  const int b = ps::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = sin_of(sim::kAddressA, 9000);
  ASSERT_EQ(ps::bind(a, reinterpret_cast<sockaddr *>(&addr), sizeof addr), 0);
  EXPECT_EQ(ps::bind(a, reinterpret_cast<sockaddr *>(&addr), sizeof addr), -1);
  EXPECT_EQ(errno, EINVAL); // already bound
  EXPECT_EQ(ps::bind(b, reinterpret_cast<sockaddr *>(&addr), sizeof addr), -1);
  EXPECT_EQ(errno, EADDRINUSE);
  // Both with SO_REUSEADDR and neither listening: allowed.
  const int one = 1;
  const int c = ps::socket(AF_INET, SOCK_STREAM, 0);
  const int d = ps::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr2 = sin_of(wire::Ipv4Addr::any(), 9001);
  ASSERT_EQ(ps::setsockopt(c, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
  ASSERT_EQ(ps::setsockopt(d, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
  ASSERT_EQ(ps::bind(c, reinterpret_cast<sockaddr *>(&addr2), sizeof addr2), 0);
  ASSERT_EQ(ps::bind(d, reinterpret_cast<sockaddr *>(&addr2), sizeof addr2), 0);
  ASSERT_EQ(ps::listen(c, 4), 0);
  EXPECT_EQ(ps::listen(d, 4), -1);
  EXPECT_EQ(errno, EADDRINUSE);
  // An address that is not ours.
  sockaddr_in other = sin_of(sim::kAddressB, 9002);
  EXPECT_EQ(ps::bind(b, reinterpret_cast<sockaddr *>(&other), sizeof other), -1);
  EXPECT_EQ(errno, EADDRNOTAVAIL);
  // The port comes free with the close.
  ASSERT_EQ(ps::close(a), 0);
  EXPECT_EQ(ps::bind(b, reinterpret_cast<sockaddr *>(&addr), sizeof addr), 0);
}

TEST_F(Socket, ErrnoOnMisuse) {
  const int fd = ps::socket(AF_INET, SOCK_STREAM, 0);
  char buf[4];
  EXPECT_EQ(ps::read(fd, buf, sizeof buf), -1);
  EXPECT_EQ(errno, ENOTCONN);
  EXPECT_EQ(ps::write(fd, "x", 1), -1);
  EXPECT_EQ(errno, ENOTCONN);
  EXPECT_EQ(ps::shutdown(fd, SHUT_WR), -1);
  EXPECT_EQ(errno, ENOTCONN);
  sockaddr_in peer{};
  socklen_t len = sizeof peer;
  EXPECT_EQ(ps::getpeername(fd, reinterpret_cast<sockaddr *>(&peer), &len), -1);
  EXPECT_EQ(errno, ENOTCONN);
  EXPECT_EQ(ps::accept(fd, nullptr, nullptr), -1);
  EXPECT_EQ(errno, EINVAL); // not listening
  EXPECT_EQ(ps::read(12345, buf, 1), -1);
  EXPECT_EQ(errno, EBADF);
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  EXPECT_EQ(ps::read(pipefd[0], buf, 1), -1);
  EXPECT_EQ(errno, ENOTSOCK);
  ::close(pipefd[0]);
  ::close(pipefd[1]);
  EXPECT_EQ(ps::socket(AF_INET6, SOCK_STREAM, 0), -1);
  EXPECT_EQ(errno, EAFNOSUPPORT);
  EXPECT_EQ(ps::socket(AF_INET, SOCK_DGRAM, 0), -1);
  EXPECT_EQ(errno, EPROTONOSUPPORT);
  int v = 1;
  EXPECT_EQ(ps::setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &v, sizeof v), -1);
  EXPECT_EQ(errno, ENOPROTOOPT);
  EXPECT_EQ(ps::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &v, 2), -1);
  EXPECT_EQ(errno, EINVAL);
  // The descriptor is a real kernel one: nobody else gets its number.
  EXPECT_NE(::fcntl(fd, F_GETFD), -1);
  EXPECT_TRUE(ps::is_socket(fd));
  ASSERT_EQ(ps::close(fd), 0);
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1);
}

TEST_F(Socket, SocketOptionsReachTheConnection) {
  const int fd = ps::socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  // Set before the connection exists: applied when it does.
  ASSERT_EQ(ps::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
  const int ut = 7000;
  ASSERT_EQ(ps::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof ut), 0);
  peer_listen(80);
  sockaddr_in to = sin_of(sim::kAddressB, 80);
  ASSERT_EQ(ps::connect(fd, reinterpret_cast<sockaddr *>(&to), sizeof to), 0);
  tcp::Connection *c = conn_of(fd);
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->nodelay());
  EXPECT_EQ(c->user_timeout(), 7000ms);
  // Set afterwards: applied at once.
  const int idle = 30, intvl = 5, cnt = 3, rcvbuf = 100000, sndbuf = 50000;
  ASSERT_EQ(ps::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle), 0);
  ASSERT_EQ(ps::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl), 0);
  ASSERT_EQ(ps::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt), 0);
  ASSERT_EQ(ps::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one), 0);
  ASSERT_EQ(ps::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
  ASSERT_EQ(ps::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf), 0);
  const int zero = 0;
  ASSERT_EQ(ps::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &zero, sizeof zero), 0);
  EXPECT_TRUE(c->keepalive());
  EXPECT_EQ(c->receive_buffer(), 100000u);
  EXPECT_EQ(c->send_buffer(), 50000u);
  EXPECT_FALSE(c->nodelay());
  auto get = [&](int level, int name) {
    int v = -1;
    socklen_t len = sizeof v;
    EXPECT_EQ(ps::getsockopt(fd, level, name, &v, &len), 0);
    EXPECT_EQ(len, sizeof v);
    return v;
  };
  EXPECT_EQ(get(SOL_SOCKET, SO_KEEPALIVE), 1);
  EXPECT_EQ(get(IPPROTO_TCP, TCP_KEEPIDLE), 30);
  EXPECT_EQ(get(IPPROTO_TCP, TCP_KEEPINTVL), 5);
  EXPECT_EQ(get(IPPROTO_TCP, TCP_KEEPCNT), 3);
  EXPECT_EQ(get(IPPROTO_TCP, TCP_USER_TIMEOUT), 7000);
  EXPECT_EQ(get(IPPROTO_TCP, TCP_NODELAY), 0);
  EXPECT_EQ(get(SOL_SOCKET, SO_RCVBUF), 100000);
  EXPECT_EQ(get(SOL_SOCKET, SO_SNDBUF), 50000);
  EXPECT_EQ(get(IPPROTO_TCP, TCP_MAXSEG), c->snd_mss());
  EXPECT_EQ(get(SOL_SOCKET, SO_TYPE), SOCK_STREAM);
  // Keepalive really runs on the connection: idle 30 s, then 3 probes 5 s apart.
  EXPECT_TRUE(run_until([&] { return c->inspect().keepalive_probes_sent() > 0; }, 40s));
}

TEST_F(Socket, AcceptedSocketInheritsListenerOptions) {
  const int l = ps::socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  ASSERT_EQ(ps::setsockopt(l, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
  sockaddr_in any = sin_of(wire::Ipv4Addr::any(), 7000);
  ASSERT_EQ(ps::bind(l, reinterpret_cast<sockaddr *>(&any), sizeof any), 0);
  ASSERT_EQ(ps::listen(l, 4), 0);
  PeerApp app;
  ASSERT_NE(sim().b().connect(sim::kAddressA, 7000, &app), nullptr);
  const int fd = ps::accept4(l, nullptr, nullptr, SOCK_NONBLOCK);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(ps::fcntl(fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
  ASSERT_NE(conn_of(fd), nullptr);
  EXPECT_TRUE(conn_of(fd)->nodelay());
}

TEST_F(Socket, TcpCorkReachesTheConnection) {
  const int fd = ps::socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1, zero = 0;
  auto get = [&] {
    int v = -1;
    socklen_t len = sizeof v;
    EXPECT_EQ(ps::getsockopt(fd, IPPROTO_TCP, TCP_CORK, &v, &len), 0);
    return v;
  };
  ASSERT_EQ(ps::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &one, sizeof one), 0);
  EXPECT_EQ(get(), 1);
  peer_listen(80);
  sockaddr_in to = sin_of(sim::kAddressB, 80);
  ASSERT_EQ(ps::connect(fd, reinterpret_cast<sockaddr *>(&to), sizeof to), 0);
  tcp::Connection *c = conn_of(fd);
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->cork()) << "set before the connection: applied when it exists";
  ASSERT_EQ(ps::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &zero, sizeof zero), 0);
  EXPECT_FALSE(c->cork());
  EXPECT_EQ(get(), 0);
}

TEST_F(Socket, BacklogFullPausesAcceptingUntilAccept) {
  const int l = ps::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in any = sin_of(wire::Ipv4Addr::any(), 7001);
  ASSERT_EQ(ps::bind(l, reinterpret_cast<sockaddr *>(&any), sizeof any), 0);
  ASSERT_EQ(ps::listen(l, 1), 0);
  PeerApp a, b;
  ASSERT_NE(sim().b().connect(sim::kAddressA, 7001, &a), nullptr);
  ASSERT_NE(sim().b().connect(sim::kAddressA, 7001, &b), nullptr);
  EXPECT_TRUE(run_until([&] { return a.connected && b.connected; }));
  sim().run_for(100ms);
  EXPECT_EQ(sim().a().accept_queue_length(7001), 1u); // the second waits in the engine
  const int f1 = ps::accept(l, nullptr, nullptr);
  const int f2 = ps::accept(l, nullptr, nullptr);
  EXPECT_GE(f1, 0);
  EXPECT_GE(f2, 0);
  EXPECT_EQ(sim().a().accept_queue_length(7001), 0u);
  b.send("to the second");
  char buf[32];
  ASSERT_EQ(ps::read(f2, buf, sizeof buf), 13);
}

TEST_F(Socket, ClosingListenerResetsUnacceptedConnections) {
  const int l = ps::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in any = sin_of(wire::Ipv4Addr::any(), 7002);
  ASSERT_EQ(ps::bind(l, reinterpret_cast<sockaddr *>(&any), sizeof any), 0);
  ASSERT_EQ(ps::listen(l, 8), 0);
  PeerApp a;
  ASSERT_NE(sim().b().connect(sim::kAddressA, 7002, &a), nullptr);
  EXPECT_TRUE(run_until([&] { return a.connected; }));
  ASSERT_EQ(ps::close(l), 0);
  EXPECT_TRUE(run_until([&] { return a.closed.has_value(); }));
  EXPECT_EQ(*a.closed, tcp::CloseReason::reset);
}

} // namespace
} // namespace shoal::posix::testing
