#pragma once
// Plugging a TCP engine (lib/tcp) into a shard: TCP datagrams for our
// address go to Engine::input, the engine's timers run once per poll, and
// what it sends goes out through Shard::transmit_ipv4 (ARP, Ethernet, tx
// batch). Header-only so that lib/shard does not link lib/tcp by itself.
//
//   shoal::shard::ShardTcpOutput out(shard);
//   shoal::tcp::Engine engine(cfg, pool, out, now);
//   shoal::shard::attach_tcp(shard, engine);
//
// EngineConfig::tx_checksum_offload should be
// params().offloads.tx_ipv4_cksum && params().offloads.tx_tcp_cksum; the
// engine then sets RTE_MBUF_F_TX_* and l3_len, the shard sets l2_len. On rx
// the engine may trust RTE_MBUF_F_RX_L4_CKSUM_GOOD only when
// params().offloads.rx_tcp_cksum is set.
#include "shard/shard.hpp"
#include "tcp/engine.hpp"

namespace shoal::shard {

class ShardTcpOutput final : public tcp::PacketOutput {
public:
  explicit ShardTcpOutput(Shard &s) : shard_(s) {}
  void transmit(rte_mbuf *ip_packet) override { shard_.transmit_ipv4(ip_packet); }

private:
  Shard &shard_;
};

inline void attach_tcp(Shard &shard, tcp::Engine &engine) {
  shard.set_ipv4_handler(
      wire::kIpProtoTcp,
      [](void *ctx, rte_mbuf *m, const wire::Ipv4Repr &ip, Instant now) {
        static_cast<tcp::Engine *>(ctx)->input(m, ip, now);
      },
      &engine);
  shard.set_poll_hook([](void *ctx, Instant now) { static_cast<tcp::Engine *>(ctx)->advance(now); },
                      &engine);
}

inline void detach_tcp(Shard &shard) {
  shard.set_ipv4_handler(wire::kIpProtoTcp, nullptr, nullptr);
  shard.set_poll_hook(nullptr, nullptr);
}

} // namespace shoal::shard
