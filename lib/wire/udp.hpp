#pragma once
// UDP header (RFC 768) and its checksum. The checksum covers a pseudo-header
// (source, destination, zero, protocol 17, UDP length), the header and the
// data; a computed value of 0 is sent as 0xffff, and a received field of 0
// means the sender computed none (RFC 768; RFC 1122 4.1.3.4: such a datagram
// is accepted).
#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/addr.hpp"
#include "wire/parse_error.hpp"

namespace shoal::wire {

constexpr size_t kUdpHeaderLen = 8;
// The largest UDP payload in one IPv4 datagram: 65535 - 20 - 8.
constexpr size_t kUdpMaxPayload = 65507;

namespace udp_field {
constexpr size_t kSrcPort = 0, kDstPort = 2, kLength = 4, kChecksum = 6;
}

struct UdpRepr {
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint16_t length = 0;   // header + data, as the length field states
  uint16_t checksum = 0; // the field as received (host order); 0: none sent
};

// `header`: at least the first 8 bytes of the datagram; `ip_payload_len`:
// the IPv4 payload length. Rejects: truncated (fewer than 8 bytes in either),
// bad_total_length (the length field below 8 or different from the IPv4
// payload length; RFC 768 leaves the surplus undefined, and like Linux
// shoal takes no datagram whose two lengths disagree). The checksum is
// checked separately (udp_checksum_valid), over the whole datagram.
ParseError parse_udp_header(std::span<const uint8_t> header, size_t ip_payload_len, UdpRepr &out);

// Writes the 8-byte header with a zero checksum field.
// Precondition: out.size() >= kUdpHeaderLen.
void emit_udp_header(const UdpRepr &, std::span<uint8_t> out);

// The checksum of a datagram handed over in pieces (an mbuf chain; the
// checksum field, in whichever piece, zeroed): the value to store, in host
// order, never 0 (0 is sent as 0xffff).
uint16_t udp_checksum(Ipv4Addr src, Ipv4Addr dst, std::span<const std::span<const uint8_t>> pieces);
// True when a received datagram (pieces as above, the checksum field as
// received and not 0) sums correctly.
bool udp_checksum_valid(Ipv4Addr src, Ipv4Addr dst,
                        std::span<const std::span<const uint8_t>> pieces);

} // namespace shoal::wire
