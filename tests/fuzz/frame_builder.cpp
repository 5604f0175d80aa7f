#include "frame_builder.hpp"

#include <cstring>

#include "wire/arp.hpp"
#include "wire/bytes.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"

namespace shoal::fuzz {

std::vector<uint8_t> ethernet_frame(uint16_t ethertype, std::span<const uint8_t> payload) {
  std::vector<uint8_t> f(wire::kEthernetHeaderLen + payload.size());
  wire::emit_ethernet(wire::EthernetRepr{kShardMac, kPeerMac, ethertype}, f);
  if (!payload.empty())
    std::memcpy(f.data() + wire::kEthernetHeaderLen, payload.data(), payload.size());
  return f;
}

std::vector<uint8_t> arp_request_from_peer() {
  std::vector<uint8_t> arp(wire::kArpLen);
  wire::emit_arp(
      wire::ArpRepr{wire::ArpOp::Request, kPeerMac, kPeerIp, wire::MacAddr::zero(), kShardIp}, arp);
  std::vector<uint8_t> f = ethernet_frame(wire::kEtherTypeArp, arp);
  wire::emit_ethernet(wire::EthernetRepr{wire::MacAddr::broadcast(), kPeerMac, wire::kEtherTypeArp},
                      f);
  return f;
}

rte_mbuf *frame_mbuf(rte_mempool *pool, std::span<const uint8_t> frame) {
  rte_mbuf *m = rte_pktmbuf_alloc(pool);
  if (m == nullptr)
    return nullptr;
  char *p = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
  if (p == nullptr || frame.size() > UINT16_MAX) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  std::memcpy(p, frame.data(), frame.size());
  return m;
}

void restamp_checksums(std::span<uint8_t> d) {
  if (d.size() < wire::kIpv4MinHeaderLen)
    return;
  const size_t ihl = size_t{d[0] & 0x0fu} * 4;
  const size_t total = wire::load_be16(d.data() + wire::ipv4_field::kTotalLength);
  if (ihl < wire::kIpv4MinHeaderLen || ihl > d.size() || total < ihl || total > d.size())
    return;
  wire::store_be16(d.data() + wire::ipv4_field::kChecksum, 0);
  wire::store_be16(d.data() + wire::ipv4_field::kChecksum,
                   wire::ipv4_header_checksum(d.first(ihl)));
  if (d[wire::ipv4_field::kProtocol] != wire::kIpProtoTcp || total - ihl < 18)
    return;
  const auto seg = d.subspan(ihl, total - ihl);
  const auto src = wire::Ipv4Addr::from_bytes(d.data() + wire::ipv4_field::kSrc);
  const auto dst = wire::Ipv4Addr::from_bytes(d.data() + wire::ipv4_field::kDst);
  wire::set_tcp_checksum(seg, 0);
  wire::set_tcp_checksum(seg, wire::tcp_checksum(src, dst, seg));
}

} // namespace shoal::fuzz
