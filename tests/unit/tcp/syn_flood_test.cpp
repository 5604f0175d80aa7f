// SYN-flood defences of the listener (RFC 4987): the bounded SYN backlog,
// SYN cookies (validation, the options they carry, rejection by reason), the
// consumed-cookie record against replays, RST rate limiting and the accept
// queue. Engine tests read like packet traces on a hand-driven clock.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include <rte_mempool.h>

#include "tcp/cookie_replay.hpp"
#include "tcp/inspect.hpp"
#include "tcp/seq.hpp"
#include "tcp/syn_cookie.hpp"
#include "tcp_harness.hpp"

namespace shoal::tcp::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Mode = EngineConfig::SynCookieMode;

// ---- the cookie on its own ----------------------------------------------------

const FourTuple kTuple{kLocal, kRemote, 80, 40000};

Instant at(Duration d) {
  return Instant{d};
}

TEST(SynCookie, MssTableRoundsDown) {
  EXPECT_EQ(SynCookies::mss_index(std::nullopt), 0); // RFC 9293 default 536
  EXPECT_EQ(SynCookies::mss_index(500), 0);          // below the table: its smallest entry
  EXPECT_EQ(SynCookies::mss_index(536), 0);
  EXPECT_EQ(SynCookies::mss_index(1299), 0);
  EXPECT_EQ(SynCookies::mss_index(1300), 1);
  EXPECT_EQ(SynCookies::mss_index(1440), 2);
  EXPECT_EQ(SynCookies::mss_index(1460), 3);
  EXPECT_EQ(SynCookies::mss_index(8960), 4);
  EXPECT_EQ(SynCookies::mss_index(65535), 4);
}

TEST(SynCookie, ValidForOneToTwoRotations) {
  SynCookies sc(7, seconds(60));
  const CookieOptions none;
  const uint32_t c = sc.make(kTuple, 1000, 3, none, at(seconds(59) + milliseconds(900)));
  auto r = sc.check(kTuple, 1000, c, none, at(seconds(59) + milliseconds(950)));
  EXPECT_EQ(r.verdict, CookieVerdict::ok);
  EXPECT_EQ(r.mss, 1460);
  // One rotation later the previous secret still validates it...
  EXPECT_EQ(sc.check(kTuple, 1000, c, none, at(seconds(60) + milliseconds(100))).verdict,
            CookieVerdict::ok);
  EXPECT_EQ(sc.check(kTuple, 1000, c, none, at(seconds(119))).verdict, CookieVerdict::ok);
  // ...two rotations later it is stale (recognised as genuine but expired)...
  EXPECT_EQ(sc.check(kTuple, 1000, c, none, at(seconds(120) + milliseconds(100))).verdict,
            CookieVerdict::stale);
  EXPECT_EQ(sc.check(kTuple, 1000, c, none, at(seconds(230))).verdict, CookieVerdict::stale);
  // ...and past the keys kept for telling stale from forged, just invalid.
  EXPECT_EQ(sc.check(kTuple, 1000, c, none, at(seconds(250))).verdict, CookieVerdict::bad_hash);
}

TEST(SynCookie, BoundToTupleClientIsnAndOptions) {
  SynCookies sc(7, seconds(60));
  CookieOptions o;
  o.timestamps = true;
  o.snd_wscale = 7;
  o.sack_permitted = true;
  const Instant t = at(seconds(10));
  const uint32_t c = sc.make(kTuple, 1000, 2, o, t);
  EXPECT_EQ(sc.check(kTuple, 1000, c, o, t).verdict, CookieVerdict::ok);
  // Another tuple or ISN unmasks to random bits: rejected, for whichever
  // reason those bits give (never "stale": that needs a genuine mac).
  FourTuple other = kTuple;
  other.remote_port++;
  EXPECT_NE(sc.check(other, 1000, c, o, t).verdict, CookieVerdict::ok);
  EXPECT_NE(sc.check(other, 1000, c, o, t).verdict, CookieVerdict::stale);
  EXPECT_NE(sc.check(kTuple, 1001, c, o, t).verdict, CookieVerdict::ok);
  EXPECT_NE(sc.check(kTuple, 1001, c, o, t).verdict, CookieVerdict::stale);
  // A forger without the key: no random cookie of 4096 validates.
  int accepted = 0, stale = 0;
  for (uint32_t i = 0; i < 4096; ++i) {
    const auto v = sc.check(kTuple, 1000, c + 1 + i * 0x9e3779b9u, o, t).verdict;
    accepted += v == CookieVerdict::ok;
    stale += v == CookieVerdict::stale;
  }
  EXPECT_EQ(accepted, 0);
  EXPECT_EQ(stale, 0);
  CookieOptions mangled = o;
  mangled.snd_wscale = 8;
  EXPECT_EQ(sc.check(kTuple, 1000, c, mangled, t).verdict, CookieVerdict::bad_hash);
  CookieOptions no_ts; // the ACK dropped the timestamps the SYN offered
  EXPECT_EQ(sc.check(kTuple, 1000, c, no_ts, t).verdict, CookieVerdict::bad_hash);
  EXPECT_EQ(sc.check(kTuple, 1000, c ^ 1, o, t).verdict, CookieVerdict::bad_hash);
  // The 3 MSS-index bits sit at 24..26 of the unmasked cookie: pushing index
  // 2 to 7 is caught before the hash.
  EXPECT_EQ(sc.check(kTuple, 1000, c + (5u << 24), o, t).verdict, CookieVerdict::bad_mss_index);
}

TEST(SynCookie, UnseededKeysDiffer) {
  SynCookies a(std::nullopt, seconds(60)), b(std::nullopt, seconds(60));
  const Instant t = at(seconds(5));
  const uint32_t ca = a.make(kTuple, 1000, 0, {}, t);
  EXPECT_NE(ca, b.make(kTuple, 1000, 0, {}, t));
  EXPECT_NE(b.check(kTuple, 1000, ca, {}, t).verdict, CookieVerdict::ok);
}

TEST(SynCookie, OptionsRideInTheLowTsvalBits) {
  CookieOptions o;
  o.timestamps = true;
  o.snd_wscale = 9;
  o.sack_permitted = true;
  for (uint32_t clock : {0u, 31u, 32u, 1000u, 1023u, 0xffffffe5u}) {
    const uint32_t v = SynCookies::encode_tsval(clock, o);
    EXPECT_EQ(v & CookieOptions::kTsMask, o.ts_bits()) << clock;
    EXPECT_FALSE(ts_lt(clock, v)) << clock << ": TSval ahead of the clock";
    EXPECT_LT(clock - v, 64u) << clock;
    const CookieOptions d = CookieOptions::from_ts_bits(v & CookieOptions::kTsMask);
    EXPECT_EQ(d.snd_wscale, o.snd_wscale);
    EXPECT_EQ(d.sack_permitted, o.sack_permitted);
  }
  CookieOptions plain;
  plain.timestamps = true;
  EXPECT_FALSE(CookieOptions::from_ts_bits(plain.ts_bits()).snd_wscale.has_value());
  EXPECT_FALSE(CookieOptions::from_ts_bits(plain.ts_bits()).sack_permitted);
}

TEST(ConsumedCookies, RemembersForTheLifetimeInFixedMemory) {
  ConsumedCookies cc(16, seconds(120), 99);
  EXPECT_EQ(cc.memory_bytes(), 0u) << "nothing allocated before the first cookie connection";
  EXPECT_FALSE(cc.insert(kTuple, 5, at(seconds(1))));
  const size_t bytes = cc.memory_bytes();
  EXPECT_GT(bytes, 0u);
  EXPECT_TRUE(cc.contains(kTuple, 5, at(seconds(2))));
  EXPECT_FALSE(cc.contains(kTuple, 6, at(seconds(2))));
  EXPECT_TRUE(cc.contains(kTuple, 5, at(seconds(120))));
  EXPECT_FALSE(cc.contains(kTuple, 5, at(seconds(121)))) << "expired";
  // Overfilled: the oldest entries are overwritten, the memory stays.
  unsigned evictions = 0;
  for (uint16_t p = 1; p <= 1000; ++p) {
    FourTuple t = kTuple;
    t.remote_port = p;
    evictions += cc.insert(t, p, at(seconds(200))) ? 1 : 0;
  }
  EXPECT_GT(evictions, 0u);
  EXPECT_EQ(cc.memory_bytes(), bytes);
  FourTuple last = kTuple;
  last.remote_port = 1000;
  EXPECT_TRUE(cc.contains(last, 1000, at(seconds(201))));
}

// ---- the listener ---------------------------------------------------------------

// A SYN from spoofed source number i (198.18.0.0/15, ports from 1024).
void spoofed_syn(Harness &h, uint32_t i, uint16_t port = 80) {
  const auto from =
      wire::Ipv4Addr::from_octets(198, static_cast<uint8_t>(18 + ((i >> 16) & 1)),
                                  static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i));
  wire::TcpRepr s = make_seg(static_cast<uint16_t>(1024 + i % 50000), port, SYN, i * 7919u, 0);
  s.options.mss = 1460;
  h.inject(s, {}, from);
}

// Runs the clock `d` on, dropping whatever the engine sends (SYN-ACK
// retransmissions to spoofed sources).
void run_discarding(Harness &h, Duration d) {
  const Instant end = h.now + d;
  while (h.now < end) {
    h.run_until(std::min(end, h.now + seconds(1)));
    h.out.queue.clear();
  }
}

// A factory handing out a fresh Recorder per connection.
struct Acceptor {
  std::vector<std::unique_ptr<Recorder>> accepted;
  HandlerFactory factory() {
    return [this](Connection &) -> ConnectionHandler * {
      accepted.push_back(std::make_unique<Recorder>());
      return accepted.back().get();
    };
  }
};

EngineConfig flood_config() {
  EngineConfig cfg = test_config();
  cfg.syn_backlog = 1;
  return cfg;
}

TEST(SynCookieHandshake, ValidCookieBuildsConnectionWithEncodedOptions) {
  EngineConfig cfg = flood_config();
  cfg.rcv_buf = 1 << 20; // our shift: 5
  Harness h(cfg);
  Recorder r;
  h.eng->listen(80, [&](Connection &) -> ConnectionHandler * { return &r; });
  spoofed_syn(h, 1);
  ASSERT_EQ(h.pending(), 1u);
  h.out.queue.clear();
  ASSERT_EQ(h.eng->syn_backlog_length(80), 1u) << "backlog of one, full";

  Peer p{h};
  p.syn_options.mss = 1400; // -> table entry 1300
  p.syn_options.window_scale = 7;
  p.syn_options.sack_permitted = true;
  p.syn_options.timestamp = wire::TcpTimestamp{5000, 0};
  p.send(SYN);
  Sent sa = p.expect(SYN | ACK, "cookie SYN-ACK");
  EXPECT_EQ(h.eng->counters()[Counter::syn_cookies_sent], 1u);
  EXPECT_EQ(h.eng->connections_in_use(), 1u) << "a cookie allocates nothing";
  EXPECT_EQ(sa.tcp.ack, p.snd_nxt);
  EXPECT_EQ(sa.tcp.window, 65535);
  EXPECT_EQ(sa.tcp.options.mss, uint16_t{1460});
  EXPECT_EQ(sa.tcp.options.window_scale, uint8_t{5});
  EXPECT_TRUE(sa.tcp.options.sack_permitted);
  ASSERT_TRUE(sa.tcp.options.timestamp.has_value());
  EXPECT_EQ(sa.tcp.options.timestamp->ecr, 5000u);
  EXPECT_EQ(sa.tcp.options.timestamp->val & 0x1f, 7u | 0x10u) << "wscale 7 + SACK in the TSval";

  wire::TcpRepr a = make_seg(p.port, 80, ACK, p.snd_nxt, p.rcv_nxt, 100);
  a.options.timestamp = wire::TcpTimestamp{5001, sa.tcp.options.timestamp->val};
  h.inject(a);
  ASSERT_NE(r.conn, nullptr) << "the cookie ACK was not accepted";
  Connection &c = *r.conn;
  EXPECT_EQ(c.state(), State::established);
  EXPECT_EQ(c.inspect().iss(), Seq{sa.tcp.seq});
  EXPECT_EQ(c.inspect().irs(), Seq{p.snd_nxt - 1});
  EXPECT_EQ(c.snd_mss(), 1300 - 12) << "MSS from the cookie's table, minus the TS option";
  EXPECT_TRUE(c.inspect().window_scaling());
  EXPECT_EQ(c.inspect().snd_wscale(), 7);
  EXPECT_EQ(c.inspect().rcv_wscale(), 5);
  EXPECT_EQ(c.inspect().snd_wnd(), 100u << 7);
  EXPECT_TRUE(c.inspect().sack_permitted());
  EXPECT_TRUE(c.inspect().timestamps());
  EXPECT_EQ(c.inspect().ts_recent(), 5001u);
  EXPECT_EQ(h.eng->counters()[Counter::syn_cookies_validated], 1u);
  EXPECT_EQ(h.eng->counters()[Counter::accepted], 1u);
  EXPECT_EQ(h.eng->syn_backlog_length(80), 1u) << "cookie connections are not half-open entries";
  EXPECT_EQ(h.pending(), 0u);

  // The connection works both ways with what the cookie carried.
  wire::TcpRepr d = make_seg(p.port, 80, ACK | PSH, p.snd_nxt, p.rcv_nxt, 100);
  d.options.timestamp = wire::TcpTimestamp{5002, sa.tcp.options.timestamp->val};
  h.inject(d, "hello");
  p.snd_nxt += 5;
  EXPECT_EQ(r.received, "hello");
  p.expect(ACK, "ACK of the first data");
  c.write(std::span<const uint8_t>(reinterpret_cast<const uint8_t *>("world"), 5));
  Sent out = p.expect(ACK, "data");
  EXPECT_EQ(out.payload.size(), 5u);
  EXPECT_EQ(out.tcp.ack, p.snd_nxt);
  ASSERT_TRUE(out.tcp.options.timestamp.has_value());
  EXPECT_EQ(out.tcp.options.timestamp->ecr, 5002u);
  EXPECT_FALSE(ts_lt(out.tcp.options.timestamp->val, sa.tcp.options.timestamp->val))
      << "our TSvals must not go back behind the cookie's";
  EXPECT_GE(out.tcp.window, ((1u << 20) - 4096) >> 5) << "window scaled by our shift of 5";
  c.abort();
  p.expect(RST | ACK, "abort");
  run_discarding(h, seconds(100)); // the spoofed entry expires
  h.expect_quiet();
}

TEST(SynCookieHandshake, WithoutTimestampsOnlyTheMssSurvives) {
  EngineConfig cfg = flood_config();
  cfg.rcv_buf = 1 << 20;
  Harness h(cfg);
  Acceptor acc;
  h.eng->listen(80, acc.factory());
  spoofed_syn(h, 1);
  h.out.queue.clear();
  Peer p{h};
  p.syn_options.mss = 9000; // -> 8960, capped by ours
  p.syn_options.window_scale = 7;
  p.syn_options.sack_permitted = true;
  p.send(SYN);
  Sent sa = p.expect(SYN | ACK, "cookie SYN-ACK");
  EXPECT_EQ(sa.tcp.options.mss, uint16_t{1460});
  EXPECT_FALSE(sa.tcp.options.window_scale.has_value()) << "cannot be carried without TS";
  EXPECT_FALSE(sa.tcp.options.sack_permitted);
  EXPECT_FALSE(sa.tcp.options.timestamp.has_value());
  p.send(ACK);
  ASSERT_EQ(acc.accepted.size(), 1u);
  Connection &c = *acc.accepted[0]->conn;
  EXPECT_EQ(c.snd_mss(), 1460);
  EXPECT_FALSE(c.inspect().window_scaling());
  EXPECT_EQ(c.inspect().snd_wscale(), 0);
  EXPECT_EQ(c.inspect().rcv_wscale(), 0);
  EXPECT_FALSE(c.inspect().sack_permitted());
  EXPECT_FALSE(c.inspect().timestamps());
  EXPECT_EQ(c.inspect().snd_wnd(), 65535u) << "the ACK's window, unscaled";
  h.note("no MSS option: the smallest table entry");
  Peer q{h};
  q.port = 6000;
  q.send(SYN);
  q.expect(SYN | ACK, "cookie SYN-ACK");
  q.send(ACK);
  ASSERT_EQ(acc.accepted.size(), 2u);
  EXPECT_EQ(acc.accepted[1]->conn->snd_mss(), 536);
  EXPECT_EQ(h.eng->counters()[Counter::syn_cookies_validated], 2u);
  for (auto &rec : acc.accepted)
    rec->conn->abort();
  h.out.queue.clear();
  run_discarding(h, seconds(100));
  h.expect_quiet();
}

TEST(SynCookieHandshake, ForgedStaleAndMangledCookiesAreRejectedByReason) {
  EngineConfig cfg = test_config();
  cfg.syn_cookies = Mode::always;
  Harness h(cfg);
  Recorder r;
  h.eng->listen(80, [&](Connection &) -> ConnectionHandler * { return &r; });
  const Counters &k = h.eng->counters();
  Peer p{h};
  p.syn_options.mss = 1460; // index 3
  p.send(SYN);
  Sent sa = p.expect(SYN | ACK, "cookie SYN-ACK");
  const uint32_t cookie = sa.tcp.seq;

  h.note("forged: an ACK number we never sent");
  p.send_raw(ACK, p.snd_nxt, cookie + 1 + 0x00345678);
  p.expect(RST, "RST for a forged cookie");
  EXPECT_EQ(k[Counter::syn_cookies_rejected_bad_hash], 1u);

  h.note("mangled: the MSS index pushed from 3 to 7");
  p.send_raw(ACK, p.snd_nxt, cookie + 1 + (4u << 24));
  p.expect(RST, "RST for a mangled MSS index");
  EXPECT_EQ(k[Counter::syn_cookies_rejected_bad_mss_index], 1u);

  h.note("mangled: the counter bits (a period that is not recent)");
  p.send_raw(ACK, p.snd_nxt, cookie + 1 + (9u << 27));
  p.expect(RST, "RST for mangled counter bits");
  EXPECT_EQ(k[Counter::syn_cookies_rejected_bad_hash], 2u);

  h.note("mangled: the client's sequence number");
  p.send_raw(ACK, p.snd_nxt + 1, cookie + 1);
  p.expect(RST, "RST for a cookie of another ISN");
  EXPECT_EQ(k[Counter::syn_cookies_rejected_bad_hash] +
                k[Counter::syn_cookies_rejected_bad_mss_index],
            4u);
  EXPECT_EQ(k[Counter::syn_cookies_rejected_stale], 0u) << "a forgery counted as stale";

  h.note("one rotation later the cookie is still good; two rotations: stale");
  run_discarding(h, seconds(121));
  Peer other{h};
  other.port = 7000;
  other.send(SYN); // cookies still being sent: ACKs are checked as cookies
  other.expect(SYN | ACK);
  p.send_raw(ACK, p.snd_nxt, cookie + 1);
  p.expect(RST, "RST for a stale cookie");
  EXPECT_EQ(k[Counter::syn_cookies_rejected_stale], 1u);
  EXPECT_EQ(k[Counter::syn_cookies_validated], 0u);
  EXPECT_EQ(h.eng->connection_count(), 0u);
  EXPECT_EQ(r.conn, nullptr);
  h.expect_quiet();
}

TEST(SynCookieHandshake, CookieFromThePreviousRotationIsAccepted) {
  EngineConfig cfg = test_config();
  cfg.syn_cookies = Mode::always;
  Harness h(cfg);
  Recorder r;
  h.eng->listen(80, [&](Connection &) -> ConnectionHandler * { return &r; });
  Peer p{h};
  p.send(SYN);
  p.expect(SYN | ACK);
  h.advance(seconds(61)); // one rotation boundary crossed
  p.send(ACK);
  ASSERT_NE(r.conn, nullptr);
  EXPECT_EQ(h.eng->counters()[Counter::syn_cookies_validated], 1u);
  r.conn->abort();
  p.expect(RST | ACK);
  h.expect_quiet();
}

TEST(SynCookieHandshake, MangledTimestampEchoIsRejected) {
  EngineConfig cfg = test_config();
  cfg.syn_cookies = Mode::always;
  Harness h(cfg);
  Recorder r;
  h.eng->listen(80, [&](Connection &) -> ConnectionHandler * { return &r; });
  Peer p{h};
  p.syn_options.window_scale = 2;
  p.syn_options.timestamp = wire::TcpTimestamp{100, 0};
  p.send(SYN);
  Sent sa = p.expect(SYN | ACK);
  wire::TcpRepr a = make_seg(p.port, 80, ACK, p.snd_nxt, p.rcv_nxt);
  // Window scale 2 -> 9 in the echoed TSval: a bigger window than offered.
  a.options.timestamp = wire::TcpTimestamp{101, (sa.tcp.options.timestamp->val & ~0xfu) | 9u};
  h.inject(a);
  p.expect(RST, "RST for a mangled TSecr");
  EXPECT_EQ(h.eng->counters()[Counter::syn_cookies_rejected_bad_hash], 1u);
  EXPECT_EQ(r.conn, nullptr);
  a.options.timestamp = wire::TcpTimestamp{101, sa.tcp.options.timestamp->val};
  h.inject(a);
  ASSERT_NE(r.conn, nullptr);
  EXPECT_EQ(r.conn->inspect().snd_wscale(), 2);
  r.conn->abort();
  p.expect(RST | ACK);
  h.expect_quiet();
}

TEST(SynCookieHandshake, StrayAckWithoutRecentCookiesIsJustReset) {
  Harness h;
  Recorder r;
  h.eng->listen(80, [&](Connection &) -> ConnectionHandler * { return &r; });
  Peer p{h};
  p.send_raw(ACK, 1, 2);
  p.expect(RST);
  const Counters &k = h.eng->counters();
  EXPECT_EQ(k[Counter::syn_cookies_rejected_bad_hash] + k[Counter::syn_cookies_rejected_stale] +
                k[Counter::syn_cookies_rejected_bad_mss_index],
            0u)
      << "no cookie was outstanding: not checked as one";
  h.expect_quiet();
}

// Deliverable: a replayed cookie ACK after the connection has closed does not
// recreate it.
TEST(SynCookieReplay, AfterPeerClosedFirstTheReplayIsRejected) {
  EngineConfig cfg = test_config();
  cfg.syn_cookies = Mode::always;
  Harness h(cfg);
  Acceptor acc;
  h.eng->listen(80, acc.factory());
  Peer p{h};
  p.send(SYN);
  p.expect(SYN | ACK);
  const uint32_t seq0 = p.snd_nxt, ack0 = p.rcv_nxt;
  p.send(ACK);
  ASSERT_EQ(acc.accepted.size(), 1u);
  Recorder &r = *acc.accepted[0];
  r.close_on_peer_close = true;
  // The peer closes first: we go CLOSE_WAIT -> LAST_ACK -> CLOSED (no TIME_WAIT here).
  p.send(FIN | ACK);
  Sent fin = p.expect(FIN | ACK, "our FIN with the ACK of theirs");
  p.send(ACK);
  EXPECT_EQ(r.closed, CloseReason::normal);
  EXPECT_EQ(h.eng->state_of(p.tuple()), State::closed);

  h.note("replay of the cookie ACK");
  p.send_raw(ACK, seq0, ack0);
  p.expect(RST, "RST for the replay");
  EXPECT_EQ(h.eng->counters()[Counter::syn_cookies_rejected_replay], 1u);
  EXPECT_EQ(h.eng->counters()[Counter::syn_cookies_validated], 1u);
  EXPECT_EQ(acc.accepted.size(), 1u) << "the factory ran again";
  EXPECT_EQ(h.eng->connection_count(), 0u);
  (void)fin;

  h.note("a new handshake on the same tuple still works");
  p.snd_nxt += 100000;
  p.send(SYN);
  p.expect(SYN | ACK);
  p.send(ACK);
  ASSERT_EQ(acc.accepted.size(), 2u);
  acc.accepted[1]->conn->abort();
  p.expect(RST | ACK);
  h.expect_quiet();
}

TEST(SynCookieReplay, AfterWeClosedFirstTimeWaitAbsorbsTheReplay) {
  EngineConfig cfg = test_config();
  cfg.syn_cookies = Mode::always;
  Harness h(cfg);
  Acceptor acc;
  h.eng->listen(80, acc.factory());
  Peer p{h};
  p.send(SYN);
  p.expect(SYN | ACK);
  const uint32_t seq0 = p.snd_nxt, ack0 = p.rcv_nxt;
  p.send(ACK);
  ASSERT_EQ(acc.accepted.size(), 1u);
  acc.accepted[0]->conn->close();
  p.expect(FIN | ACK, "our FIN");
  p.send(FIN | ACK);
  p.expect(ACK, "ACK of their FIN");
  ASSERT_EQ(h.eng->state_of(p.tuple()), State::time_wait);
  p.send_raw(ACK, seq0, ack0);
  p.expect(ACK, "TIME_WAIT answers an old segment with its ACK");
  EXPECT_EQ(h.eng->state_of(p.tuple()), State::time_wait);
  EXPECT_EQ(h.eng->counters()[Counter::syn_cookies_validated], 1u);
  EXPECT_EQ(acc.accepted.size(), 1u);
  // Past TIME_WAIT (2 MSL = 60 s) but within the cookie's two rotation
  // periods, the consumed-cookie record takes over.
  h.run_until(h.now + 61s);
  ASSERT_EQ(h.eng->state_of(p.tuple()), State::closed);
  Peer other{h};
  other.port = 7000;
  other.send(SYN); // keeps cookies outstanding
  other.expect(SYN | ACK);
  p.send_raw(ACK, seq0, ack0);
  p.expect(RST, "RST for the replay");
  EXPECT_EQ(acc.accepted.size(), 1u);
  EXPECT_EQ(h.eng->counters()[Counter::syn_cookies_rejected_replay], 1u);
  h.expect_quiet();
}

// Deliverables: the backlog bound holds under 100k spoofed SYNs with the
// connection pool flat; a real client completes via a cookie meanwhile, and
// via the normal path once the backlog has drained.
TEST(SynFlood, BacklogBoundHoldsAndRealClientsGetThrough) {
  EngineConfig cfg = test_config();
  cfg.syn_backlog = 16;
  cfg.max_connections = 64;
  Harness h(cfg);
  h.set_tracing(false);
  Acceptor acc;
  h.eng->listen(80, acc.factory());
  const Counters &k = h.eng->counters();
  constexpr uint32_t kSyns = 100000;
  uint32_t max_in_use = 0;
  for (uint32_t i = 0; i < kSyns; ++i) {
    spoofed_syn(h, i);
    max_in_use = std::max(max_in_use, h.eng->connections_in_use());
    if (i % 100 == 99) {
      h.out.queue.clear();
      h.advance(milliseconds(1)); // 100 kpps on the virtual clock
    }
  }
  h.out.queue.clear();
  EXPECT_EQ(max_in_use, 16u) << "connection pool use grew with the flood";
  EXPECT_EQ(h.eng->syn_backlog_length(80), 16u);
  EXPECT_EQ(k[Counter::syns_received], kSyns);
  EXPECT_EQ(k[Counter::passive_opens], 16u);
  EXPECT_EQ(k[Counter::syn_cookies_sent], kSyns - 16);
  EXPECT_EQ(k[Counter::syn_backlog_drops], 0u);
  EXPECT_EQ(rte_mempool_avail_count(h.pool), h.pool_start) << "mbufs held by the flood";
  h.set_tracing(true);

  h.note("a real client during the flood: served by a cookie");
  Peer p{h};
  p.port = 5555;
  p.syn_options.mss = 1460;
  p.syn_options.timestamp = wire::TcpTimestamp{1, 0};
  p.send(SYN);
  Sent sa = p.expect(SYN | ACK, "cookie SYN-ACK");
  wire::TcpRepr a = make_seg(p.port, 80, ACK, p.snd_nxt, p.rcv_nxt);
  a.options.timestamp = wire::TcpTimestamp{2, sa.tcp.options.timestamp->val};
  h.inject(a);
  ASSERT_EQ(acc.accepted.size(), 1u);
  EXPECT_EQ(acc.accepted[0]->conn->state(), State::established);
  EXPECT_EQ(k[Counter::syn_cookies_validated], 1u);
  EXPECT_EQ(h.eng->connections_in_use(), 17u);

  h.note("the spoofed entries expire: the backlog drains");
  h.set_tracing(false);
  run_discarding(h, seconds(100));
  h.set_tracing(true);
  EXPECT_EQ(h.eng->syn_backlog_length(80), 0u);
  EXPECT_EQ(k[Counter::half_open_expired], 16u);

  h.note("a real client after the flood: the normal path");
  const uint64_t cookies_before = k[Counter::syn_cookies_sent];
  Peer q{h};
  q.port = 5556;
  q.send(SYN);
  q.expect(SYN | ACK, "SYN-ACK from the backlog");
  EXPECT_EQ(h.eng->syn_backlog_length(80), 1u);
  q.send(ACK);
  ASSERT_EQ(acc.accepted.size(), 2u);
  EXPECT_EQ(k[Counter::syn_cookies_sent], cookies_before);
  EXPECT_EQ(k[Counter::passive_opens], 17u);
  for (auto &rec : acc.accepted)
    rec->conn->abort();
  h.out.queue.clear();
  h.expect_quiet();
}

TEST(SynFlood, CookiesOffDropsPastTheBacklog) {
  EngineConfig cfg = test_config();
  cfg.syn_backlog = 4;
  cfg.syn_cookies = Mode::off;
  Harness h(cfg);
  Acceptor acc;
  h.eng->listen(80, acc.factory());
  for (uint32_t i = 0; i < 10; ++i)
    spoofed_syn(h, i);
  EXPECT_EQ(h.pending(), 4u);
  h.out.queue.clear();
  EXPECT_EQ(h.eng->counters()[Counter::syn_backlog_drops], 6u);
  EXPECT_EQ(h.eng->counters()[Counter::syn_cookies_sent], 0u);
  run_discarding(h, seconds(100));
  h.expect_quiet();
}

TEST(SynFlood, FullConnectionPoolFallsBackToCookies) {
  EngineConfig cfg = test_config();
  cfg.syn_backlog = 100;
  cfg.max_connections = 4;
  Harness h(cfg);
  Acceptor acc;
  h.eng->listen(80, acc.factory());
  for (uint32_t i = 0; i < 10; ++i)
    spoofed_syn(h, i);
  EXPECT_EQ(h.pending(), 10u);
  h.out.queue.clear();
  EXPECT_EQ(h.eng->connections_in_use(), 4u);
  EXPECT_EQ(h.eng->counters()[Counter::syn_cookies_sent], 6u);
  run_discarding(h, seconds(100));
  h.expect_quiet();
}

// A SYN answered with a cookie because the connection pool is full is not a
// drop: it counts syn_cookies_pool_full. Without cookies the same SYN is
// dropped, and counted drop_no_memory.
TEST(SynFlood, FullConnectionPoolCountsCookiesNotDrops) {
  for (const Mode mode : {Mode::when_full, Mode::off}) {
    SCOPED_TRACE(mode == Mode::off ? "cookies off" : "cookies when full");
    EngineConfig cfg = test_config();
    cfg.syn_backlog = 100;
    cfg.max_connections = 4;
    cfg.syn_cookies = mode;
    Harness h(cfg);
    Acceptor acc;
    h.eng->listen(80, acc.factory());
    for (uint32_t i = 0; i < 10; ++i)
      spoofed_syn(h, i);
    const auto &k = h.eng->counters();
    EXPECT_EQ(h.eng->connections_in_use(), 4u);
    EXPECT_EQ(k[Counter::syn_backlog_drops], 0u);
    if (mode == Mode::off) {
      EXPECT_EQ(h.pending(), 4u);
      EXPECT_EQ(k[Counter::drop_no_memory], 6u);
      EXPECT_EQ(k[Counter::syn_cookies_pool_full], 0u);
    } else {
      EXPECT_EQ(h.pending(), 10u);
      EXPECT_EQ(k[Counter::drop_no_memory], 0u);
      EXPECT_EQ(k[Counter::syn_cookies_pool_full], 6u);
      EXPECT_EQ(k[Counter::syn_cookies_sent], 6u);
    }
    h.out.queue.clear();
    run_discarding(h, seconds(100));
    h.expect_quiet();
  }
}

// A SYN that would reuse a TIME_WAIT tuple (RFC 6191) while the backlog is
// full: a cookie cannot keep the new ISS above the old incarnation's
// sequence space, so the SYN is dropped, counted syn_time_wait_cookie_drops
// (not syn_backlog_drops: the backlog did not refuse it).
TEST(SynFlood, TimeWaitReuseThatNeedsACookieIsDroppedByItsOwnCounter) {
  Harness h(flood_config()); // a backlog of one
  Peer p{h};
  Recorder r;
  close_into_time_wait(p, *open_passive(h, p, r));
  ASSERT_EQ(h.eng->time_wait_count(), 1u);
  spoofed_syn(h, 1); // fills the backlog
  ASSERT_EQ(h.eng->syn_backlog_length(80), 1u);
  h.out.queue.clear();
  p.snd_nxt += 100000;
  p.send(SYN);
  p.expect_none("no SYN-ACK: neither a backlog entry nor a cookie");
  const auto &k = h.eng->counters();
  EXPECT_EQ(k[Counter::time_wait_reused], 1u);
  EXPECT_EQ(k[Counter::syn_time_wait_cookie_drops], 1u);
  EXPECT_EQ(k[Counter::syn_backlog_drops], 0u);
  EXPECT_EQ(k[Counter::syn_cookies_sent], 0u);
  run_discarding(h, seconds(100));
  h.expect_quiet();
}

// ---- rate limits -----------------------------------------------------------------

TEST(RateLimit, RstsForClosedPortsAreBounded) {
  EngineConfig cfg = test_config();
  cfg.rst_limit_per_s = 5;
  Harness h(cfg);
  Peer p{h};
  p.local_port = 81; // nothing listens
  for (int i = 0; i < 10; ++i)
    p.send_raw(ACK, 1000 + i, 2000);
  EXPECT_EQ(h.pending(), 5u);
  h.out.queue.clear();
  EXPECT_EQ(h.eng->counters()[Counter::rst_closed_port], 5u);
  EXPECT_EQ(h.eng->counters()[Counter::rst_limited], 5u);
  // RSTs are never answered at all.
  for (int i = 0; i < 10; ++i)
    p.send_raw(RST, 1000 + i, 0);
  p.expect_none("a RST answered");
  h.advance(seconds(1));
  p.send_raw(ACK, 1, 2);
  p.expect(RST, "a new second, a new budget");
  h.expect_quiet();
}

TEST(RateLimit, ForgedCookieAckFloodDrawsBoundedRsts) {
  EngineConfig cfg = test_config();
  cfg.syn_cookies = Mode::always;
  cfg.rst_limit_per_s = 3;
  Harness h(cfg);
  Recorder r;
  h.eng->listen(80, [&](Connection &) -> ConnectionHandler * { return &r; });
  spoofed_syn(h, 1); // cookies outstanding
  h.out.queue.clear();
  Peer p{h};
  for (uint32_t i = 0; i < 50; ++i)
    p.send_raw(ACK, 1000 + i, 777 * i);
  EXPECT_EQ(h.pending(), 3u);
  h.out.queue.clear();
  EXPECT_EQ(h.eng->counters()[Counter::syn_cookies_rejected_bad_hash] +
                h.eng->counters()[Counter::syn_cookies_rejected_stale] +
                h.eng->counters()[Counter::syn_cookies_rejected_bad_mss_index],
            50u);
  EXPECT_EQ(h.eng->counters()[Counter::rst_limited], 47u);
  EXPECT_EQ(r.conn, nullptr);
  h.expect_quiet();
}

// ---- the accept queue ------------------------------------------------------------

TEST(AcceptQueue, PausedListenerQueuesThenDropsThenDelivers) {
  EngineConfig cfg = test_config();
  cfg.accept_backlog = 2;
  Harness h(cfg);
  Acceptor acc;
  h.eng->listen(80, acc.factory());
  h.eng->pause_accept(80);
  const Counters &k = h.eng->counters();
  Peer p1{h}, p2{h}, p3{h}, p4{h};
  p1.port = 5001;
  p2.port = 5002;
  p3.port = 5003;
  p4.port = 5004;
  p1.send(SYN);
  p1.expect(SYN | ACK);
  p1.send(ACK);
  EXPECT_EQ(h.eng->accept_queue_length(80), 1u);
  EXPECT_EQ(acc.accepted.size(), 0u) << "the factory ran while paused";
  EXPECT_EQ(h.eng->state_of(p1.tuple()), State::established);
  p1.send(ACK | PSH, "early");
  h.advance(milliseconds(50));
  p1.expect(ACK, "data ACKed (delayed ACK) while waiting in the queue");
  p2.send(SYN);
  p2.expect(SYN | ACK);
  p3.send(SYN);
  p3.expect(SYN | ACK);
  p2.send(ACK);
  EXPECT_EQ(h.eng->accept_queue_length(80), 2u);
  h.note("queue full: p3's completing ACK and p4's SYN are dropped");
  p3.send(ACK);
  EXPECT_EQ(h.eng->state_of(p3.tuple()), State::syn_received);
  p4.send(SYN);
  p4.expect_none("SYN-ACK with the accept queue full");
  EXPECT_EQ(k[Counter::accept_queue_drops], 2u);

  h.eng->resume_accept(80);
  ASSERT_EQ(acc.accepted.size(), 2u);
  EXPECT_EQ(acc.accepted[0]->events, (std::vector<std::string>{"connected", "readable"}));
  EXPECT_EQ(acc.accepted[0]->received, "early");
  EXPECT_EQ(acc.accepted[0]->conn->tuple(), p1.tuple());
  EXPECT_EQ(acc.accepted[1]->events, std::vector<std::string>{"connected"});
  EXPECT_EQ(h.eng->accept_queue_length(80), 0u);
  h.out.queue.clear(); // window updates after the read
  h.note("p3 retransmits its ACK, p4 its SYN: both get in now");
  p3.send_raw(ACK, p3.snd_nxt, p3.rcv_nxt);
  ASSERT_EQ(acc.accepted.size(), 3u);
  p4.send_raw(SYN, p4.snd_nxt - 1, 0);
  p4.expect(SYN | ACK);
  p4.send(ACK);
  ASSERT_EQ(acc.accepted.size(), 4u);
  for (auto &rec : acc.accepted)
    rec->conn->abort();
  h.out.queue.clear();
  h.expect_quiet();
}

TEST(AcceptQueue, FactoryCanPauseAndDeferInsteadOfRefusing) {
  Harness h;
  std::vector<std::unique_ptr<Recorder>> recs;
  bool saturated = true;
  h.eng->listen(80, [&](Connection &) -> ConnectionHandler * {
    if (saturated) {
      h.eng->pause_accept(80);
      return nullptr; // not now: back into the accept queue
    }
    recs.push_back(std::make_unique<Recorder>());
    return recs.back().get();
  });
  Peer p{h};
  p.send(SYN);
  p.expect(SYN | ACK);
  p.send(ACK);
  EXPECT_EQ(h.eng->accept_queue_length(80), 1u);
  EXPECT_EQ(h.eng->counters()[Counter::accept_refused], 0u);
  p.send(FIN | ACK);
  p.expect(ACK, "FIN ACKed while queued");
  h.eng->resume_accept(80); // still saturated: paused again, stays queued
  EXPECT_EQ(h.eng->accept_queue_length(80), 1u);
  saturated = false;
  h.eng->resume_accept(80);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0]->events, (std::vector<std::string>{"connected", "peer_closed"}));
  recs[0]->conn->close();
  p.expect(FIN | ACK, "our FIN");
  p.send(ACK);
  EXPECT_EQ(recs[0]->closed, CloseReason::normal);
  h.expect_quiet();
}

TEST(AcceptQueue, UnlistenRefusesWaitingConnections) {
  Harness h;
  Acceptor acc;
  h.eng->listen(80, acc.factory());
  h.eng->pause_accept(80);
  Peer p{h};
  p.send(SYN);
  p.expect(SYN | ACK);
  p.send(ACK);
  EXPECT_EQ(h.eng->accept_queue_length(80), 1u);
  h.eng->unlisten(80);
  p.expect(RST | ACK, "refused at unlisten");
  EXPECT_EQ(acc.accepted.size(), 0u);
  h.expect_quiet();
}

} // namespace
} // namespace shoal::tcp::test
