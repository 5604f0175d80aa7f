// The scripted-peer harness against the real engine: a passive open and
// close played segment by segment, retransmission timing on the virtual
// clock, and the harness's own failure reports (which must carry the trace).
#include "sim_fixture.hpp"

#include "sim/recording_app.hpp"
#include "wire/tcp.hpp"

namespace shoal::sim {
namespace {

using namespace wire::tcp_flags;
using testing::PeerTest;

class ScriptedPeerTest : public PeerTest {
protected:
  // A listener on port 80 whose connections are recorded in server_.
  ScriptedPeer &listening_peer(PeerConfig c) {
    auto &p = make_peer(c);
    server_.emplace([this] { return peer_->now(); });
    EXPECT_TRUE(p.engine().listen(80, server_->factory()));
    return p;
  }
  ScriptedPeer &listening_peer() { return listening_peer(config()); }
  std::optional<RecordingServer> server_;
};

TEST_F(ScriptedPeerTest, PassiveOpenAndPassiveCloseSegmentBySegment) {
  auto &p = listening_peer();
  p.at(0s).inject(Seg().flags(SYN).seq(100).win(65535).mss(1460));
  // No timestamps/SACK/WS offered: none in the answer, MSS = 1500 - 40.
  auto synack =
      p.expect(Seg().flags(SYN | ACK).ack(101).mss(1460).no_ts().dst_port(40000).src_port(80));
  ASSERT_TRUE(synack);
  ASSERT_TRUE(p.has_isn());
  EXPECT_EQ(p.isn(), synack->seq());

  p.at(10ms).inject(Seg().flags(ACK).seq(101).ack(p.isn() + 1));
  p.expect_nothing();
  ASSERT_EQ(server_->apps().size(), 1u);
  EXPECT_TRUE(server_->apps()[0].connected);

  p.at(20ms).inject(Seg().flags(ACK | PSH).seq(101).ack(p.isn() + 1).payload("hello"));
  // The first data segment of a connection is ACKed at once (quick ACK);
  // reading 5 bytes leaves the window the peer sees (65535, unscaled) as it
  // was, so no window update follows.
  p.expect_at_about(20ms, 1ms, Seg().flags(ACK).seq(p.isn() + 1).ack(106).len(0));
  p.expect_nothing_until(65ms);
  EXPECT_EQ(server_->apps()[0].received, "hello");

  // The peer closes; the recording app closes on peer close, so the ACK of
  // the FIN and our FIN may come as one segment or two.
  p.at(70ms).inject(Seg().flags(FIN | ACK).seq(106).ack(p.isn() + 1));
  auto first = p.expect(Seg().ack(107));
  ASSERT_TRUE(first);
  if (!first->has(FIN))
    p.expect(Seg().flags(FIN | ACK).seq(p.isn() + 1).ack(107));
  p.at(80ms).inject(Seg().flags(ACK).seq(107).ack(p.isn() + 2));
  p.expect_nothing_until(10s);
  EXPECT_EQ(server_->apps()[0].closed, tcp::CloseReason::normal);
  EXPECT_EQ(p.engine().connection_count(), 0u);
  EXPECT_EQ(p.engine().time_wait_count(), 0u) << "the passive closer has no TIME_WAIT";
}

TEST_F(ScriptedPeerTest, SynAckRetransmissionsDoubleFromTheInitialRto) {
  auto c = config();
  c.engine.synack_retries = 3;
  auto &p = listening_peer(c);
  p.at(0s).inject(Seg().flags(SYN).seq(7).mss(1000));
  ASSERT_TRUE(p.expect(Seg().flags(SYN | ACK).ack(8)));
  const uint32_t isn = p.isn();
  // 1 s, then 2 s, then 4 s after the previous one.
  p.expect_at_about(1s, 1ms, Seg().flags(SYN | ACK).seq(isn).ack(8));
  p.expect_at_about(3s, 1ms, Seg().flags(SYN | ACK).seq(isn).ack(8));
  p.expect_at_about(7s, 1ms, Seg().flags(SYN | ACK).seq(isn).ack(8));
  // Retries exhausted: the half-open entry goes away without more segments.
  p.expect_nothing_until(60s);
  EXPECT_EQ(p.engine().connection_count(), 0u);
  EXPECT_EQ(p.engine().armed_timer_count(), 0u);
}

TEST_F(ScriptedPeerTest, SegmentToAClosedPortDrawsAReset) {
  auto &p = make_peer();
  // RFC 9293 3.10.7.1: no ACK in the offending segment ->
  // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
  p.at(0s).inject(Seg().flags(SYN).seq(500).dst_port(81));
  p.expect(Seg().flags(RST | ACK).seq(0).ack(501).src_port(81));
  // With an ACK: <SEQ=SEG.ACK><CTL=RST>.
  p.inject(Seg().flags(ACK).seq(501).ack(9000).dst_port(81));
  p.expect(Seg().flags(RST).seq(9000));
  // Never a RST for a RST.
  p.inject(Seg().flags(RST).seq(501).dst_port(81));
  p.expect_nothing();
}

// The drop trace: each drop reaches the harness with its reason (the drop
// counter), in order, and the trace printed on failure says it.
TEST_F(ScriptedPeerTest, DropsReachTheTraceWithTheirReason) {
  if (!SHOAL_DROP_TRACE)
    GTEST_SKIP() << "the drop trace is compiled out (NDEBUG)";
  auto &p = listening_peer();
  p.at(0s).inject(Seg().flags(SYN).seq(100).bad_checksum());
  p.inject(Seg().flags(RST).seq(501).dst_port(81));
  p.inject(Seg().flags(FIN).seq(100)); // neither SYN nor ACK, to a listener
  p.expect_nothing();
  auto reasons = [&p] {
    std::vector<std::string> names;
    for (const tcp::Counter c : p.drops())
      names.emplace_back(tcp::counter_name(c));
    return names;
  };
  const std::vector<std::string> expected{"drop_bad_checksum", "drop_rst_no_conn",
                                          "drop_listen_bad_flags"};
  EXPECT_EQ(reasons(), expected);
  const std::string trace = p.trace_text();
  // A segment dropped before its TCP header is read has no tuple; the others
  // name theirs (peer > engine).
  EXPECT_NE(trace.find("dropped: drop_bad_checksum\n"), std::string::npos) << trace;
  EXPECT_NE(trace.find("dropped: drop_rst_no_conn [198.18.0.2:40000 > 198.18.0.1:81]\n"),
            std::string::npos)
      << trace;
  EXPECT_NE(trace.find("dropped: drop_listen_bad_flags [198.18.0.2:40000 > 198.18.0.1:80]\n"),
            std::string::npos)
      << trace;
  // Nothing else counts as a drop: a handshake adds no reason.
  p.inject(Seg().flags(SYN).seq(100).mss(1460));
  p.expect(Seg().flags(SYN | ACK).ack(101));
  EXPECT_EQ(reasons(), expected);
}

TEST_F(ScriptedPeerTest, ActiveOpenCapturesTheIsn) {
  auto &p = make_peer();
  RecordingApp app([&p] { return p.now(); });
  tcp::Connection *conn = p.engine().connect(p.defaults().src, 40000, &app, 80);
  ASSERT_NE(conn, nullptr);
  auto syn = p.expect(Seg().flags(SYN).ack(0).src_port(80).dst_port(40000).mss(1460));
  ASSERT_TRUE(syn);
  EXPECT_EQ(p.isn(), syn->seq());
  p.at(5ms).inject(Seg().flags(SYN | ACK).seq(3000).ack(p.isn() + 1).src_port(40000).dst_port(80));
  p.expect(Seg().flags(ACK).seq(p.isn() + 1).ack(3001));
  EXPECT_TRUE(app.connected);
  conn->abort();
  // Abort: RST (Linux sends it with ACK as well; both are valid).
  auto rst = p.expect(Seg().seq(p.isn() + 1));
  ASSERT_TRUE(rst);
  EXPECT_TRUE(rst->has(RST));
  EXPECT_EQ(app.closed, tcp::CloseReason::aborted);
}

// The harness's own failure path: reports go to on_failure with the diff
// and the trace so far.
TEST_F(ScriptedPeerTest, MismatchReportsTheDiffAndTheTrace) {
  std::vector<std::string> reports;
  auto c = config();
  c.on_failure = [&reports](const std::string &msg) { reports.push_back(msg); };
  auto &p = listening_peer(c);
  p.at(0s).inject(Seg().flags(SYN).seq(100).mss(1460));
  EXPECT_FALSE(p.expect(Seg().flags(SYN | ACK).ack(999)));
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_NE(reports[0].find("expected: [S.] ack 999"), std::string::npos) << reports[0];
  EXPECT_NE(reports[0].find("diff: ack: expected 999, got 101"), std::string::npos) << reports[0];
  EXPECT_NE(reports[0].find("0.000000 P>E 198.18.0.2:40000 > 198.18.0.1:80 [S] seq 100"),
            std::string::npos)
      << reports[0];
  EXPECT_NE(reports[0].find("0.000000 E>P 198.18.0.1:80 > 198.18.0.2:40000 [S.]"),
            std::string::npos)
      << reports[0];

  EXPECT_FALSE(p.expect(Seg()));
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_NE(reports[1].find("got: nothing"), std::string::npos) << reports[1];

  // The SYN-ACK is retransmitted at 1 s: expecting silence until 2 s fails.
  EXPECT_FALSE(p.expect_nothing_until(2s));
  ASSERT_EQ(reports.size(), 3u);
  EXPECT_NE(reports[2].find("got at 1.000000"), std::string::npos) << reports[2];
  EXPECT_EQ(p.now(), p.start() + 2s);

  // The next retransmission is at 1 s + 2 s: too late for 2.5 s +- 100 ms ...
  EXPECT_FALSE(p.expect_at_about(2500ms, 100ms, Seg().flags(SYN | ACK)));
  ASSERT_EQ(reports.size(), 4u);
  EXPECT_NE(reports[3].find("got: nothing by 2.600000"), std::string::npos) << reports[3];
  // ... and too early for 10 s.
  EXPECT_FALSE(p.expect_at_about(10s, 100ms, Seg().flags(SYN | ACK)));
  ASSERT_EQ(reports.size(), 5u);
  EXPECT_NE(reports[4].find("got it at 3.000000"), std::string::npos) << reports[4];
  EXPECT_EQ(p.failures(), 5u);
}

TEST_F(ScriptedPeerTest, SameScriptSameTrace) {
  auto once = [this] {
    ScriptedPeer p(config());
    RecordingServer server([&p] { return p.now(); });
    p.engine().listen(80, server.factory());
    p.at(0s).inject(Seg().flags(SYN).seq(1).mss(1460).ts(10, 0).sack_perm().wscale(2));
    p.expect(Seg().flags(SYN | ACK));
    p.at(50ms).inject(Seg().flags(ACK).seq(2).ack(p.isn() + 1).ts(11, 0));
    p.at(60ms).inject(Seg().flags(ACK | PSH).seq(2).ack(p.isn() + 1).ts(12, 0).payload("x"));
    p.expect(Seg().flags(ACK).ack(3));
    p.expect_nothing_until(500ms);
    return p.trace_text();
  };
  const std::string a = once();
  EXPECT_EQ(a, once());
  EXPECT_NE(a.find("TS val"), std::string::npos) << a;
}

} // namespace
} // namespace shoal::sim
