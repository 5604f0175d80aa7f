#include "sim/simulation.hpp"

#include <algorithm>

#include "sim/pcapng.hpp"
#include "tcp/counters.hpp"
#include "tcp/mbuf_offload.hpp"

namespace shoal::sim {

uint64_t derive_seed(uint64_t seed, uint64_t stream) {
  // splitmix64 (Steele, Lea, Flood 2014) over seed and stream: independent,
  // well-mixed streams from one small test seed.
  uint64_t z = seed + 0x9e3779b97f4a7c15ull * (stream + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// An engine's PacketOutput: what it transmits goes onto its outgoing link at
// the simulation's current time.
class Simulation::LinkOutput final : public tcp::PacketOutput {
public:
  LinkOutput(Link &link, const VirtualClock &clock) : link_(link), clock_(clock) {}
  // The link completes what the engine left for the port, as a NIC would.
  void transmit(tcp::PacketBuf ip_packet, tcp::TxOffload offload) override {
    tcp::set_tx_offload(ip_packet.mbuf(), offload);
    link_.send(ip_packet.mbuf(), clock_.now());
  }

private:
  Link &link_;
  const VirtualClock &clock_;
};

namespace {
constexpr uint64_t kStreamLinkAB = 1, kStreamLinkBA = 2, kStreamSecretA = 3, kStreamSecretB = 4;
}

Simulation::Simulation(const SimConfig &config)
    : seed_(config.seed), clock_(config.start), trace_(config.start, {"A", "B"}) {
  trace_.set_enabled(config.trace);
  tcp::EngineConfig ca = config.a, cb = config.b;
  if (ca.local_address.is_unspecified())
    ca.local_address = kAddressA;
  if (cb.local_address.is_unspecified())
    cb.local_address = kAddressB;
  if (!ca.secret_seed)
    ca.secret_seed = derive_seed(seed_, kStreamSecretA);
  if (!cb.secret_seed)
    cb.secret_seed = derive_seed(seed_, kStreamSecretB);
  address_a_ = ca.local_address;
  address_b_ = cb.local_address;

  rte_mempool *pool_a = config.pool_a;
  rte_mempool *pool_b = config.pool_b != nullptr ? config.pool_b : config.pool_a;
  // A NIC fills its receive ring from the receiver's pool.
  link_ab_ = std::make_unique<Link>(config.a_to_b, derive_seed(seed_, kStreamLinkAB), pool_b,
                                    &trace_, Direction::a_to_b);
  link_ba_ = std::make_unique<Link>(config.b_to_a, derive_seed(seed_, kStreamLinkBA), pool_a,
                                    &trace_, Direction::b_to_a);
  out_a_ = std::make_unique<LinkOutput>(*link_ab_, clock_);
  out_b_ = std::make_unique<LinkOutput>(*link_ba_, clock_);
  engine_a_ = std::make_unique<tcp::Engine>(ca, pool_a, *out_a_, clock_.now());
  engine_b_ = std::make_unique<tcp::Engine>(cb, pool_b, *out_b_, clock_.now());
  // The drop trace (builds without NDEBUG): why each engine dropped what it
  // dropped, as "dropped by A: <drop counter>" notes.
  for (const Direction from : {Direction::a_to_b, Direction::b_to_a}) {
    tcp::Engine &e = from == Direction::a_to_b ? *engine_a_ : *engine_b_;
    e.set_drop_hook([this, from](tcp::Counter why, uint64_t, const tcp::FourTuple *t) {
      if (!trace_.enabled())
        return;
      std::string text = "dropped by " + trace_.name(from) + ": " + tcp::counter_name(why);
      if (t != nullptr)
        text += " [" + t->remote_addr.to_string() + ":" + std::to_string(t->remote_port) + " > " +
                t->local_addr.to_string() + ":" + std::to_string(t->local_port) + "]";
      trace_.note(clock_.now(), std::move(text));
    });
  }
}

Simulation::~Simulation() = default; // member order: engines, outputs, links, trace

std::optional<Instant> Simulation::timer_due(const tcp::Engine &e, const EngineTimer &t) const {
  const std::optional<Instant> next = e.next_timer();
  if (!next)
    return std::nullopt;
  // advance() at last_advance left this timer where it was and nothing has
  // been delivered since: the wheel's bound is below the true expiry (a
  // tick-granular wheel may report a slot start). Step past it.
  if (t.last_advance && *next <= *t.last_advance)
    return *t.last_advance + t.nudge;
  return next;
}

std::optional<Instant> Simulation::next_event() const {
  std::optional<Instant> best;
  auto consider = [&best](std::optional<Instant> t) {
    if (t && (!best || *t < *best))
      best = t;
  };
  consider(link_ab_->next_delivery());
  consider(link_ba_->next_delivery());
  consider(timer_due(*engine_a_, timer_a_));
  consider(timer_due(*engine_b_, timer_b_));
  if (!app_events_.empty())
    consider(std::max(app_events_.begin()->first.first, clock_.now()));
  return best;
}

void Simulation::advance_engine(tcp::Engine &e, EngineTimer &t, Instant now) {
  const std::optional<Instant> before = e.next_timer();
  e.advance(now);
  ++events_;
  const std::optional<Instant> after = e.next_timer();
  t.last_advance = now;
  if (after && *after <= now) {
    ++stalled_timers_;
    t.nudge = (after == before) ? std::min<Duration>(t.nudge * 2, 1ms) : Duration{1us};
  } else {
    t.nudge = 1us;
  }
}

bool Simulation::step(Instant deadline) {
  const std::optional<Instant> t = next_event();
  if (!t || *t > deadline)
    return false;
  clock_.advance_to(*t);
  const Instant now = clock_.now();

  // Arrivals first, earliest first (A->B before B->A at equal times), until
  // none is due: a zero-delay reply sent meanwhile is delivered at once.
  for (;;) {
    const auto ab = link_ab_->next_delivery();
    const auto ba = link_ba_->next_delivery();
    const bool ab_due = ab && *ab <= now;
    const bool ba_due = ba && *ba <= now;
    if (!ab_due && !ba_due)
      break;
    if (ab_due && (!ba_due || *ab <= *ba)) {
      rte_mbuf *m = link_ab_->pop_due(now);
      timer_b_.last_advance.reset();
      engine_b_->input_ipv4(m, tcp::rx_checksum_of(m), now);
    } else {
      rte_mbuf *m = link_ba_->pop_due(now);
      timer_a_.last_advance.reset();
      engine_a_->input_ipv4(m, tcp::rx_checksum_of(m), now);
    }
    ++events_;
  }

  if (const auto due = timer_due(*engine_a_, timer_a_); due && *due <= now)
    advance_engine(*engine_a_, timer_a_, now);
  if (const auto due = timer_due(*engine_b_, timer_b_); due && *due <= now)
    advance_engine(*engine_b_, timer_b_, now);
  run_app_events(now);
  return true;
}

void Simulation::at(Instant t, std::function<void()> fn) {
  app_events_.emplace(std::make_pair(t, next_app_order_++), std::move(fn));
}

void Simulation::run_app_events(Instant now) {
  while (!app_events_.empty() && app_events_.begin()->first.first <= now) {
    // The application's API calls (consume, write, close) may send at once:
    // the engines must already stand at `now`, as in a shard's poll loop.
    for (tcp::Engine *e : {engine_a_.get(), engine_b_.get()})
      if (e->now() < now)
        e->advance(now);
    auto node = app_events_.extract(app_events_.begin());
    node.mapped()(); // may schedule more events, at now or later
    ++events_;
    // The callback may have armed or cancelled timers.
    timer_a_.last_advance.reset();
    timer_b_.last_advance.reset();
  }
}

void Simulation::run_until(Instant t) {
  while (step(t)) {
  }
  clock_.advance_to(t);
}

bool Simulation::run_until(const std::function<bool()> &pred, Instant deadline) {
  if (pred())
    return true;
  while (step(deadline))
    if (pred())
      return true;
  clock_.advance_to(deadline);
  return pred();
}

bool Simulation::run_until_idle(Instant deadline) {
  while (next_event()) {
    if (!step(deadline)) {
      clock_.advance_to(deadline);
      return false;
    }
  }
  return true;
}

bool Simulation::write_pcapng(const std::string &path) const {
  return sim::write_pcapng(trace_, path);
}

} // namespace shoal::sim
