#pragma once
// shoal::tcp::Inspect — a connection's sequence variables, windows, timers,
// congestion state and queues, for tests (and the simulator and benchmarks
// that measure the engine). Not part of what applications see: they get
// api::Connection (api/connection.hpp). Obtain it with c.inspect(); the
// meaning of each value is documented at the member it reads
// (tcp/connection.hpp).
#include "tcp/connection.hpp"

namespace shoal::tcp {

struct Inspect {
  explicit Inspect(const Connection &c) : c_(c) {}
  Seq iss() const { return c_.iss(); }
  Seq irs() const { return c_.irs(); }
  Seq snd_una() const { return c_.snd_una(); }
  Seq snd_nxt() const { return c_.snd_nxt(); }
  Seq snd_max() const { return c_.snd_max(); }
  Seq rcv_nxt() const { return c_.rcv_nxt(); }
  uint32_t snd_wnd() const { return c_.snd_wnd(); }
  uint32_t rcv_wnd() const { return c_.rcv_wnd(); }
  uint16_t rcv_mss() const { return c_.rcv_mss(); }
  uint8_t snd_wscale() const { return c_.snd_wscale(); }
  uint8_t rcv_wscale() const { return c_.rcv_wscale(); }
  bool window_scaling() const { return c_.window_scaling(); }
  bool timestamps() const { return c_.timestamps(); }
  bool sack_permitted() const { return c_.sack_permitted(); }
  uint32_t ts_recent() const { return c_.ts_recent(); }
  Duration rto() const { return c_.rto(); }
  Duration srtt() const { return c_.srtt(); }
  const RtoEstimator & rtt_estimator() const { return c_.rtt_estimator(); }
  const CongestionControl * congestion() const { return c_.congestion(); }
  uint32_t cwnd() const { return c_.cwnd(); }
  const SackScoreboard & sack_scoreboard() const { return c_.sack_scoreboard(); }
  uint32_t ooo_bytes() const { return c_.ooo_bytes(); }
  size_t ooo_segments() const { return c_.ooo_segments(); }
  uint32_t rcv_memory() const { return c_.rcv_memory(); }
  int persist_backoff() const { return c_.persist_backoff(); }
  bool persist_armed() const { return c_.persist_armed(); }
  bool probe_timeout_armed() const { return c_.probe_timeout_armed(); }
  bool probe_outstanding() const { return c_.probe_outstanding(); }
  bool delayed_ack_armed() const { return c_.delayed_ack_armed(); }
  int retransmit_count() const { return c_.retransmit_count(); }
  int keepalive_probes_sent() const { return c_.keepalive_probes_sent(); }
  bool fin_sent() const { return c_.fin_sent(); }

private:
  const Connection &c_;
};

inline Inspect Connection::inspect() const {
  return Inspect(*this);
}

} // namespace shoal::tcp
