// SYN cookies: see syn_cookie.hpp for the layout and RFC 4987 3.6.
#include "tcp/syn_cookie.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <sodium.h>

#include "tcp/seq.hpp"

namespace shoal::tcp {

namespace {
constexpr uint32_t kCounterBits = 5;
constexpr uint32_t kCounterShift = 27;
constexpr uint32_t kMssShift = 24;
constexpr uint32_t kMacMask = 0x00ffffffu;

void sodium_ready() {
  if (sodium_init() < 0) {
    std::fprintf(stderr, "shoal: sodium_init failed\n");
    std::abort();
  }
}

uint64_t siphash(const unsigned char *in, size_t n, const unsigned char *key) {
  static_assert(crypto_shorthash_BYTES == 8 && crypto_shorthash_KEYBYTES == 16);
  unsigned char out[crypto_shorthash_BYTES];
  crypto_shorthash(out, in, n, key);
  uint64_t v;
  std::memcpy(&v, out, sizeof v);
  return v;
}

// The 4-tuple and client ISN, packed as the hash input prefix (16 bytes).
void pack_tuple(unsigned char *p, const FourTuple &t, uint32_t client_isn) {
  std::memcpy(p + 0, &t.local_addr.v, 4);
  std::memcpy(p + 4, &t.remote_addr.v, 4);
  std::memcpy(p + 8, &t.local_port, 2);
  std::memcpy(p + 10, &t.remote_port, 2);
  std::memcpy(p + 12, &client_isn, 4);
}
} // namespace

const char *to_string(CookieVerdict v) {
  switch (v) {
  case CookieVerdict::ok:
    return "ok";
  case CookieVerdict::stale:
    return "stale";
  case CookieVerdict::bad_mss_index:
    return "bad_mss_index";
  case CookieVerdict::bad_hash:
    return "bad_hash";
  }
  return "?";
}

uint32_t CookieOptions::ts_bits() const {
  uint32_t bits = snd_wscale ? std::min<uint8_t>(*snd_wscale, 14) : kNoWscale;
  if (sack_permitted)
    bits |= 0x10;
  return bits;
}

CookieOptions CookieOptions::from_ts_bits(uint32_t bits) {
  CookieOptions o;
  o.timestamps = true;
  if ((bits & 0xf) != kNoWscale)
    o.snd_wscale = static_cast<uint8_t>(std::min<uint32_t>(bits & 0xf, 14));
  o.sack_permitted = (bits & 0x10) != 0;
  return o;
}

SynCookies::SynCookies(std::optional<uint64_t> seed, Duration rotation)
    : rotation_(rotation > Duration::zero() ? rotation : std::chrono::seconds(60)),
      seeded_(seed.has_value()) {
  sodium_ready();
  if (seed) {
    const unsigned char fixed[crypto_shorthash_KEYBYTES] = {'s', 'h', 'o', 'a', 'l', '-', 's', 'y',
                                                            'n', 'c', 'o', 'o', 'k', 'i', 'e', '1'};
    unsigned char in[9];
    std::memcpy(in, &*seed, 8);
    for (uint8_t half = 0; half < 4; ++half) {
      in[8] = half;
      uint64_t v = siphash(in, sizeof in, fixed);
      std::memcpy((half < 2 ? seed_key_.data() : mask_key_.data()) + 8 * (half & 1), &v, 8);
    }
  } else {
    randombytes_buf(mask_key_.data(), mask_key_.size());
  }
}

SynCookies::Key SynCookies::derive(uint64_t counter) const {
  Key k;
  if (!seeded_) {
    randombytes_buf(k.data(), k.size());
    return k;
  }
  unsigned char in[9];
  std::memcpy(in, &counter, 8);
  for (uint8_t half = 0; half < 2; ++half) {
    in[8] = half;
    uint64_t v = siphash(in, sizeof in, seed_key_.data());
    std::memcpy(k.data() + 8 * half, &v, 8);
  }
  return k;
}

void SynCookies::rotate(Instant now) {
  const uint64_t c = static_cast<uint64_t>(std::max<int64_t>(to_ns(now), 0)) /
                     static_cast<uint64_t>(rotation_.count());
  if (c == counter_)
    return;
  // Each period has its own key; a period's slot is refilled when the
  // counter reaches it. Unseeded, a period never seen gets a fresh random
  // key, under which nothing was issued (so nothing validates).
  for (uint64_t i = 0; i < kKeysKept; ++i) {
    const uint64_t k = c - (kKeysKept - 1) + i; // wraps harmlessly near 0
    PeriodKey &slot = keys_[k % kKeysKept];
    if (slot.counter != k)
      slot = PeriodKey{k, derive(k)};
  }
  counter_ = c;
}

uint8_t SynCookies::mss_index(std::optional<uint16_t> peer_mss) {
  const uint16_t mss = peer_mss.value_or(kCookieMssTable[0]);
  uint8_t i = 0;
  while (i + 1u < kCookieMssTable.size() && kCookieMssTable[i + 1] <= mss)
    ++i;
  return i;
}

uint32_t SynCookies::mac(const Key &k, const FourTuple &t, uint32_t client_isn, uint64_t counter,
                         uint8_t mss_index, uint32_t ts_bits) const {
  unsigned char in[26];
  pack_tuple(in, t, client_isn);
  std::memcpy(in + 16, &counter, 8);
  in[24] = mss_index;
  in[25] = static_cast<unsigned char>(ts_bits);
  return static_cast<uint32_t>(siphash(in, sizeof in, k.data())) & kMacMask;
}

uint32_t SynCookies::mask(const FourTuple &t, uint32_t client_isn) const {
  unsigned char in[16];
  pack_tuple(in, t, client_isn);
  return static_cast<uint32_t>(siphash(in, sizeof in, mask_key_.data()));
}

// The option bits bound into the mac: 0x20 marks "timestamps in use" so a
// cookie issued with timestamps does not validate for an ACK without them.
static uint32_t bound_bits(const CookieOptions &o) {
  return o.timestamps ? 0x20 | o.ts_bits() : 0;
}

uint32_t SynCookies::make(const FourTuple &t, uint32_t client_isn, uint8_t mss_index,
                          const CookieOptions &opts, Instant now) {
  rotate(now);
  const uint32_t plain =
      static_cast<uint32_t>(counter_ & ((1u << kCounterBits) - 1)) << kCounterShift |
      uint32_t{mss_index} << kMssShift |
      mac(key_of(counter_).key, t, client_isn, counter_, mss_index, bound_bits(opts));
  return plain + mask(t, client_isn);
}

CookieCheck SynCookies::check(const FourTuple &t, uint32_t client_isn, uint32_t cookie,
                              const CookieOptions &opts, Instant now) {
  rotate(now);
  CookieCheck r;
  const uint32_t plain = cookie - mask(t, client_isn);
  const uint32_t tbits = plain >> kCounterShift;
  const auto idx = static_cast<uint8_t>((plain >> kMssShift) & 0x7);
  if (idx >= kCookieMssTable.size()) {
    r.verdict = CookieVerdict::bad_mss_index;
    return r;
  }
  // The period whose low bits match: current, previous (valid), or the two
  // before (stale if the mac proves it genuine).
  for (uint64_t age = 0; age < kKeysKept; ++age) {
    const uint64_t k = counter_ - age;
    if ((k & ((1u << kCounterBits) - 1)) != tbits)
      continue;
    if (mac(key_of(k).key, t, client_isn, k, idx, bound_bits(opts)) != (plain & kMacMask))
      break;
    r.verdict = age < 2 ? CookieVerdict::ok : CookieVerdict::stale;
    r.mss = kCookieMssTable[idx];
    return r;
  }
  r.verdict = CookieVerdict::bad_hash;
  return r;
}

uint32_t SynCookies::encode_tsval(uint32_t tsval, const CookieOptions &opts) {
  uint32_t v = (tsval & ~CookieOptions::kTsMask) | opts.ts_bits();
  if (ts_lt(tsval, v))
    v -= 1u << CookieOptions::kTsBits;
  return v;
}

} // namespace shoal::tcp
