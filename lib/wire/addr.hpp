#pragma once
// Link and network addresses as values. Ipv4Addr holds host byte order so
// that comparisons, ranges and hashing read naturally; conversion to network
// order happens only in emit/parse.
#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace shoal::wire {

struct MacAddr {
  std::array<uint8_t, 6> b{};

  bool operator==(const MacAddr &) const = default;
  // "02:00:00:00:00:01" (lower-case hex).
  std::string to_string() const;
  // "aa:bb:cc:dd:ee:ff" (hex, either case, ':' or '-' separators).
  static std::optional<MacAddr> parse(std::string_view text);

  static constexpr MacAddr broadcast() { return MacAddr{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
  static constexpr MacAddr zero() { return MacAddr{}; }
  constexpr bool is_broadcast() const { return *this == broadcast(); }
  // I/G bit of the first octet (IEEE 802): group addresses, broadcast included.
  constexpr bool is_multicast() const { return (b[0] & 0x01) != 0; }
  constexpr bool is_zero() const { return *this == zero(); }
};

struct Ipv4Addr {
  uint32_t v = 0; // host byte order: 10.0.0.1 is 0x0a000001

  bool operator==(const Ipv4Addr &) const = default;
  auto operator<=>(const Ipv4Addr &) const = default;

  static constexpr Ipv4Addr from_octets(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    return Ipv4Addr{(uint32_t{a} << 24) | (uint32_t{b} << 16) | (uint32_t{c} << 8) | d};
  }
  // Network-order bytes, as they appear in a header.
  static Ipv4Addr from_bytes(const uint8_t *p);
  void to_bytes(uint8_t *p) const;
  // The value as stored in rte_ipv4_hdr::src_addr (rte_be32_t).
  uint32_t to_be() const;
  static Ipv4Addr from_be(uint32_t be);

  // "10.0.0.1".
  std::string to_string() const;
  // Strict dotted quad: four decimal octets 0..255, no leading '+'/spaces,
  // at most 3 digits each. nullopt otherwise.
  static std::optional<Ipv4Addr> parse(std::string_view dotted);

  static constexpr Ipv4Addr any() { return Ipv4Addr{0}; }
  static constexpr Ipv4Addr broadcast() { return Ipv4Addr{0xffffffffu}; }
  constexpr bool is_unspecified() const { return v == 0; }
  constexpr bool is_broadcast() const { return v == 0xffffffffu; }
  constexpr bool is_multicast() const { return (v >> 28) == 0xe; } // 224/4
  constexpr bool is_loopback() const { return (v >> 24) == 127; }  // 127/8
};

} // namespace shoal::wire

template <> struct std::hash<shoal::wire::MacAddr> {
  size_t operator()(const shoal::wire::MacAddr &m) const noexcept {
    uint64_t x = 0;
    for (uint8_t byte : m.b)
      x = (x << 8) | byte;
    return std::hash<uint64_t>{}(x);
  }
};

template <> struct std::hash<shoal::wire::Ipv4Addr> {
  size_t operator()(const shoal::wire::Ipv4Addr &a) const noexcept {
    return std::hash<uint32_t>{}(a.v);
  }
};
