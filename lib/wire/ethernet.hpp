#pragma once
// Ethernet II framing (IEEE 802.3 with an EtherType, no 802.1Q tag handling:
// a tagged frame parses with ethertype 0x8100 and the caller drops it).
#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/addr.hpp"
#include "wire/parse_error.hpp"

namespace shoal::wire {

constexpr size_t kEthernetHeaderLen = 14;
enum : uint16_t { kEtherTypeIpv4 = 0x0800, kEtherTypeArp = 0x0806, kEtherTypeIpv6 = 0x86DD };

struct EthernetRepr {
  MacAddr dst, src;
  uint16_t ethertype = 0;
  bool operator==(const EthernetRepr &) const = default;
};

// Field offsets within the header.
namespace ethernet_field {
constexpr size_t kDst = 0, kSrc = 6, kEtherType = 12;
}

// frame = the whole frame; the payload is frame.subspan(kEthernetHeaderLen).
// Rejects: truncated (< 14 bytes).
ParseError parse_ethernet(std::span<const uint8_t> frame, EthernetRepr &out);
// Writes the 14-byte header. Precondition: out.size() >= kEthernetHeaderLen.
void emit_ethernet(const EthernetRepr &, std::span<uint8_t> out);

} // namespace shoal::wire
