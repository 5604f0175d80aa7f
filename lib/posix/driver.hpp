#pragma once
// shoal::posix::Driver -- how the POSIX facade reaches the TCP engines it
// sits on, and how an application thread waits for them.
//
// The facade never touches an Engine or a Connection outside Driver::call():
// the closure runs with exclusive access to that shard's engine (on the
// shard's own thread for a running api::Stack; under the driver's engine
// mutex for an engine driven by the caller). The engine's callbacks run in
// the same place and update each socket's state under the socket's mutex,
// then notify its condition variable; application threads sleep on that
// condition variable through Driver::wait().
//
// Two drivers:
//   - StackDriver: over a running api::Stack (shard threads; call() is
//     post() plus a wait for the closure to have run; wait() really sleeps).
//   - ManualDriver: over one Engine whose packets and clock the caller
//     drives (the simulator in unit tests, the packetdrill adapter). The
//     driving thread takes engine_mutex() around its own engine work. A
//     blocking call made on the driving thread pumps (runs one step of the
//     world through the Pump function) instead of sleeping; on any other
//     thread it sleeps until the driving thread changes something.
//
// Lifetime: destroy a driver only once its engines no longer run (the
// simulation, the stack or the adapter has stopped or is gone). Its
// destructor forgets (and closes the descriptors of) every socket made
// through it.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/time.hpp"
#include "tcp/connection.hpp"
#include "tcp/engine.hpp"
#include "wire/addr.hpp"

namespace shoal::api {
class Stack;
}
namespace shoal::shard {
class UdpSocket;
}

namespace shoal::posix {

class Driver {
public:
  virtual ~Driver();
  Driver() = default;
  Driver(const Driver &) = delete;
  Driver &operator=(const Driver &) = delete;

  // Engines (shards) behind this driver; listen() registers on every one.
  virtual unsigned shards() const = 0;
  // The address the engines own (what INADDR_ANY binds to).
  virtual wire::Ipv4Addr local_address() const = 0;
  // Runs fn(engine of `shard`) with exclusive access to it and returns once
  // it has run. false when it could not run (a stack that is not running).
  virtual bool call(unsigned shard, const std::function<void(tcp::Engine &)> &fn) = 0;
  // Active open on `shard`, from inside call(): local_port 0 picks an
  // ephemeral port (on a multi-shard stack, one whose replies hash to it).
  // nullptr and the errno connect() reports in *error (EADDRNOTAVAIL: no
  // free port or the tuple is taken; ENOBUFS: the connection table is
  // full; EINVAL) when it opened nothing.
  virtual tcp::Connection *open(unsigned shard, tcp::Engine &, wire::Ipv4Addr remote,
                                uint16_t remote_port, tcp::ConnectionHandler *,
                                uint16_t local_port, const tcp::OpenOptions &options, int *error);
  // The shard the next outgoing connection goes to (round robin).
  virtual unsigned connect_shard();
  // A UDP socket bound to `port` (0: ephemeral) on `shard`, from inside
  // call() on that shard; nullptr when the port is taken or the driver has
  // no UDP (an engine alone).
  virtual shard::UdpSocket *udp_open(unsigned shard, uint16_t port);
  // Blocks the calling application thread until ready() (evaluated with
  // `lock` held) holds or `timeout` (on the driver's clock; nullopt: none)
  // has passed. `lock` is held on entry and on return. Returns ready();
  // false with errno EINTR when a signal interrupted the sleep (only with a
  // sleep function, below), EAGAIN otherwise.
  virtual bool wait(std::unique_lock<std::mutex> &lock, std::condition_variable &cv,
                    const std::function<bool()> &ready, std::optional<Duration> timeout) = 0;

  // How a blocking call sleeps once it must (StackDriver, PollingDriver):
  // called with `lock` held, it returns when something may have changed
  // (unlocking while it sleeps), at `until`, or when a signal arrives: 0, or
  // EINTR. Without one, the sleep is on the socket's condition variable,
  // which no signal interrupts. libshoal_preload.so sleeps in the kernel so
  // that a program's signal handlers run and its calls fail with EINTR as
  // on Linux.
  using SleepFn = std::function<int(std::unique_lock<std::mutex> &lock,
                                    const std::function<bool()> &ready,
                                    std::chrono::steady_clock::time_point until)>;
  void set_sleep(SleepFn fn) { sleep_ = std::move(fn); }

  // false: the destructor leaves the sockets' kernel descriptors alone
  // (someone else -- packetdrill's clean-up -- has closed them already).
  void set_close_descriptors(bool on) { close_descriptors_ = on; }

protected:
  SleepFn sleep_;

private:
  unsigned next_connect_shard_ = 0;
  bool close_descriptors_ = true;
};

// One engine driven by the caller.
class ManualDriver final : public Driver {
public:
  // One step of the world, called with engine_mutex() held: handle the next
  // event (deliver a packet, fire a timer) due no later than `until` (any
  // time when nullopt) and return true; when there is none, move the clock
  // to `until` (if given) and return false.
  using Pump = std::function<bool(std::optional<Instant> until)>;
  using Clock = std::function<Instant()>;

  // `clock` is the engine's clock (timeouts of poll/epoll_wait); default:
  // Engine::now(). The constructing thread is the driving thread.
  explicit ManualDriver(tcp::Engine &engine, Pump pump = {}, Clock clock = {});
  ~ManualDriver() override;

  // Held by whoever touches the engine: call() and the driving thread.
  std::recursive_mutex &engine_mutex() { return engine_mu_; }
  // The thread whose blocking calls pump instead of sleeping.
  void set_driving_thread(std::thread::id id) { driving_thread_ = id; }
  // Real time a sleeping waiter sleeps before it looks at the clock again
  // (a timeout on a virtual clock has nobody to wake it up).
  void set_poll_slice(Duration d) { slice_ = d; }
  // Application threads other than the driving one that sleep in wait().
  // false when one of them has a wake-up pending (its ready() holds, or it
  // holds its lock: it is running); else true, with `asleep` = how many
  // sleep with nothing to wake them for. A driver of a virtual clock must
  // not move it past a pending wake-up: the woken call would complete at a
  // later time than the event that woke it.
  bool waiters_settled(size_t &asleep);

  unsigned shards() const override { return 1; }
  wire::Ipv4Addr local_address() const override;
  bool call(unsigned shard, const std::function<void(tcp::Engine &)> &fn) override;
  bool wait(std::unique_lock<std::mutex> &lock, std::condition_variable &cv,
            const std::function<bool()> &ready, std::optional<Duration> timeout) override;

private:
  tcp::Engine &engine_;
  Pump pump_;
  Clock clock_;
  std::recursive_mutex engine_mu_;
  std::thread::id driving_thread_;
  Duration slice_ = std::chrono::milliseconds(1);
  struct Waiter {
    std::mutex *mu;
    const std::function<bool()> *ready;
  };
  std::mutex waiters_mu_; // after a socket's mutex, never before
  std::vector<Waiter *> waiters_;
};

// A running api::Stack (run() on its lcores, or another thread calling
// poll_once()). Do not call the facade from the stack's own callbacks for
// another shard: the caller would wait for a shard that waits for it.
class StackDriver final : public Driver {
public:
  explicit StackDriver(api::Stack &stack, Duration call_timeout = std::chrono::seconds(5));
  ~StackDriver() override;

  unsigned shards() const override;
  wire::Ipv4Addr local_address() const override;
  bool call(unsigned shard, const std::function<void(tcp::Engine &)> &fn) override;
  tcp::Connection *open(unsigned shard, tcp::Engine &, wire::Ipv4Addr remote, uint16_t remote_port,
                        tcp::ConnectionHandler *, uint16_t local_port,
                        const tcp::OpenOptions &options, int *error) override;
  shard::UdpSocket *udp_open(unsigned shard, uint16_t port) override;
  bool wait(std::unique_lock<std::mutex> &lock, std::condition_variable &cv,
            const std::function<bool()> &ready, std::optional<Duration> timeout) override;

private:
  api::Stack &stack_;
  Duration call_timeout_;
};

// An api::Stack that is not run() on lcores of its own: the application's
// threads poll it, as a kernel-bypass library in the program's own calls
// (OpenOnload's spinning, F-Stack's loop in the application). A call runs
// its closure and one loop iteration under the stack's lock; a blocking
// call polls the stack itself for up to `spin` and then sleeps, while a
// helper thread polls every `helper_sleep` (and without pause while it
// finds work) so that timers, ARP and the peers' segments keep moving when
// no application thread is in the stack.
class PollingDriver final : public Driver {
public:
  struct Options {
    Duration spin = std::chrono::microseconds(50);
    Duration helper_sleep = std::chrono::microseconds(100);
    // Called after each poll() that ran (the stack's lock released), on the
    // polling thread: e.g. to wake, once, what the iteration made ready.
    std::function<void()> after_poll;
  };
  PollingDriver(api::Stack &stack, Options options);
  // Stops the helper thread; the stack is left as it is.
  ~PollingDriver() override;

  void start_helper();
  void stop_helper();
  // One iteration of the stack unless another thread is polling it (then -1
  // at once). Returns the frames it received.
  int poll();
  // Whether the calling thread is inside poll() (its callbacks run there).
  static bool in_poll();
  // The lock polling holds (taken by call() too).
  std::mutex &stack_mutex() { return stack_mu_; }
  const Options &options() const { return opt_; }

  unsigned shards() const override;
  wire::Ipv4Addr local_address() const override;
  bool call(unsigned shard, const std::function<void(tcp::Engine &)> &fn) override;
  tcp::Connection *open(unsigned shard, tcp::Engine &, wire::Ipv4Addr remote, uint16_t remote_port,
                        tcp::ConnectionHandler *, uint16_t local_port,
                        const tcp::OpenOptions &options, int *error) override;
  shard::UdpSocket *udp_open(unsigned shard, uint16_t port) override;
  bool wait(std::unique_lock<std::mutex> &lock, std::condition_variable &cv,
            const std::function<bool()> &ready, std::optional<Duration> timeout) override;

private:
  void helper_loop();

  api::Stack &stack_;
  Options opt_;
  std::mutex stack_mu_;
  std::atomic<bool> helper_stop_{false};
  std::thread helper_;
};

} // namespace shoal::posix
