#pragma once
// Two engines, A and B, joined by two impaired links (A->B and B->A) and
// driven by one virtual clock. The event loop jumps the clock to the earliest
// of: the next datagram arrival on either link, and either engine's
// next_timer(); it delivers (Engine::input_ipv4) or advances (Engine::advance)
// there. Nothing reads a real clock and every random choice comes from the
// seed, so the same seed gives the same trace, byte for byte.
//
//   SimConfig cfg;  cfg.seed = 7;  cfg.pool_a = pool;
//   cfg.a_to_b.loss = 0.1;
//   Simulation sim(cfg);
//   sim.b().listen(80, factory);
//   auto *c = sim.a().connect(sim.address_b(), 80, &handler);
//   sim.run_until([&] { return handler.connected; }, sim.now() + 10s);
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <rte_mempool.h>

#include "common/time.hpp"
#include "sim/link.hpp"
#include "sim/trace.hpp"
#include "sim/virtual_clock.hpp"
#include "tcp/engine.hpp"
#include "wire/addr.hpp"

namespace shoal::sim {

// The benchmarking range (RFC 2544) the simulator's hosts live in.
inline constexpr wire::Ipv4Addr kAddressA = wire::Ipv4Addr::from_octets(198, 18, 0, 1);
inline constexpr wire::Ipv4Addr kAddressB = wire::Ipv4Addr::from_octets(198, 18, 0, 2);

struct SimConfig {
  uint64_t seed = 1;
  // local_address defaults to kAddressA / kAddressB; secret_seed (ISNs) to
  // one derived from `seed`, so ISNs are part of the deterministic run.
  tcp::EngineConfig a{}, b{};
  LinkConfig a_to_b{}, b_to_a{};
  rte_mempool *pool_a = nullptr; // required
  rte_mempool *pool_b = nullptr; // defaults to pool_a
  Instant start{};
  bool trace = true; // record every datagram (off: counters only)
};

// The seed-derived values of one run (splitmix64 of the seed), exposed so a
// test can build the same streams.
uint64_t derive_seed(uint64_t seed, uint64_t stream);

class Simulation {
public:
  explicit Simulation(const SimConfig &config);
  // Destroys both engines (they free their connections silently), then the
  // links (freeing what is in flight).
  ~Simulation();
  Simulation(const Simulation &) = delete;
  Simulation &operator=(const Simulation &) = delete;

  tcp::Engine &a() { return *engine_a_; }
  tcp::Engine &b() { return *engine_b_; }
  wire::Ipv4Addr address_a() const { return address_a_; }
  wire::Ipv4Addr address_b() const { return address_b_; }
  Link &link_a_to_b() { return *link_ab_; }
  Link &link_b_to_a() { return *link_ba_; }
  Instant now() const { return clock_.now(); }
  Instant start() const { return clock_.start(); }
  uint64_t seed() const { return seed_; }

  // When the next event is due (arrival or timer); nullopt when idle.
  std::optional<Instant> next_event() const;
  // Handles the events of the earliest instant if it is <= deadline; returns
  // false (and does nothing) otherwise.
  bool step(Instant deadline);
  // Runs every event up to and including `t`; the clock ends at t.
  void run_until(Instant t);
  // Runs until pred() holds (checked before the first event and after each
  // one; the clock stays at that event) or the deadline passes (clock ends
  // at the deadline). Returns pred()'s last value.
  bool run_until(const std::function<bool()> &pred, Instant deadline);
  // Runs until nothing is in flight and no timer is armed on either engine
  // (true), or the deadline passes (false; clock ends at the deadline).
  bool run_until_idle(Instant deadline);
  // run_until(now() + d).
  void run_for(Duration d) { run_until(now() + d); }

  // Application work at a virtual time (a slow reader's next read, a
  // scripted abort): `fn` runs at `t` (a past `t` means the next step), after
  // that instant's arrivals and timers, and after both engines were advanced
  // to `t`, so whatever it sends carries the right clock -- the order of a
  // shard's poll loop (rx, timers, application). Same-time events run in the
  // order they were scheduled. A pending event keeps the simulation busy
  // (run_until_idle waits for it).
  void at(Instant t, std::function<void()> fn);
  void after(Duration d, std::function<void()> fn) { at(now() + d, std::move(fn)); }
  size_t pending_app_events() const { return app_events_.size(); }

  // A free-text line in the trace at the current time ("A: connect()").
  void note(std::string text) { trace_.note(now(), std::move(text)); }
  const Trace &trace() const { return trace_; }
  std::string trace_text() const { return trace_.format(); }
  bool write_pcapng(const std::string &path) const;

  // Events handled so far (arrivals + timer advances), for progress checks.
  uint64_t events() const { return events_; }
  // Times an engine's next_timer() did not move after advance() at that
  // instant; the loop then nudges time forward (see step()). Should be 0.
  uint64_t stalled_timers() const { return stalled_timers_; }

private:
  class LinkOutput;
  struct EngineTimer {
    std::optional<Instant> last_advance;
    Duration nudge{1us};
  };
  std::optional<Instant> timer_due(const tcp::Engine &e, const EngineTimer &t) const;
  void advance_engine(tcp::Engine &e, EngineTimer &t, Instant now);
  void run_app_events(Instant now);

  uint64_t seed_;
  wire::Ipv4Addr address_a_, address_b_;
  VirtualClock clock_;
  Trace trace_;
  std::unique_ptr<Link> link_ab_, link_ba_;
  std::unique_ptr<LinkOutput> out_a_, out_b_;
  std::unique_ptr<tcp::Engine> engine_a_, engine_b_;
  EngineTimer timer_a_, timer_b_;
  std::map<std::pair<Instant, uint64_t>, std::function<void()>> app_events_;
  uint64_t next_app_order_ = 0;
  uint64_t events_ = 0;
  uint64_t stalled_timers_ = 0;
};

} // namespace shoal::sim
