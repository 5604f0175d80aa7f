#include "wire/icmp.hpp"

#include <cassert>
#include <cstring>

#include "wire/bytes.hpp"
#include "wire/checksum.hpp"
#include "wire/ipv4.hpp"

namespace shoal::wire {

ParseError parse_icmp_echo(std::span<const uint8_t> icmp_message, bool verify_checksum,
                           IcmpEchoRepr &out) {
  using namespace icmp_field;
  if (icmp_message.size() < kIcmpEchoHeaderLen)
    return ParseError::truncated;
  // The checksum covers the whole message (RFC 792, echo): check it before
  // trusting the type byte.
  if (verify_checksum && internet_checksum(icmp_message) != 0)
    return ParseError::bad_checksum;
  const uint8_t *p = icmp_message.data();
  if (p[kType] != kIcmpEchoRequest && p[kType] != kIcmpEchoReply)
    return ParseError::bad_icmp_type;
  out.type = p[kType];
  out.code = p[kCode];
  out.ident = load_be16(p + kIdent);
  out.seq = load_be16(p + kSeq);
  out.payload = icmp_message.subspan(kIcmpEchoHeaderLen);
  return ParseError::ok;
}

void emit_icmp_echo(const IcmpEchoRepr &repr, std::span<uint8_t> out) {
  using namespace icmp_field;
  const size_t len = kIcmpEchoHeaderLen + repr.payload.size();
  assert(out.size() >= len);
  uint8_t *p = out.data();
  if (!repr.payload.empty() && repr.payload.data() != p + kIcmpEchoHeaderLen)
    std::memmove(p + kIcmpEchoHeaderLen, repr.payload.data(), repr.payload.size());
  p[kType] = repr.type;
  p[kCode] = repr.code;
  store_be16(p + kChecksum, 0);
  store_be16(p + kIdent, repr.ident);
  store_be16(p + kSeq, repr.seq);
  store_be16(p + kChecksum, internet_checksum(out.first(len)));
}

ParseError parse_icmp_error(std::span<const uint8_t> icmp_message, bool verify_checksum,
                            IcmpErrorRepr &out) {
  using namespace icmp_field;
  if (icmp_message.size() < kIcmpErrorHeaderLen + kIpv4MinHeaderLen + kIcmpErrorQuotedPayload)
    return ParseError::truncated;
  if (verify_checksum && internet_checksum(icmp_message) != 0)
    return ParseError::bad_checksum;
  const uint8_t *p = icmp_message.data();
  if (!icmp_is_error(p[kType]))
    return ParseError::bad_icmp_type;
  const std::span<const uint8_t> quote = icmp_message.subspan(kIcmpErrorHeaderLen);
  const uint8_t version_ihl = quote[ipv4_field::kVersionIhl];
  const size_t ihl = size_t{version_ihl & 0x0fu} * 4;
  if ((version_ihl >> 4) != 4 || ihl < kIpv4MinHeaderLen)
    return ParseError::bad_icmp_type;
  if (quote.size() < ihl + kIcmpErrorQuotedPayload)
    return ParseError::truncated;
  out.type = p[kType];
  out.code = p[kCode];
  out.quoted_src = Ipv4Addr::from_bytes(quote.data() + ipv4_field::kSrc);
  out.quoted_dst = Ipv4Addr::from_bytes(quote.data() + ipv4_field::kDst);
  out.quoted_protocol = quote[ipv4_field::kProtocol];
  out.quoted_payload = quote.subspan(ihl);
  return ParseError::ok;
}

size_t emit_icmp_error(uint8_t type, uint8_t code, std::span<const uint8_t> quote,
                       std::span<uint8_t> out) {
  using namespace icmp_field;
  const size_t len = kIcmpErrorHeaderLen + quote.size();
  assert(out.size() >= len);
  uint8_t *p = out.data();
  if (!quote.empty())
    std::memmove(p + kIcmpErrorHeaderLen, quote.data(), quote.size());
  p[kType] = type;
  p[kCode] = code;
  store_be16(p + kChecksum, 0);
  store_be32(p + 4, 0); // unused (RFC 792)
  store_be16(p + kChecksum, internet_checksum(out.first(len)));
  return len;
}

} // namespace shoal::wire
