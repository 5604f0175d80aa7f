#pragma once
// The node configuration: one INI file read with rte_cfgfile.
//
//   [eal]   lcores, memory_mb, no_huge, file_prefix, extra_args, log_level
//   [port]  vdev or pci, mtu, rx_queues, tx_queues, rx_ring_size, tx_ring_size,
//           mbufs, mbuf_cache, checksum_offload, link_wait_ms
//   [ipv4]  address, prefix_length, gateway
//   [host]  (optional) the kernel side of a TAP: interface, address,
//           prefix_length, disable_ipv6
//   [arp]   entry_lifetime_s, pending_per_address, request_interval_ms,
//           request_retries, max_entries
//   [shard] idle_sleep_us, status_interval_s
//   [tcp]   reserved for the TCP engine (keys are not checked here yet)
//
// Comments start with '#'. Every key not listed here is an error, so a typo
// never silently falls back to a default. Loading never crashes and never
// prints: the first problem comes back as exactly one line that names the
// file, the section and the key.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/time.hpp"
#include "wire/addr.hpp"

namespace shoal::dpdk {

struct EalConfig {
  std::string lcores = "0";            // -l
  uint32_t memory_mb = 128;            // -m
  bool no_huge = true;                 // --no-huge
  std::string file_prefix;             // --file-prefix; required: one per concurrent process
  std::string log_level;               // --log-level (e.g. "pmd.net.tap:error"), optional
  std::vector<std::string> extra_args; // appended verbatim (split on spaces)
};

struct PortConfig {
  std::string vdev; // e.g. "net_tap0,iface=shoal0" (exclusive with pci)
  std::string pci;  // e.g. "0000:00:04.0" (exclusive with vdev)
  uint16_t mtu = 1500;
  uint16_t rx_queues = 1, tx_queues = 1;
  uint16_t rx_ring_size = 1024, tx_ring_size = 1024;
  uint32_t mbufs = 8191; // per pool; 2^n - 1 is the mempool's sweet spot
  uint32_t mbuf_cache = 256;
  bool checksum_offload = true; // use the device's checksum offloads when offered
  uint32_t link_wait_ms = 3000;

  // The ethdev name the port will have: the vdev's driver instance name
  // ("net_tap0") or the PCI address.
  std::string device_name() const;
  // The TAP's kernel interface name (the vdev's iface= value), "" if none.
  std::string tap_iface() const;
};

struct Ipv4Config {
  wire::Ipv4Addr address;
  uint8_t prefix_length = 24;
  std::optional<wire::Ipv4Addr> gateway;
};

// The kernel side of a TAP, configured by the app in its own network namespace.
struct HostConfig {
  std::string interface; // defaults to the vdev's iface=
  wire::Ipv4Addr address;
  uint8_t prefix_length = 24;
  bool disable_ipv6 = true; // the kernel's MLD/RS noise otherwise reaches the stack
};

struct ArpConfig {
  Duration entry_lifetime = std::chrono::seconds(60);
  uint32_t pending_per_address = 16; // packets held while a request is outstanding
  Duration request_interval = std::chrono::milliseconds(1000);
  uint32_t request_retries = 3; // requests sent before the queued packets are dropped
  uint32_t max_entries = 1024;
};

struct ShardConfig {
  uint32_t idle_sleep_us = 0;     // sleep after an empty poll (0: pure polling)
  uint32_t status_interval_s = 5; // progress line to stderr (0: never)
};

struct NodeConfig {
  std::string path; // the file it came from
  EalConfig eal;
  PortConfig port;
  Ipv4Config ipv4;
  std::optional<HostConfig> host;
  ArpConfig arp;
  ShardConfig shard;
};

struct ConfigResult {
  std::optional<NodeConfig> config; // set on success
  std::string error;                // one line, set on failure
  explicit operator bool() const { return config.has_value(); }
};

// Reads and validates `path`.
ConfigResult load_config(const std::string &path);

} // namespace shoal::dpdk
