// libshoal_preload.so: an unmodified, dynamically linked Linux program over
// shoal.
//
//   LD_PRELOAD=libshoal_preload.so SHOAL_CONFIG=<config.ini> <program> [args]
//   shoal-run <config.ini> <program> [args]          (the same, as a command)
//
// The library defines the socket calls' libc names, so the dynamic linker
// resolves the program's calls (and its libraries') here first. AF_INET
// SOCK_STREAM sockets are made by shoal::posix over the stack this library
// starts before main(); every other descriptor -- files, pipes, AF_UNIX,
// eventfd, timerfd, UDP and IPv6 sockets -- goes to the kernel untouched
// (the libc function found with dlsym(RTLD_NEXT)).
//
// poll, select and epoll may mix both kinds. An epoll set is the kernel's:
// kernel descriptors live in it, shoal's sockets live in a side list kept
// here, and a wake-up eventfd in the kernel set is signalled whenever a
// shoal socket changes state while a thread sleeps on the set. Readiness of
// shoal sockets is their exact state; EPOLLET reports a socket again only
// after it changed (new data, acknowledged data, a connection, an end).
//
// Where the stack runs ([preload] mode): inline (the default) -- the
// program's threads poll the stack inside their calls, spinning up to
// spin_us before they sleep, and a helper thread polls while none does;
// dedicated -- the shard loop runs on a thread of its own.
//
// fork(): the stack stays with the process that started it. In a child,
// close() of an inherited shoal socket only closes the child's descriptor;
// any other call on one fails with EBADF (said once on stderr). The
// library removes LD_PRELOAD and SHOAL_CONFIG from the environment once
// the stack runs, so a program the process exec()s runs on the kernel.
// The plain names must be defined here (sendfile, fcntl ...), not the
// 64-bit-offset names the headers redirect them to under this macro; on
// 64-bit Linux both have the same types, and both are defined below.
#undef _FILE_OFFSET_BITS

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "api/stack.hpp"
#include "posix/driver.hpp"
#include "posix/socket.hpp"
#include "posix/socket_impl.hpp"
#include "posix/udp.hpp"

#define SHOAL_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

using namespace shoal;
using Clock = std::chrono::steady_clock;

// ---- the kernel's functions -------------------------------------------------

template <typename F> F next_symbol(const char *name) {
  void *p = dlsym(RTLD_NEXT, name);
  if (p == nullptr) {
    std::fprintf(stderr, "shoal-preload: libc has no %s\n", name);
    std::abort();
  }
  return reinterpret_cast<F>(p);
}

#define KERNEL(name) static const auto kernel_##name = next_symbol<decltype(&::name)>(#name)

using fcntl_fn = int (*)(int, int, ...);
using ioctl_fn = int (*)(int, unsigned long, ...);

// ---- which descriptors are shoal's ------------------------------------------

constexpr int kMaxFd = 1 << 20;
constexpr uint8_t kSocket = 1; // a shoal socket (posix facade)
constexpr uint8_t kEpoll = 2;  // a kernel epoll set with shoal sockets in it
constexpr uint8_t kUdp = 4;    // a shoal UDP socket (posix/udp.hpp)
std::atomic<uint8_t> g_marks[kMaxFd];

uint8_t mark_of(int fd) {
  if (fd < 0 || fd >= kMaxFd)
    return 0;
  return g_marks[fd].load(std::memory_order_acquire);
}
void set_mark(int fd, uint8_t m) {
  if (fd >= 0 && fd < kMaxFd)
    g_marks[fd].store(m, std::memory_order_release);
}
// Any shoal socket (TCP or UDP): poll, epoll, close, dup.
bool is_shoal(int fd) {
  return (mark_of(fd) & (kSocket | kUdp)) != 0;
}
bool is_tcp(int fd) {
  return (mark_of(fd) & kSocket) != 0;
}
bool is_udp(int fd) {
  return (mark_of(fd) & kUdp) != 0;
}

// ---- the running stack --------------------------------------------------------

struct Runtime {
  std::unique_ptr<api::Stack> stack;
  std::unique_ptr<posix::PollingDriver> polling; // inline mode
  std::unique_ptr<posix::StackDriver> threaded;  // dedicated mode
  std::thread runner;                            // dedicated mode: Stack::run()
  posix::Driver *driver = nullptr;
  Clock::duration spin{};
};

Runtime *g_rt = nullptr; // never freed while the process runs
std::atomic<bool> g_ready{false};
std::atomic<bool> g_child{false}; // a fork()ed child: the stack is not ours
std::atomic<bool> g_exiting{false};
std::string g_stats_path; // SHOAL_PRELOAD_STATS: where the counters go at exit ("-": stderr)

bool active() {
  return g_ready.load(std::memory_order_acquire) && !g_child.load(std::memory_order_relaxed);
}

int fail(int e) {
  errno = e;
  return -1;
}

// A shoal socket used in a forked child.
int child_use() {
  static std::atomic<bool> said{false};
  if (!said.exchange(true))
    std::fprintf(stderr,
                 "shoal-preload: pid %d: a shoal socket inherited through fork() was used; "
                 "shoal sockets belong to the process that started the stack (EBADF)\n",
                 static_cast<int>(getpid()));
  return fail(EBADF);
}

// Polls the stack once if this thread is where it runs (inline mode).
void poll_stack() {
  if (g_rt != nullptr && g_rt->polling)
    g_rt->polling->poll();
}

// ---- waking threads that sleep in the kernel ----------------------------------

// Threads asleep in poll/select/epoll_wait with shoal sockets in the set,
// each through an eventfd in its kernel set; a shoal state change writes
// to all of them.
struct Sleepers {
  std::mutex mu;
  std::vector<int> fds;
  std::atomic<int> count{0};
};
Sleepers &sleepers() {
  static Sleepers *s = new Sleepers;
  return *s;
}

void wake_sleepers_now() {
  Sleepers &s = sleepers();
  if (s.count.load(std::memory_order_acquire) == 0)
    return;
  std::lock_guard g(s.mu);
  for (int fd : s.fds)
    ::eventfd_write(fd, 1);
}

// A state change inside a poll iteration (inline mode) wakes the sleepers
// once, when the iteration ends, however many sockets it changed.
std::atomic<bool> g_wake_pending{false};

void wake_sleepers() {
  if (posix::PollingDriver::in_poll()) {
    g_wake_pending.store(true, std::memory_order_release);
    return;
  }
  wake_sleepers_now();
}

void after_poll() {
  if (g_wake_pending.load(std::memory_order_acquire) && g_wake_pending.exchange(false))
    wake_sleepers_now();
}

// Lists `fd` as a sleeper's wake-up for the scope.
struct Asleep {
  int fd;
  explicit Asleep(int f) : fd(f) {
    Sleepers &s = sleepers();
    std::lock_guard g(s.mu);
    s.fds.push_back(fd);
    s.count.fetch_add(1, std::memory_order_release);
  }
  ~Asleep() {
    Sleepers &s = sleepers();
    std::lock_guard g(s.mu);
    s.fds.erase(std::find(s.fds.begin(), s.fds.end(), fd));
    s.count.fetch_sub(1, std::memory_order_release);
  }
  Asleep(const Asleep &) = delete;
  Asleep &operator=(const Asleep &) = delete;
};

void drain(int efd) {
  eventfd_t v;
  ::eventfd_read(efd, &v);
}

// This thread's wake-up eventfd for poll/select.
int thread_wake_fd() {
  struct Wake {
    int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ~Wake() {
      if (fd >= 0)
        ::syscall(SYS_close, fd);
    }
  };
  static thread_local Wake w;
  return w.fd;
}

uint32_t mask_of(posix::detail::File &f) {
  uint64_t in, out;
  return f.readiness(&in, &out);
}

// Milliseconds left until `deadline` for a kernel wait, rounded up.
int ms_until(std::optional<Clock::time_point> deadline) {
  if (!deadline)
    return -1;
  const auto left = *deadline - Clock::now();
  if (left <= Clock::duration::zero())
    return 0;
  return static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(left + std::chrono::microseconds(999))
          .count());
}

std::optional<Clock::time_point> deadline_of(int timeout_ms) {
  if (timeout_ms < 0)
    return std::nullopt;
  return Clock::now() + std::chrono::milliseconds(timeout_ms);
}

// ---- epoll sets with shoal sockets in them -------------------------------------

constexpr uint64_t kWakeTag = 0x73686f616c77616bULL; // the wake-up's epoll_data

struct Interest {
  std::weak_ptr<posix::detail::File> socket;
  uint32_t events = 0;
  epoll_data_t data{};
  // EPOLLET: the socket's change counts (in, out) last reported.
  uint64_t seen_in = ~uint64_t{0}, seen_out = ~uint64_t{0};
  bool disarmed = false; // EPOLLONESHOT fired
};

struct EpollSide {
  std::mutex mu;
  std::map<int, Interest> shoal;
  std::atomic<int> wake{-1}; // eventfd in the kernel set, once a shoal socket joined
  int cursor = -1;           // the fd after which the next scan starts (fairness)
  // Kernel descriptors added (and not removed) through epoll_ctl since the
  // set was made, or -1 when unknown (a set made before the stack ran).
  // Never below the truth, so 0 means there is nothing to ask the kernel.
  std::atomic<int> kernel_fds{-1};
  ~EpollSide() {
    if (wake >= 0)
      ::syscall(SYS_close, wake.load());
  }
};

std::mutex g_epoll_mu;
std::unordered_map<int, std::shared_ptr<EpollSide>> &epolls() {
  static auto *m = new std::unordered_map<int, std::shared_ptr<EpollSide>>;
  return *m;
}

std::shared_ptr<EpollSide> side_of(int epfd) {
  if ((mark_of(epfd) & kEpoll) == 0)
    return nullptr;
  std::lock_guard g(g_epoll_mu);
  auto it = epolls().find(epfd);
  return it == epolls().end() ? nullptr : it->second;
}

void forget_side(int epfd) {
  std::shared_ptr<EpollSide> dead;
  {
    std::lock_guard g(g_epoll_mu);
    auto it = epolls().find(epfd);
    if (it != epolls().end()) {
      dead = std::move(it->second);
      epolls().erase(it);
    }
  }
  set_mark(epfd, static_cast<uint8_t>(mark_of(epfd) & ~kEpoll));
}

// Reports ready shoal sockets of `side` into out[0..max); returns how many.
int scan_side(EpollSide &side, epoll_event *out, int max) {
  std::lock_guard g(side.mu);
  int got = 0;
  if (side.shoal.empty())
    return 0;
  auto it = side.shoal.upper_bound(side.cursor);
  for (size_t visited = 0, n = side.shoal.size(); visited < n && got < max; visited++) {
    if (it == side.shoal.end())
      it = side.shoal.begin();
    const int fd = it->first;
    Interest &in = it->second;
    auto s = in.socket.lock();
    // A closed socket leaves the set, as the kernel does on the last close.
    if (!s || posix::detail::lookup(fd) != s) {
      it = side.shoal.erase(it);
      continue;
    }
    ++it;
    if (in.disarmed)
      continue;
    // Counts and state together (they change together, under its lock).
    uint64_t ch_in, ch_out;
    const uint32_t ready = s->readiness(&ch_in, &ch_out) & (in.events | EPOLLERR | EPOLLHUP);
    if (ready == 0)
      continue;
    if ((in.events & EPOLLET) != 0) {
      // An edge in a direction the entry asked for (errors and hang-ups
      // come with both counts).
      const bool edge =
          ((in.events & (EPOLLIN | EPOLLRDHUP | EPOLLPRI)) != 0 && ch_in != in.seen_in) ||
          ((in.events & EPOLLOUT) != 0 && ch_out != in.seen_out);
      if (!edge)
        continue;
      in.seen_in = ch_in;
      in.seen_out = ch_out;
    }
    out[got].events = ready;
    out[got].data = in.data;
    got++;
    side.cursor = fd;
    if ((in.events & EPOLLONESHOT) != 0)
      in.disarmed = true;
  }
  return got;
}

// Drops the wake-up entries a kernel epoll_wait returned.
int without_wake(EpollSide &side, epoll_event *ev, int n, bool &woken) {
  int k = 0;
  for (int i = 0; i < n; i++) {
    if (ev[i].data.u64 == kWakeTag) {
      drain(side.wake.load());
      woken = true;
      continue;
    }
    ev[k++] = ev[i];
  }
  return k;
}

int mixed_epoll_wait(int epfd, EpollSide &side, epoll_event *events, int maxevents, int timeout_ms,
                     const sigset_t *sigmask) {
  KERNEL(epoll_pwait);
  const auto deadline = deadline_of(timeout_ms);
  const auto spin_until = Clock::now() + g_rt->spin;
  poll_stack(); // what arrived since the last look
  for (;;) {
    int got = scan_side(side, events, maxevents);
    if (got < maxevents && side.kernel_fds.load(std::memory_order_relaxed) != 0) {
      bool woken = false;
      const int k = kernel_epoll_pwait(epfd, events + got, maxevents - got, 0, sigmask);
      if (k < 0 && got == 0)
        return -1;
      if (k > 0)
        got += without_wake(side, events + got, k, woken);
    }
    if (got > 0 || timeout_ms == 0)
      return got;
    if (deadline && Clock::now() >= *deadline)
      return 0;
    if (g_rt->polling && Clock::now() < spin_until) {
      poll_stack();
      continue;
    }
    // Sleep in the kernel, woken by the set's own descriptors or by a shoal
    // state change. Listed first, then looked at once more: a change after
    // the look writes the wake-up.
    Asleep asleep(side.wake.load());
    got = scan_side(side, events, maxevents);
    if (got > 0)
      return got;
    const int k = kernel_epoll_pwait(epfd, events, maxevents, ms_until(deadline), sigmask);
    if (k < 0)
      return -1;
    bool woken = false;
    got = without_wake(side, events, k, woken);
    if (got > 0)
      return got;
    if (!woken && deadline && Clock::now() >= *deadline)
      return 0;
  }
}

// ---- poll / select over both kinds ----------------------------------------------

int mixed_poll(pollfd *fds, nfds_t n, int timeout_ms, const sigset_t *sigmask) {
  KERNEL(ppoll);
  const auto deadline = deadline_of(timeout_ms);
  const auto spin_until = Clock::now() + g_rt->spin;
  std::vector<pollfd> kfds;
  std::vector<nfds_t> where;
  for (nfds_t k = 0; k < n; k++)
    if (fds[k].fd >= 0 && !is_shoal(fds[k].fd)) {
      kfds.push_back(fds[k]);
      where.push_back(k);
    }
  const size_t nk = kfds.size();
  poll_stack(); // what arrived since the last look
  auto scan = [&](bool kernel_too) -> int {
    int ready = 0;
    for (nfds_t k = 0; k < n; k++) {
      pollfd &p = fds[k];
      p.revents = 0;
      if (p.fd < 0 || !is_shoal(p.fd))
        continue;
      auto s = posix::detail::lookup(p.fd);
      const uint32_t m = s ? mask_of(*s) : POLLNVAL;
      p.revents =
          static_cast<short>(m & (static_cast<uint16_t>(p.events) | POLLERR | POLLHUP | POLLNVAL));
      if (p.revents != 0)
        ready++;
    }
    if (kernel_too && nk > 0) {
      timespec zero{};
      if (kernel_ppoll(kfds.data(), nk, &zero, sigmask) < 0)
        return -1;
      for (size_t i = 0; i < nk; i++) {
        fds[where[i]].revents = kfds[i].revents;
        if (kfds[i].revents != 0)
          ready++;
      }
    }
    return ready;
  };
  for (;;) {
    int ready = scan(true);
    if (ready != 0 || timeout_ms == 0)
      return ready;
    if (deadline && Clock::now() >= *deadline)
      return 0;
    if (g_rt->polling && Clock::now() < spin_until) {
      poll_stack();
      continue;
    }
    const int wake = thread_wake_fd();
    Asleep asleep(wake);
    if ((ready = scan(false)) != 0) {
      // Kernel descriptors too, now, so that none ready is left out.
      for (size_t i = 0; i < nk; i++)
        fds[where[i]].revents = 0;
      return ready;
    }
    kfds.resize(nk);
    kfds.push_back(pollfd{wake, POLLIN, 0});
    const int left = ms_until(deadline);
    timespec ts{left / 1000, (left % 1000) * 1000000L};
    const int k = kernel_ppoll(kfds.data(), kfds.size(), left < 0 ? nullptr : &ts, sigmask);
    const bool woken = (kfds.back().revents & POLLIN) != 0;
    kfds.pop_back();
    if (k < 0)
      return -1;
    if (woken)
      drain(wake);
    ready = scan(false);
    for (size_t i = 0; i < nk; i++) {
      fds[where[i]].revents = kfds[i].revents;
      if (kfds[i].revents != 0)
        ready++;
    }
    if (ready != 0)
      return ready;
    if (!woken && deadline && Clock::now() >= *deadline)
      return 0;
  }
}

bool any_shoal(const pollfd *fds, nfds_t n) {
  for (nfds_t k = 0; k < n; k++)
    if (is_shoal(fds[k].fd))
      return true;
  return false;
}

int timeout_ms_of(const timespec *ts) {
  if (ts == nullptr)
    return -1;
  const int64_t ms = static_cast<int64_t>(ts->tv_sec) * 1000 + (ts->tv_nsec + 999999) / 1000000;
  return static_cast<int>(std::min<int64_t>(ms, INT32_MAX));
}

int mixed_select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, int timeout_ms,
                 const sigset_t *sigmask) {
  std::vector<pollfd> p;
  nfds = std::min(nfds, FD_SETSIZE);
  for (int fd = 0; fd < nfds; fd++) {
    short ev = 0;
    if (rd != nullptr && FD_ISSET(fd, rd))
      ev |= POLLIN;
    if (wr != nullptr && FD_ISSET(fd, wr))
      ev |= POLLOUT;
    if (ex != nullptr && FD_ISSET(fd, ex))
      ev |= POLLPRI;
    if (ev != 0)
      p.push_back(pollfd{fd, ev, 0});
  }
  const int r = mixed_poll(p.data(), p.size(), timeout_ms, sigmask);
  if (r < 0)
    return -1;
  for (const pollfd &q : p)
    if ((q.revents & POLLNVAL) != 0)
      return fail(EBADF);
  if (rd != nullptr)
    FD_ZERO(rd);
  if (wr != nullptr)
    FD_ZERO(wr);
  if (ex != nullptr)
    FD_ZERO(ex);
  int bits = 0;
  for (const pollfd &q : p) {
    if (rd != nullptr && (q.events & POLLIN) != 0 && (q.revents & (POLLIN | POLLHUP | POLLERR))) {
      FD_SET(q.fd, rd);
      bits++;
    }
    if (wr != nullptr && (q.events & POLLOUT) != 0 && (q.revents & (POLLOUT | POLLERR))) {
      FD_SET(q.fd, wr);
      bits++;
    }
    if (ex != nullptr && (q.events & POLLPRI) != 0 && (q.revents & POLLPRI)) {
      FD_SET(q.fd, ex);
      bits++;
    }
  }
  return bits;
}

bool select_has_shoal(int nfds, fd_set *rd, fd_set *wr, fd_set *ex) {
  nfds = std::min(nfds, FD_SETSIZE);
  for (int fd = 0; fd < nfds; fd++)
    if (is_shoal(fd) &&
        ((rd != nullptr && FD_ISSET(fd, rd)) || (wr != nullptr && FD_ISSET(fd, wr)) ||
         (ex != nullptr && FD_ISSET(fd, ex))))
      return true;
  return false;
}

// ---- descriptors ---------------------------------------------------------------

int adopt(int fd, uint8_t mark = kSocket) {
  if (fd < 0)
    return fd;
  if (fd >= kMaxFd) { // beyond the mark table: refuse, as the kernel at its limit
    posix::close(fd);
    return fail(EMFILE);
  }
  set_mark(fd, mark);
  return fd;
}

int close_shoal(int fd) {
  set_mark(fd, static_cast<uint8_t>(mark_of(fd) & kEpoll));
  if (g_child.load(std::memory_order_relaxed)) {
    // The descriptor table is the parent's copy: forget the entry here and
    // close the child's kernel descriptor; no connection is touched.
    posix::detail::remove(fd);
    return static_cast<int>(::syscall(SYS_close, fd));
  }
  return posix::close(fd);
}

// A second descriptor `nfd` (already a kernel dup of fd's eventfd) naming fd's socket.
int duplicate(int fd, int nfd) {
  if (nfd < 0)
    return nfd;
  auto f = posix::detail::lookup(fd);
  if (!f || nfd >= kMaxFd || !posix::detail::install_duplicate(nfd, f)) {
    ::syscall(SYS_close, nfd);
    return fail(f ? EMFILE : EBADF);
  }
  set_mark(nfd, static_cast<uint8_t>(mark_of(fd) & (kSocket | kUdp)));
  return nfd;
}

// What a descriptor about to be replaced (dup2's target) holds is let go.
void release_target(int fd) {
  const uint8_t m = mark_of(fd);
  if ((m & (kSocket | kUdp)) != 0) {
    set_mark(fd, 0);
    auto f = posix::detail::remove(fd);
    if (f && f->fd < 0 && !g_child.load())
      if (auto s = f) {
        // The last descriptor of the socket: close it as close() would.
        // The kernel descriptor is replaced by dup2 itself.
        int tmp = posix::detail::install(s, true);
        if (tmp >= 0)
          posix::close(tmp);
      }
  }
  if ((m & kEpoll) != 0)
    forget_side(fd);
}

void warn_option_once(int level, int name) {
  static std::mutex mu;
  static std::set<std::pair<int, int>> said;
  std::lock_guard g(mu);
  if (said.insert({level, name}).second)
    std::fprintf(stderr,
                 "shoal-preload: socket option level %d name %d is not implemented by shoal "
                 "(ENOPROTOOPT)\n",
                 level, name);
}

// A blocking call's sleep (Driver::set_sleep): in the kernel, on this
// thread's wake-up eventfd, so that signals interrupt it (EINTR) as they
// interrupt Linux's blocking socket calls.
int sleep_in_kernel(std::unique_lock<std::mutex> &lock, const std::function<bool()> &ready,
                    Clock::time_point until) {
  KERNEL(poll);
  const int wake = thread_wake_fd();
  Asleep asleep(wake);
  if (ready())
    return 0;
  lock.unlock();
  const auto left = until - Clock::now();
  int ms = 0;
  if (left > Clock::duration::zero())
    ms = static_cast<int>(std::min<int64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(left + std::chrono::microseconds(999))
            .count(),
        INT32_MAX));
  pollfd p{wake, POLLIN, 0};
  const int r = kernel_poll(&p, 1, ms);
  const int e = errno;
  if (r > 0)
    drain(wake);
  lock.lock();
  return r < 0 && e == EINTR ? EINTR : 0;
}

// ---- loopback: the kernel's ----------------------------------------------------------

bool is_loopback(const sockaddr *addr, socklen_t len) {
  if (addr == nullptr || len < static_cast<socklen_t>(sizeof(sockaddr_in)))
    return false;
  sockaddr_in sin;
  std::memcpy(&sin, addr, sizeof sin);
  return sin.sin_family == AF_INET && (ntohl(sin.sin_addr.s_addr) >> 24) == 127;
}

// Kernel socket `k` takes descriptor number `fd` of a shoal socket that has
// no connection: the shoal socket leaves the table first, then dup3 swaps
// the number over atomically; `k` itself is closed. false (errno) if dup3
// fails.
bool take_number(int fd, int k, bool cloexec) {
  KERNEL(dup3);
  set_mark(fd, 0);
  posix::detail::remove(fd);
  const bool ok = kernel_dup3(k, fd, cloexec ? O_CLOEXEC : 0) >= 0;
  const int e = errno;
  ::syscall(SYS_close, k);
  errno = e;
  return ok;
}

// A fresh shoal socket about to be bound or connected to 127.0.0.0/8
// becomes a kernel socket under the same descriptor number (shoal has no
// loopback: the program's own loopback traffic stays the kernel's). The
// options set so far go with it. false (errno set) if that fails.
bool hand_to_kernel(int fd) {
  KERNEL(socket);
  KERNEL(setsockopt);
  if (is_udp(fd)) {
    // A UDP socket: it must not be bound yet (bound ones are on shoal's
    // address); its options are the defaults or SO_RCVBUF only.
    int rcvbuf = 0;
    socklen_t rl = sizeof rcvbuf;
    sockaddr_in me{};
    socklen_t ml = sizeof me;
    if (posix::udp_getsockname(fd, reinterpret_cast<sockaddr *>(&me), &ml) == 0 &&
        me.sin_port != 0) {
      errno = EINVAL;
      return false;
    }
    posix::udp_getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &rl);
    const int fl = posix::udp_fcntl(fd, F_GETFL, 0);
    const int cloexec_u = static_cast<int>(::syscall(SYS_fcntl, fd, F_GETFD, 0)) & FD_CLOEXEC;
    const int k =
        kernel_socket(AF_INET, SOCK_DGRAM | ((fl & O_NONBLOCK) != 0 ? SOCK_NONBLOCK : 0), 0);
    if (k < 0)
      return false;
    return take_number(fd, k, cloexec_u != 0); // no shard socket yet: nothing to undo
  }
  auto s = std::dynamic_pointer_cast<posix::detail::Socket>(posix::detail::lookup(fd));
  if (!s) {
    errno = EBADF;
    return false;
  }
  posix::detail::Options o;
  bool nonblock;
  {
    std::lock_guard g(s->mu);
    if (s->kind != posix::detail::Socket::Kind::fresh || s->bound || s->fd != fd) {
      errno = EINVAL; // bound to shoal's address already, or dup()ed
      return false;
    }
    o = s->opt;
    nonblock = s->nonblock;
  }
  const int cloexec = static_cast<int>(::syscall(SYS_fcntl, fd, F_GETFD, 0)) & FD_CLOEXEC;
  const int k = kernel_socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
  if (k < 0)
    return false;
  const int one = 1;
  auto opt = [&](int level, int name, const void *v, socklen_t l) {
    kernel_setsockopt(k, level, name, v, l);
  };
  if (o.reuseaddr)
    opt(SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (o.keepalive)
    opt(SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  if (o.keepidle_s > 0)
    opt(IPPROTO_TCP, TCP_KEEPIDLE, &o.keepidle_s, sizeof o.keepidle_s);
  if (o.keepintvl_s > 0)
    opt(IPPROTO_TCP, TCP_KEEPINTVL, &o.keepintvl_s, sizeof o.keepintvl_s);
  if (o.keepcnt > 0)
    opt(IPPROTO_TCP, TCP_KEEPCNT, &o.keepcnt, sizeof o.keepcnt);
  if (o.linger_on) {
    const linger l{1, o.linger_s};
    opt(SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  if (o.rcvbuf > 0)
    opt(SOL_SOCKET, SO_RCVBUF, &o.rcvbuf, sizeof o.rcvbuf);
  if (o.sndbuf > 0)
    opt(SOL_SOCKET, SO_SNDBUF, &o.sndbuf, sizeof o.sndbuf);
  if (o.nodelay)
    opt(IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (o.cork)
    opt(IPPROTO_TCP, TCP_CORK, &one, sizeof one);
  if (o.maxseg > 0)
    opt(IPPROTO_TCP, TCP_MAXSEG, &o.maxseg, sizeof o.maxseg);
  if (o.user_timeout_ms > 0)
    opt(IPPROTO_TCP, TCP_USER_TIMEOUT, &o.user_timeout_ms, sizeof o.user_timeout_ms);
  return take_number(fd, k, cloexec != 0);
}

// ---- start-up -------------------------------------------------------------------

[[noreturn]] void startup_failure(const std::string &what) {
  std::fprintf(stderr, "shoal-preload: %s\n", what.c_str());
  std::fflush(stderr);
  _exit(1);
}

void at_fork_prepare() {
  if (g_rt != nullptr && g_rt->polling)
    g_rt->polling->stack_mutex().lock();
}
void at_fork_parent() {
  if (g_rt != nullptr && g_rt->polling)
    g_rt->polling->stack_mutex().unlock();
}
void at_fork_child() {
  if (g_rt != nullptr)
    g_child.store(true);
}

std::string program_name() {
  char buf[256] = {};
  FILE *f = std::fopen("/proc/self/comm", "r");
  if (f != nullptr) {
    if (std::fgets(buf, sizeof buf, f) == nullptr)
      buf[0] = 0;
    std::fclose(f);
  }
  std::string s = buf;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
    s.pop_back();
  return s.empty() ? "program" : s;
}

void shoal_preload_start() {
  const char *config = std::getenv("SHOAL_CONFIG");
  if (config == nullptr || *config == 0)
    startup_failure("SHOAL_CONFIG is not set: name the shoal config file the program runs on "
                    "(or use shoal-run <config.ini> <program>)");
  const std::string config_path = config;
  if (const char *st = std::getenv("SHOAL_PRELOAD_STATS"); st != nullptr)
    g_stats_path = st;
  const std::string name = program_name();
  std::string error;
  auto stack = api::Stack::create(config_path, name.c_str(), &error);
  if (!stack)
    startup_failure(error);
  auto *rt = new Runtime;
  rt->stack = std::move(stack);
  const dpdk::PreloadConfig &pc = rt->stack->config().preload;
  if (pc.dedicated) {
    rt->threaded = std::make_unique<posix::StackDriver>(*rt->stack);
    rt->driver = rt->threaded.get();
    api::Stack *s = rt->stack.get();
    rt->runner = std::thread([s] {
      pthread_setname_np(pthread_self(), "shoal-shard");
      s->run();
    });
  } else {
    posix::PollingDriver::Options o;
    o.spin = std::chrono::microseconds(pc.spin_us);
    o.helper_sleep = std::chrono::microseconds(pc.helper_sleep_us);
    o.after_poll = after_poll;
    rt->polling = std::make_unique<posix::PollingDriver>(*rt->stack, o);
    rt->driver = rt->polling.get();
    rt->spin = std::chrono::microseconds(pc.spin_us);
    rt->polling->start_helper();
  }
  g_rt = rt;
  rt->driver->set_sleep(sleep_in_kernel);
  posix::set_default_driver(rt->driver);
  posix::detail::set_readiness_hook(&wake_sleepers);
  pthread_atfork(at_fork_prepare, at_fork_parent, at_fork_child);
  // A program this one exec()s runs on the kernel: it would otherwise try
  // to start a second stack on the same port.
  unsetenv("LD_PRELOAD");
  unsetenv("SHOAL_CONFIG");
  unsetenv("SHOAL_PRELOAD_STATS");
  std::fprintf(stderr, "shoal-preload: ready pid=%d program=%s %s mode=%s\n",
               static_cast<int>(getpid()), name.c_str(), rt->stack->ready_fields().c_str(),
               pc.dedicated ? "dedicated" : "inline");
  std::fflush(stderr);
  g_ready.store(true, std::memory_order_release);
}

// At exit: the shoal sockets still open are closed as the kernel closes a
// dying process's sockets (FIN after the queued data, RST with unread data
// or SO_LINGER 0), the stack gets a moment to send that, then stops.
__attribute__((destructor)) void shoal_preload_stop() {
  if (!g_ready.load() || g_child.load() || g_exiting.exchange(true))
    return;
  Runtime *rt = g_rt;
  for (int fd = 0; fd < kMaxFd; fd++)
    if (is_shoal(fd))
      close_shoal(fd);
  const auto until = Clock::now() + std::chrono::milliseconds(200);
  while (Clock::now() < until) {
    uint64_t busy = 0;
    for (auto st : {api::State::syn_sent, api::State::syn_received, api::State::established,
                    api::State::fin_wait_1, api::State::closing, api::State::last_ack,
                    api::State::close_wait})
      busy += rt->stack->connections_in(st);
    if (busy == 0)
      break;
    if (rt->polling)
      rt->polling->poll();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  g_ready.store(false);
  if (rt->polling) {
    rt->polling->stop_helper();
    rt->polling->stack_mutex().lock(); // held from here on (see below)
  }
  if (!g_stats_path.empty()) {
    // The counters at exit, as every shoal app prints them.
    const std::string json = rt->stack->stats_json();
    FILE *f = g_stats_path == "-" ? stderr : std::fopen(g_stats_path.c_str(), "w");
    if (f != nullptr) {
      std::fprintf(f, "%s\n", json.c_str());
      if (f != stderr)
        std::fclose(f);
    }
  }
  if (rt->polling) {
    // The stack's mutex stays held: a thread still inside a call waits for
    // the exit.
  } else {
    rt->stack->stop();
    if (rt->runner.joinable())
      rt->runner.join();
  }
  rt->stack.reset(); // the port (and a TAP's netdev) goes, the EAL is cleaned up
}

} // namespace

// ---- the interposed calls ----------------------------------------------------------

// The stack starts here, between the libraries' initialisation (this
// library's own static objects included, which a constructor function of
// its own could run before) and the program's: glibc's _start calls this
// to run main().
using main_fn = int (*)(int, char **, char **);
SHOAL_EXPORT int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(),
                                   void (*fini)(), void (*rtld_fini)(), void *stack_end) {
  using start_fn = int (*)(main_fn, int, char **, void (*)(), void (*)(), void (*)(), void *);
  static const auto next = next_symbol<start_fn>("__libc_start_main");
  shoal_preload_start();
  return next(main, argc, argv, init, fini, rtld_fini, stack_end);
}

SHOAL_EXPORT int socket(int domain, int type, int protocol) {
  KERNEL(socket);
  if (active() && domain == AF_INET && (type & 0xf) == SOCK_STREAM &&
      (protocol == 0 || protocol == IPPROTO_TCP))
    return adopt(posix::socket(domain, type, protocol));
  if (active() && domain == AF_INET && (type & 0xf) == SOCK_DGRAM &&
      (protocol == 0 || protocol == IPPROTO_UDP))
    return adopt(posix::udp_socket(type & (SOCK_NONBLOCK | SOCK_CLOEXEC)), kUdp);
  return kernel_socket(domain, type, protocol);
}

SHOAL_EXPORT int bind(int fd, const sockaddr *addr, socklen_t len) {
  KERNEL(bind);
  if (is_udp(fd)) {
    if (g_child)
      return child_use();
    return is_loopback(addr, len) ? (hand_to_kernel(fd) ? kernel_bind(fd, addr, len) : -1)
                                  : posix::udp_bind(fd, addr, len);
  }
  if (!is_tcp(fd))
    return kernel_bind(fd, addr, len);
  if (g_child)
    return child_use();
  if (is_loopback(addr, len))
    return hand_to_kernel(fd) ? kernel_bind(fd, addr, len) : -1;
  return posix::bind(fd, addr, len);
}

SHOAL_EXPORT int listen(int fd, int backlog) {
  KERNEL(listen);
  if (!is_tcp(fd))
    return kernel_listen(fd, backlog);
  if (g_child)
    return child_use();
  return posix::listen(fd, backlog);
}

SHOAL_EXPORT int accept4(int fd, sockaddr *addr, socklen_t *len, int flags) {
  KERNEL(accept4);
  if (!is_tcp(fd))
    return kernel_accept4(fd, addr, len, flags);
  if (g_child)
    return child_use();
  return adopt(posix::accept4(fd, addr, len, flags));
}

SHOAL_EXPORT int accept(int fd, sockaddr *addr, socklen_t *len) {
  KERNEL(accept);
  if (!is_tcp(fd))
    return kernel_accept(fd, addr, len);
  if (g_child)
    return child_use();
  return adopt(posix::accept4(fd, addr, len, 0));
}

SHOAL_EXPORT int connect(int fd, const sockaddr *addr, socklen_t len) {
  KERNEL(connect);
  if (is_udp(fd)) {
    if (g_child)
      return child_use();
    return is_loopback(addr, len) ? (hand_to_kernel(fd) ? kernel_connect(fd, addr, len) : -1)
                                  : posix::udp_connect(fd, addr, len);
  }
  if (!is_tcp(fd))
    return kernel_connect(fd, addr, len);
  if (g_child)
    return child_use();
  if (is_loopback(addr, len))
    return hand_to_kernel(fd) ? kernel_connect(fd, addr, len) : -1;
  return posix::connect(fd, addr, len);
}

SHOAL_EXPORT ssize_t read(int fd, void *buf, size_t n) {
  KERNEL(read);
  if (is_udp(fd)) {
    if (g_child)
      return child_use();
    return posix::udp_recvfrom(fd, buf, n, 0, nullptr, nullptr);
  }
  if (!is_tcp(fd))
    return kernel_read(fd, buf, n);
  if (g_child)
    return child_use();
  return posix::read(fd, buf, n);
}

SHOAL_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen) {
  if (n > buflen)
    std::abort(); // what glibc's check does (__chk_fail)
  return read(fd, buf, n);
}

SHOAL_EXPORT ssize_t write(int fd, const void *buf, size_t n) {
  KERNEL(write);
  if (is_udp(fd)) {
    if (g_child)
      return child_use();
    return posix::udp_sendto(fd, buf, n, 0, nullptr, 0);
  }
  if (!is_tcp(fd))
    return kernel_write(fd, buf, n);
  if (g_child)
    return child_use();
  return posix::write(fd, buf, n);
}

SHOAL_EXPORT ssize_t readv(int fd, const iovec *iov, int iovcnt) {
  KERNEL(readv);
  if (is_udp(fd)) {
    if (g_child)
      return child_use();
    return [&] {
      msghdr m{};
      m.msg_iov = const_cast<iovec *>(iov);
      m.msg_iovlen = static_cast<size_t>(std::max(iovcnt, 0));
      return posix::udp_recvmsg(fd, &m, 0);
    }();
  }
  if (!is_tcp(fd))
    return kernel_readv(fd, iov, iovcnt);
  if (g_child)
    return child_use();
  return posix::readv(fd, iov, iovcnt);
}

SHOAL_EXPORT ssize_t writev(int fd, const iovec *iov, int iovcnt) {
  KERNEL(writev);
  if (is_udp(fd)) {
    if (g_child)
      return child_use();
    return [&] {
      msghdr m{};
      m.msg_iov = const_cast<iovec *>(iov);
      m.msg_iovlen = static_cast<size_t>(std::max(iovcnt, 0));
      return posix::udp_sendmsg(fd, &m, 0);
    }();
  }
  if (!is_tcp(fd))
    return kernel_writev(fd, iov, iovcnt);
  if (g_child)
    return child_use();
  return posix::writev(fd, iov, iovcnt);
}

SHOAL_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags) {
  KERNEL(recv);
  if (is_udp(fd)) {
    if (g_child)
      return child_use();
    return posix::udp_recvfrom(fd, buf, n, flags, nullptr, nullptr);
  }
  if (!is_tcp(fd))
    return kernel_recv(fd, buf, n, flags);
  if (g_child)
    return child_use();
  return posix::recv(fd, buf, n, flags);
}

SHOAL_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags) {
  if (n > buflen)
    std::abort();
  return recv(fd, buf, n, flags);
}

SHOAL_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags) {
  KERNEL(send);
  if (is_udp(fd)) {
    if (g_child)
      return child_use();
    return posix::udp_sendto(fd, buf, n, flags, nullptr, 0);
  }
  if (!is_tcp(fd))
    return kernel_send(fd, buf, n, flags);
  if (g_child)
    return child_use();
  return posix::send(fd, buf, n, flags);
}

SHOAL_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, sockaddr *from,
                              socklen_t *fromlen) {
  KERNEL(recvfrom);
  if (is_udp(fd)) {
    if (g_child)
      return child_use();
    return posix::udp_recvfrom(fd, buf, n, flags, from, fromlen);
  }
  if (!is_tcp(fd))
    return kernel_recvfrom(fd, buf, n, flags, from, fromlen);
  if (g_child)
    return child_use();
  const ssize_t r = posix::recv(fd, buf, n, flags);
  if (r >= 0 && from != nullptr && fromlen != nullptr && posix::getpeername(fd, from, fromlen) != 0)
    *fromlen = 0;
  return r;
}

SHOAL_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
                                    sockaddr *from, socklen_t *fromlen) {
  if (n > buflen)
    std::abort();
  return recvfrom(fd, buf, n, flags, from, fromlen);
}

SHOAL_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const sockaddr *to,
                            socklen_t tolen) {
  KERNEL(sendto);
  if (is_udp(fd)) {
    if (g_child)
      return child_use();
    return posix::udp_sendto(fd, buf, n, flags, to, tolen);
  }
  if (!is_tcp(fd))
    return kernel_sendto(fd, buf, n, flags, to, tolen);
  if (g_child)
    return child_use();
  // A connected stream socket ignores the address, as Linux's TCP does.
  return posix::send(fd, buf, n, flags);
}

SHOAL_EXPORT ssize_t recvmsg(int fd, msghdr *msg, int flags) {
  KERNEL(recvmsg);
  if (is_udp(fd)) {
    if (g_child)
      return child_use();
    return posix::udp_recvmsg(fd, msg, flags);
  }
  if (!is_tcp(fd))
    return kernel_recvmsg(fd, msg, flags);
  if (g_child)
    return child_use();
  return posix::recvmsg(fd, msg, flags);
}

SHOAL_EXPORT ssize_t sendmsg(int fd, const msghdr *msg, int flags) {
  KERNEL(sendmsg);
  if (is_udp(fd)) {
    if (g_child)
      return child_use();
    return posix::udp_sendmsg(fd, msg, flags);
  }
  if (!is_tcp(fd))
    return kernel_sendmsg(fd, msg, flags);
  if (g_child)
    return child_use();
  return posix::sendmsg(fd, msg, flags);
}

// Several datagrams in one call (glibc's resolver sends its A and AAAA
// queries with sendmmsg): one sendmsg/recvmsg each on a shoal UDP socket.
SHOAL_EXPORT int sendmmsg(int fd, mmsghdr *v, unsigned int n, int flags) {
  KERNEL(sendmmsg);
  if (!is_udp(fd))
    return kernel_sendmmsg(fd, v, n, flags);
  if (g_child)
    return child_use();
  unsigned k = 0;
  for (; k < n; k++) {
    const ssize_t r = posix::udp_sendmsg(fd, &v[k].msg_hdr, flags);
    if (r < 0)
      return k > 0 ? static_cast<int>(k) : -1;
    v[k].msg_len = static_cast<unsigned>(r);
  }
  return static_cast<int>(k);
}

SHOAL_EXPORT int recvmmsg(int fd, mmsghdr *v, unsigned int n, int flags, timespec *timeout) {
  KERNEL(recvmmsg);
  if (!is_udp(fd))
    return kernel_recvmmsg(fd, v, n, flags, timeout);
  if (g_child)
    return child_use();
  unsigned k = 0;
  for (; k < n; k++) {
    // The first waits as the socket says; the rest take what is queued.
    const ssize_t r = posix::udp_recvmsg(fd, &v[k].msg_hdr, k == 0 ? flags : flags | MSG_DONTWAIT);
    if (r < 0)
      return k > 0 ? static_cast<int>(k) : -1;
    v[k].msg_len = static_cast<unsigned>(r);
    if ((flags & MSG_WAITFORONE) != 0)
      flags |= MSG_DONTWAIT;
  }
  return static_cast<int>(k);
}

SHOAL_EXPORT ssize_t sendfile(int out, int in, off_t *offset, size_t count) {
  KERNEL(sendfile);
  if (is_shoal(in))
    return fail(EINVAL); // from a socket: the kernel refuses it too
  if (!is_tcp(out))
    return kernel_sendfile(out, in, offset, count);
  if (g_child)
    return child_use();
  // Read from the file, write to the socket; what the socket does not take
  // is given back (the file offset, or *offset, moves by what was sent).
  KERNEL(pread);
  KERNEL(read);
  std::vector<char> buf(std::min<size_t>(count, 256 * 1024));
  size_t sent = 0;
  off_t pos = offset != nullptr ? *offset : 0;
  while (sent < count) {
    const size_t want = std::min(buf.size(), count - sent);
    const ssize_t got = offset != nullptr ? kernel_pread(in, buf.data(), want, pos)
                                          : kernel_read(in, buf.data(), want);
    if (got < 0) {
      if (sent > 0)
        break;
      return -1;
    }
    if (got == 0)
      break;
    const ssize_t w = posix::write(out, buf.data(), static_cast<size_t>(got));
    const size_t took = w > 0 ? static_cast<size_t>(w) : 0;
    if (offset == nullptr && took < static_cast<size_t>(got))
      ::lseek(in, -(static_cast<off_t>(got) - static_cast<off_t>(took)), SEEK_CUR);
    sent += took;
    pos += static_cast<off_t>(took);
    if (w < 0) {
      if (sent > 0)
        break;
      const int e = errno;
      if (offset != nullptr)
        *offset = pos;
      return fail(e);
    }
    if (took < static_cast<size_t>(got))
      break; // a non-blocking socket took part of it
  }
  if (offset != nullptr)
    *offset = pos;
  return static_cast<ssize_t>(sent);
}

// splice(2) with a shoal TCP socket at one end and a pipe at the other,
// by copy (the kernel cannot move pages into or out of shoal's buffers).
// Nothing read from either side is lost: from the socket, the bytes are
// peeked, the pipe takes what it takes, and only that much is consumed;
// into the socket, what is read from the pipe is written whole (on a
// non-blocking socket that filled mid-way, the call waits for room for the
// rest). SPLICE_F_NONBLOCK applies to the pipe, as on Linux; the socket's
// own O_NONBLOCK to the socket. At most 64 KiB move per call.
namespace {
ssize_t pipe_ready(int pfd, short ev, bool nonblock) {
  if (!nonblock)
    return 1;
  KERNEL(poll);
  pollfd p{pfd, ev, 0};
  const int r = kernel_poll(&p, 1, 0);
  if (r < 0)
    return -1;
  if (r == 0 || (p.revents & (ev | POLLERR | POLLHUP)) == 0)
    return fail(EAGAIN);
  return 1;
}

ssize_t splice_from_socket(int sock, int pfd, size_t len, bool nonblock) {
  KERNEL(write);
  std::vector<char> buf(std::min<size_t>(len, 64 * 1024));
  const ssize_t got = posix::recv(sock, buf.data(), buf.size(), MSG_PEEK);
  if (got <= 0)
    return got;
  if (pipe_ready(pfd, POLLOUT, nonblock) < 0)
    return -1;
  // A non-blocking pipe write of at most PIPE_BUF bytes after POLLOUT does
  // not block; a blocking one takes everything.
  const size_t offer =
      nonblock ? std::min<size_t>(static_cast<size_t>(got), PIPE_BUF) : static_cast<size_t>(got);
  const ssize_t put = kernel_write(pfd, buf.data(), offer);
  if (put <= 0)
    return put;
  const ssize_t took = posix::recv(sock, buf.data(), static_cast<size_t>(put), 0);
  return took == put ? put : (took < 0 ? -1 : took);
}

ssize_t splice_to_socket(int pfd, int sock, size_t len, bool nonblock) {
  KERNEL(read);
  // Nothing is read from the pipe while a non-blocking socket has no room.
  pollfd p{sock, POLLOUT, 0};
  if (posix::poll(&p, 1, 0) == 0 && (posix::fcntl(sock, F_GETFL) & O_NONBLOCK) != 0)
    return fail(EAGAIN);
  if (pipe_ready(pfd, POLLIN, nonblock) < 0)
    return -1;
  std::vector<char> buf(std::min<size_t>(len, 64 * 1024));
  const ssize_t got = kernel_read(pfd, buf.data(), buf.size());
  if (got <= 0)
    return got;
  size_t done = 0;
  while (done < static_cast<size_t>(got)) {
    const ssize_t w = posix::write(sock, buf.data() + done, static_cast<size_t>(got) - done);
    if (w > 0) {
      done += static_cast<size_t>(w);
      continue;
    }
    if (w < 0 && errno != EAGAIN)
      return done > 0 ? static_cast<ssize_t>(done) : -1;
    pollfd q{sock, POLLOUT, 0};
    posix::poll(&q, 1, 100); // a non-blocking socket filled: wait for room
  }
  return got;
}
} // namespace

SHOAL_EXPORT ssize_t splice(int in, off64_t *off_in, int out, off64_t *off_out, size_t len,
                            unsigned int flags) {
  KERNEL(splice);
  const bool in_tcp = is_tcp(in), out_tcp = is_tcp(out);
  if (!in_tcp && !out_tcp) {
    if (is_udp(in) || is_udp(out))
      return fail(EINVAL); // splice of a shoal UDP socket is not supported
    return kernel_splice(in, off_in, out, off_out, len, flags);
  }
  if (g_child)
    return child_use();
  const int pfd = in_tcp ? out : in;
  struct stat st {};
  KERNEL(fstat);
  if (in_tcp && out_tcp)
    return fail(EINVAL); // one end must be a pipe
  if (kernel_fstat(pfd, &st) != 0)
    return -1;
  if (!S_ISFIFO(st.st_mode))
    return fail(EINVAL);
  if (off_in != nullptr || off_out != nullptr)
    return fail(ESPIPE);
  if (len == 0)
    return 0;
  const bool nonblock = (flags & SPLICE_F_NONBLOCK) != 0;
  return in_tcp ? splice_from_socket(in, out, len, nonblock)
                : splice_to_socket(in, out, len, nonblock);
}

SHOAL_EXPORT ssize_t sendfile64(int out, int in, off64_t *offset, size_t count) {
  return sendfile(out, in, reinterpret_cast<off_t *>(offset), count);
}

SHOAL_EXPORT int close(int fd) {
  KERNEL(close);
  const uint8_t m = mark_of(fd);
  if ((m & (kSocket | kUdp)) != 0)
    return close_shoal(fd);
  if ((m & kEpoll) != 0)
    forget_side(fd);
  return kernel_close(fd);
}

// close_range(2): shoal's descriptors in the range are closed as close()
// closes them (the connection ends when its last descriptor goes), then the
// kernel closes the rest. With CLOSE_RANGE_CLOEXEC nothing closes now: the
// flag reaches the kernel descriptors under shoal's sockets, as it would a
// kernel socket's (exec of a preloaded program is described in the README).
SHOAL_EXPORT int close_range(unsigned first, unsigned last, int flags) {
  KERNEL(close_range);
  if (first > last)
    return fail(EINVAL);
  if ((flags & CLOSE_RANGE_CLOEXEC) == 0) {
    const unsigned hi = std::min<unsigned>(last, kMaxFd - 1);
    for (unsigned u = first; u <= hi; ++u) {
      const int fd = static_cast<int>(u);
      const uint8_t m = mark_of(fd);
      if ((m & (kSocket | kUdp)) != 0)
        close_shoal(fd);
      else if ((m & kEpoll) != 0)
        forget_side(fd);
      if (u == hi)
        break;
    }
  }
  return kernel_close_range(first, last, flags);
}

SHOAL_EXPORT int shutdown(int fd, int how) {
  KERNEL(shutdown);
  if (is_udp(fd)) {
    if (g_child)
      return child_use();
    return (how == SHUT_RD || how == SHUT_WR || how == SHUT_RDWR) ? 0 : fail(EINVAL);
  }
  if (!is_tcp(fd))
    return kernel_shutdown(fd, how);
  if (g_child)
    return child_use();
  return posix::shutdown(fd, how);
}

SHOAL_EXPORT int fcntl(int fd, int cmd, ...) {
  static const auto kernel_fcntl = next_symbol<fcntl_fn>("fcntl");
  va_list ap;
  va_start(ap, cmd);
  const long arg = va_arg(ap, long);
  va_end(ap);
  if (!is_shoal(fd))
    return kernel_fcntl(fd, cmd, arg);
  if (g_child && cmd != F_GETFD && cmd != F_SETFD)
    return child_use();
  if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
    return duplicate(fd, kernel_fcntl(fd, cmd, arg));
  return is_udp(fd) ? posix::udp_fcntl(fd, cmd, arg) : posix::fcntl(fd, cmd, arg);
}

SHOAL_EXPORT int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  const long arg = va_arg(ap, long);
  va_end(ap);
  return fcntl(fd, cmd, arg);
}

SHOAL_EXPORT int ioctl(int fd, unsigned long request, ...) {
  static const auto kernel_ioctl = next_symbol<ioctl_fn>("ioctl");
  va_list ap;
  va_start(ap, request);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  if (!is_shoal(fd))
    return kernel_ioctl(fd, request, arg);
  if (g_child)
    return child_use();
  return is_udp(fd) ? posix::udp_ioctl(fd, request, arg) : posix::ioctl(fd, request, arg);
}

SHOAL_EXPORT int setsockopt(int fd, int level, int name, const void *value, socklen_t len) {
  KERNEL(setsockopt);
  if (is_udp(fd)) {
    if (g_child)
      return child_use();
    return [&] {
      const int r = posix::udp_setsockopt(fd, level, name, value, len);
      if (r != 0 && errno == ENOPROTOOPT)
        warn_option_once(level, name);
      return r;
    }();
  }
  if (!is_tcp(fd))
    return kernel_setsockopt(fd, level, name, value, len);
  if (g_child)
    return child_use();
  const int r = posix::setsockopt(fd, level, name, value, len);
  if (r != 0 && errno == ENOPROTOOPT)
    warn_option_once(level, name);
  return r;
}

SHOAL_EXPORT int getsockopt(int fd, int level, int name, void *value, socklen_t *len) {
  KERNEL(getsockopt);
  if (is_udp(fd)) {
    if (g_child)
      return child_use();
    return posix::udp_getsockopt(fd, level, name, value, len);
  }
  if (!is_tcp(fd))
    return kernel_getsockopt(fd, level, name, value, len);
  if (g_child)
    return child_use();
  if (level == SOL_SOCKET && name == SO_DOMAIN && value != nullptr && len != nullptr &&
      *len >= static_cast<socklen_t>(sizeof(int))) {
    const int v = AF_INET;
    std::memcpy(value, &v, sizeof v);
    *len = sizeof v;
    return 0;
  }
  const int r = posix::getsockopt(fd, level, name, value, len);
  if (r != 0 && errno == ENOPROTOOPT)
    warn_option_once(level, name);
  return r;
}

SHOAL_EXPORT int getsockname(int fd, sockaddr *addr, socklen_t *len) {
  KERNEL(getsockname);
  if (is_udp(fd)) {
    if (g_child)
      return child_use();
    return posix::udp_getsockname(fd, addr, len);
  }
  if (!is_tcp(fd))
    return kernel_getsockname(fd, addr, len);
  if (g_child)
    return child_use();
  return posix::getsockname(fd, addr, len);
}

SHOAL_EXPORT int getpeername(int fd, sockaddr *addr, socklen_t *len) {
  KERNEL(getpeername);
  if (is_udp(fd)) {
    if (g_child)
      return child_use();
    return posix::udp_getpeername(fd, addr, len);
  }
  if (!is_tcp(fd))
    return kernel_getpeername(fd, addr, len);
  if (g_child)
    return child_use();
  return posix::getpeername(fd, addr, len);
}

// fstat() and its relatives: a shoal socket is an eventfd to the kernel,
// but a program that asks what it is (S_ISSOCK, as systemd's socket
// activation checks or a logger deciding between a file and a socket) is
// told what Linux tells of a socket: type socket, mode 0777, size 0. The
// device and inode numbers stay those of the eventfd (unique per socket).
namespace {
void as_socket(struct stat *st) {
  st->st_mode = S_IFSOCK | 0777;
  st->st_size = 0;
  st->st_blocks = 0;
  st->st_nlink = 1;
}
} // namespace

SHOAL_EXPORT int fstat(int fd, struct stat *st) {
  KERNEL(fstat);
  const int r = kernel_fstat(fd, st);
  if (r == 0 && is_shoal(fd))
    as_socket(st);
  return r;
}

SHOAL_EXPORT int fstat64(int fd, struct stat64 *st) {
  return fstat(fd, reinterpret_cast<struct stat *>(st));
}

SHOAL_EXPORT int fstatat(int dirfd, const char *path, struct stat *st, int flags) {
  KERNEL(fstatat);
  const int r = kernel_fstatat(dirfd, path, st, flags);
  if (r == 0 && (flags & AT_EMPTY_PATH) != 0 && path[0] == '\0' && is_shoal(dirfd))
    as_socket(st);
  return r;
}

SHOAL_EXPORT int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags) {
  return fstatat(dirfd, path, reinterpret_cast<struct stat *>(st), flags);
}

SHOAL_EXPORT int statx(int dirfd, const char *path, int flags, unsigned int mask,
                       struct statx *stx) {
  KERNEL(statx);
  const int r = kernel_statx(dirfd, path, flags, mask, stx);
  if (r == 0 && (flags & AT_EMPTY_PATH) != 0 && path[0] == '\0' && is_shoal(dirfd)) {
    stx->stx_mode = static_cast<uint16_t>(S_IFSOCK | 0777);
    stx->stx_size = 0;
    stx->stx_blocks = 0;
    stx->stx_nlink = 1;
  }
  return r;
}

SHOAL_EXPORT int dup(int fd) {
  KERNEL(dup);
  if (!is_shoal(fd))
    return kernel_dup(fd);
  if (g_child)
    return child_use();
  return duplicate(fd, kernel_dup(fd));
}

SHOAL_EXPORT int dup3(int fd, int nfd, int flags) {
  KERNEL(dup3);
  if (fd == nfd)
    return fail(EINVAL);
  if (!is_shoal(fd) && mark_of(nfd) == 0)
    return kernel_dup3(fd, nfd, flags);
  if (is_shoal(fd) && g_child)
    return child_use();
  if (fcntl(fd, F_GETFD) < 0)
    return -1; // EBADF: nfd stays as it is
  release_target(nfd);
  const int r = kernel_dup3(fd, nfd, flags);
  if (r < 0 || !is_shoal(fd))
    return r;
  return duplicate(fd, r);
}

SHOAL_EXPORT int dup2(int fd, int nfd) {
  KERNEL(dup2);
  if (fd == nfd) // as the kernel: nfd if fd is open
    return fcntl(fd, F_GETFD) < 0 ? -1 : nfd;
  if (!is_shoal(fd) && mark_of(nfd) == 0)
    return kernel_dup2(fd, nfd);
  return dup3(fd, nfd, 0);
}

SHOAL_EXPORT int epoll_create1(int flags) {
  KERNEL(epoll_create1);
  const int fd = kernel_epoll_create1(flags);
  if (fd >= 0 && (mark_of(fd) & kEpoll) != 0)
    forget_side(fd); // a stale side list of a descriptor closed behind our back
  if (fd >= 0 && fd < kMaxFd && active()) {
    // Counted from the start: a set that holds only shoal sockets is never
    // asked of the kernel while it has ready ones.
    auto side = std::make_shared<EpollSide>();
    side->kernel_fds = 0;
    {
      std::lock_guard g(g_epoll_mu);
      epolls()[fd] = side;
    }
    set_mark(fd, static_cast<uint8_t>(mark_of(fd) | kEpoll));
  }
  return fd;
}

SHOAL_EXPORT int epoll_create(int size) {
  if (size <= 0)
    return fail(EINVAL);
  return epoll_create1(0);
}

SHOAL_EXPORT int epoll_ctl(int epfd, int op, int fd, epoll_event *event) {
  KERNEL(epoll_ctl);
  if (!is_shoal(fd)) {
    // A kernel descriptor: any stale entry under its number (a shoal socket
    // closed since) goes first.
    auto side = side_of(epfd);
    if (side) {
      std::lock_guard g(side->mu);
      side->shoal.erase(fd);
    }
    const int r = kernel_epoll_ctl(epfd, op, fd, event);
    if (r == 0 && side && side->kernel_fds.load() >= 0) {
      if (op == EPOLL_CTL_ADD)
        side->kernel_fds.fetch_add(1);
      else if (op == EPOLL_CTL_DEL)
        side->kernel_fds.fetch_sub(1);
    }
    return r;
  }
  if (g_child)
    return child_use();
  if (is_shoal(epfd) || epfd == fd)
    return fail(EINVAL);
  auto s = posix::detail::lookup(fd);
  if (!s)
    return fail(EBADF);
  std::shared_ptr<EpollSide> side = side_of(epfd);
  if (!side) {
    // A set made before the stack ran (or not through epoll_create):
    // what the kernel holds in it is unknown.
    auto fresh = std::make_shared<EpollSide>();
    std::lock_guard g(g_epoll_mu);
    side = epolls().try_emplace(epfd, fresh).first->second;
  }
  if (side->wake.load() < 0) {
    // The set's first shoal socket: a wake-up eventfd joins the kernel set
    // (which also proves epfd is an epoll set).
    std::lock_guard g(side->mu);
    if (side->wake.load() < 0) {
      const int wake = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      if (wake < 0)
        return -1;
      epoll_event wev{};
      wev.events = EPOLLIN;
      wev.data.u64 = kWakeTag;
      if (kernel_epoll_ctl(epfd, EPOLL_CTL_ADD, wake, &wev) != 0) {
        const int e = errno;
        ::syscall(SYS_close, wake);
        return fail(e); // EBADF / EINVAL as the kernel says
      }
      side->wake.store(wake);
    }
    set_mark(epfd, static_cast<uint8_t>(mark_of(epfd) | kEpoll));
  }
  {
    std::lock_guard g(side->mu);
    auto it = side->shoal.find(fd);
    if (it != side->shoal.end() &&
        (it->second.socket.expired() || posix::detail::lookup(fd) != it->second.socket.lock())) {
      side->shoal.erase(it); // stale
      it = side->shoal.end();
    }
    switch (op) {
    case EPOLL_CTL_ADD:
      if (event == nullptr)
        return fail(EFAULT);
      if (it != side->shoal.end())
        return fail(EEXIST);
      side->shoal[fd] = Interest{s, event->events, event->data, ~uint64_t{0}, ~uint64_t{0}, false};
      break;
    case EPOLL_CTL_MOD:
      if (event == nullptr)
        return fail(EFAULT);
      if (it == side->shoal.end())
        return fail(ENOENT);
      it->second.events = event->events;
      it->second.data = event->data;
      it->second.disarmed = false;
      it->second.seen_in = it->second.seen_out = ~uint64_t{0}; // MOD re-evaluates readiness
      break;
    case EPOLL_CTL_DEL:
      if (it == side->shoal.end())
        return fail(ENOENT);
      side->shoal.erase(it);
      break;
    default:
      return fail(EINVAL);
    }
  }
  wake_sleepers(); // a sleeper on this set looks at the new entry
  return 0;
}

SHOAL_EXPORT int epoll_pwait(int epfd, epoll_event *events, int maxevents, int timeout,
                             const sigset_t *sigmask) {
  KERNEL(epoll_pwait);
  auto side = side_of(epfd);
  if (!side || side->wake.load(std::memory_order_acquire) < 0 || !active())
    return kernel_epoll_pwait(epfd, events, maxevents, timeout, sigmask);
  if (maxevents <= 0)
    return fail(EINVAL);
  if (events == nullptr)
    return fail(EFAULT);
  return mixed_epoll_wait(epfd, *side, events, maxevents, timeout, sigmask);
}

SHOAL_EXPORT int epoll_wait(int epfd, epoll_event *events, int maxevents, int timeout) {
  return epoll_pwait(epfd, events, maxevents, timeout, nullptr);
}

SHOAL_EXPORT int poll(pollfd *fds, nfds_t n, int timeout) {
  KERNEL(poll);
  if (!active() || !any_shoal(fds, n))
    return kernel_poll(fds, n, timeout);
  return mixed_poll(fds, n, timeout, nullptr);
}

SHOAL_EXPORT int __poll_chk(pollfd *fds, nfds_t n, int timeout, size_t fdslen) {
  if (fdslen / sizeof(pollfd) < n)
    std::abort();
  return poll(fds, n, timeout);
}

SHOAL_EXPORT int ppoll(pollfd *fds, nfds_t n, const timespec *ts, const sigset_t *sigmask) {
  KERNEL(ppoll);
  if (!active() || !any_shoal(fds, n))
    return kernel_ppoll(fds, n, ts, sigmask);
  return mixed_poll(fds, n, timeout_ms_of(ts), sigmask);
}

SHOAL_EXPORT int __ppoll_chk(pollfd *fds, nfds_t n, const timespec *ts, const sigset_t *sigmask,
                             size_t fdslen) {
  if (fdslen / sizeof(pollfd) < n)
    std::abort();
  return ppoll(fds, n, ts, sigmask);
}

SHOAL_EXPORT int select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, timeval *tv) {
  KERNEL(select);
  if (!active() || !select_has_shoal(nfds, rd, wr, ex))
    return kernel_select(nfds, rd, wr, ex, tv);
  int ms = -1;
  if (tv != nullptr)
    ms = static_cast<int>(std::min<int64_t>(
        static_cast<int64_t>(tv->tv_sec) * 1000 + (tv->tv_usec + 999) / 1000, INT32_MAX));
  return mixed_select(nfds, rd, wr, ex, ms, nullptr);
}

SHOAL_EXPORT int pselect(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, const timespec *ts,
                         const sigset_t *sigmask) {
  KERNEL(pselect);
  if (!active() || !select_has_shoal(nfds, rd, wr, ex))
    return kernel_pselect(nfds, rd, wr, ex, ts, sigmask);
  return mixed_select(nfds, rd, wr, ex, timeout_ms_of(ts), sigmask);
}
