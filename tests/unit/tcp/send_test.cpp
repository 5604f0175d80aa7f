// Sending data: segmentation to the effective MSS, the initial window,
// Nagle and TCP_NODELAY, zero-copy transmission, TSO, the persist timer,
// fast retransmit and NewReno recovery, SACK loss recovery (RFC 6675), RTO
// back-off, the user timeout, RTT samples, congestion control choice.
#include <gtest/gtest.h>

#include <cstring>

#include "tcp/inspect.hpp"
#include "tcp_harness.hpp"

namespace shoal::tcp::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string text(const Sent &s) {
  return std::string(s.payload.begin(), s.payload.end());
}

// The peer ACKs everything up to `ack` (window p.window).
void ack_to(Peer &p, uint32_t ack) {
  p.send_raw(ACK, p.snd_nxt, ack);
}

TEST(Segmentation, InitialWindowOfTenSegmentsAtTheEffectiveMss) {
  Harness h;
  Peer p{h};
  p.syn_options.mss = 1460;
  p.syn_options.timestamp = wire::TcpTimestamp{1, 0};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  // RFC 9293 3.7.1: the timestamp option's 12 bytes come off the MSS.
  ASSERT_EQ(c->snd_mss(), 1448);
  const std::string msg = pattern(20000);
  EXPECT_EQ(write_str(*c, msg), 20000u);
  std::string got;
  for (int i = 0; i < 10; ++i) {
    Sent s = p.expect(ACK, "initial window");
    EXPECT_EQ(s.payload.size(), 1448u);
    got += text(s);
  }
  p.expect_none("RFC 6928: ten segments, then wait for an ACK");
  EXPECT_EQ(c->inspect().cwnd(), 10u * 1448);
  // ACKs open the window (slow start); the rest follows, in order.
  while (got.size() < msg.size()) {
    ack_to(p, p.rcv_nxt);
    auto s = h.pop();
    ASSERT_TRUE(s.has_value()) << "stalled at " << got.size();
    p.rcv_nxt += s->seq_len();
    got += text(*s);
    while (auto more = h.pop()) {
      p.rcv_nxt += more->seq_len();
      got += text(*more);
    }
  }
  EXPECT_EQ(got, msg);
  finish(h, p, c);
}

TEST(Nagle, SmallWritesWaitForTheAckUnlessNodelay) {
  Harness h;
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  EXPECT_FALSE(c->nodelay());
  write_str(*c, "a");
  EXPECT_EQ(text(p.expect(ACK, "nothing in flight: sent at once")), "a");
  write_str(*c, "b");
  write_str(*c, "c");
  p.expect_none("Nagle holds partial segments while 'a' is unacknowledged");
  h.advance(milliseconds(100));
  p.expect_none("still held");
  ack_to(p, p.rcv_nxt);
  EXPECT_EQ(text(p.expect(ACK, "the ACK releases them together")), "bc");
  // TCP_NODELAY: no waiting.
  c->set_nodelay(true);
  write_str(*c, "d");
  EXPECT_EQ(text(p.expect(ACK, "nodelay")), "d");
  write_str(*c, "e");
  EXPECT_EQ(text(p.expect(ACK, "nodelay, with data in flight")), "e");
  // Turning nodelay on releases what Nagle held.
  c->set_nodelay(false);
  write_str(*c, "f");
  p.expect_none("held again");
  c->set_nodelay(true);
  EXPECT_EQ(text(p.expect(ACK, "released by set_nodelay")), "f");
  finish(h, p, c);
}

TEST(ZeroCopy, SegmentsReferenceTheApplicationsBytes) {
  Harness h;
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  // More than copy_payload_max: segments this size reference the ring.
  const std::string data = pattern(300);
  ASSERT_GT(data.size(), test_config().copy_payload_max);
  std::span<uint8_t> room = c->reserve(data.size());
  ASSERT_EQ(room.size(), data.size());
  std::memcpy(room.data(), data.data(), data.size());
  const uint8_t *where = room.data();
  c->commit(data.size());
  Sent s = p.expect(ACK, "data");
  EXPECT_EQ(text(s), data);
  // The payload mbuf of the datagram points at the bytes the application
  // wrote: the stack attached to them, it did not copy them.
  ASSERT_EQ(s.payload_addrs.size(), 1u);
  EXPECT_EQ(s.payload_addrs[0], where);
  // So does the retransmission.
  h.run_until(h.now + milliseconds(200));
  Sent re = p.expect(ACK, "retransmission");
  ASSERT_EQ(re.payload_addrs.size(), 1u);
  EXPECT_EQ(re.payload_addrs[0], where);
  finish(h, p, c);
}

// Payloads up to copy_payload_max travel as a copy in the header mbuf: one
// contiguous datagram, no indirect mbuf; one byte more is referenced.
TEST(CopySmallPayloads, UpToTheLimitInTheHeaderMbufAboveItReferenced) {
  EngineConfig cfg = test_config();
  cfg.copy_payload_max = 256;
  Harness h(cfg);
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  c->set_nodelay(true);
  write_str(*c, pattern(256));
  Sent s = p.expect(ACK, "256 bytes");
  EXPECT_EQ(text(s), pattern(256));
  EXPECT_TRUE(s.payload_addrs.empty()) << "copied: one mbuf";
  ack_to(p, p.rcv_nxt);
  write_str(*c, pattern(257, 256));
  s = p.expect(ACK, "257 bytes");
  EXPECT_EQ(text(s), pattern(257, 256));
  EXPECT_EQ(s.payload_addrs.size(), 1u) << "referenced: header mbuf + ring piece";
  // A retransmission of a small segment is copied again from the ring.
  ack_to(p, p.rcv_nxt);
  write_str(*c, "again");
  EXPECT_EQ(text(p.expect(ACK, "first")), "again");
  h.run_until(h.now + milliseconds(300));
  s = p.expect(ACK, "retransmission");
  EXPECT_EQ(text(s), "again");
  EXPECT_TRUE(s.payload_addrs.empty());
  finish(h, p, c);
}

TEST(CopySmallPayloads, ACopiedSegmentSpanningTwoRingPieces) {
  Harness h;
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  c->set_nodelay(true);
  // Fill the first ring piece but for 10 bytes and send it.
  std::span<uint8_t> room = c->reserve(1 << 20);
  ASSERT_GT(room.size(), 10u + test_config().copy_payload_max);
  const size_t first = room.size() - 10;
  const std::string a = pattern(first);
  std::memcpy(room.data(), a.data(), first);
  c->commit(first);
  std::string got;
  while (got.size() < first) {
    Sent s = p.expect(ACK, "the first piece");
    got += text(s);
    ack_to(p, p.rcv_nxt);
  }
  EXPECT_EQ(got, a);
  // 40 bytes: 10 end the first piece, 30 start a second one.
  write_str(*c, pattern(40, first));
  Sent s = p.expect(ACK, "40 bytes over two pieces");
  EXPECT_EQ(text(s), pattern(40, first));
  EXPECT_TRUE(s.payload_addrs.empty());
  ack_to(p, p.rcv_nxt);
  finish(h, p, c);
}

// copy_payload_max 0: every payload is referenced, however small.
TEST(CopySmallPayloads, ZeroAlwaysReferences) {
  EngineConfig cfg = test_config();
  cfg.copy_payload_max = 0;
  Harness h(cfg);
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  write_str(*c, "x");
  Sent s = p.expect(ACK, "one byte");
  EXPECT_EQ(text(s), "x");
  EXPECT_EQ(s.payload_addrs.size(), 1u);
  finish(h, p, c);
}

TEST(Tso, OneLargeDatagramWhenThePortOffersIt) {
  EngineConfig cfg = test_config();
  cfg.tso = true;
  cfg.tx_checksum_offload = true;
  Harness h(cfg);
  Peer p{h};
  p.syn_options.mss = 1460;
  Recorder r;
  Connection *c = open_passive(h, p, r);
  write_str(*c, pattern(10000));
  Sent s = p.expect(ACK, "one TSO datagram");
  EXPECT_EQ(s.payload.size(), 10000u);
  EXPECT_EQ(s.tso_segsz, 1460);
  EXPECT_EQ(s.offload, (TxOffload{TxOffload::Checksum::l4, 1460})); // the port segments it
  EXPECT_EQ(text(s), pattern(10000));
  EXPECT_EQ(h.eng->counters()[Counter::tso_sends], 1u);
  p.expect_none();
  finish(h, p, c);
}

TEST(Persist, ZeroWindowIsProbedWithBackOffThenReopens) {
  Harness h;
  Peer p{h};
  p.window = 0;
  Recorder r;
  Connection *c = open_passive(h, p, r);
  ASSERT_EQ(c->inspect().snd_wnd(), 0u);
  write_str(*c, "queued behind a zero window");
  p.expect_none("zero window: nothing sent");
  EXPECT_TRUE(c->inspect().persist_armed());
  const Instant t0 = h.now;
  // Probes at RTO (200 ms), then 400 ms, then 800 ms later: one octet each,
  // the first queued byte; the peer keeps answering with a zero window.
  const Instant want[] = {t0 + milliseconds(200), t0 + milliseconds(600), t0 + milliseconds(1400)};
  for (Instant at : want) {
    h.run_until(at - milliseconds(1));
    p.expect_none("before the probe");
    h.run_until(at);
    Sent probe = p.expect(ACK, "zero-window probe");
    EXPECT_EQ(text(probe), "q");
    p.rcv_nxt -= 1; // the peer's window is closed: it does not take the octet
    ack_to(p, p.rcv_nxt);
    p.expect_none("no reaction to the rejecting ACK");
  }
  EXPECT_EQ(h.eng->counters()[Counter::persist_probes], 3u);
  EXPECT_EQ(c->state(), State::established);
  // The window opens: everything goes at once.
  p.window = 65535;
  ack_to(p, p.rcv_nxt);
  EXPECT_EQ(text(p.expect(ACK, "data after reopening")), "queued behind a zero window");
  EXPECT_FALSE(c->inspect().persist_armed());
  EXPECT_EQ(c->inspect().persist_backoff(), 0);
  finish(h, p, c);
}

TEST(Persist, WindowClosedByThePeerMidStream) {
  Harness h;
  Peer p{h};
  p.syn_options.mss = 1000;
  Recorder r;
  Connection *c = open_passive(h, p, r);
  write_str(*c, pattern(3000));
  for (int i = 0; i < 3; ++i)
    p.expect(ACK);
  // Everything acknowledged, window zero; more data waits.
  p.window = 0;
  ack_to(p, p.rcv_nxt);
  write_str(*c, pattern(500));
  p.expect_none();
  h.run_until(h.now + milliseconds(200));
  Sent probe = p.expect(ACK, "probe");
  EXPECT_EQ(probe.payload.size(), 1u);
  // This time the peer takes the octet, window still 0.
  ack_to(p, p.rcv_nxt);
  p.expect_none();
  EXPECT_TRUE(c->inspect().persist_armed());
  p.window = 4000;
  ack_to(p, p.rcv_nxt);
  EXPECT_EQ(p.expect(ACK, "the remaining 499 bytes").payload.size(), 499u);
  finish(h, p, c);
}

TEST(FastRetransmit, ThreeDuplicateAcksAndNewRenoPartialAck) {
  Harness h;
  Peer p{h};
  p.syn_options.mss = 1000;
  Recorder r;
  Connection *c = open_passive(h, p, r);
  ASSERT_FALSE(c->inspect().sack_permitted());
  const uint32_t s0 = p.rcv_nxt;
  write_str(*c, pattern(10000));
  for (int i = 0; i < 10; ++i)
    p.expect(ACK, "flight");
  // Segments 2 and 5 (from 1) are lost. Segment 1 is ACKed; 3, 4 bring
  // duplicate ACKs.
  ack_to(p, s0 + 1000);
  ack_to(p, s0 + 1000);
  ack_to(p, s0 + 1000);
  p.expect_none("two duplicate ACKs are not enough");
  ack_to(p, s0 + 1000);
  Sent re = p.expect(ACK, "fast retransmit on the third duplicate ACK");
  EXPECT_EQ(re.tcp.seq, s0 + 1000);
  EXPECT_EQ(re.payload.size(), 1000u);
  EXPECT_TRUE(c->inspect().congestion()->in_recovery());
  EXPECT_EQ(h.eng->counters()[Counter::dup_acks_in], 3u);
  EXPECT_EQ(h.eng->counters()[Counter::fast_retransmits], 1u);
  // RFC 6582: a partial ACK (up to the second hole) retransmits at once.
  ack_to(p, s0 + 4000);
  Sent re2 = p.expect(ACK, "partial ACK: retransmit the next hole");
  EXPECT_EQ(re2.tcp.seq, s0 + 4000);
  EXPECT_TRUE(c->inspect().congestion()->in_recovery());
  // The full ACK ends recovery with cwnd = ssthresh-ish (RFC 6582 option 1).
  ack_to(p, s0 + 10000);
  EXPECT_FALSE(c->inspect().congestion()->in_recovery());
  EXPECT_EQ(h.eng->counters()[Counter::fast_recoveries], 1u);
  EXPECT_EQ(h.eng->counters()[Counter::rtx_timeouts], 0u);
  EXPECT_LT(c->inspect().cwnd(), 10000u);
  p.expect_none();
  finish(h, p, c);
}

TEST(SackRecovery, TheRetransmissionPicksTheHole) {
  Harness h;
  Peer p{h};
  p.syn_options.mss = 1000;
  p.syn_options.sack_permitted = true;
  Recorder r;
  Connection *c = open_passive(h, p, r);
  ASSERT_TRUE(c->inspect().sack_permitted());
  const uint32_t s0 = p.rcv_nxt;
  auto seg = [&](int i) {
    return s0 + 1000u * static_cast<uint32_t>(i);
  }; // start of segment i (0-based)
  write_str(*c, pattern(10000));
  for (int i = 0; i < 10; ++i)
    p.expect(ACK, "flight");
  // Segments 2 and 6 (0-based) are lost. The receiver SACKs what it has.
  auto sack_ack = [&](std::vector<wire::SackBlock> blocks) {
    wire::TcpRepr s = make_seg(p.port, p.local_port, ACK, p.snd_nxt, seg(2), p.window);
    for (const auto &b : blocks)
      s.options.sack[s.options.sack_count++] = b;
    h.inject(s);
  };
  ack_to(p, seg(2));
  sack_ack({{seg(3), seg(4)}});
  sack_ack({{seg(3), seg(5)}});
  p.expect_none();
  sack_ack({{seg(3), seg(6)}});
  Sent re = p.expect(ACK, "fast retransmit of the first hole");
  EXPECT_EQ(re.tcp.seq, seg(2));
  p.expect_none("pipe fills cwnd");
  // Segments 7-9 arrive: segment 6 is now lost too (RFC 6675 IsLost). The
  // scoreboard skips the SACKed 3-5 and retransmits 6.
  sack_ack({{seg(7), seg(10)}, {seg(3), seg(6)}});
  Sent re2 = p.expect(ACK, "retransmission of the second hole");
  EXPECT_EQ(re2.tcp.seq, seg(6));
  EXPECT_EQ(re2.payload.size(), 1000u);
  p.expect_none("nothing else is missing");
  EXPECT_EQ(h.eng->counters()[Counter::sack_retransmits], 1u);
  ack_to(p, seg(10));
  EXPECT_FALSE(c->inspect().congestion()->in_recovery());
  EXPECT_EQ(c->send_queued(), 0u);
  finish(h, p, c);
}

TEST(Rto, ExponentialBackOffFrom200msCappedAt60s) {
  Harness h;
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  write_str(*c, "lost");
  Sent first = p.expect(ACK);
  Instant last = h.now;
  Duration want = milliseconds(200);
  for (int i = 0; i < 15; ++i) {
    h.run_until(last + want - milliseconds(1));
    p.expect_none("early retransmission");
    h.run_until(last + want);
    Sent re = p.expect(ACK, "retransmission");
    EXPECT_EQ(re.tcp.seq, first.tcp.seq);
    EXPECT_EQ(re.at - last, want) << "retransmission " << i + 1;
    last = re.at;
    want = std::min<Duration>(want * 2, seconds(60));
  }
  EXPECT_EQ(c->inspect().rto(), seconds(60));
  h.run_until(last + seconds(60));
  ASSERT_TRUE(r.closed.has_value());
  EXPECT_EQ(*r.closed, CloseReason::timed_out);
  EXPECT_EQ(h.eng->counters()[Counter::rtx_timeouts], 15u);
  h.expect_quiet();
}

TEST(Rto, GoBackNUnderTheCongestionWindow) {
  Harness h;
  Peer p{h};
  p.syn_options.mss = 1000;
  Recorder r;
  Connection *c = open_passive(h, p, r);
  const uint32_t s0 = p.rcv_nxt;
  write_str(*c, pattern(8000));
  for (int i = 0; i < 8; ++i)
    p.expect(ACK);
  // Everything lost: one segment after the timeout, not the whole window.
  h.run_until(h.now + milliseconds(200));
  EXPECT_EQ(p.expect(ACK, "first retransmission").tcp.seq, s0);
  p.expect_none("cwnd is one segment");
  EXPECT_EQ(c->inspect().cwnd(), 1000u);
  ack_to(p, s0 + 1000);
  EXPECT_EQ(p.expect(ACK).tcp.seq, s0 + 1000);
  EXPECT_EQ(p.expect(ACK).tcp.seq, s0 + 2000);
  p.expect_none("cwnd two segments");
  finish(h, p, c);
}

// After a timeout SND.NXT goes back to SND.UNA, but a pure ACK carries
// SND.MAX (the RFC's SND.NXT): the peer may have every byte already (only
// its ACKs were lost), and SEQ = SND.UNA would lie below its RCV.NXT --
// "not acceptable", the ACK field ignored (the ACK war of two ends both in
// timeout recovery).
TEST(Rto, PureAcksAfterATimeoutCarrySndMax) {
  Harness h;
  Peer p{h};
  p.syn_options.mss = 1000;
  Recorder r;
  Connection *c = open_passive(h, p, r);
  const uint32_t s0 = p.rcv_nxt;
  write_str(*c, pattern(3000));
  for (int i = 0; i < 3; ++i)
    p.expect(ACK);
  h.run_until(h.now + milliseconds(200));
  EXPECT_EQ(p.expect(ACK, "retransmission").tcp.seq, s0);
  EXPECT_EQ(c->inspect().snd_nxt().v, s0 + 1000);
  EXPECT_EQ(c->inspect().snd_max().v, s0 + 3000);
  // The peer's data, still acknowledging nothing new.
  p.send_raw(ACK, p.snd_nxt, s0, "hi");
  p.snd_nxt += 2;
  h.advance(milliseconds(40));
  Sent a = p.expect(ACK, "delayed ACK of the peer's data");
  EXPECT_EQ(a.tcp.seq, s0 + 3000) << "SEQ = SND.MAX: " << a.str();
  EXPECT_TRUE(a.payload.empty());
  finish(h, p, c);
}

TEST(UserTimeout, AbortsWhenDataStaysUnacknowledged) {
  Harness h;
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  c->set_user_timeout(seconds(1));
  const Instant t0 = h.now;
  write_str(*c, "nobody listens");
  p.expect(ACK);
  h.run_until(t0 + milliseconds(999));
  EXPECT_FALSE(r.closed.has_value());
  p.expect(ACK, "retransmission at 200 ms");
  p.expect(ACK, "retransmission at 600 ms");
  p.expect_none();
  h.run_until(t0 + seconds(1));
  p.expect(RST | ACK, "RST at the user timeout");
  ASSERT_TRUE(r.closed.has_value());
  EXPECT_EQ(*r.closed, CloseReason::timed_out);
  EXPECT_EQ(h.eng->counters()[Counter::user_timeouts], 1u);
  h.expect_quiet();
}

TEST(Rtt, HandshakeAndTimestampSamples) {
  Harness h;
  Peer p{h};
  p.local_port = 40000;
  p.port = 80;
  p.syn_options.timestamp = wire::TcpTimestamp{7, 0};
  Recorder r;
  Connection *c = h.eng->connect(kRemote, 80, &r, 40000);
  Sent syn = p.expect(SYN);
  h.advance(milliseconds(100));
  p.syn_options.timestamp = wire::TcpTimestamp{8, syn.tcp.options.timestamp->val};
  p.send(SYN | ACK);
  p.expect(ACK);
  // RFC 6298 2.2: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4 RTTVAR.
  EXPECT_EQ(c->inspect().srtt(), milliseconds(100));
  EXPECT_EQ(c->inspect().rto(), milliseconds(300));
  write_str(*c, "timed");
  Sent d = p.expect(ACK);
  h.advance(milliseconds(60));
  wire::TcpRepr a = make_seg(p.port, p.local_port, ACK, p.snd_nxt, p.rcv_nxt, p.window);
  a.options.timestamp = wire::TcpTimestamp{9, d.tcp.options.timestamp->val};
  h.inject(a);
  EXPECT_EQ(h.eng->counters()[Counter::rtt_samples], 2u);
  EXPECT_LT(c->inspect().srtt(), milliseconds(100));
  EXPECT_GT(c->inspect().srtt(), milliseconds(60));
  finish(h, p, c);
}

TEST(CongestionControl, NewRenoByDefaultCubicByConfigOrPerConnection) {
  {
    Harness h;
    Peer p{h};
    Recorder r;
    Connection *c = open_passive(h, p, r);
    EXPECT_EQ(c->congestion_control(), "newreno");
    EXPECT_FALSE(c->set_congestion_control("vegas"));
    EXPECT_TRUE(c->set_congestion_control("cubic"));
    EXPECT_EQ(c->inspect().congestion()->name(), "cubic");
    EXPECT_EQ(c->inspect().cwnd(), 10u * 536);
    finish(h, p, c);
  }
  EngineConfig cfg = test_config();
  cfg.congestion_control = "cubic";
  Harness h(cfg);
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  EXPECT_EQ(c->inspect().congestion()->name(), "cubic");
  finish(h, p, c);
}

TEST(Buffers, PerConnectionSendBufferLimit) {
  Harness h;
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  c->set_send_buffer(1000);
  EXPECT_EQ(c->writable(), 1000u);
  EXPECT_EQ(write_str(*c, pattern(3000)), 1000u);
  EXPECT_EQ(c->writable(), 0u);
  p.expect(ACK, "536 bytes (the default MSS)");
  ack_to(p, p.rcv_nxt);
  EXPECT_EQ(c->writable(), 536u);
  p.expect(ACK, "the other 464, released from Nagle by the ACK");
  ack_to(p, p.rcv_nxt);
  EXPECT_EQ(c->writable(), 1000u);
  finish(h, p, c);
}

} // namespace
} // namespace shoal::tcp::test
