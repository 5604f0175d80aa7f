#include "wire/arp.hpp"

#include <cassert>
#include <cstring>

#include "wire/bytes.hpp"
#include "wire/ethernet.hpp"

namespace shoal::wire {

ParseError parse_arp(std::span<const uint8_t> bytes, ArpRepr &out) {
  if (bytes.size() < kArpLen)
    return ParseError::truncated;
  const uint8_t *p = bytes.data();
  // RFC 826 "Packet Reception": only the (hardware, protocol) pair we speak.
  if (load_be16(p + arp_field::kHardwareType) != kArpHardwareEthernet)
    return ParseError::bad_hardware_type;
  if (load_be16(p + arp_field::kProtocolType) != kEtherTypeIpv4)
    return ParseError::bad_protocol_type;
  if (p[arp_field::kHardwareLen] != 6 || p[arp_field::kProtocolLen] != 4)
    return ParseError::bad_address_length;
  const uint16_t op = load_be16(p + arp_field::kOp);
  if (op != static_cast<uint16_t>(ArpOp::Request) && op != static_cast<uint16_t>(ArpOp::Reply))
    return ParseError::bad_arp_op;
  out.op = static_cast<ArpOp>(op);
  std::memcpy(out.sender_mac.b.data(), p + arp_field::kSenderMac, 6);
  out.sender_ip = Ipv4Addr::from_bytes(p + arp_field::kSenderIp);
  std::memcpy(out.target_mac.b.data(), p + arp_field::kTargetMac, 6);
  out.target_ip = Ipv4Addr::from_bytes(p + arp_field::kTargetIp);
  return ParseError::ok;
}

void emit_arp(const ArpRepr &repr, std::span<uint8_t> out) {
  assert(out.size() >= kArpLen);
  uint8_t *p = out.data();
  store_be16(p + arp_field::kHardwareType, kArpHardwareEthernet);
  store_be16(p + arp_field::kProtocolType, kEtherTypeIpv4);
  p[arp_field::kHardwareLen] = 6;
  p[arp_field::kProtocolLen] = 4;
  store_be16(p + arp_field::kOp, static_cast<uint16_t>(repr.op));
  std::memcpy(p + arp_field::kSenderMac, repr.sender_mac.b.data(), 6);
  repr.sender_ip.to_bytes(p + arp_field::kSenderIp);
  std::memcpy(p + arp_field::kTargetMac, repr.target_mac.b.data(), 6);
  repr.target_ip.to_bytes(p + arp_field::kTargetIp);
}

} // namespace shoal::wire
