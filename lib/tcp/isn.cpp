#include "tcp/isn.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <sodium.h>

namespace shoal::tcp {

namespace {
void sodium_once() {
  // sodium_init is idempotent and thread-safe; -1 means no entropy source.
  if (sodium_init() < 0) {
    std::fprintf(stderr, "shoal: sodium_init failed\n");
    std::abort();
  }
}
} // namespace

SecretKey::SecretKey(std::optional<uint64_t> seed) {
  static_assert(crypto_shorthash_KEYBYTES == 16);
  sodium_once();
  if (seed) {
    // Expand the seed into a full key with a fixed-key hash, so seeds that
    // differ in one bit give unrelated keys.
    unsigned char fixed[crypto_shorthash_KEYBYTES] = {'s', 'h', 'o', 'a', 'l', '-', 'i', 's',
                                                      'n', '-', 's', 'e', 'e', 'd', '0', '1'};
    unsigned char in[9];
    for (uint8_t half = 0; half < 2; ++half) {
      std::memcpy(in, &*seed, 8);
      in[8] = half;
      crypto_shorthash(key_.data() + 8 * half, in, sizeof in, fixed);
    }
  } else {
    randombytes_buf(key_.data(), key_.size());
  }
}

uint64_t SecretKey::prf(const FourTuple &t, uint8_t domain) const {
  unsigned char in[13];
  std::memcpy(in + 0, &t.local_addr.v, 4);
  std::memcpy(in + 4, &t.remote_addr.v, 4);
  std::memcpy(in + 8, &t.local_port, 2);
  std::memcpy(in + 10, &t.remote_port, 2);
  in[12] = domain;
  unsigned char out[crypto_shorthash_BYTES];
  crypto_shorthash(out, in, sizeof in, key_.data());
  uint64_t v;
  std::memcpy(&v, out, sizeof v);
  return v;
}

uint32_t SecretKey::isn(const FourTuple &t, Instant now) const {
  // M: the 4 us timer of RFC 793/6528, wrapping every ~4.55 hours.
  uint32_t m = static_cast<uint32_t>(to_ns(now) / 4000);
  return m + static_cast<uint32_t>(prf(t, 1));
}

uint32_t SecretKey::ts_offset(const FourTuple &t) const {
  return static_cast<uint32_t>(prf(t, 2));
}

uint64_t SecretKey::table_key() const {
  uint64_t v;
  std::memcpy(&v, key_.data(), sizeof v);
  return v ^ 0x5bd1e9955bd1e995ull;
}

} // namespace shoal::tcp
