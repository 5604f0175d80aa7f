#pragma once
// Two api::Stacks joined by a crossed pair of rte_rings (a's tx -> ring ab
// -> b's rx and back), each on a net_ring port of its own: the set-up of
// the tests that run whole stacks in one process (tests/unit/api,
// tests/unit/posix). Header-only; the test links shoal_api.
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ring.h>

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "api/stack.hpp"
#include "eal_env.hpp"

namespace shoal::test {

struct RingStacks {
  rte_ring *ab = nullptr, *ba = nullptr;
  std::unique_ptr<api::Stack> a, b; // 10.0.0.1 and 10.0.0.2

  // `tag` makes the ring and port names unique in the process. With
  // `delayed_ack`, both stacks use it instead of the engine's default;
  // `tweak` may change stack a's config further.
  // Records a gtest failure and leaves a/b null when something fails.
  void open(const std::string &tag, std::optional<Duration> delayed_ack = {},
            const std::function<void(dpdk::NodeConfig &)> &tweak = {}) {
    ensure_eal();
    ab = rte_ring_create((tag + "ab").c_str(), 4096, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    ba = rte_ring_create((tag + "ba").c_str(), 4096, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    ASSERT_NE(ab, nullptr);
    ASSERT_NE(ba, nullptr);
    a = make(tag + "a", ba, ab, "10.0.0.1", delayed_ack, tweak);
    b = make(tag + "b", ab, ba, "10.0.0.2", delayed_ack, {});
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
  }

  // The stacks first (they stop their ports), then the rings.
  void close() {
    a.reset();
    b.reset();
    rte_ring_free(ab);
    rte_ring_free(ba);
    ab = ba = nullptr;
  }
  ~RingStacks() { close(); }

private:
  static std::unique_ptr<api::Stack> make(const std::string &name, rte_ring *rx, rte_ring *tx,
                                          const char *ip, std::optional<Duration> delayed_ack,
                                          const std::function<void(dpdk::NodeConfig &)> &tweak) {
    const int id = rte_eth_from_rings(name.c_str(), &rx, 1, &tx, 1, 0);
    if (id < 0)
      return nullptr;
    char devname[RTE_ETH_NAME_MAX_LEN] = {};
    rte_eth_dev_get_name_by_port(static_cast<uint16_t>(id), devname);
    dpdk::NodeConfig cfg;
    cfg.path = name;
    cfg.port.vdev = devname;
    cfg.port.mbufs = 4095;
    cfg.port.mbuf_cache = 0;
    cfg.port.rx_ring_size = 256;
    cfg.port.tx_ring_size = 256;
    cfg.port.link_wait_ms = 100;
    cfg.ipv4.address = *wire::Ipv4Addr::parse(ip);
    cfg.ipv4.prefix_length = 24;
    cfg.tcp.mtu = 0;
    if (delayed_ack)
      cfg.tcp.delayed_ack = *delayed_ack;
    if (tweak)
      tweak(cfg);
    std::string error;
    auto s = api::Stack::create(cfg, "test", &error, {.init_eal = false});
    EXPECT_NE(s, nullptr) << error;
    return s;
  }
};

} // namespace shoal::test
