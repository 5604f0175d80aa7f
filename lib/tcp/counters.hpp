#pragma once
// Per-engine (= per-shard) TCP counters, declared once in an X-macro table
// with the layout of every counter table, X(name, kind, description) (kinds:
// common/counter_kind.hpp). Every place that needs names, kinds, the enum,
// or printing is generated from it. A drop counter's name is the reason.
#include <array>
#include <cstdint>
#include <functional>
#include <string>

#include "common/counter_kind.hpp"
#include "tcp/state.hpp"

namespace shoal::tcp {

// X(name, kind, description): see common/counter_kind.hpp for the kinds.
// clang-format off
#define SHOAL_TCP_COUNTERS(X)                                                                                                   \
  X(segs_in,                            volume, "segments received")                                                            \
  X(segs_in_syn,                        event,  "segments received with SYN")                                                   \
  X(segs_in_fin,                        event,  "segments received with FIN")                                                   \
  X(segs_in_rst,                        event,  "segments received with RST")                                                   \
  X(segs_in_data,                       event,  "segments received carrying data")                                              \
  X(segs_out,                           volume, "segments sent")                                                                \
  X(segs_out_syn,                       event,  "segments sent with SYN")                                                       \
  X(segs_out_fin,                       event,  "segments sent with FIN")                                                       \
  X(segs_out_rst,                       event,  "segments sent with RST")                                                       \
  X(segs_out_data,                      event,  "segments sent carrying data")                                                  \
  X(bytes_in,                           volume, "payload bytes accepted in order")                                              \
  X(bytes_out,                          volume, "payload bytes sent (incl. retransmissions)")                                   \
  X(rst_closed_port,                    event,  "RSTs sent for segments to a closed port or unknown connection")                \
  X(rst_abort,                          event,  "RSTs sent by abort()")                                                         \
  X(rst_data_after_close,               event,  "RSTs sent because data arrived or was pending at close()")                     \
  X(challenge_acks,                     event,  "RFC 5961 challenge ACKs sent")                                                 \
  X(challenge_acks_limited,             event,  "RFC 5961 challenge ACKs suppressed by the rate limit")                         \
  X(rst_limited,                        event,  "RSTs for closed ports/unknown connections suppressed by the rate limit")       \
  X(syns_received,                      event,  "SYNs (without ACK) that reached a listener")                                   \
  X(syn_cookies_sent,                   event,  "SYN-ACKs sent with a SYN cookie instead of a SYN backlog entry")               \
  X(syn_cookies_validated,              event,  "ACKs whose SYN cookie validated and built a connection")                       \
  X(syn_cookies_rejected_bad_hash,      event,  "cookie ACKs rejected: forged or mangled (mac mismatch)")                       \
  X(syn_cookies_rejected_stale,         event,  "cookie ACKs rejected: issued two or more rotations ago")                       \
  X(syn_cookies_rejected_bad_mss_index, event,  "cookie ACKs rejected: MSS index outside the table")                            \
  X(syn_cookies_rejected_replay,        event,  "cookie ACKs rejected: cookie already built a connection")                      \
  X(syn_cookie_replay_evictions,        event,  "consumed-cookie records overwritten before expiry (table full)")               \
  X(syn_backlog_drops,                  drop,   "SYNs dropped: SYN backlog full and no cookie could be sent")                   \
  X(accept_queue_drops,                 drop,   "SYNs and completing handshakes dropped: accept queue full")                    \
  X(synack_dup_syn_suppressed,          drop,   "duplicate SYNs in SYN_RECEIVED not answered: SYN-ACK sent now")                \
  X(active_opens,                       event,  "connect() calls that sent a SYN")                                              \
  X(passive_opens,                      event,  "SYNs accepted into a listener's SYN backlog")                                  \
  X(accepted,                           event,  "handshakes completed on a listener and handed to the application")             \
  X(accept_refused,                     event,  "completed handshakes the handler factory refused (RST)")                       \
  X(connects_established,               event,  "active opens that reached ESTABLISHED")                                        \
  X(closed_normal,                      event,  "connections closed normally")                                                  \
  X(closed_unread_lingering,            event,  "connections finished with unread data, kept readable for the app")             \
  X(closed_reset,                       event,  "connections closed by an acceptable RST")                                      \
  X(closed_refused,                     event,  "active opens refused by RST")                                                  \
  X(closed_timed_out,                   event,  "connections closed by a timeout")                                              \
  X(closed_aborted,                     event,  "connections aborted by the application")                                       \
  X(retransmits,                        event,  "segments retransmitted, any cause (SYN, SYN-ACK, data, FIN)")                  \
  X(sack_blocks_omitted,                event,  "data segments sent without SACK blocks that would pass the MSS")               \
  X(rtx_timeouts,                       event,  "retransmission timeouts of data or FIN (RFC 6298 5.4)")                        \
  X(fast_retransmits,                   event,  "fast retransmits: 3 dup ACKs or NewReno partial ACK (RFC 5681, 6582)")         \
  X(sack_retransmits,                   event,  "retransmissions chosen by the SACK scoreboard (RFC 6675 NextSeg)")             \
  X(fast_recoveries,                    event,  "entries into fast recovery")                                                   \
  X(tlp_probes_sent,                    event,  "tail loss probes sent (RFC 8985 7.3), new data or a retransmission")           \
  X(tlp_probes_new_data,                event,  "tail loss probes that sent new data")                                          \
  X(tlp_recoveries,                     event,  "losses repaired after a tail loss probe without an RTO (RFC 8985 7.4)")        \
  X(rack_marks,                         event,  "times RACK marked segments lost by their transmit time (RFC 8985 6.2)")       \
  X(rack_recoveries,                    event,  "fast recoveries RACK started before DupThresh duplicate ACKs")                 \
  X(rack_timeouts,                      event,  "RACK reordering timer expirations (RFC 8985 6.3)")                             \
  X(dup_acks_in,                        event,  "duplicate ACKs received (RFC 5681 2)")                                         \
  X(sack_blocks_in,                     event,  "SACK blocks received and recorded")                                            \
  X(acks_out_sack,                      event,  "ACKs sent carrying SACK blocks")                                               \
  X(acks_out_dsack,                     event,  "ACKs sent reporting duplicate data in a D-SACK block (RFC 2883)")              \
  X(rtt_samples,                        event,  "RTT samples taken into SRTT (RFC 6298, RFC 7323 4)")                           \
  X(delayed_acks,                       event,  "ACKs sent by the delayed-ACK timer")                                           \
  X(persist_probes,                     event,  "zero-window probes sent by the persist timer")                                 \
  X(user_timeouts,                      event,  "connections aborted by the user timeout")                                      \
  X(ooo_segments,                       event,  "out-of-order segments queued for reassembly")                                  \
  X(ooo_duplicates,                     event,  "out-of-order segments whose bytes were all queued already")                    \
  X(dup_data_in,                        event,  "segments carrying already-received bytes (trimmed)")                           \
  X(ooo_pruned,                         drop,   "out-of-order segments freed to make room for the segment at RCV.NXT")          \
  X(rcv_coalesced,                      event,  "in-order segments copied into the previous mbuf under memory pressure")        \
  X(rcv_memory_overcommit,              event,  "in-order segments taken beyond the receive memory limit")                      \
  X(syn_data_bytes,                     event,  "payload bytes kept from a SYN")                                                \
  X(tso_sends,                          event,  "TSO datagrams sent (segmented by the port)")                                   \
  X(syn_retransmits,                    event,  "SYN retransmissions")                                                          \
  X(synack_retransmits,                 event,  "SYN-ACK retransmissions")                                                      \
  X(half_open_expired,                  event,  "half-open (SYN_RECEIVED) entries expired after SYN-ACK retries")               \
  X(keepalive_probes,                   event,  "keepalive probes sent")                                                        \
  X(keepalive_timeouts,                 event,  "connections closed after unanswered keepalive probes")                         \
  X(fin_wait2_timeouts,                 event,  "connections closed by the FIN_WAIT_2 timeout")                                 \
  X(time_wait_entered,                  event,  "TIME_WAIT records created")                                                    \
  X(time_wait_expired,                  event,  "TIME_WAIT records expired after 2MSL")                                         \
  X(time_wait_fin_reacked,              event,  "retransmitted FINs re-ACKed in TIME_WAIT (2MSL restarted)")                    \
  X(time_wait_reused,                   event,  "SYNs accepted on a TIME_WAIT tuple (RFC 6191)")                                \
  X(time_wait_reused_active,            event,  "active opens that took over a TIME_WAIT tuple (time_wait_reuse)")              \
  X(time_wait_syn_ignored,              drop,   "SYNs on a TIME_WAIT tuple not taken as a new connection (RFC 6191), ACKed")                                 \
  X(time_wait_full,                     event,  "TIME_WAIT records not created because the table was full")                     \
  X(window_updates,                     event,  "pure window-update ACKs sent")                                                 \
  X(drop_bad_ip,                        drop,   "malformed IPv4 header (input_ipv4)")                                           \
  X(drop_not_for_us,                    drop,   "destination address is not ours")                                              \
  X(drop_malformed,                     drop,   "malformed TCP header or options")                                              \
  X(drop_bad_checksum,                  drop,   "bad TCP checksum")                                                             \
  X(drop_bad_addr,                      drop,   "broadcast/multicast/zero source or port 0")                                    \
  X(drop_rst_no_conn,                   drop,   "RST for no connection (never RST a RST)")                                      \
  X(drop_listen_bad_flags,              drop,   "segment to a listener that is neither SYN nor ACK")                            \
  X(drop_no_memory,                     drop,   "connection pool or mbufs exhausted")                                           \
  X(drop_unacceptable,                  drop,   "segment outside the receive window (ACK sent)")                                \
  X(drop_unacceptable_limited,          drop,   "segment outside the window or failing PAWS, ACK suppressed by the rate limit") \
  X(drop_paws,                          drop,   "PAWS check failed (RFC 7323 5.3)")                                             \
  X(drop_no_ack,                        drop,   "segment in a synchronized state without ACK")                                  \
  X(drop_ack_too_old,                   drop,   "ACK below SND.UNA - MAX.SND.WND (RFC 5961 5.2)")                               \
  X(drop_ack_unsent,                    drop,   "ACK for data not yet sent (ACK sent)")                                         \
  X(drop_syn_sent_bad_ack,              drop,   "unacceptable ACK in SYN_SENT (RST sent)")                                      \
  X(drop_syn_sent_no_syn,               drop,   "segment in SYN_SENT without SYN or RST")                                       \
  X(drop_rst_out_of_window,             drop,   "RST outside the receive window")                                               \
  X(drop_reassembly_conn_cap,           drop,   "out-of-order data over the connection's reassembly cap")                       \
  X(drop_reassembly_shard_cap,          drop,   "out-of-order data over the shard's reassembly budget")                         \
  X(drop_rcv_memory,                    drop,   "data over the receive memory limit (mbuf truesize, tiny segments)")            \
  X(drop_after_fin,                     drop,   "data after the peer's FIN")                                                    \
  X(drop_time_wait,                     drop,   "segments to a TIME_WAIT record that needed no answer")                         \
  X(icmp_errors_in,                     event,  "ICMP errors quoting one of our segments")                                      \
  X(icmp_no_connection,                 drop,   "ICMP errors for no connection of ours (ignored)")                              \
  X(icmp_out_of_window,                 drop,   "ICMP errors quoting a sequence number not in flight (ignored, RFC 5927)")      \
  X(icmp_soft_errors,                   event,  "ICMP net/host unreachable or time exceeded kept as soft errors")               \
  X(icmp_hard_errors,                   event,  "ICMP protocol/port unreachable that refused a connect")                        \
  X(pmtu_reductions,                    event,  "path-MTU discovery: MSS lowered by fragmentation needed")                      \
  X(pmtu_ignored,                       event,  "fragmentation needed that lowered nothing (no MTU given, or not smaller)") \
  X(syn_cookies_pool_full,              event,  "SYN-ACKs sent with a SYN cookie because the connection pool was full")         \
  X(syn_time_wait_cookie_drops,         drop,   "SYNs reusing a TIME_WAIT tuple dropped: a cookie was due (no ISS floor)")
// clang-format on

enum class Counter : uint16_t {
#define SHOAL_X(name, kind, desc) name,
  SHOAL_TCP_COUNTERS(SHOAL_X)
#undef SHOAL_X
      count_
};
inline constexpr size_t kCounterCount = static_cast<size_t>(Counter::count_);

// The table itself, in enum order.
inline constexpr std::array<CounterInfo, kCounterCount> kCounterInfo{{
#define SHOAL_X(name, kind, desc) {#name, CounterKind::kind, desc},
    SHOAL_TCP_COUNTERS(SHOAL_X)
#undef SHOAL_X
}};

const char *counter_name(Counter);
const char *counter_description(Counter);
constexpr CounterKind counter_kind(Counter c) {
  return kCounterInfo[static_cast<size_t>(c)].kind;
}

#if SHOAL_DROP_TRACE
struct FourTuple; // engine.hpp
// Called with the counter and the amount each time a drop counter is
// incremented: the reason a segment (or ICMP error, or queued data) was
// dropped, and the arriving segment's four-tuple once its TCP header is
// parsed (nullptr before that, and for drops outside input). Debug builds
// only (SHOAL_DROP_TRACE).
using DropHook = std::function<void(Counter reason, uint64_t n, const FourTuple *segment)>;
#endif

struct Counters {
  std::array<uint64_t, kCounterCount> value{};
  // Live connections per state (a gauge; TIME_WAIT counts compact records).
  std::array<uint64_t, kStateCount> in_state{};
  // transitions[from][to]
  std::array<std::array<uint64_t, kStateCount>, kStateCount> transitions{};
#if SHOAL_DROP_TRACE
  DropHook on_drop;                      // empty: no hook
  const FourTuple *drop_tuple = nullptr; // the segment being input, once parsed
#endif

  // The one place a counter is incremented.
  void inc(Counter c, uint64_t n = 1) {
    value[static_cast<size_t>(c)] += n;
#if SHOAL_DROP_TRACE
    if (on_drop && counter_kind(c) == CounterKind::drop)
      on_drop(c, n, drop_tuple);
#endif
  }
  uint64_t get(Counter c) const {
    return value[static_cast<size_t>(c)];
  }
  uint64_t operator[](Counter c) const {
    return get(c);
  }
  // "name value" lines for every non-zero counter, states and transitions.
  std::string to_string() const;
};

} // namespace shoal::tcp
