// shoal-peer-client: shoal as a TCP client of a kernel server, and
// optionally an echo server at the same time, for the kernel-peer tests
// (tcp_interop.py, soak.py).
//
//   shoal-peer-client <config.ini> [--remote IP] [--port P] [--mode MODE]
//                     [--send N] [--recv N] [--conns K] [--timeout S]
//                     [--listen PORT] [--commands]
//
// Modes (per connection; K connections are spread over the shards, each
// opened by its shard through Stack::post + Stack::connect):
//   close      send N bytes, read until N_recv bytes came, then close()
//              (shoal sends the first FIN)
//   wait       send N, read N_recv, wait for the server's FIN, then close()
//   halfclose  send N then shutdown_write() at once; keep reading until the
//              server's FIN (it is expected to send N_recv after our FIN)
//   abort      send N, wait until all of it is acknowledged, then abort()
//              (RST: the server sees ECONNRESET)
//   refused    connect only (to a closed port): expects on_closed(refused)
//
// The bytes sent are a deterministic pseudo-random stream per connection;
// SHA-256 of what was sent and what was received are printed, one line per
// connection, when it closes:
//   conn=0 shard=1 result=normal sent=16777216 sent_sha256=... recv=... recv_sha256=...
//
// --listen PORT: an echo server on every shard as well (what shoal-echo
// does: every byte comes back; after the client's FIN the rest is echoed and
// the connection closed), so that one process both accepts and opens
// connections on all its shards.
//
// --commands: connections are also opened on request, one line on stdin each:
//   connect ID SHARD MODE PORT SEND RECV    (to --remote; result line conn=ID ...)
//   quit                                    (stop, like SIGTERM)
// With --listen or --commands the process serves until SIGTERM (or quit);
// otherwise it exits 0 once the K connections have closed (whatever the
// result; the test judges).
//
// --timeout bounds the whole run (default 60 s): exit 4. The timeout is kept
// by a thread of its own, not by the shard loop: it asks the stack to stop at
// the deadline and, should the loop not come back within kStopGrace (a shard
// stuck inside one iteration), it prints the counters and ends the process
// with 5.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <sodium.h>

#include "../../apps/app_util.hpp"
#include "api/stack.hpp"

namespace {

using shoal::api::CloseReason;
using shoal::api::Connection;

enum class Mode { close, wait, halfclose, abort, refused };

bool parse_mode(const std::string &v, Mode *m) {
  static const std::pair<const char *, Mode> names[] = {{"close", Mode::close},
                                                        {"wait", Mode::wait},
                                                        {"halfclose", Mode::halfclose},
                                                        {"abort", Mode::abort},
                                                        {"refused", Mode::refused}};
  for (const auto &[name, mode] : names)
    if (v == name) {
      *m = mode;
      return true;
    }
  return false;
}

// What one active connection does.
struct ConnSpec {
  Mode mode = Mode::close;
  uint64_t send = 0, recv = 0;
};

struct Options {
  std::string config;
  shoal::wire::Ipv4Addr remote;
  uint16_t port = 0;
  ConnSpec spec;
  unsigned conns = 1;
  unsigned timeout_s = 60;
  uint16_t listen = 0;
  bool commands = false;
  bool serve() const { return listen != 0 || commands; }
};

std::string hex(const unsigned char *d, size_t n) {
  static const char *digits = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; i++) {
    s += digits[d[i] >> 4];
    s += digits[d[i] & 15];
  }
  return s;
}

// Connections (both kinds) whose on_closed came: the initial K stop the
// process when it does not serve.
std::atomic<unsigned> g_done{0};

// The stack owns every handler: it destroys it after on_closed, also for
// the connections still open when it goes (CloseReason::stack_destroyed).
class ClientHandler final : public shoal::api::Handler {
public:
  ClientHandler(const ConnSpec &spec, uint64_t id, unsigned shard)
      : spec_(spec), id_(id), shard_(shard), rng_(0x9E3779B97F4A7C15ull * (id + 1)) {
    crypto_hash_sha256_init(&sent_sha_);
    crypto_hash_sha256_init(&recv_sha_);
  }

  void on_connected(Connection c) override {
    c.set_nodelay(true);
    progress(c);
  }
  void on_writable(Connection c) override { progress(c); }
  void on_readable(Connection c) override {
    c.for_each_readable([&](std::span<const uint8_t> s) {
      crypto_hash_sha256_update(&recv_sha_, s.data(), s.size());
      received_ += s.size();
    });
    c.consume(c.readable());
    progress(c);
  }
  void on_peer_closed(Connection c) override {
    peer_fin_ = true;
    progress(c);
  }
  void on_closed(Connection, CloseReason why) override {
    if (why == CloseReason::stack_destroyed)
      return; // still open when the process ends (timeout): no result line
    report(shoal::tcp::to_string(why));
    g_done.fetch_add(1);
  }
  void report(const char *result) {
    unsigned char sent[crypto_hash_sha256_BYTES], recv[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&sent_sha_, sent);
    crypto_hash_sha256_final(&recv_sha_, recv);
    std::printf("conn=%lu shard=%u result=%s sent=%lu sent_sha256=%s recv=%lu recv_sha256=%s\n",
                static_cast<unsigned long>(id_), shard_, result, static_cast<unsigned long>(sent_),
                hex(sent, sizeof sent).c_str(), static_cast<unsigned long>(received_),
                hex(recv, sizeof recv).c_str());
  }

private:
  void progress(Connection c) {
    if (acted_)
      return;
    // Fill the send ring with the stream.
    while (sent_ < spec_.send) {
      const std::span<uint8_t> out =
          c.reserve(static_cast<size_t>(std::min<uint64_t>(spec_.send - sent_, 65536)));
      if (out.empty())
        break;
      for (uint8_t &b : out)
        b = next_byte();
      crypto_hash_sha256_update(&sent_sha_, out.data(), out.size());
      c.commit(out.size());
      sent_ += out.size();
    }
    const bool all_queued = sent_ == spec_.send;
    switch (spec_.mode) {
    case Mode::close:
      if (all_queued && received_ >= spec_.recv)
        act([&] { c.close(); });
      break;
    case Mode::wait:
      if (all_queued && received_ >= spec_.recv && peer_fin_)
        act([&] { c.close(); });
      break;
    case Mode::halfclose:
      if (all_queued && !shut_) {
        shut_ = true;
        c.shutdown_write();
      }
      if (shut_ && peer_fin_)
        act([&] { c.close(); });
      break;
    case Mode::abort:
      if (all_queued && c.send_queued() == 0)
        act([&] { c.abort(); });
      break;
    case Mode::refused:
      act([&] { c.close(); });
      break;
    }
  }
  template <typename F> void act(F &&f) {
    acted_ = true;
    f();
  }
  uint8_t next_byte() {
    if (bits_ == 0) {
      rng_ ^= rng_ << 13;
      rng_ ^= rng_ >> 7;
      rng_ ^= rng_ << 17;
      word_ = rng_;
      bits_ = 8;
    }
    const uint8_t b = static_cast<uint8_t>(word_);
    word_ >>= 8;
    bits_--;
    return b;
  }

  ConnSpec spec_;
  uint64_t id_;
  unsigned shard_;
  uint64_t rng_, word_ = 0;
  unsigned bits_ = 0;
  uint64_t sent_ = 0, received_ = 0;
  bool peer_fin_ = false, shut_ = false, acted_ = false;
  crypto_hash_sha256_state sent_sha_, recv_sha_;
};

// The --listen side: shoal-echo's handler (apps/shoal-echo.cpp).
class EchoHandler final : public shoal::api::Handler {
public:
  void on_connected(Connection c) override { pump(c); }
  void on_readable(Connection c) override { pump(c); }
  void on_writable(Connection c) override { pump(c); }
  void on_peer_closed(Connection c) override { pump(c); }

private:
  void pump(Connection c) {
    if (closing_)
      return;
    while (c.readable() > 0) {
      const std::span<const uint8_t> in = c.peek();
      const std::span<uint8_t> out = c.reserve(in.size());
      if (out.empty())
        break; // send ring full: on_writable brings us back
      std::memcpy(out.data(), in.data(), out.size());
      c.commit(out.size());
      c.consume(out.size());
    }
    if (c.peer_closed() && c.readable() == 0) {
      closing_ = true;
      c.close();
    }
  }

  bool closing_ = false;
};

// Opens connection `id` from `shard` (posted there). False if the shard's
// command ring is full.
bool open_from(shoal::api::Stack *s, unsigned shard, uint64_t id, shoal::wire::Ipv4Addr remote,
               uint16_t port, const ConnSpec &spec) {
  return s->post(shard, [s, shard, id, remote, port, spec] {
    // Nothing opened: the handler is gone already, without a callback.
    if (!s->connect(remote, port, std::make_unique<ClientHandler>(spec, id, shard), shard)) {
      std::printf("conn=%lu shard=%u result=no_port\n", static_cast<unsigned long>(id), shard);
      g_done.fetch_add(1);
    }
  });
}

// The --commands reader. `stack` is cleared (under the mutex) before the
// stack goes away, so a late line finds nothing to post to.
std::mutex g_stack_mutex;
shoal::api::Stack *g_stack = nullptr;

void command_line(const Options &o, const std::string &line) {
  std::istringstream in(line);
  std::string verb;
  in >> verb;
  std::lock_guard lock(g_stack_mutex);
  if (g_stack == nullptr || verb.empty())
    return;
  if (verb == "quit") {
    g_stack->stop();
    return;
  }
  uint64_t id = 0, send = 0, recv = 0;
  unsigned shard = 0, port = 0;
  std::string mode;
  ConnSpec spec;
  if (verb != "connect" || !(in >> id >> shard >> mode >> port >> send >> recv) ||
      !parse_mode(mode, &spec.mode) || shard >= g_stack->shard_count() || port == 0 ||
      port > 65535) {
    std::printf("command error: \"%s\"\n", line.c_str());
    return;
  }
  spec.send = send;
  spec.recv = recv;
  if (!open_from(g_stack, shard, id, o.remote, static_cast<uint16_t>(port), spec))
    std::printf("conn=%lu shard=%u result=post_failed\n", static_cast<unsigned long>(id), shard);
}

int usage(const char *argv0) {
  std::fprintf(stderr,
               "usage: %s <config.ini> [--remote IP] [--port P] "
               "[--mode close|wait|halfclose|abort|refused] [--send N] [--recv N] [--conns K] "
               "[--timeout S] [--listen PORT] [--commands]\n",
               argv0);
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2 || sodium_init() < 0)
    return usage(argv[0]);
  Options o;
  o.config = argv[1];
  bool conns_given = false;
  for (int i = 2; i < argc; i++) {
    const std::string k = argv[i];
    if (k == "--commands") {
      o.commands = true;
      continue;
    }
    if (i + 1 >= argc)
      return usage(argv[0]);
    const std::string v = argv[++i];
    uint64_t n = 0;
    if (k == "--remote") {
      auto a = shoal::wire::Ipv4Addr::parse(v);
      if (!a)
        return usage(argv[0]);
      o.remote = *a;
    } else if (k == "--mode") {
      if (!parse_mode(v, &o.spec.mode))
        return usage(argv[0]);
    } else if (!shoal::apps::parse_u64(v.c_str(), 0, UINT64_MAX, &n)) {
      return usage(argv[0]);
    } else if (k == "--port" && n <= 65535) {
      o.port = static_cast<uint16_t>(n);
    } else if (k == "--listen" && n >= 1 && n <= 65535) {
      o.listen = static_cast<uint16_t>(n);
    } else if (k == "--send") {
      o.spec.send = n;
    } else if (k == "--recv") {
      o.spec.recv = n;
    } else if (k == "--conns" && n <= 1000000) {
      o.conns = static_cast<unsigned>(n);
      conns_given = true;
    } else if (k == "--timeout" && n >= 1 && n <= 86400 * 7) {
      o.timeout_s = static_cast<unsigned>(n);
    } else {
      return usage(argv[0]);
    }
  }
  // Without --port only commands open connections.
  if (o.port == 0 && !conns_given && o.serve())
    o.conns = 0;
  if ((o.conns > 0 && o.port == 0) || (o.conns == 0 && !o.serve()))
    return usage(argv[0]);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  std::string error;
  auto stack = shoal::api::Stack::create(o.config, argv[0], &error);
  if (!stack) {
    std::fprintf(stderr, "shoal-peer-client: %s\n", error.c_str());
    return 3;
  }
  shoal::api::stop_on_signals(*stack);
  shoal::api::Stack *s = stack.get();
  if (o.listen != 0 &&
      !s->listen(o.listen, [](Connection) { return std::make_unique<EchoHandler>(); })) {
    std::fprintf(stderr, "shoal-peer-client: cannot listen on port %u\n", o.listen);
    return 3;
  }
  std::fprintf(stderr, "shoal-peer-client: %s\n", s->summary().c_str());
  std::printf("shoal-peer-client: ready shards=%u listen=%u telemetry=%s\n", s->shard_count(),
              o.listen, s->telemetry_socket().c_str());

  for (unsigned i = 0; i < o.conns; i++) {
    const unsigned shard = i % s->shard_count();
    if (!open_from(s, shard, i, o.remote, o.port, o.spec)) {
      std::printf("conn=%u shard=%u result=post_failed\n", i, shard);
      g_done.fetch_add(1);
    }
  }
  // A watcher on shard 0 stops the stack once every connection reported
  // (not when serving: then SIGTERM or "quit" stops it).
  std::function<void()> watch = [&] {
    if (g_done.load() >= o.conns) {
      s->stop();
      return;
    }
    if (!s->stopping() && !s->post(0, watch))
      std::fprintf(stderr, "shoal-peer-client: watcher lost (command ring full)\n");
  };
  if (!o.serve())
    s->post(0, watch);
  if (o.commands) {
    {
      std::lock_guard lock(g_stack_mutex);
      g_stack = s;
    }
    // Detached: it may sit in a read of stdin when the process ends.
    std::thread([&o] {
      std::string line;
      while (std::getline(std::cin, line))
        command_line(o, line);
    }).detach();
  }
  // The timeout does not depend on the shard loop (nor on traffic): a
  // thread of its own waits for the deadline, then for the loop to return.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(o.timeout_s);
  constexpr auto kStopGrace = std::chrono::seconds(10);
  std::atomic<bool> timed_out{false};
  std::mutex m;
  std::condition_variable cv;
  bool loop_returned = false;
  std::thread timer([&] {
    std::unique_lock lock(m);
    if (cv.wait_until(lock, deadline, [&] { return loop_returned; }))
      return;
    timed_out.store(true);
    s->stop();
    if (cv.wait_for(lock, kStopGrace, [&] { return loop_returned; }))
      return;
    std::fprintf(stderr,
                 "shoal-peer-client: timed out and the shard loop did not stop within %lds "
                 "(%u of %u connections closed); counters:\n%s\n",
                 static_cast<long>(kStopGrace.count()), g_done.load(), o.conns,
                 s->stats_json().c_str());
    std::fflush(stderr);
    _exit(5);
  });
  stack->run();
  {
    std::lock_guard lock(m);
    loop_returned = true;
  }
  cv.notify_all();
  timer.join();
  {
    std::lock_guard lock(g_stack_mutex);
    g_stack = nullptr;
  }
  std::printf("%s\n", stack->stats_json().c_str());
  stack.reset(); // ends connections still open (timeout) and destroys their handlers
  if (timed_out.load()) {
    std::fprintf(stderr, "shoal-peer-client: timed out with %u of %u connections closed\n",
                 g_done.load(), o.conns);
    return 4;
  }
  return 0;
}
