// shoal-synflood: floods a TCP server with spoofed SYNs while real clients
// keep connecting, and reports whether they still get in.
//
//   shoal-synflood ring [--lcores G,S] [--backlog N] [--ring-size N]
//                       [--queue-limit N] [--server-mbufs N] [--wire-checksums]
//                       <common options>
//   shoal-synflood port --vdev DEVARGS --local A.B.C.D/P --target IP:PORT
//                       --target-mac MAC [--gateway IP] [--lcore G] <common options>
//
// common: [--flood-rate PPS (0: as fast as possible, the default) | --no-flood]
//         [--count N] [--duration S] [--baseline S] [--source NET/PREFIX]
//         [--legit-rate R] [--legit-concurrency C] [--legit-timeout-ms T]
//         [--request Q] [--response R] [--port P] [--seed N] [--gen-mbufs N]
//         [--json F] [--label L] [--quiet] [--pass-bursts N]
//
// ring: the in-process target. Two shoal stacks joined by net_ring ports
// (as shoal-churn ring): the server (198.18.0.2, listener on --port with
// syn_backlog = accept_backlog = --backlog, SYN cookies when the backlog is
// full, an echo application: --request bytes in, --response bytes out)
// polled on lcore S; on lcore G (the main lcore) the generator and the
// legitimate clients, sharing one port: a shoal client stack (198.18.0.1)
// and rte_eth_tx_burst of raw SYN frames on the same tx queue, from the same
// thread, after each poll of that stack (so its own frames get the wire
// first). The server's gateway is 198.18.0.1, so its SYN-ACKs to the
// spoofed (off-link) sources need one ARP, not one per spoofed address; on
// their way back they pass a return path (synflood/return_path.hpp) that
// frees them, as a router would send them off to the Internet, and hands
// the client stack only its own frames. The ring ports stand for NICs with
// checksum offload (dpdk::PortConfig::memory_wire: the stacks neither sum
// nor verify checksums; the flood's frames carry correct ones all the same);
// --wire-checksums makes both stacks sum them in software. Rings of --ring-size frames
// (default 1024, a NIC rx ring). --queue-limit N: flood frames are offered
// only while fewer than N frames wait in the server's rx ring (a lossless,
// flow-controlled link, as with PAUSE frames; the legitimate frames are not
// held back): the server runs flat out on the flood while a legitimate SYN
// waits behind at most N flood SYNs. Without it the flood fills the ring
// whenever it outruns the server.
//
// port: any target on a DPDK port (scripts/synflood.sh: the Linux kernel in
// a network namespace behind a veth driven by net_af_packet). The port
// carries the client stack (--local) and the flood; the target's MAC is
// given (--target-mac), its SYN-ACKs to spoofed sources should be routed
// elsewhere by the target's side (the script routes them to a sink
// namespace) or they are dropped here as not ours.
//
// The flood: SYNs from random hosts of --source (198.18.128.0/17 by
// default) and random ports, with MSS, SACK-permitted, timestamps and window
// scale (synflood/syn_generator.hpp), at --flood-rate (a token bucket on the
// TSC) or as fast as the wire takes them; bounded by --count and by the run.
// Frames the wire refuses are kept and offered again (never counted as sent).
//
// The run: --baseline seconds without the flood (phase "baseline"), then the
// flood until --duration (phase "flood"); then no new legitimate attempts,
// and at most --legit-timeout-ms to let those in flight finish (the flood
// continues meanwhile), then the rest are counted unfinished. Legitimate
// attempts start at --legit-rate per second, open loop, at most
// --legit-concurrency in flight; each counts in the phase it started in.
// SIGINT/SIGTERM end the run early (the JSON says "interrupted").
//
// stderr: one line per second (flood pps the wire took, legit attempts,
// successes, failures, handshake p50/p99 = connect() to ESTABLISHED, and
// for ring the server's memory: mbufs in use + engine pools and tables, its
// connections and SYN_RECEIVED entries). stdout or --json F: one JSON
// object (synflood/report.hpp). With SYNFLOOD_DEBUG set in the environment,
// the stacks' stats_json() at the end on stderr. Exit status 0 unless the
// set-up failed.
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

#include "api/stack.hpp"
#include "app_util.hpp"
#include "dpdk/eal.hpp"
#include "synflood/clock.hpp"
#include "synflood/echo_server.hpp"
#include "synflood/legit_client.hpp"
#include "synflood/report.hpp"
#include "synflood/return_path.hpp"
#include "synflood/syn_generator.hpp"

namespace {

using namespace shoal;
using namespace shoal::synflood;

std::atomic<bool> g_stop{false};

void on_stop_signal(int) {
  g_stop.store(true, std::memory_order_relaxed);
}

Instant clock_now() {
  return tsc_now();
}

double seconds(Duration d) {
  return double(d.count()) / 1e9;
}

[[noreturn]] void usage(const std::string &msg) {
  std::fprintf(stderr,
               "shoal-synflood: %s\n"
               "usage: shoal-synflood ring|port [options] (see the top of "
               "apps/shoal-synflood.cpp)\n",
               msg.c_str());
  std::exit(2);
}

// The EAL once it runs: fail() exits without unwinding, so it removes the
// EAL's runtime directory itself.
const dpdk::Eal *g_eal = nullptr;

[[noreturn]] void fail(const std::string &msg) {
  std::fprintf(stderr, "shoal-synflood: %s\n", msg.c_str());
  if (g_eal != nullptr)
    g_eal->remove_runtime_dir();
  std::exit(1);
}

// ---- options ----

struct Options {
  std::string mode; // ring | port
  // ring
  unsigned gen_lcore = 0, server_lcore = 1;
  uint32_t backlog = 128;
  uint32_t ring_size = 1024;
  uint32_t queue_limit = 0; // 0: none (the flood may fill the ring)
  uint32_t server_mbufs = 16383;
  bool wire_checksums = false; // checksums in software, not a memory wire
  // port
  std::string vdev;
  wire::Ipv4Addr local{};
  uint8_t local_prefix = 24;
  std::optional<wire::Ipv4Addr> gateway;
  wire::Ipv4Addr target{};
  std::optional<wire::MacAddr> target_mac;
  // common
  bool flood = true;
  uint64_t flood_rate = 0; // 0: as fast as possible
  uint64_t count = UINT64_MAX;
  double duration_s = 10, baseline_s = 0;
  wire::Ipv4Addr source_net = wire::Ipv4Addr::from_octets(198, 18, 128, 0);
  uint8_t source_prefix = 17;
  LegitParams legit;
  uint64_t seed = 1;
  // Flood bursts (of 32) per pass of the generator's loop; each pass starts
  // with one poll of the legitimate clients' stack, so fewer bursts per pass
  // mean the clients see their SYN-ACKs sooner (they share this lcore).
  unsigned pass_bursts = 1;
  uint32_t gen_mbufs = 8191;
  uint32_t client_mbufs = 8191;
  std::string json_path, label;
  bool quiet = false;
};

uint64_t number(const std::string &flag, const char *v, uint64_t lo, uint64_t hi) {
  uint64_t n = 0;
  if (!apps::parse_u64(v, lo, hi, &n))
    usage("bad value for " + flag + ": " + v);
  return n;
}

double decimal(const std::string &flag, const char *v, double lo, double hi) {
  char *end = nullptr;
  errno = 0;
  const double d = std::strtod(v, &end);
  if (errno != 0 || *end != '\0' || *v == '\0' || !(d >= lo && d <= hi))
    usage("bad value for " + flag + ": " + v);
  return d;
}

// "A.B.C.D/P"
void address_prefix(const std::string &flag, const std::string &v, wire::Ipv4Addr *a,
                    uint8_t *prefix) {
  const size_t slash = v.find('/');
  const auto addr = wire::Ipv4Addr::parse(v.substr(0, slash));
  if (slash == std::string::npos || !addr)
    usage(flag + " needs A.B.C.D/PREFIX");
  *a = *addr;
  *prefix = uint8_t(number(flag, v.substr(slash + 1).c_str(), 1, 32));
}

Options parse(int argc, char **argv) {
  if (argc < 2)
    usage("missing mode");
  Options o;
  o.mode = argv[1];
  if (o.mode != "ring" && o.mode != "port")
    usage("mode must be ring or port");
  bool have_target = false, have_local = false;
  bool have_port = false;
  for (int i = 2; i < argc; ++i) {
    const std::string f = argv[i];
    auto value = [&]() -> const char * {
      if (i + 1 >= argc)
        usage(f + " needs a value");
      return argv[++i];
    };
    if (f == "--lcores" && o.mode == "ring") {
      const std::string v = value();
      const size_t comma = v.find(',');
      if (comma == std::string::npos)
        usage("--lcores needs two lcores: GENERATOR,SERVER");
      o.gen_lcore = unsigned(number(f, v.substr(0, comma).c_str(), 0, RTE_MAX_LCORE - 1));
      o.server_lcore = unsigned(number(f, v.substr(comma + 1).c_str(), 0, RTE_MAX_LCORE - 1));
      if (o.gen_lcore == o.server_lcore)
        usage("--lcores: the generator and the server need different lcores");
    } else if (f == "--lcore" && o.mode == "port")
      o.gen_lcore = unsigned(number(f, value(), 0, RTE_MAX_LCORE - 1));
    else if (f == "--backlog" && o.mode == "ring")
      o.backlog = uint32_t(number(f, value(), 1, 1u << 20));
    else if (f == "--ring-size" && o.mode == "ring")
      o.ring_size = uint32_t(number(f, value(), 64, 1u << 16));
    else if (f == "--queue-limit" && o.mode == "ring")
      o.queue_limit = uint32_t(number(f, value(), 1, 1u << 16));
    else if (f == "--wire-checksums" && o.mode == "ring")
      o.wire_checksums = true;
    else if (f == "--server-mbufs" && o.mode == "ring")
      o.server_mbufs = uint32_t(number(f, value(), 1023, 1u << 20));
    else if (f == "--vdev" && o.mode == "port")
      o.vdev = value();
    else if (f == "--local" && o.mode == "port") {
      address_prefix(f, value(), &o.local, &o.local_prefix);
      have_local = true;
    } else if (f == "--gateway" && o.mode == "port") {
      const auto a = wire::Ipv4Addr::parse(value());
      if (!a)
        usage("--gateway needs A.B.C.D");
      o.gateway = *a;
    } else if (f == "--target" && o.mode == "port") {
      const std::string v = value();
      const size_t colon = v.rfind(':');
      const auto addr = wire::Ipv4Addr::parse(v.substr(0, colon));
      if (colon == std::string::npos || !addr)
        usage("--target needs IP:PORT");
      o.target = *addr;
      o.legit.port = uint16_t(number(f, v.substr(colon + 1).c_str(), 1, 65535));
      have_target = true;
    } else if (f == "--target-mac" && o.mode == "port") {
      o.target_mac = wire::MacAddr::parse(value());
      if (!o.target_mac)
        usage("--target-mac needs aa:bb:cc:dd:ee:ff");
    } else if (f == "--flood-rate")
      o.flood_rate = number(f, value(), 0, 1'000'000'000);
    else if (f == "--no-flood")
      o.flood = false;
    else if (f == "--count")
      o.count = number(f, value(), 1, UINT64_MAX);
    else if (f == "--duration")
      o.duration_s = decimal(f, value(), 0.1, 3600);
    else if (f == "--baseline")
      o.baseline_s = decimal(f, value(), 0, 3600);
    else if (f == "--source")
      address_prefix(f, value(), &o.source_net, &o.source_prefix);
    else if (f == "--legit-rate")
      o.legit.rate = uint32_t(number(f, value(), 0, 1'000'000));
    else if (f == "--legit-concurrency")
      o.legit.concurrency = uint32_t(number(f, value(), 1, 60000));
    else if (f == "--legit-timeout-ms")
      o.legit.timeout = std::chrono::milliseconds(number(f, value(), 10, 600'000));
    else if (f == "--request")
      o.legit.request = uint32_t(number(f, value(), 1, 1u << 20));
    else if (f == "--response")
      o.legit.response = uint32_t(number(f, value(), 1, 1u << 20));
    else if (f == "--port" && o.mode == "ring") {
      o.legit.port = uint16_t(number(f, value(), 1, 65535));
      have_port = true;
    } else if (f == "--pass-bursts")
      o.pass_bursts = unsigned(number(f, value(), 1, 64));
    else if (f == "--seed")
      o.seed = number(f, value(), 0, UINT64_MAX);
    else if (f == "--gen-mbufs")
      o.gen_mbufs = uint32_t(number(f, value(), 1023, 1u << 20));
    else if (f == "--json")
      o.json_path = value();
    else if (f == "--label")
      o.label = value();
    else if (f == "--quiet")
      o.quiet = true;
    else
      usage("unknown option " + f + " (for mode " + o.mode + ")");
  }
  (void)have_port;
  if (o.baseline_s >= o.duration_s && o.flood)
    usage("--baseline must be shorter than --duration (or give --no-flood)");
  if (o.mode == "port") {
    if (o.vdev.empty() || !have_local || !have_target || !o.target_mac)
      usage("port needs --vdev, --local, --target and --target-mac");
    o.legit.server = o.target;
    if (o.label.empty())
      o.label = "port";
  } else {
    o.legit.server = wire::Ipv4Addr::from_octets(198, 18, 0, 2);
    if (o.label.empty())
      o.label = "shoal-ring";
  }
  return o;
}

std::string config_json(const Options &o) {
  char buf[700];
  std::snprintf(
      buf, sizeof buf,
      "{\"mode\":\"%s\",\"flood\":%s,\"flood_rate\":%llu,\"count\":%llu,"
      "\"duration_s\":%.3f,\"baseline_s\":%.3f,\"source\":\"%s/%u\",\"backlog\":%u,"
      "\"ring_size\":%u,\"queue_limit\":%u,\"legit_rate\":%u,\"legit_concurrency\":%u,"
      "\"legit_timeout_ms\":%lld,\"request\":%u,\"response\":%u,\"target\":\"%s:%u\","
      "\"pass_bursts\":%u,\"wire_checksums\":%s}",
      o.mode.c_str(), o.flood ? "true" : "false", (unsigned long long)o.flood_rate,
      (unsigned long long)(o.count == UINT64_MAX ? 0 : o.count), o.duration_s, o.baseline_s,
      o.source_net.to_string().c_str(), unsigned(o.source_prefix), o.mode == "ring" ? o.backlog : 0,
      o.mode == "ring" ? o.ring_size : 0, o.mode == "ring" ? o.queue_limit : 0, o.legit.rate,
      o.legit.concurrency,
      (long long)std::chrono::duration_cast<std::chrono::milliseconds>(o.legit.timeout).count(),
      o.legit.request, o.legit.response, o.legit.server.to_string().c_str(), unsigned(o.legit.port),
      o.pass_bursts, o.mode == "ring" && o.wire_checksums ? "true" : "false");
  return buf;
}

void write_json(const std::string &path, const std::string &json) {
  if (path.empty()) {
    std::printf("%s\n", json.c_str());
    std::fflush(stdout);
    return;
  }
  const std::string tmp = path + ".tmp";
  FILE *f = std::fopen(tmp.c_str(), "w");
  if (!f)
    fail(tmp + ": " + std::strerror(errno));
  std::fprintf(f, "%s\n", json.c_str());
  std::fclose(f);
  std::rename(tmp.c_str(), path.c_str());
}

// ---- the EAL ----

// EAL: no hugepages, no PCI, nothing shared; the generator's lcore (the
// main one) and in ring mode the server's; in port mode the --vdev.
std::unique_ptr<dpdk::Eal> init_eal(const char *argv0, const Options &o) {
  const uint64_t mbufs =
      uint64_t(o.gen_mbufs) + o.client_mbufs + (o.mode == "ring" ? o.server_mbufs : 0);
  dpdk::EalConfig ecfg;
  ecfg.memory_mb = uint32_t(96 + mbufs * 5 / 1024);
  ecfg.file_prefix = "shoal-synflood-" + std::to_string(getpid());
  ecfg.lcores = std::to_string(o.gen_lcore);
  if (o.mode == "ring")
    ecfg.lcores += "," + std::to_string(o.server_lcore);
  ecfg.log_level = "lib.eal:error";
  ecfg.extra_args = {"--no-shconf", "--no-telemetry", "--main-lcore", std::to_string(o.gen_lcore),
                     "--log-level", "pmd.*:error"};
  dpdk::PortConfig pcfg;
  if (o.mode == "port")
    pcfg.vdev = o.vdev;
  std::string error;
  std::unique_ptr<dpdk::Eal> eal = dpdk::Eal::init(ecfg, pcfg, argv0, &error);
  if (!eal)
    fail(error);
  g_eal = eal.get();
  return eal;
}

// A stack's MAC. The port picks a random one when the device reports none
// (net_ring), which rte_eth_macaddr_get then does not show; the stack's
// summary() ("port 0 NAME driver D mac M ...") does.
dpdk::NodeConfig base_config(const std::string &name) {
  dpdk::NodeConfig cfg;
  cfg.path = name;
  cfg.port.link_wait_ms = 100;
  cfg.shard.status_interval_s = 0;
  return cfg;
}

// The client stack's settings: every port, a short TIME_WAIT (the client
// closes first, so the records are its own; 2 x 5 s keeps the port space
// far from full at any --legit-rate this box can run).
void client_tcp(dpdk::NodeConfig &cfg, const Options &o) {
  cfg.port.mbufs = o.client_mbufs;
  cfg.tcp.ephemeral_port_min = 1024;
  cfg.tcp.ephemeral_port_max = 65535;
  cfg.tcp.msl = std::chrono::seconds(5);
}

// ---- the run: generator + legit clients on the calling thread ----

struct Target {
  api::Stack *client = nullptr;
  uint16_t port_id = 0; // the client's (and the generator's) port
  wire::MacAddr src_mac, dst_mac;
  api::Stack *server = nullptr;      // ring: the in-process server, for its memory/counters
  ReturnPath *return_path = nullptr; // ring: the server's frames on their way back
  // ring with --queue-limit: flood frames are offered only while fewer than
  // queue_limit frames wait in the server's rx ring.
  rte_ring *server_rx = nullptr;
  unsigned queue_limit = 0;
};

ServerSample sample_server(const api::Stack &s) {
  ServerSample r;
  r.present = true;
  const shard::MemoryStats m = s.memory();
  r.total_bytes = m.total_bytes();
  r.engine_bytes = m.connection_bytes + m.flow_table_bytes + m.time_wait_bytes + m.other_bytes;
  r.mbufs_in_use = m.mbufs_in_use;
  r.connections = m.connections;
  r.syn_received = s.connections_in(api::State::syn_received);
  const shard::TcpStats &t = s.tcp_stats(0);
  r.syns_received = t.get(tcp::Counter::syns_received);
  r.cookies_sent = t.get(tcp::Counter::syn_cookies_sent);
  r.cookies_validated = t.get(tcp::Counter::syn_cookies_validated);
  r.cookies_rejected = t.get(tcp::Counter::syn_cookies_rejected_bad_hash) +
                       t.get(tcp::Counter::syn_cookies_rejected_stale) +
                       t.get(tcp::Counter::syn_cookies_rejected_bad_mss_index) +
                       t.get(tcp::Counter::syn_cookies_rejected_replay);
  r.backlog_drops = t.get(tcp::Counter::syn_backlog_drops);
  r.accept_queue_drops = t.get(tcp::Counter::accept_queue_drops);
  r.accepted = t.get(tcp::Counter::accepted);
  r.drop_no_memory = t.get(tcp::Counter::drop_no_memory);
  r.tx_full_drops = s.counters(0).tx_full_drops.get();
  return r;
}

std::string run(const Options &o, const Target &tg, rte_mempool *gen_pool) {
  SynGeneratorParams gp;
  gp.src_mac = tg.src_mac;
  gp.dst_mac = tg.dst_mac;
  gp.dst = o.legit.server;
  gp.dst_port = o.legit.port;
  gp.source_net = o.source_net;
  gp.source_prefix = o.source_prefix;
  gp.seed = o.seed;
  SynGenerator gen(gp, gen_pool);
  // Up to 5 ms of tokens banked: a generator thread preempted for a few
  // milliseconds (a shared box) catches up instead of losing the rate.
  TokenBucket bucket(o.flood_rate, uint32_t(std::max<uint64_t>(64, o.flood_rate / 200)));
  constexpr uint16_t kBurst = 32;
  rte_mbuf *pending[kBurst];
  uint16_t pending_n = 0, pending_off = 0;

  LegitClients legit(*tg.client, o.legit, 2);
  std::vector<Sample> series;

  const Instant t0 = clock_now();
  timespec wall;
  clock_gettime(CLOCK_REALTIME, &wall);
  const double start_unix = double(wall.tv_sec) + double(wall.tv_nsec) / 1e9;
  const Instant flood_begin =
      t0 + std::chrono::duration_cast<Duration>(std::chrono::duration<double>(o.baseline_s));
  const Instant end =
      t0 + std::chrono::duration_cast<Duration>(std::chrono::duration<double>(o.duration_s));
  Instant drain_end = end + o.legit.timeout;
  Instant next_sample = t0 + std::chrono::seconds(1);
  Instant last_sample = t0;
  uint64_t sent = 0, wire_busy = 0;
  uint64_t sent_at_sample = 0, busy_at_sample = 0;
  bool draining = false;
  std::optional<Instant> flood_started, flood_stopped;
  uint64_t sent_in_flood_phase = 0;

  auto take_sample = [&](Instant now) {
    Sample s;
    s.t = seconds(now - t0);
    s.interval = seconds(now - last_sample);
    s.flood = o.flood && now > flood_begin;
    s.flood_sent = sent - sent_at_sample;
    s.flood_wire_busy = wire_busy - busy_at_sample;
    s.legit = legit.take_interval();
    if (tg.server != nullptr)
      s.server = sample_server(*tg.server);
    if (!o.quiet)
      print_line(s, stderr);
    series.push_back(std::move(s));
    sent_at_sample = sent;
    busy_at_sample = wire_busy;
    last_sample = now;
  };

  for (;;) {
    // One pass: the server's frames for the clients are handed over, new
    // legitimate attempts start, the client stack polls (it receives what
    // was handed over and sends the new SYNs at once: neither waits a pass
    // of the tool's own), then one flood burst goes out behind them.
    if (tg.return_path != nullptr)
      tg.return_path->drain(1024);
    const Instant now = clock_now();
    if (g_stop.load(std::memory_order_relaxed))
      break;
    if (!draining && now >= end) {
      draining = true;
      legit.stop_starting();
    }
    if (draining && (legit.in_flight() == 0 || now >= drain_end))
      break;
    const bool flood_phase = o.flood && now >= flood_begin;
    legit.tick(now, flood_phase ? 1 : 0);
    tg.client->poll_once(); // the client's own frames reach the wire first

    // Up to --pass-bursts bursts per pass: the client stack's poll (and
    // the legitimate frames it sends) comes first in every pass.
    for (unsigned b = 0;
         b < o.pass_bursts && flood_phase && (sent < o.count || pending_n > pending_off); ++b) {
      if (!flood_started)
        flood_started = now;
      if (pending_off == pending_n) {
        pending_off = pending_n = 0;
        const uint64_t left = o.count - sent;
        const uint32_t want = uint32_t(std::min<uint64_t>(kBurst, left));
        const uint32_t n = bucket.take(want, rte_rdtsc());
        if (n > 0)
          pending_n = gen.build(pending, uint16_t(n));
      }
      if (pending_n == pending_off)
        break; // the rate says wait
      uint16_t offer = uint16_t(pending_n - pending_off);
      if (tg.server_rx != nullptr) {
        // Flow control: at most queue_limit frames wait in the server's rx
        // ring, so a legitimate SYN queues behind at most that many.
        const unsigned waiting = rte_ring_count(tg.server_rx);
        if (waiting >= tg.queue_limit) {
          ++wire_busy; // the link says wait
          break;
        }
        offer = uint16_t(std::min<unsigned>(offer, tg.queue_limit - waiting));
      }
      const uint16_t k = rte_eth_tx_burst(tg.port_id, 0, pending + pending_off, offer);
      pending_off = uint16_t(pending_off + k);
      sent += k;
      if (pending_off < pending_n) {
        ++wire_busy; // offered again next pass
        break;
      }
    }
    if (now >= next_sample) {
      take_sample(now);
      next_sample += std::chrono::seconds(1);
      if (next_sample <= now)
        next_sample = now + std::chrono::seconds(1);
    }
  }
  const Instant stop = clock_now();
  if (o.flood && stop > flood_begin) {
    flood_stopped = stop;
    sent_in_flood_phase = sent;
  }
  if (stop - last_sample > std::chrono::milliseconds(100))
    take_sample(stop);
  rte_pktmbuf_free_bulk(pending + pending_off, pending_n - pending_off);
  legit.abandon_all();
  // Let the resets and the last FINs out.
  const Instant settle = clock_now();
  while (clock_now() - settle < std::chrono::milliseconds(100)) {
    tg.client->poll_once();
    if (tg.return_path != nullptr)
      tg.return_path->drain(1024);
  }

  RunInfo info;
  info.label = o.label;
  info.target = o.mode == "ring" ? "shoal-ring" : "port";
  info.config_json = config_json(o);
  info.interrupted = g_stop.load();
  info.start_unix = start_unix;
  info.client_syn_retransmits = tg.client->tcp_stats(0).get(tcp::Counter::syn_retransmits);
  info.client_retransmits = tg.client->tcp_stats(0).get(tcp::Counter::retransmits);
  info.baseline_s = seconds(std::min(stop, flood_begin) - t0);
  info.flood_s = flood_stopped ? seconds(*flood_stopped - flood_begin) : 0.0;
  info.flood_sent_total = sent_in_flood_phase;
  info.flood_pps_mean = info.flood_s > 0 ? double(sent_in_flood_phase) / info.flood_s : 0.0;
  for (const Sample &s : series)
    if (s.flood && s.interval > 0.5)
      info.flood_pps_max = std::max(info.flood_pps_max, double(s.flood_sent) / s.interval);
  info.baseline = &legit.phase(0);
  info.flood = &legit.phase(1);
  std::string json = run_json(info, series);

  const LegitCounts &b = legit.phase(0), &f = legit.phase(1);
  std::fprintf(
      stderr,
      "shoal-synflood: %s: flood %.3f Mpps mean (max %.3f) for %.1f s | baseline: %llu/%llu "
      "ok, hs p99 %.1f us | flood: %llu/%llu ok, hs p99 %.1f us\n",
      o.label.c_str(), info.flood_pps_mean / 1e6, info.flood_pps_max / 1e6, info.flood_s,
      (unsigned long long)b.successes, (unsigned long long)(b.successes + b.failures),
      double(b.handshake.percentile(99)) / 1e3, (unsigned long long)f.successes,
      (unsigned long long)(f.successes + f.failures), double(f.handshake.percentile(99)) / 1e3);
  return json;
  // `legit` goes here (nothing is in flight any more).
}

rte_mempool *make_gen_pool(const Options &o) {
  rte_mempool *p = rte_pktmbuf_pool_create("synflood_gen", o.gen_mbufs, 256, 0,
                                           RTE_MBUF_DEFAULT_BUF_SIZE, int(rte_socket_id()));
  if (p == nullptr)
    fail(std::string("rte_pktmbuf_pool_create: ") + rte_strerror(rte_errno));
  return p;
}

// ---- ring mode ----

struct ServerSide {
  api::Stack *stack;
  std::atomic<bool> stop{false};
};

int server_lcore_main(void *arg) {
  auto *side = static_cast<ServerSide *>(arg);
  while (!side->stop.load(std::memory_order_relaxed))
    side->stack->poll_once();
  return 0;
}

std::unique_ptr<api::Stack> ring_stack(const char *argv0, const std::string &name, rte_ring *rx,
                                       rte_ring *tx, dpdk::NodeConfig cfg, uint16_t *port_id) {
  const int id = rte_eth_from_rings(name.c_str(), &rx, 1, &tx, 1, int(rte_socket_id()));
  if (id < 0)
    fail("rte_eth_from_rings " + name + ": " + rte_strerror(rte_errno));
  char devname[RTE_ETH_NAME_MAX_LEN] = {};
  rte_eth_dev_get_name_by_port(uint16_t(id), devname);
  cfg.port.vdev = devname;
  std::string error;
  auto s = api::Stack::create(cfg, argv0, &error, {.init_eal = false, .shards = 1});
  if (!s)
    fail(error);
  *port_id = uint16_t(id);
  return s;
}

int run_ring(const Options &o, const char *argv0) {
  const std::unique_ptr<dpdk::Eal> eal = init_eal(argv0, o);
  std::string json;
  {
    // client -> server; server -> return path; return path -> client.
    struct Rings {
      rte_ring *to_server = nullptr, *from_server = nullptr, *to_client = nullptr;
      ~Rings() {
        rte_ring_free(to_server);
        rte_ring_free(from_server);
        rte_ring_free(to_client);
      }
    } rings;
    const int socket = int(rte_socket_id());
    const unsigned flags = RING_F_SP_ENQ | RING_F_SC_DEQ;
    rings.to_server = rte_ring_create("synflood_cs", o.ring_size, socket, flags);
    rings.from_server = rte_ring_create("synflood_sr", o.ring_size, socket, flags);
    rings.to_client = rte_ring_create("synflood_rc", o.ring_size, socket, flags);
    if (!rings.to_server || !rings.from_server || !rings.to_client)
      fail(std::string("rte_ring_create: ") + rte_strerror(rte_errno));
    rte_mempool *gen_pool = make_gen_pool(o);

    dpdk::NodeConfig ccfg = base_config("synflood_client");
    ccfg.ipv4.address = wire::Ipv4Addr::from_octets(198, 18, 0, 1);
    ccfg.ipv4.prefix_length = 24;
    client_tcp(ccfg, o);
    dpdk::NodeConfig scfg = base_config("synflood_server");
    scfg.ipv4.address = o.legit.server;
    scfg.ipv4.prefix_length = 24;
    // The spoofed sources are off-link: their SYN-ACKs go to the client's
    // MAC (one ARP) instead of one ARP request per spoofed address.
    scfg.ipv4.gateway = ccfg.ipv4.address;
    scfg.port.mbufs = o.server_mbufs;
    scfg.tcp.syn_backlog = o.backlog;
    scfg.tcp.accept_backlog = o.backlog;
    scfg.tcp.syn_cookies = tcp::EngineConfig::SynCookieMode::when_full;
    // A NIC's checksum offload, as a production server has: the ring ports
    // are a memory wire (dpdk::PortConfig::memory_wire), nothing summed in
    // software on either side; --wire-checksums sums them all the same.
    ccfg.port.memory_wire = scfg.port.memory_wire = !o.wire_checksums;

    EchoServer app(o.legit.request, o.legit.response);
    uint16_t client_port = 0, server_port = 0; // the latter unused: the server polls its own
    auto client =
        ring_stack(argv0, "synflood_client", rings.to_client, rings.to_server, ccfg, &client_port);
    auto server = ring_stack(argv0, "synflood_server", rings.to_server, rings.from_server, scfg,
                             &server_port);
    ReturnPath return_path(rings.from_server, rings.to_client, ccfg.ipv4.address);
    if (!server->listen(o.legit.port, [&](api::Connection) { return app.accept(); }))
      fail("listen on " + std::to_string(o.legit.port) + " failed");
    std::fprintf(stderr,
                 "shoal-synflood: ring: generator + clients %s on lcore %u, server %s on lcore %u "
                 "(backlog %u, ring %u)\n",
                 client->summary().c_str(), o.gen_lcore, server->summary().c_str(), o.server_lcore,
                 o.backlog, o.ring_size);

    ServerSide side{server.get(), {}};
    if (rte_eal_remote_launch(&server_lcore_main, &side, o.server_lcore) != 0)
      fail("rte_eal_remote_launch on lcore " + std::to_string(o.server_lcore));
    Target tg;
    tg.client = client.get();
    tg.port_id = client_port;
    tg.src_mac = client->mac();
    tg.dst_mac = server->mac();
    tg.server = server.get();
    tg.return_path = &return_path;
    if (o.queue_limit != 0 && o.queue_limit < o.ring_size) {
      tg.server_rx = rings.to_server;
      tg.queue_limit = o.queue_limit;
    }
    json = run(o, tg, gen_pool);
    side.stop.store(true, std::memory_order_relaxed);
    rte_eal_wait_lcore(o.server_lcore);
    if (getenv("SYNFLOOD_DEBUG"))
      std::fprintf(stderr, "server %s\nclient %s\n", server->stats_json().c_str(),
                   client->stats_json().c_str());
    // The stacks end the connections left (on_closed(stack_destroyed))
    // and destroy their handlers; `app` outlives them.
    client.reset();
    server.reset();
    rte_mempool_free(gen_pool);
  }
  write_json(o.json_path, json);
  g_eal = nullptr; // `eal` goes with this scope
  return 0;
}

// ---- port mode ----

int run_port(const Options &o, const char *argv0) {
  const std::unique_ptr<dpdk::Eal> eal = init_eal(argv0, o);
  std::string json;
  {
    rte_mempool *gen_pool = make_gen_pool(o);
    dpdk::NodeConfig cfg = base_config("synflood_port");
    cfg.port.vdev = o.vdev;
    cfg.port.link_wait_ms = 3000;
    cfg.ipv4.address = o.local;
    cfg.ipv4.prefix_length = o.local_prefix;
    cfg.ipv4.gateway = o.gateway;
    client_tcp(cfg, o);
    std::string error;
    auto client = api::Stack::create(cfg, argv0, &error, {.init_eal = false, .shards = 1});
    if (!client)
      fail(error);
    uint16_t port_id = 0;
    if (rte_eth_dev_get_port_by_name(cfg.port.device_name().c_str(), &port_id) != 0)
      fail("no port named " + cfg.port.device_name());
    std::fprintf(stderr, "shoal-synflood: port: generator + clients %s on lcore %u -> %s:%u (%s)\n",
                 client->summary().c_str(), o.gen_lcore, o.target.to_string().c_str(),
                 unsigned(o.legit.port), o.target_mac->to_string().c_str());
    Target tg;
    tg.client = client.get();
    tg.port_id = port_id;
    tg.src_mac = client->mac();
    tg.dst_mac = *o.target_mac;
    json = run(o, tg, gen_pool);
    if (getenv("SYNFLOOD_DEBUG"))
      std::fprintf(stderr, "client %s\n", client->stats_json().c_str());
    client.reset();
    rte_mempool_free(gen_pool);
  }
  write_json(o.json_path, json);
  g_eal = nullptr; // `eal` goes with this scope
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  const Options o = parse(argc, argv);
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  return o.mode == "ring" ? run_ring(o, argv[0]) : run_port(o, argv[0]);
}
