// ArpCache on its own: learn, expire, the bounded pending queue, retries and
// their timeout, a full table.
#include <vector>

#include <gtest/gtest.h>

#include "shard_test_util.hpp"

namespace shoal::shard::test {
namespace {

Instant at_ms(int64_t ms) {
  return instant_from_ns(ms * 1'000'000);
}

class ArpCacheTest : public ::testing::Test {
protected:
  void SetUp() override {
    pool_ = shoal::test::make_pktmbuf_pool(255);
    start_ = rte_mempool_avail_count(pool_);
  }
  void TearDown() override {
    cache_.reset();
    for (rte_mbuf *m : released_)
      rte_pktmbuf_free(m);
    EXPECT_EQ(rte_mempool_avail_count(pool_), start_) << "mbufs leaked";
    rte_mempool_free(pool_);
  }
  ArpCache &make(ArpCacheConfig c) {
    static int seq = 0;
    cache_ = std::make_unique<ArpCache>(c, "arptest" + std::to_string(seq++));
    return *cache_;
  }
  rte_mbuf *packet(uint8_t tag) {
    rte_mbuf *m = rte_pktmbuf_alloc(pool_);
    *reinterpret_cast<uint8_t *>(rte_pktmbuf_append(m, 1)) = tag;
    return m;
  }
  static uint8_t tag(rte_mbuf *m) { return *rte_pktmbuf_mtod(m, uint8_t *); }

  rte_mempool *pool_ = nullptr;
  unsigned start_ = 0;
  std::unique_ptr<ArpCache> cache_;
  std::vector<rte_mbuf *> released_;
};

TEST_F(ArpCacheTest, LearnsOnlyWhenAskedToCreate) {
  ArpCache &c = make({});
  auto ignore = [](rte_mbuf *) { FAIL() << "nothing was held"; };
  EXPECT_EQ(c.learn(kPeerIp, kPeerMac, at_ms(0), false, ignore), ArpCache::Learn::ignored);
  EXPECT_EQ(c.lookup(kPeerIp, at_ms(0)), nullptr);
  EXPECT_EQ(c.learn(kPeerIp, kPeerMac, at_ms(0), true, ignore), ArpCache::Learn::created);
  ASSERT_NE(c.lookup(kPeerIp, at_ms(0)), nullptr);
  EXPECT_EQ(*c.lookup(kPeerIp, at_ms(0)), kPeerMac);
  // An existing entry is updated even without `create` (RFC 826 merge).
  EXPECT_EQ(c.learn(kPeerIp, kOtherMac, at_ms(10), false, ignore), ArpCache::Learn::updated);
  EXPECT_EQ(*c.lookup(kPeerIp, at_ms(10)), kOtherMac);
  EXPECT_EQ(c.size(), 1u);
}

TEST_F(ArpCacheTest, EntriesExpireAfterTheirLifetime) {
  ArpCacheConfig cfg;
  cfg.entry_lifetime = std::chrono::seconds(60);
  ArpCache &c = make(cfg);
  auto none = [](rte_mbuf *) {};
  c.learn(kPeerIp, kPeerMac, at_ms(0), true, none);
  EXPECT_NE(c.lookup(kPeerIp, at_ms(59'999)), nullptr);
  EXPECT_EQ(c.lookup(kPeerIp, at_ms(60'000)), nullptr) << "still resolved at its expiry";
  // A refresh restarts the lifetime.
  c.learn(kPeerIp, kPeerMac, at_ms(50'000), false, none);
  EXPECT_NE(c.lookup(kPeerIp, at_ms(100'000)), nullptr);
  int requests = 0;
  c.advance(
      at_ms(100'000), [&](Ipv4Addr) { requests++; }, none);
  EXPECT_EQ(c.size(), 1u);
  c.advance(
      at_ms(110'000), [&](Ipv4Addr) { requests++; }, none);
  EXPECT_EQ(c.size(), 0u) << "expired entry not removed";
  EXPECT_EQ(requests, 0);
}

TEST_F(ArpCacheTest, PendingQueueIsBoundedAndReleasedInOrder) {
  ArpCacheConfig cfg;
  cfg.pending_per_address = 3;
  ArpCache &c = make(cfg);
  EXPECT_EQ(c.hold(kPeerIp, packet(1), at_ms(0)), ArpCache::Hold::queued_first);
  EXPECT_EQ(c.hold(kPeerIp, packet(2), at_ms(1)), ArpCache::Hold::queued);
  EXPECT_EQ(c.hold(kPeerIp, packet(3), at_ms(2)), ArpCache::Hold::queued);
  rte_mbuf *extra = packet(4);
  EXPECT_EQ(c.hold(kPeerIp, extra, at_ms(3)), ArpCache::Hold::queue_full);
  rte_pktmbuf_free(extra); // stays the caller's on queue_full
  EXPECT_EQ(c.held_packets(), 3u);
  EXPECT_EQ(c.lookup(kPeerIp, at_ms(3)), nullptr) << "incomplete entry must not resolve";

  c.learn(kPeerIp, kPeerMac, at_ms(5), false, [&](rte_mbuf *m) { released_.push_back(m); });
  ASSERT_EQ(released_.size(), 3u);
  EXPECT_EQ(tag(released_[0]), 1);
  EXPECT_EQ(tag(released_[1]), 2);
  EXPECT_EQ(tag(released_[2]), 3);
  EXPECT_EQ(c.held_packets(), 0u);
  EXPECT_NE(c.lookup(kPeerIp, at_ms(5)), nullptr);
}

TEST_F(ArpCacheTest, RetriesThenDropsWhatItHolds) {
  ArpCacheConfig cfg;
  cfg.request_interval = std::chrono::milliseconds(1000);
  cfg.request_retries = 3;
  ArpCache &c = make(cfg);
  std::vector<int64_t> requests_ms;
  int dropped = 0;
  auto send = [&](Ipv4Addr ip) {
    EXPECT_EQ(ip, kPeerIp);
    requests_ms.push_back(-1);
  };
  auto drop = [&](rte_mbuf *m) {
    dropped++;
    rte_pktmbuf_free(m);
  };
  ASSERT_EQ(c.hold(kPeerIp, packet(1), at_ms(0)), ArpCache::Hold::queued_first);
  c.request_sent(kPeerIp, at_ms(0)); // request 1
  c.hold(kPeerIp, packet(2), at_ms(100));
  for (int64_t t = 0; t <= 5000; t += 10) {
    const size_t before = requests_ms.size();
    c.advance(at_ms(t), send, drop);
    if (requests_ms.size() != before)
      requests_ms.back() = t;
  }
  // Requests 2 and 3 one interval apart, then the held packets go at 3 s.
  EXPECT_EQ(requests_ms, (std::vector<int64_t>{1000, 2000}));
  EXPECT_EQ(dropped, 2);
  EXPECT_EQ(c.size(), 0u);
  EXPECT_EQ(c.held_packets(), 0u);
}

TEST_F(ArpCacheTest, FullTableRefusesNewAddresses) {
  ArpCacheConfig cfg;
  cfg.max_entries = 8;
  ArpCache &c = make(cfg);
  auto none = [](rte_mbuf *) {};
  for (uint8_t i = 1; i <= 8; i++)
    ASSERT_EQ(c.learn(Ipv4Addr::from_octets(10, 0, 0, i), kPeerMac, at_ms(0), true, none),
              ArpCache::Learn::created)
        << "entry " << int(i);
  EXPECT_EQ(c.learn(Ipv4Addr::from_octets(10, 0, 0, 9), kPeerMac, at_ms(0), true, none),
            ArpCache::Learn::table_full);
  rte_mbuf *m = packet(9);
  EXPECT_EQ(c.hold(Ipv4Addr::from_octets(10, 0, 0, 10), m, at_ms(0)), ArpCache::Hold::table_full);
  rte_pktmbuf_free(m);
}

TEST_F(ArpCacheTest, DestructorFreesHeldPackets) {
  ArpCache &c = make({});
  c.hold(kPeerIp, packet(1), at_ms(0));
  c.hold(kFarIp, packet(2), at_ms(0));
  EXPECT_EQ(c.held_packets(), 2u);
  // TearDown destroys the cache and checks the pool is whole again.
}

} // namespace
} // namespace shoal::shard::test
