#pragma once
// Small pieces shared by the shoal apps: argument parsing helpers.
#include <cerrno>
#include <cstdint>
#include <cstdlib>

namespace shoal::apps {

// "123" -> 123 within [lo, hi]; false otherwise.
inline bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
  if (s == nullptr || *s == '\0')
    return false;
  char *end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || *s == '-' || v < lo || v > hi)
    return false;
  *out = v;
  return true;
}

} // namespace shoal::apps
