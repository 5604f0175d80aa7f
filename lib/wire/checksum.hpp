#pragma once
// The Internet checksum (RFC 1071), computed one way for the whole stack: thin
// wrappers over DPDK's rte_raw_cksum / rte_ipv4_phdr_cksum.
//
// Byte order: every uint16_t here is the value of the 16-bit header field in
// HOST order (what load_be16() of the field gives). Store it with store_be16()
// or set_tcp_checksum(); compare it with hand-written values like 0xb861.
#include <cstdint>
#include <span>

#include "wire/addr.hpp"

namespace shoal::wire {

// Ones-complement of the ones-complement sum of `bytes` (an odd trailing byte
// is padded with zero, RFC 1071). With the checksum field zeroed this is the
// value to store; over a received header/message that carries its checksum,
// the result is 0 exactly when the checksum is valid.
uint16_t internet_checksum(std::span<const uint8_t> bytes);

// The ones-complement sum of a message that arrives in pieces (an mbuf
// chain, a gather list), piece by piece. Each piece is summed as it sits in
// memory; RFC 1071 2.(B) lets a piece that starts at an odd offset of the
// message be summed the same way and byte-swapped afterwards, which is only
// right once its 32-bit partial sum has been folded to 16 bits (DPDK 22.11's
// rte_raw_cksum_mbuf swaps before folding and loses the carries).
class ChecksumAccumulator {
public:
  void add(std::span<const uint8_t> piece);
  // The folded, non-complemented sum in memory order: what rte_raw_cksum()
  // over the whole message flattened would return.
  uint16_t raw() const;
  uint64_t length() const { return len_; }

private:
  uint64_t sum_ = 0; // folded piece sums, each at most 0xffff: no overflow
  uint64_t len_ = 0;
};

// rte_raw_cksum() of the concatenation of `pieces`, computed piece by piece.
uint16_t raw_checksum(std::span<const std::span<const uint8_t>> pieces);

// IPv4 header checksum (RFC 791 3.1) over the whole header as given, options
// included. Zero the field before computing; 0 over a received header = valid.
uint16_t ipv4_header_checksum(std::span<const uint8_t> hdr);

// Full software TCP checksum (RFC 9293 3.1): pseudo-header (src, dst, zero,
// protocol 6, TCP length = segment.size()) + header + payload. Pass the
// segment with its checksum field zeroed; the result is what to store.
uint16_t tcp_checksum(Ipv4Addr src, Ipv4Addr dst, std::span<const uint8_t> segment);

// True when a received segment (checksum field as received) sums correctly.
bool tcp_checksum_valid(Ipv4Addr src, Ipv4Addr dst, std::span<const uint8_t> segment);

// The non-complemented pseudo-header sum that goes in the TCP checksum field
// when the NIC finishes the checksum (RTE_MBUF_F_TX_TCP_CKSUM), as
// rte_ipv4_phdr_cksum() computes it. For TSO (RTE_MBUF_F_TX_TCP_SEG) pass
// tcp_len = 0: the NIC adds each segment's length itself.
uint16_t tcp_pseudo_header_checksum(Ipv4Addr src, Ipv4Addr dst, uint16_t tcp_len);

// Stores `csum` (host order, as returned above) into the checksum field
// (offset 16) of a TCP header at the start of `segment` (size >= 18).
void set_tcp_checksum(std::span<uint8_t> segment, uint16_t csum);

} // namespace shoal::wire
