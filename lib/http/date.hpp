#pragma once
// The Date field's IMF-fixdate (RFC 9110 5.6.7), e.g.
// "Sun, 06 Nov 1994 08:49:37 GMT". The library never reads a clock: the
// server formats the wall time once a second and hands the string to every
// ResponseHead.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace shoal::http {

inline constexpr size_t kHttpDateLength = 29;

class HttpDate {
public:
  // Seconds since the Unix epoch, UTC. Years 0..9999 only; outside that
  // the text is empty (and the Date field is then omitted).
  explicit HttpDate(int64_t unix_seconds);
  std::string_view view() const & { return {text_.data(), len_}; }
  // A view into a temporary would dangle at the end of the statement.
  std::string_view view() const && = delete;

private:
  std::array<char, kHttpDateLength> text_{};
  size_t len_ = 0;
};

} // namespace shoal::http
