#include "shard/tcp_attach.hpp"

#include <rte_ip.h>

#include "tcp/counters.hpp"
#include "tcp/mbuf_offload.hpp"
#include "tcp/packet_buf_impl.hpp"

namespace shoal::shard {

namespace {
// How often the telemetry copy of the engine counters is refreshed.
constexpr Duration kSnapshotInterval = std::chrono::milliseconds(1);

// A chain with an odd-length piece before its last one: what a port with
// tx_cksum_odd_chains false sums wrong.
bool has_odd_inner_piece(const rte_mbuf *m) {
  for (const rte_mbuf *s = m; s->next != nullptr; s = s->next)
    if (s->data_len % 2 != 0)
      return true;
  return false;
}

// Fills in the IPv4 header and TCP checksums of a datagram whose engine
// left both zero for the port (TxOffload::Checksum::l4).
void sum_in_software(rte_mbuf *m) {
  auto *iph = rte_pktmbuf_mtod(m, rte_ipv4_hdr *);
  const uint32_t l3_len = (iph->version_ihl & 0x0f) * 4u;
  iph->hdr_checksum = rte_ipv4_cksum(iph);
  auto *th = rte_pktmbuf_mtod_offset(m, rte_tcp_hdr *, l3_len);
  uint16_t raw = 0;
  tcp::PacketBuf(m).raw_checksum(l3_len, rte_be_to_cpu_16(iph->total_length) - l3_len, raw);
  uint32_t sum = uint32_t{raw} + rte_ipv4_phdr_cksum(iph, 0);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  th->cksum = static_cast<uint16_t>(~sum);
}
} // namespace

tcp::EngineConfig engine_config_for(const Shard &shard, tcp::EngineConfig cfg) {
  const dpdk::Offloads &o = shard.params().offloads;
  cfg.local_address = shard.params().address;
  if (cfg.mtu == 0)
    cfg.mtu = 1500;
  cfg.tx_checksum_offload = o.tx_ipv4_cksum && o.tx_tcp_cksum;
  cfg.tso = cfg.tx_checksum_offload && o.tx_tcp_tso;
  // A port without multi-segment transmit gets each segment in one buffer:
  // the payload is copied into the header mbuf (the engine holds this to
  // what one pool buffer takes, which covers an MSS-sized segment).
  if (!o.tx_multi_segs) {
    cfg.copy_payload_max = 65535;
    cfg.tso = false;
  }
  return cfg;
}

ShardTcp::ShardTcp(Shard &shard, const tcp::EngineConfig &cfg, rte_mempool *pool, Instant now)
    : shard_(shard),
      engine_(std::make_unique<tcp::Engine>(engine_config_for(shard, cfg), pool, *this, now)) {
  shard_.set_ipv4_handler(wire::kIpProtoTcp, &ShardTcp::on_datagram, this);
  shard_.set_poll_hook(&ShardTcp::on_poll, this);
  shard_.set_tcp_icmp_handler(&ShardTcp::on_icmp_error, this);
  // Writes of one poll iteration leave together (on_poll flushes them).
  engine_->set_output_batching(true);
  stats_.store(engine_->counters());
  stats_.store_memory(engine_->memory());
}

void ShardTcp::snapshot() {
  stats_.store(engine_->counters());
  stats_.store_memory(engine_->memory());
}

ShardTcp::~ShardTcp() {
  shard_.set_ipv4_handler(wire::kIpProtoTcp, nullptr, nullptr);
  shard_.set_poll_hook(nullptr, nullptr);
  shard_.set_tcp_icmp_handler(nullptr, nullptr);
}

void ShardTcp::on_icmp_error(void *ctx, const wire::IcmpErrorRepr &e, uint16_t mtu, Instant now) {
  auto *self = static_cast<ShardTcp *>(ctx);
  // The quote holds at least the TCP ports and sequence number (8 bytes).
  const std::span<const uint8_t> q = e.quoted_payload;
  tcp::IcmpError err;
  err.type = e.type;
  err.code = e.code;
  err.src = e.quoted_src;
  err.dst = e.quoted_dst;
  err.src_port = static_cast<uint16_t>((q[0] << 8) | q[1]);
  err.dst_port = static_cast<uint16_t>((q[2] << 8) | q[3]);
  err.seq = (uint32_t{q[4]} << 24) | (uint32_t{q[5]} << 16) | (uint32_t{q[6]} << 8) | q[7];
  err.next_hop_mtu = mtu;
  self->engine_->icmp_error(err, now);
}

void ShardTcp::on_datagram(void *ctx, rte_mbuf *m, const wire::Ipv4Repr &ip, Instant now) {
  auto *self = static_cast<ShardTcp *>(ctx);
  // The NIC's TCP checksum verdict counts only if we enabled the offload
  // (the mbuf keeps only such a verdict, for a shard it is handed to).
  if (!self->shard_.params().offloads.rx_tcp_cksum)
    m->ol_flags &= ~RTE_MBUF_F_RX_L4_CKSUM_MASK;
  if (self->owner_ != nullptr && ip.payload_len >= 4) {
    // The ports may lie past the first segment of a chain (process_frame
    // only keeps the IPv4 header contiguous).
    uint8_t ports[4];
    const auto *l4 = static_cast<const uint8_t *>(rte_pktmbuf_read(m, ip.header_len, 4, ports));
    tcp::FourTuple t;
    t.local_addr = ip.dst;
    t.remote_addr = ip.src;
    t.remote_port = static_cast<uint16_t>(l4[0] << 8 | l4[1]);
    t.local_port = static_cast<uint16_t>(l4[2] << 8 | l4[3]);
    const unsigned owner = self->owner_(self->steer_ctx_, t);
    if (owner != self->shard_.id()) {
      // RFC-agnostic plumbing: the flow's state lives on its owner; this
      // core must not touch it (DESIGN.md "Sharding").
      if (self->handoff_(self->steer_ctx_, owner, m)) {
        self->shard_.count_tcp_handed_over();
      } else {
        self->shard_.count_tcp_handoff_full_drop();
        rte_pktmbuf_free(m);
      }
      return;
    }
  }
  // The IPv4 header was validated by the shard.
  self->engine_->input(m, ip, tcp::rx_checksum_of(m), now);
}

void ShardTcp::input_handed_over(rte_mbuf *m, Instant now) {
  shard_.count_tcp_handed_in();
  // The sending shard validated the header; parse it again for the repr
  // (no checksum: already checked or trusted there).
  wire::Ipv4Repr ip;
  const std::span<const uint8_t> d(rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m));
  if (wire::parse_ipv4_header(d, rte_pktmbuf_pkt_len(m), false, ip) != wire::ParseError::ok) {
    rte_pktmbuf_free(m);
    return;
  }
  engine_->input(m, ip, tcp::rx_checksum_of(m), now);
}

void ShardTcp::transmit(tcp::PacketBuf packet, tcp::TxOffload offload) {
  rte_mbuf *ip_packet = packet.mbuf();
  if (offload.checksum == tcp::TxOffload::Checksum::l4 && offload.tso_segsz == 0 &&
      !shard_.params().offloads.tx_cksum_odd_chains && has_odd_inner_piece(ip_packet)) {
    sum_in_software(ip_packet);
    shard_.count_tx_checksum_software();
  } else {
    tcp::set_tx_offload(ip_packet, offload);
  }
  shard_.transmit_ipv4(ip_packet);
}

void ShardTcp::on_poll(void *ctx, Instant now) {
  auto *self = static_cast<ShardTcp *>(ctx);
  // The end of the iteration: what the application wrote goes out (before
  // the timers, so owed ACKs ride on its data), then what the timers'
  // callbacks wrote; the shard's tx flush follows.
  self->engine_->flush_output();
  self->engine_->advance(now);
  self->engine_->flush_output();
  if (now >= self->next_snapshot_) {
    self->next_snapshot_ = now + kSnapshotInterval;
    self->snapshot();
  }
}

} // namespace shoal::shard
