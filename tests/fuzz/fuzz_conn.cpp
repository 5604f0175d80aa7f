// libFuzzer target 3: one connection fed arbitrary segment sequences on a
// virtual clock (input format: conn_records.hpp).
//
// The engine runs inside the scripted-peer harness (lib/sim/scripted_peer):
// the preamble sets the connection up (passive or active open, which options
// the peer offers, buffer sizes), then each record moves the virtual clock
// (the engine's timers run on the way: RTO, delayed ACK, persist, keepalive,
// FIN_WAIT_2, 2MSL), lets the application act (consume, write, shutdown,
// close, abort), and injects one segment whose seq/ack are offsets from the
// connection's live RCV.NXT / SND.UNA.
//
// After every step: the state is one of RFC 9293's and agrees with the
// engine's view of the tuple, the sequence variables are ordered
// (SND.UNA <= SND.NXT <= SND.MAX), buffered bytes stay within the buffers,
// the per-state gauge matches the live connections, challenge ACKs respect
// their rate limit, and mbufs in use stay bounded. After the input: the
// engine is destroyed and the mempool must be back to its starting count.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <rte_mempool.h>

#include "conn_records.hpp"
#include "eal_env.hpp"
#include "fuzz_check.hpp"
#include "sim/scripted_peer.hpp"
#include "sim/segment_builder.hpp"
#include "tcp/connection.hpp"
#include "tcp/counters.hpp"
#include "tcp/engine.hpp"
#include "tcp/inspect.hpp"
#include "tcp/seq.hpp"
#include "tcp/state.hpp"
#include "wire/tcp.hpp"

namespace {

using namespace shoal;
using namespace std::chrono_literals;
using shoal::wire::tcp_flags::ACK;
using shoal::wire::tcp_flags::SYN;
using tcp::State;

constexpr unsigned kPoolSize = 4096;
constexpr uint32_t kPeerIsn = 1000000;
constexpr uint32_t kPeerTsStart = 5000;
constexpr uint32_t kChallengeAckLimit = 50; // per second, low enough to be reached

rte_mempool *pool() {
  static rte_mempool *p = test::make_pktmbuf_pool(kPoolSize, 4096 + RTE_PKTMBUF_HEADROOM);
  return p;
}

// The application side: remembers its connection until on_closed.
struct App final : tcp::ConnectionHandler {
  tcp::Connection *conn = nullptr;
  bool closed = false;
  void on_connected(tcp::Connection &c) override {
    conn = &c;
    closed = false;
  }
  void on_closed(tcp::Connection &, tcp::CloseReason) override {
    conn = nullptr;
    closed = true;
  }
};

class Driver {
public:
  Driver(uint8_t setup, uint8_t wscale)
      : setup_(setup), wscale_(static_cast<uint8_t>(wscale & 15)) {
    sim::PeerConfig pc;
    pc.pool = pool();
    pc.engine.max_connections = 8;
    pc.engine.syn_backlog = 4;
    pc.engine.accept_backlog = 4;
    pc.engine.max_time_wait = 16;
    pc.engine.cookie_replay_capacity = 64;
    pc.engine.challenge_ack_limit_per_s = kChallengeAckLimit;
    pc.engine.msl = 5s;
    pc.engine.keepalive_idle = 30s;
    pc.engine.keepalive_interval = 5s;
    pc.engine.keepalive_probes = 3;
    pc.engine.syn_retries = 3;
    pc.engine.synack_retries = 3;
    pc.engine.data_retries = 6;
    if (setup & fuzz::kSetupSmallRcvBuf)
      pc.engine.rcv_buf = 4096;
    pc.engine.snd_buf = 64 * 1024;
    if (setup & fuzz::kSetupNoDelayedAck)
      pc.engine.delayed_ack = 0ms;
    if (setup & fuzz::kSetupCubic)
      pc.engine.congestion_control = "cubic";
    pc.on_failure = [](const std::string &) {}; // the harness' expectations are not used
    peer_.emplace(pc);
    tuple_.local_addr = sim::kAddressA;
    tuple_.remote_addr = pc.peer_address;
    tuple_.local_port = pc.engine_port;
    tuple_.remote_port = pc.peer_port;
  }

  sim::ScriptedPeer &peer() { return *peer_; }

  void open() {
    auto &e = peer_->engine();
    if (setup_ & fuzz::kSetupActive) {
      app_.conn = e.connect(tuple_.remote_addr, tuple_.remote_port, &app_, tuple_.local_port);
      FUZZ_CHECK(app_.conn != nullptr, "connect() failed on an empty engine");
      drain();
      if (setup_ & fuzz::kSetupNoHandshake)
        return;
      inject(syn_options(sim::Seg().flags(SYN | ACK).seq(kPeerIsn).ack(peer_->isn() + 1)));
    } else {
      FUZZ_CHECK(e.listen(tuple_.local_port, [this](tcp::Connection &) { return &app_; }),
                 "listen");
      if (setup_ & fuzz::kSetupNoHandshake)
        return;
      inject(syn_options(sim::Seg().flags(SYN).seq(kPeerIsn)));
      sim::Seg ack = sim::Seg().flags(ACK).seq(kPeerIsn + 1).ack(peer_->isn() + 1);
      if (setup_ & fuzz::kSetupTimestamps)
        ack.ts(peer_ts_, last_ts_val_);
      inject(ack);
    }
  }

  void step(const fuzz::ConnRecord &r) {
    peer_->after(r.delta);
    peer_ts_ += static_cast<uint32_t>(r.delta / 1ms) + 1;
    drain();
    check("after timers");
    act(r);
    drain();
    check("after the application");
    if (r.act & fuzz::kActAdvanceOnly)
      return;

    // The sequence bases: the live connection's, else the last ones seen.
    if (app_.conn != nullptr)
      remember(*app_.conn);
    sim::Seg s;
    s.flags(r.flags)
        .seq(rcv_base_ + static_cast<uint32_t>(r.seq_off))
        .ack(snd_base_ + static_cast<uint32_t>(r.ack_off))
        .win(r.window)
        .len(r.payload_len);
    if (r.flags & SYN)
      syn_options(s);
    else if (r.act & fuzz::kOptTimestamp)
      s.ts(peer_ts_, last_ts_val_);
    if (r.act & fuzz::kOptSack) {
      const uint32_t left = snd_base_ + static_cast<uint32_t>(r.ack_off);
      s.sack({wire::SackBlock{left, left + 1 + static_cast<uint32_t>(r.window)}});
    }
    inject(s);
    check("after the segment");
  }

  // Everything the test can know without the engine's internals.
  void check(const char *when) {
    tcp::Engine &e = peer_->engine();
    const auto &ctr = e.counters();
    const State s = e.state_of(tuple_);
    FUZZ_CHECK(static_cast<int>(s) < tcp::kStateCount, "%s: state %d out of range", when,
               static_cast<int>(s));
    FUZZ_CHECK(e.connection_count() <= 1, "%s: %zu connections from one peer tuple", when,
               e.connection_count());
    if (app_.conn != nullptr && app_.conn->lingering()) {
      // Closed on the wire with unread data (RFC 9293 3.10.3): out of the
      // flow table, CLOSED, still readable until the application drains it.
      FUZZ_CHECK(app_.conn->state() == State::closed, "%s: a lingering connection in %s", when,
                 tcp::to_string(app_.conn->state()));
      FUZZ_CHECK(e.find(tuple_) != app_.conn, "%s: a lingering connection in the flow table",
                 when);
    } else if (app_.conn != nullptr) {
      const tcp::Connection &c = *app_.conn;
      FUZZ_CHECK(e.find(tuple_) == app_.conn, "%s: the live connection is not in the flow table",
                 when);
      FUZZ_CHECK(c.state() == s, "%s: connection says %s, engine says %s", when,
                 tcp::to_string(c.state()), tcp::to_string(s));
      FUZZ_CHECK(!tcp::in_state(c.state(), tcp::CLOSED | tcp::LISTEN | tcp::TIME_WAIT),
                 "%s: a live connection in %s", when, tcp::to_string(c.state()));
      FUZZ_CHECK(tcp::seq_le(c.inspect().snd_una(), c.inspect().snd_nxt()) &&
                     tcp::seq_le(c.inspect().snd_nxt(), c.inspect().snd_max()),
                 "%s: SND.UNA %u <= SND.NXT %u <= SND.MAX %u violated", when,
                 c.inspect().snd_una().v, c.inspect().snd_nxt().v, c.inspect().snd_max().v);
      FUZZ_CHECK(c.send_queued() <= c.send_buffer() + 1,
                 "%s: %zu bytes queued in a %u-byte send buffer", when, c.send_queued(),
                 c.send_buffer());
      FUZZ_CHECK(c.readable() + c.inspect().ooo_bytes() <= c.receive_buffer(),
                 "%s: %zu readable + %u out of order in a %u-byte receive buffer", when,
                 c.readable(), c.inspect().ooo_bytes(), c.receive_buffer());
      FUZZ_CHECK(c.inspect().rcv_wnd() <= c.receive_buffer(), "%s: rcv_wnd %u > receive buffer %u",
                 when, c.inspect().rcv_wnd(), c.receive_buffer());
    } else if (app_.closed) {
      // Closed for the application: the tuple is gone, in TIME_WAIT, or a
      // new incarnation's handshake (a SYN to the listener) is under way.
      FUZZ_CHECK(tcp::in_state(s, tcp::CLOSED | tcp::TIME_WAIT | tcp::SYN_RECEIVED),
                 "%s: on_closed ran but the tuple is %s", when, tcp::to_string(s));
    }
    uint64_t live = 0;
    for (int st = 0; st < tcp::kStateCount; ++st)
      if (st != static_cast<int>(State::time_wait) && st != static_cast<int>(State::closed) &&
          st != static_cast<int>(State::listen))
        live += ctr.in_state[static_cast<size_t>(st)];
    FUZZ_CHECK(live == e.connection_count(), "%s: per-state gauge %lu != %zu live connections",
               when, static_cast<unsigned long>(live), e.connection_count());
    FUZZ_CHECK(ctr.in_state[static_cast<size_t>(State::time_wait)] == e.time_wait_count(),
               "%s: TIME_WAIT gauge %lu != %zu records", when,
               static_cast<unsigned long>(ctr.in_state[static_cast<size_t>(State::time_wait)]),
               e.time_wait_count());
    // RFC 5961 7: at most the limit per second (the first second's budget
    // plus one per started second since).
    const auto secs = static_cast<uint64_t>(peer_->elapsed() / 1s) + 1;
    FUZZ_CHECK(ctr.get(tcp::Counter::challenge_acks) <= kChallengeAckLimit * (secs + 1),
               "%s: %lu challenge ACKs in %lu s (limit %u/s)", when,
               static_cast<unsigned long>(ctr.get(tcp::Counter::challenge_acks)),
               static_cast<unsigned long>(secs), kChallengeAckLimit);
    // mbufs held: one connection's buffers (<= 64 KiB send ring + 4..256 KiB
    // receive side in the worst truesize case) must fit well inside the pool.
    const unsigned in_use = kPoolSize - rte_mempool_avail_count(pool());
    FUZZ_CHECK(in_use < kPoolSize - 64, "%s: %u of %u mbufs in use", when, in_use, kPoolSize);
  }

private:
  void act(const fuzz::ConnRecord &r) {
    tcp::Connection *c = app_.conn;
    if (c == nullptr)
      return;
    if (r.act & fuzz::kActNoDelay)
      c->set_nodelay(!c->nodelay());
    if (r.act & fuzz::kActConsume)
      c->consume(c->readable());
    if ((r.act & fuzz::kActWrite) && c->writable() > 0) {
      std::vector<uint8_t> data(std::min<size_t>(size_t{r.payload_len} * 4, c->writable()), 'w');
      c->write(data);
    }
    if ((r.act & (fuzz::kActShutdown | fuzz::kActClose)) ==
        (fuzz::kActShutdown | fuzz::kActClose)) {
      c->abort();
      return;
    }
    if (r.act & fuzz::kActShutdown)
      c->shutdown_write();
    if (r.act & fuzz::kActClose)
      c->close();
  }

  sim::Seg &syn_options(sim::Seg &s) {
    s.mss(1460);
    if (setup_ & fuzz::kSetupTimestamps)
      s.ts(peer_ts_, last_ts_val_);
    if (setup_ & fuzz::kSetupSack)
      s.sack_perm();
    if (setup_ & fuzz::kSetupWscale)
      s.wscale(wscale_);
    return s;
  }
  sim::Seg syn_options(sim::Seg &&s) { return syn_options(s); }

  void inject(const sim::Seg &s) {
    peer_->inject(s);
    drain();
  }

  // Takes what the engine emitted: its latest TSval (echoed by the peer) and
  // the bases before the connection exists (SYN_SENT: our ISN).
  void drain() {
    while (peer_->pending() > 0) {
      auto seg = peer_->expect(sim::Seg());
      if (!seg)
        continue;
      if (seg->tcp.options.timestamp)
        last_ts_val_ = seg->tcp.options.timestamp->val;
    }
    if (app_.conn != nullptr)
      remember(*app_.conn);
    else if (!seen_conn_ && peer_->has_isn())
      snd_base_ = peer_->isn();
  }

  void remember(const tcp::Connection &c) {
    seen_conn_ = true;
    rcv_base_ = c.inspect().rcv_nxt().v;
    snd_base_ = c.inspect().snd_una().v;
  }

  uint8_t setup_, wscale_;
  std::optional<sim::ScriptedPeer> peer_;
  App app_;
  tcp::FourTuple tuple_{};
  bool seen_conn_ = false;
  uint32_t rcv_base_ = kPeerIsn, snd_base_ = 0;
  uint32_t peer_ts_ = kPeerTsStart, last_ts_val_ = 0;

public:
  ~Driver() {
    peer_.reset(); // destroys the engine: every connection and buffered mbuf is freed
  }
};

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  test::ensure_eal();
  (void)pool();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < fuzz::kPreambleLen)
    return 0;
  const unsigned start = rte_mempool_avail_count(pool());
  {
    Driver d(data[0], data[1]);
    d.open();
    d.check("after the handshake");
    for (size_t off = fuzz::kPreambleLen; off + fuzz::kRecordLen <= size; off += fuzz::kRecordLen)
      d.step(fuzz::decode_record(data + off));
  }
  const unsigned end = rte_mempool_avail_count(pool());
  FUZZ_CHECK(end == start, "mempool: %u mbufs before the input, %u after the engine is gone", start,
             end);
  return 0;
}
