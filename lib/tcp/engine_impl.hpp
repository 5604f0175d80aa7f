#pragma once
// Engine::Impl — the engine's private state and the protocol entry points,
// shared by the files of lib/tcp (one concern per file):
//   engine.cpp     construction, connect/listen, connection lifecycle helpers
//   input.cpp      RFC 9293 3.10.7 SEGMENT ARRIVES for a connection
//   listener.cpp   LISTEN state: SYN backlog, SYN cookies (RFC 4987) and
//                  their replay record, the accept queue
//   syn_cookie.cpp the cookie itself: encoding, secrets, validation
//   time_wait.cpp  segments for TIME_WAIT records (RFC 9293 3.10.7.4, RFC 6191)
//   rst.cpp        RSTs for closed ports (RFC 9293 3.10.7.1), challenge ACKs (RFC 5961)
//   output.cpp     building and sending segments
//   options.cpp    SYN option negotiation (MSS, RFC 7323, RFC 2018)
//   receive.cpp    segment text: in-order queue, reassembly, SACK blocks,
//                  receive window from buffer memory, delayed ACK decisions
//   send_ring.cpp  the send ring: indexed lookup, payload references, release
//   congestion.cpp ACK processing for RTT (RFC 6298), congestion control
//                  (RFC 5681/6582/9438), fast retransmit, SACK recovery (RFC 6675)
//   timers.cpp     retransmission, delayed ACK, persist, keepalive, FIN_WAIT_2,
//                  user timeout
//   connection.cpp the application-facing Connection methods
//   pool.hpp       connection storage; conn_table.hpp the 4-tuple index into it
//
// The algorithms themselves (RTO estimator, congestion control, scoreboard,
// reassembly queue) live in lib/tcp/recovery; these files drive them.
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <rte_mbuf.h>

#include "tcp/conn_table.hpp"
#include "tcp/connection.hpp"
#include "tcp/cookie_replay.hpp"
#include "tcp/counters.hpp"
#include "tcp/engine.hpp"
#include "tcp/flow_hash.hpp"
#include "tcp/isn.hpp"
#include "tcp/packet_buf_impl.hpp"
#include "tcp/pool.hpp"
#include "tcp/rate_limit.hpp"
#include "tcp/syn_cookie.hpp"
#include "tcp/time_wait.hpp"
#include "timer/timer_wheel.hpp"
#include "wire/tcp.hpp"

namespace shoal::tcp {

// One received segment, parsed. Owns its payload chain (data_off at the first
// payload byte) until the receive queue takes it.
struct Segment {
  wire::TcpRepr h;
  Seq seq, ack;
  uint32_t len = 0; // payload bytes
  PacketBuf data;   // payload, empty when len == 0

  Segment() = default;
  Segment(const Segment &) = delete;
  Segment &operator=(const Segment &) = delete;
  ~Segment() { data.free(); }

  bool syn() const { return h.has(wire::tcp_flags::SYN); }
  bool fin() const { return h.has(wire::tcp_flags::FIN); }
  bool rst() const { return h.has(wire::tcp_flags::RST); }
  bool has_ack() const { return h.has(wire::tcp_flags::ACK); }
  // SEG.LEN of RFC 9293: payload plus one for each of SYN and FIN.
  uint32_t seg_len() const { return len + (syn() ? 1 : 0) + (fin() ? 1 : 0); }
  void drop_payload() {
    data.free();
    data = {};
    len = 0;
  }
};

// RFC 9293 3.10.7.4 "first, check sequence number" with RFC 7323 5.3 PAWS
// ahead of it (input.cpp), for a receive window [rcv_nxt, rcv_nxt+rcv_wnd)
// and TS.Recent (nullptr: no timestamps in use). The one test for
// connections and TIME_WAIT records.
enum class Acceptability : uint8_t { acceptable, paws, outside_window };
Acceptability segment_acceptable(const Segment &, Seq rcv_nxt, uint32_t rcv_wnd,
                                 const uint32_t *ts_recent);

// What the steps of RFC 9293 3.10.7.4 found in one segment, for the
// application callbacks after them (Engine::Impl::after_arrival).
struct Arrival {
  bool space_freed = false; // the ACK freed send space: on_writable
  bool new_data = false;    // readable() grew: on_readable
  bool got_fin = false;     // the peer's FIN was taken: on_peer_closed
};

struct Listener {
  uint16_t port = 0;
  HandlerFactory factory;
  OpenOptions options;    // inherited by every connection it accepts
  uint32_t half_open = 0; // connections in SYN_RECEIVED counted against syn_backlog
  // Accept queue: established connections waiting while accepting is paused
  // (FIFO through Connection::accept_next_/accept_prev_).
  bool paused = false;
  Connection *accept_head = nullptr, *accept_tail = nullptr;
  uint32_t accept_len = 0;
  // When this listener last answered with a SYN cookie: ACKs are checked as
  // cookies only while one may still be valid (two rotation periods), so a
  // listener not under flood treats a stray ACK as RFC 9293 says (RST).
  std::optional<Instant> last_cookie_sent;
  bool accept_queue_full(uint32_t backlog) const { return paused && accept_len >= backlog; }
};

struct Engine::Impl {
  Impl(Engine &self, const EngineConfig &cfg, rte_mempool *pool, PacketOutput &out, Instant now);
  ~Impl();

  // ---- engine.cpp ----------------------------------------------------------
  Connection *connect(wire::Ipv4Addr remote, uint16_t remote_port, ConnectionHandler *handler,
                      uint16_t local_port, const OpenOptions &options, Engine::ConnectError &why);
  bool listen(uint16_t port, HandlerFactory factory, const OpenOptions &options);
  void unlisten(uint16_t port);
  void advance(Instant now);
  // A fresh connection registered in the flow table (state CLOSED);
  // nullptr when the pool is exhausted (the caller counts what that costs).
  Connection *new_connection(const FourTuple &);
  // SYN and SYN-ACK retransmission timeout: initial_rto doubled per
  // retransmission (1, 2, 4, 8, 16 s), not capped by max_rto.
  Duration handshake_rto(const Connection &c) const {
    Duration d = cfg.initial_rto;
    for (uint8_t i = 0; i < c.rtx_count_; ++i)
      d *= 2;
    return d;
  }
  // Keepalive and user-timeout settings of a connection (Connection::timeouts),
  // and the connection's own copy, made on first change.
  const ConnTimeouts &timeouts_of(const Connection &c) const {
    return c.custom_timeouts_ ? own_timeouts.find(c.pool_index_)->second : default_timeouts;
  }
  ConnTimeouts &custom_timeouts(Connection &c) {
    if (!c.custom_timeouts_) {
      c.custom_timeouts_ = true;
      return own_timeouts.insert_or_assign(c.pool_index_, default_timeouts).first->second;
    }
    return own_timeouts.find(c.pool_index_)->second;
  }
  // The connection with this 4-tuple in the flow table, or nullptr.
  Connection *find_connection(const FourTuple &t) { return flows.find(t); }
  // Every change of state goes through set_state, the one place that counts
  // it: Counters::transitions[from][to] and the per-state gauges in_state
  // (CLOSED has none). This one for what is not a Connection: a listener
  // (CLOSED <-> LISTEN) and a TIME-WAIT record ending (TIME-WAIT -> CLOSED).
  void set_state(State from, State to);
  // A connection, counted as a change from `counted_from`: its own state;
  // LISTEN for a TCB a listener created; CLOSED, so not counted, for one
  // whose TIME-WAIT passes to a record (which carries the count on).
  void set_state(Connection &c, State to, State counted_from);
  void set_state(Connection &c, State to) { set_state(c, to, c.state_); }
  // Ends a connection: frees its buffers, cancels its timers, removes it from
  // the flow table, reports on_closed (if it has a handler) and queues the
  // object for the pool. Idempotent.
  // `to_time_wait_record`: the state gauge stays with the TIME_WAIT record.
  void close_connection(Connection &, CloseReason, bool to_time_wait_record = false);
  // Moves a connection into a TIME_WAIT record and ends it with reason normal.
  void enter_time_wait(Connection &);
  // A connection that closed normally with unread data stays readable
  // (lingering); this ends it: frees what is left and reports on_closed.
  void end_lingering(Connection &, CloseReason);
  void reap(); // returns closed connections to the pool (outside callbacks)
  void free_buffers(Connection &);
  bool can_connect(const FourTuple &) const;
  uint16_t pick_ephemeral_port(wire::Ipv4Addr remote, uint16_t remote_port);

  // Entry guard: connections are returned to the pool only when the
  // outermost engine entry point (input, advance, connect, an API call)
  // returns, so no callback ever sees a recycled object.
  // Output the application asked for inside (output_soon) runs there too,
  // unless a poll loop batches it (batch_output: it calls flush_output once
  // per iteration).
  // Engine::set_owner_check (debug builds).
  bool (*on_owner)(void *) = nullptr;
  void *on_owner_ctx = nullptr;
  void check_owner(const char *method) const;

  struct Entry {
    explicit Entry(Impl &e) : e(e) { ++e.depth; }
    ~Entry() {
      if (e.depth == 1 && !e.batch_output && !e.pending_output.empty())
        e.flush_output(); // still inside: connections it closes wait for reap()
      if (--e.depth == 0)
        e.reap();
    }
    Impl &e;
  };

  // ---- input.cpp -----------------------------------------------------------
  void input(PacketBuf m, const wire::Ipv4Repr &ip, RxChecksum rx, Instant now);
  void segment_arrives(Connection &, Segment &);
  void syn_sent_arrives(Connection &, Segment &);
  // RFC 9293 3.10.7.4, the driver: the steps below in the RFC's order.
  void synchronized_arrives(Connection &, Segment &);
  // The steps; each returns false when it has finished with the segment
  // (dropped, answered, or the connection ended). Defined in input.cpp and
  // used only there: inline, so the driver can take them in whole (the
  // library is position-independent, so a call to an ordinary member
  // function stays a call).
  inline bool check_sequence_number(Connection &, Segment &); // first (and PAWS)
  inline bool check_rst(Connection &, const Segment &);       // second
  inline bool check_syn(Connection &, const Segment &);       // fourth
  inline bool check_ack(Connection &, Segment &, Arrival &);  // fifth
  inline bool syn_received_ack(Connection &, Segment &, Arrival &);
  inline bool ack_in_range(Connection &, const Segment &); // RFC 5961 5.2
  inline bool ack_of_our_fin(Connection &, bool acked_our_fin);
  inline bool process_text(Connection &, Segment &, Arrival &);    // seventh
  inline void check_fin(Connection &, const Segment &, Arrival &); // eighth
  inline void after_arrival(Connection &, const Arrival &);        // callbacks, output, ACK
  inline Acceptability segment_acceptable(const Connection &, const Segment &) const;
  // The ACK RFC 9293 3.10.7.4 / RFC 7323 5.3 send in reply to an unacceptable
  // segment, rate-limited (EngineConfig::unacceptable_ack_interval and the
  // challenge-ACK budget) unless the segment is one a real peer sends. True
  // if it was sent; a suppressed one counts drop_unacceptable_limited.
  bool answer_unacceptable(Connection &, const Segment &);
  void trim_to_window(Connection &, Segment &);
  void process_ack(Connection &, Segment &, bool &acked_our_fin);
  void update_send_window(Connection &, const Segment &);
  void established(Connection &); // SYN_RECEIVED/SYN_SENT -> ESTABLISHED side effects
  void fin_received(Connection &);
  void note_activity(Connection &);

  // ---- receive.cpp ---------------------------------------------------------
  // "Seventh, process the segment text" for ESTABLISHED/FIN-WAIT-1/2: in
  // order to the receive queue (then whatever reassembly releases), out of
  // order to the reassembly queue; decides between an immediate and a
  // delayed ACK. Sets new_data when readable() grew; may set the FIN bit of
  // `seg` when a FIN queued beyond a hole is reached.
  void receive_text(Connection &, Segment &, bool &new_data);
  // Its steps, inline as synchronized_arrives' are (used in receive.cpp only).
  inline bool make_receive_room(Connection &, Segment &); // false: dropped for memory
  inline void queue_out_of_order(Connection &, Segment &);
  inline void receive_in_order(Connection &, Segment &);
  void take_reassembled(Connection &); // what the reassembly queue releases at RCV.NXT
  void append_in_order(Connection &, PacketBuf chain);
  // Under receive memory pressure: copies the (in-order) segment's payload
  // into the tailroom of the receive queue's last mbuf and frees the
  // segment's mbufs. False if it does not fit (nothing changed).
  bool coalesce_in_order(Connection &, Segment &);
  // Free receive space in bytes: the byte limit (rcv_buf minus queued) and
  // the memory limit (2 x rcv_buf of mbuf truesize) whichever is smaller.
  uint32_t rcv_space(const Connection &) const;
  // The window a segment sent now could show the peer for `space` bytes:
  // rounded up to the scale unit and capped by what the 16-bit field can
  // carry at the connection's scale (65535 without window scaling).
  uint32_t rcv_window_visible(const Connection &, uint32_t space) const;
  uint32_t ooo_memory(const Connection &) const;
  // SYN text of a passive open waits in the reassembly queue (RFC 9293
  // 3.10.7.2 "queued for processing later") until ESTABLISHED.
  void queue_syn_text(Connection &, Segment &);
  void release_syn_text(Connection &);
  void sack_option(Connection &, wire::TcpOptions &);
  // RFC 2883: bytes [start, end) of the segment being processed arrived a
  // second time. Its ACK, sent at once, reports them as the first SACK
  // block (a D-SACK). Only the segment's first duplicate range is reported;
  // needs SACK to be negotiated.
  void note_duplicate(Connection &, Seq start, Seq end);

  // ---- congestion.cpp ------------------------------------------------------
  void start_congestion_control(Connection &); // at ESTABLISHED
  // RFC 6298 / RFC 7323 4: an RTT sample from an ACK of new data.
  void rtt_from_ack(Connection &, const Segment &);
  void rtt_sample_taken(Connection &, Duration r,
                        RttSampleSource src = RttSampleSource::kTimedSegment,
                        uint32_t expected_samples = 1);
  void on_new_ack(Connection &, const Segment &, uint32_t acked);
  void on_duplicate_ack(Connection &, const Segment &);
  void apply(Connection &, const CcAction &);
  // RFC 8985 7.4: an ACK of new data while a tail loss probe is outstanding;
  // ends its episode once the probe is acknowledged.
  void probe_acked(Connection &, const Segment &, uint32_t flight_before);
  // RACK (RFC 8985 6, congestion.cpp): the scoreboard's loss detection by
  // transmit time; fast recovery when it finds SND.UNA's segment lost.
  void rack_detect_loss(Connection &);
  std::optional<Instant> rack_deadline(const Connection &) const;
  void on_rack_timeout(Connection &);
  void rack_arm_after_dup_ack(Connection &);
  void retransmit_snd_una(Connection &); // fast retransmit / partial ACK
  bool sack_recovery_output(Connection &);
  uint32_t parse_sack(const Connection &, const Segment &, std::span<SackBlock> out) const;

  // ---- listener.cpp --------------------------------------------------------
  // RFC 9293 3.10.7.2; iss_floor: a SYN reusing a TIME-WAIT tuple (RFC 6191).
  void listen_arrives(Listener &, const FourTuple &, Segment &, const Seq *iss_floor);
  void listen_syn_arrives(Listener &, const FourTuple &, Segment &, const Seq *iss_floor);
  // A half-open entry in the SYN backlog; false if no connection slot was free.
  bool syn_backlog_entry(Listener &, const FourTuple &, Segment &, const Seq *iss_floor);
  void send_cookie_syn_ack(Listener &, const FourTuple &, const Segment &);
  // An ACK to a listener that may carry a cookie (SEG.ACK - 1). True if it
  // was handled (connection built, or rejected and counted).
  bool cookie_ack_arrives(Listener &, const FourTuple &, Segment &);
  bool cookies_recently_sent(const Listener &) const;
  void accept(Connection &); // handshake completed on a passive open
  // Offers `c` to the factory; false if it stays (or goes back) in the queue.
  bool offer_to_factory(Connection &);
  void accept_queue_push(Listener &, Connection &, bool front);
  void accept_queue_remove(Connection &);
  void pause_accept(uint16_t port);
  void resume_accept(uint16_t port);

  // ---- time_wait.cpp -------------------------------------------------------
  void time_wait_arrives(TimeWaitRecord &, const FourTuple &, Segment &);
  void time_wait_syn_arrives(TimeWaitRecord &, const FourTuple &, Segment &); // RFC 6191
  bool time_wait_check_sequence(TimeWaitRecord &, const Segment &);           // first step
  void send_time_wait_ack(const TimeWaitRecord &);
  void drop_time_wait(TimeWaitRecord &, State to); // record ends early (RST, reuse)
  static void time_wait_expired(void *ctx, TimeWaitRecord &);

  // ---- rst.cpp -------------------------------------------------------------
  // RFC 9293 3.10.7.1: the reply to a segment for which no connection exists.
  void reset_for(const FourTuple &, const Segment &);
  // RFC 5961: a challenge ACK, within the per-second budget.
  void send_challenge_ack(Connection &);
  bool challenge_ack_allowed(); // takes one from the per-second budget if any left

  // ---- output.cpp ----------------------------------------------------------
  // Builds IPv4 + TCP headers in a fresh mbuf, chains `payload` (owned) and
  // hands the datagram to the output. False if out of mbufs.
  // tso_segsz != 0: the port cuts the payload into segments of that size.
  // copy_from != nullptr (payload == nullptr): the payload is copied into
  // the header mbuf from copy_from's send ring at copy_seq instead.
  bool transmit(const FourTuple &, wire::TcpRepr &, rte_mbuf *payload, uint32_t payload_len,
                uint16_t tso_segsz = 0, Connection *copy_from = nullptr, Seq copy_seq = Seq{});
  void send_syn(Connection &); // SYN, or SYN-ACK in SYN_RECEIVED
  // SEQ for a segment without text: the RFC's SND.NXT, which is our
  // SND.MAX (SND.NXT goes back after a timeout), kept inside the peer's window.
  Seq control_seq(const Connection &) const;
  void send_ack(Connection &); // <SEQ=SND.MAX><ACK=RCV.NXT><CTL=ACK>
  void send_rst(Connection &); // <SEQ=SND.MAX><ACK=RCV.NXT><CTL=RST,ACK> (abort)
  void send_keepalive_probe(Connection &);
  // Sends queued data and the FIN as the peer's window, the congestion
  // window, Nagle, TCP_CORK and sender SWS avoidance allow; true if anything
  // was sent. Arms the persist timer when the window or TCP_CORK holds data
  // back with nothing in flight. `push`: a partial segment goes despite
  // Nagle and cork.
  bool output(Connection &, bool push = false);
  // An earlier partial segment of new data is unacknowledged (Minshall).
  bool partial_in_flight(const Connection &) const;
  // Output coalescing (EngineConfig::autocork): application writes list the
  // connection, and output runs once for all they queued, when the
  // outermost engine entry returns or at flush_output (batch_output).
  void output_soon(Connection &);
  void flush_output();
  // One segment [seq, seq+len) (+FIN) from the send ring; false if out of mbufs.
  bool send_segment(Connection &, Seq seq, uint32_t len, bool fin);
  bool push_flag(const Connection &, Seq seq, uint32_t len) const;
  // Bookkeeping after sending [seq, seq+len) (+FIN): SND.NXT/SND.MAX, timers,
  // RTT timing, scoreboard, counters.
  void sent(Connection &, Seq seq, uint32_t len, bool fin);
  // RFC 8985 7.3: one tail loss probe (new data, else the last segment
  // again); opens the probe's episode (tlp_probing_). False if nothing went.
  bool send_probe(Connection &);
  uint32_t max_segment_payload(const Connection &) const; // MSS, or the TSO size
  // Header fields every segment of an established connection carries.
  void fill_header(Connection &, wire::TcpRepr &, uint8_t flags, Seq seq);
  uint16_t window_field(Connection &); // also advances rcv_adv
  uint32_t tsval(uint32_t ts_offset) const;
  void maybe_window_update(Connection &);

  // ---- send_ring.cpp -------------------------------------------------------
  // The ring mbuf holding `seq`, its first sequence number and seq's offset
  // in it, starting from the cursor when seq is at or past it.
  struct RingPos {
    rte_mbuf *s;
    Seq s_seq;
    uint32_t off;
  };
  static RingPos locate(const Connection &, Seq seq);
  // Calls piece(ring mbuf, offset, length) for each ring piece of
  // [seq, seq+len), moving the cursor along; false if piece() refuses one
  // or the ring holds fewer bytes.
  template <class Piece> bool walk_ring(Connection &, Seq seq, uint32_t len, Piece &&piece);
  rte_mbuf *payload_refs(Connection &, Seq seq, uint32_t len); // indirect mbufs over the ring
  // Copies [seq, seq+len) of the ring to dst; false if the ring holds less.
  bool copy_from_ring(Connection &, Seq seq, uint32_t len, uint8_t *dst);
  void ack_send_queue(Connection &, Seq ack); // frees acknowledged ring bytes

  // ---- options.cpp ---------------------------------------------------------
  void syn_options(const Connection &, wire::TcpOptions &) const;
  // Records what the peer's SYN (or SYN-ACK) offered; on a SYN-ACK, only
  // what we offered too can be enabled.
  void negotiate(Connection &, const wire::TcpOptions &peer);
  uint8_t our_window_scale() const;
  uint16_t our_mss() const { return static_cast<uint16_t>(cfg.mtu - 40); }
  // The MSS we announce: the MTU's, lowered to a TCP_MAXSEG clamp (0: none),
  // as Linux's tcp_advertise_mss.
  uint16_t announced_mss(uint16_t max_segment) const {
    return max_segment != 0 && max_segment < our_mss() ? max_segment : our_mss();
  }

  // ---- timers.cpp ----------------------------------------------------------
  // The connection's wheel timer (ConnTimers): runs each kind that is due.
  static void timers_fired(void *ctx, timer::Timer &);
  // The retransmission timer: the RTO, or a tail loss probe timeout before
  // it when probe_deadline() gives one (tlp_pto_armed_).
  void arm_rtx(Connection &);
  void on_retransmit_timeout(Connection &);
  // RFC 8985 7.2: when the probe timer should fire, given the RTO deadline
  // `rto_at` (it never fires later); nothing when no probe may be armed.
  std::optional<Instant> probe_deadline(const Connection &, Instant rto_at) const;
  bool probe_allowed(const Connection &) const;
  // Replaces a probe timeout with the RTO, from when the oldest outstanding
  // data began waiting; false (nothing armed) if that time has passed.
  bool rearm_rto_from_una(Connection &);
  void on_probe_timeout(Connection &);
  // The probe timer fired with tlp_restart_ set: armed again from the last
  // new data's transmit time (timers.cpp).
  void restart_probe_timer(Connection &);
  void on_delayed_ack_timeout(Connection &);
  void on_persist_timeout(Connection &);
  void arm_persist(Connection &);
  void schedule_delayed_ack(Connection &);
  // The user timeout passed: RST and close with timed_out. True if it did.
  bool user_timeout_expired(Connection &);
  // `at`, brought forward to the user-timeout deadline if that comes first.
  Instant clamp_to_user_timeout(const Connection &, Instant at) const;
  void on_keepalive_timeout(Connection &);
  void on_fin_wait2_timeout(Connection &);
  void start_keepalive(Connection &);
  void start_fin_wait2(Connection &);

  Engine &self;
  // Retry and probe limits are clamped to this (the counters are 8 bits).
  static constexpr int kMaxRetries = UINT8_MAX;
  EngineConfig cfg;
  rte_mempool *pool;
  PacketOutput &out;
  Instant now;
  timer::TimerWheel wheel;
  // Every connection's RtoEstimator refers to this one (not a copy each).
  RtoConfig rto_cfg;
  SecretKey secret;
  Counters counters;
  ConnectionPool conns;
  ConnTimeouts default_timeouts;                           // from cfg
  std::unordered_map<uint32_t, ConnTimeouts> own_timeouts; // by pool index (custom_timeouts_)
  ConnTable flows; // 4-tuple -> connection (its index in conns)
  TimeWaitTable time_wait;
  std::unordered_map<uint16_t, Listener> listeners;
  Connection *graveyard = nullptr; // closed, to be returned to the pool
  Connection *lingering = nullptr; // closed with unread data (Connection::lingering_)
  int depth = 0;
  // Connections with output_pending_ (output_soon), and whether a poll loop
  // flushes them (Engine::set_output_batching) rather than each entry point.
  std::vector<Connection *> pending_output;

  // ---- icmp.cpp: ICMP errors, path MTU ---------------------------------------
  void icmp_error(const IcmpError &e, Instant now);
  // The remembered path MTU to `dst`, 0 when none (or expired).
  uint16_t path_mtu(wire::Ipv4Addr dst) const;
  // snd_mss_ for a path MTU (less the timestamp option when c uses it).
  static uint16_t mss_for_mtu(const Connection &c, uint16_t mtu);
  struct PathMtu {
    uint16_t mtu = 0;
    Instant expires{};
  };
  std::unordered_map<uint32_t, PathMtu> path_mtus; // by destination address
  // Connections in SYN-SENT that ICMP said cannot reach their destination
  // (by pool index; a soft error their timeout reports, as
  // CloseReason::unreachable). Rare, so kept out of Connection.
  std::unordered_set<uint32_t> unreachable_syns;
  bool batch_output = false;
  uint16_t next_ephemeral;
  ReassemblyBudget reassembly_budget; // shared by every connection's queue
  // RFC 2883: the duplicate bytes of the segment being processed
  // (note_duplicate), reported by the ACK it triggers (sack_option). That
  // ACK goes out before segment_arrives returns, which forgets the range,
  // so it is held here rather than in every Connection.
  struct PendingDsack {
    const Connection *conn = nullptr;
    Seq start, end;
  } dsack;
  uint32_t mbuf_truesize; // memory one pool mbuf costs (buffer + header)
  // RFC 5961 7: challenge ACKs; RSTs for closed ports (rst.cpp).
  PerSecondLimit challenge_limit;
  PerSecondLimit rst_limit;
  // SYN cookies and the cookies that already built a connection.
  SynCookies cookies;
  ConsumedCookies consumed_cookies;
};

inline void count(Engine::Impl &e, Counter c, uint64_t n = 1) {
  e.counters.inc(c, n);
}

} // namespace shoal::tcp
