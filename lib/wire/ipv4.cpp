#include "wire/ipv4.hpp"

#include <cassert>

#include "wire/bytes.hpp"
#include "wire/checksum.hpp"

namespace shoal::wire {

// RFC 1122 3.2.1 lists what a host checks on receipt: version 4, header
// checksum, and (implicitly) that the lengths describe bytes that exist.
// Options (IHL > 5) are legal and skipped; shoal acts on none of them.
ParseError parse_ipv4(std::span<const uint8_t> bytes, bool verify_checksum, Ipv4Repr &out) {
  return parse_ipv4_header(bytes, bytes.size(), verify_checksum, out);
}

ParseError parse_ipv4_header(std::span<const uint8_t> bytes, size_t available, bool verify_checksum,
                             Ipv4Repr &out) {
  using namespace ipv4_field;
  if (bytes.size() < kIpv4MinHeaderLen || available < kIpv4MinHeaderLen)
    return ParseError::truncated;
  const uint8_t *p = bytes.data();
  if ((p[kVersionIhl] >> 4) != 4)
    return ParseError::bad_version;
  const size_t header_len = size_t{p[kVersionIhl] & 0x0fu} * 4;
  if (header_len < kIpv4MinHeaderLen || header_len > bytes.size())
    return ParseError::bad_ihl;
  const uint16_t total_length = load_be16(p + kTotalLength);
  if (total_length < header_len || total_length > available)
    return ParseError::bad_total_length;
  if (verify_checksum && ipv4_header_checksum(bytes.first(header_len)) != 0)
    return ParseError::bad_checksum;

  const uint16_t flags_fragment = load_be16(p + kFlagsFragment);
  out.src = Ipv4Addr::from_bytes(p + kSrc);
  out.dst = Ipv4Addr::from_bytes(p + kDst);
  out.protocol = p[kProtocol];
  out.ttl = p[kTtl];
  out.tos = p[kTos];
  out.ident = load_be16(p + kIdent);
  out.dont_fragment = (flags_fragment & kFlagDontFragment) != 0;
  out.more_fragments = (flags_fragment & kFlagMoreFragments) != 0;
  out.fragment_offset = static_cast<uint16_t>((flags_fragment & kFragmentOffsetMask) * 8);
  out.header_len = static_cast<uint8_t>(header_len);
  out.payload_len = static_cast<uint16_t>(total_length - header_len);
  return ParseError::ok;
}

void emit_ipv4(const Ipv4Repr &repr, std::span<uint8_t> out, bool compute_checksum) {
  using namespace ipv4_field;
  assert(out.size() >= kIpv4MinHeaderLen);
  assert(repr.fragment_offset % 8 == 0);
  uint8_t *p = out.data();
  p[kVersionIhl] = 0x45; // version 4, IHL 5: no options
  p[kTos] = repr.tos;
  store_be16(p + kTotalLength, static_cast<uint16_t>(kIpv4MinHeaderLen + repr.payload_len));
  store_be16(p + kIdent, repr.ident);
  uint16_t flags_fragment = static_cast<uint16_t>((repr.fragment_offset / 8) & kFragmentOffsetMask);
  if (repr.dont_fragment)
    flags_fragment |= kFlagDontFragment;
  if (repr.more_fragments)
    flags_fragment |= kFlagMoreFragments;
  store_be16(p + kFlagsFragment, flags_fragment);
  p[kTtl] = repr.ttl;
  p[kProtocol] = repr.protocol;
  store_be16(p + kChecksum, 0);
  repr.src.to_bytes(p + kSrc);
  repr.dst.to_bytes(p + kDst);
  if (compute_checksum)
    store_be16(p + kChecksum, ipv4_header_checksum(out.first(kIpv4MinHeaderLen)));
}

} // namespace shoal::wire
