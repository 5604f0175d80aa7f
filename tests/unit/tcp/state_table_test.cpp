// RFC 9293 3.10.7 event processing as a table: for every state and every
// kind of arriving segment, the reply the engine must send and the state it
// must end in. Each row runs on a fresh engine; a failing row prints the
// row and the packet trace.
//
// The engine is the active opener for the synchronized states and the
// passive one (a listener on port 80) for LISTEN and SYN-RECEIVED. Segment
// kinds are built from what the peer knows (its SND.NXT is our RCV.NXT, its
// RCV.NXT our SND.NXT):
//   SYN          SYN at the peer's SND.NXT (in SYN-RECEIVED: the retransmitted SYN)
//   SYN-ACK      SYN,ACK at SND.NXT acking our SND.NXT
//   ACK          acceptable ACK
//   BAD-ACK      ACK for 1000 bytes never sent
//   FIN          FIN,ACK (in states past the peer's FIN: its retransmission)
//   RST          RST,ACK at exactly RCV.NXT
//   RST~         RST,ACK in the window but not at RCV.NXT
//   RST-OOW      RST,ACK outside the window
//   DATA         10 bytes + ACK at RCV.NXT
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "tcp_harness.hpp"

namespace shoal::tcp::test {
namespace {

enum class Kind { syn, syn_ack, ack, bad_ack, fin, rst, rst_inexact, rst_oow, data };
const char *name(Kind k) {
  switch (k) {
  case Kind::syn:
    return "SYN";
  case Kind::syn_ack:
    return "SYN-ACK";
  case Kind::ack:
    return "ACK";
  case Kind::bad_ack:
    return "BAD-ACK";
  case Kind::fin:
    return "FIN";
  case Kind::rst:
    return "RST";
  case Kind::rst_inexact:
    return "RST~";
  case Kind::rst_oow:
    return "RST-OOW";
  case Kind::data:
    return "DATA";
  }
  return "?";
}

enum class Reply { none, ack, challenge_ack, rst_seq_ack, rst_ack_seq0, syn_ack };
const char *name(Reply r) {
  switch (r) {
  case Reply::none:
    return "none";
  case Reply::ack:
    return "ACK";
  case Reply::challenge_ack:
    return "challenge ACK";
  case Reply::rst_seq_ack:
    return "<SEQ=SEG.ACK><CTL=RST>";
  case Reply::rst_ack_seq0:
    return "<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>";
  case Reply::syn_ack:
    return "SYN-ACK";
  }
  return "?";
}

struct Row {
  State state;
  Kind kind;
  Reply reply;
  State next;
};

using S = State;
using K = Kind;
using R = Reply;

// clang-format off
const Row kTable[] = {
  // CLOSED: no TCB, no listener (3.10.7.1)
  {S::closed, K::syn,         R::rst_ack_seq0,  S::closed},
  {S::closed, K::syn_ack,     R::rst_seq_ack,   S::closed},
  {S::closed, K::ack,         R::rst_seq_ack,   S::closed},
  {S::closed, K::bad_ack,     R::rst_seq_ack,   S::closed},
  {S::closed, K::fin,         R::rst_seq_ack,   S::closed},
  {S::closed, K::rst,         R::none,          S::closed},
  {S::closed, K::rst_inexact, R::none,          S::closed},
  {S::closed, K::rst_oow,     R::none,          S::closed},
  {S::closed, K::data,        R::rst_seq_ack,   S::closed},
  // LISTEN (3.10.7.2)
  {S::listen, K::syn,         R::syn_ack,       S::syn_received},
  {S::listen, K::syn_ack,     R::rst_seq_ack,   S::listen},
  {S::listen, K::ack,         R::rst_seq_ack,   S::listen},
  {S::listen, K::bad_ack,     R::rst_seq_ack,   S::listen},
  {S::listen, K::fin,         R::rst_seq_ack,   S::listen},
  {S::listen, K::rst,         R::none,          S::listen},
  {S::listen, K::rst_inexact, R::none,          S::listen},
  {S::listen, K::rst_oow,     R::none,          S::listen},
  {S::listen, K::data,        R::rst_seq_ack,   S::listen},
  // SYN-SENT (3.10.7.3): RSTs carry an acceptable ACK, so all of them reset
  {S::syn_sent, K::syn,         R::syn_ack,     S::syn_received},
  {S::syn_sent, K::syn_ack,     R::ack,         S::established},
  {S::syn_sent, K::ack,         R::none,        S::syn_sent},
  {S::syn_sent, K::bad_ack,     R::rst_seq_ack, S::syn_sent},
  {S::syn_sent, K::fin,         R::none,        S::syn_sent},
  {S::syn_sent, K::rst,         R::none,        S::closed},
  {S::syn_sent, K::rst_inexact, R::none,        S::closed},
  {S::syn_sent, K::rst_oow,     R::none,        S::closed},
  {S::syn_sent, K::data,        R::none,        S::syn_sent},
  // SYN-RECEIVED (passive): an exact RST returns the tuple to LISTEN
  {S::syn_received, K::syn,         R::syn_ack,       S::syn_received},
  {S::syn_received, K::syn_ack,     R::challenge_ack, S::syn_received},
  {S::syn_received, K::ack,         R::none,          S::established},
  {S::syn_received, K::bad_ack,     R::rst_seq_ack,   S::syn_received},
  {S::syn_received, K::fin,         R::ack,           S::close_wait},
  {S::syn_received, K::rst,         R::none,          S::listen},
  {S::syn_received, K::rst_inexact, R::challenge_ack, S::syn_received},
  {S::syn_received, K::rst_oow,     R::none,          S::syn_received},
  {S::syn_received, K::data,        R::ack,           S::established},
  // ESTABLISHED
  {S::established, K::syn,         R::challenge_ack, S::established},
  {S::established, K::syn_ack,     R::challenge_ack, S::established},
  {S::established, K::ack,         R::none,          S::established},
  {S::established, K::bad_ack,     R::challenge_ack, S::established},
  {S::established, K::fin,         R::ack,           S::close_wait},
  {S::established, K::rst,         R::none,          S::closed},
  {S::established, K::rst_inexact, R::challenge_ack, S::established},
  {S::established, K::rst_oow,     R::none,          S::established},
  {S::established, K::data,        R::ack,           S::established},
  // FIN-WAIT-1 (after shutdown_write; ACK/FIN/DATA ack our FIN)
  {S::fin_wait_1, K::syn,         R::challenge_ack, S::fin_wait_1},
  {S::fin_wait_1, K::syn_ack,     R::challenge_ack, S::fin_wait_1},
  {S::fin_wait_1, K::ack,         R::none,          S::fin_wait_2},
  {S::fin_wait_1, K::bad_ack,     R::challenge_ack, S::fin_wait_1},
  {S::fin_wait_1, K::fin,         R::ack,           S::time_wait},
  {S::fin_wait_1, K::rst,         R::none,          S::closed},
  {S::fin_wait_1, K::rst_inexact, R::challenge_ack, S::fin_wait_1},
  {S::fin_wait_1, K::rst_oow,     R::none,          S::fin_wait_1},
  {S::fin_wait_1, K::data,        R::ack,           S::fin_wait_2},
  // FIN-WAIT-2
  {S::fin_wait_2, K::syn,         R::challenge_ack, S::fin_wait_2},
  {S::fin_wait_2, K::syn_ack,     R::challenge_ack, S::fin_wait_2},
  {S::fin_wait_2, K::ack,         R::none,          S::fin_wait_2},
  {S::fin_wait_2, K::bad_ack,     R::challenge_ack, S::fin_wait_2},
  {S::fin_wait_2, K::fin,         R::ack,           S::time_wait},
  {S::fin_wait_2, K::rst,         R::none,          S::closed},
  {S::fin_wait_2, K::rst_inexact, R::challenge_ack, S::fin_wait_2},
  {S::fin_wait_2, K::rst_oow,     R::none,          S::fin_wait_2},
  {S::fin_wait_2, K::data,        R::ack,           S::fin_wait_2},
  // CLOSE-WAIT: text after the peer's FIN is ignored
  {S::close_wait, K::syn,         R::challenge_ack, S::close_wait},
  {S::close_wait, K::syn_ack,     R::challenge_ack, S::close_wait},
  {S::close_wait, K::ack,         R::none,          S::close_wait},
  {S::close_wait, K::bad_ack,     R::challenge_ack, S::close_wait},
  {S::close_wait, K::fin,         R::ack,           S::close_wait},
  {S::close_wait, K::rst,         R::none,          S::closed},
  {S::close_wait, K::rst_inexact, R::challenge_ack, S::close_wait},
  {S::close_wait, K::rst_oow,     R::none,          S::close_wait},
  {S::close_wait, K::data,        R::none,          S::close_wait},
  // CLOSING: an ACK of our FIN leads to TIME-WAIT
  {S::closing, K::syn,         R::challenge_ack, S::closing},
  {S::closing, K::syn_ack,     R::challenge_ack, S::closing},
  {S::closing, K::ack,         R::none,          S::time_wait},
  {S::closing, K::bad_ack,     R::challenge_ack, S::closing},
  {S::closing, K::fin,         R::ack,           S::closing},
  {S::closing, K::rst,         R::none,          S::closed},
  {S::closing, K::rst_inexact, R::challenge_ack, S::closing},
  {S::closing, K::rst_oow,     R::none,          S::closing},
  {S::closing, K::data,        R::none,          S::time_wait},
  // LAST-ACK: an ACK of our FIN closes
  {S::last_ack, K::syn,         R::challenge_ack, S::last_ack},
  {S::last_ack, K::syn_ack,     R::challenge_ack, S::last_ack},
  {S::last_ack, K::ack,         R::none,          S::closed},
  {S::last_ack, K::bad_ack,     R::challenge_ack, S::last_ack},
  {S::last_ack, K::fin,         R::ack,           S::last_ack},
  {S::last_ack, K::rst,         R::none,          S::closed},
  {S::last_ack, K::rst_inexact, R::challenge_ack, S::last_ack},
  {S::last_ack, K::rst_oow,     R::none,          S::last_ack},
  {S::last_ack, K::data,        R::none,          S::closed},
  // TIME-WAIT record: a SYN not above RCV.NXT opens nothing (RFC 6191) and
  // is answered as in any synchronized state (RFC 5961 4.2; Linux too)
  {S::time_wait, K::syn,         R::challenge_ack, S::time_wait},
  {S::time_wait, K::syn_ack,     R::challenge_ack, S::time_wait},
  {S::time_wait, K::ack,         R::none,          S::time_wait},
  {S::time_wait, K::bad_ack,     R::challenge_ack, S::time_wait},
  {S::time_wait, K::fin,         R::ack,           S::time_wait},
  {S::time_wait, K::rst,         R::none,          S::closed},
  {S::time_wait, K::rst_inexact, R::challenge_ack, S::time_wait},
  {S::time_wait, K::rst_oow,     R::none,          S::time_wait},
  {S::time_wait, K::data,        R::none,          S::time_wait},
};
// clang-format on

// Drives a fresh engine into `s`. The peer's numbers track the conversation.
void enter(Harness &h, Peer &p, Recorder &r, State s) {
  auto listen = [&] {
    h.eng->listen(80, [&r](Connection &) -> ConnectionHandler * { return &r; });
  };
  switch (s) {
  case State::closed:
    p.local_port = 81;
    return;
  case State::listen:
    listen();
    return;
  case State::syn_received:
    listen();
    p.send(SYN);
    p.expect(SYN | ACK);
    return;
  default:
    break;
  }
  // The active side for everything else.
  p.local_port = 40000;
  Connection *c = h.eng->connect(kRemote, p.port, &r, p.local_port);
  ASSERT_NE(c, nullptr);
  p.expect(SYN);
  if (s == State::syn_sent)
    return;
  p.send(SYN | ACK);
  p.expect(ACK);
  switch (s) {
  case State::established:
    return;
  case State::fin_wait_1:
    c->shutdown_write();
    p.expect(FIN | ACK);
    return;
  case State::fin_wait_2:
    c->shutdown_write();
    p.expect(FIN | ACK);
    p.send(ACK);
    return;
  case State::close_wait:
    p.send(FIN | ACK);
    p.expect(ACK);
    return;
  case State::closing: {
    c->shutdown_write();
    Sent fin = p.expect(FIN | ACK);
    p.send_raw(FIN | ACK, p.snd_nxt, fin.tcp.seq); // does not ack our FIN
    p.snd_nxt++;
    p.expect(ACK);
    return;
  }
  case State::last_ack:
    p.send(FIN | ACK);
    p.expect(ACK);
    c->close();
    p.expect(FIN | ACK);
    return;
  case State::time_wait:
    c->shutdown_write();
    p.expect(FIN | ACK);
    p.send(ACK);
    p.send(FIN | ACK);
    p.expect(ACK);
    return;
  default:
    return;
  }
}

struct Arrival {
  wire::TcpRepr seg;
  std::string payload;
};

Arrival make(const Peer &p, State s, Kind k) {
  const bool past_peer_fin = s == State::close_wait || s == State::closing ||
                             s == State::last_ack || s == State::time_wait;
  auto seg = [&](uint8_t flags, uint32_t seq, uint32_t ack) {
    return make_seg(p.port, p.local_port, flags, seq, ack);
  };
  const uint32_t seq = p.snd_nxt, ack = p.rcv_nxt;
  switch (k) {
  case Kind::syn:
    return {seg(SYN, s == State::syn_received ? seq - 1 : seq, 0), ""};
  case Kind::syn_ack:
    return {seg(SYN | ACK, seq, ack), ""};
  case Kind::ack:
    return {seg(ACK, seq, ack), ""};
  case Kind::bad_ack:
    return {seg(ACK, seq, ack + 1000), ""};
  case Kind::fin:
    return {seg(FIN | ACK, past_peer_fin ? seq - 1 : seq, ack), ""};
  case Kind::rst:
    return {seg(RST | ACK, seq, ack), ""};
  case Kind::rst_inexact:
    return {seg(RST | ACK, seq + 10, ack), ""};
  case Kind::rst_oow:
    return {seg(RST | ACK, seq + 1'000'000, ack), ""};
  case Kind::data:
    return {seg(ACK, seq, ack), "0123456789"};
  }
  return {};
}

std::string describe(const Row &row) {
  return std::string(to_string(row.state)) + " + " + name(row.kind) + " -> reply " +
         name(row.reply) + ", next " + to_string(row.next);
}

TEST(StateTable, EveryStateAndSegmentKind) {
  int rows = 0;
  for (const Row &row : kTable) {
    SCOPED_TRACE(describe(row));
    ++rows;
    // Every reply is immediate here: ACK timing (delayed ACK) has its own
    // tests in data_test.cpp.
    EngineConfig cfg = test_config();
    cfg.delayed_ack = Duration::zero();
    Harness h(cfg);
    Peer p{h};
    p.port = 5555;
    Recorder r;
    enter(h, p, r, row.state);
    if (::testing::Test::HasFatalFailure())
      return;
    const State before = row.state == State::closed || row.state == State::listen
                             ? row.state
                             : h.eng->state_of(p.tuple());
    ASSERT_EQ(before, row.state) << "set-up did not reach the state";
    h.note(std::string("now in ") + to_string(row.state) + ", injecting " + name(row.kind));
    const uint64_t challenges = h.eng->counters()[Counter::challenge_acks];
    Arrival a = make(p, row.state, row.kind);
    h.inject(a.seg, a.payload);

    // The reply.
    std::vector<Sent> replies;
    while (auto s = h.pop())
      replies.push_back(*s);
    const bool challenged = h.eng->counters()[Counter::challenge_acks] > challenges;
    switch (row.reply) {
    case Reply::none:
      EXPECT_TRUE(replies.empty()) << "unexpected " << replies.front().str();
      break;
    case Reply::ack:
    case Reply::challenge_ack:
      ASSERT_EQ(replies.size(), 1u);
      EXPECT_EQ(replies[0].tcp.flags, ACK) << replies[0].str();
      EXPECT_EQ(replies[0].tcp.seq, p.rcv_nxt) << "an ACK carries SND.NXT";
      EXPECT_EQ(challenged, row.reply == Reply::challenge_ack);
      break;
    case Reply::rst_seq_ack:
      ASSERT_EQ(replies.size(), 1u);
      EXPECT_EQ(replies[0].tcp.flags, RST) << replies[0].str();
      EXPECT_EQ(replies[0].tcp.seq, a.seg.ack);
      break;
    case Reply::rst_ack_seq0: {
      ASSERT_EQ(replies.size(), 1u);
      EXPECT_EQ(replies[0].tcp.flags, RST | ACK) << replies[0].str();
      EXPECT_EQ(replies[0].tcp.seq, 0u);
      const uint32_t len = static_cast<uint32_t>(a.payload.size()) + ((a.seg.flags & SYN) ? 1 : 0) +
                           ((a.seg.flags & FIN) ? 1 : 0);
      EXPECT_EQ(replies[0].tcp.ack, a.seg.seq + len);
      break;
    }
    case Reply::syn_ack:
      ASSERT_EQ(replies.size(), 1u);
      EXPECT_EQ(replies[0].tcp.flags, SYN | ACK) << replies[0].str();
      break;
    }

    // The next state. With a listener on the port, a tuple without a TCB
    // is in LISTEN as far as the RFC's diagram goes.
    State next = h.eng->state_of(p.tuple());
    if (next == State::closed && (row.state == State::listen || row.state == State::syn_received))
      next = State::listen;
    EXPECT_EQ(next, row.next) << "ended in " << to_string(next);

    // Clean up: nothing may be left behind.
    if (Connection *c = h.eng->find(p.tuple()))
      c->abort();
    h.run_until(h.now + std::chrono::seconds(300));
    h.out.queue.clear();
    h.expect_quiet();
  }
  EXPECT_EQ(rows, 11 * 9);
}

} // namespace
} // namespace shoal::tcp::test
