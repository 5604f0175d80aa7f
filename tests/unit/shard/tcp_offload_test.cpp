// ShardTcp::transmit: the engine's plain offload request (tcp::TxOffload)
// becomes the mbuf's offload fields, except for a chain the port would
// mis-sum (Offloads::tx_cksum_odd_chains false: an odd-length piece before
// the last), whose checksums the shard computes itself.
#include <vector>

#include <gtest/gtest.h>

#include "shard/tcp_attach.hpp"
#include "shard_test_util.hpp"

namespace shoal::shard::test {
namespace {

constexpr Instant kT0 = instant_from_ns(1'000'000'000);

ShardParams offload_params(bool odd_chains_ok) {
  ShardParams p = ShardHarness::default_params();
  p.offloads.tx_ipv4_cksum = true;
  p.offloads.tx_tcp_cksum = true;
  p.offloads.tx_multi_segs = true;
  p.offloads.tx_cksum_odd_chains = odd_chains_ok;
  return p;
}

// A datagram as the engine leaves it for the port (TxOffload l4): IPv4 and
// TCP headers in the first mbuf with both checksums zero, then the payload
// in pieces of the given lengths.
rte_mbuf *datagram(ShardHarness &h, std::vector<uint16_t> pieces) {
  uint16_t payload_len = 0;
  for (uint16_t n : pieces)
    payload_len = static_cast<uint16_t>(payload_len + n);
  wire::TcpRepr t;
  t.src_port = 80;
  t.dst_port = 40000;
  t.seq = 1000;
  t.ack = 2000;
  t.flags = wire::tcp_flags::ACK | wire::tcp_flags::PSH;
  t.window = 65535;
  wire::Ipv4Repr ip = ip_header(kOurIp, kPeerIp, wire::kIpProtoTcp);
  ip.payload_len = static_cast<uint16_t>(wire::tcp_header_len(t) + payload_len);
  Bytes hdr(wire::kIpv4MinHeaderLen + wire::tcp_header_len(t));
  wire::emit_ipv4(ip, std::span(hdr).first(wire::kIpv4MinHeaderLen), false);
  wire::emit_tcp_header(t, std::span(hdr).subspan(wire::kIpv4MinHeaderLen));
  rte_mbuf *m = h.mbuf(hdr);
  uint8_t fill = 'a';
  for (uint16_t n : pieces) {
    Bytes d(n);
    for (uint8_t &b : d)
      b = fill++;
    EXPECT_EQ(rte_pktmbuf_chain(m, h.mbuf(d)), 0);
  }
  return m;
}

// The frame sent, linear, and whether its IPv4 and TCP checksums are right.
bool checksums_valid(const rte_mbuf *frame) {
  std::vector<uint8_t> f(rte_pktmbuf_pkt_len(frame));
  const auto *p = static_cast<const uint8_t *>(rte_pktmbuf_read(frame, 0, f.size(), f.data()));
  if (p != f.data())
    std::memcpy(f.data(), p, f.size());
  wire::Ipv4Repr ip;
  wire::TcpRepr tcp;
  const std::span<const uint8_t> d(f);
  return wire::parse_ipv4(d.subspan(14), true, ip) == wire::ParseError::ok &&
         wire::parse_tcp(d.subspan(14 + ip.header_len, ip.payload_len), ip.src, ip.dst, true,
                         tcp) == wire::ParseError::ok;
}

void learn_peer(ShardHarness &h) {
  rte_mbuf *m = h.mbuf(ethernet(kOurMac, kPeerMac, wire::kEtherTypeArp,
                                arp(wire::ArpOp::Reply, kPeerMac, kPeerIp, kOurMac, kOurIp)));
  h.shard().process_rx({&m, 1}, kT0);
}

constexpr uint64_t kTxCksum = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM;

TEST(ShardTcpTransmit, OffloadRequestBecomesTheMbufsOffloadFields) {
  ShardHarness h(offload_params(true));
  learn_peer(h);
  ShardTcp st(h.shard(), tcp::EngineConfig{}, h.pool(), kT0);
  st.transmit(datagram(h, {3, 5}), {tcp::TxOffload::Checksum::l4, 0});
  h.shard().flush();
  ASSERT_EQ(h.tx.frames.size(), 1u) << h.trace();
  const rte_mbuf *f = h.tx.frames[0];
  EXPECT_EQ(f->ol_flags & kTxCksum, kTxCksum);
  EXPECT_EQ(f->l2_len, 14u);
  EXPECT_EQ(f->l3_len, 20u);
  EXPECT_EQ(f->l4_len, 20u);
  // The TCP checksum field holds the pseudo-header sum for the port.
  const auto *th = rte_pktmbuf_mtod_offset(f, const uint8_t *, 14 + 20);
  EXPECT_EQ(uint16_t(th[16] << 8 | th[17]), wire::tcp_pseudo_header_checksum(kOurIp, kPeerIp, 28));
  EXPECT_EQ(h.shard().counters().tx_checksum_software.get(), 0u);
}

TEST(ShardTcpTransmit, TsoRequestSetsTheSegmentSize) {
  ShardHarness h(offload_params(true));
  learn_peer(h);
  ShardTcp st(h.shard(), tcp::EngineConfig{}, h.pool(), kT0);
  st.transmit(datagram(h, {1000}), {tcp::TxOffload::Checksum::l4, 500});
  h.shard().flush();
  ASSERT_EQ(h.tx.frames.size(), 1u) << h.trace();
  const rte_mbuf *f = h.tx.frames[0];
  EXPECT_NE(f->ol_flags & RTE_MBUF_F_TX_TCP_SEG, 0u);
  EXPECT_EQ(f->tso_segsz, 500u);
  EXPECT_EQ(f->l4_len, 20u);
}

TEST(ShardTcpTransmit, OddChainIsSummedInSoftwareWhereThePortMisSumsIt) {
  ShardHarness h(offload_params(false)); // net_tap
  learn_peer(h);
  ShardTcp st(h.shard(), tcp::EngineConfig{}, h.pool(), kT0);
  st.transmit(datagram(h, {3, 5}), {tcp::TxOffload::Checksum::l4, 0});
  h.shard().flush();
  ASSERT_EQ(h.tx.frames.size(), 1u) << h.trace();
  EXPECT_EQ(h.tx.frames[0]->ol_flags & kTxCksum, 0u) << "no offload asked of the port";
  EXPECT_TRUE(checksums_valid(h.tx.frames[0]));
  EXPECT_EQ(h.shard().counters().tx_checksum_software.get(), 1u);
}

TEST(ShardTcpTransmit, EvenChainKeepsTheOffloadOnSuchAPort) {
  ShardHarness h(offload_params(false));
  learn_peer(h);
  ShardTcp st(h.shard(), tcp::EngineConfig{}, h.pool(), kT0);
  // Only the last piece is odd: the port sums that right.
  st.transmit(datagram(h, {4, 5}), {tcp::TxOffload::Checksum::l4, 0});
  h.shard().flush();
  ASSERT_EQ(h.tx.frames.size(), 1u) << h.trace();
  EXPECT_EQ(h.tx.frames[0]->ol_flags & kTxCksum, kTxCksum);
  EXPECT_EQ(h.shard().counters().tx_checksum_software.get(), 0u);
}

} // namespace
} // namespace shoal::shard::test
