// Connection lifecycle: handshakes, option negotiation, every close path,
// TIME_WAIT, retransmission schedules, RST handling, keepalive, timeouts.
// Each test reads like a packet trace on a hand-driven clock.
#include <gtest/gtest.h>

#include <array>

#include "tcp/inspect.hpp"
#include "tcp/isn.hpp"
#include "tcp_harness.hpp"

namespace shoal::tcp::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(Handshake, PassiveOpenThreeWay) {
  Harness h;
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->state(), State::established);
  EXPECT_EQ(r.events, std::vector<std::string>{"connected"});
  EXPECT_EQ(c->inspect().rcv_nxt(), Seq{p.snd_nxt});
  EXPECT_EQ(c->inspect().snd_nxt(), Seq{p.rcv_nxt});
  EXPECT_EQ(h.eng->counters()[Counter::accepted], 1u);
  c->abort();
  p.expect(RST | ACK, "abort");
  h.expect_quiet();
}

TEST(Handshake, ActiveOpenThreeWay) {
  Harness h;
  Peer p{h};
  p.local_port = 40000;
  p.port = 80;
  Recorder r;
  Connection *c = h.eng->connect(kRemote, 80, &r, 40000);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->state(), State::syn_sent);
  Sent syn = p.expect(SYN, "SYN");
  EXPECT_EQ(syn.tcp.options.mss, uint16_t{1460});
  EXPECT_TRUE(syn.tcp.options.sack_permitted);
  ASSERT_TRUE(syn.tcp.options.timestamp.has_value());
  EXPECT_EQ(syn.tcp.options.timestamp->ecr, 0u);
  EXPECT_EQ(syn.tcp.options.window_scale, uint8_t{0}); // rcv_buf 65535 needs no shift
  p.send(SYN | ACK);
  Sent ack = p.expect(ACK, "ACK");
  EXPECT_EQ(ack.tcp.seq, syn.tcp.seq + 1);
  EXPECT_EQ(ack.tcp.ack, p.snd_nxt);
  EXPECT_EQ(c->state(), State::established);
  EXPECT_EQ(r.events, std::vector<std::string>{"connected"});
  // The peer offered no options in its SYN-ACK: none are in use, MSS 536.
  EXPECT_FALSE(c->inspect().timestamps());
  EXPECT_FALSE(c->inspect().sack_permitted());
  EXPECT_FALSE(c->inspect().window_scaling());
  EXPECT_EQ(c->snd_mss(), 536);
  c->abort();
  p.expect(RST | ACK, "abort");
  h.expect_quiet();
}

TEST(Handshake, OptionsNegotiatedFromPeerSyn) {
  EngineConfig cfg = test_config();
  cfg.rcv_buf = 1 << 20; // needs a shift of 5
  Harness h(cfg);
  Peer p{h};
  p.syn_options.mss = 1200;
  p.syn_options.window_scale = 7;
  p.syn_options.sack_permitted = true;
  p.syn_options.timestamp = wire::TcpTimestamp{5000, 0};
  Recorder r;
  h.eng->listen(80, [&](Connection &) -> ConnectionHandler * { return &r; });
  p.send(SYN);
  Sent synack = p.expect(SYN | ACK, "SYN-ACK");
  EXPECT_EQ(synack.tcp.options.mss, uint16_t{1460});
  EXPECT_EQ(synack.tcp.options.window_scale, uint8_t{5});
  EXPECT_TRUE(synack.tcp.options.sack_permitted);
  ASSERT_TRUE(synack.tcp.options.timestamp.has_value());
  EXPECT_EQ(synack.tcp.options.timestamp->ecr, 5000u);
  EXPECT_EQ(synack.tcp.window, 65535); // never scaled in a SYN
  wire::TcpRepr a = make_seg(p.port, 80, ACK, p.snd_nxt, p.rcv_nxt, 100);
  a.options.timestamp = wire::TcpTimestamp{5001, synack.tcp.options.timestamp->val};
  h.inject(a);
  ASSERT_NE(r.conn, nullptr);
  Connection &c = *r.conn;
  EXPECT_TRUE(c.inspect().window_scaling());
  EXPECT_EQ(c.inspect().snd_wscale(), 7);
  EXPECT_EQ(c.inspect().rcv_wscale(), 5);
  EXPECT_EQ(c.inspect().snd_wnd(), 100u << 7);
  EXPECT_TRUE(c.inspect().timestamps());
  EXPECT_TRUE(c.inspect().sack_permitted());
  EXPECT_EQ(c.inspect().ts_recent(), 5001u);
  EXPECT_EQ(c.snd_mss(), 1200 - 12); // peer MSS caps ours, minus the TS option
  // Data from us carries the timestamp and a scaled window.
  c.write(std::span<const uint8_t>(reinterpret_cast<const uint8_t *>("hello"), 5));
  Sent d = p.expect(ACK, "data");
  EXPECT_EQ(d.payload.size(), 5u);
  ASSERT_TRUE(d.tcp.options.timestamp.has_value());
  EXPECT_EQ(d.tcp.options.timestamp->ecr, 5001u);
  EXPECT_EQ(d.tcp.window, (1u << 20) >> 5);
  c.abort();
  p.expect(RST | ACK, "abort");
  h.expect_quiet();
}

TEST(Handshake, MssDefaultsTo536AndShiftClampedTo14) {
  Harness h;
  Peer p{h};
  p.syn_options.window_scale = 20; // RFC 7323 2.3: use 14
  Recorder r;
  Connection *c = open_passive(h, p, r);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->snd_mss(), 536);
  EXPECT_EQ(c->inspect().snd_wscale(), 14);
  c->abort();
  p.expect(RST | ACK);
  h.expect_quiet();
}

TEST(Handshake, SimultaneousOpen) {
  Harness h;
  Peer p{h};
  p.local_port = 40000;
  p.port = 7000;
  Recorder r;
  Connection *c = h.eng->connect(kRemote, 7000, &r, 40000);
  ASSERT_NE(c, nullptr);
  Sent syn = p.expect(SYN, "our SYN");
  // The peer's SYN crosses ours: SYN-SENT -> SYN-RECEIVED, answered with SYN-ACK.
  p.send(SYN);
  EXPECT_EQ(c->state(), State::syn_received);
  Sent synack = p.expect(SYN | ACK, "SYN-ACK");
  EXPECT_EQ(synack.tcp.seq, syn.tcp.seq);
  EXPECT_EQ(synack.tcp.ack, p.snd_nxt);
  // The peer, also in SYN-RECEIVED, sends its SYN-ACK; our SYN-ACK's ACK
  // completes it. Its SYN-ACK repeats an old SYN, so we answer with an ACK.
  p.send_raw(SYN | ACK, p.snd_nxt - 1, syn.tcp.seq + 1);
  p.expect(ACK, "ACK of the crossing SYN-ACK");
  p.send(ACK);
  EXPECT_EQ(c->state(), State::established);
  EXPECT_EQ(r.events, std::vector<std::string>{"connected"});
  c->abort();
  p.expect(RST | ACK);
  h.expect_quiet();
}

TEST(Handshake, LostSynAckRecoversOnRetransmittedSyn) {
  Harness h;
  Peer p{h};
  Recorder r;
  h.eng->listen(80, [&](Connection &) -> ConnectionHandler * { return &r; });
  p.send(SYN);
  Sent first = p.expect(SYN | ACK, "SYN-ACK (lost)");
  // The peer retransmits its SYN: the same SYN-ACK comes back at once.
  p.send_raw(SYN, p.snd_nxt - 1, 0);
  Sent again = p.expect(SYN | ACK, "SYN-ACK again");
  EXPECT_EQ(again.tcp.seq, first.tcp.seq);
  p.send(ACK);
  ASSERT_NE(r.conn, nullptr);
  r.conn->abort();
  p.expect(RST | ACK);
  h.expect_quiet();
}

// A retransmitted SYN arriving in the same instant as the SYN-ACK timer
// fires gets one SYN-ACK, not two, whichever of the two the shard runs first.
TEST(Handshake, DuplicateSynAsTheSynAckTimerFiresGetsOneSynAck) {
  Harness h;
  Peer p{h};
  Recorder r;
  h.eng->listen(80, [&](Connection &) -> ConnectionHandler * { return &r; });
  p.send(SYN);
  p.expect(SYN | ACK);
  h.note("timer first, then the SYN, both at 2 s");
  h.run_until(h.now + seconds(1));
  p.expect(SYN | ACK, "SYN-ACK retransmitted by the timer");
  p.send_raw(SYN, p.snd_nxt - 1, 0);
  p.expect_none("a second identical SYN-ACK");
  EXPECT_EQ(h.eng->counters()[Counter::synack_dup_syn_suppressed], 1u);
  h.note("the SYN first at 4 s (the timer's next expiry), then the timer");
  h.advance_to(h.now + seconds(2) - milliseconds(1));
  p.expect_none("before the timer");
  h.now += milliseconds(1);
  p.send_raw(SYN, p.snd_nxt - 1, 0);
  p.expect(SYN | ACK, "SYN-ACK for the SYN, in place of the timer's");
  h.run_until(h.now);
  p.expect_none("the timer restarted: no second SYN-ACK");
  // The restarted timer waits one full RTO (2 s) from the answer.
  h.run_until(h.now + seconds(2) - milliseconds(1));
  p.expect_none("before the restarted timer");
  h.run_until(h.now + milliseconds(1));
  p.expect(SYN | ACK, "the restarted timer");
  p.send(ACK);
  ASSERT_NE(r.conn, nullptr);
  r.conn->abort();
  p.expect(RST | ACK);
  h.expect_quiet();
}

TEST(Handshake, LostFinalAckRecoversBySynAckRetransmission) {
  Harness h;
  Peer p{h};
  Recorder r;
  h.eng->listen(80, [&](Connection &) -> ConnectionHandler * { return &r; });
  p.send(SYN);
  p.expect(SYN | ACK);
  // Our SYN-ACK is retransmitted after initial_rto (the peer's ACK was lost).
  h.run_until(h.now + milliseconds(999));
  p.expect_none("before 1 s");
  h.run_until(h.now + milliseconds(1));
  p.expect(SYN | ACK, "retransmitted SYN-ACK");
  p.send(ACK);
  ASSERT_NE(r.conn, nullptr);
  EXPECT_EQ(r.conn->state(), State::established);
  r.conn->abort();
  p.expect(RST | ACK);
  h.expect_quiet();
}

TEST(Retransmit, SynScheduleThenTimedOut) {
  Harness h;
  Peer p{h};
  p.local_port = 40000;
  Recorder r;
  const Instant t0 = h.now;
  ASSERT_NE(h.eng->connect(kRemote, p.port, &r, 40000), nullptr);
  Sent syn = p.expect(SYN);
  std::vector<double> at;
  h.run_until(t0 + seconds(200));
  while (auto s = h.pop()) {
    EXPECT_TRUE(s->has(SYN));
    EXPECT_EQ(s->tcp.seq, syn.tcp.seq);
    at.push_back(static_cast<double>(to_ns(s->at) - to_ns(t0)) / 1e9);
  }
  // Retransmissions at 1, 1+2, 1+2+4, ... (back-off 1, 2, 4, 8, 16 s).
  EXPECT_EQ(at, (std::vector<double>{1, 3, 7, 15, 31}));
  ASSERT_TRUE(r.closed.has_value());
  EXPECT_EQ(*r.closed, CloseReason::timed_out);
  EXPECT_EQ(h.eng->counters()[Counter::syn_retransmits], 5u);
  h.expect_quiet();
}

TEST(Retransmit, SynTimeoutReportedAfterLastWait) {
  Harness h;
  Peer p{h};
  Recorder r;
  const Instant t0 = h.now;
  ASSERT_NE(h.eng->connect(kRemote, p.port, &r, 40000), nullptr);
  h.run_until(t0 + seconds(62));
  EXPECT_FALSE(r.closed.has_value());
  h.run_until(t0 + seconds(63)); // 31 s + the last 32 s wait
  ASSERT_TRUE(r.closed.has_value());
  EXPECT_EQ(*r.closed, CloseReason::timed_out);
  h.out.queue.clear();
  h.expect_quiet();
}

TEST(Retransmit, SynAckRetriesThenHalfOpenExpires) {
  EngineConfig cfg = test_config();
  cfg.synack_retries = 3;
  Harness h(cfg);
  Peer p{h};
  Recorder r;
  h.eng->listen(80, [&](Connection &) -> ConnectionHandler * { return &r; });
  const Instant t0 = h.now;
  p.send(SYN);
  p.expect(SYN | ACK);
  std::vector<double> at;
  h.run_until(t0 + seconds(100));
  while (auto s = h.pop()) {
    EXPECT_EQ(s->tcp.flags, SYN | ACK);
    at.push_back(static_cast<double>(to_ns(s->at) - to_ns(t0)) / 1e9);
  }
  EXPECT_EQ(at, (std::vector<double>{1, 3, 7}));
  EXPECT_EQ(h.eng->counters()[Counter::half_open_expired], 1u);
  EXPECT_TRUE(r.events.empty()); // the application never saw it
  h.expect_quiet();
}

TEST(Reset, ConnectToClosedPortIsRefused) {
  Harness h;
  Peer p{h};
  p.local_port = 40000;
  Recorder r;
  ASSERT_NE(h.eng->connect(kRemote, p.port, &r, 40000), nullptr);
  Sent syn = p.expect(SYN);
  // The peer's kernel answers <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>.
  p.send_raw(RST | ACK, 0, syn.tcp.seq + 1);
  ASSERT_TRUE(r.closed.has_value());
  EXPECT_EQ(*r.closed, CloseReason::refused);
  p.expect_none("no answer to a RST");
  h.expect_quiet();
}

TEST(Reset, SegmentToClosedPortGetsRst) {
  Harness h;
  Peer p{h};
  // No ACK: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
  p.send_raw(SYN, 1000, 0);
  Sent a = p.expect(RST | ACK);
  EXPECT_EQ(a.tcp.seq, 0u);
  EXPECT_EQ(a.tcp.ack, 1001u);
  p.send_raw(FIN, 2000, 0, "abc");
  Sent b = p.expect(RST | ACK);
  EXPECT_EQ(b.tcp.ack, 2004u);
  // ACK: <SEQ=SEG.ACK><CTL=RST>
  p.send_raw(ACK, 3000, 777);
  Sent c = p.expect(RST);
  EXPECT_EQ(c.tcp.seq, 777u);
  // Never a RST for a RST.
  p.send_raw(RST, 4000, 0);
  p.send_raw(RST | ACK, 4000, 5);
  p.expect_none("RST answered");
  h.expect_quiet();
}

TEST(Reset, AbortSendsRstAndSkipsTimeWait) {
  Harness h;
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  ASSERT_NE(c, nullptr);
  c->write(std::span<const uint8_t>(reinterpret_cast<const uint8_t *>("queued"), 6));
  p.expect(ACK, "data");
  const uint32_t snd_nxt = c->inspect().snd_nxt().v;
  c->abort();
  Sent rst = p.expect(RST | ACK, "abort");
  EXPECT_EQ(rst.tcp.seq, snd_nxt);
  ASSERT_TRUE(r.closed.has_value());
  EXPECT_EQ(*r.closed, CloseReason::aborted);
  EXPECT_EQ(h.eng->time_wait_count(), 0u);
  h.expect_quiet();
}

TEST(Reset, AcceptableRstReportsReset) {
  Harness h;
  Peer p{h};
  Recorder r;
  ASSERT_NE(open_passive(h, p, r), nullptr);
  p.send_raw(RST, p.snd_nxt, 0);
  ASSERT_TRUE(r.closed.has_value());
  EXPECT_EQ(*r.closed, CloseReason::reset);
  p.expect_none();
  h.expect_quiet();
}

TEST(Reset, InexactRstAndSynDrawRateLimitedChallengeAcks) {
  EngineConfig cfg = test_config();
  cfg.challenge_ack_limit_per_s = 3;
  Harness h(cfg);
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  ASSERT_NE(c, nullptr);
  for (int i = 0; i < 3; ++i) {
    p.send_raw(RST, p.snd_nxt + 100, 0); // in window, not exact
    Sent a = p.expect(ACK, "challenge ACK");
    EXPECT_EQ(a.tcp.seq, c->inspect().snd_nxt().v);
    EXPECT_EQ(a.tcp.ack, c->inspect().rcv_nxt().v);
  }
  p.send_raw(SYN, p.snd_nxt + 5, 0); // 4th in this second: suppressed
  p.expect_none("over the limit");
  EXPECT_EQ(h.eng->counters()[Counter::challenge_acks], 3u);
  EXPECT_EQ(h.eng->counters()[Counter::challenge_acks_limited], 1u);
  h.advance(seconds(1));
  p.send_raw(SYN | ACK, p.snd_nxt, p.rcv_nxt); // a new second: allowed again
  p.expect(ACK, "challenge ACK after a second");
  EXPECT_EQ(c->state(), State::established);
  c->abort();
  p.expect(RST | ACK);
  h.expect_quiet();
}

TEST(Close, ActiveCloseThroughTimeWaitLastsExactly2Msl) {
  Harness h;
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  ASSERT_NE(c, nullptr);
  c->close();
  EXPECT_EQ(c->state(), State::fin_wait_1);
  p.expect(FIN | ACK, "our FIN");
  p.send(ACK);
  EXPECT_EQ(c->state(), State::fin_wait_2);
  p.send(FIN | ACK);
  p.expect(ACK, "ACK of their FIN");
  ASSERT_TRUE(r.closed.has_value());
  EXPECT_EQ(*r.closed, CloseReason::normal);
  EXPECT_EQ(h.eng->connection_count(), 0u);
  EXPECT_EQ(h.eng->time_wait_count(), 1u);
  EXPECT_EQ(h.eng->state_of(p.tuple()), State::time_wait);
  const Instant entered = h.now;
  const Duration two_msl = 2 * h.eng->config().msl;
  h.run_until(entered + two_msl - milliseconds(1));
  EXPECT_EQ(h.eng->time_wait_count(), 1u) << "TIME_WAIT ended before 2MSL";
  h.run_until(entered + two_msl);
  EXPECT_EQ(h.eng->time_wait_count(), 0u) << "TIME_WAIT outlived 2MSL";
  EXPECT_EQ(h.eng->state_of(p.tuple()), State::closed);
  h.expect_quiet();
}

TEST(Close, RetransmittedFinInTimeWaitIsReAckedAndRestarts2Msl) {
  Harness h;
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  c->close();
  p.expect(FIN | ACK);
  p.send(ACK);
  p.send(FIN | ACK);
  Sent ack = p.expect(ACK);
  h.run_until(h.now + seconds(40));
  // Our ACK was lost: the peer retransmits its FIN.
  p.send_raw(FIN | ACK, p.snd_nxt - 1, p.rcv_nxt);
  Sent again = p.expect(ACK, "re-ACK");
  EXPECT_EQ(again.tcp.seq, ack.tcp.seq);
  EXPECT_EQ(again.tcp.ack, ack.tcp.ack);
  const Instant restarted = h.now;
  h.run_until(restarted + seconds(59));
  EXPECT_EQ(h.eng->time_wait_count(), 1u);
  h.run_until(restarted + seconds(60));
  EXPECT_EQ(h.eng->time_wait_count(), 0u);
  h.expect_quiet();
}

// The per-state gauges and the transition matrix follow a connection's
// whole life, its listener's and its TIME_WAIT record's: the listener stays
// in LISTEN while it creates a TCB, and TIME_WAIT counts the record.
TEST(Counters, StateGaugesAndTransitionsFollowEveryChange) {
  Harness h;
  Peer p{h};
  Recorder r;
  const Counters &k = h.eng->counters();
  auto gauge = [&](State s) { return k.in_state[static_cast<int>(s)]; };
  auto moved = [&](State a, State b) {
    return k.transitions[static_cast<int>(a)][static_cast<int>(b)];
  };
  h.eng->listen(80, [&](Connection &) -> ConnectionHandler * { return &r; });
  EXPECT_EQ(gauge(State::listen), 1u);
  EXPECT_EQ(moved(State::closed, State::listen), 1u);
  p.send(SYN);
  p.expect(SYN | ACK);
  EXPECT_EQ(gauge(State::listen), 1u) << "the listener stays in LISTEN";
  EXPECT_EQ(gauge(State::syn_received), 1u);
  EXPECT_EQ(moved(State::listen, State::syn_received), 1u);
  EXPECT_EQ(moved(State::closed, State::syn_received), 0u);
  p.send(ACK);
  ASSERT_NE(r.conn, nullptr);
  EXPECT_EQ(gauge(State::syn_received), 0u);
  EXPECT_EQ(gauge(State::established), 1u);
  r.conn->close();
  p.expect(FIN | ACK);
  p.send(ACK);
  p.send(FIN | ACK);
  p.expect(ACK);
  EXPECT_EQ(gauge(State::established), 0u);
  EXPECT_EQ(gauge(State::fin_wait_2), 0u);
  EXPECT_EQ(gauge(State::time_wait), 1u);
  EXPECT_EQ(h.eng->time_wait_count(), 1u);
  EXPECT_EQ(moved(State::fin_wait_2, State::time_wait), 1u);
  EXPECT_EQ(moved(State::time_wait, State::closed), 0u) << "the record carries TIME_WAIT on";
  h.run_until(h.now + 2 * h.eng->config().msl);
  EXPECT_EQ(h.eng->time_wait_count(), 0u);
  EXPECT_EQ(gauge(State::time_wait), 0u);
  EXPECT_EQ(moved(State::time_wait, State::closed), 1u);
  h.eng->unlisten(80);
  EXPECT_EQ(gauge(State::listen), 0u);
  EXPECT_EQ(moved(State::listen, State::closed), 1u);
  for (int s = 0; s < kStateCount; ++s)
    EXPECT_EQ(k.in_state[s], 0u) << to_string(static_cast<State>(s));
  h.expect_quiet();
}

TEST(Close, PassiveCloseThroughLastAck) {
  Harness h;
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  p.send(FIN | ACK);
  p.expect(ACK, "ACK of FIN");
  EXPECT_EQ(c->state(), State::close_wait);
  EXPECT_EQ(r.events.back(), "peer_closed");
  EXPECT_TRUE(c->peer_closed());
  c->close();
  EXPECT_EQ(c->state(), State::last_ack);
  p.expect(FIN | ACK, "our FIN");
  p.send(ACK);
  ASSERT_TRUE(r.closed.has_value());
  EXPECT_EQ(*r.closed, CloseReason::normal);
  EXPECT_EQ(h.eng->time_wait_count(), 0u) << "TIME_WAIT only on the side that closed first";
  h.expect_quiet();
}

TEST(Close, SimultaneousCloseThroughClosing) {
  Harness h;
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  c->close();
  Sent fin = p.expect(FIN | ACK);
  // The peer's FIN crosses ours (it has not seen our FIN).
  p.send_raw(FIN | ACK, p.snd_nxt, fin.tcp.seq);
  p.snd_nxt++;
  EXPECT_EQ(c->state(), State::closing);
  p.expect(ACK, "ACK of their FIN");
  p.send(ACK); // acks our FIN
  EXPECT_EQ(h.eng->state_of(p.tuple()), State::time_wait);
  ASSERT_TRUE(r.closed.has_value());
  EXPECT_EQ(*r.closed, CloseReason::normal);
  h.run_until(h.now + seconds(60));
  h.expect_quiet();
}

// RFC 9293 3.10.7.4 "second, check the RST bit", CLOSING/LAST-ACK/TIME-WAIT:
// "enter the CLOSED state, delete the TCB, and return" — no "connection
// reset" signal: both FINs were exchanged, the stream is complete.
TEST(Close, RstInLastAckClosesNormally) {
  Harness h;
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  p.send(FIN | ACK);
  p.expect(ACK, "ACK of FIN");
  c->close();
  p.expect(FIN | ACK, "our FIN (lost)");
  // The peer's TIME_WAIT is gone before our FIN got through: it resets.
  p.send_raw(RST, p.snd_nxt, 0);
  ASSERT_TRUE(r.closed.has_value());
  EXPECT_EQ(*r.closed, CloseReason::normal);
  EXPECT_EQ(h.eng->counters()[Counter::closed_reset], 0u);
  EXPECT_EQ(h.eng->state_of(p.tuple()), State::closed);
  h.expect_quiet();
}

TEST(Close, RstInClosingClosesNormally) {
  Harness h;
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  c->close();
  Sent fin = p.expect(FIN | ACK);
  p.send_raw(FIN | ACK, p.snd_nxt, fin.tcp.seq);
  p.snd_nxt++;
  ASSERT_EQ(c->state(), State::closing);
  p.expect(ACK, "ACK of their FIN");
  p.send_raw(RST, p.snd_nxt, 0);
  ASSERT_TRUE(r.closed.has_value());
  EXPECT_EQ(*r.closed, CloseReason::normal);
  EXPECT_EQ(h.eng->counters()[Counter::closed_reset], 0u);
  h.expect_quiet();
}

TEST(Close, RstInEstablishedStillReportsReset) {
  Harness h;
  Peer p{h};
  Recorder r;
  open_passive(h, p, r);
  p.send_raw(RST, p.snd_nxt, 0);
  EXPECT_EQ(r.closed, CloseReason::reset);
  h.expect_quiet();
}

TEST(Close, HalfCloseKeepsReadingInFinWait2) {
  Harness h;
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  c->shutdown_write();
  p.expect(FIN | ACK);
  p.send(ACK);
  EXPECT_EQ(c->state(), State::fin_wait_2);
  p.send(ACK, "more data");
  p.expect_none("the ACK of a lone small segment is delayed");
  h.advance(milliseconds(40));
  p.expect(ACK, "delayed ACK of data");
  EXPECT_EQ(r.received, "more data");
  // No FIN_WAIT_2 timeout for a half-close: still there after 10 minutes.
  h.run_until(h.now + seconds(600));
  EXPECT_EQ(c->state(), State::fin_wait_2);
  p.send(FIN | ACK);
  p.expect(ACK);
  EXPECT_EQ(*r.closed, CloseReason::normal);
  h.run_until(h.now + seconds(60));
  h.expect_quiet();
}

// A slow reader that half-closed: the peer's data and FIN arrive, the
// connection passes through TIME_WAIT (a record now does that duty), and
// the data stays readable until the application has consumed it; only then
// does on_closed(normal) come (RFC 9293 3.10.3: RECEIVE gets "connection
// closing" only once no text awaits delivery).
TEST(Close, UnreadDataStaysReadableAfterTimeWait) {
  Harness h;
  Peer p{h};
  Recorder r;
  r.consume = false;
  Connection *c = open_passive(h, p, r);
  c->shutdown_write();
  p.expect(FIN | ACK);
  p.send(ACK);
  p.send(ACK, "the end of");
  p.send(FIN | ACK, " the stream");
  p.expect(ACK, "ACK of the FIN");
  EXPECT_EQ(h.eng->state_of(p.tuple()), State::time_wait);
  EXPECT_EQ(h.eng->time_wait_count(), 1u);
  EXPECT_EQ(h.eng->connection_count(), 0u);
  ASSERT_FALSE(r.closed.has_value()) << "closed before the application read its data";
  EXPECT_EQ(c->readable(), 21u);
  EXPECT_TRUE(c->peer_closed());
  EXPECT_EQ(c->state(), State::closed);
  EXPECT_EQ(c->writable(), 0u);
  EXPECT_EQ(h.eng->counters()[Counter::closed_unread_lingering], 1u);
  // The record answers a retransmitted FIN meanwhile.
  p.send_raw(FIN | ACK, p.snd_nxt - 1, p.rcv_nxt);
  p.expect(ACK, "TIME_WAIT re-ACKs the FIN");
  // Read half, then the rest: on_closed after the last byte, on the next tick.
  std::array<uint8_t, 10> part{};
  EXPECT_EQ(c->read(part), 10u);
  EXPECT_EQ(std::string(part.begin(), part.end()), "the end of");
  h.advance(milliseconds(5));
  EXPECT_FALSE(r.closed.has_value());
  std::array<uint8_t, 64> rest{};
  EXPECT_EQ(c->read(rest), 11u);
  EXPECT_EQ(std::string(rest.begin(), rest.begin() + 11), " the stream");
  EXPECT_FALSE(r.closed.has_value()) << "not from inside read()";
  h.advance(milliseconds(1));
  ASSERT_TRUE(r.closed.has_value());
  EXPECT_EQ(*r.closed, CloseReason::normal);
  EXPECT_EQ(h.eng->counters()[Counter::closed_normal], 1u);
  p.expect_none("nothing sent when the application finishes reading");
  h.run_until(h.now + seconds(60));
  h.expect_quiet();
}

// LAST_ACK ends with unread data; close() then drops it without a RST (the
// connection has finished), abort() reports aborted.
// Data after close() is lost (RFC 1122 4.2.2.13): the RST answers the
// segment, <SEQ=SEG.ACK><CTL=RST> (RFC 9293 3.10.7.1, as Linux), so it lands
// exactly on the peer's RCV.NXT while our FIN is still unacknowledged.
TEST(Close, DataAfterCloseIsAnsweredWithARstAtTheSegmentsAck) {
  Harness h;
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  const uint32_t fin_seq = p.rcv_nxt;
  c->close();
  Sent fin = p.expect(FIN | ACK, "our FIN");
  EXPECT_EQ(fin.tcp.seq, fin_seq);
  // The peer has not seen the FIN yet: its data ACKs up to the FIN only.
  p.send_raw(ACK | PSH, p.snd_nxt, fin_seq, "late");
  Sent rst = p.expect(RST, "RST for data after close");
  EXPECT_FALSE(rst.has(ACK));
  EXPECT_EQ(rst.tcp.seq, fin_seq);
  EXPECT_EQ(h.eng->counters()[Counter::rst_data_after_close], 1u);
  EXPECT_EQ(h.eng->connection_count(), 0u);
  h.expect_quiet();
}

TEST(Close, UnreadDataAfterLastAckEndsAtCloseOrAbort) {
  for (bool use_abort : {false, true}) {
    Harness h;
    Peer p{h};
    Recorder r;
    r.consume = false;
    Connection *c = open_passive(h, p, r);
    p.send(ACK, "unread");
    p.send(FIN | ACK);
    p.expect(ACK);
    EXPECT_EQ(c->state(), State::close_wait);
    c->shutdown_write();
    p.expect(FIN | ACK);
    p.send(ACK);
    EXPECT_EQ(h.eng->connection_count(), 0u);
    ASSERT_FALSE(r.closed.has_value());
    EXPECT_EQ(c->readable(), 6u);
    if (use_abort)
      c->abort();
    else
      c->close();
    ASSERT_TRUE(r.closed.has_value());
    EXPECT_EQ(*r.closed, use_abort ? CloseReason::aborted : CloseReason::normal);
    p.expect_none("no RST for a finished connection");
    h.expect_quiet();
  }
}

// A passive open offers what its buffer holds, whatever the ISNs: the
// right edge starts at RCV.NXT, not at sequence number 0.
TEST(Handshake, PassiveOpenOffersNoMoreThanItsBuffer) {
  EngineConfig cfg = test_config();
  cfg.rcv_buf = 16 * 1024;
  Harness h(cfg);
  for (uint32_t i = 0; i < 16; ++i) {
    Peer p{h};
    p.port = static_cast<uint16_t>(6000 + i);
    p.snd_nxt = 0x10000000u * i + 12345; // SYNs all around the sequence space
    Recorder r;
    Connection *c = open_passive(h, p, r);
    ASSERT_NE(c, nullptr);
    EXPECT_LE(c->inspect().rcv_wnd(), 16u * 1024) << "ISN " << p.snd_nxt;
    p.send(ACK, "x");
    h.advance(milliseconds(40));
    Sent a = p.expect(ACK);
    EXPECT_LE(a.tcp.window, 16u * 1024) << a.str();
    c->abort();
    p.expect(RST | ACK);
    h.eng->unlisten(p.local_port);
  }
  h.expect_quiet();
}

TEST(Close, PeerHalfClosedWeKeepSendingInCloseWait) {
  Harness h;
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  p.send(FIN | ACK);
  p.expect(ACK);
  EXPECT_EQ(c->state(), State::close_wait);
  EXPECT_EQ(c->write(std::span<const uint8_t>(reinterpret_cast<const uint8_t *>("reply"), 5)), 5u);
  Sent d = p.expect(ACK, "data in CLOSE_WAIT");
  EXPECT_EQ(std::string(d.payload.begin(), d.payload.end()), "reply");
  p.send(ACK);
  c->close();
  p.expect(FIN | ACK);
  p.send(ACK);
  EXPECT_EQ(*r.closed, CloseReason::normal);
  h.expect_quiet();
}

TEST(Close, LostFinIsRetransmitted) {
  Harness h;
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  c->close();
  Sent fin = p.expect(FIN | ACK);
  // The handshake measured a zero RTT: the RTO is the 200 ms floor.
  h.run_until(h.now + milliseconds(200));
  Sent again = p.expect(FIN | ACK, "FIN retransmitted");
  EXPECT_EQ(again.tcp.seq, fin.tcp.seq);
  h.run_until(h.now + milliseconds(400));
  p.expect(FIN | ACK, "FIN retransmitted (back-off 400 ms)");
  p.send(ACK);
  p.send(FIN | ACK);
  p.expect(ACK);
  h.run_until(h.now + seconds(60));
  h.expect_quiet();
}

TEST(Close, FinWait2TimeoutForClosedConnections) {
  Harness h;
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  c->close();
  p.expect(FIN | ACK);
  p.send(ACK);
  const Instant t = h.now;
  h.run_until(t + seconds(59));
  EXPECT_FALSE(r.closed.has_value());
  h.run_until(t + seconds(60));
  ASSERT_TRUE(r.closed.has_value());
  EXPECT_EQ(*r.closed, CloseReason::timed_out);
  EXPECT_EQ(h.eng->counters()[Counter::fin_wait2_timeouts], 1u);
  h.expect_quiet();
}

TEST(TimeWait, SynWithHigherSequenceReusesTuple) {
  Harness h;
  Peer p{h};
  Recorder r;
  Sent last = close_into_time_wait(p, *open_passive(h, p, r));
  ASSERT_EQ(h.eng->time_wait_count(), 1u);
  // An old duplicate SYN (lower sequence) opens nothing: the record
  // answers with an ACK of where it stands (RFC 5961 4.2).
  p.send_raw(SYN, p.snd_nxt - 100, 0);
  Sent reack = p.expect(ACK, "old SYN answered");
  EXPECT_FALSE(reack.has(SYN));
  EXPECT_EQ(reack.tcp.ack, p.snd_nxt);
  ASSERT_EQ(h.eng->time_wait_count(), 1u);
  EXPECT_EQ(h.eng->time_wait_count(), 1u);
  // A new incarnation with a higher sequence number is accepted (RFC 6191).
  Recorder r2;
  h.eng->unlisten(80);
  h.eng->listen(80, [&](Connection &) -> ConnectionHandler * { return &r2; });
  p.snd_nxt += 100000;
  p.send(SYN);
  Sent synack = p.expect(SYN | ACK, "new incarnation");
  EXPECT_TRUE(seq_gt(Seq{synack.tcp.seq}, Seq{last.tcp.seq}));
  EXPECT_EQ(h.eng->time_wait_count(), 0u);
  EXPECT_EQ(h.eng->counters()[Counter::time_wait_reused], 1u);
  p.send(ACK);
  ASSERT_NE(r2.conn, nullptr);
  r2.conn->abort();
  p.expect(RST | ACK);
  h.expect_quiet();
}

TEST(TimeWait, TimestampsDecideReuse) {
  Harness h;
  Peer p{h};
  p.syn_options.timestamp = wire::TcpTimestamp{100, 0};
  Recorder r;
  h.eng->listen(80, [&](Connection &) -> ConnectionHandler * { return &r; });
  p.send(SYN);
  Sent synack = p.expect(SYN | ACK);
  const uint32_t our_ts = synack.tcp.options.timestamp->val;
  auto send_ts = [&](uint8_t flags, uint32_t tsval) {
    wire::TcpRepr s = make_seg(p.port, 80, flags, p.snd_nxt, p.rcv_nxt);
    s.options.timestamp = wire::TcpTimestamp{tsval, our_ts};
    if (flags & SYN)
      s.options.mss = 1460;
    h.inject(s);
    p.snd_nxt += ((flags & SYN) ? 1 : 0) + ((flags & FIN) ? 1 : 0);
  };
  send_ts(ACK, 101);
  ASSERT_NE(r.conn, nullptr);
  r.conn->close();
  p.expect(FIN | ACK);
  send_ts(ACK, 102);
  send_ts(FIN | ACK, 103);
  p.expect(ACK);
  ASSERT_EQ(h.eng->time_wait_count(), 1u);
  // Higher sequence but an older timestamp: not a new connection; the
  // TIME-WAIT record answers with an ACK of where it stands.
  const uint32_t tw_rcv_nxt = p.snd_nxt;
  p.snd_nxt += 1000;
  send_ts(SYN, 50);
  Sent reack = p.expect(ACK, "SYN with an older timestamp");
  EXPECT_FALSE(reack.has(SYN));
  EXPECT_EQ(reack.tcp.ack, tw_rcv_nxt);
  EXPECT_EQ(reack.tcp.seq, p.rcv_nxt);
  EXPECT_EQ(h.eng->time_wait_count(), 1u);
  EXPECT_EQ(h.eng->counters()[Counter::time_wait_syn_ignored], 1u);
  // Lower sequence but a newer timestamp: accepted.
  p.snd_nxt -= 5000;
  send_ts(SYN, 200);
  p.expect(SYN | ACK, "SYN with a newer timestamp");
  EXPECT_EQ(h.eng->time_wait_count(), 0u);
  send_ts(ACK, 201);
  ASSERT_NE(r.conn, nullptr);
  r.conn->abort();
  p.expect(RST | ACK);
  h.expect_quiet();
}

// A TIME_WAIT record tests acceptability as a connection does
// (segment_acceptable): a segment without text exactly at the right edge is
// acceptable (a bare ACK there needs no answer), one past it is answered
// with an ACK, and a RST at the edge lies outside the window.
TEST(TimeWait, RightEdgeIsTestedAsOnAConnection) {
  Harness h;
  Peer p{h};
  Recorder r;
  Sent last = close_into_time_wait(p, *open_passive(h, p, r));
  ASSERT_EQ(h.eng->time_wait_count(), 1u);
  ASSERT_FALSE(last.tcp.options.window_scale.has_value());
  const uint32_t edge = last.tcp.ack + last.tcp.window; // no window scaling
  const auto &k = h.eng->counters();
  const uint64_t unacceptable = k[Counter::drop_unacceptable];
  const uint64_t quiet = k[Counter::drop_time_wait];
  p.send_raw(ACK, edge + 1, p.rcv_nxt);
  EXPECT_EQ(p.expect(ACK, "answer to a segment past the edge").tcp.ack, last.tcp.ack);
  EXPECT_EQ(k[Counter::drop_unacceptable], unacceptable + 1);
  p.send_raw(ACK, edge, p.rcv_nxt);
  p.expect_none("a bare ACK at the edge is acceptable");
  EXPECT_EQ(k[Counter::drop_unacceptable], unacceptable + 1);
  EXPECT_EQ(k[Counter::drop_time_wait], quiet + 1);
  const uint64_t rst_oow = k[Counter::drop_rst_out_of_window];
  p.send_raw(RST, edge, 0);
  p.expect_none("a RST at the edge is outside the window");
  EXPECT_EQ(k[Counter::drop_rst_out_of_window], rst_oow + 1);
  EXPECT_EQ(h.eng->time_wait_count(), 1u);
  h.run_until(h.now + 2 * h.eng->config().msl);
  h.expect_quiet();
}

// RFC 7323 5.3 in TIME_WAIT: a segment whose TSval is older than the
// record's TS.Recent is not acceptable, in the window or not: dropped and
// answered with an ACK. A RST is exempt from PAWS.
TEST(TimeWait, PawsDropsAnOlderTimestampWithAnAck) {
  Harness h;
  Peer p{h};
  p.syn_options.timestamp = wire::TcpTimestamp{100, 0};
  Recorder r;
  h.eng->listen(80, [&](Connection &) -> ConnectionHandler * { return &r; });
  p.send(SYN);
  Sent synack = p.expect(SYN | ACK);
  const uint32_t our_ts = synack.tcp.options.timestamp->val;
  auto send_ts = [&](uint8_t flags, uint32_t seq, uint32_t tsval) {
    wire::TcpRepr s = make_seg(p.port, 80, flags, seq, p.rcv_nxt);
    s.options.timestamp = wire::TcpTimestamp{tsval, our_ts};
    h.inject(s);
  };
  send_ts(ACK, p.snd_nxt, 101);
  ASSERT_NE(r.conn, nullptr);
  r.conn->close();
  p.expect(FIN | ACK);
  send_ts(ACK, p.snd_nxt, 102);
  send_ts(FIN | ACK, p.snd_nxt, 103);
  p.snd_nxt += 1;
  p.expect(ACK);
  ASSERT_EQ(h.eng->time_wait_count(), 1u);
  const auto &k = h.eng->counters();
  // In the window, but an older TSval: a PAWS drop with an ACK.
  send_ts(ACK, p.snd_nxt, 50);
  Sent a = p.expect(ACK, "ACK for the PAWS drop");
  EXPECT_EQ(a.tcp.ack, p.snd_nxt);
  ASSERT_TRUE(a.tcp.options.timestamp.has_value());
  EXPECT_EQ(a.tcp.options.timestamp->ecr, 103u);
  EXPECT_EQ(k[Counter::drop_paws], 1u);
  EXPECT_EQ(k[Counter::drop_time_wait], 0u);
  // The same ACK with a current TSval needs no answer.
  send_ts(ACK, p.snd_nxt, 104);
  p.expect_none("an acceptable bare ACK");
  EXPECT_EQ(k[Counter::drop_time_wait], 1u);
  EXPECT_EQ(k[Counter::drop_paws], 1u);
  // A RST with an old TSval at RCV.NXT still ends the record.
  send_ts(RST, p.snd_nxt, 50);
  p.expect_none();
  EXPECT_EQ(h.eng->time_wait_count(), 0u);
  EXPECT_EQ(k[Counter::drop_paws], 1u);
  h.expect_quiet();
}

// An active open may take over a tuple in our own TIME_WAIT (time_wait_reuse,
// as Linux tcp_tw_reuse=1): only when the old incarnation used timestamps and
// the record is time_wait_reuse_after old; the new ISS lies a maximum window
// past the old SND.NXT and the new TSval above the old ones.
void time_wait_reuse_case(bool timestamps) {
  SCOPED_TRACE(timestamps ? "timestamps" : "no timestamps");
  EngineConfig cfg = test_config();
  cfg.ephemeral_port_min = cfg.ephemeral_port_max = 40000; // one port to choose from
  Harness h(cfg);
  Peer p{h};
  p.local_port = 40000;
  p.port = 80;
  if (timestamps)
    p.syn_options.timestamp = wire::TcpTimestamp{100, 0};
  Recorder r;
  Connection *c = h.eng->connect(kRemote, 80, &r);
  ASSERT_NE(c, nullptr);
  Sent syn = p.expect(SYN, "SYN");
  const uint32_t our_ts0 = timestamps ? syn.tcp.options.timestamp->val : 0;
  uint32_t peer_ts = 100;
  auto send_ts = [&](uint8_t flags) {
    wire::TcpRepr s = make_seg(p.port, p.local_port, flags, p.snd_nxt, p.rcv_nxt);
    if (timestamps)
      s.options.timestamp = wire::TcpTimestamp{peer_ts++, our_ts0};
    if (flags & SYN)
      s.options.mss = 1460;
    h.inject(s);
    p.snd_nxt += ((flags & SYN) ? 1 : 0) + ((flags & FIN) ? 1 : 0);
  };
  send_ts(SYN | ACK);
  p.expect(ACK, "handshake ACK");
  ASSERT_EQ(c->state(), State::established);
  EXPECT_EQ(c->inspect().timestamps(), timestamps);
  c->close();
  Sent fin = p.expect(FIN | ACK, "our FIN");
  send_ts(ACK);
  send_ts(FIN | ACK);
  p.expect(ACK, "ACK of their FIN");
  ASSERT_EQ(h.eng->time_wait_count(), 1u);
  const FourTuple t = p.tuple();
  // Too young (or no timestamps): the tuple, and the only port, are taken.
  h.run_until(h.now + milliseconds(999));
  EXPECT_FALSE(h.eng->can_connect(t));
  Recorder r2;
  EXPECT_EQ(h.eng->connect(kRemote, 80, &r2), nullptr);
  h.run_until(h.now + milliseconds(1));
  EXPECT_EQ(h.eng->can_connect(t), timestamps);
  Connection *c2 = h.eng->connect(kRemote, 80, &r2);
  if (!timestamps) {
    EXPECT_EQ(c2, nullptr);
    EXPECT_EQ(h.eng->time_wait_count(), 1u);
    EXPECT_EQ(h.eng->counters()[Counter::time_wait_reused_active], 0u);
    p.expect_none("no SYN while the tuple is in TIME_WAIT");
    // After 2MSL the tuple is free again.
    h.run_until(h.now + 2 * h.eng->config().msl);
    ASSERT_EQ(h.eng->time_wait_count(), 0u);
    c2 = h.eng->connect(kRemote, 80, &r2);
    ASSERT_NE(c2, nullptr);
    p.expect(SYN, "SYN after 2MSL");
    c2->abort();
    h.expect_quiet();
    return;
  }
  ASSERT_NE(c2, nullptr);
  EXPECT_EQ(h.eng->time_wait_count(), 0u);
  EXPECT_EQ(h.eng->counters()[Counter::time_wait_reused_active], 1u);
  Sent syn2 = p.expect(SYN, "SYN of the new incarnation");
  EXPECT_EQ(syn2.tcp.seq, fin.tcp.seq + 1 + 65535 + 2);
  ASSERT_TRUE(syn2.tcp.options.timestamp.has_value());
  EXPECT_TRUE(ts_lt(fin.tcp.options.timestamp->val, syn2.tcp.options.timestamp->val));
  c2->abort();
  h.expect_quiet();
}

TEST(TimeWait, ActiveOpenTakesOverOwnTimeWaitWithTimestamps) {
  time_wait_reuse_case(true);
}

TEST(TimeWait, ActiveOpenWithoutTimestampsWaitsOut2Msl) {
  time_wait_reuse_case(false);
}

TEST(Keepalive, LivePeerKeepsConnection) {
  Harness h;
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  c->set_keepalive(true, seconds(100), seconds(10), 3);
  const Instant t = h.now;
  h.run_until(t + seconds(100));
  Sent probe = p.expect(ACK, "probe");
  EXPECT_EQ(probe.tcp.seq, c->inspect().snd_una().v - 1);
  EXPECT_TRUE(probe.payload.empty());
  p.send(ACK); // the answer
  h.run_until(t + seconds(199));
  p.expect_none("idle again after the answer");
  h.run_until(t + seconds(200));
  p.expect(ACK, "next probe after a full idle period");
  p.send(ACK);
  EXPECT_EQ(c->state(), State::established);
  c->abort();
  p.expect(RST | ACK);
  h.expect_quiet();
}

TEST(Keepalive, DeadPeerTimesOutAfterLastProbe) {
  Harness h;
  Peer p{h};
  Recorder r;
  Connection *c = open_passive(h, p, r);
  c->set_keepalive(true); // engine defaults: 7200 s / 75 s / 9
  const Instant t = h.now;
  const uint32_t una = c->inspect().snd_una().v;
  h.run_until(t + seconds(7200 + 9 * 75));
  std::vector<int64_t> at;
  while (auto s = h.pop()) {
    if (s->has(RST))
      break;
    EXPECT_EQ(s->tcp.seq, una - 1);
    at.push_back((to_ns(s->at) - to_ns(t)) / 1'000'000'000);
  }
  std::vector<int64_t> want;
  for (int i = 0; i < 9; ++i)
    want.push_back(7200 + 75 * i);
  EXPECT_EQ(at, want);
  ASSERT_TRUE(r.closed.has_value());
  EXPECT_EQ(*r.closed, CloseReason::timed_out);
  EXPECT_EQ(h.eng->counters()[Counter::keepalive_probes], 9u);
  h.expect_quiet();
}

TEST(Data, EchoAndZeroCopyReceive) {
  Harness h;
  Peer p{h};
  Recorder r;
  r.consume = false;
  Connection *c = open_passive(h, p, r);
  p.send(ACK | PSH, "hello ");
  p.send(ACK | PSH, "world");
  p.expect_none("ACK delayed: less than two full segments");
  h.advance(milliseconds(40));
  p.expect(ACK, "delayed ACK");
  EXPECT_EQ(c->readable(), 11u);
  std::string got;
  c->for_each_readable([&](std::span<const uint8_t> s) { got.append(s.begin(), s.end()); });
  EXPECT_EQ(got, "hello world");
  EXPECT_EQ(c->peek().size(), 6u); // first mbuf, as it arrived
  c->consume(3);
  EXPECT_EQ(c->readable(), 8u);
  uint8_t buf[32];
  EXPECT_EQ(c->read(buf), 8u);
  EXPECT_EQ(std::string(reinterpret_cast<char *>(buf), 8), "lo world");
  // Out-of-order data is queued and answered at once with a duplicate ACK.
  p.send_raw(ACK, p.snd_nxt + 10, p.rcv_nxt, "later");
  Sent dup = p.expect(ACK, "dup ACK");
  EXPECT_EQ(dup.tcp.ack, p.snd_nxt);
  EXPECT_EQ(c->inspect().ooo_bytes(), 5u);
  c->abort();
  p.expect(RST | ACK);
  h.expect_quiet();
}

TEST(Data, LostDataIsRetransmittedFromTheSameMbufs) {
  Harness h;
  Peer p{h};
  p.syn_options.mss = 1460;
  Recorder r;
  Connection *c = open_passive(h, p, r);
  std::string msg(3000, 'x');
  EXPECT_EQ(
      c->write(std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(msg.data()), msg.size())),
      msg.size());
  Sent a = p.expect(ACK, "segment 1");
  Sent b = p.expect(ACK, "segment 2");
  // Nagle in Linux's (Minshall's) variant lets the 80-byte tail go too: no
  // earlier partial segment is unacknowledged.
  Sent tail = p.expect(ACK, "the 80-byte tail");
  EXPECT_EQ(tail.payload.size(), 80u);
  p.expect_none("all sent");
  EXPECT_EQ(a.payload.size() + b.payload.size(), 2920u);
  h.run_until(h.now + milliseconds(200));
  Sent re = p.expect(ACK, "retransmission");
  EXPECT_EQ(re.tcp.seq, a.tcp.seq);
  EXPECT_EQ(re.payload, a.payload);
  p.expect_none("go-back-N after the timeout: cwnd 1 segment");
  p.send_raw(ACK, p.snd_nxt, a.tcp.seq + static_cast<uint32_t>(a.payload.size()));
  // The ACK clocks out the rest under the congestion window (now 2
  // segments), retransmissions from the same mbufs; Nagle does not apply
  // to them.
  Sent b2 = p.expect(ACK, "segment 2 again");
  EXPECT_EQ(b2.tcp.seq, b.tcp.seq);
  EXPECT_EQ(b2.payload, b.payload);
  Sent tail2 = p.expect(ACK, "the tail again");
  EXPECT_EQ(tail2.tcp.seq, tail.tcp.seq);
  EXPECT_EQ(tail2.payload.size(), 80u);
  p.send_raw(ACK, p.snd_nxt, c->inspect().snd_max().v);
  EXPECT_EQ(c->send_queued(), 0u);
  EXPECT_EQ(h.eng->armed_timer_count(), 0u);
  c->close();
  p.rcv_nxt = c->inspect().snd_max().v;
  p.expect(FIN | ACK);
  p.send(ACK);
  p.send(FIN | ACK);
  p.expect(ACK);
  h.run_until(h.now + seconds(60));
  h.expect_quiet();
}

TEST(Isn, DiffersPerTupleAndPerKey) {
  SecretKey a(1), b(2), a2(1);
  FourTuple t1{kLocal, kRemote, 80, 1000}, t2{kLocal, kRemote, 80, 1001};
  Instant t = instant_from_ns(0);
  EXPECT_NE(a.isn(t1, t), a.isn(t2, t));
  EXPECT_NE(a.isn(t1, t), b.isn(t1, t));
  EXPECT_EQ(a.isn(t1, t), a2.isn(t1, t));
  // The 4 us clock M moves the ISN forward.
  EXPECT_EQ(a.isn(t1, instant_from_ns(4000 * 10)) - a.isn(t1, t), 10u);
  SecretKey r1(std::nullopt), r2(std::nullopt);
  EXPECT_NE(r1.isn(t1, t), r2.isn(t1, t)); // random keys (2^-32 to fail)
}

} // namespace
} // namespace shoal::tcp::test
