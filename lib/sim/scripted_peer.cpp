#include "sim/scripted_peer.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "sim/parsed_segment.hpp"
#include "tcp/mbuf_offload.hpp"

namespace shoal::sim {

// The engine's PacketOutput: every datagram it emits is copied out, traced
// ("E>P") and queued for expect(); the mbuf is freed at once.
class ScriptedPeer::Capture final : public tcp::PacketOutput {
public:
  explicit Capture(ScriptedPeer &peer) : peer_(peer) {}
  void transmit(tcp::PacketBuf m, tcp::TxOffload offload) override {
    tcp::set_tx_offload(m.mbuf(), offload);
    peer_.on_emit(m.mbuf());
  }

private:
  ScriptedPeer &peer_;
};

namespace {
constexpr Direction kEngineToPeer = Direction::a_to_b;
constexpr Direction kPeerToEngine = Direction::b_to_a;
} // namespace

ScriptedPeer::ScriptedPeer(const PeerConfig &config)
    : start_(config.start), now_(config.start), pool_(config.pool),
      trace_(config.start, {"E", "P"}), on_failure_(config.on_failure),
      out_(std::make_unique<Capture>(*this)) {
  tcp::EngineConfig ec = config.engine;
  if (ec.local_address.is_unspecified())
    ec.local_address = kAddressA;
  if (!ec.secret_seed)
    ec.secret_seed = 1;
  defaults_.src = config.peer_address;
  defaults_.dst = ec.local_address;
  defaults_.src_port = config.peer_port;
  defaults_.dst_port = config.engine_port;
  engine_ = std::make_unique<tcp::Engine>(ec, pool_, *out_, now_);
  engine_->set_drop_hook([this](tcp::Counter why, uint64_t n, const tcp::FourTuple *t) {
    drops_.insert(drops_.end(), n, why);
    std::string text = std::string("dropped: ") + tcp::counter_name(why);
    if (n > 1)
      text += " (" + std::to_string(n) + ")";
    if (t != nullptr)
      text += " [" + t->remote_addr.to_string() + ":" + std::to_string(t->remote_port) + " > " +
              t->local_addr.to_string() + ":" + std::to_string(t->local_port) + "]";
    trace_.note(now_, std::move(text));
  });
}

ScriptedPeer::~ScriptedPeer() {
  engine_.reset(); // may not emit; if it did, on_emit copies and frees
}

void ScriptedPeer::on_emit(rte_mbuf *m) {
  Emitted e;
  e.at = now_;
  e.bytes.resize(m->pkt_len);
  uint32_t off = 0;
  for (const rte_mbuf *seg = m; seg != nullptr; seg = seg->next) {
    std::memcpy(e.bytes.data() + off, rte_pktmbuf_mtod(seg, const uint8_t *), seg->data_len);
    off += seg->data_len;
  }
  rte_pktmbuf_free(m);
  trace_.add_segment(now_, kEngineToPeer, e.bytes);
  const ParsedSegment p = parse_segment(e.bytes);
  if (!isn_ && p.has(wire::tcp_flags::SYN))
    isn_ = p.tcp.seq;
  queue_.push_back(std::move(e));
}

void ScriptedPeer::run_timers_until(Instant t, bool stop_on_output) {
  Duration nudge = 1us;
  while (!(stop_on_output && !queue_.empty())) {
    const std::optional<Instant> next = engine_->next_timer();
    if (!next)
      break;
    Instant when = std::max(*next, now_);
    if (advanced_at_ && when <= *advanced_at_) {
      // advance() there did not fire it (tick-granular lower bound): step on.
      when = *advanced_at_ + nudge;
      nudge = std::min<Duration>(nudge * 2, 1ms);
    } else {
      nudge = 1us;
    }
    if (when > t)
      break;
    now_ = when;
    engine_->advance(now_);
    advanced_at_ = now_;
  }
  if (!(stop_on_output && !queue_.empty()))
    now_ = std::max(now_, t);
}

ScriptedPeer &ScriptedPeer::at(Duration since_start) {
  const Instant t = start_ + since_start;
  if (t < now_)
    fail("at(" + trace_.format_time(t) + "): the clock is already at " + trace_.format_time(now_));
  run_timers_until(t, false);
  return *this;
}

ScriptedPeer &ScriptedPeer::inject(const Seg &seg) {
  return inject_bytes(seg.build(defaults_));
}

ScriptedPeer &ScriptedPeer::inject_bytes(std::span<const uint8_t> datagram) {
  trace_.add_segment(now_, kPeerToEngine, datagram);
  rte_mbuf *m = rte_pktmbuf_alloc(pool_);
  char *dst =
      m != nullptr ? rte_pktmbuf_append(m, static_cast<uint16_t>(datagram.size())) : nullptr;
  if (dst == nullptr) {
    if (m != nullptr)
      rte_pktmbuf_free(m);
    fail("inject: no mbuf for the segment (pool empty or segment too large)");
    return *this;
  }
  std::memcpy(dst, datagram.data(), datagram.size());
  advanced_at_.reset();
  engine_->input_ipv4(m, tcp::RxChecksum{}, now_);
  return *this;
}

void ScriptedPeer::fail(const std::string &what) {
  ++failures_;
  std::string msg =
      what + "\ntrace so far (E = engine under test, P = scripted peer):\n" + trace_.format();
  if (on_failure_)
    on_failure_(msg);
  else
    std::fprintf(stderr, "scripted peer: %s\n", msg.c_str());
}

std::optional<Captured> ScriptedPeer::check(const Emitted &e, const Seg &pattern,
                                            const std::string &extra) {
  const ParsedSegment p = parse_segment(e.bytes);
  std::string why;
  if (!pattern.matches(p, &why)) {
    fail("expected: " + pattern.describe() + "\n     got: " + trace_.format_time(e.at) + " " +
         format_segment(p) + "\n    diff: " + why + extra);
    return std::nullopt;
  }
  Captured c;
  c.at = e.at;
  c.ip = p.ip;
  c.tcp = p.tcp;
  c.payload.assign(p.payload.begin(), p.payload.end());
  return c;
}

std::optional<Captured> ScriptedPeer::expect(const Seg &pattern) {
  if (queue_.empty()) {
    fail("expected: " + pattern.describe() + "\n     got: nothing (at " + trace_.format_time(now_) +
         ")");
    return std::nullopt;
  }
  Emitted e = std::move(queue_.front());
  queue_.pop_front();
  return check(e, pattern, "");
}

std::optional<Captured> ScriptedPeer::expect_at_about(Duration since_start, Duration tolerance,
                                                      const Seg &pattern) {
  const Instant want = start_ + since_start;
  if (queue_.empty())
    run_timers_until(want + tolerance, true);
  if (queue_.empty()) {
    fail("expected at " + trace_.format_time(want) + " +- " +
         std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(tolerance).count()) +
         "us: " + pattern.describe() + "\n     got: nothing by " + trace_.format_time(now_));
    return std::nullopt;
  }
  Emitted e = std::move(queue_.front());
  queue_.pop_front();
  auto c = check(e, pattern, "");
  if (e.at < want - tolerance || e.at > want + tolerance) {
    fail("expected at " + trace_.format_time(want) + " +- " +
         std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(tolerance).count()) +
         "us: " + pattern.describe() + "\n     got it at " + trace_.format_time(e.at) + ": " +
         format_segment(parse_segment(e.bytes)));
    return std::nullopt;
  }
  return c;
}

bool ScriptedPeer::expect_nothing() {
  if (queue_.empty())
    return true;
  std::string got;
  for (const auto &e : queue_)
    got += "\n          " + trace_.format_time(e.at) + " " + format_segment(parse_segment(e.bytes));
  fail("expected nothing emitted (at " + trace_.format_time(now_) + "), got:" + got);
  queue_.clear();
  return false;
}

bool ScriptedPeer::expect_nothing_until(Duration since_start) {
  if (!expect_nothing())
    return false;
  const Instant t = start_ + since_start;
  run_timers_until(t, true);
  if (!queue_.empty()) {
    const Emitted &e = queue_.front();
    fail("expected nothing until " + trace_.format_time(t) + ", got at " +
         trace_.format_time(e.at) + ": " + format_segment(parse_segment(e.bytes)));
    queue_.clear();
    // Keep the clock where the caller asked for, as if it had been quiet.
    run_timers_until(t, false);
    queue_.clear();
    return false;
  }
  return true;
}

} // namespace shoal::sim
