#pragma once
// shoal::tcp::Connection — one TCP connection (the TCB of RFC 9293 3.3.1) and
// the zero-copy buffers the application reads from and writes into.
//
// Read first: RFC 9293 3.3 (sequence variables, states), 3.10 (event
// processing), RFC 7323 (window scale, timestamps), RFC 1122 4.2.3.6
// (keepalive), DESIGN.md "Zero-copy rings for applications".
//
// Ownership: connections live in the engine's shard-local pool. The
// application holds a Connection& only between on_connected (or connect()) and
// on_closed; after on_closed returns the object is recycled. Every method must
// be called on the shard that owns the engine.
//
// Receive: in-order data stays in the mbufs it arrived in (trimmed in place);
// the application looks at spans over them and says how much it consumed.
// Send: the application writes into stack-owned mbufs (reserve/commit);
// segments reference those bytes with indirect mbufs, so neither the first
// transmission nor a retransmission copies payload.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "common/time.hpp"
#include "tcp/conn_timers.hpp"
#include "tcp/engine.hpp"
#include "tcp/recovery/congestion_control.hpp"
#include "tcp/recovery/reassembly.hpp"
#include "tcp/recovery/rto.hpp"
#include "tcp/recovery/sack_scoreboard.hpp"
#include "tcp/seq.hpp"
#include "tcp/state.hpp"
#include "timer/timer_wheel.hpp"

namespace shoal::tcp {

// Keepalive (RFC 1122 4.2.3.6) and user timeout (RFC 5482) settings.
struct ConnTimeouts {
  Duration keepalive_idle{};
  Duration keepalive_interval{};
  Duration user_timeout{}; // zero = off
  int keepalive_probes = 0;
};

class Connection {
public:
  State state() const { return state_; }
  const FourTuple &tuple() const { return tuple_; }
  Engine &engine();
  ConnectionHandler *handler() const { return handler_; }
  void set_handler(ConnectionHandler *h) { handler_ = h; }

  // ---- receive (zero-copy) -------------------------------------------------
  // Bytes received in order and not yet consumed.
  size_t readable() const { return rcvq_bytes_; }
  // The first contiguous readable span (empty if none).
  std::span<const uint8_t> peek() const;
  // f(std::span<const uint8_t>) over every readable span, in stream order.
  template <class F> void for_each_readable(F &&f) const {
    for (PacketBuf s = rcvq_head_; s;)
      if (const std::span<const uint8_t> b = readable_piece(s); !b.empty())
        f(b);
  }
  // for_each_readable's step, out of line so that this header needs no
  // mbuf layout: the bytes of receive-queue piece `s`, and `s` moved on.
  static std::span<const uint8_t> readable_piece(PacketBuf &s);
  // Copies up to out.size() readable bytes into `out` and consumes them.
  size_t read(std::span<uint8_t> out);
  // Releases the first n readable bytes (n <= readable()); frees fully
  // consumed mbufs and announces the reopened window when it grew enough.
  void consume(size_t n);
  // The peer's FIN has been received (end of stream once readable() == 0).
  // The data before it stays readable even when the connection itself has
  // finished (TIME_WAIT, or our FIN acknowledged in LAST_ACK: state()
  // closed): on_closed comes once it has all been consumed, or at close()
  // or abort().
  bool peer_closed() const { return fin_received_; }
  // Closed on the wire (out of the flow table, no timers) but holding data the
  // application has not read yet (RFC 9293 3.10.3); on_closed follows the last read.
  bool lingering() const { return lingering_; }

  // ---- send (mbuf-backed ring) ---------------------------------------------
  // Send-buffer space left (0 once shutdown_write/close/abort was called).
  size_t writable() const;
  // Contiguous writable space in the tail mbuf of the send ring (at most one
  // mbuf's room and at most `max` and writable()). Empty when full or out of mbufs.
  std::span<uint8_t> reserve(size_t max);
  // Makes the first n bytes of the last reserve() sendable (n <= its size).
  void commit(size_t n);
  // Convenience: reserve/copy/commit until done or full; returns bytes taken.
  size_t write(std::span<const uint8_t> bytes);
  // Committed bytes not yet acknowledged (sent or not).
  size_t send_queued() const { return sndq_bytes_; }

  // ---- close ---------------------------------------------------------------
  // Half-close: FIN after the queued data; reading continues (RFC 9293 3.10.4).
  void shutdown_write();
  // Graceful close: FIN after the queued data, no callbacks but on_closed
  // from now on. Unread data at close() (or data arriving afterwards) resets
  // the connection instead (RFC 1122 4.2.2.13, RFC 2525 2.17).
  void close();
  // SO_LINGER 0: RST, discard queued data, no TIME_WAIT; on_closed(aborted).
  void abort();

  // ---- options -------------------------------------------------------------
  // TCP_NODELAY: off = Nagle's algorithm (RFC 896, RFC 9293 3.8.6.2.1) holds
  // a partial segment back while data is unacknowledged. Turning it on sends
  // what was held back.
  void set_nodelay(bool on);
  bool nodelay() const { return nodelay_; }
  // TCP_CORK, as Linux: while on, a partial segment is held back even with
  // nothing in flight and even with TCP_NODELAY; full segments and the FIN
  // still go. Held data goes at most EngineConfig::cork_timeout (200 ms)
  // after it was first held, or when cork is turned off (then Nagle
  // decides, as after any write). set_nodelay(true) sends it too.
  void set_cork(bool on);
  bool cork() const { return cork_; }
  // "newreno" or "cubic"; false (and no change) for an unknown name. Before
  // ESTABLISHED it picks the algorithm; later it switches, starting the new
  // one from the current window.
  bool set_congestion_control(std::string_view name);
  std::string_view congestion_control() const;
  // RFC 5482 semantics, locally: abort (timed_out, RST sent) when sent data
  // stays unacknowledged longer than `d`. Zero turns it off.
  void set_user_timeout(Duration d);
  Duration user_timeout() const { return timeouts().user_timeout; }
  // Buffer limits in bytes (defaults EngineConfig::snd_buf / rcv_buf). The
  // receive buffer can only grow once the window scale is fixed (SYN sent)
  // beyond what the scale can express; it never shrinks the offered window.
  void set_send_buffer(uint32_t bytes);
  void set_receive_buffer(uint32_t bytes);
  uint32_t send_buffer() const { return snd_buf_; }
  uint32_t receive_buffer() const { return rcv_buf_; }
  // RFC 1122 4.2.3.6. Defaults come from EngineConfig (keepalive off).
  void set_keepalive(bool on, Duration idle, Duration interval, int probes);
  void set_keepalive(bool on); // with the engine's configured idle/interval/probes
  bool keepalive() const { return keepalive_on_; }
  void set_user_data(void *p) { user_data_ = p; }
  void *user_data() const { return user_data_; }

  // The largest payload we send (what TCP_MAXSEG reads back).
  uint16_t snd_mss() const { return snd_mss_; }
  // The engine's state variables, timers and queues, for tests: the view
  // is defined in tcp/inspect.hpp, which only tests include.
  struct Inspect inspect() const;

  Connection(const Connection &) = delete;
  Connection &operator=(const Connection &) = delete;

private:
  friend struct Inspect;
  // ---- inspection: tests only, through tcp::Inspect (tcp/inspect.hpp) ------
  Seq iss() const { return iss_; }
  Seq irs() const { return irs_; }
  Seq snd_una() const { return snd_una_; }
  Seq snd_nxt() const { return snd_nxt_; }
  Seq snd_max() const { return snd_max_; }
  Seq rcv_nxt() const { return rcv_nxt_; }
  uint32_t snd_wnd() const { return snd_wnd_; } // bytes, scaled
  uint32_t rcv_wnd() const;                     // bytes we can still accept
  // The MSS we announce (the MTU's, or a lower OpenOptions::max_segment); it
  // also caps snd_mss().
  uint16_t rcv_mss() const { return rcv_mss_; }
  uint8_t snd_wscale() const { return snd_wscale_; }
  uint8_t rcv_wscale() const { return rcv_wscale_; }
  bool window_scaling() const { return ws_ok_; }
  bool timestamps() const { return ts_ok_; }
  bool sack_permitted() const { return sack_ok_; }
  uint32_t ts_recent() const { return ts_recent_; }
  // The retransmission timeout: the estimator's (back-off included) once
  // synchronized; in SYN-SENT/SYN-RECEIVED initial_rto doubled per
  // retransmission, without the estimator's cap.
  Duration rto() const;
  Duration srtt() const { return rtt_.srtt(); }
  const RtoEstimator &rtt_estimator() const { return rtt_; }
  // Congestion state (nullptr before ESTABLISHED).
  const CongestionControl *congestion() const { return cc_started_ ? &cc_ : nullptr; }
  uint32_t cwnd() const { return cc_started_ ? cc_.cwnd() : 0; }
  const SackScoreboard &sack_scoreboard() const { return sack_; }
  // Out-of-order bytes and segments waiting in the reassembly queue.
  uint32_t ooo_bytes() const { return ooo_ ? ooo_->bytes() : 0; }
  size_t ooo_segments() const { return ooo_ ? ooo_->segments() : 0; }
  // Memory (mbuf truesize) held by received data, in order and out of order.
  uint32_t rcv_memory() const;
  int persist_backoff() const { return persist_backoff_; }
  bool persist_armed() const { return timers_.armed(ConnTimer::persist); }
  // The retransmission timer is armed as a tail loss probe timeout (RFC 8985 7.2).
  bool probe_timeout_armed() const {
    return tlp_pto_armed_ && timers_.armed(ConnTimer::retransmit);
  }
  // A tail loss probe is outstanding (its episode has not ended).
  bool probe_outstanding() const { return tlp_probing_; }
  bool delayed_ack_armed() const { return timers_.armed(ConnTimer::delayed_ack); }
  int retransmit_count() const { return rtx_count_; }
  int keepalive_probes_sent() const { return ka_probes_sent_; }
  bool fin_sent() const { return fin_sent_; }

  friend struct Engine::Impl;
  friend class ConnectionPool;
  Connection();
  ~Connection();

  // Memory per connection: an idle connection costs what this
  // object weighs, so members are grouped by size (no padding), flags are
  // bits, counters are as narrow as their range, and congestion control is
  // embedded rather than a heap object. connection.cpp pins the size.

  // ---- 8-byte members ----
  Engine::Impl *eng_ = nullptr;
  ConnectionHandler *handler_ = nullptr;
  void *user_data_ = nullptr;

  // Retransmission, delayed ACK, persist, keepalive and FIN_WAIT_2 timers,
  // all on one wheel entry (conn_timers.hpp).
  ConnTimers timers_;

  // RTT measurement (RFC 6298 3, RFC 7323 4) and the retransmission timeout.
  // [[no_unique_address]]: snd_sml_ goes into its 4 bytes of tail padding.
  [[no_unique_address]] RtoEstimator rtt_;
  // Minshall's Nagle: the end of the last partial segment of new data sent;
  // a partial segment waits only while this one is unacknowledged.
  Seq snd_sml_{};

  // Congestion control and SACK loss recovery (RFC 5681, 6582, 6675, 9438);
  // cc_ is meaningful once cc_started_ (ESTABLISHED).
  CongestionControl cc_{CcAlgorithm::newreno, CcConfig{}};
  SackScoreboard sack_;

  // Receive queue: in-order payload segments (PacketBuf's carrier, mbufs)
  // linked through mbuf->next.
  rte_mbuf *rcvq_head_ = nullptr, *rcvq_tail_ = nullptr;
  // Send ring: committed bytes from sequence sndq_seq_ on, in direct mbufs
  // linked through ->next; the application writes into the tail's tailroom.
  rte_mbuf *sndq_head_ = nullptr, *sndq_tail_ = nullptr;
  // Send-ring index: the ring mbuf holding sequence number snd_cur_seq_ (its
  // first byte), so building a segment starts there instead of at the head.
  rte_mbuf *snd_cur_ = nullptr;

  // Out-of-order data (RFC 9293 3.10.7.4 seventh, RFC 2018), and a FIN that
  // arrived beyond a hole (it takes effect when RCV.NXT reaches it).
  // Allocated by the first out-of-order segment, freed when it empties.
  std::unique_ptr<ReassemblyQueue> ooo_;

  // One list at a time: the engine's graveyard (next_free_, dead_), its
  // lingering list (linger_*, lingering_) or a listener's accept queue
  // (accept_*, in_accept_queue_). A connection leaves the accept queue before
  // it can linger or die, and stops lingering before it dies.
  union {
    Connection *next_free_ = nullptr;
    Connection *linger_next_;
    Connection *accept_next_;
  };
  union {
    Connection *linger_prev_ = nullptr;
    Connection *accept_prev_;
  };

  // When we last answered an unacceptable segment (rate limit, input.cpp);
  // kNever = not yet.
  static constexpr Instant kNever = Instant::min();
  Instant last_unacceptable_ack_ = kNever;
  Instant last_rcv_{}; // last segment received (keepalive idle reference)
  union {
    // When the timed segment (rtt_seq_) was sent; only without timestamps
    // (and for the SYN), since timestamps time every ACK.
    Instant rtt_sent_{};
    // With timestamps (ts_ok_): when the outstanding tail loss probe went
    // (tlp_probing_), so that an ACK echoing an older TSval is known to
    // come from the original transmission.
    Instant tlp_sent_;
  };
  union {
    // User timeout: when the oldest unacknowledged data started waiting
    // (first sent from idle, or SND.UNA last advanced). Read only in
    // synchronized states, and set again before any data waits there.
    Instant una_since_{};
    // SYN-RECEIVED: when the retransmission timer last resent the SYN-ACK
    // (read only once it has, rtx_count_ > 0).
    Instant synack_rtx_at_;
  };

  // ---- 4-byte members ----
  FourTuple tuple_{};

  // Send sequence space (RFC 9293 3.3.1, Figure 3). snd_max_ is the highest
  // sequence number sent + 1: after a retransmission timeout snd_nxt_ goes
  // back to snd_una_ while ACKs up to snd_max_ stay acceptable.
  Seq iss_{}, snd_una_{}, snd_nxt_{}, snd_max_{};
  Seq snd_wl1_{}, snd_wl2_{};
  uint32_t snd_wnd_ = 0;
  uint32_t max_snd_wnd_ = 0; // largest window the peer offered (RFC 5961 5.2)

  // Receive sequence space (Figure 4).
  Seq irs_{}, rcv_nxt_{};
  Seq rcv_adv_{}; // right edge we last advertised: never moves left (RFC 9293 3.8.6.2.2)

  uint32_t ts_recent_ = 0; // RFC 7323 4.3: TS.Recent
  uint32_t ts_offset_ = 0; // per-connection random offset of our TSval clock
  Seq last_ack_sent_{};    // RFC 7323 4.3: Last.ACK.sent

  Seq fin_seq_{}; // our FIN's sequence number (fin_sent_)

  uint32_t rcvq_bytes_ = 0;
  uint32_t rcv_buf_ = 0;
  uint32_t sndq_bytes_ = 0;
  Seq sndq_seq_{};
  uint32_t snd_buf_ = 0;
  uint32_t reserved_ = 0; // size of the last reserve() (at most one mbuf's room)
  Seq snd_cur_seq_{};

  Seq rtt_seq_{}; // the first byte of the segment being timed (rtt_timing_)

  Seq ooo_fin_seq_{};
  uint32_t rcv_mem_ = 0; // truesize of the mbufs in the receive queue

  // Delayed ACK (RFC 5681 4.2): bytes received in order since the last ACK.
  uint32_t rcv_unacked_ = 0;

  uint32_t pool_index_ = 0; // in the engine's ConnectionPool (the flow table's value)

  // Tail loss probe (RFC 8985 7.4's TLP.end_seq): one past the last
  // sequence number the outstanding probe carried (tlp_probing_).
  Seq tlp_end_seq_{};

  // ---- 2-byte members ----
  uint16_t snd_mss_ = 536;
  uint16_t rcv_mss_ = 536;
  uint16_t rcv_seg_max_ = 0;   // largest payload received: the peer's segment size
  uint16_t listener_port_ = 0; // passive opens: the listener to account against

  // ---- 1-byte members ----
  State state_ = State::closed;
  uint8_t snd_wscale_ : 4 = 0; // RFC 7323 2.3: at most 14 (kMaxWindowScale)
  uint8_t rcv_wscale_ : 4 = 0;
  uint8_t rtx_count_ = 0; // retransmissions of the same segment (saturates)
  uint8_t ka_probes_sent_ = 0;
  // Persist timer (RFC 9293 3.8.6.1): zero-window probes with back-off
  // (saturates; the interval is capped at max_rto long before).
  uint8_t persist_backoff_ = 0;

  // ---- flags ----
  // Negotiated options (RFC 7323, RFC 2018).
  bool ws_ok_ : 1 = false, ts_ok_ : 1 = false, sack_ok_ : 1 = false;
  // Close bookkeeping.
  bool fin_queued_ : 1 = false;   // shutdown_write/close: FIN goes after the queued data
  bool fin_sent_ : 1 = false;     // our FIN has sequence number fin_seq_
  bool fin_received_ : 1 = false; // peer's FIN consumed (rcv_nxt_ is past it)
  bool app_closed_ : 1 = false;   // close() was called: no reads, only on_closed
  bool passive_ : 1 = false;      // created by a listener
  bool half_open_ : 1 = false;    // counted in the listener's SYN backlog
  bool dead_ : 1 = false;         // closed, waiting to return to the pool
  // Closed normally (TIME_WAIT handed to a record, or LAST_ACK done) with
  // in-order data the application has not read: the object stays, out of
  // the flow table and with no timer, until the data is consumed or the
  // application closes or aborts it; then on_closed(normal) (engine.cpp).
  bool lingering_ : 1 = false;
  bool nodelay_ : 1 = false;
  bool cork_ : 1 = false;
  // Written since output last ran for it: listed in the engine's
  // pending_output (Engine::Impl::output_soon).
  bool output_pending_ : 1 = false;
  bool ack_pending_ : 1 = false; // an ACK is owed; any segment we send clears it
  bool keepalive_on_ : 1 = false;
  bool rtt_timing_ : 1 = false; // one segment (or the SYN) being timed, no timestamps
  bool cc_started_ : 1 = false; // cc_ runs (from ESTABLISHED on)
  // The congestion control algorithm asked for with set_congestion_control
  // (0 = the engine's configured one, else CcAlgorithm + 1).
  uint8_t cc_choice_ : 2 = 0;
  bool ooo_fin_ : 1 = false;
  // SYN flood defences (listener.cpp).
  bool syn_cookie_ : 1 = false;      // built from a validated SYN cookie (no SYN-ACK timing)
  bool in_accept_queue_ : 1 = false; // established, waiting in the listener's accept queue
  // set_keepalive(on, idle, interval, probes) or set_user_timeout() differed
  // from the engine's configuration: the values live in the engine's
  // per-connection map (most connections never carry them).
  bool custom_timeouts_ : 1 = false;
  // Tail loss probe (RFC 8985 7, timers.cpp). The retransmission timer's
  // deadline is a probe timeout, not the RTO:
  bool tlp_pto_armed_ : 1 = false;
  // ... and new data went since it was armed: the probe timeout restarts
  // from the last segment's time in the RACK log, when the timer fires
  // (Engine::Impl::restart_probe_timer), not once per segment.
  bool tlp_restart_ : 1 = false;
  bool tlp_probing_ : 1 = false;      // a probe is outstanding (tlp_end_seq_)
  bool tlp_retrans_ : 1 = false;      // ... and it resent data (TLP.is_retrans)
  bool tlp_saw_recovery_ : 1 = false; // fast recovery began since it was sent
  // RACK (RFC 8985 6.3): the retransmission timer's deadline is the
  // reordering timer, not the RTO.
  bool rack_timer_armed_ : 1 = false;

  // Keepalive parameters and user timeout: the engine's configured ones, or
  // this connection's own (custom_timeouts_, engine.cpp).
  const ConnTimeouts &timeouts() const;
  Duration ka_idle() const { return timeouts().keepalive_idle; }
  Duration ka_interval() const { return timeouts().keepalive_interval; }
};

} // namespace shoal::tcp
