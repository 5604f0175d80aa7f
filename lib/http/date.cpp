#include "http/date.hpp"

namespace shoal::http {

namespace {

constexpr std::string_view kDays[7] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
constexpr std::string_view kMonths[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

constexpr bool is_leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

constexpr int days_in_month(int64_t y, int m) {
  constexpr int kLen[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return kLen[m] + (m == 1 && is_leap(y) ? 1 : 0);
}

void put2(char *p, int v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

} // namespace

HttpDate::HttpDate(int64_t unix_seconds) {
  // Proleptic Gregorian calendar; days counted from 1970-01-01 (a Thursday).
  constexpr int64_t kMin = -62167219200; // 0000-01-01T00:00:00Z
  constexpr int64_t kMax = 253402300799; // 9999-12-31T23:59:59Z
  if (unix_seconds < kMin || unix_seconds > kMax)
    return;
  int64_t days = unix_seconds / 86400;
  int64_t secs = unix_seconds % 86400;
  if (secs < 0) {
    secs += 86400;
    --days;
  }
  const int weekday = static_cast<int>(((days % 7) + 7) % 7);
  // Whole 400-year eras (146097 days each) first, then years one by one:
  // at most 400 steps, and only once a second in a server.
  int64_t year = 1970;
  int64_t eras = days / 146097;
  days -= eras * 146097;
  if (days < 0) {
    days += 146097;
    --eras;
  }
  year += eras * 400;
  while (days >= (is_leap(year) ? 366 : 365)) {
    days -= is_leap(year) ? 366 : 365;
    ++year;
  }
  int month = 0;
  while (days >= days_in_month(year, month)) {
    days -= days_in_month(year, month);
    ++month;
  }
  char *p = text_.data();
  // "Www, DD Mmm YYYY HH:MM:SS GMT"
  kDays[weekday].copy(p, 3);
  p[3] = ',';
  p[4] = ' ';
  put2(p + 5, static_cast<int>(days) + 1);
  p[7] = ' ';
  kMonths[month].copy(p + 8, 3);
  p[11] = ' ';
  put2(p + 12, static_cast<int>(year / 100));
  put2(p + 14, static_cast<int>(year % 100));
  p[16] = ' ';
  put2(p + 17, static_cast<int>(secs / 3600));
  p[19] = ':';
  put2(p + 20, static_cast<int>(secs / 60 % 60));
  p[22] = ':';
  put2(p + 23, static_cast<int>(secs % 60));
  std::string_view(" GMT").copy(p + 25, 4);
  len_ = kHttpDateLength;
}

} // namespace shoal::http
