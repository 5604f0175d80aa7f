#pragma once
// The in-process target's application: the request/response server of the
// macro benchmarks' echo mode (kernel_bench server --mode echo, which the
// kernel target runs): read `request` bytes, answer `response` bytes, close
// when the client closes. The stack owns the handlers; they refer to the
// EchoServer, which must outlive the stack.
#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "api/stack.hpp"

namespace shoal::synflood {

class EchoServer {
public:
  EchoServer(uint32_t request, uint32_t response) : request_(request), response_(response) {}
  EchoServer(const EchoServer &) = delete;
  EchoServer &operator=(const EchoServer &) = delete;

  // The listener's factory.
  std::unique_ptr<api::Handler> accept() { return std::make_unique<Handler>(*this); }

private:
  class Handler final : public api::Handler {
  public:
    explicit Handler(EchoServer &s) : s_(s) {}
    void on_readable(api::Connection c) override {
      const size_t n = c.readable();
      c.consume(n);
      got_ += n;
      if (!responding_ && got_ >= s_.request_) {
        got_ -= s_.request_;
        responding_ = true;
        sent_ = 0;
      }
      send(c);
    }
    void on_writable(api::Connection c) override { send(c); }
    void on_peer_closed(api::Connection c) override { c.close(); }

  private:
    void send(api::Connection c) {
      static const std::array<uint8_t, 1024> kZeros{};
      while (responding_ && sent_ < s_.response_) {
        const uint32_t chunk = std::min<uint32_t>(s_.response_ - sent_, uint32_t(kZeros.size()));
        const size_t n = c.write(std::span<const uint8_t>(kZeros.data(), chunk));
        if (n == 0)
          return;
        sent_ += uint32_t(n);
      }
      responding_ = false;
    }
    EchoServer &s_;
    uint64_t got_ = 0;
    uint32_t sent_ = 0;
    bool responding_ = false;
  };

  uint32_t request_, response_;
};

} // namespace shoal::synflood
