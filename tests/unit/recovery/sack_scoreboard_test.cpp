// RFC 6675 scoreboard: Update() with RFC 2018 blocks (merging, clipping,
// D-SACK and bogus blocks ignored), cumulative ACKs, IsLost(), SetPipe(),
// NextSeg() rules 1-3, HighRxt, RTO, capacity, sequence wrap. A per-octet
// model written straight from the RFC pseudo-code checks the range version.
#include <gtest/gtest.h>

#include <random>
#include <sstream>
#include <vector>

#include "tcp/recovery/sack_scoreboard.hpp"

namespace shoal::tcp {
namespace {

constexpr uint32_t kMss = 100;
using V = SackBlockVerdict;
using Kind = NextSegment::Kind;

SackBlock blk(uint32_t a, uint32_t b) {
  return {Seq{a}, Seq{b}};
}

std::string dump(const SackScoreboard &sb) {
  std::ostringstream o;
  o << "una=" << sb.snd_una().v << " high_data=" << sb.high_data().v
    << " high_rxt=" << sb.high_rxt().v << " sacked=" << sb.sacked_bytes() << " [";
  for (const SackBlock &b : sb.blocks())
    o << " " << b.start.v << "-" << b.end.v;
  o << " ]";
  return o.str();
}

SackScoreboard board(uint32_t una, uint32_t high_data) {
  SackScoreboard sb(kMss);
  sb.reset(Seq{una});
  sb.set_high_data(Seq{high_data});
  return sb;
}

TEST(SackScoreboard, RecordsAndMergesBlocks) {
  auto sb = board(1000, 3000);
  SackBlock b1[] = {blk(1200, 1300)};
  auto u = sb.update(Seq{1000}, b1);
  EXPECT_EQ(u.newly_sacked, 100u);
  EXPECT_EQ(u.count(V::accepted), 1);
  SackBlock b2[] = {blk(1500, 1600), blk(1200, 1300)}; // repeated block: nothing new
  u = sb.update(Seq{1000}, b2);
  EXPECT_EQ(u.newly_sacked, 100u);
  ASSERT_EQ(sb.blocks().size(), 2u);
  // Adjacent and overlapping blocks merge into one range.
  SackBlock b3[] = {blk(1300, 1400), blk(1450, 1550)};
  u = sb.update(Seq{1000}, b3);
  EXPECT_EQ(u.newly_sacked, 150u);
  ASSERT_EQ(sb.blocks().size(), 2u) << dump(sb);
  EXPECT_EQ(sb.blocks()[0], blk(1200, 1400));
  EXPECT_EQ(sb.blocks()[1], blk(1450, 1600));
  // One block spanning several ranges.
  SackBlock b4[] = {blk(1100, 1700)};
  u = sb.update(Seq{1000}, b4);
  EXPECT_EQ(u.newly_sacked, 600u - 350u);
  ASSERT_EQ(sb.blocks().size(), 1u);
  EXPECT_EQ(sb.sacked_bytes(), 600u);
  EXPECT_TRUE(sb.is_sacked(Seq{1100}));
  EXPECT_TRUE(sb.is_sacked(Seq{1699}));
  EXPECT_FALSE(sb.is_sacked(Seq{1700}));
  EXPECT_FALSE(sb.is_sacked(Seq{1099}));
}

TEST(SackScoreboard, CumulativeAckDropsAndClips) {
  auto sb = board(1000, 3000);
  SackBlock b[] = {blk(1200, 1300), blk(1400, 1500), blk(1600, 1700)};
  sb.update(Seq{1000}, b);
  auto u = sb.update(Seq{1450}, {});
  EXPECT_EQ(u.newly_acked, 450u);
  ASSERT_EQ(sb.blocks().size(), 2u) << dump(sb);
  EXPECT_EQ(sb.blocks()[0], blk(1450, 1500));
  EXPECT_EQ(sb.sacked_bytes(), 150u);
  sb.update(Seq{2000}, {});
  EXPECT_TRUE(sb.blocks().empty());
  EXPECT_EQ(sb.sacked_bytes(), 0u);
  // An old ACK does not move SND.UNA back.
  u = sb.update(Seq{1500}, {});
  EXPECT_EQ(u.newly_acked, 0u);
  EXPECT_EQ(sb.snd_una(), Seq{2000});
}

TEST(SackScoreboard, BogusAndDuplicateBlocksIgnored) {
  auto sb = board(1000, 3000);
  SackBlock inv[] = {blk(1300, 1300), blk(1400, 1350)};
  auto u = sb.update(Seq{1000}, inv);
  EXPECT_EQ(u.count(V::invalid), 2);
  SackBlock beyond[] = {blk(2900, 3001)};
  u = sb.update(Seq{1000}, beyond);
  EXPECT_EQ(u.count(V::beyond_high_data), 1);
  // Not first, entirely below SND.UNA: stale.
  SackBlock stale[] = {blk(1500, 1600), blk(900, 950)};
  u = sb.update(Seq{1000}, stale);
  EXPECT_EQ(u.count(V::accepted), 1);
  EXPECT_EQ(u.count(V::stale), 1);
  // D-SACK, RFC 2883: first block below the cumulative ACK ...
  SackBlock dsack1[] = {blk(900, 1000), blk(1500, 1600)};
  u = sb.update(Seq{1000}, dsack1);
  EXPECT_EQ(u.count(V::dsack), 1);
  // ... or inside the second block.
  SackBlock dsack2[] = {blk(1700, 1750), blk(1700, 1800)};
  u = sb.update(Seq{1000}, dsack2);
  EXPECT_EQ(u.count(V::dsack), 1);
  EXPECT_EQ(u.count(V::accepted), 1);
  EXPECT_EQ(u.newly_sacked, 100u);
  ASSERT_EQ(sb.blocks().size(), 2u) << dump(sb);
  EXPECT_EQ(sb.sacked_bytes(), 200u);
  // A non-first block straddling SND.UNA is clipped to it.
  SackBlock straddle[] = {blk(2500, 2600), blk(900, 1100)};
  u = sb.update(Seq{1000}, straddle);
  EXPECT_EQ(u.count(V::accepted), 2);
  EXPECT_EQ(sb.blocks()[0], blk(1000, 1100));
  EXPECT_STREQ(to_string(V::beyond_high_data), "beyond_high_data");
  EXPECT_NE(std::string(describe(V::dsack)).find("RFC 2883"), std::string::npos);
}

TEST(SackScoreboard, IsLostByRangeCountAndByBytes) {
  auto sb = board(1000, 3000);
  SackBlock a[] = {blk(1100, 1200)};
  sb.update(Seq{1000}, a);
  EXPECT_FALSE(sb.is_lost(Seq{1000}));
  SackBlock b[] = {blk(1300, 1400)};
  sb.update(Seq{1000}, b);
  // 200 bytes above: not more than (DupThresh - 1) * SMSS; 2 ranges < 3.
  EXPECT_FALSE(sb.is_lost(Seq{1000}));
  SackBlock c[] = {blk(1500, 1501)};
  sb.update(Seq{1000}, c);
  EXPECT_TRUE(sb.is_lost(Seq{1000})); // three discontiguous ranges above
  EXPECT_TRUE(sb.is_lost(Seq{1099}));
  EXPECT_FALSE(sb.is_lost(Seq{1200})); // two ranges, 101 bytes above
  // Bytes rule: one range of 2 * SMSS + 1 bytes.
  auto sb2 = board(1000, 3000);
  SackBlock d[] = {blk(1100, 1300)};
  sb2.update(Seq{1000}, d);
  EXPECT_FALSE(sb2.is_lost(Seq{1000}));
  SackBlock e[] = {blk(1300, 1301)};
  sb2.update(Seq{1000}, e);
  EXPECT_TRUE(sb2.is_lost(Seq{1000}));
  // Bytes counted strictly above SeqNum.
  EXPECT_TRUE(sb2.is_lost(Seq{1099}));
  EXPECT_FALSE(sb2.is_lost(Seq{1100}));
}

TEST(SackScoreboard, PipeCountsNotLostAndRetransmitted) {
  auto sb = board(1000, 2000);
  // Nothing SACKed: everything outstanding is in the pipe.
  EXPECT_EQ(sb.pipe(), 1000u);
  SackBlock b[] = {blk(1100, 1200), blk(1300, 1400), blk(1500, 1600)};
  sb.update(Seq{1000}, b);
  // Holes: [1000,1100) lost (3 ranges above), [1200,1300) lost (2 ranges,
  // 200 bytes: no), [1400,1500) no, [1600,2000) no.
  EXPECT_TRUE(sb.is_lost(Seq{1000}));
  EXPECT_FALSE(sb.is_lost(Seq{1200}));
  EXPECT_EQ(sb.pipe(), 100u + 100u + 400u) << dump(sb);
  // Retransmitting the lost hole puts it back in the pipe once.
  sb.on_retransmit(Seq{1000}, 100);
  EXPECT_EQ(sb.high_rxt(), Seq{1100});
  EXPECT_EQ(sb.pipe(), 700u);
  // Retransmitting a not-lost hole counts it twice (RFC 6675 SetPipe (a)+(b)).
  sb.on_retransmit(Seq{1200}, 100);
  EXPECT_EQ(sb.pipe(), 800u);
}

TEST(SackScoreboard, NextSegRules) {
  auto sb = board(1000, 2000);
  // No SACK information: rules 1 and 3 cannot apply; rule 2 if data allowed.
  NextSegment n = sb.next_seg(0);
  EXPECT_EQ(n.kind, Kind::kNone);
  n = sb.next_seg(5000);
  EXPECT_EQ(n.kind, Kind::kNewData);
  EXPECT_EQ(n.seq, Seq{2000});
  EXPECT_EQ(n.len, kMss);
  EXPECT_EQ(n.rule, 2);
  EXPECT_EQ(sb.next_seg(30).len, 30u);

  SackBlock b[] = {blk(1050, 1100), blk(1300, 1400), blk(1500, 1600)};
  sb.update(Seq{1000}, b);
  // Rule 1: the first hole is lost; retransmit up to SMSS but not into SACKed data.
  n = sb.next_seg(5000);
  EXPECT_EQ(n.kind, Kind::kRetransmit);
  EXPECT_EQ(n.rule, 1);
  EXPECT_EQ(n.seq, Seq{1000});
  EXPECT_EQ(n.len, 50u);
  sb.on_retransmit(n.seq, n.len);
  // Next hole [1100, 1300): lost (bytes above = 200? no; ranges above = 2: no).
  EXPECT_FALSE(sb.is_lost(Seq{1100}));
  n = sb.next_seg(5000);
  EXPECT_EQ(n.rule, 2) << dump(sb);
  // Rule 3 when no new data may be sent: smallest unSACKed above HighRxt,
  // below the highest SACKed byte.
  n = sb.next_seg(0);
  EXPECT_EQ(n.kind, Kind::kRetransmit);
  EXPECT_EQ(n.rule, 3);
  EXPECT_EQ(n.seq, Seq{1100});
  EXPECT_EQ(n.len, kMss);
  sb.on_retransmit(Seq{1100}, 100);
  n = sb.next_seg(0);
  EXPECT_EQ(n.seq, Seq{1200});
  EXPECT_EQ(n.len, 100u);
  sb.on_retransmit(n.seq, n.len);
  n = sb.next_seg(0);
  EXPECT_EQ(n.seq, Seq{1400});
  sb.on_retransmit(n.seq, n.len);
  // Above the highest SACKed byte nothing qualifies (1.b).
  EXPECT_EQ(sb.next_seg(0).kind, Kind::kNone) << dump(sb);
}

TEST(SackScoreboard, RetransmitTimeoutClears) {
  auto sb = board(1000, 2000);
  SackBlock b[] = {blk(1100, 1200), blk(1300, 1400), blk(1500, 1600)};
  sb.update(Seq{1000}, b);
  sb.on_retransmit(Seq{1000}, 100);
  sb.on_retransmit_timeout();
  EXPECT_TRUE(sb.blocks().empty());
  EXPECT_EQ(sb.sacked_bytes(), 0u);
  EXPECT_EQ(sb.high_rxt(), Seq{1000});
  EXPECT_EQ(sb.pipe(), 1000u);
  EXPECT_FALSE(sb.is_lost(Seq{1000}));
}

TEST(SackScoreboard, HighDataOnlyMovesForward) {
  auto sb = board(1000, 2000);
  sb.set_high_data(Seq{1500});
  EXPECT_EQ(sb.high_data(), Seq{2000});
  sb.on_retransmit(Seq{1900}, 500); // clipped to HighData
  EXPECT_EQ(sb.high_rxt(), Seq{2000});
}

TEST(SackScoreboard, BoundedCapacity) {
  auto sb = board(0, 100000);
  for (uint32_t i = 0; i < SackScoreboard::kMaxBlocks; ++i) {
    SackBlock b[] = {blk(1000 + i * 200, 1100 + i * 200)};
    ASSERT_EQ(sb.update(Seq{0}, b).count(V::accepted), 1) << i;
  }
  ASSERT_EQ(sb.blocks().size(), SackScoreboard::kMaxBlocks);
  // Above everything: ignored.
  SackBlock high[] = {blk(50000, 50100)};
  auto u = sb.update(Seq{0}, high);
  EXPECT_EQ(u.count(V::scoreboard_full), 1);
  EXPECT_EQ(u.newly_sacked, 0u);
  EXPECT_EQ(sb.highest_sacked(), Seq{1100 + 31 * 200});
  // Lower than the highest range: the highest is evicted for it.
  SackBlock low[] = {blk(100, 200)};
  u = sb.update(Seq{0}, low);
  EXPECT_EQ(u.count(V::scoreboard_full), 1);
  EXPECT_EQ(sb.blocks().front(), blk(100, 200));
  EXPECT_EQ(sb.highest_sacked(), Seq{1100 + 30 * 200});
  EXPECT_EQ(sb.sacked_bytes(), 32u * 100);
  // A block that merges always fits.
  SackBlock merge[] = {blk(1100, 1200)};
  u = sb.update(Seq{0}, merge);
  EXPECT_EQ(u.count(V::accepted), 1);
  EXPECT_EQ(sb.blocks().size(), SackScoreboard::kMaxBlocks - 1);
}

// Per-octet model of RFC 6675 4, over a window of W bytes from SND.UNA.
// IsLost(o) counts SACKed octets above o and the discontiguous SACKed runs
// they form; suffix tables make that O(1) per query (prepare()).
struct OctetModel {
  uint32_t una, w, smss = kMss, dupthresh = 3;
  std::vector<bool> sacked;
  uint32_t high_rxt_end; // one past
  std::vector<uint32_t> bytes_above, runs_above;
  void prepare() {
    // Over octets > o: SACKed octets, and SACKed runs (counted by their top
    // octet t: SACKed, with t + 1 not SACKed or past the window).
    bytes_above.assign(w, 0);
    runs_above.assign(w, 0);
    auto is_top = [&](uint32_t t) { return sacked[t] && (t + 1 == w || !sacked[t + 1]); };
    for (uint32_t o = w - 1; o-- > 0;) {
      bytes_above[o] = bytes_above[o + 1] + (sacked[o + 1] ? 1 : 0);
      runs_above[o] = runs_above[o + 1] + (is_top(o + 1) ? 1 : 0);
    }
  }
  bool is_lost(uint32_t s) const { // s: offset
    return runs_above[s] >= dupthresh || bytes_above[s] > (dupthresh - 1) * smss;
  }
  uint32_t pipe() const {
    uint32_t p = 0;
    for (uint32_t o = 0; o < w; ++o) {
      if (sacked[o])
        continue;
      if (!is_lost(o))
        ++p;
      if (o < high_rxt_end)
        ++p;
    }
    return p;
  }
  // Rules 1 and 3 (the S2 / S3 search); returns offset or -1.
  int64_t next(bool need_lost) const {
    int64_t highest = -1;
    for (uint32_t o = 0; o < w; ++o)
      if (sacked[o])
        highest = o;
    for (uint32_t o = high_rxt_end; o < w; ++o)
      if (!sacked[o] && static_cast<int64_t>(o) < highest && (!need_lost || is_lost(o)))
        return o;
    return -1;
  }
};

TEST(SackScoreboard, MatchesPerOctetModelAcrossWrap) {
  std::mt19937 rng(7);
  for (int round = 0; round < 300; ++round) {
    const uint32_t una = round % 2 ? 0xFFFFFC00u + (rng() % 512) : rng();
    const uint32_t w = 600 + rng() % 1400;
    OctetModel m{una, w, kMss, 3, std::vector<bool>(w, false), 0, {}, {}};
    SackScoreboard sb(kMss);
    sb.reset(Seq{una});
    sb.set_high_data(Seq{una} + w);
    std::ostringstream trace;
    const int nblocks = static_cast<int>(rng() % 8);
    for (int k = 0; k < nblocks; ++k) {
      const uint32_t a = rng() % w;
      const uint32_t len = 1 + rng() % 150;
      const uint32_t b = std::min(w, a + len);
      SackBlock blocks[] = {{Seq{una} + a, Seq{una} + b}};
      trace << "sack +" << a << "..+" << b << "\n";
      sb.update(Seq{una}, blocks);
      for (uint32_t o = a; o < b; ++o)
        m.sacked[o] = true;
    }
    m.prepare();
    const uint32_t rxt = rng() % (w / 2);
    sb.on_retransmit(Seq{una}, rxt);
    m.high_rxt_end = rxt;
    trace << "rxt to +" << rxt << "\n" << dump(sb) << "\n";
    ASSERT_EQ(sb.pipe(), m.pipe()) << trace.str();
    for (uint32_t o = 0; o < w; ++o)
      ASSERT_EQ(sb.is_lost(Seq{una} + o), m.is_lost(o)) << "offset " << o << "\n" << trace.str();
    const NextSegment n = sb.next_seg(0);
    const int64_t s2 = m.next(true), s3 = m.next(false);
    if (s2 >= 0) {
      ASSERT_EQ(n.rule, 1) << trace.str();
      ASSERT_EQ(n.seq, Seq{una} + static_cast<uint32_t>(s2)) << trace.str();
    } else if (s3 >= 0) {
      ASSERT_EQ(n.rule, 3) << trace.str();
      ASSERT_EQ(n.seq, Seq{una} + static_cast<uint32_t>(s3)) << trace.str();
    } else {
      ASSERT_EQ(n.kind, Kind::kNone) << trace.str();
    }
    if (n.kind == Kind::kRetransmit) {
      // Never includes SACKed bytes, never longer than SMSS.
      ASSERT_LE(n.len, kMss);
      for (uint32_t o = 0; o < n.len; ++o)
        ASSERT_FALSE(m.sacked[seq_distance(Seq{una}, n.seq) + o]) << trace.str();
    }
  }
}

} // namespace
} // namespace shoal::tcp
