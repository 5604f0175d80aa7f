// poll() and epoll over the facade's sockets, TCP and UDP alike. Readiness
// is each object's File::readiness() (for TCP the state mirror
// Socket::poll_mask, Linux tcp_poll's rules; for UDP a queued datagram, a
// pending ICMP error, always writable); waiters sleep on
// one condition variable that every socket state change notifies
// (readiness_changed), through the driver so a pumping driver steps the
// world instead. Level-triggered, except an EPOLLET entry: it reports a
// socket again only after it changed (new data, acknowledged data, a
// connection, an end: the socket's change counts) in a direction it asked
// for. EPOLLONESHOT disarms an entry until EPOLL_CTL_MOD.
#include <cerrno>
#include <optional>

#include <fcntl.h>

#include "posix/socket.hpp"
#include "posix/socket_impl.hpp"

namespace shoal::posix {

using detail::File;

namespace {

int fail(int e) {
  errno = e;
  return -1;
}

std::optional<Duration> timeout_of(int ms) {
  if (ms < 0)
    return std::nullopt;
  return std::chrono::milliseconds(ms);
}

// Waits on the readiness condition through `d` (or in real time without one).
bool wait_ready(Driver *d, std::unique_lock<std::mutex> &lk, const std::function<bool()> &ready,
                std::optional<Duration> timeout) {
  if (ready())
    return true;
  if (timeout && *timeout == Duration::zero())
    return false;
  if (d != nullptr)
    return d->wait(lk, detail::readiness_cv(), ready, timeout);
  if (!timeout) {
    detail::readiness_cv().wait(lk, ready);
    return true;
  }
  return detail::readiness_cv().wait_for(lk, *timeout, ready);
}

// POLL* and EPOLL* bits have the same values on Linux.
uint32_t mask_of(File &f) {
  uint64_t in = 0, out = 0;
  return static_cast<uint16_t>(f.readiness(&in, &out));
}

// A socket of ours (TCP or UDP); nullptr for anything else, an epoll set
// included (it has no readiness of its own here).
std::shared_ptr<File> socket_file(int fd) {
  std::shared_ptr<File> f = detail::lookup(fd);
  if (!f || std::dynamic_pointer_cast<detail::EpollSet>(f))
    return nullptr;
  return f;
}

} // namespace

int poll(pollfd *fds, nfds_t n, int timeout_ms) {
  if (n > 0 && fds == nullptr)
    return fail(EFAULT);
  Driver *d = nullptr;
  for (nfds_t k = 0; k < n && d == nullptr; k++)
    if (auto f = socket_file(fds[k].fd))
      d = f->driver;
  if (d == nullptr)
    d = default_driver();
  int ready = 0;
  auto scan = [&] {
    ready = 0;
    for (nfds_t k = 0; k < n; k++) {
      pollfd &p = fds[k];
      p.revents = 0;
      if (p.fd < 0)
        continue;
      auto f = socket_file(p.fd);
      const uint32_t m = f ? mask_of(*f) : POLLNVAL;
      p.revents =
          static_cast<short>(m & (static_cast<uint16_t>(p.events) | POLLERR | POLLHUP | POLLNVAL));
      if (p.revents != 0)
        ready++;
    }
    return ready > 0;
  };
  std::unique_lock lk(detail::readiness_mutex());
  wait_ready(d, lk, scan, timeout_of(timeout_ms));
  return ready;
}

int epoll_create1(int flags) {
  if ((flags & ~EPOLL_CLOEXEC) != 0)
    return fail(EINVAL);
  auto e = std::make_shared<detail::EpollSet>();
  e->driver = default_driver();
  return detail::install(e, (flags & EPOLL_CLOEXEC) != 0);
}

int epoll_ctl(int epfd, int op, int fd, epoll_event *event) {
  auto e = detail::epoll_for(epfd);
  if (!e)
    return -1;
  if (fd == epfd)
    return fail(EINVAL);
  auto s = socket_file(fd);
  if (!s) // a kernel descriptor that is not one of ours: as for a regular file
    return fail(::fcntl(fd, F_GETFD) != -1 || detail::lookup(fd) ? EPERM : EBADF);
  {
    std::lock_guard g(e->mu);
    auto it = e->interest.find(fd);
    switch (op) {
    case EPOLL_CTL_ADD:
      if (event == nullptr)
        return fail(EFAULT);
      if (it != e->interest.end() && !it->second.socket.expired())
        return fail(EEXIST);
      e->interest[fd] = detail::EpollInterest{s, event->events, event->data, false};
      if (e->driver == nullptr)
        e->driver = s->driver;
      break;
    case EPOLL_CTL_MOD:
      if (event == nullptr)
        return fail(EFAULT);
      if (it == e->interest.end())
        return fail(ENOENT);
      it->second.events = event->events;
      it->second.data = event->data;
      it->second.disarmed = false;
      it->second.seen_in = it->second.seen_out = ~uint64_t{0};
      break;
    case EPOLL_CTL_DEL:
      if (it == e->interest.end())
        return fail(ENOENT);
      e->interest.erase(it);
      break;
    default:
      return fail(EINVAL);
    }
  }
  detail::readiness_changed();
  return 0;
}

int epoll_wait(int epfd, epoll_event *events, int maxevents, int timeout_ms) {
  auto e = detail::epoll_for(epfd);
  if (!e)
    return -1;
  if (maxevents <= 0)
    return fail(EINVAL);
  if (events == nullptr)
    return fail(EFAULT);
  int got = 0;
  auto scan = [&] {
    got = 0;
    std::lock_guard g(e->mu);
    for (auto it = e->interest.begin(); it != e->interest.end() && got < maxevents;) {
      auto s = it->second.socket.lock();
      // A closed socket leaves the set (the kernel does so on the last close).
      if (!s || detail::lookup(it->first) != s) {
        it = e->interest.erase(it);
        continue;
      }
      detail::EpollInterest &in = it->second;
      uint64_t ch_in = 0, ch_out = 0;
      uint32_t ready =
          in.disarmed ? 0 : static_cast<uint16_t>(s->readiness(&ch_in, &ch_out)) & (in.events | EPOLLERR | EPOLLHUP);
      if (ready != 0 && (in.events & EPOLLET) != 0) {
        // An edge in a direction the entry asked for (errors and hang-ups
        // come with both counts).
        const bool edge =
            ((in.events & (EPOLLIN | EPOLLRDHUP | EPOLLPRI)) != 0 && ch_in != in.seen_in) ||
            ((in.events & EPOLLOUT) != 0 && ch_out != in.seen_out);
        if (edge) {
          in.seen_in = ch_in;
          in.seen_out = ch_out;
        } else {
          ready = 0;
        }
      }
      if (ready != 0) {
        events[got].events = ready;
        events[got].data = in.data;
        got++;
        if ((in.events & EPOLLONESHOT) != 0)
          in.disarmed = true;
      }
      ++it;
    }
    return got > 0;
  };
  Driver *d = nullptr;
  {
    std::lock_guard g(e->mu);
    d = e->driver;
  }
  std::unique_lock lk(detail::readiness_mutex());
  wait_ready(d, lk, scan, timeout_of(timeout_ms));
  return got;
}

} // namespace shoal::posix
