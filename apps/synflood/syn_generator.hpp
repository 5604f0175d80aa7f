#pragma once
// The flood half of shoal-synflood: spoofed TCP SYNs built straight into
// mbufs (lib/wire emit, software checksums, so any receiver accepts them),
// each from a random address of a source network and a random port, with
// the options a Linux client offers (MSS, SACK-permitted, timestamps,
// window scale), so the target answers with its full SYN-ACK -- a cookie
// one once its backlog is full (RFC 4987 3.6).
//
// Not thread-safe: one generator per lcore. The rate control is a token
// bucket on the TSC.
#include <cstdint>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "wire/addr.hpp"

namespace shoal::synflood {

struct SynGeneratorParams {
  wire::MacAddr src_mac, dst_mac;
  wire::Ipv4Addr dst;
  uint16_t dst_port = 0;
  // Spoofed sources: a random host of source_net/source_prefix (198.18.128.0/17
  // by default: the benchmarking range, away from the legit clients).
  wire::Ipv4Addr source_net = wire::Ipv4Addr::from_octets(198, 18, 128, 0);
  uint8_t source_prefix = 17;
  uint64_t seed = 1;
};

class SynGenerator {
public:
  SynGenerator(const SynGeneratorParams &, rte_mempool *pool);

  // Allocates and fills up to n SYN frames into out; returns how many (fewer
  // when the pool is short).
  uint16_t build(rte_mbuf **out, uint16_t n);
  // Frames built so far.
  uint64_t built() const { return built_; }

  // The frame size (Ethernet + IPv4 + TCP with options).
  static constexpr uint16_t kFrameLen = 14 + 20 + 40;

private:
  uint64_t next_random(); // xorshift64*
  void fill(uint8_t *frame);

  SynGeneratorParams p_;
  rte_mempool *pool_;
  uint32_t host_mask_;
  uint64_t state_;
  uint64_t built_ = 0;
};

// Token bucket on the TSC: rate tokens per second, at most `burst` banked.
// rate 0 = unlimited (take() grants what is asked).
class TokenBucket {
public:
  TokenBucket(uint64_t rate, uint32_t burst);
  // Tokens available now, at most `want`; they are consumed.
  uint32_t take(uint32_t want, uint64_t tsc_now);
  // Returns tokens not used (the wire refused the frames).
  void give_back(uint32_t n) { tokens_ += double(n); }
  uint64_t rate() const { return rate_; }

private:
  uint64_t rate_;
  double per_cycle_;
  double tokens_ = 0;
  double burst_;
  uint64_t last_ = 0;
};

} // namespace shoal::synflood
