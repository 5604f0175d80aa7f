// The workload state machines without any transport: a client session and a
// server session wired back to back in memory, on a virtual clock.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "workload.hpp"

namespace shoal::bench {
namespace {

Instant at_us(int64_t us) {
  return instant_from_ns(us * 1000);
}

std::vector<uint8_t> bytes_of(std::span<const uint8_t> s) {
  return {s.begin(), s.end()};
}

// Moves bytes between one client and one server session the way a transport
// would, recording each step so a failure prints the conversation.
struct Pipe {
  Pipe(ClientSession &client, ServerSession &server, Next client_next, Next server_next)
      : c(client), s(server), cn(client_next), sn(server_next) {}
  ClientSession &c;
  ServerSession &s;
  Next cn, sn;
  std::string trace;
  int64_t t_us = 0;

  Instant tick() { return at_us(t_us += 10); }
  void note(const char *who, const char *what, size_t n, Next next) {
    trace +=
        std::string(who) + " " + what + " " + std::to_string(n) + " -> " + to_string(next) + "\n";
  }
  // One round: whoever wants to send sends everything it has.
  void step() {
    if (cn == Next::send) {
      const auto out = bytes_of(c.pending_send());
      cn = c.sent(out.size(), tick());
      note("client", "sent", out.size(), cn);
      sn = s.received(out, tick());
      note("server", "received", out.size(), sn);
    }
    if (sn == Next::send) {
      const auto out = bytes_of(s.pending_send());
      sn = s.sent(out.size(), tick());
      note("server", "sent", out.size(), sn);
      cn = c.received(out, tick());
      note("client", "received", out.size(), cn);
    }
  }
};

TEST(Workload, PatternRoundTrips) {
  std::vector<uint8_t> b(100);
  fill_pattern(b, 7);
  EXPECT_TRUE(matches_pattern(b, 7));
  EXPECT_FALSE(matches_pattern(b, 8));
  b[50] ^= 1;
  EXPECT_FALSE(matches_pattern(b, 7));
}

TEST(Workload, ChurnClientClosesFirst) {
  ClientConfig cfg;
  cfg.workload = Workload::churn;
  cfg.count = 1;
  cfg.report_interval = Duration::zero();
  ClientRun run(cfg);
  ServerRun srun(ServerConfig{});
  run.begin(at_us(0));
  srun.begin(at_us(0));
  ASSERT_TRUE(run.want_connection(at_us(0)));
  ClientSession c(run);
  ServerSession s(srun);
  c.start(at_us(0));
  EXPECT_FALSE(run.want_connection(at_us(0))) << "count 1 is taken";
  Pipe p(c, s, c.connected(at_us(50)), s.accepted(at_us(40)));
  p.t_us = 50;
  EXPECT_EQ(p.cn, Next::send);
  EXPECT_EQ(p.sn, Next::receive);
  p.step();
  EXPECT_EQ(p.cn, Next::close) << p.trace;
  EXPECT_EQ(p.sn, Next::receive) << p.trace;
  c.finish(p.tick());
  EXPECT_EQ(s.peer_closed(p.tick()), Next::close);
  s.finish(p.tick());
  EXPECT_TRUE(run.over(p.tick()));
  run.end(at_us(1000));
  EXPECT_EQ(run.totals().completed, 1u);
  EXPECT_EQ(run.totals().transactions, 1u);
  EXPECT_EQ(run.totals().error_total(), 0u);
  EXPECT_EQ(run.connect_latency().count(), 1u);
  EXPECT_EQ(run.connect_latency().max(), 50'000u);
  // Whole transaction: from connect() to the last response byte.
  EXPECT_EQ(run.transaction_latency().max(), 90'000u) << p.trace;
  EXPECT_DOUBLE_EQ(run.rate(), 1000.0); // 1 connection in 1 ms
  EXPECT_EQ(srun.totals().requests, 1u);
  EXPECT_EQ(srun.totals().bytes_in, 64u);
  EXPECT_EQ(srun.totals().bytes_out, 64u);
  EXPECT_EQ(srun.open_connections(), 0u);
}

TEST(Workload, ChurnServerClosesFirst) {
  ClientConfig cfg;
  cfg.closer = Closer::server;
  cfg.count = 1;
  cfg.request_size = 10;
  cfg.response_size = 3000;
  ClientRun run(cfg);
  ServerConfig scfg;
  scfg.close_first = true;
  scfg.request_size = 10;
  scfg.response_size = 3000;
  ServerRun srun(scfg);
  run.begin(at_us(0));
  ClientSession c(run);
  ServerSession s(srun);
  c.start(at_us(0));
  Pipe p(c, s, c.connected(at_us(1)), s.accepted(at_us(1)));
  p.step();
  EXPECT_EQ(p.sn, Next::close) << p.trace;
  EXPECT_EQ(p.cn, Next::await_close) << p.trace;
  EXPECT_EQ(c.peer_closed(p.tick()), Next::close);
  c.finish(p.tick());
  run.end(p.tick());
  EXPECT_EQ(run.totals().completed, 1u);
  EXPECT_EQ(run.totals().error_total(), 0u);
}

TEST(Workload, ShortResponseIsCountedByKind) {
  ClientConfig cfg;
  cfg.count = 1;
  ClientRun run(cfg);
  run.begin(at_us(0));
  ClientSession c(run);
  c.start(at_us(0));
  ASSERT_EQ(c.connected(at_us(1)), Next::send);
  ASSERT_EQ(c.sent(64, at_us(2)), Next::receive);
  std::vector<uint8_t> half(32);
  fill_pattern(half, 0);
  ASSERT_EQ(c.received(half, at_us(3)), Next::receive);
  EXPECT_EQ(c.peer_closed(at_us(4)), Next::fail);
  c.finish(at_us(5));
  run.end(at_us(5));
  EXPECT_EQ(run.totals().errors[size_t(ErrorKind::short_response)], 1u);
  EXPECT_EQ(run.totals().completed, 0u);
  EXPECT_NE(run.to_json().find("\"short_response\":1"), std::string::npos) << run.to_json();
}

TEST(Workload, CorruptOrExtraResponseBytesAreBadResponse) {
  ClientConfig cfg;
  ClientRun run(cfg);
  run.begin(at_us(0));
  {
    ClientSession c(run);
    c.start(at_us(0));
    c.connected(at_us(1));
    c.sent(64, at_us(2));
    std::vector<uint8_t> resp(64);
    fill_pattern(resp, 0);
    resp[63] = 'Z';
    EXPECT_EQ(c.received(resp, at_us(3)), Next::fail);
    c.finish(at_us(3));
  }
  {
    ClientSession c(run);
    c.start(at_us(0));
    c.connected(at_us(1));
    c.sent(64, at_us(2));
    std::vector<uint8_t> resp(65);
    fill_pattern(resp, 0);
    EXPECT_EQ(c.received(resp, at_us(3)), Next::fail);
    c.finish(at_us(3));
  }
  EXPECT_EQ(run.totals().errors[size_t(ErrorKind::bad_response)], 2u);
  EXPECT_EQ(run.in_flight(), 0u);
}

TEST(Workload, RequestResponseRepeatsUntilCount) {
  ClientConfig cfg;
  cfg.workload = Workload::rr;
  cfg.concurrency = 1;
  cfg.count = 5;
  ClientRun run(cfg);
  ServerRun srun(ServerConfig{});
  run.begin(at_us(0));
  ClientSession c(run);
  ServerSession s(srun);
  c.start(at_us(0));
  Pipe p(c, s, c.connected(at_us(1)), s.accepted(at_us(1)));
  for (int i = 0; i < 5; ++i)
    p.step();
  EXPECT_EQ(p.cn, Next::close) << p.trace; // the 6th transaction is not claimed
  c.finish(p.tick());
  EXPECT_TRUE(run.over(p.tick()));
  run.end(p.tick());
  EXPECT_EQ(run.totals().transactions, 5u) << p.trace;
  EXPECT_EQ(srun.totals().requests, 5u);
  // rr latency is one request's round trip, not the connection's age.
  EXPECT_EQ(run.transaction_latency().max(), 40'000u) << p.trace;
  EXPECT_FALSE(run.want_connection(p.tick()));
}

TEST(Workload, BulkDownloadCountsBytes) {
  ClientConfig cfg;
  cfg.workload = Workload::bulk;
  cfg.duration = std::chrono::seconds(1);
  ClientRun run(cfg);
  ServerConfig scfg;
  scfg.mode = ServerMode::source;
  ServerRun srun(scfg);
  run.begin(at_us(0));
  ClientSession c(run);
  ServerSession s(srun);
  c.start(at_us(0));
  EXPECT_EQ(c.connected(at_us(1)), Next::receive);
  EXPECT_EQ(s.accepted(at_us(1)), Next::send);
  uint64_t moved = 0;
  for (int i = 0; i < 16; ++i) {
    const auto chunk = bytes_of(s.pending_send());
    ASSERT_EQ(chunk.size(), kBulkChunk);
    ASSERT_TRUE(matches_pattern(chunk, moved));
    EXPECT_EQ(s.sent(chunk.size() / 2 + 1, at_us(2)), Next::send); // partial writes
    moved += chunk.size() / 2 + 1;
    EXPECT_EQ(c.received(std::span(chunk).first(chunk.size() / 2 + 1), at_us(2)), Next::receive);
  }
  EXPECT_FALSE(run.over(at_us(500'000)));
  EXPECT_TRUE(run.over(at_us(1'000'000)));
  run.end(at_us(1'000'000));
  c.abandon();
  EXPECT_EQ(run.totals().bytes, moved);
  EXPECT_NEAR(run.rate(), double(moved) / (1024.0 * 1024.0), 1e-9);
  EXPECT_STREQ(run.rate_unit(), "MiB/s");
  EXPECT_NE(run.to_json().find("\"in_flight_at_end\":1"), std::string::npos);
}

TEST(Workload, ChurnKeepsConcurrencyInFlight) {
  ClientConfig cfg;
  cfg.concurrency = 3;
  cfg.duration = std::chrono::seconds(10);
  ClientRun run(cfg);
  run.begin(at_us(0));
  std::vector<ClientSession> open;
  open.reserve(8);
  while (run.want_connection(at_us(1))) {
    open.emplace_back(run);
    open.back().start(at_us(1));
  }
  EXPECT_EQ(open.size(), 3u);
  open[0].failed(ErrorKind::connect_refused, at_us(2));
  open[0].finish(at_us(2));
  EXPECT_TRUE(run.want_connection(at_us(2)));
  EXPECT_FALSE(run.want_connection(at_us(10'000'000))) << "past the deadline";
  run.end(at_us(10'000'000));
  for (auto &s : open)
    s.abandon();
  EXPECT_EQ(run.totals().errors[size_t(ErrorKind::connect_refused)], 1u);
  EXPECT_NE(run.live_line(at_us(10'000'000)).find("connect_refused 1"), std::string::npos)
      << run.live_line(at_us(10'000'000));
}

TEST(Workload, ServerRejectsUnexpectedRequestBytes) {
  ServerRun srun(ServerConfig{});
  ServerSession s(srun);
  s.accepted(at_us(0));
  std::vector<uint8_t> req(64, 'x');
  EXPECT_EQ(s.received(req, at_us(1)), Next::fail);
  s.finish(at_us(1));
  EXPECT_EQ(srun.totals().errors[size_t(ErrorKind::bad_request)], 1u);
}

} // namespace
} // namespace shoal::bench
