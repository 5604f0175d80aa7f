#include "http/response_parser.hpp"

#include <algorithm>
#include <string_view>

#include "http/chars.hpp"

namespace shoal::http {

using chars::is_digit;
using chars::is_field_byte;

void ResponseParser::reset() {
  state_ = State::line_start;
  error_ = HttpError::ok;
  head_request_ = false;
  keep_alive_ = false;
  until_close_ = false;
  version_minor_ = 0;
  version_len_ = 0;
  code_len_ = 0;
  status_ = 0;
  line_bytes_ = 0;
  body_left_ = 0;
  body_received_ = 0;
  fields_.reset();
}

bool ResponseParser::in_message() const {
  return state_ != State::line_start && state_ != State::complete && state_ != State::failed;
}

void ResponseParser::complete_message() {
  state_ = State::complete;
  head_request_ = false; // it applied to this response only
}

FeedResult ResponseParser::fail(size_t consumed, HttpError e) {
  state_ = State::failed;
  error_ = e;
  keep_alive_ = false;
  return {FeedStatus::error, consumed, {}};
}

FeedResult ResponseParser::feed(std::span<const uint8_t> in) {
  if (state_ == State::failed)
    return {FeedStatus::error, 0, {}};
  if (state_ == State::complete) {
    // expect_head_response() may have been called for this next response.
    const bool head = head_request_;
    reset();
    head_request_ = head;
  }
  const size_t n = in.size();
  size_t i = 0;
  while (i < n) {
    switch (state_) {
    case State::fields:
      i += fields_.feed(in.subspan(i), limits_.fields);
      if (fields_.failed())
        return fail(i, fields_.error());
      if (!fields_.done())
        return {FeedStatus::need_more, i, {}};
      if (fields_.summary().has_transfer_encoding)
        return fail(i, HttpError::chunked_response);
      finish_head();
      if (!until_close_ && body_left_ == 0) {
        complete_message();
        return {FeedStatus::complete, i, {}};
      }
      state_ = State::body;
      break;
    case State::body: {
      const size_t take =
          until_close_ ? n - i : static_cast<size_t>(std::min<uint64_t>(body_left_, n - i));
      const std::span<const uint8_t> body = in.subspan(i, take);
      i += take;
      body_received_ += take;
      if (until_close_ || (body_left_ -= take) != 0)
        return {FeedStatus::need_more, i, body};
      complete_message();
      return {FeedStatus::complete, i, body};
    }
    case State::complete:
    case State::failed:
      return {FeedStatus::error, i, {}}; // unreachable: handled above
    default:
      i += parse_status_line(in.subspan(i));
      if (state_ == State::failed)
        return {FeedStatus::error, i, {}};
      break;
    }
  }
  return {FeedStatus::need_more, i, {}};
}

FeedResult ResponseParser::finish() {
  if (state_ == State::failed)
    return {FeedStatus::error, 0, {}};
  if (state_ == State::body && until_close_) {
    complete_message();
    return {FeedStatus::complete, 0, {}};
  }
  if (in_message())
    return fail(0, HttpError::truncated_message);
  return {FeedStatus::need_more, 0, {}};
}

// status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF
// (RFC 9112 4). The reason phrase is skipped (RFC 9112 4: a client SHOULD
// ignore it); a missing SP before an empty reason is tolerated.
size_t ResponseParser::parse_status_line(std::span<const uint8_t> in) {
  const size_t n = in.size();
  size_t i = 0;
  auto failed = [&](HttpError e) {
    fail(i, e);
    return i;
  };
  while (i < n) {
    const uint8_t c = in[i++];
    if (++line_bytes_ > limits_.max_status_line)
      return failed(HttpError::status_line_too_long);
    switch (state_) {
    case State::line_start:
      state_ = State::version;
      [[fallthrough]];
    case State::version:
      if (c != ' ') {
        if (version_len_ == sizeof version_buf_)
          return failed(HttpError::bad_status_line);
        version_buf_[version_len_++] = static_cast<char>(c);
        break;
      } else {
        const std::string_view v(version_buf_, version_len_);
        if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || v[5] != '1' || v[6] != '.' ||
            !is_digit(static_cast<uint8_t>(v[7])))
          return failed(HttpError::bad_status_line);
        version_minor_ = static_cast<uint8_t>(v[7] - '0');
        state_ = State::code;
      }
      break;
    case State::code:
      if (!is_digit(c))
        return failed(HttpError::bad_status_line);
      status_ = static_cast<uint16_t>(status_ * 10 + (c - '0'));
      if (++code_len_ == 3) {
        if (status_ < 100)
          return failed(HttpError::bad_status_line);
        state_ = State::code_end;
      }
      break;
    case State::code_end:
      if (c == ' ')
        state_ = State::reason;
      else if (c == '\r')
        state_ = State::status_lf;
      else
        return failed(HttpError::bad_status_line);
      break;
    case State::reason:
      if (c == '\r')
        state_ = State::status_lf;
      else if (!is_field_byte(c))
        return failed(HttpError::bad_status_line);
      break;
    case State::status_lf:
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

void ResponseParser::finish_head() {
  const FieldSummary &f = fields_.summary();
  // RFC 9112 6.3 item 1: these responses end with their header section.
  const bool no_body = head_request_ || status_ < 200 || status_ == 204 || status_ == 304;
  until_close_ = !no_body && !f.has_content_length;
  body_left_ = no_body ? 0 : f.content_length;
  // RFC 9112 9.3, and a body delimited by close cannot be followed by more.
  keep_alive_ =
      !f.connection_close && !until_close_ && (version_minor_ >= 1 || f.connection_keep_alive);
}

} // namespace shoal::http
