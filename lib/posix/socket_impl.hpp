#pragma once
// The facade's internal objects: Socket (one TCP socket, the engine's
// ConnectionHandler for its connection), EpollSet, and the descriptor table
// that maps the kernel eventfd numbers to them.
//
// Threads and locks (in this order, never the other way round):
//   1. the engine's exclusive access (Driver::call / the driving thread),
//   2. a Socket's mutex (its state mirror),
//   3. the readiness lock (poll/epoll waiters; readiness_changed()).
// The Connection pointer is touched only with (1); everything an
// application thread decides on (readable bytes, send space, errors) is a
// mirror of the connection kept under (2) by the callbacks.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include <sys/epoll.h>
#include <sys/socket.h>

#include "posix/driver.hpp"
#include "tcp/connection.hpp"
#include "tcp/engine.hpp"
#include "wire/addr.hpp"

namespace shoal::posix::detail {

// Socket options as the application set them; applied to the Connection
// when it exists (and inherited by accepted connections from the listener).
struct Options {
  bool reuseaddr = false;
  bool keepalive = false;
  int keepidle_s = 0, keepintvl_s = 0, keepcnt = 0; // 0: the engine's default
  bool linger_on = false;
  int linger_s = 0;
  int rcvbuf = 0, sndbuf = 0; // 0: the engine's default
  bool nodelay = false;
  bool cork = false;
  int maxseg = 0;
  unsigned user_timeout_ms = 0;
};

class File {
public:
  virtual ~File();
  // Readiness as poll() reports it (POLL* bits) and the change counts of
  // Socket::changes_in / changes_out, read together under the object's
  // lock (0 for an object that is never ready).
  virtual uint32_t readiness(uint64_t *in, uint64_t *out) {
    *in = *out = 0;
    return 0;
  }
  // The last descriptor naming the object was closed (close() calls it).
  virtual void last_close() {}
  // The kernel descriptor install() made; -1 once every descriptor of the
  // object (install_duplicate adds more) is closed.
  int fd = -1;
  int descriptors = 0; // table entries naming this object (registry lock)
  Driver *driver = nullptr;
};

class Socket final : public File,
                     public tcp::ConnectionHandler,
                     public std::enable_shared_from_this<Socket> {
public:
  enum class Kind : uint8_t {
    fresh,      // socket(), maybe bound
    listening,  // listen()
    connecting, // connect() sent the SYN
    connected,  // ESTABLISHED (or later)
    dead,       // the connection ended (reason in close_reason)
  };

  std::mutex mu;
  std::condition_variable cv;

  // ---- guarded by mu ----
  Kind kind = Kind::fresh;
  bool nonblock = false;
  bool bound = false;
  bool was_connected = false;
  wire::Ipv4Addr local_addr{}, remote_addr{};
  uint16_t local_port = 0, remote_port = 0;
  Options opt;
  int so_error = 0; // pending error (SO_ERROR; reported once)
  size_t rcv_avail = 0;
  size_t snd_space = 0;
  bool peer_fin = false;
  bool rd_shut = false, wr_shut = false;
  std::optional<tcp::CloseReason> close_reason;
  unsigned shard = 0;
  // listening
  int backlog = 0;
  std::deque<std::shared_ptr<Socket>> accept_queue;
  bool accept_paused = false; // an engine holds completed handshakes for us

  // ---- engine side only (Driver::call or a callback) ----
  tcp::Connection *conn = nullptr;

  // Attaches a live connection (engine side): options applied, and the
  // socket held (hold()) until on_closed, even once its descriptor is closed.
  void attach(tcp::Connection &c);
  // Applies opt to the connection (engine side, mu not held by the caller).
  void apply_options(tcp::Connection &c, const Options &o);

  // Readiness as poll() sees it (mu held).
  short poll_mask() const;
  uint32_t readiness(uint64_t *in, uint64_t *out) override;
  // Bumped on every state change that may change readiness, one count per
  // direction: `changes_in` for what makes it readable (data, the peer's
  // FIN, a connection to accept, an error, the end), `changes_out` for what
  // makes it writable (acknowledged data, the connection established, the
  // end). An edge-triggered waiter reports a socket whose count for the
  // events it asked for moved since it last looked (as Linux wakes an
  // epoll entry only for the events it registered).
  std::atomic<uint64_t> changes_in{0}, changes_out{0};
  enum Direction : unsigned { in = 1, out = 2, both = 3 };
  // Bumps the counts (mu held, in the same critical section as the state
  // change, so that a reader of both under mu never sees one without the
  // other).
  void bump(Direction which) {
    if ((which & in) != 0)
      changes_in.fetch_add(1, std::memory_order_relaxed);
    if ((which & out) != 0)
      changes_out.fetch_add(1, std::memory_order_relaxed);
  }
  // After a change: bumps the counts (unless `bumped`: done with the
  // change), wakes this socket's waiters and the poll/epoll waiters (no
  // socket mutex held).
  void changed(Direction which = both, bool bumped = false);

  // ConnectionHandler (engine side).
  void on_connected(tcp::Connection &) override;
  void on_readable(tcp::Connection &) override;
  void on_writable(tcp::Connection &) override;
  // Mirrors c and reports the directions in which readiness grew.
  void changed_after_mirror(tcp::Connection &c);
  void on_peer_closed(tcp::Connection &) override;
  void on_closed(tcp::Connection &, tcp::CloseReason) override;

  ~Socket() override;

private:
  // mu held; returns the directions (in/out) in which readiness grew.
  unsigned mirror(tcp::Connection &c);
};

struct EpollInterest {
  std::weak_ptr<File> socket; // a TCP or a UDP socket
  uint32_t events = 0;
  epoll_data_t data{};
  // EPOLLET: the socket's change counts (in, out) last reported; ~0 until
  // the first report, so a socket ready when added (or modified) is
  // reported once, as Linux does.
  uint64_t seen_in = ~uint64_t{0}, seen_out = ~uint64_t{0};
  bool disarmed = false; // EPOLLONESHOT fired
};

class EpollSet final : public File {
public:
  std::mutex mu;
  std::map<int, EpollInterest> interest;
};

// An AF_INET address from the caller (false and `err` set when it is not
// one: EFAULT, EINVAL, EAFNOSUPPORT). With `unspec`, AF_UNSPEC is accepted
// and reported there (connect() dissolving a datagram association).
bool parse_sin(const sockaddr *addr, socklen_t len, wire::Ipv4Addr &ip, uint16_t &port, int &err,
               bool *unspec = nullptr);
// Writes ip:port as a sockaddr_in, truncated to *len, and sets *len (no-op
// without a buffer).
void fill_sin(sockaddr *addr, socklen_t *len, wire::Ipv4Addr ip, uint16_t port);

// errno for a connection that ended this way (0: no error).
int errno_for(tcp::CloseReason why, bool while_connecting);

// ---- the descriptor table ----
std::shared_ptr<File> lookup(int fd);
// The socket for fd, or nullptr with errno EBADF / ENOTSOCK.
std::shared_ptr<Socket> socket_for(int fd);
std::shared_ptr<EpollSet> epoll_for(int fd);
// A kernel eventfd for `f` (errno on failure: -1).
int install(const std::shared_ptr<File> &f, bool cloexec);
// One more descriptor (a dup() of one of f's) naming `f`; false if fd is
// already in the table.
bool install_duplicate(int fd, const std::shared_ptr<File> &f);
// Removes fd from the table (the caller closes the kernel descriptor); the
// object lives on while referenced. Its `descriptors` says whether other
// descriptors still name it.
std::shared_ptr<File> remove(int fd);
// Every socket in the table or still attached to a connection, for bind
// conflicts (snapshot).
std::vector<std::shared_ptr<Socket>> all_sockets(Driver *d);
// Keeps a socket alive while its connection runs (whether or not its
// descriptor is still open); release() hands the reference back so the
// caller can drop it last.
void hold(const std::shared_ptr<Socket> &s);
std::shared_ptr<Socket> release(Socket *s);
// Everything made through driver d is forgotten (Driver::~Driver).
void forget(Driver *d, bool close_descriptors);

// ---- readiness (poll / epoll waiters) ----
std::mutex &readiness_mutex();
std::condition_variable &readiness_cv();
// Call after a socket's state changed, with no socket mutex held.
void readiness_changed();
// Also called by every readiness_changed() (nullptr: none), e.g. to wake
// threads that sleep in the kernel rather than on readiness_cv().
void set_readiness_hook(void (*hook)());

} // namespace shoal::posix::detail
