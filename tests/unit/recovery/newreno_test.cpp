// Congestion control interface and NewReno: RFC 6928 initial window, RFC 5681
// slow start / congestion avoidance with RFC 3465 byte counting, fast
// retransmit / fast recovery with RFC 6582 partial ACKs and the "recover"
// guard, RFC 6675 (SACK) recovery flavour, timeouts, the factory.
#include <gtest/gtest.h>

#include <sstream>

#include "tcp/recovery/congestion_control.hpp"
#include "tcp/recovery/newreno.hpp"

namespace shoal::tcp {
namespace {

using namespace std::chrono_literals;
constexpr uint32_t kMss = 1000;
constexpr Instant kT0{};

// A tiny sender model: SND.UNA / SND.NXT and the events the engine would
// report, with a trace for failures.
struct Sender {
  explicit Sender(CcConfig cfg, Seq iss = Seq{1000}) : cc(cfg), una(iss + 1), nxt(iss + 1) {
    cc.set_initial_recover(iss);
  }
  void send(uint32_t bytes) { nxt += bytes; }
  CcAction ack(uint32_t bytes) {
    una += bytes;
    const CcAction a = cc.ack_received({una, nxt, bytes, seq_distance(una, nxt), 10ms, kT0});
    log("ack", bytes, a);
    return a;
  }
  CcAction dupack(bool lost = false) {
    const CcAction a = cc.dup_ack_received({una, nxt, seq_distance(una, nxt), kT0, lost});
    log("dupack", 0, a);
    return a;
  }
  void rto() {
    cc.retransmit_timeout(nxt, seq_distance(una, nxt), kT0);
    log("rto", 0, {});
  }
  void log(const char *what, uint32_t n, const CcAction &a) {
    trace << what << " " << n << " una=" << una.v << " nxt=" << nxt.v << " -> cwnd=" << cc.cwnd()
          << " ssthresh=" << cc.ssthresh() << " rec=" << cc.in_recovery()
          << (a.retransmit_snd_una ? " RTX" : "") << (a.restart_rtx_timer ? " TIMER" : "")
          << (a.entered_recovery ? " ENTER" : "") << (a.exited_recovery ? " EXIT" : "") << "\n";
  }
  NewReno cc;
  Seq una, nxt;
  std::ostringstream trace;
};

CcConfig reno_cfg(uint32_t iw = 0, uint32_t ssthresh = 0, bool sack = false) {
  CcConfig c;
  c.smss = kMss;
  c.initial_window = iw;
  c.initial_ssthresh = ssthresh;
  c.sack = sack;
  return c;
}

TEST(CongestionControl, Rfc6928InitialWindow) {
  EXPECT_EQ(rfc6928_initial_window(1460), 14600u);
  EXPECT_EQ(rfc6928_initial_window(536), 5360u);
  EXPECT_EQ(rfc6928_initial_window(1000), 10000u);
  EXPECT_EQ(rfc6928_initial_window(4000), 14600u); // min(40000, max(8000, 14600))
  EXPECT_EQ(rfc6928_initial_window(9000), 18000u); // max(2*MSS, 14600) wins
  NewReno r(CcConfig{});
  EXPECT_EQ(r.cwnd(), 14600u);
  EXPECT_EQ(r.ssthresh(), UINT32_MAX); // RFC 5681 3.1: arbitrarily high
  EXPECT_TRUE(r.in_slow_start());
}

TEST(CongestionControl, FactoryByName) {
  auto reno = make_congestion_control("newreno", reno_cfg());
  ASSERT_NE(reno, nullptr);
  EXPECT_EQ(reno->name(), "newreno");
  auto cubic = make_congestion_control("cubic", reno_cfg());
  ASSERT_NE(cubic, nullptr);
  EXPECT_EQ(cubic->name(), "cubic");
  EXPECT_EQ(make_congestion_control("bbr", reno_cfg()), nullptr);
  EXPECT_EQ(make_congestion_control("", reno_cfg()), nullptr);
  for (std::string_view n : congestion_control_names())
    EXPECT_NE(make_congestion_control(n, reno_cfg()), nullptr) << n;
}

TEST(NewReno, SlowStartByteCountingLimitTwoSmss) {
  Sender s(reno_cfg());
  s.send(100 * kMss);
  EXPECT_EQ(s.cc.cwnd(), 10 * kMss);
  s.ack(kMss);
  EXPECT_EQ(s.cc.cwnd(), 11 * kMss);
  s.ack(500);
  EXPECT_EQ(s.cc.cwnd(), 11 * kMss + 500);
  // RFC 3465 2.2: cwnd += min(N, L*SMSS), L = 2: a stretch ACK of 5 SMSS
  // opens the window by 2 SMSS only.
  s.ack(5 * kMss);
  EXPECT_EQ(s.cc.cwnd(), 13 * kMss + 500) << s.trace.str();
}

TEST(NewReno, CongestionAvoidanceOneSmssPerWindow) {
  Sender s(reno_cfg(10 * kMss, 10 * kMss));
  s.send(1000 * kMss);
  EXPECT_FALSE(s.cc.in_slow_start());
  for (int i = 0; i < 9; ++i) {
    s.ack(kMss);
    ASSERT_EQ(s.cc.cwnd(), 10 * kMss) << s.trace.str();
  }
  s.ack(kMss); // bytes_acked reaches cwnd
  EXPECT_EQ(s.cc.cwnd(), 11 * kMss);
  EXPECT_EQ(s.cc.bytes_acked(), 0u);
  // Byte counting: 11 ACKs of 1000 bytes, or one stretch ACK, same growth.
  s.ack(11 * kMss);
  EXPECT_EQ(s.cc.cwnd(), 12 * kMss);
  // Partial segments count by bytes.
  for (int i = 0; i < 24; ++i)
    s.ack(500);
  EXPECT_EQ(s.cc.cwnd(), 13 * kMss) << s.trace.str();
}

TEST(NewReno, FastRetransmitOnThirdDupAck) {
  Sender s(reno_cfg(20 * kMss, 20 * kMss));
  s.send(20 * kMss);
  EXPECT_FALSE(s.dupack().retransmit_snd_una);
  EXPECT_FALSE(s.dupack().retransmit_snd_una);
  EXPECT_EQ(s.cc.dup_acks(), 2u);
  EXPECT_EQ(s.cc.cwnd(), 20 * kMss); // RFC 5681 3.2 step 1: no change
  const CcAction a = s.dupack();
  EXPECT_TRUE(a.retransmit_snd_una);
  EXPECT_TRUE(a.entered_recovery);
  EXPECT_TRUE(s.cc.in_recovery());
  EXPECT_EQ(s.cc.ssthresh(), 10 * kMss);       // FlightSize / 2
  EXPECT_EQ(s.cc.cwnd(), 13 * kMss);           // ssthresh + 3*SMSS
  EXPECT_EQ(s.cc.recover(), s.nxt);            // highest sent at entry
  EXPECT_FALSE(s.dupack().retransmit_snd_una); // step 4: inflate only
  EXPECT_EQ(s.cc.cwnd(), 14 * kMss);
  s.dupack();
  EXPECT_EQ(s.cc.cwnd(), 15 * kMss) << s.trace.str();
}

TEST(NewReno, SsthreshFloorTwoSmss) {
  Sender s(reno_cfg(20 * kMss, 20 * kMss));
  s.send(3 * kMss);
  s.dupack();
  s.dupack();
  s.dupack();
  EXPECT_EQ(s.cc.ssthresh(), 2 * kMss); // max(1500, 2000)
  EXPECT_EQ(s.cc.cwnd(), 5 * kMss);
}

TEST(NewReno, PartialAcksDeflateAndRetransmitFullAckExits) {
  Sender s(reno_cfg(20 * kMss, 20 * kMss));
  s.send(20 * kMss);
  for (int i = 0; i < 3; ++i)
    s.dupack();
  for (int i = 0; i < 5; ++i)
    s.dupack();     // cwnd = 13 + 5 = 18 SMSS
  s.send(4 * kMss); // new data allowed by the inflated window
  ASSERT_EQ(s.cc.cwnd(), 18 * kMss);
  const Seq recover = s.cc.recover();
  // First partial ACK: 3 SMSS acknowledged, retransmit, timer restart.
  CcAction a = s.ack(3 * kMss);
  EXPECT_TRUE(a.retransmit_snd_una);
  EXPECT_TRUE(a.restart_rtx_timer);
  EXPECT_FALSE(a.exited_recovery);
  EXPECT_EQ(s.cc.cwnd(), 18 * kMss - 3 * kMss + kMss); // deflate, add back SMSS
  // Second partial ACK: no timer restart this time.
  a = s.ack(2 * kMss);
  EXPECT_TRUE(a.retransmit_snd_una);
  EXPECT_FALSE(a.restart_rtx_timer);
  EXPECT_EQ(s.cc.cwnd(), 15 * kMss);
  // Partial ACK of less than one SMSS: deflate without adding back.
  a = s.ack(400);
  EXPECT_TRUE(a.retransmit_snd_una);
  EXPECT_EQ(s.cc.cwnd(), 15 * kMss - 400);
  // Full ACK: everything up to recover.
  a = s.ack(seq_distance(s.una, recover));
  EXPECT_TRUE(a.exited_recovery);
  EXPECT_FALSE(a.retransmit_snd_una);
  EXPECT_FALSE(s.cc.in_recovery());
  // RFC 6582 step 5 option (1): min(ssthresh, max(FlightSize, SMSS) + SMSS);
  // 4 SMSS still in flight -> 5 SMSS.
  EXPECT_EQ(s.cc.cwnd(), 5 * kMss) << s.trace.str();
  EXPECT_EQ(s.cc.dup_acks(), 0u);
}

TEST(NewReno, FullAckWithLargeFlightExitsAtSsthresh) {
  Sender s(reno_cfg(20 * kMss, 20 * kMss));
  s.send(20 * kMss);
  for (int i = 0; i < 3; ++i)
    s.dupack();
  s.send(15 * kMss);
  s.ack(20 * kMss); // exactly recover: full
  EXPECT_FALSE(s.cc.in_recovery());
  EXPECT_EQ(s.cc.cwnd(), s.cc.ssthresh()); // min(10, 15+1)
  EXPECT_EQ(s.cc.cwnd(), 10 * kMss) << s.trace.str();
}

TEST(NewReno, RecoverGuardsAgainstReentry) {
  Sender s(reno_cfg(20 * kMss, 20 * kMss));
  s.send(20 * kMss);
  for (int i = 0; i < 3; ++i)
    s.dupack();
  s.ack(20 * kMss); // full ACK: una == recover
  const uint32_t ssthresh = s.cc.ssthresh();
  s.send(10 * kMss);
  // Dupacks whose ACK does not cover more than recover: RFC 6582 3.2 step 2
  // says no fast retransmit, no ssthresh change.
  for (int i = 0; i < 5; ++i)
    EXPECT_FALSE(s.dupack().retransmit_snd_una) << s.trace.str();
  EXPECT_EQ(s.cc.ssthresh(), ssthresh);
  EXPECT_FALSE(s.cc.in_recovery());
  // Once the cumulative ACK moves beyond recover, a new loss is a new event.
  s.ack(kMss);
  s.dupack();
  s.dupack();
  EXPECT_TRUE(s.dupack().entered_recovery) << s.trace.str();
}

TEST(NewReno, SackRecoveryMayRestartRightAfterFullAck) {
  // RFC 6675 has no NewReno guard after a normal recovery: the segment right
  // after the old recovery point can be lost and recovered by SACK at once.
  Sender s(reno_cfg(20 * kMss, 20 * kMss, /*sack=*/true));
  s.send(20 * kMss);
  ASSERT_TRUE(s.dupack(true).entered_recovery);
  s.send(10 * kMss);
  ASSERT_TRUE(s.ack(20 * kMss).exited_recovery); // una == recover
  EXPECT_TRUE(s.dupack(true).entered_recovery) << s.trace.str();
}

TEST(NewReno, SackRecoveryAfterTimeoutNeedsHighAckAtRecoveryPoint) {
  // RFC 6675 5.1: no new recovery until HighACK >= RecoveryPoint (the
  // highest sequence number sent when the RTO fired).
  Sender s(reno_cfg(20 * kMss, 20 * kMss, /*sack=*/true));
  s.send(20 * kMss);
  s.rto();
  s.ack(10 * kMss);
  EXPECT_FALSE(s.dupack(true).entered_recovery);
  s.ack(10 * kMss); // una == RecoveryPoint + 1
  s.send(10 * kMss);
  EXPECT_TRUE(s.dupack(true).entered_recovery) << s.trace.str();
}

TEST(NewReno, InitialRecoverIsIss) {
  // ISS = 1000, first data byte 1001 lost: ACK 1001 > ISS, recovery allowed.
  Sender s(reno_cfg());
  s.send(10 * kMss);
  s.dupack();
  s.dupack();
  EXPECT_TRUE(s.dupack().entered_recovery) << s.trace.str();
}

TEST(NewReno, WithoutInitialRecoverFirstEntryIsUnconditional) {
  NewReno r(reno_cfg());
  const DupAckSample d{Seq{5}, Seq{10005}, 10000, kT0, false};
  r.dup_ack_received(d);
  r.dup_ack_received(d);
  EXPECT_TRUE(r.dup_ack_received(d).entered_recovery);
}

TEST(NewReno, RetransmitTimeout) {
  Sender s(reno_cfg(20 * kMss, 20 * kMss));
  s.send(16 * kMss);
  s.rto();
  EXPECT_EQ(s.cc.ssthresh(), 8 * kMss); // max(FlightSize/2, 2*SMSS)
  EXPECT_EQ(s.cc.cwnd(), kMss);         // LW
  EXPECT_EQ(s.cc.recover(), s.nxt);
  // Repeated timeout of the same data: ssthresh held (RFC 5681 4.3 note).
  s.rto();
  EXPECT_EQ(s.cc.ssthresh(), 8 * kMss);
  EXPECT_EQ(s.cc.cwnd(), kMss);
  // Slow start after an RTO counts at most 1 SMSS per ACK (RFC 3465 2.3).
  s.ack(3 * kMss);
  EXPECT_EQ(s.cc.cwnd(), 2 * kMss) << s.trace.str();
  // A new timeout after progress is a new loss: FlightSize/2 again.
  s.rto();
  EXPECT_EQ(s.cc.ssthresh(), 6500u); // 13 SMSS in flight
  EXPECT_EQ(s.cc.cwnd(), kMss);
}

TEST(NewReno, DupacksAfterTimeoutDoNotTriggerFastRetransmit) {
  Sender s(reno_cfg(20 * kMss, 20 * kMss));
  s.send(20 * kMss);
  s.rto();
  const uint32_t ssthresh = s.cc.ssthresh();
  // Go-back-N retransmissions provoke dupacks at una <= recover.
  for (int i = 0; i < 4; ++i)
    EXPECT_FALSE(s.dupack().retransmit_snd_una);
  EXPECT_EQ(s.cc.ssthresh(), ssthresh);
  EXPECT_EQ(s.cc.cwnd(), kMss) << s.trace.str();
}

TEST(NewReno, TimeoutDuringRecoveryLeavesRecoveryHoldsSsthresh) {
  Sender s(reno_cfg(20 * kMss, 20 * kMss));
  s.send(20 * kMss);
  for (int i = 0; i < 3; ++i)
    s.dupack();
  ASSERT_TRUE(s.cc.in_recovery());
  s.rto();
  EXPECT_FALSE(s.cc.in_recovery());
  EXPECT_EQ(s.cc.ssthresh(), 10 * kMss);
  EXPECT_EQ(s.cc.cwnd(), kMss);
}

TEST(NewReno, AfterRecoveryCongestionAvoidance) {
  Sender s(reno_cfg(20 * kMss, 20 * kMss));
  s.send(20 * kMss);
  for (int i = 0; i < 3; ++i)
    s.dupack();
  s.send(10 * kMss);
  s.ack(20 * kMss);
  ASSERT_EQ(s.cc.cwnd(), 10 * kMss);
  ASSERT_FALSE(s.cc.in_slow_start());
  for (int i = 0; i < 10; ++i)
    s.ack(kMss);
  EXPECT_EQ(s.cc.cwnd(), 11 * kMss) << s.trace.str();
}

TEST(NewReno, SackRecoveryNoInflationNoDeflation) {
  Sender s(reno_cfg(20 * kMss, 20 * kMss, /*sack=*/true));
  s.send(20 * kMss);
  // RFC 6675 5 step 1: the scoreboard says SND.UNA is lost on the first dupack.
  const CcAction a = s.dupack(/*lost=*/true);
  EXPECT_TRUE(a.entered_recovery);
  EXPECT_TRUE(a.retransmit_snd_una);
  EXPECT_EQ(s.cc.ssthresh(), 10 * kMss);
  EXPECT_EQ(s.cc.cwnd(), 10 * kMss); // step 4.2: cwnd = ssthresh
  s.dupack();
  s.dupack();
  EXPECT_EQ(s.cc.cwnd(), 10 * kMss);
  const CcAction p = s.ack(2 * kMss);
  EXPECT_FALSE(p.retransmit_snd_una); // the scoreboard drives retransmission
  EXPECT_FALSE(p.exited_recovery);
  EXPECT_EQ(s.cc.cwnd(), 10 * kMss);
  s.send(5 * kMss);
  const CcAction f = s.ack(18 * kMss);
  EXPECT_TRUE(f.exited_recovery);
  EXPECT_EQ(s.cc.cwnd(), 6 * kMss) << s.trace.str(); // min(10, 5 + 1)
}

TEST(NewReno, SackModeStillEntersOnDupThresh) {
  Sender s(reno_cfg(20 * kMss, 20 * kMss, /*sack=*/true));
  s.send(20 * kMss);
  EXPECT_FALSE(s.dupack().entered_recovery);
  EXPECT_FALSE(s.dupack().entered_recovery);
  EXPECT_TRUE(s.dupack().entered_recovery);
}

TEST(NewReno, NoSackIgnoresLostHint) {
  Sender s(reno_cfg(20 * kMss, 20 * kMss));
  s.send(20 * kMss);
  EXPECT_FALSE(s.dupack(true).entered_recovery);
}

TEST(NewReno, RecoveryAcrossSequenceWrap) {
  Sender s(reno_cfg(20 * kMss, 20 * kMss), Seq{0xFFFFF000u});
  s.send(20 * kMss); // nxt wraps past 2^32
  ASSERT_LT(s.nxt.v, s.una.v);
  for (int i = 0; i < 3; ++i)
    s.dupack();
  ASSERT_TRUE(s.cc.in_recovery());
  EXPECT_TRUE(s.ack(5 * kMss).retransmit_snd_una); // partial
  EXPECT_TRUE(s.cc.in_recovery());
  EXPECT_TRUE(s.ack(15 * kMss).exited_recovery) << s.trace.str();
}

TEST(NewReno, CwndNeverOverflows) {
  Sender s(reno_cfg(CongestionControl::kMaxCwnd - 500));
  s.send(4 * kMss);
  s.ack(2 * kMss);
  EXPECT_EQ(s.cc.cwnd(), CongestionControl::kMaxCwnd);
}

} // namespace
} // namespace shoal::tcp
