#pragma once
// The transport-independent half of the macro benchmarks:
// what one client connection does in each workload, what one server
// connection does, and the counting, latency histograms, live line and final
// JSON around them. There is no socket call in here: kernel_bench.cpp drives
// these state machines from epoll on Linux sockets, and shoal's own client
// (apps/shoal-churn) drives the very same ones from shoal's connection
// callbacks, so "the same client and server logic" holds by construction.
//
// The contract with a transport, for one connection:
//
//   ClientSession s(run);           ServerSession s(server_run);
//   s.start(now) at connect()       s.accepted(now) once accepted
//   then react to what each call returns (Next):
//     send         write s.pending_send(), report s.sent(n, now)
//     receive      wait for data, report s.received(bytes, now)
//     await_close  read until the peer's FIN, then s.peer_closed(now)
//     close        close now (we are the side that closes first)
//     fail         close now (reset if you can); the error is counted
//   s.connected(now) when the active open completes, s.peer_closed(now) on
//   FIN, s.failed(kind, now) on a transport error; s.finish(now) exactly once
//   when the transport has closed the connection (it releases the slot).
//
// Workloads (the names):
//   churn  connect -> request of Q bytes -> response of R bytes -> close, one
//          transaction per connection; Closer says which side closes first.
//   rr     persistent request/response: each connection repeats the
//          transaction until the run ends.
//   bulk   one stream: the server sends (download) or sinks (upload) bytes
//          as fast as the transport takes them; the result is MiB/s.
#include <array>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

#include "common/histogram.hpp"
#include "common/time.hpp"

namespace shoal::bench {

enum class Workload : uint8_t { churn, rr, bulk };
enum class Closer : uint8_t { client, server };
// bulk: download = server sends, client counts; upload = client sends.
enum class BulkDirection : uint8_t { download, upload };

const char *to_string(Workload);
const char *to_string(Closer);
const char *to_string(BulkDirection);
bool parse_workload(const std::string &, Workload *);
bool parse_closer(const std::string &, Closer *);
bool parse_bulk_direction(const std::string &, BulkDirection *);

// Why a connection failed, declared once; the JSON "errors" object and the
// live line are generated from this table.
#define SHOAL_BENCH_ERRORS(X)                                                                      \
  X(connect_refused, "RST in answer to our SYN (ECONNREFUSED)")                                    \
  X(connect_timeout, "handshake never completed (ETIMEDOUT)")                                      \
  X(no_local_port, "no ephemeral port or slot free (EADDRNOTAVAIL)")                               \
  X(no_descriptor, "out of descriptors or buffers (EMFILE, ENFILE, ENOBUFS)")                      \
  X(connect_failed, "any other active-open failure")                                               \
  X(reset, "connection reset during the exchange (ECONNRESET, EPIPE)")                             \
  X(short_response, "peer closed before the whole response arrived")                               \
  X(bad_response, "response bytes differ from the pattern or exceed its size")                     \
  X(unexpected_close, "peer closed a connection we meant to keep")                                 \
  X(bad_request, "server: request bytes differ from the pattern or exceed its size")               \
  X(io_error, "any other read or write error")

enum class ErrorKind : uint8_t {
#define SHOAL_BENCH_ERROR_ENUM(name, doc) name,
  SHOAL_BENCH_ERRORS(SHOAL_BENCH_ERROR_ENUM)
#undef SHOAL_BENCH_ERROR_ENUM
};
inline constexpr size_t kErrorKinds = 0
#define SHOAL_BENCH_ERROR_COUNT(name, doc) +1
    SHOAL_BENCH_ERRORS(SHOAL_BENCH_ERROR_COUNT)
#undef SHOAL_BENCH_ERROR_COUNT
    ;
const char *to_string(ErrorKind);

// Byte `offset` of every request and every response (each starts again at
// offset 0), so each side checks what it got without keeping a copy.
inline uint8_t pattern_byte(uint64_t offset) {
  return uint8_t('a' + offset % 26);
}
void fill_pattern(std::span<uint8_t> out, uint64_t offset);
bool matches_pattern(std::span<const uint8_t> bytes, uint64_t offset);

// What the transport does next with a connection.
enum class Next : uint8_t { send, receive, await_close, close, fail };
const char *to_string(Next);

struct ClientConfig {
  Workload workload = Workload::churn;
  Closer closer = Closer::client;
  BulkDirection bulk_direction = BulkDirection::download;
  uint32_t concurrency = 1;
  uint32_t request_size = 64;
  uint32_t response_size = 64;
  Duration duration{}; // 0: until `count`
  uint64_t count = 0;  // transactions (churn: connections); 0: until `duration`
  Duration report_interval = std::chrono::seconds(1); // live line; 0: none
  std::string label = "kernel"; // which stack: "kernel", "shoal-ring", "shoal-tap"
};

// The command-line flags the workload takes, shared by kernel_bench and
// shoal-churn so both stacks run exactly the same workloads:
//   --duration S --count N --concurrency C --request Q --response R
//   --workload churn|rr|bulk --closer client|server --direction download|upload
//   --close-first --quiet --json F --label L
struct WorkloadFlags {
  double duration_s = 0;
  uint64_t count = 0;
  uint32_t concurrency = 1;
  uint32_t request = 64;
  uint32_t response = 64;
  Workload workload = Workload::churn;
  Closer closer = Closer::client;
  BulkDirection direction = BulkDirection::download;
  bool close_first = false; // server: close after the response
  bool quiet = false;       // no live line
  std::string json_path;    // empty: stdout
  std::string label;
};

enum class FlagParse : uint8_t { not_a_workload_flag, ok, bad_value };
// Parses `flag` if it is one of WorkloadFlags'. `value` is the flag's
// argument (nullptr when missing); `*took_value` says whether it was used.
// On bad_value, `*error` is the message for the usage line.
FlagParse parse_workload_flag(const std::string &flag, const char *value, WorkloadFlags *out,
                              bool *took_value, std::string *error);
// The client run the flags describe; empty `*error` on success.
ClientConfig client_config(const WorkloadFlags &, std::string *error);

// The largest single write a bulk upload offers (bytes of pattern).
inline constexpr size_t kBulkChunk = 64 * 1024;

// Counts of one run (or one reporting interval).
struct ClientCounts {
  uint64_t started = 0;      // connections opened
  uint64_t connected = 0;    // handshakes completed
  uint64_t completed = 0;    // connections that ended cleanly
  uint64_t transactions = 0; // responses received in full
  uint64_t bytes = 0;        // bulk: payload bytes moved
  std::array<uint64_t, kErrorKinds> errors{};
  uint64_t error_total() const;
};

class ClientSession;

// One client run: decides when connections open, counts, reports. One per
// thread (no locking); several runs can be merged for a JSON of a whole
// process with merge().
class ClientRun {
public:
  explicit ClientRun(const ClientConfig &);
  const ClientConfig &config() const { return cfg_; }

  void begin(Instant now);
  // Another connection should be opened now (churn keeps `concurrency` in
  // flight until the deadline or `count`; rr and bulk open theirs once).
  bool want_connection(Instant now) const;
  // The run is over: the deadline passed, or `count` is reached and nothing
  // is in flight. The transport then closes what is left and calls end().
  bool over(Instant now) const;
  void end(Instant now);
  Instant begun() const { return begin_; }
  // The time the transport should wake up at the latest (deadline, next
  // live line).
  Instant next_wakeup(Instant now) const;

  // Prints the live line when the interval has elapsed; returns whether it
  // printed.
  bool tick(Instant now, FILE *out);
  std::string live_line(Instant now) const;

  // Final results as one JSON object (see README of bench/macro in the report).
  std::string to_json() const;
  // Adds another run's counts and histograms (same config) into this one.
  void merge(const ClientRun &);

  const ClientCounts &totals() const { return total_; }
  uint64_t in_flight() const { return in_flight_; }
  const LatencyHistogram &connect_latency() const { return connect_hist_; }
  const LatencyHistogram &transaction_latency() const { return txn_hist_; }
  double elapsed_s() const;
  // Headline rate: connections/s (churn), requests/s (rr), MiB/s (bulk).
  double rate() const;
  const char *rate_unit() const;

private:
  friend class ClientSession;
  void on_started(Instant now);
  void on_connected(Duration connect_time);
  void on_transaction(Duration latency);
  void on_bytes(uint64_t n);
  void on_error(ErrorKind);
  void on_finished(bool clean);
  void on_abandoned();
  // rr with `count`: claims the next transaction; false when all are taken.
  bool claim_transaction();

  ClientConfig cfg_;
  Instant begin_{};
  Instant end_{};
  Instant deadline_{};
  bool ended_ = false;
  uint64_t in_flight_ = 0;
  uint64_t claimed_ = 0;
  uint64_t in_flight_at_end_ = 0;
  ClientCounts total_;
  ClientCounts interval_;
  Instant interval_begin_{};
  LatencyHistogram connect_hist_;
  LatencyHistogram txn_hist_;
  LatencyHistogram interval_hist_; // transactions (bulk: none) of this interval
};

// One client connection's state machine.
class ClientSession {
public:
  explicit ClientSession(ClientRun &run) : run_(&run) {}

  void start(Instant now);
  Next connected(Instant now);
  std::span<const uint8_t> pending_send() const;
  Next sent(size_t n, Instant now);
  Next received(std::span<const uint8_t> bytes, Instant now);
  Next peer_closed(Instant now);
  Next failed(ErrorKind, Instant now);
  // The transport has closed it; counted once as completed or failed.
  void finish(Instant now);
  // The run ended with this connection still open: finish without counting
  // it either way (in_flight_at_end in the JSON).
  void abandon();

  bool is_established() const { return established_; }
  bool done() const { return finished_; }

private:
  Next begin_request(Instant now);
  Next after_response(Instant now);

  ClientRun *run_;
  Instant started_{};
  Instant request_started_{};
  uint32_t request_sent_ = 0;
  uint32_t response_got_ = 0;
  bool established_ = false;
  bool awaiting_response_ = false;
  bool awaiting_close_ = false;
  bool failed_ = false;
  bool finished_ = false;
};

// ---- server side ----

enum class ServerMode : uint8_t {
  echo,   // request of Q bytes -> response of R bytes, repeated (churn, rr)
  sink,   // reads and discards (bulk upload)
  source, // writes as fast as it can (bulk download)
};
const char *to_string(ServerMode);
bool parse_server_mode(const std::string &, ServerMode *);

struct ServerConfig {
  ServerMode mode = ServerMode::echo;
  uint32_t request_size = 64;
  uint32_t response_size = 64;
  // echo: close right after sending a response (the server closes first).
  bool close_first = false;
  Duration report_interval = std::chrono::seconds(1);
  std::string label = "kernel";
};

struct ServerCounts {
  uint64_t accepted = 0;
  uint64_t closed = 0;
  uint64_t requests = 0; // echo: requests answered
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  std::array<uint64_t, kErrorKinds> errors{};
  uint64_t error_total() const;
};

class ServerRun {
public:
  explicit ServerRun(const ServerConfig &cfg) : cfg_(cfg) {}
  const ServerConfig &config() const { return cfg_; }
  void begin(Instant now);
  void end(Instant now);
  bool tick(Instant now, FILE *out);
  std::string live_line(Instant now) const;
  std::string to_json() const;
  const ServerCounts &totals() const { return total_; }
  uint64_t open_connections() const { return total_.accepted - total_.closed; }

private:
  friend class ServerSession;
  ServerConfig cfg_;
  Instant begin_{};
  Instant end_{};
  Instant interval_begin_{};
  ServerCounts total_;
  ServerCounts interval_;
};

class ServerSession {
public:
  explicit ServerSession(ServerRun &run) : run_(&run) {}
  Next accepted(Instant now);
  std::span<const uint8_t> pending_send() const;
  Next sent(size_t n, Instant now);
  Next received(std::span<const uint8_t> bytes, Instant now);
  // The client's FIN: we close too (the echo server never half-closes).
  Next peer_closed(Instant now);
  Next failed(ErrorKind, Instant now);
  void finish(Instant now);

private:
  ServerRun *run_;
  uint32_t request_got_ = 0;
  uint32_t response_sent_ = 0;
  uint64_t source_offset_ = 0;
  bool responding_ = false;
  bool finished_ = false;
};

} // namespace shoal::bench
