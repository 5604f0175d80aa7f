// Receiving data: reassembly of out-of-order segments (order 5-4-3-2-1),
// duplicates and overlaps, SACK blocks, delayed ACK timing, the receive
// window from buffer memory (tiny segments), window updates, SYN text,
// PAWS, zero-copy receive, D-SACK. Each test reads like a packet trace.
#include <gtest/gtest.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "tcp/inspect.hpp"
#include "tcp_harness.hpp"

namespace shoal::tcp::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string readable_text(const Connection &c) {
  std::string s;
  c.for_each_readable([&](std::span<const uint8_t> b) { s.append(b.begin(), b.end()); });
  return s;
}

TEST(Reassembly, ArrivalOrder54321) {
  Harness h;
  Peer p{h};
  p.syn_options.sack_permitted = true;
  Recorder r;
  r.consume = false;
  Connection *c = open_passive(h, p, r);
  ASSERT_TRUE(c->inspect().sack_permitted());
  const uint32_t base = p.snd_nxt;
  constexpr uint32_t L = 100;
  const std::string all = pattern(5 * L);
  // Segments 5, 4, 3, 2: each is queued and answered at once with a
  // duplicate ACK whose first SACK block covers everything received.
  for (uint32_t i = 4; i >= 1; --i) {
    p.send_raw(ACK, base + i * L, p.rcv_nxt, all.substr(i * L, L));
    Sent a = p.expect(ACK, "immediate duplicate ACK");
    EXPECT_EQ(a.tcp.ack, base);
    ASSERT_EQ(a.tcp.options.sack_count, 1);
    EXPECT_EQ(a.tcp.options.sack[0].left, base + i * L);
    EXPECT_EQ(a.tcp.options.sack[0].right, base + 5 * L);
    EXPECT_EQ(c->readable(), 0u);
    EXPECT_EQ(c->inspect().ooo_bytes(), (5 - i) * L);
  }
  EXPECT_EQ(r.events, std::vector<std::string>{"connected"});
  // Segment 1 fills the hole: everything is readable, in order, and the ACK
  // (immediate: a hole was filled) covers all of it without SACK blocks.
  p.send_raw(ACK, base, p.rcv_nxt, all.substr(0, L));
  Sent a = p.expect(ACK, "ACK of the filled hole");
  EXPECT_EQ(a.tcp.ack, base + 5 * L);
  EXPECT_EQ(a.tcp.options.sack_count, 0);
  EXPECT_EQ(c->readable(), 5 * L);
  EXPECT_EQ(c->inspect().ooo_bytes(), 0u);
  EXPECT_EQ(readable_text(*c), all);
  EXPECT_EQ(r.events, (std::vector<std::string>{"connected", "readable"}));
  EXPECT_EQ(h.eng->counters()[Counter::ooo_segments], 4u);
  finish(h, p, c);
}

TEST(Reassembly, SackBlocksListTheMostRecentFirst) {
  Harness h;
  Peer p{h};
  p.syn_options.sack_permitted = true;
  Recorder r;
  r.consume = false;
  Connection *c = open_passive(h, p, r);
  const uint32_t b = p.snd_nxt;
  // Three separate islands: 100-200, 300-400, 500-600 (RFC 2018 4: the
  // block holding the newest segment first, then the recently reported).
  p.send_raw(ACK, b + 100, p.rcv_nxt, pattern(100, 100));
  p.expect(ACK);
  p.send_raw(ACK, b + 500, p.rcv_nxt, pattern(100, 500));
  p.expect(ACK);
  p.send_raw(ACK, b + 300, p.rcv_nxt, pattern(100, 300));
  Sent a = p.expect(ACK);
  ASSERT_EQ(a.tcp.options.sack_count, 3);
  EXPECT_EQ(a.tcp.options.sack[0], (wire::SackBlock{b + 300, b + 400}));
  EXPECT_EQ(a.tcp.options.sack[1], (wire::SackBlock{b + 500, b + 600}));
  EXPECT_EQ(a.tcp.options.sack[2], (wire::SackBlock{b + 100, b + 200}));
  // Filling 0-100 and 200-300 joins the first two islands.
  p.send_raw(ACK, b, p.rcv_nxt, pattern(100, 0));
  a = p.expect(ACK);
  EXPECT_EQ(a.tcp.ack, b + 200);
  p.send_raw(ACK, b + 200, p.rcv_nxt, pattern(100, 200));
  a = p.expect(ACK);
  EXPECT_EQ(a.tcp.ack, b + 400);
  ASSERT_EQ(a.tcp.options.sack_count, 1);
  EXPECT_EQ(a.tcp.options.sack[0], (wire::SackBlock{b + 500, b + 600}));
  EXPECT_EQ(readable_text(*c), pattern(400));
  finish(h, p, c);
}

TEST(Reassembly, DuplicatesAndOverlapsAreTrimmed) {
  Harness h;
  Peer p{h};
  Recorder r;
  r.consume = false;
  Connection *c = open_passive(h, p, r);
  const uint32_t b = p.snd_nxt;
  const std::string all = pattern(400);
  p.send_raw(ACK, b, p.rcv_nxt, all.substr(0, 100));
  // Overlaps what was delivered: only 100-150 is new.
  p.send_raw(ACK, b + 50, p.rcv_nxt, all.substr(50, 100));
  EXPECT_EQ(c->readable(), 150u);
  EXPECT_EQ(h.eng->counters()[Counter::dup_data_in], 1u);
  h.out.queue.clear();
  // Out of order 300-400, then 250-350 overlapping its front, then 300-400 again.
  p.send_raw(ACK, b + 300, p.rcv_nxt, all.substr(300, 100));
  p.send_raw(ACK, b + 250, p.rcv_nxt, all.substr(250, 100));
  EXPECT_EQ(c->inspect().ooo_bytes(), 150u);
  p.send_raw(ACK, b + 300, p.rcv_nxt, all.substr(300, 100));
  EXPECT_EQ(c->inspect().ooo_bytes(), 150u);
  EXPECT_EQ(h.eng->counters()[Counter::ooo_duplicates], 1u);
  for (int i = 0; i < 3; ++i) {
    Sent a = p.expect(ACK, "each out-of-order arrival is ACKed at once");
    EXPECT_EQ(a.tcp.ack, b + 150);
  }
  // Entirely old data: not acceptable, answered with an ACK.
  p.send_raw(ACK, b, p.rcv_nxt, all.substr(0, 100));
  EXPECT_EQ(p.expect(ACK, "ACK of old data").tcp.ack, b + 150);
  // 140-260 fills the hole, overlapping both sides.
  p.send_raw(ACK, b + 140, p.rcv_nxt, all.substr(140, 120));
  EXPECT_EQ(p.expect(ACK, "hole filled").tcp.ack, b + 400);
  EXPECT_EQ(readable_text(*c), all);
  finish(h, p, c);
}

TEST(Reassembly, FinBeyondAHoleWaitsForIt) {
  Harness h;
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  const uint32_t b = p.snd_nxt;
  p.send_raw(FIN | ACK, b + 100, p.rcv_nxt, pattern(50, 100));
  p.expect(ACK, "dup ACK");
  EXPECT_EQ(c->state(), State::established);
  p.send_raw(ACK, b, p.rcv_nxt, pattern(100));
  Sent a = p.expect(ACK);
  EXPECT_EQ(a.tcp.ack, b + 151); // data and FIN
  EXPECT_EQ(c->state(), State::close_wait);
  EXPECT_EQ(r.received, pattern(150));
  EXPECT_EQ(r.events, (std::vector<std::string>{"connected", "readable", "peer_closed"}));
  finish(h, p, c);
}

TEST(Reassembly, ABareFinBeyondAHoleIsAckedAndWaitsForIt) {
  Harness h;
  Peer p{h};
  p.syn_options.sack_permitted = true;
  Recorder r;
  Connection *c = open_passive(h, p, r);
  const uint32_t b = p.snd_nxt;
  p.send_raw(ACK, b + 100, p.rcv_nxt, pattern(50, 100));
  p.expect(ACK, "dup ACK");
  // The FIN right after the queued text, in a segment of its own.
  p.send_raw(FIN | ACK, b + 150, p.rcv_nxt);
  Sent a = p.expect(ACK, "dup ACK for the FIN beyond the hole");
  EXPECT_EQ(a.tcp.ack, b);
  ASSERT_EQ(a.tcp.options.sack_count, 1);
  EXPECT_EQ(a.tcp.options.sack[0], (wire::SackBlock{b + 100, b + 150}));
  EXPECT_EQ(c->state(), State::established);
  p.send_raw(ACK, b, p.rcv_nxt, pattern(100));
  a = p.expect(ACK);
  EXPECT_EQ(a.tcp.ack, b + 151); // data and FIN
  EXPECT_EQ(c->state(), State::close_wait);
  EXPECT_EQ(r.received, pattern(150));
  EXPECT_EQ(r.events, (std::vector<std::string>{"connected", "readable", "peer_closed"}));
  finish(h, p, c);
}

TEST(Reassembly, PerConnectionCapDropsAndCounts) {
  EngineConfig cfg = test_config();
  cfg.reassembly_max_segments = 3;
  Harness h(cfg);
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  const uint32_t b = p.snd_nxt;
  for (uint32_t i = 1; i <= 5; ++i)
    p.send_raw(ACK, b + 100 * i, p.rcv_nxt, pattern(10, 100 * i));
  EXPECT_EQ(c->inspect().ooo_segments(), 3u);
  EXPECT_EQ(h.eng->counters()[Counter::drop_reassembly_conn_cap], 2u);
  h.out.queue.clear();
  finish(h, p, c);
}

TEST(DelayedAck, EverySecondFullSegmentElseAt40ms) {
  Harness h;
  Peer p{h};
  p.syn_options.mss = 1460;
  Recorder r;
  Connection *c = open_passive(h, p, r);
  p.send(ACK, pattern(1460));
  h.advance(milliseconds(39));
  p.expect_none("not yet: one full segment");
  EXPECT_TRUE(c->inspect().delayed_ack_armed());
  h.advance(milliseconds(1));
  Sent a = p.expect(ACK, "delayed ACK at 40 ms");
  EXPECT_EQ(a.tcp.ack, p.snd_nxt);
  EXPECT_EQ(h.eng->counters()[Counter::delayed_acks], 1u);
  // Two full segments: the second is ACKed at once.
  p.send(ACK, pattern(1460));
  p.expect_none("first of two");
  p.send(ACK, pattern(1460));
  EXPECT_EQ(p.expect(ACK, "ACK after the second").tcp.ack, p.snd_nxt);
  EXPECT_FALSE(c->inspect().delayed_ack_armed());
  // Data we send in answer carries the ACK: nothing separate later.
  p.send(ACK, "ping");
  c->write(std::span<const uint8_t>(reinterpret_cast<const uint8_t *>("pong"), 4));
  Sent d = p.expect(ACK, "reply with the ACK piggybacked");
  EXPECT_EQ(d.tcp.ack, p.snd_nxt);
  h.advance(milliseconds(100));
  p.expect_none("no separate delayed ACK");
  finish(h, p, c);
}

// Small segments: by default (RFC 5681 4.2, as Linux) only every second
// full-sized segment is ACKed at once, so two small ones wait for the
// delayed ACK; with ack_every_second_segment (as BSD) the second is ACKed at
// once whatever its size.
TEST(DelayedAck, EverySecondSegmentOfAnySizeWhenConfigured) {
  for (bool any_size : {false, true}) {
    SCOPED_TRACE(any_size ? "ack_every_second_segment" : "default");
    EngineConfig cfg = test_config();
    cfg.ack_every_second_segment = any_size;
    Harness h(cfg);
    Peer p{h};
    p.syn_options.mss = 1460;
    Recorder r;
    Connection *c = open_passive(h, p, r);
    p.send(ACK, "a");
    p.expect_none("the first segment waits");
    p.send(ACK, "bc");
    if (any_size) {
      EXPECT_EQ(p.expect(ACK, "the second segment is ACKed at once").tcp.ack, p.snd_nxt);
    } else {
      p.expect_none("two small segments are not two full-sized ones");
      h.advance(milliseconds(40));
      EXPECT_EQ(p.expect(ACK, "delayed ACK").tcp.ack, p.snd_nxt);
    }
    // After an ACK the count starts again: one more small segment waits.
    p.send(ACK, "d");
    p.expect_none("first segment after an ACK");
    h.advance(milliseconds(40));
    EXPECT_EQ(p.expect(ACK, "delayed ACK").tcp.ack, p.snd_nxt);
    finish(h, p, c);
  }
}

TEST(DelayedAck, ConfigurableAndZeroMeansImmediate) {
  EngineConfig cfg = test_config();
  cfg.delayed_ack = milliseconds(10);
  Harness h(cfg);
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  p.send(ACK, "x");
  h.advance(milliseconds(10));
  p.expect(ACK, "after 10 ms");
  finish(h, p, c);

  cfg.delayed_ack = Duration::zero();
  Harness h2(cfg);
  Peer p2{h2};
  Recorder r2;
  Connection *c2 = open_passive(h2, p2, r2);
  p2.send(ACK, "x");
  p2.expect(ACK, "at once");
  finish(h2, p2, c2);
}

TEST(QuickAck, TheFirstSegmentsAreAckedAtOnceThenDelayedAckApplies) {
  EngineConfig cfg = test_config();
  cfg.quickack_segments = 3;
  Harness h(cfg);
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  for (int i = 0; i < 3; ++i) {
    p.send(ACK | PSH, "req");
    EXPECT_EQ(p.expect(ACK, "quick ACK").tcp.ack, p.snd_nxt);
    EXPECT_FALSE(c->inspect().delayed_ack_armed());
  }
  p.send(ACK | PSH, "req");
  p.expect_none("the fourth waits for the delayed ACK");
  EXPECT_TRUE(c->inspect().delayed_ack_armed());
  h.advance(milliseconds(40));
  EXPECT_EQ(p.expect(ACK, "delayed ACK").tcp.ack, p.snd_nxt);
  finish(h, p, c);
}

TEST(QuickAck, OnByDefault) {
  EXPECT_EQ(EngineConfig{}.quickack_segments, 16u);
  EngineConfig cfg = test_config();
  cfg.quickack_segments = EngineConfig{}.quickack_segments;
  Harness h(cfg);
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  p.send(ACK | PSH, "x");
  p.expect(ACK, "at once");
  finish(h, p, c);
}

TEST(ReceiveWindow, UpdateWhenTheApplicationConsumes) {
  Harness h;
  Peer p{h};
  p.syn_options.mss = 1460;
  Recorder r;
  r.consume = false;
  Connection *c = open_passive(h, p, r);
  // Fill the 64 KB buffer without reading.
  for (int i = 0; i < 44; ++i)
    p.send(ACK, pattern(1460));
  Sent last;
  while (auto s = h.pop())
    last = *s;
  EXPECT_LT(last.tcp.window, 1460) << last.str();
  EXPECT_EQ(c->readable(), 44u * 1460);
  // Reading a little does not announce a silly window.
  c->consume(100);
  p.expect_none("no window update for 100 bytes (receiver SWS avoidance)");
  // Reading it all does.
  c->consume(c->readable());
  Sent u = p.expect(ACK, "window update");
  EXPECT_EQ(u.tcp.window, 65535);
  EXPECT_EQ(h.eng->counters()[Counter::window_updates], 1u);
  finish(h, p, c);
}

TEST(ReceiveWindow, TinySegmentsCannotPinTheMempool) {
  Harness h;
  Peer p{h};
  Recorder r;
  r.consume = false;
  Connection *c = open_passive(h, p, r);
  const unsigned before = rte_mempool_avail_count(h.pool);
  // 500 one-byte segments, all inside the 64 KB window.
  for (int i = 0; i < 500; ++i)
    p.send(ACK, "z");
  h.out.queue.clear();
  // The memory budget is 2 x rcv_buf of mbuf truesize (~2.3 KB each). In
  // order, every byte is taken (refusing the segment at RCV.NXT could stall
  // the connection); once the budget is reached, the bytes are copied into
  // the last queued mbuf instead of pinning one mbuf each.
  const unsigned held = before - rte_mempool_avail_count(h.pool);
  EXPECT_LE(held, 2u * 65535 / 2176 + 2) << "mbufs pinned by 1-byte segments";
  EXPECT_GT(h.eng->counters()[Counter::rcv_coalesced], 400u);
  EXPECT_EQ(h.eng->counters()[Counter::drop_rcv_memory], 0u);
  EXPECT_EQ(c->readable(), 500u);
  std::string got;
  c->for_each_readable([&](std::span<const uint8_t> s) { got.append(s.begin(), s.end()); });
  EXPECT_EQ(got, std::string(500, 'z'));
  // The right edge never moves left (RFC 9293 3.8.6.2.2), but it does not
  // move right either while memory is short: the ACK only repeats it.
  p.send(ACK, "z");
  h.advance(milliseconds(40)); // the delayed ACK
  Sent a = p.expect(ACK);
  EXPECT_EQ(a.tcp.ack, p.snd_nxt) << a.str();
  EXPECT_EQ(a.tcp.ack + a.tcp.window, p.snd_nxt - 501 + 65535) << a.str(); // the first edge
  // The application reads: the memory comes back and 1-byte segments are
  // accepted again.
  c->consume(c->readable());
  EXPECT_EQ(c->inspect().rcv_memory(), 0u);
  const uint64_t coalesced = h.eng->counters()[Counter::rcv_coalesced];
  p.send(ACK, "y");
  EXPECT_EQ(c->readable(), 1u);
  EXPECT_EQ(h.eng->counters()[Counter::rcv_coalesced], coalesced);
  h.advance(milliseconds(40));
  h.out.queue.clear();
  finish(h, p, c);
}

// Out-of-order 1-byte segments fill the memory budget; the segment at
// RCV.NXT must still be taken (else the hole never fills): the far end of
// the out-of-order queue is pruned for it.
TEST(ReceiveWindow, TheSegmentAtRcvNxtIsTakenWhenOutOfOrderDataFillsMemory) {
  EngineConfig cfg = test_config();
  cfg.rcv_buf = 8 * 1024; // a budget of 16 KiB of truesize: 7 pool mbufs
  Harness h(cfg);
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  const uint32_t base = p.snd_nxt;
  const std::string data = pattern(40);
  for (uint32_t i = 1; i < 40; ++i) // everything but the first byte
    p.send_raw(ACK, base + i, p.rcv_nxt, data.substr(i, 1));
  h.out.queue.clear();
  EXPECT_GT(h.eng->counters()[Counter::drop_rcv_memory], 0u) << "the budget was reached";
  EXPECT_LE(c->inspect().rcv_memory(), 2u * 8 * 1024);
  const size_t queued = c->inspect().ooo_segments();
  EXPECT_GT(queued, 0u);
  // The hole's byte arrives: taken, and delivered with what is left behind it.
  p.send_raw(ACK, base, p.rcv_nxt, data.substr(0, 1));
  EXPECT_GT(h.eng->counters()[Counter::ooo_pruned], 0u);
  EXPECT_GE(r.received.size(), 1u);
  EXPECT_EQ(r.received, data.substr(0, r.received.size()));
  EXPECT_EQ(c->inspect().rcv_nxt().v, base + r.received.size());
  Sent a = p.expect(ACK, "the filled hole is ACKed at once");
  EXPECT_EQ(a.tcp.ack, base + r.received.size());
  // The peer sends the rest again, in order now: the stream completes.
  for (uint32_t i = a.tcp.ack - base; i < 40; ++i)
    p.send_raw(ACK, base + i, p.rcv_nxt, data.substr(i, 1));
  EXPECT_EQ(r.received, data);
  h.advance(milliseconds(40));
  h.out.queue.clear();
  finish(h, p, c);
}

// RFC 9293 3.10.7.4's test, with the allowance BSD and Linux make: a
// segment without text exactly at the right edge (a peer whose SND.NXT
// reached our window's edge while some of its data is still missing here)
// is acceptable, and its ACK field is processed.
TEST(Acceptability, AnAckAtTheRightEdgeIsTaken) {
  Harness h;
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  c->write(std::span<const uint8_t>(reinterpret_cast<const uint8_t *>("abc"), 3));
  Sent d = p.expect(ACK);
  const uint32_t edge = d.tcp.ack + d.tcp.window;
  const uint64_t unacceptable = h.eng->counters()[Counter::drop_unacceptable];
  p.send_raw(ACK, edge + 1, d.tcp.seq + 1); // beyond the edge: refused, ACK sent
  EXPECT_EQ(h.eng->counters()[Counter::drop_unacceptable], unacceptable + 1);
  EXPECT_EQ(p.expect(ACK, "answer to an unacceptable segment").tcp.ack, d.tcp.ack);
  EXPECT_EQ(c->inspect().snd_una().v, d.tcp.seq);
  p.send_raw(ACK, edge, d.tcp.seq + 3); // at the edge: its ACK counts
  EXPECT_EQ(h.eng->counters()[Counter::drop_unacceptable], unacceptable + 1);
  EXPECT_EQ(c->inspect().snd_una().v, d.tcp.seq + 3);
  p.expect_none();
  finish(h, p, c);
}

// RFC 5961 3.2: a RST outside the window is dropped silently; the right
// edge, where an ACK is still taken, is outside it. Just inside, the RST
// gets a challenge ACK.
TEST(Acceptability, ARstAtTheRightEdgeIsDroppedSilently) {
  Harness h;
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  c->write(std::span<const uint8_t>(reinterpret_cast<const uint8_t *>("abc"), 3));
  Sent d = p.expect(ACK);
  const uint32_t edge = d.tcp.ack + d.tcp.window;
  p.send_raw(RST, edge, 0);
  p.expect_none("no answer to a RST at the right edge");
  EXPECT_EQ(c->state(), State::established);
  EXPECT_EQ(h.eng->counters()[Counter::challenge_acks], 0u);
  p.send_raw(RST, edge - 1, 0);
  EXPECT_EQ(p.expect(ACK, "challenge ACK").tcp.ack, d.tcp.ack);
  EXPECT_EQ(c->state(), State::established);
  finish(h, p, c);
}

// RFC 7323 4.3 (2): a retransmission of data we already acknowledged has
// SEG.SEQ =< Last.ACK.sent, so its TSval becomes TS.Recent and the ACK
// answering it echoes that, not the TSval of a segment from before the
// peer's timeout (which would give the peer an RTT sample as long as its
// whole back-off).
TEST(Paws, ARetransmissionOfAcknowledgedDataRefreshesTsRecent) {
  Harness h;
  Peer p{h};
  p.syn_options.timestamp = wire::TcpTimestamp{100, 0};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  ASSERT_TRUE(c->inspect().timestamps());
  auto send_ts = [&](uint32_t seq, const std::string &text, uint32_t tsval) {
    wire::TcpRepr s = make_seg(p.port, p.local_port, ACK, seq, p.rcv_nxt, p.window);
    s.options.timestamp = wire::TcpTimestamp{tsval, 0};
    h.inject(s, text);
  };
  const uint32_t seq = p.snd_nxt;
  send_ts(seq, "abc", 200);
  h.advance(milliseconds(40));
  Sent a = p.expect(ACK, "delayed ACK");
  EXPECT_EQ(a.tcp.options.timestamp->ecr, 200u);
  // Our ACK was lost; 3 s later the peer times out and sends "abc" again.
  h.advance(seconds(3));
  send_ts(seq, "abc", 3200);
  Sent dup = p.expect(ACK, "ACK of an old duplicate");
  EXPECT_EQ(dup.tcp.ack, seq + 3);
  EXPECT_EQ(dup.tcp.options.timestamp->ecr, 3200u) << "echo the retransmission's TSval";
  EXPECT_EQ(c->inspect().ts_recent(), 3200u);
  // An old duplicate that is older than TS.Recent stays a PAWS drop.
  send_ts(seq, "abc", 150);
  EXPECT_EQ(p.expect(ACK).tcp.options.timestamp->ecr, 3200u);
  EXPECT_EQ(r.received, "abc");
  finish(h, p, c);
}

TEST(SynText, DataInASynIsKeptAndDeliveredAfterTheHandshake) {
  Harness h;
  Peer p{h};
  Recorder r;
  h.eng->listen(80, [&](Connection &) -> ConnectionHandler * { return &r; });
  const uint32_t isn = p.snd_nxt;
  p.send(SYN, "early");
  Sent synack = p.expect(SYN | ACK);
  EXPECT_EQ(synack.tcp.ack, isn + 1) << "the SYN-ACK acknowledges only the SYN";
  p.send(ACK);
  ASSERT_NE(r.conn, nullptr);
  EXPECT_EQ(r.received, "early");
  EXPECT_EQ(r.events, (std::vector<std::string>{"connected", "readable"}));
  // Acknowledged as other in-order text: without quick ACKs (this
  // harness), by the delayed ACK.
  p.expect_none("the text waits for the delayed ACK");
  h.advance(milliseconds(40));
  EXPECT_EQ(p.expect(ACK, "ACK of the SYN's text").tcp.ack, isn + 6);
  EXPECT_EQ(h.eng->counters()[Counter::syn_data_bytes], 5u);
  finish(h, p, r.conn);
}

TEST(SynText, AckedAtOnceWhileQuickAcksLast) {
  EngineConfig cfg = test_config();
  cfg.quickack_segments = 16;
  Harness h(cfg);
  Peer p{h};
  Recorder r;
  h.eng->listen(80, [&](Connection &) -> ConnectionHandler * { return &r; });
  const uint32_t isn = p.snd_nxt;
  p.send(SYN, "early");
  p.expect(SYN | ACK);
  p.send(ACK);
  EXPECT_EQ(r.received, "early");
  EXPECT_EQ(p.expect(ACK, "quick ACK of the SYN's text").tcp.ack, isn + 6);
  finish(h, p, r.conn);
}

// RFC 9293 3.10.7.3: text in a SYN-ACK is processed like text in the
// ESTABLISHED state, and one ACK acknowledges the SYN and the text.
TEST(SynText, TextInASynAckIsAcknowledgedWithTheSyn) {
  Harness h;
  Peer p{h};
  Recorder r;
  r.consume = false;
  Connection *c = h.eng->connect(kRemote, p.port, &r, p.local_port);
  ASSERT_NE(c, nullptr);
  p.expect(SYN, "SYN");
  p.send(SYN | ACK, "abc");
  Sent a = p.expect(ACK, "one ACK for the SYN and its text");
  EXPECT_EQ(a.tcp.ack, p.snd_nxt);
  EXPECT_EQ(readable_text(*c), "abc");
  p.expect_none("nothing more");
  finish(h, p, c);
}

// RFC 9293 3.10.7.3, simultaneous open: "If there are other controls or
// text in the segment, queue them for processing after the ESTABLISHED
// state has been reached".
TEST(SynText, TextInASimultaneousOpenSynIsQueued) {
  Harness h;
  Peer p{h};
  Recorder r;
  r.consume = false;
  Connection *c = h.eng->connect(kRemote, p.port, &r, p.local_port);
  ASSERT_NE(c, nullptr);
  p.expect(SYN, "SYN");
  const uint32_t isn = p.snd_nxt;
  p.send(SYN, "abc");
  Sent synack = p.expect(SYN | ACK, "SYN-ACK of the simultaneous open");
  EXPECT_EQ(synack.tcp.ack, isn + 1) << "the SYN-ACK acknowledges only the SYN";
  EXPECT_EQ(readable_text(*c), "");
  p.send(ACK);
  EXPECT_EQ(readable_text(*c), "abc");
  h.advance(milliseconds(40));
  EXPECT_EQ(p.expect(ACK, "ACK of the SYN's text").tcp.ack, p.snd_nxt);
  finish(h, p, c);
}

// A segment dropped for its ACK (here one for data never sent, RFC 5961
// 5.2) leaves TS.Recent alone: a forged in-window segment with a far-future
// TSval must not make PAWS drop the peer's own segments afterwards.
TEST(Paws, ASegmentWithAnUnacceptableAckDoesNotMoveTsRecent) {
  Harness h;
  Peer p{h};
  p.syn_options.timestamp = wire::TcpTimestamp{1000, 0};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  ASSERT_TRUE(c->inspect().timestamps());
  auto send_ts = [&](uint32_t ack, uint32_t tsval, const std::string &text) {
    wire::TcpRepr s = make_seg(p.port, p.local_port, ACK, p.snd_nxt, ack, p.window);
    s.options.timestamp = wire::TcpTimestamp{tsval, 0};
    h.inject(s, text);
  };
  const uint32_t before = c->inspect().ts_recent();
  send_ts(p.rcv_nxt + 5000, 200000, ""); // ACKs data we never sent
  Sent challenge = p.expect(ACK, "ACK for an ACK of unsent data");
  EXPECT_EQ(challenge.tcp.options.timestamp->ecr, before);
  EXPECT_EQ(c->inspect().ts_recent(), before);
  EXPECT_EQ(h.eng->counters()[Counter::drop_ack_unsent], 1u);
  // The peer's next real segment, TSval just above the old TS.Recent, is taken.
  send_ts(p.rcv_nxt, before + 1, "data");
  p.snd_nxt += 4;
  EXPECT_EQ(r.received, "data");
  EXPECT_EQ(c->inspect().ts_recent(), before + 1);
  EXPECT_EQ(h.eng->counters()[Counter::drop_paws], 0u);
  h.advance(milliseconds(40));
  EXPECT_EQ(p.expect(ACK, "delayed ACK").tcp.options.timestamp->ecr, before + 1);
  finish(h, p, c);
}

TEST(Paws, OldTimestampIsRejectedWithAnAck) {
  Harness h;
  Peer p{h};
  p.syn_options.timestamp = wire::TcpTimestamp{1000, 0};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  ASSERT_TRUE(c->inspect().timestamps());
  auto data = [&](uint32_t tsval, const std::string &text) {
    wire::TcpRepr s = make_seg(p.port, p.local_port, ACK, p.snd_nxt, p.rcv_nxt, p.window);
    s.options.timestamp = wire::TcpTimestamp{tsval, 0};
    h.inject(s, text);
  };
  data(2000, "new");
  p.snd_nxt += 3;
  EXPECT_EQ(c->inspect().ts_recent(), 2000u);
  h.out.queue.clear();
  // A segment with TSval older than TS.Recent (e.g. an old duplicate from a
  // wrapped sequence space) is dropped, counted, and answered with an ACK.
  data(1500, "old");
  Sent a = p.expect(ACK, "ACK for the PAWS drop");
  EXPECT_EQ(a.tcp.ack, p.snd_nxt);
  EXPECT_EQ(h.eng->counters()[Counter::drop_paws], 1u);
  EXPECT_EQ(r.received, "new");
  EXPECT_EQ(c->inspect().ts_recent(), 2000u);
  finish(h, p, c);
}

TEST(ZeroCopy, ReceivedBytesStayInTheMbufsTheyArrivedIn) {
  Harness h;
  Peer p{h};
  Recorder r;
  r.consume = false;
  Connection *c = open_passive(h, p, r);
  p.send(ACK, "zero-copy");
  std::span<const uint8_t> s = c->peek();
  ASSERT_EQ(s.size(), 9u);
  // The span lies inside the data buffer of an mbuf of the pool.
  struct Probe {
    const uint8_t *p;
    bool inside = false;
  } probe{s.data()};
  rte_mempool_obj_iter(
      h.pool,
      [](rte_mempool *, void *arg, void *obj, unsigned) {
        auto *pr = static_cast<Probe *>(arg);
        auto *m = static_cast<rte_mbuf *>(obj);
        const auto *lo = static_cast<const uint8_t *>(m->buf_addr);
        if (pr->p >= lo && pr->p < lo + m->buf_len)
          pr->inside = true;
      },
      &probe);
  EXPECT_TRUE(probe.inside) << "readable bytes were copied out of the mbufs";
  h.advance(milliseconds(40));
  h.out.queue.clear();
  finish(h, p, c);
}

// ---- payload in mbuf chains (net_ring delivers the sender's chains) ----

TEST(ChainedPayload, LeftEdgeTrimAcrossPiecesAndPartialConsume) {
  Harness h;
  Peer p{h};
  Recorder r;
  r.consume = false;
  Connection *c = open_passive(h, p, r);
  const uint32_t base = p.snd_nxt;
  const std::string all = pattern(600);
  h.payload_pieces = {3, 40, 57}; // then the rest in one piece
  p.send(ACK, all.substr(0, 200));
  EXPECT_EQ(readable_text(*c), all.substr(0, 200));
  // A retransmission starting 50 bytes below RCV.NXT: the trim at the left
  // edge removes the 3- and 40-byte pieces and 7 bytes of the third.
  p.send_raw(ACK, base + 150, p.rcv_nxt, all.substr(150, 250));
  EXPECT_EQ(c->readable(), 400u);
  EXPECT_EQ(readable_text(*c), all.substr(0, 400));
  // Consuming across the receive queue's mbufs: inside one, then across
  // several at once.
  c->consume(2);
  EXPECT_EQ(readable_text(*c), all.substr(2, 398));
  c->consume(150);
  EXPECT_EQ(readable_text(*c), all.substr(152, 248));
  std::vector<uint8_t> buf(300);
  EXPECT_EQ(c->read(buf), 248u);
  EXPECT_EQ(std::string(buf.begin(), buf.begin() + 248), all.substr(152, 248));
  EXPECT_EQ(c->readable(), 0u);
  EXPECT_EQ(c->inspect().rcv_memory(), 0u) << "every queued mbuf's truesize given back";
  h.advance(milliseconds(40));
  h.out.queue.clear();
  finish(h, p, c);
}

TEST(ChainedPayload, OutOfOrderChainsAreTrimmedAndReassembled) {
  Harness h;
  Peer p{h};
  p.syn_options.sack_permitted = true;
  Recorder r;
  r.consume = false;
  Connection *c = open_passive(h, p, r);
  const uint32_t base = p.snd_nxt;
  const std::string all = pattern(1000);
  h.payload_pieces = {11, 64, 100};
  // [600, 1000), then [300, 700) overlapping it, then [100, 350), then the
  // hole [0, 100): every overlap is trimmed inside some piece of a chain.
  p.send_raw(ACK, base + 600, p.rcv_nxt, all.substr(600, 400));
  p.send_raw(ACK, base + 300, p.rcv_nxt, all.substr(300, 400));
  p.send_raw(ACK, base + 100, p.rcv_nxt, all.substr(100, 250));
  EXPECT_EQ(c->readable(), 0u);
  EXPECT_EQ(c->inspect().ooo_bytes(), 900u);
  h.out.queue.clear();
  p.send_raw(ACK, base, p.rcv_nxt, all.substr(0, 100));
  Sent a = p.expect(ACK, "ACK of the filled hole");
  EXPECT_EQ(a.tcp.ack, base + 1000);
  EXPECT_EQ(c->inspect().ooo_bytes(), 0u);
  EXPECT_EQ(readable_text(*c), all);
  c->consume(c->readable());
  EXPECT_EQ(c->inspect().rcv_memory(), 0u);
  finish(h, p, c);
}

TEST(ChainedPayload, FinOnAChainedSegment) {
  Harness h;
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  const uint32_t base = p.snd_nxt;
  h.payload_pieces = {1, 1, 2};
  p.send(FIN | ACK, pattern(300));
  Sent a = p.expect(ACK, "ACK of data and FIN");
  EXPECT_EQ(a.tcp.ack, base + 301);
  EXPECT_EQ(r.received, pattern(300));
  EXPECT_EQ(r.events, (std::vector<std::string>{"connected", "readable", "peer_closed"}));
  EXPECT_EQ(c->state(), State::close_wait);
  finish(h, p, c);
}

} // namespace
} // namespace shoal::tcp::test

namespace shoal::tcp::test {
namespace {

// RFC 6691: the MSS counts no options. A full-sized data segment sent while
// out-of-order data is held must still fit the MTU: the SACK blocks give way
// (and the next pure ACK repeats them).
TEST(Sack, FullDataSegmentsStayWithinTheMtu) {
  Harness h;
  Peer p{h};
  p.syn_options.sack_permitted = true;
  Recorder r;
  r.consume = false;
  Connection *c = open_passive(h, p, r);
  ASSERT_TRUE(c->inspect().sack_permitted());
  const uint32_t b = p.snd_nxt;
  // Two islands beyond a hole: our ACKs now carry two SACK blocks.
  p.send_raw(ACK, b + 100, p.rcv_nxt, pattern(100, 100));
  p.expect(ACK);
  p.send_raw(ACK, b + 300, p.rcv_nxt, pattern(100, 300));
  Sent a = p.expect(ACK);
  ASSERT_EQ(a.tcp.options.sack_count, 2);
  c->set_nodelay(true);
  const std::string data = pattern(c->snd_mss());
  ASSERT_EQ(c->write(std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(data.data()),
                                              data.size())),
            data.size());
  Sent d = p.expect(ACK, "full-sized data segment");
  EXPECT_EQ(d.payload.size(), c->snd_mss());
  EXPECT_LE(wire::kIpv4MinHeaderLen + d.tcp.header_len + d.payload.size(), 1500u) << d.str();
  EXPECT_EQ(d.tcp.options.sack_count, 0);
  EXPECT_EQ(h.eng->counters()[Counter::sack_blocks_omitted], 1u);
  finish(h, p, c);
}

// RFC 2883: bytes that arrive a second time are reported once, in the first
// SACK block of the ACK that answers them, ahead of the RFC 2018 blocks.
TEST(Dsack, OldDataBelowRcvNxtIsReportedOnceAheadOfTheSackBlocks) {
  Harness h;
  Peer p{h};
  p.syn_options.sack_permitted = true;
  Recorder r;
  r.consume = false;
  Connection *c = open_passive(h, p, r);
  const uint32_t b = p.snd_nxt;
  p.send_raw(ACK, b, p.rcv_nxt, pattern(100));
  p.send_raw(ACK, b + 200, p.rcv_nxt, pattern(100, 200));
  h.out.queue.clear();
  // Entirely below RCV.NXT: D-SACK 50-75, then the block 200-300.
  p.send_raw(ACK, b + 50, p.rcv_nxt, pattern(25, 50));
  Sent a = p.expect(ACK, "ACK of old data");
  EXPECT_EQ(a.tcp.ack, b + 100);
  ASSERT_EQ(a.tcp.options.sack_count, 2);
  EXPECT_EQ(a.tcp.options.sack[0], (wire::SackBlock{b + 50, b + 75}));
  EXPECT_EQ(a.tcp.options.sack[1], (wire::SackBlock{b + 200, b + 300}));
  EXPECT_EQ(h.eng->counters()[Counter::acks_out_dsack], 1u);
  // Straddling RCV.NXT: the old part 60-100 is the D-SACK, 100-150 is new
  // and the ACK (at once) carries the D-SACK and the remaining block.
  p.send_raw(ACK, b + 60, p.rcv_nxt, pattern(90, 60));
  a = p.expect(ACK, "ACK of partly old data");
  EXPECT_EQ(a.tcp.ack, b + 150);
  ASSERT_EQ(a.tcp.options.sack_count, 2);
  EXPECT_EQ(a.tcp.options.sack[0], (wire::SackBlock{b + 60, b + 100}));
  EXPECT_EQ(a.tcp.options.sack[1], (wire::SackBlock{b + 200, b + 300}));
  // Reported once: the next ACK has the SACK block alone.
  p.send_raw(ACK, b + 400, p.rcv_nxt, pattern(100, 400));
  a = p.expect(ACK, "ACK of new out-of-order data");
  ASSERT_EQ(a.tcp.options.sack_count, 2);
  EXPECT_EQ(a.tcp.options.sack[0], (wire::SackBlock{b + 400, b + 500}));
  EXPECT_EQ(a.tcp.options.sack[1], (wire::SackBlock{b + 200, b + 300}));
  // Filling everything with old bytes at the front: ACK of all, the D-SACK
  // alone (no data is out of order any more).
  p.send_raw(ACK, b, p.rcv_nxt, pattern(500));
  a = p.expect(ACK, "ACK of the whole stream");
  EXPECT_EQ(a.tcp.ack, b + 500);
  ASSERT_EQ(a.tcp.options.sack_count, 1);
  EXPECT_EQ(a.tcp.options.sack[0], (wire::SackBlock{b, b + 150}));
  EXPECT_EQ(readable_text(*c), pattern(500));
  EXPECT_EQ(h.eng->counters()[Counter::acks_out_dsack], 3u);
  finish(h, p, c);
}

TEST(Dsack, DuplicateOfQueuedOutOfOrderData) {
  Harness h;
  Peer p{h};
  p.syn_options.sack_permitted = true;
  Recorder r;
  r.consume = false;
  Connection *c = open_passive(h, p, r);
  const uint32_t b = p.snd_nxt;
  p.send_raw(ACK, b + 200, p.rcv_nxt, pattern(100, 200));
  p.send_raw(ACK, b + 400, p.rcv_nxt, pattern(100, 400));
  h.out.queue.clear();
  // Inside the queued 200-300: D-SACK 250-275, then the block holding it.
  p.send_raw(ACK, b + 250, p.rcv_nxt, pattern(25, 250));
  Sent a = p.expect(ACK);
  EXPECT_EQ(a.tcp.ack, b);
  ASSERT_EQ(a.tcp.options.sack_count, 3);
  EXPECT_EQ(a.tcp.options.sack[0], (wire::SackBlock{b + 250, b + 275}));
  EXPECT_EQ(a.tcp.options.sack[1], (wire::SackBlock{b + 200, b + 300}));
  EXPECT_EQ(a.tcp.options.sack[2], (wire::SackBlock{b + 400, b + 500}));
  // 150-475 adds 150-200 and 300-400 and repeats 200-300 and 400-475: the
  // first repeated run (200-300) is the D-SACK, then the joined block.
  p.send_raw(ACK, b + 150, p.rcv_nxt, pattern(325, 150));
  a = p.expect(ACK);
  ASSERT_EQ(a.tcp.options.sack_count, 2);
  EXPECT_EQ(a.tcp.options.sack[0], (wire::SackBlock{b + 200, b + 300}));
  EXPECT_EQ(a.tcp.options.sack[1], (wire::SackBlock{b + 150, b + 500}));
  // In order, overlapping the queued block's front: D-SACK 150-180.
  p.send_raw(ACK, b, p.rcv_nxt, pattern(180));
  a = p.expect(ACK, "the hole is filled");
  EXPECT_EQ(a.tcp.ack, b + 500);
  ASSERT_EQ(a.tcp.options.sack_count, 1);
  EXPECT_EQ(a.tcp.options.sack[0], (wire::SackBlock{b + 150, b + 180}));
  EXPECT_EQ(readable_text(*c), pattern(500));
  finish(h, p, c);
}

TEST(Dsack, NotWithoutSack) {
  Harness h;
  Peer p{h};
  Recorder r;
  r.consume = false;
  Connection *c = open_passive(h, p, r);
  ASSERT_FALSE(c->inspect().sack_permitted());
  const uint32_t b = p.snd_nxt;
  p.send_raw(ACK, b, p.rcv_nxt, pattern(100));
  h.out.queue.clear();
  p.send_raw(ACK, b, p.rcv_nxt, pattern(100));
  Sent a = p.expect(ACK, "ACK of old data");
  EXPECT_EQ(a.tcp.ack, b + 100);
  EXPECT_EQ(a.tcp.options.sack_count, 0);
  EXPECT_EQ(h.eng->counters()[Counter::acks_out_dsack], 0u);
  finish(h, p, c);
}

} // namespace
} // namespace shoal::tcp::test
