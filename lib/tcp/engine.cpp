// Engine construction, open calls, and the connection lifecycle helpers
// shared by input, timers and the application API.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "tcp/engine_impl.hpp"

namespace shoal::tcp {

Engine::Impl::Impl(Engine &self_, const EngineConfig &cfg_, rte_mempool *pool_, PacketOutput &out_,
                   Instant now_)
    : self(self_), cfg(cfg_), pool(pool_), out(out_), now(now_),
      wheel(std::chrono::milliseconds{1}, now_), rto_cfg{cfg_.initial_rto, cfg_.min_rto,
                                                         cfg_.max_rto, wheel.tick()},
      secret(cfg_.secret_seed), conns(cfg_.max_connections), flows(secret.table_key(), conns),
      time_wait(wheel, 2 * cfg_.msl, cfg_.max_time_wait, secret.table_key(),
                &Impl::time_wait_expired, this),
      next_ephemeral(cfg_.ephemeral_port_min),
      mbuf_truesize(static_cast<uint32_t>(sizeof(rte_mbuf)) + rte_pktmbuf_data_room_size(pool_)),
      cookies(cfg_.secret_seed, cfg_.syn_cookie_rotation),
      // A cookie validates for at most two rotation periods after it was made.
      consumed_cookies(cfg_.cookie_replay_capacity, 2 * cookies.rotation(),
                       secret.table_key() ^ 0xc00c1e5ull) {
  // The per-connection counts these limit are 8 bits wide
  // (Connection::rtx_count_, ka_probes_sent_): a larger limit is held at 255.
  for (int *limit :
       {&cfg.syn_retries, &cfg.synack_retries, &cfg.data_retries, &cfg.keepalive_probes})
    *limit = std::min(*limit, kMaxRetries);
  // A copied payload shares the buffer with the headers (Ethernet is
  // prepended later into the headroom).
  const uint32_t room = rte_pktmbuf_data_room_size(pool_);
  const uint32_t used = RTE_PKTMBUF_HEADROOM + 20 + static_cast<uint32_t>(wire::kTcpMaxHeaderLen);
  cfg.copy_payload_max = std::min(cfg.copy_payload_max, room > used ? room - used : 0);
  default_timeouts = ConnTimeouts{cfg.keepalive_idle, cfg.keepalive_interval, cfg.user_timeout,
                                  cfg.keepalive_probes};
  challenge_limit.window_start_ns = to_ns(now_);
  rst_limit.window_start_ns = to_ns(now_);
  reassembly_budget.max_bytes = cfg.reassembly_shard_bytes;
  reassembly_budget.max_segments = cfg.reassembly_shard_segments;
}

Engine::Impl::~Impl() {
  // Free everything without sending or calling back (the shard is going away).
  flows.for_each([&](Connection *c) {
    free_buffers(*c);
    c->timers_.cancel_all(wheel);
    c->dead_ = true;
    c->next_free_ = graveyard;
    graveyard = c;
  });
  flows.clear();
  while (Connection *c = lingering) {
    lingering = c->linger_next_;
    c->lingering_ = false;
    c->timers_.cancel_all(wheel);
    free_buffers(*c);
    c->next_free_ = graveyard;
    graveyard = c;
  }
  reap();
  time_wait.clear();
}

Connection *Engine::Impl::new_connection(const FourTuple &t) {
  uint32_t index = 0;
  Connection *c = conns.acquire(index);
  if (c == nullptr)
    return nullptr;
  c->eng_ = this;
  c->pool_index_ = index;
  c->tuple_ = t;
  c->rtt_ = RtoEstimator(rto_cfg);
  c->rcv_buf_ = cfg.rcv_buf;
  c->snd_buf_ = cfg.snd_buf;
  c->ts_offset_ = secret.ts_offset(t);
  c->last_rcv_ = now;
  c->rcv_mss_ = our_mss();
  flows.insert(t, index);
  return c;
}

void Engine::Impl::set_state(State from, State to) {
  if (from == to)
    return;
  counters.transitions[static_cast<int>(from)][static_cast<int>(to)]++;
  // A listener leaves LISTEN only for CLOSED; LISTEN -> SYN-RECEIVED is a
  // TCB it created, and the listener stays.
  if (from != State::closed && (from != State::listen || to == State::closed))
    counters.in_state[static_cast<int>(from)]--;
  if (to != State::closed)
    counters.in_state[static_cast<int>(to)]++;
}

void Engine::Impl::set_state(Connection &c, State to, State counted_from) {
  set_state(counted_from, to);
  c.state_ = to;
}

void Engine::Impl::free_buffers(Connection &c) {
  for (rte_mbuf *s = c.rcvq_head_; s != nullptr;) {
    rte_mbuf *next = s->next;
    s->next = nullptr;
    rte_pktmbuf_free_seg(s);
    s = next;
  }
  c.rcvq_head_ = c.rcvq_tail_ = nullptr;
  c.rcvq_bytes_ = 0;
  c.rcv_mem_ = 0;
  c.ooo_.reset(); // frees queued mbufs, returns the shard budget
  c.ooo_fin_ = false;
  c.snd_cur_ = nullptr;
  for (rte_mbuf *s = c.sndq_head_; s != nullptr;) {
    rte_mbuf *next = s->next;
    s->next = nullptr;
    rte_pktmbuf_free_seg(s);
    s = next;
  }
  c.sndq_head_ = c.sndq_tail_ = nullptr;
  c.sndq_bytes_ = 0;
  c.reserved_ = 0;
}

void Engine::Impl::close_connection(Connection &c, CloseReason reason, bool to_time_wait_record) {
  if (c.dead_)
    return;
  c.dead_ = true;
  if (!unreachable_syns.empty())
    unreachable_syns.erase(c.pool_index_);
  // The protocol is done with the connection, but the application may not
  // have read all that arrived before the peer's FIN. RFC 9293 3.10.7.4
  // ("eighth, check the FIN bit") has the data delivered before the FIN
  // is, and the user may RECEIVE it until it is gone (3.10.3: "If no text
  // is awaiting delivery, the RECEIVE will get a 'connection closing'
  // response"). So the object (not the compact record) stays readable;
  // TIME_WAIT duty goes to the record as usual.
  const bool linger =
      reason == CloseReason::normal && c.rcvq_bytes_ > 0 && c.handler_ != nullptr && !c.app_closed_;
  if (linger) {
    const uint32_t rcvq_bytes = c.rcvq_bytes_;
    rte_mbuf *head = c.rcvq_head_, *tail = c.rcvq_tail_;
    const uint32_t rcv_mem = c.rcv_mem_;
    c.rcvq_head_ = c.rcvq_tail_ = nullptr; // free_buffers leaves the receive queue alone
    c.rcvq_bytes_ = 0;
    free_buffers(c);
    c.rcvq_head_ = head;
    c.rcvq_tail_ = tail;
    c.rcvq_bytes_ = rcvq_bytes;
    c.rcv_mem_ = rcv_mem;
  } else {
    free_buffers(c);
  }
  c.timers_.cancel_all(wheel);
  flows.erase(c.tuple_);
  if (c.in_accept_queue_)
    accept_queue_remove(c);
  if (c.half_open_) {
    if (auto it = listeners.find(c.listener_port_); it != listeners.end())
      it->second.half_open--;
    c.half_open_ = false;
  }
  if (to_time_wait_record)
    set_state(c, State::closed, State::closed); // uncounted: the record stays in TIME-WAIT
  else
    set_state(c, State::closed);
  if (linger) {
    count(*this, Counter::closed_unread_lingering);
    c.lingering_ = true;
    c.linger_prev_ = nullptr;
    c.linger_next_ = lingering;
    if (lingering != nullptr)
      lingering->linger_prev_ = &c;
    lingering = &c;
    return;
  }
  switch (reason) {
  case CloseReason::normal:
    count(*this, Counter::closed_normal);
    break;
  case CloseReason::reset:
    count(*this, Counter::closed_reset);
    break;
  case CloseReason::refused:
    count(*this, Counter::closed_refused);
    break;
  case CloseReason::timed_out:
  case CloseReason::unreachable:
    count(*this, Counter::closed_timed_out);
    break;
  case CloseReason::aborted:
  case CloseReason::stack_destroyed: // not the engine's (api::Stack's teardown)
    count(*this, Counter::closed_aborted);
    break;
  }
  c.next_free_ = graveyard;
  graveyard = &c;
  if (ConnectionHandler *h = c.handler_) {
    c.handler_ = nullptr;
    h->on_closed(c, reason);
  }
}

void Engine::Impl::end_lingering(Connection &c, CloseReason reason) {
  if (!c.lingering_)
    return;
  c.lingering_ = false;
  if (c.linger_prev_ != nullptr)
    c.linger_prev_->linger_next_ = c.linger_next_;
  else
    lingering = c.linger_next_;
  if (c.linger_next_ != nullptr)
    c.linger_next_->linger_prev_ = c.linger_prev_;
  c.linger_next_ = c.linger_prev_ = nullptr;
  c.timers_.cancel(wheel, ConnTimer::retransmit);
  free_buffers(c);
  count(*this, reason == CloseReason::normal ? Counter::closed_normal : Counter::closed_aborted);
  c.next_free_ = graveyard;
  graveyard = &c;
  if (ConnectionHandler *h = c.handler_) {
    c.handler_ = nullptr;
    h->on_closed(c, reason);
  }
}

void Engine::Impl::enter_time_wait(Connection &c) {
  set_state(c, State::time_wait);
  TimeWaitRecord *r = time_wait.insert(c.tuple_, now);
  if (r == nullptr) {
    // Table full: the connection closes without TIME_WAIT protection, as
    // Linux does when tw_max_buckets is reached.
    count(*this, Counter::time_wait_full);
  } else {
    count(*this, Counter::time_wait_entered);
    r->snd_nxt = c.snd_max_.v; // the RFC's SND.NXT (ours may have gone back)
    r->rcv_nxt = c.rcv_nxt_.v;
    r->ts_recent = c.ts_recent_;
    r->ts_offset = c.ts_offset_;
    r->has_ts = c.ts_ok_ ? 1 : 0;
    r->window = window_field(c);
    r->rcv_wscale = c.rcv_wscale_;
  }
  close_connection(c, CloseReason::normal, r != nullptr);
}

void Engine::Impl::time_wait_expired(void *ctx, TimeWaitRecord &) {
  auto *e = static_cast<Impl *>(ctx);
  count(*e, Counter::time_wait_expired);
  e->set_state(State::time_wait, State::closed);
}

void Engine::Impl::reap() {
  while (graveyard != nullptr) {
    Connection *c = graveyard;
    graveyard = c->next_free_;
    if (c->output_pending_)
      std::erase(pending_output, c);
    if (c->custom_timeouts_)
      own_timeouts.erase(c->pool_index_);
    conns.release(c, c->pool_index_);
  }
}

bool Engine::Impl::can_connect(const FourTuple &t) const {
  if (flows.contains(t))
    return false;
  const TimeWaitRecord *tw = time_wait.find(t);
  if (tw == nullptr)
    return true;
  if (!cfg.time_wait_reuse || tw->has_ts == 0)
    return false;
  const Instant entered = instant_from_ns(tw->expiry_ns) - time_wait.lifetime();
  return now - entered >= cfg.time_wait_reuse_after;
}

uint16_t Engine::Impl::pick_ephemeral_port(wire::Ipv4Addr remote, uint16_t remote_port) {
  uint32_t lo = cfg.ephemeral_port_min, hi = cfg.ephemeral_port_max;
  if (lo == 0 || hi < lo)
    return 0;
  uint32_t range = hi - lo + 1;
  for (uint32_t i = 0; i < range; ++i) {
    uint16_t port = next_ephemeral;
    next_ephemeral = static_cast<uint16_t>(port >= hi ? lo : port + 1);
    FourTuple t{cfg.local_address, remote, port, remote_port};
    if (listeners.count(port) || !can_connect(t))
      continue;
    return port;
  }
  return 0;
}

Connection *Engine::Impl::connect(wire::Ipv4Addr remote, uint16_t remote_port,
                                  ConnectionHandler *handler, uint16_t local_port,
                                  const OpenOptions &options, Engine::ConnectError &why) {
  using E = Engine::ConnectError;
  Entry guard(*this);
  if (remote.is_unspecified() || remote.is_broadcast() || remote.is_multicast() ||
      remote_port == 0) {
    why = E::bad_address;
    return nullptr;
  }
  if (local_port == 0)
    local_port = pick_ephemeral_port(remote, remote_port);
  if (local_port == 0) {
    why = E::no_free_port;
    return nullptr;
  }
  FourTuple t{cfg.local_address, remote, local_port, remote_port};
  if (!can_connect(t)) {
    why = E::tuple_in_use;
    return nullptr;
  }
  // A TIME_WAIT record that may be taken over (can_connect said so): the new
  // ISS goes a maximum window past its SND.NXT, as Linux does, so no segment
  // of the old incarnation can be acceptable to the new one.
  std::optional<Seq> reused_snd_nxt;
  if (TimeWaitRecord *tw = time_wait.find(t); tw != nullptr) {
    reused_snd_nxt = Seq{tw->snd_nxt};
    drop_time_wait(*tw, State::closed);
    count(*this, Counter::time_wait_reused_active);
  }
  Connection *c = new_connection(t);
  if (c == nullptr) {
    count(*this, Counter::drop_no_memory);
    why = E::no_memory;
    return nullptr;
  }
  c->handler_ = handler;
  c->rcv_mss_ = announced_mss(options.max_segment);
  // RFC 9293 3.10.1 OPEN (active): select an ISS, send a SYN, enter SYN-SENT.
  c->iss_ = reused_snd_nxt ? *reused_snd_nxt + (65535 + 2) : Seq{secret.isn(t, now)};
  c->snd_una_ = c->iss_;
  c->snd_nxt_ = c->iss_ + 1;
  c->snd_max_ = c->snd_nxt_;
  c->sndq_seq_ = c->iss_ + 1;
  c->rcv_wscale_ = cfg.window_scaling ? our_window_scale() : 0;
  set_state(*c, State::syn_sent);
  count(*this, Counter::active_opens);
  // The handshake is timed for the first RTT sample (RFC 6298 2.2).
  c->rtt_timing_ = true;
  c->rtt_sent_ = now;
  send_syn(*c);
  arm_rtx(*c);
  return c;
}

bool Engine::Impl::listen(uint16_t port, HandlerFactory factory, const OpenOptions &options) {
  if (port == 0 || listeners.count(port))
    return false;
  Listener l;
  l.port = port;
  l.factory = std::move(factory);
  l.options = options;
  listeners.emplace(port, std::move(l));
  set_state(State::closed, State::listen);
  return true;
}

void Engine::Impl::unlisten(uint16_t port) {
  Entry guard(*this);
  auto it = listeners.find(port);
  if (it == listeners.end())
    return;
  // Connections waiting in the accept queue were never accepted: refuse
  // them with a RST, as closing a listening socket does.
  while (Connection *c = it->second.accept_head) {
    accept_queue_remove(*c);
    count(*this, Counter::accept_refused);
    send_rst(*c);
    close_connection(*c, CloseReason::aborted);
  }
  listeners.erase(it);
  set_state(State::listen, State::closed);
  // Half-open entries of this port stay and finish their handshake; with no
  // listener left, accept() refuses them with a RST. They no longer count
  // against a backlog: a later listen() on the port starts from zero.
  flows.for_each([&](Connection *c) {
    if (c->half_open_ && c->listener_port_ == port)
      c->half_open_ = false;
  });
}

void Engine::Impl::advance(Instant t) {
  Entry guard(*this);
  // Timer callbacks see now == their own expiry (set in timers.cpp), so a
  // long jump behaves exactly like advancing tick by tick.
  wheel.advance(t);
  now = std::max(now, t);
}

// ---- Engine: thin forwarding ------------------------------------------------

Engine::Engine(const EngineConfig &cfg, rte_mempool *pool, PacketOutput &out, Instant now)
    : impl_(std::make_unique<Impl>(*this, cfg, pool, out, now)) {}

Engine::~Engine() = default;

void Engine::input(PacketBuf m, const wire::Ipv4Repr &ip, RxChecksum rx, Instant now) {
  impl_->input(m, ip, rx, now);
}

void Engine::input_ipv4(PacketBuf m, RxChecksum rx, Instant now) {
  // The header may straddle segments of a chain (the simulator's
  // LinkConfig::chain_piece): rte_pktmbuf_read copies it out only then.
  // parse_ipv4_header checks total_length against the whole chain.
  uint8_t copy[wire::kIpv4MaxHeaderLen];
  const uint32_t n = std::min<uint32_t>(m.length(), wire::kIpv4MaxHeaderLen);
  const uint8_t *p = m.read(0, n, copy);
  const bool verify = rx.ip != ChecksumStatus::good;
  wire::Ipv4Repr ip;
  if (p == nullptr ||
      wire::parse_ipv4_header({p, n}, m.length(), verify, ip) != wire::ParseError::ok) {
    count(*impl_, Counter::drop_bad_ip);
    m.free();
    return;
  }
  impl_->input(m, ip, rx, now);
}

void Engine::icmp_error(const IcmpError &e, Instant now) {
  impl_->icmp_error(e, now);
}

uint16_t Engine::path_mtu(wire::Ipv4Addr dst) const {
  return impl_->path_mtu(dst);
}

void Engine::advance(Instant now) {
  impl_->advance(now);
}

void Engine::set_output_batching(bool on) {
  impl_->batch_output = on;
  if (!on)
    flush_output();
}

void Engine::flush_output() {
  if (impl_->pending_output.empty())
    return;
  Impl::Entry guard(*impl_);
  impl_->flush_output();
}

std::optional<Instant> Engine::next_timer() const {
  return impl_->wheel.next_expiry();
}

bool Engine::listen(uint16_t local_port, HandlerFactory factory, const OpenOptions &options) {
  return impl_->listen(local_port, std::move(factory), options);
}

bool Engine::set_listen_options(uint16_t local_port, const OpenOptions &options) {
  auto it = impl_->listeners.find(local_port);
  if (it == impl_->listeners.end())
    return false;
  it->second.options = options;
  return true;
}

void Engine::unlisten(uint16_t local_port) {
  impl_->unlisten(local_port);
}

Connection *Engine::connect(wire::Ipv4Addr remote, uint16_t remote_port, ConnectionHandler *handler,
                            uint16_t local_port, const OpenOptions &options, ConnectError *why) {
  ConnectError e = ConnectError::none;
  Connection *c = impl_->connect(remote, remote_port, handler, local_port, options, e);
  if (why != nullptr)
    *why = e;
  return c;
}

void Engine::pause_accept(uint16_t local_port) {
  impl_->pause_accept(local_port);
}

void Engine::resume_accept(uint16_t local_port) {
  impl_->resume_accept(local_port);
}

size_t Engine::accept_queue_length(uint16_t local_port) const {
  auto it = impl_->listeners.find(local_port);
  return it == impl_->listeners.end() ? 0 : it->second.accept_len;
}

size_t Engine::syn_backlog_length(uint16_t local_port) const {
  auto it = impl_->listeners.find(local_port);
  return it == impl_->listeners.end() ? 0 : it->second.half_open;
}

uint32_t Engine::connections_in_use() const {
  return impl_->conns.live();
}

EngineMemory Engine::memory() const {
  const Impl &m = *impl_;
  EngineMemory r;
  r.connections = m.conns.live();
  // Congestion control, RTO and SACK state are inside the Connection; the
  // SACK store and the reassembly queue are allocated only while in use.
  r.connection_bytes = m.conns.memory_bytes();
  r.flow_table_bytes = m.flows.memory_bytes();
  r.time_wait_records = m.time_wait.size();
  r.time_wait_bytes = m.time_wait.memory_bytes();
  // Per-connection keepalive/user-timeout settings: a hash node each
  // (payload, key, next pointer, cached hash) plus the bucket array.
  r.connection_bytes += m.own_timeouts.size() * (sizeof(ConnTimeouts) + 3 * sizeof(void *)) +
                        m.own_timeouts.bucket_count() * sizeof(void *);
  r.other_bytes = m.consumed_cookies.memory_bytes() + m.listeners.size() * sizeof(Listener);
  return r;
}

size_t Engine::connection_count() const {
  return impl_->flows.size();
}
size_t Engine::time_wait_count() const {
  return impl_->time_wait.size();
}
size_t Engine::armed_timer_count() const {
  return impl_->wheel.armed_count();
}

Connection *Engine::find(const FourTuple &t) {
  return impl_->find_connection(t);
}

bool Engine::can_connect(const FourTuple &t) const {
  return impl_->can_connect(t);
}

State Engine::state_of(const FourTuple &t) const {
  if (const Connection *c = impl_->find_connection(t))
    return c->state();
  if (impl_->time_wait.find(t) != nullptr)
    return State::time_wait;
  return State::closed;
}

const Counters &Engine::counters() const {
  return impl_->counters;
}
namespace {
void abort_on_owner_violation(const char *method) {
  std::fprintf(stderr,
               "shoal: Connection::%s called off the connection's shard (use Stack::post)\n",
               method);
  std::abort();
}
std::atomic<void (*)(const char *)> owner_violation{&abort_on_owner_violation};
} // namespace

void Engine::set_owner_check([[maybe_unused]] bool (*on_owner)(void *),
                             [[maybe_unused]] void *ctx) {
#ifndef NDEBUG
  impl_->on_owner = on_owner;
  impl_->on_owner_ctx = ctx;
#endif
}

void Engine::set_owner_violation_handler(void (*handler)(const char *)) {
  owner_violation.store(handler != nullptr ? handler : &abort_on_owner_violation);
}

void Engine::Impl::check_owner(const char *method) const {
  if (on_owner != nullptr && !on_owner(on_owner_ctx))
    owner_violation.load()(method);
}

void Engine::set_drop_hook(
    [[maybe_unused]] std::function<void(Counter, uint64_t, const FourTuple *)> hook) {
#if SHOAL_DROP_TRACE
  impl_->counters.on_drop = std::move(hook);
#endif
}
const EngineConfig &Engine::config() const {
  return impl_->cfg;
}
Instant Engine::now() const {
  return impl_->now;
}

} // namespace shoal::tcp
