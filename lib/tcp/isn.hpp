#pragma once
// Initial sequence numbers (RFC 6528 section 3):
//   ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
// M is a 4-microsecond clock; F is SipHash-2-4 (libsodium crypto_shorthash)
// keyed with a secret chosen at random when the engine starts, or derived
// from EngineConfig::secret_seed for deterministic tests.
#include <array>
#include <cstdint>
#include <optional>

#include "common/time.hpp"
#include "tcp/engine.hpp"

namespace shoal::tcp {

class SecretKey {
public:
  // Random (libsodium) unless a seed is given.
  explicit SecretKey(std::optional<uint64_t> seed);

  // RFC 6528: M + F(4-tuple).
  uint32_t isn(const FourTuple &, Instant now) const;
  // Per-connection offset of the TSval clock (RFC 7323 5.4, RFC 7323 7.1):
  // a keyed hash, so TSvals reveal nothing about uptime.
  uint32_t ts_offset(const FourTuple &) const;
  // Keys the flow tables' hash (hash-flooding resistance).
  uint64_t table_key() const;

private:
  uint64_t prf(const FourTuple &, uint8_t domain) const;
  std::array<unsigned char, 16> key_{};
};

} // namespace shoal::tcp
