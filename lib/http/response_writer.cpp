#include "http/response_writer.hpp"

#include <cassert>
#include <charconv>
#include <cstring>

#include "http/status.hpp"

namespace shoal::http {

namespace {

constexpr std::string_view kCrlf = "\r\n";

// Decimal text of v: to_chars into a small buffer, no allocation.
struct Decimal {
  char buf[20];
  size_t len;
  explicit Decimal(uint64_t v) {
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    len = static_cast<size_t>(r.ptr - buf);
  }
  std::string_view view() const { return {buf, len}; }
};

// Used by assertions only (a release build compiles them out).
[[maybe_unused]] bool safe_field_text(std::string_view s) {
  for (const char ch : s) {
    const auto c = static_cast<uint8_t>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7f)
      return false;
  }
  return true;
}

// Walks the head once to count and once to write, so the two cannot disagree.
template <class Sink> void emit_head(const ResponseHead &h, Sink &&put) {
  assert(h.status >= 100 && h.status <= 999);
  assert(safe_field_text(h.content_type) && safe_field_text(h.date) && safe_field_text(h.server));
  const uint16_t status = (h.status >= 100 && h.status <= 999) ? h.status : 500;
  put("HTTP/1.1 ");
  put(Decimal(status).view());
  put(" ");
  put(reason_phrase(status));
  put(kCrlf);
  if (!h.server.empty()) {
    put("Server: ");
    put(h.server);
    put(kCrlf);
  }
  if (!h.date.empty()) {
    put("Date: ");
    put(h.date);
    put(kCrlf);
  }
  if (!h.content_type.empty()) {
    put("Content-Type: ");
    put(h.content_type);
    put(kCrlf);
  }
  if (h.content_length) {
    put("Content-Length: ");
    put(Decimal(*h.content_length).view());
    put(kCrlf);
  }
  put(h.keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
  put(h.extra_fields);
  put(kCrlf);
}

} // namespace

size_t response_head_size(const ResponseHead &head) {
  size_t n = 0;
  emit_head(head, [&](std::string_view s) { n += s.size(); });
  return n;
}

HeadWrite write_response_head(const ResponseHead &head, std::span<uint8_t> out) {
  const size_t needed = response_head_size(head);
  if (needed > out.size())
    return {0, needed};
  uint8_t *p = out.data();
  emit_head(head, [&](std::string_view s) {
    if (!s.empty())
      std::memcpy(p, s.data(), s.size());
    p += s.size();
  });
  return {needed, needed};
}

HeadWrite write_error_response(HttpError error, std::span<uint8_t> out, std::string_view date) {
  ResponseHead head;
  head.status = status_for(error) != 0 ? status_for(error) : 400;
  head.keep_alive = false;
  head.content_length = 0;
  head.date = date;
  return write_response_head(head, out);
}

} // namespace shoal::http
