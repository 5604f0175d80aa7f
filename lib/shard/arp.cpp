// ARP input and requests (RFC 826), the shard's side of the ARP cache.
#include "shard/shard.hpp"

namespace shoal::shard {

namespace {
constexpr uint16_t kArpFrameLen = wire::kEthernetHeaderLen + wire::kArpLen; // 42
}

// RFC 826 "Packet Reception", for the one hardware/protocol pair we speak
// (the parser already rejected the others):
//   ?Is the sender in my table? yes: update it (merge_flag).
//   ?Am I the target? yes: if not merged, add the sender; if a request,
//   swap the fields, put in my addresses, opcode reply, send it back.
// Gratuitous ARP (sender IP == target IP) therefore refreshes an existing
// entry but creates none, as Linux does with arp_accept=0.
void Shard::arp_input(rte_mbuf *m, std::span<const uint8_t> payload) {
  wire::ArpRepr arp;
  if (auto e = wire::parse_arp(payload, arp); e != wire::ParseError::ok)
    return drop_parse_error(m, Layer::arp, e);
  (arp.op == wire::ArpOp::Request ? counters_.arp_requests_in : counters_.arp_replies_in).add();

  if (arp.sender_mac.is_multicast() || arp.sender_mac.is_zero() || arp.sender_ip.is_broadcast() ||
      arp.sender_ip.is_multicast())
    return drop(m, counters_.arp_bad_sender);
  if (arp.sender_ip == p_.address)
    return drop(m, counters_.arp_address_conflict);

  const bool for_us = arp.target_ip == p_.address;
  // An RFC 5227 probe has sender IP 0.0.0.0: nothing to learn, but a
  // request for our address is still answered.
  if (!arp.sender_ip.is_unspecified()) {
    arp_.learn(arp.sender_ip, arp.sender_mac, now_, for_us,
               [this, &arp](rte_mbuf *held) { send_to(held, arp.sender_mac); });
  }
  if (!for_us)
    return drop(m, counters_.arp_not_for_us);
  if (arp.op != wire::ArpOp::Request) {
    rte_pktmbuf_free(m); // a reply to us: learnt above, nothing more to do
    return;
  }

  // Reply in place: the request's mbuf becomes the reply.
  const wire::ArpRepr reply{wire::ArpOp::Reply, p_.mac, p_.address, arp.sender_mac, arp.sender_ip};
  rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_pkt_len(m) - kArpFrameLen));
  uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
  wire::emit_ethernet({arp.sender_mac, p_.mac, wire::kEtherTypeArp}, {f, wire::kEthernetHeaderLen});
  wire::emit_arp(reply, {f + wire::kEthernetHeaderLen, wire::kArpLen});
  m->ol_flags = 0;
  counters_.arp_replies_out.add();
  tx_enqueue(m);
}

void Shard::send_arp_request(wire::Ipv4Addr target) {
  rte_mbuf *m = rte_pktmbuf_alloc(pool_);
  if (m == nullptr) {
    counters_.alloc_failures.add(); // the ARP timer retries
    return;
  }
  auto *f = reinterpret_cast<uint8_t *>(rte_pktmbuf_append(m, kArpFrameLen));
  if (f == nullptr) {
    rte_pktmbuf_free(m);
    counters_.alloc_failures.add();
    return;
  }
  wire::emit_ethernet({wire::MacAddr::broadcast(), p_.mac, wire::kEtherTypeArp},
                      {f, wire::kEthernetHeaderLen});
  wire::emit_arp({wire::ArpOp::Request, p_.mac, p_.address, wire::MacAddr::zero(), target},
                 {f + wire::kEthernetHeaderLen, wire::kArpLen});
  counters_.arp_requests_out.add();
  tx_enqueue(m);
}

} // namespace shoal::shard
