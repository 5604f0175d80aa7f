// Window updates as the peer sees them (RFC 1122 4.2.3.3, RFC 9293
// 3.8.6.2.2): a pure ACK announcing a reopened window goes out only when the
// window the peer can be shown -- after scaling and the 16-bit field's clamp
// -- grows by min(RCV.BUFF / 2, MSS). A buffer larger than a connection
// without window scaling can show must not turn every read into an ACK
// identical to the previous one (a duplicate ACK to the peer, RFC 5681 2).
#include <gtest/gtest.h>

#include "tcp/inspect.hpp"
#include "tcp_harness.hpp"

namespace shoal::tcp::test {
namespace {

using std::chrono::milliseconds;

EngineConfig big_buffer_config() {
  EngineConfig cfg = test_config();
  cfg.rcv_buf = 256 * 1024; // more than 65535 can show without window scaling
  return cfg;
}

TEST(WindowUpdate, NoDuplicateAckPerReadWithoutWindowScaling) {
  Harness h{big_buffer_config()};
  Peer p{h};
  p.syn_options.mss = 1460; // no window scale option: the field shows at most 65535
  Recorder r;               // reads everything at once (consume())
  Connection *c = open_passive(h, p, r);
  ASSERT_FALSE(c->inspect().window_scaling());
  // Request-sized segments, each read as it arrives: the window the peer
  // sees stays 65535 after every read, so no read is worth an ACK of its own.
  for (int i = 0; i < 20; ++i) {
    p.send(ACK | PSH, pattern(200, static_cast<size_t>(i) * 200));
    p.expect_none("no window update: the peer would see the same 65535 again");
    h.advance(milliseconds(40));
    Sent a = p.expect(ACK, "delayed ACK");
    EXPECT_EQ(a.tcp.ack, p.snd_nxt);
    EXPECT_EQ(a.tcp.window, 65535);
  }
  EXPECT_EQ(r.received, pattern(20 * 200));
  EXPECT_EQ(h.eng->counters()[Counter::window_updates], 0u);
  finish(h, p, c);
}

TEST(WindowUpdate, ReopenedWindowStillAnnouncedWithoutWindowScaling) {
  Harness h{big_buffer_config()};
  Peer p{h};
  p.syn_options.mss = 1460;
  Recorder r;
  r.consume = false;
  Connection *c = open_passive(h, p, r);
  ASSERT_FALSE(c->inspect().window_scaling());
  // The peer sends as far as each ACK lets it until the window is closed;
  // nothing is read.
  uint32_t edge = p.snd_nxt + 65535;
  Sent last;
  for (int guard = 0; guard < 1000; ++guard) {
    if (p.snd_nxt == edge) {
      if (last.tcp.window == 0)
        break;
      h.advance(milliseconds(40)); // the delayed ACK moves the edge
    } else {
      p.send(ACK, pattern(std::min<uint32_t>(1460, edge - p.snd_nxt)));
    }
    while (auto s = h.pop()) {
      last = *s;
      edge = last.tcp.ack + last.tcp.window;
    }
  }
  ASSERT_EQ(last.tcp.window, 0) << last.str();
  EXPECT_EQ(last.tcp.ack, p.snd_nxt);
  EXPECT_EQ(h.eng->counters()[Counter::window_updates], 0u);
  // Reading a little shows a silly window: no update (what was left below
  // one MSS when the window closed, plus 100 bytes, is still below it).
  c->consume(100);
  p.expect_none("100 bytes reopened: below one MSS");
  // Reading the rest reopens the whole visible window: one update.
  c->consume(c->readable());
  Sent u = p.expect(ACK, "window update");
  EXPECT_EQ(u.tcp.window, 65535);
  EXPECT_EQ(h.eng->counters()[Counter::window_updates], 1u);
  finish(h, p, c);
}

TEST(WindowUpdate, ScaledWindowSmallReadsWaitForTheDelayedAck) {
  EngineConfig cfg = big_buffer_config();
  Harness h{cfg};
  Peer p{h};
  p.syn_options.mss = 1460;
  p.syn_options.window_scale = 7;
  Recorder r;
  Connection *c = open_passive(h, p, r);
  ASSERT_TRUE(c->inspect().window_scaling());
  // The SYN-ACK could offer only 65535 (never scaled): the first read opens
  // the window to the whole buffer, worth an update.
  p.send(ACK | PSH, pattern(300));
  Sent u = p.expect(ACK, "window update: 65535 -> 256 KiB");
  EXPECT_EQ(uint32_t{u.tcp.window} << c->inspect().rcv_wscale(), 256u * 1024);
  // From then on the whole buffer shows: small reads leave the window the
  // peer sees above half of it, so they wait for the delayed ACK.
  for (int i = 1; i < 6; ++i) {
    p.send(ACK | PSH, pattern(300, static_cast<size_t>(i) * 300));
    p.expect_none("small read: no window update");
    h.advance(milliseconds(40));
    p.expect(ACK, "delayed ACK");
  }
  EXPECT_EQ(h.eng->counters()[Counter::window_updates], 1u);
  finish(h, p, c);
}

// The two receiver-side silly window avoidance rules (RFC 9293 3.8.6.2.2,
// RFC 1122 4.2.3.3), on a 65,700-byte buffer without window scaling after
// 1,000 bytes that the application has not read. The RFC's (the default):
// the right edge offered in the SYN-ACK (65,535 from RCV.NXT) stays, since
// the free space passes it by less than min(RCV.BUFF / 2, MSS). BSD's
// (rcv_window_hold_back = false): each segment offers the free space.
uint16_t window_after_unread(bool hold_back) {
  EngineConfig cfg = test_config();
  cfg.rcv_buf = 65700;
  cfg.rcv_window_hold_back = hold_back;
  Harness h{cfg};
  Peer p{h};
  p.syn_options.mss = 1460;
  Recorder r;
  r.consume = false;
  Connection *c = open_passive(h, p, r);
  EXPECT_FALSE(c->inspect().window_scaling());
  p.send(ACK, pattern(1000));
  h.advance(milliseconds(40));
  Sent a = p.expect(ACK, "delayed ACK");
  EXPECT_EQ(a.tcp.ack, p.snd_nxt);
  finish(h, p, c);
  return a.tcp.window;
}

TEST(ReceiveWindow, TheRfcRuleHoldsTheRightEdgeUntilItCanMoveAnMss) {
  EXPECT_EQ(window_after_unread(true), 65535 - 1000);
}

TEST(ReceiveWindow, TheBsdRuleOffersTheFreeSpaceInEverySegment) {
  EXPECT_EQ(window_after_unread(false), 65700 - 1000);
}

} // namespace
} // namespace shoal::tcp::test
