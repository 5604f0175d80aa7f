// The tx backlog: FifoRing on its own (order, bound, wrap-around, runs at
// the front), then through the Shard with a NIC that refuses frames: order
// kept across flushes, the bound held, every frame beyond it counted as
// tx_full_drops and none leaked.
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "shard/fifo_ring.hpp"
#include "shard_test_util.hpp"

namespace shoal::shard::test {
namespace {

std::vector<int> run_of(FifoRing<int> &r, size_t max) {
  const std::span<int> s = r.front_run(max);
  return {s.begin(), s.end()};
}

std::vector<int> drained(FifoRing<int> &r) {
  std::vector<int> v;
  r.drain([&](int x) { v.push_back(x); });
  return v;
}

TEST(FifoRing, KeepsOrderAndRefusesBeyondCapacity) {
  FifoRing<int> r(4);
  EXPECT_TRUE(r.empty());
  for (int i = 1; i <= 4; i++)
    EXPECT_TRUE(r.push_back(i));
  EXPECT_TRUE(r.full());
  EXPECT_FALSE(r.push_back(5)); // bounded: the caller drops and counts it
  EXPECT_EQ(r.size(), 4u);
  EXPECT_EQ(r.front(), 1);
  EXPECT_EQ(r.back(), 4);
  EXPECT_EQ(drained(r), (std::vector<int>{1, 2, 3, 4}));
  EXPECT_TRUE(r.empty());
}

TEST(FifoRing, ZeroCapacityKeepsNothing) {
  FifoRing<int> r;
  EXPECT_FALSE(r.push_back(1));
  EXPECT_TRUE(r.empty());
  EXPECT_TRUE(r.front_run(8).empty());
}

TEST(FifoRing, FrontRunStopsAtTheWrapAround) {
  FifoRing<int> r(5);
  for (int i = 1; i <= 5; i++)
    r.push_back(i);
  r.pop_front(3); // head at slot 3: 4 5
  r.push_back(6); // slots 0..1 after the wrap
  r.push_back(7);
  EXPECT_EQ(r.size(), 4u);
  EXPECT_EQ(run_of(r, 64), (std::vector<int>{4, 5})); // up to the array's end
  EXPECT_EQ(run_of(r, 1), (std::vector<int>{4}));     // and at most `max`
  r.pop_front(2);
  EXPECT_EQ(run_of(r, 64), (std::vector<int>{6, 7}));
  r.push_back(8);
  r.push_back(9);
  r.push_back(10);
  EXPECT_TRUE(r.full());
  EXPECT_EQ(drained(r), (std::vector<int>{6, 7, 8, 9, 10}));
}

TEST(FifoRing, ManyLapsKeepOrder) {
  FifoRing<int> r(7);
  int next_in = 0, next_out = 0;
  for (int step = 0; step < 1000; step++) {
    // Push 0..4, pop 0..3 in runs: the head laps the array many times.
    for (int k = 0; k < step % 5; k++)
      if (r.push_back(next_in))
        next_in++;
    size_t want = static_cast<size_t>(step % 4);
    while (want > 0 && !r.empty()) {
      const std::span<int> s = r.front_run(want);
      ASSERT_FALSE(s.empty());
      for (int x : s)
        ASSERT_EQ(x, next_out++);
      r.pop_front(s.size());
      want -= s.size();
    }
    ASSERT_LE(r.size(), r.capacity());
  }
  for (int x : drained(r))
    ASSERT_EQ(x, next_out++);
  EXPECT_EQ(next_out, next_in);
}

TEST(FifoRing, SetCapacityKeepsTheOrderAcrossAWrap) {
  FifoRing<int> r(3);
  r.push_back(1);
  r.push_back(2);
  r.push_back(3);
  r.pop_front(2);
  r.push_back(4); // 3 at slot 2, 4 at slot 0
  r.set_capacity(6);
  EXPECT_EQ(r.size(), 2u);
  EXPECT_EQ(run_of(r, 64), (std::vector<int>{3, 4})); // one run again
  r.pop_back();
  EXPECT_EQ(drained(r), (std::vector<int>{3}));
}

// A datagram to the peer as the TCP engine hands it over, tagged with its
// one payload byte (the frame's last byte).
rte_mbuf *frame(ShardHarness &h, uint8_t tag) {
  return h.mbuf(ipv4(ip_header(kOurIp, kPeerIp, wire::kIpProtoTcp),
                     tcp_segment(kOurIp, kPeerIp, wire::tcp_flags::ACK, {tag})));
}

uint8_t tag_of(const rte_mbuf *m) {
  return bytes_of(m).back();
}

void resolve_peer(ShardHarness &h) {
  rte_mbuf *m = h.mbuf(ethernet(kOurMac, kPeerMac, wire::kEtherTypeArp,
                                arp(wire::ArpOp::Reply, kPeerMac, kPeerIp, kOurMac, kOurIp)));
  h.shard().process_rx({&m, 1}, instant_from_ns(1'000'000));
}

TEST(ShardTxBacklog, RefusedFramesGoFirstInOrderAndTheExcessIsCounted) {
  ShardHarness h;
  resolve_peer(h);
  h.shard().set_tx_backlog(10);
  h.tx.accept = 0; // the NIC's ring is full
  for (uint8_t t = 0; t < 16; t++)
    h.shard().transmit_ipv4(frame(h, t));
  h.shard().flush();
  EXPECT_TRUE(h.tx.frames.empty());
  EXPECT_EQ(h.shard().tx_backlog_size(), 10u);             // bounded
  EXPECT_EQ(h.shard().counters().tx_full_drops.get(), 6u); // the rest counted
  EXPECT_EQ(h.shard().counters().tx_packets.get(), 0u);

  // The NIC takes 3 per burst: the backlog drains oldest first, across the
  // ring's wrap-around, and new frames queue behind it.
  h.tx.accept = 3;
  h.shard().flush(); // 0 1 2
  for (uint8_t t = 16; t < 20; t++)
    h.shard().transmit_ipv4(frame(h, t));
  EXPECT_EQ(h.shard().tx_backlog_size(), 7u);
  h.shard().flush(); // 3 4 5; 16..19 join the back (wrapping)
  EXPECT_EQ(h.shard().tx_backlog_size(), 8u);
  EXPECT_EQ(h.shard().counters().tx_full_drops.get(), 6u);
  h.tx.accept = UINT16_MAX;
  h.shard().flush();
  EXPECT_EQ(h.shard().tx_backlog_size(), 0u);

  std::vector<uint8_t> got;
  for (const rte_mbuf *m : h.tx.frames)
    got.push_back(tag_of(m));
  EXPECT_EQ(got, (std::vector<uint8_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17, 18, 19})) << h.trace();
  EXPECT_EQ(h.shard().counters().tx_packets.get(), 14u);
}

TEST(ShardTxBacklog, WithoutABacklogRefusedFramesAreDroppedAndCounted) {
  ShardHarness h;
  resolve_peer(h);
  h.tx.accept = 2;
  for (uint8_t t = 0; t < 5; t++)
    h.shard().transmit_ipv4(frame(h, t));
  h.shard().flush();
  EXPECT_EQ(h.tx.frames.size(), 2u);
  EXPECT_EQ(h.shard().counters().tx_full_drops.get(), 3u);
  EXPECT_EQ(h.shard().tx_backlog_size(), 0u);
}

TEST(ShardTxBacklog, ShrinkingDropsTheNewestCountedAndTheDestructorFreesTheRest) {
  ShardHarness h; // its destructor checks that every mbuf came back
  resolve_peer(h);
  h.shard().set_tx_backlog(8);
  h.tx.accept = 0;
  for (uint8_t t = 0; t < 8; t++)
    h.shard().transmit_ipv4(frame(h, t));
  h.shard().flush();
  EXPECT_EQ(h.shard().tx_backlog_size(), 8u);
  h.shard().set_tx_backlog(5);
  EXPECT_EQ(h.shard().tx_backlog_size(), 5u);
  EXPECT_EQ(h.shard().counters().tx_full_drops.get(), 3u);
  h.tx.accept = UINT16_MAX;
  h.shard().flush();
  std::vector<uint8_t> got;
  for (const rte_mbuf *m : h.tx.frames)
    got.push_back(tag_of(m));
  EXPECT_EQ(got, (std::vector<uint8_t>{0, 1, 2, 3, 4}));
}

} // namespace
} // namespace shoal::shard::test
