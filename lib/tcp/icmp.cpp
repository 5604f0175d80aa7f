// ICMP errors about our segments (RFC 1122 3.2.2.1, 4.2.3.9; RFC 5927's
// checks) and path-MTU discovery (RFC 1191): engine.hpp, Engine::icmp_error.
#include <algorithm>

#include "tcp/engine_impl.hpp"
#include "wire/icmp.hpp"
#include "wire/tcp.hpp"

namespace shoal::tcp {

namespace {
// Linux's net.ipv4.route.min_pmtu and mtu_expires.
constexpr uint16_t kMinPathMtu = 552;
constexpr Duration kPathMtuExpiry = std::chrono::minutes(10);
constexpr size_t kMaxPathMtus = 4096;
constexpr uint16_t kIpTcpHeaders = 40;
} // namespace

uint16_t Engine::Impl::mss_for_mtu(const Connection &c, uint16_t mtu) {
  uint16_t mss = static_cast<uint16_t>(mtu - kIpTcpHeaders);
  if (c.ts_ok_)
    mss = static_cast<uint16_t>(mss - wire::kTcpTimestampOptionSpace);
  return mss;
}

uint16_t Engine::Impl::path_mtu(wire::Ipv4Addr dst) const {
  auto it = path_mtus.find(dst.v);
  if (it == path_mtus.end() || it->second.expires <= now)
    return 0;
  return it->second.mtu;
}

void Engine::Impl::icmp_error(const IcmpError &e, Instant t) {
  Entry guard(*this);
  now = std::max(now, t);
  count(*this, Counter::icmp_errors_in);
  const FourTuple tuple{e.src, e.dst, e.src_port, e.dst_port};
  Connection *c = find_connection(tuple);
  if (c == nullptr || c->dead_) {
    count(*this, Counter::icmp_no_connection);
    return;
  }
  // RFC 5927 4.1: the quoted sequence number must be one we sent and that
  // is not acknowledged yet; anyone can forge the rest of an ICMP error.
  const Seq seq{e.seq};
  const bool in_flight = (c->state_ == State::syn_sent || c->state_ == State::syn_received)
                             ? seq == c->iss_
                             : seq_le(c->snd_una_, seq) && seq_lt(seq, c->snd_max_);
  if (!in_flight) {
    count(*this, Counter::icmp_out_of_window);
    return;
  }
  if (e.type == wire::kIcmpDestUnreachable && e.code == wire::kIcmpFragmentationNeeded) {
    if (e.next_hop_mtu == 0) {
      count(*this, Counter::pmtu_ignored); // RFC 1191's old routers: no MTU to go by
      return;
    }
    const uint16_t mtu = std::max(e.next_hop_mtu, kMinPathMtu);
    const uint16_t mss = mss_for_mtu(*c, mtu);
    if (mss >= c->snd_mss_) {
      count(*this, Counter::pmtu_ignored);
      return;
    }
    if (path_mtus.size() >= kMaxPathMtus)
      std::erase_if(path_mtus, [&](const auto &kv) { return kv.second.expires <= now; });
    if (path_mtus.size() < kMaxPathMtus)
      path_mtus[e.dst.v] = PathMtu{mtu, now + kPathMtuExpiry};
    count(*this, Counter::pmtu_reductions);
    c->snd_mss_ = mss;
    // What was sent at the old size is lost at the router: send it again
    // at the new one, now, without a congestion response (the path's size
    // changed, not its load; as Linux's tcp_simple_retransmit).
    if (seq_lt(c->snd_una_, c->snd_max_) && c->state_ != State::syn_sent &&
        c->state_ != State::syn_received) {
      c->snd_nxt_ = c->snd_una_;
      c->rtt_timing_ = false; // Karn: these are retransmissions
      output(*c);
    }
    return;
  }
  const bool hard =
      e.type == wire::kIcmpDestUnreachable &&
      (e.code == wire::kIcmpProtocolUnreachable || e.code == wire::kIcmpPortUnreachable);
  if (hard && c->state_ == State::syn_sent) {
    // RFC 1122 4.2.3.9: protocol and port unreachable are hard errors; a
    // connect ends at once, as Linux reports ECONNREFUSED.
    count(*this, Counter::icmp_hard_errors);
    close_connection(*c, CloseReason::refused);
    return;
  }
  // Soft errors: the connection goes on; in SYN-SENT the error explains a
  // later timeout.
  count(*this, Counter::icmp_soft_errors);
  if (c->state_ == State::syn_sent && e.type == wire::kIcmpDestUnreachable)
    unreachable_syns.insert(c->pool_index_);
}

} // namespace shoal::tcp
