// kernel_bench: the Linux-socket side of the macro benchmarks (the kernel
// column): the workload state machines of workload.hpp driven by non-blocking
// sockets and edge-triggered epoll, one thread per role, pinned to a core.
//
//   kernel_bench server [--addr A] [--port P] [--ports K] [--mode echo|sink|source]
//                       [--request Q] [--response R] [--close-first] [--cpu N]
//                       [--duration S] [--ready-file F] [--json F] [--quiet]
//   kernel_bench client [--addr A] [--port P] [--workload churn|rr|bulk]
//                       [--concurrency C] [--request Q] [--response R]
//                       [--closer client|server] [--direction download|upload]
//                       [--duration S] [--count N] [--cpu N] [--json F] [--label L] [--quiet]
//   kernel_bench hold   [--addr A] [--port P] [--ports K] --count N [--cpu N]
//
// server and client print a live line every second on stderr and one JSON
// object at the end (stdout, or --json F). hold is the memory helper: it
// opens N idle connections spread over ports P..P+K-1, prints
// {"established":N,...}, then on the stdin line "close" closes them all
// (client first, so the TIME_WAIT records are ours) and prints {"closed":N};
// it exits at end of stdin.
#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <optional>
#include <sched.h>
#include <string>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include "workload.hpp"

namespace {

using namespace shoal;
using namespace shoal::bench;

volatile sig_atomic_t g_stop = 0;

void on_stop_signal(int) {
  g_stop = 1;
}

Instant clock_now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return instant_from_ns(int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec);
}

[[noreturn]] void die(const char *what) {
  std::fprintf(stderr, "kernel_bench: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

[[noreturn]] void usage(const char *msg) {
  std::fprintf(stderr,
               "kernel_bench: %s\n"
               "usage: kernel_bench server|client|hold [options] (see the top of "
               "bench/macro/kernel_bench.cpp)\n",
               msg);
  std::exit(2);
}

void install_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; // no SA_RESTART: epoll_wait returns EINTR and the loop sees g_stop
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

void pin_to_cpu(int cpu) {
  if (cpu < 0)
    return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0)
    die("sched_setaffinity");
}

// Hold many sockets: the soft descriptor limit up to the hard one.
void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// ---- options ----

struct Options {
  std::string role;
  WorkloadFlags w; // the workload's own flags (bench/macro/workload.hpp)
  std::string addr = "127.0.0.1";
  uint16_t port = 5201;
  unsigned ports = 1;
  int cpu = -1;
  ServerMode mode = ServerMode::echo;
  std::string ready_file;
};

uint64_t number(const char *flag, const char *v, uint64_t lo, uint64_t hi) {
  char *end = nullptr;
  errno = 0;
  const unsigned long long n = std::strtoull(v, &end, 10);
  if (errno != 0 || *end != '\0' || *v == '\0' || n < lo || n > hi) {
    std::string msg = std::string("bad value for ") + flag + ": " + v;
    usage(msg.c_str());
  }
  return n;
}

Options parse(int argc, char **argv) {
  if (argc < 2)
    usage("missing role");
  Options o;
  o.w.label = "kernel";
  o.role = argv[1];
  if (o.role != "server" && o.role != "client" && o.role != "hold")
    usage("role must be server, client or hold");
  for (int i = 2; i < argc; ++i) {
    const std::string f = argv[i];
    auto value = [&]() -> const char * {
      if (i + 1 >= argc)
        usage((f + " needs a value").c_str());
      return argv[++i];
    };
    if (f == "--addr")
      o.addr = value();
    else if (f == "--port")
      o.port = uint16_t(number("--port", value(), 0, 65535));
    else if (f == "--ports")
      o.ports = unsigned(number("--ports", value(), 1, 1000));
    else if (f == "--cpu")
      o.cpu = int(number("--cpu", value(), 0, CPU_SETSIZE - 1));
    else if (f == "--mode") {
      if (!parse_server_mode(value(), &o.mode))
        usage("--mode must be echo, sink or source");
    } else if (f == "--ready-file")
      o.ready_file = value();
    else {
      bool took = false;
      std::string err;
      const char *v = i + 1 < argc ? argv[i + 1] : nullptr;
      switch (parse_workload_flag(f, v, &o.w, &took, &err)) {
      case FlagParse::ok:
        i += took ? 1 : 0;
        break;
      case FlagParse::bad_value:
        usage(err.c_str());
      case FlagParse::not_a_workload_flag:
        usage(("unknown option " + f).c_str());
      }
    }
  }
  if (o.role == "client" && o.port == 0)
    usage("client needs --port");
  return o;
}

sockaddr_in make_addr(const std::string &addr, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (inet_pton(AF_INET, addr.c_str(), &sa.sin_addr) != 1)
    usage(("bad IPv4 address " + addr).c_str());
  return sa;
}

void write_json(const Options &o, const std::string &json) {
  if (o.w.json_path.empty()) {
    std::printf("%s\n", json.c_str());
    std::fflush(stdout);
    return;
  }
  FILE *f = std::fopen(o.w.json_path.c_str(), "w");
  if (!f)
    die(o.w.json_path.c_str());
  std::fprintf(f, "%s\n", json.c_str());
  std::fclose(f);
}

void set_nodelay(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Closes with RST (SO_LINGER 0): a failed exchange leaves nothing behind.
void close_abortive(int fd) {
  const linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

ErrorKind connect_error_kind(int err) {
  switch (err) {
  case ECONNREFUSED:
    return ErrorKind::connect_refused;
  case ETIMEDOUT:
    return ErrorKind::connect_timeout;
  case EADDRNOTAVAIL:
  case EADDRINUSE:
    return ErrorKind::no_local_port;
  case EMFILE:
  case ENFILE:
  case ENOBUFS:
  case ENOMEM:
    return ErrorKind::no_descriptor;
  default:
    return ErrorKind::connect_failed;
  }
}

ErrorKind io_error_kind(int err) {
  return (err == ECONNRESET || err == EPIPE) ? ErrorKind::reset : ErrorKind::io_error;
}

// One epoll instance; connection fds in data.fd, listeners tagged.
constexpr uint64_t kListenerTag = uint64_t{1} << 40;
constexpr uint32_t kConnEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

// Runs a connection's state machine until it would block or ends. Session
// is ClientSession or ServerSession. Returns the final Next (close/fail
// mean the caller must finish and close the fd).
template <class Session> Next drive(int fd, Session &s, Next next) {
  static thread_local uint8_t buf[kBulkChunk];
  for (;;) {
    switch (next) {
    case Next::send: {
      const auto span = s.pending_send();
      if (span.empty())
        return next; // nothing to write in this state: wait
      const ssize_t n = send(fd, span.data(), span.size(), MSG_NOSIGNAL);
      if (n > 0) {
        next = s.sent(size_t(n), clock_now());
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return next;
      if (n < 0 && errno == EINTR)
        continue;
      next = s.failed(io_error_kind(errno), clock_now());
      continue;
    }
    case Next::receive:
    case Next::await_close: {
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n > 0) {
        next = s.received(std::span<const uint8_t>(buf, size_t(n)), clock_now());
        continue;
      }
      if (n == 0) {
        next = s.peer_closed(clock_now());
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return next;
      if (errno == EINTR)
        continue;
      next = s.failed(io_error_kind(errno), clock_now());
      continue;
    }
    case Next::close:
    case Next::fail:
      return next;
    }
  }
}

// ---- server ----

struct ServerSlot {
  std::optional<ServerSession> session;
  Next next = Next::receive;
};

int listen_on(const sockaddr_in &sa) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    die("socket");
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, reinterpret_cast<const sockaddr *>(&sa), sizeof sa) != 0)
    die("bind");
  if (listen(fd, 65535) != 0) // capped by net.core.somaxconn
    die("listen");
  return fd;
}

int run_server(const Options &o) {
  ServerConfig cfg;
  cfg.mode = o.mode;
  cfg.request_size = o.w.request;
  cfg.response_size = o.w.response;
  cfg.close_first = o.w.close_first;
  cfg.label = o.w.label;
  if (o.w.quiet)
    cfg.report_interval = Duration::zero();
  ServerRun run(cfg);

  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0)
    die("epoll_create1");
  std::vector<int> listeners;
  uint16_t first_port = o.port;
  for (unsigned k = 0; k < o.ports; ++k) {
    const int fd = listen_on(make_addr(o.addr, o.port == 0 ? 0 : uint16_t(o.port + k)));
    if (k == 0 && o.port == 0) {
      sockaddr_in bound{};
      socklen_t len = sizeof bound;
      getsockname(fd, reinterpret_cast<sockaddr *>(&bound), &len);
      first_port = ntohs(bound.sin_port);
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenerTag | unsigned(fd);
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
      die("epoll_ctl listener");
    listeners.push_back(fd);
    if (o.port == 0)
      break;
  }
  if (!o.ready_file.empty()) {
    // Written after listen(): a script waits for this file, then starts the client.
    const std::string tmp = o.ready_file + ".tmp";
    FILE *f = std::fopen(tmp.c_str(), "w");
    if (!f)
      die(tmp.c_str());
    std::fprintf(f, "%u\n", first_port);
    std::fclose(f);
    std::rename(tmp.c_str(), o.ready_file.c_str());
  }

  std::vector<ServerSlot> slots(1024);
  auto finish = [&](int fd, Next how) {
    ServerSlot &slot = slots[size_t(fd)];
    slot.session->finish(clock_now());
    slot.session.reset();
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
    if (how == Next::fail)
      close_abortive(fd);
    else
      close(fd);
  };

  const Instant start = clock_now();
  run.begin(start);
  const Instant deadline =
      o.w.duration_s > 0 ? start + Duration(int64_t(o.w.duration_s * 1e9)) : Instant::max();
  std::vector<epoll_event> events(512);
  while (!g_stop) {
    Instant now = clock_now();
    if (now >= deadline)
      break;
    run.tick(now, stderr);
    const int n = epoll_wait(ep, events.data(), int(events.size()), 200);
    if (n < 0 && errno != EINTR)
      die("epoll_wait");
    for (int i = 0; i < n; ++i) {
      const epoll_event &ev = events[size_t(i)];
      if (ev.data.u64 & kListenerTag) {
        const int lfd = int(ev.data.u64 & 0xffffffff);
        for (;;) {
          const int fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0)
            break; // EAGAIN, or EMFILE etc.: the kernel keeps it queued
          set_nodelay(fd);
          if (size_t(fd) >= slots.size())
            slots.resize(size_t(fd) * 2);
          ServerSlot &slot = slots[size_t(fd)];
          slot.session.emplace(run);
          slot.next = slot.session->accepted(clock_now());
          epoll_event cev{};
          cev.events = kConnEvents;
          cev.data.u64 = unsigned(fd);
          if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev) != 0)
            die("epoll_ctl conn");
          // A source starts writing at once; an echo server waits for the
          // request (the ADD reports it if it is already queued).
          if (slot.next == Next::send) {
            slot.next = drive(fd, *slot.session, slot.next);
            if (slot.next == Next::close || slot.next == Next::fail)
              finish(fd, slot.next);
          }
        }
        continue;
      }
      const int fd = int(ev.data.u64);
      ServerSlot &slot = slots[size_t(fd)];
      if (!slot.session)
        continue;
      if ((ev.events & EPOLLERR) && !(ev.events & EPOLLIN)) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        slot.next = slot.session->failed(io_error_kind(err), clock_now());
      } else {
        slot.next = drive(fd, *slot.session, slot.next);
      }
      if (slot.next == Next::close || slot.next == Next::fail)
        finish(fd, slot.next);
    }
  }
  for (size_t fd = 0; fd < slots.size(); ++fd)
    if (slots[fd].session)
      finish(int(fd), Next::close);
  for (int fd : listeners)
    close(fd);
  close(ep);
  run.end(clock_now());
  write_json(o, run.to_json());
  return 0;
}

// ---- client ----

struct ClientSlot {
  std::optional<ClientSession> session;
  Next next = Next::send;
  bool connecting = false;
};

int run_client(const Options &o) {
  std::string err;
  const ClientConfig cfg = client_config(o.w, &err);
  if (!err.empty())
    usage(("client " + err).c_str());
  ClientRun run(cfg);

  std::vector<sockaddr_in> targets;
  for (unsigned k = 0; k < o.ports; ++k)
    targets.push_back(make_addr(o.addr, uint16_t(o.port + k)));
  size_t next_target = 0;

  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0)
    die("epoll_create1");
  std::vector<ClientSlot> slots(1024);

  auto finish = [&](int fd, Next how) {
    ClientSlot &slot = slots[size_t(fd)];
    slot.session->finish(clock_now());
    slot.session.reset();
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
    if (how == Next::fail)
      close_abortive(fd);
    else
      close(fd);
  };

  auto open_one = [&]() {
    const Instant now = clock_now();
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      const int err = errno;
      ClientSession s(run);
      s.start(now);
      s.failed(connect_error_kind(err), now);
      s.finish(now);
      return;
    }
    set_nodelay(fd);
    if (size_t(fd) >= slots.size())
      slots.resize(size_t(fd) * 2);
    ClientSlot &slot = slots[size_t(fd)];
    slot.session.emplace(run);
    slot.session->start(now);
    const sockaddr_in &sa = targets[next_target++ % targets.size()];
    if (connect(fd, reinterpret_cast<const sockaddr *>(&sa), sizeof sa) != 0 &&
        errno != EINPROGRESS) {
      slot.session->failed(connect_error_kind(errno), clock_now());
      slot.session->finish(clock_now());
      slot.session.reset();
      close(fd);
      return;
    }
    slot.connecting = true;
    epoll_event ev{};
    ev.events = kConnEvents;
    ev.data.u64 = unsigned(fd);
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
      die("epoll_ctl");
  };

  run.begin(clock_now());
  std::vector<epoll_event> events(512);
  while (!g_stop) {
    Instant now = clock_now();
    if (run.over(now))
      break;
    // At most `concurrency` opens per pass, so a socket() that fails at
    // once (EMFILE) cannot spin here forever.
    for (uint32_t k = 0; k < cfg.concurrency && run.want_connection(now); ++k) {
      open_one();
      now = clock_now();
    }
    const auto wait = run.next_wakeup(now) - now;
    const int timeout_ms =
        int(std::min<int64_t>(100, std::chrono::ceil<std::chrono::milliseconds>(wait).count()));
    const int n = epoll_wait(ep, events.data(), int(events.size()), timeout_ms);
    if (n < 0 && errno != EINTR)
      die("epoll_wait");
    for (int i = 0; i < n; ++i) {
      const epoll_event &ev = events[size_t(i)];
      const int fd = int(ev.data.u64);
      ClientSlot &slot = slots[size_t(fd)];
      if (!slot.session)
        continue;
      if (slot.connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
          slot.session->failed(connect_error_kind(err), clock_now());
          finish(fd, Next::close);
          continue;
        }
        if (!(ev.events & EPOLLOUT))
          continue;
        slot.connecting = false;
        slot.next = slot.session->connected(clock_now());
      } else if ((ev.events & EPOLLERR) && !(ev.events & EPOLLIN)) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        slot.next = slot.session->failed(io_error_kind(err), clock_now());
      }
      slot.next = drive(fd, *slot.session, slot.next);
      if (slot.next == Next::close || slot.next == Next::fail)
        finish(fd, slot.next);
    }
    run.tick(clock_now(), stderr);
  }
  const Instant end = clock_now();
  run.end(end);
  for (size_t fd = 0; fd < slots.size(); ++fd)
    if (slots[fd].session) {
      slots[fd].session->abandon();
      slots[fd].session.reset();
      close(int(fd));
    }
  close(ep);
  write_json(o, run.to_json());
  return 0;
}

// ---- hold: idle connections for the memory measurement ----

int run_hold(const Options &o) {
  if (o.w.count == 0)
    usage("hold needs --count");
  std::vector<sockaddr_in> targets;
  for (unsigned k = 0; k < o.ports; ++k)
    targets.push_back(make_addr(o.addr, uint16_t(o.port + k)));
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0)
    die("epoll_create1");
  std::vector<int> established;
  established.reserve(o.w.count);
  uint64_t started = 0, failed = 0, pending = 0;
  std::array<uint64_t, kErrorKinds> errors{};
  constexpr uint64_t kHandshakesInFlight = 512;
  std::vector<epoll_event> events(512);
  while (!g_stop && (started < o.w.count || pending > 0)) {
    while (started < o.w.count && pending < kHandshakesInFlight) {
      ++started;
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        ++failed;
        ++errors[size_t(connect_error_kind(errno))];
        continue;
      }
      const sockaddr_in &sa = targets[started % targets.size()];
      if (connect(fd, reinterpret_cast<const sockaddr *>(&sa), sizeof sa) != 0 &&
          errno != EINPROGRESS) {
        ++failed;
        ++errors[size_t(connect_error_kind(errno))];
        close(fd);
        continue;
      }
      epoll_event ev{};
      ev.events = EPOLLOUT;
      ev.data.fd = fd;
      if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
        die("epoll_ctl");
      ++pending;
    }
    const int n = epoll_wait(ep, events.data(), int(events.size()), 100);
    for (int i = 0; i < n; ++i) {
      const int fd = events[size_t(i)].data.fd;
      epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
      --pending;
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        ++failed;
        ++errors[size_t(connect_error_kind(err))];
        close(fd);
      } else {
        established.push_back(fd);
      }
    }
  }
  std::string line;
  char buf[128];
  std::snprintf(buf, sizeof buf, "{\"established\":%zu,\"failed\":%llu,\"errors\":{",
                established.size(), static_cast<unsigned long long>(failed));
  line += buf;
  for (size_t k = 0; k < kErrorKinds; ++k) {
    std::snprintf(buf, sizeof buf, "%s\"%s\":%llu", k ? "," : "",
                  to_string(static_cast<ErrorKind>(k)), static_cast<unsigned long long>(errors[k]));
    line += buf;
  }
  std::printf("%s}}\n", line.c_str());
  std::fflush(stdout);

  char cmd[64];
  while (!g_stop && std::fgets(cmd, sizeof cmd, stdin)) {
    if (std::strncmp(cmd, "close", 5) == 0) {
      for (int fd : established)
        close(fd);
      std::printf("{\"closed\":%zu}\n", established.size());
      std::fflush(stdout);
      established.clear();
    }
  }
  for (int fd : established)
    close(fd);
  close(ep);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  const Options o = parse(argc, argv);
  install_signals();
  raise_fd_limit();
  pin_to_cpu(o.cpu);
  if (o.role == "server")
    return run_server(o);
  if (o.role == "client")
    return run_client(o);
  return run_hold(o);
}
