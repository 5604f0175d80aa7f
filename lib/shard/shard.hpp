#pragma once
// shoal::shard::Shard — the per-lcore runtime: one poll loop over the rx
// queues the shard owns, the classify path (Ethernet -> ARP / IPv4 -> ICMP
// echo / TCP hook), the ARP cache, and batched tx with one flush per loop
// iteration.
//
// The path of a frame (DESIGN.md "The path of a packet"):
//   rx burst (32) -> Ethernet (ARP: arp.cpp; IPv4 below; IPv6 and others
//   dropped, counted) -> IPv4 header (checksum from the NIC flag when the rx
//   offload is on, else software) -> for our address -> fragments held for
//   reassembly (reassembly.hpp) until their datagram is whole -> by
//   protocol: a registered handler (TCP engine), UDP (udp.hpp), ICMP echo
//   and errors (icmp.cpp), else a counted drop.
// Transmit: transmit_ipv4() resolves the next hop through the ARP cache,
// prepends Ethernet and queues the frame; flush() hands the batch to the NIC
// once per iteration and frees (and counts) what the NIC did not take.
//
// Everything here runs on the shard's own lcore; nothing takes a lock. Rx
// and tx can be driven without a port (process_rx() + set_tx_burst()), which
// is how the unit tests feed hand-built frames.
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "common/time.hpp"
#include "dpdk/port.hpp"
#include "shard/arp_cache.hpp"
#include "shard/counters.hpp"
#include "shard/fifo_ring.hpp"
#include "shard/impair.hpp"
#include "shard/reassembly.hpp"
#include "shard/token_bucket.hpp"
#include "shard/udp.hpp"
#include "wire/addr.hpp"
#include "wire/arp.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmp.hpp"
#include "wire/ipv4.hpp"

namespace shoal::shard {

struct ShardParams {
  unsigned id = 0;
  wire::MacAddr mac;
  wire::Ipv4Addr address;
  uint8_t prefix_length = 24;
  std::optional<wire::Ipv4Addr> gateway;
  ArpCacheConfig arp;
  dpdk::Offloads offloads; // what the port enabled; the shard honours exactly this
  uint16_t mtu = 0;        // the port's MTU: larger datagrams (not TSO) are dropped; 0 = no check
  // IPv4 reassembly: datagrams held at once (0: fragments are dropped,
  // counted) and how long an incomplete one is kept (Linux ipfrag_time: 30 s).
  uint32_t reassembly_max_datagrams = 256;
  Duration reassembly_timeout = std::chrono::seconds(30);
  // ICMP errors sent (port unreachable): a token bucket of this rate per
  // second and burst (Linux: icmp_msgs_per_sec 1000, icmp_msgs_burst 50).
  uint32_t icmp_error_rate = 1000;
  uint32_t icmp_error_burst = 50;
  UdpConfig udp;
};

// Hands a batch to the NIC; returns how many it took (the rest stay the
// caller's). The default sends on the tx queue given to set_tx_queue().
using TxBurstFn = uint16_t (*)(void *ctx, rte_mbuf **frames, uint16_t n);

// Receives one IPv4 datagram for our address (whole: fragments arrive
// reassembled, as a chain; header validated): data offset of `m` at the IPv4 header, trailing
// Ethernet padding trimmed. Ownership of `m` passes to the handler.
using Ipv4Handler = void (*)(void *ctx, rte_mbuf *m, const wire::Ipv4Repr &ip, Instant now);

// An ICMP error quoting a TCP segment (whole message parsed; `next_hop_mtu`
// from the header of "fragmentation needed", else 0).
using TcpIcmpHandler = void (*)(void *ctx, const wire::IcmpErrorRepr &e, uint16_t next_hop_mtu,
                                Instant now);

// Runs once per poll() after the rx bursts and before the tx flush (the TCP
// engine's timer wheel: Engine::advance).
using PollHook = void (*)(void *ctx, Instant now);

// Sees every frame the shard receives (after the rx impairment stage, before
// classification) and every frame it hands to the NIC (right before the tx
// burst): the spot for a pcapng capture. Must not keep or modify the mbufs.
enum class Direction : uint8_t { rx, tx };
using CaptureFn = void (*)(void *ctx, rte_mbuf *const *frames, uint16_t n, Direction dir,
                           Instant now);

class Shard {
public:
  static constexpr uint16_t kRxBurst = 32;
  static constexpr uint16_t kTxBatch = 64;

  // ARP timers are looked at this often, not on every iteration.
  static constexpr Duration kArpScanInterval = std::chrono::milliseconds(10);

  // `pool` provides the mbufs the shard builds itself (ARP requests).
  // Throws std::runtime_error if the ARP cache cannot be created.
  Shard(const ShardParams &, rte_mempool *pool);
  rte_mempool *pool() const { return pool_; }
  ~Shard(); // frees the unsent tx batch and every packet held by ARP
  Shard(const Shard &) = delete;
  Shard &operator=(const Shard &) = delete;

  // Queues this shard polls (it may own several, of several ports).
  void add_rx_queue(uint16_t port, uint16_t queue);
  // Where frames go: rte_eth_tx_burst on (port, queue) ...
  void set_tx_queue(uint16_t port, uint16_t queue);
  // ... or any other sink (tests, simulators).
  void set_tx_burst(TxBurstFn fn, void *ctx);
  // Datagrams of IPv4 protocol `proto` (e.g. 6, TCP) go to `fn` instead of
  // the shard's own handling or drop. nullptr restores the default.
  void set_ipv4_handler(uint8_t proto, Ipv4Handler fn, void *ctx);
  // ICMP errors quoting TCP go to `fn` (nullptr: counted as unmatched).
  void set_tcp_icmp_handler(TcpIcmpHandler fn, void *ctx) {
    tcp_icmp_fn_ = fn;
    tcp_icmp_ctx_ = ctx;
  }
  // The drop trace (debug builds, SHOAL_DROP_TRACE; a no-op otherwise):
  // `fn` gets the reason, i.e. the drop counter's name ("eth_other",
  // "ipv4_bad_checksum" for a parse error), and the frame or datagram about
  // to be freed, for every packet the shard drops through its drop path
  // (the TCP engine has its own hook, tcp::Engine::set_drop_hook).
  using DropHook = std::function<void(const char *reason, const rte_mbuf *packet)>;
  void set_drop_hook(DropHook fn);
  // Called by every poll() (nullptr: none).
  void set_poll_hook(PollHook fn, void *ctx) {
    poll_hook_ = fn;
    poll_ctx_ = ctx;
  }

  // Frames the NIC does not take are kept (up to `max`) and sent first at
  // the next flush instead of being dropped: a TAP whose kernel queue is
  // momentarily full then delays segments instead of losing them. 0 (the
  // default): dropped at once, counted as tx_full_drops.
  void set_tx_backlog(size_t max);
  // Frames waiting in that backlog.
  size_t tx_backlog_size() const { return tx_backlog_.size(); }
  // pcapng capture (nullptr: none). See CaptureFn.
  void set_capture(CaptureFn fn, void *ctx) {
    capture_ = fn;
    capture_ctx_ = ctx;
  }
  // Impairs received and/or sent frames (see impair.hpp); a disabled
  // params value removes the stage from that direction.
  void set_impairment(const ImpairParams &rx, const ImpairParams &tx);

  // One loop iteration: rx burst on every owned queue, classify, ARP timers,
  // the poll hook, one tx flush. Returns the number of frames received.
  unsigned poll(Instant now);
  // The classify path for frames from anywhere; takes ownership of each.
  void process_rx(std::span<rte_mbuf *const> frames, Instant now);
  // ARP retries and expiry (cheap when nothing is due).
  void advance(Instant now);
  // Hands the tx batch to the NIC; what it does not take is freed, counted.
  void flush();

  // For the TCP engine: an IPv4 datagram (data offset at the IPv4 header,
  // header complete; checksum offload flags and l3_len set by the caller if
  // it uses them) to `dst`. The next hop is `dst` when on-link, else the
  // gateway; the frame waits in the ARP cache while the next hop resolves.
  // Ownership passes in all cases (drops are counted).
  void transmit_ipv4(rte_mbuf *ip_packet, wire::Ipv4Addr dst);
  // Same, with `dst` read from the datagram's header.
  void transmit_ipv4(rte_mbuf *ip_packet);

  unsigned id() const { return p_.id; }
  const ShardParams &params() const { return p_; }
  const ShardCounters &counters() const { return counters_; }
  ArpCache &arp_cache() { return arp_; }
  const ArpCache &arp_cache() const { return arp_; }
  // The `now` of the current iteration.
  Instant now() const { return now_; }
  // Frames queued for the next flush.
  uint16_t tx_pending() const { return tx_count_; }
  // For the TCP attachment (tcp_attach.cpp), which counts in our table.
  void count_tcp_handed_over() { counters_.tcp_handed_over.add(); }
  void count_tcp_handed_in() { counters_.tcp_handed_in.add(); }
  void count_tcp_handoff_full_drop() { count_drop(counters_.tcp_handoff_full_drops); }
  void count_tx_checksum_software() { counters_.tx_checksum_software.add(); }

  // Fragments of one datagram may arrive on different shards (a device that
  // hashes them by addresses alone, or not at all: TAP). Each datagram is
  // reassembled by one shard, `owner(ctx, src, dst)` (the shard of the
  // addresses' symmetric hash, ports zero: where an RSS device delivers
  // fragments); a fragment that arrives elsewhere goes there through
  // `handoff` (false: ring full, the caller keeps the mbuf). Unset (one
  // shard): every fragment is reassembled where it arrives.
  using FragmentOwnerFn = unsigned (*)(void *ctx, wire::Ipv4Addr src, wire::Ipv4Addr dst);
  using FragmentHandoffFn = bool (*)(void *ctx, unsigned owner, rte_mbuf *m);
  void set_fragment_steering(FragmentOwnerFn owner, FragmentHandoffFn handoff, void *ctx) {
    frag_owner_ = owner;
    frag_handoff_ = handoff;
    frag_ctx_ = ctx;
  }
  // A handed-over mbuf is a fragment (else a TCP datagram for the engine).
  static bool is_handed_fragment(const rte_mbuf *m) {
    return (m->packet_type & RTE_PTYPE_L4_MASK) == RTE_PTYPE_L4_FRAG;
  }
  // A fragment another shard handed over (data offset at the Ethernet
  // header, its IPv4 header validated there): reassembled here.
  void fragment_handed_in(rte_mbuf *m, Instant now);
  bool on_link(wire::Ipv4Addr a) const { return (a.v & netmask_) == (p_.address.v & netmask_); }
  // UDP sockets of this shard (udp.hpp).
  Udp &udp() { return *udp_; }

  // An ICMP error (RFC 792) about `offending` (data offset at its IPv4
  // header; not consumed) back to its source, quoting its IPv4 header and
  // first 8 payload bytes. Not sent (RFC 1122 3.2.2) in answer to an ICMP
  // error, for a non-initial fragment, a broadcast or multicast
  // destination, a source that is not one host (also class E), or a
  // datagram that came in a link-layer broadcast or multicast frame
  // (`link_group`); nor beyond the token bucket (icmp_error_rate /
  // icmp_error_burst, counted). True if queued.
  bool send_icmp_error(const rte_mbuf *offending, const wire::Ipv4Repr &ip, uint8_t type,
                       uint8_t code, bool link_group);

private:
  friend class Udp;
  void process_frame(rte_mbuf *m);
  void drop(rte_mbuf *m, Counter &c) {
    c.add();
#if SHOAL_DROP_TRACE
    if (drop_hook_)
      drop_hook_(counters_.name_of(c), m);
#endif
    rte_pktmbuf_free(m);
  }
  // A drop counted without freeing here (n packets, or the one at `m`).
  void count_drop(Counter &c, uint64_t n = 1, [[maybe_unused]] const rte_mbuf *m = nullptr) {
    if (n == 0)
      return;
    c.add(n);
#if SHOAL_DROP_TRACE
    if (drop_hook_)
      drop_hook_(counters_.name_of(c), m);
#endif
  }
  void drop_parse_error(rte_mbuf *m, Layer l, wire::ParseError e) {
    counters_.count_parse_error(l, e);
#if SHOAL_DROP_TRACE
    if (drop_hook_)
      drop_hook_(ShardCounters::parse_error_name(l, e), m);
#endif
    rte_pktmbuf_free(m);
  }
  // arp.cpp
  void arp_input(rte_mbuf *m, std::span<const uint8_t> payload);
  void send_arp_request(wire::Ipv4Addr target);
  // ipv4 path (shard.cpp)
  void ipv4_input(rte_mbuf *m, std::span<const uint8_t> datagram);
  void tcp_without_engine(rte_mbuf *m, const wire::Ipv4Repr &ip, std::span<const uint8_t> segment);
  void fragment_input(rte_mbuf *m, const wire::Ipv4Repr &ip);
  // icmp.cpp
  void icmp_input(rte_mbuf *m, const wire::Ipv4Repr &ip, std::span<uint8_t> message);
  // An ICMP error message: matched to the UDP socket it concerns, counted.
  void icmp_error_input(rte_mbuf *m, std::span<const uint8_t> message);
  // An echo request too large for one buffer (a reassembled chain).
  void icmp_input_chain(rte_mbuf *m, const wire::Ipv4Repr &ip);
  // The IPv4 header of an echo reply (in place of the request's, the data
  // offset at it) and its transmission.
  void send_echo_reply(rte_mbuf *m, const wire::Ipv4Repr &request);
  // transmit_ipv4, cutting a datagram larger than the MTU into fragments
  // (RFC 791; it must not have DF set).
  void transmit_ipv4_fragmenting(rte_mbuf *ip_packet, wire::Ipv4Addr dst);
  // tx
  void send_to(rte_mbuf *ip_packet, const wire::MacAddr &dst_mac);
  void tx_enqueue(rte_mbuf *frame) {
    tx_batch_[tx_count_++] = frame;
    if (tx_count_ == kTxBatch)
      flush();
  }
  static uint16_t eth_tx_burst(void *ctx, rte_mbuf **frames, uint16_t n);
  void send_burst(rte_mbuf **frames, uint16_t n);
  bool send_backlog();
  // Keeps a refused frame at the back of the backlog, or drops it (counted)
  // when the backlog is full.
  void backlog_or_drop(rte_mbuf *m) {
    if (!tx_backlog_.push_back(m))
      drop(m, counters_.tx_full_drops);
  }
  uint16_t transmit_counted(rte_mbuf **frames, uint16_t n);
  void sync_impair_counters();

  struct RxQueue {
    uint16_t port, queue;
  };
  struct Handler {
    Ipv4Handler fn = nullptr;
    void *ctx = nullptr;
  };

  ShardParams p_;
  uint32_t netmask_;
  rte_mempool *pool_;
  ShardCounters counters_;
  ArpCache arp_;
  Instant now_{};
  Instant next_arp_scan_{};
  uint16_t ip_ident_ = 0;
  std::vector<RxQueue> rx_queues_;
  RxQueue tx_queue_{0, 0};
  TxBurstFn tx_fn_;
  void *tx_ctx_;
  uint16_t tx_count_ = 0;
  std::array<rte_mbuf *, kTxBatch> tx_batch_{};
  std::array<Handler, 256> handlers_{};
  PollHook poll_hook_ = nullptr;
  TcpIcmpHandler tcp_icmp_fn_ = nullptr;
  void *tcp_icmp_ctx_ = nullptr;
  void *poll_ctx_ = nullptr;
#if SHOAL_DROP_TRACE
  DropHook drop_hook_;
#endif
  CaptureFn capture_ = nullptr;
  void *capture_ctx_ = nullptr;
  // Frames the NIC did not take (tx ring or the TAP's kernel queue full),
  // sent first at the next flush (set_tx_backlog); beyond its capacity
  // they are dropped. A ring: a partial send only advances its head.
  FifoRing<rte_mbuf *> tx_backlog_;
  std::unique_ptr<Impairment> impair_rx_, impair_tx_;
  std::unique_ptr<Reassembly> reassembly_; // null: fragments are dropped
  void reassemble(rte_mbuf *m);            // an owned fragment, into the table
  FragmentOwnerFn frag_owner_ = nullptr;
  FragmentHandoffFn frag_handoff_ = nullptr;
  void *frag_ctx_ = nullptr;
  TokenBucket icmp_error_bucket_;
  std::unique_ptr<Udp> udp_;
  // Scratch, one per direction: the rx one is being walked by process_rx()
  // while the TCP engine's answers can fill the tx batch and call flush()
  // (tx_enqueue), which must not clear or reallocate it under the walk.
  std::vector<rte_mbuf *> impair_rx_out_, impair_tx_out_;
  uint64_t impair_seen_[4] = {}; // impairment totals already added to counters_
};

} // namespace shoal::shard
