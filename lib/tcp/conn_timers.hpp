#pragma once
// ConnTimers: a connection's five timers — retransmission, delayed ACK,
// persist, keepalive and the FIN_WAIT_2 timeout — on ONE wheel timer.
//
// Each kind keeps its own deadline; the wheel timer is armed at (or before)
// the earliest one. Cancelling a kind only clears its deadline (the wheel
// timer may fire early and finds nothing due: it re-arms at the next
// deadline), except that cancelling the last armed kind takes the wheel
// timer off the wheel, so a connection with nothing pending holds no timer.
// This keeps a connection at one 40-byte wheel entry plus 40 bytes of
// deadlines instead of five wheel entries (DESIGN.md "Connections and
// memory": bytes per idle connection).
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "common/time.hpp"
#include "timer/timer_wheel.hpp"

namespace shoal::tcp {

enum class ConnTimer : uint8_t { retransmit, delayed_ack, persist, keepalive, fin_wait2 };
inline constexpr size_t kConnTimerCount = 5;

class ConnTimers {
public:
  ConnTimers(timer::Timer::Callback fired, void *ctx) : wheel_timer_(fired, ctx) {
    due_.fill(kNever);
  }

  bool armed(ConnTimer k) const { return due_[idx(k)] != kNever; }
  Instant due(ConnTimer k) const { return due_[idx(k)]; }

  void schedule(timer::TimerWheel &w, ConnTimer k, Instant at) {
    due_[idx(k)] = at;
    if (!wheel_timer_.armed() || at < wheel_timer_.expiry())
      w.schedule(wheel_timer_, at);
  }

  void cancel(timer::TimerWheel &w, ConnTimer k) {
    if (due_[idx(k)] == kNever)
      return;
    due_[idx(k)] = kNever;
    if (earliest() == kNever)
      w.cancel(wheel_timer_);
  }

  void cancel_all(timer::TimerWheel &w) {
    due_.fill(kNever);
    w.cancel(wheel_timer_);
  }

  // From the wheel timer's callback: the kind due at `now` with the earliest
  // deadline (ties in enum order), its deadline cleared; or nothing, and the
  // wheel timer is armed at the next deadline if there is one.
  std::optional<ConnTimer> take_due(timer::TimerWheel &w, Instant now) {
    size_t best = kConnTimerCount;
    for (size_t i = 0; i < kConnTimerCount; ++i)
      if (due_[i] <= now && (best == kConnTimerCount || due_[i] < due_[best]))
        best = i;
    if (best != kConnTimerCount) {
      due_[best] = kNever;
      return static_cast<ConnTimer>(best);
    }
    const Instant next = earliest();
    if (next == kNever)
      w.cancel(wheel_timer_);
    else if (!wheel_timer_.armed() || wheel_timer_.expiry() != next)
      w.schedule(wheel_timer_, next);
    return std::nullopt;
  }

  // The wheel timer at the earliest deadline (a deadline already past fires
  // at the wheel's next tick), or off the wheel when nothing is pending.
  void rearm(timer::TimerWheel &w) {
    const Instant next = earliest();
    if (next == kNever)
      w.cancel(wheel_timer_);
    else
      w.schedule(wheel_timer_, next);
  }

private:
  static constexpr Instant kNever = Instant::max();
  static constexpr size_t idx(ConnTimer k) { return static_cast<size_t>(k); }
  Instant earliest() const {
    Instant m = kNever;
    for (Instant d : due_)
      m = d < m ? d : m;
    return m;
  }

  timer::Timer wheel_timer_;
  std::array<Instant, kConnTimerCount> due_;
};

} // namespace shoal::tcp
