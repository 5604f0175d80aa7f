// Blind in-window attacks (RFC 5961) on a live transfer, in the simulator.
//
// A sends 1.25 MiB to B (and B 256 KiB back) over an 8 Mbit/s link while an
// attacker who knows the 4-tuple -- but not the sequence numbers -- injects
// 100,000 segments into both ends: RSTs, SYNs and data segments with random
// seq and ack (RFC 5961 sections 3, 4, 5). The stack must
//   - reset nothing (both connections close normally at the end),
//   - accept no injected byte (each received stream equals what was sent,
//     exactly once: StreamPattern checks every byte at its offset),
//   - rate-limit its challenge ACKs (RFC 5961 7): per engine, at most
//     challenge_ack_limit_per_s in each one-second window of virtual time,
//     and the limit is actually reached (the flood is big enough to test it).
#include "sim_fixture.hpp"

#include <algorithm>
#include <cstdio>
#include <deque>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "sim/bulk_app.hpp"
#include "sim/segment_builder.hpp"
#include "tcp/connection.hpp"
#include "tcp/counters.hpp"

namespace shoal::sim {
namespace {

using tcp::CloseReason;
using tcp::Counter;
using namespace wire::tcp_flags;

constexpr uint64_t kAToB = 1'310'720; // 1.25 MiB
constexpr uint64_t kBToA = 256 * 1024;
constexpr unsigned kAttackSegments = 100'000;
constexpr unsigned kPerBurst = 10;
constexpr Duration kBurstEvery = 100us;
constexpr uint32_t kChallengeLimit = 1000; // EngineConfig default, set explicitly

// One engine's challenge ACKs over time, sampled after each attack burst.
struct ChallengeLog {
  std::vector<std::pair<Instant, uint64_t>> samples; // (time, counter total)
  // The largest number sent inside any window [t, t + 1 s).
  uint64_t max_in_any_second() const {
    uint64_t best = 0;
    size_t lo = 0;
    for (size_t hi = 0; hi < samples.size(); ++hi) {
      while (samples[hi].first - samples[lo].first >= 1s)
        ++lo;
      const uint64_t before = lo == 0 ? 0 : samples[lo - 1].second;
      best = std::max(best, samples[hi].second - before);
    }
    return best;
  }
};

class BlindInjectionTest : public testing::SimTest {
protected:
  void TearDown() override {
    client_.reset();
    server_.reset();
    SimTest::TearDown();
  }

  std::string outcome() {
    return client_->summary() + "\n" +
           (server_->first() ? server_->first()->summary() : std::string("B: nothing accepted"));
  }

  // One random segment for `victim` (A or B) claiming to come from its peer.
  Seg forge(std::mt19937_64 &rng, const tcp::FourTuple &victim_view) {
    Seg s;
    s.src(victim_view.remote_addr)
        .dst(victim_view.local_addr)
        .src_port(victim_view.remote_port)
        .dst_port(victim_view.local_port)
        .seq(static_cast<uint32_t>(rng()))
        .win(static_cast<uint16_t>(rng()));
    switch (rng() % 3) {
    case 0: // blind reset (RFC 5961 3)
      s.flags(rng() % 2 ? RST : RST | ACK).ack(static_cast<uint32_t>(rng()));
      break;
    case 1: // blind SYN (RFC 5961 4)
      s.flags(SYN).ack(0);
      break;
    default: // blind data (RFC 5961 5)
      s.flags(PSH | ACK).ack(static_cast<uint32_t>(rng())).len(1 + rng() % 1400);
      break;
    }
    return s;
  }

  void attack(unsigned n);

  std::optional<BulkServer> server_;
  std::optional<BulkApp> client_;
  SimConfig config_used_;
  std::mt19937_64 rng_;
  std::function<void()> burst_;
  unsigned sent_ = 0, sent_while_live_ = 0;
  ChallengeLog log_a_, log_b_;
};

// Runs the transfer with `n` forged segments injected, to the end.
void BlindInjectionTest::attack(unsigned n) {
  SimConfig c = config();
  c.seed = 5961;
  c.trace = false; // 100k+ datagrams: counters only
  for (tcp::EngineConfig *e : {&c.a, &c.b}) {
    e->challenge_ack_limit_per_s = kChallengeLimit;
    e->msl = 1s;
    e->tx_checksum_offload = true;
  }
  for (LinkConfig *l : {&c.a_to_b, &c.b_to_a}) {
    l->bandwidth_bps = 8'000'000; // the transfer lasts a few seconds of virtual time
    l->delay = 2ms;
  }
  config_used_ = c;
  auto &sim = make_sim(c);

  BulkScript a, b;
  a.send_bytes = b.expect_bytes = kAToB;
  b.send_bytes = a.expect_bytes = kBToA;
  a.send_pattern = b.expect_pattern = StreamPattern(0xA77AC);
  b.send_pattern = a.expect_pattern = StreamPattern(0xB77AC);
  a.ending = BulkScript::Ending::half_close;
  b.ending = BulkScript::Ending::close_when_done;
  server_.emplace(sim, b, "B");
  client_.emplace(sim, a, "A");
  ASSERT_TRUE(sim.b().listen(80, server_->factory()));
  client_->attach(sim.a().connect(sim.address_b(), 80, &*client_));
  ASSERT_NE(client_->connection(), nullptr);
  ASSERT_TRUE(sim.run_until([&] { return server_->first() && server_->first()->connected(); },
                            sim.now() + 5s));
  const tcp::FourTuple a_view = client_->connection()->tuple();
  tcp::FourTuple b_view{a_view.remote_addr, a_view.local_addr, a_view.remote_port,
                        a_view.local_port};

  // The attacker: a burst every 100 us, alternating victims, until 100k sent.
  rng_.seed(derive_seed(c.seed, 99));
  burst_ = [this, n, a_view, b_view] {
    auto &sim = *sim_;
    for (unsigned i = 0; i < kPerBurst && sent_ < n; ++i, ++sent_) {
      const bool at_b = sent_ % 2 == 0;
      tcp::Engine &victim = at_b ? sim.b() : sim.a();
      const Seg s = forge(rng_, at_b ? b_view : a_view);
      rte_mbuf *m = s.build_mbuf(pool_, SegDefaults{});
      ASSERT_NE(m, nullptr) << "pool exhausted by the attacker";
      if (victim.state_of(at_b ? b_view : a_view) == tcp::State::established)
        ++sent_while_live_;
      victim.input_ipv4(m, tcp::RxChecksum{}, sim.now());
    }
    log_a_.samples.emplace_back(sim.now(), sim.a().counters().get(Counter::challenge_acks));
    log_b_.samples.emplace_back(sim.now(), sim.b().counters().get(Counter::challenge_acks));
    if (sent_ < n)
      sim.after(kBurstEvery, burst_);
  };
  sim.after(kBurstEvery, burst_);
  ASSERT_TRUE(sim.run_until_idle(sim.now() + 600s)) << outcome();
}

TEST_F(BlindInjectionTest, HundredThousandBlindSegmentsChangeNothing) {
  attack(kAttackSegments);
  if (HasFatalFailure())
    return;
  auto &sim = *sim_;

  SCOPED_TRACE(outcome());
  SCOPED_TRACE("A counters:\n" + sim.a().counters().to_string());
  SCOPED_TRACE("B counters:\n" + sim.b().counters().to_string());

  EXPECT_EQ(sent_, kAttackSegments);
  // The attack ran against the live transfer, not after it.
  EXPECT_GT(sent_while_live_, kAttackSegments * 9 / 10);
  EXPECT_GT(client_->end_of_stream_at(), log_a_.samples.back().first)
      << "the transfer ended before the attack did";

  // Zero connections reset, zero bytes injected.
  ASSERT_NE(server_->first(), nullptr);
  EXPECT_EQ(client_->closed(), CloseReason::normal);
  EXPECT_EQ(server_->first()->closed(), CloseReason::normal);
  EXPECT_TRUE(client_->stream_complete());
  EXPECT_TRUE(server_->first()->stream_complete());
  EXPECT_EQ(server_->first()->first_mismatch(), std::nullopt);
  EXPECT_EQ(client_->first_mismatch(), std::nullopt);
  for (tcp::Engine *e : {&sim.a(), &sim.b()}) {
    EXPECT_EQ(e->counters().get(Counter::closed_reset), 0u);
    EXPECT_EQ(
        e->counters().get(Counter::accepted) + e->counters().get(Counter::connects_established), 1u)
        << "a blind SYN must not open a second connection";
  }
  EXPECT_EQ(sim.b().counters().get(Counter::bytes_in), kAToB) << "exactly the sent stream";
  EXPECT_EQ(sim.a().counters().get(Counter::bytes_in), kBToA) << "exactly the sent stream";

  // Challenge ACKs: sent, limited, and never more than the limit in one second
  // (the limiter's windows are one second long; any 1 s span meets at most two).
  std::printf("attack: %u segments (%u while ESTABLISHED) over %.3f s of virtual time; transfer "
              "ended at %.3f s\n",
              sent_, sent_while_live_,
              std::chrono::duration<double>(log_a_.samples.back().first - sim.start()).count(),
              std::chrono::duration<double>(client_->end_of_stream_at() - sim.start()).count());
  for (tcp::Engine *e : {&sim.a(), &sim.b()})
    std::printf("%s: challenge_acks=%lu limited=%lu drop_rst_out_of_window=%lu "
                "drop_unacceptable=%lu drop_ack_too_old=%lu drop_ack_unsent=%lu\n",
                e == &sim.a() ? "A" : "B",
                static_cast<unsigned long>(e->counters().get(Counter::challenge_acks)),
                static_cast<unsigned long>(e->counters().get(Counter::challenge_acks_limited)),
                static_cast<unsigned long>(e->counters().get(Counter::drop_rst_out_of_window)),
                static_cast<unsigned long>(e->counters().get(Counter::drop_unacceptable)),
                static_cast<unsigned long>(e->counters().get(Counter::drop_ack_too_old)),
                static_cast<unsigned long>(e->counters().get(Counter::drop_ack_unsent)));
  std::printf("max challenge ACKs in any 1 s: A %lu, B %lu (limit %u/s)\n",
              static_cast<unsigned long>(log_a_.max_in_any_second()),
              static_cast<unsigned long>(log_b_.max_in_any_second()), kChallengeLimit);
  for (auto *log : {&log_a_, &log_b_}) {
    const uint64_t total = log->samples.back().second;
    const auto secs =
        static_cast<uint64_t>((log->samples.back().first - log->samples.front().first) / 1s);
    EXPECT_GT(total, 0u);
    EXPECT_LE(total, kChallengeLimit * (secs + 2));
    EXPECT_LE(log->max_in_any_second(), 2 * kChallengeLimit);
  }

  sim.b().unlisten(80);
  EXPECT_EQ(sim.a().connection_count() + sim.b().connection_count(), 0u);
}

// Pinned after a fix (lib/tcp/input.cpp answer_unacceptable): every blind
// segment outside the window used to be answered with an ACK that no limit
// bounded, so 100,000 forged segments made the two ends send ~66,000 ACKs
// (1:1 reflection). RFC 5961 4.2 asks for a challenge ACK -- rate-limited by
// section 7 -- for a SYN "irrespective of the sequence number", and Linux
// also rate-limits its out-of-window dup ACKs (tcp_invalid_ratelimit,
// 500 ms per connection). Expected: the answers to a blind flood (challenge
// ACKs + ACKs for unacceptable segments) stay within the challenge-ACK
// limit per second, and a blind SYN counts as a challenge ACK.
TEST_F(BlindInjectionTest, AnswersToABlindFloodAreRateLimited) {
  attack(20'000);
  if (HasFatalFailure())
    return;
  auto &sim = *sim_;
  const auto secs =
      static_cast<uint64_t>((log_a_.samples.back().first - log_a_.samples.front().first) / 1s);
  for (tcp::Engine *e : {&sim.a(), &sim.b()}) {
    const uint64_t answers =
        e->counters().get(Counter::challenge_acks) + e->counters().get(Counter::drop_unacceptable);
    EXPECT_LE(answers, kChallengeLimit * (secs + 2)) << e->counters().to_string();
    EXPECT_GT(e->counters().get(Counter::challenge_acks_limited), 0u)
        << "~3,300 blind SYNs per engine per second must meet the limit";
  }
  EXPECT_EQ(client_->closed(), CloseReason::normal);
}

} // namespace
} // namespace shoal::sim
