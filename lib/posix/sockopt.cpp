// getsockopt / setsockopt: the options are kept on the socket (so they can
// be set before the connection exists, and are inherited by accepted
// connections) and applied to the Connection when there is one.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "posix/socket.hpp"
#include "posix/socket_impl.hpp"

namespace shoal::posix {

using detail::Socket;
using Kind = Socket::Kind;

namespace {

int fail(int e) {
  errno = e;
  return -1;
}

bool get_int(const void *value, socklen_t len, int &out) {
  if (value == nullptr || len < static_cast<socklen_t>(sizeof(int)))
    return false;
  std::memcpy(&out, value, sizeof out);
  return true;
}

int put(void *value, socklen_t *len, const void *src, size_t n) {
  if (value == nullptr || len == nullptr)
    return fail(EFAULT);
  const size_t k = std::min<size_t>(static_cast<size_t>(*len), n);
  std::memcpy(value, src, k);
  *len = static_cast<socklen_t>(k);
  return 0;
}

int put_int(void *value, socklen_t *len, int v) {
  return put(value, len, &v, sizeof v);
}

// Runs fn(connection) on the socket's shard if it has one; false if not.
template <class F> bool with_connection(Socket &s, F &&fn) {
  bool had = false;
  s.driver->call(s.shard, [&](tcp::Engine &) {
    if (s.conn != nullptr) {
      had = true;
      fn(*s.conn);
    }
  });
  return had;
}

int seconds_of(Duration d) {
  return static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(d).count());
}

} // namespace

int setsockopt(int fd, int level, int name, const void *value, socklen_t len) {
  auto s = detail::socket_for(fd);
  if (!s)
    return -1;
  int v = 0;
  detail::Options o;
  {
    std::lock_guard g(s->mu);
    o = s->opt;
  }
  // What to apply to a live connection once `o` is stored.
  std::function<void(tcp::Connection &)> apply;
  bool listener_update = false; // a listening socket passes `o` to its engines
  if (level == SOL_SOCKET) {
    switch (name) {
    case SO_REUSEADDR:
      if (!get_int(value, len, v))
        return fail(EINVAL);
      o.reuseaddr = v != 0;
      break;
    case SO_KEEPALIVE:
      if (!get_int(value, len, v))
        return fail(EINVAL);
      o.keepalive = v != 0;
      apply = [o, s](tcp::Connection &c) { s->apply_options(c, o); };
      break;
    case SO_LINGER: {
      linger l{};
      if (value == nullptr || len < static_cast<socklen_t>(sizeof l))
        return fail(EINVAL);
      std::memcpy(&l, value, sizeof l);
      o.linger_on = l.l_onoff != 0;
      o.linger_s = std::max(0, l.l_linger);
      break;
    }
    case SO_RCVBUF:
    case SO_SNDBUF:
      if (!get_int(value, len, v))
        return fail(EINVAL);
      v = std::max(v, 2048); // Linux's floor (SOCK_MIN_RCVBUF order of size)
      (name == SO_RCVBUF ? o.rcvbuf : o.sndbuf) = v;
      apply = [name, v](tcp::Connection &c) {
        if (name == SO_RCVBUF)
          c.set_receive_buffer(static_cast<uint32_t>(v));
        else
          c.set_send_buffer(static_cast<uint32_t>(v));
      };
      break;
    default:
      return fail(ENOPROTOOPT);
    }
  } else if (level == IPPROTO_TCP) {
    switch (name) {
    case TCP_NODELAY:
      if (!get_int(value, len, v))
        return fail(EINVAL);
      o.nodelay = v != 0;
      apply = [on = o.nodelay](tcp::Connection &c) { c.set_nodelay(on); };
      break;
    case TCP_CORK:
      if (!get_int(value, len, v))
        return fail(EINVAL);
      o.cork = v != 0;
      apply = [on = o.cork](tcp::Connection &c) { c.set_cork(on); };
      break;
    case TCP_MAXSEG:
      // As Linux (user_mss): 0 (no clamp) or TCP_MIN_MSS 88 .. MAX_TCP_WINDOW
      // 32767. It clamps the MSS of the SYN / SYN-ACK and of the segments
      // sent, so it acts on connect() and listen() that follow (a listener
      // passes it to the connections it accepts); an open connection keeps
      // the MSS it negotiated.
      if (!get_int(value, len, v))
        return fail(EINVAL);
      if (v != 0 && (v < 88 || v > 32767))
        return fail(EINVAL);
      o.maxseg = v;
      listener_update = true;
      break;
    case TCP_KEEPIDLE:
    case TCP_KEEPINTVL:
      if (!get_int(value, len, v))
        return fail(EINVAL);
      if (v < 1 || v > 32767) // Linux MAX_TCP_KEEPIDLE / MAX_TCP_KEEPINTVL
        return fail(EINVAL);
      (name == TCP_KEEPIDLE ? o.keepidle_s : o.keepintvl_s) = v;
      apply = [o, s](tcp::Connection &c) { s->apply_options(c, o); };
      break;
    case TCP_KEEPCNT:
      if (!get_int(value, len, v))
        return fail(EINVAL);
      if (v < 1 || v > 127) // Linux MAX_TCP_KEEPCNT
        return fail(EINVAL);
      o.keepcnt = v;
      apply = [o, s](tcp::Connection &c) { s->apply_options(c, o); };
      break;
    case TCP_USER_TIMEOUT:
      if (!get_int(value, len, v))
        return fail(EINVAL);
      if (v < 0)
        return fail(EINVAL);
      o.user_timeout_ms = static_cast<unsigned>(v);
      apply = [v](tcp::Connection &c) { c.set_user_timeout(std::chrono::milliseconds(v)); };
      break;
    case TCP_CONGESTION: {
      if (value == nullptr || len <= 0)
        return fail(EINVAL);
      std::string cc(static_cast<const char *>(value), static_cast<size_t>(len));
      cc = cc.substr(0, cc.find('\0'));
      bool known = false;
      if (!with_connection(*s, [&](tcp::Connection &c) { known = c.set_congestion_control(cc); }))
        return fail(ENOTCONN); // only per connection: nothing holds it before
      if (!known)
        return fail(ENOENT); // Linux: no such algorithm
      return 0;
    }
    default:
      return fail(ENOPROTOOPT);
    }
  } else {
    return fail(ENOPROTOOPT);
  }
  uint16_t listening_port = 0;
  {
    std::lock_guard g(s->mu);
    s->opt = o;
    if (listener_update && s->kind == Kind::listening)
      listening_port = s->local_port;
  }
  if (apply)
    with_connection(*s, apply);
  if (listening_port != 0)
    for (unsigned shard = 0; shard < s->driver->shards(); shard++)
      s->driver->call(shard, [&](tcp::Engine &e) {
        e.set_listen_options(listening_port,
                             tcp::OpenOptions{static_cast<uint16_t>(o.maxseg)});
      });
  return 0;
}

int getsockopt(int fd, int level, int name, void *value, socklen_t *len) {
  auto s = detail::socket_for(fd);
  if (!s)
    return -1;
  if (value == nullptr || len == nullptr)
    return fail(EFAULT);
  detail::Options o;
  {
    std::lock_guard g(s->mu);
    o = s->opt;
  }
  if (level == SOL_SOCKET) {
    switch (name) {
    case SO_ERROR: {
      int e;
      {
        std::lock_guard g(s->mu);
        e = std::exchange(s->so_error, 0);
      }
      return put_int(value, len, e);
    }
    case SO_TYPE:
      return put_int(value, len, SOCK_STREAM);
    case SO_ACCEPTCONN: {
      bool listening;
      {
        std::lock_guard g(s->mu);
        listening = s->kind == Kind::listening;
      }
      return put_int(value, len, listening ? 1 : 0);
    }
    case SO_REUSEADDR:
      return put_int(value, len, o.reuseaddr ? 1 : 0);
    case SO_KEEPALIVE:
      return put_int(value, len, o.keepalive ? 1 : 0);
    case SO_LINGER: {
      linger l{o.linger_on ? 1 : 0, o.linger_s};
      return put(value, len, &l, sizeof l);
    }
    case SO_RCVBUF:
    case SO_SNDBUF: {
      int v = name == SO_RCVBUF ? o.rcvbuf : o.sndbuf;
      if (!with_connection(*s,
                           [&](tcp::Connection &c) {
                             v = static_cast<int>(name == SO_RCVBUF ? c.receive_buffer()
                                                                    : c.send_buffer());
                           }) &&
          v == 0)
        s->driver->call(0, [&](tcp::Engine &e) {
          v = static_cast<int>(name == SO_RCVBUF ? e.config().rcv_buf : e.config().snd_buf);
        });
      return put_int(value, len, v);
    }
    default:
      return fail(ENOPROTOOPT);
    }
  }
  if (level == IPPROTO_TCP) {
    switch (name) {
    case TCP_NODELAY: {
      int v = o.nodelay ? 1 : 0;
      with_connection(*s, [&](tcp::Connection &c) { v = c.nodelay() ? 1 : 0; });
      return put_int(value, len, v);
    }
    case TCP_CORK: {
      int v = o.cork ? 1 : 0;
      with_connection(*s, [&](tcp::Connection &c) { v = c.cork() ? 1 : 0; });
      return put_int(value, len, v);
    }
    case TCP_MAXSEG: {
      // Before the connection (and on a listener): what was set, else
      // Linux's TCP_MSS_DEFAULT; with a connection, the MSS it sends with.
      int v = o.maxseg != 0 ? o.maxseg : 536;
      with_connection(*s, [&](tcp::Connection &c) { v = c.snd_mss(); });
      return put_int(value, len, v);
    }
    case TCP_KEEPIDLE:
    case TCP_KEEPINTVL:
    case TCP_KEEPCNT: {
      int v = name == TCP_KEEPIDLE    ? o.keepidle_s
              : name == TCP_KEEPINTVL ? o.keepintvl_s
                                      : o.keepcnt;
      if (v == 0)
        s->driver->call(0, [&](tcp::Engine &e) {
          const auto &cfg = e.config();
          v = name == TCP_KEEPIDLE    ? seconds_of(cfg.keepalive_idle)
              : name == TCP_KEEPINTVL ? seconds_of(cfg.keepalive_interval)
                                      : cfg.keepalive_probes;
        });
      return put_int(value, len, v);
    }
    case TCP_USER_TIMEOUT: {
      int v = static_cast<int>(o.user_timeout_ms);
      with_connection(*s, [&](tcp::Connection &c) {
        v = static_cast<int>(
            std::chrono::duration_cast<std::chrono::milliseconds>(c.user_timeout()).count());
      });
      return put_int(value, len, v);
    }
    case TCP_CONGESTION: {
      std::string cc;
      if (!with_connection(*s, [&](tcp::Connection &c) { cc = c.congestion_control(); }) ||
          cc.empty())
        s->driver->call(0, [&](tcp::Engine &e) { cc = e.config().congestion_control; });
      char buf[16] = {};
      std::memcpy(buf, cc.data(), std::min(cc.size(), sizeof buf - 1));
      return put(value, len, buf, sizeof buf);
    }
    default:
      return fail(ENOPROTOOPT);
    }
  }
  return fail(ENOPROTOOPT);
}

} // namespace shoal::posix
