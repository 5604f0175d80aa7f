#pragma once
// ARP (RFC 826) for Ethernet + IPv4 only, the one combination shoal speaks.
// Any other hardware/protocol type or address length is rejected with a
// reason, so the shard can count it.
#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/addr.hpp"
#include "wire/parse_error.hpp"

namespace shoal::wire {

constexpr size_t kArpLen = 28;
constexpr uint16_t kArpHardwareEthernet = 1;

enum class ArpOp : uint16_t { Request = 1, Reply = 2 };

struct ArpRepr {
  ArpOp op = ArpOp::Request;
  MacAddr sender_mac;
  Ipv4Addr sender_ip;
  MacAddr target_mac;
  Ipv4Addr target_ip;
  bool operator==(const ArpRepr &) const = default;
};

namespace arp_field {
constexpr size_t kHardwareType = 0, kProtocolType = 2, kHardwareLen = 4, kProtocolLen = 5, kOp = 6,
                 kSenderMac = 8, kSenderIp = 14, kTargetMac = 18, kTargetIp = 24;
}

// bytes = the Ethernet payload (trailing padding is fine).
// Rejects: truncated, bad_hardware_type, bad_protocol_type, bad_address_length, bad_arp_op.
ParseError parse_arp(std::span<const uint8_t> bytes, ArpRepr &out);
// Writes the 28-byte packet. Precondition: out.size() >= kArpLen.
void emit_arp(const ArpRepr &, std::span<uint8_t> out);

} // namespace shoal::wire
