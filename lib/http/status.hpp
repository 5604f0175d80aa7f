#pragma once
// Status codes a shoal server sends, with their reason phrases (RFC 9110 15,
// RFC 6585). The reason phrase is advisory (RFC 9112 4); unknown codes get an
// empty one, which the grammar allows.
#include <cstdint>
#include <string_view>

namespace shoal::http {

// clang-format off
#define SHOAL_HTTP_STATUSES(X)                      \
  X(100, "Continue")                                \
  X(200, "OK")                                      \
  X(201, "Created")                                 \
  X(204, "No Content")                              \
  X(206, "Partial Content")                         \
  X(301, "Moved Permanently")                       \
  X(302, "Found")                                   \
  X(304, "Not Modified")                            \
  X(400, "Bad Request")                             \
  X(403, "Forbidden")                               \
  X(404, "Not Found")                               \
  X(405, "Method Not Allowed")                      \
  X(408, "Request Timeout")                         \
  X(411, "Length Required")                         \
  X(413, "Content Too Large")                       \
  X(414, "URI Too Long")                            \
  X(416, "Range Not Satisfiable")                   \
  X(431, "Request Header Fields Too Large")         \
  X(500, "Internal Server Error")                   \
  X(501, "Not Implemented")                         \
  X(503, "Service Unavailable")                     \
  X(505, "HTTP Version Not Supported")
// clang-format on

constexpr std::string_view reason_phrase(uint16_t status) {
  switch (status) {
#define SHOAL_HTTP_X_REASON(code, reason)                                                          \
  case code:                                                                                       \
    return reason;
    SHOAL_HTTP_STATUSES(SHOAL_HTTP_X_REASON)
#undef SHOAL_HTTP_X_REASON
  }
  return {};
}

} // namespace shoal::http
