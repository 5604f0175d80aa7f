#pragma once
// shoal::api::Connection and shoal::api::Handler — a TCP connection as an
// application sees it, and the object that receives its events.
//
// Connection is a view: one pointer to the engine's connection, copied by
// value, every method an inline call of the engine's. It is valid from the
// factory call (or connect()) until on_closed returns; after that the
// engine recycles the object behind it. Use it only on its shard (the
// callbacks run there).
//
// Handler: the application derives from it and overrides what it needs.
// The stack owns every handler it was given (a listener factory's or
// connect()'s std::unique_ptr) until the connection ends: it calls
// on_closed exactly once and then destroys the handler. on_closed always
// comes, with the reason:
//  - normal, reset, refused, timed_out, aborted, unreachable: the engine's
//    (tcp::CloseReason);
//  - stack_destroyed: the Stack was destroyed with the connection still
//    open. The connection is then freed without anything sent; inside
//    on_closed it can be looked at but not written to or closed.
// A connect() that opened nothing (ConnectResult::error) destroys the
// handler without any callback: there never was a connection.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>

#include "common/time.hpp"
#include "tcp/connection.hpp"
#include "tcp/engine.hpp"
#include "tcp/state.hpp"
#include "wire/addr.hpp"

namespace shoal::api {

class Stack;
class Handler;

using CloseReason = tcp::CloseReason;
using State = tcp::State;

class Connection {
public:
  Connection() = default; // empty: no connection
  explicit Connection(tcp::Connection &c) : c_(&c) {}
  explicit operator bool() const { return c_ != nullptr; }
  bool operator==(const Connection &) const = default;

  State state() const { return c_->state(); }
  wire::Ipv4Addr local_address() const { return c_->tuple().local_addr; }
  uint16_t local_port() const { return c_->tuple().local_port; }
  wire::Ipv4Addr remote_address() const { return c_->tuple().remote_addr; }
  uint16_t remote_port() const { return c_->tuple().remote_port; }

  // ---- receive (zero-copy: spans over the mbufs the data arrived in) ------
  // Bytes received in order and not yet consumed.
  size_t readable() const { return c_->readable(); }
  // The first contiguous readable span (empty if none).
  std::span<const uint8_t> peek() const { return c_->peek(); }
  // f(std::span<const uint8_t>) over every readable span, in stream order.
  template <class F> void for_each_readable(F &&f) const {
    c_->for_each_readable(static_cast<F &&>(f));
  }
  // Copies up to out.size() readable bytes into `out` and consumes them.
  size_t read(std::span<uint8_t> out) const { return c_->read(out); }
  // Releases the first n readable bytes (n <= readable()).
  void consume(size_t n) const { c_->consume(n); }
  // The peer's FIN has arrived: end of stream once readable() == 0.
  bool peer_closed() const { return c_->peer_closed(); }

  // ---- send (the application writes into the stack's send ring) -----------
  // Send-buffer space left (0 once shutdown_write/close/abort was called).
  size_t writable() const { return c_->writable(); }
  // Contiguous writable space (at most `max` and writable()); empty when full.
  std::span<uint8_t> reserve(size_t max) const { return c_->reserve(max); }
  // Makes the first n bytes of the last reserve() sendable.
  void commit(size_t n) const { c_->commit(n); }
  // reserve/copy/commit until done or full; returns bytes taken.
  size_t write(std::span<const uint8_t> bytes) const { return c_->write(bytes); }
  // Written bytes not yet acknowledged by the peer (sent or not).
  size_t send_queued() const { return c_->send_queued(); }

  // ---- close ---------------------------------------------------------------
  // Half-close: FIN after the queued data; reading continues.
  void shutdown_write() const { c_->shutdown_write(); }
  // Graceful close: FIN after the queued data, then only on_closed. Unread
  // data (now or arriving later) resets the connection instead.
  void close() const { c_->close(); }
  // SO_LINGER 0: RST, queued data discarded, no TIME_WAIT; on_closed(aborted).
  void abort() const { c_->abort(); }

  // ---- options -------------------------------------------------------------
  // TCP_NODELAY (off: Nagle's algorithm).
  void set_nodelay(bool on) const { c_->set_nodelay(on); }
  bool nodelay() const { return c_->nodelay(); }
  // TCP_CORK, as Linux's: partial segments wait while on (at most 200 ms).
  void set_cork(bool on) const { c_->set_cork(on); }
  bool cork() const { return c_->cork(); }
  // "newreno" or "cubic"; false (and no change) for an unknown name.
  bool set_congestion_control(std::string_view name) const {
    return c_->set_congestion_control(name);
  }
  std::string_view congestion_control() const { return c_->congestion_control(); }
  // TCP_USER_TIMEOUT: abort when sent data stays unacknowledged longer (0: off).
  void set_user_timeout(Duration d) const { c_->set_user_timeout(d); }
  Duration user_timeout() const { return c_->user_timeout(); }
  // SO_SNDBUF / SO_RCVBUF in bytes.
  void set_send_buffer(uint32_t bytes) const { c_->set_send_buffer(bytes); }
  void set_receive_buffer(uint32_t bytes) const { c_->set_receive_buffer(bytes); }
  uint32_t send_buffer() const { return c_->send_buffer(); }
  uint32_t receive_buffer() const { return c_->receive_buffer(); }
  // SO_KEEPALIVE, with the stack's configured timing or with these.
  void set_keepalive(bool on) const { c_->set_keepalive(on); }
  void set_keepalive(bool on, Duration idle, Duration interval, int probes) const {
    c_->set_keepalive(on, idle, interval, probes);
  }
  bool keepalive() const { return c_->keepalive(); }
  // TCP_MAXSEG as read back: the largest payload a segment carries.
  uint16_t max_segment() const { return c_->snd_mss(); }

private:
  tcp::Connection *c_ = nullptr;
};

// SO_LINGER: close gracefully, or with linger 0 abort (RST, no TIME_WAIT).
inline void close(Connection c, bool linger_zero = false) {
  if (linger_zero)
    c.abort();
  else
    c.close();
}

namespace detail {
// The engine's side of a Handler: the tcp::ConnectionHandler the engine
// calls, the connection, and the links of the shard's list of live
// handlers (so that the stack can end them when it is destroyed).
struct HandlerLink final : tcp::ConnectionHandler {
  Handler *owner = nullptr; // nullptr: a list head
  tcp::Connection *conn = nullptr;
  HandlerLink *prev = this, *next = this;
  unsigned shard = 0;

  void on_connected(tcp::Connection &c) override;
  void on_readable(tcp::Connection &c) override;
  void on_writable(tcp::Connection &c) override;
  void on_peer_closed(tcp::Connection &c) override;
  // Unlinks, reports, destroys the owner.
  void on_closed(tcp::Connection &c, CloseReason r) override;

  void link_after(HandlerLink &head) {
    prev = &head;
    next = head.next;
    head.next->prev = this;
    head.next = this;
  }
  void unlink() {
    prev->next = next;
    next->prev = prev;
    prev = next = this;
  }
};
} // namespace detail

// The events of one connection, run on its shard. on_closed is the last
// call; the stack destroys the handler right after it returns.
class Handler {
public:
  Handler() { link_.owner = this; }
  virtual ~Handler() = default;
  Handler(const Handler &) = delete;
  Handler &operator=(const Handler &) = delete;

  virtual void on_connected(Connection) {}   // ESTABLISHED (connect() done, or accepted)
  virtual void on_readable(Connection) {}    // new in-order data
  virtual void on_writable(Connection) {}    // send space freed
  virtual void on_peer_closed(Connection) {} // FIN received: end of stream
  virtual void on_closed(Connection, CloseReason) {}

  // The connection (empty before the stack took the handler).
  Connection connection() const {
    return link_.conn != nullptr ? Connection(*link_.conn) : Connection();
  }
  // The shard the connection belongs to (its callbacks run there).
  unsigned shard() const { return link_.shard; }

private:
  friend class Stack;
  friend struct detail::HandlerLink;
  detail::HandlerLink link_;
};

// Called for each connection a listener accepts, on the shard that
// accepted it (so possibly on several shards at once); nullptr refuses the
// connection with RST.
using HandlerFactory = std::function<std::unique_ptr<Handler>(Connection)>;

namespace detail {
inline void HandlerLink::on_connected(tcp::Connection &c) {
  owner->on_connected(Connection(c));
}
inline void HandlerLink::on_readable(tcp::Connection &c) {
  owner->on_readable(Connection(c));
}
inline void HandlerLink::on_writable(tcp::Connection &c) {
  owner->on_writable(Connection(c));
}
inline void HandlerLink::on_peer_closed(tcp::Connection &c) {
  owner->on_peer_closed(Connection(c));
}
inline void HandlerLink::on_closed(tcp::Connection &c, CloseReason r) {
  unlink();
  Handler *h = owner;
  h->on_closed(Connection(c), r);
  delete h; // and this link with it
}
} // namespace detail

} // namespace shoal::api
