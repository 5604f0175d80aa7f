// libshoal_packetdrill_impl.so: shoal under packetdrill
// (packetdrill_interface.hpp), loaded by libshoal_packetdrill.so
// (packetdrill_loader.cpp).
//
//   packetdrill --so_filename=.../libshoal_packetdrill.so
//     --local_ip=192.168.0.1 --so_flags="local_ip=192.168.0.1" script.pkt
//
// One Engine, driven by packetdrill's main thread through a ManualDriver:
//   - time is a virtual clock the adapter owns. usleep(n) moves it n µs
//     forward, running the engine's timers at their own instants on the way
//     (their packets carry those times); gettimeofday() reads it and moves it
//     1 µs, so packetdrill's last-microseconds spin loop ends.
//   - netdev_send hands the datagram to Engine::input_ipv4 at the current
//     time; netdev_receive returns the oldest datagram the engine sent, and
//     when there is none jumps the clock to the engine's next timer (a
//     retransmission, a delayed ACK ...) so scripts about timers run in no
//     real time at all.
//   - socket calls go to shoal::posix. Blocking calls on packetdrill's
//     system-call thread sleep until the main thread's packets or clock wake
//     them; on the main thread they pump the clock instead.
//   - the clock never passes a pending wake-up: while a call on the
//     system-call thread has been woken (or is running) and has not yet
//     read the time its call ended at, the main thread neither jumps to the
//     next timer nor sleeps forward, so a blocking read() woken by a packet
//     returns at that packet's time, not at the next delayed ACK.
// One script per process: the EAL is brought up once, in init; its runtime
// directory (/var/run/dpdk/<prefix>) is removed on every exit, exit() from
// a failed script included.
//
// so_flags (space or comma separated): local_ip=A.B.C.D (must equal
// --local_ip; default 192.168.0.1), mtu=N (1500), cc=newreno|cubic,
// delayed_ack_ms=N (40), quickack_segments=N (16), rto_min_ms=N (200),
// rcv_buf=N and snd_buf=N (bytes, 262144), rcv_window_hold_back=0|1 (1),
// ack_every_second_segment=0|1 (0), tail_loss_probe=0|1 (1),
// rack=0|1 (1), verbose.
#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>

#include "posix/packetdrill_interface.hpp"
#include "posix/socket.hpp"
#include "tcp/counters.hpp"
#include "tcp/engine.hpp"
#include "tcp/mbuf_offload.hpp"

namespace shoal::posix {
namespace {

namespace ps = shoal::posix;

struct Sent {
  std::vector<uint8_t> bytes;
  int64_t at_ns;
};

class Adapter final : public tcp::PacketOutput {
public:
  Adapter(const tcp::EngineConfig &cfg, rte_mempool *pool, bool verbose)
      : pool_(pool), verbose_(verbose), main_thread_(std::this_thread::get_id()) {
    timeval tv{};
    ::gettimeofday(&tv, nullptr);
    wall_base_us_ = static_cast<int64_t>(tv.tv_sec) * 1000000 + tv.tv_usec;
    engine_ = std::make_unique<tcp::Engine>(cfg, pool, *this, instant_from_ns(now_ns_));
    driver_ = std::make_unique<ManualDriver>(
        *engine_, [this](std::optional<Instant> until) { return pump(until); },
        [this] { return instant_from_ns(now_ns_.load()); });
    set_default_driver(driver_.get());
  }
  ~Adapter() override {
    set_default_driver(nullptr);
    // packetdrill closed the descriptors of the sockets it still held.
    driver_->set_close_descriptors(false);
    driver_.reset();
    engine_.reset();
  }

  rte_mempool *pool() const { return pool_; }

  // ---- PacketOutput (engine side) ----
  void transmit(tcp::PacketBuf packet, tcp::TxOffload offload) override {
    rte_mbuf *m = packet.mbuf();
    tcp::set_tx_offload(m, offload);
    Sent s;
    s.at_ns = emit_ns_;
    s.bytes.resize(rte_pktmbuf_pkt_len(m));
    const void *p = rte_pktmbuf_read(m, 0, s.bytes.size(), s.bytes.data());
    if (p != s.bytes.data() && p != nullptr)
      std::memcpy(s.bytes.data(), p, s.bytes.size());
    rte_pktmbuf_free(m);
    if (verbose_)
      std::fprintf(stderr, "shoal: t=%.6f sent %zu bytes\n", static_cast<double>(s.at_ns) / 1e9,
                   s.bytes.size());
    std::lock_guard g(out_mu_);
    sent_.push_back(std::move(s));
  }

  // ---- application calls on other threads than the main one ----
  // A socket call starts on the calling thread. It counts as running (the
  // clock waits for it) until the thread reads the clock after it returned:
  // packetdrill takes a blocking call's end time right after the call.
  void call_starts() {
    if (std::this_thread::get_id() == main_thread_ || call_open_)
      return;
    call_open_ = true;
    open_calls_.fetch_add(1);
  }
  void clock_read() {
    if (!call_open_ || in_call_)
      return;
    call_open_ = false;
    open_calls_.fetch_sub(1);
  }
  struct CallScope {
    explicit CallScope(void *u) : a(static_cast<Adapter *>(u)) {
      a->call_starts();
      in_call_ = true;
    }
    ~CallScope() { in_call_ = false; }
    CallScope(const CallScope &) = delete;
    CallScope &operator=(const CallScope &) = delete;
    Adapter *a;
  };
  // No call of another thread is running or woken: each one open sleeps in
  // the driver with nothing to wake it for.
  bool calls_settled() {
    size_t asleep = 0;
    if (!driver_->waiters_settled(asleep))
      return false;
    return static_cast<size_t>(std::max(open_calls_.load(), 0)) <= asleep;
  }
  // Gives a woken call the real time it needs to finish (bounded: a call
  // that never settles must not hang the script).
  void await_settled() {
    for (int i = 0; i < 40000 && !calls_settled(); i++)
      std::this_thread::sleep_for(std::chrono::microseconds(50));
  }

  // ---- the clock ----
  int64_t now_ns() const { return now_ns_.load(); }
  int64_t read_clock_us() {
    const int64_t ns = now_ns_.fetch_add(1000) + 1000;
    clock_read();
    return wall_base_us_ + ns / 1000;
  }
  int64_t wall_us(int64_t ns) const { return wall_base_us_ + ns / 1000; }

  // Runs the engine's timers up to `t` (engine mutex held), each at its own
  // instant, then leaves the clock at t.
  void run_to(int64_t t) {
    for (int guard = 0; guard < 100000; guard++) {
      const auto next = engine_->next_timer();
      if (!next || to_ns(*next) > t)
        break;
      const int64_t at = std::max(to_ns(*next), to_ns(engine_->now()));
      emit_ns_ = at;
      engine_->advance(instant_from_ns(at));
      if (engine_->next_timer() == next) // due now and not moving: let time pass
        break;
    }
    emit_ns_ = t;
    if (t > to_ns(engine_->now()))
      engine_->advance(instant_from_ns(t));
    int64_t cur = now_ns_.load();
    while (cur < t && !now_ns_.compare_exchange_weak(cur, t)) {
    }
  }
  // ManualDriver's pump (engine mutex held): the next timer no later than
  // `until`, else the clock moves to `until`.
  bool pump(std::optional<Instant> until) {
    run_to(now_ns());
    const auto next = engine_->next_timer();
    if (next && (!until || *next <= *until)) {
      run_to(std::max(to_ns(*next), now_ns()));
      return true;
    }
    if (until)
      run_to(std::max(to_ns(*until), now_ns()));
    return false;
  }

  // A datagram larger than one pool buffer (up to the 64 KiB an IPv4
  // datagram can be, as a NIC with receive offload hands them up) arrives
  // as a chain of mbufs, each filled to its room.
  int netdev_send(const void *buf, size_t count) {
    if (count == 0 || count > UINT16_MAX) {
      errno = EMSGSIZE;
      return -1;
    }
    rte_mbuf *m = nullptr;
    for (size_t off = 0; off < count;) {
      rte_mbuf *piece = rte_pktmbuf_alloc(pool_);
      if (piece == nullptr || (m != nullptr && rte_pktmbuf_chain(m, piece) != 0)) {
        rte_pktmbuf_free(piece);
        rte_pktmbuf_free(m);
        errno = ENOBUFS;
        return -1;
      }
      if (m == nullptr)
        m = piece;
      const size_t n = std::min<size_t>(count - off, rte_pktmbuf_tailroom(piece));
      std::memcpy(rte_pktmbuf_mtod(piece, char *), static_cast<const char *>(buf) + off, n);
      piece->data_len = static_cast<uint16_t>(n);
      m->pkt_len += static_cast<uint32_t>(n);
      off += n;
    }
    std::lock_guard g(driver_->engine_mutex());
    run_to(now_ns());
    emit_ns_ = now_ns();
    engine_->input_ipv4(m, tcp::RxChecksum{}, instant_from_ns(now_ns()));
    return 0;
  }

  int netdev_receive(void *buf, size_t *count, long long *time_usecs) {
    bool stuck_call = false;
    for (int idle_rounds = 0;;) {
      {
        std::lock_guard g(out_mu_);
        if (!sent_.empty()) {
          Sent s = std::move(sent_.front());
          sent_.pop_front();
          const size_t n = std::min(*count, s.bytes.size());
          std::memcpy(buf, s.bytes.data(), n);
          *count = n;
          *time_usecs = wall_us(s.at_ns);
          return 0;
        }
      }
      bool has_timer;
      bool settled = true;
      {
        std::lock_guard g(driver_->engine_mutex());
        run_to(now_ns());
        has_timer = engine_->next_timer().has_value();
        // Nothing sent yet: time moves to the next timer -- unless a call
        // of the system-call thread was woken and has not finished.
        if (has_timer && (settled = stuck_call || calls_settled()))
          pump(std::nullopt);
      }
      if (!settled) {
        // A call that stays awake for seconds of real time is stuck (or
        // spins): time moves on without it.
        await_settled();
        stuck_call = !calls_settled();
        continue;
      }
      stuck_call = false;
      if (has_timer)
        continue;
      // Nothing to send and no timer: only the system-call thread can still
      // make the stack send something. Give it a moment of real time.
      if (++idle_rounds > 2000) {
        std::fprintf(stderr,
                     "shoal packetdrill adapter: the script waits for a packet, but shoal has "
                     "nothing to send and no timer armed (t=%.6f)\n",
                     static_cast<double>(now_ns()) / 1e9);
        if (verbose_) {
          std::lock_guard g(driver_->engine_mutex());
          std::fprintf(stderr, "shoal: engine counters:\n%s\n", engine_->counters().to_string().c_str());
        }
        std::exit(EXIT_FAILURE); // packetdrill would otherwise wait forever
      }
      ::usleep(1000);
    }
  }

  int usleep(useconds_t us) {
    await_settled(); // a woken call finishes at the time it was woken
    std::lock_guard g(driver_->engine_mutex());
    run_to(now_ns() + static_cast<int64_t>(us) * 1000);
    return 0;
  }

private:
  rte_mempool *pool_;
  bool verbose_;
  int64_t wall_base_us_ = 0;
  std::atomic<int64_t> now_ns_{1000000000}; // virtual time starts at 1 s
  int64_t emit_ns_ = 1000000000;            // the instant the engine is running at
  std::mutex out_mu_;
  std::deque<Sent> sent_;
  std::unique_ptr<tcp::Engine> engine_;
  std::unique_ptr<ManualDriver> driver_;
  std::thread::id main_thread_;
  std::atomic<int> open_calls_{0}; // calls of other threads, see call_starts
  static thread_local bool call_open_; // this thread's call is counted in open_calls_
  static thread_local bool in_call_;   // this thread is inside a socket call
};

thread_local bool Adapter::call_open_ = false;
thread_local bool Adapter::in_call_ = false;

Adapter *self(void *u) {
  return static_cast<Adapter *>(u);
}

bool eal_up = false;

std::string runtime_dir() {
  return "/var/run/dpdk/shoal-pd-" + std::to_string(::getpid());
}

// packetdrill ends a failed script with exit(), never calling free.
void remove_runtime_dir() {
  std::error_code ec;
  std::filesystem::remove_all(runtime_dir(), ec);
}

rte_mempool *bring_up_eal() {
  std::vector<std::string> args = {"shoal-packetdrill",
                                   "--no-huge",
                                   "-m",
                                   "256",
                                   "--no-pci",
                                   "--no-shconf",
                                   "--file-prefix",
                                   "shoal-pd-" + std::to_string(::getpid()),
                                   "-l",
                                   "0",
                                   "--no-telemetry",
                                   "--log-level",
                                   "lib.eal:error",
                                   "--log-level",
                                   "pmd.*:error"};
  std::vector<char *> argv;
  for (auto &a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr); // getopt looks at argv[argc]
  std::atexit(remove_runtime_dir); // also after a failed rte_eal_init
  if (rte_eal_init(static_cast<int>(args.size()), argv.data()) < 0) {
    std::fprintf(stderr, "shoal packetdrill adapter: rte_eal_init: %s\n", rte_strerror(rte_errno));
    std::exit(EXIT_FAILURE);
  }
  eal_up = true;
  rte_mempool *mp =
      rte_pktmbuf_pool_create("shoal_pd", 8191, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  if (mp == nullptr) {
    std::fprintf(stderr, "shoal packetdrill adapter: mempool: %s\n", rte_strerror(rte_errno));
    std::exit(EXIT_FAILURE);
  }
  return mp;
}

void adapter_free(void *u) {
  Adapter *a = self(u);
  rte_mempool *pool = a->pool();
  delete a;
  rte_mempool_free(pool);
  if (eal_up) {
    rte_eal_cleanup();
    remove_runtime_dir();
  }
}

// ---- the table: libc signatures onto shoal::posix ----

int pd_socket(void *u, int d, int t, int p) {
  const Adapter::CallScope scope(u);
  return ps::socket(d, t, p);
}
int pd_bind(void *u, int fd, const sockaddr *a, socklen_t l) {
  const Adapter::CallScope scope(u);
  return ps::bind(fd, a, l);
}
int pd_listen(void *u, int fd, int backlog) {
  const Adapter::CallScope scope(u);
  return ps::listen(fd, backlog);
}
int pd_accept(void *u, int fd, sockaddr *a, socklen_t *l) {
  const Adapter::CallScope scope(u);
  return ps::accept(fd, a, l);
}
int pd_connect(void *u, int fd, const sockaddr *a, socklen_t l) {
  const Adapter::CallScope scope(u);
  return ps::connect(fd, a, l);
}
ssize_t pd_read(void *u, int fd, void *b, size_t n) {
  const Adapter::CallScope scope(u);
  return ps::read(fd, b, n);
}
ssize_t pd_readv(void *u, int fd, const iovec *iov, int n) {
  const Adapter::CallScope scope(u);
  return ps::readv(fd, iov, n);
}
ssize_t pd_recv(void *u, int fd, void *b, size_t n, int f) {
  const Adapter::CallScope scope(u);
  return ps::recv(fd, b, n, f);
}
ssize_t pd_recvfrom(void *u, int fd, void *b, size_t n, int f, sockaddr *a, socklen_t *l) {
  const Adapter::CallScope scope(u);
  const ssize_t r = ps::recv(fd, b, n, f);
  if (r >= 0 && a != nullptr && l != nullptr)
    ps::getpeername(fd, a, l);
  return r;
}
ssize_t pd_recvmsg(void *u, int fd, msghdr *m, int f) {
  const Adapter::CallScope scope(u);
  return ps::recvmsg(fd, m, f);
}
ssize_t pd_write(void *u, int fd, const void *b, size_t n) {
  const Adapter::CallScope scope(u);
  return ps::write(fd, b, n);
}
ssize_t pd_writev(void *u, int fd, const iovec *iov, int n) {
  const Adapter::CallScope scope(u);
  return ps::writev(fd, iov, n);
}
ssize_t pd_send(void *u, int fd, const void *b, size_t n, int f) {
  const Adapter::CallScope scope(u);
  return ps::send(fd, b, n, f);
}
ssize_t pd_sendto(void *u, int fd, const void *b, size_t n, int f, const sockaddr *, socklen_t) {
  const Adapter::CallScope scope(u);
  return ps::send(fd, b, n, f); // stream sockets: the destination is the peer
}
ssize_t pd_sendmsg(void *u, int fd, const msghdr *m, int f) {
  const Adapter::CallScope scope(u);
  return ps::sendmsg(fd, m, f);
}
int pd_fcntl(void *u, int fd, int cmd, ...) {
  const Adapter::CallScope scope(u);
  va_list ap;
  va_start(ap, cmd);
  const long arg = (cmd == F_SETFL || cmd == F_SETFD) ? va_arg(ap, long) : 0;
  va_end(ap);
  return ps::fcntl(fd, cmd, arg);
}
int pd_ioctl(void *u, int fd, unsigned long req, ...) {
  const Adapter::CallScope scope(u);
  va_list ap;
  va_start(ap, req);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  return ps::ioctl(fd, req, arg);
}
int pd_close(void *u, int fd) {
  const Adapter::CallScope scope(u);
  return ps::close(fd);
}
int pd_shutdown(void *u, int fd, int how) {
  const Adapter::CallScope scope(u);
  return ps::shutdown(fd, how);
}
int pd_getsockopt(void *u, int fd, int level, int name, void *v, socklen_t *l) {
  const Adapter::CallScope scope(u);
  return ps::getsockopt(fd, level, name, v, l);
}
int pd_setsockopt(void *u, int fd, int level, int name, const void *v, socklen_t l) {
  const Adapter::CallScope scope(u);
  return ps::setsockopt(fd, level, name, v, l);
}
int pd_poll(void *u, pollfd *fds, nfds_t n, int timeout) {
  const Adapter::CallScope scope(u);
  return ps::poll(fds, n, timeout);
}
int pd_netdev_send(void *u, const void *buf, size_t count) {
  return self(u)->netdev_send(buf, count);
}
int pd_netdev_receive(void *u, void *buf, size_t *count, long long *t) {
  return self(u)->netdev_receive(buf, count, t);
}
int pd_usleep(void *u, useconds_t us) {
  return self(u)->usleep(us);
}
int pd_gettimeofday(void *u, timeval *tv, void *) {
  const int64_t us = self(u)->read_clock_us();
  tv->tv_sec = static_cast<time_t>(us / 1000000);
  tv->tv_usec = static_cast<suseconds_t>(us % 1000000);
  return 0;
}
int pd_epoll_create(void *u, int size) {
  const Adapter::CallScope scope(u);
  if (size <= 0) {
    errno = EINVAL;
    return -1;
  }
  return ps::epoll_create1(0);
}
int pd_epoll_ctl(void *u, int epfd, int op, int fd, epoll_event *ev) {
  const Adapter::CallScope scope(u);
  return ps::epoll_ctl(epfd, op, fd, ev);
}
int pd_epoll_wait(void *u, int epfd, epoll_event *ev, int max, int timeout) {
  const Adapter::CallScope scope(u);
  return ps::epoll_wait(epfd, ev, max, timeout);
}
int pd_pipe(void *, int *) {
  errno = ENOSYS;
  return -1;
}
int pd_splice(void *, int, loff_t *, int, loff_t *, size_t, unsigned int) {
  errno = ENOSYS;
  return -1;
}

struct Flags {
  tcp::EngineConfig cfg;
  bool verbose = false;
};

Flags parse_flags(const char *text) {
  Flags f;
  f.cfg.local_address = wire::Ipv4Addr::from_octets(192, 168, 0, 1);
  f.cfg.secret_seed = 1; // ISNs: packetdrill maps them, but runs stay reproducible
  std::string s = text != nullptr ? text : "";
  for (char &c : s)
    if (c == ',')
      c = ' ';
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t end = std::min(s.find(' ', pos), s.size());
    const std::string item = s.substr(pos, end - pos);
    pos = end + 1;
    if (item.empty())
      continue;
    const size_t eq = item.find('=');
    const std::string key = item.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : item.substr(eq + 1);
    auto number = [&]() -> long {
      char *e = nullptr;
      const long v = std::strtol(value.c_str(), &e, 10);
      if (value.empty() || *e != '\0' || v < 0) {
        std::fprintf(stderr, "shoal packetdrill adapter: bad number in so_flags: %s\n",
                     item.c_str());
        std::exit(EXIT_FAILURE);
      }
      return v;
    };
    if (key == "local_ip") {
      auto ip = wire::Ipv4Addr::parse(value);
      if (!ip) {
        std::fprintf(stderr, "shoal packetdrill adapter: bad local_ip: %s\n", value.c_str());
        std::exit(EXIT_FAILURE);
      }
      f.cfg.local_address = *ip;
    } else if (key == "mtu") {
      f.cfg.mtu = static_cast<uint16_t>(number());
    } else if (key == "cc") {
      f.cfg.congestion_control = value;
    } else if (key == "delayed_ack_ms") {
      f.cfg.delayed_ack = std::chrono::milliseconds(number());
    } else if (key == "quickack_segments") {
      f.cfg.quickack_segments = static_cast<uint32_t>(number());
    } else if (key == "rack") {
      f.cfg.rack = number() != 0;
    } else if (key == "tail_loss_probe") {
      f.cfg.tail_loss_probe = number() != 0;
    } else if (key == "rcv_window_hold_back") {
      f.cfg.rcv_window_hold_back = number() != 0;
    } else if (key == "ack_every_second_segment") {
      f.cfg.ack_every_second_segment = number() != 0;
    } else if (key == "rcv_buf") {
      f.cfg.rcv_buf = static_cast<uint32_t>(number());
    } else if (key == "snd_buf") {
      f.cfg.snd_buf = static_cast<uint32_t>(number());
    } else if (key == "rto_min_ms") {
      f.cfg.min_rto = std::chrono::milliseconds(number());
    } else if (key == "verbose") {
      f.verbose = true;
    } else {
      std::fprintf(stderr, "shoal packetdrill adapter: unknown so_flags item: %s\n", item.c_str());
      std::exit(EXIT_FAILURE);
    }
  }
  return f;
}

} // namespace
} // namespace shoal::posix

// Called by the loader (packetdrill_loader.cpp), which packetdrill dlopen()s.
extern "C" __attribute__((visibility("default"))) void
shoal_packetdrill_interface_init(const char *flags, struct packetdrill_interface *ifc) {
  using namespace shoal::posix;
  const Flags f = parse_flags(flags);
  rte_mempool *pool = bring_up_eal();
  std::memset(ifc, 0, sizeof *ifc);
  ifc->userdata = new Adapter(f.cfg, pool, f.verbose);
  ifc->free = adapter_free;
  ifc->socket = pd_socket;
  ifc->bind = pd_bind;
  ifc->listen = pd_listen;
  ifc->accept = pd_accept;
  ifc->connect = pd_connect;
  ifc->read = pd_read;
  ifc->readv = pd_readv;
  ifc->recv = pd_recv;
  ifc->recvfrom = pd_recvfrom;
  ifc->recvmsg = pd_recvmsg;
  ifc->write = pd_write;
  ifc->writev = pd_writev;
  ifc->send = pd_send;
  ifc->sendto = pd_sendto;
  ifc->sendmsg = pd_sendmsg;
  ifc->fcntl = pd_fcntl;
  ifc->ioctl = pd_ioctl;
  ifc->close = pd_close;
  ifc->shutdown = pd_shutdown;
  ifc->getsockopt = pd_getsockopt;
  ifc->setsockopt = pd_setsockopt;
  ifc->poll = pd_poll;
  ifc->netdev_send = pd_netdev_send;
  ifc->netdev_receive = pd_netdev_receive;
  ifc->usleep = pd_usleep;
  ifc->gettimeofday = pd_gettimeofday;
  ifc->epoll_create = pd_epoll_create;
  ifc->epoll_ctl = pd_epoll_ctl;
  ifc->epoll_wait = pd_epoll_wait;
  ifc->pipe = pd_pipe;
  ifc->splice = pd_splice;
}
