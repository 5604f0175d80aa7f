#pragma once
// TCP header and options (RFC 9293 3.1; MSS RFC 9293 3.7.1; window scale and
// timestamps RFC 7323; SACK RFC 2018).
//
// Parsing rejects a malformed header or option list with a reason instead of
// guessing; unknown option kinds are skipped by their length, EOL ends the
// list. Semantic checks (MSS only on SYN, clamping the shift to 14, ...) are
// the protocol's job in lib/tcp.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "wire/addr.hpp"
#include "wire/parse_error.hpp"

namespace shoal::wire {

namespace tcp_flags {
constexpr uint8_t FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10, URG = 0x20,
                  ECE = 0x40, CWR = 0x80;
}

namespace tcp_option_kind {
constexpr uint8_t kEol = 0, kNop = 1, kMss = 2, kWindowScale = 3, kSackPermitted = 4, kSack = 5,
                  kTimestamp = 8;
}

namespace tcp_field {
constexpr size_t kSrcPort = 0, kDstPort = 2, kSeq = 4, kAck = 8, kDataOffset = 12, kFlags = 13,
                 kWindow = 14, kChecksum = 16, kUrgent = 18, kOptions = 20;
}

struct SackBlock {
  uint32_t left, right; // [left, right)
  bool operator==(const SackBlock &) const = default;
};

struct TcpTimestamp {
  uint32_t val, ecr;
  bool operator==(const TcpTimestamp &) const = default;
};

constexpr size_t kTcpMaxSackBlocks = 4; // 2 + 8*4 = 34 <= 40 bytes of option space

struct TcpOptions {
  std::optional<uint16_t> mss;
  std::optional<uint8_t>
      window_scale; // shift count as received (caller clamps to 14, RFC 7323 2.3)
  bool sack_permitted = false;
  std::optional<TcpTimestamp> timestamp;
  uint8_t sack_count = 0;
  std::array<SackBlock, kTcpMaxSackBlocks> sack{};
  // Compares only the first sack_count blocks.
  bool operator==(const TcpOptions &) const;
};

struct TcpRepr {
  uint16_t src_port = 0, dst_port = 0;
  uint32_t seq = 0, ack = 0;
  uint8_t flags = 0;
  uint16_t window = 0; // raw, unscaled
  uint16_t urgent = 0;
  TcpOptions options;
  uint16_t header_len = 20; // set by parse (data offset * 4); ignored by emit
  bool has(uint8_t f) const { return (flags & f) != 0; }
};

constexpr size_t kTcpMinHeaderLen = 20, kTcpMaxHeaderLen = 60;
// Header space the timestamp option takes as emit_tcp_header lays it out
// (10 bytes + 2 NOPs): in every segment once timestamps are negotiated.
constexpr uint16_t kTcpTimestampOptionSpace = 12;

// segment = TCP header + payload (the IPv4 payload, exactly payload_len bytes).
// src/dst for the pseudo-header checksum; verify_checksum=false when offload said GOOD.
// Rejects: truncated, bad_data_offset, bad_checksum, bad_option_length,
// option_overrun, bad_mss_option, bad_window_scale_option,
// bad_sack_permitted_option, bad_timestamp_option, bad_sack_option.
ParseError parse_tcp(std::span<const uint8_t> segment, Ipv4Addr src, Ipv4Addr dst,
                     bool verify_checksum, TcpRepr &out);

// The payload of a segment that parse_tcp accepted into `repr`.
inline std::span<const uint8_t> tcp_payload(std::span<const uint8_t> segment, const TcpRepr &repr) {
  return segment.subspan(repr.header_len);
}

// Number of SACK blocks emit will actually write: sack_count, reduced so the
// options fit in 40 bytes next to the others (3 with timestamps, as Linux).
size_t tcp_emitted_sack_blocks(const TcpOptions &);

// 20 + options padded to a multiple of 4 (<= 60; excess SACK blocks dropped so it fits).
size_t tcp_header_len(const TcpRepr &);

// Writes header + options and returns tcp_header_len(repr); checksum field
// left 0. Options are laid out as Linux does (RFC 7323 appendix A): MSS;
// SACK-permitted + timestamp packed together, or NOP NOP + timestamp, or
// NOP NOP + SACK-permitted; NOP + window scale; NOP NOP + SACK blocks.
// Precondition: out.size() >= tcp_header_len(repr).
size_t emit_tcp_header(const TcpRepr &, std::span<uint8_t> out);

} // namespace shoal::wire
