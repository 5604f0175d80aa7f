#pragma once
// IdleFleet: many idle connections from engine A to engine B of a
// Simulation, opened in waves (so only a wave's handshakes hold mbufs at
// once) and closed again with A closing first, so that A ends up holding the
// TIME_WAIT records. For the memory benchmark (bytes per idle connection and
// per TIME_WAIT record at 100k and 1M) and the exhaustion test (1M idle
// connections, then recovery).
//
// B listens on `ports` consecutive ports from `first_port`: one client
// address has EngineConfig's ephemeral range (28k ports by default) per
// remote (address, port), so 1M connections need at least 36 of them.
#include <cstddef>
#include <cstdint>
#include <unordered_set>
#include <vector>

#include "sim/simulation.hpp"
#include "tcp/connection.hpp"

namespace shoal::sim {

class IdleFleet {
public:
  IdleFleet(Simulation &sim, uint16_t first_port, unsigned ports);
  ~IdleFleet();
  IdleFleet(const IdleFleet &) = delete;
  IdleFleet &operator=(const IdleFleet &) = delete;

  // Opens up to `n` more connections, `wave` at a time, each wave run until
  // its handshakes are done (or `wave_timeout` of virtual time). Returns how
  // many of them reached ESTABLISHED on both sides. Stops early when A
  // cannot start a connection (no port or slot: counted in refused_starts).
  size_t open(size_t n, size_t wave = 4096, Duration wave_timeout = std::chrono::seconds(10));

  // A closes every connection, `wave` at a time; B closes when it sees the
  // FIN. Each wave runs until its connections reported on_closed on both
  // sides; false if one takes longer than `wave_timeout`. TIME_WAIT records
  // stay on A until 2 MSL passes.
  bool close_all(size_t wave = 4096, Duration wave_timeout = std::chrono::seconds(10));

  size_t established() const { return client_.connected; } // both sides ESTABLISHED
  size_t accepted() const { return server_.connected; }
  size_t closed_a() const { return client_.closed; }
  size_t closed_b() const { return server_.closed; }
  size_t abnormal_closes() const { return client_.abnormal + server_.abnormal; }
  size_t refused_starts() const { return refused_starts_; }

private:
  struct Side : tcp::ConnectionHandler {
    bool server = false;
    bool closing = false; // close_all() has started
    size_t connected = 0, closed = 0, abnormal = 0;
    std::unordered_set<tcp::Connection *> ended_early; // A: closed before close_all()
    void on_connected(tcp::Connection &) override { ++connected; }
    void on_peer_closed(tcp::Connection &c) override {
      if (server)
        c.close();
    }
    void on_closed(tcp::Connection &c, tcp::CloseReason r) override {
      ++closed;
      if (!server && !closing)
        ended_early.insert(&c);
      if (r != tcp::CloseReason::normal)
        ++abnormal;
    }
  };

  Simulation &sim_;
  uint16_t first_port_;
  unsigned ports_;
  unsigned next_port_ = 0;
  Side client_, server_;
  std::vector<tcp::Connection *> open_; // A's side, in opening order
  size_t refused_starts_ = 0;
};

} // namespace shoal::sim
