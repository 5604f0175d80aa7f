// Data transfer end to end between two engines, one path per test: bulk
// through loss bursts, a reordering-heavy link, a zero window behind a slow
// reader and its reopening, half-close with data flowing the other way,
// abort mid-transfer, a user timeout on a dead link, and throughput sanity
// in virtual time. The last tests pin lib/tcp bugs the sweep found (fixed).
#include "sim_fixture.hpp"

#include <algorithm>
#include <optional>
#include <string>

#include "sim/bulk_app.hpp"
#include "sim/recording_app.hpp"
#include "tcp/connection.hpp"
#include "tcp/counters.hpp"
#include "tcp/inspect.hpp"

namespace shoal::sim {
namespace {

using tcp::CloseReason;
using tcp::Counter;
using tcp::State;

class TransferTest : public testing::SimTest {
protected:
  // A connects to B:80. a_sends / b_sends bytes each way (patterns keyed
  // apart); the scripts may be adjusted by `tweak` before the apps exist.
  void start(const SimConfig &c, uint64_t a_sends, uint64_t b_sends,
             const std::function<void(BulkScript &a, BulkScript &b)> &tweak = nullptr) {
    auto &sim = make_sim(c);
    BulkScript a, b;
    a.send_bytes = b.expect_bytes = a_sends;
    b.send_bytes = a.expect_bytes = b_sends;
    a.send_pattern = b.expect_pattern = StreamPattern(0xA);
    b.send_pattern = a.expect_pattern = StreamPattern(0xB);
    a.ending = BulkScript::Ending::half_close;
    b.ending = BulkScript::Ending::close_when_done;
    if (tweak)
      tweak(a, b);
    server_.emplace(sim, b, "B");
    client_.emplace(sim, a, "A");
    ASSERT_TRUE(sim.b().listen(80, server_->factory()));
    client_->attach(sim.a().connect(sim.address_b(), 80, &*client_));
    ASSERT_NE(client_->connection(), nullptr);
  }
  BulkApp &a() { return *client_; }
  BulkApp *b() { return server_->first(); }
  std::string outcome() {
    return a().summary() + "\n" + (b() ? b()->summary() : std::string("B: nothing accepted"));
  }
  // Both streams whole, both ends closed normally, nothing left behind.
  void expect_clean_finish() {
    ASSERT_NE(b(), nullptr);
    EXPECT_TRUE(a().stream_complete()) << outcome();
    EXPECT_TRUE(b()->stream_complete()) << outcome();
    EXPECT_EQ(a().closed(), CloseReason::normal) << outcome();
    EXPECT_EQ(b()->closed(), CloseReason::normal) << outcome();
    expect_nothing_left();
  }
  void expect_nothing_left() {
    auto &sim = *sim_;
    sim.b().unlisten(80);
    for (auto *e : {&sim.a(), &sim.b()}) {
      EXPECT_EQ(e->connection_count(), 0u);
      EXPECT_EQ(e->time_wait_count(), 0u);
      EXPECT_EQ(e->armed_timer_count(), 0u);
    }
    EXPECT_EQ(sim.link_a_to_b().in_flight() + sim.link_b_to_a().in_flight(), 0u);
    EXPECT_EQ(sim.link_a_to_b().stats().malformed + sim.link_b_to_a().stats().malformed, 0u);
    EXPECT_EQ(sim.pending_app_events(), 0u);
  }
  void TearDown() override {
    // The apps go before the simulation (its pending events check for that).
    client_.reset();
    server_.reset();
    SimTest::TearDown();
  }
  SimConfig quiet_config() {
    SimConfig c = config();
    c.trace = false; // megabytes of trace: counters only
    for (tcp::EngineConfig *e : {&c.a, &c.b}) {
      e->msl = 1s;
      e->tx_checksum_offload = true; // software sums: SoftwareChecksumOverOddLengthPieces
    }
    return c;
  }

  std::optional<BulkServer> server_;
  std::optional<BulkApp> client_;
};

TEST_F(TransferTest, BulkThroughLossBursts) {
  SimConfig c = config();
  c.a.tx_checksum_offload = c.b.tx_checksum_offload = true;
  start(c, 1 << 20, 64 * 1024);
  // Bursts of 15 and 40 consecutive datagrams lost A>B, and 10 ACKs B>A.
  sim_->link_a_to_b().set_drop_filter([](const LinkPacket &p) {
    return (p.index >= 200 && p.index < 215) || (p.index >= 500 && p.index < 540);
  });
  sim_->link_b_to_a().set_drop_filter(
      [](const LinkPacket &p) { return p.index >= 100 && p.index < 110; });
  ASSERT_TRUE(sim_->run_until_idle(sim_->now() + 600s)) << outcome();
  expect_clean_finish();
  EXPECT_EQ(sim_->link_a_to_b().stats().filtered, 55u);
  EXPECT_GT(sim_->a().counters().get(Counter::retransmits), 0u);
  EXPECT_EQ(sim_->b().counters().get(Counter::bytes_in), uint64_t{1} << 20) << "exactly once";
}

// Path-MTU discovery (RFC 1191, RFC 5927): a router of MTU 1000 on the A>B
// path drops A's bigger datagrams (DF is set on every segment) and answers
// each with "fragmentation needed"; a forged error quoting a sequence number
// A never sent, with a smaller MTU, comes first. 16 MiB arrive intact, the
// MSS drops to 960 (1000 - 40; no timestamps) and no further, the path MTU
// is remembered, and the forged error changed nothing.
TEST_F(TransferTest, PathMtuDiscoveryThroughARouterOfMtu1000) {
  SimConfig c = quiet_config();
  c.a.timestamps = c.b.timestamps = false;
  start(c, 16u << 20, 0);
  Simulation &sim = *sim_;
  constexpr uint16_t kRouterMtu = 1000;
  uint64_t too_big = 0, not_df = 0;
  uint16_t mss_seen = 0;
  size_t largest_delivered = 0;
  auto frag_needed = [&](const ParsedSegment &seg, uint32_t seq, uint16_t mtu) {
    tcp::IcmpError e;
    e.type = 3;
    e.code = 4;
    e.src = seg.ip.src;
    e.dst = seg.ip.dst;
    e.src_port = seg.tcp.src_port;
    e.dst_port = seg.tcp.dst_port;
    e.seq = seq;
    e.next_hop_mtu = mtu;
    return e;
  };
  bool forged = false;
  sim.link_a_to_b().set_drop_filter([&](const LinkPacket &p) {
    const ParsedSegment &seg = p.segment;
    if (!seg.ok())
      return false;
    if (!seg.ip.dont_fragment)
      not_df++;
    const size_t len = seg.ip.header_len + seg.ip.payload_len;
    if (len <= kRouterMtu) {
      largest_delivered = std::max(largest_delivered, len);
      if (too_big > 0 && client_->connection() != nullptr)
        mss_seen = client_->connection()->snd_mss(); // what A sends with now
      return false;
    }
    too_big++;
    if (!forged) {
      // Out of the window (a blind attacker's guess): must change nothing.
      forged = true;
      const tcp::IcmpError fake = frag_needed(seg, seg.tcp.seq - (1u << 30), 600);
      sim.after(100us, [&sim, fake] { sim.a().icmp_error(fake, sim.now()); });
    }
    const tcp::IcmpError real = frag_needed(seg, seg.tcp.seq, kRouterMtu);
    sim.after(200us, [&sim, real] { sim.a().icmp_error(real, sim.now()); }); // the router's answer
    return true;
  });
  ASSERT_TRUE(sim.run_until_idle(sim.now() + 600s)) << outcome();
  expect_clean_finish();
  EXPECT_EQ(sim.b().counters().get(Counter::bytes_in), uint64_t{16} << 20) << "exactly once";
  EXPECT_EQ(mss_seen, 960);
  EXPECT_EQ(sim.a().path_mtu(sim.address_b()), kRouterMtu);
  EXPECT_EQ(largest_delivered, kRouterMtu);
  EXPECT_GT(too_big, 0u);
  EXPECT_EQ(not_df, 0u) << "DF on every TCP segment";
  EXPECT_EQ(sim.a().counters().get(Counter::pmtu_reductions), 1u);
  EXPECT_GE(sim.a().counters().get(Counter::icmp_out_of_window), 1u);
}

// ICMP errors in SYN-SENT (RFC 1122 4.2.3.9): port unreachable refuses the
// connect at once; host unreachable is a soft error that turns the final
// timeout into CloseReason::unreachable; an error quoting another sequence
// number than the SYN's is ignored.
TEST_F(TransferTest, IcmpErrorsDuringTheHandshake) {
  for (const uint8_t code : {uint8_t{3}, uint8_t{1}}) {
    SimConfig c = quiet_config();
    c.a.syn_retries = 2;
    auto &sim = make_sim(c);
    RecordingApp app([&sim] { return sim.now(); }, AppScript{}, "A");
    sim.link_a_to_b().set_drop_filter([&](const LinkPacket &p) {
      const ParsedSegment &seg = p.segment;
      tcp::IcmpError e;
      e.type = 3;
      e.code = code;
      e.src = seg.ip.src;
      e.dst = seg.ip.dst;
      e.src_port = seg.tcp.src_port;
      e.dst_port = seg.tcp.dst_port;
      tcp::IcmpError wrong = e;
      wrong.seq = seg.tcp.seq + 12345;
      e.seq = seg.tcp.seq;
      sim.after(1ms, [&sim, wrong] { sim.a().icmp_error(wrong, sim.now()); });
      sim.after(2ms, [&sim, e] { sim.a().icmp_error(e, sim.now()); });
      return true; // nothing reaches B
    });
    tcp::Connection *conn = sim.a().connect(sim.address_b(), 80, &app);
    ASSERT_NE(conn, nullptr);
    ASSERT_TRUE(sim.run_until([&] { return app.closed.has_value(); }, sim.now() + 60s));
    EXPECT_GE(sim.a().counters().get(Counter::icmp_out_of_window), 1u);
    if (code == 3) {
      EXPECT_EQ(*app.closed, CloseReason::refused);
      EXPECT_LT(sim.now() - sim.start(), 100ms) << "refused at once, not after the retries";
      EXPECT_EQ(sim.a().counters().get(Counter::icmp_hard_errors), 1u);
    } else {
      EXPECT_EQ(*app.closed, CloseReason::unreachable);
      EXPECT_GE(sim.now() - sim.start(), 3s) << "after the SYN retries";
      EXPECT_GE(sim.a().counters().get(Counter::icmp_soft_errors), 1u);
    }
    sim_.reset();
  }
}

TEST_F(TransferTest, ReorderingHeavyLink) {
  SimConfig c = quiet_config();
  for (LinkConfig *l : {&c.a_to_b, &c.b_to_a}) {
    l->reorder = 0.4;
    l->reorder_delay = 4ms;
    l->jitter = 3ms;
    l->duplicate = 0.05;
  }
  start(c, 512 * 1024, 512 * 1024);
  ASSERT_TRUE(sim_->run_until_idle(sim_->now() + 600s)) << outcome();
  expect_clean_finish();
  EXPECT_GT(sim_->a().counters().get(Counter::ooo_segments) +
                sim_->b().counters().get(Counter::ooo_segments),
            100u);
}

// The receiver gets every datagram as a chain of 50 + 97-byte mbufs (as
// net_ring delivers a sender's zero-copy chains): TCP options straddle the
// first two, and every trim (left edge, overlaps, window), reassembly,
// receive queue and consume works across piece boundaries. Through loss,
// reordering and duplicates both ways the streams arrive whole and every
// mbuf goes back to the pools.
TEST_F(TransferTest, ChainedDatagramsThroughLossAndReordering) {
  SimConfig c = quiet_config();
  for (LinkConfig *l : {&c.a_to_b, &c.b_to_a}) {
    l->chain_piece = 97;
    l->loss = 0.02;
    l->reorder = 0.2;
    l->reorder_delay = 4ms;
    l->duplicate = 0.05;
  }
  start(c, 1 << 20, 256 * 1024);
  ASSERT_TRUE(sim_->run_until_idle(sim_->now() + 600s)) << outcome();
  expect_clean_finish();
  EXPECT_EQ(sim_->b().counters().get(Counter::bytes_in), uint64_t{1} << 20) << "exactly once";
  EXPECT_GT(sim_->b().counters().get(Counter::ooo_segments), 10u);
}

// A reads 8 KiB every 300 ms behind a 16 KiB buffer: its window closes,
// B stops, and each read reopens it with a window update. With `lose_updates`
// the first window updates are lost, so B must find the reopened window
// itself with persist probes (RFC 9293 3.8.6.1).
class ZeroWindow : public TransferTest, public ::testing::WithParamInterface<bool> {};

TEST_P(ZeroWindow, SlowReaderClosesTheWindowAndItReopens) {
  const bool lose_updates = GetParam();
  SimConfig c = quiet_config();
  c.trace = true;
  c.a.rcv_buf = 16 * 1024;
  start(c, 0, 256 * 1024, [](BulkScript &a, BulkScript &b) {
    a.read_interval = 300ms;
    a.read_chunk = 8 * 1024;
    a.ending = BulkScript::Ending::close_when_done;
    b.ending = BulkScript::Ending::half_close;
  });
  if (lose_updates) {
    // The first 5 pure ACKs from A that open a window again after a zero one.
    sim_->link_a_to_b().set_drop_filter([closed = false, left = 5](const LinkPacket &p) mutable {
      if (!p.segment.ok() || p.segment.payload_len() != 0)
        return false;
      if (p.segment.tcp.window == 0) {
        closed = true;
        return false;
      }
      if (!closed || left == 0)
        return false;
      closed = false;
      --left;
      return true;
    });
  }
  ASSERT_TRUE(sim_->run_until_idle(sim_->now() + 600s)) << outcome();
  unsigned zero_windows = 0;
  for (const TraceEntry &e : sim_->trace().entries()) {
    if (e.kind != TraceEntry::Kind::segment || e.dir != Direction::a_to_b)
      continue;
    const ParsedSegment p = parse_segment(e.bytes);
    if (p.ok() && p.tcp.window == 0 && !(p.tcp.flags & wire::tcp_flags::RST))
      ++zero_windows;
  }
  EXPECT_GT(zero_windows, 0u) << "A never advertised a zero window";
  EXPECT_GT(sim_->a().counters().get(Counter::window_updates), 0u) << "no window update sent";
  if (lose_updates) {
    EXPECT_EQ(sim_->link_a_to_b().stats().filtered, 5u);
    EXPECT_GT(sim_->b().counters().get(Counter::persist_probes), 0u) << "B never probed";
  }
  expect_clean_finish();
}

INSTANTIATE_TEST_SUITE_P(WindowUpdates, ZeroWindow, ::testing::Values(false, true),
                         [](const auto &info) { return info.param ? "Lost" : "Delivered"; });

TEST_F(TransferTest, HalfCloseWhileDataFlowsTheOtherWay) {
  SimConfig c = quiet_config();
  c.a_to_b.loss = c.b_to_a.loss = 0.02;
  std::optional<State> a_state_while_receiving;
  start(c, 10'000, 512 * 1024, [](BulkScript &, BulkScript &b) {
    b.send_after_end_of_stream = true; // B answers after A's FIN
  });
  // Watch A's state when half of B's stream has arrived.
  ASSERT_TRUE(
      sim_->run_until([&] { return a().bytes_received() >= 256 * 1024; }, sim_->now() + 600s))
      << outcome();
  ASSERT_NE(a().connection(), nullptr);
  EXPECT_EQ(a().connection()->state(), State::fin_wait_2) << "A half-closed, still reading";
  ASSERT_TRUE(sim_->run_until_idle(sim_->now() + 600s)) << outcome();
  expect_clean_finish();
  EXPECT_EQ(sim_->a().counters().get(Counter::time_wait_entered), 1u) << "A closed first";
}

TEST_F(TransferTest, AbortMidTransferResetsThePeerWithoutLeaks) {
  SimConfig c = quiet_config();
  start(c, 1 << 20, 1 << 20,
        [](BulkScript &a, BulkScript &) { a.ending = BulkScript::Ending::stay_open; });
  // Mid-transfer: once A has a quarter of B's stream (a fixed time would
  // depend on how fast the transfer runs).
  ASSERT_TRUE(
      sim_->run_until([&] { return a().bytes_received() >= 256 * 1024; }, sim_->now() + 60s))
      << outcome();
  a().abort();
  ASSERT_TRUE(sim_->run_until_idle(sim_->now() + 60s)) << outcome();
  ASSERT_NE(b(), nullptr);
  EXPECT_EQ(a().closed(), CloseReason::aborted);
  EXPECT_EQ(b()->closed(), CloseReason::reset) << outcome();
  EXPECT_LT(a().bytes_received(), uint64_t{1} << 20);
  EXPECT_FALSE(a().first_mismatch());
  EXPECT_FALSE(b()->first_mismatch());
  EXPECT_EQ(sim_->a().counters().get(Counter::rst_abort), 1u);
  expect_nothing_left();
}

TEST_F(TransferTest, UserTimeoutOnADeadLink) {
  SimConfig c = quiet_config();
  start(c, 1 << 20, 0,
        [](BulkScript &a, BulkScript &b) { a.ending = b.ending = BulkScript::Ending::stay_open; });
  a().connection()->set_user_timeout(3s);
  Instant cut{};
  sim_->after(5ms, [&] { // mid-transfer: the first flight is out
    cut = sim_->now();
    sim_->link_a_to_b().set_drop_filter(drop::all());
    sim_->link_b_to_a().set_drop_filter(drop::all());
  });
  ASSERT_TRUE(sim_->run_until([&] { return a().closed().has_value(); }, sim_->now() + 600s))
      << outcome();
  EXPECT_EQ(a().closed(), CloseReason::timed_out);
  EXPECT_EQ(sim_->a().counters().get(Counter::user_timeouts), 1u);
  // Unacknowledged data waited at least the user timeout, and not much more
  // than one RTO past it.
  EXPECT_GE(a().closed_at() - cut, 3s - 10ms) << outcome();
  EXPECT_LE(a().closed_at() - cut, 3s + 2s) << outcome();
  // B never hears of it (the link is dead): its application gives up.
  ASSERT_NE(b(), nullptr);
  b()->abort();
  ASSERT_TRUE(sim_->run_until_idle(sim_->now() + 60s));
  expect_nothing_left();
}

// ---- throughput in virtual time (not a timed test) ---------------------------

// Over a clean 1 ms link a 16 MiB stream into a 256 KiB receive buffer is
// window-limited: at most rcv_buf per RTT (2 ms) = 128 MiB/s. Slow start
// takes a few RTTs; the rest should run near the bound.
TEST_F(TransferTest, SixteenMebibytesReachTheWindowBoundOnACleanLink) {
  constexpr uint64_t kBytes = 16 << 20;
  SimConfig c = quiet_config();
  // B sends, A receives: the bound is A's buffer (the passive side's
  // window is right too now: PassiveOpenOffersNoMoreThanItsBuffer).
  start(c, 0, kBytes);
  ASSERT_TRUE(sim_->run_until_idle(sim_->now() + 600s)) << outcome();
  expect_clean_finish();
  ASSERT_NE(b(), nullptr);
  const double secs =
      std::chrono::duration<double>(a().end_of_stream_at() - b()->connected_at()).count();
  const double goodput = static_cast<double>(kBytes) / secs;
  const double rtt = 2e-3;
  const double bound = static_cast<double>(c.a.rcv_buf) / rtt;
  std::printf("16 MiB in %.3f s virtual: %.1f MiB/s (window bound %.1f MiB/s)\n", secs,
              goodput / (1 << 20), bound / (1 << 20));
  EXPECT_GT(goodput, bound / 3) << "far below the window/RTT bound";
  EXPECT_LT(goodput, bound * 1.1) << "faster than the window allows?";
}

class TransferUnderLoss : public TransferTest,
                          public ::testing::WithParamInterface<const char *> {};

TEST_P(TransferUnderLoss, SixteenMebibytesThroughOnePercentLoss) {
  constexpr uint64_t kBytes = 16 << 20;
  SimConfig c = quiet_config();
  c.a_to_b.loss = c.b_to_a.loss = 0.01;
  c.a.congestion_control = c.b.congestion_control = GetParam();
  start(c, 0, kBytes);
  ASSERT_TRUE(sim_->run_until_idle(sim_->now() + 3600s)) << outcome();
  expect_clean_finish();
  ASSERT_NE(b(), nullptr);
  const double secs =
      std::chrono::duration<double>(a().end_of_stream_at() - b()->connected_at()).count();
  std::printf("%s: 16 MiB through 1%% loss in %.2f s virtual (%.1f MiB/s), %llu fast "
              "recoveries, %llu RTOs\n",
              GetParam(), secs, static_cast<double>(kBytes) / secs / (1 << 20),
              static_cast<unsigned long long>(sim_->b().counters().get(Counter::fast_recoveries)),
              static_cast<unsigned long long>(sim_->b().counters().get(Counter::rtx_timeouts)));
  EXPECT_GT(sim_->b().counters().get(Counter::fast_recoveries), 0u);
}

INSTANTIATE_TEST_SUITE_P(CongestionControl, TransferUnderLoss,
                         ::testing::Values("newreno", "cubic"));

// ---- lib/tcp bugs the sweep found (fixed; regression tests) -----------------

// DPDK 22.11's rte_raw_cksum_mbuf truncates the 32-bit partial sum to 16
// bits before byte-swapping the piece that follows an odd-length piece, so
// output.cpp's software TCP checksum is wrong whenever a segment's payload
// spans ring mbufs at an odd offset (small writes, TCP_NODELAY). The same
// call checks received multi-segment mbufs in input.cpp.
TEST_F(TransferTest, SoftwareChecksumOverOddLengthPieces) {
  SimConfig c = config();
  c.trace = false;
  start(c, 64 * 1024, 0, [](BulkScript &a, BulkScript &) {
    a.nodelay = true;
    a.write_chunk = 7; // odd-sized commits
  });
  ASSERT_TRUE(sim_->run_until_idle(sim_->now() + 600s)) << outcome();
  EXPECT_EQ(sim_->link_a_to_b().stats().malformed, 0u) << "datagrams sent with a bad checksum";
  expect_clean_finish();
}

// listener.cpp never initialises rcv_adv_ of a passive open; send_syn only
// raises it "if seq_lt(rcv_adv_, rcv_nxt_ + wnd)", which a stale value wins
// half the time (by ISN), and then window_field never lowers the edge: the
// passive side offers 65535 << wscale whatever its buffer.
TEST_F(TransferTest, PassiveOpenOffersNoMoreThanItsBuffer) {
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    SimConfig c = quiet_config();
    c.seed = seed; // ISNs differ by seed
    c.b.rcv_buf = 16 * 1024;
    start(c, 64 * 1024, 0);
    ASSERT_TRUE(
        sim_->run_until([&] { return b() != nullptr && b()->connected(); }, sim_->now() + 10s));
    const tcp::Connection *conn = b()->connection();
    ASSERT_NE(conn, nullptr);
    // What B still offers beyond RCV.NXT: at most its buffer (plus the
    // rounding of one window-scale unit).
    EXPECT_LE(conn->inspect().rcv_wnd(), 16u * 1024 + (1u << conn->inspect().rcv_wscale()))
        << "seed " << seed << ": passive open offers " << conn->inspect().rcv_wnd() << " bytes";
    ASSERT_TRUE(sim_->run_until_idle(sim_->now() + 600s)) << outcome();
    client_.reset();
    server_.reset();
    sim_.reset();
  }
}

// A connection that reaches TIME_WAIT (or CLOSED from LAST_ACK) with
// in-order data its application has not read yet reports on_closed(normal)
// and frees that data: a slow reader that half-closed loses the end of the
// peer's stream. (BSD sockets keep it readable until close().)
TEST_F(TransferTest, UnreadDataSurvivesTimeWait) {
  SimConfig c = quiet_config();
  start(c, 1000, 256 * 1024, [](BulkScript &a, BulkScript &b) {
    a.read_interval = 50ms; // reads 4 KiB every 50 ms; B is done long before
    a.read_chunk = 4096;
    a.ending = BulkScript::Ending::half_close;
    b.ending = BulkScript::Ending::close_when_done;
  });
  ASSERT_TRUE(sim_->run_until_idle(sim_->now() + 600s)) << outcome();
  EXPECT_TRUE(a().stream_complete()) << outcome();
  EXPECT_TRUE(a().end_of_stream()) << "closed before the application read it all";
  expect_clean_finish();
}

} // namespace
} // namespace shoal::sim
