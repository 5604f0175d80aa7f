// preload_probe <echo-host> <echo-port>: an ordinary Linux program (it
// links nothing of shoal) that checks, when run under shoal-run, what a
// program sees of its sockets: errno on misuse, kernel descriptors left to
// the kernel, loopback handed to the kernel, poll/select/epoll mixing both kinds, exact EPOLLET,
// dup, fork. The peer is a kernel echo server. Prints one line per check and exits 1 if any failed.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

int failures = 0;

void expect(bool ok, const char *what, const std::string &detail = {}) {
  std::printf("%s %s%s%s\n", ok ? "ok  " : "FAIL", what, detail.empty() ? "" : ": ",
              detail.c_str());
  std::fflush(stdout);
  if (!ok)
    failures++;
}

std::string err(int e) {
  return std::string(strerrorname_np(e) != nullptr ? strerrorname_np(e) : "?");
}

// -1 with errno `e`?
bool fails_with(long r, int e, std::string &got) {
  got = r == -1 ? err(errno) : "returned " + std::to_string(r);
  return r == -1 && errno == e;
}

sockaddr_in addr_of(const char *host, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host, &a.sin_addr);
  return a;
}

int connect_to(const sockaddr_in &a) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<const sockaddr *>(&a), sizeof a) != 0)
    return -1;
  return fd;
}

bool roundtrip(int fd, const char *msg) {
  const size_t n = std::strlen(msg);
  if (write(fd, msg, n) != static_cast<ssize_t>(n))
    return false;
  char buf[256];
  size_t got = 0;
  while (got < n) {
    const ssize_t r = read(fd, buf + got, sizeof buf - got);
    if (r <= 0)
      return false;
    got += static_cast<size_t>(r);
  }
  return got == n && std::memcmp(buf, msg, n) == 0;
}

// What the kernel holds under the number: "socket:[...]" for a kernel
// socket (a shoal socket is an eventfd there). readlink is not intercepted.
bool is_kernel_socket(int fd) {
  char link[64];
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  const ssize_t n = readlink(path.c_str(), link, sizeof link - 1);
  return n > 0 && std::string(link, static_cast<size_t>(n)).rfind("socket:", 0) == 0;
}

// What fstat() tells the program: a socket, whoever serves it.
bool stat_says_socket(int fd) {
  struct stat st {};
  struct stat st_at {};
  struct statx stx {};
  return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
         fstatat(fd, "", &st_at, AT_EMPTY_PATH) == 0 && S_ISSOCK(st_at.st_mode) &&
         statx(fd, "", AT_EMPTY_PATH, STATX_TYPE, &stx) == 0 && S_ISSOCK(stx.stx_mode);
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <echo-host> <echo-port>\n", argv[0]);
    return 2;
  }
  const sockaddr_in echo = addr_of(argv[1], std::atoi(argv[2]));
  std::string got;

  // Sockets shoal does not serve stay the kernel's.
  {
    const int u = socket(AF_INET, SOCK_DGRAM, 0);
    const int v6 = socket(AF_INET6, SOCK_STREAM, 0);
    const int ux = socket(AF_UNIX, SOCK_STREAM, 0);
    const int t = socket(AF_INET, SOCK_STREAM, 0);
    expect(is_kernel_socket(v6) && is_kernel_socket(ux),
           "IPv6 and AF_UNIX sockets are the kernel's");
    expect(u >= 0 && !is_kernel_socket(u), "an AF_INET datagram socket is shoal's");
    expect(t >= 0 && !is_kernel_socket(t), "an AF_INET stream socket is shoal's");
    expect(stat_says_socket(t) && stat_says_socket(u) && stat_says_socket(ux),
           "fstat, fstatat and statx show S_ISSOCK for shoal's sockets as for the kernel's");
    const int nul = open("/dev/null", O_RDONLY);
    struct stat nst {};
    expect(fstat(nul, &nst) == 0 && S_ISCHR(nst.st_mode), "fstat of a file is the kernel's");
    close(nul);
    close(u);
    close(v6);
    close(ux);

    // Misuse gets Linux's errno.
    expect(fails_with(recv(t, &got, 1, 0), ENOTCONN, got), "recv before connect: ENOTCONN", got);
    expect(fails_with(accept(t, nullptr, nullptr), EINVAL, got), "accept without listen: EINVAL",
           got);
    int one = 1;
    expect(fails_with(setsockopt(t, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3), ENOPROTOOPT, got),
           "an option shoal lacks: ENOPROTOOPT", got);
    expect(fails_with(setsockopt(t, IPPROTO_TCP, TCP_NODELAY, &one, 1), EINVAL, got),
           "option of the wrong size: EINVAL", got);
    sockaddr_in6 six{};
    six.sin6_family = AF_INET6;
    expect(
        fails_with(connect(t, reinterpret_cast<sockaddr *>(&six), sizeof six), EAFNOSUPPORT, got),
        "connect to an IPv6 address: EAFNOSUPPORT", got);
    const int pfd = open("/dev/null", O_RDONLY);
    expect(fails_with(listen(pfd, 1), ENOTSOCK, got), "listen on a file: ENOTSOCK", got);
    close(pfd);
    expect(close(t) == 0, "close");
    expect(fails_with(close(t), EBADF, got), "close again: EBADF", got);
    expect(fails_with(send(t, "x", 1, 0), EBADF, got), "send on a closed descriptor: EBADF", got);
  }

  // Loopback is the kernel's: a socket bound or connected to 127.0.0.1
  // becomes a kernel socket under the same number, options kept.
  {
    const int l = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const sockaddr_in lo = addr_of("127.0.0.1", 0);
    const bool bound = bind(l, reinterpret_cast<const sockaddr *>(&lo), sizeof lo) == 0;
    int reuse = 0;
    socklen_t rl = sizeof reuse;
    getsockopt(l, SOL_SOCKET, SO_REUSEADDR, &reuse, &rl);
    sockaddr_in at{};
    socklen_t al = sizeof at;
    const bool listening =
        bound && listen(l, 4) == 0 && getsockname(l, reinterpret_cast<sockaddr *>(&at), &al) == 0;
    expect(listening && is_kernel_socket(l) && reuse == 1,
           "bind to 127.0.0.1: a kernel socket, SO_REUSEADDR kept");
    const int c = socket(AF_INET, SOCK_STREAM, 0);
    const bool connected = connect(c, reinterpret_cast<const sockaddr *>(&at), sizeof at) == 0;
    const int a = accept(l, nullptr, nullptr);
    char ch = 0;
    const bool moved = a >= 0 && write(c, "L", 1) == 1 && read(a, &ch, 1) == 1 && ch == 'L';
    expect(connected && is_kernel_socket(c) && moved, "connect to 127.0.0.1 over the kernel");
    close(a);
    close(c);
    close(l);
  }

  // A blocking connect and an echo.
  const int s = connect_to(echo);
  expect(s >= 0 && roundtrip(s, "hello over shoal"), "blocking connect and echo",
         s < 0 ? err(errno) : "");
  if (s < 0)
    return 1;
  sockaddr_in me{}, peer{};
  socklen_t ml = sizeof me, pl = sizeof peer;
  expect(getsockname(s, reinterpret_cast<sockaddr *>(&me), &ml) == 0 &&
             getpeername(s, reinterpret_cast<sockaddr *>(&peer), &pl) == 0 &&
             peer.sin_port == echo.sin_port && ntohs(me.sin_port) != 0,
         "getsockname / getpeername");

  // A non-blocking connect, completed through poll with a pipe in the set.
  int pipefd[2];
  if (pipe(pipefd) != 0)
    return 1;
  {
    const int n = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    const int r = connect(n, reinterpret_cast<const sockaddr *>(&echo), sizeof echo);
    expect(r == -1 && errno == EINPROGRESS, "non-blocking connect: EINPROGRESS", err(errno));
    pollfd p[2] = {{pipefd[0], POLLIN, 0}, {n, POLLOUT, 0}};
    const int k = poll(p, 2, 5000);
    int so_error = -1;
    socklen_t len = sizeof so_error;
    getsockopt(n, SOL_SOCKET, SO_ERROR, &so_error, &len);
    expect(k == 1 && p[1].revents == POLLOUT && p[0].revents == 0 && so_error == 0,
           "poll over a pipe and a connecting socket: POLLOUT, SO_ERROR 0");
    int flags = fcntl(n, F_GETFL);
    expect((flags & O_NONBLOCK) != 0, "F_GETFL shows O_NONBLOCK");
    char c;
    expect(fails_with(read(n, &c, 1), EAGAIN, got), "read with nothing queued: EAGAIN", got);
    close(n);
  }

  // epoll: a kernel pipe and a shoal socket in one set; EPOLLET reports the
  // socket once per arrival, EPOLLIN alone (level) every time.
  {
    const int ep = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.u64 = 1;
    expect(epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) == 0, "epoll_ctl ADD of a shoal socket");
    expect(fails_with(epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev), EEXIST, got), "ADD twice: EEXIST", got);
    ev.events = EPOLLIN;
    ev.data.u64 = 2;
    expect(epoll_ctl(ep, EPOLL_CTL_ADD, pipefd[0], &ev) == 0, "epoll_ctl ADD of a pipe");
    epoll_event out[4];
    expect(epoll_wait(ep, out, 4, 50) == 0, "nothing ready: epoll_wait times out");
    (void)!write(s, "edge", 4);
    int k = epoll_wait(ep, out, 4, 5000);
    expect(k == 1 && out[0].data.u64 == 1 && (out[0].events & EPOLLIN) != 0,
           "EPOLLET: the echo is reported");
    k = epoll_wait(ep, out, 4, 200);
    expect(k == 0, "EPOLLET: not again without new data", "got " + std::to_string(k));
    (void)!write(pipefd[1], "p", 1);
    k = epoll_wait(ep, out, 4, 5000);
    expect(k == 1 && out[0].data.u64 == 2, "the pipe is reported from the same set");
    char pc;
    (void)!read(pipefd[0], &pc, 1);
    (void)!write(s, "more", 4);
    k = epoll_wait(ep, out, 4, 5000);
    bool sock_seen = false;
    for (int i = 0; i < k; i++)
      sock_seen |= out[i].data.u64 == 1;
    expect(sock_seen, "EPOLLET: reported again after new data");
    ev.events = EPOLLIN;
    ev.data.u64 = 3;
    expect(epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev) == 0, "epoll_ctl MOD to level-triggered");
    int level_reports = 0;
    for (int round = 0; round < 3; round++) {
      k = epoll_wait(ep, out, 4, 1000);
      for (int i = 0; i < k; i++)
        level_reports += out[i].data.u64 == 3;
    }
    expect(level_reports == 3, "level-triggered: reported on every wait",
           std::to_string(level_reports));
    int avail = -1;
    const int io = ioctl(s, FIONREAD, &avail);
    expect(io == 0 && avail == 8, "FIONREAD",
           io == 0 ? std::to_string(avail) + " bytes" : err(errno));
    char buf[16];
    expect(read(s, buf, sizeof buf) == 8 && std::memcmp(buf, "edgemore", 8) == 0,
           "the data reads back");
    expect(epoll_ctl(ep, EPOLL_CTL_DEL, s, nullptr) == 0, "epoll_ctl DEL");
    expect(fails_with(epoll_ctl(ep, EPOLL_CTL_DEL, s, nullptr), ENOENT, got), "DEL twice: ENOENT",
           got);
    close(ep);
  }

  // select with a shoal socket.
  {
    (void)!write(s, "sel", 3);
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(s, &rd);
    FD_SET(pipefd[0], &rd);
    timeval tv{5, 0};
    const int k = select(std::max(s, pipefd[0]) + 1, &rd, nullptr, nullptr, &tv);
    expect(k == 1 && FD_ISSET(s, &rd) && !FD_ISSET(pipefd[0], &rd), "select reports the socket");
    char buf[8];
    (void)!read(s, buf, sizeof buf);
  }

  // dup: the connection lives while any descriptor names it.
  {
    const int d = dup(s);
    const int d2 = fcntl(s, F_DUPFD_CLOEXEC, 100);
    expect(d >= 0 && d2 >= 100 && roundtrip(d, "via dup"), "dup and F_DUPFD_CLOEXEC");
    close(d);
    close(d2);
    expect(roundtrip(s, "after closing the dups"), "the original still works");
  }

  // close_range closes shoal's descriptors as close() does: the number is
  // free again (EBADF), a new socket may take it and works, and the
  // original connection (not in the range) is untouched.
  {
    const int a = connect_to(echo);
    const int b = dup(a);
    expect(a >= 0 && b >= 0 && roundtrip(b, "before close_range"), "a second connection");
    const int lo = std::min(a, b), hi = std::max(a, b);
    expect(close_range(static_cast<unsigned>(lo), static_cast<unsigned>(hi), 0) == 0,
           "close_range over two shoal descriptors");
    expect(fails_with(write(a, "x", 1), EBADF, got) && fails_with(write(b, "x", 1), EBADF, got),
           "after close_range: EBADF", got);
    const int c = connect_to(echo);
    expect(c >= 0 && roundtrip(c, "a new socket after close_range"),
           "a new connection after close_range");
    close(c);
    expect(roundtrip(s, "after close_range"), "close_range left the others alone");
  }

  // splice between a pipe and a shoal socket, both ways: 100 KiB out
  // through a pipe, echoed, and back through another pipe, byte for byte.
  {
    int to_sock[2], from_sock[2];
    const bool piped = pipe(to_sock) == 0 && pipe(from_sock) == 0;
    std::string sent(100 * 1024, '\0'), back;
    for (size_t i = 0; i < sent.size(); i++)
      sent[i] = static_cast<char>('a' + (i * 7) % 26);
    size_t out = 0;
    bool ok = piped;
    while (ok && back.size() < sent.size()) {
      if (out < sent.size()) {
        const ssize_t w =
            write(to_sock[1], sent.data() + out, std::min<size_t>(4096, sent.size() - out));
        const ssize_t m =
            w > 0 ? splice(to_sock[0], nullptr, s, nullptr, static_cast<size_t>(w), 0) : -1;
        ok = w > 0 && m == w;
        out += w > 0 ? static_cast<size_t>(w) : 0;
      }
      const ssize_t m = splice(s, nullptr, from_sock[1], nullptr, 65536, 0);
      char buf[65536];
      const ssize_t r = m > 0 ? read(from_sock[0], buf, static_cast<size_t>(m)) : -1;
      ok = ok && m > 0 && r == m;
      if (r > 0)
        back.append(buf, static_cast<size_t>(r));
    }
    expect(ok && back == sent, "splice pipe -> socket and socket -> pipe, 100 KiB echoed intact",
           std::to_string(back.size()) + " bytes back");
    expect(fails_with(splice(s, nullptr, s, nullptr, 1, 0), EINVAL, got),
           "splice between two sockets: EINVAL", got);
    loff_t off = 0;
    expect(fails_with(splice(to_sock[0], &off, s, nullptr, 1, 0), ESPIPE, got),
           "splice with an offset on a pipe: ESPIPE", got);
    for (int fd : {to_sock[0], to_sock[1], from_sock[0], from_sock[1]})
      close(fd);
    expect(roundtrip(s, "after splice"), "the connection still echoes after splice");
  }

  // fork: the child's close leaves the parent's connection alone; a child
  // that uses a shoal socket gets EBADF.
  {
    const pid_t pid = fork();
    if (pid == 0) {
      const ssize_t w = write(s, "x", 1);
      const int e = errno;
      const int c = close(s);
      _exit(w == -1 && e == EBADF && c == 0 ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "fork: the child's write fails with EBADF and its close succeeds");
    expect(roundtrip(s, "after the child closed"), "fork: the parent's connection still works");
  }

  // Half-close and EPIPE (no SIGPIPE).
  {
    expect(shutdown(s, SHUT_WR) == 0, "shutdown(SHUT_WR)");
    expect(fails_with(send(s, "x", 1, 0), EPIPE, got), "send after SHUT_WR: EPIPE", got);
    char c;
    expect(read(s, &c, 1) == 0, "the peer's FIN reads as end of stream");
    expect(close(s) == 0, "close the connection");
  }

  std::printf("%s: %d failed\n", failures == 0 ? "PASS" : "FAIL", failures);
  return failures == 0 ? 0 : 1;
}
