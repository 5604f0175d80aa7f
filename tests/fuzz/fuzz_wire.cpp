// libFuzzer target 1: the wire parsers (lib/wire).
//
// Every parse_* runs on the raw input, then the input is also taken as an
// Ethernet frame and parsed layer by layer (Ethernet -> ARP | IPv4 -> TCP |
// ICMP), the way the shard's classify path does. Whatever a parser accepts
// is emitted again and re-parsed: the second parse must succeed and give
// the same representation (the emitters are what the stack sends, so a
// representation that does not survive emit -> parse is a bug on the wire).
// Text parsers (MacAddr::parse, Ipv4Addr::parse) get the same round trip
// through to_string().
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "wire/addr.hpp"
#include "wire/arp.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmp.hpp"
#include "wire/ipv4.hpp"
#include "wire/parse_error.hpp"
#include "wire/tcp.hpp"

namespace {

using namespace shoal::wire;
using Bytes = std::span<const uint8_t>;

constexpr Ipv4Addr kSrc = Ipv4Addr::from_octets(198, 18, 0, 2);
constexpr Ipv4Addr kDst = Ipv4Addr::from_octets(198, 18, 0, 1);

void check_ethernet(Bytes in) {
  EthernetRepr r;
  if (parse_ethernet(in, r) != ParseError::ok)
    return;
  std::array<uint8_t, kEthernetHeaderLen> buf{};
  emit_ethernet(r, buf);
  FUZZ_CHECK(std::memcmp(buf.data(), in.data(), kEthernetHeaderLen) == 0,
             "ethernet emit differs from the parsed header");
  EthernetRepr r2;
  FUZZ_CHECK(parse_ethernet(buf, r2) == ParseError::ok && r2 == r, "ethernet round trip");
}

void check_arp(Bytes in) {
  ArpRepr r;
  if (parse_arp(in, r) != ParseError::ok)
    return;
  std::array<uint8_t, kArpLen> buf{};
  emit_arp(r, buf);
  ArpRepr r2;
  const ParseError e = parse_arp(buf, r2);
  FUZZ_CHECK(e == ParseError::ok, "arp re-parse: %s", to_string(e));
  FUZZ_CHECK(r2 == r, "arp round trip changed the representation");
}

void check_icmp(Bytes in, bool verify) {
  IcmpEchoRepr r;
  const ParseError e = parse_icmp_echo(in, verify, r);
  if (e != ParseError::ok)
    return;
  FUZZ_CHECK(r.payload.size() + kIcmpEchoHeaderLen == in.size(), "icmp payload length");
  std::vector<uint8_t> buf(kIcmpEchoHeaderLen + r.payload.size());
  emit_icmp_echo(r, buf);
  IcmpEchoRepr r2;
  const ParseError e2 = parse_icmp_echo(buf, true, r2);
  FUZZ_CHECK(e2 == ParseError::ok, "icmp re-parse (checksum verified): %s", to_string(e2));
  FUZZ_CHECK(r2.type == r.type && r2.code == r.code && r2.ident == r.ident && r2.seq == r.seq,
             "icmp round trip changed a header field");
  FUZZ_CHECK(r2.payload.size() == r.payload.size() &&
                 std::equal(r2.payload.begin(), r2.payload.end(), r.payload.begin()),
             "icmp round trip changed the payload");
}

// Returns the parsed header (ok) so the caller can go one layer up.
ParseError check_ipv4(Bytes in, bool verify, Ipv4Repr &r) {
  const ParseError e = parse_ipv4(in, verify, r);
  if (e != ParseError::ok)
    return e;
  FUZZ_CHECK(r.header_len >= kIpv4MinHeaderLen && r.header_len <= kIpv4MaxHeaderLen,
             "ipv4 header_len %u", r.header_len);
  FUZZ_CHECK(size_t{r.header_len} + r.payload_len <= in.size(),
             "ipv4 payload beyond the input: %u + %u > %zu", r.header_len, r.payload_len,
             in.size());
  std::vector<uint8_t> buf(kIpv4MinHeaderLen + r.payload_len);
  emit_ipv4(r, buf, true);
  std::memcpy(buf.data() + kIpv4MinHeaderLen, in.data() + r.header_len, r.payload_len);
  Ipv4Repr r2;
  const ParseError e2 = parse_ipv4(buf, true, r2);
  FUZZ_CHECK(e2 == ParseError::ok, "ipv4 re-parse (checksum verified): %s", to_string(e2));
  Ipv4Repr expect = r;
  expect.header_len = kIpv4MinHeaderLen; // options are skipped on input, never sent
  FUZZ_CHECK(r2 == expect, "ipv4 round trip changed the representation");
  return e;
}

void check_tcp(Bytes segment, Ipv4Addr src, Ipv4Addr dst, bool verify) {
  TcpRepr r;
  const ParseError e = parse_tcp(segment, src, dst, verify, r);
  if (e != ParseError::ok)
    return;
  FUZZ_CHECK(r.header_len >= kTcpMinHeaderLen && r.header_len <= kTcpMaxHeaderLen &&
                 r.header_len <= segment.size(),
             "tcp header_len %u of a %zu-byte segment", r.header_len, segment.size());
  FUZZ_CHECK(r.options.sack_count <= kTcpMaxSackBlocks, "sack_count %u", r.options.sack_count);
  const Bytes payload = tcp_payload(segment, r);

  const size_t hlen = tcp_header_len(r);
  FUZZ_CHECK(hlen >= kTcpMinHeaderLen && hlen <= kTcpMaxHeaderLen && hlen % 4 == 0,
             "tcp_header_len %zu", hlen);
  std::vector<uint8_t> buf(hlen + payload.size());
  FUZZ_CHECK(emit_tcp_header(r, buf) == hlen, "emit_tcp_header length");
  std::memcpy(buf.data() + hlen, payload.data(), payload.size());
  set_tcp_checksum(buf, tcp_checksum(src, dst, buf));
  FUZZ_CHECK(tcp_checksum_valid(src, dst, buf), "emitted tcp checksum does not verify");

  TcpRepr r2;
  const ParseError e2 = parse_tcp(buf, src, dst, true, r2);
  FUZZ_CHECK(e2 == ParseError::ok, "tcp re-parse (checksum verified): %s", to_string(e2));
  TcpOptions expect = r.options;
  expect.sack_count = static_cast<uint8_t>(tcp_emitted_sack_blocks(r.options));
  FUZZ_CHECK(r2.src_port == r.src_port && r2.dst_port == r.dst_port && r2.seq == r.seq &&
                 r2.ack == r.ack && r2.flags == r.flags && r2.window == r.window &&
                 r2.urgent == r.urgent,
             "tcp round trip changed a header field");
  FUZZ_CHECK(r2.options == expect, "tcp round trip changed the options");
  FUZZ_CHECK(r2.header_len == hlen, "tcp re-parse header_len %u != %zu", r2.header_len, hlen);
}

void check_text(Bytes in) {
  const std::string_view text(reinterpret_cast<const char *>(in.data()), in.size());
  if (auto mac = MacAddr::parse(text)) {
    const std::string s = mac->to_string();
    auto again = MacAddr::parse(s);
    FUZZ_CHECK(again && *again == *mac, "mac text round trip: %s", s.c_str());
  }
  if (auto ip = Ipv4Addr::parse(text)) {
    const std::string s = ip->to_string();
    auto again = Ipv4Addr::parse(s);
    FUZZ_CHECK(again && *again == *ip, "ipv4 text round trip: %s", s.c_str());
    // Not checked: s == text. Leading zeros ("010.0.0.1") are accepted as
    // decimal and print without them (see tests/hardening wire_regression).
  }
}

// The classify path of a shard: Ethernet, then by EtherType.
void check_frame(Bytes frame) {
  EthernetRepr eth;
  if (parse_ethernet(frame, eth) != ParseError::ok)
    return;
  const Bytes l3 = frame.subspan(kEthernetHeaderLen);
  if (eth.ethertype == kEtherTypeArp) {
    check_arp(l3);
    return;
  }
  if (eth.ethertype != kEtherTypeIpv4)
    return;
  for (bool verify : {true, false}) {
    Ipv4Repr ip;
    if (check_ipv4(l3, verify, ip) != ParseError::ok)
      continue;
    const Bytes l4 = l3.subspan(ip.header_len, ip.payload_len);
    if (ip.protocol == kIpProtoTcp)
      check_tcp(l4, ip.src, ip.dst, verify);
    else if (ip.protocol == kIpProtoIcmp)
      check_icmp(l4, verify);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const Bytes in(data, size);
  // Every parser on the raw bytes ...
  check_ethernet(in);
  check_arp(in);
  for (bool verify : {true, false}) {
    check_icmp(in, verify);
    Ipv4Repr ip;
    if (check_ipv4(in, verify, ip) == ParseError::ok && ip.protocol == kIpProtoTcp)
      check_tcp(in.subspan(ip.header_len, ip.payload_len), ip.src, ip.dst, verify);
    check_tcp(in, kSrc, kDst, verify);
  }
  check_text(in);
  // ... and layered, as a frame.
  check_frame(in);
  // The checksum helpers must agree with each other on any input.
  if (size >= 18) {
    std::vector<uint8_t> seg(in.begin(), in.end());
    set_tcp_checksum(seg, 0);
    set_tcp_checksum(seg, tcp_checksum(kSrc, kDst, seg));
    FUZZ_CHECK(tcp_checksum_valid(kSrc, kDst, seg), "tcp_checksum / tcp_checksum_valid disagree");
  }
  return 0;
}
