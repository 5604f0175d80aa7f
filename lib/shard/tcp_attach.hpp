#pragma once
// The TCP engine of one shard (lib/tcp) plugged into the shard's data path:
//
//   rx: TCP datagrams for our address -> flow owner? -> Engine::input
//       (a flow another shard owns is handed over, never processed here);
//       the NIC's L4 checksum verdict is passed on only when the port's rx
//       TCP checksum offload is enabled, so the engine never trusts a flag
//       nobody asked for.
//   tx: the engine's datagrams -> Shard::transmit_ipv4 (ARP, Ethernet, tx
//       batch). The engine says which checksums it left for the port and
//       the TSO segment size (tcp::TxOffload; EngineConfig::
//       tx_checksum_offload / tso, from the port's offloads); here they
//       become ol_flags, l3_len, l4_len, tso_segsz and the pseudo-header
//       sum, and the shard sets l2_len when it prepends Ethernet. A port
//       that mis-sums chains with an odd-length piece
//       (dpdk::Offloads::tx_cksum_odd_chains false: DPDK 22.11's net_tap)
//       gets such segments with their checksums summed here instead
//       (counter tx_checksum_software).
//   timers: Engine::advance once per poll, from the shard's TSC clock.
//
// A snapshot of the engine's counters is published for the telemetry thread
// (tcp_stats.hpp): the engine's own counters are plain integers that only
// its shard may touch.
#include <memory>

#include "shard/shard.hpp"
#include "shard/tcp_stats.hpp"
#include "tcp/engine.hpp"

namespace shoal::shard {

class ShardTcp final : public tcp::PacketOutput {
public:
  // Which shard owns a flow (as seen from here: local = our address/port).
  using OwnerFn = unsigned (*)(void *ctx, const tcp::FourTuple &);
  // Hands a datagram (data offset at the IPv4 header) to shard `owner`;
  // false if it could not (the caller drops and counts it).
  using HandoffFn = bool (*)(void *ctx, unsigned owner, rte_mbuf *m);

  // `cfg.local_address`, tx_checksum_offload and tso are taken from the
  // shard (its address and the port's offloads); mtu 0 means 1500.
  // Attaches itself to the shard (TCP handler and poll hook).
  ShardTcp(Shard &shard, const tcp::EngineConfig &cfg, rte_mempool *pool, Instant now);
  ~ShardTcp() override; // detaches; the engine frees its connections silently
  ShardTcp(const ShardTcp &) = delete;
  ShardTcp &operator=(const ShardTcp &) = delete;

  tcp::Engine &engine() { return *engine_; }
  const tcp::Engine &engine() const { return *engine_; }
  Shard &shard() { return shard_; }
  const TcpStats &stats() const { return stats_; }

  // Multi-shard: flows whose owner is another shard are handed over. Not
  // set: every flow is owned by the shard it arrives on.
  void set_steering(OwnerFn owner, HandoffFn handoff, void *ctx) {
    owner_ = owner;
    handoff_ = handoff;
    steer_ctx_ = ctx;
  }
  // A datagram another shard handed over (data offset at the IPv4 header,
  // already validated there).
  void input_handed_over(rte_mbuf *m, Instant now);
  // Publishes the engine's counters, state counts and memory now (the poll
  // hook does it at most once a millisecond). The owning shard calls it
  // when its loop ends, so the exit statistics show the final counts.
  void snapshot();

  // tcp::PacketOutput
  void transmit(tcp::PacketBuf ip_packet, tcp::TxOffload offload) override;

private:
  static void on_datagram(void *ctx, rte_mbuf *m, const wire::Ipv4Repr &ip, Instant now);
  static void on_poll(void *ctx, Instant now);
  static void on_icmp_error(void *ctx, const wire::IcmpErrorRepr &e, uint16_t mtu, Instant now);

  Shard &shard_;
  std::unique_ptr<tcp::Engine> engine_;
  TcpStats stats_;
  Instant next_snapshot_{};
  OwnerFn owner_ = nullptr;
  HandoffFn handoff_ = nullptr;
  void *steer_ctx_ = nullptr;
};

// The effective engine configuration for a shard: `cfg` with the shard's
// address and the port's tx offloads (checksum; TSO only when enabled).
tcp::EngineConfig engine_config_for(const Shard &, tcp::EngineConfig cfg);

} // namespace shoal::shard
