#pragma once
// The scripted-peer harness (packetdrill / smoltcp style): one Engine under
// test, and the test plays its peer segment by segment on a virtual clock.
//
//   ScriptedPeer p(cfg);                       // engine at 198.18.0.1, peer 198.18.0.2:40000
//   p.engine().listen(80, factory);
//   p.at(0s).inject(Seg().flags(SYN).seq(100).win(65535).mss(1460));
//   p.expect(Seg().flags(SYN | ACK).ack(101).mss(1460));
//   p.inject(Seg().flags(ACK).seq(101).ack(p.isn() + 1));
//   p.expect_nothing_until(1s);
//   p.expect_at_about(3s, 10ms, Seg().flags(FIN | ACK));   // waits for it on the clock
//
// expect() looks at what the engine has already emitted (the oldest segment
// not yet matched); expect_at_about() runs the engine's timers until it
// emits, then checks the time too. On a mismatch the failure handler
// (PeerConfig::on_failure; tests route it to ADD_FAILURE) gets the expected
// pattern, the segment seen, the differing fields and the trace so far.
// In builds with the drop trace (SHOAL_DROP_TRACE, i.e. without NDEBUG) the
// trace also says why the engine dropped what it dropped: a
// "dropped: <reason>" note, the reason being the drop counter's name.
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <rte_mempool.h>

#include "common/time.hpp"
#include "sim/segment_builder.hpp"
#include "sim/simulation.hpp"
#include "sim/trace.hpp"
#include "tcp/counters.hpp"
#include "tcp/engine.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace shoal::sim {

struct PeerConfig {
  tcp::EngineConfig engine{};  // local_address defaults to kAddressA; secret_seed to 1
  rte_mempool *pool = nullptr; // required: the engine's pool and the injected segments'
  wire::Ipv4Addr peer_address = kAddressB;
  uint16_t peer_port = 40000; // default source port of injected segments
  uint16_t engine_port = 80;  // default destination port of injected segments
  Instant start{};
  // Called with the full failure message; default prints it to stderr.
  std::function<void(const std::string &)> on_failure;
};

// A segment the engine emitted.
struct Captured {
  Instant at{};
  wire::Ipv4Repr ip{};
  wire::TcpRepr tcp{};
  std::vector<uint8_t> payload;
  uint32_t seq() const { return tcp.seq; }
  uint32_t ack() const { return tcp.ack; }
  bool has(uint8_t f) const { return tcp.has(f); }
};

class ScriptedPeer {
public:
  explicit ScriptedPeer(const PeerConfig &config);
  ~ScriptedPeer(); // destroys the engine, frees what it emitted
  ScriptedPeer(const ScriptedPeer &) = delete;
  ScriptedPeer &operator=(const ScriptedPeer &) = delete;

  tcp::Engine &engine() { return *engine_; }
  Instant now() const { return now_; }
  Instant start() const { return start_; }
  Duration elapsed() const { return now_ - start_; }

  // Moves the clock to start + t, running the engine's timers on the way
  // (their output is queued for expect()). t before now() is a failure.
  ScriptedPeer &at(Duration since_start);
  ScriptedPeer &after(Duration d) { return at(elapsed() + d); }

  // Delivers one segment from the peer to the engine, now.
  ScriptedPeer &inject(const Seg &seg);
  // Delivers raw bytes (malformed-input tests).
  ScriptedPeer &inject_bytes(std::span<const uint8_t> datagram);

  // The oldest emitted segment not yet expected must match `pattern`.
  // Returns it on success (and drops it from the queue either way).
  std::optional<Captured> expect(const Seg &pattern);
  // Runs the clock until the engine emits (if nothing is queued), then checks
  // that it was emitted within [start + t - tolerance, start + t + tolerance]
  // and matches `pattern`.
  std::optional<Captured> expect_at_about(Duration since_start, Duration tolerance,
                                          const Seg &pattern);
  // Nothing queued now, and nothing emitted until start + t (the clock ends there).
  bool expect_nothing_until(Duration since_start);
  // Nothing queued now (does not move the clock).
  bool expect_nothing();

  // The engine's initial sequence number: seq of the first SYN or SYN-ACK it
  // emitted (0 and has_isn() false before).
  uint32_t isn() const { return isn_.value_or(0); }
  bool has_isn() const { return isn_.has_value(); }
  size_t pending() const { return queue_.size(); }

  // Defaults for injected segments (peer -> engine).
  SegDefaults &defaults() { return defaults_; }

  void note(std::string text) { trace_.note(now_, std::move(text)); }
  const Trace &trace() const { return trace_; }
  std::string trace_text() const { return trace_.format(); }
  // The engine's drops so far, one reason per drop counter increment, in
  // order; always empty without the drop trace (SHOAL_DROP_TRACE 0).
  const std::vector<tcp::Counter> &drops() const { return drops_; }
  bool failed() const { return failures_ > 0; }
  unsigned failures() const { return failures_; }

private:
  class Capture;
  struct Emitted {
    Instant at;
    std::vector<uint8_t> bytes;
  };
  void on_emit(rte_mbuf *m);
  // Runs timers due up to `t`; with stop_on_output, returns as soon as the
  // engine has queued something. The clock ends at t unless it stopped early.
  void run_timers_until(Instant t, bool stop_on_output);
  std::optional<Captured> check(const Emitted &e, const Seg &pattern, const std::string &extra);
  void fail(const std::string &what);

  Instant start_, now_;
  rte_mempool *pool_;
  SegDefaults defaults_;
  Trace trace_;
  std::function<void(const std::string &)> on_failure_;
  std::deque<Emitted> queue_;
  std::optional<uint32_t> isn_;
  std::optional<Instant> advanced_at_; // last advance() with no input since
  unsigned failures_ = 0;
  std::vector<tcp::Counter> drops_;
  std::unique_ptr<Capture> out_;
  std::unique_ptr<tcp::Engine> engine_;
};

} // namespace shoal::sim
