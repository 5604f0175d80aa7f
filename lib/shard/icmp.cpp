// ICMP echo (RFC 792; RFC 1122 3.2.2.6: every host MUST answer echo
// requests, with the same data; the request's mbuf becomes the reply), the
// error messages received (counted by type; those quoting a UDP datagram of
// ours go to the UDP table) and the errors sent (port unreachable).
#include "shard/shard.hpp"

#include <algorithm>
#include <cstring>

#include <rte_ip.h>

#include "wire/bytes.hpp"
#include "wire/icmp.hpp"

namespace shoal::shard {

void Shard::icmp_input(rte_mbuf *m, const wire::Ipv4Repr &ip, std::span<uint8_t> message) {
  if (!message.empty() && wire::icmp_is_error(message[0]))
    return icmp_error_input(m, message);
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

  wire::IcmpEchoRepr reply = echo;
  reply.type = wire::kIcmpEchoReply;
  reply.code = 0;
  wire::emit_icmp_echo(reply, message);

  send_echo_reply(m, ip);
}

void Shard::icmp_error_input(rte_mbuf *m, std::span<const uint8_t> message) {
  wire::IcmpErrorRepr e;
  if (auto err = wire::parse_icmp_error(message, true, e); err != wire::ParseError::ok)
    return drop_parse_error(m, Layer::icmp, err);
  switch (e.type) {
  case wire::kIcmpDestUnreachable:
    counters_.icmp_dest_unreachable_in.add();
    if (e.code == wire::kIcmpProtocolUnreachable)
      counters_.icmp_protocol_unreachable_in.add();
    break;
  case wire::kIcmpTimeExceeded:
    counters_.icmp_time_exceeded_in.add();
    break;
  default:
    counters_.icmp_other_errors_in.add();
    break;
  }
  if (e.quoted_protocol == wire::kIpProtoUdp) {
    udp_->icmp_error(e); // counts what became of it
  } else if (e.quoted_protocol == wire::kIpProtoTcp && tcp_icmp_fn_ != nullptr) {
    // The next-hop MTU of "fragmentation needed" (RFC 1191 4): the low 16
    // bits of the header's second word.
    const uint16_t mtu =
        e.type == wire::kIcmpDestUnreachable && e.code == wire::kIcmpFragmentationNeeded
            ? static_cast<uint16_t>((message[6] << 8) | message[7])
            : 0;
    tcp_icmp_fn_(tcp_icmp_ctx_, e, mtu, now_); // the engine counts what became of it
  } else {
    count_drop(counters_.icmp_errors_unmatched, 1, m);
  }
  rte_pktmbuf_free(m);
}

bool Shard::send_icmp_error(const rte_mbuf *offending, const wire::Ipv4Repr &ip, uint8_t type,
                            uint8_t code, bool link_group) {
  if (link_group || ip.dst.is_broadcast() || ip.dst.is_multicast() || ip.src.is_broadcast() ||
      ip.src.is_multicast() || ip.src.is_unspecified() || (ip.src.v >> 28) == 0xf ||
      ip.fragment_offset != 0)
    return false; // (0/8, 127/8 and the rest never get this far: martian sources)
  const uint32_t len = rte_pktmbuf_pkt_len(offending);
  if (ip.protocol == wire::kIpProtoIcmp) {
    uint8_t t = 0;
    const auto *p = static_cast<const uint8_t *>(rte_pktmbuf_read(offending, ip.header_len, 1, &t));
    if (p == nullptr || wire::icmp_is_error(*p))
      return false; // never an error about an error
  }
  if (!icmp_error_bucket_.take(now_)) {
    counters_.icmp_errors_rate_limited.add();
    return false;
  }
  const uint32_t quote_len =
      std::min<uint32_t>(uint32_t{ip.header_len} + wire::kIcmpErrorQuotedPayload, len);
  const uint32_t icmp_len = static_cast<uint32_t>(wire::kIcmpErrorHeaderLen) + quote_len;
  rte_mbuf *r = rte_pktmbuf_alloc(pool_);
  uint8_t *h = r == nullptr ? nullptr
                            : reinterpret_cast<uint8_t *>(rte_pktmbuf_append(
                                  r, static_cast<uint16_t>(wire::kIpv4MinHeaderLen + icmp_len)));
  if (h == nullptr) {
    rte_pktmbuf_free(r);
    counters_.alloc_failures.add();
    return false;
  }
  uint8_t *icmp = h + wire::kIpv4MinHeaderLen;
  uint8_t *quote = icmp + wire::kIcmpErrorHeaderLen;
  const void *q = rte_pktmbuf_read(offending, 0, quote_len, quote);
  if (q != quote)
    std::memcpy(quote, q, quote_len);
  wire::emit_icmp_error(type, code, {quote, quote_len}, {icmp, icmp_len});

  wire::Ipv4Repr rip;
  rip.src = p_.address;
  rip.dst = ip.src;
  rip.protocol = wire::kIpProtoIcmp;
  rip.ttl = 64;
  rip.ident = ip_ident_++;
  rip.dont_fragment = false;
  rip.payload_len = static_cast<uint16_t>(icmp_len);
  const bool offload = p_.offloads.tx_ipv4_cksum;
  wire::emit_ipv4(rip, {h, wire::kIpv4MinHeaderLen}, !offload);
  r->ol_flags = offload ? (RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM) : 0;
  r->l3_len = wire::kIpv4MinHeaderLen;
  if (type == wire::kIcmpDestUnreachable && code == wire::kIcmpPortUnreachable)
    counters_.icmp_port_unreachable_out.add();
  transmit_ipv4(r, ip.src);
  return true;
}

void Shard::icmp_input_chain(rte_mbuf *m, const wire::Ipv4Repr &ip) {
  // The same checks as parse_icmp_echo, over the chain. The first fragment
  // carried at least 8 bytes of the message (fragment offsets count in
  // 8-byte units), so the ICMP header lies in the first segment.
  if (ip.payload_len < wire::kIcmpEchoHeaderLen ||
      rte_pktmbuf_data_len(m) < ip.header_len + wire::kIcmpEchoHeaderLen)
    return drop_parse_error(m, Layer::icmp, wire::ParseError::truncated);
  uint16_t sum = 0;
  if (rte_raw_cksum_mbuf(m, ip.header_len, ip.payload_len, &sum) != 0 || sum != 0xffff)
    return drop_parse_error(m, Layer::icmp, wire::ParseError::bad_checksum);
  uint8_t *icmp = rte_pktmbuf_mtod_offset(m, uint8_t *, ip.header_len);
  if (icmp[0] == wire::kIcmpEchoReply && icmp[1] == 0)
    return drop(m, counters_.icmp_echo_replies_in);
  if (icmp[0] != wire::kIcmpEchoRequest || icmp[1] != 0)
    return drop_parse_error(m, Layer::icmp, wire::ParseError::bad_icmp_type);
  counters_.icmp_echo_requests_in.add();

  if (ip.header_len > wire::kIpv4MinHeaderLen) {
    const auto options = static_cast<uint16_t>(ip.header_len - wire::kIpv4MinHeaderLen);
    rte_pktmbuf_adj(m, options);
  }
  icmp = rte_pktmbuf_mtod_offset(m, uint8_t *, wire::kIpv4MinHeaderLen);
  icmp[0] = wire::kIcmpEchoReply;
  icmp[1] = 0;
  wire::store_be16(icmp + 2, 0);
  rte_raw_cksum_mbuf(m, wire::kIpv4MinHeaderLen, ip.payload_len, &sum);
  // The raw sum is in memory order, as the field is stored (no byte swap).
  const auto folded = static_cast<uint16_t>(~sum);
  std::memcpy(icmp + 2, &folded, sizeof folded);

  send_echo_reply(m, ip);
}

void Shard::send_echo_reply(rte_mbuf *m, const wire::Ipv4Repr &request) {
  wire::Ipv4Repr rip;
  rip.src = p_.address;
  rip.dst = request.src;
  rip.protocol = wire::kIpProtoIcmp;
  rip.ttl = 64;
  rip.tos = request.tos;
  rip.ident = ip_ident_++;
  rip.dont_fragment = false;
  rip.payload_len = request.payload_len;
  const bool offload = p_.offloads.tx_ipv4_cksum;
  wire::emit_ipv4(rip, {rte_pktmbuf_mtod(m, uint8_t *), wire::kIpv4MinHeaderLen}, !offload);
  m->ol_flags = offload ? (RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM) : 0;
  m->l3_len = wire::kIpv4MinHeaderLen;
  counters_.icmp_echo_replies_out.add();
  transmit_ipv4_fragmenting(m, request.src); // a reassembled request's reply may exceed the MTU
}

} // namespace shoal::shard
