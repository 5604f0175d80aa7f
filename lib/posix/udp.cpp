// UDP sockets of the POSIX facade (udp.hpp): a descriptor object whose
// receive queue the shards' UDP sockets fill (engine side, through their
// receive callbacks) and the application drains.
#include "posix/udp.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <span>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "posix/socket.hpp"
#include "posix/socket_impl.hpp"
#include "shard/udp.hpp"

namespace shoal::posix {

using detail::fill_sin;
using detail::parse_sin;

namespace {

int fail(int e) {
  errno = e;
  return -1;
}

constexpr size_t kDefaultReceiveBytes = 212992; // Linux's net.core.rmem_default

struct Datagram {
  std::vector<uint8_t> bytes;
  wire::Ipv4Addr from;
  uint16_t from_port = 0;
};

class UdpFile final : public detail::File, public std::enable_shared_from_this<UdpFile> {
public:
  std::mutex mu;
  std::condition_variable cv;
  // ---- guarded by mu ----
  bool nonblock = false;
  bool bound = false;
  uint16_t local_port = 0;
  wire::Ipv4Addr remote{};
  uint16_t remote_port = 0; // 0: not connected
  int error = 0;            // SO_ERROR (an ICMP error on a connected socket)
  std::deque<Datagram> queue;
  size_t queued_bytes = 0;
  size_t receive_bytes = kDefaultReceiveBytes;
  uint64_t drops = 0;
  bool reuseaddr = false;
  std::atomic<uint64_t> changes_in{0}, changes_out{0};
  // ---- engine side (Driver::call) ----
  std::vector<shard::UdpSocket *> per_shard;

  uint32_t readiness(uint64_t *in, uint64_t *out) override {
    std::lock_guard g(mu);
    *in = changes_in.load(std::memory_order_relaxed);
    *out = changes_out.load(std::memory_order_relaxed);
    uint32_t m = POLLOUT | POLLWRNORM;
    if (!queue.empty())
      m |= POLLIN | POLLRDNORM;
    if (error != 0)
      m |= POLLERR;
    return m;
  }

  void last_close() override {
    // The shards' sockets close; their callbacks hold only a weak pointer.
    for (unsigned s = 0; s < per_shard.size(); s++)
      driver->call(s, [&](tcp::Engine &) {
        if (per_shard[s] != nullptr)
          per_shard[s]->close();
        per_shard[s] = nullptr;
      });
  }

  void changed(bool in, bool out) {
    if (in)
      changes_in.fetch_add(1, std::memory_order_relaxed);
    if (out)
      changes_out.fetch_add(1, std::memory_order_relaxed);
  }
  void notify() {
    cv.notify_all();
    detail::readiness_changed();
  }
};

std::shared_ptr<UdpFile> udp_for(int fd) {
  auto u = std::dynamic_pointer_cast<UdpFile>(detail::lookup(fd));
  if (!u)
    errno = detail::lookup(fd) ? ENOTSOCK : EBADF;
  return u;
}

// Opens the socket on every shard (engine side through call()): `port` 0
// takes an ephemeral port on the first shard and the same on the others.
int open_everywhere(const std::shared_ptr<UdpFile> &u, uint16_t port) {
  Driver *d = u->driver;
  const unsigned n = d->shards();
  std::weak_ptr<UdpFile> weak = u;
  std::vector<shard::UdpSocket *> opened(n, nullptr);
  for (unsigned s = 0; s < n; s++) {
    bool ok = false;
    d->call(s, [&](tcp::Engine &) {
      shard::UdpSocket *sock = d->udp_open(s, port);
      if (sock == nullptr)
        return;
      ok = true;
      opened[s] = sock;
      if (port == 0)
        port = sock->local_port();
      sock->on_receive([weak](shard::UdpSocket &, const shard::UdpDatagram &dg) {
        auto f = weak.lock();
        if (!f)
          return;
        {
          std::lock_guard g(f->mu);
          if (f->queued_bytes + dg.payload.size() > f->receive_bytes) {
            f->drops++;
            return;
          }
          f->queue.push_back(Datagram{{dg.payload.begin(), dg.payload.end()}, dg.remote,
                                      dg.remote_port});
          f->queued_bytes += dg.payload.size();
          f->changed(true, false);
        }
        f->notify();
      });
      sock->on_error([weak](shard::UdpSocket &, int e) {
        auto f = weak.lock();
        if (!f)
          return;
        {
          std::lock_guard g(f->mu);
          f->error = e;
          f->changed(true, true);
        }
        f->notify();
      });
    });
    if (!ok) {
      for (unsigned k = 0; k < s; k++)
        d->call(k, [&](tcp::Engine &) { opened[k]->close(); });
      return EADDRINUSE; // taken on a shard (or no ephemeral port free)
    }
  }
  u->per_shard = std::move(opened);
  std::lock_guard g(u->mu);
  u->bound = true;
  u->local_port = port;
  return 0;
}

// Binds an unbound socket to an ephemeral port (send, connect).
int ensure_bound(const std::shared_ptr<UdpFile> &u) {
  {
    std::lock_guard g(u->mu);
    if (u->bound)
      return 0;
  }
  return open_everywhere(u, 0);
}

// The pending ICMP error of a connected socket, reported once (mu held).
int take_error(UdpFile &u) {
  return std::exchange(u.error, 0);
}

ssize_t send_datagram(const std::shared_ptr<UdpFile> &u, std::span<const uint8_t> bytes, int,
                      const sockaddr *to, socklen_t tolen) {
  wire::Ipv4Addr dst{};
  uint16_t dst_port = 0;
  if (to != nullptr) {
    int err = 0;
    if (!parse_sin(to, tolen, dst, dst_port, err))
      return fail(err);
    if (dst_port == 0)
      return fail(EINVAL);
  }
  if (int e = ensure_bound(u); e != 0)
    return fail(e);
  {
    std::lock_guard g(u->mu);
    if (int e = take_error(*u); e != 0)
      return fail(e);
    if (to == nullptr) {
      if (u->remote_port == 0)
        return fail(EDESTADDRREQ);
      dst = u->remote;
      dst_port = u->remote_port;
    }
  }
  int rc = EIO;
  const bool ran = u->driver->call(0, [&](tcp::Engine &) {
    if (!u->per_shard.empty() && u->per_shard[0] != nullptr)
      rc = u->per_shard[0]->send_to(dst, dst_port, bytes);
  });
  if (!ran)
    return fail(EIO);
  if (rc != 0)
    return fail(rc);
  return static_cast<ssize_t>(bytes.size());
}

ssize_t receive_datagram(const std::shared_ptr<UdpFile> &u, std::span<uint8_t> out, int flags,
                         sockaddr *from, socklen_t *fromlen, bool *truncated) {
  std::unique_lock lk(u->mu);
  const bool dontwait = u->nonblock || (flags & MSG_DONTWAIT) != 0;
  for (;;) {
    if (!u->queue.empty())
      break;
    if (int e = take_error(*u); e != 0)
      return fail(e);
    if (dontwait)
      return fail(EAGAIN);
    if (!u->driver->wait(
            lk, u->cv, [&] { return !u->queue.empty() || u->error != 0; }, std::nullopt))
      return fail(errno == EINTR ? EINTR : EAGAIN);
  }
  Datagram &d = u->queue.front();
  const size_t n = std::min(out.size(), d.bytes.size());
  if (n > 0)
    std::memcpy(out.data(), d.bytes.data(), n);
  const size_t full = d.bytes.size();
  if (truncated != nullptr)
    *truncated = full > out.size();
  fill_sin(from, fromlen, d.from, d.from_port);
  if ((flags & MSG_PEEK) == 0) {
    u->queued_bytes -= full;
    u->queue.pop_front();
  }
  return static_cast<ssize_t>((flags & MSG_TRUNC) != 0 ? full : n);
}

std::vector<uint8_t> gather(const iovec *iov, size_t n) {
  std::vector<uint8_t> v;
  for (size_t k = 0; k < n; k++)
    v.insert(v.end(), static_cast<const uint8_t *>(iov[k].iov_base),
             static_cast<const uint8_t *>(iov[k].iov_base) + iov[k].iov_len);
  return v;
}

} // namespace

int udp_socket(int flags) {
  Driver *d = default_driver();
  if (d == nullptr)
    return fail(ENETDOWN);
  return udp_socket(*d, flags);
}

int udp_socket(Driver &d, int flags) {
  auto u = std::make_shared<UdpFile>();
  u->driver = &d;
  u->nonblock = (flags & SOCK_NONBLOCK) != 0;
  return detail::install(u, (flags & SOCK_CLOEXEC) != 0);
}

bool is_udp(int fd) {
  return std::dynamic_pointer_cast<UdpFile>(detail::lookup(fd)) != nullptr;
}

int udp_bind(int fd, const sockaddr *addr, socklen_t len) {
  auto u = udp_for(fd);
  if (!u)
    return -1;
  wire::Ipv4Addr ip;
  uint16_t port = 0;
  int err = 0;
  if (!parse_sin(addr, len, ip, port, err))
    return fail(err);
  if (!ip.is_unspecified() && ip != u->driver->local_address())
    return fail(EADDRNOTAVAIL);
  {
    std::lock_guard g(u->mu);
    if (u->bound)
      return fail(EINVAL);
  }
  if (int e = open_everywhere(u, port); e != 0)
    return fail(e);
  return 0;
}

int udp_connect(int fd, const sockaddr *addr, socklen_t len) {
  auto u = udp_for(fd);
  if (!u)
    return -1;
  wire::Ipv4Addr ip{};
  uint16_t port = 0;
  int err = 0;
  bool unspec = false;
  if (!parse_sin(addr, len, ip, port, err, &unspec))
    return fail(err);
  if (unspec) { // AF_UNSPEC: dissolve the association
    ip = wire::Ipv4Addr{};
    port = 0;
  } else if (port == 0) {
    return fail(ECONNREFUSED);
  }
  if (int e = ensure_bound(u); e != 0)
    return fail(e);
  bool ok = true;
  for (unsigned s = 0; s < u->per_shard.size(); s++)
    u->driver->call(s, [&](tcp::Engine &) {
      if (u->per_shard[s] != nullptr && !u->per_shard[s]->connect(ip, port))
        ok = false;
    });
  if (!ok)
    return fail(ENETUNREACH); // a broadcast or multicast remote
  std::lock_guard g(u->mu);
  u->remote = ip;
  u->remote_port = port;
  u->error = 0;
  return 0;
}

ssize_t udp_sendto(int fd, const void *buf, size_t n, int flags, const sockaddr *to,
                   socklen_t tolen) {
  auto u = udp_for(fd);
  if (!u)
    return -1;
  if (buf == nullptr && n > 0)
    return fail(EFAULT);
  return send_datagram(u, {static_cast<const uint8_t *>(buf), n}, flags, to, tolen);
}

ssize_t udp_sendmsg(int fd, const msghdr *msg, int flags) {
  auto u = udp_for(fd);
  if (!u)
    return -1;
  if (msg == nullptr || (msg->msg_iovlen > 0 && msg->msg_iov == nullptr))
    return fail(EFAULT);
  const std::vector<uint8_t> v = gather(msg->msg_iov, msg->msg_iovlen);
  return send_datagram(u, v, flags, static_cast<const sockaddr *>(msg->msg_name),
                       msg->msg_namelen);
}

ssize_t udp_recvfrom(int fd, void *buf, size_t n, int flags, sockaddr *from, socklen_t *fromlen) {
  auto u = udp_for(fd);
  if (!u)
    return -1;
  if (buf == nullptr && n > 0)
    return fail(EFAULT);
  return receive_datagram(u, {static_cast<uint8_t *>(buf), n}, flags, from, fromlen, nullptr);
}

ssize_t udp_recvmsg(int fd, msghdr *msg, int flags) {
  auto u = udp_for(fd);
  if (!u)
    return -1;
  if (msg == nullptr || (msg->msg_iovlen > 0 && msg->msg_iov == nullptr))
    return fail(EFAULT);
  size_t total = 0;
  for (size_t k = 0; k < msg->msg_iovlen; k++)
    total += msg->msg_iov[k].iov_len;
  std::vector<uint8_t> tmp(total);
  bool truncated = false;
  socklen_t namelen = msg->msg_namelen;
  const ssize_t r = receive_datagram(u, tmp, flags, static_cast<sockaddr *>(msg->msg_name),
                                     msg->msg_name != nullptr ? &namelen : nullptr, &truncated);
  if (r < 0)
    return r;
  size_t off = 0;
  const size_t have = std::min(tmp.size(), static_cast<size_t>(r));
  for (size_t k = 0; k < msg->msg_iovlen && off < have; k++) {
    const size_t c = std::min(msg->msg_iov[k].iov_len, have - off);
    std::memcpy(msg->msg_iov[k].iov_base, tmp.data() + off, c);
    off += c;
  }
  if (msg->msg_name != nullptr)
    msg->msg_namelen = namelen;
  msg->msg_controllen = 0;
  msg->msg_flags = truncated ? MSG_TRUNC : 0;
  return r;
}

int udp_getsockname(int fd, sockaddr *addr, socklen_t *len) {
  auto u = udp_for(fd);
  if (!u)
    return -1;
  if (addr == nullptr || len == nullptr)
    return fail(EFAULT);
  std::lock_guard g(u->mu);
  fill_sin(addr, len, u->remote_port != 0 ? u->driver->local_address() : wire::Ipv4Addr{},
           u->local_port);
  return 0;
}

int udp_getpeername(int fd, sockaddr *addr, socklen_t *len) {
  auto u = udp_for(fd);
  if (!u)
    return -1;
  if (addr == nullptr || len == nullptr)
    return fail(EFAULT);
  std::lock_guard g(u->mu);
  if (u->remote_port == 0)
    return fail(ENOTCONN);
  fill_sin(addr, len, u->remote, u->remote_port);
  return 0;
}

int udp_getsockopt(int fd, int level, int name, void *value, socklen_t *len) {
  auto u = udp_for(fd);
  if (!u)
    return -1;
  if (value == nullptr || len == nullptr || *len < static_cast<socklen_t>(sizeof(int)))
    return fail(EINVAL);
  int v = 0;
  if (level != SOL_SOCKET)
    return fail(ENOPROTOOPT);
  {
    std::lock_guard g(u->mu);
    switch (name) {
    case SO_ERROR:
      v = take_error(*u);
      break;
    case SO_TYPE:
      v = SOCK_DGRAM;
      break;
    case SO_DOMAIN:
      v = AF_INET;
      break;
    case SO_PROTOCOL:
      v = IPPROTO_UDP;
      break;
    case SO_RCVBUF:
      v = static_cast<int>(u->receive_bytes);
      break;
    case SO_SNDBUF:
      v = static_cast<int>(kDefaultReceiveBytes);
      break;
    case SO_REUSEADDR:
      v = u->reuseaddr ? 1 : 0;
      break;
    default:
      return fail(ENOPROTOOPT);
    }
  }
  std::memcpy(value, &v, sizeof v);
  *len = sizeof v;
  return 0;
}

int udp_setsockopt(int fd, int level, int name, const void *value, socklen_t len) {
  auto u = udp_for(fd);
  if (!u)
    return -1;
  if (level != SOL_SOCKET)
    return fail(ENOPROTOOPT);
  if (value == nullptr || len < static_cast<socklen_t>(sizeof(int)))
    return fail(EINVAL);
  int v;
  std::memcpy(&v, value, sizeof v);
  std::lock_guard g(u->mu);
  switch (name) {
  case SO_RCVBUF:
    u->receive_bytes = static_cast<size_t>(std::max(v, 2048));
    return 0;
  case SO_SNDBUF: // datagrams leave at once: nothing is buffered to size
    return 0;
  case SO_REUSEADDR:
    u->reuseaddr = v != 0;
    return 0;
  default:
    return fail(ENOPROTOOPT);
  }
}

int udp_ioctl(int fd, unsigned long request, void *arg) {
  auto u = udp_for(fd);
  if (!u)
    return -1;
  if (arg == nullptr)
    return fail(EFAULT);
  std::lock_guard g(u->mu);
  int v;
  switch (request) {
  case FIONREAD:
    v = u->queue.empty() ? 0 : static_cast<int>(u->queue.front().bytes.size());
    break;
  case FIONBIO:
    std::memcpy(&v, arg, sizeof v);
    u->nonblock = v != 0;
    return 0;
  default:
    return fail(ENOTTY);
  }
  std::memcpy(arg, &v, sizeof v);
  return 0;
}

int udp_fcntl(int fd, int cmd, long arg) {
  auto u = udp_for(fd);
  if (!u)
    return -1;
  switch (cmd) {
  case F_GETFD:
  case F_SETFD:
    return static_cast<int>(::syscall(SYS_fcntl, fd, cmd, arg));
  case F_GETFL: {
    std::lock_guard g(u->mu);
    return O_RDWR | (u->nonblock ? O_NONBLOCK : 0);
  }
  case F_SETFL: {
    std::lock_guard g(u->mu);
    u->nonblock = (arg & O_NONBLOCK) != 0;
    return 0;
  }
  default:
    return fail(EINVAL);
  }
}

} // namespace shoal::posix
