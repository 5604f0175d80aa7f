#pragma once
// An impairment stage for one direction of a shard's traffic: seeded loss,
// delay, reorder and duplication of whole frames.
//
// Why it exists: the acceptance tests ask for netem on the host side of the
// TAP (loss 5%, delay 5 ms, reorder 10%, duplicate 1%), and the test kernel
// has no sch_netem. The same effects, applied where the frames enter and
// leave the shard, give the TCP engine (and the kernel peer) the same
// conditions. Off unless [impair] asks for it.
//
// Semantics follow netem's: every frame is lost with probability `loss`;
// a survivor is duplicated with probability `duplicate` (the copy follows
// the same path); each frame is delayed by `delay`, except that with
// probability `reorder` it is sent at once, overtaking the delayed ones.
// With no delay, a "reordered" frame is held back for kHoldWithoutDelay
// instead, so reordering still happens. Randomness comes from a seeded
// generator: the same seed and traffic give the same decisions.
#include <cstdint>
#include <deque>
#include <random>
#include <vector>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "common/time.hpp"

namespace shoal::shard {

struct ImpairParams {
  double loss = 0, reorder = 0, duplicate = 0; // probabilities 0..1
  Duration delay{};
  uint64_t seed = 1;
  bool enabled() const { return loss > 0 || reorder > 0 || duplicate > 0 || delay > Duration{}; }
};

class Impairment {
public:
  static constexpr Duration kHoldWithoutDelay = std::chrono::milliseconds(1);

  // `pool` provides the copies made for duplicates.
  Impairment(const ImpairParams &, rte_mempool *pool);
  ~Impairment(); // frees every held frame
  Impairment(const Impairment &) = delete;
  Impairment &operator=(const Impairment &) = delete;

  // Takes ownership of `m`: it is freed (lost), appended to `out` (to go
  // now), or held until release() finds it due.
  void push(rte_mbuf *m, Instant now, std::vector<rte_mbuf *> &out);
  // Appends the held frames whose time has come to `out`, in order.
  void release(Instant now, std::vector<rte_mbuf *> &out);

  size_t held() const { return held_.size(); }
  uint64_t lost() const { return lost_; }
  uint64_t duplicated() const { return duplicated_; }
  uint64_t reordered() const { return reordered_; }
  uint64_t delayed() const { return delayed_; }

private:
  void route(rte_mbuf *m, Instant now, std::vector<rte_mbuf *> &out);
  bool chance(double p) { return p > 0 && uniform_(rng_) < p; }

  ImpairParams p_;
  rte_mempool *pool_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> uniform_{0.0, 1.0};
  // Due times never decrease along the queue when every frame gets the same
  // delay; a reordered frame without delay is held kHoldWithoutDelay, which
  // is also constant, so one FIFO per kind keeps them sorted.
  struct Held {
    Instant due;
    rte_mbuf *m;
  };
  std::deque<Held> held_;
  uint64_t lost_ = 0, duplicated_ = 0, reordered_ = 0, delayed_ = 0;
};

} // namespace shoal::shard
