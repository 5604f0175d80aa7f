// RACK time-based loss detection (RFC 8985 6): a segment sent before one
// that was delivered is lost once RACK.rtt + RACK.reo_wnd passed since it
// was sent, found by the reordering timer well before the RTO and without
// DupThresh duplicate ACKs; a segment that is only late (reordered within
// the reordering window) is not retransmitted; with the option off the
// sender waits for the RTO.
#include <gtest/gtest.h>

#include "tcp/inspect.hpp"
#include "tcp_harness.hpp"

namespace shoal::tcp::test {
namespace {

using std::chrono::milliseconds;

constexpr Duration kRtt = milliseconds(10);

// The tail loss probe off: it would repair the same loss by itself at
// 2*SRTT and hide what RACK does.
EngineConfig rack_config(bool on = true) {
  EngineConfig cfg = test_config();
  cfg.rack = on;
  cfg.tail_loss_probe = false;
  return cfg;
}

// A duplicate ACK of SND.UNA = s0 SACKing [s0 + from, s0 + to).
void sack(Harness &h, Peer &p, uint32_t s0, uint32_t from, uint32_t to) {
  wire::TcpRepr a = make_seg(p.port, p.local_port, ACK, p.snd_nxt, s0, p.window);
  a.options.sack[a.options.sack_count++] = wire::SackBlock{s0 + from, s0 + to};
  h.inject(a);
}

// Ten segments leave at t0; the first is lost and only the second and third
// are SACKed (two duplicate ACKs, below DupThresh and below RFC 6675's
// IsLost threshold) one RTT later. RACK.rtt = 10 ms, reo_wnd = min_rtt / 4 =
// 2.5 ms: the reordering timer marks the first segment lost 12.5 ms after it
// was sent, and fast recovery resends it, about 190 ms before the RTO.
struct TenInFlight {
  Harness h;
  Peer p{h};
  Recorder r;
  Connection *c = nullptr;
  uint32_t s0 = 0;
  Instant t0{};
  explicit TenInFlight(bool rack) : h(rack_config(rack)) {
    p.syn_options.mss = 1000;
    p.syn_options.sack_permitted = true;
    c = open_with_rtt(h, p, r, kRtt);
    EXPECT_TRUE(c->inspect().sack_permitted());
    EXPECT_EQ(c->inspect().rto(), milliseconds(200));
    s0 = p.rcv_nxt;
    t0 = h.now;
    write_str(*c, pattern(10000));
    for (int i = 0; i < 10; ++i)
      EXPECT_EQ(p.expect(ACK, "flight").tcp.seq, s0 + 1000u * static_cast<uint32_t>(i));
    h.advance(kRtt);
    sack(h, p, s0, 1000, 2000);
    sack(h, p, s0, 1000, 3000);
  }
};

TEST(Rack, LostFirstSegmentRetransmittedByTheReorderingTimer) {
  TenInFlight f(true);
  f.p.expect_none("not yet: sent 10 ms ago, RACK.rtt + reo_wnd is 12.5 ms");
  EXPECT_EQ(f.c->inspect().congestion()->dup_acks(), 2u);
  EXPECT_FALSE(f.c->inspect().congestion()->in_recovery());
  f.h.run_until(f.t0 + milliseconds(12));
  f.p.expect_none("still inside the reordering window");
  f.h.run_until(f.t0 + milliseconds(20));
  Sent rtx = f.p.expect(ACK, "the retransmission");
  EXPECT_EQ(rtx.tcp.seq, f.s0);
  EXPECT_EQ(rtx.payload.size(), 1000u);
  EXPECT_GE(rtx.at - f.t0, milliseconds(12));
  EXPECT_LE(rtx.at - f.t0, milliseconds(14));
  EXPECT_TRUE(f.c->inspect().congestion()->in_recovery());
  EXPECT_EQ(counter(f.h, Counter::rack_recoveries), 1u);
  EXPECT_EQ(counter(f.h, Counter::rack_timeouts), 1u);
  EXPECT_EQ(counter(f.h, Counter::fast_recoveries), 1u);
  EXPECT_EQ(counter(f.h, Counter::rtx_timeouts), 0u);
  // NewReno's response: ssthresh = FlightSize / 2.
  EXPECT_EQ(f.c->inspect().congestion()->ssthresh(), 5000u);
  // Everything arrives with the retransmission: recovery ends.
  f.h.advance(kRtt);
  f.p.send_raw(ACK, f.p.snd_nxt, f.s0 + 10000);
  EXPECT_FALSE(f.c->inspect().congestion()->in_recovery());
  EXPECT_EQ(f.c->send_queued(), 0u);
  finish(f.h, f.p, f.c);
}

// rack=false: two duplicate ACKs are not enough for RFC 6675, so the lost
// segment waits for the RTO (200 ms after it was sent).
TEST(Rack, OffWaitsForTheRto) {
  TenInFlight f(false);
  f.h.run_until(f.t0 + milliseconds(199));
  f.p.expect_none("no retransmission before the RTO");
  f.h.run_until(f.t0 + milliseconds(201));
  Sent rtx = f.p.expect(ACK, "the RTO's retransmission");
  EXPECT_EQ(rtx.tcp.seq, f.s0);
  EXPECT_EQ(counter(f.h, Counter::rtx_timeouts), 1u);
  EXPECT_EQ(counter(f.h, Counter::rack_recoveries), 0u);
  EXPECT_EQ(counter(f.h, Counter::rack_marks), 0u);
  finish(f.h, f.p, f.c);
}

// The first segment was only reordered: its cumulative ACK comes 1 ms after
// the SACKs, inside reo_wnd. Nothing is retransmitted and no recovery
// starts, however long we wait.
TEST(Rack, ReorderedSegmentInsideTheWindowIsNotRetransmitted) {
  TenInFlight f(true);
  f.h.run_until(f.t0 + milliseconds(11));
  f.p.send_raw(ACK, f.p.snd_nxt, f.s0 + 3000);
  f.h.run_until(f.t0 + milliseconds(100));
  f.p.expect_none("no retransmission of a reordered segment");
  EXPECT_EQ(counter(f.h, Counter::rack_marks), 0u);
  EXPECT_EQ(counter(f.h, Counter::fast_recoveries), 0u);
  EXPECT_FALSE(f.c->inspect().congestion()->in_recovery());
  f.p.send_raw(ACK, f.p.snd_nxt, f.s0 + 10000);
  EXPECT_EQ(counter(f.h, Counter::rtx_timeouts), 0u);
  finish(f.h, f.p, f.c);
}

} // namespace
} // namespace shoal::tcp::test
