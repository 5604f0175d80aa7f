#pragma once
// One ethdev port: configure N rx/tx queues, negotiate checksum offloads,
// set the MTU, start, wait for the link. Stopped and closed on destruction
// (a TAP's kernel netdev disappears then).
#include <cstdint>
#include <memory>
#include <string>

#include <rte_mempool.h>

#include "dpdk/config.hpp"
#include "wire/addr.hpp"

namespace shoal::dpdk {

// Which checksum offloads were enabled on the port. The shard honours exactly
// these: on rx it trusts RTE_MBUF_F_RX_{IP,L4}_CKSUM_GOOD/BAD only when the
// matching rx flag is set; on tx it asks the NIC (RTE_MBUF_F_TX_IPV4 |
// TX_IP_CKSUM | TX_TCP_CKSUM with l2_len/l3_len) only when the tx flag is set,
// and computes the checksum in software otherwise.
struct Offloads {
  bool rx_ipv4_cksum = false;
  bool rx_tcp_cksum = false;
  bool rx_udp_cksum = false;
  bool tx_ipv4_cksum = false;
  bool tx_tcp_cksum = false;
  bool tx_tcp_tso = false;    // TCP segmentation offload (only with tx_tcp_cksum)
  bool tx_udp_cksum = false;
  // Chained mbufs on tx (header + zero-copy payload). Without it every
  // frame goes out in one buffer.
  bool tx_multi_segs = true;
  // The TCP checksum offload sums a chain right whatever its pieces' lengths.
  // DPDK 22.11's net_tap computes the "offloaded" checksum in software and
  // adds up the pieces of a chain without carrying an odd byte over, so a
  // segment whose payload starts or ends mid-word in a piece goes out with a
  // wrong checksum: false there, and the engine sums such segments itself.
  bool tx_cksum_odd_chains = true;
  // PortConfig::memory_wire: the checksum offloads above are claimed, not
  // the device's; the shard marks received checksums good itself.
  bool memory_wire = false;
  // "rx=ipv4,tcp,udp tx=ipv4,tcp,udp,tso" ("none" for an empty side).
  std::string to_string() const;
};

class Port {
public:
  // Sets up and starts `port_id` with `pool` for every rx queue. nullptr and
  // a one-line reason in *error on failure (the port is closed again).
  static std::unique_ptr<Port> open(uint16_t port_id, const PortConfig &, rte_mempool *pool,
                                    std::string *error);
  // Finds the port the config names (vdev instance name or PCI address).
  static bool find(const PortConfig &, uint16_t *port_id, std::string *error);
  ~Port(); // rte_eth_dev_stop + rte_eth_dev_close
  Port(const Port &) = delete;
  Port &operator=(const Port &) = delete;

  uint16_t id() const { return id_; }
  const wire::MacAddr &mac() const { return mac_; }
  const Offloads &offloads() const { return offloads_; }
  uint16_t rx_queues() const { return rx_queues_; }
  uint16_t tx_queues() const { return tx_queues_; }
  uint16_t mtu() const { return mtu_; }
  bool link_up() const;
  // "port 0 net_tap0 driver net_tap mac 02:.. mtu 1500 rxq 1 txq 1 link up 10000 Mbps
  //  offloads rx=ipv4,tcp,udp tx=ipv4,tcp"
  std::string summary() const;

private:
  explicit Port(uint16_t id) : id_(id) {}
  uint16_t id_;
  bool started_ = false;
  wire::MacAddr mac_;
  Offloads offloads_;
  uint16_t rx_queues_ = 0, tx_queues_ = 0, mtu_ = 0;
  std::string name_, driver_;
};

} // namespace shoal::dpdk
