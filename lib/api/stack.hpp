#pragma once
// shoal::api::Stack — what an application sees: a node built from one
// config file, TCP listeners and connections, and the loop that runs them.
//
//   std::string error;
//   auto stack = shoal::api::Stack::create("configs/default.ini", argv[0], &error);
//   if (!stack) { fprintf(stderr, "%s\n", error.c_str()); return 1; }
//   struct MyHandler : shoal::api::Handler {
//     void on_readable(shoal::api::Connection c) override { ... c.peek() ... c.consume(n); }
//   };
//   stack->listen(80, [](shoal::api::Connection) { return std::make_unique<MyHandler>(); });
//   shoal::api::stop_on_signals(*stack);   // SIGINT/SIGTERM -> stop()
//   stack->run();                          // returns after stop()
//
// Shards: one per lcore of [eal] lcores (the main lcore runs shard 0), each
// owning rx queue s (and s + n, s + 2n ... if the port has more) and tx queue
// s, with its own TCP engine, timer wheel and flow table. listen() registers
// on every shard. With several shards, flow ownership is the symmetric
// Toeplitz hash (shard/flow_steering.hpp); a packet that arrives on a shard
// that does not own its flow is handed over (shard/handoff.hpp), and
// connect() picks an ephemeral port whose flow hashes to the calling shard.
//
// Connections (api/connection.hpp): a Connection is a view of the engine's
// connection; a Handler receives its events. The stack owns each handler
// from the factory (or connect()) on, calls on_closed exactly once when
// the connection ends (also when the Stack is destroyed first:
// CloseReason::stack_destroyed), then destroys it.
//
// Threads: every Connection, and connect(), belong to one shard and are used
// only from that shard's loop (the callbacks run there). Other threads talk
// to a shard with post(): a closure queued on a lock-free ring and run at the
// top of the shard's next loop iteration.
//
// UDP (shard/udp.hpp): a UdpSocket belongs to one shard too. udp_bind()
// opens an unconnected socket on every shard, since a datagram is received
// by the shard whose rx queue it arrived on and is never handed to another
// (RSS is programmed for TCP flows only, so a NIC usually delivers UDP to
// the first queue). udp_open() opens one socket on one shard, e.g. to
// connect() it: with several shards its remote's datagrams must arrive on
// that shard's queue; those that arrive elsewhere are dropped there,
// counted as udp_other_shard (no port unreachable is sent for a port open
// on any shard).
//
//   stack->udp_bind(7, [](shoal::api::UdpSocket &s, const shoal::api::UdpDatagram &d) {
//     s.send_to(d.remote, d.remote_port, d.payload);   // a UDP echo
//   });
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/connection.hpp"
#include "dpdk/config.hpp"
#include "shard/counters.hpp"
#include "shard/tcp_stats.hpp"
#include "shard/udp.hpp"
#include "tcp/connection.hpp"
#include "tcp/engine.hpp"
#include "wire/addr.hpp"

namespace shoal::api {

// Per-listener / per-connect options, e.g. `OpenOptions{.max_segment = 1000}`
// (TCP_MAXSEG: clamps the MSS announced and the segments sent).
using OpenOptions = tcp::OpenOptions;

// UDP: a socket of one shard and the datagrams it receives.
using UdpSocket = shard::UdpSocket;
using UdpDatagram = shard::UdpDatagram;
using UdpSendBuffer = shard::UdpSendBuffer; // UdpSocket::reserve: zero-copy send
using UdpReceiveFn = shard::UdpSocket::ReceiveFn;

// Why connect() or listen() did not open.
enum class OpenError : uint8_t {
  none,
  no_such_shard,  // the shard number is not below shard_count()
  wrong_thread,   // called while running, off the shard's loop: post() it
  bad_address,    // remote 0.0.0.0, broadcast or multicast, or port 0
  no_free_port,   // every ephemeral port to this remote that maps to the shard is in use
  address_in_use, // listen: the port listens already (on some shard)
  no_memory,      // the connection table is full ([tcp] max_connections)
  not_applied,    // listen while running: a shard's command ring was full, or the
                  // shards did not answer within a second
};
// A short phrase for messages ("no free port", ...).
const char *to_string(OpenError);
// Linux's errno for the same failure: EINVAL, EADDRNOTAVAIL, EADDRINUSE,
// ENOBUFS, EAGAIN (0 for none).
int to_errno(OpenError);
// The engine's cause as the stack names it (a taken tuple: no_free_port,
// which connect() reports as EADDRNOTAVAIL, as Linux does).
OpenError open_error(tcp::Engine::ConnectError);

// What connect() returns: the connection, or why there is none (true when
// it opened).
class ConnectResult {
public:
  ConnectResult(Connection c) : c_(c), error_(OpenError::none) {} // c is not empty
  ConnectResult(OpenError e) : error_(e) {}
  Connection connection() const { return c_; } // empty on failure
  OpenError error() const { return error_; }
  explicit operator bool() const { return error_ == OpenError::none; }
  const Connection *operator->() const { return &c_; }

private:
  Connection c_;
  OpenError error_;
};

// What listen() returns: true when the port listens on every shard.
struct ListenResult {
  OpenError error = OpenError::none;
  explicit operator bool() const { return error == OpenError::none; }
};

struct StackOptions {
  // false: the EAL is already running in this process (tests); the stack
  // then finds its port by name and runs no [host] set-up.
  bool init_eal = true;
  // Shards to run; 0 = one per lcore of [eal] lcores (init_eal) or 1.
  unsigned shards = 0;
};

class Stack {
public:
  // nullptr and exactly one line in *error on any failure (config, EAL,
  // port, mempool, shards); nothing is left running.
  static std::unique_ptr<Stack> create(const std::string &config_path, const char *argv0,
                                       std::string *error, const StackOptions & = {});
  static std::unique_ptr<Stack> create(const dpdk::NodeConfig &, const char *argv0,
                                       std::string *error, const StackOptions & = {});
  // Ends every connection that has a Handler with on_closed(stack_destroyed)
  // and destroys its handler, then stops the port (a TAP's netdev goes
  // away), frees every connection without sending anything, cleans the EAL
  // up (if it started it). Call it on the thread that ran run() (or
  // poll_once()), after run() returned.
  ~Stack();
  Stack(const Stack &) = delete;
  Stack &operator=(const Stack &) = delete;

  unsigned shard_count() const { return static_cast<unsigned>(shards_.size()); }
  const dpdk::NodeConfig &config() const { return cfg_; }
  wire::Ipv4Addr address() const { return cfg_.ipv4.address; }
  // "port 0 net_tap0 ... offloads ..." (dpdk::Port::summary) and shard layout.
  std::string summary() const;
  // The port's MAC address (a ring device has none of its own: the stack
  // gave it a random locally administered one).
  wire::MacAddr mac() const;
  std::string telemetry_socket() const;
  // What an app's "ready" line states about the stack:
  // "mac=.. ipv4=.. shards=N idle=spin|sleep-Nus telemetry=..". idle=spin
  // means each shard's lcore polls without pause and shows 100 % CPU while
  // idle ([shard] idle_sleep_us = 0).
  std::string ready_fields() const;

  // Passive open on every shard. `factory` is called on the shard that
  // accepted the connection (so it must be safe to call from several
  // shards at once when there are several); the handler it returns is the
  // stack's (nullptr refuses the connection with RST). Before run(), or from a thread
  // that is no shard's while running: applied on every shard and the
  // outcome returned (address_in_use if the port is taken on any shard,
  // bad_address for port 0). From a shard's loop while running: applied
  // on that shard (its outcome returned) and posted to the others.
  ListenResult listen(uint16_t port, HandlerFactory factory, const OpenOptions &options = {});

  // Active open from shard `shard`; must be called on that shard (a
  // callback, or a post()ed closure) or before run(). The connection, or
  // the cause (OpenError) when none was opened. The outcome of the
  // handshake arrives as on_connected or on_closed(refused / timed_out /
  // unreachable). The stack owns `handler` from here on; when nothing was
  // opened it is destroyed at once, without any callback.
  ConnectResult connect(wire::Ipv4Addr remote, uint16_t remote_port,
                        std::unique_ptr<Handler> handler, unsigned shard,
                        const OpenOptions &options = {});
  // connect() for a layer built on the engine's own types (the POSIX
  // facade): the same port choice and checks, a tcp::ConnectionHandler
  // that stays the caller's (none of the above ownership applies), and
  // nullptr with the cause in *error when nothing was opened.
  tcp::Connection *connect_engine(wire::Ipv4Addr remote, uint16_t remote_port,
                                  tcp::ConnectionHandler *handler, unsigned shard,
                                  const OpenOptions &options, OpenError *error);

  // A UDP socket on shard `shard` bound to `port` (0: a free ephemeral
  // port); must be called on that shard (a callback, or a post()ed closure)
  // or before run(). nullptr when the port is taken on that shard, or when
  // called from elsewhere. Use it from that shard only; close() frees it.
  UdpSocket *udp_open(uint16_t port, unsigned shard);
  // An unconnected UDP socket on `port` on every shard, each handing the
  // datagrams it receives to `on_receive` on its own shard (so it must be
  // safe to call from several shards at once). Before run(): applied at
  // once (false if the port is taken on a shard); while running: posted to
  // every shard.
  bool udp_bind(uint16_t port, UdpReceiveFn on_receive);

  // Thread-safe: runs `fn` on shard `shard` at the top of its next loop
  // iteration. false if the shard's command ring is full.
  bool post(unsigned shard, std::function<void()> fn);

  // Runs shard 0 on the calling (main) lcore and the others on the worker
  // lcores until stop(); returns 0.
  int run();
  // Async-signal-safe: asks every shard loop to return.
  void stop() { stop_.store(true, std::memory_order_relaxed); }
  bool stopping() const { return stop_.load(std::memory_order_relaxed); }
  // One loop iteration of every shard from the calling thread (tests,
  // apps that drive the stack themselves). Returns frames received.
  unsigned poll_once();
  // Runs `fn` in shard `shard`'s context on the calling thread (its clock
  // and current shard: connect() works), then sends what it wrote (the
  // engine's output and one tx flush), without receiving or running
  // timers. For a caller that drives the stack (poll_once) and has
  // exclusive use of it.
  void run_here(unsigned shard, const std::function<void()> &fn);

  // The shard whose loop is running on this thread, or -1.
  static int current_shard();

  // Called on shard 0 every [shard] status_interval_s (after the stack's
  // own status line); for an app's progress line.
  void set_status_hook(std::function<void()> fn) { status_hook_ = std::move(fn); }

  // Counters (thread-safe reads).
  const shard::ShardCounters &counters(unsigned shard) const;
  const shard::TcpStats &tcp_stats(unsigned shard) const;
  // Connections in `s` summed over the shards (TIME_WAIT: records).
  uint64_t connections_in(State s) const;
  // Memory the stack holds (mbufs in use, connection pools, tables,
  // TIME_WAIT records), summed over the shards / for one shard (whose
  // mbuf fields are the shared pool's). Thread-safe; refreshed by each
  // shard every millisecond.
  shard::MemoryStats memory() const;
  shard::MemoryStats memory(unsigned shard) const;
  // {"shoal_stats":{"shard0":{...},...}} on one line: this stack's shards.
  // While run() runs, any thread (the shards' last published counts); a
  // stack driven by poll_once() brings them up to date first, so call it
  // from the polling thread then.
  std::string stats_json() const;

  // The shard's engine: only from that shard (or before run()).
  tcp::Engine &engine(unsigned shard);

  struct Slot; // one shard's runtime (stack.cpp)

private:
  Stack() = default;
  bool open(const dpdk::NodeConfig &, const char *argv0, const StackOptions &, std::string *error);
  void shard_loop(Slot &);
  void iterate(Slot &, bool polling_all);
  static int lcore_entry(void *slot);
  void print_status() const;

  dpdk::NodeConfig cfg_;
  struct Resources;
  std::unique_ptr<Resources> res_;
  std::vector<std::unique_ptr<Slot>> shards_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> running_{false};
  std::function<void()> status_hook_;
};

// SIGINT and SIGTERM call stack.stop() (one stack per process).
void stop_on_signals(Stack &);

} // namespace shoal::api
