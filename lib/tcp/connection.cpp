// The application-facing Connection methods: zero-copy receive and send
// rings, close, abort, options.
#include <algorithm>
#include <cstring>

#include "tcp/engine_impl.hpp"

// Debug builds: the method is being called by the thread that owns the
// connection's engine (Engine::set_owner_check).
#ifndef NDEBUG
#define SHOAL_CHECK_OWNER() eng_->check_owner(__func__)
#else
#define SHOAL_CHECK_OWNER() static_cast<void>(0)
#endif

namespace shoal::tcp {

// Bytes per idle connection. Growing this costs every connection of
// every shard; bench_tcp_memory measures the total.
// 480: 472 plus the tail loss probe's end sequence number and flag bits
// (RFC 8985 7), which found no free padding.
static_assert(sizeof(Connection) <= 480, "Connection grew: see the layout notes in connection.hpp");

Connection::Connection() : timers_(&Engine::Impl::timers_fired, this) {}

Connection::~Connection() = default;

Engine &Connection::engine() {
  return eng_->self;
}

uint32_t Connection::rcv_wnd() const {
  const uint32_t space = eng_ != nullptr ? eng_->rcv_space(*this) : 0;
  const uint32_t cur = seq_gt(rcv_adv_, rcv_nxt_) ? rcv_adv_ - rcv_nxt_ : 0;
  return std::max(space, cur);
}

uint32_t Connection::rcv_memory() const {
  return rcv_mem_ + (eng_ != nullptr ? eng_->ooo_memory(*this) : 0);
}

std::span<const uint8_t> Connection::readable_piece(PacketBuf &s) {
  const std::span<const uint8_t> b = s.piece();
  s = s.next();
  return b;
}

std::span<const uint8_t> Connection::peek() const {
  SHOAL_CHECK_OWNER();
  for (const rte_mbuf *s = rcvq_head_; s != nullptr; s = s->next)
    if (s->data_len != 0)
      return {rte_pktmbuf_mtod(s, const uint8_t *), s->data_len};
  return {};
}

size_t Connection::read(std::span<uint8_t> out) {
  SHOAL_CHECK_OWNER();
  size_t n = 0;
  for_each_readable([&](std::span<const uint8_t> s) {
    size_t take = std::min(s.size(), out.size() - n);
    if (take > 0)
      std::memcpy(out.data() + n, s.data(), take);
    n += take;
  });
  consume(n);
  return n;
}

void Connection::consume(size_t n) {
  SHOAL_CHECK_OWNER();
  if (eng_ == nullptr || (dead_ && !lingering_))
    return;
  Engine::Impl::Entry guard(*eng_);
  n = std::min<size_t>(n, rcvq_bytes_);
  rcvq_bytes_ -= static_cast<uint32_t>(n);
  while (n > 0 && rcvq_head_ != nullptr) {
    rte_mbuf *s = rcvq_head_;
    if (n >= s->data_len) {
      n -= s->data_len;
      rcvq_head_ = s->next;
      if (rcvq_head_ == nullptr)
        rcvq_tail_ = nullptr;
      s->next = nullptr;
      rcv_mem_ -= static_cast<uint32_t>(sizeof(rte_mbuf)) + s->buf_len;
      rte_pktmbuf_free_seg(s);
    } else {
      s->data_off = static_cast<uint16_t>(s->data_off + n);
      s->data_len = static_cast<uint16_t>(s->data_len - n);
      n = 0;
    }
  }
  if (lingering_) {
    // The connection finished before its data was read: it ends once the
    // last byte is consumed -- on the next tick rather than inside this
    // call, so the application sees the end of the stream (readable() 0,
    // peer_closed()) before on_closed, and may close() first.
    if (rcvq_bytes_ == 0 && !timers_.armed(ConnTimer::retransmit))
      timers_.schedule(eng_->wheel, ConnTimer::retransmit, eng_->now);
    return;
  }
  eng_->maybe_window_update(*this);
}

size_t Connection::writable() const {
  SHOAL_CHECK_OWNER();
  if (dead_ || fin_queued_ || !in_state(state_, SYN_SENT | SYN_RECEIVED | ESTABLISHED | CLOSE_WAIT))
    return 0;
  return snd_buf_ > sndq_bytes_ ? snd_buf_ - sndq_bytes_ : 0;
}

std::span<uint8_t> Connection::reserve(size_t max) {
  SHOAL_CHECK_OWNER();
  reserved_ = 0;
  const size_t w = std::min(writable(), max);
  if (w == 0)
    return {};
  if (sndq_tail_ == nullptr || rte_pktmbuf_tailroom(sndq_tail_) == 0) {
    rte_mbuf *m = rte_pktmbuf_alloc(eng_->pool);
    if (m == nullptr)
      return {};
    m->data_off = 0; // payload only: no headroom needed
    if (sndq_tail_ != nullptr)
      sndq_tail_->next = m;
    else
      sndq_head_ = m;
    sndq_tail_ = m;
  }
  reserved_ = static_cast<uint32_t>(std::min<size_t>(w, rte_pktmbuf_tailroom(sndq_tail_)));
  return {rte_pktmbuf_mtod_offset(sndq_tail_, uint8_t *, sndq_tail_->data_len), reserved_};
}

void Connection::commit(size_t n) {
  SHOAL_CHECK_OWNER();
  if (eng_ == nullptr || dead_ || sndq_tail_ == nullptr)
    return;
  n = std::min<size_t>(n, reserved_);
  reserved_ = 0;
  if (n == 0)
    return;
  Engine::Impl::Entry guard(*eng_);
  sndq_tail_->data_len = static_cast<uint16_t>(sndq_tail_->data_len + n);
  sndq_tail_->pkt_len = sndq_tail_->data_len;
  sndq_bytes_ += static_cast<uint32_t>(n);
  eng_->output_soon(*this);
}

size_t Connection::write(std::span<const uint8_t> bytes) {
  SHOAL_CHECK_OWNER();
  if (eng_ == nullptr || dead_)
    return 0;
  Engine::Impl::Entry guard(*eng_);
  size_t done = 0;
  while (done < bytes.size()) {
    std::span<uint8_t> room = reserve(bytes.size() - done);
    if (room.empty())
      break;
    std::memcpy(room.data(), bytes.data() + done, room.size());
    sndq_tail_->data_len = static_cast<uint16_t>(sndq_tail_->data_len + room.size());
    sndq_tail_->pkt_len = sndq_tail_->data_len;
    sndq_bytes_ += static_cast<uint32_t>(room.size());
    reserved_ = 0;
    done += room.size();
  }
  if (done > 0)
    eng_->output_soon(*this);
  return done;
}

void Connection::shutdown_write() {
  SHOAL_CHECK_OWNER();
  if (eng_ == nullptr || dead_ || fin_queued_)
    return;
  Engine::Impl::Entry guard(*eng_);
  reserved_ = 0;
  switch (state_) {
  case State::syn_sent:
  case State::syn_received:
    // RFC 9293 3.10.4: queued until ESTABLISHED, then FIN-WAIT-1.
    fin_queued_ = true;
    break;
  case State::established:
    // "Queue this until all preceding SENDs have been segmentized, then form
    //  a FIN segment and send it. In any case, enter FIN-WAIT-1 state."
    fin_queued_ = true;
    eng_->set_state(*this, State::fin_wait_1);
    eng_->output_soon(*this);
    break;
  case State::close_wait:
    // "Queue this request until all preceding SENDs have been segmentized;
    //  then send a FIN segment, enter LAST-ACK state."
    fin_queued_ = true;
    eng_->set_state(*this, State::last_ack);
    eng_->output_soon(*this);
    break;
  default:
    break;
  }
}

void Connection::close() {
  SHOAL_CHECK_OWNER();
  if (eng_ != nullptr && lingering_) {
    // Closing with unread data would reset a live connection (below); this
    // one has finished, both FINs exchanged: the data is simply dropped.
    Engine::Impl::Entry guard(*eng_);
    app_closed_ = true;
    eng_->end_lingering(*this, CloseReason::normal);
    return;
  }
  if (eng_ == nullptr || dead_ || app_closed_)
    return;
  Engine::Impl::Entry guard(*eng_);
  if (state_ == State::syn_sent) {
    // "SYN-SENT STATE: Delete the TCB and return 'error: closing' responses."
    app_closed_ = true;
    eng_->close_connection(*this, CloseReason::aborted);
    return;
  }
  if (rcvq_bytes_ > 0) {
    // RFC 1122 4.2.2.13 / RFC 2525 2.17: closing with unread data loses it;
    // tell the peer with a RST instead of a FIN.
    count(*eng_, Counter::rst_data_after_close);
    eng_->send_rst(*this);
    eng_->close_connection(*this, CloseReason::aborted);
    return;
  }
  app_closed_ = true;
  if (state_ == State::fin_wait_2)
    eng_->start_fin_wait2(*this);
  else
    shutdown_write();
}

void Connection::abort() {
  SHOAL_CHECK_OWNER();
  if (eng_ != nullptr && lingering_) {
    Engine::Impl::Entry guard(*eng_);
    eng_->end_lingering(*this, CloseReason::aborted); // nothing left to reset
    return;
  }
  if (eng_ == nullptr || dead_)
    return;
  Engine::Impl::Entry guard(*eng_);
  // RFC 9293 3.10.5 ABORT: in SYN-RECEIVED and the synchronized states "send
  // a reset segment <SEQ=SND.NXT><CTL=RST>"; in SYN-SENT just delete the TCB.
  if (in_state(state_, SYN_RECEIVED | SYNCHRONIZED)) {
    count(*eng_, Counter::rst_abort);
    eng_->send_rst(*this);
  }
  eng_->close_connection(*this, CloseReason::aborted);
}

void Connection::set_nodelay(bool on) {
  SHOAL_CHECK_OWNER();
  nodelay_ = on;
  if (!on || eng_ == nullptr || dead_)
    return;
  // Whatever Nagle was holding back goes now; as on Linux, so does what
  // TCP_CORK holds (the cork itself stays).
  Engine::Impl::Entry guard(*eng_);
  eng_->output(*this, true);
}

void Connection::set_cork(bool on) {
  SHOAL_CHECK_OWNER();
  if (on == cork_)
    return;
  cork_ = on;
  if (on || eng_ == nullptr || dead_)
    return;
  // Uncorked: the held partial segment goes unless Nagle holds it (an
  // earlier partial segment unacknowledged, no TCP_NODELAY), as Linux.
  Engine::Impl::Entry guard(*eng_);
  eng_->output(*this, nodelay_);
}

bool Connection::set_congestion_control(std::string_view name) {
  SHOAL_CHECK_OWNER();
  std::string_view found;
  for (std::string_view n : congestion_control_names())
    if (n == name)
      found = n;
  if (found.empty())
    return false;
  const CcAlgorithm algo = *congestion_control_algorithm(found);
  cc_choice_ = static_cast<uint8_t>(static_cast<uint8_t>(algo) + 1);
  if (cc_started_ && cc_.algorithm() != algo) {
    // Switch mid-connection: the new algorithm starts from the current
    // window and threshold rather than from the initial window.
    CcConfig cfg = cc_.config();
    cfg.initial_window = cc_.cwnd();
    cfg.initial_ssthresh = cc_.ssthresh() == UINT32_MAX ? 0 : cc_.ssthresh();
    cc_ = CongestionControl(algo, cfg);
    cc_.set_initial_recover(snd_max_);
  }
  return true;
}

Duration Connection::rto() const {
  if (eng_ != nullptr && in_state(state_, SYN_SENT | SYN_RECEIVED))
    return eng_->handshake_rto(*this);
  return rtt_.rto();
}

std::string_view Connection::congestion_control() const {
  if (cc_started_)
    return cc_.name();
  if (cc_choice_ == 0)
    return {}; // the engine's configured one, picked at ESTABLISHED
  return congestion_control_name(static_cast<CcAlgorithm>(cc_choice_ - 1));
}

const ConnTimeouts &Connection::timeouts() const {
  static const ConnTimeouts kNone{};
  return eng_ != nullptr ? eng_->timeouts_of(*this) : kNone;
}

void Connection::set_user_timeout(Duration d) {
  SHOAL_CHECK_OWNER();
  if (eng_ == nullptr)
    return;
  d = d < Duration::zero() ? Duration::zero() : d;
  if (d != user_timeout())
    eng_->custom_timeouts(*this).user_timeout = d;
}

void Connection::set_send_buffer(uint32_t bytes) {
  SHOAL_CHECK_OWNER();
  snd_buf_ = bytes;
}

void Connection::set_receive_buffer(uint32_t bytes) {
  SHOAL_CHECK_OWNER();
  rcv_buf_ = bytes;
  if (eng_ == nullptr || dead_)
    return;
  // A larger buffer may reopen the window right away.
  Engine::Impl::Entry guard(*eng_);
  eng_->maybe_window_update(*this);
}

void Connection::set_keepalive(bool on, Duration idle, Duration interval, int probes) {
  SHOAL_CHECK_OWNER();
  if (eng_ == nullptr)
    return;
  probes = std::min(probes, Engine::Impl::kMaxRetries); // ka_probes_sent_ is 8 bits
  const ConnTimeouts &t = timeouts();
  if (idle != t.keepalive_idle || interval != t.keepalive_interval ||
      probes != t.keepalive_probes) {
    ConnTimeouts &own = eng_->custom_timeouts(*this);
    own.keepalive_idle = idle;
    own.keepalive_interval = interval;
    own.keepalive_probes = probes;
  }
  set_keepalive(on);
}

void Connection::set_keepalive(bool on) {
  SHOAL_CHECK_OWNER();
  if (eng_ == nullptr || dead_)
    return;
  keepalive_on_ = on;
  ka_probes_sent_ = 0;
  eng_->start_keepalive(*this);
}

} // namespace shoal::tcp
