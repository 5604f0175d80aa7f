#include "wire/ethernet.hpp"

#include <cassert>
#include <cstring>

#include "wire/bytes.hpp"

namespace shoal::wire {

ParseError parse_ethernet(std::span<const uint8_t> frame, EthernetRepr &out) {
  if (frame.size() < kEthernetHeaderLen)
    return ParseError::truncated;
  const uint8_t *p = frame.data();
  std::memcpy(out.dst.b.data(), p + ethernet_field::kDst, 6);
  std::memcpy(out.src.b.data(), p + ethernet_field::kSrc, 6);
  out.ethertype = load_be16(p + ethernet_field::kEtherType);
  return ParseError::ok;
}

void emit_ethernet(const EthernetRepr &repr, std::span<uint8_t> out) {
  assert(out.size() >= kEthernetHeaderLen);
  uint8_t *p = out.data();
  std::memcpy(p + ethernet_field::kDst, repr.dst.b.data(), 6);
  std::memcpy(p + ethernet_field::kSrc, repr.src.b.data(), 6);
  store_be16(p + ethernet_field::kEtherType, repr.ethertype);
}

} // namespace shoal::wire
