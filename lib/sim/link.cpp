#include "sim/link.hpp"

#include <algorithm>
#include <cstring>
#include <span>

#include "wire/checksum.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace shoal::sim {

std::string LinkStats::to_string() const {
  std::string s;
#define SHOAL_SIM_X_PRINT(name)                                                                    \
  if (!s.empty())                                                                                  \
    s += ' ';                                                                                      \
  s += #name "=" + std::to_string(name);
  SHOAL_SIM_LINK_COUNTERS(SHOAL_SIM_X_PRINT)
#undef SHOAL_SIM_X_PRINT
  return s;
}

Link::Link(const LinkConfig &config, uint64_t seed, rte_mempool *rx_pool, Trace *trace,
           Direction dir)
    : config_(config), rng_(seed), rx_pool_(rx_pool), trace_(trace), dir_(dir) {}

Link::~Link() {
  for (auto &[key, m] : in_flight_)
    rte_pktmbuf_free(m);
}

double Link::uniform() {
  // 53 random bits -> [0, 1): the same on every platform, unlike
  // std::uniform_real_distribution whose algorithm is unspecified.
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

Duration Link::uniform_duration(Duration max) {
  const uint64_t r = rng_(); // always drawn: the stream must not depend on the config
  if (max.count() <= 0)
    return Duration{0};
  return Duration{static_cast<int64_t>(r % (static_cast<uint64_t>(max.count()) + 1))};
}

rte_mbuf *Link::copy_for_receiver(const rte_mbuf *m) const {
  rte_mempool *pool = rx_pool_ != nullptr ? rx_pool_ : m->pool;
  rte_mbuf *c = rte_pktmbuf_alloc(pool);
  if (c == nullptr)
    return nullptr;
  if (m->pkt_len > rte_pktmbuf_tailroom(c)) {
    // Larger than one receive buffer: let DPDK chain it, as a NIC with
    // scatter RX would.
    rte_pktmbuf_free(c);
    return rte_pktmbuf_copy(m, pool, 0, UINT32_MAX);
  }
  auto *dst = rte_pktmbuf_mtod(c, uint8_t *);
  uint32_t off = 0;
  for (const rte_mbuf *seg = m; seg != nullptr; seg = seg->next) {
    std::memcpy(dst + off, rte_pktmbuf_mtod(seg, const uint8_t *), seg->data_len);
    off += seg->data_len;
  }
  c->data_len = static_cast<uint16_t>(off);
  c->pkt_len = off;
  return c;
}

// LinkConfig::chain_piece: the same bytes as a chain of small mbufs. On an
// allocation failure the contiguous copy is delivered as it is.
rte_mbuf *Link::as_chain(rte_mbuf *c) const {
  constexpr uint32_t kHead = 50;
  if (config_.chain_piece == 0 || c->nb_segs != 1 || c->pkt_len <= kHead)
    return c;
  rte_mbuf *head = nullptr;
  const auto *src = rte_pktmbuf_mtod(c, const uint8_t *);
  for (uint32_t off = 0; off < c->pkt_len;) {
    const uint32_t n = std::min<uint32_t>(off == 0 ? kHead : config_.chain_piece, c->pkt_len - off);
    rte_mbuf *m = rte_pktmbuf_alloc(c->pool);
    void *dst = m != nullptr ? rte_pktmbuf_append(m, static_cast<uint16_t>(n)) : nullptr;
    if (dst == nullptr || (head != nullptr && rte_pktmbuf_chain(head, m) != 0)) {
      rte_pktmbuf_free(m);
      rte_pktmbuf_free(head);
      return c;
    }
    std::memcpy(dst, src + off, n);
    if (head == nullptr)
      head = m;
    off += n;
  }
  rte_pktmbuf_free(c);
  return head;
}

void Link::schedule(rte_mbuf *copy, Instant arrives) {
  copy = as_chain(copy);
  in_flight_.emplace(std::make_pair(arrives, next_order_++), copy);
  ++stats_.delivered;
}

namespace {

// What the NIC does for RTE_MBUF_F_TX_IP_CKSUM / RTE_MBUF_F_TX_TCP_CKSUM: the
// sender left the IPv4 checksum 0 and the TCP checksum holding the
// pseudo-header sum; fill in the real ones. `bytes` is a linear copy.
void complete_tx_checksums(std::span<uint8_t> bytes, uint64_t ol_flags) {
  if (bytes.size() < wire::kIpv4MinHeaderLen)
    return;
  const size_t ihl = static_cast<size_t>(bytes[0] & 0x0f) * 4;
  if (ihl < wire::kIpv4MinHeaderLen || ihl > bytes.size())
    return;
  if (ol_flags & RTE_MBUF_F_TX_IP_CKSUM) {
    bytes[wire::ipv4_field::kChecksum] = 0;
    bytes[wire::ipv4_field::kChecksum + 1] = 0;
    const uint16_t c = wire::ipv4_header_checksum(bytes.first(ihl));
    bytes[wire::ipv4_field::kChecksum] = static_cast<uint8_t>(c >> 8);
    bytes[wire::ipv4_field::kChecksum + 1] = static_cast<uint8_t>(c);
  }
  if ((ol_flags & RTE_MBUF_F_TX_L4_MASK) == RTE_MBUF_F_TX_TCP_CKSUM) {
    const size_t total = (size_t{bytes[2]} << 8) | bytes[3];
    if (total < ihl + wire::kTcpMinHeaderLen || total > bytes.size())
      return;
    auto segment = bytes.subspan(ihl, total - ihl);
    const auto src = wire::Ipv4Addr::from_bytes(&bytes[wire::ipv4_field::kSrc]);
    const auto dst = wire::Ipv4Addr::from_bytes(&bytes[wire::ipv4_field::kDst]);
    wire::set_tcp_checksum(segment, 0);
    wire::set_tcp_checksum(segment, wire::tcp_checksum(src, dst, segment));
  }
}

} // namespace

void Link::send(rte_mbuf *m, Instant now) {
  const uint64_t index = next_index_++;
  ++stats_.sent;

  // Every random decision is drawn here, always in this order and always
  // all of them, so the stream stays aligned with the datagram index.
  const double r_loss = uniform();
  const double r_corrupt = uniform();
  const double r_reorder = uniform();
  const double r_dup = uniform();
  const Duration jitter = uniform_duration(config_.jitter);
  const Duration dup_jitter = uniform_duration(config_.jitter);
  const uint64_t r_bit = rng_();

  rte_mbuf *copy = copy_for_receiver(m);
  const uint32_t len = m->pkt_len;
  const uint64_t tx_offloads = m->ol_flags;
  rte_pktmbuf_free(m); // tx completion: the sender's references are released now
  m = nullptr;

  std::span<uint8_t> bytes;
  if (copy != nullptr && copy->nb_segs == 1) {
    bytes = {rte_pktmbuf_mtod(copy, uint8_t *), copy->data_len};
    complete_tx_checksums(bytes, tx_offloads);
  }
  // Note: a chained copy (larger than a receive buffer) is neither offload-
  // completed, traced byte-wise nor corruptible; the engine never sends one
  // with the default MTU.
  const ParsedSegment seg = parse_segment(bytes);
  if (copy != nullptr && !seg.ok())
    ++stats_.malformed;

  TraceEntry *entry = nullptr;
  if (trace_ != nullptr && trace_->enabled())
    entry = &trace_->add_segment(now, dir_, bytes);
  auto drop = [&](Fate fate, uint64_t &counter) {
    ++counter;
    if (entry != nullptr)
      entry->fate = fate;
    if (copy != nullptr)
      rte_pktmbuf_free(copy);
  };

  if (copy == nullptr) {
    drop(Fate::no_mbuf, stats_.no_mbuf);
    return;
  }
  if (filter_ && filter_(LinkPacket{index, now, seg})) {
    drop(Fate::filtered, stats_.filtered);
    return;
  }
  if (r_loss < config_.loss) {
    drop(Fate::lost, stats_.lost);
    return;
  }

  // Serialisation behind a bandwidth limit: a FIFO that drains at
  // bandwidth_bps; queue_limit datagrams may wait, the next is tail-dropped.
  Instant departs = now;
  if (config_.bandwidth_bps > 0) {
    while (!tx_done_.empty() && tx_done_.front() <= now)
      tx_done_.pop_front();
    if (config_.queue_limit > 0 && tx_done_.size() >= config_.queue_limit) {
      drop(Fate::queue_full, stats_.queue_full);
      return;
    }
    const auto tx_ns =
        static_cast<int64_t>(uint64_t{len} * 8 * 1'000'000'000 / config_.bandwidth_bps);
    departs = std::max(now, busy_until_) + Duration{tx_ns};
    busy_until_ = departs;
    tx_done_.push_back(departs);
  }

  Instant arrives = departs + config_.delay + jitter;
  const bool reordered = r_reorder < config_.reorder;
  if (reordered) {
    arrives += config_.reorder_delay;
    ++stats_.reordered;
  }

  const bool duplicated = r_dup < config_.duplicate;
  if (duplicated) {
    rte_mbuf *dup = copy_for_receiver(copy);
    if (dup != nullptr) {
      ++stats_.duplicated;
      schedule(dup, departs + config_.delay + dup_jitter);
    } else {
      ++stats_.no_mbuf;
    }
  }

  const bool corrupted = r_corrupt < config_.corrupt && !bytes.empty();
  uint32_t bit = 0;
  if (corrupted) {
    bit = static_cast<uint32_t>(r_bit % (uint64_t{bytes.size()} * 8));
    bytes[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    ++stats_.corrupted;
  }
  if (entry != nullptr) {
    // Jitter alone can reorder too: say so when this one passes another.
    entry->overtakes = !in_flight_.empty() && in_flight_.rbegin()->first.first > arrives;
    entry->fate = Fate::delivered;
    entry->arrives = arrives;
    entry->reordered = reordered;
    entry->duplicated = duplicated;
    entry->corrupted = corrupted;
    entry->corrupt_bit = bit;
  }
  schedule(copy, arrives);
}

std::optional<Instant> Link::next_delivery() const {
  if (in_flight_.empty())
    return std::nullopt;
  return in_flight_.begin()->first.first;
}

rte_mbuf *Link::pop_due(Instant now) {
  if (in_flight_.empty())
    return nullptr;
  auto it = in_flight_.begin();
  if (it->first.first > now)
    return nullptr;
  rte_mbuf *m = it->second;
  in_flight_.erase(it);
  return m;
}

namespace drop {

DropFilter nth(uint64_t index) {
  return [index](const LinkPacket &p) { return p.index == index; };
}

DropFilter first(std::function<bool(const ParsedSegment &)> pred, unsigned count) {
  return [pred = std::move(pred), left = count](const LinkPacket &p) mutable {
    if (left == 0 || !pred(p.segment))
      return false;
    --left;
    return true;
  };
}

DropFilter first_flags(uint8_t flags, unsigned count) {
  return first(
      [flags](const ParsedSegment &s) {
        return s.ok() && (s.tcp.flags & ~wire::tcp_flags::PSH) == flags;
      },
      count);
}

DropFilter all() {
  return [](const LinkPacket &) { return true; };
}

} // namespace drop

} // namespace shoal::sim
