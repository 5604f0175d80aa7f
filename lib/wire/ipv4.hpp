#pragma once
// IPv4 header (RFC 791 3.1). Options are accepted on input and skipped (the
// payload starts at IHL*4); shoal never sends options.
#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/addr.hpp"
#include "wire/parse_error.hpp"

namespace shoal::wire {

constexpr size_t kIpv4MinHeaderLen = 20;
constexpr size_t kIpv4MaxHeaderLen = 60;
enum : uint8_t { kIpProtoIcmp = 1, kIpProtoTcp = 6, kIpProtoUdp = 17 };

namespace ipv4_field {
constexpr size_t kVersionIhl = 0, kTos = 1, kTotalLength = 2, kIdent = 4, kFlagsFragment = 6,
                 kTtl = 8, kProtocol = 9, kChecksum = 10, kSrc = 12, kDst = 16;
constexpr uint16_t kFlagDontFragment = 0x4000, kFlagMoreFragments = 0x2000,
                   kFragmentOffsetMask = 0x1fff;
} // namespace ipv4_field

struct Ipv4Repr {
  Ipv4Addr src, dst;
  uint8_t protocol = 0;
  uint8_t ttl = 64;
  uint8_t tos = 0;
  uint16_t ident = 0;
  bool dont_fragment = true;
  bool more_fragments = false;
  uint16_t fragment_offset = 0; // in bytes (the field counts 8-byte units)
  uint8_t header_len = 20;      // parse: IHL*4 (options are accepted and skipped); emit: always 20
  uint16_t payload_len = 0;     // total_length - header_len
  bool is_fragment() const { return more_fragments || fragment_offset != 0; }
  bool operator==(const Ipv4Repr &) const = default;
};

// bytes = the IP datagram as received (may be longer than total_length:
// Ethernet padding is fine). The payload is
// bytes.subspan(out.header_len, out.payload_len).
// verify_checksum=false when the NIC already validated it (RTE_MBUF_F_RX_IP_CKSUM_GOOD).
// Rejects: truncated, bad_version, bad_ihl, bad_total_length, bad_checksum.
ParseError parse_ipv4(std::span<const uint8_t> bytes, bool verify_checksum, Ipv4Repr &out);

// The same checks for a datagram that is not contiguous (an mbuf chain):
// `header` holds at least the IPv4 header (its first bytes: the first
// segment of the chain), `available` is how many datagram bytes exist in
// all (pkt_len). total_length is checked against `available`, IHL against
// `header` (a header that straddles segments is reported as bad_ihl; the
// caller makes it contiguous first if it wants it parsed).
ParseError parse_ipv4_header(std::span<const uint8_t> header, size_t available,
                             bool verify_checksum, Ipv4Repr &out);

// Writes a 20-byte header (total_length = 20 + payload_len). compute_checksum
// = false leaves the field 0 (tx IP checksum offload).
// Precondition: out.size() >= kIpv4MinHeaderLen; fragment_offset a multiple of 8.
void emit_ipv4(const Ipv4Repr &, std::span<uint8_t> out, bool compute_checksum = true);

} // namespace shoal::wire
