#pragma once
// Incremental HTTP/1.1 request parser (RFC 9112), server side.
//
// Bytes arrive in arbitrary pieces (TCP segments, spans over mbufs), so this
// is a resumable state machine: feed() each piece as it comes; a request may
// be split at any byte and several pipelined requests may share one piece.
// The result is the same whatever the split.
//
//   for (auto in = piece; !in.empty();) {
//     FeedResult r = parser.feed(in);
//     in = in.subspan(r.consumed);
//     if (r.status == FeedStatus::complete) respond(parser);   // then loop: pipelining
//     else if (r.status == FeedStatus::error) { send status_for(parser.error()); close; }
//     else break;                                               // need_more
//   }
//
// Memory is bounded and small: the method and the request-target are copied
// into fixed buffers (the target is the one thing a server needs after the
// bytes are gone); every other field streams through FieldSectionParser.
// Request bodies are never buffered: their bytes are reported as subspans of
// the input and skipped. So a GET with a body is fine.
//
// Decisions (RFC 9112 leaves these to the implementation):
// - Line endings are strict CRLF: a bare LF or bare CR is an error (400),
//   which leaves no room for two parsers to disagree on framing.
// - Up to kMaxEmptyLines blank lines before a request line are skipped
//   (RFC 9112 2.2 SHOULD ignore at least one).
// - HTTP/1.x with x >= 2 is served as HTTP/1.1 (RFC 9110 2.5); any other
//   major version gets 505.
// - HTTP/1.1 requests need exactly one Host; more than one is 400 in any
//   version (RFC 9112 3.2).
// - Transfer-Encoding is not decoded. Only "chunked" -> 411 Length Required
//   (RFC 9112 6.3 lets a server insist on Content-Length); chunked not final
//   or twice -> 400; another coding before chunked -> 501; with
//   Content-Length too -> 400 (a request-smuggling shape, RFC 9112 6.3); in
//   HTTP/1.0 -> 400 (RFC 9112 6.1).
// - Every error means "answer status_for(error()) with Connection: close".
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "http/error.hpp"
#include "http/field_section.hpp"
#include "http/method.hpp"
#include "http/parse_result.hpp"

namespace shoal::http {

struct RequestLimits {
  // The target buffer is fixed; a larger limit is clamped to it.
  static constexpr size_t kTargetCapacity = 2048;

  size_t max_target = kTargetCapacity; // longer -> 414
  FieldLimits fields{};                // beyond -> 431
  uint64_t max_body = 1u << 20;        // Content-Length beyond -> 413
};

class RequestParser {
public:
  static constexpr size_t kMethodCapacity = 20;
  static constexpr unsigned kMaxEmptyLines = 8;

  explicit RequestParser(const RequestLimits &limits = {});

  // Parses the next piece of the byte stream. After `complete` the request's
  // accessors stay valid until the next feed(), which starts the next
  // request. After `error` every feed() returns the error again, consuming
  // nothing, until reset().
  FeedResult feed(std::span<const uint8_t> in);

  // Forgets any partial request and any error.
  void reset();

  // Some bytes of a request have arrived but it is not complete: a server
  // closing an idle connection may want to know (RFC 9112 9.5 / 9.6).
  bool in_message() const;
  // The request line and fields are parsed; accessors are valid.
  bool head_complete() const;

  // The request (valid once head_complete()).
  Method method() const { return method_; }
  std::string_view method_name() const { return {method_buf_, method_len_}; }
  std::string_view target() const { return {target_buf_, target_len_}; }
  uint8_t version_minor() const { return version_minor_; } // 0 for HTTP/1.0
  // Whether the connection persists after this request (RFC 9112 9.3).
  bool keep_alive() const { return keep_alive_; }
  uint64_t content_length() const { return fields_.summary().content_length; }
  const FieldSummary &fields() const { return fields_.summary(); }

  HttpError error() const { return error_; }
  // The status to answer the error with (400, 411, 413, 414, 431, 501, 505).
  uint16_t error_status() const { return status_for(error_); }

private:
  enum class State : uint8_t {
    line_start,
    empty_line_lf,
    method,
    target_start,
    target,
    version,
    version_lf,
    fields,
    body,
    complete,
    failed
  };

  FeedResult fail(size_t consumed, HttpError e);
  size_t parse_request_line(std::span<const uint8_t> in);
  HttpError finish_version();
  HttpError finish_head();

  RequestLimits limits_;
  State state_ = State::line_start;
  HttpError error_ = HttpError::ok;
  Method method_ = Method::other;
  uint8_t version_minor_ = 0;
  bool keep_alive_ = false;
  uint8_t empty_lines_ = 0;
  uint8_t method_len_ = 0;
  uint8_t version_len_ = 0;
  uint16_t target_len_ = 0;
  uint64_t body_left_ = 0;
  FieldSectionParser fields_{};
  char version_buf_[8] = {};
  char method_buf_[kMethodCapacity] = {};
  char target_buf_[RequestLimits::kTargetCapacity] = {};
};

} // namespace shoal::http
