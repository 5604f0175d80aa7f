#include "http/body.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace shoal::http {

namespace {

// Two copies back to back, so any 64-byte window is one memcpy.
constexpr std::array<char, 128> kPatternTwice = [] {
  std::array<char, 128> a{};
  for (size_t i = 0; i < a.size(); ++i)
    a[i] = kPattern[i % kPattern.size()];
  return a;
}();

} // namespace

void fill_pattern(uint64_t offset, std::span<uint8_t> out) {
  size_t phase = static_cast<size_t>(offset % kPattern.size());
  size_t done = 0;
  while (done < out.size()) {
    const size_t n = std::min(out.size() - done, kPattern.size());
    std::memcpy(out.data() + done, kPatternTwice.data() + phase, n);
    done += n; // n is 64 except at the end, so phase stays put
  }
}

bool matches_pattern(uint64_t offset, std::span<const uint8_t> in) {
  size_t phase = static_cast<size_t>(offset % kPattern.size());
  size_t done = 0;
  while (done < in.size()) {
    const size_t n = std::min(in.size() - done, kPattern.size());
    if (std::memcmp(in.data() + done, kPatternTwice.data() + phase, n) != 0)
      return false;
    done += n;
  }
  return true;
}

size_t PatternBody::write(std::span<uint8_t> out) {
  const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining(), out.size()));
  fill_pattern(offset_, out.first(n));
  offset_ += n;
  return n;
}

std::string_view content_type_for(std::string_view path) {
  // Only the last path segment has an extension.
  const size_t slash = path.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const size_t dot = name.rfind('.');
  if (dot == std::string_view::npos)
    return "application/octet-stream";
  std::array<char, 8> ext{};
  const std::string_view raw = name.substr(dot + 1);
  if (raw.size() > ext.size())
    return "application/octet-stream";
  for (size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    ext[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  const std::string_view e(ext.data(), raw.size());
  struct Entry {
    std::string_view ext, type;
  };
  static constexpr Entry kTypes[] = {
      {"html", "text/html; charset=utf-8"},
      {"htm", "text/html; charset=utf-8"},
      {"txt", "text/plain; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"json", "application/json"},
      {"xml", "application/xml"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"webp", "image/webp"},
      {"ico", "image/vnd.microsoft.icon"},
      {"wasm", "application/wasm"},
      {"pdf", "application/pdf"},
      {"gz", "application/gzip"},
      {"bin", "application/octet-stream"},
  };
  for (const Entry &t : kTypes)
    if (t.ext == e)
      return t.type;
  return "application/octet-stream";
}

} // namespace shoal::http
