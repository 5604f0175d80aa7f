// shoal-churn: shoal's own client and server for the macro benchmarks
// (the shoal column of scripts/bench.sh). The workload state machines of
// bench/macro/workload.hpp -- the very ones kernel_bench drives from epoll --
// driven here from shoal's connection callbacks.
//
//   shoal-churn ring [--lcores C,S] [--mbufs N] [--memory MB] [--buffer BYTES]
//                    [--mtu M] [--wire-checksums] [--no-tso] [--hugepages]
//                    [--server-json F]
//                    [--port P] [--ports K] [--workload churn|rr|bulk]
//                    [--concurrency C] [--request Q] [--response R]
//                    [--closer client|server] [--direction download|upload]
//                    [--duration S] [--count N] [--json F] [--label L] [--quiet]
//                    [--close-first] [--mode echo|sink|source]
//   shoal-churn server <config.ini> [--port P] [--ports K] [--mode echo|sink|source]
//                    [--request Q] [--response R] [--close-first] [--json F]
//                    [--label L]
//   shoal-churn client --config X.ini --server IP:PORT [--ports K] <the client
//                    options above>
//
// ring: one process, two stacks (client 10.99.0.1, server 10.99.0.2) joined
// by a crossed net_ring pair (rte_eth_from_rings): the client stack is
// polled on lcore C (the main lcore), the server stack on lcore S. No kernel
// anywhere, so this is the stack's own cost plus one ring hop each way.
// The ring ports are a memory wire (dpdk::PortConfig::memory_wire): like
// Linux's loopback, no checksums are computed or verified;
// --wire-checksums computes and verifies them in software all the same.
// Their MTU is 1500 unless --mtu (Linux's loopback uses 65536). On the
// memory wire the port offers TSO, and it crosses as GSO packets cross
// Linux's loopback: a send of several MSS is one datagram of up to 64 KiB,
// which the receiving engine takes whole (--no-tso: MSS-sized datagrams).
// --hugepages: the EAL's memory on 2 MiB hugepages (--in-memory, nothing
// left in /dev/hugepages) instead of --no-huge 4 KiB pages, as a production
// deployment runs; the pages must be reserved first
// (/proc/sys/vm/nr_hugepages). Without them every mbuf header and buffer
// touched is a TLB miss on the first touch of its page.
// The server side follows from the client options as kernel_bench's server
// would be started by scripts/bench.sh: echo (churn, rr; --closer server =
// --close-first), source (bulk download) or sink (bulk upload).
//
// ring also takes kernel_bench server's --close-first and --mode, as
// scripts/bench.sh passes both halves of a point; they must agree with the
// client options (or they override the server side).
//
// stderr: the live line every second (ClientRun::tick). stdout or --json F:
// ClientRun::to_json(), one object, label "shoal-ring" unless --label.
//
// server: kernel_bench's server on a shoal Stack built from a config file
// (the TAP column, scripts/bench.sh (c)): one shard only (ServerRun is not
// shared between threads); ServerRun::to_json() on stdout (or --json F)
// when SIGINT/SIGTERM stops it.
//
// client: the same client on a shoal Stack built from a config file (one
// shard, polled from the main thread), against any server, e.g. kernel_bench
// server behind the TAP: ClientRun::to_json() as in ring mode, label
// "shoal-tap" unless --label.
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_ring.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <unistd.h>
#include <unordered_set>
#include <vector>

#include "api/stack.hpp"
#include "app_util.hpp"
#include "dpdk/eal.hpp"
#include "shard/clock.hpp"
#include "workload.hpp"

namespace {

using namespace shoal;
using namespace shoal::bench;
using shoal::api::CloseReason;
using shoal::api::Connection;

std::atomic<bool> g_stop{false};

void on_stop_signal(int) {
  g_stop.store(true, std::memory_order_relaxed);
}

// The workload's clock: the TSC, as the shards' own (shard::TscClock, ns
// from rte_get_tsc_hz). kernel_bench reads CLOCK_MONOTONIC; both count
// nanoseconds of the same invariant TSC, and only differences are used. A
// vDSO clock_gettime costs 2.5x an rdtsc here and was 8 % of the lcores at
// 64-connection request/response. First called after the EAL is up.
Instant clock_now() {
  static const shard::TscClock clock;
  return clock.now();
}

[[noreturn]] void usage(const std::string &msg) {
  std::fprintf(stderr,
               "shoal-churn: %s\n"
               "usage: shoal-churn ring [options] (see the top of apps/shoal-churn.cpp)\n",
               msg.c_str());
  std::exit(2);
}

// The EAL once it runs (ring): fail() exits without unwinding, so it
// removes the EAL's runtime directory itself.
const dpdk::Eal *g_eal = nullptr;

[[noreturn]] void fail(const std::string &msg) {
  std::fprintf(stderr, "shoal-churn: %s\n", msg.c_str());
  if (g_eal != nullptr)
    g_eal->remove_runtime_dir();
  std::exit(1);
}

// ---- options (kernel_bench client's, plus the ring's own) ----

struct Options {
  std::string role;
  WorkloadFlags w;         // the workload's own flags (bench/macro/workload.hpp)
  std::string config_path; // server, client
  wire::Ipv4Addr server{}; // client: --server IP:PORT
  std::optional<ServerMode> mode;
  unsigned client_lcore = 0, server_lcore = 1;
  uint32_t mbufs = 16383;
  uint32_t memory_mb = 0;      // 0: from mbufs
  uint32_t buffer = 0;         // [tcp] rcv_buf and snd_buf; 0: the engine's default
  uint16_t mtu = 1500;         // ring: the ring ports' MTU
  bool wire_checksums = false; // ring: checksums in software, not a memory wire
  bool no_tso = false;         // ring: no TSO on the memory wire
  bool hugepages = false;      // ring: EAL memory on hugepages (--in-memory)
  uint16_t port = 5201;
  unsigned ports = 1;
  std::string server_json_path;
};

uint64_t number(const std::string &flag, const char *v, uint64_t lo, uint64_t hi) {
  uint64_t n = 0;
  if (!apps::parse_u64(v, lo, hi, &n))
    usage("bad value for " + flag + ": " + v);
  return n;
}

Options parse(int argc, char **argv) {
  if (argc < 2)
    usage("missing mode");
  Options o;
  o.w.label = "shoal-ring";
  o.role = argv[1];
  if (o.role != "ring" && o.role != "server" && o.role != "client")
    usage("mode must be ring, server or client");
  int first = 2;
  bool have_server = false;
  if (o.role == "client") {
    o.w.label = "shoal-tap";
    // --config X.ini is the client's stack (the server's is the positional one).
  }
  if (o.role == "server") {
    if (argc < 3 || argv[2][0] == '-')
      usage("server needs a config file");
    o.config_path = argv[2];
    o.w.label = "shoal-tap";
    first = 3;
  }
  for (int i = first; i < argc; ++i) {
    const std::string f = argv[i];
    auto value = [&]() -> const char * {
      if (i + 1 >= argc)
        usage(f + " needs a value");
      return argv[++i];
    };
    if (f == "--lcores") {
      const std::string v = value();
      const size_t comma = v.find(',');
      if (comma == std::string::npos)
        usage("--lcores needs two lcores: CLIENT,SERVER");
      o.client_lcore = unsigned(number(f, v.substr(0, comma).c_str(), 0, RTE_MAX_LCORE - 1));
      o.server_lcore = unsigned(number(f, v.substr(comma + 1).c_str(), 0, RTE_MAX_LCORE - 1));
      if (o.client_lcore == o.server_lcore)
        usage("--lcores: client and server need different lcores");
    } else if (f == "--mbufs")
      o.mbufs = uint32_t(number(f, value(), 1023, 1u << 20));
    else if (f == "--config" && o.role == "client")
      o.config_path = value();
    else if (f == "--server" && o.role == "client") {
      const std::string v = value();
      const size_t colon = v.rfind(':');
      const auto addr = wire::Ipv4Addr::parse(v.substr(0, colon));
      if (colon == std::string::npos || !addr)
        usage("--server needs IP:PORT");
      o.server = *addr;
      o.port = uint16_t(number(f, v.substr(colon + 1).c_str(), 1, 65535));
      have_server = true;
    } else if (f == "--mtu" && o.role == "ring")
      o.mtu = uint16_t(number(f, value(), 576, 65000));
    else if (f == "--wire-checksums" && o.role == "ring")
      o.wire_checksums = true;
    else if (f == "--no-tso" && o.role == "ring")
      o.no_tso = true;
    else if (f == "--hugepages" && o.role == "ring")
      o.hugepages = true;
    else if (f == "--buffer")
      o.buffer = uint32_t(number(f, value(), 4096, 64u << 20));
    else if (f == "--memory")
      o.memory_mb = uint32_t(number(f, value(), 64, 1u << 16));
    else if (f == "--port")
      o.port = uint16_t(number(f, value(), 1, 65535));
    else if (f == "--ports")
      o.ports = unsigned(number(f, value(), 1, 1000));
    else if (f == "--mode") {
      ServerMode m;
      if (!parse_server_mode(value(), &m))
        usage("--mode must be echo, sink or source");
      o.mode = m;
    } else if (f == "--server-json")
      o.server_json_path = value();
    else if (f == "--cpu" || f == "--addr")
      usage(f + " does not apply to ring mode (use --lcores)");
    else {
      bool took = false;
      std::string err;
      const char *v = i + 1 < argc ? argv[i + 1] : nullptr;
      switch (parse_workload_flag(f, v, &o.w, &took, &err)) {
      case FlagParse::ok:
        i += took ? 1 : 0;
        break;
      case FlagParse::bad_value:
        usage(err);
      case FlagParse::not_a_workload_flag:
        usage("unknown option " + f);
      }
    }
  }
  if (o.role == "client" && (o.config_path.empty() || !have_server))
    usage("client needs --config X.ini and --server IP:PORT");
  if (o.port + o.ports - 1 > 65535)
    usage("--port + --ports goes past 65535");
  return o;
}

void write_json(const std::string &path, const std::string &json) {
  if (path.empty()) {
    std::printf("%s\n", json.c_str());
    std::fflush(stdout);
    return;
  }
  FILE *f = std::fopen(path.c_str(), "w");
  if (!f)
    fail(path + ": " + std::strerror(errno));
  std::fprintf(f, "%s\n", json.c_str());
  std::fclose(f);
}

// ---- one connection: a workload session driven by shoal's callbacks ----

// What a close reason means to the workload, for a connection the
// application did not close itself.
ErrorKind error_of(CloseReason r, bool established) {
  switch (r) {
  case CloseReason::refused:
    return ErrorKind::connect_refused;
  case CloseReason::timed_out:
  case CloseReason::unreachable:
    return established ? ErrorKind::io_error : ErrorKind::connect_timeout;
  case CloseReason::reset:
    return established ? ErrorKind::reset : ErrorKind::connect_failed;
  case CloseReason::aborted:
  case CloseReason::normal:
  case CloseReason::stack_destroyed:
    break;
  }
  return ErrorKind::io_error;
}

// Runs a session until it would block; the same contract as kernel_bench's
// drive(), with Connection::write for send() and the zero-copy receive
// queue for recv(). Returns the final Next (close/fail: the caller closes).
// `now` is one clock reading for the whole call: what is readable arrived
// before it, and what is written goes out after it with no wait in between
// (a bulk stream has one span per 2 KiB send-ring piece, and a clock read
// per span was 7 % of the receiving lcore).
template <class Session>
Next drive(Connection c, Session &s, Next next, bool &fin_seen, Instant now) {
  for (;;) {
    switch (next) {
    case Next::send: {
      const auto span = s.pending_send();
      if (span.empty())
        return next; // nothing to write in this state: wait for data
      const size_t n = c.write(span);
      if (n == 0)
        return next; // send ring full: on_writable brings us back
      next = s.sent(n, now);
      continue;
    }
    case Next::receive:
    case Next::await_close: {
      if (c.readable() > 0) {
        const std::span<const uint8_t> in = c.peek();
        next = s.received(in, now);
        c.consume(in.size());
        continue;
      }
      if (c.peer_closed() && !fin_seen) {
        fin_seen = true;
        next = s.peer_closed(now);
        continue;
      }
      return next;
    }
    case Next::close:
    case Next::fail:
      return next;
    }
  }
}

// The client's open handlers (the stack owns them), for abandon() at the
// end of the run.
template <class H> struct Live { std::unordered_set<H *> set; };

// Client and server connections differ only in their session type and in
// how they start (start/connected vs accepted). The stack owns each one.
template <class Session, class Run> class SessionHandler final : public api::Handler {
public:
  // `live` (client): listed there while it exists.
  SessionHandler(Run &run, Live<SessionHandler> *live) : session_(run), live_(live) {
    if (live_ != nullptr)
      live_->set.insert(this);
  }
  ~SessionHandler() override {
    if (live_ != nullptr)
      live_->set.erase(this);
    if (!connection() && !finished_) {
      // connect() opened nothing (no port or connection slot free:
      // EADDRNOTAVAIL) and destroyed the handler at once.
      const Instant now = clock_now();
      session_.failed(ErrorKind::no_local_port, now);
      session_.finish(now);
    }
  }
  Session &session() { return session_; }
  bool finished() const { return finished_; }

  // The first Next (from start()/connected() or accepted()), then pump.
  void on_connected(Connection c) override {
    c.set_nodelay(true); // as kernel_bench's TCP_NODELAY
    const Instant now = clock_now();
    if constexpr (std::is_same_v<Session, ClientSession>)
      next_ = session_.connected(now);
    else
      next_ = session_.accepted(now);
    established_ = true;
    pump(c, now);
  }
  void on_readable(Connection c) override { pump(c, clock_now()); }
  void on_writable(Connection c) override { pump(c, clock_now()); }
  void on_peer_closed(Connection c) override { pump(c, clock_now()); }
  void on_closed(Connection, CloseReason r) override {
    if (!finished_ && r != CloseReason::stack_destroyed) {
      // The transport ended it: refused, reset, timed out. (A stack that
      // goes with connections open: the run is over, nothing is counted.)
      const Instant now = clock_now();
      session_.failed(error_of(r, established_), now);
      session_.finish(now);
    }
    finished_ = true;
  }
  // The run ended with this connection open (client only): not counted
  // either way, and reset as kernel_bench's close() of a socket with data
  // in flight would, so the server sees its end. The stack destroys this.
  void abandon() {
    if constexpr (std::is_same_v<Session, ClientSession>) {
      if (!finished_)
        session_.abandon();
    }
    finished_ = true;
    connection().abort(); // on_closed, then the stack destroys this
  }

private:
  void pump(Connection c, Instant now) {
    if (finished_ || !established_)
      return;
    next_ = drive(c, session_, next_, fin_seen_, now);
    if (next_ != Next::close && next_ != Next::fail)
      return;
    // As kernel_bench: the session is finished when the application
    // closes, not when the last ACK of the close arrives.
    finished_ = true;
    session_.finish(now);
    if (next_ == Next::fail)
      c.abort(); // may call on_closed (and destroy this) at once
    else
      c.close();
  }

  Session session_;
  Live<SessionHandler> *live_;
  Next next_ = Next::receive;
  bool established_ = false;
  bool fin_seen_ = false;
  bool finished_ = false;
};

using ClientHandler = SessionHandler<ClientSession, ClientRun>;
using ServerHandler = SessionHandler<ServerSession, ServerRun>;

// ---- ring mode ----

struct RingWire {
  rte_ring *client_to_server = nullptr;
  rte_ring *server_to_client = nullptr;
  ~RingWire() {
    rte_ring_free(client_to_server);
    rte_ring_free(server_to_client);
  }
};

std::unique_ptr<api::Stack> make_stack(const char *argv0, const std::string &name, rte_ring *rx,
                                       rte_ring *tx, const char *address, const Options &o) {
  const int id = rte_eth_from_rings(name.c_str(), &rx, 1, &tx, 1, int(rte_socket_id()));
  if (id < 0)
    fail("rte_eth_from_rings " + name + ": " + rte_strerror(rte_errno));
  char devname[RTE_ETH_NAME_MAX_LEN] = {};
  rte_eth_dev_get_name_by_port(uint16_t(id), devname);
  dpdk::NodeConfig cfg;
  cfg.path = name;
  cfg.port.vdev = devname;
  cfg.port.mbufs = o.mbufs;
  cfg.port.link_wait_ms = 100;
  cfg.port.mtu = o.mtu;
  cfg.port.memory_wire = !o.wire_checksums;
  // TSO on the memory wire: a send of several MSS crosses as one datagram
  // (as GSO packets cross Linux's loopback); --no-tso: MSS-sized ones.
  cfg.port.tso = cfg.port.memory_wire && !o.no_tso;
  cfg.ipv4.address = *wire::Ipv4Addr::parse(address);
  cfg.ipv4.prefix_length = 24;
  // The first burst of SYNs (rr/churn: --concurrency of them) waits for
  // the one ARP answer; with the default queue of 16 the rest would be
  // dropped and retried only after the 1 s SYN timeout.
  cfg.arp.pending_per_address = 4096;
  // Every port for the client: churn with the client closing first holds
  // one TIME_WAIT record per connection for 2 MSL.
  cfg.tcp.ephemeral_port_min = 1024;
  cfg.tcp.ephemeral_port_max = 65535;
  if (o.buffer != 0) {
    cfg.tcp.rcv_buf = o.buffer;
    cfg.tcp.snd_buf = o.buffer;
  }
  std::string error;
  auto s = api::Stack::create(cfg, argv0, &error, {.init_eal = false, .shards = 1});
  if (!s)
    fail(error);
  return s;
}

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

// The client loop, on the calling thread (the stack's only shard): opens
// connections as the run asks, polls, prints the live line; at the end
// resets what is still open and polls 100 ms more, so the peer sees the
// resets and the last FINs and a server's counts balance.
void drive_clients(api::Stack &client, wire::Ipv4Addr server_addr, const Options &o,
                   ClientRun &crun, Live<ClientHandler> &live) {
  unsigned next_port = 0;
  auto open_one = [&]() {
    const Instant now = clock_now();
    auto h = std::make_unique<ClientHandler>(crun, &live);
    h->session().start(now);
    const uint16_t port = uint16_t(o.port + next_port++ % o.ports);
    // Nothing opened: the handler goes at once and counts the failure.
    client.connect(server_addr, port, std::move(h), 0);
  };

  crun.begin(clock_now());
  while (!g_stop.load(std::memory_order_relaxed)) {
    client.poll_once();
    Instant now = clock_now();
    if (crun.over(now))
      break;
    // At most `concurrency` opens per pass, as kernel_bench.
    for (uint32_t k = 0; k < crun.config().concurrency && crun.want_connection(now); ++k) {
      open_one();
      now = clock_now();
    }
    crun.tick(now, stderr);
  }
  const Instant end = clock_now();
  crun.end(end);
  const std::vector<ClientHandler *> open(live.set.begin(), live.set.end());
  for (ClientHandler *h : open)
    h->abandon();
  while (!g_stop.load(std::memory_order_relaxed) &&
         clock_now() - end < std::chrono::milliseconds(100))
    client.poll_once();
}

ClientConfig client_config(const Options &o) {
  std::string err;
  const ClientConfig c = bench::client_config(o.w, &err);
  if (!err.empty())
    usage(err);
  return c;
}

int run_ring(const Options &o, const char *argv0) {
  const ClientConfig ccfg = client_config(o);

  ServerConfig scfg;
  scfg.mode = o.w.workload != Workload::bulk             ? ServerMode::echo
              : o.w.direction == BulkDirection::download ? ServerMode::source
                                                         : ServerMode::sink;
  if (o.mode)
    scfg.mode = *o.mode;
  scfg.request_size = o.w.request;
  scfg.response_size = o.w.response;
  scfg.close_first = o.w.closer == Closer::server || o.w.close_first;
  scfg.report_interval = Duration::zero(); // one live line: the client's
  scfg.label = o.w.label;

  // EAL: no hugepages, no PCI, nothing shared; two lcores.
  dpdk::EalConfig ecfg;
  ecfg.memory_mb = o.memory_mb != 0 ? o.memory_mb : 64 + 2 * (o.mbufs * 5 / 1024);
  ecfg.file_prefix = "shoal-churn-" + std::to_string(getpid());
  ecfg.lcores = std::to_string(o.client_lcore) + "," + std::to_string(o.server_lcore);
  ecfg.log_level = "lib.eal:error";
  ecfg.extra_args = {"--no-shconf", "--no-telemetry", "--main-lcore",
                     std::to_string(o.client_lcore), "--log-level", "pmd.*:error"};
  if (o.hugepages) {
    ecfg.no_huge = false;
    ecfg.extra_args.push_back("--in-memory");
  }
  std::string eal_error;
  const std::unique_ptr<dpdk::Eal> eal =
      dpdk::Eal::init(ecfg, dpdk::PortConfig{}, argv0, &eal_error);
  if (!eal)
    fail(eal_error);
  g_eal = eal.get();

  {
    RingWire wire;
    wire.client_to_server =
        rte_ring_create("churn_cs", 4096, int(rte_socket_id()), RING_F_SP_ENQ | RING_F_SC_DEQ);
    wire.server_to_client =
        rte_ring_create("churn_sc", 4096, int(rte_socket_id()), RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (!wire.client_to_server || !wire.server_to_client)
      fail(std::string("rte_ring_create: ") + rte_strerror(rte_errno));

    ClientRun crun(ccfg);
    ServerRun srun(scfg);
    Live<ClientHandler> client_live;
    {
      auto client = make_stack(argv0, "churn_client", wire.server_to_client, wire.client_to_server,
                               "10.99.0.1", o);
      auto server = make_stack(argv0, "churn_server", wire.client_to_server, wire.server_to_client,
                               "10.99.0.2", o);
      for (unsigned k = 0; k < o.ports; ++k)
        if (!server->listen(uint16_t(o.port + k), [&](Connection) {
              return std::make_unique<ServerHandler>(srun, nullptr);
            }))
          fail("listen on " + std::to_string(o.port + k) + " failed");
      std::fprintf(stderr, "shoal-churn: ring: client %s on lcore %u, server %s on lcore %u\n",
                   client->summary().c_str(), o.client_lcore, server->summary().c_str(),
                   o.server_lcore);

      ServerSide side{server.get(), {}};
      srun.begin(clock_now());
      if (rte_eal_remote_launch(&server_lcore_main, &side, o.server_lcore) != 0)
        fail("rte_eal_remote_launch on lcore " + std::to_string(o.server_lcore));

      drive_clients(*client, server->address(), o, crun, client_live);
      side.stop.store(true, std::memory_order_relaxed);
      rte_eal_wait_lcore(o.server_lcore);
      srun.end(clock_now());
      if (!o.w.quiet)
        std::fprintf(stderr,
                     "shoal-churn: client retransmits %llu, server retransmits %llu, "
                     "client TIME_WAIT %llu\n",
                     (unsigned long long)client->tcp_stats(0).get(tcp::Counter::retransmits),
                     (unsigned long long)server->tcp_stats(0).get(tcp::Counter::retransmits),
                     (unsigned long long)client->connections_in(api::State::time_wait));
      // SHOAL_CHURN_DEBUG in the environment: both stacks' counters.
      if (getenv("SHOAL_CHURN_DEBUG") != nullptr)
        std::fprintf(stderr, "client %s\nserver %s\n", client->stats_json().c_str(),
                     server->stats_json().c_str());
      // The stacks go here: the handlers still open get
      // on_closed(stack_destroyed) (not counted) and are destroyed.
    }
    write_json(o.w.json_path, crun.to_json());
    if (!o.server_json_path.empty())
      write_json(o.server_json_path, srun.to_json());
  }
  g_eal = nullptr; // `eal` goes with this scope
  return 0;        // errors are results, counted in the JSON
}

// ---- server mode: a shoal Stack from a config file ----

int run_server(const Options &o, const char *argv0) {
  ServerConfig scfg;
  scfg.mode = o.mode.value_or(ServerMode::echo);
  scfg.request_size = o.w.request;
  scfg.response_size = o.w.response;
  scfg.close_first = o.w.close_first;
  scfg.report_interval = Duration::zero();
  scfg.label = o.w.label;
  std::string error;
  auto stack = api::Stack::create(o.config_path, argv0, &error);
  if (!stack)
    fail(error);
  if (stack->shard_count() != 1)
    fail(o.config_path + ": [eal] lcores: server mode runs one shard (got " +
         std::to_string(stack->shard_count()) + ")");
  ServerRun srun(scfg);
  for (unsigned k = 0; k < o.ports; ++k)
    if (!stack->listen(uint16_t(o.port + k),
                       [&](Connection) { return std::make_unique<ServerHandler>(srun, nullptr); }))
      fail("listen on " + std::to_string(o.port + k) + " failed");
  api::stop_on_signals(*stack);
  std::fprintf(stderr, "shoal-churn: server %s: %s, %s on port %u\n", o.config_path.c_str(),
               stack->summary().c_str(), to_string(scfg.mode), unsigned(o.port));
  srun.begin(clock_now());
  stack->run();
  srun.end(clock_now());
  stack.reset(); // the handlers still open: on_closed(stack_destroyed), not counted
  write_json(o.w.json_path, srun.to_json());
  return 0;
}

// ---- client mode: a shoal Stack from a config file against a server ----

int run_client(const Options &o, const char *argv0) {
  const ClientConfig ccfg = client_config(o);
  std::string error;
  auto stack = api::Stack::create(o.config_path, argv0, &error);
  if (!stack)
    fail(error);
  if (stack->shard_count() != 1)
    fail(o.config_path + ": [eal] lcores: client mode runs one shard (got " +
         std::to_string(stack->shard_count()) + ")");
  std::fprintf(stderr, "shoal-churn: client %s: %s -> %s:%u\n", o.config_path.c_str(),
               stack->summary().c_str(), o.server.to_string().c_str(), unsigned(o.port));
  ClientRun crun(ccfg);
  Live<ClientHandler> live;
  drive_clients(*stack, o.server, o, crun, live);
  stack.reset(); // the handlers still open: on_closed(stack_destroyed), not counted
  write_json(o.w.json_path, crun.to_json());
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  const Options o = parse(argc, argv);
  if (o.role == "server")
    return run_server(o, argv[0]);
  if (o.role == "client")
    return run_client(o, argv[0]);
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  return run_ring(o, argv[0]);
}
