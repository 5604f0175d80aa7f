// The descriptor table: kernel eventfd numbers -> facade objects, the
// sockets held alive by their connections, and the readiness condition
// variable that poll()/epoll_wait() sleep on.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <unordered_map>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "posix/socket_impl.hpp"

namespace shoal::posix::detail {
namespace {

struct Registry {
  std::mutex mu;
  std::unordered_map<int, std::shared_ptr<File>> files;
  std::unordered_map<Socket *, std::shared_ptr<Socket>> held;
};

Registry &registry() {
  static Registry *r = new Registry; // outlives every static destructor that may close sockets
  return *r;
}

struct Readiness {
  std::mutex mu;
  std::condition_variable cv;
};

Readiness &readiness() {
  static Readiness *r = new Readiness;
  return *r;
}

} // namespace

File::~File() = default;

bool parse_sin(const sockaddr *addr, socklen_t len, wire::Ipv4Addr &ip, uint16_t &port, int &err,
               bool *unspec) {
  if (addr == nullptr) {
    err = EFAULT;
    return false;
  }
  if (unspec != nullptr && len >= static_cast<socklen_t>(sizeof(sa_family_t)) &&
      addr->sa_family == AF_UNSPEC) {
    *unspec = true;
    return true;
  }
  if (len < static_cast<socklen_t>(sizeof(sockaddr_in))) {
    err = EINVAL;
    return false;
  }
  sockaddr_in sin;
  std::memcpy(&sin, addr, sizeof sin);
  if (sin.sin_family != AF_INET) {
    err = EAFNOSUPPORT;
    return false;
  }
  ip = wire::Ipv4Addr::from_be(sin.sin_addr.s_addr);
  port = ntohs(sin.sin_port);
  return true;
}

void fill_sin(sockaddr *addr, socklen_t *len, wire::Ipv4Addr ip, uint16_t port) {
  if (addr == nullptr || len == nullptr)
    return;
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = ip.to_be();
  std::memcpy(addr, &sin, std::min<size_t>(*len, sizeof sin));
  *len = sizeof sin;
} // descriptors are closed by close() and forget()

std::shared_ptr<File> lookup(int fd) {
  Registry &r = registry();
  std::lock_guard g(r.mu);
  auto it = r.files.find(fd);
  return it == r.files.end() ? nullptr : it->second;
}

std::shared_ptr<Socket> socket_for(int fd) {
  std::shared_ptr<File> f = lookup(fd);
  if (auto s = std::dynamic_pointer_cast<Socket>(f))
    return s;
  // A descriptor of ours that is not a socket, or any open kernel descriptor:
  // ENOTSOCK (as the kernel says for a file); nothing open: EBADF.
  errno = (f != nullptr || (fd >= 0 && ::fcntl(fd, F_GETFD) != -1)) ? ENOTSOCK : EBADF;
  return nullptr;
}

std::shared_ptr<EpollSet> epoll_for(int fd) {
  std::shared_ptr<File> f = lookup(fd);
  if (auto e = std::dynamic_pointer_cast<EpollSet>(f))
    return e;
  errno = (f != nullptr || (fd >= 0 && ::fcntl(fd, F_GETFD) != -1)) ? EINVAL : EBADF;
  return nullptr;
}

int install(const std::shared_ptr<File> &f, bool cloexec) {
  const int fd = ::eventfd(0, cloexec ? EFD_CLOEXEC : 0);
  if (fd < 0)
    return -1;
  f->fd = fd;
  Registry &r = registry();
  std::lock_guard g(r.mu);
  f->descriptors = 1;
  r.files[fd] = f;
  return fd;
}

bool install_duplicate(int fd, const std::shared_ptr<File> &f) {
  Registry &r = registry();
  std::lock_guard g(r.mu);
  if (r.files.contains(fd))
    return false;
  f->descriptors++;
  r.files[fd] = f;
  return true;
}

std::shared_ptr<File> remove(int fd) {
  Registry &r = registry();
  std::lock_guard g(r.mu);
  auto it = r.files.find(fd);
  if (it == r.files.end())
    return nullptr;
  std::shared_ptr<File> f = std::move(it->second);
  r.files.erase(it);
  if (--f->descriptors == 0)
    f->fd = -1;
  return f;
}

std::vector<std::shared_ptr<Socket>> all_sockets(Driver *d) {
  std::vector<std::shared_ptr<Socket>> out;
  Registry &r = registry();
  std::lock_guard g(r.mu);
  for (auto &[fd, f] : r.files)
    if (auto s = std::dynamic_pointer_cast<Socket>(f); s && s->driver == d)
      out.push_back(std::move(s));
  for (auto &[p, s] : r.held)
    if (s->driver == d && s->fd < 0)
      out.push_back(s);
  return out;
}

void hold(const std::shared_ptr<Socket> &s) {
  Registry &r = registry();
  std::lock_guard g(r.mu);
  r.held[s.get()] = s;
}

std::shared_ptr<Socket> release(Socket *s) {
  Registry &r = registry();
  std::lock_guard g(r.mu);
  auto it = r.held.find(s);
  if (it == r.held.end())
    return nullptr;
  std::shared_ptr<Socket> p = std::move(it->second);
  r.held.erase(it);
  return p;
}

void forget(Driver *d, bool close_descriptors) {
  std::vector<std::shared_ptr<File>> dead;
  {
    Registry &r = registry();
    std::lock_guard g(r.mu);
    for (auto it = r.files.begin(); it != r.files.end();) {
      if (it->second->driver == d) {
        if (close_descriptors)
          ::syscall(SYS_close, it->first); // the kernel's, never an interposed close()
        it->second->descriptors = 0;
        it->second->fd = -1;
        dead.push_back(std::move(it->second));
        it = r.files.erase(it);
      } else {
        ++it;
      }
    }
    for (auto it = r.held.begin(); it != r.held.end();) {
      if (it->second->driver == d) {
        dead.push_back(std::move(it->second));
        it = r.held.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto &f : dead) {
    if (auto s = std::dynamic_pointer_cast<Socket>(f)) {
      // The engine is gone or stopped: nothing of it may be touched again,
      // and listeners must let go of the children they queue.
      s->conn = nullptr;
      std::lock_guard g(s->mu);
      s->accept_queue.clear();
    }
  }
  dead.clear();
  readiness_changed();
}

std::mutex &readiness_mutex() {
  return readiness().mu;
}

std::condition_variable &readiness_cv() {
  return readiness().cv;
}

namespace {
std::atomic<void (*)()> g_readiness_hook{nullptr};
}

void set_readiness_hook(void (*hook)()) {
  g_readiness_hook.store(hook, std::memory_order_release);
}

void readiness_changed() {
  Readiness &r = readiness();
  { std::lock_guard g(r.mu); }
  r.cv.notify_all();
  if (auto hook = g_readiness_hook.load(std::memory_order_acquire))
    hook();
}

} // namespace shoal::posix::detail
