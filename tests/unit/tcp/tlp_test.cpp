// Tail loss probe (RFC 8985 7): the probe timeout at 2*SRTT (plus the
// delayed-ACK allowance with one segment in flight) instead of the RTO, what
// the probe sends, the congestion response when it repaired a loss, and when
// no probe may be armed (no RTT sample, loss recovery, the option off).
#include <gtest/gtest.h>

#include "tcp/inspect.hpp"
#include "tcp_harness.hpp"

namespace shoal::tcp::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr Duration kRtt = milliseconds(10);

EngineConfig tlp_config(bool on = true) {
  EngineConfig cfg = test_config();
  cfg.tail_loss_probe = on;
  cfg.tlp_peer_delayed_ack = cfg.delayed_ack; // the harness peer's: 40 ms
  return cfg;
}

void ack_to(Peer &p, uint32_t ack) {
  p.send_raw(ACK, p.snd_nxt, ack);
}

// The last of three segments is lost (nothing acknowledged yet): the probe
// resends it 2*SRTT after the flight left, and its ACK ends the episode
// with one fast-recovery-like window cut and no RTO.
TEST(TailLossProbe, LastSegmentLostProbeAtTwiceSrttThenRecoveredWithoutRto) {
  Harness h{tlp_config()};
  Peer p{h};
  p.syn_options.mss = 1000;
  Recorder r;
  Connection *c = open_with_rtt(h, p, r, kRtt);
  ASSERT_EQ(c->inspect().srtt(), kRtt);
  ASSERT_EQ(c->inspect().rto(), milliseconds(200));
  const uint32_t s0 = p.rcv_nxt;
  const Instant t0 = h.now;
  write_str(*c, pattern(3000));
  for (int i = 0; i < 3; ++i)
    p.expect(ACK, "flight");
  EXPECT_TRUE(c->inspect().probe_timeout_armed());
  h.run_until(t0 + 2 * kRtt - milliseconds(1));
  p.expect_none("no probe before 2*SRTT");
  h.run_until(t0 + 2 * kRtt);
  Sent probe = p.expect(ACK, "the probe");
  EXPECT_EQ(probe.at - t0, 2 * kRtt);
  EXPECT_EQ(probe.tcp.seq, s0 + 2000) << "the highest segment again";
  EXPECT_EQ(probe.payload.size(), 1000u);
  EXPECT_EQ(counter(h, Counter::tlp_probes_sent), 1u);
  EXPECT_EQ(counter(h, Counter::tlp_probes_new_data), 0u);
  EXPECT_TRUE(c->inspect().probe_outstanding());
  EXPECT_FALSE(c->inspect().probe_timeout_armed()) << "the RTO watches the probe";
  // The peer had the first two; the probe fills the tail: everything ACKed.
  const uint32_t cwnd_before = c->inspect().cwnd();
  h.advance(kRtt);
  ack_to(p, s0 + 3000);
  EXPECT_FALSE(c->inspect().probe_outstanding());
  EXPECT_EQ(counter(h, Counter::tlp_recoveries), 1u);
  EXPECT_EQ(counter(h, Counter::rtx_timeouts), 0u);
  EXPECT_EQ(counter(h, Counter::fast_recoveries), 0u);
  // RFC 8985 7.4.2: the response of a fast recovery (NewReno: ssthresh =
  // max(FlightSize / 2, 2 * SMSS), cwnd = ssthresh).
  EXPECT_LT(c->inspect().cwnd(), cwnd_before);
  EXPECT_EQ(c->inspect().cwnd(), 2000u);
  EXPECT_EQ(c->inspect().congestion()->ssthresh(), 2000u);
  EXPECT_FALSE(c->inspect().congestion()->in_recovery());
  EXPECT_EQ(c->send_queued(), 0u);
  h.run_until(h.now + seconds(2));
  p.expect_none("nothing more to send");
  finish(h, p, c);
}

// One segment in flight: the peer may delay its ACK, so the probe waits
// 2*SRTT + tlp_peer_delayed_ack (from the ACK that left one segment
// outstanding).
TEST(TailLossProbe, OneSegmentInFlightAddsTheDelayedAckTime) {
  Harness h{tlp_config()};
  Peer p{h};
  p.syn_options.mss = 1000;
  Recorder r;
  Connection *c = open_with_rtt(h, p, r, kRtt);
  const uint32_t s0 = p.rcv_nxt;
  write_str(*c, pattern(3000));
  for (int i = 0; i < 3; ++i)
    p.expect(ACK, "flight");
  h.advance(kRtt);
  ack_to(p, s0 + 2000); // the third segment was lost
  const Instant t1 = h.now;
  const Duration pto = 2 * c->inspect().srtt() + milliseconds(40);
  ASSERT_LT(pto, c->inspect().rto());
  h.run_until(t1 + pto - milliseconds(1));
  p.expect_none("no probe before 2*SRTT + delayed ACK");
  h.run_until(t1 + pto);
  Sent probe = p.expect(ACK, "the probe");
  EXPECT_EQ(probe.tcp.seq, s0 + 2000);
  ack_to(p, s0 + 3000);
  EXPECT_EQ(counter(h, Counter::tlp_recoveries), 1u);
  EXPECT_EQ(counter(h, Counter::rtx_timeouts), 0u);
  finish(h, p, c);
}

// New data restarts the probe timer from its last segment (RFC 8985 7.2).
// With SACK and RACK and more than one segment in flight the restart is
// lazy (the timer fires at the old deadline and is armed again from the
// RACK log's time), which must land at the same instant as an eager one.
TEST(TailLossProbe, NewDataRestartsTheTimerFromItsLastSegment) {
  for (const bool rack : {true, false}) {
    SCOPED_TRACE(rack ? "RACK and SACK: lazy restart" : "no SACK: restart at once");
    EngineConfig cfg = tlp_config();
    cfg.rack = rack;
    Harness h{cfg};
    Peer p{h};
    p.syn_options.mss = 1000;
    p.syn_options.sack_permitted = rack;
    Recorder r;
    Connection *c = open_with_rtt(h, p, r, kRtt);
    const uint32_t s0 = p.rcv_nxt;
    const Instant t0 = h.now;
    write_str(*c, pattern(2000));
    p.expect(ACK, "first");
    p.expect(ACK, "second");
    h.run_until(t0 + milliseconds(10));
    write_str(*c, pattern(1000, 2000)); // 2*SRTT from here: t0 + 30 ms
    p.expect(ACK, "third");
    h.run_until(t0 + milliseconds(29));
    p.expect_none("not at the first segments' deadline (t0 + 20 ms)");
    h.run_until(t0 + milliseconds(30));
    Sent probe = p.expect(ACK, "the probe, 2*SRTT after the third segment");
    EXPECT_EQ(probe.at - t0, milliseconds(30));
    EXPECT_EQ(probe.tcp.seq, s0 + 2000);
    EXPECT_EQ(counter(h, Counter::tlp_probes_sent), 1u);
    ack_to(p, s0 + 3000);
    finish(h, p, c);
  }
}

// One segment in flight carries the delayed-ACK allowance; a second one
// sent later removes it, so the restarted timer fires earlier than the
// armed one would have.
TEST(TailLossProbe, ASecondSegmentBringsTheProbeForward) {
  EngineConfig cfg = tlp_config();
  cfg.rack = true;
  Harness h{cfg};
  Peer p{h};
  p.syn_options.mss = 1000;
  p.syn_options.sack_permitted = true;
  Recorder r;
  Connection *c = open_with_rtt(h, p, r, kRtt);
  const uint32_t s0 = p.rcv_nxt;
  const Instant t0 = h.now;
  write_str(*c, pattern(1000)); // alone: 2*SRTT + 40 ms, t0 + 60 ms
  p.expect(ACK, "first");
  h.run_until(t0 + milliseconds(10));
  write_str(*c, pattern(1000, 1000)); // two in flight: 2*SRTT, t0 + 30 ms
  p.expect(ACK, "second");
  h.run_until(t0 + milliseconds(29));
  p.expect_none("no probe yet");
  h.run_until(t0 + milliseconds(30));
  Sent probe = p.expect(ACK, "the probe");
  EXPECT_EQ(probe.at - t0, milliseconds(30));
  EXPECT_EQ(probe.tcp.seq, s0 + 1000);
  ack_to(p, s0 + 2000);
  finish(h, p, c);
}

// The probe timeout never fires later than the RTO would: with a long
// delayed-ACK allowance (2*SRTT + 300 ms) the probe goes at the RTO's time.
TEST(TailLossProbe, NeverLaterThanTheRto) {
  EngineConfig cfg = tlp_config();
  cfg.tlp_peer_delayed_ack = milliseconds(300);
  Harness h{cfg};
  Peer p{h};
  p.syn_options.mss = 1000;
  Recorder r;
  Connection *c = open_with_rtt(h, p, r, kRtt);
  ASSERT_EQ(c->inspect().rto(), milliseconds(200));
  const uint32_t s0 = p.rcv_nxt;
  const Instant t0 = h.now;
  write_str(*c, pattern(500));
  p.expect(ACK, "the only segment");
  EXPECT_TRUE(c->inspect().probe_timeout_armed());
  h.run_until(t0 + milliseconds(199));
  p.expect_none("nothing before the RTO's time");
  h.run_until(t0 + milliseconds(200));
  EXPECT_EQ(p.expect(ACK, "the probe, at the RTO's time").tcp.seq, s0);
  EXPECT_EQ(counter(h, Counter::tlp_probes_sent), 1u);
  EXPECT_EQ(counter(h, Counter::rtx_timeouts), 0u);
  // Lost too: the RTO, armed when the probe went, follows 200 ms later.
  h.run_until(t0 + milliseconds(399));
  p.expect_none();
  h.run_until(t0 + milliseconds(400));
  EXPECT_EQ(p.expect(ACK, "the RTO's retransmission").tcp.seq, s0);
  EXPECT_EQ(counter(h, Counter::rtx_timeouts), 1u);
  EXPECT_EQ(counter(h, Counter::tlp_probes_sent), 1u) << "one probe per episode";
  finish(h, p, c);
}

// The same loss with the option off: nothing until the RTO (200 ms), which
// goes back to SND.UNA.
TEST(TailLossProbe, OffRecoversOnlyAtTheRto) {
  Harness h{tlp_config(false)};
  Peer p{h};
  p.syn_options.mss = 1000;
  Recorder r;
  Connection *c = open_with_rtt(h, p, r, kRtt);
  const uint32_t s0 = p.rcv_nxt;
  const Instant t0 = h.now;
  write_str(*c, pattern(3000));
  for (int i = 0; i < 3; ++i)
    p.expect(ACK, "flight");
  EXPECT_FALSE(c->inspect().probe_timeout_armed());
  h.run_until(t0 + milliseconds(199));
  p.expect_none("no probe");
  h.run_until(t0 + milliseconds(200));
  Sent re = p.expect(ACK, "the RTO's retransmission");
  EXPECT_EQ(re.tcp.seq, s0);
  EXPECT_EQ(counter(h, Counter::rtx_timeouts), 1u);
  EXPECT_EQ(counter(h, Counter::tlp_probes_sent), 0u);
  finish(h, p, c);
}

// Without an RTT sample (the SYN was retransmitted: Karn's rule, RFC 6298
// 5.7's 3 s) the RTO alone watches the data.
TEST(TailLossProbe, NoProbeWithoutAnRttSample) {
  Harness h{tlp_config()};
  Peer p{h};
  p.syn_options.mss = 1000;
  Recorder r;
  Connection *c = h.eng->connect(kRemote, p.port, &r, p.local_port);
  ASSERT_NE(c, nullptr);
  p.expect(SYN, "SYN");
  h.run_until(h.now + seconds(1));
  p.expect(SYN, "SYN retransmitted");
  p.send(SYN | ACK);
  p.expect(ACK, "ACK of SYN-ACK");
  ASSERT_FALSE(c->inspect().rtt_estimator().has_sample());
  const uint32_t s0 = p.rcv_nxt;
  const Instant t0 = h.now;
  write_str(*c, pattern(3000));
  for (int i = 0; i < 3; ++i)
    p.expect(ACK, "flight");
  EXPECT_FALSE(c->inspect().probe_timeout_armed());
  h.run_until(t0 + c->inspect().rto() - milliseconds(1));
  p.expect_none("no probe");
  h.run_until(t0 + c->inspect().rto());
  EXPECT_EQ(p.expect(ACK, "the RTO's retransmission").tcp.seq, s0);
  EXPECT_EQ(counter(h, Counter::tlp_probes_sent), 0u);
  EXPECT_EQ(counter(h, Counter::rtx_timeouts), 1u);
  finish(h, p, c);
}

// In fast recovery no probe is armed: a lost retransmission waits for the RTO.
TEST(TailLossProbe, NoProbeInFastRecovery) {
  Harness h{tlp_config()};
  Peer p{h};
  p.syn_options.mss = 1000;
  Recorder r;
  Connection *c = open_with_rtt(h, p, r, kRtt);
  const uint32_t s0 = p.rcv_nxt;
  write_str(*c, pattern(10000));
  for (int i = 0; i < 10; ++i)
    p.expect(ACK, "flight");
  h.advance(milliseconds(5));
  ack_to(p, s0 + 1000); // the second and the fifth segments were lost
  for (int i = 0; i < 3; ++i)
    ack_to(p, s0 + 1000);
  Sent re = p.expect(ACK, "fast retransmit");
  EXPECT_EQ(re.tcp.seq, s0 + 1000);
  ASSERT_TRUE(c->inspect().congestion()->in_recovery());
  EXPECT_FALSE(c->inspect().probe_timeout_armed());
  // A partial ACK (RFC 6582) restarts the timer: still no probe.
  h.advance(milliseconds(5));
  ack_to(p, s0 + 4000);
  EXPECT_EQ(p.expect(ACK, "the next hole").tcp.seq, s0 + 4000);
  ASSERT_TRUE(c->inspect().congestion()->in_recovery());
  EXPECT_FALSE(c->inspect().probe_timeout_armed());
  // That retransmission is lost too: only the RTO (from the last new ACK,
  // 200 ms) resends it.
  const Instant last_ack = h.now;
  h.run_until(last_ack + milliseconds(199));
  p.expect_none("no probe in recovery");
  h.run_until(last_ack + milliseconds(200));
  EXPECT_EQ(p.expect(ACK, "the RTO's retransmission").tcp.seq, s0 + 4000);
  EXPECT_EQ(counter(h, Counter::tlp_probes_sent), 0u);
  EXPECT_EQ(counter(h, Counter::rtx_timeouts), 1u);
  finish(h, p, c);
}

// Data the congestion window holds back: the probe sends one new segment
// (the receive window allows it; cwnd is not checked).
TEST(TailLossProbe, NewDataWhenTheWindowAllows) {
  Harness h{tlp_config()};
  Peer p{h};
  p.syn_options.mss = 1000;
  Recorder r;
  Connection *c = open_with_rtt(h, p, r, kRtt);
  const uint32_t s0 = p.rcv_nxt;
  const Instant t0 = h.now;
  write_str(*c, pattern(12000));
  for (int i = 0; i < 10; ++i)
    p.expect(ACK, "initial window");
  p.expect_none("cwnd is full");
  h.run_until(t0 + 2 * kRtt);
  Sent probe = p.expect(ACK, "the probe");
  EXPECT_EQ(probe.tcp.seq, s0 + 10000) << "new data";
  EXPECT_EQ(probe.payload.size(), 1000u);
  EXPECT_EQ(counter(h, Counter::tlp_probes_sent), 1u);
  EXPECT_EQ(counter(h, Counter::tlp_probes_new_data), 1u);
  EXPECT_EQ(counter(h, Counter::retransmits), 0u);
  p.expect_none("one probe");
  // Everything arrived (only the ACKs were slow): no loss, no window cut.
  const uint32_t cwnd_before = c->inspect().cwnd();
  ack_to(p, s0 + 11000);
  EXPECT_EQ(counter(h, Counter::tlp_recoveries), 0u);
  EXPECT_GE(c->inspect().cwnd(), cwnd_before);
  EXPECT_EQ(p.expect(ACK, "the rest").tcp.seq, s0 + 11000);
  ack_to(p, s0 + 12000);
  EXPECT_EQ(c->send_queued(), 0u);
  finish(h, p, c);
}

// The original arrived after all (its ACK was late): the ACK covering the
// probe carries a D-SACK of it, so no loss is counted and the window stays.
TEST(TailLossProbe, DsackShowsTheProbeWasNotNeeded) {
  Harness h{tlp_config()};
  Peer p{h};
  p.syn_options.mss = 1000;
  p.syn_options.sack_permitted = true;
  Recorder r;
  Connection *c = open_with_rtt(h, p, r, kRtt);
  ASSERT_TRUE(c->inspect().sack_permitted());
  const uint32_t s0 = p.rcv_nxt;
  write_str(*c, pattern(3000));
  for (int i = 0; i < 3; ++i)
    p.expect(ACK, "flight");
  h.run_until(h.now + 2 * kRtt);
  EXPECT_EQ(p.expect(ACK, "the probe").tcp.seq, s0 + 2000);
  const uint32_t cwnd_before = c->inspect().cwnd();
  wire::TcpRepr a = make_seg(p.port, p.local_port, ACK, p.snd_nxt, s0 + 3000, p.window);
  a.options.sack[a.options.sack_count++] = wire::SackBlock{s0 + 2000, s0 + 3000};
  h.inject(a);
  EXPECT_FALSE(c->inspect().probe_outstanding());
  EXPECT_EQ(counter(h, Counter::tlp_recoveries), 0u);
  EXPECT_GE(c->inspect().cwnd(), cwnd_before);
  finish(h, p, c);
}

// With timestamps: an ACK echoing the original's TSval was sent for the
// original, not for the probe.
TEST(TailLossProbe, TimestampEchoShowsTheOriginalArrived) {
  Harness h{tlp_config()};
  Peer p{h};
  p.syn_options.mss = 1000;
  p.syn_options.timestamp = wire::TcpTimestamp{1, 0};
  Recorder r;
  Connection *c = open_with_rtt(h, p, r, kRtt);
  ASSERT_TRUE(c->inspect().timestamps());
  const uint32_t s0 = p.rcv_nxt;
  const uint32_t mss = c->snd_mss();
  ASSERT_EQ(mss, 988u); // the timestamp option's 12 bytes come off
  write_str(*c, pattern(3 * mss));
  p.expect(ACK, "flight");
  p.expect(ACK, "flight");
  Sent last = p.expect(ACK, "flight");
  ASSERT_TRUE(last.tcp.options.timestamp.has_value());
  h.run_until(h.now + 2 * kRtt);
  Sent probe = p.expect(ACK, "the probe");
  ASSERT_TRUE(probe.tcp.options.timestamp.has_value());
  ASSERT_NE(probe.tcp.options.timestamp->val, last.tcp.options.timestamp->val);
  const uint32_t cwnd_before = c->inspect().cwnd();
  auto ack_echo = [&](uint32_t ecr) {
    wire::TcpRepr a = make_seg(p.port, p.local_port, ACK, p.snd_nxt, s0 + 3 * mss, p.window);
    a.options.timestamp = wire::TcpTimestamp{2, ecr};
    h.inject(a);
  };
  ack_echo(last.tcp.options.timestamp->val);
  EXPECT_FALSE(c->inspect().probe_outstanding());
  EXPECT_EQ(counter(h, Counter::tlp_recoveries), 0u);
  EXPECT_GE(c->inspect().cwnd(), cwnd_before);
  finish(h, p, c);
}

// ... and one echoing the probe's TSval: the probe repaired the loss.
TEST(TailLossProbe, TimestampEchoOfTheProbeCountsTheRecovery) {
  Harness h{tlp_config()};
  Peer p{h};
  p.syn_options.mss = 1000;
  p.syn_options.timestamp = wire::TcpTimestamp{1, 0};
  Recorder r;
  Connection *c = open_with_rtt(h, p, r, kRtt);
  const uint32_t s0 = p.rcv_nxt;
  const uint32_t mss = c->snd_mss();
  ASSERT_EQ(mss, 988u); // the timestamp option's 12 bytes come off
  write_str(*c, pattern(3 * mss));
  for (int i = 0; i < 3; ++i)
    p.expect(ACK, "flight");
  h.run_until(h.now + 2 * kRtt);
  Sent probe = p.expect(ACK, "the probe");
  wire::TcpRepr a = make_seg(p.port, p.local_port, ACK, p.snd_nxt, s0 + 3 * mss, p.window);
  a.options.timestamp = wire::TcpTimestamp{2, probe.tcp.options.timestamp->val};
  h.inject(a);
  EXPECT_EQ(counter(h, Counter::tlp_recoveries), 1u);
  EXPECT_EQ(c->inspect().congestion()->ssthresh(), 2 * mss);
  finish(h, p, c);
}

} // namespace
} // namespace shoal::tcp::test
