// Out-of-order reassembly over mbufs: arrival orders, duplicates, every
// overlap shape, sequence wrap near 2^32, per-connection and per-shard caps,
// RFC 2018 SACK block order, chained mbufs, and the mempool count back to
// where it started. Payload bytes are a function of their sequence number so
// that the reassembled stream can be checked byte by byte.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <sstream>
#include <vector>

#include "eal_env.hpp"
#include "tcp/packet_buf_impl.hpp"
#include "tcp/recovery/reassembly.hpp"

namespace shoal::tcp {
namespace {

using R = ReassemblyResult;

uint8_t pattern(Seq s) {
  return static_cast<uint8_t>((s.v * 131u) ^ (s.v >> 8));
}

class Reassembly : public ::testing::Test {
protected:
  void SetUp() override {
    pool_ = shoal::test::make_pktmbuf_pool(2048);
    start_ = rte_mempool_avail_count(pool_);
  }
  void TearDown() override {
    // Every test must hand every mbuf back.
    EXPECT_EQ(rte_mempool_avail_count(pool_), start_) << trace_.str();
    rte_mempool_free(pool_);
  }

  // An mbuf whose data starts at the payload: [seq, seq + len) of the
  // pattern, plus `pad` trailing junk bytes; split across `chunks` segments.
  rte_mbuf *seg(Seq seq, uint32_t len, uint32_t pad = 0, int chunks = 1) {
    rte_mbuf *head = nullptr, *tail = nullptr;
    const uint32_t total = len + pad;
    chunks = std::max<int>(chunks, static_cast<int>((total + 1999) / 2000)); // data room 2048
    uint32_t off = 0;
    for (int c = 0; c < chunks; ++c) {
      const uint32_t n = c == chunks - 1 ? total - off : total / chunks;
      rte_mbuf *m = rte_pktmbuf_alloc(pool_);
      EXPECT_NE(m, nullptr);
      char *p = rte_pktmbuf_append(m, static_cast<uint16_t>(n));
      if (p == nullptr) {
        ADD_FAILURE() << "cannot build a " << n << "-byte segment";
        std::abort();
      }
      for (uint32_t i = 0; i < n; ++i)
        p[i] = static_cast<char>(off + i < len ? pattern(seq + (off + i)) : 0xEE);
      off += n;
      if (head == nullptr) {
        head = tail = m;
      } else {
        rte_pktmbuf_chain(head, m);
        tail = m;
      }
    }
    (void)tail;
    return head;
  }

  R insert(ReassemblyQueue &q, uint32_t seq, uint32_t len, uint32_t pad = 0, int chunks = 1) {
    const R r = q.insert(rcv_nxt_, Seq{seq}, seg(Seq{seq}, len, pad, chunks), len);
    trace_ << "insert rcv_nxt=" << rcv_nxt_.v << " [" << seq << "," << seq + len << ") -> "
           << to_string(r) << " queue:";
    SackBlock b[4];
    const size_t n = q.sack_blocks(b);
    for (size_t i = 0; i < n; ++i)
      trace_ << " " << b[i].start.v << "-" << b[i].end.v;
    trace_ << "\n";
    return r;
  }

  // Pops everything in order; checks every byte against the pattern; frees.
  uint32_t drain(ReassemblyQueue &q) {
    uint32_t got = 0;
    const Seq start = rcv_nxt_;
    PacketBuf out[4];
    for (;;) {
      Seq at = rcv_nxt_;
      const size_t n = q.pop(rcv_nxt_, out);
      for (size_t i = 0; i < n; ++i) {
        check_bytes(out[i].mbuf(), at);
        at += out[i].length();
        got += out[i].length();
        out[i].free();
      }
      // pop() advances rcv_nxt by exactly the payload it handed out.
      EXPECT_EQ(rcv_nxt_.v, at.v) << trace_.str();
      if (n < std::size(out))
        break;
    }
    EXPECT_EQ(rcv_nxt_.v - start.v, got) << trace_.str();
    trace_ << "drain -> rcv_nxt=" << rcv_nxt_.v << " (" << got << " bytes)\n";
    return got;
  }

  void check_bytes(rte_mbuf *m, Seq at) {
    uint32_t k = 0;
    for (rte_mbuf *s = m; s != nullptr; s = s->next) {
      const uint8_t *p = rte_pktmbuf_mtod(s, const uint8_t *);
      for (uint32_t i = 0; i < s->data_len; ++i, ++k)
        ASSERT_EQ(p[i], pattern(at + k)) << "byte at seq " << (at + k).v << "\n" << trace_.str();
    }
    ASSERT_EQ(k, m->pkt_len);
  }

  std::vector<SackBlock> sacks(const ReassemblyQueue &q, size_t max = 4) {
    std::vector<SackBlock> v(max);
    v.resize(q.sack_blocks(v));
    return v;
  }

  rte_mempool *pool_ = nullptr;
  unsigned start_ = 0;
  Seq rcv_nxt_{1000};
  ReassemblyBudget budget_;
  std::ostringstream trace_;
};

TEST_F(Reassembly, ReverseOrderFiveToOne) {
  ReassemblyQueue q(budget_);
  for (int i = 5; i >= 2; --i)
    ASSERT_EQ(insert(q, 1000 + (i - 1) * 100, 100), R::queued);
  EXPECT_EQ(q.segments(), 4u);
  EXPECT_EQ(q.bytes(), 400u);
  EXPECT_EQ(drain(q), 0u); // hole at 1000..1100
  // Segment 1 arrives: the engine would deliver it directly; here it goes
  // through the queue (starting at RCV.NXT) and the whole run pops.
  ASSERT_EQ(insert(q, 1000, 100), R::queued);
  EXPECT_EQ(drain(q), 500u);
  EXPECT_EQ(rcv_nxt_, Seq{1500});
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(budget_.bytes, 0u);
  EXPECT_EQ(budget_.segments, 0u);
}

TEST_F(Reassembly, InterleavedOrders) {
  for (const std::vector<int> &order :
       {std::vector<int>{2, 4, 1, 3, 0}, {4, 3, 2, 1, 0}, {1, 3, 2, 4, 0}, {0, 1, 2, 3, 4}}) {
    rcv_nxt_ = Seq{1000};
    ReassemblyQueue q(budget_);
    uint32_t got = 0;
    for (int i : order) {
      insert(q, 1000 + i * 100, 100);
      got += drain(q);
    }
    EXPECT_EQ(got, 500u) << trace_.str();
    EXPECT_EQ(rcv_nxt_, Seq{1500});
  }
}

TEST_F(Reassembly, Duplicates) {
  ReassemblyQueue q(budget_);
  ASSERT_EQ(insert(q, 1200, 100), R::queued);
  EXPECT_EQ(insert(q, 1200, 100), R::duplicate); // exact
  EXPECT_EQ(insert(q, 1220, 50), R::duplicate);  // inside
  EXPECT_EQ(insert(q, 900, 100), R::duplicate);  // entirely below RCV.NXT
  EXPECT_EQ(insert(q, 950, 50), R::duplicate);   // ends exactly at RCV.NXT
  EXPECT_EQ(budget_.count(R::duplicate), 4u);
  // Partly below RCV.NXT: the old part is trimmed off.
  ASSERT_EQ(insert(q, 950, 150), R::queued);
  EXPECT_EQ(q.first_seq(), Seq{1000});
  EXPECT_EQ(drain(q), 100u);
  ASSERT_EQ(insert(q, 1100, 100), R::queued);
  EXPECT_EQ(drain(q), 200u);
  EXPECT_EQ(rcv_nxt_, Seq{1300});
}

TEST_F(Reassembly, OverlapLeftTrimsNewFront) {
  ReassemblyQueue q(budget_);
  insert(q, 1200, 100);
  ASSERT_EQ(insert(q, 1250, 100), R::queued); // [1250,1350): front 50 already here
  EXPECT_EQ(q.segments(), 2u);
  EXPECT_EQ(q.bytes(), 150u);
  EXPECT_EQ(sacks(q)[0], (SackBlock{Seq{1200}, Seq{1350}}));
  insert(q, 1000, 200);
  EXPECT_EQ(drain(q), 350u);
}

TEST_F(Reassembly, OverlapRightTrimsNewBack) {
  ReassemblyQueue q(budget_);
  insert(q, 1200, 100);
  ASSERT_EQ(insert(q, 1150, 100), R::queued); // [1150,1250): back 50 already here
  EXPECT_EQ(q.bytes(), 150u);
  EXPECT_EQ(q.first_seq(), Seq{1150});
  insert(q, 1000, 150);
  EXPECT_EQ(drain(q), 300u);
}

TEST_F(Reassembly, NewCoversQueuedSegments) {
  ReassemblyQueue q(budget_);
  insert(q, 1200, 50);
  insert(q, 1300, 50);
  ASSERT_EQ(q.segments(), 2u);
  ASSERT_EQ(insert(q, 1150, 300), R::queued); // covers both: they are freed
  EXPECT_EQ(q.segments(), 1u);
  EXPECT_EQ(q.bytes(), 300u);
  EXPECT_EQ(budget_.segments, 1u);
  insert(q, 1000, 150);
  EXPECT_EQ(drain(q), 450u);
}

TEST_F(Reassembly, NewSpansSeveralWithPartialEnds) {
  ReassemblyQueue q(budget_);
  insert(q, 1100, 100); // [1100,1200)
  insert(q, 1300, 50);  // [1300,1350) covered
  insert(q, 1400, 50);  // [1400,1450) covered
  insert(q, 1500, 100); // [1500,1600)
  // [1150, 1550): overlaps the first's tail, covers two, overlaps the last's head.
  ASSERT_EQ(insert(q, 1150, 400), R::queued);
  EXPECT_EQ(q.segments(), 3u);
  EXPECT_EQ(q.bytes(), 500u);
  const auto s = sacks(q);
  ASSERT_GE(s.size(), 1u);
  EXPECT_EQ(s[0], (SackBlock{Seq{1100}, Seq{1600}}));
  insert(q, 1000, 100);
  EXPECT_EQ(drain(q), 600u);
}

TEST_F(Reassembly, FillsExactGapAndAdjacentDuplicateRun) {
  ReassemblyQueue q(budget_);
  insert(q, 1100, 100);
  insert(q, 1200, 100);
  // Covered by two adjacent queued segments: nothing new.
  EXPECT_EQ(insert(q, 1150, 100), R::duplicate);
  // Exactly the union of two queued segments: nothing new either, the queued
  // mbufs stay.
  EXPECT_EQ(insert(q, 1100, 200), R::duplicate);
  EXPECT_EQ(q.segments(), 2u);
  EXPECT_EQ(insert(q, 1100, 250), R::queued); // covers the second, new tail
  EXPECT_EQ(q.segments(), 2u);
  EXPECT_EQ(q.bytes(), 250u);
  insert(q, 1000, 100);
  EXPECT_EQ(drain(q), 350u);
}

TEST_F(Reassembly, WrapAroundNear2To32) {
  rcv_nxt_ = Seq{0xFFFFFF00u};
  ReassemblyQueue q(budget_);
  // 0xFFFFFF80 .. 0x00000080 crosses zero.
  ASSERT_EQ(insert(q, 0xFFFFFF80u, 0x100), R::queued);
  ASSERT_EQ(insert(q, 0x00000100u, 0x80), R::queued);
  ASSERT_EQ(insert(q, 0x00000040u, 0x100), R::queued); // left overlap across zero
  EXPECT_EQ(q.first_seq(), Seq{0xFFFFFF80u});
  EXPECT_EQ(q.last_end(), Seq{0x180});
  const auto s = sacks(q);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0], (SackBlock{Seq{0xFFFFFF80u}, Seq{0x180}}));
  ASSERT_EQ(insert(q, 0xFFFFFEF0u, 0xA0), R::queued); // partly below RCV.NXT
  EXPECT_EQ(drain(q), 0x280u);
  EXPECT_EQ(rcv_nxt_, Seq{0x180});
}

TEST_F(Reassembly, ZeroLengthBadLengthOutOfRange) {
  ReassemblyQueue q(budget_);
  EXPECT_EQ(insert(q, 1200, 0), R::empty);
  rte_mbuf *m = seg(Seq{1200}, 10);
  EXPECT_EQ(q.insert(rcv_nxt_, Seq{1200}, m, 11), R::bad_length);
  EXPECT_EQ(q.insert(rcv_nxt_, Seq{1200}, nullptr, 10), R::empty);
  EXPECT_EQ(insert(q, 1000 + (1u << 30), 10), R::out_of_range);
  EXPECT_EQ(insert(q, 1000 + (1u << 30) - 5, 10), R::out_of_range);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(budget_.count(R::empty), 2u);
  EXPECT_EQ(budget_.count(R::bad_length), 1u);
  EXPECT_EQ(budget_.count(R::out_of_range), 2u);
  EXPECT_STREQ(to_string(R::over_shard_budget), "over_shard_budget");
  EXPECT_NE(std::string(describe(R::duplicate)).find("freed"), std::string::npos);
}

TEST_F(Reassembly, PaddingPastLengthIsTrimmed) {
  ReassemblyQueue q(budget_);
  ASSERT_EQ(insert(q, 1100, 100, /*pad=*/6), R::queued);
  insert(q, 1000, 100, 4);
  EXPECT_EQ(drain(q), 200u); // check_bytes would see 0xEE otherwise
}

TEST_F(Reassembly, ChainedMbufsTrimmedAcrossSegments) {
  ReassemblyQueue q(budget_);
  insert(q, 1300, 100);
  // 3-segment chain [1150, 1450) + 10 bytes of padding in the last segment:
  // covers [1300, 1400), which is freed in its favour.
  ASSERT_EQ(insert(q, 1150, 300, 10, 3), R::queued);
  EXPECT_EQ(q.segments(), 1u);
  // 4-segment chain [1050, 1250) (4 x 50) overlapping the previous one's
  // head: cut back to [1050, 1150), its last two segments freed.
  ASSERT_EQ(insert(q, 1050, 200, 0, 4), R::queued);
  // 3-segment chain [900, 1060) (53 + 53 + 54): 100 bytes below RCV.NXT go
  // (the first segment and part of the second), then its tail is cut at 1050.
  ASSERT_EQ(insert(q, 900, 160, 0, 3), R::queued);
  EXPECT_EQ(q.bytes(), 450u);
  EXPECT_EQ(drain(q), 450u);
  EXPECT_EQ(rcv_nxt_, Seq{1450});
  insert(q, 1450, 50, 0, 2);
  EXPECT_EQ(drain(q), 50u);
}

TEST_F(Reassembly, PopTrimsDataTheEngineDeliveredItself) {
  ReassemblyQueue q(budget_);
  insert(q, 1100, 100);
  insert(q, 1250, 100);
  insert(q, 1400, 100);
  // The engine delivered [1000, 1300) straight from an in-order segment.
  rcv_nxt_ = Seq{1300};
  EXPECT_EQ(drain(q), 50u); // [1300,1350) of the second, the first freed
  EXPECT_EQ(rcv_nxt_, Seq{1350});
  EXPECT_EQ(q.bytes(), 100u);
  EXPECT_EQ(budget_.bytes, 100u);
}

TEST_F(Reassembly, PopInBatches) {
  ReassemblyQueue q(budget_);
  for (int i = 9; i >= 1; --i)
    insert(q, 1000 + i * 10, 10);
  insert(q, 1000, 10);
  PacketBuf out[3];
  Seq at = rcv_nxt_;
  EXPECT_EQ(q.pop(rcv_nxt_, out), 3u);
  EXPECT_EQ(rcv_nxt_, Seq{1030});
  for (PacketBuf m : out) {
    check_bytes(m.mbuf(), at);
    at += m.length();
    m.free();
  }
  EXPECT_EQ(drain(q), 70u);
}

TEST_F(Reassembly, ConnectionCapBytesAndSegments) {
  ReassemblyQueue q(budget_, ReassemblyLimits{250, 3});
  ASSERT_EQ(insert(q, 1100, 100), R::queued);
  ASSERT_EQ(insert(q, 1300, 100), R::queued);
  EXPECT_EQ(insert(q, 1500, 100), R::over_connection_cap); // 300 bytes > 250
  ASSERT_EQ(insert(q, 1500, 50), R::queued);
  EXPECT_EQ(insert(q, 1600, 10), R::over_connection_cap); // 4 segments > 3
  // Replacing covered segments is judged on the result: [1290, 1560) covers
  // two segments -> 100 + 270 = 370 bytes: over; [1300, 1550) -> 350: over;
  // but one that merely fills exactly is fine by segments.
  EXPECT_EQ(insert(q, 1290, 270), R::over_connection_cap);
  EXPECT_EQ(budget_.count(R::over_connection_cap), 3u);
  // In-order data is always taken (pop releases it at once).
  ASSERT_EQ(insert(q, 1000, 100), R::queued);
  EXPECT_EQ(drain(q), 200u);
  ASSERT_EQ(insert(q, 1200, 100), R::queued);
  EXPECT_EQ(drain(q), 200u); // [1200,1300) pops, and [1300,1400) after it
}

TEST_F(Reassembly, ShardBudgetSharedByConnections) {
  ReassemblyBudget budget;
  budget.max_bytes = 300;
  budget.max_segments = 100;
  {
    ReassemblyQueue a(budget), b(budget);
    ASSERT_EQ(a.insert(Seq{1000}, Seq{1100}, seg(Seq{1100}, 200), 200), R::queued);
    EXPECT_EQ(b.insert(Seq{5000}, Seq{5100}, seg(Seq{5100}, 150), 150), R::over_shard_budget);
    ASSERT_EQ(b.insert(Seq{5000}, Seq{5100}, seg(Seq{5100}, 100), 100), R::queued);
    EXPECT_EQ(budget.bytes, 300u);
    EXPECT_EQ(budget.segments, 2u);
    a.clear();
    EXPECT_EQ(budget.bytes, 100u);
    ASSERT_EQ(a.insert(Seq{1000}, Seq{1100}, seg(Seq{1100}, 150), 150), R::queued);
    // Destructors return the rest.
  }
  EXPECT_EQ(budget.bytes, 0u);
  EXPECT_EQ(budget.segments, 0u);
  EXPECT_EQ(budget.count(R::over_shard_budget), 1u);
  EXPECT_EQ(budget.count(R::queued), 3u);
  ReassemblyBudget segs;
  segs.max_segments = 1;
  ReassemblyQueue c(segs);
  ASSERT_EQ(c.insert(Seq{0}, Seq{10}, seg(Seq{10}, 5), 5), R::queued);
  EXPECT_EQ(c.insert(Seq{0}, Seq{20}, seg(Seq{20}, 5), 5), R::over_shard_budget);
}

TEST_F(Reassembly, SackBlocksMostRecentFirst) {
  ReassemblyQueue q(budget_);
  insert(q, 1100, 100); // A
  insert(q, 1300, 100); // B
  insert(q, 1500, 100); // C
  auto s = sacks(q);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0], (SackBlock{Seq{1500}, Seq{1600}})); // just received
  EXPECT_EQ(s[1], (SackBlock{Seq{1300}, Seq{1400}})); // reported before
  EXPECT_EQ(s[2], (SackBlock{Seq{1100}, Seq{1200}}));
  insert(q, 1200, 50); // extends A to [1100, 1250)
  s = sacks(q);
  EXPECT_EQ(s[0], (SackBlock{Seq{1100}, Seq{1250}}));
  EXPECT_EQ(s[1], (SackBlock{Seq{1500}, Seq{1600}}));
  EXPECT_EQ(s[2], (SackBlock{Seq{1300}, Seq{1400}}));
  // Only room for 2 (timestamps in use, say 3; here 2).
  s = sacks(q, 2);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[1], (SackBlock{Seq{1500}, Seq{1600}}));
  // A duplicate of B makes B's block the first one again.
  insert(q, 1320, 10);
  s = sacks(q);
  EXPECT_EQ(s[0], (SackBlock{Seq{1300}, Seq{1400}}));
  // Merging B and C by filling the gap: one block, no repeats.
  insert(q, 1400, 100);
  s = sacks(q);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0], (SackBlock{Seq{1300}, Seq{1600}}));
  EXPECT_EQ(s[1], (SackBlock{Seq{1100}, Seq{1250}}));
  // Popped data is not reported.
  insert(q, 1000, 100);
  drain(q);
  s = sacks(q);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0], (SackBlock{Seq{1300}, Seq{1600}}));
  insert(q, 1250, 50);
  drain(q);
  EXPECT_TRUE(sacks(q).empty());
}

TEST_F(Reassembly, SackBlocksBeyondRecentFilledInOrder) {
  ReassemblyQueue q(budget_);
  for (uint32_t i = 0; i < 6; ++i)
    insert(q, 1100 + i * 200, 100); // six blocks, only 4 recent remembered
  auto s = sacks(q);
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0].start, Seq{2100});
  EXPECT_EQ(s[1].start, Seq{1900});
  EXPECT_EQ(s[2].start, Seq{1700});
  EXPECT_EQ(s[3].start, Seq{1500});
  drain(q);
}

TEST_F(Reassembly, MoveKeepsOwnership) {
  ReassemblyQueue a(budget_);
  insert(a, 1100, 100);
  ReassemblyQueue b(std::move(a));
  EXPECT_EQ(b.bytes(), 100u);
  ReassemblyQueue c(budget_);
  insert(c, 1500, 10);
  c = std::move(b); // frees c's own segment
  EXPECT_EQ(c.segments(), 1u);
  EXPECT_EQ(budget_.segments, 1u);
  insert(c, 1000, 100);
  EXPECT_EQ(drain(c), 200u);
}

// Random segments of one 20 kB stream, shuffled, duplicated, overlapping,
// popped as they become ready: the stream must come out exact and complete,
// and the pool and budget must be back to zero.
TEST_F(Reassembly, RandomisedAgainstStream) {
  std::mt19937 rng(1234);
  for (int round = 0; round < 40; ++round) {
    const uint32_t base = round % 3 == 0 ? 0xFFFFC000u + rng() % 4096 : rng();
    rcv_nxt_ = Seq{base};
    const uint32_t total = 20000;
    struct S {
      uint32_t off, len;
    };
    std::vector<S> segs;
    for (uint32_t off = 0; off < total;) {
      const uint32_t len = std::min<uint32_t>(1 + rng() % 1400, total - off);
      segs.push_back({off, len});
      off += len;
    }
    // Extra overlapping and duplicate pieces.
    for (int k = 0; k < 40; ++k) {
      const uint32_t off = rng() % total;
      segs.push_back({off, std::min<uint32_t>(1 + rng() % 3000, total - off)});
    }
    std::shuffle(segs.begin(), segs.end(), rng);
    ReassemblyQueue q(budget_, ReassemblyLimits{1u << 20, 400});
    uint32_t got = 0;
    trace_.str("");
    Seq expect_at = Seq{base};
    for (const S &s : segs) {
      const Seq seq = Seq{base} + s.off;
      const R r = q.insert(rcv_nxt_, seq, seg(seq, s.len, rng() % 3, 1 + rng() % 3), s.len);
      trace_ << "insert +" << s.off << " len " << s.len << " -> " << to_string(r) << "\n";
      ASSERT_TRUE(r == R::queued || r == R::duplicate) << trace_.str();
      PacketBuf out[8];
      size_t n;
      while ((n = q.pop(rcv_nxt_, out)) > 0) {
        for (size_t i = 0; i < n; ++i) {
          check_bytes(out[i].mbuf(), expect_at);
          expect_at += out[i].length();
          got += out[i].length();
          out[i].free();
        }
      }
      // Queue invariant: sorted, disjoint, above RCV.NXT; SACK blocks valid.
      SackBlock b[4];
      const size_t nb = q.sack_blocks(b);
      for (size_t i = 0; i < nb; ++i) {
        ASSERT_TRUE(seq_gt(b[i].start, rcv_nxt_)) << trace_.str();
        ASSERT_TRUE(seq_lt(b[i].start, b[i].end)) << trace_.str();
        for (size_t j = 0; j < i; ++j)
          ASSERT_FALSE(seq_lt(b[i].start, b[j].end) && seq_lt(b[j].start, b[i].end))
              << "overlapping SACK blocks\n"
              << trace_.str();
      }
    }
    ASSERT_EQ(got, total) << trace_.str();
    ASSERT_EQ(rcv_nxt_, Seq{base} + total);
    ASSERT_TRUE(q.empty());
    ASSERT_EQ(budget_.bytes, 0u);
    ASSERT_EQ(budget_.segments, 0u);
  }
}

} // namespace
} // namespace shoal::tcp
