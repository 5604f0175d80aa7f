#pragma once
// Incremental HTTP/1.1 response parser (RFC 9112 4, 6.3), client side: what
// shoal-churn and the tests need to read a server's answer. Fed in arbitrary
// pieces like RequestParser; the body is reported as subspans and never
// buffered.
//
// Body length (RFC 9112 6.3), in this order:
//  1. a response to HEAD, any 1xx, 204 or 304: no body;
//  2. Transfer-Encoding: not decoded here -> error chunked_response;
//  3. Content-Length: exactly that many bytes;
//  4. otherwise: until the connection closes (call finish() at EOF), and
//     the connection cannot persist.
// A 1xx response completes like any other; the caller keeps feeding for the
// final response (the shoal client never sends Expect, so it sees none).
#include <cstddef>
#include <cstdint>
#include <span>

#include "http/error.hpp"
#include "http/field_section.hpp"
#include "http/parse_result.hpp"

namespace shoal::http {

struct ResponseLimits {
  uint32_t max_status_line = 1024;
  FieldLimits fields{};
};

class ResponseParser {
public:
  explicit ResponseParser(const ResponseLimits &limits = {}) : limits_(limits) {}

  // The response about to be parsed answers a HEAD request: it has no body
  // whatever its Content-Length says (RFC 9110 9.3.2). Applies to the next
  // response only; call before its first byte.
  void expect_head_response() { head_request_ = true; }

  // As RequestParser::feed. After `complete` the accessors stay valid until
  // the next feed(), which starts the next response.
  FeedResult feed(std::span<const uint8_t> in);

  // The connection was closed by the peer. A body delimited by the close
  // completes here (status complete); a response cut short is an error
  // (truncated_message); with no response under way, need_more means a
  // clean close between responses.
  FeedResult finish();

  void reset();

  bool in_message() const;
  bool head_complete() const { return state_ == State::body || state_ == State::complete; }

  uint16_t status() const { return status_; }
  uint8_t version_minor() const { return version_minor_; }
  // Whether the connection persists after this response (RFC 9112 9.3).
  bool keep_alive() const { return keep_alive_; }
  bool has_content_length() const { return fields_.summary().has_content_length; }
  uint64_t content_length() const { return fields_.summary().content_length; }
  // The body runs until the connection closes (no Content-Length).
  bool body_until_close() const { return until_close_; }
  // Body bytes reported so far for this response.
  uint64_t body_received() const { return body_received_; }

  HttpError error() const { return error_; }

private:
  enum class State : uint8_t {
    line_start,
    version,
    code,
    code_end,
    reason,
    status_lf,
    fields,
    body,
    complete,
    failed
  };

  FeedResult fail(size_t consumed, HttpError e);
  void complete_message();
  size_t parse_status_line(std::span<const uint8_t> in);
  void finish_head();

  ResponseLimits limits_;
  State state_ = State::line_start;
  HttpError error_ = HttpError::ok;
  bool head_request_ = false;
  bool keep_alive_ = false;
  bool until_close_ = false;
  uint8_t version_minor_ = 0;
  uint8_t version_len_ = 0;
  uint8_t code_len_ = 0;
  uint16_t status_ = 0;
  uint32_t line_bytes_ = 0;
  uint64_t body_left_ = 0;
  uint64_t body_received_ = 0;
  FieldSectionParser fields_{};
  char version_buf_[8] = {};
};

} // namespace shoal::http
