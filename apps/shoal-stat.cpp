// shoal-stat: the live counters of a running shoal process, per shard.
//
// It talks to the process's DPDK telemetry socket
// (<runtime dir>/<file-prefix>/dpdk_telemetry.v2, SOCK_SEQPACKET): the server
// greets with {"version": ..., "pid": ..., "max_output_len": ...}; each
// message sent is a command ("/shoal/stats" or "/shoal/stats,<shard>"), each
// reply one JSON object {"<command>": <value>}, with null for an unknown
// command or a handler error. The stock dpdk-telemetry.py reads the same.
// Three commands are shown: /shoal/stats (counters), /shoal/conns
// (connections per state) and /shoal/mem (memory held; left out for a
// process that does not have it).
//
//   shoal-stat --prefix shoal-default            one table, non-zero counters
//   shoal-stat --socket PATH --all               every counter
//   shoal-stat --watch 1                         refresh every second, with rates
//   shoal-stat --once --format=plain             "stats shard0 rx_packets 12" lines, for scripts
//   shoal-stat --describe                        every counter's name, kind, description
//
// --describe alone prints the tables compiled into this shoal-stat
// (lib/shard/counter_catalog.hpp), no process needed; with --prefix or
// --socket it asks the process (/shoal/describe), whose build may differ.
//
// The whole-process reply of /shoal/stats may exceed DPDK's output limit
// (16 KB in 22.11) with several shards, and DPDK then leaves shards out. So
// shoal-stat asks shard by shard (/shoal/stats,0, /shoal/stats,1 ... until a
// null), and falls back to the whole reply only for a process that does not
// take the parameter.
//
// The parser, the table builder and the formatters are plain functions in
// namespace shoal::stat, unit-tested on captured replies
// (tests/unit/steer/shoal_stat_test.cpp includes this file with
// SHOAL_STAT_NO_MAIN).
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "shard/counter_catalog.hpp"

namespace shoal::stat {

// ---------------------------------------------------------------------------
// JSON (RFC 8259), enough for what DPDK telemetry emits: objects keep their
// member order (a table lists counters in the order the process declares
// them), numbers keep exact unsigned 64-bit integers.

struct Json {
  enum class Kind : uint8_t { null, boolean, number, string, array, object };
  Kind kind = Kind::null;
  bool boolean = false;
  double number = 0;
  bool is_uint = false; // a non-negative integer that fits uint64_t: exact in `uint`
  uint64_t uint = 0;
  std::string string;
  std::vector<Json> array;
  std::vector<std::pair<std::string, Json>> object;

  bool is_null() const { return kind == Kind::null; }
  bool is_object() const { return kind == Kind::object; }
  bool is_number() const { return kind == Kind::number; }
  // Member `key` of an object, nullptr if absent (or not an object).
  const Json *get(std::string_view key) const {
    if (kind != Kind::object)
      return nullptr;
    for (const auto &[k, v] : object)
      if (k == key)
        return &v;
    return nullptr;
  }
};

namespace detail {

class Parser {
public:
  explicit Parser(std::string_view text) : s_(text) {}

  std::optional<Json> parse_document(std::string *error) {
    Json v;
    bool ok = value(v, 0);
    if (ok) {
      skip_ws();
      ok = pos_ == s_.size() || fail("trailing characters");
    }
    if (!ok) {
      *error = "JSON: " + error_ + " at offset " + std::to_string(pos_);
      return std::nullopt;
    }
    return v;
  }

private:
  static constexpr int kMaxDepth = 64;

  bool fail(const char *why) {
    if (error_.empty())
      error_ = why;
    return false;
  }
  void skip_ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      pos_++;
  }
  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word)
      return fail("invalid literal");
    pos_ += word.size();
    return true;
  }

  bool value(Json &out, int depth) {
    if (depth > kMaxDepth)
      return fail("nested too deeply");
    skip_ws();
    if (pos_ >= s_.size())
      return fail("unexpected end of input");
    switch (s_[pos_]) {
    case '{':
      return object(out, depth);
    case '[':
      return array(out, depth);
    case '"':
      out.kind = Json::Kind::string;
      return string(out.string);
    case 't':
      out.kind = Json::Kind::boolean;
      out.boolean = true;
      return literal("true");
    case 'f':
      out.kind = Json::Kind::boolean;
      return literal("false");
    case 'n':
      out.kind = Json::Kind::null;
      return literal("null");
    default:
      return number(out);
    }
  }

  bool object(Json &out, int depth) {
    out.kind = Json::Kind::object;
    pos_++; // '{'
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      pos_++;
      return true;
    }
    for (;;) {
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != '"')
        return fail("expected a member name");
      std::string key;
      if (!string(key))
        return false;
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != ':')
        return fail("expected ':'");
      pos_++;
      Json v;
      if (!value(v, depth + 1))
        return false;
      out.object.emplace_back(std::move(key), std::move(v));
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        pos_++;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == '}') {
        pos_++;
        return true;
      }
      return fail("expected ',' or '}'");
    }
  }

  bool array(Json &out, int depth) {
    out.kind = Json::Kind::array;
    pos_++; // '['
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      pos_++;
      return true;
    }
    for (;;) {
      Json v;
      if (!value(v, depth + 1))
        return false;
      out.array.push_back(std::move(v));
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        pos_++;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == ']') {
        pos_++;
        return true;
      }
      return fail("expected ',' or ']'");
    }
  }

  static void append_utf8(std::string &out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  bool hex4(uint32_t &cp) {
    if (s_.size() - pos_ < 4)
      return fail("truncated \\u escape");
    cp = 0;
    for (int i = 0; i < 4; i++) {
      const char c = s_[pos_++];
      cp <<= 4;
      if (c >= '0' && c <= '9')
        cp |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        cp |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        cp |= static_cast<uint32_t>(c - 'A' + 10);
      else
        return fail("bad hex digit in \\u escape");
    }
    return true;
  }

  bool string(std::string &out) {
    pos_++; // opening quote
    for (;;) {
      if (pos_ >= s_.size())
        return fail("unterminated string");
      const char c = s_[pos_++];
      if (c == '"')
        return true;
      if (static_cast<unsigned char>(c) < 0x20)
        return fail("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size())
        return fail("unterminated escape");
      switch (const char e = s_[pos_++]) {
      case '"':
      case '\\':
      case '/':
        out += e;
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        uint32_t cp = 0;
        if (!hex4(cp))
          return false;
        if (cp >= 0xd800 && cp <= 0xdbff) { // high surrogate: a low one must follow
          uint32_t lo = 0;
          if (s_.substr(pos_, 2) != "\\u")
            return fail("lone high surrogate");
          pos_ += 2;
          if (!hex4(lo))
            return false;
          if (lo < 0xdc00 || lo > 0xdfff)
            return fail("bad low surrogate");
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
          return fail("lone low surrogate");
        }
        append_utf8(out, cp);
        break;
      }
      default:
        return fail("unknown escape");
      }
    }
  }

  bool number(Json &out) {
    const size_t start = pos_;
    auto digits = [&] {
      const size_t from = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9')
        pos_++;
      return pos_ - from;
    };
    bool integer = true;
    if (pos_ < s_.size() && s_[pos_] == '-') {
      pos_++;
      integer = false; // kept as double: counters are never negative
    }
    const size_t int_start = pos_;
    if (digits() == 0)
      return fail("expected a value");
    if (s_[int_start] == '0' && pos_ - int_start > 1)
      return fail("leading zero in number");
    if (pos_ < s_.size() && s_[pos_] == '.') {
      pos_++;
      integer = false;
      if (digits() == 0)
        return fail("expected digits after '.'");
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      pos_++;
      integer = false;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-'))
        pos_++;
      if (digits() == 0)
        return fail("expected digits in exponent");
    }
    out.kind = Json::Kind::number;
    const std::string text(s_.substr(start, pos_ - start));
    out.number = std::strtod(text.c_str(), nullptr);
    if (integer) {
      uint64_t u = 0;
      const auto r = std::from_chars(text.data(), text.data() + text.size(), u);
      if (r.ec == std::errc{}) {
        out.is_uint = true;
        out.uint = u;
      }
    }
    return true;
  }

  std::string_view s_;
  size_t pos_ = 0;
  std::string error_;
};

} // namespace detail

// The JSON text as a value; nullopt and "JSON: <reason> at offset N" in *error
// for anything malformed (truncated, trailing garbage, bad escapes, depth > 64).
inline std::optional<Json> parse_json(std::string_view text, std::string *error) {
  return detail::Parser(text).parse_document(error);
}

// ---------------------------------------------------------------------------
// Tables: rows are counter names, columns are shards (plus a total).

struct Cell {
  enum class Kind : uint8_t { absent, uint, number, text };
  Kind kind = Kind::absent;
  uint64_t uint = 0;
  double number = 0;
  std::string text;

  bool numeric() const { return kind == Kind::uint || kind == Kind::number; }
  double value() const { return kind == Kind::uint ? static_cast<double>(uint) : number; }
  bool zero() const { return !numeric() || (kind == Kind::uint ? uint == 0 : number == 0); }
};

struct Table {
  std::vector<std::string> columns;     // "shard0", "shard1", ...
  std::vector<std::string> rows;        // counter names, first-seen order
  std::vector<std::vector<Cell>> cells; // [row][column]

  size_t row_index(const std::string &name) {
    for (size_t i = 0; i < rows.size(); i++)
      if (rows[i] == name)
        return i;
    rows.push_back(name);
    cells.emplace_back(columns.size());
    return rows.size() - 1;
  }
  size_t add_column(const std::string &name) {
    columns.push_back(name);
    for (auto &r : cells)
      r.emplace_back();
    return columns.size() - 1;
  }
  const Cell *find(const std::string &row, const std::string &column) const {
    for (size_t r = 0; r < rows.size(); r++)
      if (rows[r] == row)
        for (size_t c = 0; c < columns.size(); c++)
          if (columns[c] == column)
            return &cells[r][c];
    return nullptr;
  }
  // Sum of the numeric cells of a row; exact while every cell is an integer.
  Cell total(size_t row) const {
    Cell t;
    bool all_uint = true;
    uint64_t u = 0;
    double d = 0;
    for (const Cell &c : cells[row]) {
      if (!c.numeric())
        continue;
      t.kind = Cell::Kind::number;
      all_uint = all_uint && c.kind == Cell::Kind::uint;
      u += c.uint;
      d += c.value();
    }
    if (t.kind == Cell::Kind::absent)
      return t;
    if (all_uint) {
      t.kind = Cell::Kind::uint;
      t.uint = u;
    }
    t.number = d;
    return t;
  }
};

namespace detail {

Cell cell_of(const Json &v) {
  Cell c;
  switch (v.kind) {
  case Json::Kind::number:
    c.kind = v.is_uint ? Cell::Kind::uint : Cell::Kind::number;
    c.uint = v.uint;
    c.number = v.number;
    break;
  case Json::Kind::boolean:
    c.kind = Cell::Kind::uint;
    c.uint = v.boolean ? 1 : 0;
    break;
  case Json::Kind::string:
    c.kind = Cell::Kind::text;
    c.text = v.string;
    break;
  case Json::Kind::null:
    break;
  case Json::Kind::array: {
    c.kind = Cell::Kind::text;
    c.text = "[" + std::to_string(v.array.size()) + " items]";
    break;
  }
  case Json::Kind::object:
    break; // flattened by the caller
  }
  return c;
}

// Puts every leaf of v into column `col`, nested names joined with '.'.
void add_leaves(Table &t, size_t col, const std::string &prefix, const Json &v) {
  if (v.is_object()) {
    for (const auto &[k, child] : v.object)
      add_leaves(t, col, prefix.empty() ? k : prefix + "." + k, child);
    return;
  }
  if (prefix.empty())
    return;
  t.cells[t.row_index(prefix)][col] = cell_of(v);
}

} // namespace detail

// One column added to `t` from a per-shard object {"rx_packets": 12, ...}.
inline void add_column(Table &t, const std::string &column, const Json &counters) {
  const size_t col = t.add_column(column);
  detail::add_leaves(t, col, "", counters);
}

// The value of a telemetry reply as a table:
//   {"shard0": {...}, "shard1": {...}}  -> one column per member whose value
//                                          is an object (the usual shape); a
//                                          "total" member beside them is dropped;
//   {"rx_packets": 12, ...}             -> one column named `single`;
//   null / anything else                -> empty table.
// Deeper objects are flattened into dotted row names ("tcp.syn_in").
inline Table table_from(const Json &value, const std::string &single = "value") {
  Table t;
  if (!value.is_object() || value.object.empty())
    return t;
  const bool per_column = std::all_of(value.object.begin(), value.object.end(),
                                      [](const auto &m) { return m.second.is_object(); });
  if (per_column) {
    // A "total" member next to per-shard ones (/shoal/conns sends one) is
    // left out: the formatters add their own total column.
    const bool skip_total = value.object.size() > 1 && value.get("total") != nullptr;
    for (const auto &[name, inner] : value.object)
      if (!(skip_total && name == "total"))
        add_column(t, name, inner);
  } else {
    add_column(t, single, value);
  }
  return t;
}

// The value of the reply to `command`: reply[command] (DPDK keys the reply by
// the command as sent, parameter included), else the reply's only member.
inline const Json *reply_value(const Json &reply, std::string_view command) {
  if (const Json *v = reply.get(command))
    return v;
  if (reply.is_object() && reply.object.size() == 1)
    return &reply.object.front().second;
  return nullptr;
}

struct FormatOptions {
  bool all = false; // rows that are zero everywhere too
  // A "total" column summing the others (with more than one column); off
  // for a table that carries the process's own total (memory_table).
  bool sum_columns = true;
};

namespace detail {

std::string cell_text(const Cell &c) {
  char buf[64];
  switch (c.kind) {
  case Cell::Kind::absent:
    return "-";
  case Cell::Kind::uint:
    return std::to_string(c.uint);
  case Cell::Kind::number:
    if (std::isfinite(c.number) && c.number == std::floor(c.number) && std::fabs(c.number) < 1e15)
      std::snprintf(buf, sizeof buf, "%.0f", c.number);
    else
      std::snprintf(buf, sizeof buf, "%.6g", c.number);
    return buf;
  case Cell::Kind::text:
    return c.text;
  }
  return "-";
}

std::string rate_text(double r) {
  char buf[64];
  std::snprintf(buf, sizeof buf, r == std::floor(r) ? "%.0f" : "%.1f", r);
  return buf;
}

bool row_shown(const Table &t, size_t r, const FormatOptions &o) {
  if (o.all)
    return true;
  return std::any_of(t.cells[r].begin(), t.cells[r].end(), [](const Cell &c) {
    return c.kind == Cell::Kind::text || (c.numeric() && !c.zero());
  });
}

// Per-second change of a row's total since `prev` (nullopt: no earlier sample
// or the row is new).
std::optional<double> row_rate(const Table &t, size_t r, const Table *prev, double seconds) {
  if (prev == nullptr || seconds <= 0)
    return std::nullopt;
  for (size_t p = 0; p < prev->rows.size(); p++)
    if (prev->rows[p] == t.rows[r]) {
      const Cell now = t.total(r), before = prev->total(p);
      if (!now.numeric() || !before.numeric())
        return std::nullopt;
      return (now.value() - before.value()) / seconds;
    }
  return std::nullopt;
}

} // namespace detail

// A right-aligned text table:
//   <title>          shard0   shard1    total   rate/s
//   rx_packets           12       30       42      1.5
// "total" appears with more than one column, "rate/s" when prev is given.
// Rows zero in every column are left out unless o.all. An empty table (or
// one whose rows are all hidden) prints "<title>: (none)" or "(all zero)".
inline std::string format_table(const std::string &title, const Table &t, const FormatOptions &o,
                                const Table *prev = nullptr, double seconds = 0) {
  if (t.columns.empty() || t.rows.empty())
    return title + ": (none)\n";
  const bool with_total = o.sum_columns && t.columns.size() > 1;
  const bool with_rate = prev != nullptr && seconds > 0;
  std::vector<std::string> header{title};
  for (const auto &c : t.columns)
    header.push_back(c);
  if (with_total)
    header.push_back("total");
  if (with_rate)
    header.push_back("rate/s");
  std::vector<std::vector<std::string>> lines{header};
  for (size_t r = 0; r < t.rows.size(); r++) {
    if (!detail::row_shown(t, r, o))
      continue;
    std::vector<std::string> line{t.rows[r]};
    for (const Cell &c : t.cells[r])
      line.push_back(detail::cell_text(c));
    if (with_total)
      line.push_back(detail::cell_text(t.total(r)));
    if (with_rate) {
      const auto rate = detail::row_rate(t, r, prev, seconds);
      line.push_back(rate ? detail::rate_text(*rate) : "-");
    }
    lines.push_back(std::move(line));
  }
  if (lines.size() == 1)
    return title + ": (all zero; --all shows every counter)\n";
  std::vector<size_t> width(header.size(), 0);
  for (const auto &l : lines)
    for (size_t i = 0; i < l.size(); i++)
      width[i] = std::max(width[i], l[i].size());
  std::string out;
  for (const auto &l : lines) {
    for (size_t i = 0; i < l.size(); i++) {
      if (i == 0) {
        out += l[i];
        out.append(width[0] - l[i].size(), ' ');
      } else {
        out.append(width[i] - l[i].size() + 2, ' ');
        out += l[i];
      }
    }
    out += '\n';
  }
  return out;
}

// One line per cell, for grep and awk:
//   <kind> <column> <row> <value>       e.g. "stats shard0 rx_packets 12"
//   <kind> total <row> <value>          (with more than one column)
//   <kind> rate <row> <per second>      (when prev is given)
// Same row filter as format_table.
inline std::string format_plain(const std::string &kind, const Table &t, const FormatOptions &o,
                                const Table *prev = nullptr, double seconds = 0) {
  std::string out;
  for (size_t r = 0; r < t.rows.size(); r++) {
    if (!detail::row_shown(t, r, o))
      continue;
    for (size_t c = 0; c < t.columns.size(); c++)
      out += kind + " " + t.columns[c] + " " + t.rows[r] + " " + detail::cell_text(t.cells[r][c]) +
             "\n";
    if (o.sum_columns && t.columns.size() > 1)
      out += kind + " total " + t.rows[r] + " " + detail::cell_text(t.total(r)) + "\n";
    if (const auto rate = detail::row_rate(t, r, prev, seconds))
      out += kind + " rate " + t.rows[r] + " " + detail::rate_text(*rate) + "\n";
  }
  return out;
}

// The value of /shoal/mem as a table: {"mempool": {...}, "shard0": {...}}
// -> one column per mempool (mbufs, shared by the shards) and per shard (the
// engine's pools and tables); the total column then adds them up. A "total"
// member, should the process send one, is kept as the last column instead
// (and must not be added up again: see memory_format).
inline Table memory_table(const Json &value) {
  Table t;
  if (!value.is_object())
    return t;
  for (const auto &[name, inner] : value.object)
    if (name != "total" && inner.is_object())
      add_column(t, name, inner);
  if (const Json *total = value.get("total"); total != nullptr && total->is_object())
    add_column(t, "total", *total);
  return t;
}

// Every row of the memory table, with a summed total column unless the
// process sent its own.
inline FormatOptions memory_format(const Table &mem) {
  FormatOptions o;
  o.all = true;
  o.sum_columns = mem.columns.empty() || mem.columns.back() != "total";
  return o;
}

// ---------------------------------------------------------------------------
// The telemetry socket.

// <runtime dir>/<prefix>/dpdk_telemetry.v2, where the runtime dir is DPDK's:
// /var/run/dpdk for root, $XDG_RUNTIME_DIR/dpdk (or /tmp/dpdk) otherwise.
inline std::string socket_path_for_prefix(const std::string &prefix) {
  std::string base = "/var/run/dpdk";
  if (geteuid() != 0) {
    const char *xdg = std::getenv("XDG_RUNTIME_DIR");
    base = std::string(xdg != nullptr && *xdg != '\0' ? xdg : "/tmp") + "/dpdk";
  }
  return base + "/" + prefix + "/dpdk_telemetry.v2";
}

class TelemetryClient {
public:
  TelemetryClient() = default;
  ~TelemetryClient() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  TelemetryClient(const TelemetryClient &) = delete;
  TelemetryClient &operator=(const TelemetryClient &) = delete;

  // Connects and reads the greeting.
  bool connect(const std::string &path, std::string *error) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) {
      *error = path + ": socket path too long";
      return false;
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    fd_ = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      *error = std::string("socket: ") + std::strerror(errno);
      return false;
    }
    if (::connect(fd_, reinterpret_cast<const sockaddr *>(&addr), sizeof addr) != 0) {
      *error = path + ": " + std::strerror(errno) + " (is the process running, with telemetry?)";
      return false;
    }
    std::string text;
    if (!receive(&text, error))
      return false;
    auto greeting = parse_json(text, error);
    if (!greeting) {
      *error = "greeting: " + *error;
      return false;
    }
    if (const Json *v = greeting->get("version"); v != nullptr && v->kind == Json::Kind::string)
      version_ = v->string;
    if (const Json *p = greeting->get("pid"); p != nullptr && p->is_uint)
      pid_ = static_cast<long>(p->uint);
    if (const Json *m = greeting->get("max_output_len"); m != nullptr && m->is_uint)
      max_output_ = std::max<size_t>(max_output_, static_cast<size_t>(m->uint) + 1);
    return true;
  }

  // Sends `command` and returns the reply as the process sent it.
  std::optional<std::string> query_text(const std::string &command, std::string *error) {
    if (::send(fd_, command.data(), command.size(), MSG_NOSIGNAL) < 0) {
      *error = "send " + command + ": " + std::strerror(errno);
      return std::nullopt;
    }
    std::string text;
    if (!receive(&text, error))
      return std::nullopt;
    return text;
  }

  // Sends `command` and returns the value of the reply (which is null for an
  // unknown command).
  std::optional<Json> query(const std::string &command, std::string *error) {
    const auto text = query_text(command, error);
    if (!text)
      return std::nullopt;
    auto reply = parse_json(*text, error);
    if (!reply) {
      *error = "reply to " + command + ": " + *error;
      return std::nullopt;
    }
    const Json *v = reply_value(*reply, command);
    if (v == nullptr) {
      *error = "reply to " + command + " does not name it";
      return std::nullopt;
    }
    return *v;
  }

  const std::string &version() const { return version_; }
  long pid() const { return pid_; }

private:
  bool receive(std::string *text, std::string *error) {
    std::string buf(max_output_, '\0');
    const ssize_t n = ::recv(fd_, buf.data(), buf.size(), MSG_TRUNC);
    if (n < 0) {
      *error = std::string("recv: ") + std::strerror(errno);
      return false;
    }
    if (n == 0) {
      *error = "the process closed the telemetry connection";
      return false;
    }
    if (static_cast<size_t>(n) > buf.size()) {
      *error = "reply of " + std::to_string(n) + " bytes truncated";
      return false;
    }
    buf.resize(static_cast<size_t>(n));
    *text = std::move(buf);
    return true;
  }

  int fd_ = -1;
  std::string version_;
  long pid_ = -1;
  size_t max_output_ = 64 * 1024;
};

// The per-shard counters: /shoal/stats,0, ,1 ... until null, or the whole
// /shoal/stats when the first per-shard query is refused.
inline std::optional<Table> fetch_stats(TelemetryClient &c, std::string *error) {
  Table t;
  for (unsigned id = 0; id < 4096; id++) {
    auto v = c.query("/shoal/stats," + std::to_string(id), error);
    if (!v)
      return std::nullopt;
    if (!v->is_object())
      break;
    add_column(t, "shard" + std::to_string(id), *v);
  }
  if (!t.columns.empty())
    return t;
  auto whole = c.query("/shoal/stats", error);
  if (!whole)
    return std::nullopt;
  if (whole->is_null()) {
    *error = "/shoal/stats: unknown to this process (not a shoal process?)";
    return std::nullopt;
  }
  return table_from(*whole, "shard0");
}

// ---------------------------------------------------------------------------
// Command line.

struct Options {
  std::string socket;
  bool socket_given = false; // --prefix or --socket on the command line
  bool describe = false;
  bool all = false;
  bool once = false;
  double watch = 0; // seconds; 0: one sample
  long count = 0;   // samples in --watch mode; 0: until interrupted
  enum class Format : uint8_t { table, plain, json } format = Format::table;
};

inline const char *usage() {
  return "usage: shoal-stat [--prefix NAME | --socket PATH] [--all] [--watch SECONDS]\n"
         "                  [--count N] [--once] [--format=table|plain|json] [--describe]\n"
         "  --prefix NAME     the process's EAL --file-prefix (default shoal-default)\n"
         "  --socket PATH     the telemetry socket itself\n"
         "  --all             every counter, zero ones too (default: non-zero only)\n"
         "  --watch SECONDS   refresh every SECONDS, with per-second rates\n"
         "  --count N         stop after N samples (with --watch)\n"
         "  --once            one sample and exit (overrides --watch)\n"
         "  --format=plain    'stats shard0 rx_packets 12' lines; json: the raw replies\n"
         "  --describe        every counter's name, kind and description: this build's\n"
         "                    tables, or with --prefix/--socket the process's\n"
         "                    (--format=plain: 'describe NAME KIND DESCRIPTION' lines)\n";
}

// nullopt and a message in *error for bad arguments; *help for --help.
inline std::optional<Options> parse_args(const std::vector<std::string> &args, bool *help,
                                         std::string *error) {
  Options o;
  std::string prefix = "shoal-default";
  *help = false;
  for (size_t i = 0; i < args.size(); i++) {
    std::string a = args[i], value;
    bool has_value = false;
    if (const size_t eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
      has_value = true;
    }
    auto take = [&]() -> std::optional<std::string> {
      if (has_value)
        return value;
      if (i + 1 >= args.size()) {
        *error = a + " needs a value";
        return std::nullopt;
      }
      return args[++i];
    };
    if (a == "--help" || a == "-h") {
      *help = true;
      return o;
    } else if (a == "--all") {
      o.all = true;
    } else if (a == "--once") {
      o.once = true;
    } else if (a == "--describe") {
      o.describe = true;
    } else if (a == "--prefix" || a == "--socket" || a == "--watch" || a == "--format" ||
               a == "--count") {
      auto v = take();
      if (!v)
        return std::nullopt;
      if (a == "--prefix") {
        if (v->empty() || v->find('/') != std::string::npos) {
          *error = "--prefix: \"" + *v + "\" is not a file prefix";
          return std::nullopt;
        }
        prefix = *v;
        o.socket_given = true;
      } else if (a == "--socket") {
        o.socket = *v;
        o.socket_given = true;
      } else if (a == "--format") {
        if (*v == "table")
          o.format = Options::Format::table;
        else if (*v == "plain")
          o.format = Options::Format::plain;
        else if (*v == "json")
          o.format = Options::Format::json;
        else {
          *error = "--format: \"" + *v + "\" is not table, plain or json";
          return std::nullopt;
        }
      } else {
        char *end = nullptr;
        const double d = std::strtod(v->c_str(), &end);
        if (v->empty() || end != v->c_str() + v->size() || !(d > 0) || d > 86400 ||
            (a == "--count" && d != std::floor(d))) {
          *error = a + ": \"" + *v + "\" is not a positive number";
          return std::nullopt;
        }
        if (a == "--watch")
          o.watch = d;
        else
          o.count = static_cast<long>(d);
      }
    } else {
      *error = "unknown argument \"" + args[i] + "\"";
      return std::nullopt;
    }
  }
  if (o.socket.empty())
    o.socket = socket_path_for_prefix(prefix);
  if (o.once)
    o.watch = 0;
  if (o.describe && o.format == Options::Format::json) {
    *error = "--describe prints --format=table or plain";
    return std::nullopt;
  }
  return o;
}

// One sample's output. prev/seconds give rates in --watch mode. `mem` (the
// /shoal/mem table) is left out when the process does not have it.
inline std::string render(const Options &o, const Table &stats, const std::optional<Table> &conns,
                          const Table *prev_stats, const Table *prev_conns, double seconds,
                          const std::optional<Table> &mem = std::nullopt) {
  const FormatOptions fo{o.all};
  const FormatOptions mem_fo = mem ? memory_format(*mem) : FormatOptions{};
  std::string out;
  if (o.format == Options::Format::plain) {
    out += format_plain("stats", stats, fo, prev_stats, seconds);
    if (conns) // every state, zero too: "conns total ESTABLISHED 0" is worth grepping for
      out += format_plain("conns", *conns, FormatOptions{true}, prev_conns, seconds);
    else
      out += "conns unavailable\n";
    if (mem) // "mem total mbufs_in_use 1040"
      out += format_plain("mem", *mem, mem_fo);
    return out;
  }
  out += format_table("counter", stats, fo, prev_stats, seconds);
  out += '\n';
  if (conns)
    out += format_table("connections", *conns, FormatOptions{true}, prev_conns, seconds);
  else
    out += "connections: not available (this process has no /shoal/conns)\n";
  if (mem) {
    out += '\n';
    out += format_table("memory", *mem, mem_fo);
  }
  return out;
}

// --describe: one line per counter. Table: aligned name and kind columns;
// plain: "describe NAME KIND DESCRIPTION".
inline std::string format_describe(const std::vector<shard::CounterDescription> &counters,
                                   Options::Format format) {
  std::string out;
  if (format == Options::Format::plain) {
    for (const auto &c : counters)
      out += "describe " + c.name + " " + to_string(c.kind) + " " + c.description + "\n";
    return out;
  }
  size_t width = std::string_view("counter").size();
  for (const auto &c : counters)
    width = std::max(width, c.name.size());
  auto line = [&](const std::string &name, const char *kind, const std::string &text) {
    out += name + std::string(width + 2 - name.size(), ' ') + kind +
           std::string(8 - std::min<size_t>(7, std::strlen(kind)), ' ') + text + "\n";
  };
  line("counter", "kind", "description");
  for (const auto &c : counters)
    line(c.name, to_string(c.kind), c.description);
  return out;
}

// The process's counters as /shoal/describe gives them: the list of names
// and kinds, then each one's description.
inline std::optional<std::vector<shard::CounterDescription>>
fetch_describe(TelemetryClient &c, std::string *error) {
  auto list = c.query("/shoal/describe", error);
  if (!list)
    return std::nullopt;
  if (!list->is_object()) {
    *error = "/shoal/describe: unknown to this process (an older shoal?)";
    return std::nullopt;
  }
  std::vector<shard::CounterDescription> out;
  for (const auto &[name, kind] : list->object) {
    auto one = c.query("/shoal/describe," + name, error);
    if (!one)
      return std::nullopt;
    const Json *k = one->get("kind");
    const Json *d = one->get("description");
    if (k == nullptr || d == nullptr || k->kind != Json::Kind::string ||
        d->kind != Json::Kind::string) {
      *error = "/shoal/describe," + name + ": no kind and description";
      return std::nullopt;
    }
    shard::CounterDescription entry{name, CounterKind::event, d->string};
    bool known = false;
    for (const auto kk : {CounterKind::volume, CounterKind::event, CounterKind::drop})
      if (k->string == to_string(kk)) {
        entry.kind = kk;
        known = true;
      }
    if (!known) {
      *error = "/shoal/describe," + name + ": unknown kind \"" + k->string + "\"";
      return std::nullopt;
    }
    out.push_back(std::move(entry));
  }
  return out;
}

inline int run(int argc, char **argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  bool help = false;
  std::string error;
  const auto o = parse_args(args, &help, &error);
  if (help) {
    std::fputs(usage(), stdout);
    return 0;
  }
  if (!o) {
    std::fprintf(stderr, "shoal-stat: %s\n%s", error.c_str(), usage());
    return 2;
  }
  if (o->describe && !o->socket_given) {
    std::fputs(format_describe(shard::counter_catalog(), o->format).c_str(), stdout);
    return 0;
  }
  TelemetryClient client;
  if (!client.connect(o->socket, &error)) {
    std::fprintf(stderr, "shoal-stat: %s\n", error.c_str());
    return 1;
  }
  if (o->describe) {
    const auto counters = fetch_describe(client, &error);
    if (!counters) {
      std::fprintf(stderr, "shoal-stat: %s\n", error.c_str());
      return 1;
    }
    std::fputs(format_describe(*counters, o->format).c_str(), stdout);
    return 0;
  }
  std::optional<Table> prev_stats, prev_conns;
  auto prev_time = std::chrono::steady_clock::now();
  for (long sample = 1;; sample++) {
    if (o->format == Options::Format::json) {
      // The replies as the process sent them, one line per command.
      for (const char *cmd : {"/shoal/stats", "/shoal/conns", "/shoal/mem"}) {
        auto text = client.query_text(cmd, &error);
        if (!text) {
          std::fprintf(stderr, "shoal-stat: %s\n", error.c_str());
          return 1;
        }
        std::printf("%s\n", text->c_str());
      }
      std::fflush(stdout);
    } else {
      auto stats = fetch_stats(client, &error);
      if (!stats) {
        std::fprintf(stderr, "shoal-stat: %s\n", error.c_str());
        return 1;
      }
      std::optional<Table> conns;
      auto c = client.query("/shoal/conns", &error);
      if (!c) {
        std::fprintf(stderr, "shoal-stat: %s\n", error.c_str());
        return 1;
      }
      if (!c->is_null())
        conns = table_from(*c, "all");
      std::optional<Table> mem;
      auto m = client.query("/shoal/mem", &error);
      if (!m) {
        std::fprintf(stderr, "shoal-stat: %s\n", error.c_str());
        return 1;
      }
      if (!m->is_null())
        mem = memory_table(*m);
      const auto now = std::chrono::steady_clock::now();
      const double seconds = std::chrono::duration<double>(now - prev_time).count();
      std::string out;
      if (o->watch > 0 && o->format == Options::Format::table)
        out += "\x1b[H\x1b[2J"; // home + clear: redraw in place
      if (o->format == Options::Format::table) {
        out += "shoal-stat: " + o->socket + " (" + client.version() + ", pid " +
               std::to_string(client.pid()) + ")";
        if (o->watch > 0)
          out += " every " + detail::rate_text(o->watch) + " s";
        out += "\n\n";
      }
      out += render(*o, *stats, conns, prev_stats ? &*prev_stats : nullptr,
                    prev_conns ? &*prev_conns : nullptr, seconds, mem);
      std::fputs(out.c_str(), stdout);
      std::fflush(stdout);
      prev_stats = std::move(stats);
      prev_conns = std::move(conns);
      prev_time = now;
    }
    if (o->watch <= 0 || (o->count > 0 && sample >= o->count))
      return 0;
    std::this_thread::sleep_for(std::chrono::duration<double>(o->watch));
  }
}

} // namespace shoal::stat

#ifndef SHOAL_STAT_NO_MAIN
int main(int argc, char **argv) {
  return shoal::stat::run(argc, argv);
}
#endif
