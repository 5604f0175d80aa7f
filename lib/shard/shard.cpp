#include "shard/shard.hpp"

#include <algorithm>
#include <atomic>

#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_prefetch.h>

#include "tcp/packet_buf_impl.hpp"
#include "wire/bytes.hpp"
#include "wire/tcp.hpp"

namespace shoal::shard {

namespace {

std::string arp_cache_name(unsigned shard_id) {
  // rte_hash names are process-wide; shards of tests come and go.
  static std::atomic<unsigned> seq{0};
  return "arp" + std::to_string(shard_id) + "_" + std::to_string(seq.fetch_add(1));
}

uint32_t netmask_of(uint8_t prefix_length) {
  return prefix_length == 0 ? 0 : ~uint32_t{0} << (32 - prefix_length);
}

// RFC 1122 3.2.1.3: a source that can never be a unicast sender.
bool martian_source(wire::Ipv4Addr a) {
  return a.is_unspecified() || a.is_broadcast() || a.is_multicast() || a.is_loopback() ||
         (a.v >> 24) == 0;
}

std::span<uint8_t> mbuf_bytes(rte_mbuf *m) {
  return {rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_data_len(m)};
}

// A chained frame the TCP path can take as it is: an IPv4 TCP datagram whose
// Ethernet and IPv4 headers (options included) are in the first segment.
bool tcp_headers_first(const rte_mbuf *m) {
  const uint32_t first = rte_pktmbuf_data_len(m);
  if (first < wire::kEthernetHeaderLen + wire::kIpv4MinHeaderLen)
    return false;
  const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
  const uint8_t *ip = f + wire::kEthernetHeaderLen;
  const uint32_t ihl = uint32_t{ip[wire::ipv4_field::kVersionIhl] & 0x0fu} * 4;
  return wire::load_be16(f + 12) == wire::kEtherTypeIpv4 &&
         ip[wire::ipv4_field::kProtocol] == wire::kIpProtoTcp &&
         first >= wire::kEthernetHeaderLen + std::max(ihl, uint32_t{wire::kIpv4MinHeaderLen});
}

} // namespace

Shard::Shard(const ShardParams &p, rte_mempool *pool)
    : p_(p), netmask_(netmask_of(p.prefix_length)), pool_(pool), arp_(p.arp, arp_cache_name(p.id)),
      tx_fn_(&Shard::eth_tx_burst), tx_ctx_(&tx_queue_),
      icmp_error_bucket_(p.icmp_error_rate, p.icmp_error_burst),
      udp_(std::make_unique<Udp>(*this, p.udp)) {
  if (p.reassembly_max_datagrams != 0)
    reassembly_ = std::make_unique<Reassembly>(p.reassembly_max_datagrams, p.reassembly_timeout,
                                               static_cast<int>(rte_socket_id()));
}

Shard::~Shard() {
  udp_.reset(); // frees what its sockets had queued
  for (uint16_t i = 0; i < tx_count_; i++)
    rte_pktmbuf_free(tx_batch_[i]);
  tx_backlog_.drain([](rte_mbuf *m) { rte_pktmbuf_free(m); });
}

void Shard::set_tx_backlog(size_t max) {
  // Shrinking below what waits: the newest go, counted like any overflow.
  while (tx_backlog_.size() > max) {
    drop(tx_backlog_.back(), counters_.tx_full_drops);
    tx_backlog_.pop_back();
  }
  tx_backlog_.set_capacity(max);
}

void Shard::add_rx_queue(uint16_t port, uint16_t queue) {
  rx_queues_.push_back({port, queue});
}

void Shard::set_tx_queue(uint16_t port, uint16_t queue) {
  tx_queue_ = {port, queue};
  tx_fn_ = &Shard::eth_tx_burst;
  tx_ctx_ = &tx_queue_;
}

void Shard::set_drop_hook([[maybe_unused]] DropHook fn) {
#if SHOAL_DROP_TRACE
  drop_hook_ = std::move(fn);
#endif
}

void Shard::set_tx_burst(TxBurstFn fn, void *ctx) {
  tx_fn_ = fn;
  tx_ctx_ = ctx;
}

void Shard::set_ipv4_handler(uint8_t proto, Ipv4Handler fn, void *ctx) {
  handlers_[proto] = {fn, fn != nullptr ? ctx : nullptr};
}

uint16_t Shard::eth_tx_burst(void *ctx, rte_mbuf **frames, uint16_t n) {
  const auto *q = static_cast<const RxQueue *>(ctx);
  return rte_eth_tx_burst(q->port, q->queue, frames, n);
}

void Shard::set_impairment(const ImpairParams &rx, const ImpairParams &tx) {
  impair_rx_ = rx.enabled() ? std::make_unique<Impairment>(rx, pool_) : nullptr;
  impair_tx_ = tx.enabled() ? std::make_unique<Impairment>(tx, pool_) : nullptr;
  impair_rx_out_.reserve(4 * kTxBatch);
  impair_tx_out_.reserve(4 * kTxBatch);
}

void Shard::sync_impair_counters() {
  uint64_t now[4] = {};
  for (const Impairment *i : {impair_rx_.get(), impair_tx_.get()})
    if (i != nullptr) {
      now[0] += i->lost();
      now[1] += i->duplicated();
      now[2] += i->reordered();
      now[3] += i->delayed();
    }
  Counter *c[4] = {&counters_.impair_lost, &counters_.impair_duplicated,
                   &counters_.impair_reordered, &counters_.impair_delayed};
  for (int k = 0; k < 4; k++) {
    if (now[k] != impair_seen_[k])
      c[k]->add(now[k] - impair_seen_[k]);
    impair_seen_[k] = now[k];
  }
}

unsigned Shard::poll(Instant now) {
  now_ = now;
  unsigned total = 0;
  std::array<rte_mbuf *, kRxBurst> burst;
  for (const RxQueue &q : rx_queues_) {
    const uint16_t n = rte_eth_rx_burst(q.port, q.queue, burst.data(), kRxBurst);
    total += n;
    if (impair_rx_ == nullptr) {
      process_rx({burst.data(), n}, now);
      continue;
    }
    impair_rx_out_.clear();
    for (uint16_t i = 0; i < n; i++)
      impair_rx_->push(burst[i], now, impair_rx_out_);
    process_rx(impair_rx_out_, now);
  }
  if (impair_rx_ != nullptr) {
    impair_rx_out_.clear();
    impair_rx_->release(now, impair_rx_out_);
    process_rx(impair_rx_out_, now);
  }
  advance(now);
  if (poll_hook_ != nullptr)
    poll_hook_(poll_ctx_, now);
  flush();
  return total;
}

void Shard::process_rx(std::span<rte_mbuf *const> frames, Instant now) {
  now_ = now;
  if (capture_ != nullptr && !frames.empty())
    capture_(capture_ctx_, frames.data(), static_cast<uint16_t>(frames.size()), Direction::rx, now);
  // Received frames arrive cold (written by the NIC, or by another lcore
  // on an in-process wire). Warm them ahead of the walk: the mbuf header
  // (both lines: rte_pktmbuf_free reads the second) kPrefetchHeaders frames
  // ahead; the protocol headers inside the buffer (Ethernet, IPv4, TCP with
  // options: two lines) kPrefetchData frames ahead, once the mbuf header
  // that locates them has arrived.
  constexpr size_t kPrefetchHeaders = 4, kPrefetchData = 2;
  const size_t n = frames.size();
  const auto prefetch_mbuf = [](const rte_mbuf *m) {
    rte_prefetch0(m);
    rte_prefetch0(reinterpret_cast<const uint8_t *>(m) + RTE_CACHE_LINE_SIZE);
  };
  for (size_t i = 0; i < n && i < kPrefetchHeaders; i++)
    prefetch_mbuf(frames[i]);
  for (size_t i = 0; i < n; i++) {
    if (i + kPrefetchHeaders < n)
      prefetch_mbuf(frames[i + kPrefetchHeaders]);
    if (i + kPrefetchData < n) {
      const auto *d = rte_pktmbuf_mtod(frames[i + kPrefetchData], const uint8_t *);
      rte_prefetch0(d);
      rte_prefetch0(d + RTE_CACHE_LINE_SIZE);
    }
    process_frame(frames[i]);
  }
}

void Shard::advance(Instant now) {
  now_ = now;
  if (now < next_arp_scan_)
    return;
  next_arp_scan_ = now + kArpScanInterval;
  if (reassembly_ != nullptr) {
    reassembly_->expire(now);
    count_drop(counters_.ipv4_reassembly_drops, reassembly_->take_freed());
  }
  arp_.advance(
      now, [this](wire::Ipv4Addr ip) { send_arp_request(ip); },
      [this](rte_mbuf *m) { drop(m, counters_.arp_timeout_drops); });
}

void Shard::flush() {
  const bool backlog_clear = send_backlog();
  if (!backlog_clear && impair_tx_ == nullptr) {
    // Keep the order: the new frames queue behind the backlog.
    for (uint16_t i = 0; i < tx_count_; i++)
      backlog_or_drop(tx_batch_[i]);
    tx_count_ = 0;
  } else if (impair_tx_ != nullptr) {
    // Through the impairment stage: what is due (held earlier, or passing
    // straight through now) goes out in bursts of at most kTxBatch.
    impair_tx_out_.clear();
    impair_tx_->release(now_, impair_tx_out_);
    for (uint16_t i = 0; i < tx_count_; i++)
      impair_tx_->push(tx_batch_[i], now_, impair_tx_out_);
    tx_count_ = 0;
    for (size_t off = 0; off < impair_tx_out_.size(); off += kTxBatch) {
      const size_t n = std::min<size_t>(kTxBatch, impair_tx_out_.size() - off);
      send_burst(impair_tx_out_.data() + off, static_cast<uint16_t>(n));
    }
    impair_tx_out_.clear();
  } else if (tx_count_ != 0) {
    send_burst(tx_batch_.data(), tx_count_);
    tx_count_ = 0;
  }
  if (impair_rx_ != nullptr || impair_tx_ != nullptr)
    sync_impair_counters();
}

// One tx_fn_ call (n <= kTxBatch); counts what the NIC took.
uint16_t Shard::transmit_counted(rte_mbuf **frames, uint16_t n) {
  std::array<uint32_t, kTxBatch> len; // the NIC owns (and may free) what it took
  for (uint16_t i = 0; i < n; i++)
    len[i] = rte_pktmbuf_pkt_len(frames[i]);
  const uint16_t sent = tx_fn_(tx_ctx_, frames, n);
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < sent; i++)
    bytes += len[i];
  counters_.tx_packets.add(sent);
  counters_.tx_bytes.add(bytes);
  return sent;
}

void Shard::send_burst(rte_mbuf **frames, uint16_t n) {
  if (n == 0)
    return;
  // Captured once, on the first attempt: a frame the NIC refuses now is
  // retried from the backlog without being captured again.
  if (capture_ != nullptr)
    capture_(capture_ctx_, frames, n, Direction::tx, now_);
  const uint16_t sent = transmit_counted(frames, n);
  for (uint16_t i = sent; i < n; i++)
    backlog_or_drop(frames[i]);
}

// Sends what the NIC refused earlier; true when nothing is left over.
bool Shard::send_backlog() {
  if (tx_backlog_.empty())
    return true;
  // Oldest first, in runs of at most kTxBatch (a run ends where the ring
  // wraps around); stop at the first run the NIC does not take whole.
  while (!tx_backlog_.empty()) {
    const std::span<rte_mbuf *> run = tx_backlog_.front_run(kTxBatch);
    const auto n = static_cast<uint16_t>(run.size());
    const uint16_t sent = transmit_counted(run.data(), n);
    tx_backlog_.pop_front(sent);
    if (sent < n)
      return false;
  }
  return true;
}

void Shard::process_frame(rte_mbuf *m) {
  counters_.rx_packets.add();
  counters_.rx_bytes.add(rte_pktmbuf_pkt_len(m));
  if (p_.offloads.memory_wire) // dpdk::PortConfig::memory_wire: nothing to verify
    // (the sender's tx requests, TSO included, came along with the mbuf)
    m->ol_flags = (m->ol_flags & ~(RTE_MBUF_F_RX_IP_CKSUM_MASK | RTE_MBUF_F_RX_L4_CKSUM_MASK |
                                   RTE_MBUF_F_TX_OFFLOAD_MASK)) |
                  RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
  // The parsers look at the first segment only. NICs deliver an MTU-sized
  // frame in one mbuf (the pool's data room is above the MTU); an in-process
  // wire (net_ring) passes the sender's chains through: a header mbuf, then
  // payload mbufs referencing the sender's send ring. The TCP engine keeps
  // such a payload chain as it is (zero-copy) and reads a TCP header that
  // straddles segments itself, so a chain is made contiguous only when the
  // Ethernet and IPv4 headers are not both in its first segment, or when it
  // is not TCP (ARP and ICMP parse the whole message as one span).
  if (m->nb_segs != 1 && !tcp_headers_first(m)) {
    if (rte_pktmbuf_linearize(m) != 0)
      return drop(m, counters_.rx_multi_segment_drops);
    counters_.rx_linearized.add();
  }

  const std::span<const uint8_t> frame = mbuf_bytes(m);
  wire::EthernetRepr eth;
  if (auto e = wire::parse_ethernet(frame, eth); e != wire::ParseError::ok)
    return drop_parse_error(m, Layer::eth, e);
  const auto payload = frame.subspan(wire::kEthernetHeaderLen);
  switch (eth.ethertype) {
  case wire::kEtherTypeArp:
    return arp_input(m, payload);
  case wire::kEtherTypeIpv4:
    if (eth.dst != p_.mac && !eth.dst.is_broadcast())
      return drop(m, counters_.eth_not_for_us);
    return ipv4_input(m, payload);
  case wire::kEtherTypeIpv6:
    return drop(m, counters_.eth_ipv6);
  default:
    return drop(m, counters_.eth_other);
  }
}

void Shard::ipv4_input(rte_mbuf *m, std::span<const uint8_t> datagram) {
  // The NIC's verdict counts only if we enabled the offload. GOOD skips the
  // software sum; BAD (or no verdict) is checked in software, which also
  // names the reason (a bad IHL or length is reported as such, not as a
  // checksum error).
  const uint64_t ip_flag = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
  const bool nic_good = p_.offloads.rx_ipv4_cksum && ip_flag == RTE_MBUF_F_RX_IP_CKSUM_GOOD;
  const bool nic_bad = p_.offloads.rx_ipv4_cksum && ip_flag == RTE_MBUF_F_RX_IP_CKSUM_BAD;
  wire::Ipv4Repr ip;
  // `datagram` is the first segment's part; the whole chain holds pkt_len.
  const size_t available = rte_pktmbuf_pkt_len(m) - wire::kEthernetHeaderLen;
  if (auto e = wire::parse_ipv4_header(datagram, available, !nic_good, ip);
      e != wire::ParseError::ok)
    return drop_parse_error(m, Layer::ipv4, e);
  if (nic_bad)
    return drop(m, counters_.ipv4_checksum_offload_bad);
  if (ip.dst != p_.address)
    return drop(m, counters_.ipv4_not_for_us);
  if (martian_source(ip.src))
    return drop(m, counters_.ipv4_martian_source);
  if (ip.is_fragment())
    return fragment_input(m, ip);
  // Sent to a link-layer broadcast or multicast address: no ICMP error.
  const bool link_group = (rte_pktmbuf_mtod(m, const uint8_t *)[0] & 0x01) != 0;

  // From here on the mbuf holds exactly the datagram.
  rte_pktmbuf_adj(m, static_cast<uint16_t>(wire::kEthernetHeaderLen));
  const uint32_t total = uint32_t{ip.header_len} + ip.payload_len;
  if (rte_pktmbuf_pkt_len(m) > total)
    tcp::PacketBuf(m).trim_back(total); // Ethernet padding, in whichever segment it is

  if (const Handler &h = handlers_[ip.protocol]; h.fn != nullptr)
    return h.fn(h.ctx, m, ip, now_);
  if (ip.protocol == wire::kIpProtoUdp)
    return udp_->input(m, ip, link_group); // reads chains as they are
  // Only TCP gets here as a chain (process_frame), and only without an
  // engine; or a reassembled datagram, which may not fit one buffer.
  if (m->nb_segs != 1 && ip.protocol == wire::kIpProtoIcmp &&
      rte_pktmbuf_pkt_len(m) > rte_pktmbuf_data_len(m) + rte_pktmbuf_tailroom(m))
    return icmp_input_chain(m, ip);
  if (m->nb_segs != 1) {
    if (rte_pktmbuf_linearize(m) != 0)
      return drop(m, counters_.rx_multi_segment_drops);
    counters_.rx_linearized.add();
  }
  const std::span<uint8_t> payload = mbuf_bytes(m).subspan(ip.header_len, ip.payload_len);
  switch (ip.protocol) {
  case wire::kIpProtoIcmp:
    return icmp_input(m, ip, payload);
  case wire::kIpProtoTcp:
    return tcp_without_engine(m, ip, payload);
  default:
    return drop(m, counters_.proto_unhandled);
  }
}

// RFC 791 3.2 / RFC 1122 3.3.2: a host reassembles. `m` holds the whole
// frame (data offset at the Ethernet header); the datagram, once whole,
// goes through ipv4_input again (its header rewritten and re-summed).
void Shard::fragment_input(rte_mbuf *m, const wire::Ipv4Repr &ip) {
  counters_.ipv4_fragments.add();
  if (reassembly_ == nullptr)
    return drop(m, counters_.ipv4_reassembly_drops);
  const uint32_t frame_len = uint32_t{wire::kEthernetHeaderLen} + ip.header_len + ip.payload_len;
  if (rte_pktmbuf_pkt_len(m) > frame_len)
    tcp::PacketBuf(m).trim_back(frame_len); // Ethernet padding must not join the datagram
  m->l2_len = wire::kEthernetHeaderLen;
  m->l3_len = ip.header_len;
  if (frag_owner_ != nullptr) {
    const unsigned owner = frag_owner_(frag_ctx_, ip.src, ip.dst);
    if (owner != id()) {
      // The mark tells the owner's drain this is a fragment, not TCP.
      m->packet_type = RTE_PTYPE_L2_ETHER | RTE_PTYPE_L3_IPV4 | RTE_PTYPE_L4_FRAG;
      if (!frag_handoff_(frag_ctx_, owner, m))
        return drop(m, counters_.ipv4_fragment_handoff_full_drops);
      counters_.ipv4_fragments_handed_over.add();
      return;
    }
  }
  reassemble(m);
}

void Shard::fragment_handed_in(rte_mbuf *m, Instant now) {
  now_ = now;
  counters_.ipv4_fragments_handed_in.add();
  if (reassembly_ == nullptr)
    return drop(m, counters_.ipv4_reassembly_drops);
  reassemble(m); // its header was validated, l2_len and l3_len set, where it arrived
}

void Shard::reassemble(rte_mbuf *m) {
  rte_mbuf *whole = reassembly_->add(m, now_);
  count_drop(counters_.ipv4_reassembly_drops, reassembly_->take_freed());
  counters_.ipv4_reassembly_overlaps.add(reassembly_->take_overlaps());
  counters_.ipv4_fragment_duplicates.add(reassembly_->take_duplicates());
  if (whole == nullptr)
    return;
  counters_.ipv4_reassembled.add();
  // The fragments' checksum verdicts do not describe the whole datagram,
  // nor does their packet type.
  whole->ol_flags &= ~(RTE_MBUF_F_RX_IP_CKSUM_MASK | RTE_MBUF_F_RX_L4_CKSUM_MASK);
  whole->packet_type = 0;
  if (rte_pktmbuf_data_len(whole) < wire::kEthernetHeaderLen + wire::kIpv4MinHeaderLen)
    return drop(whole, counters_.rx_multi_segment_drops);
  ipv4_input(whole, mbuf_bytes(whole).subspan(wire::kEthernetHeaderLen));
}

void Shard::transmit_ipv4_fragmenting(rte_mbuf *ip_packet, wire::Ipv4Addr dst) {
  const uint16_t mtu = p_.mtu != 0 ? p_.mtu : 1500;
  if (rte_pktmbuf_pkt_len(ip_packet) <= mtu)
    return transmit_ipv4(ip_packet, dst);
  // Each fragment: a header mbuf of its own and the payload by reference.
  std::array<rte_mbuf *, RTE_LIBRTE_IP_FRAG_MAX_FRAG> frags;
  ip_packet->ol_flags &= ~(RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM);
  const int32_t n = rte_ipv4_fragment_packet(
      ip_packet, frags.data(), static_cast<uint16_t>(frags.size()), mtu, pool_, pool_);
  rte_pktmbuf_free(ip_packet); // the fragments hold their own references
  if (n <= 0) {
    count_drop(counters_.ipv4_fragment_failures);
    return;
  }
  const bool offload = p_.offloads.tx_ipv4_cksum;
  for (int32_t i = 0; i < n; i++) {
    rte_mbuf *f = frags[static_cast<size_t>(i)];
    if (!p_.offloads.tx_multi_segs && f->nb_segs != 1 && rte_pktmbuf_linearize(f) != 0) {
      count_drop(counters_.ipv4_fragment_failures);
      rte_pktmbuf_free(f);
      continue;
    }
    auto *h = rte_pktmbuf_mtod(f, rte_ipv4_hdr *);
    h->hdr_checksum = 0;
    f->l3_len = wire::kIpv4MinHeaderLen;
    if (offload)
      f->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
    else {
      f->ol_flags = 0;
      h->hdr_checksum = rte_ipv4_cksum(h);
    }
    counters_.ipv4_fragments_out.add();
    transmit_ipv4(f, dst);
  }
}

// No TCP engine attached yet: the segment is still validated, so that a
// malformed one is counted by its reason, and a valid one is counted as
// having no listener. (The engine, once attached, answers those with RST,
// RFC 9293 3.10.7.1.)
void Shard::tcp_without_engine(rte_mbuf *m, const wire::Ipv4Repr &ip,
                               std::span<const uint8_t> segment) {
  const uint64_t l4_flag = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
  const bool nic_good = p_.offloads.rx_tcp_cksum && l4_flag == RTE_MBUF_F_RX_L4_CKSUM_GOOD;
  const bool nic_bad = p_.offloads.rx_tcp_cksum && l4_flag == RTE_MBUF_F_RX_L4_CKSUM_BAD;
  wire::TcpRepr tcp;
  if (auto e = wire::parse_tcp(segment, ip.src, ip.dst, !nic_good, tcp); e != wire::ParseError::ok)
    return drop_parse_error(m, Layer::tcp, e);
  if (nic_bad)
    return drop(m, counters_.l4_checksum_offload_bad);
  drop(m, counters_.tcp_no_listener);
}

void Shard::transmit_ipv4(rte_mbuf *ip_packet) {
  if (rte_pktmbuf_data_len(ip_packet) < wire::kIpv4MinHeaderLen) {
    // Not a datagram at all: a caller bug, but still no crash.
    return drop_parse_error(ip_packet, Layer::ipv4, wire::ParseError::truncated);
  }
  const uint8_t *h = rte_pktmbuf_mtod(ip_packet, const uint8_t *);
  transmit_ipv4(ip_packet, wire::Ipv4Addr::from_bytes(h + wire::ipv4_field::kDst));
}

void Shard::transmit_ipv4(rte_mbuf *ip_packet, wire::Ipv4Addr dst) {
  wire::Ipv4Addr next_hop = dst;
  if (!on_link(dst)) {
    if (!p_.gateway)
      return drop(ip_packet, counters_.ipv4_no_route);
    next_hop = *p_.gateway;
  }
  if (const wire::MacAddr *mac = arp_.lookup(next_hop, now_))
    return send_to(ip_packet, *mac);
  switch (arp_.hold(next_hop, ip_packet, now_)) {
  case ArpCache::Hold::queued_first:
    send_arp_request(next_hop);
    arp_.request_sent(next_hop, now_);
    return;
  case ArpCache::Hold::queued:
    return;
  case ArpCache::Hold::queue_full:
    return drop(ip_packet, counters_.arp_pending_full_drops);
  case ArpCache::Hold::table_full:
    return drop(ip_packet, counters_.arp_cache_full_drops);
  }
}

void Shard::send_to(rte_mbuf *ip_packet, const wire::MacAddr &dst_mac) {
  // A NIC refuses a frame beyond its MTU (the tap PMD keeps refusing it at
  // the head of the queue): drop it here, counted.
  if (p_.mtu != 0 && rte_pktmbuf_pkt_len(ip_packet) > p_.mtu &&
      (ip_packet->ol_flags & RTE_MBUF_F_TX_TCP_SEG) == 0)
    return drop(ip_packet, counters_.tx_oversize_drops);
  uint8_t *h = reinterpret_cast<uint8_t *>(
      rte_pktmbuf_prepend(ip_packet, static_cast<uint16_t>(wire::kEthernetHeaderLen)));
  if (h == nullptr)
    return drop(ip_packet, counters_.tx_no_headroom_drops);
  wire::emit_ethernet({dst_mac, p_.mac, wire::kEtherTypeIpv4}, {h, wire::kEthernetHeaderLen});
  // Checksum offload needs the header lengths; the caller set l3_len.
  if ((ip_packet->ol_flags & (RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_L4_MASK)) != 0)
    ip_packet->l2_len = wire::kEthernetHeaderLen;
  tx_enqueue(ip_packet);
}

} // namespace shoal::shard
