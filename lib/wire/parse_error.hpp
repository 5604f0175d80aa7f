#pragma once
// Why a parser rejected its input. One table (an X-macro, X(name,
// description)) generates the enum, the names, the descriptions and the
// count, so a shard can keep one drop counter per reason and print and
// describe it without a second list to keep in sync.
#include <cstddef>
#include <cstdint>

namespace shoal::wire {

// clang-format off
#define SHOAL_WIRE_PARSE_ERRORS(X)                                                        \
  X(ok,                         "accepted")                                               \
  X(truncated,                  "shorter than the fixed header of its format")            \
  /* Ethernet / ARP (RFC 826) */                                                          \
  X(bad_hardware_type,          "ARP htype != 1 (Ethernet)")                              \
  X(bad_protocol_type,          "ARP ptype != 0x0800 (IPv4)")                             \
  X(bad_address_length,         "ARP hlen != 6 or plen != 4")                             \
  X(bad_arp_op,                 "ARP op neither request (1) nor reply (2)")               \
  /* IPv4 (RFC 791) */                                                                    \
  X(bad_version,                "version nibble != 4")                                    \
  X(bad_ihl,                    "IHL < 5, or IHL*4 beyond the received bytes")            \
  X(bad_total_length,           "total length < IHL*4, or beyond the received bytes")     \
  X(bad_checksum,               "IPv4 header, ICMP or TCP checksum mismatch")             \
  /* ICMP (RFC 792) */                                                                    \
  X(bad_icmp_type,              "a valid ICMP message that is not an echo request/reply") \
  /* TCP (RFC 9293 3.1, RFC 7323, RFC 2018) */                                            \
  X(bad_data_offset,            "data offset < 5, or header beyond the segment")          \
  X(bad_option_length,          "option length byte 0 or 1")                              \
  X(option_overrun,             "an option runs past the end of the TCP header")          \
  X(bad_mss_option,             "MSS option length != 4")                                 \
  X(bad_window_scale_option,    "window scale option length != 3")                        \
  X(bad_sack_permitted_option,  "SACK-permitted option length != 2")                      \
  X(bad_timestamp_option,       "timestamp option length != 10")                          \
  X(bad_sack_option,            "SACK option length not 2 + 8n with n >= 1")
// clang-format on

enum class ParseError : uint8_t {
#define SHOAL_WIRE_X_ENUM(name, desc) name,
  SHOAL_WIRE_PARSE_ERRORS(SHOAL_WIRE_X_ENUM)
#undef SHOAL_WIRE_X_ENUM
};

constexpr size_t kParseErrorCount = 0
#define SHOAL_WIRE_X_COUNT(name, desc) +1
    SHOAL_WIRE_PARSE_ERRORS(SHOAL_WIRE_X_COUNT)
#undef SHOAL_WIRE_X_COUNT
    ;

// "ok", "truncated", ... (the enumerator's own name); "unknown" out of range.
const char *to_string(ParseError);

// What the error means, in one line; "unknown" out of range.
constexpr const char *describe(ParseError e) {
  switch (e) {
#define SHOAL_WIRE_X_CASE(name, desc)                                                              \
  case ParseError::name:                                                                           \
    return desc;
    SHOAL_WIRE_PARSE_ERRORS(SHOAL_WIRE_X_CASE)
#undef SHOAL_WIRE_X_CASE
  }
  return "unknown";
}

} // namespace shoal::wire
