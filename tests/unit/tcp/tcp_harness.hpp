#pragma once
// Test harness for lib/tcp: one Engine on a hand-driven clock, a capturing
// PacketOutput that parses (and checksum-verifies) every datagram the engine
// sends, and helpers to inject segments as a remote peer would. Everything
// in and out is recorded as a readable trace, printed when a test fails.
#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "eal_env.hpp"
#include "tcp/connection.hpp"
#include "tcp/counters.hpp"
#include "tcp/engine.hpp"
#include "wire/format.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace shoal::tcp {
// Readable gtest output for states and close reasons.
inline void PrintTo(State s, std::ostream *os) {
  *os << to_string(s);
}
inline void PrintTo(CloseReason r, std::ostream *os) {
  *os << to_string(r);
}
} // namespace shoal::tcp

namespace shoal::tcp::test {

using namespace wire::tcp_flags;

inline constexpr wire::Ipv4Addr kLocal = wire::Ipv4Addr::from_octets(10, 0, 0, 1);
inline constexpr wire::Ipv4Addr kRemote = wire::Ipv4Addr::from_octets(10, 0, 0, 2);

std::string format_time(Instant);

struct Sent {
  Instant at;
  wire::Ipv4Repr ip;
  wire::TcpRepr tcp;
  std::vector<uint8_t> payload;
  // Where each payload mbuf of the datagram pointed (zero-copy checks), and
  // the offload request it came with.
  std::vector<const uint8_t *> payload_addrs;
  TxOffload offload;
  uint16_t tso_segsz = 0;
  std::string str() const;
  bool has(uint8_t f) const { return tcp.has(f); }
  uint32_t seq_len() const {
    return static_cast<uint32_t>(payload.size()) + (has(SYN) ? 1 : 0) + (has(FIN) ? 1 : 0);
  }
};

class Capture : public PacketOutput {
public:
  void transmit(PacketBuf packet, TxOffload offload) override;
  std::deque<Sent> queue;
  std::vector<std::string> *trace = nullptr;
  const Instant *clock = nullptr;
  int bad = 0; // datagrams that failed to parse / checksum
};

EngineConfig test_config();

class Harness {
public:
  explicit Harness(EngineConfig cfg = test_config(), unsigned pool_size = 1024);
  ~Harness();

  rte_mempool *pool = nullptr;
  unsigned pool_start = 0;
  Capture out;
  std::unique_ptr<Engine> eng;
  Instant now{};
  std::vector<std::string> trace;
  int failures_at_start = 0; // the trace is printed if this harness saw new failures
  bool tracing = true;       // off for floods of many thousand segments
  void set_tracing(bool on) {
    tracing = on;
    out.trace = on ? &trace : nullptr;
  }

  // Payload pieces of injected segments: empty sends each datagram in one
  // mbuf; otherwise the IPv4 + TCP headers go in a header mbuf and the
  // payload follows as a chain of pieces of these lengths (the last piece
  // takes the rest), as net_ring delivers a sender's zero-copy chains.
  std::vector<size_t> payload_pieces;
  // A segment from `from` (remote addr) to the engine.
  void inject(const wire::TcpRepr &h, std::span<const uint8_t> payload = {},
              wire::Ipv4Addr from = kRemote);
  void inject(const wire::TcpRepr &h, const std::string &payload) {
    inject(h, std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(payload.data()),
                                       payload.size()));
  }
  void advance(Duration d) { advance_to(now + d); }
  void advance_to(Instant t);
  // Runs timers up to `t` one expiry at a time (like a shard loop).
  void run_until(Instant t);

  std::optional<Sent> pop();
  size_t pending() const { return out.queue.size(); }
  void note(const std::string &s) { trace.push_back("      -- " + s); }
  std::string dump() const;
  // No connection, no output left unchecked, only `timers` armed, every mbuf back.
  void expect_quiet(size_t timers = 0);
};

// n bytes of a recognisable pattern starting at stream offset `from`.
std::string pattern(size_t n, size_t from = 0);

// Builds a segment header from the peer's point of view.
wire::TcpRepr make_seg(uint16_t src_port, uint16_t dst_port, uint8_t flags, uint32_t seq,
                       uint32_t ack, uint16_t window = 65535);

// Records every callback as text, reads all data it is given.
struct Recorder : ConnectionHandler {
  std::vector<std::string> events;
  Connection *conn = nullptr;
  std::optional<CloseReason> closed;
  std::string received;
  bool consume = true;
  bool close_on_peer_close = false;
  void on_connected(Connection &c) override;
  void on_readable(Connection &c) override;
  void on_writable(Connection &) override { events.push_back("writable"); }
  void on_peer_closed(Connection &c) override;
  void on_closed(Connection &, CloseReason r) override;
};

// Drives the remote end of one connection by hand.
struct Peer {
  Harness &h;
  uint16_t port = 5555;       // the peer's port
  uint16_t local_port = 80;   // the engine's port
  uint32_t snd_nxt = 1000000; // the peer's next sequence number
  uint32_t rcv_nxt = 0;       // what the peer has received of ours
  uint16_t window = 65535;
  wire::TcpOptions syn_options{}; // sent on SYN / SYN-ACK

  FourTuple tuple() const { return FourTuple{kLocal, kRemote, local_port, port}; }
  // Sends flags at snd_nxt (ack = rcv_nxt when ACK set), advancing snd_nxt.
  void send(uint8_t flags, const std::string &payload = "");
  // Sends with explicit numbers, not advancing anything.
  void send_raw(uint8_t flags, uint32_t seq, uint32_t ack, const std::string &payload = "");
  // Pops the next engine segment, checks it has exactly `flags`, and
  // advances rcv_nxt over it. Fails the test (and returns a blank) if none.
  Sent expect(uint8_t flags, const char *what = "");
  void expect_none(const char *what = "");
};

// Full handshakes. Passive: the engine listens on p.local_port.
Connection *open_passive(Harness &h, Peer &p, Recorder &r);
Connection *open_active(Harness &h, Peer &p, Recorder &r);
// The engine closes `c` first (FIN), the peer ACKs it and sends its own FIN:
// the engine's last ACK (returned) leaves the tuple in TIME_WAIT.
Sent close_into_time_wait(Peer &p, Connection &c);
// The bytes of `s` written to `c`; what write() took.
size_t write_str(Connection &c, const std::string &s);
// A passive open whose handshake takes `rtt`: the first RTT sample gives
// SRTT = rtt, RTTVAR = rtt / 2, so RTO = max(200 ms, 3 * rtt).
Connection *open_with_rtt(Harness &h, Peer &p, Recorder &r, Duration rtt);
// Ends a test: `c` (if any) aborts, its RST is the last segment, and the
// engine has nothing left to send.
void finish(Harness &h, Peer &p, Connection *c);
uint64_t counter(Harness &h, Counter k);

} // namespace shoal::tcp::test
