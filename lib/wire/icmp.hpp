#pragma once
// ICMP echo request / reply (RFC 792). Every other ICMP type parses far
// enough to be counted (bad_icmp_type) and is otherwise ignored.
#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/parse_error.hpp"

namespace shoal::wire {

constexpr size_t kIcmpEchoHeaderLen = 8;
enum : uint8_t { kIcmpEchoReply = 0, kIcmpEchoRequest = 8 };

namespace icmp_field {
constexpr size_t kType = 0, kCode = 1, kChecksum = 2, kIdent = 4, kSeq = 6;
}

struct IcmpEchoRepr {
  uint8_t type = kIcmpEchoRequest;
  uint8_t code = 0;
  uint16_t ident = 0;
  uint16_t seq = 0;
  std::span<const uint8_t> payload; // parse: points into the message
};

// icmp_message = the IPv4 payload (exactly payload_len bytes).
// The checksum covers the whole message. Rejects: truncated (< 8 bytes),
// bad_checksum, bad_icmp_type (valid ICMP, but not echo request/reply).
ParseError parse_icmp_echo(std::span<const uint8_t> icmp_message, bool verify_checksum,
                           IcmpEchoRepr &out);

// Writes the 8-byte header, copies the payload after it (memmove, so the
// payload may already sit at out[8..], as when a request is turned into a
// reply in place) and computes the checksum.
// Precondition: out.size() >= kIcmpEchoHeaderLen + payload.size().
void emit_icmp_echo(const IcmpEchoRepr &, std::span<uint8_t> out);

} // namespace shoal::wire
