// Write coalescing (EngineConfig::autocork), Nagle in Linux's (Minshall's)
// variant and TCP_CORK: what leaves, in which segments, and what waits for
// an ACK.
//
// The shape that matters is a request/response exchange with a peer that
// delays its ACKs (Linux: up to 40 ms): a response written as a head and a
// body must not leave as a head that goes at once and a body that Nagle
// holds until the peer's delayed ACK of the head.
#include <gtest/gtest.h>

#include <string>

#include "tcp/inspect.hpp"
#include "tcp_harness.hpp"

namespace shoal::tcp::test {
namespace {

using std::chrono::milliseconds;

std::string text(const Sent &s) {
  return std::string(s.payload.begin(), s.payload.end());
}

// Answers every readable event with the writes in `replies` (one write
// call each), as a server writes a response head and then its body.
struct Responder : Recorder {
  std::vector<std::string> replies;
  void on_readable(Connection &c) override {
    Recorder::on_readable(c);
    for (const std::string &r : replies)
      write_str(c, r);
  }
};

constexpr uint16_t kMss = 1460; // no timestamps: the MSS is the segment size

EngineConfig config(bool autocork = true) {
  EngineConfig cfg = test_config();
  cfg.autocork = autocork;
  return cfg;
}

Connection *open(Harness &h, Peer &p, Recorder &r) {
  p.syn_options.mss = kMss;
  Connection *c = open_passive(h, p, r);
  EXPECT_EQ(c->snd_mss(), kMss);
  return c;
}

TEST(Coalesce, HeadAndBodyWrittenInOneCallbackLeaveAsOneSegment) {
  Harness h(config());
  Peer p{h};
  Responder r;
  const std::string head = pattern(143), body = pattern(1024, 143);
  r.replies = {head, body};
  Connection *c = open(h, p, r);
  // Keep-alive: each request acknowledges the previous response, as a
  // client's next request does.
  for (int i = 0; i < 3; ++i) {
    p.send(PSH | ACK, "GET / HTTP/1.1\r\n\r\n");
    Sent s = p.expect(ACK, "the response, head and body together");
    EXPECT_EQ(text(s), head + body) << "request " << i;
    EXPECT_EQ(s.tcp.ack, p.snd_nxt) << "the request's ACK rides on the response";
    p.expect_none("nothing held back for the peer's (delayed) ACK");
  }
  finish(h, p, c);
}

TEST(Coalesce, WithoutAutocorkTheBodyWaitsForTheAckOfTheHead) {
  // What coalescing fixes: each write outputs at once, so the head leaves
  // alone and Nagle holds the body (a partial segment, the head still
  // unacknowledged) until the peer ACKs -- Linux's delayed ACK, 40 ms.
  Harness h(config(false));
  Peer p{h};
  Responder r;
  const std::string head = pattern(143), body = pattern(1024, 143);
  r.replies = {head, body};
  Connection *c = open(h, p, r);
  p.send(PSH | ACK, "GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(text(p.expect(ACK, "the head alone")), head);
  p.expect_none("Nagle holds the body");
  p.send(ACK);
  EXPECT_EQ(text(p.expect(ACK, "the body, released by the ACK")), body);
  finish(h, p, c);
}

TEST(Coalesce, AResponseLongerThanASegmentLeavesWholeWithoutWaiting) {
  // 143 + 2000 bytes: a full segment and a 683-byte tail. Linux's Nagle
  // (Minshall's variant) holds a partial segment only while an earlier
  // partial one is unacknowledged; here the tail is the only one.
  Harness h(config());
  Peer p{h};
  Responder r;
  const std::string head = pattern(143), body = pattern(2000, 143);
  r.replies = {head, body};
  Connection *c = open(h, p, r);
  p.send(PSH | ACK, "GET /big HTTP/1.1\r\n\r\n");
  Sent a = p.expect(ACK, "a full segment");
  Sent b = p.expect(ACK, "the tail, at once");
  EXPECT_EQ(a.payload.size(), kMss);
  EXPECT_EQ(text(a) + text(b), head + body);
  p.expect_none();
  finish(h, p, c);
}

TEST(Coalesce, ASmallWriteAfterAFullSegmentInFlightGoesAtOnce) {
  Harness h(config());
  Peer p{h};
  Recorder r;
  Connection *c = open(h, p, r);
  write_str(*c, pattern(kMss));
  EXPECT_EQ(p.expect(ACK, "a full segment").payload.size(), kMss);
  // Unacknowledged, but not partial: the small write is not held.
  write_str(*c, "tail");
  EXPECT_EQ(text(p.expect(ACK, "the small write")), "tail");
  // Now a partial segment is in flight: the next small write waits for it.
  write_str(*c, "more");
  p.expect_none("Nagle: 'tail' is unacknowledged");
  h.advance(milliseconds(100));
  p.expect_none("still held");
  p.send(ACK);
  EXPECT_EQ(text(p.expect(ACK, "released by the ACK")), "more");
  finish(h, p, c);
}

TEST(Coalesce, PipelinedRequestsBeforeTheAckWaitAsOnLinux) {
  // Two requests, the second before the first response is acknowledged (a
  // pipelining client whose ACK is delayed): the second small response
  // waits for that ACK, as on Linux with Nagle on.
  Harness h(config());
  Peer p{h};
  Responder r;
  r.replies = {"response"};
  Connection *c = open(h, p, r);
  p.send(PSH | ACK, "one");
  EXPECT_EQ(text(p.expect(ACK, "first response")), "response");
  p.send_raw(PSH | ACK, p.snd_nxt, c->inspect().snd_una().v, "two"); // does not ACK it
  p.snd_nxt += 3;
  EXPECT_EQ(r.received, "onetwo");
  h.advance(milliseconds(10));
  while (std::optional<Sent> s = h.pop()) // at most an ACK of "two"
    EXPECT_TRUE(s->payload.empty()) << "Nagle: the first response is unacknowledged";
  p.send(ACK);
  EXPECT_EQ(text(p.expect(ACK, "second response after the ACK")), "response");
  finish(h, p, c);
}

TEST(Coalesce, WritesOfOneIterationLeaveTogetherWhenTheLoopBatches) {
  Harness h(config());
  Peer p{h};
  Recorder r;
  Connection *c = open(h, p, r);
  h.eng->set_output_batching(true);
  write_str(*c, "abc");
  write_str(*c, "def");
  p.expect_none("held for the end of the iteration");
  h.eng->flush_output();
  EXPECT_EQ(text(p.expect(ACK, "one segment")), "abcdef");
  p.send(ACK);
  // Without batching every write outputs when it returns.
  h.eng->set_output_batching(false);
  write_str(*c, "g");
  EXPECT_EQ(text(p.expect(ACK, "at once")), "g");
  finish(h, p, c);
}

TEST(Coalesce, AConnectionThatClosesBeforeTheFlushIsSkipped) {
  Harness h(config());
  Peer p{h};
  Recorder r;
  Connection *c = open(h, p, r);
  h.eng->set_output_batching(true);
  write_str(*c, "never sent");
  c->abort();
  p.expect(RST | ACK, "abort");
  h.eng->flush_output();
  p.expect_none();
  h.expect_quiet();
}

TEST(Cork, HoldsPartialSegmentsFor200Ms) {
  Harness h(config());
  Peer p{h};
  Recorder r;
  Connection *c = open(h, p, r);
  c->set_cork(true);
  EXPECT_TRUE(c->cork());
  write_str(*c, "abc");
  p.expect_none("corked: nothing in flight, still held");
  h.run_until(h.now + milliseconds(199));
  p.expect_none("199 ms");
  h.run_until(h.now + milliseconds(1));
  Sent s = p.expect(ACK, "the 200 ms ceiling");
  EXPECT_EQ(text(s), "abc");
  p.send(ACK);
  // Full segments still go; only the tail waits.
  write_str(*c, pattern(kMss + 10));
  EXPECT_EQ(p.expect(ACK, "full segment").payload.size(), kMss);
  p.expect_none("the 10-byte tail is corked");
  p.send(ACK);
  p.expect_none("an ACK does not uncork");
  // Uncorking sends it (no partial segment in flight: Nagle lets it go).
  c->set_cork(false);
  EXPECT_EQ(p.expect(ACK, "uncorked").payload.size(), 10u);
  finish(h, p, c);
}

TEST(Cork, OverridesNodelayButSettingNodelayPushes) {
  Harness h(config());
  Peer p{h};
  Recorder r;
  Connection *c = open(h, p, r);
  c->set_nodelay(true);
  c->set_cork(true);
  write_str(*c, "abc");
  p.expect_none("TCP_CORK holds partial segments even with TCP_NODELAY");
  c->set_nodelay(true); // as Linux: setting TCP_NODELAY flushes, cork or not
  EXPECT_EQ(text(p.expect(ACK, "pushed")), "abc");
  EXPECT_TRUE(c->cork());
  write_str(*c, "def");
  p.expect_none("still corked");
  finish(h, p, c);
}

TEST(Cork, TheFinTakesTheCorkedDataAlong) {
  Harness h(config());
  Peer p{h};
  Recorder r;
  Connection *c = open(h, p, r);
  c->set_cork(true);
  write_str(*c, "last words");
  p.expect_none();
  c->shutdown_write();
  EXPECT_EQ(text(p.expect(FIN | ACK, "data and FIN")), "last words");
  p.send(ACK);
  EXPECT_EQ(c->state(), State::fin_wait_2);
  finish(h, p, c);
}

TEST(Cork, UncorkWithAPartialSegmentInFlightLeavesItToNagle) {
  Harness h(config());
  Peer p{h};
  Recorder r;
  Connection *c = open(h, p, r);
  write_str(*c, "x");
  EXPECT_EQ(text(p.expect(ACK, "a partial segment in flight")), "x");
  c->set_cork(true);
  write_str(*c, "y");
  c->set_cork(false);
  p.expect_none("Nagle holds it: 'x' is unacknowledged");
  p.send(ACK);
  EXPECT_EQ(text(p.expect(ACK, "released by the ACK")), "y");
  finish(h, p, c);
}

// PSH marks the end of what the application wrote: only the segment that
// empties the send queue carries it, and a retransmission only when its
// original did.
TEST(Push, OnlyTheSegmentThatEmptiesTheQueueCarriesPsh) {
  Harness h(config());
  Peer p{h};
  Recorder r;
  Connection *c = open(h, p, r);
  write_str(*c, pattern(3 * kMss - 100));
  Sent a = p.expect(ACK, "first");
  Sent b = p.expect(ACK, "second");
  Sent d = p.expect(ACK, "last");
  EXPECT_EQ(a.tcp.flags & PSH, 0) << a.str();
  EXPECT_EQ(b.tcp.flags & PSH, 0) << b.str();
  EXPECT_NE(d.tcp.flags & PSH, 0) << d.str();
  p.send(ACK);
  // A write that fits one segment: that segment empties the queue.
  write_str(*c, "tail");
  Sent t = p.expect(ACK, "a small write");
  EXPECT_NE(t.tcp.flags & PSH, 0) << t.str();
  p.send(ACK);
  finish(h, p, c);
}

TEST(Push, ARetransmissionCarriesPshOnlyWhereItsOriginalDid) {
  Harness h(config());
  Peer p{h};
  Recorder r;
  Connection *c = open(h, p, r);
  write_str(*c, pattern(2 * kMss));
  Sent a = p.expect(ACK, "first");
  Sent b = p.expect(ACK, "second, the end of the write");
  EXPECT_EQ(a.tcp.flags & PSH, 0) << a.str();
  EXPECT_NE(b.tcp.flags & PSH, 0) << b.str();
  // Nothing is acknowledged: the timeout resends the first segment, then
  // (its ACK covering only it) the second.
  for (int i = 0; i < 40 && h.pending() == 0; ++i)
    h.advance(milliseconds(50));
  Sent ra = p.expect(ACK, "retransmission of the first");
  EXPECT_EQ(ra.tcp.seq, a.tcp.seq);
  EXPECT_EQ(ra.tcp.flags & PSH, 0) << ra.str();
  p.send_raw(ACK, p.snd_nxt, ra.tcp.seq + kMss);
  Sent rb = p.expect(ACK, "retransmission of the second");
  EXPECT_EQ(rb.tcp.seq, b.tcp.seq);
  EXPECT_NE(rb.tcp.flags & PSH, 0) << rb.str();
  p.send_raw(ACK, p.snd_nxt, rb.tcp.seq + kMss);
  p.rcv_nxt = rb.tcp.seq + kMss;
  finish(h, p, c);
}

} // namespace
} // namespace shoal::tcp::test
