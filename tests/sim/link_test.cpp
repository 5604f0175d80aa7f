// The impaired link on its own: impairment rates are what the config says
// (for a fixed seed), runs are deterministic, the sender's mbuf is never
// written, and every mbuf comes back to the pool.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include <rte_mbuf.h>

#include "eal_env.hpp"
#include "sim/link.hpp"
#include "sim/segment_builder.hpp"
#include "sim/trace.hpp"
#include "wire/checksum.hpp"
#include "wire/tcp.hpp"

namespace shoal::sim {
namespace {

using namespace wire::tcp_flags;

const SegDefaults kEnds{wire::Ipv4Addr::from_octets(198, 18, 0, 1),
                        wire::Ipv4Addr::from_octets(198, 18, 0, 2), 40000, 80, 65535};

class LinkTest : public ::testing::Test {
protected:
  void SetUp() override {
    if (pool_ == nullptr)
      pool_ = test::make_pktmbuf_pool(4096);
    start_avail_ = rte_mempool_avail_count(pool_);
  }
  void TearDown() override {
    EXPECT_EQ(rte_mempool_avail_count(pool_), start_avail_) << "mbuf leak";
    if (HasFailure())
      std::fprintf(stderr, "trace:\n%s", trace_.format().c_str());
  }

  rte_mbuf *segment(uint32_t seq, size_t len = 0) {
    rte_mbuf *m = Seg().flags(ACK | PSH).seq(seq).ack(1).len(len).build_mbuf(pool_, kEnds);
    EXPECT_NE(m, nullptr);
    return m;
  }

  struct Arrival {
    Instant at;
    ParsedSegment seg;
    std::vector<uint8_t> bytes;
  };
  // Pops everything due by `now`, parses it and frees the mbuf.
  void drain(Link &link, Instant now, std::vector<Arrival> &out) {
    while (rte_mbuf *m = link.pop_due(now)) {
      EXPECT_EQ(m->nb_segs, 1) << "receiver copies are single-segment";
      Arrival a;
      a.at = now;
      a.bytes.assign(rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_mtod(m, uint8_t *) + m->data_len);
      a.seg = parse_segment(a.bytes);
      out.push_back(std::move(a));
      rte_pktmbuf_free(m);
    }
  }

  // Sends n segments 1 ms apart, delivering as time goes; returns arrivals.
  std::vector<Arrival> run(Link &link, unsigned n, size_t len = 0) {
    std::vector<Arrival> got;
    Instant now{};
    for (unsigned i = 0; i < n; ++i) {
      link.send(segment(i, len), now);
      now += 1ms;
      drain(link, now, got);
    }
    while (auto t = link.next_delivery()) {
      now = *t;
      drain(link, now, got);
    }
    return got;
  }

  static inline rte_mempool *pool_ = nullptr;
  unsigned start_avail_ = 0;
  Trace trace_;
};

TEST_F(LinkTest, CleanLinkDeliversEverythingInOrderAfterTheDelay) {
  LinkConfig cfg;
  cfg.delay = 3ms;
  Link link(cfg, 1, pool_, &trace_);
  std::vector<Arrival> got;
  for (uint32_t i = 0; i < 10; ++i)
    link.send(segment(i, 100), Instant{} + i * 1ms);
  EXPECT_EQ(link.in_flight(), 10u);
  EXPECT_EQ(link.next_delivery(), Instant{} + 3ms);
  drain(link, Instant{} + 2ms, got);
  EXPECT_TRUE(got.empty()) << "nothing arrives before the delay";
  for (int ms = 3; ms <= 12; ++ms)
    drain(link, Instant{} + ms * 1ms, got);
  ASSERT_EQ(got.size(), 10u);
  for (uint32_t i = 0; i < 10; ++i) {
    ASSERT_TRUE(got[i].seg.ok()) << format_segment(got[i].seg);
    EXPECT_EQ(got[i].seg.tcp.seq, i);
    EXPECT_EQ(got[i].seg.payload_len(), 100u);
    EXPECT_EQ(got[i].at, Instant{} + (i + 3) * 1ms);
  }
  EXPECT_EQ(link.stats().sent, 10u);
  EXPECT_EQ(link.stats().delivered, 10u);
  EXPECT_EQ(link.stats().malformed, 0u);
  EXPECT_EQ(trace_.size(), 10u);
}

// Binomial rates for a fixed seed: n = 20000, so 4 standard deviations of
// p = 0.2 are 0.011.
struct RateCase {
  const char *name;
  double LinkConfig::*field;
  uint64_t LinkStats::*counter;
};

class LinkRateTest : public LinkTest, public ::testing::WithParamInterface<RateCase> {};

TEST_P(LinkRateTest, RateMatchesProbability) {
  const RateCase &rc = GetParam();
  for (double p : {0.0, 0.05, 0.2, 0.5}) {
    LinkConfig cfg;
    cfg.*rc.field = p;
    trace_.set_enabled(false);
    Link link(cfg, 42, pool_, &trace_);
    constexpr unsigned n = 20000;
    run(link, n);
    const double rate = static_cast<double>(link.stats().*rc.counter) / n;
    const double sigma = std::sqrt(p * (1 - p) / n);
    EXPECT_NEAR(rate, p, 4 * sigma + 1e-9)
        << rc.name << " p=" << p << ": " << link.stats().to_string();
    EXPECT_EQ(link.stats().sent, n);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Impairments, LinkRateTest,
    ::testing::Values(RateCase{"loss", &LinkConfig::loss, &LinkStats::lost},
                      RateCase{"duplicate", &LinkConfig::duplicate, &LinkStats::duplicated},
                      RateCase{"reorder", &LinkConfig::reorder, &LinkStats::reordered},
                      RateCase{"corrupt", &LinkConfig::corrupt, &LinkStats::corrupted}),
    [](const auto &info) { return std::string(info.param.name); });

TEST_F(LinkTest, DeliveredCountsMatchFates) {
  LinkConfig cfg;
  cfg.loss = 0.1;
  cfg.duplicate = 0.1;
  cfg.corrupt = 0.1;
  cfg.reorder = 0.1;
  cfg.jitter = 500us;
  Link link(cfg, 7, pool_, &trace_);
  const auto got = run(link, 2000, 10);
  const auto &s = link.stats();
  EXPECT_EQ(s.sent, s.lost + (s.delivered - s.duplicated));
  EXPECT_EQ(got.size(), s.delivered);
  size_t bad = 0;
  for (const auto &a : got)
    bad += a.seg.ok() ? 0 : 1;
  // A single flipped bit always breaks the IPv4 or TCP checksum.
  EXPECT_EQ(bad, s.corrupted);
}

TEST_F(LinkTest, ReorderingHoldsSomePacketsBackPastLaterOnes) {
  LinkConfig cfg;
  cfg.reorder = 0.25;
  cfg.reorder_delay = 5ms;
  Link link(cfg, 3, pool_, &trace_);
  const auto got = run(link, 400);
  ASSERT_EQ(got.size(), 400u);
  unsigned inversions = 0;
  for (size_t i = 1; i < got.size(); ++i)
    inversions += got[i].seg.tcp.seq < got[i - 1].seg.tcp.seq ? 1 : 0;
  EXPECT_GT(inversions, 50u);
  EXPECT_GT(link.stats().reordered, 0u);
}

TEST_F(LinkTest, SameSeedSameRunDifferentSeedDifferentRun) {
  LinkConfig cfg;
  cfg.loss = 0.2;
  cfg.duplicate = 0.1;
  cfg.reorder = 0.1;
  cfg.corrupt = 0.05;
  cfg.jitter = 2ms;
  auto once = [&](uint64_t seed) {
    Trace t;
    Link link(cfg, seed, pool_, &t);
    std::string arrivals;
    for (const auto &a : run(link, 300, 20))
      arrivals += std::to_string(to_ns(a.at)) + " " + format_segment(a.seg) + "\n";
    return t.format() + "--\n" + arrivals;
  };
  const std::string a = once(99), b = once(99), c = once(100);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST_F(LinkTest, CorruptionNeverWritesIntoTheSendersMbuf) {
  LinkConfig cfg;
  cfg.corrupt = 1.0;
  Link link(cfg, 11, pool_, &trace_);
  for (uint32_t i = 0; i < 50; ++i) {
    rte_mbuf *m = segment(i, 64);
    // The sender keeps its own reference, as a send ring would.
    rte_mbuf_refcnt_update(m, 1);
    const std::vector<uint8_t> before(rte_pktmbuf_mtod(m, uint8_t *),
                                      rte_pktmbuf_mtod(m, uint8_t *) + m->data_len);
    link.send(m, Instant{});
    ASSERT_EQ(rte_mbuf_refcnt_read(m), 1) << "the link released its reference";
    EXPECT_EQ(0, std::memcmp(before.data(), rte_pktmbuf_mtod(m, uint8_t *), before.size()));
    rte_mbuf *got = link.pop_due(Instant{} + 1ms);
    ASSERT_NE(got, nullptr);
    ASSERT_EQ(got->data_len, before.size());
    unsigned flipped = 0;
    for (size_t k = 0; k < before.size(); ++k)
      flipped += static_cast<unsigned>(
          __builtin_popcount(before[k] ^ rte_pktmbuf_mtod(got, uint8_t *)[k]));
    EXPECT_EQ(flipped, 1u);
    rte_pktmbuf_free(got);
    rte_pktmbuf_free(m);
  }
  EXPECT_EQ(link.stats().corrupted, 50u);
}

TEST_F(LinkTest, ChainedIndirectDatagramIsLinearisedForTheReceiver) {
  // Header mbuf + payload attached from a "send ring" mbuf, as the engine sends.
  const std::vector<uint8_t> whole = Seg().flags(ACK).seq(5).payload("hello, world").build(kEnds);
  const size_t hdr = whole.size() - 12;
  rte_mbuf *ring = rte_pktmbuf_alloc(pool_);
  std::memcpy(rte_pktmbuf_append(ring, 12), whole.data() + hdr, 12);
  rte_mbuf *data = rte_pktmbuf_alloc(pool_);
  rte_pktmbuf_attach(data, ring);
  rte_mbuf *head = rte_pktmbuf_alloc(pool_);
  std::memcpy(rte_pktmbuf_append(head, static_cast<uint16_t>(hdr)), whole.data(), hdr);
  ASSERT_EQ(rte_pktmbuf_chain(head, data), 0);

  Link link(LinkConfig{}, 1, pool_, &trace_);
  link.send(head, Instant{});
  EXPECT_EQ(rte_mbuf_refcnt_read(ring), 1) << "attached reference dropped at tx";
  rte_mbuf *got = link.pop_due(Instant{} + 1ms);
  ASSERT_NE(got, nullptr);
  ASSERT_EQ(got->nb_segs, 1);
  ASSERT_EQ(got->pkt_len, whole.size());
  EXPECT_EQ(0, std::memcmp(rte_pktmbuf_mtod(got, uint8_t *), whole.data(), whole.size()));
  rte_pktmbuf_free(got);
  rte_pktmbuf_free(ring);
  EXPECT_EQ(link.stats().malformed, 0u);
}

TEST_F(LinkTest, ChecksumOffloadIsCompletedLikeANic) {
  std::vector<uint8_t> bytes = Seg().flags(SYN).seq(77).mss(1460).build(kEnds);
  const std::vector<uint8_t> good = bytes;
  // What a sender using offload leaves: IP checksum 0, TCP pseudo-header sum.
  bytes[10] = bytes[11] = 0;
  const uint16_t phdr = wire::tcp_pseudo_header_checksum(kEnds.src, kEnds.dst,
                                                         static_cast<uint16_t>(bytes.size() - 20));
  bytes[20 + 16] = static_cast<uint8_t>(phdr >> 8);
  bytes[20 + 17] = static_cast<uint8_t>(phdr);
  rte_mbuf *m = rte_pktmbuf_alloc(pool_);
  std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(bytes.size())), bytes.data(),
              bytes.size());
  m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM;

  Link link(LinkConfig{}, 1, pool_, &trace_);
  link.send(m, Instant{});
  rte_mbuf *got = link.pop_due(Instant{} + 1ms);
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(0, std::memcmp(rte_pktmbuf_mtod(got, uint8_t *), good.data(), good.size()));
  rte_pktmbuf_free(got);
  EXPECT_EQ(link.stats().malformed, 0u);
}

TEST_F(LinkTest, DropFilters) {
  Link link(LinkConfig{}, 1, pool_, &trace_);
  link.set_drop_filter(drop::nth(2));
  std::vector<Arrival> got;
  for (uint32_t i = 0; i < 5; ++i)
    link.send(segment(i), Instant{});
  drain(link, Instant{} + 1ms, got);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[2].seg.tcp.seq, 3u) << "index 2 (seq 2) was dropped";
  EXPECT_EQ(link.stats().filtered, 1u);

  got.clear();
  link.set_drop_filter(drop::first_flags(SYN | ACK, 2));
  link.send(Seg().flags(SYN).build_mbuf(pool_, kEnds), Instant{});
  for (int i = 0; i < 3; ++i)
    link.send(Seg().flags(SYN | ACK).seq(static_cast<uint32_t>(i)).build_mbuf(pool_, kEnds),
              Instant{});
  drain(link, Instant{} + 1ms, got);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].seg.tcp.flags, SYN);
  EXPECT_EQ(got[1].seg.tcp.seq, 2u) << "the first two SYN-ACKs were dropped";

  got.clear();
  link.set_drop_filter(drop::all());
  for (uint32_t i = 0; i < 5; ++i)
    link.send(segment(i), Instant{});
  drain(link, Instant{} + 1ms, got);
  EXPECT_TRUE(got.empty());
  link.clear_drop_filter();
  link.send(segment(9), Instant{});
  drain(link, Instant{} + 1ms, got);
  EXPECT_EQ(got.size(), 1u);
}

TEST_F(LinkTest, BandwidthLimitSerialisesAndTailDrops) {
  LinkConfig cfg;
  cfg.delay = 0ms;
  cfg.bandwidth_bps = 8'000'000; // 1 byte per microsecond
  cfg.queue_limit = 4;
  Link link(cfg, 1, pool_, &trace_);
  std::vector<Arrival> got;
  for (uint32_t i = 0; i < 10; ++i)
    link.send(segment(i, 1000 - 40), Instant{}); // 1000-byte datagrams: 1 ms each
  EXPECT_EQ(link.stats().queue_full, 6u);
  for (int ms = 1; ms <= 4; ++ms) {
    drain(link, Instant{} + ms * 1ms, got);
    EXPECT_EQ(got.size(), static_cast<size_t>(ms)) << "one datagram per ms";
  }
  // The queue drained: the next one goes straight through.
  link.send(segment(10, 960), Instant{} + 10ms);
  drain(link, Instant{} + 11ms, got);
  EXPECT_EQ(got.size(), 5u);
}

TEST_F(LinkTest, DestroyingALinkFreesWhatIsInFlight) {
  LinkConfig cfg;
  cfg.duplicate = 0.5;
  {
    Link link(cfg, 5, pool_, &trace_);
    for (uint32_t i = 0; i < 100; ++i)
      link.send(segment(i, 500), Instant{});
    EXPECT_GT(link.in_flight(), 100u);
  }
  // TearDown checks the pool count.
}

TEST_F(LinkTest, EmptyPoolIsACountedDrop) {
  rte_mempool *tiny = test::make_pktmbuf_pool(2);
  LinkConfig cfg;
  Link link(cfg, 1, tiny, &trace_);
  // The receiver's pool has 2 buffers: the third copy finds none.
  for (uint32_t i = 0; i < 3; ++i)
    link.send(segment(i), Instant{});
  EXPECT_EQ(link.stats().no_mbuf, 1u);
  EXPECT_EQ(link.in_flight(), 2u);
  while (rte_mbuf *m = link.pop_due(Instant{} + 1s))
    rte_pktmbuf_free(m);
  EXPECT_EQ(rte_mempool_avail_count(tiny), 2u);
  rte_mempool_free(tiny);
  ASSERT_FALSE(trace_.empty());
  EXPECT_EQ(trace_.entries().back().fate, Fate::no_mbuf);
}

} // namespace
} // namespace shoal::sim
