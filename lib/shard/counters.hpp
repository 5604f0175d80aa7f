#pragma once
// Per-shard counters, declared once in an X-macro table with the layout of
// every counter table, X(name, kind, description); the kinds (volume, event,
// drop) are common/counter_kind.hpp's. Every drop has exactly one counter,
// named for its reason, so drops() adds them all. Everything that needs the
// names or kinds (the struct, JSON, telemetry, shoal-stat --describe) is
// generated from it.
//
// Each counter has exactly one writer (the shard's lcore) and may be read by
// the telemetry thread, so it is a relaxed atomic updated with load + store:
// on x86 that compiles to a plain add, no lock prefix, and readers see a
// recent value without a data race.
#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "common/counter_kind.hpp"
#include "wire/parse_error.hpp"

namespace shoal::shard {

// clang-format off
#define SHOAL_SHARD_COUNTERS(X)                                                                  \
  X(rx_packets,                 volume, "frames received")                                                  \
  X(rx_bytes,                   volume, "bytes of the frames received")                                     \
  X(tx_packets,                 volume, "frames the NIC took")                                              \
  X(tx_bytes,                   volume, "bytes of the frames the NIC took")                                 \
  X(tx_full_drops,              drop,   "frames the NIC did not take while the tx backlog was full, freed")                \
  X(tx_oversize_drops,          drop,   "datagrams to send larger than the MTU (and not TSO)")             \
  X(tx_no_headroom_drops,       drop,   "IPv4 packets without headroom for the Ethernet header")            \
  X(tx_checksum_software,       event,  "TCP segments summed in software: the port mis-sums odd-length chains") \
  X(alloc_failures,             event,  "mbuf allocations that failed (ARP requests)")                      \
  X(rx_multi_segment_drops,     drop,   "chained frames whose headers needed a contiguous copy that failed")       \
  X(rx_linearized,              event,  "chained frames copied contiguous (headers split, or not TCP)")              \
  X(eth_not_for_us,             drop,   "unicast frames for another MAC")                                   \
  X(eth_ipv6,                   drop,   "IPv6 frames, dropped quietly (shoal is IPv4 only)")                \
  X(eth_other,                  drop,   "frames of any other EtherType (802.1Q-tagged included)")           \
  X(arp_requests_in,            event,  "ARP requests received (any target)")                               \
  X(arp_replies_in,             event,  "ARP replies received (any target)")                                \
  X(arp_requests_out,           event,  "ARP requests sent (resolution and retries)")                       \
  X(arp_replies_out,            event,  "ARP replies sent for our address")                                 \
  X(arp_not_for_us,             drop,   "ARP packets whose target is another address")                      \
  X(arp_bad_sender,             drop,   "ARP with a group or zero sender MAC, or a martian sender IP")      \
  X(arp_address_conflict,       drop,   "ARP claiming our own IPv4 address")                                \
  X(arp_cache_full_drops,       drop,   "packets dropped: no free ARP cache entry for the next hop")        \
  X(arp_pending_full_drops,     drop,   "packets dropped: the next hop's pending queue was full")           \
  X(arp_timeout_drops,          drop,   "packets dropped: their next hop never answered ARP")               \
  X(ipv4_checksum_offload_bad,  drop,   "IPv4 header checksum flagged bad by the NIC (software agreed ok)") \
  X(ipv4_not_for_us,            drop,   "IPv4 datagrams for another address (broadcast included)")          \
  X(ipv4_martian_source,        drop,   "IPv4 datagrams from 0/8, 127/8, multicast or broadcast")           \
  X(ipv4_fragments,             event,  "IPv4 fragments for our address, held for reassembly")            \
  X(ipv4_reassembled,           event,  "IPv4 datagrams reassembled from their fragments")                \
  X(ipv4_reassembly_drops,      drop,   "IPv4 fragments freed unassembled: timed out, table full, invalid, or reassembly off") \
  X(ipv4_reassembly_overlaps,   event,  "IPv4 datagrams discarded: a fragment overlapped another (RFC 5722's rule); its fragments count as reassembly drops") \
  X(ipv4_fragment_duplicates,   event,  "exact duplicate IPv4 fragments freed (counted as reassembly drops), their datagram kept") \
  X(ipv4_fragments_handed_over, event,  "IPv4 fragments passed to the shard that reassembles their datagram")  \
  X(ipv4_fragments_handed_in,   event,  "IPv4 fragments received from another shard for reassembly here")     \
  X(ipv4_fragment_handoff_full_drops, drop, "IPv4 fragments dropped: the reassembling shard's handoff ring was full") \
  X(ipv4_fragments_out,         event,  "IPv4 fragments sent (datagrams larger than the MTU)")            \
  X(ipv4_fragment_failures,     drop,   "datagrams larger than the MTU that could not be fragmented (DF set, no mbufs)") \
  X(ipv4_no_route,              drop,   "IPv4 packets to send with no on-link route and no gateway")        \
  X(icmp_echo_requests_in,      event,  "ICMP echo requests for our address")                               \
  X(icmp_echo_replies_out,      event,  "ICMP echo replies sent")                                           \
  X(icmp_echo_replies_in,       drop,   "ICMP echo replies received (shoal sends no requests)")             \
  X(l4_checksum_offload_bad,    drop,   "TCP checksum flagged bad by the NIC (software agreed ok)")         \
  X(tcp_no_listener,            drop,   "valid TCP segments with no TCP engine attached")                   \
  X(udp_datagrams_in,           event,  "UDP datagrams delivered to a socket (callback or receive queue)") \
  X(udp_datagrams_out,          event,  "UDP datagrams sent (each counted once, however many fragments)") \
  X(udp_bad_length,             drop,   "UDP datagrams shorter than 8 bytes or whose length field differs from IPv4's") \
  X(udp_bad_checksum,           drop,   "UDP datagrams with a wrong (non-zero) checksum")                  \
  X(udp_no_port,                drop,   "UDP datagrams for a port with no socket (or from a remote its connected socket does not take)") \
  X(udp_other_shard,            drop,   "UDP datagrams for a port open only on another shard (no ICMP error)") \
  X(udp_receive_queue_drops,    drop,   "UDP datagrams dropped: the socket's receive queue was full")      \
  X(udp_send_failures,          event,  "UDP sends refused (too large, bad destination, no mbufs)")        \
  X(icmp_port_unreachable_out,  event,  "ICMP port unreachable sent for datagrams to closed UDP ports")    \
  X(icmp_errors_rate_limited,   event,  "ICMP errors not sent: the token bucket was empty")                \
  X(icmp_dest_unreachable_in,   event,  "ICMP destination unreachable received (any code)")                \
  X(icmp_protocol_unreachable_in, event, "ICMP protocol unreachable received (also in icmp_dest_unreachable_in)") \
  X(icmp_time_exceeded_in,      event,  "ICMP time exceeded received")                                     \
  X(icmp_other_errors_in,       event,  "ICMP source quench, redirect or parameter problem received")      \
  X(icmp_errors_reported,       event,  "ICMP errors reported to the connected UDP socket whose datagram they quote") \
  X(icmp_errors_unreported,     drop,   "ICMP errors for an unconnected UDP socket, or not an error of a socket (fragmentation needed): counted only") \
  X(icmp_errors_unmatched,      drop,   "ICMP errors quoting no UDP socket of ours (TCP's included)")       \
  X(proto_unhandled,            drop,   "IPv4 datagrams of any other protocol")                      \
  X(tcp_handed_over,            event,  "TCP datagrams handed to the shard that owns their flow")        \
  X(tcp_handed_in,              event,  "TCP datagrams received from another shard (flow owner here)")   \
  X(tcp_handoff_full_drops,     drop,   "TCP datagrams dropped: the owner shard's handoff ring was full")\
  X(impair_lost,                drop,   "frames dropped by the [impair] stage (simulated loss)")         \
  X(impair_duplicated,          event,  "frames duplicated by the [impair] stage")                       \
  X(impair_reordered,           event,  "frames sent ahead of delayed ones by the [impair] stage")       \
  X(impair_delayed,             event,  "frames delayed by the [impair] stage")
// clang-format on

// The table itself, in table order.
inline constexpr CounterInfo kShardCounterInfo[] = {
#define SHOAL_X(name, kind, desc) {#name, CounterKind::kind, desc},
    SHOAL_SHARD_COUNTERS(SHOAL_X)
#undef SHOAL_X
};

// The layers whose parser can reject input; one counter per (layer, reason),
// named "<layer>_<reason>", e.g. "ipv4_bad_checksum".
// clang-format off
#define SHOAL_SHARD_PARSE_LAYERS(X) X(eth) X(arp) X(ipv4) X(icmp) X(tcp)
// clang-format on

enum class Layer : uint8_t {
#define SHOAL_X(name) name,
  SHOAL_SHARD_PARSE_LAYERS(SHOAL_X)
#undef SHOAL_X
};
constexpr size_t kLayerCount = 0
#define SHOAL_X(name) +1
    SHOAL_SHARD_PARSE_LAYERS(SHOAL_X)
#undef SHOAL_X
    ;
const char *to_string(Layer);

class Counter {
public:
  void add(uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }

private:
  std::atomic<uint64_t> v_{0};
};

// The errors each layer's parser can return: parse_ethernet (eth),
// parse_arp, parse_ipv4_header, parse_icmp_echo, parse_tcp (with its
// options). tests/unit/shard/counters_test.cpp holds the parsers to it.
constexpr bool parse_error_possible(Layer l, wire::ParseError e) {
  using E = wire::ParseError;
  if (e == E::truncated)
    return true;
  switch (l) {
  case Layer::eth:
    return false;
  case Layer::arp:
    return e == E::bad_hardware_type || e == E::bad_protocol_type || e == E::bad_address_length ||
           e == E::bad_arp_op;
  case Layer::ipv4:
    return e == E::bad_version || e == E::bad_ihl || e == E::bad_total_length ||
           e == E::bad_checksum;
  case Layer::icmp:
    return e == E::bad_checksum || e == E::bad_icmp_type;
  case Layer::tcp:
    return e == E::bad_checksum || e == E::bad_data_offset || e == E::bad_option_length ||
           e == E::option_overrun || e == E::bad_mss_option || e == E::bad_window_scale_option ||
           e == E::bad_sack_permitted_option || e == E::bad_timestamp_option ||
           e == E::bad_sack_option;
  }
  return true;
}

struct ShardCounters {
#define SHOAL_X(name, kind, help) Counter name;
  SHOAL_SHARD_COUNTERS(SHOAL_X)
#undef SHOAL_X
  std::array<std::array<Counter, wire::kParseErrorCount>, kLayerCount> parse_errors;

  void count_parse_error(Layer l, wire::ParseError e) {
    parse_errors[static_cast<size_t>(l)][static_cast<size_t>(e)].add();
  }
  uint64_t parse_error(Layer l, wire::ParseError e) const {
    return parse_errors[static_cast<size_t>(l)][static_cast<size_t>(e)].get();
  }

  // f(const char *name, uint64_t value) for every counter, table order, then
  // the parse-error counters layer by layer: those the layer's parser can
  // return (parse_error_possible), and any other that is not zero, so that
  // no count is ever hidden.
  template <typename F> void for_each(F &&f) const {
#define SHOAL_X(name, kind, help) f(#name, name.get());
    SHOAL_SHARD_COUNTERS(SHOAL_X)
#undef SHOAL_X
    for (size_t l = 0; l < kLayerCount; l++)
      for (size_t e = 1; e < wire::kParseErrorCount; e++) {
        const auto layer = static_cast<Layer>(l);
        const auto error = static_cast<wire::ParseError>(e);
        const uint64_t v = parse_errors[l][e].get();
        if (v != 0 || parse_error_possible(layer, error))
          f(parse_error_name(layer, error), v);
      }
  }

  // Sum of every drop counter (kind drop, and every parse error).
  uint64_t drops() const;

  // {"rx_packets":1,...} on one line.
  std::string to_json() const;

  // "ipv4_bad_checksum": a stable string for the lifetime of the program.
  static const char *parse_error_name(Layer, wire::ParseError);

  // The name of one of this table's counters ("eth_other"), or "?" for a
  // Counter that is not a member (the drop trace's reasons).
  const char *name_of(const Counter &c) const {
#define SHOAL_X(name, kind, help)                                                                  \
  if (&c == &name)                                                                                 \
    return #name;
    SHOAL_SHARD_COUNTERS(SHOAL_X)
#undef SHOAL_X
    return "?";
  }
};

// Number of counters for_each visits.
size_t counter_count();

} // namespace shoal::shard
