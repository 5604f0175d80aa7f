#include "wire/format.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

namespace shoal::wire {

namespace {

namespace tf = tcp_flags;

template <typename... Args> void append(std::string &s, const char *fmt, Args... args) {
  char buf[96];
  const int n = std::snprintf(buf, sizeof buf, fmt, args...);
  if (n > 0)
    s.append(buf, std::min(static_cast<size_t>(n), sizeof buf - 1));
}

} // namespace

std::string format_tcp_flags(uint8_t flags) {
  std::string s;
  if (flags & tf::SYN)
    s += 'S';
  if (flags & tf::FIN)
    s += 'F';
  if (flags & tf::PSH)
    s += 'P';
  if (flags & tf::RST)
    s += 'R';
  if (flags & tf::URG)
    s += 'U';
  if (flags & tf::CWR)
    s += 'W';
  if (flags & tf::ECE)
    s += 'E';
  if (flags & tf::ACK)
    s += '.';
  if (s.empty())
    s = "none";
  return s;
}

std::string format_tcp_options(const TcpOptions &o) {
  std::string s;
  auto sep = [&s] {
    if (!s.empty())
      s += ',';
  };
  if (o.mss) {
    sep();
    append(s, "mss %u", unsigned{*o.mss});
  }
  if (o.sack_permitted) {
    sep();
    s += "sackOK";
  }
  if (o.timestamp) {
    sep();
    append(s, "TS val %" PRIu32 " ecr %" PRIu32, o.timestamp->val, o.timestamp->ecr);
  }
  if (o.window_scale) {
    sep();
    append(s, "wscale %u", unsigned{*o.window_scale});
  }
  if (o.sack_count > 0) {
    sep();
    s += "sack";
    append(s, " %u", unsigned{o.sack_count});
    for (uint8_t i = 0; i < o.sack_count && i < o.sack.size(); ++i)
      append(s, " {%" PRIu32 ":%" PRIu32 "}", o.sack[i].left, o.sack[i].right);
  }
  return s;
}

std::string format_tcp(const TcpRepr &t, size_t payload_len, const Ipv4Repr *ip) {
  std::string s;
  if (ip != nullptr) {
    append(s, "%s:%u > ", ip->src.to_string().c_str(), unsigned{t.src_port});
    append(s, "%s:%u [", ip->dst.to_string().c_str(), unsigned{t.dst_port});
  } else {
    append(s, "%u > %u [", unsigned{t.src_port}, unsigned{t.dst_port});
  }
  s += format_tcp_flags(t.flags);
  s += ']';
  if (payload_len > 0)
    append(s, " seq %" PRIu32 ":%" PRIu32, t.seq, t.seq + static_cast<uint32_t>(payload_len));
  else
    append(s, " seq %" PRIu32, t.seq);
  if (t.has(tf::ACK))
    append(s, " ack %" PRIu32, t.ack);
  append(s, " win %u", unsigned{t.window});
  if (t.has(tf::URG))
    append(s, " urg %u", unsigned{t.urgent});
  const std::string opts = format_tcp_options(t.options);
  if (!opts.empty())
    s += " <" + opts + ">";
  append(s, " len %zu", payload_len);
  return s;
}

} // namespace shoal::wire
