#pragma once
// SYN cookies (RFC 4987 section 3.6): when a listener's SYN backlog is full,
// the SYN-ACK's sequence number carries what the half-open entry would have
// held, authenticated with a secret, so the listener keeps no state until the
// final ACK proves the peer owns its address.
//
// Read first: RFC 4987 3.6, RFC 9293 3.10.7.2, RFC 7323 (timestamps).
//
// The cookie (our ISS) is 32 bits:
//
//   plain  = t (5 bits) | mss_index (3 bits) | mac (24 bits)
//   cookie = plain + mask(tuple, client ISN)
//
//   t          the rotation counter (now / rotation period) modulo 32
//   mss_index  index into kCookieMssTable (the peer's MSS, rounded down)
//   mac        24 bits of SipHash-2-4 (libsodium crypto_shorthash) keyed with
//              the secret of counter t, over the 4-tuple, the client's ISN,
//              the full counter, mss_index and the timestamp option bits
//   mask       32 bits of SipHash keyed with a per-engine key over the tuple
//              and client ISN: every bit of the ISS looks random (RFC 6528)
//
// The secret rotates every period (one minute by default); the previous
// secret is kept, so a cookie is valid for between one and two periods. Two
// older secrets are kept too, only to tell a genuine but expired cookie
// ("stale") from a forged one ("bad_hash") in the counters.
//
// When the SYN offered timestamps (RFC 7323), window scale and
// SACK-permitted ride in the low 5 bits of our SYN-ACK's TSval, which the
// peer echoes in TSecr (the scheme Linux uses). The mac covers those bits,
// so a mangled TSecr fails the hash check. Without timestamps they cannot be
// carried and are not offered.
#include <array>
#include <cstdint>
#include <optional>

#include "common/time.hpp"
#include "tcp/engine.hpp"

namespace shoal::tcp {

// Peer MSS values a cookie can express: the largest entry not above the
// peer's MSS is used (536 when the peer sent less or nothing, as RFC 9293
// 3.7.1's default). The 3-bit index allows up to 8 entries.
inline constexpr std::array<uint16_t, 5> kCookieMssTable = {536, 1300, 1440, 1460, 8960};

// Window scale and SACK-permitted as carried in the low bits of TSval.
struct CookieOptions {
  bool timestamps = false;               // the SYN offered (and the ACK echoes) timestamps
  std::optional<uint8_t> snd_wscale;     // the peer's shift (0..14), if it offered scaling
  bool sack_permitted = false;           // the peer offered SACK
  static constexpr uint32_t kTsBits = 5; // low TSval bits used
  static constexpr uint32_t kTsMask = 0x1f;
  static constexpr uint8_t kNoWscale = 0xf; // "no window scaling" in the 4-bit field

  // The 5 TSval bits: bits 0-3 window shift (15: none), bit 4 SACK.
  uint32_t ts_bits() const;
  static CookieOptions from_ts_bits(uint32_t bits);
};

enum class CookieVerdict : uint8_t {
  ok,
  stale,         // genuine, but issued two or three periods ago
  bad_mss_index, // the index points past kCookieMssTable (mangled or forged)
  bad_hash,      // forged, mangled, or from no recent period
};
const char *to_string(CookieVerdict);

struct CookieCheck {
  CookieVerdict verdict = CookieVerdict::bad_hash;
  uint16_t mss = 0; // kCookieMssTable[mss_index] when ok
};

class SynCookies {
public:
  // Keys are random (libsodium) unless `seed` is given (deterministic tests).
  SynCookies(std::optional<uint64_t> seed, Duration rotation);

  // Index into kCookieMssTable for a peer MSS (nullopt: no MSS option).
  static uint8_t mss_index(std::optional<uint16_t> peer_mss);

  // The ISS for a SYN from `t` with sequence number `client_isn`.
  uint32_t make(const FourTuple &t, uint32_t client_isn, uint8_t mss_index,
                const CookieOptions &opts, Instant now);
  // Checks `cookie` (= SEG.ACK - 1 of the final ACK; client_isn = SEG.SEQ - 1).
  CookieCheck check(const FourTuple &t, uint32_t client_isn, uint32_t cookie,
                    const CookieOptions &opts, Instant now);

  // TSval for a cookie SYN-ACK: the connection's clock value `tsval` with its
  // low bits replaced by the option bits, moved back by 32 if that put it in
  // the future (TSvals must not run ahead of the clock the connection uses).
  static uint32_t encode_tsval(uint32_t tsval, const CookieOptions &opts);

  uint64_t counter() const { return counter_; }
  Duration rotation() const { return rotation_; }

private:
  using Key = std::array<unsigned char, 16>;
  static constexpr uint64_t kKeysKept = 4; // current, previous, and two for "stale"
  struct PeriodKey {
    uint64_t counter = UINT64_MAX;
    Key key{};
  };
  void rotate(Instant now);
  Key derive(uint64_t counter) const;
  const PeriodKey &key_of(uint64_t counter) const { return keys_[counter % kKeysKept]; }
  uint32_t mac(const Key &, const FourTuple &, uint32_t client_isn, uint64_t counter,
               uint8_t mss_index, uint32_t ts_bits) const;
  uint32_t mask(const FourTuple &, uint32_t client_isn) const;

  Duration rotation_;
  bool seeded_;
  Key seed_key_{}; // seeded mode: the keys are derived from it and the counter
  Key mask_key_{};
  uint64_t counter_ = UINT64_MAX;
  std::array<PeriodKey, kKeysKept> keys_{}; // indexed by counter % kKeysKept
};

} // namespace shoal::tcp
