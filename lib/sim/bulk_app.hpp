#pragma once
// An application for data-transfer simulations. It streams send_bytes of a
// StreamPattern into its connection through the zero-copy send ring
// (reserve / fill / commit), reads the peer's stream through the zero-copy
// receive spans (for_each_readable / consume) and checks every byte against
// the peer's pattern at its own offset, then closes the way its script says.
//
// A slow reader (read_interval > 0) reads at most read_chunk bytes per
// interval of virtual time, scheduled with Simulation::at, so its receive
// buffer fills up and the sender meets a zero window (RFC 9293 3.8.6.1);
// when it drains, the window reopens.
//
// What happened is recorded for the test: bytes committed and received, the
// first offset that did not match, bytes past the expected end, end of
// stream, how and when the connection closed.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "common/time.hpp"
#include "sim/simulation.hpp"
#include "sim/stream_pattern.hpp"
#include "tcp/connection.hpp"
#include "tcp/engine.hpp"

namespace shoal::sim {

struct BulkScript {
  uint64_t send_bytes = 0;        // length of the stream we send
  StreamPattern send_pattern{};   // ... and its bytes
  uint64_t expect_bytes = 0;      // length of the peer's stream (more is an error)
  StreamPattern expect_pattern{}; // ... and its bytes
  // Largest commit / consume at a time. With chunk_seed set, each one is
  // drawn uniformly from [1, chunk] instead (from the seed: reproducible).
  size_t write_chunk = 64 * 1024;
  size_t read_chunk = SIZE_MAX;
  uint64_t chunk_seed = 0;
  // Zero: read everything on on_readable. Otherwise a slow reader: at most
  // read_chunk bytes every read_interval, and nothing in between.
  Duration read_interval{};
  bool nodelay = false; // TCP_NODELAY, set on_connected
  // Start sending only once the peer's stream has ended (request, then
  // response): the two directions take turns instead of flowing at once.
  bool send_after_end_of_stream = false;

  enum class Ending : uint8_t {
    // shutdown_write() (FIN) once everything is committed, close() at the
    // end of the peer's stream: each direction closes on its own.
    half_close,
    // close() once everything is committed AND the peer's stream has ended:
    // the peer must send its FIN first.
    close_when_done,
    // Nothing: the test closes, shuts down or aborts itself.
    stay_open,
  };
  Ending ending = Ending::half_close;
};
const char *to_string(BulkScript::Ending);

class BulkApp final : public tcp::ConnectionHandler {
public:
  BulkApp(Simulation &sim, BulkScript script, std::string name = "app");
  ~BulkApp() override;
  BulkApp(const BulkApp &) = delete;
  BulkApp &operator=(const BulkApp &) = delete;

  // ---- what happened -----------------------------------------------------
  bool connected() const { return connected_; }
  uint64_t bytes_sent() const { return sent_; }         // committed to the send ring
  uint64_t bytes_received() const { return received_; } // consumed and checked
  bool sent_all() const { return sent_ == script_.send_bytes; }
  // The stream offset of the first received byte that differed from the
  // peer's pattern (nullopt: none did).
  std::optional<uint64_t> first_mismatch() const { return mismatch_at_; }
  uint64_t excess_bytes() const { return excess_; } // received past expect_bytes
  // The peer's FIN was seen and every byte before it was read.
  bool end_of_stream() const { return eof_; }
  // All of the peer's stream arrived, intact, exactly once, then its FIN.
  bool stream_complete() const {
    return eof_ && received_ == script_.expect_bytes && !mismatch_at_ && excess_ == 0;
  }
  std::optional<tcp::CloseReason> closed() const { return closed_; }
  Instant connected_at() const { return connected_at_; }
  Instant sent_all_at() const { return sent_all_at_; }
  Instant end_of_stream_at() const { return eof_at_; }
  Instant closed_at() const { return closed_at_; }
  // consume() calls made (a slow reader's reads, or bursts on on_readable).
  uint64_t reads() const { return reads_; }
  // "A: tx=1048576/1048576 rx=1048576/1048576 eof closed=normal@1.234567"
  std::string summary() const;

  // ---- control -------------------------------------------------------------
  // The live connection (nullptr before on_connected / attach and after on_closed).
  tcp::Connection *connection() const { return conn_; }
  // For active opens: the Connection* that Engine::connect returned.
  void attach(tcp::Connection *c) { conn_ = c; }
  void abort();          // SO_LINGER 0 now
  void close();          // graceful close now
  void shutdown_write(); // FIN after what is committed

  void on_connected(tcp::Connection &c) override;
  void on_readable(tcp::Connection &c) override;
  void on_writable(tcp::Connection &c) override;
  void on_peer_closed(tcp::Connection &c) override;
  void on_closed(tcp::Connection &c, tcp::CloseReason why) override;

private:
  size_t next_chunk(size_t max);
  void write_some();
  void read_some(size_t limit);
  void check_end_of_stream();
  void maybe_close();
  void schedule_read();

  Simulation &sim_;
  BulkScript script_;
  std::string name_;
  std::mt19937_64 rng_;
  tcp::Connection *conn_ = nullptr;
  // The slow reader's scheduled reads check this; on_closed and the
  // destructor clear it (events may outlive the app in the simulation).
  std::shared_ptr<BulkApp *> self_;

  bool connected_ = false, eof_ = false;
  bool shutdown_called_ = false, close_called_ = false, read_scheduled_ = false;
  uint64_t sent_ = 0, received_ = 0, excess_ = 0, reads_ = 0;
  std::optional<uint64_t> mismatch_at_;
  std::optional<tcp::CloseReason> closed_;
  Instant connected_at_{}, sent_all_at_{}, eof_at_{}, closed_at_{};
};

// A listener's handler factory giving every accepted connection its own
// BulkApp with the same script (kept here, addresses stable).
class BulkServer {
public:
  BulkServer(Simulation &sim, BulkScript script, std::string name = "B")
      : sim_(sim), script_(std::move(script)), name_(std::move(name)) {}
  tcp::HandlerFactory factory();
  std::deque<BulkApp> &apps() { return apps_; }
  BulkApp *first() { return apps_.empty() ? nullptr : &apps_.front(); }

private:
  Simulation &sim_;
  BulkScript script_;
  std::string name_;
  std::deque<BulkApp> apps_;
};

} // namespace shoal::sim
