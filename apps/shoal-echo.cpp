// shoal-echo <config.ini> [port]
//
// A TCP and UDP echo server on shoal (default port 7, RFC 862): every byte a
// TCP client sends comes back, in order; when the client half-closes, the
// rest is echoed and then the connection is closed. Every UDP datagram to
// the same port goes back to its sender whole (fragmented when it exceeds
// the MTU), on every shard.
//
// The receive side is zero-copy: the bytes are read where they arrived (spans
// over the receive mbufs) and copied once, straight into the send ring's
// reserved space; nothing is buffered in between. When the send ring is
// full, reading stops (the receive window closes, the client slows down)
// until on_writable.
//
// stdout: the "ready" line, the stats JSON line at exit.
// stderr: the stack's status line and ours every [shard] status_interval_s.
#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>

#include "api/stack.hpp"
#include "app_util.hpp"

namespace {

using shoal::api::CloseReason;
using shoal::api::Connection;

std::atomic<uint64_t> g_accepted{0}, g_closed{0}, g_echoed{0}, g_udp_echoed{0};

// One per connection; the stack owns it and destroys it after on_closed.
class EchoHandler final : public shoal::api::Handler {
public:
  void on_connected(Connection c) override { pump(c); }
  void on_readable(Connection c) override { pump(c); }
  void on_writable(Connection c) override { pump(c); }
  void on_peer_closed(Connection c) override { pump(c); }
  void on_closed(Connection, CloseReason) override {
    g_closed.fetch_add(1, std::memory_order_relaxed);
  }

private:
  // Moves readable bytes into the send ring until one of them runs out.
  void pump(Connection c) {
    if (closing_)
      return;
    size_t moved = 0;
    while (c.readable() > 0) {
      const std::span<const uint8_t> in = c.peek();
      const std::span<uint8_t> out = c.reserve(in.size());
      if (out.empty())
        break; // send ring full: on_writable brings us back
      std::memcpy(out.data(), in.data(), out.size());
      c.commit(out.size());
      c.consume(out.size());
      moved += out.size();
    }
    g_echoed.fetch_add(moved, std::memory_order_relaxed);
    // End of the client's stream and all of it echoed: close our side too.
    if (c.peer_closed() && c.readable() == 0) {
      closing_ = true;
      c.close();
    }
  }

  bool closing_ = false;
};

} // namespace

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3 || std::strcmp(argv[1], "-h") == 0 ||
      std::strcmp(argv[1], "--help") == 0) {
    std::fprintf(stderr, "usage: %s <config.ini> [port]\n", argc > 0 ? argv[0] : "shoal-echo");
    return 2;
  }
  uint64_t port = 7;
  if (argc == 3 && !shoal::apps::parse_u64(argv[2], 1, 65535, &port)) {
    std::fprintf(stderr, "shoal-echo: \"%s\" is not a port number 1..65535\n", argv[2]);
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string error;
  auto stack = shoal::api::Stack::create(argv[1], argv[0], &error);
  if (!stack) {
    std::fprintf(stderr, "shoal-echo: %s\n", error.c_str());
    return error.rfind(argv[1], 0) == 0 ? 1 : 3;
  }
  stack->listen(static_cast<uint16_t>(port), [](Connection) {
    g_accepted.fetch_add(1, std::memory_order_relaxed);
    return std::make_unique<EchoHandler>();
  });
  if (!stack->udp_bind(static_cast<uint16_t>(port),
                       [](shoal::api::UdpSocket &u, const shoal::api::UdpDatagram &d) {
                         if (u.send_to(d.remote, d.remote_port, d.payload) == 0)
                           g_udp_echoed.fetch_add(1, std::memory_order_relaxed);
                       })) {
    std::fprintf(stderr, "shoal-echo: UDP port %lu is taken\n", static_cast<unsigned long>(port));
    return 3;
  }
  stack->set_status_hook([] {
    std::fprintf(
        stderr, "shoal-echo: accepted %lu closed %lu echoed %lu bytes, %lu UDP datagrams\n",
        static_cast<unsigned long>(g_accepted.load()), static_cast<unsigned long>(g_closed.load()),
        static_cast<unsigned long>(g_echoed.load()),
        static_cast<unsigned long>(g_udp_echoed.load()));
  });
  shoal::api::stop_on_signals(*stack);
  std::fprintf(stderr, "shoal-echo: %s\n", stack->summary().c_str());
  std::printf("shoal-echo: ready port=%lu %s\n", static_cast<unsigned long>(port),
              stack->ready_fields().c_str());
  stack->run();
  std::printf("%s\n", stack->stats_json().c_str());
  return 0; // the stack ends the connections still open and destroys their handlers
}
