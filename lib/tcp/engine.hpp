#pragma once
// shoal::tcp::Engine — the TCP protocol core of one shard.
//
// The contract between the TCP core and its drivers (lib/sim, lib/shard,
// lib/api): what they may rely on is declared here.
//
// The engine knows nothing of NIC queues or Ethernet. It consumes IPv4
// datagrams carrying TCP (PacketBuf, tcp/packet_buf.hpp: an mbuf chain, data
// starting at the IPv4 header) and a clock value, and produces IPv4 datagrams
// through a PacketOutput. One engine per shard, never touched by another thread.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "common/time.hpp"
#include "tcp/packet_buf.hpp"
#include "tcp/state.hpp"
#include "wire/addr.hpp"
#include "wire/ipv4.hpp"

namespace shoal::tcp {

class Connection;
class Engine;
struct Counters;
enum class Counter : uint16_t;

// What an engine holds in memory (Engine::memory): its own tables and
// pools, not the mbufs (the shard's mempool counts those). Bytes are what
// is allocated, so a pool or table that grew and emptied still shows.
struct EngineMemory {
  uint64_t connections = 0;      // live connection objects (half-open included)
  uint64_t connection_bytes = 0; // connection pool storage + per-connection heap
  uint64_t flow_table_bytes = 0; // the 4-tuple -> connection index
  uint64_t time_wait_records = 0;
  uint64_t time_wait_bytes = 0; // records + their index
  uint64_t other_bytes = 0;     // consumed-cookie record, listeners
  uint64_t total_bytes() const {
    return connection_bytes + flow_table_bytes + time_wait_bytes + other_bytes;
  }
};

struct FourTuple {
  wire::Ipv4Addr local_addr, remote_addr;
  uint16_t local_port = 0, remote_port = 0;
  bool operator==(const FourTuple &) const = default;
};

// Why a connection ended; reported once through ConnectionHandler::on_closed.
enum class CloseReason : uint8_t {
  normal,    // both FINs exchanged (and TIME_WAIT handed to the table, if ours)
  reset,     // an acceptable RST arrived
  refused,   // RST in answer to our SYN (connect to a closed port)
  timed_out, // SYN/SYN-ACK/data retransmissions or keepalive probes exhausted, user timeout
  aborted,   // the application called abort() (SO_LINGER 0): RST sent, no TIME_WAIT
  // The handshake failed after ICMP said the destination (network or host)
  // is unreachable: the SYN retries ran out with that soft error on record
  // (RFC 1122 4.2.3.9), as Linux reports EHOSTUNREACH instead of ETIMEDOUT.
  unreachable,
  // Not the engine's: the api::Stack was destroyed with the connection
  // still open and freed it without sending anything (api/connection.hpp).
  stack_destroyed,
};
const char *to_string(CloseReason);

// Application callbacks, run on the owning shard inside Engine::input/advance.
// After on_closed returns the Connection object is gone.
class ConnectionHandler {
public:
  virtual ~ConnectionHandler() = default;
  virtual void on_connected(Connection &) {}   // ESTABLISHED (active open done, or accepted)
  virtual void on_readable(Connection &) {}    // new in-order data
  virtual void on_writable(Connection &) {}    // send space freed
  virtual void on_peer_closed(Connection &) {} // FIN received: end of stream
  virtual void on_closed(Connection &, CloseReason) {}
};

// Called for each connection a listener accepts; returns its handler (owned by
// the caller, must outlive the connection; nullptr refuses it with RST).
using HandlerFactory = std::function<ConnectionHandler *(Connection &)>;

// Where finished IPv4 datagrams go (the shard resolves ARP and adds Ethernet;
// the simulator puts them on a virtual link). Ownership of the mbuf passes.
// The engine leaves at least RTE_PKTMBUF_HEADROOM - 40 bytes of headroom.
// `offload` says which checksums the engine left for the port, and whether
// the port is to segment the datagram (tcp/packet_buf.hpp); the engine sets
// no offload field of the mbuf itself.
class PacketOutput {
public:
  virtual ~PacketOutput() = default;
  virtual void transmit(PacketBuf ip_packet, TxOffload offload) = 0;
};

struct EngineConfig {
  wire::Ipv4Addr local_address{};
  uint16_t mtu = 1500; // our MSS = mtu - 40
  // SYN retransmission: 1, 2, 4, 8, 16 s then give up (syn_retries = 5 -> 31 s + last wait).
  Duration initial_rto = std::chrono::seconds(1);
  int syn_retries = 5;
  int synack_retries = 5;
  Duration msl = std::chrono::seconds(30); // TIME_WAIT lasts 2 * msl
  Duration fin_wait2_timeout = std::chrono::seconds(60);
  Duration keepalive_idle = std::chrono::seconds(7200);
  Duration keepalive_interval = std::chrono::seconds(75);
  int keepalive_probes = 9;
  uint32_t max_connections = 65536;
  // Half-open (SYN_RECEIVED) entries per listener. Past it, SYNs are answered
  // with SYN cookies (syn_cookies) or dropped (counter syn_backlog_drops).
  uint32_t syn_backlog = 1024;
  // Completed handshakes per listener waiting for the application while its
  // accepting is paused (Engine::pause_accept). When full, further SYNs and
  // completing ACKs are dropped (accept_queue_drops), as Linux does with a
  // full accept queue: the peer retransmits and gets in once there is room.
  uint32_t accept_backlog = 1024;
  uint32_t rcv_buf = 256 * 1024;
  uint32_t snd_buf = 256 * 1024;
  bool timestamps = true;
  bool sack = true;
  bool window_scaling = true;
  uint16_t ephemeral_port_min = 32768, ephemeral_port_max = 60999;
  uint32_t challenge_ack_limit_per_s = 1000; // RFC 5961 section 7
  // ACKs answering an unacceptable segment (outside the receive window, or
  // failing PAWS) go out at most once per this interval per connection, and
  // also draw on the challenge-ACK budget above (as Linux
  // tcp_invalid_ratelimit): a blind flood must not be reflected 1:1.
  // Exempt: old data or a FIN just below RCV.NXT (a retransmission whose ACK
  // was lost), a probe at RCV.NXT or a keepalive at RCV.NXT-1 -- answers a
  // real peer needs and a blind attacker cannot aim at. Zero: no per-
  // connection limit (the engine-wide budget still applies).
  Duration unacceptable_ack_interval = std::chrono::milliseconds(500);
  // RSTs sent for segments to closed ports / unknown connections (RFC 9293
  // 3.10.7.1), per second; the rest are suppressed (counter rst_limited).
  uint32_t rst_limit_per_s = 10000;
  // SYN cookies (RFC 4987 3.6, lib/tcp/syn_cookie.hpp): off; when_full (the
  // SYN backlog or the connection pool is full, as Linux tcp_syncookies=1);
  // always (every SYN, tcp_syncookies=2).
  enum class SynCookieMode : uint8_t { off, when_full, always };
  SynCookieMode syn_cookies = SynCookieMode::when_full;
  // Cookie secret rotation; the previous secret is also accepted, so a
  // cookie is valid for one to two periods.
  Duration syn_cookie_rotation = std::chrono::seconds(60);
  // Cookies that built a connection are remembered for two periods so a
  // replayed cookie ACK cannot rebuild a closed connection (fixed memory:
  // 16 bytes per slot, allocated at the first cookie connection).
  uint32_t cookie_replay_capacity = 65536;
  // Leave the IPv4 and TCP checksums to the port (TxOffload::Checksum::l4),
  // else sum them in software. A port that gets some chains wrong is the
  // driver's to handle (lib/shard sums those itself).
  bool tx_checksum_offload = false;
  // ISN/cookie key: random per engine start (libsodium) unless set (deterministic tests).
  std::optional<uint64_t> secret_seed;
  // Data/FIN retransmissions before the connection times out (Linux tcp_retries2).
  int data_retries = 15;
  // RFC 6298 bounds on the data/FIN retransmission timeout (SYN back-off is
  // initial_rto doubling, uncapped). 2.4's 1 s floor is Linux's 200 ms here.
  Duration min_rto = std::chrono::milliseconds(200);
  Duration max_rto = std::chrono::seconds(60); // RFC 6298 2.5; also the persist back-off cap
  uint32_t max_time_wait = 262144;             // TIME_WAIT records held at most
  // Active opens may take over a tuple still in our TIME_WAIT (Linux
  // tcp_tw_reuse=1) when the old connection used timestamps and the record is
  // at least time_wait_reuse_after old: our TSval clock for the tuple is the
  // same (ts_offset is per tuple), so the new SYN's TSval is above any the
  // peer saw, and the new ISS is put past the old SND.NXT, so old duplicates
  // of either side are rejected by PAWS and by sequence (RFC 7323 5.8,
  // RFC 6191 for the passive side). Counter time_wait_reused_active.
  bool time_wait_reuse = true;
  Duration time_wait_reuse_after = std::chrono::seconds(1);

  // ---- data transfer -------------------------------------------------------
  // Delayed ACK (RFC 9293 3.8.6.3, RFC 5681 4.2): ACK every second full-sized
  // segment, else after at most this long. Zero ACKs every segment at once.
  Duration delayed_ack = std::chrono::milliseconds(40);
  // Quick ACK at connection start (as Linux's quick-ACK mode): the first
  // this many data segments received on a connection are ACKed at once, so
  // the peer's window grows and the first request/response exchanges wait
  // for no delayed ACK; delayed ACK applies after them. Counted as that many
  // segments of the largest size the peer has sent. At most 255; 0: off.
  uint32_t quickack_segments = 16;
  // Receiver-side silly window avoidance (RFC 9293 3.8.6.2.2, RFC 1122
  // 4.2.3.3). true: the RFC's algorithm, as Linux: the advertised right edge
  // moves right only once it can move by min(RCV.BUFF / 2, MSS). false:
  // BSD's: every segment offers the whole free space, except that a window
  // below min(RCV.BUFF / 4, MSS) is offered as zero; the right edge never
  // moves left in either. Pure window updates follow the RFC's rule in both.
  bool rcv_window_hold_back = true;
  // false (RFC 5681 4.2, as Linux): every second full-sized segment is ACKed
  // at once. true (as BSD): every second data segment is, whatever its size.
  bool ack_every_second_segment = false;
  // "newreno" (RFC 5681 + RFC 6582) or "cubic" (RFC 9438); per connection
  // with Connection::set_congestion_control.
  std::string congestion_control = "newreno";
  // Tail loss probe (RFC 8985 7, the TLP half of RACK-TLP): with data
  // outstanding outside loss recovery and an RTT sample taken, a probe
  // timeout PTO = 2*SRTT (plus tlp_peer_delayed_ack when one segment is in
  // flight), never later than the RTO, sends
  // one segment (new data if it may go, else the highest one sent again) so
  // that a lost tail is repaired by the ACK it draws instead of by the RTO.
  bool tail_loss_probe = true;
  // How long the peer may hold its ACK of a lone segment (RFC 8985 7.2's
  // WCDelAckT, 200 ms as the RFC recommends and Linux uses): the probe of a
  // single segment in flight waits this much beyond 2*SRTT, so a peer's
  // delayed ACK does not draw a needless probe. Lower it only where the
  // peers' delayed ACK is known to be shorter.
  Duration tlp_peer_delayed_ack = std::chrono::milliseconds(200);
  // RACK time-based loss detection (RFC 8985 6), with SACK: a segment sent
  // before one that was delivered is lost once RACK.rtt + RACK.reo_wnd
  // (min RTT / 4) passed since it was sent, without waiting for DupThresh
  // duplicate ACKs or the RTO; a reordering timer marks it when that time
  // comes with no further ACK.
  bool rack = true;
  // Initial window in segments; 0 = RFC 6928 (min(10*MSS, max(2*MSS, 14600))).
  uint32_t initial_window_segments = 0;
  // RFC 5482-style user timeout: abort when sent data stays unacknowledged
  // this long (zero: only data_retries decides). Per connection with
  // Connection::set_user_timeout.
  Duration user_timeout{};
  // Out-of-order reassembly bounds: per connection (segments; bytes are
  // bounded by the receive buffer) and per engine (= per shard).
  uint32_t reassembly_max_segments = 256;
  uint64_t reassembly_shard_bytes = uint64_t{64} << 20;
  uint64_t reassembly_shard_segments = 65536;
  // TCP segmentation offload: the port segments one large datagram
  // (tso_segsz = MSS). Needs tx_checksum_offload. Largest payload per datagram:
  bool tso = false;
  uint32_t tso_max_payload = 65535 - 20 - 60;
  // Segments with at most this many payload bytes carry a copy of them in
  // the header mbuf; larger ones reference the send ring (an indirect mbuf
  // per ring piece, no copy). A reference costs an mbuf allocation, two
  // atomic reference-count updates on the ring mbuf and a two-piece chain
  // that the receiver must walk; copying a request-sized payload is
  // cheaper. 0: always reference. Held to what fits in one pool buffer.
  uint32_t copy_payload_max = 256;
  // Write coalescing (as Linux's tcp_autocorking): output for what the
  // application writes runs once, for everything it queued, when the
  // engine entry point running its callback returns (or, with
  // Engine::set_output_batching, at the end of the poll iteration), not
  // per write. A response written as head and body then leaves as one
  // segment, not a head that goes at once and a body that Nagle holds
  // until the peer's delayed ACK. false: each write outputs at once.
  bool autocork = true;
  // TCP_CORK's ceiling (Connection::set_cork): Linux holds corked partial
  // data at most 200 ms.
  Duration cork_timeout = std::chrono::milliseconds(200);
};

// Per-socket choices fixed when a connection opens (connect) or for every
// connection a listener accepts (listen).
struct OpenOptions {
  // TCP_MAXSEG (Linux's user_mss): when non-zero, the MSS announced in our
  // SYN or SYN-ACK is at most this, and so is the largest segment we send
  // (less the options every segment carries, as for the peer's MSS).
  // 0: only the MTU (EngineConfig::mtu) and the peer's MSS decide.
  uint16_t max_segment = 0;
};

// An ICMP error that quotes a segment this engine sent (RFC 1122 3.2.2.1,
// RFC 5927): the quoted IPv4 addresses and TCP ports and sequence number,
// the ICMP type and code, and for "fragmentation needed" the next-hop MTU
// (RFC 1191; 0 when the router gave none).
struct IcmpError {
  uint8_t type = 3, code = 0;
  wire::Ipv4Addr src, dst; // the quoted datagram's: src is ours
  uint16_t src_port = 0, dst_port = 0;
  uint32_t seq = 0;
  uint16_t next_hop_mtu = 0;
};

class Engine {
public:
  Engine(const EngineConfig &, rte_mempool *pool, PacketOutput &out, Instant now);
  ~Engine(); // frees every connection and buffered mbuf without sending anything
  Engine(const Engine &) = delete;
  Engine &operator=(const Engine &) = delete;

  // One received IPv4 datagram (protocol TCP), already parsed and validated
  // at the IP layer by the caller; data offset of `m` at the IPv4 header.
  // The engine takes ownership of `m`. `rx.l4`: what the port found of the
  // TCP checksum (unknown: the engine sums it in software; bad: dropped).
  void input(PacketBuf m, const wire::Ipv4Repr &ip, RxChecksum rx, Instant now);
  // Convenience for the simulator: parses the IPv4 header itself (drops +
  // counts bad ones; its checksum is verified unless rx.ip is good).
  void input_ipv4(PacketBuf m, RxChecksum rx, Instant now);
  // An ICMP error about one of our segments (the shard's ICMP input passes
  // those that quote TCP). Only one that quotes a sequence number the
  // connection has sent and not had acknowledged counts (RFC 5927 4.1; the
  // SYN's ISS in SYN-SENT); others are counted and ignored.
  //  - "fragmentation needed" (path-MTU discovery, RFC 1191): the MSS drops
  //    to next-hop MTU - 40 (less the timestamp option when in use; never
  //    below a 552-byte path, Linux's min_pmtu), what was in flight is sent
  //    again at the new size (no congestion response), and the destination's
  //    MTU is remembered for 10 minutes for new connections.
  //  - protocol or port unreachable in SYN-SENT: the connect is refused.
  //  - network or host unreachable, time exceeded: soft errors (RFC 1122
  //    4.2.3.9); in SYN-SENT they turn the final timeout into
  //    CloseReason::unreachable. A synchronized connection only counts them.
  void icmp_error(const IcmpError &e, Instant now);
  // The path MTU remembered for `dst` (0: none, or expired).
  uint16_t path_mtu(wire::Ipv4Addr dst) const;

  // Runs timers due at `now`.
  void advance(Instant now);
  // Output batching for a poll loop (EngineConfig::autocork): while on,
  // output for application writes made outside the engine's own entry
  // points (a posted closure, code between polls) waits for flush_output(),
  // which the loop calls once per iteration, so all a connection was
  // written in one iteration leaves together. Off (the default): it runs
  // when the write (or the input/advance whose callback wrote) returns.
  // Turning it off flushes.
  void set_output_batching(bool on);
  void flush_output();
  // When advance() next has something to do (nullopt: no timer armed).
  std::optional<Instant> next_timer() const;

  // Passive open on local_port (RFC 9293 3.10.1 OPEN, passive). Returns false if already listening.
  bool listen(uint16_t local_port, HandlerFactory factory, const OpenOptions &options = {});
  // Changes a listener's options for the connections it accepts from now
  // on (false: not listening on that port).
  bool set_listen_options(uint16_t local_port, const OpenOptions &options);
  void unlisten(uint16_t local_port);
  // Active open; local_port 0 picks an ephemeral port. nullptr when it
  // opened nothing, and then the cause in *why (if given).
  enum class ConnectError : uint8_t {
    none,
    bad_address,  // remote 0.0.0.0, broadcast or multicast, or port 0
    no_free_port, // no ephemeral port free towards this remote
    tuple_in_use, // the given local port has a connection (or a TIME_WAIT not to be taken over)
    no_memory,    // the connection pool is empty
  };
  Connection *connect(wire::Ipv4Addr remote, uint16_t remote_port, ConnectionHandler *handler,
                      uint16_t local_port = 0, const OpenOptions &options = {},
                      ConnectError *why = nullptr);

  // Accept queue (EngineConfig::accept_backlog). While a listener is paused,
  // completed handshakes wait in it (ESTABLISHED, data buffered up to the
  // receive window, no callbacks) instead of going to the factory. A factory
  // that calls pause_accept() and returns nullptr puts its connection back
  // at the head of the queue instead of refusing it. resume_accept() hands
  // the waiting connections to the factory, oldest first, with
  // on_connected (then on_readable / on_peer_closed for what arrived).
  void pause_accept(uint16_t local_port);
  void resume_accept(uint16_t local_port);
  size_t accept_queue_length(uint16_t local_port) const;
  // Half-open entries of a listener counted against syn_backlog.
  size_t syn_backlog_length(uint16_t local_port) const;
  // Connection pool slots in use (every live connection, half-open ones
  // included): the memory a SYN flood could grow, flat under cookies.
  uint32_t connections_in_use() const;

  // Live connections in the flow table (all states but TIME_WAIT records and CLOSED).
  size_t connection_count() const;
  size_t time_wait_count() const;
  size_t armed_timer_count() const;

  // Inspection (tests, simulator, stats).
  Connection *find(const FourTuple &); // live connection for the tuple, or nullptr
  // The tuple's state as seen from here: a live connection's state,
  // time_wait for a TIME_WAIT record, else closed.
  State state_of(const FourTuple &) const;
  // connect() could open this tuple now: no live connection, and no TIME_WAIT
  // record or one that time_wait_reuse allows taking over.
  bool can_connect(const FourTuple &) const;
  const Counters &counters() const;
  // Calls `hook` with the reason (a drop-kind counter) each time this engine
  // drops something, from inside the counter's increment, with the arriving
  // segment's four-tuple once its header is parsed (else nullptr); an empty
  // hook removes it. Compiled out with NDEBUG (SHOAL_DROP_TRACE 0): then a
  // no-op.
  void
  set_drop_hook(std::function<void(Counter reason, uint64_t n, const FourTuple *segment)> hook);
  // Debug builds (no NDEBUG): every Connection method first asks
  // `on_owner(ctx)` whether the calling thread may use this engine now (the
  // stack answers: its loop is not running, or this is the engine's shard
  // on its own loop); when it says no, the method name goes to the
  // violation handler, which by default prints it and aborts. Release
  // builds: a no-op, no check.
  void set_owner_check(bool (*on_owner)(void *ctx), void *ctx);
  static void set_owner_violation_handler(void (*handler)(const char *method));
  // O(1): sizes of the pools and tables (see EngineMemory).
  EngineMemory memory() const;
  const EngineConfig &config() const;
  Instant now() const; // the latest time passed to input/advance

  struct Impl;

private:
  std::unique_ptr<Impl> impl_;
};

} // namespace shoal::tcp
