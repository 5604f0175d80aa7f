#include "sim/parsed_segment.hpp"

#include "wire/format.hpp"

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

std::string format_segment(const ParsedSegment &p) {
  std::string s;
  if (p.ip_error != ParseError::ok) {
    s = "<bad IPv4: ";
    s += wire::to_string(p.ip_error);
    s += '>';
    return s;
  }
  if (!p.is_tcp) {
    s = p.ip.src.to_string() + " > " + p.ip.dst.to_string() + " <IPv4 protocol " +
        std::to_string(p.ip.protocol) + ", not TCP> len " + std::to_string(p.ip.payload_len);
    return s;
  }
  if (p.tcp_error != ParseError::ok) {
    s = p.ip.src.to_string() + " > " + p.ip.dst.to_string() + " <bad TCP: ";
    s += wire::to_string(p.tcp_error);
    s += "> len " + std::to_string(p.ip.payload_len);
    return s;
  }
  return wire::format_tcp(p.tcp, p.payload.size(), &p.ip);
}

} // namespace shoal::sim
