#include "conn_records.hpp"

#include <algorithm>
#include <chrono>

#include "wire/bytes.hpp"

namespace shoal::fuzz {

namespace {
constexpr Duration kUnits[4] = {std::chrono::microseconds(100), std::chrono::milliseconds(1),
                                std::chrono::milliseconds(100), std::chrono::seconds(1)};
uint16_t le16(const uint8_t *p) {
  return static_cast<uint16_t>(p[0] | p[1] << 8);
}
uint32_t le32(const uint8_t *p) {
  return uint32_t{le16(p)} | uint32_t{le16(p + 2)} << 16;
}
void put16(std::vector<uint8_t> &o, uint16_t v) {
  o.push_back(static_cast<uint8_t>(v));
  o.push_back(static_cast<uint8_t>(v >> 8));
}
void put32(std::vector<uint8_t> &o, uint32_t v) {
  put16(o, static_cast<uint16_t>(v));
  put16(o, static_cast<uint16_t>(v >> 16));
}
} // namespace

ConnRecord decode_record(const uint8_t *p) {
  ConnRecord r;
  const uint16_t t = le16(p);
  r.delta = kUnits[t >> 14] * (t & 0x3fff);
  r.flags = p[2];
  r.act = p[3];
  r.seq_off = static_cast<int32_t>(le32(p + 4));
  r.ack_off = static_cast<int32_t>(le32(p + 8));
  r.window = le16(p + 12);
  r.payload_len = static_cast<uint16_t>(le16(p + 14) % kMaxPayload);
  return r;
}

void encode_record(const ConnRecord &r, std::vector<uint8_t> &out) {
  uint16_t t = 0;
  for (unsigned u = 4; u-- > 0;) {
    const auto n = r.delta / kUnits[u];
    if (n * kUnits[u] == r.delta && n < 0x4000) {
      t = static_cast<uint16_t>(u << 14 | static_cast<unsigned>(n));
      break;
    }
    if (u == 0) // not exact in any unit: the nearest 100 us, capped
      t = static_cast<uint16_t>(std::min<int64_t>(r.delta / kUnits[0], 0x3fff));
  }
  put16(out, t);
  out.push_back(r.flags);
  out.push_back(r.act);
  put32(out, static_cast<uint32_t>(r.seq_off));
  put32(out, static_cast<uint32_t>(r.ack_off));
  put16(out, r.window);
  put16(out, r.payload_len);
}

} // namespace shoal::fuzz
