#include "http/request_parser.hpp"

#include <algorithm>
#include <cstring>

#include "http/chars.hpp"

namespace shoal::http {

using chars::is_digit;
using chars::is_tchar;
using chars::is_vchar;

RequestParser::RequestParser(const RequestLimits &limits) : limits_(limits) {
  limits_.max_target = std::min(limits_.max_target, RequestLimits::kTargetCapacity);
}

void RequestParser::reset() {
  // Per-request state only: the buffers are overwritten, not cleared.
  state_ = State::line_start;
  error_ = HttpError::ok;
  method_ = Method::other;
  version_minor_ = 0;
  keep_alive_ = false;
  empty_lines_ = 0;
  method_len_ = 0;
  version_len_ = 0;
  target_len_ = 0;
  body_left_ = 0;
  fields_.reset();
}

bool RequestParser::in_message() const {
  return state_ != State::line_start && state_ != State::empty_line_lf &&
         state_ != State::complete && state_ != State::failed;
}

bool RequestParser::head_complete() const {
  return state_ == State::body || state_ == State::complete;
}

FeedResult RequestParser::fail(size_t consumed, HttpError e) {
  state_ = State::failed;
  error_ = e;
  keep_alive_ = false;
  return {FeedStatus::error, consumed, {}};
}

FeedResult RequestParser::feed(std::span<const uint8_t> in) {
  if (state_ == State::failed)
    return {FeedStatus::error, 0, {}};
  if (state_ == State::complete)
    reset(); // the previous request was handed out; this is the next one
  const size_t n = in.size();
  size_t i = 0;
  while (i < n) {
    switch (state_) {
    case State::fields: {
      i += fields_.feed(in.subspan(i), limits_.fields);
      if (fields_.failed())
        return fail(i, fields_.error());
      if (!fields_.done())
        return {FeedStatus::need_more, i, {}};
      if (HttpError e = finish_head(); e != HttpError::ok)
        return fail(i, e);
      if (body_left_ == 0) {
        state_ = State::complete;
        return {FeedStatus::complete, i, {}};
      }
      state_ = State::body;
      break;
    }
    case State::body: {
      // RFC 9112 6.3 item 6: the body is exactly Content-Length bytes; what
      // follows is the next request.
      const size_t take = static_cast<size_t>(std::min<uint64_t>(body_left_, n - i));
      const std::span<const uint8_t> body = in.subspan(i, take);
      i += take;
      body_left_ -= take;
      if (body_left_ != 0)
        return {FeedStatus::need_more, i, body};
      state_ = State::complete;
      return {FeedStatus::complete, i, body};
    }
    case State::complete:
    case State::failed:
      return {FeedStatus::error, i, {}}; // unreachable: handled above
    default:
      i += parse_request_line(in.subspan(i));
      if (state_ == State::failed)
        return {FeedStatus::error, i, {}};
      break;
    }
  }
  return {FeedStatus::need_more, i, {}};
}

// request-line = method SP request-target SP HTTP-version CRLF (RFC 9112 3).
// Consumes bytes until the line's CRLF (state becomes `fields`), an error
// (state becomes `failed`), or the end of the input.
size_t RequestParser::parse_request_line(std::span<const uint8_t> in) {
  const size_t n = in.size();
  size_t i = 0;
  auto failed = [&](HttpError e) {
    fail(i, e);
    return i;
  };
  while (i < n) {
    if (state_ == State::target) {
      // Fast path: copy the run of target bytes at once.
      size_t run = 0;
      while (i + run < n && is_vchar(in[i + run]))
        ++run;
      if (target_len_ + run > limits_.max_target) {
        i += run;
        return failed(HttpError::target_too_long);
      }
      std::memcpy(target_buf_ + target_len_, in.data() + i, run);
      target_len_ = static_cast<uint16_t>(target_len_ + run);
      i += run;
      if (i == n)
        break;
    }
    const uint8_t c = in[i++];
    switch (state_) {
    case State::line_start:
      if (c == '\r') {
        state_ = State::empty_line_lf;
      } else if (c == '\n') {
        return failed(HttpError::bad_line_ending);
      } else if (is_tchar(c)) {
        method_buf_[0] = static_cast<char>(c);
        method_len_ = 1;
        state_ = State::method;
      } else {
        return failed(HttpError::bad_method);
      }
      break;
    case State::empty_line_lf:
      // RFC 9112 2.2: a server SHOULD ignore at least one empty line
      // received before the request-line; a stream of them is not a client.
      if (c != '\n')
        return failed(HttpError::bad_line_ending);
      if (++empty_lines_ > kMaxEmptyLines)
        return failed(HttpError::too_many_empty_lines);
      state_ = State::line_start;
      break;
    case State::method:
      if (is_tchar(c)) {
        if (method_len_ == kMethodCapacity)
          return failed(HttpError::method_too_long);
        method_buf_[method_len_++] = static_cast<char>(c);
      } else if (c == ' ') {
        method_ = method_from_name(method_name());
        state_ = State::target_start;
      } else {
        return failed(HttpError::bad_method);
      }
      break;
    case State::target_start:
      // One SP only, and a non-empty target of visible characters: a
      // whitespace-laden line is a smuggling shape (RFC 9112 3).
      if (!is_vchar(c))
        return failed(HttpError::bad_request_target);
      --i; // let the fast path take it
      state_ = State::target;
      break;
    case State::target:
      // c ended the run of VCHAR.
      if (c == ' ') {
        version_len_ = 0;
        state_ = State::version;
      } else if (c == '\r' || c == '\n') {
        return failed(HttpError::missing_version);
      } else {
        return failed(HttpError::bad_request_target);
      }
      break;
    case State::version:
      if (c == '\r') {
        if (HttpError e = finish_version(); e != HttpError::ok)
          return failed(e);
        state_ = State::version_lf;
      } else if (c == '\n') {
        return failed(HttpError::bad_line_ending);
      } else if (version_len_ == sizeof version_buf_) {
        return failed(HttpError::bad_version);
      } else {
        version_buf_[version_len_++] = static_cast<char>(c);
      }
      break;
    case State::version_lf:
      if (c != '\n')
        return failed(HttpError::bad_line_ending);
      fields_.reset();
      state_ = State::fields;
      return i;
    default:
      return i;
    }
  }
  return i;
}

// HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 2.3).
HttpError RequestParser::finish_version() {
  const std::string_view v(version_buf_, version_len_);
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || !is_digit(static_cast<uint8_t>(v[5])) ||
      v[6] != '.' || !is_digit(static_cast<uint8_t>(v[7])))
    return HttpError::bad_version;
  if (v[5] != '1')
    return HttpError::version_not_supported;
  version_minor_ = static_cast<uint8_t>(v[7] - '0');
  return HttpError::ok;
}

// The head is complete: decide framing (RFC 9112 6.3) and persistence
// (RFC 9112 9.3). Checks run in a fixed order so that one request always
// gets one answer.
HttpError RequestParser::finish_head() {
  const FieldSummary &f = fields_.summary();
  if (f.host_fields > 1)
    return HttpError::duplicate_host;
  if (version_minor_ >= 1 && f.host_fields == 0)
    return HttpError::missing_host;
  if (f.has_transfer_encoding) {
    if (version_minor_ == 0)
      return HttpError::transfer_encoding_http10;
    if (f.has_content_length)
      return HttpError::transfer_encoding_with_content_length;
    if (!f.chunked_last || f.chunked_codings > 1)
      return HttpError::chunked_not_final;
    if (f.transfer_codings > 1)
      return HttpError::unsupported_transfer_coding;
    return HttpError::chunked_request_body;
  }
  if (f.content_length > limits_.max_body)
    return HttpError::content_too_large;
  body_left_ = f.content_length;
  // RFC 9112 9.3: "close" ends it in any version; HTTP/1.1 persists by
  // default; HTTP/1.0 persists only when it asks with "keep-alive".
  keep_alive_ = !f.connection_close && (version_minor_ >= 1 || f.connection_keep_alive);
  return HttpError::ok;
}

} // namespace shoal::http
