#pragma once
// The DPDK side of the engine's offload hints (tcp/packet_buf.hpp), for the
// layers that move the engine's datagrams to and from a port: the shard,
// the simulator's links, the tests. The engine itself never includes this:
// it neither reads nor writes ol_flags.
#include <cstdint>

#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include "tcp/packet_buf.hpp"

namespace shoal::tcp {

// The port's verdicts as carried in a received mbuf's ol_flags.
inline RxChecksum rx_checksum_of(const rte_mbuf *m) {
  auto status = [](uint64_t f, uint64_t good, uint64_t bad) {
    return f == good  ? ChecksumStatus::good
           : f == bad ? ChecksumStatus::bad
                      : ChecksumStatus::unknown;
  };
  RxChecksum r;
  r.ip = status(m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK, RTE_MBUF_F_RX_IP_CKSUM_GOOD,
                RTE_MBUF_F_RX_IP_CKSUM_BAD);
  r.l4 = status(m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK, RTE_MBUF_F_RX_L4_CKSUM_GOOD,
                RTE_MBUF_F_RX_L4_CKSUM_BAD);
  return r;
}

// Turns a TxOffload into the mbuf's transmit offload request: ol_flags,
// l3_len, l4_len, tso_segsz and the pseudo-header sum in the TCP checksum
// field (for TSO without the length, as rte_ipv4_phdr_cksum computes it).
// `m`'s data starts at the IPv4 header, and the IPv4 and TCP headers are in
// its first segment (the engine builds them there). l2_len is the caller's,
// once it prepends a link header.
inline void set_tx_offload(rte_mbuf *m, const TxOffload &o) {
  if (o.checksum == TxOffload::Checksum::none)
    return;
  auto *iph = rte_pktmbuf_mtod(m, rte_ipv4_hdr *);
  const uint16_t l3_len = static_cast<uint16_t>((iph->version_ihl & 0x0f) * 4);
  auto *th = rte_pktmbuf_mtod_offset(m, rte_tcp_hdr *, l3_len);
  m->l3_len = l3_len;
  m->l4_len = static_cast<uint16_t>((th->data_off >> 4) * 4);
  if (o.tso_segsz != 0) {
    m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_SEG;
    m->tso_segsz = o.tso_segsz;
  } else {
    m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM;
  }
  th->cksum = rte_ipv4_phdr_cksum(iph, m->ol_flags);
}

} // namespace shoal::tcp
