#pragma once
// A Shard over a real ethdev: a net_ring port whose rx ring the test fills
// and whose tx ring the test may drain (or a tx hook captures instead).
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ring.h>

#include "dpdk/mempool.hpp"
#include "dpdk/port.hpp"
#include "shard_test_util.hpp"

namespace shoal::shard::test {

class RingPortShard {
public:
  // `name` keeps ring, port and pool names unique within the test binary.
  RingPortShard(std::string name, unsigned ring_size, unsigned mbufs)
      : name_(std::move(name)), ring_size_(ring_size), mbufs_(mbufs) {}
  RingPortShard(const RingPortShard &) = delete;
  RingPortShard &operator=(const RingPortShard &) = delete;

  ~RingPortShard() {
    shard.reset();
    port.reset();
    pool.reset();
    if (rx != nullptr)
      rte_ring_free(rx);
    if (tx != nullptr)
      rte_ring_free(tx);
  }

  // Creates rings, port, pool and a shard polling rx queue 0 (tx queue 0 too
  // unless the test installs a tx hook). Empty string on success.
  std::string open() {
    shoal::test::ensure_eal();
    rx = rte_ring_create((name_ + "_rx").c_str(), ring_size_, SOCKET_ID_ANY,
                         RING_F_SP_ENQ | RING_F_SC_DEQ);
    tx = rte_ring_create((name_ + "_tx").c_str(), ring_size_, SOCKET_ID_ANY,
                         RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (rx == nullptr || tx == nullptr)
      return "rte_ring_create failed";
    const int id = rte_eth_from_rings(name_.c_str(), &rx, 1, &tx, 1, 0);
    if (id < 0)
      return "rte_eth_from_rings failed";
    char devname[RTE_ETH_NAME_MAX_LEN] = {};
    rte_eth_dev_get_name_by_port(static_cast<uint16_t>(id), devname);
    dpdk::PortConfig cfg;
    cfg.vdev = devname;
    cfg.mbufs = mbufs_;
    cfg.mbuf_cache = 0;
    cfg.rx_ring_size = cfg.tx_ring_size = static_cast<uint16_t>(ring_size_);
    std::string error;
    pool = dpdk::make_packet_pool(name_ + "_pool", cfg, SOCKET_ID_ANY, &error);
    if (!pool)
      return error;
    start_avail = rte_mempool_avail_count(pool.get());
    port = dpdk::Port::open(static_cast<uint16_t>(id), cfg, pool.get(), &error);
    if (!port)
      return error;
    ShardParams p = ShardHarness::default_params();
    p.mac = port->mac();
    p.offloads = port->offloads();
    shard = std::make_unique<Shard>(p, pool.get());
    shard->add_rx_queue(port->id(), 0);
    shard->set_tx_queue(port->id(), 0);
    return {};
  }

  // One frame onto the port's rx ring, as the wire would deliver it.
  void inject(const Bytes &frame) {
    rte_mbuf *m = rte_pktmbuf_alloc(pool.get());
    ASSERT_NE(m, nullptr);
    std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size())), frame.data(),
                frame.size());
    ASSERT_EQ(rte_ring_enqueue(rx, m), 0);
  }
  // The peer's ARP request for our address (teaches the shard the peer's MAC).
  void inject_arp_request() {
    inject(ethernet(MacAddr::broadcast(), kPeerMac, wire::kEtherTypeArp,
                    arp(wire::ArpOp::Request, kPeerMac, kPeerIp, MacAddr::zero(), kOurIp)));
  }
  // An echo request addressed to the port's MAC.
  void inject_ping(uint16_t seq) {
    Bytes f = ping_frame(seq);
    std::copy(port->mac().b.begin(), port->mac().b.end(), f.begin());
    inject(f);
  }

  rte_ring *rx = nullptr, *tx = nullptr;
  dpdk::MempoolPtr pool;
  unsigned start_avail = 0;
  std::unique_ptr<dpdk::Port> port;
  std::unique_ptr<Shard> shard;

private:
  std::string name_;
  unsigned ring_size_, mbufs_;
};

} // namespace shoal::shard::test
