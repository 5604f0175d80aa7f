#include "wire/tcp.hpp"

#include <algorithm>
#include <cassert>

#include "wire/bytes.hpp"
#include "wire/checksum.hpp"

namespace shoal::wire {

namespace {

// Fixed option lengths (RFC 9293 3.2, RFC 7323 2.2 / 3.2, RFC 2018 2 / 3).
constexpr uint8_t kMssLen = 4, kWindowScaleLen = 3, kSackPermittedLen = 2, kTimestampLen = 10,
                  kSackBaseLen = 2, kSackBlockLen = 8;
constexpr size_t kMaxOptionSpace = kTcpMaxHeaderLen - kTcpMinHeaderLen; // 40

// Walks the option list of a header whose length is already validated.
// RFC 9293 3.1 (Options): every option but EOL and NOP carries a length byte
// counting kind and length; options a host does not implement are skipped by
// that length (MUST-6); an illegal length such as zero must be handled
// (MUST-7): a length < 2 cannot advance the walk, so the segment is rejected.
ParseError parse_tcp_options(std::span<const uint8_t> opts, TcpOptions &out) {
  using namespace tcp_option_kind;
  size_t i = 0;
  while (i < opts.size()) {
    const uint8_t kind = opts[i];
    if (kind == kEol)
      break;
    if (kind == kNop) {
      ++i;
      continue;
    }
    if (i + 1 >= opts.size())
      return ParseError::option_overrun; // kind byte with no room for its length
    const uint8_t len = opts[i + 1];
    if (len < 2)
      return ParseError::bad_option_length;
    if (i + len > opts.size())
      return ParseError::option_overrun;
    const uint8_t *v = opts.data() + i + 2; // option value
    switch (kind) {
    case kMss:
      if (len != kMssLen)
        return ParseError::bad_mss_option;
      out.mss = load_be16(v);
      break;
    case kWindowScale:
      if (len != kWindowScaleLen)
        return ParseError::bad_window_scale_option;
      out.window_scale = v[0];
      break;
    case kSackPermitted:
      if (len != kSackPermittedLen)
        return ParseError::bad_sack_permitted_option;
      out.sack_permitted = true;
      break;
    case kTimestamp:
      if (len != kTimestampLen)
        return ParseError::bad_timestamp_option;
      out.timestamp = TcpTimestamp{load_be32(v), load_be32(v + 4)};
      break;
    case kSack: {
      if (len < kSackBaseLen + kSackBlockLen || (len - kSackBaseLen) % kSackBlockLen != 0)
        return ParseError::bad_sack_option;
      const size_t blocks = (len - kSackBaseLen) / kSackBlockLen;
      for (size_t b = 0; b < blocks && out.sack_count < kTcpMaxSackBlocks; ++b) {
        const uint8_t *blk = v + b * kSackBlockLen;
        out.sack[out.sack_count++] = SackBlock{load_be32(blk), load_be32(blk + 4)};
      }
      break;
    }
    default:
      break; // unknown kind: skipped by its length
    }
    i += len;
  }
  return ParseError::ok;
}

// Bytes of everything but the SACK blocks, in the Linux layout (all 4-aligned).
size_t options_len_without_sack(const TcpOptions &o) {
  size_t n = 0;
  if (o.mss)
    n += 4; // MSS
  if (o.timestamp)
    n += 12; // SACK-permitted + TS, or NOP NOP + TS
  else if (o.sack_permitted)
    n += 4; // NOP NOP + SACK-permitted
  if (o.window_scale)
    n += 4; // NOP + WS
  return n;
}

} // namespace

bool TcpOptions::operator==(const TcpOptions &o) const {
  return mss == o.mss && window_scale == o.window_scale && sack_permitted == o.sack_permitted &&
         timestamp == o.timestamp && sack_count == o.sack_count &&
         std::equal(sack.begin(), sack.begin() + std::min<size_t>(sack_count, kTcpMaxSackBlocks),
                    o.sack.begin());
}

ParseError parse_tcp(std::span<const uint8_t> segment, Ipv4Addr src, Ipv4Addr dst,
                     bool verify_checksum, TcpRepr &out) {
  using namespace tcp_field;
  if (segment.size() < kTcpMinHeaderLen)
    return ParseError::truncated;
  const uint8_t *p = segment.data();
  const size_t header_len = size_t{static_cast<uint8_t>(p[kDataOffset] >> 4)} * 4;
  if (header_len < kTcpMinHeaderLen || header_len > segment.size())
    return ParseError::bad_data_offset;
  if (verify_checksum && !tcp_checksum_valid(src, dst, segment))
    return ParseError::bad_checksum;

  TcpOptions options;
  if (const ParseError e =
          parse_tcp_options(segment.subspan(kOptions, header_len - kTcpMinHeaderLen), options);
      e != ParseError::ok)
    return e;

  out.src_port = load_be16(p + kSrcPort);
  out.dst_port = load_be16(p + kDstPort);
  out.seq = load_be32(p + kSeq);
  out.ack = load_be32(p + kAck);
  out.flags = p[kFlags];
  out.window = load_be16(p + kWindow);
  out.urgent = load_be16(p + kUrgent);
  out.options = options;
  out.header_len = static_cast<uint16_t>(header_len);
  return ParseError::ok;
}

size_t tcp_emitted_sack_blocks(const TcpOptions &o) {
  if (o.sack_count == 0)
    return 0;
  const size_t used = options_len_without_sack(o);
  const size_t room = kMaxOptionSpace - used;
  if (room < 4 + kSackBlockLen)
    return 0;
  return std::min<size_t>({o.sack_count, kTcpMaxSackBlocks, (room - 4) / kSackBlockLen});
}

size_t tcp_header_len(const TcpRepr &repr) {
  size_t n = options_len_without_sack(repr.options);
  if (const size_t blocks = tcp_emitted_sack_blocks(repr.options); blocks != 0)
    n += 4 + blocks * kSackBlockLen; // NOP NOP + SACK
  return kTcpMinHeaderLen + n;
}

size_t emit_tcp_header(const TcpRepr &repr, std::span<uint8_t> out) {
  using namespace tcp_field;
  using namespace tcp_option_kind;
  const size_t header_len = tcp_header_len(repr);
  assert(header_len <= kTcpMaxHeaderLen && header_len % 4 == 0);
  assert(out.size() >= header_len);
  uint8_t *p = out.data();
  store_be16(p + kSrcPort, repr.src_port);
  store_be16(p + kDstPort, repr.dst_port);
  store_be32(p + kSeq, repr.seq);
  store_be32(p + kAck, repr.ack);
  p[kDataOffset] = static_cast<uint8_t>((header_len / 4) << 4);
  p[kFlags] = repr.flags;
  store_be16(p + kWindow, repr.window);
  store_be16(p + kChecksum, 0);
  store_be16(p + kUrgent, repr.urgent);

  // Linux tcp_options_write() order, every option group 4-byte aligned so the
  // fast path can read the timestamp at a fixed offset (RFC 7323 appendix A).
  const TcpOptions &o = repr.options;
  uint8_t *w = p + kOptions;
  if (o.mss) {
    w[0] = kMss;
    w[1] = kMssLen;
    store_be16(w + 2, *o.mss);
    w += 4;
  }
  if (o.timestamp) {
    if (o.sack_permitted) {
      w[0] = kSackPermitted;
      w[1] = kSackPermittedLen;
    } else {
      w[0] = kNop;
      w[1] = kNop;
    }
    w[2] = kTimestamp;
    w[3] = kTimestampLen;
    store_be32(w + 4, o.timestamp->val);
    store_be32(w + 8, o.timestamp->ecr);
    w += 12;
  } else if (o.sack_permitted) {
    w[0] = kNop;
    w[1] = kNop;
    w[2] = kSackPermitted;
    w[3] = kSackPermittedLen;
    w += 4;
  }
  if (o.window_scale) {
    w[0] = kNop;
    w[1] = kWindowScale;
    w[2] = kWindowScaleLen;
    w[3] = *o.window_scale;
    w += 4;
  }
  if (const size_t blocks = tcp_emitted_sack_blocks(o); blocks != 0) {
    w[0] = kNop;
    w[1] = kNop;
    w[2] = kSack;
    w[3] = static_cast<uint8_t>(kSackBaseLen + blocks * kSackBlockLen);
    w += 4;
    for (size_t b = 0; b < blocks; ++b) {
      store_be32(w, o.sack[b].left);
      store_be32(w + 4, o.sack[b].right);
      w += kSackBlockLen;
    }
  }
  assert(static_cast<size_t>(w - p) == header_len);
  return header_len;
}

} // namespace shoal::wire
