#include "dpdk/port.hpp"

#include <chrono>
#include <thread>

#include <rte_errno.h>
#include <rte_ethdev.h>

namespace shoal::dpdk {

std::string Offloads::to_string() const {
  auto side = [](std::initializer_list<std::pair<bool, const char *>> items) {
    std::string s;
    for (auto [on, name] : items)
      if (on)
        s += (s.empty() ? "" : ",") + std::string(name);
    return s.empty() ? std::string("none") : s;
  };
  return "rx=" + side({{rx_ipv4_cksum, "ipv4"}, {rx_tcp_cksum, "tcp"}, {rx_udp_cksum, "udp"}}) +
         " tx=" +
         side({{tx_ipv4_cksum, "ipv4"},
               {tx_tcp_cksum, "tcp"},
               {tx_udp_cksum, "udp"},
               {tx_tcp_tso, "tso"}}) +
         (tx_multi_segs ? "" : " single-buffer") + (memory_wire ? " (memory wire: no checksums)" : "");
}

bool Port::find(const PortConfig &cfg, uint16_t *port_id, std::string *error) {
  const std::string name = cfg.device_name();
  if (rte_eth_dev_get_port_by_name(name.c_str(), port_id) != 0) {
    *error = "no ethdev port named \"" + name + "\" (" + std::to_string(rte_eth_dev_count_avail()) +
             " ports probed)";
    return false;
  }
  return true;
}

std::unique_ptr<Port> Port::open(uint16_t port_id, const PortConfig &cfg, rte_mempool *pool,
                                 std::string *error) {
  std::unique_ptr<Port> p(new Port(port_id));
  auto fail = [&](const std::string &what, int rc) -> std::unique_ptr<Port> {
    *error = "port " + std::to_string(port_id) + ": " + what + ": " + rte_strerror(-rc);
    return nullptr; // ~Port closes what was opened
  };

  rte_eth_dev_info info{};
  if (int rc = rte_eth_dev_info_get(port_id, &info); rc != 0)
    return fail("rte_eth_dev_info_get", rc);
  p->driver_ = info.driver_name != nullptr ? info.driver_name : "?";
  char name[RTE_ETH_NAME_MAX_LEN] = {};
  rte_eth_dev_get_name_by_port(port_id, name);
  p->name_ = name;

  if (cfg.rx_queues > info.max_rx_queues || cfg.tx_queues > info.max_tx_queues) {
    *error = "port " + std::to_string(port_id) + ": " + std::to_string(cfg.rx_queues) + "/" +
             std::to_string(cfg.tx_queues) + " rx/tx queues asked, device has at most " +
             std::to_string(info.max_rx_queues) + "/" + std::to_string(info.max_tx_queues);
    return nullptr;
  }

  // Offloads: take each checksum offload the device offers (unless the
  // config turned offloads off) and remember what we took.
  rte_eth_conf conf{};
  if (cfg.checksum_offload) {
    const uint64_t rx = info.rx_offload_capa, tx = info.tx_offload_capa;
    p->offloads_.rx_ipv4_cksum = (rx & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) != 0;
    p->offloads_.rx_tcp_cksum = (rx & RTE_ETH_RX_OFFLOAD_TCP_CKSUM) != 0;
    p->offloads_.rx_udp_cksum = (rx & RTE_ETH_RX_OFFLOAD_UDP_CKSUM) != 0;
    p->offloads_.tx_ipv4_cksum = (tx & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) != 0;
    p->offloads_.tx_tcp_cksum = (tx & RTE_ETH_TX_OFFLOAD_TCP_CKSUM) != 0;
    p->offloads_.tx_udp_cksum = (tx & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) != 0;
    // TSO builds on the TCP checksum offload (the port fills each
    // segment's checksum) and on chained mbufs.
    p->offloads_.tx_tcp_tso = cfg.tso && p->offloads_.tx_tcp_cksum && p->offloads_.tx_ipv4_cksum &&
                              (tx & RTE_ETH_TX_OFFLOAD_TCP_TSO) != 0 &&
                              (tx & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) != 0;
  }
  p->offloads_.tx_cksum_odd_chains = p->driver_ != "net_tap";
  // The engine's segments are a header mbuf chained to payload mbufs.
  // net_ring moves mbuf pointers, so a chain crosses whole whatever it
  // claims; a device without multi-segment transmit (net_af_xdp in DPDK
  // 22.11 copies only the first segment) gets every frame in one buffer.
  const bool multi_segs_capa = (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) != 0;
  p->offloads_.tx_multi_segs = multi_segs_capa || p->driver_ == "net_ring";
  const Offloads &o = p->offloads_;
  conf.rxmode.offloads = (o.rx_ipv4_cksum ? RTE_ETH_RX_OFFLOAD_IPV4_CKSUM : 0) |
                         (o.rx_tcp_cksum ? RTE_ETH_RX_OFFLOAD_TCP_CKSUM : 0) |
                         (o.rx_udp_cksum ? RTE_ETH_RX_OFFLOAD_UDP_CKSUM : 0);
  conf.txmode.offloads = (o.tx_ipv4_cksum ? RTE_ETH_TX_OFFLOAD_IPV4_CKSUM : 0) |
                         (o.tx_tcp_cksum ? RTE_ETH_TX_OFFLOAD_TCP_CKSUM : 0) |
                         (o.tx_udp_cksum ? RTE_ETH_TX_OFFLOAD_UDP_CKSUM : 0) |
                         (o.tx_tcp_tso ? RTE_ETH_TX_OFFLOAD_TCP_TSO : 0) |
                         (multi_segs_capa ? RTE_ETH_TX_OFFLOAD_MULTI_SEGS : 0);
  conf.rxmode.mtu = cfg.mtu;

  if (int rc = rte_eth_dev_configure(port_id, cfg.rx_queues, cfg.tx_queues, &conf); rc != 0)
    return fail("rte_eth_dev_configure", rc);
  uint16_t nb_rxd = cfg.rx_ring_size, nb_txd = cfg.tx_ring_size;
  if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &nb_rxd, &nb_txd); rc != 0)
    return fail("rte_eth_dev_adjust_nb_rx_tx_desc", rc);
  const int socket = rte_eth_dev_socket_id(port_id);
  const unsigned socket_id = socket < 0 ? 0u : static_cast<unsigned>(socket);
  for (uint16_t q = 0; q < cfg.rx_queues; q++) {
    rte_eth_rxconf rxconf = info.default_rxconf;
    rxconf.offloads = conf.rxmode.offloads;
    if (int rc = rte_eth_rx_queue_setup(port_id, q, nb_rxd, socket_id, &rxconf, pool); rc != 0)
      return fail("rx queue " + std::to_string(q), rc);
  }
  for (uint16_t q = 0; q < cfg.tx_queues; q++) {
    rte_eth_txconf txconf = info.default_txconf;
    txconf.offloads = conf.txmode.offloads;
    if (int rc = rte_eth_tx_queue_setup(port_id, q, nb_txd, socket_id, &txconf); rc != 0)
      return fail("tx queue " + std::to_string(q), rc);
  }
  if (int rc = rte_eth_dev_set_mtu(port_id, cfg.mtu); rc != 0 && rc != -ENOTSUP)
    return fail("MTU " + std::to_string(cfg.mtu), rc);
  rte_eth_dev_get_mtu(port_id, &p->mtu_);
  if (cfg.memory_wire) {
    // Claimed after the device was configured: it offers none of them.
    if (p->driver_ != "net_ring") {
      *error =
          "port " + std::to_string(port_id) + ": memory_wire needs net_ring, not " + p->driver_;
      return nullptr;
    }
    p->offloads_.rx_ipv4_cksum = p->offloads_.rx_tcp_cksum = p->offloads_.rx_udp_cksum = true;
    p->offloads_.tx_ipv4_cksum = p->offloads_.tx_tcp_cksum = p->offloads_.tx_udp_cksum = true;
    p->offloads_.tx_cksum_odd_chains = true;
    // TSO on a memory wire: the engine's large datagram crosses as it is,
    // like a GSO packet on Linux's loopback (the receiver takes segments of
    // any size its window allows).
    p->offloads_.tx_tcp_tso = cfg.tso;
    p->offloads_.memory_wire = true;
  }
  p->rx_queues_ = cfg.rx_queues;
  p->tx_queues_ = cfg.tx_queues;

  rte_ether_addr mac{};
  if (int rc = rte_eth_macaddr_get(port_id, &mac); rc != 0)
    return fail("rte_eth_macaddr_get", rc);
  if (rte_is_zero_ether_addr(&mac)) {
    // Some virtual devices (net_ring) have no address of their own: give
    // the port a random locally administered one so ARP can work.
    rte_eth_random_addr(mac.addr_bytes);
    if (int rc = rte_eth_dev_default_mac_addr_set(port_id, &mac); rc != 0 && rc != -ENOTSUP)
      return fail("rte_eth_dev_default_mac_addr_set", rc);
  }
  std::copy(std::begin(mac.addr_bytes), std::end(mac.addr_bytes), p->mac_.b.begin());

  if (int rc = rte_eth_dev_start(port_id); rc != 0)
    return fail("rte_eth_dev_start", rc);
  p->started_ = true;

  // Wait for the link; a port whose link stays down still runs (the peer
  // may come later), the summary line says so.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg.link_wait_ms);
  while (!p->link_up() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return p;
}

bool Port::link_up() const {
  rte_eth_link link{};
  return rte_eth_link_get_nowait(id_, &link) == 0 && link.link_status == RTE_ETH_LINK_UP;
}

std::string Port::summary() const {
  rte_eth_link link{};
  rte_eth_link_get_nowait(id_, &link);
  std::string s = "port " + std::to_string(id_) + " " + name_ + " driver " + driver_ + " mac " +
                  mac_.to_string() + " mtu " + std::to_string(mtu_) + " rxq " +
                  std::to_string(rx_queues_) + " txq " + std::to_string(tx_queues_) + " link ";
  if (link.link_status == RTE_ETH_LINK_UP)
    s += "up " + std::to_string(link.link_speed) + " Mbps";
  else
    s += "down";
  return s + " offloads " + offloads_.to_string();
}

Port::~Port() {
  if (started_)
    rte_eth_dev_stop(id_);
  rte_eth_dev_close(id_);
}

} // namespace shoal::dpdk
