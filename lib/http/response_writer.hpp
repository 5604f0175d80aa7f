#pragma once
// Response heads written straight into caller-provided space (the send
// ring's reserved bytes): nothing is allocated and nothing is copied twice.
//
//   HTTP/1.1 200 OK\r\n
//   Server: shoal\r\n
//   Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n          (when given)
//   Content-Type: text/html\r\n                      (when given)
//   Content-Length: 1234\r\n                         (when given)
//   Connection: keep-alive\r\n                       (or close)
//   \r\n
//
// The version is always HTTP/1.1, also to HTTP/1.0 clients (RFC 9110 2.5: a
// server sends the highest minor version it conforms to). Connection is
// always explicit: HTTP/1.0 clients need "keep-alive" to persist (RFC 9112
// 9.3), and "close" tells HTTP/1.1 clients not to pipeline more.
//
// The strings are the caller's and are written as given: they must not hold
// CR, LF or other control characters (response splitting, RFC 9112 11.1).
// The helpers here (content_type_for, format_http_date) only produce safe
// ones.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "http/error.hpp"

namespace shoal::http {

struct ResponseHead {
  uint16_t status = 200; // 100..999; the reason phrase comes from status.hpp
  bool keep_alive = true;
  // Omit only where RFC 9110 8.6 allows it (1xx, 204) or when the body is
  // delimited by closing the connection (then keep_alive must be false).
  // For a HEAD response, give the length the GET would have (RFC 9110 9.3.2).
  std::optional<uint64_t> content_length = 0;
  std::string_view content_type{}; // omitted when empty
  std::string_view date{};         // an IMF-fixdate (format_http_date); omitted when empty
  std::string_view server = "shoal";
  // Further field lines, each already "Name: value\r\n"; written verbatim.
  std::string_view extra_fields{};
};

struct HeadWrite {
  size_t written = 0; // bytes written: 0, or all of `needed`
  size_t needed = 0;  // size of the whole head
  bool fits() const { return written == needed && needed != 0; }
};

// Exact size of the head, to reserve before writing.
size_t response_head_size(const ResponseHead &head);

// Writes the whole head into `out`, or nothing if it does not fit (then
// `needed` says how much space to find).
HeadWrite write_response_head(const ResponseHead &head, std::span<uint8_t> out);

// The answer to a malformed request: status_for(error) (400 if the error has
// none), an empty body, Connection: close (every parse error ends the
// connection).
HeadWrite write_error_response(HttpError error, std::span<uint8_t> out, std::string_view date = {});

} // namespace shoal::http
