#include "http/field_section.hpp"

#include <algorithm>
#include <string_view>

#include "http/chars.hpp"

namespace shoal::http {

using chars::is_digit;
using chars::is_field_byte;
using chars::is_ows;
using chars::is_tchar;
using chars::to_lower;

namespace {

uint8_t saturating_inc(uint8_t v) {
  return v == UINT8_MAX ? v : static_cast<uint8_t>(v + 1);
}

} // namespace

size_t FieldSectionParser::fail(size_t consumed, HttpError e) {
  state_ = State::failed;
  error_ = e;
  return consumed;
}

size_t FieldSectionParser::feed(std::span<const uint8_t> in, const FieldLimits &limits) {
  if (state_ == State::done || state_ == State::failed)
    return 0;
  size_t i = 0;
  const size_t n = in.size();
  while (i < n) {
    // Fast path: the value of a field nobody needs streams through with only
    // the control-character check (RFC 9110 5.5), within the budgets left.
    if (state_ == State::value && (field_ == Field::other || field_ == Field::host)) {
      const size_t window = std::min<size_t>(
          {n - i, limits.max_field_line - line_bytes_, limits.max_section_bytes - section_bytes_});
      size_t run = 0;
      while (run < window && in[i + run] != '\r' && is_field_byte(in[i + run]))
        ++run;
      line_bytes_ += static_cast<uint32_t>(run);
      section_bytes_ += static_cast<uint32_t>(run);
      i += run;
      if (i == n)
        break;
    }
    // Fast path: a field name's run of tchar, lower-cased into the name
    // buffer as far as it fits (longer names are not ones we look for).
    if (state_ == State::name) {
      const size_t window = std::min<size_t>(
          {n - i, limits.max_field_line - line_bytes_, limits.max_section_bytes - section_bytes_});
      size_t run = 0;
      size_t len = name_len_;
      while (run < window && is_tchar(in[i + run])) {
        if (len < kNameCapacity)
          name_[len] = static_cast<char>(to_lower(in[i + run]));
        ++len;
        ++run;
      }
      name_len_ = static_cast<uint8_t>(std::min<size_t>(len, UINT8_MAX));
      line_bytes_ += static_cast<uint32_t>(run);
      section_bytes_ += static_cast<uint32_t>(run);
      i += run;
      if (i == n)
        break;
    }
    const uint8_t c = in[i++];
    if (++line_bytes_ > limits.max_field_line)
      return fail(i, HttpError::field_line_too_long);
    if (++section_bytes_ > limits.max_section_bytes)
      return fail(i, HttpError::header_section_too_large);
    if (c == '\n' && state_ != State::value_lf && state_ != State::end_lf)
      return fail(i, HttpError::bad_line_ending); // bare LF (RFC 9112 2.2)

    switch (state_) {
    case State::line_start:
      if (c == '\r') {
        state_ = State::end_lf;
      } else if (is_ows(c)) {
        // obs-fold: RFC 9112 5.2 lets a server reject it with 400.
        return fail(i, HttpError::obs_fold);
      } else if (!is_tchar(c)) {
        return fail(i, HttpError::bad_field_name);
      } else if (summary_.fields >= limits.max_fields) {
        return fail(i, HttpError::too_many_fields);
      } else {
        ++summary_.fields;
        name_[0] = static_cast<char>(to_lower(c));
        name_len_ = 1;
        state_ = State::name;
      }
      break;
    case State::name:
      if (is_tchar(c)) {
        if (name_len_ < kNameCapacity)
          name_[name_len_] = static_cast<char>(to_lower(c));
        if (name_len_ < UINT8_MAX)
          ++name_len_;
      } else if (c == ':') {
        begin_value();
        state_ = State::value;
      } else if (is_ows(c)) {
        // RFC 9112 5.1: "A server MUST reject, with a response status code
        // of 400, any received request message that contains whitespace
        // between a header field name and colon."
        return fail(i, HttpError::space_before_colon);
      } else {
        return fail(i, HttpError::bad_field_name);
      }
      break;
    case State::value:
      if (c == '\r') {
        state_ = State::value_lf;
      } else if (!is_field_byte(c)) {
        return fail(i, HttpError::bad_field_value);
      } else if (HttpError e = value_byte(c); e != HttpError::ok) {
        return fail(i, e);
      }
      break;
    case State::value_lf:
      if (c != '\n')
        return fail(i, HttpError::bad_line_ending); // bare CR (RFC 9112 2.2)
      if (HttpError e = end_value(); e != HttpError::ok)
        return fail(i, e);
      line_bytes_ = 0;
      state_ = State::line_start;
      break;
    case State::end_lf:
      if (c != '\n')
        return fail(i, HttpError::bad_line_ending);
      state_ = State::done;
      return i;
    case State::done:
    case State::failed:
      return i;
    }
  }
  return n;
}

void FieldSectionParser::begin_value() {
  const std::string_view name(name_, name_len_ <= kNameCapacity ? name_len_ : 0);
  if (name == "host")
    field_ = Field::host;
  else if (name == "content-length")
    field_ = Field::content_length;
  else if (name == "connection")
    field_ = Field::connection;
  else if (name == "transfer-encoding")
    field_ = Field::transfer_encoding;
  else
    field_ = Field::other;
  list_ = ListPos::before;
  digits_ = DigitsPos::before;
  token_len_ = 0;
  token_bad_ = false;
  number_ = 0;
  if (field_ == Field::host)
    summary_.host_fields = saturating_inc(summary_.host_fields);
  if (field_ == Field::transfer_encoding)
    summary_.has_transfer_encoding = true;
}

HttpError FieldSectionParser::value_byte(uint8_t c) {
  switch (field_) {
  case Field::other:
  case Field::host:
    return HttpError::ok;
  case Field::content_length:
    // Content-Length = 1*DIGIT, surrounded by OWS (RFC 9110 8.6). A list
    // ("5, 5") is not accepted: RFC 9110 8.6 lets a recipient reject it.
    if (is_ows(c)) {
      if (digits_ == DigitsPos::digits)
        digits_ = DigitsPos::after;
      return HttpError::ok;
    }
    if (!is_digit(c) || digits_ == DigitsPos::after)
      return HttpError::bad_content_length;
    digits_ = DigitsPos::digits;
    // Saturate before multiplying: 1844674407370955161 * 10 + 6 would wrap
    // to 0, and a huge length read as a small one is a smuggling hole.
    {
      const unsigned digit = c - '0';
      number_ =
          number_ > (kContentLengthCap - digit) / 10 ? kContentLengthCap : number_ * 10 + digit;
    }
    return HttpError::ok;
  case Field::connection:
  case Field::transfer_encoding:
    list_byte(c);
    return HttpError::ok;
  }
  return HttpError::ok;
}

// #element lists (RFC 9110 5.6.1): elements separated by commas and OWS,
// empty elements allowed. A transfer coding may carry ";"-parameters, which
// are skipped; an element that is not a single short token matches nothing.
void FieldSectionParser::list_byte(uint8_t c) {
  switch (list_) {
  case ListPos::before:
    if (is_ows(c) || c == ',')
      return;
    token_len_ = 0;
    token_bad_ = false;
    if (is_tchar(c)) {
      token_[token_len_++] = static_cast<char>(to_lower(c));
      list_ = ListPos::token;
    } else {
      token_bad_ = true;
      list_ = ListPos::skip;
    }
    return;
  case ListPos::token:
    if (is_tchar(c)) {
      if (token_len_ < kTokenCapacity)
        token_[token_len_++] = static_cast<char>(to_lower(c));
      else
        token_bad_ = true;
    } else if (c == ',') {
      end_list_element();
    } else if (is_ows(c)) {
      list_ = ListPos::after_token;
    } else if (c == ';') {
      list_ = ListPos::skip;
    } else {
      token_bad_ = true;
      list_ = ListPos::skip;
    }
    return;
  case ListPos::after_token:
    if (c == ',') {
      end_list_element();
    } else if (c == ';') {
      list_ = ListPos::skip;
    } else if (!is_ows(c)) {
      token_bad_ = true;
      list_ = ListPos::skip;
    }
    return;
  case ListPos::skip:
    if (c == ',')
      end_list_element();
    return;
  }
}

void FieldSectionParser::end_list_element() {
  const std::string_view token(token_, token_bad_ ? 0 : token_len_);
  if (field_ == Field::connection) {
    if (token == "close")
      summary_.connection_close = true;
    else if (token == "keep-alive")
      summary_.connection_keep_alive = true;
  } else if (field_ == Field::transfer_encoding) {
    summary_.transfer_codings = saturating_inc(summary_.transfer_codings);
    summary_.chunked_last = token == "chunked";
    if (summary_.chunked_last)
      summary_.chunked_codings = saturating_inc(summary_.chunked_codings);
  }
  list_ = ListPos::before;
  token_len_ = 0;
  token_bad_ = false;
}

HttpError FieldSectionParser::end_value() {
  switch (field_) {
  case Field::other:
  case Field::host:
    return HttpError::ok;
  case Field::content_length:
    if (digits_ == DigitsPos::before)
      return HttpError::bad_content_length;
    // RFC 9112 6.3 item 5: differing values make the framing unknowable.
    if (summary_.has_content_length && summary_.content_length != number_)
      return HttpError::conflicting_content_length;
    summary_.has_content_length = true;
    summary_.content_length = number_;
    return HttpError::ok;
  case Field::connection:
  case Field::transfer_encoding:
    if (list_ != ListPos::before)
      end_list_element();
    return HttpError::ok;
  }
  return HttpError::ok;
}

} // namespace shoal::http
