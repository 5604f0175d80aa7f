#include "wire/udp.hpp"

#include <cassert>

#include <rte_byteorder.h>

#include "wire/bytes.hpp"
#include "wire/checksum.hpp"
#include "wire/ipv4.hpp"

namespace shoal::wire {

namespace {

// The folded, non-complemented sum of the pseudo-header and every piece, in
// memory order (as rte_raw_cksum returns it).
uint16_t folded_sum(Ipv4Addr src, Ipv4Addr dst, std::span<const std::span<const uint8_t>> pieces) {
  ChecksumAccumulator acc;
  for (std::span<const uint8_t> p : pieces)
    acc.add(p);
  uint8_t pseudo[12];
  store_be32(pseudo, src.v);
  store_be32(pseudo + 4, dst.v);
  pseudo[8] = 0;
  pseudo[9] = kIpProtoUdp;
  store_be16(pseudo + 10, static_cast<uint16_t>(acc.length()));
  ChecksumAccumulator ph;
  ph.add(pseudo);
  uint32_t s = uint32_t{ph.raw()} + acc.raw(); // both pieces start at even offsets
  s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);
}

} // namespace

ParseError parse_udp_header(std::span<const uint8_t> header, size_t ip_payload_len, UdpRepr &out) {
  using namespace udp_field;
  if (header.size() < kUdpHeaderLen || ip_payload_len < kUdpHeaderLen)
    return ParseError::truncated;
  const uint8_t *p = header.data();
  out.src_port = load_be16(p + kSrcPort);
  out.dst_port = load_be16(p + kDstPort);
  out.length = load_be16(p + kLength);
  out.checksum = load_be16(p + kChecksum);
  if (out.length < kUdpHeaderLen || out.length != ip_payload_len)
    return ParseError::bad_total_length;
  return ParseError::ok;
}

void emit_udp_header(const UdpRepr &r, std::span<uint8_t> out) {
  using namespace udp_field;
  assert(out.size() >= kUdpHeaderLen);
  uint8_t *p = out.data();
  store_be16(p + kSrcPort, r.src_port);
  store_be16(p + kDstPort, r.dst_port);
  store_be16(p + kLength, r.length);
  store_be16(p + kChecksum, 0);
}

uint16_t udp_checksum(Ipv4Addr src, Ipv4Addr dst,
                      std::span<const std::span<const uint8_t>> pieces) {
  const uint16_t c = rte_be_to_cpu_16(static_cast<uint16_t>(~folded_sum(src, dst, pieces)));
  return c == 0 ? 0xffff : c;
}

bool udp_checksum_valid(Ipv4Addr src, Ipv4Addr dst,
                        std::span<const std::span<const uint8_t>> pieces) {
  return folded_sum(src, dst, pieces) == 0xffff;
}

} // namespace shoal::wire
