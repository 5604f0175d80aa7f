#include "wire/checksum.hpp"

#include <cassert>

#include <rte_byteorder.h>
#include <rte_ip.h>

#include "wire/bytes.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace shoal::wire {

// rte_raw_cksum() sums 16-bit words as they sit in memory (native order) and
// folds. Because the ones-complement sum commutes with byte swapping (RFC 1071
// 2.(B)), converting the folded result with be_to_cpu gives the host-order
// field value.
namespace {

uint16_t raw_sum(std::span<const uint8_t> bytes) {
  return rte_raw_cksum(bytes.data(), bytes.size());
}

uint16_t pseudo_header_sum(Ipv4Addr src, Ipv4Addr dst, uint16_t tcp_len) {
  // rte_ipv4_phdr_cksum reads src, dst, protocol, total_length and IHL; build
  // just those in a header of our own.
  rte_ipv4_hdr ip{};
  ip.version_ihl = RTE_IPV4_VHL_DEF; // version 4, IHL 5
  ip.next_proto_id = kIpProtoTcp;
  ip.total_length = rte_cpu_to_be_16(static_cast<uint16_t>(kIpv4MinHeaderLen + tcp_len));
  ip.src_addr = src.to_be();
  ip.dst_addr = dst.to_be();
  return rte_ipv4_phdr_cksum(&ip, 0);
}

uint16_t add_folded(uint16_t a, uint16_t b) {
  return __rte_raw_cksum_reduce(uint32_t{a} + uint32_t{b});
}

} // namespace

void ChecksumAccumulator::add(std::span<const uint8_t> piece) {
  if (piece.empty())
    return;
  uint32_t s = raw_sum(piece); // folded: the swap below keeps every carry
  if ((len_ & 1) != 0)
    s = rte_bswap16(static_cast<uint16_t>(s));
  sum_ += s;
  len_ += piece.size();
}

uint16_t ChecksumAccumulator::raw() const {
  uint64_t s = sum_;
  while ((s >> 16) != 0)
    s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);
}

uint16_t raw_checksum(std::span<const std::span<const uint8_t>> pieces) {
  ChecksumAccumulator acc;
  for (std::span<const uint8_t> p : pieces)
    acc.add(p);
  return acc.raw();
}

uint16_t internet_checksum(std::span<const uint8_t> bytes) {
  return rte_be_to_cpu_16(static_cast<uint16_t>(~raw_sum(bytes)));
}

uint16_t ipv4_header_checksum(std::span<const uint8_t> hdr) {
  return internet_checksum(hdr);
}

uint16_t tcp_checksum(Ipv4Addr src, Ipv4Addr dst, std::span<const uint8_t> segment) {
  const uint16_t sum = add_folded(
      pseudo_header_sum(src, dst, static_cast<uint16_t>(segment.size())), raw_sum(segment));
  return rte_be_to_cpu_16(static_cast<uint16_t>(~sum));
}

bool tcp_checksum_valid(Ipv4Addr src, Ipv4Addr dst, std::span<const uint8_t> segment) {
  // Summed over everything including the received checksum, a correct segment
  // gives all ones (RFC 1071 1.(4)).
  const uint16_t sum = add_folded(
      pseudo_header_sum(src, dst, static_cast<uint16_t>(segment.size())), raw_sum(segment));
  return sum == 0xffff;
}

uint16_t tcp_pseudo_header_checksum(Ipv4Addr src, Ipv4Addr dst, uint16_t tcp_len) {
  return rte_be_to_cpu_16(pseudo_header_sum(src, dst, tcp_len));
}

void set_tcp_checksum(std::span<uint8_t> segment, uint16_t csum) {
  assert(segment.size() >= tcp_field::kChecksum + 2);
  store_be16(segment.data() + tcp_field::kChecksum, csum);
}

} // namespace shoal::wire
