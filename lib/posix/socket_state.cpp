// Socket: the engine's callbacks mirrored into state application threads
// can wait on (socket_impl.hpp), and poll readiness from that state.
#include <cerrno>

#include <poll.h>

#include "posix/socket_impl.hpp"

namespace shoal::posix::detail {

int errno_for(tcp::CloseReason why, bool while_connecting) {
  switch (why) {
  case tcp::CloseReason::normal:
    return 0;
  case tcp::CloseReason::reset:
    // A RST answering our SYN is a refusal (RFC 9293 3.10.7.3).
    return while_connecting ? ECONNREFUSED : ECONNRESET;
  case tcp::CloseReason::refused:
    return ECONNREFUSED;
  case tcp::CloseReason::timed_out:
    return ETIMEDOUT;
  case tcp::CloseReason::aborted:
  case tcp::CloseReason::stack_destroyed:
    return ECONNABORTED;
  case tcp::CloseReason::unreachable:
    return EHOSTUNREACH;
  }
  return EIO;
}

Socket::~Socket() = default;

uint32_t Socket::readiness(uint64_t *in, uint64_t *out) {
  std::lock_guard g(mu);
  *in = changes_in.load(std::memory_order_relaxed);
  *out = changes_out.load(std::memory_order_relaxed);
  return static_cast<uint16_t>(poll_mask());
}

void Socket::changed(Direction which, bool bumped) {
  if (!bumped) {
    std::lock_guard g(mu);
    bump(which);
  }
  cv.notify_all();
  readiness_changed();
}

unsigned Socket::mirror(tcp::Connection &c) {
  unsigned grew = 0;
  const size_t avail = c.readable(), space = c.writable();
  const bool fin = c.peer_closed();
  if (avail > rcv_avail || (fin && !peer_fin))
    grew |= in;
  if (space > snd_space)
    grew |= out;
  rcv_avail = avail;
  snd_space = space;
  peer_fin = fin;
  return grew;
}

void Socket::attach(tcp::Connection &c) {
  conn = &c;
  hold(shared_from_this());
  Options o;
  {
    std::lock_guard g(mu);
    o = opt;
  }
  apply_options(c, o);
  std::lock_guard g(mu);
  local_addr = c.tuple().local_addr;
  local_port = c.tuple().local_port;
  remote_addr = c.tuple().remote_addr;
  remote_port = c.tuple().remote_port;
  mirror(c);
}

void Socket::apply_options(tcp::Connection &c, const Options &o) {
  // Only what the application changed: the engine's defaults stay otherwise.
  if (o.nodelay)
    c.set_nodelay(true);
  if (o.cork)
    c.set_cork(true);
  if (o.rcvbuf > 0)
    c.set_receive_buffer(static_cast<uint32_t>(o.rcvbuf));
  if (o.sndbuf > 0)
    c.set_send_buffer(static_cast<uint32_t>(o.sndbuf));
  if (o.user_timeout_ms > 0)
    c.set_user_timeout(std::chrono::milliseconds(o.user_timeout_ms));
  if (o.keepalive || o.keepidle_s > 0 || o.keepintvl_s > 0 || o.keepcnt > 0) {
    const tcp::EngineConfig &cfg = c.engine().config();
    c.set_keepalive(
        o.keepalive,
        o.keepidle_s > 0 ? Duration(std::chrono::seconds(o.keepidle_s)) : cfg.keepalive_idle,
        o.keepintvl_s > 0 ? Duration(std::chrono::seconds(o.keepintvl_s)) : cfg.keepalive_interval,
        o.keepcnt > 0 ? o.keepcnt : cfg.keepalive_probes);
  }
}

short Socket::poll_mask() const {
  if (kind == Kind::listening)
    return accept_queue.empty() ? 0 : POLLIN | POLLRDNORM;
  // Linux tcp_poll: a closed (or never connected) socket is POLLHUP and
  // POLLOUT; a received FIN or SHUT_RD makes it readable (end of stream).
  short m = 0;
  const bool gone = kind == Kind::dead;
  if (so_error != 0)
    m |= POLLERR;
  if (kind == Kind::fresh || gone || (rd_shut && wr_shut))
    m |= POLLHUP;
  if (rd_shut || peer_fin || gone)
    m |= POLLIN | POLLRDNORM | POLLRDHUP;
  if (kind == Kind::connected) {
    if (rcv_avail > 0)
      m |= POLLIN | POLLRDNORM;
    if (wr_shut || snd_space > 0)
      m |= POLLOUT | POLLWRNORM;
  }
  if (kind == Kind::fresh || gone)
    m |= POLLOUT | POLLWRNORM;
  return m;
}

void Socket::on_connected(tcp::Connection &c) {
  {
    std::lock_guard g(mu);
    if (kind == Kind::connecting || kind == Kind::fresh)
      kind = Kind::connected;
    was_connected = true;
    mirror(c);
    bump(both);
  }
  changed(both, true);
}

void Socket::changed_after_mirror(tcp::Connection &c) {
  Direction which;
  {
    std::lock_guard g(mu);
    // An edge is what grew, whichever callback shows it: data queued before
    // the callback for acknowledged space ran counts as readable news; a
    // callback that shows nothing new (a duplicate segment) counts as none,
    // as Linux wakes no reader for it.
    which = static_cast<Direction>(mirror(c));
    bump(which);
  }
  changed(which, true);
}

void Socket::on_readable(tcp::Connection &c) {
  changed_after_mirror(c);
}

void Socket::on_writable(tcp::Connection &c) {
  changed_after_mirror(c);
}

void Socket::on_peer_closed(tcp::Connection &c) {
  changed_after_mirror(c);
}

void Socket::on_closed(tcp::Connection &, tcp::CloseReason why) {
  conn = nullptr;
  {
    std::lock_guard g(mu);
    const int e = errno_for(why, kind == Kind::connecting);
    if (e != 0 && why != tcp::CloseReason::aborted)
      so_error = e;
    else if (e != 0 && kind == Kind::connecting)
      so_error = e;
    close_reason = why;
    kind = Kind::dead;
    rcv_avail = 0;
    snd_space = 0;
    bump(both);
  }
  changed(both, true);
  // Dropped last: this may be the final reference.
  std::shared_ptr<Socket> keep = release(this);
}

} // namespace shoal::posix::detail
