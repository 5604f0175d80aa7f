#pragma once
// The legitimate half of shoal-synflood: real clients on a shoal Stack that
// connect, send a request, read the whole response and close (client first),
// at a steady rate, so their success and handshake latency can be compared
// with and without the flood. Open loop: attempts start on schedule (up to
// `concurrency` in flight), so a slow server shows up as latency and
// failures, not as fewer attempts.
//
// Runs on the stack's shard 0 thread only (the thread that calls
// Stack::poll_once and tick()).
#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "api/stack.hpp"
#include "common/histogram.hpp"
#include "common/time.hpp"
#include "wire/addr.hpp"

namespace shoal::synflood {

struct LegitParams {
  wire::Ipv4Addr server;
  uint16_t port = 5201;
  uint32_t rate = 200;                        // attempts per second (0: none)
  uint32_t concurrency = 64;                  // attempts in flight at most
  Duration timeout = std::chrono::seconds(5); // an attempt not done by then fails
  uint32_t request = 64, response = 256;      // bytes each way
};

// Why an attempt failed. X(name, description)
#define SHOAL_SYNFLOOD_FAILURES(X)                                                                 \
  X(refused, "RST in answer to the SYN")                                                           \
  X(reset, "RST after the handshake")                                                              \
  X(timed_out, "the stack gave up (retransmissions)")                                              \
  X(deadline, "not done within --legit-timeout")                                                   \
  X(no_port, "connect() found no free port or slot")                                               \
  X(protocol, "more response bytes than asked, or the server closed early")

enum class Failure : uint8_t {
#define SHOAL_X(name, desc) name,
  SHOAL_SYNFLOOD_FAILURES(SHOAL_X)
#undef SHOAL_X
      count_
};
inline constexpr size_t kFailureCount = static_cast<size_t>(Failure::count_);
const char *failure_name(Failure);

struct LegitCounts {
  uint64_t attempts = 0;   // connect() calls
  uint64_t handshakes = 0; // reached ESTABLISHED
  uint64_t successes = 0;  // whole response read, closed
  uint64_t failures = 0;
  uint64_t unfinished = 0; // still in flight when the run ended (neither)
  uint64_t failure[kFailureCount] = {};
  LatencyHistogram handshake;   // connect() -> ESTABLISHED, ns
  LatencyHistogram transaction; // connect() -> last response byte, ns

  void merge(const LegitCounts &);
  // {"attempts":..,"successes":..,"failures":{..},"handshake_us":{p50,p99,..},..}
  std::string to_json() const;
};

class LegitClients {
public:
  // `phases` separate phase counts (an attempt counts in the phase it started in).
  LegitClients(api::Stack &, const LegitParams &, unsigned phases);
  // Aborts what is still in flight (abandon_all): the stack must still be there.
  ~LegitClients();
  LegitClients(const LegitClients &) = delete;
  LegitClients &operator=(const LegitClients &) = delete;

  // Starts the attempts due by `now` (the first call sets the schedule's
  // origin) and fails those past their deadline. `phase` tags new attempts.
  void tick(Instant now, unsigned phase);
  // No new attempts from now on (the drain at the end of a run).
  void stop_starting() { starting_ = false; }
  size_t in_flight() const { return live_.size(); }
  // Aborts what is still in flight (counted as unfinished).
  void abandon_all();

  // The counts since the last call (one line per second), then reset.
  LegitCounts take_interval();
  const LegitCounts &phase(unsigned p) const { return phases_.at(p); }
  const LegitParams &params() const { return p_; }

  class Attempt; // one connection (legit_client.cpp)

private:
  friend class Attempt;
  void start_one(Instant now, unsigned phase);
  // Applies f to the interval's and the phase's counts.
  template <class F> void count(unsigned phase, F &&f) {
    f(interval_);
    f(phases_[phase]);
  }

  api::Stack &stack_;
  LegitParams p_;
  std::vector<LegitCounts> phases_;
  LegitCounts interval_;
  std::unordered_set<Attempt *> live_;
  bool started_ = false, starting_ = true;
  Instant next_start_{};
  Instant next_expiry_scan_{};
};

} // namespace shoal::synflood
