#include "shard/impair.hpp"

namespace shoal::shard {

Impairment::Impairment(const ImpairParams &p, rte_mempool *pool)
    : p_(p), pool_(pool), rng_(p.seed) {}

Impairment::~Impairment() {
  for (const Held &h : held_)
    rte_pktmbuf_free(h.m);
}

void Impairment::push(rte_mbuf *m, Instant now, std::vector<rte_mbuf *> &out) {
  if (chance(p_.loss)) {
    lost_++;
    rte_pktmbuf_free(m);
    return;
  }
  if (chance(p_.duplicate)) {
    // A deep copy: the original may be a chain of indirect mbufs whose
    // headers a PMD rewrites in place (checksum offload in software).
    if (rte_mbuf *copy = rte_pktmbuf_copy(m, pool_, 0, UINT32_MAX); copy != nullptr) {
      duplicated_++;
      route(copy, now, out);
    }
  }
  route(m, now, out);
}

void Impairment::route(rte_mbuf *m, Instant now, std::vector<rte_mbuf *> &out) {
  const bool reorder = chance(p_.reorder);
  if (p_.delay > Duration{}) {
    if (reorder) {
      reordered_++;
      out.push_back(m); // overtakes everything held
      return;
    }
    delayed_++;
    held_.push_back({now + p_.delay, m});
    return;
  }
  if (reorder) {
    reordered_++;
    held_.push_back({now + kHoldWithoutDelay, m}); // the next frames overtake it
    return;
  }
  out.push_back(m);
}

void Impairment::release(Instant now, std::vector<rte_mbuf *> &out) {
  while (!held_.empty() && held_.front().due <= now) {
    out.push_back(held_.front().m);
    held_.pop_front();
  }
}

} // namespace shoal::shard
