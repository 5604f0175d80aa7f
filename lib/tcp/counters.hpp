#pragma once
// Per-engine (= per-shard) TCP counters, declared once in an X-macro table.
// Every place that needs names, the enum, or printing is generated from it.
#include <array>
#include <cstdint>
#include <string>

#include "tcp/state.hpp"

namespace shoal::tcp {

// X(name, description)
#define SHOAL_TCP_COUNTERS(X)                                                                      \
  X(segs_in, "segments received")                                                                  \
  X(segs_in_syn, "segments received with SYN")                                                     \
  X(segs_in_fin, "segments received with FIN")                                                     \
  X(segs_in_rst, "segments received with RST")                                                     \
  X(segs_in_data, "segments received carrying data")                                               \
  X(segs_out, "segments sent")                                                                     \
  X(segs_out_syn, "segments sent with SYN")                                                        \
  X(segs_out_fin, "segments sent with FIN")                                                        \
  X(segs_out_rst, "segments sent with RST")                                                        \
  X(segs_out_data, "segments sent carrying data")                                                  \
  X(bytes_in, "payload bytes accepted in order")                                                   \
  X(bytes_out, "payload bytes sent (incl. retransmissions)")                                       \
  X(rst_closed_port, "RSTs sent for segments to a closed port or unknown connection")              \
  X(rst_abort, "RSTs sent by abort()")                                                             \
  X(rst_data_after_close, "RSTs sent because data arrived or was pending at close()")              \
  X(challenge_acks, "RFC 5961 challenge ACKs sent")                                                \
  X(challenge_acks_limited, "RFC 5961 challenge ACKs suppressed by the rate limit")                \
  X(rst_limited, "RSTs for closed ports/unknown connections suppressed by the rate limit")         \
  X(syns_received, "SYNs (without ACK) that reached a listener")                                   \
  X(syn_cookies_sent, "SYN-ACKs sent with a SYN cookie instead of a SYN backlog entry")            \
  X(syn_cookies_validated, "ACKs whose SYN cookie validated and built a connection")               \
  X(syn_cookies_rejected_bad_hash, "cookie ACKs rejected: forged or mangled (mac mismatch)")       \
  X(syn_cookies_rejected_stale, "cookie ACKs rejected: issued two or more rotations ago")          \
  X(syn_cookies_rejected_bad_mss_index, "cookie ACKs rejected: MSS index outside the table")       \
  X(syn_cookies_rejected_replay, "cookie ACKs rejected: cookie already built a connection")        \
  X(syn_cookie_replay_evictions, "consumed-cookie records overwritten before expiry (table full)") \
  X(syn_backlog_drops, "SYNs dropped: SYN backlog full and no cookie could be sent")               \
  X(accept_queue_drops, "SYNs and completing handshakes dropped: accept queue full")               \
  X(synack_dup_syn_suppressed, "duplicate SYNs in SYN_RECEIVED not answered: SYN-ACK sent now")    \
  X(active_opens, "connect() calls that sent a SYN")                                               \
  X(passive_opens, "SYNs accepted into a listener's SYN backlog")                                  \
  X(accepted, "handshakes completed on a listener and handed to the application")                  \
  X(accept_refused, "completed handshakes the handler factory refused (RST)")                      \
  X(connects_established, "active opens that reached ESTABLISHED")                                 \
  X(closed_normal, "connections closed normally")                                                  \
  X(closed_unread_lingering, "connections finished with unread data, kept readable for the app")   \
  X(closed_reset, "connections closed by an acceptable RST")                                       \
  X(closed_refused, "active opens refused by RST")                                                 \
  X(closed_timed_out, "connections closed by a timeout")                                           \
  X(closed_aborted, "connections aborted by the application")                                      \
  X(retransmits, "segments retransmitted, any cause (SYN, SYN-ACK, data, FIN)")                    \
  X(sack_blocks_omitted, "data segments sent without SACK blocks that would pass the MSS")         \
  X(rtx_timeouts, "retransmission timeouts of data or FIN (RFC 6298 5.4)")                         \
  X(fast_retransmits, "fast retransmits: 3 dup ACKs or NewReno partial ACK (RFC 5681, 6582)")      \
  X(sack_retransmits, "retransmissions chosen by the SACK scoreboard (RFC 6675 NextSeg)")          \
  X(fast_recoveries, "entries into fast recovery")                                                 \
  X(dup_acks_in, "duplicate ACKs received (RFC 5681 2)")                                           \
  X(sack_blocks_in, "SACK blocks received and recorded")                                           \
  X(acks_out_sack, "ACKs sent carrying SACK blocks")                                               \
  X(acks_out_dsack, "ACKs sent reporting duplicate data in a D-SACK block (RFC 2883)")             \
  X(rtt_samples, "RTT samples taken into SRTT (RFC 6298, RFC 7323 4)")                             \
  X(delayed_acks, "ACKs sent by the delayed-ACK timer")                                            \
  X(persist_probes, "zero-window probes sent by the persist timer")                                \
  X(user_timeouts, "connections aborted by the user timeout")                                      \
  X(ooo_segments, "out-of-order segments queued for reassembly")                                   \
  X(ooo_duplicates, "out-of-order segments whose bytes were all queued already")                   \
  X(dup_data_in, "segments carrying already-received bytes (trimmed)")                             \
  X(ooo_pruned, "out-of-order segments freed to make room for the segment at RCV.NXT")             \
  X(rcv_coalesced, "in-order segments copied into the previous mbuf under memory pressure")        \
  X(rcv_memory_overcommit, "in-order segments taken beyond the receive memory limit")              \
  X(syn_data_bytes, "payload bytes kept from a SYN")                                               \
  X(tso_sends, "TSO datagrams sent (segmented by the port)")                                       \
  X(tx_checksum_software, "segments summed in software: the port mis-sums odd-length chains")      \
  X(syn_retransmits, "SYN retransmissions")                                                        \
  X(synack_retransmits, "SYN-ACK retransmissions")                                                 \
  X(half_open_expired, "half-open (SYN_RECEIVED) entries expired after SYN-ACK retries")           \
  X(keepalive_probes, "keepalive probes sent")                                                     \
  X(keepalive_timeouts, "connections closed after unanswered keepalive probes")                    \
  X(fin_wait2_timeouts, "connections closed by the FIN_WAIT_2 timeout")                            \
  X(time_wait_entered, "TIME_WAIT records created")                                                \
  X(time_wait_expired, "TIME_WAIT records expired after 2MSL")                                     \
  X(time_wait_fin_reacked, "retransmitted FINs re-ACKed in TIME_WAIT (2MSL restarted)")            \
  X(time_wait_reused, "SYNs accepted on a TIME_WAIT tuple (RFC 6191)")                             \
  X(time_wait_reused_active, "active opens that took over a TIME_WAIT tuple (time_wait_reuse)")      \
  X(time_wait_syn_ignored, "SYNs on a TIME_WAIT tuple ignored (RFC 6191)")                         \
  X(time_wait_full, "TIME_WAIT records not created because the table was full")                    \
  X(window_updates, "pure window-update ACKs sent")                                                \
  X(drop_bad_ip, "drops: malformed IPv4 header (input_ipv4)")                                      \
  X(drop_not_for_us, "drops: destination address is not ours")                                     \
  X(drop_malformed, "drops: malformed TCP header or options")                                      \
  X(drop_bad_checksum, "drops: bad TCP checksum")                                                  \
  X(drop_bad_addr, "drops: broadcast/multicast/zero source or port 0")                             \
  X(drop_rst_no_conn, "drops: RST for no connection (never RST a RST)")                            \
  X(drop_listen_bad_flags, "drops: segment to a listener that is neither SYN nor ACK")             \
  X(drop_no_memory, "drops: connection pool or mbufs exhausted")                                   \
  X(drop_unacceptable, "drops: segment outside the receive window (ACK sent)")                     \
  X(drop_unacceptable_limited,                                                                     \
    "drops: segment outside the window or failing PAWS, ACK suppressed by the rate limit")         \
  X(drop_paws, "drops: PAWS check failed (RFC 7323 5.3)")                                          \
  X(drop_no_ack, "drops: segment in a synchronized state without ACK")                             \
  X(drop_ack_too_old, "drops: ACK below SND.UNA - MAX.SND.WND (RFC 5961 5.2)")                     \
  X(drop_ack_unsent, "drops: ACK for data not yet sent (ACK sent)")                                \
  X(drop_syn_sent_bad_ack, "drops: unacceptable ACK in SYN_SENT (RST sent)")                       \
  X(drop_syn_sent_no_syn, "drops: segment in SYN_SENT without SYN or RST")                         \
  X(drop_rst_out_of_window, "drops: RST outside the receive window")                               \
  X(drop_reassembly_conn_cap, "drops: out-of-order data over the connection's reassembly cap")     \
  X(drop_reassembly_shard_cap, "drops: out-of-order data over the shard's reassembly budget")      \
  X(drop_rcv_memory, "drops: data over the receive memory limit (mbuf truesize, tiny segments)")   \
  X(drop_after_fin, "drops: data after the peer's FIN")                                            \
  X(drop_time_wait, "drops: segments to a TIME_WAIT record that needed no answer")              \
  X(icmp_errors_in, "ICMP errors quoting one of our segments")                                   \
  X(icmp_no_connection, "ICMP errors for no connection of ours (ignored)")                       \
  X(icmp_out_of_window, "ICMP errors quoting a sequence number not in flight (ignored, RFC 5927)") \
  X(icmp_soft_errors, "ICMP net/host unreachable or time exceeded kept as soft errors")          \
  X(icmp_hard_errors, "ICMP protocol/port unreachable that refused a connect")                   \
  X(pmtu_reductions, "path-MTU discovery: MSS lowered by fragmentation needed")                  \
  X(pmtu_ignored, "fragmentation needed that lowered nothing (no MTU given, or not smaller)") \
  X(syn_cookies_pool_full, "SYN-ACKs sent with a SYN cookie because the connection pool was full") \
  X(syn_time_wait_cookie_drops, "SYNs reusing a TIME_WAIT tuple dropped: a cookie was due (no ISS floor)")

enum class Counter : uint16_t {
#define SHOAL_X(name, desc) name,
  SHOAL_TCP_COUNTERS(SHOAL_X)
#undef SHOAL_X
      count_
};
inline constexpr size_t kCounterCount = static_cast<size_t>(Counter::count_);

const char *counter_name(Counter);
const char *counter_description(Counter);

struct Counters {
  std::array<uint64_t, kCounterCount> value{};
  // Live connections per state (a gauge; TIME_WAIT counts compact records).
  std::array<uint64_t, kStateCount> in_state{};
  // transitions[from][to]
  std::array<std::array<uint64_t, kStateCount>, kStateCount> transitions{};

  void inc(Counter c, uint64_t n = 1) { value[static_cast<size_t>(c)] += n; }
  uint64_t get(Counter c) const { return value[static_cast<size_t>(c)]; }
  uint64_t operator[](Counter c) const { return get(c); }
  // "name value" lines for every non-zero counter, states and transitions.
  std::string to_string() const;
};

} // namespace shoal::tcp
