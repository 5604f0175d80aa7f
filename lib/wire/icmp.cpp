#include "wire/icmp.hpp"

#include <cassert>
#include <cstring>

#include "wire/bytes.hpp"
#include "wire/checksum.hpp"

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

} // namespace shoal::wire
