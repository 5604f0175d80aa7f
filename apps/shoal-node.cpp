// shoal-node <config.ini>
//
// Brings up one shoal node: EAL and the port from the config, optionally the
// kernel side of a TAP ([host]), then runs one shard on the main lcore
// (answers ARP and ping, and UDP with port unreachable since it opens no
// socket; TCP is counted until the engine is attached) until SIGINT or
// SIGTERM. On the way out it stops and closes the port (a TAP's
// netdev disappears), prints the counters as one JSON line and exits 0.
//
// stdout: the "ready" line, then the stats JSON line at exit.
// stderr: the port summary, a status line every [shard] status_interval_s,
// errors (one line each).
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include <rte_lcore.h>
#include <unistd.h>

#include "dpdk/config.hpp"
#include "dpdk/eal.hpp"
#include "dpdk/host_iface.hpp"
#include "dpdk/mempool.hpp"
#include "dpdk/port.hpp"
#include "shard/clock.hpp"
#include "shard/shard.hpp"
#include "shard/telemetry.hpp"

namespace {

enum ExitCode { kOk = 0, kConfigError = 1, kUsage = 2, kStartupError = 3 };

std::atomic<bool> stop_requested{false};

void on_stop_signal(int) {
  stop_requested.store(true, std::memory_order_relaxed);
}

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

shoal::shard::ShardParams shard_params(const shoal::dpdk::NodeConfig &cfg,
                                       const shoal::dpdk::Port &port) {
  shoal::shard::ShardParams p;
  p.id = 0;
  p.mac = port.mac();
  p.address = cfg.ipv4.address;
  p.prefix_length = cfg.ipv4.prefix_length;
  p.gateway = cfg.ipv4.gateway;
  p.arp.max_entries = cfg.arp.max_entries;
  p.arp.entry_lifetime = cfg.arp.entry_lifetime;
  p.arp.pending_per_address = cfg.arp.pending_per_address;
  p.arp.request_interval = cfg.arp.request_interval;
  p.arp.request_retries = cfg.arp.request_retries;
  p.offloads = port.offloads();
  p.mtu = port.mtu();
  p.reassembly_max_datagrams = cfg.ipv4.reassembly_max_datagrams;
  p.reassembly_timeout = std::chrono::milliseconds(cfg.ipv4.reassembly_timeout_ms);
  return p;
}

void print_status(const shoal::shard::Shard &s) {
  const auto &c = s.counters();
  std::fprintf(
      stderr,
      "shoal-node: rx %lu pkts %lu bytes, tx %lu pkts %lu bytes, drops %lu, "
      "arp cache %zu\n",
      static_cast<unsigned long>(c.rx_packets.get()), static_cast<unsigned long>(c.rx_bytes.get()),
      static_cast<unsigned long>(c.tx_packets.get()), static_cast<unsigned long>(c.tx_bytes.get()),
      static_cast<unsigned long>(c.drops()), s.arp_cache().size());
}

int run(const char *argv0, const std::string &config_path) {
  const shoal::dpdk::ConfigResult loaded = shoal::dpdk::load_config(config_path);
  if (!loaded) {
    std::fprintf(stderr, "%s\n", loaded.error.c_str());
    return kConfigError;
  }
  const shoal::dpdk::NodeConfig &cfg = *loaded.config;
  // From here on SIGINT/SIGTERM only ask the loop to stop, so a signal
  // during start-up still ends with a full clean-up.
  install_stop_handlers();

  std::string error;
  std::unique_ptr<shoal::dpdk::Eal> eal = shoal::dpdk::Eal::init(cfg.eal, cfg.port, argv0, &error);
  if (!eal) {
    std::fprintf(stderr, "shoal-node: %s\n", error.c_str());
    return kStartupError;
  }
  // Everything below is destroyed before `eal` (reverse declaration order).
  uint16_t port_id = 0;
  if (!shoal::dpdk::Port::find(cfg.port, &port_id, &error)) {
    std::fprintf(stderr, "shoal-node: %s\n", error.c_str());
    return kStartupError;
  }
  if (cfg.host && !shoal::dpdk::configure_host_interface(*cfg.host, &error)) {
    std::fprintf(stderr, "shoal-node: %s\n", error.c_str());
    return kStartupError;
  }
  shoal::dpdk::MempoolPtr pool = shoal::dpdk::make_packet_pool(
      "shoal_pool0", cfg.port, static_cast<int>(rte_socket_id()), &error);
  if (!pool) {
    std::fprintf(stderr, "shoal-node: %s\n", error.c_str());
    return kStartupError;
  }
  std::unique_ptr<shoal::dpdk::Port> port =
      shoal::dpdk::Port::open(port_id, cfg.port, pool.get(), &error);
  if (!port) {
    std::fprintf(stderr, "shoal-node: %s\n", error.c_str());
    return kStartupError;
  }
  std::fprintf(stderr, "shoal-node: %s\n", port->summary().c_str());

  std::unique_ptr<shoal::shard::Shard> shard;
  try {
    shard = std::make_unique<shoal::shard::Shard>(shard_params(cfg, *port), pool.get());
  } catch (const std::exception &e) {
    std::fprintf(stderr, "shoal-node: %s\n", e.what());
    return kStartupError;
  }
  // One shard on the main lcore, owning every queue (queue q of a
  // multi-queue TAP is polled here too: the kernel picks a TAP queue
  // by its own flow hash, so any queue may carry any flow).
  for (uint16_t q = 0; q < port->rx_queues(); q++)
    shard->add_rx_queue(port->id(), q);
  shard->set_tx_queue(port->id(), 0);
  if (!shoal::shard::register_telemetry(&error))
    std::fprintf(stderr, "shoal-node: %s (continuing without /shoal/stats)\n", error.c_str());
  shoal::shard::publish(shard.get());

  const std::string idle = cfg.shard.idle_sleep_us == 0
                               ? std::string("spin")
                               : "sleep-" + std::to_string(cfg.shard.idle_sleep_us) + "us";
  std::printf("shoal-node: ready port=%u mac=%s ipv4=%s/%u iface=%s idle=%s file_prefix=%s "
              "telemetry=%s\n",
              port->id(), port->mac().to_string().c_str(), cfg.ipv4.address.to_string().c_str(),
              cfg.ipv4.prefix_length,
              cfg.port.tap_iface().empty() ? "-" : cfg.port.tap_iface().c_str(), idle.c_str(),
              eal->file_prefix().c_str(), eal->telemetry_socket().c_str());
  std::fflush(stdout);

  const shoal::shard::TscClock clock;
  const shoal::Duration status_every = std::chrono::seconds(cfg.shard.status_interval_s);
  shoal::Instant next_status = clock.now() + status_every;
  while (!stop_requested.load(std::memory_order_relaxed)) {
    const shoal::Instant now = clock.now();
    const unsigned n = shard->poll(now);
    if (cfg.shard.status_interval_s != 0 && now >= next_status) {
      print_status(*shard);
      next_status = now + status_every;
    }
    if (n == 0 && cfg.shard.idle_sleep_us != 0)
      usleep(cfg.shard.idle_sleep_us);
  }

  shard->flush();
  port.reset(); // stop + close: the TAP netdev goes away
  std::printf("%s\n", shoal::shard::stats_json().c_str());
  std::fflush(stdout);
  shoal::shard::unpublish(shard.get());
  shard.reset();
  pool.reset();
  return kOk;
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 2 || std::strcmp(argv[1], "-h") == 0 || std::strcmp(argv[1], "--help") == 0) {
    std::fprintf(stderr, "usage: %s <config.ini>\n", argc > 0 ? argv[0] : "shoal-node");
    return kUsage;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  return run(argv[0], argv[1]);
}
