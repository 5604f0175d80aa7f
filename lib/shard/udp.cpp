#include "shard/udp.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <rte_ip.h>
#include <rte_ip_frag.h>

#include "shard/shard.hpp"
#include "wire/bytes.hpp"
#include "wire/udp.hpp"

namespace shoal::shard {

int icmp_error_errno(uint8_t type, uint8_t code) {
  // Linux reports to a connected UDP socket (without IP_RECVERR) only the
  // errors its icmp_err_convert marks fatal; the transient ones (network
  // or host unreachable, time exceeded, parameter problem) and
  // fragmentation needed are not errors of the socket.
  if (type != wire::kIcmpDestUnreachable)
    return 0;
  switch (code) {
  case wire::kIcmpPortUnreachable:
    return ECONNREFUSED;
  case wire::kIcmpProtocolUnreachable:
    return ENOPROTOOPT;
  case 6: // destination network unknown
  case 9: // network administratively prohibited
    return ENETUNREACH;
  case 7:  // destination host unknown
  case 8:  // source host isolated
  case 10: // host administratively prohibited
  case 13: // communication administratively prohibited
  case 14: // host precedence violation
  case 15: // precedence cutoff
    return EHOSTUNREACH;
  default:
    return 0;
  }
}

// --- UdpSocket ------------------------------------------------------------------

UdpSocket::~UdpSocket() {
  queue_.drain([](Queued &q) { rte_pktmbuf_free(q.m); });
}

unsigned UdpSocket::shard() const {
  return udp_.shard().id();
}

bool UdpSocket::connect(wire::Ipv4Addr remote, uint16_t port) {
  if (remote.is_unspecified() || port == 0) {
    remote_ = {};
    remote_port_ = 0;
    return true;
  }
  if (remote.is_broadcast() || remote.is_multicast())
    return false;
  remote_ = remote;
  remote_port_ = port;
  error_ = 0;
  return true;
}

int UdpSocket::send(std::span<const uint8_t> payload) {
  if (!connected())
    return EDESTADDRREQ;
  return udp_.send_to(*this, remote_, remote_port_, payload);
}

int UdpSocket::send_to(wire::Ipv4Addr dst, uint16_t dst_port, std::span<const uint8_t> payload) {
  return udp_.send_to(*this, dst, dst_port, payload);
}

UdpSendBuffer UdpSocket::reserve(size_t n) {
  return udp_.reserve(n);
}

size_t UdpSocket::max_reserve() const {
  return udp_.max_reserve();
}

int UdpSocket::send_reserved(UdpSendBuffer &b, size_t len) {
  if (!connected()) {
    b.reset();
    return EDESTADDRREQ;
  }
  return udp_.send_reserved(*this, b, len, remote_, remote_port_);
}

int UdpSocket::send_reserved_to(UdpSendBuffer &b, size_t len, wire::Ipv4Addr dst,
                                uint16_t dst_port) {
  return udp_.send_reserved(*this, b, len, dst, dst_port);
}

void UdpSendBuffer::reset() {
  if (m_ != nullptr)
    rte_pktmbuf_free(m_);
  m_ = nullptr;
  data_ = {};
}

long UdpSocket::receive(std::span<uint8_t> buf, wire::Ipv4Addr *from, uint16_t *from_port) {
  if (queue_.empty())
    return -1;
  Queued q = queue_.front();
  queue_.pop_front(1);
  const uint32_t len = rte_pktmbuf_pkt_len(q.m);
  const uint32_t n = std::min<uint32_t>(len, static_cast<uint32_t>(buf.size()));
  if (n != 0) {
    const void *p = rte_pktmbuf_read(q.m, 0, n, buf.data());
    if (p != buf.data())
      std::memcpy(buf.data(), p, n);
  }
  if (from != nullptr)
    *from = q.from;
  if (from_port != nullptr)
    *from_port = q.from_port;
  rte_pktmbuf_free(q.m);
  return static_cast<long>(len);
}

void UdpSocket::close() {
  udp_.close(this);
}

// --- Udp --------------------------------------------------------------------------

Udp::Udp(Shard &shard, const UdpConfig &cfg)
    : shard_(shard), cfg_(cfg), next_ephemeral_(cfg.ephemeral_first) {}

Udp::~Udp() {
  if (ports_ != nullptr)
    for (const auto &[port, s] : sockets_)
      ports_->remove(port);
}

UdpSocket *Udp::find(uint16_t port) {
  const auto it = sockets_.find(port);
  return it == sockets_.end() ? nullptr : it->second.get();
}

UdpSocket *Udp::open(uint16_t port) {
  if (port == 0) {
    // The next free port of the range after the last one given.
    const uint32_t span = uint32_t{cfg_.ephemeral_last} - cfg_.ephemeral_first + 1;
    for (uint32_t k = 0; k < span && port == 0; k++) {
      const uint16_t p = next_ephemeral_;
      next_ephemeral_ =
          p >= cfg_.ephemeral_last ? cfg_.ephemeral_first : static_cast<uint16_t>(p + 1);
      if (sockets_.count(p) == 0 && (ports_ == nullptr || !ports_->open(p)))
        port = p;
    }
    if (port == 0)
      return nullptr;
  } else if (sockets_.count(port) != 0) {
    return nullptr;
  }
  auto s = std::unique_ptr<UdpSocket>(new UdpSocket(*this, port, cfg_.receive_queue));
  UdpSocket *raw = s.get();
  sockets_.emplace(port, std::move(s));
  if (ports_ != nullptr)
    ports_->add(port);
  return raw;
}

void Udp::close(UdpSocket *s) {
  const auto it = sockets_.find(s->local_port());
  if (it == sockets_.end() || it->second.get() != s)
    return;
  if (ports_ != nullptr)
    ports_->remove(s->local_port());
  if (callback_depth_ != 0)
    closed_.push_back(std::move(it->second)); // its std::function may be running
  sockets_.erase(it);
}

void Udp::input(rte_mbuf *m, const wire::Ipv4Repr &ip, bool link_group) {
  ShardCounters &c = shard_.counters_;
  uint8_t hdr_copy[wire::kUdpHeaderLen];
  const uint32_t avail = rte_pktmbuf_pkt_len(m) - ip.header_len;
  const auto *hdr = ip.payload_len < wire::kUdpHeaderLen || avail < wire::kUdpHeaderLen
                        ? nullptr
                        : static_cast<const uint8_t *>(
                              rte_pktmbuf_read(m, ip.header_len, wire::kUdpHeaderLen, hdr_copy));
  wire::UdpRepr udp;
  const bool parsed =
      hdr != nullptr && wire::parse_udp_header({hdr, wire::kUdpHeaderLen}, ip.payload_len, udp) ==
                            wire::ParseError::ok;
  if (!parsed)
    return shard_.drop(m, c.udp_bad_length);

  if (udp.checksum != 0) {
    const uint64_t flag = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
    const bool nic_good = shard_.p_.offloads.rx_udp_cksum && flag == RTE_MBUF_F_RX_L4_CKSUM_GOOD;
    if (!nic_good) {
      // Over the chain, piece by piece (a reassembled datagram spans many).
      std::array<std::span<const uint8_t>, RTE_LIBRTE_IP_FRAG_MAX_FRAG + 2> small;
      std::vector<std::span<const uint8_t>> big;
      std::span<std::span<const uint8_t>> pieces;
      if (m->nb_segs <= small.size()) {
        pieces = {small.data(), m->nb_segs};
      } else {
        big.resize(m->nb_segs);
        pieces = big;
      }
      size_t n = 0;
      uint32_t skip = ip.header_len;
      for (const rte_mbuf *seg = m; seg != nullptr; seg = seg->next) {
        const uint32_t len = rte_pktmbuf_data_len(seg);
        if (skip >= len) {
          skip -= len;
          continue;
        }
        pieces[n++] = {rte_pktmbuf_mtod_offset(seg, const uint8_t *, skip), len - skip};
        skip = 0;
      }
      if (!wire::udp_checksum_valid(ip.src, ip.dst, pieces.first(n)))
        return shard_.drop(m, c.udp_bad_checksum);
    }
  }

  UdpSocket *s = find(udp.dst_port);
  const bool bound_here = s != nullptr;
  if (bound_here && s->connected() && (s->remote_ != ip.src || s->remote_port_ != udp.src_port))
    s = nullptr; // a connected socket takes its remote's datagrams only
  if (s == nullptr) {
    if (!bound_here && ports_ != nullptr && ports_->open(udp.dst_port))
      return shard_.drop(m, c.udp_other_shard);
    // RFC 1122 4.1.3.1: port unreachable, when nothing listens.
    shard_.send_icmp_error(m, ip, wire::kIcmpDestUnreachable, wire::kIcmpPortUnreachable,
                           link_group);
    return shard_.drop(m, c.udp_no_port);
  }
  deliver(*s, m, ip, udp.src_port, ip.header_len + static_cast<uint32_t>(wire::kUdpHeaderLen),
          udp.length - static_cast<uint32_t>(wire::kUdpHeaderLen));
}

void Udp::deliver(UdpSocket &s, rte_mbuf *m, const wire::Ipv4Repr &ip, uint16_t src_port,
                  uint32_t payload_off, uint32_t payload_len) {
  ShardCounters &c = shard_.counters_;
  if (!s.receive_fn_) {
    if (s.queue_.full())
      return shard_.drop(m, c.udp_receive_queue_drops);
    // The UDP header lies in the first segment (a first fragment carries at
    // least 8 bytes of payload).
    if (rte_pktmbuf_adj(m, static_cast<uint16_t>(payload_off)) == nullptr)
      return shard_.drop(m, c.udp_bad_length);
    s.queue_.push_back({m, ip.src, src_port});
    c.udp_datagrams_in.add();
    return;
  }
  c.udp_datagrams_in.add();
  UdpDatagram d;
  d.remote = ip.src;
  d.remote_port = src_port;
  d.local_port = s.local_port();
  if (payload_len != 0) {
    if (rte_pktmbuf_data_len(m) >= payload_off + payload_len) {
      d.payload = {rte_pktmbuf_mtod_offset(m, const uint8_t *, payload_off), payload_len};
    } else {
      scratch_.resize(payload_len);
      const void *p = rte_pktmbuf_read(m, payload_off, payload_len, scratch_.data());
      d.payload = {static_cast<const uint8_t *>(p), payload_len};
    }
  }
  // The callback may send, or close the socket (freed once it returns).
  callback_depth_++;
  s.receive_fn_(s, d);
  if (--callback_depth_ == 0)
    closed_.clear();
  rte_pktmbuf_free(m);
}

void Udp::icmp_error(const wire::IcmpErrorRepr &e) {
  ShardCounters &c = shard_.counters_;
  uint16_t src_port = 0, dst_port = 0;
  if (e.quoted_payload.size() >= 4) {
    src_port = wire::load_be16(e.quoted_payload.data());
    dst_port = wire::load_be16(e.quoted_payload.data() + 2);
  }
  UdpSocket *s = e.quoted_src == shard_.p_.address ? find(src_port) : nullptr;
  if (s == nullptr)
    return shard_.count_drop(c.icmp_errors_unmatched);
  const int err = icmp_error_errno(e.type, e.code);
  if (!s->connected() || err == 0)
    return shard_.count_drop(c.icmp_errors_unreported);
  if (s->remote_ != e.quoted_dst || s->remote_port_ != dst_port)
    return shard_.count_drop(c.icmp_errors_unmatched); // an earlier remote's, or not ours
  c.icmp_errors_reported.add();
  s->error_ = err;
  if (s->error_fn_) {
    s->error_ = 0; // handed over: not also left for take_error()
    callback_depth_++;
    s->error_fn_(*s, err);
    if (--callback_depth_ == 0)
      closed_.clear();
  }
}

namespace {
constexpr uint32_t kHeaders = wire::kIpv4MinHeaderLen + wire::kUdpHeaderLen;
} // namespace

int Udp::check_destination(wire::Ipv4Addr dst, uint16_t dst_port) {
  if (dst_port == 0 || dst.is_unspecified() || dst.is_broadcast() || dst.is_multicast() ||
      dst.is_loopback()) {
    shard_.counters_.udp_send_failures.add();
    return EINVAL;
  }
  return 0;
}

size_t Udp::max_reserve() const {
  // The room of a fresh buffer of the pool: its data room less headroom.
  const uint32_t room = rte_pktmbuf_data_room_size(shard_.pool_);
  return room > RTE_PKTMBUF_HEADROOM + kHeaders ? room - RTE_PKTMBUF_HEADROOM - kHeaders : 0;
}

UdpSendBuffer Udp::reserve(size_t n) {
  ShardCounters &c = shard_.counters_;
  UdpSendBuffer b;
  if (n > max_reserve()) {
    c.udp_send_failures.add();
    return b;
  }
  rte_mbuf *m = rte_pktmbuf_alloc(shard_.pool_);
  if (m == nullptr) {
    c.udp_send_failures.add();
    c.alloc_failures.add();
    return b;
  }
  auto *p = reinterpret_cast<uint8_t *>(rte_pktmbuf_append(m, static_cast<uint16_t>(kHeaders + n)));
  b.m_ = m;
  b.data_ = {p + kHeaders, n};
  return b;
}

int Udp::send_reserved(UdpSocket &s, UdpSendBuffer &b, size_t len, wire::Ipv4Addr dst,
                       uint16_t dst_port) {
  if (!b || len > b.data_.size()) {
    b.reset();
    shard_.counters_.udp_send_failures.add();
    return EINVAL;
  }
  if (const int e = check_destination(dst, dst_port); e != 0) {
    b.reset();
    return e;
  }
  rte_mbuf *head = std::exchange(b.m_, nullptr);
  b.data_ = {};
  rte_pktmbuf_trim(head, static_cast<uint16_t>(rte_pktmbuf_data_len(head) - kHeaders - len));
  return transmit(s, dst, dst_port, head, len);
}

int Udp::send_to(UdpSocket &s, wire::Ipv4Addr dst, uint16_t dst_port,
                 std::span<const uint8_t> payload) {
  ShardCounters &c = shard_.counters_;
  if (payload.size() > wire::kUdpMaxPayload) {
    c.udp_send_failures.add();
    return EMSGSIZE;
  }
  if (const int e = check_destination(dst, dst_port); e != 0)
    return e;
  rte_mempool *pool = shard_.pool_;
  rte_mbuf *head = rte_pktmbuf_alloc(pool);
  if (head == nullptr) {
    c.udp_send_failures.add();
    c.alloc_failures.add();
    return ENOBUFS;
  }
  // Headers and as much data as fits in the first buffer, then more buffers.
  rte_pktmbuf_append(head, kHeaders);
  size_t off = 0;
  rte_mbuf *last = head;
  while (true) {
    const auto room = static_cast<size_t>(rte_pktmbuf_tailroom(last));
    const size_t n = std::min(room, payload.size() - off);
    if (n != 0) {
      char *p = rte_pktmbuf_append(last, static_cast<uint16_t>(n));
      std::memcpy(p, payload.data() + off, n);
      off += n;
      if (last != head)
        head->pkt_len += static_cast<uint32_t>(n);
    }
    if (off == payload.size())
      break;
    rte_mbuf *next = rte_pktmbuf_alloc(pool);
    if (next == nullptr) {
      rte_pktmbuf_free(head);
      c.udp_send_failures.add();
      c.alloc_failures.add();
      return ENOBUFS;
    }
    last->next = next;
    head->nb_segs++;
    last = next;
  }
  return transmit(s, dst, dst_port, head, payload.size());
}

int Udp::transmit(UdpSocket &s, wire::Ipv4Addr dst, uint16_t dst_port, rte_mbuf *head,
                  size_t payload_size) {
  ShardCounters &c = shard_.counters_;
  uint8_t *h = rte_pktmbuf_mtod(head, uint8_t *);
  const auto udp_len = static_cast<uint16_t>(wire::kUdpHeaderLen + payload_size);
  wire::UdpRepr u;
  u.src_port = s.local_port();
  u.dst_port = dst_port;
  u.length = udp_len;
  uint8_t *uh = h + wire::kIpv4MinHeaderLen;
  wire::emit_udp_header(u, {uh, wire::kUdpHeaderLen});

  wire::Ipv4Repr ip;
  ip.src = shard_.p_.address;
  ip.dst = dst;
  ip.protocol = wire::kIpProtoUdp;
  ip.ttl = 64;
  ip.ident = shard_.ip_ident_++;
  ip.dont_fragment = false; // the shard fragments what exceeds the MTU
  ip.payload_len = udp_len;
  const dpdk::Offloads &o = shard_.p_.offloads;
  wire::emit_ipv4(ip, {h, wire::kIpv4MinHeaderLen}, !o.tx_ipv4_cksum);
  head->ol_flags = o.tx_ipv4_cksum ? (RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM) : 0;
  head->l3_len = wire::kIpv4MinHeaderLen;
  const uint16_t mtu = shard_.p_.mtu != 0 ? shard_.p_.mtu : 1500;
  const bool fits = rte_pktmbuf_pkt_len(head) <= mtu;
  if (head->nb_segs != 1 && fits && !o.tx_multi_segs && rte_pktmbuf_linearize(head) != 0) {
    rte_pktmbuf_free(head);
    c.udp_send_failures.add();
    return ENOBUFS;
  }

  // The UDP checksum: left to the NIC (pseudo-header sum in the field) as
  // the TCP engine does, for a datagram that leaves whole in one buffer (a
  // fragmented one is checked by the receiver only once reassembled, and
  // net_tap mis-sums chains); else summed here over the pieces.
  if (fits && head->nb_segs == 1 && o.tx_udp_cksum && o.tx_ipv4_cksum) {
    const uint16_t phdr =
        rte_ipv4_phdr_cksum(reinterpret_cast<const rte_ipv4_hdr *>(h), RTE_MBUF_F_TX_IPV4);
    std::memcpy(uh + wire::udp_field::kChecksum, &phdr, sizeof phdr);
    head->ol_flags |= RTE_MBUF_F_TX_UDP_CKSUM;
    head->l4_len = wire::kUdpHeaderLen;
  } else {
    std::array<std::span<const uint8_t>, 64> small;
    std::vector<std::span<const uint8_t>> big;
    std::span<std::span<const uint8_t>> pieces;
    if (head->nb_segs <= small.size()) {
      pieces = {small.data(), head->nb_segs};
    } else {
      big.resize(head->nb_segs);
      pieces = big;
    }
    size_t k = 0;
    pieces[k++] = {uh, rte_pktmbuf_data_len(head) - wire::kIpv4MinHeaderLen};
    for (const rte_mbuf *seg = head->next; seg != nullptr; seg = seg->next)
      pieces[k++] = {rte_pktmbuf_mtod(seg, const uint8_t *), rte_pktmbuf_data_len(seg)};
    wire::store_be16(uh + wire::udp_field::kChecksum,
                     wire::udp_checksum(shard_.p_.address, dst, pieces.first(k)));
  }
  c.udp_datagrams_out.add();
  shard_.transmit_ipv4_fragmenting(head, dst);
  return 0;
}

} // namespace shoal::shard
