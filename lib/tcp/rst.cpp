// Resets for segments that match no connection (RFC 9293 3.10.7.1) and the
// challenge ACKs of RFC 5961, both rate-limited (rate_limit.hpp).
#include "tcp/engine_impl.hpp"

namespace shoal::tcp {

using namespace wire::tcp_flags;

void Engine::Impl::reset_for(const FourTuple &t, const Segment &seg) {
  // "If the state is CLOSED (i.e., TCB does not exist), then all data in the
  //  incoming segment is discarded. An incoming segment containing a RST is
  //  discarded." — never answer a RST with a RST.
  if (seg.rst()) {
    count(*this, Counter::drop_rst_no_conn);
    return;
  }
  wire::TcpRepr h;
  h.src_port = t.local_port;
  h.dst_port = t.remote_port;
  if (seg.has_ack()) {
    // "If the ACK bit is on, <SEQ=SEG.ACK><CTL=RST>"
    h.seq = seg.ack.v;
    h.flags = RST;
  } else {
    // "If the ACK bit is off, sequence number zero is used,
    //  <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>"
    h.seq = 0;
    h.ack = (seg.seq + seg.seg_len()).v;
    h.flags = RST | ACK;
  }
  // A flood of segments to closed ports (or of forged cookie ACKs) must not
  // make us send one RST each: past the per-second budget they go unanswered.
  if (!rst_limit.take(now, cfg.rst_limit_per_s)) {
    count(*this, Counter::rst_limited);
    return;
  }
  count(*this, Counter::rst_closed_port);
  transmit(t, h, nullptr, 0);
}

namespace {
// RFC 5961 7: "limit the number of challenge ACKs sent in a given interval".
bool challenge_budget(Engine::Impl &e) {
  if (!e.challenge_limit.take(e.now, e.cfg.challenge_ack_limit_per_s)) {
    count(e, Counter::challenge_acks_limited);
    return false;
  }
  count(e, Counter::challenge_acks);
  return true;
}
} // namespace

void Engine::Impl::send_challenge_ack(Connection &c) {
  // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
  if (challenge_budget(*this))
    send_ack(c);
}

bool Engine::Impl::challenge_ack_allowed() {
  return challenge_budget(*this);
}

} // namespace shoal::tcp
