#include "wire/addr.hpp"

#include <cstdio>

#include "wire/bytes.hpp"

namespace shoal::wire {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

} // namespace

std::string MacAddr::to_string() const {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4],
                b[5]);
  return buf;
}

std::optional<MacAddr> MacAddr::parse(std::string_view text) {
  // Exactly "xx:xx:xx:xx:xx:xx": 6 pairs of hex digits, 5 separators.
  if (text.size() != 17)
    return std::nullopt;
  const char sep = text[2];
  if (sep != ':' && sep != '-')
    return std::nullopt;
  MacAddr m;
  for (size_t i = 0; i < 6; ++i) {
    const size_t at = i * 3;
    if (i > 0 && text[at - 1] != sep)
      return std::nullopt;
    const int hi = hex_value(text[at]), lo = hex_value(text[at + 1]);
    if (hi < 0 || lo < 0)
      return std::nullopt;
    m.b[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return m;
}

Ipv4Addr Ipv4Addr::from_bytes(const uint8_t *p) {
  return Ipv4Addr{load_be32(p)};
}

void Ipv4Addr::to_bytes(uint8_t *p) const {
  store_be32(p, v);
}

uint32_t Ipv4Addr::to_be() const {
  return rte_cpu_to_be_32(v);
}

Ipv4Addr Ipv4Addr::from_be(uint32_t be) {
  return Ipv4Addr{rte_be_to_cpu_32(be)};
}

std::string Ipv4Addr::to_string() const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", (v >> 24) & 0xffu, (v >> 16) & 0xffu,
                (v >> 8) & 0xffu, v & 0xffu);
  return buf;
}

std::optional<Ipv4Addr> Ipv4Addr::parse(std::string_view dotted) {
  uint32_t value = 0;
  size_t i = 0;
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (i >= dotted.size() || dotted[i] != '.')
        return std::nullopt;
      ++i;
    }
    uint32_t n = 0;
    size_t digits = 0;
    // "010" is octal to inet_aton and invalid to inet_pton: reject leading
    // zeros so a config never silently means another address.
    if (i + 1 < dotted.size() && dotted[i] == '0' && dotted[i + 1] >= '0' && dotted[i + 1] <= '9')
      return std::nullopt;
    while (i < dotted.size() && dotted[i] >= '0' && dotted[i] <= '9') {
      n = n * 10 + static_cast<uint32_t>(dotted[i] - '0');
      ++i;
      if (++digits > 3)
        return std::nullopt;
    }
    if (digits == 0 || n > 255)
      return std::nullopt;
    value = (value << 8) | n;
  }
  if (i != dotted.size())
    return std::nullopt;
  return Ipv4Addr{value};
}

} // namespace shoal::wire
