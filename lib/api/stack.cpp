#include "api/stack.hpp"

#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <optional>

#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_ring.h>
#include <unistd.h>

#include "dpdk/eal.hpp"
#include "dpdk/host_iface.hpp"
#include "dpdk/mempool.hpp"
#include "dpdk/port.hpp"
#include "shard/clock.hpp"
#include "shard/flow_steering.hpp"
#include "shard/handoff.hpp"
#include "shard/shard.hpp"
#include "shard/tcp_attach.hpp"
#include "shard/telemetry.hpp"

namespace shoal::api {

namespace {

thread_local int tls_shard = -1;

constexpr unsigned kCommandRingSize = 1024;
constexpr unsigned kCommandsPerIteration = 32;
constexpr uint32_t kHandoffRingSize = 1024;
constexpr uint16_t kHandoffBurst = 32;
// Frames a shard keeps when the NIC refuses them (Shard::set_tx_backlog).
constexpr size_t kTxBacklog = 2048;

struct Command {
  std::function<void()> fn;
};

// Ring and mempool names are process-wide.
std::string unique_name(const char *what, unsigned shard) {
  static std::atomic<unsigned> seq{0};
  return std::string(what) + std::to_string(shard) + "_" + std::to_string(seq.fetch_add(1));
}

unsigned count_lcores() {
  unsigned n = 0;
  unsigned id;
  RTE_LCORE_FOREACH(id) {
    n++;
  }
  return n;
}

} // namespace

// What the stack owns besides its shards, destroyed in reverse order of
// declaration after the shards: port (stopped first), pool, then the EAL.
struct Stack::Resources {
  std::unique_ptr<dpdk::Eal> eal;
  dpdk::MempoolPtr pool;
  std::unique_ptr<dpdk::Port> port;
  std::unique_ptr<shard::Handoff> handoff;
  std::optional<shard::Reta> reta;
  std::optional<shard::TscClock> clock; // after rte_eal_init (it reads the TSC rate)
  // UDP ports open on any shard (udp.hpp: UdpPorts).
  std::unique_ptr<shard::UdpPorts> udp_ports = std::make_unique<shard::UdpPorts>();
};

struct Stack::Slot {
  Stack *stack = nullptr;
  unsigned id = 0;
  unsigned lcore = 0;
  std::unique_ptr<shard::Shard> shard;
  std::unique_ptr<shard::ShardTcp> tcp;
  rte_ring *commands = nullptr;
  Instant next_status{};
  // The head of this shard's list of live api::Handlers (connection.hpp).
  detail::HandlerLink handlers;

  // Takes `h` for connection `c` of this shard.
  void adopt(Handler &h, tcp::Connection &c) {
    h.link_.conn = &c;
    h.link_.shard = id;
    h.link_.link_after(handlers);
  }
  // Ends every connection that still has a handler: on_closed(stack_destroyed),
  // then the handler goes. The engine frees the connections afterwards.
  void end_handlers() {
    while (handlers.next != &handlers) {
      detail::HandlerLink *l = handlers.next;
      l->conn->set_handler(nullptr);
      l->on_closed(*l->conn, CloseReason::stack_destroyed);
    }
  }

  ~Slot() {
    if (commands != nullptr) {
      void *p = nullptr;
      while (rte_ring_sc_dequeue(commands, &p) == 0)
        delete static_cast<Command *>(p);
      rte_ring_free(commands);
    }
  }
};

int Stack::current_shard() {
  return tls_shard;
}

std::unique_ptr<Stack> Stack::create(const std::string &config_path, const char *argv0,
                                     std::string *error, const StackOptions &opt) {
  const dpdk::ConfigResult loaded = dpdk::load_config(config_path);
  if (!loaded) {
    *error = loaded.error;
    return nullptr;
  }
  return create(*loaded.config, argv0, error, opt);
}

std::unique_ptr<Stack> Stack::create(const dpdk::NodeConfig &cfg, const char *argv0,
                                     std::string *error, const StackOptions &opt) {
  std::unique_ptr<Stack> s(new Stack());
  if (!s->open(cfg, argv0, opt, error))
    return nullptr; // ~Stack releases what was set up
  return s;
}

bool Stack::open(const dpdk::NodeConfig &cfg, const char *argv0, const StackOptions &opt,
                 std::string *error) {
  cfg_ = cfg;
  res_ = std::make_unique<Resources>();
  if (opt.init_eal) {
    res_->eal = dpdk::Eal::init(cfg.eal, cfg.port, argv0, error);
    if (!res_->eal)
      return false;
  }
  res_->clock.emplace();
  const unsigned n = opt.shards != 0 ? opt.shards : (opt.init_eal ? count_lcores() : 1);
  if (n > rte_lcore_count() && opt.init_eal) {
    *error = cfg.path + ": [eal] lcores: " + std::to_string(n) + " shards need as many lcores";
    return false;
  }
  if (cfg.port.rx_queues < n || cfg.port.tx_queues < n) {
    *error = cfg.path + ": [port] rx_queues/tx_queues: " + std::to_string(cfg.port.rx_queues) +
             "/" + std::to_string(cfg.port.tx_queues) + " but [eal] lcores gives " +
             std::to_string(n) + " shards (one rx and one tx queue per shard)";
    return false;
  }
  uint16_t port_id = 0;
  if (!dpdk::Port::find(cfg.port, &port_id, error))
    return false;
  if (opt.init_eal && cfg.host && !dpdk::configure_host_interface(*cfg.host, error))
    return false;
  res_->pool = dpdk::make_packet_pool(unique_name("shoal_pool", 0), cfg.port,
                                      static_cast<int>(rte_socket_id()), error);
  if (!res_->pool)
    return false;
  res_->port = dpdk::Port::open(port_id, cfg.port, res_->pool.get(), error);
  if (!res_->port)
    return false;
  if (n > 1) {
    bool hardware = false;
    res_->reta = shard::program_rss(port_id, static_cast<uint16_t>(n), &hardware, error);
    if (!res_->reta)
      return false;
    res_->handoff = std::make_unique<shard::Handoff>(static_cast<uint16_t>(n), kHandoffRingSize);
  }

  tcp::EngineConfig tcfg = cfg.tcp;
  // The engine keeps every segment within the MTU itself (timestamps are in
  // its MSS; SACK blocks give way on full data segments: RFC 6691).
  if (tcfg.mtu == 0)
    tcfg.mtu = res_->port->mtu();
  const Instant now = res_->clock->now();
  std::vector<unsigned> lcores;
  {
    unsigned id;
    lcores.push_back(rte_get_main_lcore());
    RTE_LCORE_FOREACH_WORKER(id) {
      lcores.push_back(id);
    }
  }
  for (unsigned i = 0; i < n; i++) {
    auto slot = std::make_unique<Slot>();
    slot->stack = this;
    slot->id = i;
    slot->lcore = i < lcores.size() ? lcores[i] : rte_get_main_lcore();
    shard::ShardParams p;
    p.id = i;
    p.mac = res_->port->mac();
    p.address = cfg.ipv4.address;
    p.prefix_length = cfg.ipv4.prefix_length;
    p.gateway = cfg.ipv4.gateway;
    p.arp.max_entries = cfg.arp.max_entries;
    p.arp.entry_lifetime = cfg.arp.entry_lifetime;
    p.arp.pending_per_address = cfg.arp.pending_per_address;
    p.arp.request_interval = cfg.arp.request_interval;
    p.arp.request_retries = cfg.arp.request_retries;
    p.offloads = res_->port->offloads();
    p.mtu = res_->port->mtu();
    p.reassembly_max_datagrams = cfg.ipv4.reassembly_max_datagrams;
    p.reassembly_timeout = std::chrono::milliseconds(cfg.ipv4.reassembly_timeout_ms);
    try {
      slot->shard = std::make_unique<shard::Shard>(p, res_->pool.get());
      slot->tcp = std::make_unique<shard::ShardTcp>(*slot->shard, tcfg, res_->pool.get(), now);
    } catch (const std::exception &e) {
      *error = std::string("shard ") + std::to_string(i) + ": " + e.what();
      return false;
    }
    for (uint16_t q = static_cast<uint16_t>(i); q < res_->port->rx_queues();
         q = static_cast<uint16_t>(q + n))
      slot->shard->add_rx_queue(port_id, q);
    slot->shard->set_tx_queue(port_id, static_cast<uint16_t>(i));
    slot->shard->udp().set_ports(res_->udp_ports.get());
    slot->shard->set_tx_backlog(kTxBacklog);
    if (cfg.impair.enabled()) {
      // Each shard and direction draws from its own seeded stream.
      shard::ImpairParams rx{cfg.impair.loss, cfg.impair.reorder, cfg.impair.duplicate,
                             cfg.impair.delay, cfg.impair.seed * 2654435761u + 2 * i};
      shard::ImpairParams tx = rx;
      tx.seed += 1;
      slot->shard->set_impairment(cfg.impair.rx ? rx : shard::ImpairParams{},
                                  cfg.impair.tx ? tx : shard::ImpairParams{});
    }
    slot->commands = rte_ring_create(unique_name("shoal_cmd", i).c_str(), kCommandRingSize,
                                     SOCKET_ID_ANY, RING_F_SC_DEQ);
    if (slot->commands == nullptr) {
      *error = "shard " + std::to_string(i) + ": rte_ring_create: " + rte_strerror(rte_errno);
      return false;
    }
    if (n > 1) {
      slot->tcp->set_steering(
          [](void *ctx, const tcp::FourTuple &t) -> unsigned {
            const Slot *s = static_cast<const Slot *>(ctx);
            const Stack &st = *s->stack;
            return shard::owner_shard({t.remote_addr, t.local_addr, t.remote_port, t.local_port},
                                      static_cast<uint16_t>(st.shards_.size()), *st.res_->reta);
          },
          [](void *ctx, unsigned owner, rte_mbuf *m) {
            const Slot *s = static_cast<const Slot *>(ctx);
            return s->stack->res_->handoff->send(static_cast<uint16_t>(s->id),
                                                 static_cast<uint16_t>(owner), m);
          },
          slot.get());
    }
    // Debug builds: a Connection used off its shard's running loop aborts
    // with the method's name (a data race otherwise).
    slot->tcp->engine().set_owner_check(
        [](void *ctx) {
          const Slot *s = static_cast<const Slot *>(ctx);
          return !s->stack->running_.load(std::memory_order_acquire) ||
                 tls_shard == static_cast<int>(s->id);
        },
        slot.get());
    if (n > 1)
      slot->shard->set_fragment_steering(
          [](void *ctx, wire::Ipv4Addr src, wire::Ipv4Addr dst) -> unsigned {
            const Slot *s = static_cast<const Slot *>(ctx);
            const Stack &st = *s->stack;
            return shard::owner_shard({src, dst, 0, 0}, static_cast<uint16_t>(st.shards_.size()),
                                      *st.res_->reta);
          },
          [](void *ctx, unsigned owner, rte_mbuf *m) {
            const Slot *s = static_cast<const Slot *>(ctx);
            return s->stack->res_->handoff->send(static_cast<uint16_t>(s->id),
                                                 static_cast<uint16_t>(owner), m);
          },
          slot.get());
    shards_.push_back(std::move(slot));
  }
  if (opt.init_eal) {
    std::string terr;
    if (!shard::register_telemetry(&terr))
      std::fprintf(stderr, "shoal: %s (continuing without /shoal telemetry)\n", terr.c_str());
  }
  for (auto &s : shards_)
    shard::publish(s->shard.get(), &s->tcp->stats());
  return true;
}

Stack::~Stack() {
  for (auto &s : shards_) {
    if (!s->tcp)
      continue;
    tls_shard = static_cast<int>(s->id);
    s->end_handlers();
    tls_shard = -1;
  }
  for (auto &s : shards_)
    if (s->shard)
      shard::unpublish(s->shard.get());
  for (auto &s : shards_) {
    if (s->shard)
      s->shard->flush();
    s->tcp.reset();
  }
  if (res_)
    res_->port.reset(); // stop + close: the TAP netdev goes away
  shards_.clear();
  if (res_) {
    res_->handoff.reset();
    res_->pool.reset();
    res_->eal.reset();
  }
}

std::string Stack::summary() const {
  std::string s = res_->port->summary() + ", " + std::to_string(shards_.size()) + " shard" +
                  (shards_.size() == 1 ? "" : "s") + " (lcores";
  for (const auto &sl : shards_)
    s += " " + std::to_string(sl->lcore);
  s += ")";
  if (cfg_.impair.enabled())
    s += ", IMPAIRED: loss " + std::to_string(cfg_.impair.loss * 100) + "% delay " +
         std::to_string(
             std::chrono::duration_cast<std::chrono::milliseconds>(cfg_.impair.delay).count()) +
         " ms reorder " + std::to_string(cfg_.impair.reorder * 100) + "% duplicate " +
         std::to_string(cfg_.impair.duplicate * 100) + "%";
  return s;
}

std::string Stack::ready_fields() const {
  const uint32_t sleep_us = cfg_.shard.idle_sleep_us;
  return "mac=" + mac().to_string() + " ipv4=" + address().to_string() +
         " shards=" + std::to_string(shard_count()) + " idle=" +
         (sleep_us == 0 ? std::string("spin") : "sleep-" + std::to_string(sleep_us) + "us") +
         " telemetry=" + telemetry_socket();
}

std::string Stack::telemetry_socket() const {
  return res_->eal ? res_->eal->telemetry_socket() : std::string();
}

const char *to_string(OpenError e) {
  switch (e) {
  case OpenError::none:
    return "opened";
  case OpenError::no_such_shard:
    return "no such shard";
  case OpenError::wrong_thread:
    return "not called on the shard's loop";
  case OpenError::bad_address:
    return "address or port not usable";
  case OpenError::no_free_port:
    return "no free ephemeral port";
  case OpenError::address_in_use:
    return "port already listening";
  case OpenError::no_memory:
    return "connection table full";
  case OpenError::not_applied:
    return "a shard did not apply it";
  }
  return "?";
}

int to_errno(OpenError e) {
  switch (e) {
  case OpenError::none:
    return 0;
  case OpenError::no_such_shard:
  case OpenError::wrong_thread:
  case OpenError::bad_address:
    return EINVAL;
  case OpenError::no_free_port:
    return EADDRNOTAVAIL;
  case OpenError::address_in_use:
    return EADDRINUSE;
  case OpenError::no_memory:
    return ENOBUFS;
  case OpenError::not_applied:
    return EAGAIN;
  }
  return EINVAL;
}

OpenError open_error(tcp::Engine::ConnectError e) {
  using E = tcp::Engine::ConnectError;
  switch (e) {
  case E::none:
    return OpenError::none;
  case E::bad_address:
    return OpenError::bad_address;
  case E::no_free_port:
  case E::tuple_in_use:
    return OpenError::no_free_port;
  case E::no_memory:
    return OpenError::no_memory;
  }
  return OpenError::no_memory;
}

ListenResult Stack::listen(uint16_t port, HandlerFactory factory, const OpenOptions &options) {
  if (port == 0)
    return {OpenError::bad_address};
  // Each shard's engine gets a factory that hands the application's
  // handler to that shard's list.
  const auto apply = [port, options, factory](Slot &s) {
    Slot *slot = &s;
    auto take = [slot, factory](tcp::Connection &c) -> tcp::ConnectionHandler * {
      std::unique_ptr<Handler> h = factory(Connection(c));
      if (!h)
        return nullptr;
      slot->adopt(*h, c);
      Handler *owned = h.release();
      if (c.state() == State::closed) {
        // The factory aborted the connection itself: the engine will not
        // report it, so the handler ends here.
        owned->link_.on_closed(c, CloseReason::aborted);
        return nullptr;
      }
      return &owned->link_;
    };
    return s.tcp->engine().listen(port, std::move(take), options) ? OpenError::none
                                                                  : OpenError::address_in_use;
  };
  if (!running_.load(std::memory_order_acquire)) {
    OpenError e = OpenError::none;
    for (auto &s : shards_)
      if (const OpenError r = apply(*s); r != OpenError::none)
        e = r;
    return {e};
  }
  const int here = tls_shard;
  if (here >= 0) {
    // On a shard's loop: the others cannot be waited for (one of them may
    // be waiting for this one), so they get it posted.
    OpenError e = apply(*shards_[static_cast<size_t>(here)]);
    for (auto &s : shards_) {
      Slot *slot = s.get();
      if (static_cast<int>(slot->id) != here && !post(slot->id, [slot, apply] { apply(*slot); }))
        e = e == OpenError::none ? OpenError::not_applied : e;
    }
    return {e};
  }
  // Another thread: every shard applies it, and the outcome is waited for.
  struct Outcome {
    std::mutex mu;
    std::condition_variable cv;
    size_t answered = 0;
    OpenError error = OpenError::none;
  };
  auto out = std::make_shared<Outcome>();
  size_t posted = 0;
  OpenError e = OpenError::none;
  for (auto &s : shards_) {
    Slot *slot = s.get();
    if (post(slot->id, [slot, apply, out] {
          const OpenError r = apply(*slot);
          std::lock_guard g(out->mu);
          if (r != OpenError::none)
            out->error = r;
          out->answered++;
          out->cv.notify_all();
        }))
      posted++;
    else
      e = OpenError::not_applied;
  }
  std::unique_lock lk(out->mu);
  if (!out->cv.wait_for(lk, std::chrono::seconds(1), [&] { return out->answered == posted; }))
    return {OpenError::not_applied};
  return {out->error != OpenError::none ? out->error : e};
}

ConnectResult Stack::connect(wire::Ipv4Addr remote, uint16_t remote_port,
                             std::unique_ptr<Handler> handler, unsigned shard,
                             const OpenOptions &options) {
  OpenError e = OpenError::none;
  tcp::Connection *c =
      connect_engine(remote, remote_port, handler ? &handler->link_ : nullptr, shard, options, &e);
  if (c == nullptr)
    return e; // `handler` goes here: there is no connection to report on
  if (handler)
    shards_[shard]->adopt(*handler.release(), *c);
  return Connection(*c);
}

tcp::Connection *Stack::connect_engine(wire::Ipv4Addr remote, uint16_t remote_port,
                                       tcp::ConnectionHandler *handler, unsigned shard,
                                       const OpenOptions &options, OpenError *error) {
  const auto fail = [error](OpenError e) -> tcp::Connection * {
    *error = e;
    return nullptr;
  };
  if (shard >= shards_.size())
    return fail(OpenError::no_such_shard);
  if (running_.load(std::memory_order_acquire) && tls_shard != static_cast<int>(shard))
    return fail(OpenError::wrong_thread); // another shard's engine: post() instead
  tcp::Engine &eng = shards_[shard]->tcp->engine();
  uint16_t local_port = 0; // single shard: the engine picks it
  if (shards_.size() > 1) {
    // The reply must hash to this shard (flow_steering.hpp), and the port
    // must not be in use towards this remote on this shard (a port used on
    // another shard maps to that shard, so it cannot be chosen here).
    const wire::Ipv4Addr local = cfg_.ipv4.address;
    auto in_use = [&](uint16_t p) { return !eng.can_connect({local, remote, p, remote_port}); };
    const auto port = shard::choose_ephemeral_port(
        local, remote, remote_port, static_cast<uint16_t>(shard),
        static_cast<uint16_t>(shards_.size()), *res_->reta, in_use,
        shard::PortRange{cfg_.tcp.ephemeral_port_min, cfg_.tcp.ephemeral_port_max});
    if (!port)
      return fail(OpenError::no_free_port);
    local_port = *port;
  }
  tcp::Engine::ConnectError why{};
  tcp::Connection *c = eng.connect(remote, remote_port, handler, local_port, options, &why);
  *error = c != nullptr ? OpenError::none : open_error(why);
  return c;
}

UdpSocket *Stack::udp_open(uint16_t port, unsigned shard) {
  if (shard >= shards_.size())
    return nullptr;
  if (running_.load(std::memory_order_acquire) && tls_shard != static_cast<int>(shard))
    return nullptr; // another shard's table: post() instead
  return shards_[shard]->shard->udp().open(port);
}

bool Stack::udp_bind(uint16_t port, UdpReceiveFn on_receive) {
  if (port == 0)
    return false;
  if (!running_.load(std::memory_order_acquire)) {
    bool ok = true;
    for (auto &s : shards_) {
      UdpSocket *u = s->shard->udp().open(port);
      if (u != nullptr)
        u->on_receive(on_receive);
      ok = ok && u != nullptr;
    }
    return ok;
  }
  bool ok = true;
  for (auto &s : shards_) {
    Slot *slot = s.get();
    ok = post(slot->id,
              [slot, port, on_receive] {
                if (UdpSocket *u = slot->shard->udp().open(port))
                  u->on_receive(on_receive);
              }) &&
         ok;
  }
  return ok;
}

bool Stack::post(unsigned shard, std::function<void()> fn) {
  if (shard >= shards_.size())
    return false;
  auto *c = new Command{std::move(fn)};
  if (rte_ring_mp_enqueue(shards_[shard]->commands, c) != 0) {
    delete c;
    return false;
  }
  return true;
}

wire::MacAddr Stack::mac() const {
  return res_->port->mac();
}

tcp::Engine &Stack::engine(unsigned shard) {
  return shards_.at(shard)->tcp->engine();
}

const shard::ShardCounters &Stack::counters(unsigned shard) const {
  return shards_.at(shard)->shard->counters();
}

const shard::TcpStats &Stack::tcp_stats(unsigned shard) const {
  return shards_.at(shard)->tcp->stats();
}

uint64_t Stack::connections_in(State st) const {
  uint64_t n = 0;
  for (const auto &s : shards_)
    n += s->tcp->stats().state(st);
  return n;
}

shard::MemoryStats Stack::memory() const {
  shard::MemoryStats m = shard::mempool_memory(res_->pool.get());
  for (const auto &s : shards_)
    m += s->tcp->stats().memory();
  return m;
}

shard::MemoryStats Stack::memory(unsigned shard) const {
  shard::MemoryStats m = shard::mempool_memory(res_->pool.get());
  m += shards_.at(shard)->tcp->stats().memory();
  return m;
}

std::string Stack::stats_json() const {
  // No shard loop running (before run(), after it, or driven by poll_once()
  // on this thread): bring the published counters up to date first.
  if (!running_.load(std::memory_order_acquire))
    for (const auto &s : shards_)
      s->tcp->snapshot();
  // This stack's shards only (another stack in the process has a shard 0 too).
  std::vector<const shard::Shard *> mine;
  for (const auto &s : shards_)
    mine.push_back(s->shard.get());
  return shard::stats_json(mine);
}

void Stack::iterate(Slot &s, bool) {
  const Instant now = res_->clock->now();
  s.shard->process_rx({}, now); // sets the shard's `now` for what runs before poll()
  // Commands from other threads (post()).
  for (unsigned k = 0; k < kCommandsPerIteration; k++) {
    void *p = nullptr;
    if (rte_ring_sc_dequeue(s.commands, &p) != 0)
      break;
    std::unique_ptr<Command> c(static_cast<Command *>(p));
    c->fn();
  }
  // Packets of our flows that arrived on another shard's queue.
  if (res_->handoff) {
    std::array<rte_mbuf *, kHandoffBurst> in;
    const size_t got = res_->handoff->drain(static_cast<uint16_t>(s.id), in);
    for (size_t k = 0; k < got; k++) {
      if (shard::Shard::is_handed_fragment(in[k]))
        s.shard->fragment_handed_in(in[k], now);
      else
        s.tcp->input_handed_over(in[k], now);
    }
  }
  s.shard->poll(now); // rx, classify, engine timers, one tx flush
}

unsigned Stack::poll_once() {
  const uint64_t before = [&] {
    uint64_t n = 0;
    for (auto &s : shards_)
      n += s->shard->counters().rx_packets.get();
    return n;
  }();
  for (auto &s : shards_) {
    tls_shard = static_cast<int>(s->id);
    iterate(*s, true);
  }
  tls_shard = -1;
  uint64_t after = 0;
  for (auto &s : shards_)
    after += s->shard->counters().rx_packets.get();
  return static_cast<unsigned>(after - before);
}

void Stack::run_here(unsigned shard, const std::function<void()> &fn) {
  Slot &s = *shards_.at(shard);
  tls_shard = static_cast<int>(s.id);
  s.shard->process_rx({}, res_->clock->now()); // the shard's `now`
  fn();
  s.tcp->engine().flush_output();
  s.shard->flush();
  tls_shard = -1;
}

void Stack::print_status() const {
  uint64_t rx = 0, tx = 0, drops = 0, rtx = 0;
  for (const auto &s : shards_) {
    rx += s->shard->counters().rx_packets.get();
    tx += s->shard->counters().tx_packets.get();
    drops += s->shard->counters().drops();
    rtx += s->tcp->stats().get(tcp::Counter::retransmits);
  }
  rte_eth_stats es{};
  rte_eth_stats_get(res_->port->id(), &es);
  std::fprintf(stderr,
               "shoal: rx %lu tx %lu drops %lu retransmits %lu | nic oerrors %lu imissed %lu "
               "rx_nombuf %lu | ESTABLISHED %lu TIME_WAIT %lu other %lu\n",
               static_cast<unsigned long>(rx), static_cast<unsigned long>(tx),
               static_cast<unsigned long>(drops), static_cast<unsigned long>(rtx),
               static_cast<unsigned long>(es.oerrors), static_cast<unsigned long>(es.imissed),
               static_cast<unsigned long>(es.rx_nombuf),
               static_cast<unsigned long>(connections_in(State::established)),
               static_cast<unsigned long>(connections_in(State::time_wait)),
               static_cast<unsigned long>(
                   connections_in(State::syn_sent) + connections_in(State::syn_received) +
                   connections_in(State::fin_wait_1) + connections_in(State::fin_wait_2) +
                   connections_in(State::close_wait) + connections_in(State::closing) +
                   connections_in(State::last_ack)));
}

void Stack::shard_loop(Slot &s) {
  tls_shard = static_cast<int>(s.id);
  const Duration status_every = std::chrono::seconds(cfg_.shard.status_interval_s);
  s.next_status = res_->clock->now() + status_every;
  while (!stop_.load(std::memory_order_relaxed)) {
    const uint64_t rx_before = s.shard->counters().rx_packets.get();
    iterate(s, false);
    if (s.id == 0 && cfg_.shard.status_interval_s != 0) {
      const Instant now = s.shard->now();
      if (now >= s.next_status) {
        s.next_status = now + status_every;
        print_status();
        if (status_hook_)
          status_hook_();
      }
    }
    if (cfg_.shard.idle_sleep_us != 0 && s.shard->counters().rx_packets.get() == rx_before &&
        s.shard->tx_pending() == 0)
      usleep(cfg_.shard.idle_sleep_us);
  }
  s.shard->flush();
  s.tcp->snapshot(); // the exit statistics: nothing of the last millisecond missing
  tls_shard = -1;
}

int Stack::lcore_entry(void *arg) {
  Slot *s = static_cast<Slot *>(arg);
  s->stack->shard_loop(*s);
  return 0;
}

int Stack::run() {
  running_.store(true, std::memory_order_release);
  for (size_t i = 1; i < shards_.size(); i++) {
    if (int rc = rte_eal_remote_launch(&Stack::lcore_entry, shards_[i].get(), shards_[i]->lcore);
        rc != 0) {
      std::fprintf(stderr, "shoal: shard %zu: rte_eal_remote_launch on lcore %u: %d\n", i,
                   shards_[i]->lcore, rc);
      stop();
    }
  }
  shard_loop(*shards_[0]);
  rte_eal_mp_wait_lcore();
  running_.store(false, std::memory_order_release);
  return 0;
}

namespace {
std::atomic<Stack *> signal_stack{nullptr};
void on_stop_signal(int) {
  if (Stack *s = signal_stack.load(std::memory_order_relaxed))
    s->stop();
}
} // namespace

void stop_on_signals(Stack &s) {
  signal_stack.store(&s, std::memory_order_relaxed);
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

} // namespace shoal::api
