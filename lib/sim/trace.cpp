#include "sim/trace.hpp"

#include <cinttypes>
#include <cstdio>
#include <utility>

namespace shoal::sim {

const char *to_string(Fate f) {
  switch (f) {
#define SHOAL_SIM_X_CASE(name)                                                                     \
  case Fate::name:                                                                                 \
    return #name;
    SHOAL_SIM_FATES(SHOAL_SIM_X_CASE)
#undef SHOAL_SIM_X_CASE
  }
  return "unknown";
}

Trace::Trace(Instant epoch, std::array<std::string, 2> names)
    : epoch_(epoch), names_(std::move(names)) {}

TraceEntry &Trace::add_segment(Instant at, Direction dir, std::span<const uint8_t> bytes) {
  if (!enabled_) {
    scratch_ = TraceEntry{};
    return scratch_;
  }
  TraceEntry &e = entries_.emplace_back();
  e.kind = TraceEntry::Kind::segment;
  e.at = at;
  e.dir = dir;
  e.bytes.assign(bytes.begin(), bytes.end());
  return e;
}

void Trace::note(Instant at, std::string text) {
  if (!enabled_)
    return;
  TraceEntry &e = entries_.emplace_back();
  e.kind = TraceEntry::Kind::note;
  e.at = at;
  e.note = std::move(text);
}

std::string Trace::format_time(Instant t) const {
  const int64_t ns = (t - epoch_).count();
  const int64_t us = ns >= 0 ? ns / 1000 : -((-ns + 999) / 1000);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s%" PRId64 ".%06" PRId64, us < 0 ? "-" : "",
                (us < 0 ? -us : us) / 1000000, (us < 0 ? -us : us) % 1000000);
  return buf;
}

std::string Trace::format(const TraceEntry &e) const {
  std::string s = format_time(e.at);
  if (e.kind == TraceEntry::Kind::note) {
    s += " -- ";
    s += e.note;
    s += '\n';
    return s;
  }
  s += ' ';
  s += name(e.dir);
  s += '>';
  s += peer_name(e.dir);
  s += ' ';
  s += format_segment(parse_segment(e.bytes));
  if (e.fate != Fate::delivered) {
    s += " (";
    s += to_string(e.fate);
    s += ')';
  } else {
    if (e.reordered)
      s += " (reordered: arrives " + format_time(e.arrives) + ")";
    else if (e.overtakes)
      s += " (arrives " + format_time(e.arrives) + ", overtaking)";
    if (e.duplicated)
      s += " (duplicated)";
    if (e.corrupted) {
      char buf[48];
      std::snprintf(buf, sizeof buf, " (corrupted: bit %" PRIu32 ")", e.corrupt_bit);
      s += buf;
    }
  }
  s += '\n';
  return s;
}

std::string Trace::format() const {
  std::string s;
  for (const auto &e : entries_)
    s += format(e);
  return s;
}

} // namespace shoal::sim
