// The facade's drivers: how a closure reaches an engine and how an
// application thread waits (driver.hpp).
#include "posix/driver.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>

#include <pthread.h>

#include "api/stack.hpp"
#include "posix/socket_impl.hpp"

namespace shoal::posix {

Driver::~Driver() {
  detail::forget(this, close_descriptors_);
}

namespace {

// The engine's own connect (a port given, or one picked by the engine).
tcp::Connection *engine_open(tcp::Engine &engine, wire::Ipv4Addr remote, uint16_t remote_port,
                             tcp::ConnectionHandler *handler, uint16_t local_port,
                             const tcp::OpenOptions &options, int *error) {
  tcp::Engine::ConnectError why{};
  tcp::Connection *c = engine.connect(remote, remote_port, handler, local_port, options, &why);
  *error = api::to_errno(api::open_error(why));
  return c;
}

// Through the stack: an ephemeral port whose replies hash to `shard`.
tcp::Connection *stack_open(api::Stack &stack, unsigned shard, tcp::Engine &engine,
                            wire::Ipv4Addr remote, uint16_t remote_port,
                            tcp::ConnectionHandler *handler, uint16_t local_port,
                            const tcp::OpenOptions &options, int *error) {
  if (local_port != 0)
    return engine_open(engine, remote, remote_port, handler, local_port, options, error);
  // The socket is the handler, and its lifetime is the facade's own.
  api::OpenError e = api::OpenError::none;
  tcp::Connection *c = stack.connect_engine(remote, remote_port, handler, shard, options, &e);
  *error = api::to_errno(e);
  return c;
}

} // namespace

tcp::Connection *Driver::open(unsigned, tcp::Engine &engine, wire::Ipv4Addr remote,
                              uint16_t remote_port, tcp::ConnectionHandler *handler,
                              uint16_t local_port, const tcp::OpenOptions &options, int *error) {
  return engine_open(engine, remote, remote_port, handler, local_port, options, error);
}

shard::UdpSocket *Driver::udp_open(unsigned, uint16_t) {
  return nullptr;
}

shard::UdpSocket *StackDriver::udp_open(unsigned shard, uint16_t port) {
  return stack_.udp_open(port, shard);
}

shard::UdpSocket *PollingDriver::udp_open(unsigned shard, uint16_t port) {
  return stack_.udp_open(port, shard);
}

unsigned Driver::connect_shard() {
  const unsigned n = shards();
  return n == 0 ? 0 : next_connect_shard_++ % n;
}

// ---- ManualDriver ------------------------------------------------------------

ManualDriver::ManualDriver(tcp::Engine &engine, Pump pump, Clock clock)
    : engine_(engine), pump_(std::move(pump)), clock_(std::move(clock)),
      driving_thread_(std::this_thread::get_id()) {
  if (!clock_)
    clock_ = [this] { return engine_.now(); };
}

ManualDriver::~ManualDriver() = default;

wire::Ipv4Addr ManualDriver::local_address() const {
  return engine_.config().local_address;
}

bool ManualDriver::call(unsigned shard, const std::function<void(tcp::Engine &)> &fn) {
  if (shard != 0)
    return false;
  std::lock_guard g(engine_mu_);
  fn(engine_);
  return true;
}

bool ManualDriver::wait(std::unique_lock<std::mutex> &lock, std::condition_variable &cv,
                        const std::function<bool()> &ready, std::optional<Duration> timeout) {
  errno = EAGAIN; // what a false return means here (no signal interrupts it)
  std::optional<Instant> deadline;
  if (timeout)
    deadline = clock_() + *timeout;
  if (pump_ && std::this_thread::get_id() == driving_thread_) {
    // Nobody else will move the world: step it ourselves.
    while (!ready()) {
      if (deadline && clock_() >= *deadline)
        return false;
      lock.unlock();
      bool progressed;
      {
        std::lock_guard g(engine_mu_);
        progressed = pump_(deadline);
      }
      lock.lock();
      if (!progressed)
        return ready(); // nothing left to happen (before the deadline)
    }
    return true;
  }
  // Another thread drives: sleep until it changes something. With a
  // timeout, look at its clock every slice (its clock wakes nobody). The
  // waiter is listed while it sleeps, so the driving thread can see whether
  // a wake-up is pending (waiters_settled).
  Waiter me{lock.mutex(), &ready};
  {
    std::lock_guard g(waiters_mu_);
    waiters_.push_back(&me);
  }
  struct Unlist {
    ManualDriver &d;
    Waiter *w;
    ~Unlist() {
      std::lock_guard g(d.waiters_mu_);
      std::erase(d.waiters_, w);
    }
  } unlist{*this, &me};
  while (!ready()) {
    if (!deadline) {
      cv.wait(lock);
      continue;
    }
    if (clock_() >= *deadline)
      return ready();
    cv.wait_for(lock, slice_);
  }
  return true;
}

bool ManualDriver::waiters_settled(size_t &asleep) {
  asleep = 0;
  std::lock_guard g(waiters_mu_);
  for (Waiter *w : waiters_) {
    // A waiter holds its mutex only while awake (between checks of
    // ready()); asleep in cv.wait it does not, and ready() is read under it.
    std::unique_lock l(*w->mu, std::try_to_lock);
    if (!l.owns_lock() || (*w->ready)())
      return false;
    asleep++;
  }
  return true;
}

// ---- StackDriver ---------------------------------------------------------------

StackDriver::StackDriver(api::Stack &stack, Duration call_timeout)
    : stack_(stack), call_timeout_(call_timeout) {}

StackDriver::~StackDriver() = default;

unsigned StackDriver::shards() const {
  return stack_.shard_count();
}

wire::Ipv4Addr StackDriver::local_address() const {
  return stack_.address();
}

bool StackDriver::call(unsigned shard, const std::function<void(tcp::Engine &)> &fn) {
  if (shard >= stack_.shard_count())
    return false;
  if (api::Stack::current_shard() == static_cast<int>(shard)) {
    fn(stack_.engine(shard));
    return true;
  }
  // Run on the shard; wait here until it has. The state is shared so that a
  // closure that runs after we gave up (timeout) touches nothing dead.
  struct Done {
    std::mutex mu;
    std::condition_variable cv;
    bool ran = false;
    bool abandoned = false;
  };
  auto done = std::make_shared<Done>();
  api::Stack *stack = &stack_;
  const auto *f = &fn;
  const auto give_up = std::chrono::steady_clock::now() + call_timeout_;
  while (!stack_.post(shard, [done, stack, shard, f] {
    std::lock_guard g(done->mu);
    if (!done->abandoned)
      (*f)(stack->engine(shard));
    done->ran = true;
    done->cv.notify_all();
  })) {
    if (std::chrono::steady_clock::now() >= give_up)
      return false;
    std::this_thread::yield(); // command ring full: the shard drains it
  }
  std::unique_lock lk(done->mu);
  if (!done->cv.wait_until(lk, give_up, [&] { return done->ran; })) {
    done->abandoned = true;
    return false;
  }
  return true;
}

tcp::Connection *StackDriver::open(unsigned shard, tcp::Engine &engine, wire::Ipv4Addr remote,
                                     uint16_t remote_port, tcp::ConnectionHandler *handler,
                                     uint16_t local_port, const tcp::OpenOptions &options, int *error) {
  return stack_open(stack_, shard, engine, remote, remote_port, handler, local_port, options, error);
}

bool StackDriver::wait(std::unique_lock<std::mutex> &lock, std::condition_variable &cv,
                       const std::function<bool()> &ready, std::optional<Duration> timeout) {
  using Clock = std::chrono::steady_clock;
  if (sleep_) {
    const auto until = timeout ? Clock::now() + std::chrono::duration_cast<Clock::duration>(*timeout)
                               : Clock::time_point::max();
    while (!ready()) {
      if (Clock::now() >= until) {
        errno = EAGAIN;
        return false;
      }
      if (sleep_(lock, ready, std::min(until, Clock::now() + std::chrono::milliseconds(100))) ==
          EINTR) {
        errno = EINTR;
        return false;
      }
    }
    return true;
  }
  if (!timeout) {
    cv.wait(lock, ready);
    return true;
  }
  if (cv.wait_for(lock, *timeout, ready))
    return true;
  errno = EAGAIN;
  return false;
}

// ---- PollingDriver -------------------------------------------------------------

PollingDriver::PollingDriver(api::Stack &stack, Options options) : stack_(stack), opt_(options) {}

PollingDriver::~PollingDriver() {
  stop_helper();
}

void PollingDriver::start_helper() {
  if (helper_.joinable())
    return;
  helper_stop_.store(false);
  helper_ = std::thread([this] { helper_loop(); });
}

void PollingDriver::stop_helper() {
  helper_stop_.store(true);
  if (helper_.joinable())
    helper_.join();
}

void PollingDriver::helper_loop() {
  pthread_setname_np(pthread_self(), "shoal-poll");
  while (!helper_stop_.load(std::memory_order_relaxed)) {
    const int got = poll();
    // Frames came in: more are likely (a burst, an answer to what went out).
    if (got > 0)
      continue;
    std::this_thread::sleep_for(opt_.helper_sleep);
  }
}

namespace {
thread_local bool t_in_poll = false;
}

bool PollingDriver::in_poll() {
  return t_in_poll;
}

int PollingDriver::poll() {
  int got;
  {
    std::unique_lock g(stack_mu_, std::try_to_lock);
    if (!g.owns_lock())
      return -1;
    t_in_poll = true;
    got = static_cast<int>(stack_.poll_once());
    t_in_poll = false;
  }
  if (opt_.after_poll)
    opt_.after_poll();
  return got;
}

unsigned PollingDriver::shards() const {
  return stack_.shard_count();
}

wire::Ipv4Addr PollingDriver::local_address() const {
  return stack_.address();
}

bool PollingDriver::call(unsigned shard, const std::function<void(tcp::Engine &)> &fn) {
  if (shard >= stack_.shard_count())
    return false;
  if (api::Stack::current_shard() == static_cast<int>(shard)) { // from a callback
    fn(stack_.engine(shard));
    return true;
  }
  // In the shard's context (its clock, connect()), then what it wrote
  // goes out; receiving is left to the polls.
  std::lock_guard g(stack_mu_);
  tcp::Engine &e = stack_.engine(shard);
  stack_.run_here(shard, [&] { fn(e); });
  return true;
}

tcp::Connection *PollingDriver::open(unsigned shard, tcp::Engine &engine, wire::Ipv4Addr remote,
                                       uint16_t remote_port, tcp::ConnectionHandler *handler,
                                       uint16_t local_port, const tcp::OpenOptions &options, int *error) {
  return stack_open(stack_, shard, engine, remote, remote_port, handler, local_port, options, error);
}

bool PollingDriver::wait(std::unique_lock<std::mutex> &lock, std::condition_variable &cv,
                         const std::function<bool()> &ready, std::optional<Duration> timeout) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto spin_until = start + opt_.spin;
  std::optional<Clock::time_point> deadline;
  if (timeout)
    deadline = start + std::chrono::duration_cast<Clock::duration>(*timeout);
  while (!ready()) {
    const auto now = Clock::now();
    if (deadline && now >= *deadline) {
      errno = EAGAIN;
      return false;
    }
    if (now < spin_until) {
      // Poll ourselves (the socket's lock is not held while the stack runs:
      // its callbacks take it).
      lock.unlock();
      if (poll() < 0)
        std::this_thread::yield();
      lock.lock();
      continue;
    }
    // Past the spin budget: sleep until a callback (run by the helper
    // thread's polling) changes something. The slice bounds a missed
    // notification's cost.
    auto until = now + std::chrono::milliseconds(10);
    if (deadline && *deadline < until)
      until = *deadline;
    if (sleep_) {
      if (sleep_(lock, ready, until) == EINTR) {
        errno = EINTR;
        return false;
      }
    } else {
      cv.wait_until(lock, until);
    }
  }
  return true;
}

} // namespace shoal::posix
