#pragma once
// Sequence numbers (RFC 9293 3.4): 32-bit values compared modulo 2^32.
//
// Seq is a strong type so that a plain `<` between two sequence numbers does
// not compile; comparisons go through seq_lt/seq_le/... which take the wrap
// into account ("a < b" iff (int32_t)(a - b) < 0, valid while the two are
// less than 2^31 apart, which the window limits of RFC 7323 2.3 guarantee).
#include <cstdint>

namespace shoal::tcp {

struct Seq {
  uint32_t v = 0;

  constexpr Seq() = default;
  constexpr explicit Seq(uint32_t value) : v(value) {}

  constexpr bool operator==(const Seq &) const = default;
  // Deliberately no <, <=, >, >=: use seq_lt and friends.

  constexpr Seq operator+(uint32_t n) const { return Seq{v + n}; }
  constexpr Seq operator-(uint32_t n) const { return Seq{v - n}; }
  constexpr Seq &operator+=(uint32_t n) {
    v += n;
    return *this;
  }
  // Signed distance a - b (positive when a is after b).
  constexpr int32_t operator-(Seq b) const { return static_cast<int32_t>(v - b.v); }
};

constexpr bool seq_lt(Seq a, Seq b) {
  return (a - b) < 0;
}
constexpr bool seq_le(Seq a, Seq b) {
  return (a - b) <= 0;
}
constexpr bool seq_gt(Seq a, Seq b) {
  return (a - b) > 0;
}
constexpr bool seq_ge(Seq a, Seq b) {
  return (a - b) >= 0;
}
constexpr Seq seq_max(Seq a, Seq b) {
  return seq_lt(a, b) ? b : a;
}
constexpr Seq seq_min(Seq a, Seq b) {
  return seq_lt(a, b) ? a : b;
}

// lo <= s < lo + len (the RFC 9293 3.4 window test; empty window holds nothing).
constexpr bool seq_in_window(Seq s, Seq lo, uint32_t len) {
  return static_cast<uint32_t>(s.v - lo.v) < len;
}
// Number of bytes from a to b (b after or equal to a).
constexpr uint32_t seq_distance(Seq from, Seq to) {
  return to.v - from.v;
}

// Timestamps (RFC 7323 5.2) use the same modular comparison.
constexpr bool ts_lt(uint32_t a, uint32_t b) {
  return static_cast<int32_t>(a - b) < 0;
}

} // namespace shoal::tcp
