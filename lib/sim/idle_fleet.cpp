#include "sim/idle_fleet.hpp"

namespace shoal::sim {

IdleFleet::IdleFleet(Simulation &sim, uint16_t first_port, unsigned ports)
    : sim_(sim), first_port_(first_port), ports_(ports == 0 ? 1 : ports) {
  server_.server = true;
  for (unsigned i = 0; i < ports_; ++i)
    sim_.b().listen(static_cast<uint16_t>(first_port_ + i),
                    [this](tcp::Connection &) -> tcp::ConnectionHandler * { return &server_; });
}

IdleFleet::~IdleFleet() {
  for (unsigned i = 0; i < ports_; ++i)
    sim_.b().unlisten(static_cast<uint16_t>(first_port_ + i));
}

size_t IdleFleet::open(size_t n, size_t wave, Duration wave_timeout) {
  const size_t start = client_.connected;
  size_t started = 0;
  while (started < n) {
    const size_t this_wave = std::min(wave, n - started);
    const size_t target_a = client_.connected + this_wave;
    const size_t target_b = server_.connected + this_wave;
    size_t launched = 0;
    for (; launched < this_wave; ++launched) {
      // Spread over the listening ports: each has its own ephemeral range.
      const auto port = static_cast<uint16_t>(first_port_ + next_port_);
      next_port_ = (next_port_ + 1) % ports_;
      tcp::Connection *c = sim_.a().connect(sim_.address_b(), port, &client_);
      if (c == nullptr) {
        ++refused_starts_;
        break;
      }
      open_.push_back(c);
    }
    started += launched;
    const size_t want_a = target_a - (this_wave - launched);
    const size_t want_b = target_b - (this_wave - launched);
    sim_.run_until([&] { return client_.connected >= want_a && server_.connected >= want_b; },
                   sim_.now() + wave_timeout);
    if (launched < this_wave)
      break;
  }
  return client_.connected - start;
}

bool IdleFleet::close_all(size_t wave, Duration wave_timeout) {
  client_.closing = true;
  size_t want = client_.closed; // closes seen on A (on B: server_.closed)
  size_t want_b = server_.closed;
  // In waves, like open(): a wave's FINs and ACKs are the only datagrams
  // (and mbufs) in flight at once.
  for (size_t i = 0; i < open_.size();) {
    const size_t end = std::min(open_.size(), i + wave);
    for (; i < end; ++i) {
      if (client_.ended_early.contains(open_[i]))
        continue;
      open_[i]->close();
      ++want;
      ++want_b;
    }
    if (!sim_.run_until([&] { return client_.closed >= want && server_.closed >= want_b; },
                        sim_.now() + wave_timeout))
      return false;
  }
  open_.clear();
  client_.ended_early.clear();
  return true;
}

} // namespace shoal::sim
