#pragma once
// The node configuration: one INI file read with rte_cfgfile.
//
//   [eal]   lcores, memory_mb, no_huge, file_prefix, extra_args, log_level
//   [port]  vdev or pci, mtu, rx_queues, tx_queues, rx_ring_size, tx_ring_size,
//           mbufs, mbuf_cache, checksum_offload, link_wait_ms
//   [ipv4]  address, prefix_length, gateway, reassembly_max_datagrams,
//           reassembly_timeout_ms
//   [host]  (optional) the kernel side of a TAP: interface, address,
//           prefix_length, disable_ipv6
//   [arp]   entry_lifetime_s, pending_per_address, request_interval_ms,
//           request_retries, max_entries
//   [shard] idle_sleep_us, status_interval_s
//   [tcp]   (optional) the TCP engine of every shard: mss, rcv_buf, snd_buf,
//           msl_s, initial_rto_ms, min_rto_ms, syn_retries, synack_retries,
//           data_retries, fin_wait2_timeout_s, keepalive_idle_s,
//           keepalive_interval_s, keepalive_probes, delayed_ack_ms,
//           congestion_control, initial_window_segments, user_timeout_ms,
//           syn_backlog, accept_backlog, max_connections, max_time_wait,
//           timestamps, sack, window_scaling, copy_payload_max, autocork,
//           ephemeral_port_min, ephemeral_port_max
//   [preload] (optional) how an unmodified program run over shoal
//           (libshoal_preload.so) drives the stack: mode (inline,
//           dedicated), spin_us, helper_sleep_us
//   [impair] (optional, off by default) a seeded loss/delay/reorder/duplicate
//           stage in each shard's rx and/or tx path, for tests on kernels
//           without sch_netem: loss, reorder, duplicate (percent), delay_ms,
//           seed, direction (rx, tx, both)
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
#include "tcp/engine.hpp"
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
  // Use TCP segmentation offload when offered (needs checksum_offload).
  // Off by default: the tap PMD (22.11) offers TSO but refuses the engine's
  // TSO datagrams (header mbuf + payload chain) in rte_eth_tx_burst. On a
  // memory wire (below) the port offers it and the datagram crosses whole,
  // as a GSO packet crosses Linux's loopback.
  bool tso = false;
  // The wire is this process's memory: a net_ring joining two stacks of one
  // process (apps/shoal-churn ring). Nothing can corrupt a frame there, so,
  // as Linux's loopback device does (CHECKSUM_PARTIAL sent, received as
  // CHECKSUM_UNNECESSARY), no IPv4 or TCP checksum is computed on send or
  // verified on receipt: the port reports every checksum offload and the
  // shard marks each received frame's checksums good. Captures of such a
  // port show the unfinished checksums. net_ring only.
  bool memory_wire = false;
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
  // Reassembly per shard: datagrams held at once (0: fragments dropped) and
  // the time an incomplete one is kept.
  uint32_t reassembly_max_datagrams = 256;
  uint32_t reassembly_timeout_ms = 30000;
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

// libshoal_preload.so: where the stack runs for an unmodified program.
//   inline:    the program's own threads poll it inside their socket calls
//              (spinning up to spin_us before they sleep), and a helper
//              thread polls every helper_sleep_us while none does.
//   dedicated: the shards run on threads of their own and poll without
//              pause ([shard] idle_sleep_us); program threads post to them
//              and sleep.
struct PreloadConfig {
  bool dedicated = false;
  uint32_t spin_us = 50;
  uint32_t helper_sleep_us = 100;
};

// The impairment stage (shard/impair.hpp): what the kernel's netem would do
// on the host side of the TAP, done inside the shard instead.
struct ImpairConfig {
  double loss = 0, reorder = 0, duplicate = 0; // probabilities, 0..1
  Duration delay{};
  uint64_t seed = 1;
  bool rx = true, tx = true; // which paths are impaired
  bool enabled() const { return loss > 0 || reorder > 0 || duplicate > 0 || delay > Duration{}; }
};

struct NodeConfig {
  std::string path; // the file it came from
  EalConfig eal;
  PortConfig port;
  Ipv4Config ipv4;
  std::optional<HostConfig> host;
  ArpConfig arp;
  ShardConfig shard;
  PreloadConfig preload;
  // [tcp]: local_address, mtu and tx_checksum_offload/tso are filled in by
  // the stack from [ipv4] and the port; mtu here is [tcp] mss + 40 when
  // given, else 0 (= the port's MTU).
  tcp::EngineConfig tcp;
  ImpairConfig impair;
};

struct ConfigResult {
  std::optional<NodeConfig> config; // set on success
  std::string error;                // one line, set on failure
  explicit operator bool() const { return config.has_value(); }
};

// Reads and validates `path`.
ConfigResult load_config(const std::string &path);

} // namespace shoal::dpdk
