// SYN option negotiation: MSS (RFC 9293 3.7.1), window scale and timestamps
// (RFC 7323), SACK-permitted (RFC 2018).
#include <algorithm>

#include "tcp/engine_impl.hpp"

namespace shoal::tcp {

namespace {
constexpr uint16_t kDefaultMss = 536;   // RFC 9293 3.7.1: when the peer sends no MSS option
constexpr uint8_t kMaxWindowScale = 14; // RFC 7323 2.3
constexpr uint16_t kMinMss = 64;        // floor against absurd peer values
} // namespace

uint8_t Engine::Impl::our_window_scale() const {
  // The smallest shift that lets the 16-bit field cover the whole buffer.
  uint8_t s = 0;
  while (s < kMaxWindowScale && (cfg.rcv_buf >> s) > 65535)
    ++s;
  return s;
}

void Engine::Impl::syn_options(const Connection &c, wire::TcpOptions &o) const {
  o.mss = c.rcv_mss_; // announced_mss(): set when the connection was made
  if (c.state_ == State::syn_sent) {
    // Active open: offer everything configured.
    if (cfg.window_scaling)
      o.window_scale = c.rcv_wscale_;
    o.sack_permitted = cfg.sack;
    if (cfg.timestamps)
      o.timestamp = wire::TcpTimestamp{tsval(c.ts_offset_), 0};
  } else {
    // SYN-ACK: only what the peer offered (RFC 7323 2.2, 3.2; RFC 2018 2).
    if (c.ws_ok_)
      o.window_scale = c.rcv_wscale_;
    o.sack_permitted = c.sack_ok_;
    if (c.ts_ok_)
      o.timestamp = wire::TcpTimestamp{tsval(c.ts_offset_), c.ts_recent_};
  }
}

void Engine::Impl::negotiate(Connection &c, const wire::TcpOptions &peer) {
  // MSS: "the peer's MSS caps what we send; 536 when absent". What we
  // announce (rcv_mss_, announced_mss(): the MTU's, or lower with a
  // TCP_MAXSEG clamp) caps it too, as Linux's mss_clamp takes the smaller
  // of user_mss and the peer's MSS.
  uint16_t peer_mss = peer.mss.value_or(kDefaultMss);
  peer_mss = std::max(peer_mss, kMinMss);
  c.snd_mss_ = std::min(peer_mss, c.rcv_mss_);
  // Both sides must offer window scaling for either to use it (RFC 7323 2.2).
  c.ws_ok_ = cfg.window_scaling && peer.window_scale.has_value();
  if (c.ws_ok_) {
    // RFC 7323 2.3: a shift above 14 is used as 14 (and should be logged).
    c.snd_wscale_ = std::min<uint8_t>(*peer.window_scale, kMaxWindowScale);
    c.rcv_wscale_ = our_window_scale();
  } else {
    c.snd_wscale_ = 0;
    c.rcv_wscale_ = 0;
  }
  c.sack_ok_ = cfg.sack && peer.sack_permitted;
  c.ts_ok_ = cfg.timestamps && peer.timestamp.has_value();
  // RFC 9293 3.7.1: the payload shrinks by the options every segment carries.
  if (c.ts_ok_ && c.snd_mss_ > kMinMss + wire::kTcpTimestampOptionSpace)
    c.snd_mss_ = static_cast<uint16_t>(c.snd_mss_ - wire::kTcpTimestampOptionSpace);
  // A path MTU learnt from "fragmentation needed" (RFC 1191) caps it too.
  if (const uint16_t mtu = path_mtu(c.tuple_.remote_addr); mtu != 0)
    c.snd_mss_ = std::min(c.snd_mss_, mss_for_mtu(c, mtu));
}

} // namespace shoal::tcp
