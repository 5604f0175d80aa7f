#pragma once
// The sender's SACK scoreboard, RFC 6675 ("A Conservative Loss Recovery
// Algorithm Based on SACK for TCP") over the blocks of RFC 2018.
//
// It remembers which bytes above SND.UNA the peer has SACKed, as a small
// sorted array of disjoint, non-adjacent ranges, and answers RFC 6675 4's
// questions: IsLost(), SetPipe() (pipe()), NextSeg() (next_seg()). The engine
// feeds it every ACK (update), tells it what it retransmitted
// (on_retransmit: HighRxt) and how far it has ever sent (set_high_data:
// HighData), and clears it on an RTO.
//
// Names: HighACK + 1 = snd_una(), HighData + 1 = high_data(), HighRxt + 1 =
// high_rxt(): this class stores "one past" values, so every range is
// half-open [start, end) like the SACK option's left/right edges.
//
// Bounded: at most kMaxBlocks ranges. When a new disjoint range does not fit,
// the highest range is evicted if the new one is lower (the holes nearest
// SND.UNA are the ones being repaired), else the new one is ignored. Losing
// SACK information only makes the sender more conservative (RFC 2018 8: the
// sender must in any case keep SACKed data until it is cumulatively ACKed).
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "common/time.hpp"
#include "tcp/seq.hpp"

namespace shoal::tcp {

// One SACK block: [start, end) = the option's left edge and right edge.
struct SackBlock {
  Seq start;
  Seq end;
  constexpr bool operator==(const SackBlock &) const = default;
};

// How each received SACK block was treated. X(name, description)
#define SHOAL_SACK_BLOCK_VERDICTS(X)                                                               \
  X(accepted, "block recorded (possibly merged or clipped to SND.UNA)")                            \
  X(dsack, "D-SACK (RFC 2883): first block below SEG.ACK or inside the second; ignored")           \
  X(stale, "block entirely below SND.UNA; ignored")                                                \
  X(invalid, "empty or inverted block (left edge >= right edge); ignored")                         \
  X(beyond_high_data, "block reaches past the highest sequence number sent; ignored")              \
  X(scoreboard_full, "no room: this block ignored, or the highest block evicted for it")

enum class SackBlockVerdict : uint8_t {
#define SHOAL_X(name, desc) name,
  SHOAL_SACK_BLOCK_VERDICTS(SHOAL_X)
#undef SHOAL_X
      count_
};
inline constexpr size_t kSackBlockVerdictCount = static_cast<size_t>(SackBlockVerdict::count_);
const char *to_string(SackBlockVerdict v);
const char *describe(SackBlockVerdict v);

struct SackUpdate {
  uint32_t newly_acked = 0;  // bytes by which SND.UNA advanced
  uint32_t newly_sacked = 0; // bytes SACKed for the first time (above the new SND.UNA)
  std::array<uint8_t, kSackBlockVerdictCount> verdicts{}; // blocks per verdict
  uint8_t count(SackBlockVerdict v) const { return verdicts[static_cast<size_t>(v)]; }
};

// NextSeg()'s answer (RFC 6675 4).
struct NextSegment {
  enum class Kind : uint8_t {
    kNone,       // rule 5: nothing may be sent
    kRetransmit, // rules 1 and 3: retransmit [seq, seq + len)
    kNewData,    // rule 2: send new data [seq, seq + len), seq == high_data()
  };
  Kind kind = Kind::kNone;
  Seq seq{};
  uint32_t len = 0;
  uint8_t rule = 0; // which rule of RFC 6675 4 NextSeg() chose it (1, 2, 3), 0 for none
};

class SackScoreboard {
public:
  static constexpr size_t kMaxBlocks = 32;

  explicit SackScoreboard(uint32_t smss = 1460, uint32_t dup_thresh = 3);

  // Start (or restart) at SND.UNA = HighData + 1 = snd_una: nothing outstanding.
  void reset(Seq snd_una);
  // HighData + 1: one past the highest sequence number ever sent (SND.MAX).
  // Only moves forward; a go-back-N rewind of SND.NXT does not change it.
  void set_high_data(Seq snd_max);
  void set_smss(uint32_t smss) { smss_ = clamp_smss(smss); }

  // RFC 6675 4 Update(): one incoming ACK with its SACK blocks (in option
  // order; the first one may be a D-SACK, RFC 2883 4). A cumulative ACK
  // beyond SND.UNA drops what it covers.
  SackUpdate update(Seq ack, std::span<const SackBlock> blocks);

  // RFC 6675 4 IsLost(SeqNum): DupThresh discontiguous SACKed ranges lie
  // above seq, or more than (DupThresh - 1) * SMSS SACKed bytes do.
  bool is_lost(Seq seq) const;
  bool is_sacked(Seq seq) const;
  // RFC 6675 4 SetPipe(): bytes estimated in flight, counting each unSACKed
  // byte between SND.UNA and HighData once if it is not lost and once more
  // if it was retransmitted.
  uint32_t pipe() const;
  // RFC 6675 4 NextSeg(), rules 1-3 (rule 4, the rescue retransmission, is
  // not implemented). new_data_allowed = unsent bytes the receive window lets
  // us send now; rule 2 applies when it is > 0.
  NextSegment next_seg(uint32_t new_data_allowed) const;
  // The engine (re)transmitted [seq, seq + len) below HighData: advance HighRxt.
  void on_retransmit(Seq seq, uint32_t len);
  // RFC 6675 5.1 / RFC 2018 8: after an RTO, forget SACK state (the
  // receiver may have reneged) and HighRxt.
  void on_retransmit_timeout();

  Seq snd_una() const { return snd_una_; }
  Seq high_data() const { return high_data_; }
  // One past the highest retransmitted byte, never below SND.UNA.
  Seq high_rxt() const { return seq_max(high_rxt_, snd_una_); }
  uint32_t sacked_bytes() const { return sacked_bytes_; }
  // One past the highest SACKed byte; snd_una() when nothing is SACKed.
  Seq highest_sacked() const { return n_ == 0 ? snd_una_ : store_->blocks[n_ - 1].end; }
  std::span<const SackBlock> blocks() const {
    return store_ ? std::span<const SackBlock>{store_->blocks.data(), n_}
                  : std::span<const SackBlock>{};
  }
  uint32_t smss() const { return smss_; }
  uint32_t dup_thresh() const { return dup_thresh_; }

  // RACK time-based loss detection (RFC 8985 6), fed by the engine when
  // EngineConfig::rack is on.
  //
  // rack_on_send: [high_data(), end) goes out for the first time now (call
  // before set_high_data). Only first transmissions are logged: they leave
  // in sequence order, so transmit times grow with sequence numbers and the
  // lost segments RACK finds always form a prefix of the un-SACKed bytes. At
  // most kRackRecords transmissions are remembered; beyond that the newest
  // record absorbs the next one and takes its (later) time, which can only
  // delay a loss decision.
  void rack_on_send(Seq end, Instant now);
  // RFC 8985 6.2 steps 1-3 for one ACK (call before update()): the highest
  // sequence number it delivers (cumulatively or by a SACK block) that was
  // sent once and never retransmitted gives RACK.xmit_ts, RACK.end_seq and
  // RACK.rtt when it was sent later than the current RACK.xmit_ts. A
  // retransmitted segment's delivery is ambiguous and is not used.
  void rack_on_ack(Seq ack, std::span<const SackBlock> blocks, Instant now);
  // RFC 8985 6.2 step 5: every logged segment sent before RACK.xmit_ts
  // whose transmit time is at least RACK.rtt + RACK.reo_wnd ago is lost
  // (IsLost() answers true below the returned mark). Returns true when the
  // mark moved up. rack_timer_at() then tells when the oldest remaining
  // candidate (un-SACKed, sent before RACK.xmit_ts) becomes old enough.
  bool rack_detect(Instant now);
  std::optional<Instant> rack_timer_at() const;
  // When the highest logged segment (the one ending at high_data()) was
  // sent, if the log holds it: the last transmission of new data.
  std::optional<Instant> rack_last_sent() const;
  // RACK.reo_wnd = RACK.min_RTT / 4 (RFC 8985 6.2 step 4, before any
  // adaptation to observed reordering).
  Duration rack_reo_wnd() const;
  Duration rack_rtt() const;
  // One past the highest byte RACK marked lost; snd_una() if none.
  Seq rack_lost() const { return seq_max(rack_lost_, snd_una_); }
  static constexpr size_t kRackRecords = 32;

private:
  void advance_snd_una(Seq ack);
  SackBlockVerdict insert(Seq start, Seq end, uint32_t &newly);
  void erase(size_t first, size_t last); // [first, last)

  // The SACKed ranges, allocated when the first one arrives and freed when
  // the last one is gone: most connections never see a SACK block (no
  // loss), and an idle connection should not carry 256 bytes for them.
  // The RACK log lives in the same allocation: it is freed once every
  // logged transmission is acknowledged and no SACK range is held.
  void release_if_empty() {
    if (n_ == 0 && (!store_ || store_->rack.n == 0))
      store_.reset();
  }
  // SMSS in 16 bits, DupThresh in 8 (clamped): one scoreboard per
  // connection, 32 bytes when no SACK block is held.
  static uint16_t clamp_smss(uint32_t smss) {
    return static_cast<uint16_t>(smss == 0 ? 1 : smss > UINT16_MAX ? UINT16_MAX : smss);
  }
  // One first transmission: [start, end) left at `sent`.
  struct TxRecord {
    Seq start;
    Seq end;
    Instant sent;
  };
  struct Rack {
    std::array<TxRecord, kRackRecords> log{};
    uint8_t first = 0; // oldest record
    uint8_t n = 0;     // records held
    bool have = false; // xmit_ts, end_seq and rtt hold a delivered segment
    Instant xmit_ts{};
    Seq end_seq{};
    Duration rtt{};
    Duration min_rtt{};
    Instant timer_at{}; // rack_detect's answer for rack_timer_at()
    bool timer = false;
    TxRecord &at(size_t i) { return log[(first + i) % kRackRecords]; }
    const TxRecord &at(size_t i) const { return log[(first + i) % kRackRecords]; }
  };
  struct Store {
    std::array<SackBlock, kMaxBlocks> blocks;
    Rack rack;
  };
  void rack_trim();
  const TxRecord *rack_record(Seq seq) const;
  bool range_sacked(Seq start, Seq end) const;
  std::unique_ptr<Store> store_;
  Seq snd_una_{};
  Seq high_data_{};
  Seq high_rxt_{};
  uint32_t sacked_bytes_ = 0;
  Seq rack_lost_{}; // one past the highest byte RACK marked lost
  uint16_t smss_;
  uint8_t dup_thresh_;
  uint8_t n_ = 0; // ranges in store_ (<= kMaxBlocks)
};

} // namespace shoal::tcp
