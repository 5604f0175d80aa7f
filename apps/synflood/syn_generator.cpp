#include "synflood/syn_generator.hpp"

#include <rte_cycles.h>

#include <algorithm>
#include <span>

#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace shoal::synflood {

SynGenerator::SynGenerator(const SynGeneratorParams &p, rte_mempool *pool)
    : p_(p), pool_(pool),
      host_mask_(p.source_prefix >= 32 ? 0 : (uint32_t{0xffffffffu} >> p.source_prefix)),
      state_(p.seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull) {
  if (state_ == 0)
    state_ = 1;
  p_.source_net.v &= ~host_mask_;
}

uint64_t SynGenerator::next_random() {
  state_ ^= state_ >> 12;
  state_ ^= state_ << 25;
  state_ ^= state_ >> 27;
  return state_ * 0x2545f4914f6cdd1dull;
}

void SynGenerator::fill(uint8_t *frame) {
  const uint64_t r1 = next_random();
  const uint64_t r2 = next_random();
  // A host of the source network: neither its network nor its broadcast
  // address (both are dropped as bad sources by any stack, shoal's included).
  uint32_t host = uint32_t(r1) & host_mask_;
  if (host_mask_ >= 3)
    host = 1 + host % (host_mask_ - 1);
  const wire::Ipv4Addr src{p_.source_net.v | host};

  wire::TcpRepr tcp;
  tcp.src_port = uint16_t(1024 + (r1 >> 32) % (65536 - 1024));
  tcp.dst_port = p_.dst_port;
  tcp.seq = uint32_t(r2);
  tcp.flags = wire::tcp_flags::SYN;
  tcp.window = 64240;
  tcp.options.mss = 1460;
  tcp.options.sack_permitted = true;
  tcp.options.timestamp = wire::TcpTimestamp{uint32_t(r2 >> 32), 0};
  tcp.options.window_scale = 7;

  constexpr size_t kEth = wire::kEthernetHeaderLen, kIp = 20;
  uint8_t *seg = frame + kEth + kIp;
  const size_t tcp_len =
      wire::emit_tcp_header(tcp, std::span<uint8_t>(seg, kFrameLen - kEth - kIp));
  wire::set_tcp_checksum(std::span<uint8_t>(seg, tcp_len),
                         wire::tcp_checksum(src, p_.dst, std::span<const uint8_t>(seg, tcp_len)));

  wire::Ipv4Repr ip;
  ip.src = src;
  ip.dst = p_.dst;
  ip.protocol = wire::kIpProtoTcp;
  ip.ttl = 64;
  ip.ident = uint16_t(r1 >> 16);
  ip.payload_len = uint16_t(tcp_len);
  wire::emit_ipv4(ip, std::span<uint8_t>(frame + kEth, kIp));

  wire::emit_ethernet({p_.dst_mac, p_.src_mac, wire::kEtherTypeIpv4},
                      std::span<uint8_t>(frame, kEth));
}

uint16_t SynGenerator::build(rte_mbuf **out, uint16_t n) {
  if (rte_pktmbuf_alloc_bulk(pool_, out, n) != 0) {
    // Short pool (frames still in flight): take what is there, one by one.
    uint16_t k = 0;
    while (k < n && (out[k] = rte_pktmbuf_alloc(pool_)) != nullptr)
      ++k;
    n = k;
  }
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf *m = out[i];
    uint8_t *frame = reinterpret_cast<uint8_t *>(rte_pktmbuf_append(m, kFrameLen));
    fill(frame);
    m->l2_len = wire::kEthernetHeaderLen;
    m->l3_len = 20;
  }
  built_ += n;
  return n;
}

TokenBucket::TokenBucket(uint64_t rate, uint32_t burst)
    : rate_(rate), per_cycle_(rate == 0 ? 0.0 : double(rate) / double(rte_get_tsc_hz())),
      burst_(double(burst)) {}

uint32_t TokenBucket::take(uint32_t want, uint64_t tsc_now) {
  if (rate_ == 0)
    return want;
  if (last_ == 0)
    last_ = tsc_now;
  tokens_ = std::min(burst_, tokens_ + double(tsc_now - last_) * per_cycle_);
  last_ = tsc_now;
  const uint32_t n = std::min(want, uint32_t(tokens_));
  tokens_ -= double(n);
  return n;
}

} // namespace shoal::synflood
