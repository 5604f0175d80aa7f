// Out-of-order receive queue over packet buffers (mbufs); see reassembly.hpp.
#include "tcp/recovery/reassembly.hpp"
#include "tcp/packet_buf_impl.hpp"

#include <algorithm>
#include <utility>

namespace shoal::tcp {

namespace {

// A segment may start at most this far past RCV.NXT: the largest window
// (RFC 7323 2.3) is 2^30, and staying well inside 2^31 keeps every Seq
// comparison between queued segments meaningful.
constexpr uint32_t kMaxAhead = 1u << 30;

} // namespace

const char *to_string(ReassemblyResult r) {
  switch (r) {
#define SHOAL_X(name, desc)                                                                        \
  case ReassemblyResult::name:                                                                     \
    return #name;
    SHOAL_REASSEMBLY_RESULTS(SHOAL_X)
#undef SHOAL_X
  case ReassemblyResult::count_:
    break;
  }
  return "?";
}

const char *describe(ReassemblyResult r) {
  switch (r) {
#define SHOAL_X(name, desc)                                                                        \
  case ReassemblyResult::name:                                                                     \
    return desc;
    SHOAL_REASSEMBLY_RESULTS(SHOAL_X)
#undef SHOAL_X
  case ReassemblyResult::count_:
    break;
  }
  return "?";
}

ReassemblyQueue::ReassemblyQueue(ReassemblyBudget &budget, ReassemblyLimits limits)
    : budget_(&budget), limits_(limits) {}

ReassemblyQueue::~ReassemblyQueue() {
  clear();
}

ReassemblyQueue::ReassemblyQueue(ReassemblyQueue &&o) noexcept
    : budget_(o.budget_), limits_(o.limits_), entries_(std::move(o.entries_)), bytes_(o.bytes_),
      recent_(o.recent_), n_recent_(o.n_recent_) {
  o.entries_.clear();
  o.bytes_ = 0;
  o.n_recent_ = 0;
}

ReassemblyQueue &ReassemblyQueue::operator=(ReassemblyQueue &&o) noexcept {
  if (this != &o) {
    clear();
    budget_ = o.budget_;
    limits_ = o.limits_;
    entries_ = std::move(o.entries_);
    bytes_ = o.bytes_;
    recent_ = o.recent_;
    n_recent_ = o.n_recent_;
    o.entries_.clear();
    o.bytes_ = 0;
    o.n_recent_ = 0;
  }
  return *this;
}

void ReassemblyQueue::release(size_t first, size_t last) {
  for (size_t i = first; i < last; ++i) {
    entries_[i].m.free();
    bytes_ -= entries_[i].len;
    budget_->bytes -= entries_[i].len;
    budget_->segments -= 1;
  }
}

void ReassemblyQueue::clear() {
  release(0, entries_.size());
  entries_.clear();
  n_recent_ = 0;
}

uint32_t ReassemblyQueue::drop_last() {
  if (entries_.empty())
    return 0;
  const uint32_t len = entries_.back().len;
  release(entries_.size() - 1, entries_.size());
  entries_.pop_back();
  return len;
}

ReassemblyResult ReassemblyQueue::finish(ReassemblyResult r, PacketBuf m) {
  m.free();
  budget_->results[static_cast<size_t>(r)]++;
  return r;
}

void ReassemblyQueue::drop_below(Seq rcv_nxt) {
  size_t n = 0;
  while (n < entries_.size() && seq_le(entries_[n].end(), rcv_nxt))
    ++n;
  if (n > 0) {
    release(0, n);
    entries_.erase(entries_.begin(), entries_.begin() + static_cast<ptrdiff_t>(n));
  }
  if (!entries_.empty() && seq_lt(entries_.front().seq, rcv_nxt)) {
    Entry &e = entries_.front();
    const uint32_t cut = seq_distance(e.seq, rcv_nxt);
    e.m = e.m.trim_front(cut);
    e.seq = rcv_nxt;
    e.len -= cut;
    bytes_ -= cut;
    budget_->bytes -= cut;
  }
  // Forget SACK history for data no longer out of order.
  uint8_t k = 0;
  for (uint8_t i = 0; i < n_recent_; ++i)
    if (seq_ge(recent_[i], rcv_nxt))
      recent_[k++] = recent_[i];
  n_recent_ = k;
}

ReassemblyResult ReassemblyQueue::insert(Seq rcv_nxt, Seq seq, PacketBuf m, uint32_t len) {
  if (!m)
    return finish(ReassemblyResult::empty, {});
  if (len > m.length())
    return finish(ReassemblyResult::bad_length, m);
  if (len == 0)
    return finish(ReassemblyResult::empty, m);
  drop_below(rcv_nxt);

  // Bytes below RCV.NXT were delivered already (RFC 9293 3.10.7.4: trim to
  // the window); a segment with nothing above it is a pure duplicate.
  Seq end = seq + len;
  if (seq_le(end, rcv_nxt))
    return finish(ReassemblyResult::duplicate, m);
  uint32_t cut_front = 0;
  if (seq_lt(seq, rcv_nxt)) {
    cut_front = seq_distance(seq, rcv_nxt);
    seq = rcv_nxt;
  }
  if (seq_distance(rcv_nxt, seq) >= kMaxAhead || seq_distance(rcv_nxt, end) > kMaxAhead)
    return finish(ReassemblyResult::out_of_range, m);

  // i: first queued segment ending after seq (the first that can overlap).
  auto it = std::partition_point(entries_.begin(), entries_.end(),
                                 [&](const Entry &e) { return seq_le(e.end(), seq); });
  size_t i = static_cast<size_t>(it - entries_.begin());
  if (i < entries_.size() && seq_le(entries_[i].seq, seq)) {
    const Entry &e = entries_[i];
    if (seq_le(end, e.end())) {
      // Inside one queued segment: a duplicate; its block is still the one
      // this ACK reports first (RFC 2018 4).
      note_recent(seq);
      return finish(ReassemblyResult::duplicate, m);
    }
    // Overlaps the tail of a queued segment: keep only what follows it.
    cut_front += seq_distance(seq, e.end());
    seq = e.end();
    ++i;
  }
  // j: queued segments [i, j) lie entirely inside the new one and go.
  size_t j = i;
  uint32_t covered_bytes = 0;
  while (j < entries_.size() && seq_le(entries_[j].end(), end)) {
    covered_bytes += entries_[j].len;
    ++j;
  }
  // A queued segment starting before `end` overlaps the new one's tail: cut it.
  if (j < entries_.size() && seq_lt(entries_[j].seq, end))
    end = entries_[j].seq;
  const uint32_t new_len = seq_distance(seq, end);
  // Nothing left, or exactly the union of adjacent queued segments: no new
  // byte, keep the mbufs we already hold.
  if (new_len == 0 || !seq_lt(seq, end) || covered_bytes == new_len) {
    note_recent(seq);
    return finish(ReassemblyResult::duplicate, m);
  }

  // Limits: the queue after the change = now - covered + new.
  const size_t covered_segs = j - i;
  if (seq != rcv_nxt) {
    const uint64_t q_bytes = uint64_t{bytes_} - covered_bytes + new_len;
    const uint64_t q_segs = entries_.size() - covered_segs + 1;
    if (q_bytes > limits_.max_bytes || q_segs > limits_.max_segments)
      return finish(ReassemblyResult::over_connection_cap, m);
    const uint64_t s_bytes = budget_->bytes - covered_bytes + new_len;
    const uint64_t s_segs = budget_->segments - covered_segs + 1;
    if (s_bytes > budget_->max_bytes || s_segs > budget_->max_segments)
      return finish(ReassemblyResult::over_shard_budget, m);
  }

  // Commit: trim the new mbuf (never copying), free what it covers, insert.
  if (cut_front > 0)
    m = m.trim_front(cut_front);
  m.trim_back(new_len);
  release(i, j);
  if (entries_.capacity() == 0)
    entries_.reserve(std::min<size_t>(limits_.max_segments, 64));
  Entry e{seq, new_len, m};
  if (covered_segs > 0) {
    entries_[i] = e;
    entries_.erase(entries_.begin() + static_cast<ptrdiff_t>(i + 1),
                   entries_.begin() + static_cast<ptrdiff_t>(j));
  } else {
    entries_.insert(entries_.begin() + static_cast<ptrdiff_t>(i), e);
  }
  bytes_ += new_len;
  budget_->bytes += new_len;
  budget_->segments += 1;
  note_recent(seq);
  return finish(ReassemblyResult::queued, {});
}

size_t ReassemblyQueue::pop(Seq &rcv_nxt, std::span<PacketBuf> out) {
  drop_below(rcv_nxt);
  size_t k = 0;
  while (k < out.size() && k < entries_.size() && entries_[k].seq == rcv_nxt) {
    const Entry &e = entries_[k];
    out[k] = e.m;
    rcv_nxt += e.len;
    bytes_ -= e.len;
    budget_->bytes -= e.len;
    budget_->segments -= 1;
    ++k;
  }
  if (k > 0) {
    entries_.erase(entries_.begin(), entries_.begin() + static_cast<ptrdiff_t>(k));
    drop_below(rcv_nxt); // prunes SACK history
  }
  return k;
}

bool ReassemblyQueue::block_containing(Seq s, SackBlock &b) const {
  auto it = std::partition_point(entries_.begin(), entries_.end(),
                                 [&](const Entry &e) { return seq_le(e.end(), s); });
  if (it == entries_.end() || seq_gt(it->seq, s))
    return false;
  // Grow over adjacent segments on both sides: a SACK block is a contiguous
  // run of received data, whatever segments carried it.
  auto lo = it;
  while (lo != entries_.begin() && (lo - 1)->end() == lo->seq)
    --lo;
  auto hi = it;
  while (hi + 1 != entries_.end() && hi->end() == (hi + 1)->seq)
    ++hi;
  b = SackBlock{lo->seq, hi->end()};
  return true;
}

void ReassemblyQueue::note_recent(Seq s) {
  // Move s to the front; drop any older entry naming the same block.
  SackBlock b;
  const bool found = block_containing(s, b);
  uint8_t k = 0;
  std::array<Seq, kMaxSackBlocks> next{};
  next[k++] = s;
  for (uint8_t i = 0; i < n_recent_ && k < kMaxSackBlocks; ++i) {
    const Seq r = recent_[i];
    if (found && seq_ge(r, b.start) && seq_lt(r, b.end))
      continue;
    next[k++] = r;
  }
  recent_ = next;
  n_recent_ = k;
}

size_t ReassemblyQueue::sack_blocks(std::span<SackBlock> out) const {
  const size_t max = std::min(out.size(), kMaxSackBlocks);
  size_t n = 0;
  auto already = [&](const SackBlock &b) {
    for (size_t i = 0; i < n; ++i)
      if (out[i] == b)
        return true;
    return false;
  };
  // RFC 2018 4: the block with the most recently received segment first, then
  // the most recently reported ones, none repeated.
  for (uint8_t i = 0; i < n_recent_ && n < max; ++i) {
    SackBlock b;
    if (block_containing(recent_[i], b) && !already(b))
      out[n++] = b;
  }
  // Room left: the other blocks, lowest first (they describe the holes the
  // sender should fill next).
  for (size_t i = 0; i < entries_.size() && n < max;) {
    SackBlock b{entries_[i].seq, entries_[i].end()};
    size_t k = i + 1;
    while (k < entries_.size() && entries_[k].seq == b.end)
      b.end = entries_[k++].end();
    if (!already(b))
      out[n++] = b;
    i = k;
  }
  return n;
}

bool ReassemblyQueue::queued_part(Seq seq, Seq end, SackBlock &out) const {
  auto it = std::partition_point(entries_.begin(), entries_.end(),
                                 [&](const Entry &e) { return seq_le(e.end(), seq); });
  if (it == entries_.end() || !seq_lt(seq, end) || seq_ge(it->seq, end))
    return false;
  out.start = seq_max(it->seq, seq);
  out.end = seq_min(it->end(), end);
  for (++it; it != entries_.end() && it->seq == out.end && seq_lt(out.end, end); ++it)
    out.end = seq_min(it->end(), end);
  return true;
}

} // namespace shoal::tcp
