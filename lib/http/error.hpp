#pragma once
// Why an HTTP message was rejected, and the status a server sends for it.
// One table (an X-macro) generates the enum, the names, the statuses and the
// count, so shoal-httpd keeps one drop counter per reason without a second
// list to keep in sync.
//
// Every request error ends the connection: the server sends the status with
// "Connection: close" and stops reading (RFC 9112 9.6: after a framing error
// the rest of the stream cannot be trusted). Errors only a client sees (a
// malformed response) carry status 0: there is nobody to answer.
#include <cstddef>
#include <cstdint>

namespace shoal::http {

// clang-format off
#define SHOAL_HTTP_ERRORS(X)                                                                     \
  X(ok,                       0,   "accepted")                                                   \
  /* request line (RFC 9112 3) */                                                                \
  X(too_many_empty_lines,     400, "more blank lines before the request line than tolerated (RFC 9112 2.2)") \
  X(bad_method,               400, "method is empty or not a token (RFC 9110 9.1)")              \
  X(method_too_long,          501, "method longer than any this server implements")             \
  X(bad_request_target,       400, "request-target empty or holds a byte that is not VCHAR (RFC 9112 3.2)") \
  X(target_too_long,          414, "request-target longer than the limit (RFC 9112 3)")          \
  X(missing_version,          400, "request line without an HTTP-version (HTTP/0.9 form)")       \
  X(bad_version,              400, "HTTP-version is not \"HTTP/\" DIGIT \".\" DIGIT (RFC 9112 2.3)") \
  X(version_not_supported,    505, "HTTP major version other than 1")                           \
  X(bad_line_ending,          400, "CR not followed by LF, or a bare LF (RFC 9112 2.2)")         \
  /* field section (RFC 9112 5, RFC 9110 5) */                                                   \
  X(bad_field_name,           400, "field name empty or not a token (RFC 9110 5.1)")             \
  X(space_before_colon,       400, "whitespace between field name and colon (RFC 9112 5.1)")     \
  X(obs_fold,                 400, "field line folded onto a continuation line (RFC 9112 5.2)")  \
  X(bad_field_value,          400, "control character in a field value (RFC 9110 5.5)")         \
  X(field_line_too_long,      431, "one field line longer than the limit (RFC 6585 5)")          \
  X(too_many_fields,          431, "more field lines than the limit (RFC 6585 5)")               \
  X(header_section_too_large, 431, "field section longer than the limit (RFC 6585 5)")           \
  X(missing_host,             400, "HTTP/1.1 request without Host (RFC 9112 3.2)")               \
  X(duplicate_host,           400, "more than one Host field line (RFC 9112 3.2)")               \
  /* message body framing (RFC 9112 6) */                                                        \
  X(bad_content_length,       400, "Content-Length is not 1*DIGIT (RFC 9110 8.6)")               \
  X(conflicting_content_length, 400, "Content-Length field lines with different values (RFC 9112 6.3)") \
  X(content_too_large,        413, "request body longer than the limit (RFC 9110 15.5.14)")      \
  X(transfer_encoding_http10, 400, "Transfer-Encoding in an HTTP/1.0 message (RFC 9112 6.1)")    \
  X(transfer_encoding_with_content_length, 400, "both Transfer-Encoding and Content-Length: a smuggling shape (RFC 9112 6.3)") \
  X(chunked_not_final,        400, "chunked missing as the final coding, or applied twice (RFC 9112 6.3)") \
  X(unsupported_transfer_coding, 501, "a transfer coding other than chunked (RFC 9112 6.1)")     \
  X(chunked_request_body,     411, "chunked request body: shoal asks for Content-Length instead (RFC 9112 6.3)") \
  /* response side (client only: nothing to answer) */                                           \
  X(bad_status_line,          0,   "status line is not HTTP-version SP 3DIGIT [SP reason] (RFC 9112 4)") \
  X(status_line_too_long,     0,   "status line longer than the limit")                          \
  X(chunked_response,         0,   "chunked response body: the shoal client reads Content-Length only") \
  X(truncated_message,        0,   "connection closed inside a message")
// clang-format on

enum class HttpError : uint8_t {
#define SHOAL_HTTP_X_ENUM(name, status, meaning) name,
  SHOAL_HTTP_ERRORS(SHOAL_HTTP_X_ENUM)
#undef SHOAL_HTTP_X_ENUM
};

constexpr size_t kHttpErrorCount = 0
#define SHOAL_HTTP_X_COUNT(name, status, meaning) +1
    SHOAL_HTTP_ERRORS(SHOAL_HTTP_X_COUNT)
#undef SHOAL_HTTP_X_COUNT
    ;

// The status a server answers with (400, 413, 414, 431, 501, 505 ...); 0 for
// `ok` and for the response-side errors.
constexpr uint16_t status_for(HttpError e) {
  switch (e) {
#define SHOAL_HTTP_X_STATUS(name, status, meaning)                                                 \
  case HttpError::name:                                                                            \
    return status;
    SHOAL_HTTP_ERRORS(SHOAL_HTTP_X_STATUS)
#undef SHOAL_HTTP_X_STATUS
  }
  return 0;
}

// "bad_method", ... (the enumerator's own name); "unknown" out of range.
const char *to_string(HttpError);
// The one-line meaning from the table.
const char *describe(HttpError);

} // namespace shoal::http
