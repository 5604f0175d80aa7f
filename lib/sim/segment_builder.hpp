#pragma once
// `Seg`: one TCP segment described field by field, used two ways by the
// scripted-peer harness (packetdrill / smoltcp style):
//
//   inject:  Seg().flags(SYN).seq(100).win(65535).mss(1460).ts(1, 0)
//            -> a complete IPv4 datagram (checksums right unless bad_checksum()),
//               unspecified fields take defaults (ports/addresses from the harness,
//               seq 0, ack 0, window 65535, flags: ACK if ack() was given, else none);
//   expect:  Seg().flags(SYN | ACK).ack(101).mss(1460)
//            -> a pattern: every field that was specified must match exactly,
//               unspecified fields are free.
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <rte_mbuf.h>

#include "sim/parsed_segment.hpp"
#include "wire/addr.hpp"
#include "wire/tcp.hpp"

namespace shoal::sim {

// Where an injected segment comes from and goes to unless Seg says otherwise.
struct SegDefaults {
  wire::Ipv4Addr src, dst;
  uint16_t src_port = 0, dst_port = 0;
  uint16_t window = 65535;
};

class Seg {
public:
  // clang-format off
  Seg &flags(uint8_t f) { flags_ = f; return *this; }
  Seg &seq(uint32_t v) { seq_ = v; return *this; }
  Seg &ack(uint32_t v) { ack_ = v; return *this; }
  Seg &win(uint16_t v) { win_ = v; return *this; }
  Seg &urg(uint16_t v) { urg_ = v; return *this; }
  Seg &mss(uint16_t v) { mss_ = v; return *this; }
  Seg &wscale(uint8_t v) { wscale_ = v; return *this; }
  Seg &sack_perm(bool on = true) { sack_perm_ = on; return *this; }
  Seg &ts(uint32_t val, uint32_t ecr) { ts_val_ = val; ts_ecr_ = ecr; has_ts_ = true; return *this; }
  // Pattern only: the timestamp option is present and echoes `ecr`.
  Seg &ts_ecr(uint32_t ecr) { ts_ecr_ = ecr; has_ts_ = true; return *this; }
  // Pattern: no timestamp option. Inject: (default) none.
  Seg &no_ts() { has_ts_ = false; ts_val_.reset(); ts_ecr_.reset(); return *this; }
  // No options at all (pattern); for inject this is the default anyway.
  Seg &no_options() { no_options_ = true; return *this; }
  Seg &sack(std::initializer_list<wire::SackBlock> blocks);
  Seg &payload(std::string_view bytes);
  Seg &payload(std::span<const uint8_t> bytes);
  // Pattern: payload length only. Inject: n bytes 'a', 'b', ... 'z', 'a' ...
  Seg &len(size_t n) { len_ = n; return *this; }
  Seg &src_port(uint16_t p) { src_port_ = p; return *this; }
  Seg &dst_port(uint16_t p) { dst_port_ = p; return *this; }
  Seg &src(wire::Ipv4Addr a) { src_ = a; return *this; }
  Seg &dst(wire::Ipv4Addr a) { dst_ = a; return *this; }
  // Inject with a wrong TCP checksum (the receiver must drop and count it).
  Seg &bad_checksum() { bad_checksum_ = true; return *this; }
  // clang-format on

  // The IPv4 datagram to inject.
  std::vector<uint8_t> build(const SegDefaults &d) const;
  // The same in one mbuf from `pool` (nullptr if the pool is empty).
  rte_mbuf *build_mbuf(rte_mempool *pool, const SegDefaults &d) const;

  // Pattern match. On mismatch returns false and says which fields differ.
  bool matches(const ParsedSegment &s, std::string *why = nullptr) const;
  // The specified fields, tcpdump-like: "[S.] ack 101 <mss 1460> len 0".
  std::string describe() const;

  // What build() uses, exposed for tests of the builder itself.
  wire::TcpRepr tcp_repr(const SegDefaults &d) const;
  std::vector<uint8_t> payload_bytes() const;

private:
  std::optional<uint8_t> flags_;
  std::optional<uint32_t> seq_, ack_;
  std::optional<uint16_t> win_, urg_, mss_;
  std::optional<uint8_t> wscale_;
  std::optional<bool> sack_perm_;
  std::optional<bool> has_ts_;
  std::optional<uint32_t> ts_val_, ts_ecr_;
  bool no_options_ = false;
  std::optional<std::vector<wire::SackBlock>> sack_;
  std::optional<std::vector<uint8_t>> payload_;
  std::optional<size_t> len_;
  std::optional<uint16_t> src_port_, dst_port_;
  std::optional<wire::Ipv4Addr> src_, dst_;
  bool bad_checksum_ = false;
};

} // namespace shoal::sim
