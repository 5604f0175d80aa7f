// shutdown(SHUT_RD) with Linux's semantics: reading ends only once the queue
// is empty. Data queued before SHUT_RD, or arriving after it, is still
// returned by read(); an empty queue gives 0 at once instead of blocking.
// So an application that reads what it is handed never leaves unread data
// behind, and close() ends the connection with a FIN, not a RST.
#include <fcntl.h>

#include <cstring>

#include "posix_fixture.hpp"

namespace shoal::posix::testing {
namespace {

using ShutdownRead = PosixSimTest;

TEST_F(ShutdownRead, EmptyQueueReadsEndOfStreamAtOnce) {
  const int fd = connected_socket();
  ASSERT_EQ(ps::shutdown(fd, SHUT_RD), 0);
  char buf[8];
  EXPECT_EQ(ps::read(fd, buf, sizeof buf), 0); // blocking socket: does not block
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  EXPECT_EQ(ps::poll(&p, 1, 0), 1);
  EXPECT_TRUE(p.revents & POLLIN);
  EXPECT_TRUE(p.revents & POLLRDHUP);
  EXPECT_EQ(ps::close(fd), 0);
  EXPECT_TRUE(run_until([&] { return peer().peer_closed || peer().closed.has_value(); }));
  EXPECT_TRUE(peer().peer_closed) << "FIN";
  EXPECT_FALSE(peer().closed.has_value()) << "no RST";
}

TEST_F(ShutdownRead, DataArrivingAfterwardsIsReadThenCloseSendsFin) {
  const int fd = connected_socket();
  peer().send("before");
  tcp::Connection *c = conn_of(fd);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(run_until([&] { return c->readable() == 6; }));
  ASSERT_EQ(ps::shutdown(fd, SHUT_RD), 0);
  peer().send("after");
  ASSERT_TRUE(run_until([&] { return c->readable() == 11; }));
  char buf[32];
  ASSERT_EQ(ps::read(fd, buf, sizeof buf), 11) << "data queued after SHUT_RD is still readable";
  EXPECT_EQ(std::string(buf, 11), "beforeafter");
  EXPECT_EQ(ps::read(fd, buf, sizeof buf), 0) << "then end of stream";
  ASSERT_EQ(ps::close(fd), 0);
  EXPECT_TRUE(run_until([&] { return peer().peer_closed || peer().closed.has_value(); }));
  EXPECT_TRUE(peer().peer_closed) << "FIN";
  EXPECT_FALSE(peer().closed.has_value()) << "no RST";
}

TEST_F(ShutdownRead, NonBlockingReadAfterShutdownReturnsQueuedData) {
  const int fd = connected_socket();
  ASSERT_EQ(ps::fcntl(fd, F_SETFL, O_NONBLOCK), 0);
  ASSERT_EQ(ps::shutdown(fd, SHUT_RD), 0);
  peer().send("late");
  tcp::Connection *c = conn_of(fd);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(run_until([&] { return c->readable() == 4; }));
  char buf[8];
  EXPECT_EQ(ps::recv(fd, buf, sizeof buf, MSG_PEEK), 4);
  EXPECT_EQ(ps::read(fd, buf, sizeof buf), 4);
  EXPECT_EQ(std::string(buf, 4), "late");
  EXPECT_EQ(ps::read(fd, buf, sizeof buf), 0);
  ASSERT_EQ(ps::close(fd), 0);
  EXPECT_TRUE(run_until([&] { return peer().peer_closed || peer().closed.has_value(); }));
  EXPECT_TRUE(peer().peer_closed) << "FIN";
  EXPECT_FALSE(peer().closed.has_value()) << "no RST";
}

} // namespace
} // namespace shoal::posix::testing
