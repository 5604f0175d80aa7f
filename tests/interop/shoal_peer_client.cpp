// shoal-peer-client: shoal as a TCP client of a kernel server, for the
// kernel-peer tests (tcp_interop.py).
//
//   shoal-peer-client <config.ini> --remote IP --port P --mode MODE
//                     [--send N] [--recv N] [--conns K] [--timeout S]
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
// Exit 0 once every connection closed (whatever the result; the test judges),
// 4 on --timeout. The timeout is kept by a thread of its own, not by the
// shard loop: it asks the stack to stop at the deadline and, should the loop
// not come back within kStopGrace (a shard stuck inside one iteration), it
// prints the counters and ends the process with 5.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <sodium.h>

#include "api/stack.hpp"

namespace {

using shoal::api::CloseReason;
using shoal::api::Connection;

enum class Mode { close, wait, halfclose, abort, refused };

struct Options {
  std::string config;
  shoal::wire::Ipv4Addr remote;
  uint16_t port = 0;
  Mode mode = Mode::close;
  uint64_t send = 0, recv = 0;
  unsigned conns = 1;
  unsigned timeout_s = 60;
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

std::atomic<unsigned> g_done{0};

class ClientHandler final : public shoal::api::ConnectionHandler {
public:
  ClientHandler(const Options &o, unsigned index, unsigned shard)
      : o_(o), index_(index), shard_(shard), rng_(0x9E3779B97F4A7C15ull * (index + 1)) {
    crypto_hash_sha256_init(&sent_sha_);
    crypto_hash_sha256_init(&recv_sha_);
  }

  void on_connected(Connection &c) override {
    c.set_nodelay(true);
    progress(c);
  }
  void on_writable(Connection &c) override { progress(c); }
  void on_readable(Connection &c) override {
    c.for_each_readable([&](std::span<const uint8_t> s) {
      crypto_hash_sha256_update(&recv_sha_, s.data(), s.size());
      received_ += s.size();
    });
    c.consume(c.readable());
    progress(c);
  }
  void on_peer_closed(Connection &c) override {
    peer_fin_ = true;
    progress(c);
  }
  void on_closed(Connection &, CloseReason why) override {
    unsigned char sent[crypto_hash_sha256_BYTES], recv[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&sent_sha_, sent);
    crypto_hash_sha256_final(&recv_sha_, recv);
    std::printf("conn=%u shard=%u result=%s sent=%lu sent_sha256=%s recv=%lu recv_sha256=%s\n",
                index_, shard_, shoal::tcp::to_string(why), static_cast<unsigned long>(sent_),
                hex(sent, sizeof sent).c_str(), static_cast<unsigned long>(received_),
                hex(recv, sizeof recv).c_str());
    std::fflush(stdout);
    g_done.fetch_add(1);
    finished_ = true;
  }
  bool finished() const { return finished_; }

private:
  void progress(Connection &c) {
    if (acted_)
      return;
    // Fill the send ring with the stream.
    while (sent_ < o_.send) {
      const std::span<uint8_t> out =
          c.reserve(static_cast<size_t>(std::min<uint64_t>(o_.send - sent_, 65536)));
      if (out.empty())
        break;
      for (uint8_t &b : out)
        b = next_byte();
      crypto_hash_sha256_update(&sent_sha_, out.data(), out.size());
      c.commit(out.size());
      sent_ += out.size();
    }
    const bool all_queued = sent_ == o_.send;
    switch (o_.mode) {
    case Mode::close:
      if (all_queued && received_ >= o_.recv)
        act(c, [&] { c.close(); });
      break;
    case Mode::wait:
      if (all_queued && received_ >= o_.recv && peer_fin_)
        act(c, [&] { c.close(); });
      break;
    case Mode::halfclose:
      if (all_queued && !shut_) {
        shut_ = true;
        c.shutdown_write();
      }
      if (shut_ && peer_fin_)
        act(c, [&] { c.close(); });
      break;
    case Mode::abort:
      if (all_queued && c.send_queued() == 0)
        act(c, [&] { c.abort(); });
      break;
    case Mode::refused:
      act(c, [&] { c.close(); });
      break;
    }
  }
  template <typename F> void act(Connection &, F &&f) {
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

  const Options &o_;
  unsigned index_, shard_;
  uint64_t rng_, word_ = 0;
  unsigned bits_ = 0;
  uint64_t sent_ = 0, received_ = 0;
  bool peer_fin_ = false, shut_ = false, acted_ = false, finished_ = false;
  crypto_hash_sha256_state sent_sha_, recv_sha_;
};

int usage(const char *argv0) {
  std::fprintf(stderr,
               "usage: %s <config.ini> --remote IP --port P --mode close|wait|halfclose|abort|"
               "refused [--send N] [--recv N] [--conns K] [--timeout S]\n",
               argv0);
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2 || sodium_init() < 0)
    return usage(argv[0]);
  Options o;
  o.config = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--remote") {
      auto a = shoal::wire::Ipv4Addr::parse(v);
      if (!a)
        return usage(argv[0]);
      o.remote = *a;
    } else if (k == "--port") {
      o.port = static_cast<uint16_t>(std::stoul(v));
    } else if (k == "--mode") {
      if (v == "close")
        o.mode = Mode::close;
      else if (v == "wait")
        o.mode = Mode::wait;
      else if (v == "halfclose")
        o.mode = Mode::halfclose;
      else if (v == "abort")
        o.mode = Mode::abort;
      else if (v == "refused")
        o.mode = Mode::refused;
      else
        return usage(argv[0]);
    } else if (k == "--send") {
      o.send = std::stoull(v);
    } else if (k == "--recv") {
      o.recv = std::stoull(v);
    } else if (k == "--conns") {
      o.conns = static_cast<unsigned>(std::stoul(v));
    } else if (k == "--timeout") {
      o.timeout_s = static_cast<unsigned>(std::stoul(v));
    } else {
      return usage(argv[0]);
    }
  }
  if (o.port == 0 || o.conns == 0)
    return usage(argv[0]);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  std::string error;
  auto stack = shoal::api::Stack::create(o.config, argv[0], &error);
  if (!stack) {
    std::fprintf(stderr, "shoal-peer-client: %s\n", error.c_str());
    return 3;
  }
  shoal::api::stop_on_signals(*stack);
  std::fprintf(stderr, "shoal-peer-client: %s\n", stack->summary().c_str());
  std::printf("shoal-peer-client: ready shards=%u telemetry=%s\n", stack->shard_count(),
              stack->telemetry_socket().c_str());

  std::vector<std::unique_ptr<ClientHandler>> handlers;
  for (unsigned i = 0; i < o.conns; i++) {
    const unsigned shard = i % stack->shard_count();
    handlers.push_back(std::make_unique<ClientHandler>(o, i, shard));
  }
  std::atomic<unsigned> failed_connects{0};
  shoal::api::Stack *s = stack.get();
  for (unsigned i = 0; i < o.conns; i++) {
    ClientHandler *h = handlers[i].get();
    const unsigned shard = i % stack->shard_count();
    s->post(shard, [s, h, shard, &o, i, &failed_connects] {
      if (s->connect(o.remote, o.port, h, shard) == nullptr) {
        std::printf("conn=%u shard=%u result=no_port\n", i, shard);
        failed_connects.fetch_add(1);
        g_done.fetch_add(1);
      }
    });
  }
  // A watcher on shard 0 stops the stack once every connection reported.
  std::function<void()> watch = [&] {
    if (g_done.load() >= o.conns) {
      s->stop();
      return;
    }
    if (!s->stopping() && !s->post(0, watch))
      std::fprintf(stderr, "shoal-peer-client: watcher lost (command ring full)\n");
  };
  s->post(0, watch);
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
  std::printf("%s\n", stack->stats_json().c_str());
  stack.reset(); // frees connections still open (timeout) before their handlers
  if (timed_out.load()) {
    std::fprintf(stderr, "shoal-peer-client: timed out with %u of %u connections closed\n",
                 g_done.load(), o.conns);
    return 4;
  }
  return 0;
}
