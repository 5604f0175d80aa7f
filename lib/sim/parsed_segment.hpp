#pragma once
// One IPv4/TCP datagram as the simulator sees it on the wire: parsed once with
// lib/wire (checksums verified), then used by the link's drop filters, the
// trace and the scripted peer's expectations.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "wire/format.hpp"
#include "wire/ipv4.hpp"
#include "wire/parse_error.hpp"
#include "wire/tcp.hpp"

namespace shoal::sim {

struct ParsedSegment {
  wire::ParseError ip_error = wire::ParseError::truncated;
  wire::ParseError tcp_error = wire::ParseError::truncated;
  bool is_tcp = false; // IPv4 protocol field says TCP
  wire::Ipv4Repr ip{};
  wire::TcpRepr tcp{};
  std::span<const uint8_t> payload; // view into the bytes given to parse_segment

  // A well-formed TCP segment with correct checksums.
  bool ok() const {
    return ip_error == wire::ParseError::ok && is_tcp && tcp_error == wire::ParseError::ok;
  }
  size_t payload_len() const { return payload.size(); }
  bool has(uint8_t flag) const { return ok() && tcp.has(flag); }
  // Sequence space the segment occupies: payload + SYN + FIN (RFC 9293 3.3.1).
  uint32_t seq_len() const;
};

// `datagram` starts at the IPv4 header. The spans in the result point into it.
ParsedSegment parse_segment(std::span<const uint8_t> datagram);
// A temporary buffer would leave `payload` dangling: keep the bytes in a variable.
ParsedSegment parse_segment(std::vector<uint8_t> &&) = delete;

// wire::format_tcp's line with addresses, without time or direction:
// "198.18.0.1:40000 > 198.18.0.2:80 [S] seq 123 win 65535 <mss 1460,sackOK,TS val 1 ecr 0,wscale 7>
// len 0". Malformed input is shown with its parse error instead.
std::string format_segment(const ParsedSegment &);

using wire::format_tcp_flags; // "S", "S.", "F." ... (wire/format.hpp)

} // namespace shoal::sim
