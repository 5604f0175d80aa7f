// Segments for a TIME-WAIT record (RFC 9293 3.10.7.4, TIME-WAIT rows) and
// reuse of its tuple by a new SYN (RFC 6191).
#include "tcp/engine_impl.hpp"

namespace shoal::tcp {

using namespace wire::tcp_flags;

void Engine::Impl::send_time_wait_ack(const TimeWaitRecord &r) {
  wire::TcpRepr h;
  h.src_port = r.tuple.local_port;
  h.dst_port = r.tuple.remote_port;
  h.seq = r.snd_nxt;
  h.ack = r.rcv_nxt;
  h.flags = ACK;
  h.window = r.window;
  if (r.has_ts)
    h.options.timestamp = wire::TcpTimestamp{tsval(r.ts_offset), r.ts_recent};
  FourTuple t = r.tuple;
  transmit(t, h, nullptr, 0);
}

void Engine::Impl::drop_time_wait(TimeWaitRecord &r, State to) {
  set_state(State::time_wait, to);
  time_wait.erase(r);
}

// RFC 9293 3.10.7.4 for a TIME-WAIT record: the steps of
// synchronized_arrives (input.cpp) with the record's TIME-WAIT rows, after
// RFC 6191's test of a new SYN. Answers other than the re-ACK of a FIN come
// out of the challenge-ACK budget: a flood aimed at TIME-WAIT tuples must
// not get one segment back for each.
void Engine::Impl::time_wait_arrives(TimeWaitRecord &r, const FourTuple &t, Segment &seg) {
  if (seg.syn() && !seg.has_ack() && !seg.rst())
    return time_wait_syn_arrives(r, t, seg);
  // "First, check sequence number."
  if (!time_wait_check_sequence(r, seg))
    return;
  // "Second, check the RST bit" (RFC 5961 3.2): exact -> close, else challenge ACK.
  if (seg.rst()) {
    if (seg.seq == Seq{r.rcv_nxt})
      drop_time_wait(r, State::closed);
    else if (challenge_ack_allowed())
      send_time_wait_ack(r);
    return;
  }
  // "Third, check security": nothing to check.
  // "Fourth, check the SYN bit" (RFC 5961 4.2): challenge ACK.
  if (seg.syn()) {
    if (challenge_ack_allowed())
      send_time_wait_ack(r);
    return;
  }
  // "Fifth, check the ACK field."
  if (!seg.has_ack()) {
    count(*this, Counter::drop_no_ack);
    return;
  }
  if (seq_gt(seg.ack, Seq{r.snd_nxt})) {
    // RFC 5961 5.2: an ACK for data we never sent is answered with an ACK.
    count(*this, Counter::drop_ack_unsent);
    if (challenge_ack_allowed())
      send_time_wait_ack(r);
    return;
  }
  // "Sixth, check the URG bit": ignored.
  // "Seventh, process the segment text": "This should not occur since a FIN
  // has been received from the remote side. Ignore the segment text."
  // "Eighth, check the FIN bit ... TIME-WAIT STATE: Remain in the TIME-WAIT
  //  state. Restart the 2 MSL time-wait timeout." (and acknowledge it)
  if (seg.fin()) {
    count(*this, Counter::time_wait_fin_reacked);
    time_wait.restart(r, now);
    send_time_wait_ack(r);
    return;
  }
  // Text (ignored) or a bare ACK: no answer.
  count(*this, Counter::drop_time_wait);
}

// RFC 6191 section 2: a SYN for a tuple in TIME-WAIT may start a new
// incarnation when it cannot be confused with the old one.
void Engine::Impl::time_wait_syn_arrives(TimeWaitRecord &r, const FourTuple &t, Segment &seg) {
  const Seq rcv_nxt{r.rcv_nxt};
  const auto &ts = seg.h.options.timestamp;
  bool acceptable;
  if (r.has_ts && ts && cfg.timestamps) {
    // "timestamp ... greater than the last timestamp seen", or equal with
    // a greater sequence number.
    acceptable =
        ts_lt(r.ts_recent, ts->val) || (ts->val == r.ts_recent && seq_gt(seg.seq, rcv_nxt));
  } else {
    // "the Sequence Number of the incoming SYN segment is greater than the
    //  last sequence number seen on the previous incarnation".
    acceptable = seq_gt(seg.seq, rcv_nxt);
  }
  if (!acceptable) {
    // RFC 6191: "Otherwise, silently drop the incoming SYN segment, thus
    // leaving the previous incarnation of the connection in the TIME-WAIT
    // state." The record stays; the SYN is then answered as any SYN in a
    // synchronized state is (RFC 9293 3.10.7.4, RFC 5961 4.2): an ACK, out
    // of the challenge-ACK budget, as Linux does, so a peer whose SYN
    // repeats an old incarnation learns where this one stands.
    count(*this, Counter::time_wait_syn_ignored);
    if (challenge_ack_allowed())
      send_time_wait_ack(r);
    return;
  }
  count(*this, Counter::time_wait_reused);
  // The new ISN must lie beyond the old incarnation's sequence space.
  const Seq floor = Seq{r.snd_nxt} + 65535 + 2;
  drop_time_wait(r, State::closed); // r is gone from here on
  if (auto it = listeners.find(t.local_port); it != listeners.end())
    return listen_arrives(it->second, t, seg, &floor);
  reset_for(t, seg); // nothing listens on this port any more
}

// "First, check sequence number" with the record's window and TS.Recent:
// the test connections use (segment_acceptable, PAWS included). False: the
// segment was dropped, and answered unless it was a RST.
bool Engine::Impl::time_wait_check_sequence(TimeWaitRecord &r, const Segment &seg) {
  const uint32_t wnd = uint32_t{r.window} << r.rcv_wscale;
  const Acceptability verdict =
      tcp::segment_acceptable(seg, Seq{r.rcv_nxt}, wnd, r.has_ts ? &r.ts_recent : nullptr);
  if (verdict == Acceptability::acceptable)
    return true;
  if (seg.rst()) { // never a PAWS failure: RSTs are exempt
    count(*this, Counter::drop_rst_out_of_window);
    return false;
  }
  if (verdict == Acceptability::paws) {
    // RFC 7323 5.3: an older timestamp than TS.Recent is not acceptable,
    // in TIME-WAIT as in any state: dropped, with an ACK in reply.
    count(*this, Counter::drop_paws);
    if (challenge_ack_allowed())
      send_time_wait_ack(r);
    else
      count(*this, Counter::drop_unacceptable_limited);
    return false;
  }
  // The typical case: a retransmission of the peer's FIN (our ACK was
  // lost). "Acknowledge it, and restart the 2 MSL timeout."
  if (seg.fin() && seg.seq + seg.len + 1 == Seq{r.rcv_nxt}) {
    count(*this, Counter::time_wait_fin_reacked);
    time_wait.restart(r, now);
    send_time_wait_ack(r);
    return false;
  }
  if (challenge_ack_allowed()) {
    count(*this, Counter::drop_unacceptable);
    send_time_wait_ack(r);
  } else {
    count(*this, Counter::drop_unacceptable_limited);
  }
  return false;
}

} // namespace shoal::tcp
