// TCP_MAXSEG (OpenOptions::max_segment): the clamp lowers the MSS announced
// in our SYN or SYN-ACK and the largest segment we send, as Linux's user_mss
// does; a listener's clamp holds for every connection it accepts, SYN
// cookies included. The peer's smaller MSS and the timestamp option still
// count as without a clamp.
#include <gtest/gtest.h>

#include "tcp/inspect.hpp"
#include "tcp_harness.hpp"

namespace shoal::tcp::test {
namespace {

// Passive open on a listener with options; returns the SYN-ACK.
Sent open_clamped(Harness &h, Peer &p, Recorder &r, OpenOptions o) {
  EXPECT_TRUE(h.eng->listen(
      p.local_port, [&r](Connection &) -> ConnectionHandler * { return &r; }, o));
  p.send(SYN);
  Sent synack = p.expect(SYN | ACK, "SYN-ACK");
  p.send(ACK);
  return synack;
}

// Writes n bytes and returns the payload sizes of what leaves at once.
std::vector<size_t> segments_of_write(Harness &h, Connection &c, size_t n) {
  EXPECT_EQ(write_str(c, pattern(n)), n);
  h.advance(Duration::zero());
  std::vector<size_t> sizes;
  while (auto s = h.pop())
    sizes.push_back(s->payload.size());
  return sizes;
}

TEST(MaxSegment, ListenerClampsSynAckMssAndSegmentsSent) {
  Harness h;
  Peer p{h};
  p.syn_options.mss = 1460;
  Recorder r;
  Sent synack = open_clamped(h, p, r, OpenOptions{1000});
  ASSERT_TRUE(synack.tcp.options.mss.has_value());
  EXPECT_EQ(*synack.tcp.options.mss, 1000);
  ASSERT_NE(r.conn, nullptr);
  EXPECT_EQ(r.conn->inspect().rcv_mss(), 1000);
  EXPECT_EQ(r.conn->snd_mss(), 1000);
  EXPECT_EQ(segments_of_write(h, *r.conn, 3000), (std::vector<size_t>{1000, 1000, 1000}));
  finish(h, p, r.conn);
}

TEST(MaxSegment, TimestampsComeOffTheClampedMss) {
  Harness h;
  Peer p{h};
  p.syn_options.mss = 1460;
  p.syn_options.timestamp = wire::TcpTimestamp{1, 0};
  Recorder r;
  Sent synack = open_clamped(h, p, r, OpenOptions{1000});
  EXPECT_EQ(synack.tcp.options.mss.value_or(0), 1000);
  ASSERT_NE(r.conn, nullptr);
  EXPECT_EQ(r.conn->snd_mss(), 1000 - 12);
  finish(h, p, r.conn);
}

TEST(MaxSegment, PeerMssBelowTheClampWins) {
  Harness h;
  Peer p{h};
  p.syn_options.mss = 700;
  Recorder r;
  Sent synack = open_clamped(h, p, r, OpenOptions{1000});
  EXPECT_EQ(synack.tcp.options.mss.value_or(0), 1000);
  ASSERT_NE(r.conn, nullptr);
  EXPECT_EQ(r.conn->snd_mss(), 700);
  finish(h, p, r.conn);
}

TEST(MaxSegment, ClampAboveTheMtuChangesNothing) {
  Harness h;
  Peer p{h};
  p.syn_options.mss = 1460;
  Recorder r;
  Sent synack = open_clamped(h, p, r, OpenOptions{9000});
  EXPECT_EQ(synack.tcp.options.mss.value_or(0), 1460);
  ASSERT_NE(r.conn, nullptr);
  EXPECT_EQ(r.conn->snd_mss(), 1460);
  finish(h, p, r.conn);
}

TEST(MaxSegment, ActiveOpenAnnouncesAndSendsWithTheClamp) {
  Harness h;
  Peer p{h};
  p.syn_options.mss = 1460;
  Recorder r;
  Connection *c = h.eng->connect(kRemote, p.port, &r, p.local_port, OpenOptions{600});
  ASSERT_NE(c, nullptr);
  Sent syn = p.expect(SYN, "SYN");
  EXPECT_EQ(syn.tcp.options.mss.value_or(0), 600);
  p.send(SYN | ACK);
  p.expect(ACK, "ACK of SYN-ACK");
  EXPECT_EQ(c->snd_mss(), 600);
  c->set_nodelay(true); // the last, partial segment too
  EXPECT_EQ(segments_of_write(h, *c, 1500), (std::vector<size_t>{600, 600, 300}));
  finish(h, p, c);
}

TEST(MaxSegment, ListenOptionsChangeForLaterConnections) {
  Harness h;
  Recorder r1, r2;
  int accepted = 0;
  ASSERT_TRUE(h.eng->listen(80, [&](Connection &) -> ConnectionHandler * {
    return ++accepted == 1 ? &r1 : &r2;
  }));
  Peer p1{h};
  p1.syn_options.mss = 1460;
  p1.send(SYN);
  EXPECT_EQ(p1.expect(SYN | ACK, "SYN-ACK, no clamp").tcp.options.mss.value_or(0), 1460);
  p1.send(ACK);
  ASSERT_NE(r1.conn, nullptr);

  EXPECT_TRUE(h.eng->set_listen_options(80, OpenOptions{512}));
  EXPECT_FALSE(h.eng->set_listen_options(81, OpenOptions{512})) << "not listening there";
  Peer p2{h};
  p2.port = 5556;
  p2.syn_options.mss = 1460;
  p2.send(SYN);
  EXPECT_EQ(p2.expect(SYN | ACK, "SYN-ACK, clamped").tcp.options.mss.value_or(0), 512);
  p2.send(ACK);
  ASSERT_NE(r2.conn, nullptr);
  EXPECT_EQ(r2.conn->snd_mss(), 512);
  EXPECT_EQ(r1.conn->snd_mss(), 1460) << "an open connection keeps its MSS";
  r1.conn->abort();
  p1.expect(RST | ACK, "abort the first");
  finish(h, p2, r2.conn);
}

TEST(MaxSegment, SynCookieConnectionsKeepTheListenersClamp) {
  EngineConfig cfg = test_config();
  cfg.syn_cookies = EngineConfig::SynCookieMode::always;
  Harness h(cfg);
  Peer p{h};
  p.syn_options.mss = 1460;
  Recorder r;
  Sent synack = open_clamped(h, p, r, OpenOptions{1000});
  EXPECT_EQ(synack.tcp.options.mss.value_or(0), 1000);
  EXPECT_EQ(h.eng->counters()[Counter::syn_cookies_sent], 1u);
  ASSERT_NE(r.conn, nullptr);
  EXPECT_EQ(r.conn->snd_mss(), 1000);
  EXPECT_EQ(r.conn->inspect().rcv_mss(), 1000);
  finish(h, p, r.conn);
}

} // namespace
} // namespace shoal::tcp::test
