#pragma once
// Out-of-order receive queue (RFC 9293 3.10.7.4 "seventh, process the segment
// text"; RFC 1122 4.2.2.20 (g): segments that arrive out of order should be
// queued) and the receiver side of SACK (RFC 2018 4).
//
// Segments stay in the mbufs they arrived in: overlaps are removed by
// trimming mbufs (front or back, never copying payload), a segment whose
// every byte is already here is freed, and queued segments that a new one
// covers completely are freed in its favour. What remains is a sorted list of
// disjoint segments above RCV.NXT; pop() hands out the in-order prefix once
// RCV.NXT reaches it.
//
// Memory is bounded twice: per connection (ReassemblyLimits) and per shard
// (ReassemblyBudget, one object per shard that all its queues draw from;
// single-threaded like everything else on a shard). A segment that would
// exceed either is dropped and counted; a segment starting exactly at RCV.NXT
// is always taken, since pop() releases it at once and refusing it could
// stall the connection.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "tcp/packet_buf.hpp"
#include "tcp/recovery/sack_scoreboard.hpp" // SackBlock
#include "tcp/seq.hpp"

namespace shoal::tcp {

// Outcome of ReassemblyQueue::insert(). X(name, description)
#define SHOAL_REASSEMBLY_RESULTS(X)                                                                \
  X(queued, "queued (maybe trimmed, maybe replacing queued segments it covers)")                   \
  X(duplicate, "every byte already queued or below RCV.NXT; freed")                                \
  X(empty, "zero-length segment; freed")                                                           \
  X(bad_length, "length larger than the mbuf holds; freed")                                        \
  X(out_of_range, "starts 2^30 or more past RCV.NXT, beyond any window (RFC 7323 2.3); freed")     \
  X(over_connection_cap, "would exceed the connection's reassembly limit; freed")                  \
  X(over_shard_budget, "would exceed the shard's reassembly budget; freed")

enum class ReassemblyResult : uint8_t {
#define SHOAL_X(name, desc) name,
  SHOAL_REASSEMBLY_RESULTS(SHOAL_X)
#undef SHOAL_X
      count_
};
inline constexpr size_t kReassemblyResultCount = static_cast<size_t>(ReassemblyResult::count_);
const char *to_string(ReassemblyResult r);
const char *describe(ReassemblyResult r);

struct ReassemblyLimits {
  uint32_t max_bytes = 1u << 20; // payload bytes held out of order
  uint32_t max_segments = 1024;  // queue entries (one mbuf chain each)
};

// One per shard, shared by reference by every queue of the shard.
struct ReassemblyBudget {
  uint64_t max_bytes = uint64_t{64} << 20;
  uint64_t max_segments = 65536;
  uint64_t bytes = 0;                                     // held now, all queues of the shard
  uint64_t segments = 0;                                  // held now
  std::array<uint64_t, kReassemblyResultCount> results{}; // insert() outcomes
  uint64_t count(ReassemblyResult r) const { return results[static_cast<size_t>(r)]; }
};

class ReassemblyQueue {
public:
  // Most SACK blocks that fit in a TCP option (RFC 2018 3: 4, or 3 beside
  // the timestamp option).
  static constexpr size_t kMaxSackBlocks = 4;

  ReassemblyQueue(ReassemblyBudget &budget, ReassemblyLimits limits = {});
  ~ReassemblyQueue();
  ReassemblyQueue(ReassemblyQueue &&other) noexcept;
  ReassemblyQueue &operator=(ReassemblyQueue &&other) noexcept;
  ReassemblyQueue(const ReassemblyQueue &) = delete;
  ReassemblyQueue &operator=(const ReassemblyQueue &) = delete;

  // Takes ownership of m in every case (queued, or freed). m's data starts at
  // the payload (data_off past the headers); len payload bytes are the
  // segment (bytes past len, e.g. Ethernet padding, are trimmed away). The
  // caller has already trimmed the segment to the receive window; seq is
  // SEG.SEQ of the first payload byte (after a SYN, if any).
  ReassemblyResult insert(Seq rcv_nxt, Seq seq, PacketBuf m, uint32_t len);

  // Moves the in-order prefix out: while the first queued segment starts at
  // rcv_nxt, append its mbuf to out and advance rcv_nxt by its length (each
  // popped mbuf's pkt_len is exactly its payload). Data below rcv_nxt (the
  // engine delivered an overlapping in-order segment itself) is freed or
  // trimmed first. Returns how many mbufs were written; call again if it
  // filled out.
  size_t pop(Seq &rcv_nxt, std::span<PacketBuf> out);

  // RFC 2018 4: the SACK blocks to send, at most out.size() (and
  // kMaxSackBlocks). The first is the block holding the most recently queued
  // segment, then the blocks most recently reported first, then any other
  // blocks in sequence order. Call after insert()/pop() for the ACK being built.
  size_t sack_blocks(std::span<SackBlock> out) const;

  // RFC 2883 4: the bytes of [seq, end) that are queued already, as the one
  // block a D-SACK reports: from the first queued byte in the range on,
  // as far as queued segments follow one another without a gap (and at most
  // to end). False if no byte of the range is queued. Call before insert().
  bool queued_part(Seq seq, Seq end, SackBlock &out) const;

  // Frees every queued mbuf and returns the memory to the shard budget.
  void clear();
  // Frees the highest queued segment (receive memory pressure: the data
  // furthest from RCV.NXT goes first, as Linux prunes its out-of-order
  // queue; RFC 2018 8 lets a receiver discard data it has only SACKed).
  // Returns its payload length, 0 if the queue was empty.
  uint32_t drop_last();

  bool empty() const { return entries_.empty(); }
  uint32_t bytes() const { return bytes_; }
  size_t segments() const { return entries_.size(); }
  // Lowest queued sequence number (valid when !empty()).
  Seq first_seq() const { return entries_.front().seq; }
  // One past the highest queued byte (valid when !empty()).
  Seq last_end() const { return entries_.back().seq + entries_.back().len; }
  const ReassemblyLimits &limits() const { return limits_; }

private:
  struct Entry {
    Seq seq;
    uint32_t len;
    PacketBuf m;
    Seq end() const { return seq + len; }
  };

  ReassemblyResult finish(ReassemblyResult r, PacketBuf m);
  void drop_below(Seq rcv_nxt);
  void release(size_t first, size_t last); // free entries [first, last), no erase
  bool block_containing(Seq s, SackBlock &b) const;
  void note_recent(Seq s);

  ReassemblyBudget *budget_;
  ReassemblyLimits limits_;
  std::vector<Entry> entries_;
  uint32_t bytes_ = 0;
  // RFC 2018 4: a byte of each of the most recently reported blocks, newest first.
  std::array<Seq, kMaxSackBlocks> recent_{};
  uint8_t n_recent_ = 0;
};

} // namespace shoal::tcp
