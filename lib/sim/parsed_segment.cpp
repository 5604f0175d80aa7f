#include "sim/parsed_segment.hpp"

#include <cinttypes>
#include <cstdio>

namespace shoal::sim {

using wire::ParseError;
namespace tf = wire::tcp_flags;

uint32_t ParsedSegment::seq_len() const {
  if (!ok())
    return 0;
  return static_cast<uint32_t>(payload.size()) + (tcp.has(tf::SYN) ? 1 : 0) +
         (tcp.has(tf::FIN) ? 1 : 0);
}

ParsedSegment parse_segment(std::span<const uint8_t> datagram) {
  ParsedSegment p;
  p.ip_error = wire::parse_ipv4(datagram, /*verify_checksum=*/true, p.ip);
  if (p.ip_error != ParseError::ok)
    return p;
  p.is_tcp = p.ip.protocol == wire::kIpProtoTcp;
  if (!p.is_tcp)
    return p;
  const auto segment = datagram.subspan(p.ip.header_len, p.ip.payload_len);
  p.tcp_error = wire::parse_tcp(segment, p.ip.src, p.ip.dst, /*verify_checksum=*/true, p.tcp);
  if (p.tcp_error == ParseError::ok)
    p.payload = wire::tcp_payload(segment, p.tcp);
  return p;
}

std::string format_tcp_flags(uint8_t flags) {
  // tcpdump's order: S F P R U W E, then "." for ACK; "none" when empty.
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

namespace {

void append(std::string &s, const char *fmt, auto... args) {
  char buf[96];
  const int n = std::snprintf(buf, sizeof buf, fmt, args...);
  if (n > 0)
    s.append(buf, std::min(static_cast<size_t>(n), sizeof buf - 1));
}

std::string format_options(const wire::TcpOptions &o) {
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

} // namespace

std::string format_segment(const ParsedSegment &p) {
  std::string s;
  if (p.ip_error != ParseError::ok) {
    s = "<bad IPv4: ";
    s += wire::to_string(p.ip_error);
    s += '>';
    return s;
  }
  if (!p.is_tcp) {
    s = p.ip.src.to_string() + " > " + p.ip.dst.to_string();
    append(s, " <IPv4 protocol %u, not TCP> len %u", unsigned{p.ip.protocol},
           unsigned{p.ip.payload_len});
    return s;
  }
  if (p.tcp_error != ParseError::ok) {
    s = p.ip.src.to_string() + " > " + p.ip.dst.to_string() + " <bad TCP: ";
    s += wire::to_string(p.tcp_error);
    append(s, "> len %u", unsigned{p.ip.payload_len});
    return s;
  }
  const auto &t = p.tcp;
  append(s, "%s:%u > ", p.ip.src.to_string().c_str(), unsigned{t.src_port});
  append(s, "%s:%u [", p.ip.dst.to_string().c_str(), unsigned{t.dst_port});
  s += format_tcp_flags(t.flags);
  s += ']';
  if (!p.payload.empty())
    append(s, " seq %" PRIu32 ":%" PRIu32, t.seq, t.seq + static_cast<uint32_t>(p.payload.size()));
  else
    append(s, " seq %" PRIu32, t.seq);
  if (t.has(tf::ACK))
    append(s, " ack %" PRIu32, t.ack);
  append(s, " win %u", unsigned{t.window});
  if (t.has(tf::URG))
    append(s, " urg %u", unsigned{t.urgent});
  const std::string opts = format_options(t.options);
  if (!opts.empty())
    s += " <" + opts + ">";
  append(s, " len %zu", p.payload.size());
  return s;
}

} // namespace shoal::sim
