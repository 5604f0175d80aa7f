#pragma once
// Helpers for the shard tests: frames built with lib/wire's emitters, a
// Shard driven without a port (process_rx in, a capturing tx hook out), and a
// trace of counters and transmitted frames for failure messages.
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include "eal_env.hpp"
#include "shard/shard.hpp"
#include "wire/arp.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmp.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace shoal::shard::test {

using Bytes = std::vector<uint8_t>;
using wire::Ipv4Addr;
using wire::MacAddr;

inline const MacAddr kOurMac{{0x02, 0, 0, 0, 0, 0x02}};
inline const MacAddr kPeerMac{{0x02, 0, 0, 0, 0, 0x01}};
inline const MacAddr kOtherMac{{0x02, 0, 0, 0, 0, 0x09}};
inline const Ipv4Addr kOurIp = Ipv4Addr::from_octets(198, 18, 0, 2);
inline const Ipv4Addr kPeerIp = Ipv4Addr::from_octets(198, 18, 0, 1);
inline const Ipv4Addr kGateway = Ipv4Addr::from_octets(198, 18, 0, 254);
inline const Ipv4Addr kFarIp = Ipv4Addr::from_octets(203, 0, 113, 7);

inline Bytes ethernet(const MacAddr &dst, const MacAddr &src, uint16_t type, const Bytes &payload) {
  Bytes f(wire::kEthernetHeaderLen);
  wire::emit_ethernet({dst, src, type}, f);
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}

inline Bytes arp(wire::ArpOp op, const MacAddr &sha, Ipv4Addr spa, const MacAddr &tha,
                 Ipv4Addr tpa) {
  Bytes p(wire::kArpLen);
  wire::emit_arp({op, sha, spa, tha, tpa}, p);
  return p;
}

inline wire::Ipv4Repr ip_header(Ipv4Addr src, Ipv4Addr dst, uint8_t proto) {
  wire::Ipv4Repr r;
  r.src = src;
  r.dst = dst;
  r.protocol = proto;
  r.ident = 0x1234;
  return r;
}

inline Bytes ipv4(wire::Ipv4Repr r, const Bytes &payload) {
  r.payload_len = static_cast<uint16_t>(payload.size());
  Bytes d(wire::kIpv4MinHeaderLen);
  wire::emit_ipv4(r, d);
  d.insert(d.end(), payload.begin(), payload.end());
  return d;
}

inline Bytes icmp_echo(uint8_t type, uint16_t ident, uint16_t seq, const Bytes &data) {
  Bytes m(wire::kIcmpEchoHeaderLen + data.size());
  wire::IcmpEchoRepr r;
  r.type = type;
  r.ident = ident;
  r.seq = seq;
  r.payload = data;
  wire::emit_icmp_echo(r, m);
  return m;
}

inline Bytes tcp_segment(Ipv4Addr src, Ipv4Addr dst, uint8_t flags, const Bytes &data = {}) {
  wire::TcpRepr t;
  t.src_port = 40000;
  t.dst_port = 80;
  t.seq = 1000;
  t.flags = flags;
  t.window = 65535;
  Bytes s(wire::tcp_header_len(t));
  wire::emit_tcp_header(t, s);
  s.insert(s.end(), data.begin(), data.end());
  wire::set_tcp_checksum(s, wire::tcp_checksum(src, dst, s));
  return s;
}

// A whole valid ping from the peer: Ethernet + IPv4 + ICMP echo request.
inline Bytes ping_frame(uint16_t seq = 1, Ipv4Addr src = kPeerIp) {
  return ethernet(kOurMac, kPeerMac, wire::kEtherTypeIpv4,
                  ipv4(ip_header(src, kOurIp, wire::kIpProtoIcmp),
                       icmp_echo(wire::kIcmpEchoRequest, 0x77, seq, {'s', 'h', 'o', 'a', 'l'})));
}

inline std::string hex_dump(const uint8_t *p, size_t n) {
  std::string s;
  char buf[8];
  for (size_t i = 0; i < n; i++) {
    std::snprintf(buf, sizeof buf, "%02x%s", p[i], (i % 16 == 15) ? "\n    " : " ");
    s += buf;
  }
  return s;
}

// Collects what the shard transmits; accepts at most `accept` per burst.
struct TxCapture {
  std::vector<rte_mbuf *> frames;
  uint16_t accept = UINT16_MAX;

  static uint16_t burst(void *ctx, rte_mbuf **f, uint16_t n) {
    auto *self = static_cast<TxCapture *>(ctx);
    const uint16_t take = n < self->accept ? n : self->accept;
    self->frames.insert(self->frames.end(), f, f + take);
    return take;
  }
  void clear() {
    for (rte_mbuf *m : frames)
      rte_pktmbuf_free(m);
    frames.clear();
  }
  ~TxCapture() { clear(); }
};

inline std::span<const uint8_t> bytes_of(const rte_mbuf *m) {
  return {rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m)};
}

// A shard on a private pool, fed by process_rx and emptied into TxCapture.
// The destructor checks that every mbuf came back to the pool.
class ShardHarness {
public:
  explicit ShardHarness(ShardParams p = default_params()) {
    pool_ = shoal::test::make_pktmbuf_pool(511);
    start_avail_ = rte_mempool_avail_count(pool_);
    shard_ = std::make_unique<Shard>(p, pool_);
    shard_->set_tx_burst(&TxCapture::burst, &tx);
    // Debug builds: every drop's reason, in order (empty in release builds).
    shard_->set_drop_hook(
        [this](const char *reason, const rte_mbuf *) { drops.push_back(reason); });
  }
  ~ShardHarness() {
    shard_.reset();
    tx.clear();
    EXPECT_EQ(rte_mempool_avail_count(pool_), start_avail_) << "mbufs leaked";
    rte_mempool_free(pool_);
  }

  static ShardParams default_params() {
    ShardParams p;
    p.mac = kOurMac;
    p.address = kOurIp;
    p.prefix_length = 24;
    p.gateway = kGateway;
    p.arp.max_entries = 64;
    p.arp.pending_per_address = 4;
    p.arp.request_interval = std::chrono::milliseconds(1000);
    p.arp.request_retries = 3;
    p.arp.entry_lifetime = std::chrono::seconds(60);
    return p;
  }

  rte_mbuf *mbuf(const Bytes &frame, uint64_t ol_flags = 0) {
    rte_mbuf *m = rte_pktmbuf_alloc(pool_);
    EXPECT_NE(m, nullptr);
    char *p = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
    EXPECT_NE(p, nullptr);
    if (!frame.empty())
      std::memcpy(p, frame.data(), frame.size());
    m->ol_flags = ol_flags;
    return m;
  }

  // One frame in, one flush, at `now`.
  void rx(const Bytes &frame, Instant now = instant_from_ns(1'000'000'000), uint64_t ol_flags = 0) {
    rte_mbuf *m = mbuf(frame, ol_flags);
    shard_->process_rx({&m, 1}, now);
    shard_->flush();
  }

  // Non-zero counters, the drops' reasons and the frames sent so far, for
  // failure messages.
  std::string trace() const {
    std::string s = "counters:";
    shard_->counters().for_each([&](const char *name, uint64_t v) {
      if (v != 0)
        s += std::string(" ") + name + "=" + std::to_string(v);
    });
    for (const std::string &d : drops)
      s += "\ndropped: " + d;
    s += "\ntx frames: " + std::to_string(tx.frames.size()) + "\n";
    for (const rte_mbuf *m : tx.frames)
      s += "  [" + std::to_string(rte_pktmbuf_data_len(m)) + "] " +
           hex_dump(rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m)) + "\n";
    return s;
  }

  Shard &shard() { return *shard_; }
  rte_mempool *pool() { return pool_; }
  TxCapture tx;
  std::vector<std::string> drops; // the drop trace's reasons (debug builds)

private:
  rte_mempool *pool_;
  unsigned start_avail_;
  std::unique_ptr<Shard> shard_;
};

} // namespace shoal::shard::test
