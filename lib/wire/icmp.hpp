#pragma once
// ICMP echo request / reply (RFC 792), and the error messages (destination
// unreachable, time exceeded, parameter problem, source quench, redirect)
// with the start of the datagram they quote. Every other ICMP type parses
// far enough to be counted (bad_icmp_type) and is otherwise ignored.
#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/addr.hpp"
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

// --- error messages (RFC 792; RFC 1122 3.2.2) --------------------------------

enum : uint8_t {
  kIcmpDestUnreachable = 3,
  kIcmpSourceQuench = 4,
  kIcmpRedirect = 5,
  kIcmpTimeExceeded = 11,
  kIcmpParameterProblem = 12,
};
// Destination unreachable codes.
enum : uint8_t {
  kIcmpNetUnreachable = 0,
  kIcmpHostUnreachable = 1,
  kIcmpProtocolUnreachable = 2,
  kIcmpPortUnreachable = 3,
  kIcmpFragmentationNeeded = 4,
};
// An error message: 8 bytes of ICMP header, then the offending datagram's
// IPv4 header and at least its first 8 payload bytes (RFC 792).
constexpr size_t kIcmpErrorHeaderLen = 8;
constexpr size_t kIcmpErrorQuotedPayload = 8;

constexpr bool icmp_is_error(uint8_t type) {
  return type == kIcmpDestUnreachable || type == kIcmpSourceQuench || type == kIcmpRedirect ||
         type == kIcmpTimeExceeded || type == kIcmpParameterProblem;
}

struct IcmpErrorRepr {
  uint8_t type = kIcmpDestUnreachable;
  uint8_t code = 0;
  // The quoted datagram's header (its total length describes the original,
  // not the quote) and the payload bytes quoted (at least 8).
  Ipv4Addr quoted_src, quoted_dst;
  uint8_t quoted_protocol = 0;
  std::span<const uint8_t> quoted_payload;
};

// icmp_message = the IPv4 payload. Rejects: truncated (shorter than the
// header, a 20-byte quoted header and 8 bytes, or a quoted IHL beyond the
// message), bad_checksum, bad_icmp_type (not an error type, or a quoted
// header that is not IPv4 with IHL >= 5).
ParseError parse_icmp_error(std::span<const uint8_t> icmp_message, bool verify_checksum,
                            IcmpErrorRepr &out);

// Writes an error message of `type`/`code` quoting `quote` (the offending
// datagram's IPv4 header and first payload bytes) and computes its
// checksum. Returns its length, kIcmpErrorHeaderLen + quote.size().
// Precondition: out.size() >= that length.
size_t emit_icmp_error(uint8_t type, uint8_t code, std::span<const uint8_t> quote,
                       std::span<uint8_t> out);

} // namespace shoal::wire
