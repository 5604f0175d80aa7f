// ICMP echo (RFC 792; RFC 1122 3.2.2.6: every host MUST answer echo
// requests, with the same data). The request's mbuf becomes the reply.
#include "shard/shard.hpp"

#include "wire/icmp.hpp"

namespace shoal::shard {

void Shard::icmp_input(rte_mbuf *m, const wire::Ipv4Repr &ip, std::span<uint8_t> message) {
  // No NIC offers ICMP checksum offload: always verified in software.
  wire::IcmpEchoRepr echo;
  if (auto e = wire::parse_icmp_echo(message, true, echo); e != wire::ParseError::ok)
    return drop_parse_error(m, Layer::icmp, e);
  if (echo.type != wire::kIcmpEchoRequest)
    return drop(m, counters_.icmp_echo_replies_in);
  counters_.icmp_echo_requests_in.add();

  // The reply carries no IP options (RFC 1122 3.2.2.6 lets us drop them):
  // move the start so a 20-byte header sits right before the message.
  if (ip.header_len > wire::kIpv4MinHeaderLen)
    rte_pktmbuf_adj(m, static_cast<uint16_t>(ip.header_len - wire::kIpv4MinHeaderLen));
  uint8_t *h = rte_pktmbuf_mtod(m, uint8_t *);

  wire::IcmpEchoRepr reply = echo;
  reply.type = wire::kIcmpEchoReply;
  reply.code = 0;
  wire::emit_icmp_echo(reply, message);

  wire::Ipv4Repr rip;
  rip.src = p_.address;
  rip.dst = ip.src;
  rip.protocol = wire::kIpProtoIcmp;
  rip.ttl = 64;
  rip.tos = ip.tos;
  rip.ident = ip_ident_++;
  rip.dont_fragment = false;
  rip.payload_len = ip.payload_len;
  const bool offload = p_.offloads.tx_ipv4_cksum;
  wire::emit_ipv4(rip, {h, wire::kIpv4MinHeaderLen}, !offload);
  m->ol_flags = offload ? (RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM) : 0;
  m->l3_len = wire::kIpv4MinHeaderLen;
  counters_.icmp_echo_replies_out.add();
  transmit_ipv4(m, ip.src);
}

} // namespace shoal::shard
