#pragma once
// Helpers for the wire tests: packets written as hex the way they appear in an
// RFC diagram or a tcpdump -x dump, an independent RFC 1071 checksum to check
// the DPDK-backed one against, and a hex dump for failure traces.
#include <cstdint>
#include <cstdio>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "wire/addr.hpp"
#include "wire/parse_error.hpp"

namespace shoal::wire {
// So gtest prints "bad_checksum" rather than a byte value.
inline void PrintTo(ParseError e, std::ostream *os) {
  *os << to_string(e);
}
} // namespace shoal::wire

namespace shoal::wire::test {

using Bytes = std::vector<uint8_t>;

// "45 00 00 73" or "45000073": whitespace ignored, two hex digits per byte.
inline Bytes hex(std::string_view text) {
  Bytes out;
  int hi = -1;
  for (char c : text) {
    int v;
    if (c >= '0' && c <= '9')
      v = c - '0';
    else if (c >= 'a' && c <= 'f')
      v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      v = c - 'A' + 10;
    else if (c == ' ' || c == '\n' || c == '|')
      continue;
    else
      throw std::invalid_argument("hex: bad character");
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<uint8_t>(hi * 16 + v));
      hi = -1;
    }
  }
  if (hi >= 0)
    throw std::invalid_argument("hex: odd number of digits");
  return out;
}

// "0000: 45 00 00 73 ..." 16 bytes a line, for failure messages.
inline std::string dump(std::span<const uint8_t> b) {
  std::string s;
  char buf[32];
  for (size_t i = 0; i < b.size(); ++i) {
    if (i % 16 == 0) {
      std::snprintf(buf, sizeof buf, "%s%04zx:", i ? "\n" : "", i);
      s += buf;
    }
    std::snprintf(buf, sizeof buf, " %02x", b[i]);
    s += buf;
  }
  return s;
}

// RFC 1071 straight from the text: big-endian 16-bit words, end-around carry.
inline uint16_t reference_checksum(std::span<const uint8_t> b, uint32_t initial = 0) {
  uint32_t sum = initial;
  for (size_t i = 0; i + 1 < b.size(); i += 2)
    sum += static_cast<uint32_t>((b[i] << 8) | b[i + 1]);
  if (b.size() % 2)
    sum += static_cast<uint32_t>(b.back() << 8);
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

inline uint16_t reference_tcp_checksum(Ipv4Addr src, Ipv4Addr dst, std::span<const uint8_t> seg) {
  uint32_t sum = (src.v >> 16) + (src.v & 0xffff) + (dst.v >> 16) + (dst.v & 0xffff) + 6 +
                 static_cast<uint32_t>(seg.size());
  return reference_checksum(seg, sum);
}

// Stores a correct TCP checksum into a segment (computed by the reference).
inline void fix_tcp_checksum(Bytes &seg, Ipv4Addr src, Ipv4Addr dst) {
  seg[16] = seg[17] = 0;
  const uint16_t c = reference_tcp_checksum(src, dst, seg);
  seg[16] = static_cast<uint8_t>(c >> 8);
  seg[17] = static_cast<uint8_t>(c);
}

// Stores a correct Internet checksum at `offset` over the whole of `b`.
inline void fix_checksum_at(Bytes &b, size_t offset, size_t len) {
  b[offset] = b[offset + 1] = 0;
  const uint16_t c = reference_checksum(std::span<const uint8_t>(b).first(len));
  b[offset] = static_cast<uint8_t>(c >> 8);
  b[offset + 1] = static_cast<uint8_t>(c);
}

constexpr Ipv4Addr kHostA = Ipv4Addr::from_octets(198, 18, 0, 1);
constexpr Ipv4Addr kHostB = Ipv4Addr::from_octets(198, 18, 0, 2);

} // namespace shoal::wire::test
