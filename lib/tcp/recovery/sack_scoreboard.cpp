// RFC 6675 sender scoreboard; see sack_scoreboard.hpp.
#include "tcp/recovery/sack_scoreboard.hpp"

#include <algorithm>

namespace shoal::tcp {

const char *to_string(SackBlockVerdict v) {
  switch (v) {
#define SHOAL_X(name, desc)                                                                        \
  case SackBlockVerdict::name:                                                                     \
    return #name;
    SHOAL_SACK_BLOCK_VERDICTS(SHOAL_X)
#undef SHOAL_X
  case SackBlockVerdict::count_:
    break;
  }
  return "?";
}

const char *describe(SackBlockVerdict v) {
  switch (v) {
#define SHOAL_X(name, desc)                                                                        \
  case SackBlockVerdict::name:                                                                     \
    return desc;
    SHOAL_SACK_BLOCK_VERDICTS(SHOAL_X)
#undef SHOAL_X
  case SackBlockVerdict::count_:
    break;
  }
  return "?";
}

SackScoreboard::SackScoreboard(uint32_t smss, uint32_t dup_thresh)
    : smss_(clamp_smss(smss)),
      dup_thresh_(
          static_cast<uint8_t>(dup_thresh == 0 ? 3 : std::min<uint32_t>(dup_thresh, UINT8_MAX))) {}

void SackScoreboard::reset(Seq snd_una) {
  n_ = 0;
  store_.reset();
  sacked_bytes_ = 0;
  snd_una_ = snd_una;
  high_data_ = snd_una;
  high_rxt_ = snd_una;
  rack_lost_ = snd_una;
}

void SackScoreboard::set_high_data(Seq snd_max) {
  if (seq_gt(snd_max, high_data_))
    high_data_ = snd_max;
}

void SackScoreboard::erase(size_t first, size_t last) {
  if (first == last)
    return; // nothing to move (and store_ may not exist yet)
  std::copy(store_->blocks.begin() + static_cast<ptrdiff_t>(last),
            store_->blocks.begin() + static_cast<ptrdiff_t>(n_),
            store_->blocks.begin() + static_cast<ptrdiff_t>(first));
  n_ = static_cast<uint8_t>(n_ - (last - first));
}

void SackScoreboard::advance_snd_una(Seq ack) {
  if (!seq_gt(ack, snd_una_))
    return;
  snd_una_ = ack;
  set_high_data(ack);
  rack_lost_ = seq_max(rack_lost_, ack);
  rack_trim();
  // Drop ranges now cumulatively acknowledged, clip the one straddling ack.
  size_t i = 0;
  while (i < n_ && seq_le(store_->blocks[i].end, ack)) {
    sacked_bytes_ -= seq_distance(store_->blocks[i].start, store_->blocks[i].end);
    ++i;
  }
  erase(0, i);
  if (n_ > 0 && seq_lt(store_->blocks[0].start, ack)) {
    sacked_bytes_ -= seq_distance(store_->blocks[0].start, ack);
    store_->blocks[0].start = ack;
  }
}

SackBlockVerdict SackScoreboard::insert(Seq start, Seq end, uint32_t &newly) {
  // First range that ends at or after start (touching ranges merge), last
  // range that starts at or before end.
  size_t i = 0;
  while (i < n_ && seq_lt(store_->blocks[i].end, start))
    ++i;
  size_t j = i;
  uint32_t covered = 0;
  while (j < n_ && seq_le(store_->blocks[j].start, end)) {
    const Seq lo = seq_max(store_->blocks[j].start, start);
    const Seq hi = seq_min(store_->blocks[j].end, end);
    if (seq_lt(lo, hi))
      covered += seq_distance(lo, hi);
    ++j;
  }
  const uint32_t added = seq_distance(start, end) - covered;
  if (j > i) {
    // Merge [start, end) with ranges i .. j-1 into one.
    const SackBlock merged{seq_min(start, store_->blocks[i].start),
                           seq_max(end, store_->blocks[j - 1].end)};
    store_->blocks[i] = merged;
    erase(i + 1, j);
    sacked_bytes_ += added;
    newly += added;
    return SackBlockVerdict::accepted;
  }
  bool evicted = false;
  if (n_ == kMaxBlocks) {
    if (i == n_)
      return SackBlockVerdict::scoreboard_full; // above everything: ignore it
    // Evict the highest range to make room for one nearer SND.UNA.
    evicted = true;
    --n_;
    sacked_bytes_ -= seq_distance(store_->blocks[n_].start, store_->blocks[n_].end);
  }
  if (!store_)
    store_ = std::make_unique<Store>();
  std::copy_backward(store_->blocks.begin() + static_cast<ptrdiff_t>(i),
                     store_->blocks.begin() + static_cast<ptrdiff_t>(n_),
                     store_->blocks.begin() + static_cast<ptrdiff_t>(n_ + 1));
  store_->blocks[i] = SackBlock{start, end};
  ++n_;
  sacked_bytes_ += added;
  newly += added;
  return evicted ? SackBlockVerdict::scoreboard_full : SackBlockVerdict::accepted;
}

SackUpdate SackScoreboard::update(Seq ack, std::span<const SackBlock> blocks) {
  SackUpdate u;
  const Seq old_una = snd_una_;
  advance_snd_una(ack);
  u.newly_acked = seq_distance(old_una, snd_una_);
  for (size_t k = 0; k < blocks.size(); ++k) {
    const SackBlock &b = blocks[k];
    SackBlockVerdict v;
    if (!seq_lt(b.start, b.end)) {
      v = SackBlockVerdict::invalid;
    } else if (k == 0 &&
               (seq_lt(b.start, ack) ||
                (blocks.size() > 1 && seq_ge(b.start, blocks[1].start) &&
                 seq_le(b.end, blocks[1].end) && seq_lt(blocks[1].start, blocks[1].end)))) {
      // RFC 2883 4: a first block below the cumulative ACK, or contained in
      // the second block, reports a duplicate; it says nothing about holes.
      v = SackBlockVerdict::dsack;
    } else if (seq_le(b.end, snd_una_)) {
      v = SackBlockVerdict::stale;
    } else if (seq_gt(b.end, high_data_)) {
      v = SackBlockVerdict::beyond_high_data;
    } else {
      const Seq start = seq_max(b.start, snd_una_);
      v = insert(start, b.end, u.newly_sacked);
    }
    u.verdicts[static_cast<size_t>(v)]++;
  }
  release_if_empty(); // the cumulative ACK covered every SACKed range
  return u;
}

bool SackScoreboard::is_sacked(Seq seq) const {
  for (size_t i = 0; i < n_; ++i)
    if (seq_in_window(seq, store_->blocks[i].start,
                      seq_distance(store_->blocks[i].start, store_->blocks[i].end)))
      return true;
  return false;
}

bool SackScoreboard::is_lost(Seq seq) const {
  if (seq_lt(seq, rack_lost_) && seq_ge(seq, snd_una_))
    return true; // RACK (RFC 8985 6.2 step 5)
  // Walk down from the highest range, counting SACKed bytes with sequence
  // numbers greater than seq and the discontiguous ranges holding them.
  const Seq above = seq + 1;
  uint64_t bytes = 0;
  uint32_t ranges = 0;
  for (size_t i = n_; i-- > 0;) {
    if (seq_le(store_->blocks[i].end, above))
      break;
    bytes += seq_distance(seq_max(store_->blocks[i].start, above), store_->blocks[i].end);
    ++ranges;
    if (ranges >= dup_thresh_ || bytes > (uint64_t{dup_thresh_} - 1) * smss_)
      return true;
  }
  return false;
}

uint32_t SackScoreboard::pipe() const {
  // The unSACKed bytes between SND.UNA and HighData form n_ + 1 holes:
  // [snd_una, b0.start), [b0.end, b1.start), ..., [b_last.end, high_data).
  // IsLost() is the same for every byte of one hole (the ranges above any of
  // them are exactly those after the hole), so walk the holes from the top
  // with running totals: O(n).
  const Seq rxt = high_rxt();
  uint64_t pipe = 0;
  uint64_t bytes_above = 0;
  uint32_t ranges_above = 0;
  for (size_t h = n_ + 1; h-- > 0;) {
    const Seq hs = h == 0 ? snd_una_ : store_->blocks[h - 1].end;
    const Seq he = h == n_ ? high_data_ : store_->blocks[h].start;
    if (h < n_) {
      bytes_above += seq_distance(store_->blocks[h].start, store_->blocks[h].end);
      ++ranges_above;
    }
    if (!seq_lt(hs, he))
      continue;
    const bool lost =
        ranges_above >= dup_thresh_ || bytes_above > (uint64_t{dup_thresh_} - 1) * smss_;
    // (a) not lost: the original transmission may still be in flight. RACK
    // may have marked the bottom part of the hole lost.
    if (!lost) {
      const Seq from = seq_lt(hs, rack_lost()) ? seq_min(he, rack_lost()) : hs;
      pipe += seq_distance(from, he);
    }
    // (b) retransmitted: the retransmission may be in flight.
    if (seq_lt(hs, rxt))
      pipe += seq_distance(hs, seq_min(he, rxt));
  }
  return static_cast<uint32_t>(std::min<uint64_t>(pipe, UINT32_MAX));
}

NextSegment SackScoreboard::next_seg(uint32_t new_data_allowed) const {
  const Seq rxt = high_rxt();
  // Rules 1 and 3 consider unSACKed bytes above HighRxt (1.a) and below the
  // highest SACKed byte (1.b), i.e. the holes under the last range.
  NextSegment rule3;
  for (size_t h = 0; h < n_; ++h) {
    const Seq hs = seq_max(h == 0 ? snd_una_ : store_->blocks[h - 1].end, rxt);
    const Seq he = store_->blocks[h].start;
    if (!seq_lt(hs, he))
      continue;
    const uint32_t len = std::min(uint32_t{smss_}, seq_distance(hs, he));
    if (is_lost(hs)) // (1.c)
      return {NextSegment::Kind::kRetransmit, hs, len, 1};
    // IsLost only gets harder higher up: no later hole qualifies for rule 1.
    rule3 = {NextSegment::Kind::kRetransmit, hs, len, 3};
    break;
  }
  // Rule 2: previously unsent data, if there is any and the window allows.
  if (new_data_allowed > 0)
    return {NextSegment::Kind::kNewData, high_data_, std::min(uint32_t{smss_}, new_data_allowed),
            2};
  // Rule 3: the smallest unSACKed byte meeting (1.a) and (1.b), lost or not.
  return rule3;
}

void SackScoreboard::on_retransmit(Seq seq, uint32_t len) {
  const Seq end = seq_min(seq + len, high_data_);
  if (seq_gt(end, high_rxt_))
    high_rxt_ = end;
}

void SackScoreboard::on_retransmit_timeout() {
  n_ = 0;
  store_.reset(); // and the RACK log: go-back-N resends make its times ambiguous
  sacked_bytes_ = 0;
  high_rxt_ = snd_una_;
  rack_lost_ = snd_una_;
}

} // namespace shoal::tcp

namespace shoal::tcp {

void SackScoreboard::rack_on_send(Seq end, Instant now) {
  if (!seq_gt(end, high_data_))
    return; // a retransmission, not logged
  if (!store_)
    store_ = std::make_unique<Store>();
  Rack &r = store_->rack;
  if (r.n > 0 && r.at(r.n - 1).end == high_data_ && r.n == kRackRecords) {
    TxRecord &last = r.at(r.n - 1);
    last.end = end;
    last.sent = now;
    return;
  }
  if (r.n == kRackRecords) {
    // A gap in the log (after an RTO cleared it): forget the oldest record.
    r.first = static_cast<uint8_t>((r.first + 1) % kRackRecords);
    --r.n;
  }
  r.at(r.n) = TxRecord{high_data_, end, now};
  ++r.n;
}

void SackScoreboard::rack_trim() {
  if (!store_)
    return;
  Rack &r = store_->rack;
  while (r.n > 0 && seq_le(r.at(0).end, snd_una_)) {
    r.first = static_cast<uint8_t>((r.first + 1) % kRackRecords);
    --r.n;
  }
}

const SackScoreboard::TxRecord *SackScoreboard::rack_record(Seq seq) const {
  if (!store_)
    return nullptr;
  const Rack &r = store_->rack;
  for (size_t i = 0; i < r.n; ++i) {
    const TxRecord &t = r.at(i);
    if (seq_ge(seq, t.start) && seq_lt(seq, t.end))
      return &t;
  }
  return nullptr;
}

bool SackScoreboard::range_sacked(Seq start, Seq end) const {
  for (size_t i = 0; i < n_; ++i)
    if (seq_le(store_->blocks[i].start, start) && seq_ge(store_->blocks[i].end, end))
      return true;
  return false;
}

void SackScoreboard::rack_on_ack(Seq ack, std::span<const SackBlock> blocks, Instant now) {
  if (!store_)
    return;
  // The highest sequence number this ACK delivers.
  Seq top = snd_una_;
  if (seq_gt(ack, snd_una_) && seq_le(ack, high_data_))
    top = ack;
  for (size_t i = 0; i < blocks.size(); ++i) {
    const SackBlock &b = blocks[i];
    if (!seq_lt(b.start, b.end) || seq_le(b.end, seq_max(ack, snd_una_)) ||
        seq_gt(b.end, high_data_))
      continue; // invalid, D-SACK or stale, or beyond what was sent
    top = seq_max(top, b.end);
  }
  if (top == snd_una_)
    return;
  const Seq last = top - 1;
  if (seq_lt(last, high_rxt())) // retransmitted: which copy arrived is unknown
    return;
  const TxRecord *t = rack_record(last);
  if (t == nullptr)
    return;
  Rack &r = store_->rack;
  // RFC 8985 6.2 step 2 (RACK_sent_after): only a segment sent later than
  // the current RACK.xmit_ts (or the same transmission reaching further).
  if (r.have && (t->sent < r.xmit_ts || (t->sent == r.xmit_ts && !seq_gt(top, r.end_seq))))
    return;
  r.have = true;
  r.xmit_ts = t->sent;
  r.end_seq = top;
  r.rtt = now - t->sent;
  if (r.min_rtt == Duration{} || r.rtt < r.min_rtt)
    r.min_rtt = r.rtt;
}

Duration SackScoreboard::rack_reo_wnd() const {
  return store_ ? store_->rack.min_rtt / 4 : Duration{};
}

Duration SackScoreboard::rack_rtt() const {
  return store_ ? store_->rack.rtt : Duration{};
}

bool SackScoreboard::rack_detect(Instant now) {
  rack_trim();
  if (!store_)
    return false;
  Rack &r = store_->rack;
  r.timer = false;
  if (!r.have)
    return false;
  const Duration wait = r.rtt + r.min_rtt / 4;
  const Seq before = rack_lost();
  Seq mark = before;
  for (size_t i = 0; i < r.n; ++i) {
    const TxRecord &t = r.at(i);
    // Sent before the most recently delivered segment (in sequence order,
    // as first transmissions are).
    if (seq_gt(t.end, r.end_seq) || t.sent > r.xmit_ts)
      break;
    if (t.sent + wait <= now) {
      mark = seq_max(mark, t.end);
      continue;
    }
    // Not old enough yet: a candidate only if some of it is still missing.
    const Seq from = seq_max(seq_max(t.start, snd_una_), high_rxt());
    if (seq_lt(from, t.end) && !range_sacked(from, t.end)) {
      r.timer = true;
      r.timer_at = t.sent + wait;
      break;
    }
  }
  rack_lost_ = mark;
  release_if_empty();
  return seq_gt(mark, before);
}

std::optional<Instant> SackScoreboard::rack_last_sent() const {
  if (!store_ || store_->rack.n == 0)
    return std::nullopt;
  const TxRecord &last = store_->rack.at(store_->rack.n - 1u);
  if (last.end != high_data_)
    return std::nullopt;
  return last.sent;
}

std::optional<Instant> SackScoreboard::rack_timer_at() const {
  if (!store_ || !store_->rack.timer)
    return std::nullopt;
  return store_->rack.timer_at;
}

} // namespace shoal::tcp
