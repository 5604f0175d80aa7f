#pragma once
// The field section of an HTTP/1.1 message (RFC 9112 5): field lines up to
// the empty line, fed in arbitrary pieces. Shared by the request and the
// response parser.
//
// Nothing is buffered but what framing and connection management need: the
// field name (at most kNameCapacity bytes, enough for every field it
// recognises), one list element of Connection or Transfer-Encoding, and the
// Content-Length as a number. Every other field value streams through and is
// only checked for control characters. State is a few dozen bytes.
#include <cstddef>
#include <cstdint>
#include <span>

#include "http/error.hpp"

namespace shoal::http {

// Bounds on a field section. RFC 9110 2.3 leaves them to the implementation;
// exceeding any one answers 431 (RFC 6585 5).
struct FieldLimits {
  uint32_t max_field_line = 8192;     // one "name: value CRLF"
  uint32_t max_fields = 100;          // field lines
  uint32_t max_section_bytes = 16384; // the whole section, final CRLF included
};

// Content-Length values are held saturated at this bound: anything larger is
// beyond every body limit anyway, and the arithmetic cannot overflow.
inline constexpr uint64_t kContentLengthCap = uint64_t{1} << 62;

// What the rest of the message needs to know from its fields.
struct FieldSummary {
  uint32_t fields = 0; // field lines seen
  // Connection (RFC 9110 7.6.1): the two options that decide persistence.
  bool connection_close = false;
  bool connection_keep_alive = false;
  // Content-Length (RFC 9110 8.6); identical repeats are accepted.
  bool has_content_length = false;
  uint64_t content_length = 0; // saturated at kContentLengthCap
  // Transfer-Encoding (RFC 9112 6.1), across all its field lines, in order.
  bool has_transfer_encoding = false;
  uint8_t transfer_codings = 0; // codings listed (saturating)
  uint8_t chunked_codings = 0;  // of which "chunked" (saturating)
  bool chunked_last = false;    // the final coding is "chunked"
  // Host (RFC 9112 3.2): only counted; a request needs exactly one.
  uint8_t host_fields = 0; // saturating
};

class FieldSectionParser {
public:
  // Longest recognised name is "transfer-encoding" (17 bytes).
  static constexpr size_t kNameCapacity = 18;
  // Longest recognised list element is "keep-alive" (10 bytes).
  static constexpr size_t kTokenCapacity = 12;

  void reset() { *this = FieldSectionParser{}; }

  // Consumes bytes up to and including the CRLF that ends the section, or up
  // to and including the first byte found malformed. Returns the bytes
  // consumed; afterwards exactly one of done(), failed() or "wants more"
  // holds. Feeding after done() or failed() consumes nothing.
  size_t feed(std::span<const uint8_t> in, const FieldLimits &limits);

  bool done() const { return state_ == State::done; }
  bool failed() const { return state_ == State::failed; }
  HttpError error() const { return error_; }
  const FieldSummary &summary() const { return summary_; }

private:
  enum class State : uint8_t { line_start, name, value, value_lf, end_lf, done, failed };
  enum class Field : uint8_t { other, host, content_length, connection, transfer_encoding };
  // Position inside one element of a comma-separated list (RFC 9110 5.6.1).
  enum class ListPos : uint8_t { before, token, after_token, skip };
  enum class DigitsPos : uint8_t { before, digits, after };

  size_t fail(size_t consumed, HttpError e);
  void begin_value();
  HttpError value_byte(uint8_t c);
  HttpError end_value();
  void list_byte(uint8_t c);
  void end_list_element();

  State state_ = State::line_start;
  HttpError error_ = HttpError::ok;
  Field field_ = Field::other;
  ListPos list_ = ListPos::before;
  DigitsPos digits_ = DigitsPos::before;
  uint8_t name_len_ = 0;
  uint8_t token_len_ = 0;
  bool token_bad_ = false; // element is not one short token: matches nothing
  uint32_t line_bytes_ = 0;
  uint32_t section_bytes_ = 0;
  uint64_t number_ = 0;
  FieldSummary summary_{};
  char name_[kNameCapacity] = {};
  char token_[kTokenCapacity] = {};
};

} // namespace shoal::http
