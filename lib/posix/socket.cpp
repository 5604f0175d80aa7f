// The socket calls: socket/bind/listen/accept/connect, read/write and their
// vector forms, shutdown/close, fcntl/ioctl, names (socket.hpp).
#include "posix/socket.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <span>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "posix/socket_impl.hpp"

namespace shoal::posix {

using detail::Socket;
using Kind = Socket::Kind;

using detail::fill_sin;
using detail::parse_sin;

namespace {

std::atomic<Driver *> g_default_driver{nullptr};
// Serializes port choice and conflict checks (bind, listen, connect).
std::mutex g_bind_mu;

int fail(int e) {
  errno = e;
  return -1;
}

// Another socket of the same driver holds `port` (g_bind_mu held): Linux
// lets two sockets share it only when both set SO_REUSEADDR and neither
// listens.
bool port_taken(Driver *d, const Socket *self, uint16_t port, bool reuse, bool for_listen) {
  for (const auto &o : detail::all_sockets(d)) {
    if (o.get() == self)
      continue;
    std::lock_guard g(o->mu);
    if (!o->bound || o->local_port != port)
      continue;
    if (o->kind == Kind::dead && o->fd < 0)
      continue;
    if (for_listen ? o->kind == Kind::listening
                   : !(reuse && o->opt.reuseaddr && o->kind != Kind::listening))
      return true;
  }
  return false;
}

uint16_t pick_ephemeral(Driver *d, const Socket *self) {
  uint16_t lo = 32768, hi = 60999;
  d->call(0, [&](tcp::Engine &e) {
    lo = e.config().ephemeral_port_min;
    hi = e.config().ephemeral_port_max;
  });
  static std::atomic<uint32_t> next{0};
  const uint32_t span = static_cast<uint32_t>(hi - lo) + 1;
  const uint32_t start = next.fetch_add(1);
  for (uint32_t k = 0; k < span; k++) {
    const auto p = static_cast<uint16_t>(lo + (start + k) % span);
    if (!port_taken(d, self, p, false, false))
      return p;
  }
  return 0;
}

// The byte ranges of an iovec array.
std::vector<std::span<uint8_t>> spans_of(const iovec *iov, int iovcnt) {
  std::vector<std::span<uint8_t>> out;
  for (int k = 0; k < iovcnt; k++)
    if (iov[k].iov_len > 0)
      out.emplace_back(static_cast<uint8_t *>(iov[k].iov_base), iov[k].iov_len);
  return out;
}

size_t total_of(const std::vector<std::span<uint8_t>> &v) {
  size_t n = 0;
  for (auto s : v)
    n += s.size();
  return n;
}

// Copies readable bytes into `out` (engine side); consumes them unless peeking.
size_t copy_out(tcp::Connection &c, const std::vector<std::span<uint8_t>> &out, bool peek) {
  size_t k = 0, off = 0, copied = 0;
  c.for_each_readable([&](std::span<const uint8_t> in) {
    while (!in.empty() && k < out.size()) {
      const size_t n = std::min(in.size(), out[k].size() - off);
      std::memcpy(out[k].data() + off, in.data(), n);
      in = in.subspan(n);
      off += n;
      copied += n;
      if (off == out[k].size()) {
        k++;
        off = 0;
      }
    }
  });
  if (!peek && copied > 0)
    c.consume(copied);
  return copied;
}

// Writes from `in` starting `skip` bytes in (engine side).
size_t copy_in(tcp::Connection &c, const std::vector<std::span<uint8_t>> &in, size_t skip) {
  size_t taken = 0;
  for (auto s : in) {
    if (skip >= s.size()) {
      skip -= s.size();
      continue;
    }
    s = s.subspan(skip);
    skip = 0;
    const size_t n = c.write(s);
    taken += n;
    if (n < s.size())
      break;
  }
  return taken;
}

void changed(Socket &s, Socket::Direction which = Socket::both, bool bumped = false) {
  s.changed(which, bumped);
}

bool valid_iov(const iovec *iov, int iovcnt) {
  return iovcnt >= 0 && iovcnt <= IOV_MAX && (iovcnt == 0 || iov != nullptr);
}

ssize_t do_read(int fd, const std::vector<std::span<uint8_t>> &out, int flags) {
  auto s = detail::socket_for(fd);
  if (!s)
    return -1;
  if ((flags & MSG_OOB) != 0)
    return fail(EINVAL); // no urgent data, ever
  const bool peek = (flags & MSG_PEEK) != 0;
  const size_t want = total_of(out);
  for (;;) {
    {
      std::unique_lock lk(s->mu);
      const bool dontwait = s->nonblock || (flags & MSG_DONTWAIT) != 0;
      for (;;) {
        if (s->kind == Kind::fresh || s->kind == Kind::listening)
          return fail(ENOTCONN);
        // After SHUT_RD, as Linux: what is queued -- including data that
        // arrives afterwards, which is still acknowledged -- is returned, and
        // 0 (end of stream) only once the queue is empty. Refusing it would
        // strand the data: close() would then find it unread and reset.
        if (s->kind == Kind::connected && s->rcv_avail > 0)
          break;
        if (s->rd_shut)
          return 0;
        if (s->so_error != 0)
          return fail(std::exchange(s->so_error, 0));
        if (s->kind == Kind::dead)
          return s->was_connected ? 0 : fail(ENOTCONN);
        if (s->peer_fin || want == 0)
          return 0;
        if (dontwait)
          return fail(EAGAIN);
        const bool ok = s->driver->wait(
            lk, s->cv,
            [&] {
              return s->rcv_avail > 0 || s->peer_fin || s->so_error != 0 || s->rd_shut ||
                     s->kind == Kind::dead;
            },
            std::nullopt);
        if (!ok) // a signal (EINTR), or a pumping driver ran out of events
          return fail(errno == EINTR ? EINTR : EAGAIN);
      }
    }
    if (want == 0)
      return 0;
    size_t n = 0;
    const bool ran = s->driver->call(s->shard, [&](tcp::Engine &) {
      if (s->conn == nullptr)
        return;
      n = copy_out(*s->conn, out, peek);
      std::lock_guard g(s->mu);
      s->rcv_avail = s->conn->readable();
      s->peer_fin = s->conn->peer_closed();
    });
    if (!ran)
      return fail(EIO);
    if (n > 0)
      return static_cast<ssize_t>(n);
    // The connection went away between the check and the read: look again.
  }
}

ssize_t do_write(int fd, const std::vector<std::span<uint8_t>> &in, int flags) {
  auto s = detail::socket_for(fd);
  if (!s)
    return -1;
  const size_t total = total_of(in);
  size_t done = 0;
  std::unique_lock lk(s->mu);
  const bool dontwait = s->nonblock || (flags & MSG_DONTWAIT) != 0;
  auto partial_or = [&](int e) -> ssize_t {
    return done > 0 ? static_cast<ssize_t>(done) : fail(e);
  };
  for (;;) {
    if (s->so_error != 0) {
      if (done > 0)
        return static_cast<ssize_t>(done);
      return fail(std::exchange(s->so_error, 0));
    }
    if (s->wr_shut)
      return partial_or(EPIPE);
    if (s->kind == Kind::dead)
      return partial_or(s->was_connected ? EPIPE : ENOTCONN);
    if (s->kind == Kind::fresh || s->kind == Kind::listening)
      return fail(ENOTCONN);
    if (done == total && s->kind == Kind::connected)
      return static_cast<ssize_t>(done);
    if (s->kind == Kind::connecting || s->snd_space == 0) {
      if (dontwait)
        return partial_or(EAGAIN);
      const bool ok = s->driver->wait(
          lk, s->cv,
          [&] {
            return s->kind != Kind::connecting &&
                   (s->snd_space > 0 || s->so_error != 0 || s->wr_shut || s->kind == Kind::dead);
          },
          std::nullopt);
      if (!ok)
        return partial_or(errno == EINTR ? EINTR : EAGAIN);
      continue;
    }
    lk.unlock();
    size_t n = 0;
    const bool ran = s->driver->call(s->shard, [&](tcp::Engine &) {
      if (s->conn == nullptr)
        return;
      n = copy_in(*s->conn, in, done);
      std::lock_guard g(s->mu);
      s->snd_space = s->conn->writable();
    });
    lk.lock();
    if (!ran)
      return partial_or(EIO);
    done += n;
    if (done == total)
      return static_cast<ssize_t>(done);
    if (n == 0 && s->snd_space > 0 && s->kind == Kind::connected)
      return partial_or(ENOBUFS); // room in the buffer but no mbuf to hold it
    if (dontwait && n > 0)
      return static_cast<ssize_t>(done);
  }
}

} // namespace

void set_default_driver(Driver *d) {
  g_default_driver.store(d);
}

Driver *default_driver() {
  return g_default_driver.load();
}

bool is_socket(int fd) {
  return std::dynamic_pointer_cast<Socket>(detail::lookup(fd)) != nullptr;
}

bool is_epoll(int fd) {
  return std::dynamic_pointer_cast<detail::EpollSet>(detail::lookup(fd)) != nullptr;
}

int socket(int domain, int type, int protocol) {
  Driver *d = default_driver();
  if (d == nullptr)
    return fail(ENETDOWN);
  return socket(*d, domain, type, protocol);
}

int socket(Driver &d, int domain, int type, int protocol) {
  if (domain != AF_INET)
    return fail(EAFNOSUPPORT);
  if ((type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) != SOCK_STREAM)
    return fail(EPROTONOSUPPORT);
  if (protocol != 0 && protocol != IPPROTO_TCP)
    return fail(EPROTONOSUPPORT);
  auto s = std::make_shared<Socket>();
  s->driver = &d;
  s->nonblock = (type & SOCK_NONBLOCK) != 0;
  return detail::install(s, (type & SOCK_CLOEXEC) != 0);
}

int bind(int fd, const sockaddr *addr, socklen_t len) {
  auto s = detail::socket_for(fd);
  if (!s)
    return -1;
  wire::Ipv4Addr ip;
  uint16_t port = 0;
  int err = 0;
  if (!parse_sin(addr, len, ip, port, err))
    return fail(err);
  if (!ip.is_unspecified() && ip != s->driver->local_address())
    return fail(EADDRNOTAVAIL);
  std::lock_guard bg(g_bind_mu);
  bool reuse;
  {
    std::lock_guard g(s->mu);
    if (s->bound || s->kind != Kind::fresh)
      return fail(EINVAL);
    reuse = s->opt.reuseaddr;
  }
  if (port == 0)
    port = pick_ephemeral(s->driver, s.get());
  if (port == 0 || port_taken(s->driver, s.get(), port, reuse, false))
    return fail(EADDRINUSE);
  std::lock_guard g(s->mu);
  s->bound = true;
  s->local_addr = ip;
  s->local_port = port;
  return 0;
}

int listen(int fd, int backlog) {
  auto s = detail::socket_for(fd);
  if (!s)
    return -1;
  backlog = std::clamp(backlog, 1, SOMAXCONN);
  std::lock_guard bg(g_bind_mu);
  uint16_t port;
  tcp::OpenOptions open_options; // TCP_MAXSEG, inherited by accepted connections
  {
    std::lock_guard g(s->mu);
    if (s->kind == Kind::listening) {
      s->backlog = backlog;
      return 0;
    }
    if (s->kind != Kind::fresh)
      return fail(EINVAL);
    port = s->bound ? s->local_port : 0;
    open_options.max_segment = static_cast<uint16_t>(s->opt.maxseg);
  }
  if (port == 0)
    port = pick_ephemeral(s->driver, s.get());
  if (port == 0 || port_taken(s->driver, s.get(), port, false, true))
    return fail(EADDRINUSE);
  {
    std::lock_guard g(s->mu);
    s->kind = Kind::listening;
    s->bound = true;
    s->local_port = port;
    s->backlog = backlog;
  }
  Driver *d = s->driver;
  std::weak_ptr<Socket> weak = s;
  unsigned registered = 0;
  bool ok = true;
  for (unsigned shard = 0; shard < d->shards() && ok; shard++) {
    // Called for each completed handshake: the child socket is made here,
    // queued for accept(), and becomes the connection's handler. A full
    // backlog pauses the engine's accepting (it then holds completed
    // handshakes in its own accept queue, and past that drops SYNs, as
    // Linux does) until accept() makes room.
    auto factory = [weak, shard, d](tcp::Connection &c) -> tcp::ConnectionHandler * {
      auto l = weak.lock();
      if (!l)
        return nullptr;
      detail::Options o;
      {
        std::lock_guard g(l->mu);
        if (l->kind != Kind::listening)
          return nullptr;
        if (l->accept_queue.size() >= static_cast<size_t>(l->backlog)) {
          c.engine().pause_accept(l->local_port);
          l->accept_paused = true;
          return nullptr;
        }
        o = l->opt;
      }
      auto child = std::make_shared<Socket>();
      child->driver = d;
      child->shard = shard;
      child->opt = o;
      child->kind = Kind::connected;
      child->was_connected = true;
      child->attach(c);
      {
        std::lock_guard g(l->mu);
        if (l->kind != Kind::listening) { // closed meanwhile
          child->conn = nullptr;
          detail::release(child.get());
          return nullptr;
        }
        l->accept_queue.push_back(child);
        l->bump(Socket::in);
      }
      changed(*l, Socket::in, true);
      return child.get();
    };
    if (!d->call(shard, [&](tcp::Engine &e) { ok = e.listen(port, factory, open_options); }))
      ok = false;
    if (ok)
      registered++;
  }
  if (!ok) {
    for (unsigned shard = 0; shard < registered; shard++)
      d->call(shard, [&](tcp::Engine &e) { e.unlisten(port); });
    std::lock_guard g(s->mu);
    s->kind = Kind::fresh;
    return fail(EADDRINUSE);
  }
  return 0;
}

int accept(int fd, sockaddr *addr, socklen_t *len) {
  return posix::accept4(fd, addr, len, 0);
}

int accept4(int fd, sockaddr *addr, socklen_t *len, int flags) {
  auto s = detail::socket_for(fd);
  if (!s)
    return -1;
  if ((flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) != 0)
    return fail(EINVAL);
  std::shared_ptr<Socket> child;
  bool resume = false;
  uint16_t port = 0;
  {
    std::unique_lock lk(s->mu);
    for (;;) {
      if (s->kind != Kind::listening)
        return fail(EINVAL);
      if (!s->accept_queue.empty())
        break;
      if (s->nonblock)
        return fail(EAGAIN);
      const bool ok = s->driver->wait(
          lk, s->cv, [&] { return !s->accept_queue.empty() || s->kind != Kind::listening; },
          std::nullopt);
      if (!ok && s->kind == Kind::listening && s->accept_queue.empty())
        return fail(errno == EINTR ? EINTR : EAGAIN);
    }
    child = std::move(s->accept_queue.front());
    s->accept_queue.pop_front();
    port = s->local_port;
    if (s->accept_paused && s->accept_queue.size() < static_cast<size_t>(s->backlog)) {
      s->accept_paused = false;
      resume = true;
    }
  }
  wire::Ipv4Addr peer;
  uint16_t peer_port;
  {
    std::lock_guard g(child->mu);
    child->nonblock = (flags & SOCK_NONBLOCK) != 0;
    peer = child->remote_addr;
    peer_port = child->remote_port;
  }
  const int cfd = detail::install(child, (flags & SOCK_CLOEXEC) != 0);
  if (cfd < 0) {
    const int e = errno;
    s->driver->call(child->shard, [&](tcp::Engine &) {
      if (child->conn != nullptr)
        child->conn->abort();
    });
    return fail(e);
  }
  if (resume)
    for (unsigned shard = 0; shard < s->driver->shards(); shard++)
      s->driver->call(shard, [&](tcp::Engine &e) { e.resume_accept(port); });
  fill_sin(addr, len, peer, peer_port);
  return cfd;
}

int connect(int fd, const sockaddr *addr, socklen_t len) {
  auto s = detail::socket_for(fd);
  if (!s)
    return -1;
  wire::Ipv4Addr ip;
  uint16_t port = 0;
  int err = 0;
  if (!parse_sin(addr, len, ip, port, err))
    return fail(err);
  if (port == 0 || ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast())
    return fail(ip.is_unspecified() || port == 0 ? ECONNREFUSED : ENETUNREACH);
  std::unique_lock lk(s->mu);
  bool start = true;
  switch (s->kind) {
  case Kind::listening:
  case Kind::connected:
    return fail(EISCONN);
  case Kind::connecting:
    if (s->nonblock)
      return fail(EALREADY);
    start = false; // a blocking connect() joins the attempt in progress
    break;
  case Kind::dead:
    if (s->was_connected)
      return fail(EISCONN);
    if (s->so_error != 0) {
      // The failure of an earlier non-blocking attempt, reported once.
      const int e = std::exchange(s->so_error, 0);
      s->kind = Kind::fresh;
      return fail(e);
    }
    s->kind = Kind::fresh;
    break;
  case Kind::fresh:
    break;
  }
  if (start) {
    const uint16_t local_port = s->bound ? s->local_port : 0;
    const tcp::OpenOptions open_options{static_cast<uint16_t>(s->opt.maxseg)};
    s->kind = Kind::connecting;
    s->remote_addr = ip;
    s->remote_port = port;
    s->close_reason.reset();
    Driver *d = s->driver;
    s->shard = d->connect_shard();
    const unsigned shard = s->shard;
    lk.unlock();
    tcp::Connection *c = nullptr;
    int open_error = 0;
    const bool ran = d->call(shard, [&](tcp::Engine &e) {
      c = d->open(shard, e, ip, port, s.get(), local_port, open_options, &open_error);
      if (c != nullptr)
        s->attach(*c);
    });
    lk.lock();
    if (!ran || c == nullptr) {
      s->kind = Kind::fresh;
      return fail(!ran ? EIO : open_error != 0 ? open_error : EADDRNOTAVAIL);
    }
    s->bound = true;
    // Non-blocking: EINPROGRESS even when the handshake already finished
    // (a shard on another core can be that fast), as Linux answers; the
    // outcome is POLLOUT and SO_ERROR.
    if (s->nonblock)
      return fail(EINPROGRESS);
  }
  const bool ok = s->driver->wait(
      lk, s->cv, [&] { return s->kind != Kind::connecting; }, std::nullopt);
  if (!ok) // a signal: the handshake goes on (EALREADY, then POLLOUT / SO_ERROR)
    return fail(errno == EINTR ? EINTR : EINPROGRESS);
  if (s->kind == Kind::connected)
    return 0;
  const int e = s->so_error != 0 ? std::exchange(s->so_error, 0) : ECONNREFUSED;
  return fail(e);
}

int getsockname(int fd, sockaddr *addr, socklen_t *len) {
  auto s = detail::socket_for(fd);
  if (!s)
    return -1;
  if (addr == nullptr || len == nullptr)
    return fail(EFAULT);
  std::lock_guard g(s->mu);
  fill_sin(addr, len, s->local_addr, s->local_port);
  return 0;
}

int getpeername(int fd, sockaddr *addr, socklen_t *len) {
  auto s = detail::socket_for(fd);
  if (!s)
    return -1;
  if (addr == nullptr || len == nullptr)
    return fail(EFAULT);
  std::lock_guard g(s->mu);
  if (s->kind != Kind::connected)
    return fail(ENOTCONN);
  fill_sin(addr, len, s->remote_addr, s->remote_port);
  return 0;
}

ssize_t read(int fd, void *buf, size_t n) {
  return recv(fd, buf, n, 0);
}

ssize_t recv(int fd, void *buf, size_t n, int flags) {
  if (buf == nullptr && n > 0)
    return fail(EFAULT);
  std::vector<std::span<uint8_t>> out;
  if (n > 0)
    out.emplace_back(static_cast<uint8_t *>(buf), n);
  return do_read(fd, out, flags);
}

ssize_t readv(int fd, const iovec *iov, int iovcnt) {
  if (!valid_iov(iov, iovcnt))
    return fail(EINVAL);
  return do_read(fd, spans_of(iov, iovcnt), 0);
}

ssize_t recvmsg(int fd, msghdr *msg, int flags) {
  if (msg == nullptr)
    return fail(EFAULT);
  if (!valid_iov(msg->msg_iov, static_cast<int>(msg->msg_iovlen)))
    return fail(EINVAL);
  const ssize_t n = do_read(fd, spans_of(msg->msg_iov, static_cast<int>(msg->msg_iovlen)), flags);
  if (n >= 0) {
    msg->msg_controllen = 0;
    msg->msg_flags = 0;
    if (msg->msg_name != nullptr)
      posix::getpeername(fd, static_cast<sockaddr *>(msg->msg_name), &msg->msg_namelen);
  }
  return n;
}

ssize_t write(int fd, const void *buf, size_t n) {
  return send(fd, buf, n, 0);
}

ssize_t send(int fd, const void *buf, size_t n, int flags) {
  if (buf == nullptr && n > 0)
    return fail(EFAULT);
  std::vector<std::span<uint8_t>> in;
  if (n > 0)
    in.emplace_back(static_cast<uint8_t *>(const_cast<void *>(buf)), n);
  return do_write(fd, in, flags);
}

ssize_t writev(int fd, const iovec *iov, int iovcnt) {
  if (!valid_iov(iov, iovcnt))
    return fail(EINVAL);
  return do_write(fd, spans_of(iov, iovcnt), 0);
}

ssize_t sendmsg(int fd, const msghdr *msg, int flags) {
  if (msg == nullptr)
    return fail(EFAULT);
  if (!valid_iov(msg->msg_iov, static_cast<int>(msg->msg_iovlen)))
    return fail(EINVAL);
  return do_write(fd, spans_of(msg->msg_iov, static_cast<int>(msg->msg_iovlen)), flags);
}

int shutdown(int fd, int how) {
  auto s = detail::socket_for(fd);
  if (!s)
    return -1;
  if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
    return fail(EINVAL);
  bool send_fin = false;
  {
    std::lock_guard g(s->mu);
    if (s->kind != Kind::connected && s->kind != Kind::connecting)
      return fail(ENOTCONN);
    if (how != SHUT_WR)
      s->rd_shut = true;
    if (how != SHUT_RD && !s->wr_shut) {
      s->wr_shut = true;
      send_fin = true;
    }
  }
  if (send_fin)
    s->driver->call(s->shard, [&](tcp::Engine &) {
      if (s->conn != nullptr)
        s->conn->shutdown_write();
    });
  changed(*s);
  return 0;
}

int close(int fd) {
  std::shared_ptr<detail::File> f = detail::remove(fd);
  if (!f)
    return fail(EBADF);
  ::syscall(SYS_close, fd); // the kernel's (see fcntl)
  if (f->fd >= 0) // another descriptor (dup) still names it
    return 0;
  f->last_close();
  auto s = std::dynamic_pointer_cast<Socket>(f);
  if (!s)
    return 0;
  Kind was;
  bool linger_zero;
  uint16_t port;
  std::deque<std::shared_ptr<Socket>> unaccepted;
  {
    std::lock_guard g(s->mu);
    was = s->kind;
    linger_zero = s->opt.linger_on && s->opt.linger_s == 0;
    port = s->local_port;
    unaccepted.swap(s->accept_queue);
    if (was == Kind::listening || was == Kind::fresh)
      s->kind = Kind::dead;
  }
  Driver *d = s->driver;
  if (was == Kind::listening) {
    // Connections nobody accepted are reset, as Linux does.
    for (unsigned shard = 0; shard < d->shards(); shard++)
      d->call(shard, [&](tcp::Engine &e) {
        e.unlisten(port);
        for (auto &c : unaccepted)
          if (c->shard == shard && c->conn != nullptr)
            c->conn->abort();
      });
  } else if (was != Kind::fresh) {
    d->call(s->shard, [&](tcp::Engine &) {
      if (s->conn == nullptr)
        return;
      if (linger_zero)
        s->conn->abort(); // SO_LINGER {1, 0}: RST, no TIME_WAIT
      else
        s->conn->close();
    });
  }
  changed(*s);
  return 0;
}

int fcntl(int fd, int cmd, long arg) {
  std::shared_ptr<detail::File> f = detail::lookup(fd);
  if (!f)
    return fail(EBADF);
  auto s = std::dynamic_pointer_cast<Socket>(f);
  switch (cmd) {
  case F_GETFD:
  case F_SETFD:
    // The kernel's own call (not a libc name an LD_PRELOAD library may
    // define, which would come back here).
    return static_cast<int>(::syscall(SYS_fcntl, fd, cmd, arg));
  case F_GETFL:
    if (!s)
      return O_RDWR;
    {
      std::lock_guard g(s->mu);
      return O_RDWR | (s->nonblock ? O_NONBLOCK : 0);
    }
  case F_SETFL:
    if (s) {
      std::lock_guard g(s->mu);
      s->nonblock = (arg & O_NONBLOCK) != 0;
    }
    return 0;
  default:
    return fail(EINVAL);
  }
}

int ioctl(int fd, unsigned long request, void *arg) {
  auto s = detail::socket_for(fd);
  if (!s)
    return -1;
  if (arg == nullptr)
    return fail(EFAULT);
  int value = 0;
  switch (request) {
  case FIONREAD: { // == SIOCINQ
    std::lock_guard g(s->mu);
    if (s->kind == Kind::listening)
      return fail(EINVAL);
    value = static_cast<int>(std::min<size_t>(s->rcv_avail, INT32_MAX));
    break;
  }
  case SIOCOUTQ: {
    {
      std::lock_guard g(s->mu);
      if (s->kind == Kind::listening)
        return fail(EINVAL);
    }
    size_t q = 0;
    s->driver->call(s->shard, [&](tcp::Engine &) {
      if (s->conn != nullptr)
        q = s->conn->send_queued();
    });
    value = static_cast<int>(std::min<size_t>(q, INT32_MAX));
    break;
  }
  case FIONBIO: {
    int on;
    std::memcpy(&on, arg, sizeof on);
    std::lock_guard g(s->mu);
    s->nonblock = on != 0;
    return 0;
  }
  default:
    return fail(ENOTTY);
  }
  std::memcpy(arg, &value, sizeof value);
  return 0;
}

} // namespace shoal::posix
